/* vtag tag: per-frame label captions → video tags (SPEC §1 step 4), and the
 * tag output file (JSON Lines, docs/FORMATS.md "Tag output"): writer and
 * reader. Rules for ties and corner cases: docs/ARCHITECTURE.md ("tag"). */
#ifndef VTAG_TAG_H
#define VTAG_TAG_H

#include <stdint.h>
#include <stdio.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One sampled frame and its caption as label strings. */
typedef struct vtag_tag_frame {
    double pts_seconds;
    const char *const *tokens; /* (n_tokens) labels, caption order */
    int64_t n_tokens;
} vtag_tag_frame;

/* The same with token ids of a caption vocabulary: the caption ends at the
 * first id 0 (EOS) or after n_ids ids. */
typedef struct vtag_tag_frame_ids {
    double pts_seconds;
    const int32_t *ids; /* (n_ids) */
    int64_t n_ids;
} vtag_tag_frame_ids;

/* Which labels become tags (both keep the ranking's order):
 *   TOP_N       the top_n first labels of the ranking (all of them when there
 *               are fewer); top_n = 0 gives no tags
 *   MIN_FRAMES  every label seen in MORE than min_frames frames (k > C);
 *               C = 0 keeps every label seen at all */
typedef enum vtag_tag_rule {
    VTAG_TAG_RULE_TOP_N = 0,
    VTAG_TAG_RULE_MIN_FRAMES = 1,
} vtag_tag_rule;

/* vtag_tag_opts_default's rule: at most 10 tags, each with a score of at
 * least 0.25; a video whose best label scores less is "unknown". Chosen on
 * the demo corpus's validation split, for every model and the CNN baseline
 * alike (the best tag F1; README, "Scores"). */
#define VTAG_TAG_TOP_N_DEFAULT 10
#define VTAG_TAG_MIN_SCORE_DEFAULT 0.25

typedef struct vtag_tag_opts {
    vtag_tag_rule rule; /* default TOP_N */
    int64_t top_n;      /* default VTAG_TAG_TOP_N_DEFAULT, >= 0 */
    int64_t min_frames; /* default 0 (used by MIN_FRAMES), >= 0 */
    double min_score;   /* default VTAG_TAG_MIN_SCORE_DEFAULT, in [0, 1]: after the rule, a tag
                           needs score >= min_score; when the best label's score is below it (or
                           there is no label) the video has no tag and is "unknown" */
} vtag_tag_opts;

void vtag_tag_opts_default(vtag_tag_opts *o);

/* A label of a video with the number k of frames whose (greedy) caption
 * holds it (once per frame) and its score: k/F (F = the number of sampled
 * frames) as vtag_tag_aggregate counts it, or after vtag_tag_apply_scores the
 * caption model's probability that the caption of one of the video's frames
 * holds the label (vtag_caption_label_scores). For the CNN baseline
 * (vtag_eval_read_baseline) frames is 0 and score the classifier's. */
typedef struct vtag_tag_label {
    const char *label;
    int64_t frames;
    double score;
} vtag_tag_label;

/* One video's tagging. Everything it points to is owned by it (one
 * allocation), valid until vtag_tag_result_free. */
typedef struct vtag_tag_result {
    const char *video;
    const char *error;          /* non-NULL: the video failed, nothing else is set */
    const char *class1;         /* NULL when no frame has a caption */
    const char *class2;         /* NULL when no class1 frame has a second token */
    vtag_tag_label *labels;     /* (n_labels) every label, ranked */
    int64_t n_labels;
    vtag_tag_label *tags;       /* (n_tags) the tags, in ranking order */
    int64_t n_tags;
    vtag_tag_frame *frames;     /* (n_frames) the captions, frame order */
    int64_t n_frames;
    int64_t damaged_packets;    /* packets of the video that could not be read (video.h's
                                   stats); -1 (what the builders set): not known, and the
                                   line leaves it out */
    int unknown;                /* 1: no tags, because no label reached the tag rule's min_score or
                                   the video is unlike the training videos (novelty > 1) */
    double novelty;             /* the video's novelty (novelty.h; > 1: unlike the training videos);
                                   -1 (what the builders set): not measured, and the line leaves it out */
    const char *model;          /* the caption checkpoint that tagged it, or NULL */
    const char *backbone;       /* the backbone file its features came from, or NULL */
    void *storage;              /* private */
} vtag_tag_result;

/* Counts labels over a video's frames (F = n_frames, n_frames >= 0):
 *  - class1: the most frequent first token over the frames;
 *  - class2: the most frequent second token among the frames whose first
 *    token is class1;
 *  - labels: every label with k = frames holding it (counted once per
 *    frame), ranked by k descending, ties by first appearance (frame order,
 *    then position in the caption); every label is eligible as a tag,
 *    class1 and class2 included;
 *  - tags: by the rule of o (NULL: defaults).
 * Ties for class1/class2 go to the token that appears earliest in that role
 * (frame order). The frames are copied. */
int vtag_tag_aggregate(vtag_tag_result *r, const char *video, const vtag_tag_frame *frames,
                       int64_t n_frames, const vtag_tag_opts *o, vtag_error *err);
/* The same from token ids: vocab[id] is the label of id 1..vocab_size
 * (vocab[0] is unused, as in vtag_data_vocab.tokens); an id out of range is
 * VTAG_ERR_ARG. */
int vtag_tag_aggregate_ids(vtag_tag_result *r, const char *video, const vtag_tag_frame_ids *frames,
                           int64_t n_frames, const char *const *vocab, int64_t vocab_size,
                           const vtag_tag_opts *o, vtag_error *err);
/* The same from caption rows as the caption model writes them
 * (vtag_caption_rows, vtag_tagger_run): frame i's caption is the len[k] ids
 * at seq + k * max_length, k = rows ? rows[i] : i, and its time pts[i] (pts
 * NULL: i seconds, the frame's index). len[k] outside 0..max_length or a
 * negative row is VTAG_ERR_ARG. */
int vtag_tag_aggregate_seq(vtag_tag_result *r, const char *video, const double *pts, const int32_t *seq,
                           const int32_t *len, const int64_t *rows, int64_t n_frames, int64_t max_length,
                           const char *const *vocab, int64_t vocab_size, const vtag_tag_opts *o, vtag_error *err);
/* Re-ranks r's labels by the caption model's per-label scores (scores[id]
 * for id 1..vocab_size, vtag_caption_label_scores; rounded to 4 decimals):
 * every label scoring > 0 after rounding, or held by a frame's caption, is
 * listed, by score descending (ties: frames descending, then r's order, then
 * id), keeping its frame count; the tags follow o's rule on that ranking,
 * then its min_score; unknown when the best score is below min_score. class1,
 * class2 and the frames are kept. r is replaced; on failure it is unchanged. */
int vtag_tag_apply_scores(vtag_tag_result *r, const double *scores, const char *const *vocab, int64_t vocab_size,
                          const vtag_tag_opts *o, vtag_error *err);
/* Sets r's novelty; above 1 the video is unknown and has no tags. */
void vtag_tag_set_novelty(vtag_tag_result *r, double novelty);
/* Records which checkpoint and backbone made r (either may be NULL: left out
 * of the line). Strings are copied; on failure r is unchanged. */
int vtag_tag_result_set_source(vtag_tag_result *r, const char *model, const char *backbone, vtag_error *err);
/* The tags among labels[0..n) (ranked) into tags[] (which may be labels
 * itself): the first top_n, or those seen in more than min_frames frames,
 * that score at least min_score, in ranking order; returns how many.
 * *unknown: no label, or the best one scores below min_score (then none).
 * o is checked by the callers (vtag_tag_aggregate, vtag_tag_apply_scores). */
int64_t vtag_tag_select(const vtag_tag_label *labels, int64_t n, const vtag_tag_opts *o, vtag_tag_label *tags,
                        int *unknown);
/* Replaces r's labels and tags (copied; they may point into r) and sets
 * unknown; the rest is kept. On failure r is unchanged. */
int vtag_tag_result_relabel(vtag_tag_result *r, const vtag_tag_label *labels, int64_t n_labels,
                            const vtag_tag_label *tags, int64_t n_tags, int unknown, vtag_error *err);
/* A failed video: {"video": …, "error": …}. */
int vtag_tag_fail_result(vtag_tag_result *r, const char *video, const char *error, vtag_error *err);
/* Builds a result from its parts (the reader and the baseline use it); tags
 * need not be a prefix of labels. Strings are copied. */
int vtag_tag_result_make(vtag_tag_result *r, const char *video, const char *class1, const char *class2,
                         const vtag_tag_label *labels, int64_t n_labels, const vtag_tag_label *tags,
                         int64_t n_tags, const vtag_tag_frame *frames, int64_t n_frames, vtag_error *err);
void vtag_tag_result_free(vtag_tag_result *r);

/* The longest line of a tag output or CNN baseline predictions file: one
 * video with every sampled frame, about 80 bytes a frame, so some 50,000
 * frames. The writers refuse a longer line and the readers stop at it. */
#define VTAG_TAG_LINE_MAX ((size_t)4 << 20)

/* The JSON line (no newline) of a result, malloc'd: {"video", "model" and
 * "backbone" (when known), "class1", "class2", "unknown", "tags", "labels",
 * "frames", "damaged_packets" (when known)} or {"video", "error"}; a line longer
 * than VTAG_TAG_LINE_MAX is VTAG_ERR_ARG. */
int vtag_tag_to_json(const vtag_tag_result *r, char **line, vtag_error *err);
/* Writes the line and a newline to f, and flushes (lines are streamed). */
int vtag_tag_write(FILE *f, const vtag_tag_result *r, vtag_error *err);

/* ---- reading tag files --------------------------------------------------------- */
typedef struct vtag_tag_results {
    vtag_tag_result *items; /* (count) in file order */
    int64_t count;
    int64_t *order;         /* private: items sorted by video, for lookups */
} vtag_tag_results;

/* Reads a tag output file. Errors name the file and the line; unknown
 * fields, a repeated video and a tag or label repeated in one line are
 * errors. "labels" and "frames" may be absent (then labels = tags);
 * "unknown", "model", "backbone" and "damaged_packets" too. */
int vtag_tag_read(vtag_tag_results *out, const char *path, vtag_error *err);
/* Index of video in out->items, or -1. */
int64_t vtag_tag_find(const vtag_tag_results *res, const char *video);
/* Takes ownership of items[0..count) (malloc'd array) and builds the index;
 * fails (and frees nothing) on a repeated video. */
int vtag_tag_results_adopt(vtag_tag_results *out, vtag_tag_result *items, int64_t count, vtag_error *err);
void vtag_tag_results_free(vtag_tag_results *res);

#ifdef __cplusplus
}
#endif
#endif

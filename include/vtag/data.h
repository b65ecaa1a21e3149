/* vtag data: labels files (JSON Lines / CSV), label captions and their
 * vocabulary (SPEC §2), features files (safetensors), and the training sets
 * that fill a vtag_batch. Formats: docs/FORMATS.md; rules: docs/ARCHITECTURE.md. */
#ifndef VTAG_DATA_H
#define VTAG_DATA_H

#include <stdint.h>

#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vtag_data_split {
    VTAG_DATA_SPLIT_TRAIN = 0,
    VTAG_DATA_SPLIT_VAL = 1,
    VTAG_DATA_SPLIT_TEST = 2,
    VTAG_DATA_SPLIT_ALL = 3, /* only as a filter: every split */
} vtag_data_split;

const char *vtag_data_split_name(vtag_data_split s); /* "train", "val", "test", "all" */
/* "train", "val" or "test" (not "all"); 0 or VTAG_ERR_ARG. */
int vtag_data_split_parse(const char *s, vtag_data_split *out);

/* ---- labels files ------------------------------------------------------------
 * One entry per labelled video, in file order. Strings are interned: equal
 * labels share one pointer, valid until vtag_data_free_labels. */
typedef struct vtag_data_entry {
    const char *video;       /* the id exactly as written (what vtag.items refers to) */
    const char *path;        /* video resolved against the labels file's folder */
    const char *class1;
    const char *class2;
    const char *const *tags; /* (n_tags) as given */
    int64_t n_tags;
    vtag_data_split split;
    int64_t line;            /* 1-based line where the entry starts */
} vtag_data_entry;

typedef enum vtag_data_format {
    VTAG_DATA_FORMAT_AUTO = 0, /* by extension (.jsonl/.json/.ndjson, .csv), else sniffed */
    VTAG_DATA_FORMAT_JSONL = 1,
    VTAG_DATA_FORMAT_CSV = 2,
} vtag_data_format;

typedef struct vtag_data_labels_opts {
    vtag_data_format format;       /* default AUTO */
    vtag_data_split default_split; /* for entries without a split; default TRAIN */
} vtag_data_labels_opts;

typedef struct vtag_data_labels_impl vtag_data_labels_impl;

typedef struct vtag_data_labels {
    char *path;                /* as given to vtag_data_read_labels */
    vtag_data_format format;   /* JSONL or CSV, as detected */
    vtag_data_entry *entries;  /* (count) */
    int64_t count;
    const char *const *names;  /* (n_names) distinct labels (class1, class2, tags) in */
    int64_t n_names;           /* order of first appearance: line by line, class1, class2, tags */
    vtag_data_labels_impl *impl; /* private */
} vtag_data_labels;

void vtag_data_labels_opts_default(vtag_data_labels_opts *o);
/* Reads a labels file (opts NULL = defaults). Every error is one line naming
 * the file and the line: "labels.jsonl:7: missing field \"class2\"". On
 * failure *l is left empty. */
int vtag_data_read_labels(vtag_data_labels *l, const char *path, const vtag_data_labels_opts *opts,
                          vtag_error *err);
int64_t vtag_data_find_video(const vtag_data_labels *l, const char *video); /* entry index or -1 */
int64_t vtag_data_find_name(const vtag_data_labels *l, const char *label);  /* names index or -1 */
void vtag_data_free_labels(vtag_data_labels *l);

/* ---- captions (SPEC §2) ----------------------------------------------------------
 * caption(entry) = class1, class2, tags in canonical order, with repeated
 * labels removed (first kept). Canonical tag order: descending count of
 * training videos that list the tag, ties by the tag's first appearance in
 * the file (labels->names order); keep_tag_order keeps each entry's order.
 * Captions are stored uncut; the cut at max_length happens on encoding. */
typedef struct vtag_data_caption_opts {
    int64_t max_length;      /* default 16 */
    int64_t count_threshold; /* default 0: tokens seen more often get an id */
    int keep_tag_order;      /* default 0 */
} vtag_data_caption_opts;

void vtag_data_caption_opts_default(vtag_data_caption_opts *o);

typedef struct vtag_data_captions {
    int64_t count;       /* = labels->count */
    int64_t *start;      /* (count + 1) caption i is names[start[i] .. start[i+1]) */
    int32_t *names;      /* (start[count]) indices into labels->names */
    int64_t *tag_count;  /* (labels->n_names) training videos listing each label as a tag */
} vtag_data_captions;

int vtag_data_make_captions(vtag_data_captions *c, const vtag_data_labels *l, const vtag_data_caption_opts *o,
                            vtag_error *err);
void vtag_data_free_captions(vtag_data_captions *c);

/* ---- vocabulary ---------------------------------------------------------------------
 * Ids 1..V; 0 is BOS/EOS/padding. Built from the training split: a token
 * (label) counts once per training video whose caption holds it; tokens with
 * count > count_threshold get ids in order of first appearance in the
 * training captions (file order, caption order). If any training token is at
 * or below the threshold, "UNK" is appended as the last id (or, if "UNK" is
 * itself a label in the vocabulary, that id is used). */
#define VTAG_DATA_UNK "UNK"

typedef struct vtag_data_vocab_impl vtag_data_vocab_impl;

typedef struct vtag_data_vocab {
    int64_t size;              /* V */
    const char *const *tokens; /* (size + 1) tokens[id]; tokens[0] is NULL */
    int32_t unk;               /* id of UNK, 0 if the vocabulary has none */
    vtag_data_vocab_impl *impl; /* private */
} vtag_data_vocab;

int vtag_data_build_vocab(vtag_data_vocab *v, const vtag_data_labels *l, const vtag_data_captions *c,
                          const vtag_data_caption_opts *o, vtag_error *err);
/* id of a token: 1..V, or 0 if absent (no UNK substitution). */
int32_t vtag_data_find_token(const vtag_data_vocab *v, const char *token);
/* The checkpoint metadata vtag.vocab: a JSON array, element i = token of id
 * i+1. *json is malloc'd; the caller frees it. */
int vtag_data_encode_vocab(const vtag_data_vocab *v, char **json, vtag_error *err);
/* Parses vtag.vocab; `source` (e.g. the checkpoint's path, may be NULL) starts
 * every error message. Elements must be distinct non-empty strings. */
int vtag_data_decode_vocab(vtag_data_vocab *v, const char *json, const char *source, vtag_error *err);
void vtag_data_free_vocab(vtag_data_vocab *v);

/* Token strings → ids: a token outside the vocabulary becomes UNK if the
 * vocabulary has one and is dropped otherwise; a repeated id is dropped (so
 * UNK appears at most once); the result is cut at max_length. Writes ids[0..n)
 * and returns n (<= max_length). */
int64_t vtag_data_encode_caption(const vtag_data_vocab *v, const char *const *tokens, int64_t n_tokens,
                                 int64_t max_length, int32_t *ids);

/* ---- features files -------------------------------------------------------------------
 * safetensors with `fc` F32 [N, D_fc] and/or `att` F32 [N, K, D_att] (at least
 * one; fc-only files serve the fc model, att-only files att2in), metadata
 * vtag.items (JSON array of the N rows' item ids) and vtag.backbone; optional
 * `pix` F32 [N, 14], each frame's pixel statistics (vtag_novelty_pixel_stats,
 * for the novelty model; files without it stay valid). */
typedef struct vtag_data_features_impl vtag_data_features_impl;

typedef struct vtag_data_features {
    int64_t n;                /* rows */
    int64_t fc_dim;           /* D_fc, 0 without fc */
    int64_t att_k, att_dim;   /* K, D_att, 0 without att */
    const float *fc;          /* [n, fc_dim] or NULL */
    const float *att;         /* [n, att_k, att_dim] or NULL */
    const char *const *items; /* (n) the labels `video` of each row */
    const char *backbone;     /* vtag.backbone, NULL if absent */
    char *path;               /* set by the reader */
    vtag_data_features_impl *impl; /* private (the mapping) */
    const float *pix;         /* [n, 14] (VTAG_NOVELTY_PIX) or NULL; last, so positional initializers stay valid */
} vtag_data_features;

/* Maps and validates a file; fc/att point into the mapping until
 * vtag_data_free_features. On failure *f is left empty. */
int vtag_data_read_features(vtag_data_features *f, const char *path, vtag_error *err);
void vtag_data_free_features(vtag_data_features *f);
/* Writes the public fields of f (path and impl ignored) atomically. */
int vtag_data_write_features(const vtag_data_features *f, const char *path, vtag_error *err);
/* entry[r] = the labels entry of row r; the error names the features file,
 * the first item absent from the labels file and its row. */
int vtag_data_map_rows(const vtag_data_features *f, const vtag_data_labels *l, int64_t *entry, vtag_error *err);

/* ---- video rows (the video-level captioner, vtag_model_config.frames) ----------------------
 * One row per video from its n sampled frames' fc rows [n, d]: att_out [T, d]
 * holds frame j = row floor((j + 0.5) * n / T) at position j (n < T repeats
 * frames, n > T picks them evenly), fc_out [d] the mean of all n rows
 * (accumulated in double). VTAG_ERR_ARG when n, d or T is below 1. */
int vtag_data_video_row(const float *fc_rows, int64_t n, int64_t d, int64_t T, float *fc_out, float *att_out,
                        vtag_error *err);
/* The features as one row per video (vtag_data_video_row over the rows of
 * each item id, wherever they are), videos in order of their first row;
 * T = 0: the most rows any video has. out: att_k = T, att_dim = fc_dim = d,
 * items = the video ids, backbone and path copied; it owns its memory (free
 * it with vtag_data_free_features). "PATH: no fc tensor: ..." without fc. */
int vtag_data_features_by_video(const vtag_data_features *in, int64_t T, vtag_data_features *out, vtag_error *err);

/* ---- training / validation sets ------------------------------------------------------------
 * The feature rows whose video is in one split, each with its video's
 * caption ids, and one reference caption per video for CIDEr-D. Borrows the
 * features until vtag_data_free_set. */
typedef struct vtag_data_set {
    const vtag_data_features *feats;
    int64_t max_length;      /* L */
    int64_t n_rows;
    int64_t *rows;           /* (n_rows) feature row of each set row */
    int64_t *row_video;      /* (n_rows) set video of each row */
    int64_t n_videos;
    int64_t *videos;         /* (n_videos) labels entry of each video, in order of first row */
    int32_t *captions;       /* (n_videos, L) caption ids, 0-padded */
    vtag_metrics_seq *refs;  /* (n_videos) {captions + v·L, length}: the reference of video v */
} vtag_data_set;

int vtag_data_build_set(vtag_data_set *s, const vtag_data_labels *l, const vtag_data_captions *c,
                        const vtag_data_vocab *v, const vtag_data_features *f, vtag_data_split split,
                        const vtag_data_caption_opts *o, vtag_error *err);
void vtag_data_free_set(vtag_data_set *s);

/* Gathers set rows idx[0..b) into caller buffers — fc [b, D_fc], att
 * [b, K, D_att], labels [b, L]; NULL skips one (NULL fc/att also when the
 * file lacks it) — and points *batch at them (k = K when att is gathered). */
int vtag_data_gather_batch(const vtag_data_set *s, const int64_t *idx, int64_t b, float *fc, float *att,
                           int32_t *labels, vtag_batch *batch, vtag_error *err);

enum {
    VTAG_DATA_GATHER_FC = 1,
    VTAG_DATA_GATHER_ATT = 2,
    VTAG_DATA_GATHER_LABELS = 4,
};
/* The same with buffers from the arena (valid until its reset); `what` is a
 * mask of VTAG_DATA_GATHER_*; asking for a tensor the file lacks is an error. */
int vtag_data_gather_batch_arena(const vtag_data_set *s, const int64_t *idx, int64_t b, unsigned what,
                                 vtag_arena *arena, vtag_batch *batch, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

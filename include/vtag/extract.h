/* vtag extract: the workflows that turn a list of videos into files or lines
 * (src/run/extract_*.c). Frames: videos sampled into a folder of PNGs and its
 * index, frames.jsonl (`vtag frames`). Features: every video of a labels file
 * through a backbone into a features file (`vtag features`), one thread
 * decoding the next videos while the backbone runs on the current one. Tags:
 * a JSON line of tags per video (`vtag tag`). Features and tags share their
 * videos out over the ranks of a cluster (cluster.h). Nothing here prints:
 * each video done reaches the caller through a hook, totals through a result
 * struct. */
#ifndef VTAG_EXTRACT_H
#define VTAG_EXTRACT_H

#include <stdint.h>

#include "vtag/backbone.h"
#include "vtag/cluster.h"
#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/tagger.h"
#include "vtag/video.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- frames: videos → DIR/<stem>_<index>.png + DIR/frames.jsonl ---------------------
 * The PNG of frame i of a video is "<stem>_<i, 5 digits>.png", the stem being
 * the video's file name without its extension ("video" when empty), with
 * "-k" added for the k-th video of the list whose stem was seen before. The
 * index has one line per frame (docs/FORMATS.md):
 *   {"video": …, "index": i, "pts_seconds": t, "file": …, "target_seconds": …}
 * A run writes into a staging folder inside DIR (".frames.XXXXXX") and moves
 * its files into place only when every video is done: the old index goes,
 * the new PNGs come in, then the new index (written through vtag_atomic_*),
 * then the PNGs only the old index named are removed. DIR thus holds either
 * an index and exactly the PNGs it was written with, or no index; a run whose
 * output fails leaves DIR as it was. */

/* One video of the list, done. */
typedef struct vtag_frames_video {
    const char *video;      /* as given */
    int64_t index;          /* its position in the list */
    int status;             /* VTAG_OK, or the error that stopped it (err): the frames
                               it gave before stay in the index, the run goes on */
    vtag_error err;
    int fatal;              /* the error is the output's (a PNG or the index cannot be
                               written): the run stops and vtag_frames_extract returns it */
    int opened;             /* 0: the video could not be opened, stats are zero */
    int damaged;            /* status VTAG_OK, but not every target could be decoded,
                               packets were damaged or the file is cut short (stats) */
    vtag_video_stats stats;
} vtag_frames_video;

typedef struct vtag_frames_opts {
    vtag_video_sampler sampler; /* default uniform:16 */
    vtag_video_options video;   /* default: 224 px, FFmpeg's threads, AUTO */
    /* Called after each video in list order, from the calling thread; may be NULL. */
    void (*video_done)(void *user, const vtag_frames_video *v);
    void *user;
} vtag_frames_opts;

void vtag_frames_opts_defaults(vtag_frames_opts *o);

typedef struct vtag_frames_result {
    int64_t videos;  /* read, in full or damaged */
    int64_t failed;  /* could not be read (status != VTAG_OK) */
    int64_t damaged;
    int64_t frames;  /* lines of the index */
} vtag_frames_result;

/* The first video (its position in the list) that lies directly in out_dir,
 * or -1: a run replaces that folder's PNGs and index and removes the old ones,
 * and such a video could be one of them. */
int64_t vtag_frames_find_inside(const char *const *videos, int64_t n_videos, const char *out_dir);

/* Samples every video into out_dir (created with its parents if missing). A
 * video that cannot be read is no failure of the run: it is reported through
 * video_done and counted in res->failed. Errors: VTAG_ERR_ARG (a video inside
 * out_dir, vtag_frames_find_inside), VTAG_ERR_IO (the folder, a PNG or the
 * index cannot be written: DIR is left as it was, or for a failed move, holds
 * no index), VTAG_ERR_FORMAT (a name the index cannot hold: invalid UTF-8),
 * VTAG_ERR_NOMEM. res may be NULL. */
int vtag_frames_extract(const char *const *videos, int64_t n_videos, const char *out_dir,
                        const vtag_frames_opts *o, vtag_frames_result *res, vtag_error *err);

/* ---- features: the videos of a labels file → a features file -------------------------
 * Frames of every video of the split (labels order) → the backbone in batches
 * of its max_batch, never spanning two videos → fc [N, D_fc] and att [N, K,
 * D_att] (one row per frame), items (each row's labels "video"),
 * vtag.backbone: written atomically with vtag_data_write_features, only when
 * every video succeeded (or skip_bad).
 *
 * In a cluster of N ranks (opts.cluster, cluster.h; every rank calls with the
 * same labels), video i of the split is decoded and embedded by rank i mod N
 * alone, which sends its rows to rank 0; rank 0 takes them in labels order and
 * alone reports progress and writes the file: the same bytes, the same errors
 * and the same progress as one process. Every rank returns the same status
 * (rank 0's error, or "rank R: ..." for another rank's) and rank 0 alone fills
 * res, except when a message between the ranks fails: then they no longer
 * meet (vtag_cluster_failed_together is 0) and the caller ends the job
 * (vtag_cluster_abort). */

typedef struct vtag_features_progress {
    int64_t done, total;       /* videos */
    int64_t rows;              /* feature rows so far */
    double seconds;            /* since the first video was started */
    int final;                 /* 1: the call after the last video, before the file is written */
    const vtag_error *skipped; /* non-NULL: video `done` could not be decoded and was left out
                                  (skip_bad); its error, and its line in the labels file: */
    int64_t line;
} vtag_features_progress;

typedef struct vtag_features_opts {
    vtag_data_split split;          /* VTAG_DATA_SPLIT_ALL (default) or one split */
    vtag_video_sampler sampler;     /* frames per video; default uniform:16 */
    vtag_backbone_options backbone; /* size, normalisation, taps, max_batch (frames per call) */
    int threads;     /* backbone threads; 0 (default): cores - 1, the decoder thread has the other
                        (in a cluster: this rank's share of the machine's cores, vtag_cluster_threads, - 1) */
    int no_att;      /* write fc only */
    int skip_bad;    /* a video that cannot be decoded is left out (else: an error, nothing written) */
    vtag_cluster *cluster; /* NULL (default): this process alone */
    /* Called after each video, from the calling thread (rank 0's only); may be NULL. */
    void (*progress)(void *user, const vtag_features_progress *p);
    void *user;
} vtag_features_opts;

void vtag_features_opts_defaults(vtag_features_opts *o);

typedef struct vtag_features_result {
    int64_t rows;    /* N */
    int64_t videos;  /* videos whose rows are in the file */
    int64_t skipped; /* videos left out (skip_bad) */
    double seconds;  /* from the first video to the file written */
} vtag_features_result;

/* Runs the backbone at backbone_path over the videos of labels (read with
 * vtag_data_read_labels; the video paths are entries[].path) and writes the
 * features file out. Errors name the file: "L: no video in split \"val\"", a
 * video's "MSG (L:LINE)", "VIDEO: <backbone error>", "L: no frame of any
 * video could be decoded", the backbone's and the writer's own. res may be NULL. */
int vtag_features_extract(const char *backbone_path, const vtag_data_labels *labels, const char *out,
                          const vtag_features_opts *o, vtag_features_result *res, vtag_error *err);

/* ---- tags: videos → one JSON line of tags each, in list order (vtag tag) --------------
 * The videos are paths[0..n_paths), then the lines of list (one path a line,
 * blank lines skipped). Each is tagged with vtag_tagger_tag and handed to
 * video_done in list order with its line: its tags, or {"video", "error"}
 * when it could not be tagged, and the others go on. One process reads the
 * list as it tags, so videos piped in are tagged as they come.
 *
 * In a cluster of N ranks (opts.cluster, cluster.h; every rank has opened its
 * tagger), rank 0 reads the whole list first and shares it out: video i is
 * tagged by rank i mod N alone, which sends its line to rank 0; video_done
 * runs on rank 0 only, in list order, with the lines one process gives (the
 * other ranks' paths and list are not read). Every rank returns the same
 * status and res, except when a message between the ranks fails: then they no
 * longer meet (vtag_cluster_failed_together is 0) and the caller ends the job
 * (vtag_cluster_abort). */

typedef struct vtag_tags_video {
    const char *video;       /* the path as listed */
    int64_t index;           /* its position in the list */
    int failed;              /* 1: it could not be tagged (err); line is its error line */
    vtag_error err;
    const char *line;        /* the JSON line without newline (vtag_tag_to_json); NULL when
                                it cannot be made (err says why: invalid UTF-8, too long) */
    vtag_tagger_stats stats; /* as vtag_tagger_tag filled it */
    double seconds;          /* the whole video */
} vtag_tags_video;

typedef struct vtag_tags_opts {
    vtag_tag_opts tag;         /* the tag rule; default vtag_tag_opts_default's */
    const char *const *paths;  /* (n_paths) the first videos */
    int64_t n_paths;
    FILE *list;                /* then one path a line; NULL (default): none */
    const char *list_name;     /* the list in messages ("stdin") */
    vtag_cluster *cluster;     /* NULL (default): this process alone */
    /* Each video in list order, on rank 0 only: 0 goes on; any other value
     * stops the run, and vtag_tags_extract returns it (the caller said why). */
    int (*video_done)(void *user, const vtag_tags_video *v);
    /* NULL, or on rank 0 for each listed video before it is shared out: 1
     * leaves it out (not tagged, not handed to video_done, not counted; the
     * videos of an output resumed, vtag_output_skip). */
    int (*skip)(void *user, const char *video);
    void *user;
} vtag_tags_opts;

void vtag_tags_opts_defaults(vtag_tags_opts *o);

typedef struct vtag_tags_result {
    int64_t videos; /* handed to video_done */
    int64_t failed; /* of them, not tagged */
} vtag_tags_result;

/* Errors: the list's ("stdin: line N is longer than 1 MiB", a read error),
 * after every video before it; video_done's status; VTAG_ERR_NOMEM. res may
 * be NULL. */
int vtag_tags_extract(vtag_tagger_t *t, vtag_ctx *ctx, const vtag_tags_opts *o, vtag_tags_result *res,
                      vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

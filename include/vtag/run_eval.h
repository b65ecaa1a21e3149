/* Evaluating a run folder (vtag eval --from DIR): the runs made from the
 * features the pipeline already extracted for one split, no video decoded
 * again. Every XE and SCST checkpoint captions each frame row and a video's
 * captions are counted into its tags (vtag tag's rule); the CNN baseline is
 * the built-in backbone's own classifier on the same fc rows, per video the
 * mean of its frames' probabilities. Everything comes back in memory, ready
 * for vtag_eval_compute; vtag_eval (eval.h) scores it. */
#ifndef VTAG_RUN_EVAL_H
#define VTAG_RUN_EVAL_H

#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/eval.h"
#include "vtag/tag.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_RUN_EVAL_MAX 8 /* four models, XE and SCST each */

/* Called before a checkpoint captions the rows (the CLI's "captioning N rows
 * with CKPT"). */
typedef void (*vtag_run_eval_progress)(void *user, const char *checkpoint, int64_t rows);

typedef struct vtag_run_eval_opts {
    const char *model;        /* "fc", "att2in", "topdown" or "video": that model's runs; NULL or "all": every model's */
    vtag_data_split split;    /* the features evaluated, DIR/features-<split>.safetensors; default TEST */
    vtag_tag_opts tag;        /* the caption runs' tag rule; default vtag_tag_opts_default */
    int write_baseline;       /* 1 (default): the baseline predictions also go to DIR/baseline-<split>.jsonl
                               * (`vtag backbone predict` lines, "frames" empty; written atomically) */
    vtag_run_eval_progress progress; /* may be NULL */
    void *user;
    const vtag_data_labels *labels; /* NULL, or: every checkpoint's vocabulary must be among its names */
} vtag_run_eval_opts;

void vtag_run_eval_opts_defaults(vtag_run_eval_opts *o);

typedef struct vtag_run_eval_result {
    int n_runs;
    char *names[VTAG_RUN_EVAL_MAX];              /* "fc-xe", "fc", "att2in-xe", … in training order */
    vtag_tag_results results[VTAG_RUN_EVAL_MAX]; /* each run's tags of every video of the features */
    int n_logs;
    vtag_eval_log logs[VTAG_RUN_EVAL_MAX];       /* the runs' training logs that exist (strings owned here) */
    int has_baseline;                            /* 1 when DIR holds the built-in backbone */
    vtag_tag_results baseline;                   /* its predictions: per video every label with its score,
                                                  * best first (scores to 6 significant digits, as in the
                                                  * file); vtag_eval_baseline_results makes them tags */
    char *baseline_path;                         /* the file written, or NULL */
    int keep_tag_order;                          /* 1: DIR/pipeline.json records the labels' tag order (vtag
                                                  * pipeline --keep-tag-order: the captions were trained with
                                                  * each video's tags as listed), the order to build the CIDEr-D
                                                  * references in; 0: by frequency, or no manifest
                                                  * (vtag_run_read_tag_order) */
} vtag_run_eval_result;

/* Errors name the file: "DIR/features-test.safetensors: missing (has vtag
 * pipeline --out DIR finished?)", "DIR: no trained MODEL model" (MODEL
 * "caption" when none was asked for), a checkpoint that does not fit the
 * features (vtag_captioner_check_features), a checkpoint trained on another
 * backbone than the features' or DIR's (vtag/provenance.h) or whose labels are
 * not in o->labels, a backbone whose classifier does not take the fc rows, a
 * DIR/pipeline.json that does not parse or has an unknown tag_order. On
 * failure *r is empty. */
int vtag_run_eval(vtag_ctx *ctx, const char *dir, const vtag_run_eval_opts *o, vtag_run_eval_result *r,
                  vtag_error *err);
void vtag_run_eval_result_free(vtag_run_eval_result *r);

/* Per-label calibration of a checkpoint's scores (vtag/calib.h): the label
 * scores vtag tag gives each video of val_feats (the validation split's
 * features; a video-level checkpoint groups them by video), against each
 * video's labels in `labels` (videos it lacks are left out), fitted by
 * vtag_calib_fit and written beside the checkpoint (vtag_calib_path,
 * atomically). vtag train calls it after the last epoch when it has
 * validation features; `vtag calibrate` for checkpoints trained before. */
typedef struct vtag_run_calibrate_info {
    int64_t videos, labels; /* fitted on */
    double a0, b0;          /* the shared map */
} vtag_run_calibrate_info;
int vtag_run_calibrate(vtag_ctx *ctx, const char *checkpoint, const char *val_feats, const vtag_data_labels *labels,
                       vtag_run_calibrate_info *info, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

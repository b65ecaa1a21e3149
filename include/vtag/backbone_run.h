/* The built-in backbone's workflow (src/run/backbone_run*.c): the whole
 * training run behind `vtag backbone train` (vocabulary, frames, epochs with
 * validation, best checkpoint, training state and resume, the epoch log) and
 * the prediction of one video behind `vtag backbone predict`. Nothing here
 * prints: progress and epoch records reach the caller through hooks, results
 * through structs; the caller formats them (the JSON lines are here too). */
#ifndef VTAG_BACKBONE_RUN_H
#define VTAG_BACKBONE_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/builtin.h"
#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/output.h"
#include "vtag/video.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the training run ------------------------------------------------------ */
typedef struct vtag_builtin_run_opts {
    const char *out;              /* the backbone file to write (required) */
    const char *log;              /* the epoch lines are appended here too (NULL: no log) */
    int resume;                   /* continue from the state beside out when it exists */
    vtag_video_sampler sample;    /* frames per training video (uniform:8) */
    vtag_builtin_config cfg;      /* the network (n_labels is set from the vocabulary) */
    vtag_builtin_train_opts train;/* batch, schedule, augmentation; train.epochs is the run's length (10) */
} vtag_builtin_run_opts;

void vtag_builtin_run_defaults(vtag_builtin_run_opts *o);

/* One epoch's record: the line on stderr and in the log. */
typedef struct vtag_builtin_run_epoch {
    int epoch;                    /* epochs done (1-based) */
    double loss;                  /* mean training loss */
    double val_map;               /* video-level validation mAP; NAN without a val split */
    int64_t frames;
    double frames_per_s, seconds;
    int best;                     /* this epoch's model is the one in out */
} vtag_builtin_run_epoch;

/* Every hook may be NULL. progress: videos of the split decoded, called
 * from the decoding threads one call at a time. note: one line of what the
 * run did ("N training frames of V videos, ..." once the frames are decoded,
 * "resuming from STATE after epoch E"). epoch: after each epoch, its record
 * and its line as the log gets it (vtag_builtin_run_epoch_format), before
 * the log is written. */
typedef struct vtag_builtin_run_hooks {
    void (*progress)(void *user, vtag_data_split split, int64_t done, int64_t total);
    void (*note)(void *user, const char *text);
    void (*epoch)(void *user, const vtag_builtin_run_epoch *r, const char *line);
    void *user;
    /* after every training step: epoch (1-based) of epochs, frames done of the epoch's */
    void (*step)(void *user, int epoch, int epochs, int64_t done, int64_t total);
} vtag_builtin_run_hooks;

/* Trains the built-in CNN on the frames of labels' train split: the
 * vocabulary is the train split's labels; with a val split, the video-level
 * mAP after every epoch picks the model saved to o->out (the best epoch;
 * otherwise the last). After every epoch the training state is written
 * beside out (vtag_train_state_path: B.safetensors -> B.state.safetensors)
 * and the epoch line appended to the log. With o->resume and a state there,
 * the run continues after the state's epoch, bit-identical to one that was
 * not stopped. ctx->rng draws the initial weights and the batches (a resumed
 * state replaces it); ctx->threads decode videos and train. A loss or
 * gradient that turns nan or inf stops with VTAG_ERR_DIVERGED ("epoch E step
 * N: ...; kept the last good checkpoint OUT"), out and the state left at the
 * last good epoch. The backbone and the state are replaced whole (the
 * safetensors writer's atomic write); the log is appended to, flushed line
 * by line. */
int vtag_builtin_run(vtag_ctx *ctx, const vtag_data_labels *labels, const vtag_builtin_run_opts *o,
                     const vtag_builtin_run_hooks *hooks, vtag_error *err);

/* The epoch line: {"epoch": 1, "loss": 0.693147, "val_map": null, "frames": 64,
 * "frames_per_s": 1234.5, "seconds": 0.052, "best": true} (no newline).
 * Returns the length snprintf gives (>= cap: truncated). */
int vtag_builtin_run_epoch_format(const vtag_builtin_run_epoch *r, char *buf, size_t cap);

/* A list of stage values as --widths and --blocks give them ("16,32,64,128"):
 * 1 to VTAG_BUILTIN_MAX_STAGES comma-separated integers in [1, hi] into out;
 * the count, or -1. */
int vtag_builtin_parse_stages(const char *spec, int64_t *out, int64_t hi);

/* ---- predicting one video ---------------------------------------------------- */
typedef struct vtag_builtin_score {
    int64_t label;                /* the model's output */
    const char *name;             /* its label (borrowed from the model) */
    double score;                 /* a sigmoid, or the mean of the frames' sigmoids */
} vtag_builtin_score;

typedef struct vtag_builtin_prediction {
    int64_t n_labels;             /* V */
    vtag_builtin_score *labels;   /* (n_labels) every label, descending score, ties by output */
    int64_t n_frames, top;        /* top: labels kept per frame, min(K, V) */
    double *pts;                  /* (n_frames) seconds */
    vtag_builtin_score *frames;   /* [n_frames, top] each frame's best labels, as labels */
} vtag_builtin_prediction;

/* A backbone file ready to predict with: the model, its folded inference
 * twin and a context of `threads` threads (0: one per core). */
typedef struct vtag_builtin_predictor {
    vtag_builtin model;
    vtag_builtin_infer inf;
    vtag_ctx ctx;
} vtag_builtin_predictor;

/* Errors name the file (vtag_builtin_load); nothing to close after a failure. */
int vtag_builtin_predictor_open(vtag_builtin_predictor *pr, const char *path, int threads, vtag_error *err);
void vtag_builtin_predictor_close(vtag_builtin_predictor *pr);

/* Decodes the frames smp picks from the video at path (one decoder thread),
 * runs the model over them (batches of 16) and scores every label: a
 * video's score is the mean of its frames' sigmoids; each frame keeps its
 * `top` best. Errors name the video. p is zeroed first; free it with
 * vtag_builtin_prediction_free whatever the result. */
int vtag_builtin_predict_video(vtag_builtin_predictor *pr, const char *path, const vtag_video_sampler *smp,
                               int64_t top, vtag_builtin_prediction *p, vtag_error *err);
void vtag_builtin_prediction_free(vtag_builtin_prediction *p);

/* The JSON line of a prediction (docs/FORMATS.md, no newline; *line
 * malloc'd): {"video": V, "labels": [{"label": L, "score": s}, ...],
 * "frames": [{"pts_seconds": t, "labels": [...]}, ...]}, scores and times
 * rounded to 6 decimals. A line longer than VTAG_TAG_LINE_MAX (what eval
 * --baseline reads) is VTAG_ERR_ARG; a name that is not UTF-8 VTAG_ERR_NOMEM
 * ("cannot format the result"). */
int vtag_builtin_prediction_format(const vtag_builtin_prediction *p, const char *video, char **line, vtag_error *err);
/* {"video": V, "error": MSG}, malloc'd; NULL when it cannot be formatted. */
char *vtag_builtin_prediction_error_format(const char *video, const char *msg);
/* One video in, its `vtag backbone predict` line out (*line malloc'd): the
 * prediction's line, or for a video that failed (the result, err naming
 * the video) its error line (*line NULL when even that cannot be formatted). */
int vtag_builtin_predict_line(vtag_builtin_predictor *pr, const char *video, const vtag_video_sampler *smp, int64_t top,
                              char **line, vtag_error *err);

/* ---- `vtag backbone predict`: videos in, records out ------------------------- */
typedef struct vtag_builtin_predict_opts {
    const char *backbone;       /* the file */
    int threads;                /* 0: one per core */
    vtag_video_sampler sample;
    int64_t top;                /* labels per frame */
    vtag_output_opts output;    /* path or stream, format, resume; its columns and key are set here */
    /* NULL, or each video that fails (e names it) */
    void (*failed)(void *user, const vtag_error *e);
    void *user;
} vtag_builtin_predict_opts;

/* Opens the backbone and the output, then each video not already in a
 * resumed output: its line, or its error line, written as it finishes; the
 * output is finished (renamed into place) when every video was done, failed
 * ones included. *n_failed counts the failed videos. Errors: the backbone's,
 * the output's (a failed write stops the run). */
int vtag_builtin_predict_run(const vtag_builtin_predict_opts *o, const char *const *videos, int64_t n,
                             int64_t *n_failed, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

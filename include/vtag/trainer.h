/* The trainer: a caption model trained on precomputed features (XE, then
 * optionally SCST), with validation CIDEr-D after every epoch, the best
 * checkpoint kept, the training state saved after every epoch for a resume,
 * and one record per epoch -- the run of `vtag train` as a library call.
 * It never prints: progress, the gradient hook and the epoch records go
 * through callbacks. */
#ifndef VTAG_TRAINER_H
#define VTAG_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/caption.h"
#include "vtag/cluster.h"
#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/scst.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_trainer_opts {
    const char *labels;    /* labels file; its "train" videos are trained on */
    const char *feats;     /* training features (rows of train videos) */
    const char *val_feats; /* validation features (rows of "val" videos), or NULL: no validation */
    const char *out;       /* the checkpoint: the best by validation CIDEr-D, else the last;
                              the state beside it (vtag_train_state_path) */
    const char *init;      /* SCST from this checkpoint (its sizes and vocabulary rule), or NULL */
    const char *log;       /* append each epoch's record here as a log line (vtag_log), or NULL */
    vtag_model_config cfg; /* sizes; vocabulary and feature sizes come from the data (or init) */
    int video;             /* 1: the video-level model: the train and val features become one row per
                              video (vtag_data_features_by_video, T from the training features, or
                              cfg.frames when > 0), cfg.frames = T; an init checkpoint with frames > 0
                              stays video-level without it */
    vtag_data_caption_opts cap; /* captions: max_length (= cfg.max_length), tag order */
    vtag_xe_opts xe;       /* XE epochs; xe.batch_size also batches validation */
    vtag_scst_opts scst;   /* SCST epochs */
    int epochs;            /* train until this many epochs are done (30) */
    int scst_after;        /* epochs from this one (0-based) are SCST; -1: none (0 with init) */
    int resume;            /* continue from the state file when it exists */
    int threads;           /* <= 0: number of cores */
    uint64_t seed;         /* 42 */
    /* Data-parallel training over the ranks of an MPI job (NULL: one
     * process). Every rank opens the trainer with the same options and reads
     * the same inputs (a shared file system, or copies at the same paths);
     * rank 0 alone validates and writes the checkpoint, the state, the logs
     * and calls record; a resumed state is read by rank 0 and sent to all. */
    vtag_cluster *cluster;
    /* Micro-batches per step (vtag_train_shard): 0 = 1 in one process, the
     * ranks under several; a power of two the ranks divide. The same value
     * gives the same weights for every rank count (same threads per rank). */
    int micro_batches;
    /* Append {"epoch", "phase", "step", "loss"} per step here (vtag_log), or NULL. */
    const char *step_log;
} vtag_trainer_opts;

/* The defaults of `vtag train` (no files, type fc, XE only). */
void vtag_trainer_opts_defaults(vtag_trainer_opts *o);
/* Whether epoch e (0-based) of a run with these options is an SCST epoch. */
int vtag_trainer_is_scst(const vtag_trainer_opts *o, int epoch);

/* One epoch's result, given to the caller after the checkpoint and the state
 * were saved; a line of the training log (docs/FORMATS.md "Training log"). */
typedef struct vtag_trainer_record {
    int epoch;             /* 1-based */
    int scst;              /* phase: 0 "xe", 1 "scst" */
    double loss;           /* mean over the epoch's steps */
    double lr;             /* the epoch's learning rate */
    double val_cider_d;    /* NaN without validation ("null") */
    double seconds;        /* the epoch's training time, validation not included */
    double per_s;          /* XE: target tokens per second; SCST: sampled captions per second */
    int best;              /* this epoch's weights were written to out */
    double reward;         /* SCST: mean reward of the samples (NaN for XE) */
    double advantage;      /* SCST: mean advantage (NaN for XE) */
    double greedy_cider_d; /* SCST: mean CIDEr-D of the greedy captions (NaN with the mean baseline: "null") */
} vtag_trainer_record;

/* Longest log line vtag_trainer_format_record writes (every finite double fits). */
#define VTAG_TRAINER_LINE_MAX 4096
/* The record as one JSON line without the newline, as `vtag train` writes
 * it: keys in the documented order, "null" for a NaN validation or greedy
 * score; buf holds VTAG_TRAINER_LINE_MAX bytes. Returns buf. */
char *vtag_trainer_format_record(const vtag_trainer_record *r, char *buf);
/* Reads a training log (JSON Lines; blank lines skipped) into *records
 * (malloc'd, *n of them). epoch (an integer), phase and loss are required,
 * val_cider_d may be null or absent; a key that is absent reads as NaN (0 for
 * best), other keys are ignored, so logs of other versions still read.
 * "PATH:LINE: not a vtag train log line (epoch, phase, loss, val_cider_d)". */
int vtag_trainer_read_log(const char *path, vtag_trainer_record **records, int64_t *n, vtag_error *err);

/* What the trainer calls while it runs; every member optional. */
typedef struct vtag_trainer_callbacks {
    /* After every step of epoch `epoch` (0-based): rows done of total, the
     * running mean loss (SCST: mean reward). */
    void (*progress)(void *user, int epoch, int64_t done, int64_t total, double loss);
    /* Between the gradient and the update of every step (see
     * vtag_grad_hook_fn in caption.h): an all-reduce goes here. */
    vtag_grad_hook_fn grad_hook;
    /* After each epoch's checkpoint and state were saved, before its line is
     * appended to opts.log; non-zero stops the run with that status (the
     * callback sets err). A diverged epoch ends the run with
     * VTAG_ERR_DIVERGED and err as vtag_diverged_at makes it. */
    int (*record)(void *user, const vtag_trainer_record *r, vtag_error *err);
    void *user;
} vtag_trainer_callbacks;

typedef struct vtag_trainer vtag_trainer;

/* Loads everything a run needs: the labels, captions and vocabulary (built
 * from the labels, or the init checkpoint's through vtag_captioner_load), the
 * features and their training and validation sets, the SCST references and
 * document frequencies; creates the model (drawn from the seed, or the init
 * checkpoint's) and, with resume, restores the state file when there is one
 * (a state past o->epochs is refused). labels, feats and out are required;
 * the file names in o must outlive the trainer. On failure *t is NULL. */
int vtag_trainer_open(vtag_trainer **t, const vtag_trainer_opts *o, vtag_error *err);
/* Trains the epochs from the state's up to o->epochs. After each: validation
 * (greedy captions of the validation rows, CIDEr-D with the training
 * references' document frequencies; it does not disturb the training RNG),
 * the checkpoint when the epoch is best (always without validation), the
 * state, then cb->record. A step that diverges stops the run with
 * VTAG_ERR_DIVERGED before anything of its epoch is saved: the checkpoint and
 * the state stay those of the last good epoch. cb may be NULL. */
int vtag_trainer_run(vtag_trainer *t, const vtag_trainer_callbacks *cb, vtag_error *err);
void vtag_trainer_free(vtag_trainer **t); /* NULLs *t */

/* The model being trained (its params.grad is what the hook sees). */
vtag_model *vtag_trainer_model(vtag_trainer *t);
/* The state as of the last finished epoch (after open: the resumed one);
 * state->epoch is also the epoch a failed run stopped in (0-based). */
const vtag_train_state *vtag_trainer_state(const vtag_trainer *t);
/* 1 when open continued from the state file, else 0. */
int vtag_trainer_resumed(const vtag_trainer *t);
/* Where the state is saved (vtag_train_state_path of o->out). */
const char *vtag_trainer_state_file(const vtag_trainer *t);

#ifdef __cplusplus
}
#endif
#endif

/* The run folder (vtag pipeline --out DIR): the one module that knows its
 * files — the manifest DIR/pipeline.json (finished stages, the settings they
 * were made with, the validation summary), the artefact names, the caption
 * models in training order, and which checkpoint is the best on validation.
 * The pipeline writes it; the tagger and vtag eval --from read it. */
#ifndef VTAG_RUN_H
#define VTAG_RUN_H

#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- names ------------------------------------------------------------------ */

/* The caption models a run trains, in training order: "fc", "att2in",
 * "topdown" for i = 0, 1, 2; NULL past the end. */
enum { VTAG_RUN_N_MODELS = 3 };
const char *vtag_run_model(int i);

/* A run folder's files. `name` is the model for the training files, the
 * split ("train", "val", "test") for FEATURES and BASELINE, unused (NULL)
 * for the others. */
typedef enum vtag_run_file {
    VTAG_RUN_FILE_MANIFEST = 0, /* pipeline.json */
    VTAG_RUN_FILE_LOCK,         /* pipeline.lock: held while a pipeline runs */
    VTAG_RUN_FILE_BACKBONE,     /* backbone.safetensors: the built-in CNN the pipeline trained */
    VTAG_RUN_FILE_FEATURES,     /* features-<split>.safetensors */
    VTAG_RUN_FILE_BASELINE,     /* baseline-<split>.jsonl: the CNN classifier's predictions */
    VTAG_RUN_FILE_XE,           /* <model>-xe.safetensors: the best on validation after cross-entropy */
    VTAG_RUN_FILE_XE_LOG,       /* <model>-xe.log.jsonl: its training log */
    VTAG_RUN_FILE_SCST,         /* <model>.safetensors: the best after SCST */
    VTAG_RUN_FILE_SCST_LOG,     /* <model>.log.jsonl */
} vtag_run_file;

/* "DIR/<the file's name>", malloc'd; NULL when out of memory or when the
 * file needs a name and got none. */
char *vtag_run_path(const char *dir, vtag_run_file what, const char *name);
/* The training state saved beside a checkpoint (vtag train --resume):
 * "<checkpoint minus .safetensors>.state.safetensors", malloc'd. */
char *vtag_run_state_path(const char *checkpoint);

/* ---- trained checkpoints ------------------------------------------------------ */

/* One trained checkpoint of a run folder: a model after XE or after SCST. */
typedef struct vtag_run_trained {
    const char *model; /* vtag_run_model(i) (static) */
    int scst;          /* 0: after cross-entropy, 1: after SCST */
    char *name;        /* "<model>-xe" or "<model>": the stage that made it */
    char *checkpoint;  /* DIR/NAME.safetensors, a file */
    char *log;         /* DIR/NAME.log.jsonl, NULL when there is no such file */
} vtag_run_trained;

/* The checkpoints present in dir, in training order (fc-xe, fc, att2in-xe,
 * att2in, topdown-xe, topdown); model NULL or "all": every model's, else only
 * that model's (a name that is no model gives none). *list is NULL when *n
 * is 0. Needs no manifest. */
int vtag_run_list_trained(const char *dir, const char *model, vtag_run_trained **list, int *n, vtag_error *err);
void vtag_run_trained_free(vtag_run_trained **list, int n);

/* ---- a run folder and its manifest -------------------------------------------- */

typedef struct vtag_run vtag_run;

/* Opens a finished or running pipeline's folder to read it: DIR/pipeline.json
 * must be there ("DIR/pipeline.json: no pipeline here (run vtag pipeline
 * --out DIR first)"), parse, and name the backbone and the frame sampling
 * ("DIR/pipeline.json: backbone or sample missing"). */
int vtag_run_open(vtag_run **out, const char *dir, vtag_error *err);
void vtag_run_close(vtag_run **r);

const char *vtag_run_dir(const vtag_run *r);
/* The backbone the features were made with: its absolute path, or
 * DIR/backbone.safetensors when the pipeline trained the built-in CNN. */
const char *vtag_run_backbone(const vtag_run *r);
/* The frame sampling spec ("uniform:16"). */
const char *vtag_run_sample(const vtag_run *r);
/* The frame size the backbone ran at; 0: the backbone's own. */
int64_t vtag_run_size(const vtag_run *r);

/* ---- the best model ------------------------------------------------------------ */

typedef struct vtag_run_choice {
    char *model;        /* the model (owned) */
    char *checkpoint;   /* the file that won (owned): DIR/<model>.safetensors or DIR/<model>-xe.safetensors */
    int scst;           /* 1: the SCST checkpoint, 0: the XE one */
    double val_cider_d; /* its validation CIDEr-D; -1 when the manifest has no figure for it */
} vtag_run_choice;

/* The checkpoint to tag with. model NULL: the model with the best validation
 * CIDEr-D in the manifest's summary (each model ranked by the better of its
 * XE and SCST figures; on a tie the later model in training order: topdown,
 * then att2in, then fc); without a summary, the last model in training order
 * that has a checkpoint. model given: that one. Of the model's two
 * checkpoints, the one with the better validation figure (SCST on a tie, or
 * when the summary does not know the model); when that file is missing, the
 * other. "DIR: no trained MODEL model (vtag pipeline has not finished it)"
 * (MODEL "caption" when none was asked for) when there is none. */
int vtag_run_best(const vtag_run *r, const char *model, vtag_run_choice *c, vtag_error *err);
void vtag_run_choice_free(vtag_run_choice *c);

#ifdef __cplusplus
}
#endif
#endif

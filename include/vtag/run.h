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
 * "topdown", "video" for i = 0..3; NULL past the end. "video" is the
 * video-level captioner: topdown over each video's frames (vtag train
 * --video, vtag_model_config.frames), one caption per video. */
enum { VTAG_RUN_N_MODELS = 4 };
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
/* A checkpoint's training state (vtag train --resume) is beside it:
 * vtag_train_state_path (caption.h). */

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
 * att2in, topdown-xe, topdown, video-xe, video); model NULL or "all": every model's, else only
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
 * XE and SCST figures; on a tie the later model in training order: video,
 * topdown, att2in, then fc); without a summary, the last model in training order
 * that has a checkpoint. model given: that one. Of the model's two
 * checkpoints, the one with the better validation figure (SCST on a tie, or
 * when the summary does not know the model); when that file is missing, the
 * other. "DIR: no trained MODEL model (vtag pipeline has not finished it)"
 * (MODEL "caption" when none was asked for) when there is none. */
int vtag_run_best(const vtag_run *r, const char *model, vtag_run_choice *c, vtag_error *err);
void vtag_run_choice_free(vtag_run_choice *c);

/* ---- the pipeline's side: settings, stages, summary ---------------------------- */

/* The settings a run is made with. A finished stage records those its output
 * depends on (through its inputs too): the backbone labels, backbone and
 * size; features also sample; the training stages all six. A later run of
 * the pipeline on the folder must have the same values for the recorded
 * ones. */
typedef struct vtag_run_settings {
    const char *labels;   /* the labels file, absolute */
    const char *backbone; /* the ONNX backbone, absolute, or "built-in" */
    const char *sample;   /* the frame sampling spec */
    int64_t size;         /* the backbone's frame size; 0: its own */
    int64_t hidden;       /* E = R = A of the caption models */
    int keep_tag_order;   /* 1: each video's tags in the labels file's order (vtag train --keep-tag-order),
                           * recorded as "tag_order": "labels"; 0: by descending training frequency,
                           * "frequency" (a manifest without the key, made before it, means this).
                           * vtag_run_plan_build leaves it 0: the caller sets it, as the stage options' */
} vtag_run_settings;

/* Opens dir for a pipeline run: creates the folder ("DIR: cannot create the
 * folder (REASON)"), takes DIR/pipeline.lock for as long as r is open (and
 * for the children that inherit it: "DIR is in use by another vtag pipeline
 * (pid N)"), and loads the manifest — an empty one when there is none or with
 * restart ("DIR/pipeline.json:LINE: not a pipeline manifest (WHY); use
 * --restart to start again"). A setting a finished stage used must equal
 * s's ("DIR/pipeline.json: was made with another NAME; use --restart (or
 * another --out)"); one no finished stage used is dropped. Nothing is
 * written but the lock: vtag_run_save writes the manifest. */
int vtag_run_open_pipeline(vtag_run **out, const char *dir, const vtag_run_settings *s, int restart,
                           vtag_error *err);
/* Writes DIR/pipeline.json (2-space indent, sorted keys) with vtag_atomic_write. */
int vtag_run_save(vtag_run *r, vtag_error *err);
/* Whether the manifest records stage as finished (and its wall time). */
int vtag_run_stage_done(const vtag_run *r, const char *stage, double *seconds);
/* Records stage as finished after `seconds` with the settings it used, and saves. */
int vtag_run_stage_finish(vtag_run *r, const char *stage, double seconds, vtag_error *err);
/* The settings the manifest records (NULL, or 0, for one it does not). */
void vtag_run_recorded(const vtag_run *r, vtag_run_settings *s);
/* Whether DIR's training stages kept each video's tags in the labels file's
 * order (vtag pipeline --keep-tag-order): *keep 1 when DIR/pipeline.json
 * records "tag_order": "labels"; 0 when it records "frequency", has no
 * tag_order (no training stage finished, or made before the key), or DIR has
 * no manifest. "DIR/pipeline.json:LINE: WHY" when it does not parse;
 * "DIR/pipeline.json: tag_order is neither \"frequency\" nor \"labels\"". */
int vtag_run_read_tag_order(const char *dir, int *keep, vtag_error *err);

/* How a pipeline runs its training across MPI ranks (vtag pipeline
 * --launcher, --micro-batches); apart from vtag_run_settings, whose
 * initializers name every field. */
typedef struct vtag_run_launch {
    const char *launcher;  /* the launcher as given ("mpirun -np 4"); NULL: none */
    int64_t micro_batches; /* vtag train --micro-batches of the training stages; 0: not given */
} vtag_run_launch;

/* After vtag_run_open_pipeline: records this run's launcher as "launcher"
 * (null: none) -- a rerun may use another launcher or none, as results do not
 * depend on it -- and checks micro_batches like the settings: the training
 * stages record it when given ("micro_batches"), and a rerun must then give
 * the same value, or none when they were made without ("DIR/pipeline.json:
 * was made with another micro_batches; use --restart (or another --out)"). A
 * launcher that is not UTF-8 is refused ("DIR/pipeline.json: the launcher is
 * not UTF-8"). vtag_run_save writes the manifest. */
int vtag_run_set_launch(vtag_run *r, const vtag_run_launch *l, vtag_error *err);

/* A stage of the pipeline, run as the vtag command of its kind. */
typedef enum vtag_run_stage_kind {
    VTAG_RUN_STAGE_BACKBONE = 0, /* vtag backbone train: the built-in CNN */
    VTAG_RUN_STAGE_FEATURES,     /* vtag features of one split */
    VTAG_RUN_STAGE_XE,           /* vtag train: cross-entropy */
    VTAG_RUN_STAGE_SCST,         /* vtag train --scst from the XE checkpoint */
} vtag_run_stage_kind;

typedef struct vtag_run_stage {
    vtag_run_stage_kind kind;
    char name[64];      /* its key in the manifest's "stages": backbone, features-<split>, <model>-xe, <model> */
    char what[128];     /* its banner: "fc: cross-entropy, 25 epochs" */
    const char *model;  /* XE, SCST: the model */
    const char *split;  /* FEATURES: "train", "val" or "test" */
    int sharded;        /* 1: runs under the pipeline's launcher when it has one (features, XE, SCST:
                         * the commands that share their work out over MPI ranks); 0: one process */
    /* Its files (owned by the plan; NULL where the kind has none). */
    const char *labels;    /* every kind */
    const char *backbone;  /* FEATURES: the backbone */
    const char *feats;     /* XE, SCST: the training split's features */
    const char *val_feats; /* XE, SCST: the validation split's; NULL without validation videos */
    const char *init;      /* SCST: the XE checkpoint */
    const char *out;       /* the backbone, features or checkpoint it writes */
    const char *log;       /* XE, SCST: the training log */
    int skip_bad;          /* FEATURES: leaves out the videos vtag_run_plan_check_videos found bad (--skip-bad) */
    int64_t train_videos;  /* XE: the training videos (the video model's batch: vtag_run_stage_argv) */
} vtag_run_stage;

typedef struct vtag_run_plan_opts {
    const char *dir;      /* the run folder */
    const char *labels;   /* the labels file, as given */
    const char *backbone; /* an ONNX backbone, as given; NULL: train the built-in CNN */
    const char *model;    /* fc | att2in | topdown (or updown) | video | all */
    const char *sample;   /* the frame sampling spec */
    int64_t size, hidden; /* the settings of the same names */
    int64_t xe_epochs;
    int64_t scst_epochs;  /* 0: no SCST stages */
} vtag_run_plan_opts;

enum { VTAG_RUN_MAX_STAGES = 1 + 3 + 2 * VTAG_RUN_N_MODELS };

typedef struct vtag_run_plan {
    vtag_run_settings settings; /* this run's (absolute paths, owned) */
    int64_t videos[3];          /* the labels' videos per split (train, val, test) */
    const char *models[VTAG_RUN_N_MODELS];
    int n_models;
    vtag_run_stage *stage; /* (n <= VTAG_RUN_MAX_STAGES) in running order */
    int n;
    char **owned; /* the strings the stages and settings point to */
    int n_owned;
    const char *dir;     /* the run folder (owned) */
    unsigned char *bad;  /* (n_entries) 1: the labels' entry i failed vtag_run_plan_check_videos; NULL before */
    int64_t n_entries, n_bad;
} vtag_run_plan;

/* Reads the labels (their messages; "LABELS: no training videos (split
 * \"train\" or no split)"), checks the backbone is a file ("B: cannot open
 * the backbone") and lists the stages: backbone (unless o->backbone),
 * features of each split that has videos, then for each model XE and SCST. */
int vtag_run_plan_build(vtag_run_plan *p, const vtag_run_plan_opts *o, vtag_error *err);
void vtag_run_plan_free(vtag_run_plan *p);
/* --restart: the training stages resume and append to their logs, so a
 * restarted run would continue the old training and mix its log lines into
 * the summary. Removes each training stage's checkpoint, its training state
 * and its log ("--restart: cannot remove PATH: REASON"). */
int vtag_run_plan_forget(const vtag_run_plan *p, vtag_error *err);

/* ---- before the first stage: the videos, the stages' command lines, the dry run -------- */

/* Opens every labelled video as the stages will (vtag_video_probe: the file
 * opens, is a container with a video stream and a decoder, its index reads)
 * and marks those that fail in p->bad. bad (may be NULL) gets each failure's
 * line, "VIDEO: REASON (LABELS:LINE)", in labels order. *n_bad = p->n_bad.
 * Errors: VTAG_ERR_NOMEM, and the labels' own when they cannot be read again. */
int vtag_run_plan_check_videos(vtag_run_plan *p, void (*bad)(void *user, const char *line), void *user,
                               int64_t *n_bad, vtag_error *err);

/* --skip-bad, after vtag_run_plan_check_videos with bad videos and once the
 * folder is open: writes DIR/labels-used.jsonl (the labels without the bad
 * videos, each video as an absolute path; vtag_atomic_write) and points the
 * backbone stage at it, and has the features stages leave the bad videos out
 * (vtag features --skip-bad on the labels as given, so that the features
 * files name each video as the labels do and vtag eval --from DIR --labels
 * L still reads them); the training stages take the labels as given (a video
 * without features rows is not trained on). The per-split counts in p->videos
 * and the banners count the good videos only. "DIR/labels-used.jsonl: ..." */
int vtag_run_plan_skip_bad(vtag_run_plan *p, vtag_error *err);

/* The pipeline's options for its stages' command lines (vtag pipeline's
 * defaults: uniform:16, 25 XE and 10 SCST epochs, hidden 512, batch 50,
 * baseline mean, 5 samples, seed 42, tags by frequency). 0 (-1 for
 * backbone_epochs) leaves a command's own default: size, backbone_epochs,
 * threads, micro_batches. */
typedef struct vtag_run_stage_opts {
    const char *sample, *baseline;
    int64_t size, backbone_epochs, xe_epochs, scst_epochs, hidden, batch, threads, seed, sample_n, micro_batches;
    int keep_tag_order; /* 1: --keep-tag-order on every XE and SCST stage (SCST's CIDEr-D references too) */
} vtag_run_stage_opts;

void vtag_run_stage_opts_defaults(vtag_run_stage_opts *o);

/* A stage's command line: "vtag", the command, its options; v[n] is NULL.
 * The numbers are written into own[]. The video model's stages train
 * topdown with --video; its XE batch is min(batch, max(2, training videos /
 * 100)), about 100 steps an epoch: with a row per video, the frame models'
 * batch leaves a few steps an epoch and XE underfits (demo corpus, 283
 * training videos, 15 epochs: val CIDEr-D 0.46 at batch 50, 1.06 at 14,
 * 1.27 at 8, 1.48 at 2). */
typedef struct vtag_run_argv {
    char *v[64];
    char own[64][40];
    int n;
} vtag_run_argv;

void vtag_run_stage_argv(vtag_run_argv *c, const vtag_run_stage *s, const vtag_run_stage_opts *o);

/* vtag pipeline --dry-run: how long each stage of p would take on this
 * machine, measured by running the plan's own stage commands (one process,
 * no launcher) on a calibration corpus of `videos` of the labelled videos
 * (bad ones left out; each split in proportion, at least one of each split
 * that has videos, two for train) with two epochs each, in a temporary folder
 * under tmp_dir that is removed after, and scaled: a features stage as F + c
 * per video of its split (F and c fitted on the calibration's features
 * stages); the backbone's epoch (its epoch line's seconds) by the training
 * videos and the epochs, the rest of it (decoding, loading) by the train and
 * val videos; an XE or SCST stage's fastest epoch (its log's seconds) by the
 * training videos and the epochs, the rest (loading, validation) once. */
typedef struct vtag_run_estimate_opts {
    int64_t videos;      /* calibration videos (24) */
    const char *tmp_dir; /* NULL: $TMPDIR, else /tmp */
    /* Called as each calibration command starts (may be NULL). */
    void (*note)(void *user, const vtag_run_stage *s);
    void *user;
} vtag_run_estimate_opts;

void vtag_run_estimate_opts_defaults(vtag_run_estimate_opts *o);

/* seconds[i]: stage i's estimate (p->stage[i]); every stage is estimated,
 * finished or not. A calibration command that fails: "calibration: 'vtag
 * CMD' failed (exit N): ITS LAST LINE". */
int vtag_run_estimate(const vtag_run_plan *p, const vtag_run_stage_opts *so, const vtag_run_estimate_opts *o,
                      double seconds[VTAG_RUN_MAX_STAGES], vtag_error *err);

/* As vtag_run_exec, with the child's stdout and stderr into the file at
 * log (created or truncated; NULL: inherited, as vtag_run_exec). */
int vtag_run_exec_log(char *const *launcher, char *const *argv, const char *log, int *status, vtag_error *err);

/* A launcher's command line ("mpirun -np 4 --hostfile hosts") split into
 * words without a shell: blanks (space, tab, newline) separate them, '...'
 * and "..." quote (the other quote, blanks and backslashes are plain inside;
 * quoted and plain parts side by side make one word; '' is an empty word);
 * nothing is expanded. *words: a NULL-terminated array in one allocation
 * (free(*words)). VTAG_ERR_ARG: "'TEXT': unbalanced Q quote", "'TEXT': no
 * command" (empty or blank), "'TEXT': not UTF-8". */
int vtag_run_launcher_split(const char *text, char ***words, vtag_error *err);

/* Runs this executable with argv (argv[0] is ignored) in a child process that
 * dies with the caller however it dies (PR_SET_PDEATHSIG: SIGTERM), and waits
 * for it: its exit status in *status. With a launcher (words, NULL-terminated;
 * NULL: none) the child runs LAUNCHER... /abs/path/of/vtag ARGV[1]... instead
 * (execvp: found on PATH), and the SIGTERM goes to the launcher, which passes
 * it on to its job. Fails when it cannot start ("cannot start the launcher
 * 'L': REASON"), or was killed ("'vtag ARGV[1]' was killed by signal N";
 * "'L ... vtag ARGV[1]'" under a launcher).
 * Flushes stdout and stderr first. */
int vtag_run_exec(char *const *launcher, char *const *argv, int *status, vtag_error *err);

/* The validation CIDEr-D of a model after XE and after SCST: the largest
 * val_cider_d in each training log; -1 without one (or without SCST). */
typedef struct vtag_run_figures {
    const char *model;
    double val_cider_d_xe, val_cider_d_scst;
} vtag_run_figures;

/* With validation videos, each of the plan's models' figures into f
 * (*n = p->n_models), recorded in the manifest's "summary" (vtag_run_save
 * writes it; the figures of models the plan does not train stay); without,
 * *n = 0 and nothing changes. */
int vtag_run_summarize(vtag_run *r, const vtag_run_plan *p, vtag_run_figures f[VTAG_RUN_N_MODELS], int *n,
                       vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

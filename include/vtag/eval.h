/* vtag eval: video tags against the labels file — captions (CIDEr-D, BLEU),
 * multi-label scores (OP/OR/OF1, CP/CR/CF1, top-k, GAP), class accuracy, all
 * broken down by class1 (head classes against the long tail) — for several
 * runs side by side (models, XE/SCST checkpoints, the CNN baseline), and the
 * self-contained HTML report. Definitions: docs/ARCHITECTURE.md ("eval"). */
#ifndef VTAG_EVAL_H
#define VTAG_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/metrics.h"
#include "vtag/tag.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One set of results to evaluate, e.g. "fc-xe", "fc", "baseline". */
typedef struct vtag_eval_run {
    const char *name;
    const vtag_tag_results *results; /* borrowed until vtag_eval_free */
    int baseline;                    /* 1: classifier scores (vtag_eval_read_baseline), not frame counts */
} vtag_eval_run;

typedef struct vtag_eval_opts {
    vtag_data_split split; /* the videos evaluated; default TEST */
    int df_train;          /* CIDEr-D document frequencies: 0 (default) from the evaluated
                            * split's references, 1 from the training split's */
    int64_t top_k;         /* OP@k … CF1@k: each video's k best labels by score; default 3 */
    int64_t gap_k;         /* GAP@k; default 20 */
    int64_t max_length;    /* references cut here, as in training; default 16 */
    int keep_tag_order;    /* references' tags in the labels file's order, as vtag train
                            * --keep-tag-order trains; default 0: by training frequency */
    double high_score;     /* calibration: labels scored >= this are counted (high_n,
                            * high_right); default 0.9, in [0, 1] */
    const char *const *sources; /* (n_runs) the file each run was read from, for
                                 * messages; default NULL: the run names */
} vtag_eval_opts;

void vtag_eval_opts_default(vtag_eval_opts *o);

/* A run named on the command line: "NAME=FILE", or "FILE" named after the
 * file without its folder and its extensions .jsonl, .json, .ndjson, .log
 * ("runs/fc.log.jsonl" -> "fc"). *name is malloc'd, *path points into arg.
 * Returns 0, or -1 when out of memory. */
int vtag_eval_parse_named(const char *arg, char **name, const char **path);

/* Calibration: the label-video pairs of a set of videos split by score into
 * VTAG_EVAL_BINS equal-width bins [0, .1), [.1, .2), … [.9, 1] (1.0 in the
 * last bin). */
#define VTAG_EVAL_BINS 10

typedef struct vtag_eval_bin {
    int64_t n;    /* pairs whose score falls in the bin */
    double score; /* their mean score; NaN when n == 0 */
    double right; /* the fraction of them that are right; NaN when n == 0 */
} vtag_eval_bin;

/* The figures of one run over a set of videos. A video missing from the
 * run or with an error line counts as a video with no prediction. */
typedef struct vtag_eval_scores {
    int64_t videos;          /* videos in the set */
    int64_t missing, failed; /* no line in the run / an "error" line */
    double cider_d;          /* mean over the videos */
    double bleu[VTAG_METRICS_MAX_N];
    vtag_metrics_prf tags;   /* predicted set: the run's tags */
    vtag_metrics_prf top_k;  /* predicted set: the top_k labels by score */
    double gap;              /* GAP@gap_k over every label with its score */
    double map;              /* mAP: the mean over labels of each label's average precision
                              * ranking the videos by its score (vtag_metrics_ml_map) */
    double class1_acc, class2_acc;
    /* calibration over every (video, label) pair: video in the set, label a
     * label name that a training video has (class1, class2 or tag; the
     * evaluated split's when there is no training video); score = the run's
     * score of the label for the video, clamped to [0, 1] (0 when it is not
     * among the video's labels, or the video is missing or failed); right =
     * the label is one of the video's true labels */
    int64_t pairs;
    double ece;            /* sum over bins of n/pairs * |right - score|; NaN when pairs == 0 */
    vtag_eval_bin bins[VTAG_EVAL_BINS];
    int64_t high_n;        /* pairs scored >= opts.high_score */
    double high_right;     /* the fraction of them that are right; NaN when high_n == 0 */
    int64_t unknown;       /* videos the run calls "unknown" (no tags: novelty or min_score) */
} vtag_eval_scores;

typedef struct vtag_eval_class {
    const char *class1;
    int64_t train_videos;     /* training videos of this class1 */
    int64_t videos;           /* evaluated videos */
    int head;                 /* 1: a head class (see docs) */
    vtag_eval_scores *scores; /* (n_runs) */
} vtag_eval_class;

typedef struct vtag_eval_video {
    const vtag_data_entry *ref;
    int64_t class_index;           /* into classes */
    const vtag_tag_result **pred;  /* (n_runs) NULL: missing from the run */
    double *cider_d;               /* (n_runs) */
} vtag_eval_video;

typedef struct vtag_eval_impl vtag_eval_impl;

typedef struct vtag_eval {
    const vtag_data_labels *labels; /* borrowed */
    vtag_eval_opts opts;
    int n_runs;
    vtag_eval_run *runs;        /* (n_runs) */
    vtag_eval_scores *overall;  /* (n_runs) every evaluated video */
    vtag_eval_scores *head;     /* (n_runs) videos of head classes */
    vtag_eval_scores *tail;     /* (n_runs) videos of the other classes */
    vtag_eval_class *classes;   /* (n_classes) by training videos, descending (ties: first appearance) */
    int64_t n_classes;
    vtag_eval_video *videos;    /* (n_videos) the split's videos, labels file order */
    int64_t n_videos;
    int64_t train_videos;       /* in the labels file */
    vtag_eval_impl *impl;       /* private */
} vtag_eval;

/* Evaluates runs[0..n_runs) against the labels. Class frequencies (head /
 * tail) come from the training split, or from the evaluated split when the
 * labels file has no training video. The split must hold a video, and every
 * run a line for at least one of its videos ("eval: none of the 37 videos in
 * T.jsonl is a test video of L.jsonl"). */
int vtag_eval_compute(vtag_eval *e, const vtag_data_labels *labels, const vtag_eval_run *runs, int n_runs,
                      const vtag_eval_opts *o, vtag_error *err);
void vtag_eval_free(vtag_eval *e);

/* Everything as one JSON object (docs/FORMATS.md "Evaluation"); malloc'd. */
int vtag_eval_to_json(const vtag_eval *e, char **json, vtag_error *err);
/* The tables of vtag eval (tables.c): the runs overall, then by class1 with
 * head and tail; with per_video, every video's output beside its reference.
 * labels_path names the labels file in the first line. Write errors are left
 * in out's error flag. */
void vtag_eval_write_tables(FILE *out, const vtag_eval *e, const char *labels_path, int per_video);
/* Run r's calibration as one line (vtag eval prints it under its table):
 * "fc: labels scored >= 0.90 are right 93.2% of the time (412 of 8,760
 * label-video pairs); ECE 0.031", cut to size. Returns snprintf's count. */
int vtag_eval_calibration_line(const vtag_eval *e, int r, char *line, size_t size);
/* The videos run r lacks or failed on, as one line (the first five named):
 * "NAME: M of N videos missing, F failed: v1 (missing), v2 (error) and K
 * more", cut to size. Returns 0 (line untouched) when there are none. */
int vtag_eval_gaps(const vtag_eval *e, int r, char *line, size_t size);

/* ---- the CNN multi-label baseline -------------------------------------------
 * Reads `vtag backbone predict` output — lines {"video", "labels": [{"label",
 * "score"}, …], "frames": …} or {"video", "error"} — into tag results:
 * labels sorted by score (stable), class1 = the best-scoring label that is a
 * training class1, class2 likewise among training class2 labels, tags = the
 * first top_n labels that score at least min_score, as vtag_tag_apply_scores
 * makes a caption run's (unknown when the best label scores less). Fields
 * other than these are ignored. */
int vtag_eval_read_baseline(vtag_tag_results *out, const char *path, const vtag_data_labels *labels,
                            int64_t top_n, double min_score, vtag_error *err);
/* The same from predictions in memory (vtag_run_eval's baseline): each item
 * a video with every label and its score (class1, class2 and tags unused),
 * or an error. */
int vtag_eval_baseline_results(vtag_tag_results *out, const vtag_tag_results *pred, const vtag_data_labels *labels,
                               int64_t top_n, double min_score, vtag_error *err);

/* ---- the HTML report ------------------------------------------------------------ */
typedef struct vtag_eval_log {
    const char *name; /* series name, e.g. "fc" */
    const char *path; /* vtag train's JSON lines (--log) */
} vtag_eval_log;

typedef struct vtag_eval_report_opts {
    const char *title;        /* default "vtag evaluation" */
    const vtag_eval_log *logs; /* (n_logs) training curves */
    int n_logs;
    int64_t sample_videos;    /* videos whose frames are shown; default 6 */
    int64_t sample_frames;    /* frames per video; default 4 */
    int64_t frame_size;       /* pixels; default 128 */
} vtag_eval_report_opts;

void vtag_eval_report_opts_default(vtag_eval_report_opts *o);
/* One self-contained HTML file (inline CSS, SVG, PNG frames as data: URIs,
 * a little JavaScript for sorting and filtering), written atomically. A
 * video that cannot be decoded for its frames is listed without them. */
int vtag_eval_write_report(const vtag_eval *e, const char *path, const vtag_eval_report_opts *o,
                           vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

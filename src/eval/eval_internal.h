/* Shared between the eval module's files: the per-(run, video) token lists
 * behind vtag_eval, kept as spans into two flat pools. */
#ifndef VTAG_EVAL_INTERNAL_H
#define VTAG_EVAL_INTERNAL_H

#include "vtag/eval.h"

typedef struct eval_span {
    int64_t off, n; /* into impl->ids / impl->sc */
} eval_span;

enum { EVAL_OK = 0, EVAL_MISSING = 1, EVAL_FAILED = 2 };

typedef struct eval_pred {
    eval_span cap;    /* predicted caption: class1, class2, tags, repeats removed */
    eval_span tags;   /* tag ids with their scores */
    eval_span labels; /* every label with its score */
    int32_t c1, c2;   /* -1: none */
    int state;        /* EVAL_* */
} eval_pred;

struct vtag_eval_impl {
    vtag_metrics_vocab vocab; /* label → id; ids 0..n_names-1 are labels->names */
    vtag_data_captions caps;
    int32_t *ids;             /* (n_ids) token / label ids of every span */
    double *sc;               /* (n_ids) scores where a span has them */
    int64_t n_ids, cap_ids;
    eval_span *ref;           /* (n_videos) reference caption, cut at max_length */
    eval_span *truth;         /* (n_videos) true labels: class1, class2, tags */
    int32_t *true_c1, *true_c2; /* (n_videos) */
    eval_pred *pred;          /* (n_runs * n_videos), run-major */
    vtag_eval_scores *scores; /* every vtag_eval_scores array, one block */
    const vtag_tag_result **preds; /* (n_runs * n_videos) behind videos[i].pred */
    double *ciders;           /* (n_runs * n_videos) behind videos[i].cider_d */
    char *names;              /* run names, back to back */
    int64_t *label_train;     /* (labels->n_names) training videos with the label (calibration.c) */
};

/* calibration.c: label_train from the training split (the evaluated one
 * when there is no training video), then a set's calibration figures. */
int eval_label_counts(vtag_eval *e, vtag_error *err);
int eval_calibrate(const vtag_eval *e, int run, const int64_t *vids, int64_t n, vtag_eval_scores *out,
                   vtag_error *err);

#endif

/* ---- report helpers (html.c, svg.c, trainlog.c) ------------------------------ */
#include <stdarg.h>
#include <stddef.h>

/* A growable string; a failed allocation sets `failed` and later calls do
 * nothing, so writers check once at the end. */
typedef struct eval_sb {
    char *s;
    size_t len, cap;
    int failed;
} eval_sb;

void eval_sb_puts(eval_sb *b, const char *s);
void eval_sb_putn(eval_sb *b, const char *s, size_t n);
void eval_sb_printf(eval_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void eval_sb_esc(eval_sb *b, const char *s); /* HTML-escaped text (also for attributes) */
void eval_sb_base64(eval_sb *b, const unsigned char *data, size_t n);
void eval_sb_free(eval_sb *b);
/* Writes the buffer to path atomically (vtag_atomic_write); a buffer whose
 * growth failed is refused. */
int eval_write_atomic(const char *path, const eval_sb *b, vtag_error *err);

typedef struct eval_series {
    const char *name;
    const double *x, *y; /* (n); NaN y: a gap */
    int64_t n;
    int color;           /* palette index */
    int dashed;
    double mark;         /* > 0: a vertical line at x = mark, labelled "SCST" (where SCST starts) */
} eval_series;

/* Line chart with axes, ticks, grid and legend. */
void eval_svg_lines(eval_sb *b, const char *id, const char *title, const char *xlabel, const char *ylabel,
                    const eval_series *s, int n_series);
/* Grouped bars: values[c * n_series + s] for category c, series s; ymax <= 0:
 * from the data. group (n_cats, may be NULL): categories with another
 * group value than the previous one get a separator and the label
 * group_names[group[c]]. */
void eval_svg_bars(eval_sb *b, const char *id, const char *title, const char *const *cats, int64_t n_cats,
                   const char *const *series, int n_series, const double *values, double ymax, const int *group,
                   const char *const *group_names);
/* Reliability diagram of n_series runs (s[i]: run i's figures over a set of
 * videos): each non-empty bin as a point (mean score, fraction right) whose
 * area follows its pairs, the diagonal, a histogram of the pairs per bin
 * under the plot and each run's ECE in the legend. */
void eval_svg_reliability(eval_sb *b, const char *id, const char *title, const char *const *names,
                          const vtag_eval_scores *s, int n_series);
extern const char *const eval_palette[8];

typedef struct eval_trainlog {
    int64_t n;
    double *epoch, *loss, *val; /* (n) val: NaN when null */
    char *scst;                 /* (n) 1: an SCST epoch */
    double scst_from;           /* > 0: SCST's epochs are drawn after x = scst_from (the XE epochs) */
    int xe_log;                 /* >= 0: the log of the XE epochs this SCST log continues */
} eval_trainlog;

int eval_read_trainlog(eval_trainlog *t, const char *path, vtag_error *err);
void eval_trainlog_free(eval_trainlog *t);
/* SCST's epochs continue after XE's: in a log holding both phases, and for
 * a log of SCST epochs only named N whose XE epochs are in the log named
 * "N-xe" (vtag pipeline's M-xe.log.jsonl and M.log.jsonl), SCST epochs that
 * restart at 1 are moved to x = (last XE epoch) + e; sets scst_from, xe_log. */
void eval_trainlog_continue(eval_trainlog *logs, const char *const *names, int n);

/* report_calib.c: the report's calibration section (reliability chart of
 * every run, ECE and P@high per run) and per-tag precision/recall table. */
void eval_section_calibration(eval_sb *b, const vtag_eval *e);
void eval_section_tags(eval_sb *b, const vtag_eval *e);
/* Per label (labels->names index; arrays of n_names, zeroed here): the
 * evaluated videos having it, run r's tags naming it, and how many of those
 * are right (calibration.c). */
void eval_label_tally(const vtag_eval *e, int run, int64_t *support, int64_t *predicted, int64_t *hit);
/* The labels of the training videos (label_train > 0) into order (n_names
 * long), by training videos descending, ties in the labels file's order;
 * returns how many, or -1 when out of memory. */
int64_t eval_label_order(const vtag_eval *e, int64_t *order);

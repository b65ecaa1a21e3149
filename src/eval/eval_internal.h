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
};

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
extern const char *const eval_palette[8];

typedef struct eval_trainlog {
    int64_t n;
    double *epoch, *loss, *val; /* (n) val: NaN when null */
    char *scst;                 /* (n) 1: an SCST epoch */
} eval_trainlog;

int eval_read_trainlog(eval_trainlog *t, const char *path, vtag_error *err);
void eval_trainlog_free(eval_trainlog *t);

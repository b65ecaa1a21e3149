/* Parity of every include/vtag/nn.h layer with PyTorch: reference/layers.py writes inputs, weights,
 * outputs and all gradients (float64 math on float32 data) to layers.safetensors; we recompute them.
 *
 * Metric, per tensor: rel = max_i |got_i - ref_i| / max(max_i |ref_i|, floor), floor = 1e-6
 * unless a tensor states another; a tensor passes when rel <= 1e-4. Every layer runs once with
 * 1 thread and once with 2, and the two runs must also agree with each other by the same metric.
 * Usage: nn_test_parity [layers.safetensors]   (default: ./layers.safetensors) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/core.h"
#include "vtag/nn.h"
#include "vtag/safetensors.h"

#define PARITY_TOL 1e-4
#define PARITY_FLOOR 1e-6
#define PARITY_SEED 1234u
#define MAX_RESULTS 32
#define MAX_BUFS 64

typedef struct report {
    int passed, failed;
    double worst;          /* largest rel of any parity comparison */
    char worst_what[96];
} report;

/* One tensor a run computed, and the fixture tensor it must equal (times mult). */
typedef struct result {
    const char *label;
    char ref[64]; /* fixture name; "": no reference, only 1 vs 2 threads */
    float *data;  /* [n] */
    int64_t n;
    double floor;
    double mult;
} result;

/* Everything one run of one layer produced, with the buffers to free. */
typedef struct run {
    result res[MAX_RESULTS];
    int count;
    void *bufs[MAX_BUFS];
    int nbufs;
    int broken; /* a fixture tensor was missing or misshapen, or a buffer could not be had */
} run;

/* What a layer function works with; its fixture tensors are "<name>.<key>". */
typedef struct layer_env {
    const vtag_st_file *st;
    vtag_ctx *ctx;
    run *run;
    report *rep;
    const char *name;
} layer_env;

static void pass_fail(report *rep, int ok) { ok ? rep->passed++ : rep->failed++; }

/* A non-parity assertion (error paths, identities). */
static void check(layer_env *e, int ok, const char *what)
{
    pass_fail(e->rep, ok);
    if (!ok) printf("  FAIL %-14s t=%d  %s\n", e->name, e->ctx->threads, what);
}

static const vtag_st_tensor *need(layer_env *e, const char *key, vtag_dtype dt, int64_t numel)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", e->name, key);
    const vtag_st_tensor *t = vtag_st_find(e->st, name);
    if (!t) {
        printf("  FAIL fixture: tensor '%s' is missing\n", name);
    } else if (t->dtype != dt) {
        printf("  FAIL fixture: '%s' is %s, expected %s\n", name, vtag_dtype_name(t->dtype), vtag_dtype_name(dt));
        t = NULL;
    } else if (numel >= 0 && t->numel != numel) {
        printf("  FAIL fixture: '%s' has %lld elements, expected %lld\n", name, (long long)t->numel,
               (long long)numel);
        t = NULL;
    }
    if (!t) e->run->broken = 1;
    return t;
}

static const float *in_f32(layer_env *e, const char *key, int64_t numel)
{
    const vtag_st_tensor *t = need(e, key, VTAG_DTYPE_F32, numel);
    return t ? (const float *)t->data : NULL;
}

static const int32_t *in_i32(layer_env *e, const char *key, int64_t numel)
{
    const vtag_st_tensor *t = need(e, key, VTAG_DTYPE_I32, numel);
    return t ? (const int32_t *)t->data : NULL;
}

/* Size of axis `axis` of a fixture tensor (0 and broken if absent). */
static int64_t dim(layer_env *e, const char *key, int axis)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", e->name, key);
    const vtag_st_tensor *t = vtag_st_find(e->st, name);
    if (!t || axis >= t->ndim) {
        printf("  FAIL fixture: '%s' is missing or has no axis %d\n", name, axis);
        e->run->broken = 1;
        return 0;
    }
    return t->shape[axis];
}

static float *zeros(layer_env *e, int64_t n)
{
    run *r = e->run;
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    if (!p || r->nbufs == MAX_BUFS) {
        free(p);
        r->broken = 1;
        return NULL;
    }
    r->bufs[r->nbufs++] = p;
    return p;
}

/* A zeroed buffer whose final contents must match fixture tensor "<name>.<key>" (·mult);
 * key NULL: no reference, the 1- and 2-thread runs must only agree. */
static float *expect_mult(layer_env *e, const char *label, const char *key, int64_t n, double floor,
                          double mult)
{
    float *p = zeros(e, n);
    run *r = e->run;
    if (!p || r->count == MAX_RESULTS) {
        r->broken = 1;
        return NULL;
    }
    result *res = &r->res[r->count++];
    *res = (result){.label = label, .data = p, .n = n, .floor = floor, .mult = mult};
    if (key) snprintf(res->ref, sizeof res->ref, "%s.%s", e->name, key);
    return p;
}

static float *expect(layer_env *e, const char *label, const char *key, int64_t n)
{
    return expect_mult(e, label, key, n, PARITY_FLOOR, 1.0);
}

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

/* max_i |got_i - mult·want_i|; a NaN anywhere gives +inf. */
static double max_diff(const float *got, const float *want, int64_t n, double mult)
{
    double diff = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - mult * want[i]);
        if (isnan(d)) return INFINITY;
        diff = fmax(diff, d);
    }
    return diff;
}

static void compare(report *rep, const char *layer, const char *label, const char *against, double rel,
                    double scale)
{
    int ok = rel <= PARITY_TOL;
    pass_fail(rep, ok);
    printf("  %-4s %-14s %-24s %-6s max|ref| %9.3e  rel %9.3e\n", ok ? "ok" : "FAIL", layer, label, against,
           scale, rel);
}

static void run_free(run *r)
{
    for (int i = 0; i < r->nbufs; i++) free(r->bufs[i]);
    memset(r, 0, sizeof *r);
}

typedef void (*layer_fn)(layer_env *e);

/* Runs one layer with 1 and 2 threads; compares both to the fixture and to each other. */
static void run_layer(const vtag_st_file *st, report *rep, const char *layer, layer_fn fn)
{
    static const int threads[2] = {1, 2};
    run runs[2];
    memset(runs, 0, sizeof runs);
    printf("%s\n", layer);
    for (int t = 0; t < 2; t++) {
        vtag_ctx ctx;
        vtag_error err = {0};
        if (vtag_ctx_init(&ctx, threads[t], PARITY_SEED, &err) != 0) {
            printf("  FAIL %s: vtag_ctx_init: %s\n", layer, err.msg);
            pass_fail(rep, 0);
            runs[t].broken = 1;
            continue;
        }
        layer_env e = {st, &ctx, &runs[t], rep, layer};
        fn(&e);
        vtag_ctx_free(&ctx);
        if (runs[t].broken) {
            printf("  FAIL %s t=%d: could not run (see above)\n", layer, threads[t]);
            pass_fail(rep, 0);
            continue;
        }
        char against[8];
        snprintf(against, sizeof against, "t=%d", threads[t]);
        for (int i = 0; i < runs[t].count; i++) {
            const result *res = &runs[t].res[i];
            if (!res->ref[0]) continue;
            const vtag_st_tensor *ref = vtag_st_find(st, res->ref);
            if (!ref || ref->dtype != VTAG_DTYPE_F32 || ref->numel != res->n) {
                printf("  FAIL %s %s: reference '%s' missing or misshapen\n", layer, res->label, res->ref);
                pass_fail(rep, 0);
                continue;
            }
            const float *want = ref->data;
            double scale = fabs(res->mult) * max_abs(want, res->n);
            double rel = max_diff(res->data, want, res->n, res->mult) / fmax(scale, res->floor);
            compare(rep, layer, res->label, against, rel, scale);
            if (!(rel <= rep->worst)) {
                rep->worst = rel;
                snprintf(rep->worst_what, sizeof rep->worst_what, "%s %s %s", layer, res->label, against);
            }
        }
    }
    /* 1 vs 2 threads, scaled like the parity check (by the run itself where there is no reference). */
    if (!runs[0].broken && !runs[1].broken && runs[0].count == runs[1].count) {
        for (int i = 0; i < runs[0].count; i++) {
            const result *a = &runs[0].res[i], *b = &runs[1].res[i];
            const vtag_st_tensor *ref = a->ref[0] ? vtag_st_find(st, a->ref) : NULL;
            int usable = ref && ref->dtype == VTAG_DTYPE_F32 && ref->numel == a->n;
            double scale = usable ? fabs(a->mult) * max_abs(ref->data, a->n)
                                                     : max_abs(a->data, a->n);
            double rel = max_diff(b->data, a->data, a->n, 1.0) / fmax(scale, a->floor);
            compare(rep, layer, a->label, "t1~t2", rel, scale);
        }
    }
    run_free(&runs[0]);
    run_free(&runs[1]);
}

/* ---- the layers ------------------------------------------------------------------------------ */

static void layer_linear(layer_env *e)
{
    int64_t n = dim(e, "x", 0), in = dim(e, "x", 1), out = dim(e, "w", 0);
    const float *x = in_f32(e, "x", n * in);   /* [N, I] */
    const float *w = in_f32(e, "w", out * in); /* [O, I] */
    const float *b = in_f32(e, "b", out);      /* [O] */
    const float *g = in_f32(e, "G", n * out);  /* [N, O] */
    float *y = expect(e, "out", "out", n * out);
    float *dx = expect(e, "dx", "dx", n * in);
    float *dw = expect(e, "dw", "dw", out * in);
    float *db = expect(e, "db", "db", out);
    /* Backward adds: two calls from zero give twice the gradient. */
    float *dx2 = expect_mult(e, "dx (2 calls)", "dx", n * in, PARITY_FLOOR, 2.0);
    float *dw2 = expect_mult(e, "dw (2 calls)", "dw", out * in, PARITY_FLOOR, 2.0);
    float *db2 = expect_mult(e, "db (2 calls)", "db", out, PARITY_FLOOR, 2.0);
    if (e->run->broken) return;
    vtag_linear_forward(e->ctx, y, x, w, b, n, in, out, 0);
    vtag_linear_backward(e->ctx, dx, dw, db, g, x, w, n, in, out);
    for (int k = 0; k < 2; k++) vtag_linear_backward(e->ctx, dx2, dw2, db2, g, x, w, n, in, out);
}

static void layer_embedding(layer_env *e)
{
    int64_t vocab = dim(e, "w", 0), d = dim(e, "w", 1), n = dim(e, "ids", 0);
    const float *w = in_f32(e, "w", vocab * d); /* [V, E] */
    const int32_t *ids = in_i32(e, "ids", n);   /* [N] */
    const float *g = in_f32(e, "G", n * d);     /* [N, E] */
    float *y = expect(e, "out", "out", n * d);
    float *dw = expect(e, "dw", "dw", vocab * d);
    float *probe = zeros(e, 2 * d);
    if (e->run->broken) return;
    vtag_error err = {0};
    check(e, vtag_embedding_forward(y, ids, w, n, vocab, d, &err) == 0, "forward returned an error");
    vtag_embedding_backward(dw, g, ids, n, d);

    /* An id outside [0, V) is an error and nothing is written. */
    const int32_t bad[3][2] = {{0, (int32_t)vocab}, {-1, 0}, {1, INT32_MAX}};
    for (int k = 0; k < 3; k++) {
        for (int64_t i = 0; i < 2 * d; i++) probe[i] = 7.0f;
        int rc = vtag_embedding_forward(probe, bad[k], w, 2, vocab, d, &err);
        int untouched = 1;
        for (int64_t i = 0; i < 2 * d; i++) untouched &= probe[i] == 7.0f;
        check(e, rc == VTAG_ERR_ARG, "an out-of-range id must give VTAG_ERR_ARG");
        check(e, untouched, "an out-of-range id must leave out untouched");
    }
}

static void layer_relu(layer_env *e)
{
    int64_t n = dim(e, "x", 0) * dim(e, "x", 1);
    const float *x = in_f32(e, "x", n);
    const float *g = in_f32(e, "G", n);
    float *y = expect(e, "out", "out", n);
    float *dx = expect(e, "dx", "dx", n);
    float *y2 = expect(e, "out (in place)", "out", n);
    float *dx2 = expect(e, "dx (in place)", "dx", n);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_relu_forward(y, x, n, t);
    vtag_relu_backward(dx, g, y, n, t);
    memcpy(y2, x, (size_t)n * sizeof *y2);
    vtag_relu_forward(y2, y2, n, t);
    vtag_relu_backward(dx2, g, y2, n, t);
}

static void layer_dropout(layer_env *e)
{
    int64_t n = dim(e, "x", 0) * dim(e, "x", 1);
    const float *pp = in_f32(e, "p", 1);
    const float *x = in_f32(e, "x", n);
    const float *mask = in_f32(e, "mask", n); /* torch was fed this mask */
    const float *g = in_f32(e, "G", n);
    float *dx = expect(e, "dx (fixture mask)", "dx", n);
    float *y = zeros(e, n), *m = zeros(e, n);
    float *train_mask = expect(e, "train mask (vtag rng)", NULL, n);
    float *train_out = zeros(e, n);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    float p = pp[0];
    vtag_dropout_backward(dx, g, mask, n, t);

    /* Evaluation, and p = 0 in training, are the identity with an all-ones mask. */
    for (int train = 0; train < 2; train++) {
        vtag_dropout_forward(y, m, x, n, train ? 0.0f : p, train, &e->ctx->rng, t);
        int same = 1, ones = 1;
        for (int64_t i = 0; i < n; i++) {
            same &= y[i] == x[i];
            ones &= m[i] == 1.0f;
        }
        check(e, same, train ? "training with p = 0 must copy in" : "evaluation must copy in");
        check(e, ones, train ? "training with p = 0 must give an all-ones mask" : "evaluation mask must be 1");
    }
    /* Training with vtag's own rng (not parity: torch's rng differs): mask in {0, 1/(1-p)},
     * out = in·mask, some of each; the mask must not depend on the thread count. */
    vtag_dropout_forward(train_out, train_mask, x, n, p, 1, &e->ctx->rng, t);
    float scale = 1.0f / (1.0f - p);
    int64_t dropped = 0;
    int form = 1, prod = 1;
    for (int64_t i = 0; i < n; i++) {
        dropped += train_mask[i] == 0.0f;
        form &= train_mask[i] == 0.0f || fabsf(train_mask[i] - scale) <= 1e-6f * scale;
        prod &= fabsf(train_out[i] - x[i] * train_mask[i]) <= 1e-6f * fabsf(x[i] * train_mask[i]);
    }
    check(e, form, "training mask values must be 0 or 1/(1-p)");
    check(e, prod, "training out must be in * mask");
    check(e, dropped > 0 && dropped < n, "training must drop some and keep some");
}

static void layer_maxout(layer_env *e)
{
    int64_t n = dim(e, "x", 0), in = dim(e, "x", 1), r = dim(e, "h_prev", 1);
    const float *x = in_f32(e, "x", n * in);             /* [N, E] */
    const float *h_prev = in_f32(e, "h_prev", n * r);    /* [N, R] */
    const float *c_prev = in_f32(e, "c_prev", n * r);    /* [N, R] */
    const float *i2h_w = in_f32(e, "i2h_w", 5 * r * in); /* [5R, E] */
    const float *i2h_b = in_f32(e, "i2h_b", 5 * r);      /* [5R] */
    const float *h2h_w = in_f32(e, "h2h_w", 5 * r * r);  /* [5R, R] */
    const float *h2h_b = in_f32(e, "h2h_b", 5 * r);      /* [5R] */
    const float *gh = in_f32(e, "Gh", n * r);            /* [N, R] */
    const float *gc = in_f32(e, "Gc", n * r);            /* [N, R] */
    float *a = expect(e, "a = i2h(x) + h2h(h)", "a", n * 5 * r);
    float *h = expect(e, "h", "h", n * r);
    float *c = expect(e, "c", "c", n * r);
    float *cache = expect(e, "cache (i,f,o,in,tanh c)", "cache", n * 5 * r);
    float *da = expect(e, "da", "da", n * 5 * r);
    float *dc_prev = expect(e, "dc_prev", "dc_prev", n * r);
    float *dx = expect(e, "dx", "dx", n * in);
    float *dh_prev = expect(e, "dh_prev", "dh_prev", n * r);
    float *di2h_w = expect(e, "di2h_w", "di2h_w", 5 * r * in);
    float *di2h_b = expect(e, "di2h_b", "di2h_b", 5 * r);
    float *dh2h_w = expect(e, "dh2h_w", "dh2h_w", 5 * r * r);
    float *dh2h_b = expect(e, "dh2h_b", "dh2h_b", 5 * r);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_linear_forward(e->ctx, a, x, i2h_w, i2h_b, n, in, 5 * r, 0);
    vtag_linear_forward(e->ctx, a, h_prev, h2h_w, h2h_b, n, r, 5 * r, 1);
    vtag_maxout_lstm_forward(h, c, cache, a, c_prev, n, r, t);
    vtag_maxout_lstm_backward(da, dc_prev, gh, gc, cache, a, c_prev, n, r, t);
    vtag_linear_backward(e->ctx, dx, di2h_w, di2h_b, da, x, i2h_w, n, in, 5 * r);
    vtag_linear_backward(e->ctx, dh_prev, dh2h_w, dh2h_b, da, h_prev, h2h_w, n, r, 5 * r);
}

/* The core alone on a given a (maxout_tie: exact ties between the halves; maxout_big: sizes
 * large enough for the loops to be split over threads). */
static void layer_maxout_core(layer_env *e)
{
    int64_t n = dim(e, "c_prev", 0), r = dim(e, "c_prev", 1);
    const float *a = in_f32(e, "a", n * 5 * r); /* [N, 5R] with exact ties */
    const float *c_prev = in_f32(e, "c_prev", n * r);
    const float *gh = in_f32(e, "Gh", n * r);
    const float *gc = in_f32(e, "Gc", n * r);
    float *h = expect(e, "h", "h", n * r);
    float *c = expect(e, "c", "c", n * r);
    float *cache = expect(e, "cache (i,f,o,in,tanh c)", "cache", n * 5 * r);
    float *da = expect(e, "da (ties split)", "da", n * 5 * r);
    float *dc_prev = expect(e, "dc_prev", "dc_prev", n * r);
    float *da_h = expect(e, "da (dc = NULL)", "da_honly", n * 5 * r);
    float *dc_prev_h = expect(e, "dc_prev (dc = NULL)", "dc_prev_honly", n * r);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_maxout_lstm_forward(h, c, cache, a, c_prev, n, r, t);
    vtag_maxout_lstm_backward(da, dc_prev, gh, gc, cache, a, c_prev, n, r, t);
    vtag_maxout_lstm_backward(da_h, dc_prev_h, gh, NULL, cache, a, c_prev, n, r, t);
}

static void layer_lstm(layer_env *e)
{
    int64_t n = dim(e, "x", 0), in = dim(e, "x", 1), r = dim(e, "h_prev", 1);
    const float *x = in_f32(e, "x", n * in);           /* [N, E] */
    const float *h_prev = in_f32(e, "h_prev", n * r);  /* [N, R] */
    const float *c_prev = in_f32(e, "c_prev", n * r);  /* [N, R] */
    const float *w_ih = in_f32(e, "w_ih", 4 * r * in); /* [4R, E] */
    const float *b_ih = in_f32(e, "b_ih", 4 * r);      /* [4R] */
    const float *w_hh = in_f32(e, "w_hh", 4 * r * r);  /* [4R, R] */
    const float *b_hh = in_f32(e, "b_hh", 4 * r);      /* [4R] */
    const float *gh = in_f32(e, "Gh", n * r);
    const float *gc = in_f32(e, "Gc", n * r);
    float *gates = expect(e, "gates", "gates", n * 4 * r);
    float *h = expect(e, "h", "h", n * r);
    float *c = expect(e, "c", "c", n * r);
    float *cache = expect(e, "cache (i,f,g,o,tanh c)", "cache", n * 5 * r);
    float *dgates = expect(e, "dgates", "dgates", n * 4 * r);
    float *dc_prev = expect(e, "dc_prev", "dc_prev", n * r);
    float *dx = expect(e, "dx", "dx", n * in);
    float *dh_prev = expect(e, "dh_prev", "dh_prev", n * r);
    float *dw_ih = expect(e, "dw_ih", "dw_ih", 4 * r * in);
    float *db_ih = expect(e, "db_ih", "db_ih", 4 * r);
    float *dw_hh = expect(e, "dw_hh", "dw_hh", 4 * r * r);
    float *db_hh = expect(e, "db_hh", "db_hh", 4 * r);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_linear_forward(e->ctx, gates, x, w_ih, b_ih, n, in, 4 * r, 0);
    vtag_linear_forward(e->ctx, gates, h_prev, w_hh, b_hh, n, r, 4 * r, 1);
    vtag_lstm_forward(h, c, cache, gates, c_prev, n, r, t);
    vtag_lstm_backward(dgates, dc_prev, gh, gc, cache, c_prev, n, r, t);
    vtag_linear_backward(e->ctx, dx, dw_ih, db_ih, dgates, x, w_ih, n, in, 4 * r);
    vtag_linear_backward(e->ctx, dh_prev, dw_hh, db_hh, dgates, h_prev, w_hh, n, r, 4 * r);
}

/* The cell's element-wise part alone on given gates (lstm_core small, lstm_big threaded). */
static void layer_lstm_core(layer_env *e)
{
    int64_t n = dim(e, "c_prev", 0), r = dim(e, "c_prev", 1);
    const float *gates = in_f32(e, "gates", n * 4 * r); /* [N, 4R] */
    const float *c_prev = in_f32(e, "c_prev", n * r);   /* [N, R] */
    const float *gh = in_f32(e, "Gh", n * r);
    const float *gc = in_f32(e, "Gc", n * r);
    float *h = expect(e, "h", "h", n * r);
    float *c = expect(e, "c", "c", n * r);
    float *cache = expect(e, "cache (i,f,g,o,tanh c)", "cache", n * 5 * r);
    float *dgates = expect(e, "dgates", "dgates", n * 4 * r);
    float *dc_prev = expect(e, "dc_prev", "dc_prev", n * r);
    float *dgates_h = expect(e, "dgates (dc = NULL)", "dgates_honly", n * 4 * r);
    float *dc_prev_h = expect(e, "dc_prev (dc = NULL)", "dc_prev_honly", n * r);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_lstm_forward(h, c, cache, gates, c_prev, n, r, t);
    vtag_lstm_backward(dgates, dc_prev, gh, gc, cache, c_prev, n, r, t);
    vtag_lstm_backward(dgates_h, dc_prev_h, gh, NULL, cache, c_prev, n, r, t);
}

static void layer_attention(layer_env *e)
{
    vtag_attention_dims d = {
        .n = dim(e, "att", 0),
        .k = dim(e, "att", 1),
        .d = dim(e, "att", 2),
        .r = dim(e, "h", 1),
        .a = dim(e, "p_att", 2),
    };
    const float *h = in_f32(e, "h", d.n * d.r);               /* [N, R] */
    const float *att = in_f32(e, "att", d.n * d.k * d.d);     /* [N, K, D] */
    const float *p_att = in_f32(e, "p_att", d.n * d.k * d.a); /* [N, K, A] */
    const float *g = in_f32(e, "G", d.n * d.d);               /* [N, D] */
    const float *dscore = in_f32(e, "dscore", d.n * d.k);     /* [N, K] torch's ∂L/∂score */
    vtag_attention_weights w = {
        .h2att_w = in_f32(e, "h2att_w", d.a * d.r), /* [A, R] */
        .h2att_b = in_f32(e, "h2att_b", d.a),       /* [A] */
        .alpha_w = in_f32(e, "alpha_w", d.a),       /* [1, A] */
        .alpha_b = in_f32(e, "alpha_b", 1),         /* [1] */
    };
    if (e->run->broken) return;
    /* ∂L/∂alpha_b = Σ_{n,k} ∂L/∂score is 0 in exact arithmetic (softmax ignores a shift), so
     * its floor is the size of the terms summed, max|∂L/∂score|, not 1e-6. */
    double dscore_max = fmax(max_abs(dscore, d.n * d.k), PARITY_FLOOR);
    float *out = expect(e, "out", "out", d.n * d.d);
    float *dot = expect(e, "cache.dot", "dot", d.n * d.k * d.a);
    float *alpha = expect(e, "cache.alpha", "alpha", d.n * d.k);
    float *dh = expect(e, "dh", "dh", d.n * d.r);
    float *datt = expect(e, "datt", "datt", d.n * d.k * d.d);
    float *dp_att = expect(e, "dp_att", "dp_att", d.n * d.k * d.a);
    vtag_attention_grads gw = {
        .h2att_w = expect(e, "dh2att_w", "dh2att_w", d.a * d.r),
        .h2att_b = expect(e, "dh2att_b", "dh2att_b", d.a),
        .alpha_w = expect(e, "dalpha_w", "dalpha_w", d.a),
        .alpha_b = expect_mult(e, "dalpha_b (floor dscore)", "dalpha_b", 1, dscore_max, 1.0),
    };
    if (e->run->broken) return;
    vtag_error err = {0};
    vtag_attention_cache cache = {0};
    int rc = vtag_attention_forward(e->ctx, out, &cache, h, att, p_att, &w, d, &err);
    check(e, rc == 0, "attention forward returned an error");
    if (rc != 0) {
        printf("    %s\n", err.msg);
        return;
    }
    check(e, cache.dot && cache.alpha, "attention forward must fill the cache");
    if (!cache.dot || !cache.alpha) return;
    memcpy(dot, cache.dot, (size_t)(d.n * d.k * d.a) * sizeof *dot);
    memcpy(alpha, cache.alpha, (size_t)(d.n * d.k) * sizeof *alpha);
    rc = vtag_attention_backward(e->ctx, dh, datt, dp_att, &gw, g, &cache, h, att, &w, d, &err);
    check(e, rc == 0, "attention backward returned an error");
    if (rc != 0) printf("    %s\n", err.msg);
}

static void layer_logsoftmax(layer_env *e)
{
    int64_t n = dim(e, "logits", 0), v = dim(e, "logits", 1);
    const float *logits = in_f32(e, "logits", n * v); /* [N, V] */
    const float *g = in_f32(e, "G", n * v);
    float *lp = expect(e, "out", "out", n * v);
    float *lp2 = expect(e, "out (in place)", "out", n * v);
    float *dlogits = expect(e, "dlogits", "dlogits", n * v);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_logsoftmax_forward(lp, logits, n, v, t);
    memcpy(lp2, logits, (size_t)(n * v) * sizeof *lp2);
    vtag_logsoftmax_forward(lp2, lp2, n, v, t);
    vtag_logsoftmax_backward(dlogits, g, lp, n, v, t);
}

static void layer_nll(layer_env *e)
{
    int64_t n = dim(e, "logits", 0), v = dim(e, "logits", 1);
    const float *logits = in_f32(e, "logits", n * v); /* [N, V] */
    const int32_t *target = in_i32(e, "target", n);   /* [N] */
    const float *mask = in_f32(e, "mask", n);         /* [N], has zeros */
    const float *dloss = in_f32(e, "dloss", 1);
    float *lp = expect(e, "logprobs", "logprobs", n * v);
    float *loss = expect(e, "loss", "loss", 1);
    float *loss_nomask = expect(e, "loss (mask = NULL)", "loss_nomask", 1);
    float *dlp = expect(e, "dlogprobs", "dlogprobs", n * v);
    float *dlogits = expect(e, "dlogits (two backwards)", "dlogits", n * v);
    float *dlogits_fused = expect(e, "dlogits (fused)", "dlogits", n * v);
    float *zero_mask = zeros(e, n);
    int32_t *bad_target = (int32_t *)zeros(e, n);
    if (e->run->broken) return;
    int t = e->ctx->threads;
    vtag_error err = {0};
    double l = -1.0;
    vtag_logsoftmax_forward(lp, logits, n, v, t);
    check(e, vtag_nll_masked_forward(&l, lp, target, mask, n, v, &err) == 0, "nll forward failed");
    loss[0] = (float)l;
    check(e, vtag_nll_masked_forward(&l, lp, target, NULL, n, v, &err) == 0, "nll forward (no mask) failed");
    loss_nomask[0] = (float)l;
    vtag_nll_masked_backward(dlp, dloss[0], target, mask, n, v);
    vtag_logsoftmax_backward(dlogits, dlp, lp, n, v, t);
    vtag_logsoftmax_nll_backward(dlogits_fused, dloss[0], lp, target, mask, n, v, t);

    l = -1.0;
    check(e, vtag_nll_masked_forward(&l, lp, target, zero_mask, n, v, &err) == 0 && l == 0.0,
          "an all-zero mask must give loss 0");
    memcpy(bad_target, target, (size_t)n * sizeof *bad_target);
    bad_target[n - 1] = (int32_t)v;
    check(e, vtag_nll_masked_forward(&l, lp, bad_target, mask, n, v, &err) == VTAG_ERR_ARG,
          "a target outside [0, V) must give VTAG_ERR_ARG");
    bad_target[n - 1] = -1;
    check(e, vtag_nll_masked_forward(&l, lp, bad_target, mask, n, v, &err) == VTAG_ERR_ARG,
          "a negative target must give VTAG_ERR_ARG");
}

static void layer_concat(layer_env *e)
{
    int64_t n = dim(e, "out", 0);
    int64_t dims[3] = {dim(e, "x0", 1), dim(e, "x1", 1), dim(e, "x2", 1)};
    int64_t total = dims[0] + dims[1] + dims[2];
    const float *ins[3] = {in_f32(e, "x0", n * dims[0]), in_f32(e, "x1", n * dims[1]),
                           in_f32(e, "x2", n * dims[2])};
    const float *g = in_f32(e, "G", n * total);
    float *out = expect(e, "out", "out", n * total);
    float *dins[3] = {expect(e, "dx0", "dx0", n * dims[0]), expect(e, "dx1", "dx1", n * dims[1]),
                      expect(e, "dx2", "dx2", n * dims[2])};
    if (e->run->broken) return;
    vtag_concat_forward(out, ins, dims, 3, n);
    vtag_concat_backward(dins, g, dims, 3, n);
}

static void layer_split(layer_env *e)
{
    int64_t n = dim(e, "x", 0);
    int64_t dims[3] = {dim(e, "out0", 1), dim(e, "out1", 1), dim(e, "out2", 1)};
    int64_t total = dims[0] + dims[1] + dims[2];
    const float *x = in_f32(e, "x", n * total);
    const float *gs[3] = {in_f32(e, "G0", n * dims[0]), in_f32(e, "G1", n * dims[1]),
                          in_f32(e, "G2", n * dims[2])};
    float *outs[3] = {expect(e, "out0", "out0", n * dims[0]), expect(e, "out1", "out1", n * dims[1]),
                      expect(e, "out2", "out2", n * dims[2])};
    float *dx = expect(e, "dx", "dx", n * total);
    float *dx_partial = expect(e, "dx (douts[1] = NULL)", "dx_partial", n * total);
    if (e->run->broken) return;
    vtag_split_forward(outs, x, dims, 3, n);
    vtag_split_backward(dx, gs, dims, 3, n);
    const float *partial[3] = {gs[0], NULL, gs[2]};
    vtag_split_backward(dx_partial, partial, dims, 3, n);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "layers.safetensors";
    vtag_st_file st;
    vtag_error err = {0};
    if (vtag_st_open(&st, path, &err) != 0) {
        fprintf(stderr, "test_parity: %s (run reference/layers.py --out %s first)\n", err.msg, path);
        return 1;
    }
    printf("parity with PyTorch (%s, torch %s): rel = max|got-ref| / max(max|ref|, floor), "
           "floor %.0e unless stated, pass if rel <= %.0e\n",
           path, vtag_st_meta(&st, "torch") ? vtag_st_meta(&st, "torch") : "?", PARITY_FLOOR, PARITY_TOL);
    report rep = {0};
    static const struct {
        const char *name;
        layer_fn fn;
    } layers[] = {
        {"linear", layer_linear},
        {"embedding", layer_embedding},
        {"relu", layer_relu},
        {"dropout", layer_dropout},
        {"maxout", layer_maxout},
        {"maxout_tie", layer_maxout_core},
        {"lstm", layer_lstm},
        {"lstm_core", layer_lstm_core},
        {"attention", layer_attention},
        {"logsoftmax", layer_logsoftmax},
        {"nll", layer_nll},
        {"concat", layer_concat},
        {"split", layer_split},
        /* Large enough that the element-wise loops are split over threads. */
        {"relu_big", layer_relu},
        {"dropout_big", layer_dropout},
        {"maxout_big", layer_maxout_core},
        {"lstm_big", layer_lstm_core},
        {"attention_big", layer_attention},
        {"logsoftmax_big", layer_logsoftmax},
        {"nll_big", layer_nll},
    };
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) run_layer(&st, &rep, layers[i].name, layers[i].fn);
    vtag_st_close(&st);
    printf("worst parity rel %.3e (%s)\n", rep.worst, rep.worst_what[0] ? rep.worst_what : "-");
    printf("test_parity: %d passed, %d failed\n", rep.passed, rep.failed);
    return rep.failed ? 1 : 0;
}

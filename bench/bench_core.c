/* Core speed: sgemm GFLOP/s through vtag_gemm (the CBLAS backend; the few-row shapes also
 * through vtag_gemm_packed) and the time of one
 * forward+backward LSTM-cell step, one `key=value` line per figure (bench_core.sh reads them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtag/nn.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place; returns its median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_floats(int64_t n, vtag_rng *rng)
{
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) p[i] = rng ? 0.2f * (vtag_rng_uniform(rng) - 0.5f) : 0.0f;
    return p;
}

/* ---- sgemm ----------------------------------------------------------------- */
typedef struct gemm_shape {
    const char *what; /* where the shape comes from */
    int ta, tb;
    int64_t m, n, k;
} gemm_shape;

/* Each sample times enough back-to-back calls to last about 20 ms; prints the
 * best and the median sample over `samples`, after about 0.2 s of warm-up. */
static int bench_gemm(vtag_ctx *ctx, const gemm_shape *s, int samples)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    float *a = alloc_floats(s->m * s->k, &rng); /* [M,K] or [K,M] */
    float *b = alloc_floats(s->k * s->n, &rng); /* [K,N] or [N,K] */
    float *c = alloc_floats(s->m * s->n, NULL); /* [M,N] */
    double *gf = malloc((size_t)samples * sizeof *gf);
    if (!a || !b || !c || !gf) {
        free(a), free(b), free(c), free(gf);
        fprintf(stderr, "bench_core: out of memory\n");
        return 1;
    }
    int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    int calls = 0;
    double t0 = now_s();
    while (now_s() - t0 < 0.2 || calls < 3) {
        vtag_gemm(ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
        calls++;
    }
    int per_sample = (int)ceil(0.02 / ((now_s() - t0) / calls));
    for (int r = 0; r < samples; r++) {
        double t = now_s();
        for (int i = 0; i < per_sample; i++)
            vtag_gemm(ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
        gf[r] = flop * per_sample / (now_s() - t) * 1e-9;
    }
    double med = median(gf, samples);
    printf("gemm backend=%s threads=%d shape=%lldx%lldx%lld op=%c%c what=%s gflops_best=%.1f "
           "gflops_median=%.1f samples=%d calls_per_sample=%d\n",
           ctx->backend->name, ctx->threads, (long long)s->m, (long long)s->n, (long long)s->k,
           s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->what, gf[samples - 1], med, samples, per_sample);
    free(a), free(b), free(c), free(gf);
    return 0;
}

/* The same shape through vtag_gemm_packed, B packed once before the timing (as a training step
 * packs each recurrent weight once for all its time steps); same seed, so the same operands. */
static int bench_gemm_packed(vtag_ctx *ctx, const gemm_shape *s, int samples)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    float *a = alloc_floats(s->m * s->k, &rng);
    float *b = alloc_floats(s->k * s->n, &rng);
    float *c = alloc_floats(s->m * s->n, NULL);
    float *pk = alloc_floats(vtag_gemm_pack_floats(s->k, s->n), NULL);
    double *gf = malloc((size_t)samples * sizeof *gf);
    if (!a || !b || !c || !pk || !gf) {
        free(a), free(b), free(c), free(pk), free(gf);
        fprintf(stderr, "bench_core: out of memory\n");
        return 1;
    }
    vtag_packed_b p;
    double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k, t0 = now_s();
    vtag_gemm_pack(ctx, &p, pk, s->tb, s->k, s->n, b, s->tb ? s->k : s->n);
    double pack_ms = (now_s() - t0) * 1e3;
    int calls = 0;
    t0 = now_s();
    while (now_s() - t0 < 0.2 || calls < 3) {
        vtag_gemm_packed(ctx, s->m, 1.0f, a, s->k, &p, 0.0f, c, s->n);
        calls++;
    }
    int per_sample = (int)ceil(0.02 / ((now_s() - t0) / calls));
    for (int r = 0; r < samples; r++) {
        double t = now_s();
        for (int i = 0; i < per_sample; i++) vtag_gemm_packed(ctx, s->m, 1.0f, a, s->k, &p, 0.0f, c, s->n);
        gf[r] = flop * per_sample / (now_s() - t) * 1e-9;
    }
    double med = median(gf, samples);
    printf("gemm_packed isa=%s threads=%d shape=%lldx%lldx%lld op=N%c what=%s gflops_best=%.1f "
           "gflops_median=%.1f samples=%d calls_per_sample=%d pack_ms=%.2f\n",
           vtag_isa_name(ctx->isa), ctx->threads, (long long)s->m, (long long)s->n, (long long)s->k,
           s->tb ? 'T' : 'N', s->what, gf[samples - 1], med, samples, per_sample, pack_ms);
    free(a), free(b), free(c), free(pk), free(gf);
    return 0;
}

/* ---- one LSTM-cell step ------------------------------------------------------
 * PyTorch's LSTMCell (gates i, f, g, o) as vtag composes it, with the loss
 * sum(h·G) + sum(c·G2) of bench/lstm_step.py, so dh = G and dc = G2.
 * Parameter and input gradients accumulate across steps as .grad does. */
enum { LSTM_PARTS = 5 };

typedef struct lstm_bufs {
    float *x, *h0, *c0;          /* [N,E], [N,R], [N,R] */
    float *w_ih, *b_ih;          /* [4R,E], [4R] */
    float *w_hh, *b_hh;          /* [4R,R], [4R] */
    float *gates, *cache;        /* [N,4R], [N,5R] */
    float *h1, *c1, *g_h, *g_c;  /* [N,R] each; g_h = G, g_c = G2 */
    float *dgates;               /* [N,4R] */
    float *dx, *dh0, *dc0;       /* [N,E], [N,R], [N,R] */
    float *dw_ih, *db_ih;        /* [4R,E], [4R] */
    float *dw_hh, *db_hh;        /* [4R,R], [4R] */
} lstm_bufs;

/* One step; t[0..LSTM_PARTS] are the times at the borders of the parts. */
static void lstm_step(const vtag_ctx *ctx, lstm_bufs *s, int64_t n, int64_t e, int64_t r,
                      double t[LSTM_PARTS + 1])
{
    int64_t g = 4 * r;
    t[0] = now_s();
    vtag_linear_forward(ctx, s->gates, s->x, s->w_ih, s->b_ih, n, e, g, 0);
    vtag_linear_forward(ctx, s->gates, s->h0, s->w_hh, s->b_hh, n, r, g, 1);
    t[1] = now_s();
    vtag_lstm_forward(s->h1, s->c1, s->cache, s->gates, s->c0, n, r, ctx->threads);
    t[2] = now_s();
    memset(s->dgates, 0, (size_t)(n * g) * sizeof(float));
    vtag_lstm_backward(s->dgates, s->dc0, s->g_h, s->g_c, s->cache, s->c0, n, r, ctx->threads);
    t[3] = now_s();
    vtag_linear_backward(ctx, s->dx, s->dw_ih, s->db_ih, s->dgates, s->x, s->w_ih, n, e, g);
    t[4] = now_s();
    vtag_linear_backward(ctx, s->dh0, s->dw_hh, s->db_hh, s->dgates, s->h0, s->w_hh, n, r, g);
    t[5] = now_s();
}

static int bench_lstm(const vtag_ctx *ctx, int64_t n, int64_t e, int64_t r, int warmup, int iters)
{
    int64_t g = 4 * r;
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    lstm_bufs s;
    float **p[] = {&s.x,  &s.h0, &s.c0, &s.w_ih, &s.b_ih, &s.w_hh, &s.b_hh, &s.g_h, &s.g_c,
                   &s.gates, &s.cache, &s.h1, &s.c1, &s.dgates, &s.dx, &s.dh0, &s.dc0,
                   &s.dw_ih, &s.db_ih, &s.dw_hh, &s.db_hh};
    const int64_t sz[] = {n * e, n * r, n * r, g * e, g, g * r, g, n * r, n * r,
                          n * g, n * 5 * r, n * r, n * r, n * g, n * e, n * r, n * r,
                          g * e, g, g * r, g};
    enum { NBUF = sizeof sz / sizeof sz[0], NRAND = 9 }; /* the first NRAND are random */
    int ok = 1;
    for (int i = 0; i < NBUF; i++) {
        *p[i] = alloc_floats(sz[i], i < NRAND ? &rng : NULL);
        ok &= *p[i] != NULL;
    }
    double *step = malloc((size_t)iters * sizeof *step);
    double *part = malloc((size_t)iters * LSTM_PARTS * sizeof *part);
    if (!ok || !step || !part) {
        fprintf(stderr, "bench_core: out of memory\n");
        ok = 0;
        goto done;
    }
    double t[LSTM_PARTS + 1];
    for (int i = 0; i < warmup; i++) lstm_step(ctx, &s, n, e, r, t);
    for (int i = 0; i < iters; i++) {
        lstm_step(ctx, &s, n, e, r, t);
        step[i] = t[LSTM_PARTS] - t[0];
        for (int k = 0; k < LSTM_PARTS; k++) part[k * iters + i] = t[k + 1] - t[k];
    }
    /* Two forward GEMMs (N×E·E×4R, N×R·R×4R) and four backward ones of the same size. */
    double flop = 3.0 * 2.0 * (double)n * (double)g * (double)(e + r);
    double med = median(step, iters);
    printf("lstm_step impl=vtag threads=%d n=%lld e=%lld r=%lld ms_median=%.3f ms_min=%.3f "
           "gflops_median=%.1f iters=%d warmup=%d\n",
           ctx->threads, (long long)n, (long long)e, (long long)r, 1e3 * med, 1e3 * step[0],
           flop / med * 1e-9, iters, warmup);
    const char *const part_names[LSTM_PARTS] = {"fwd_linear", "fwd_cell", "bwd_cell",
                                                "bwd_linear_ih", "bwd_linear_hh"};
    for (int k = 0; k < LSTM_PARTS; k++)
        printf("lstm_part impl=vtag threads=%d part=%s ms_median=%.3f\n", ctx->threads,
               part_names[k], 1e3 * median(part + (size_t)k * iters, iters));
    /* Keeps the work observable (and catches a NaN if a kernel misbehaves). */
    double sum = 0;
    for (int64_t i = 0; i < g * e; i++) sum += s.dw_ih[i];
    if (!isfinite(sum)) {
        fprintf(stderr, "bench_core: non-finite gradient\n");
        ok = 0;
    }
done:
    for (int i = 0; i < NBUF; i++) free(*p[i]);
    free(step);
    free(part);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* Usage: bench_core [--lstm-only] [THREADS...]   (default: 1 2); --lstm-only is for perf. */
    int threads[8] = {1, 2}, nthreads = 2, lstm_only = 0, first = 1;
    if (argc > 1 && strcmp(argv[1], "--lstm-only") == 0) lstm_only = 1, first = 2;
    if (argc > first) {
        nthreads = 0;
        for (int i = first; i < argc && nthreads < 8; i++) {
            int v = atoi(argv[i]);
            if (v <= 0) {
                fprintf(stderr, "usage: bench_core [--lstm-only] [THREADS...]\n");
                return 2;
            }
            threads[nthreads++] = v;
        }
    }
    const gemm_shape shapes[] = {
        {"square", 0, 0, 1024, 1024, 1024},
        {"square", 0, 0, 2048, 2048, 2048},
        {"spec9_lstm_5R", 0, 1, 50, 2560, 512}, /* SPEC §9's 50×512 · 512×2560, as Linear calls it */
        {"lstm_fwd", 0, 1, 50, 2048, 512},      /* x·W^T, W [4R,E] */
        {"lstm_bwd_din", 0, 0, 50, 512, 2048},  /* dgates·W */
        {"lstm_bwd_dw", 1, 0, 2048, 512, 50},   /* dgates^T·x */
    };
    int rc = 0;
    for (int ti = 0; ti < nthreads && rc == 0; ti++) {
        vtag_ctx ctx;
        vtag_error err;
        if (vtag_ctx_init(&ctx, threads[ti], 1, &err) != VTAG_OK) {
            fprintf(stderr, "bench_core: %s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; !lstm_only && i < sizeof shapes / sizeof shapes[0] && rc == 0; i++) {
            rc = bench_gemm(&ctx, &shapes[i], shapes[i].m >= 2048 && shapes[i].k >= 2048 ? 7 : 15);
            /* the per-step shapes again with the weight packed once (vtag_gemm_packed) */
            if (rc == 0 && shapes[i].m <= 64 && !shapes[i].ta) rc = bench_gemm_packed(&ctx, &shapes[i], 15);
        }
        if (rc == 0) rc = bench_lstm(&ctx, 50, 512, 512, 10, 50);
        fflush(stdout);
        vtag_ctx_free(&ctx);
    }
    return rc;
}

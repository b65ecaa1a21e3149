/* Data-parallel training steps (issue 20), run alone or under mpirun: XE and
 * SCST epochs of the trainer's own step machinery (vtag_train_*_epoch_hooks
 * with a vtag_train_shard and the cluster's tree sum as the reduce hook) on
 * random rows at the sizes of SPEC §9 (E = R = A = 512, vocabulary 1000, fc
 * 2048, att 7×7×2048; XE batch 50 captions of 16 labels, SCST batch 10 images
 * × 5 samples). Rank 0 prints the median ms per step (the first step of each
 * epoch is a warm-up), the throughput, and the time per step in the gradient
 * sum: waiting for the slowest rank (a barrier first) and the sum itself.
 *
 * usage: [mpirun -np N] bench_mpi MODEL THREADS MICRO [XE_STEPS [SCST_STEPS]]
 *        MODEL fc|att2in|topdown; MICRO micro-batches per step (1: whole batch) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtag/cluster.h"
#include "vtag/scst.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { MAX_STEPS = 64 };

/* Per-step timings, filled by the hooks. */
typedef struct timing {
    vtag_cluster *c;
    double last, step[MAX_STEPS], wait[MAX_STEPS], sum[MAX_STEPS];
    int n;
} timing;

static int reduce(void *user, float *grad, int64_t n, double *sums, int n_sums, vtag_error *err)
{
    timing *t = user;
    double t0 = now();
    int all = 0;
    int rc = vtag_cluster_agree(t->c, 0, err, &all); /* a barrier: the wait for the slowest rank */
    double t1 = now();
    if (!rc) rc = vtag_cluster_tree_sum(t->c, grad, n, sums, n_sums, err);
    if (t->n < MAX_STEPS) t->wait[t->n] = t1 - t0, t->sum[t->n] = now() - t1;
    return rc;
}

static void step_done(void *user, int64_t step, double loss)
{
    (void)step, (void)loss;
    timing *t = user;
    double tn = now();
    if (t->n < MAX_STEPS) t->step[t->n++] = tn - t->last;
    t->last = tn;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n ? v[n / 2] : 0.0;
}

/* Medians over steps 2.. (step 1 warms up). */
static void report(const timing *t, vtag_cluster *c, const char *what, const char *model, int threads, int micro,
                   double per_step, const char *unit, double grad_mb)
{
    double s[MAX_STEPS], w[MAX_STEPS], u[MAX_STEPS];
    int n = t->n - 1;
    memcpy(s, t->step + 1, sizeof(double) * (size_t)n);
    memcpy(w, t->wait + 1, sizeof(double) * (size_t)n);
    memcpy(u, t->sum + 1, sizeof(double) * (size_t)n);
    double ms = median(s, n) * 1e3, wait = median(w, n) * 1e3, sum = median(u, n) * 1e3;
    if (vtag_cluster_rank(c) == 0)
        printf("mpi %s model=%s ranks=%d threads=%d micro=%d ms=%.1f %s=%.0f wait_ms=%.2f sum_ms=%.2f "
               "sum_share=%.3f grad_mb=%.1f\n", what, model, vtag_cluster_size(c), threads, micro, ms, unit,
               per_step / ms * 1e3, wait, sum, sum / ms, grad_mb);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: [mpirun -np N] bench_mpi MODEL THREADS MICRO [XE_STEPS [SCST_STEPS]]\n");
        return 2;
    }
    vtag_error err = {0};
    vtag_cluster *c = NULL;
    if (vtag_cluster_open(&c, &err)) goto fail;
    const int threads = atoi(argv[2]), micro = atoi(argv[3]);
    const int xe_steps = argc > 4 ? atoi(argv[4]) : 6, scst_steps = argc > 5 ? atoi(argv[5]) : 6;
    const int64_t B = 50, SB = 10, L = 16, K = 49, D = 2048, V = 999;
    if (xe_steps < 2 || scst_steps < 2 || xe_steps >= MAX_STEPS || scst_steps >= MAX_STEPS) {
        fprintf(stderr, "bench_mpi: 2 to %d steps\n", MAX_STEPS - 1);
        return 2;
    }
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    if (vtag_model_type_parse(argv[1], &cfg.type)) {
        fprintf(stderr, "bench_mpi: unknown model %s\n", argv[1]);
        return 2;
    }
    cfg.vocab_size = V, cfg.fc_feat_size = D, cfg.att_feat_size = D, cfg.max_length = L;
    const int64_t n = B * xe_steps;
    float *fc = malloc(sizeof(float) * (size_t)(n * D)), *att = malloc(sizeof(float) * (size_t)(n * K * D));
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)(n * L)), *ids = malloc(sizeof(int32_t) * (size_t)(n * (L + 1)));
    vtag_metrics_seq *refs = malloc(sizeof *refs * (size_t)n);
    const vtag_metrics_seq **row_refs = malloc(sizeof *row_refs * (size_t)n);
    int64_t *nrefs = malloc(sizeof *nrefs * (size_t)n);
    if (!fc || !att || !labels || !ids || !refs || !row_refs || !nrefs) {
        fprintf(stderr, "bench_mpi: out of memory\n");
        return 1;
    }
    vtag_rng rng;
    vtag_rng_seed(&rng, 1);
    for (int64_t i = 0; i < n * D; i++) fc[i] = vtag_rng_uniform(&rng);
    for (int64_t i = 0; i < n * K * D; i++) att[i] = vtag_rng_uniform(&rng);
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    for (int64_t r = 0; r < n; r++) {
        /* distinct labels, 3..16 of them, the reference = the caption + EOS */
        const int64_t len = 3 + (int64_t)(vtag_rng_next(&rng) % 14);
        for (int64_t t = 0; t < L; t++) labels[r * L + t] = t < len ? (int32_t)(1 + (r * 7 + t * 61) % V) : 0;
        memcpy(ids + r * (L + 1), labels + r * L, sizeof(int32_t) * (size_t)len);
        ids[r * (L + 1) + len] = 0;
        refs[r] = (vtag_metrics_seq){ids + r * (L + 1), len + 1};
        row_refs[r] = &refs[r];
        nrefs[r] = 1;
        if (vtag_metrics_df_add(&df, &refs[r], 1, &err)) goto fail;
    }
    if (vtag_metrics_df_finish(&df, &err)) goto fail;
    vtag_ctx ctx;
    vtag_model m;
    if (vtag_ctx_init(&ctx, threads, 1, &err) || vtag_model_init(&m, &cfg, &err)) goto fail;
    vtag_model_init_weights(&m, &ctx.rng);
    vtag_adam adam;
    vtag_adam_init(&adam);
    const vtag_rows rows = {n, K, fc, att, labels};
    timing t = {.c = c};
    vtag_train_hooks hooks = {.shard = {micro, vtag_cluster_rank(c), vtag_cluster_size(c)},
                              .reduce = vtag_cluster_size(c) > 1 ? reduce : NULL,
                              .reduce_user = &t,
                              .user = &t,
                              .step = step_done};
    vtag_xe_opts xo;
    vtag_xe_opts_defaults(&xo);
    vtag_epoch_stats es;
    t.last = now();
    if (vtag_train_xe_epoch_hooks(&ctx, &m, &adam, &rows, &xo, 0, &hooks, &es, &err)) goto fail;
    const double grad_mb = (double)m.params.total * sizeof(float) / 1e6;
    report(&t, c, "xe_step", argv[1], threads, micro, (double)(B * (L + 1)), "tokens_per_s", grad_mb);
    vtag_scst_opts so;
    vtag_scst_opts_defaults(&so);
    const vtag_rows srows = {SB * scst_steps, K, fc, att, labels};
    vtag_scst_stats ss;
    t.n = 0;
    t.last = now();
    if (vtag_train_scst_epoch_hooks(&ctx, &m, &adam, &srows, row_refs, nrefs, &df, &so, &hooks, &ss, &err)) goto fail;
    report(&t, c, "scst_step", argv[1], threads, micro, (double)(SB * so.sample_n), "captions_per_s", grad_mb);
    vtag_model_free(&m);
    vtag_ctx_free(&ctx);
    vtag_metrics_df_free(&df);
    free(fc), free(att), free(labels), free(ids), free(refs), free(row_refs), free(nrefs);
    vtag_cluster_close(&c);
    return 0;
fail:
    fprintf(stderr, "bench_mpi: %s\n", err.msg);
    vtag_cluster_abort(c, 1);
    return 1;
}

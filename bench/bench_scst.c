/* One vtag_scst_step (greedy + 5 samples per image, CIDEr-D rewards, backward, clip, Adam) per caption
 * model on 10 images at the XE benchmark's sizes; prints the median ms per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtag/scst.h"

/* The reference corpus, shared with bench/scst_step.py (same generator):
 * N_IMG images with N_REF references of 3–16 distinct labels each, EOS (0)
 * appended; the benchmark's batch is images 0..9. */
enum { N_IMG = 1000, N_REF = 10, MAXW = 17 };

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

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

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, iters = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 ? argv[3] : NULL; /* one model by name */
    const int64_t B = 10, K = 49, D = 2048, V = 999; /* V + 1 = 1000 outputs */
    vtag_error err = {0};

    /* Corpus and document frequencies: built once, outside the timing. */
    int32_t *ids = malloc(sizeof(int32_t) * N_IMG * N_REF * MAXW);
    vtag_metrics_seq *refs = malloc(sizeof *refs * N_IMG * N_REF);
    uint64_t s = 12345;
    for (int64_t r = 0; r < (int64_t)N_IMG * N_REF; r++) {
        int32_t *w = ids + r * MAXW;
        int64_t len = 3 + (int64_t)(splitmix(&s) % 14);
        for (int64_t j = 0; j < len; j++) {
            int32_t x;
            int dup;
            do {
                x = 1 + (int32_t)(splitmix(&s) % (uint64_t)V);
                dup = 0;
                for (int64_t q = 0; q < j; q++) dup |= w[q] == x;
            } while (dup);
            w[j] = x;
        }
        w[len] = 0; /* EOS, as vtag_scst_reward scores the candidates */
        refs[r] = (vtag_metrics_seq){w, len + 1};
    }
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    for (int64_t i = 0; i < N_IMG; i++)
        if (vtag_metrics_df_add(&df, refs + i * N_REF, N_REF, &err)) goto fail;
    if (vtag_metrics_df_finish(&df, &err)) goto fail;
    const vtag_metrics_seq *brefs[10];
    int64_t bnrefs[10];
    for (int64_t i = 0; i < B; i++) brefs[i] = refs + i * N_REF, bnrefs[i] = N_REF;

    float *fc = malloc(sizeof(float) * B * D), *att = malloc(sizeof(float) * B * K * D);
    vtag_rng rng;
    vtag_rng_seed(&rng, 1);
    for (int64_t i = 0; i < B * D; i++) fc[i] = vtag_rng_uniform(&rng);
    for (int64_t i = 0; i < B * K * D; i++) att[i] = vtag_rng_uniform(&rng);
    vtag_scst_opts o;
    vtag_scst_opts_defaults(&o); /* 5 samples, greedy baseline, CIDEr-D, lr 5e-5, clip 0.1 */
    for (int type = 0; type < 3; type++) {
        if (only && strcmp(only, vtag_model_type_name((vtag_model_type)type)) != 0) continue;
        vtag_ctx ctx;
        if (vtag_ctx_init(&ctx, threads, 1, &err)) goto fail;
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg); /* E = R = A = 512, max_length 16 */
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = V;
        cfg.fc_feat_size = D;
        cfg.att_feat_size = D;
        vtag_model m;
        if (vtag_model_init(&m, &cfg, &err)) goto fail;
        vtag_model_init_weights(&m, &ctx.rng);
        vtag_adam adam;
        vtag_adam_init(&adam);
        vtag_batch bt = {B, K, fc, att, NULL};
        double times[64];
        if (iters > 64) iters = 64;
        vtag_scst_stats st = {0};
        for (int it = -1; it < iters; it++) { /* one warm-up step */
            double t0 = now();
            if (vtag_scst_step(&ctx, &m, &adam, &bt, brefs, bnrefs, &df, &o, it >= 0 ? &st : NULL, &err)) goto fail;
            if (it >= 0) times[it] = now() - t0;
        }
        qsort(times, (size_t)iters, sizeof(double), cmp);
        double med = times[iters / 2];
        printf("vtag scst_step model=%s threads=%d ms=%.1f min_ms=%.1f reward=%.3f greedy=%.3f\n",
               vtag_model_type_name(cfg.type), threads, med * 1e3, times[0] * 1e3, st.reward / (double)st.steps,
               st.greedy / (double)st.steps);
        fflush(stdout);
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
    vtag_metrics_df_free(&df);
    free(fc), free(att), free(ids), free(refs);
    return 0;
fail:
    fprintf(stderr, "bench_scst: %s\n", err.msg);
    return 1;
}

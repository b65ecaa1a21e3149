/* One XE training step (forward, backward, clipping, Adam) of each caption
 * model at the sizes of SPEC §9: batch 50 captions of 16 labels, E = R = A =
 * 512, vocabulary 1000, fc 2048, att 7×7×2048. Prints ms per step, tokens/s
 * and the GFLOP/s the step achieves (counting the GEMMs' multiply-adds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtag/caption.h"

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

/* Multiply-adds ×2 of one step's GEMMs (forward + 2× for backward). */
static double step_flops(vtag_model_type t, double B, double T, double E, double R, double A, double V1, double K,
                         double D)
{
    double f = 2.0 * B * T * R * V1;             /* logit */
    if (t == VTAG_MODEL_FC) f += 2.0 * B * (T + 1) * (E + R) * 5 * R + 2.0 * B * D * E;
    if (t == VTAG_MODEL_ATT2IN)
        f += 2.0 * B * T * ((E + R) * 5 * R + D * 2 * R + R * A + 2 * K * D + K * A) + 2.0 * B * K * D * A;
    if (t == VTAG_MODEL_TOPDOWN)
        f += 2.0 * B * T * ((2 * R + E) * 4 * R + R * 4 * R + 2 * R * 4 * R + R * 4 * R + R * A + 2 * K * R + K * A) +
             2.0 * B * K * (D * R + R * A) + 2.0 * B * D * R;
    return 3.0 * f;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, iters = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 ? argv[3] : NULL; /* one model by name */
    const int64_t B = 50, L = 16, K = 49, D = 2048, V = 999; /* V + 1 = 1000 outputs */
    float *fc = malloc(sizeof(float) * B * D), *att = malloc(sizeof(float) * B * K * D);
    int32_t *labels = malloc(sizeof(int32_t) * B * L);
    vtag_rng rng;
    vtag_rng_seed(&rng, 1);
    for (int64_t i = 0; i < B * D; i++) fc[i] = vtag_rng_uniform(&rng);
    for (int64_t i = 0; i < B * K * D; i++) att[i] = vtag_rng_uniform(&rng);
    for (int64_t i = 0; i < B * L; i++) labels[i] = 1 + (int32_t)(vtag_rng_next(&rng) % V);
    for (int type = 0; type < 3; type++) {
        if (only && strcmp(only, vtag_model_type_name((vtag_model_type)type)) != 0) continue;
        vtag_ctx ctx;
        vtag_error err = {0};
        vtag_ctx_init(&ctx, threads, 1, &err);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = V;
        cfg.fc_feat_size = D;
        cfg.att_feat_size = D;
        vtag_model m;
        if (vtag_model_init(&m, &cfg, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        vtag_model_init_weights(&m, &ctx.rng);
        vtag_adam adam;
        vtag_adam_init(&adam);
        vtag_batch bt = {B, K, fc, att, labels};
        double times[64];
        if (iters > 64) iters = 64;
        for (int it = -1; it < iters; it++) { /* one warm-up step */
            double t0 = now(), loss;
            vtag_arena_reset(&ctx.arena);
            vtag_params_zero_grad(&m.params);
            if (vtag_model_xe(&ctx, &m, &bt, 1, 1, &loss, NULL, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            vtag_clip_grad_value(m.params.grad, m.params.total, 0.1f, ctx.threads);
            vtag_adam_update(&adam, &m.params, 5e-4f, ctx.threads);
            if (it >= 0) times[it] = now() - t0;
        }
        qsort(times, (size_t)iters, sizeof(double), cmp);
        double med = times[iters / 2], tokens = (double)(B * (L + 1));
        double gf = step_flops(cfg.type, B, L + 1, 512, 512, 512, V + 1, K, D) / med * 1e-9;
        printf("vtag xe_step model=%s threads=%d ms=%.1f tokens_per_s=%.0f gflops=%.1f\n", vtag_model_type_name(cfg.type),
               threads, med * 1e3, tokens / med, gf);
        fflush(stdout);
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
    free(fc), free(att), free(labels);
    return 0;
}

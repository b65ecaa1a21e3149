/* The fused training-mode BatchNorm passes of the built-in backbone against a naive twin in
 * double: vtag_batchnorm_forward_train_act (out = act(bn(in) + res), saved mean/invstd, running
 * stats) and vtag_batchnorm_relu_backward (the gradient at relu(bn(in) + res) masked by that
 * output, din written, dgamma/dbeta added; no mask: plain BN). Planes shorter than the eight
 * lanes, not a multiple of them, and longer than one summing block; every kernel path this CPU
 * runs; 1, 2 and 3 threads must give the same bits. */
#include <stdio.h>

#include "cnn_test.h"

#define MAX_THREADS 3

static int same(const float *a, const float *b, int64_t n) { return !memcmp(a, b, (size_t)n * sizeof *a); }

static void run(int64_t n, int64_t c, int64_t hw, int with_res, vtag_act act, int masked, const vtag_isa *paths,
                int npaths, vtag_rng *rng)
{
    vtag_batchnorm_dims d = {n, c, hw, 1e-5f, 0.1f};
    const int64_t m = n * hw, total = n * c * hw;
    float *in = ct_alloc(total), *res = ct_alloc(total), *gamma = ct_alloc(c), *beta = ct_alloc(c);
    float *rm0 = ct_alloc(c), *rv0 = ct_alloc(c), *g = ct_alloc(total), *dg0 = ct_alloc(c), *db0 = ct_alloc(c);
    float *out = ct_alloc(total), *mean = ct_alloc(c), *invstd = ct_alloc(c), *rm = ct_alloc(c), *rv = ct_alloc(c);
    float *din = ct_alloc(total), *dgamma = ct_alloc(c), *dbeta = ct_alloc(c);
    float *out1 = ct_alloc(total), *din1 = ct_alloc(total), *dgamma1 = ct_alloc(c), *dbeta1 = ct_alloc(c);
    double *ref = malloc((size_t)total * sizeof *ref);
    ct_fill(in, total, rng, -3, 5);
    ct_fill(res, total, rng, -1, 1);
    ct_fill(gamma, c, rng, 0.5f, 1.5f);
    ct_fill(beta, c, rng, -1, 1);
    ct_fill(rm0, c, rng, -1, 1);
    ct_fill(rv0, c, rng, 0.5f, 2);
    ct_fill(g, total, rng, -1, 1);
    ct_fill(dg0, c, rng, -1, 1);
    ct_fill(db0, c, rng, -1, 1);
    const char *name = act == VTAG_ACT_RELU ? "relu" : "none";
    for (int pi = 0; pi < npaths; pi++) {
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            vtag_ctx ctx;
            vtag_error err = {0};
            vtag_ctx_init(&ctx, threads, 1, &err);
            ctx.isa = paths[pi];
            memcpy(rm, rm0, (size_t)c * 4), memcpy(rv, rv0, (size_t)c * 4);
            memcpy(dgamma, dg0, (size_t)c * 4), memcpy(dbeta, db0, (size_t)c * 4);
            for (int64_t i = 0; i < total; i++) din[i] = NAN; /* written, not added */
            vtag_batchnorm_forward_train_act(&ctx, out, mean, invstd, rm, rv, in, gamma, beta, with_res ? res : NULL,
                                             act, &d);
            vtag_batchnorm_relu_backward(&ctx, din, dgamma, dbeta, g, masked ? out : NULL, in, gamma, mean, invstd,
                                         &d);
            double wf = 0, ws = 0, wr = 0, wp = 0, wd = 0, scale = 0;
            for (int64_t ch = 0; ch < c; ch++) {
                double s = 0, sq = 0;
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < hw; j++) s += in[(i * c + ch) * hw + j];
                const double mu = s / m;
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < hw; j++) sq += pow(in[(i * c + ch) * hw + j] - mu, 2);
                const double is = 1.0 / sqrt(sq / m + 1e-5);
                ws = fmax(ws, fmax(fabs(mean[ch] - mu), fabs(invstd[ch] - is) / is));
                wr = fmax(wr, fabs(rm[ch] - (0.9 * rm0[ch] + 0.1 * mu)));
                wr = fmax(wr, fabs(rv[ch] - (0.9 * rv0[ch] + 0.1 * sq / (m - 1))));
                double sdy = 0, sdyx = 0;
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < hw; j++) {
                        const int64_t k = (i * c + ch) * hw + j;
                        const double xh = (in[k] - mu) * is;
                        double y = xh * gamma[ch] + beta[ch] + (with_res ? res[k] : 0.0);
                        if (act == VTAG_ACT_RELU && y < 0) y = 0;
                        wf = fmax(wf, fabs(out[k] - y));
                        ref[k] = masked && !(out[k] > 0.0f) ? 0.0 : g[k]; /* the mask the kernel sees */
                        sdy += ref[k], sdyx += ref[k] * xh;
                    }
                wp = fmax(wp, fabs(dbeta[ch] - (db0[ch] + sdy)) / fmax(1, fabs(sdy)));
                wp = fmax(wp, fabs(dgamma[ch] - (dg0[ch] + sdyx)) / fmax(1, fabs(sdyx)));
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < hw; j++) {
                        const int64_t k = (i * c + ch) * hw + j;
                        const double xh = (in[k] - mu) * is;
                        const double want = gamma[ch] * is * (ref[k] - sdy / m - xh * sdyx / m);
                        scale = fmax(scale, fabs(want));
                        wd = fmax(wd, fabs(din[k] - want));
                    }
            }
            wd /= fmax(scale, 1e-12);
            CHECK(wf < 2e-5 && ws < 1e-5 && wr < 1e-5, "n%lld c%lld hw%lld %s res %d %s t=%d: forward %.3g stats %.3g running %.3g",
                  (long long)n, (long long)c, (long long)hw, name, with_res, vtag_isa_name(paths[pi]), threads, wf, ws, wr);
            CHECK(wp < 1e-5 && wd < 1e-5, "n%lld c%lld hw%lld %s res %d mask %d %s t=%d: dgamma/dbeta %.3g din %.3g",
                  (long long)n, (long long)c, (long long)hw, name, with_res, masked, vtag_isa_name(paths[pi]), threads,
                  wp, wd);
            if (threads == 1) {
                memcpy(out1, out, (size_t)total * 4), memcpy(din1, din, (size_t)total * 4);
                memcpy(dgamma1, dgamma, (size_t)c * 4), memcpy(dbeta1, dbeta, (size_t)c * 4);
            } else {
                CHECK(same(out, out1, total) && same(din, din1, total) && same(dgamma, dgamma1, c) &&
                          same(dbeta, dbeta1, c),
                      "n%lld c%lld hw%lld: %d threads differ from 1", (long long)n, (long long)c, (long long)hw, threads);
            }
            vtag_ctx_free(&ctx);
        }
    }
    printf("n %lld c %lld hw %lld %s res %d mask %d ok\n", (long long)n, (long long)c, (long long)hw, name, with_res,
           masked);
    free(in), free(res), free(gamma), free(beta), free(rm0), free(rv0), free(g), free(dg0), free(db0), free(out);
    free(mean), free(invstd), free(rm), free(rv), free(din), free(dgamma), free(dbeta), free(out1), free(din1);
    free(dgamma1), free(dbeta1), free(ref);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    vtag_isa paths[VTAG_ISA_COUNT];
    const int npaths = ct_paths(paths);
    run(4, 3, 5, 0, VTAG_ACT_RELU, 1, paths, npaths, &rng);    /* plane shorter than the lanes */
    run(3, 5, 61, 1, VTAG_ACT_RELU, 1, paths, npaths, &rng);   /* residual, not a multiple of 8 */
    run(2, 4, 1100, 0, VTAG_ACT_NONE, 0, paths, npaths, &rng); /* several summing blocks, plain BN */
    run(2, 4, 1100, 1, VTAG_ACT_RELU, 1, paths, npaths, &rng);
    run(32, 16, 64, 1, VTAG_ACT_NONE, 1, paths, npaths, &rng); /* a mask from another output */
    run(8, 72, 64, 0, VTAG_ACT_RELU, 1, paths, npaths, &rng);  /* enough for a parallel region */
    return check_summary("cnn/test_batchnorm_fused");
}

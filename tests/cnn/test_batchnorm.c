/* BatchNorm2d against a naive twin in double: training forward (output, saved mean/invstd,
 * running stats moved with the unbiased variance), inference with every fused activation on every
 * kernel path this CPU runs, backward adding into prefilled gradients, and vtag_batchnorm_fold:
 * conv + BN (inference) equals the folded conv. Element-wise activations against their formulas. */
#include <stdio.h>

#include "cnn_test.h"

static void train_and_infer(int64_t n, int64_t c, int64_t hw, int threads, vtag_rng *rng)
{
    vtag_batchnorm_dims d = {n, c, hw, 1e-5f, 0.1f};
    int64_t m = n * hw, total = n * c * hw;
    float *in = ct_alloc(total), *out = ct_alloc(total), *gamma = ct_alloc(c), *beta = ct_alloc(c);
    float *mean = ct_alloc(c), *invstd = ct_alloc(c), *rm = ct_alloc(c), *rv = ct_alloc(c);
    float *g = ct_alloc(total), *din = ct_alloc(total), *dgamma = ct_alloc(c), *dbeta = ct_alloc(c);
    ct_fill(in, total, rng, -3, 5);
    ct_fill(gamma, c, rng, 0.5f, 1.5f);
    ct_fill(beta, c, rng, -1, 1);
    ct_fill(rm, c, rng, -1, 1);
    ct_fill(rv, c, rng, 0.5f, 2);
    ct_fill(g, total, rng, -1, 1);
    ct_fill(din, total, rng, -1, 1);
    ct_fill(dgamma, c, rng, -1, 1);
    ct_fill(dbeta, c, rng, -1, 1);
    float *rm0 = ct_alloc(c), *rv0 = ct_alloc(c), *din0 = ct_alloc(total), *dg0 = ct_alloc(c), *db0 = ct_alloc(c);
    memcpy(rm0, rm, (size_t)c * 4), memcpy(rv0, rv, (size_t)c * 4), memcpy(din0, din, (size_t)total * 4);
    memcpy(dg0, dgamma, (size_t)c * 4), memcpy(db0, dbeta, (size_t)c * 4);
    vtag_ctx ctx;
    vtag_error err = {0};
    vtag_ctx_init(&ctx, threads, 1, &err);
    vtag_batchnorm_forward_train(&ctx, out, mean, invstd, rm, rv, in, gamma, beta, &d);
    vtag_batchnorm_backward(&ctx, din, dgamma, dbeta, g, in, gamma, mean, invstd, &d);
    double wo = 0, ws = 0, wr = 0, wd = 0;
    for (int64_t ch = 0; ch < c; ch++) {
        double s = 0, sq = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) s += in[(i * c + ch) * hw + j];
        double mu = s / m;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) sq += pow(in[(i * c + ch) * hw + j] - mu, 2);
        double var = sq / m, is = 1.0 / sqrt(var + 1e-5);
        ws = fmax(ws, fmax(fabs(mean[ch] - mu), fabs(invstd[ch] - is) / is));
        wr = fmax(wr, fabs(rm[ch] - (0.9 * rm0[ch] + 0.1 * mu)));
        wr = fmax(wr, fabs(rv[ch] - (0.9 * rv0[ch] + 0.1 * sq / (m - 1))));
        double sdy = 0, sdyx = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                int64_t k = (i * c + ch) * hw + j;
                double xh = (in[k] - mu) * is;
                wo = fmax(wo, fabs(out[k] - (xh * gamma[ch] + beta[ch])));
                sdy += g[k], sdyx += g[k] * xh;
            }
        wd = fmax(wd, fabs(dbeta[ch] - (db0[ch] + sdy)) / fmax(1, fabs(sdy)));
        wd = fmax(wd, fabs(dgamma[ch] - (dg0[ch] + sdyx)) / fmax(1, fabs(sdyx)));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < hw; j++) {
                int64_t k = (i * c + ch) * hw + j;
                double xh = (in[k] - mu) * is;
                double want = din0[k] + gamma[ch] * is * (g[k] - sdy / m - xh * sdyx / m);
                wd = fmax(wd, fabs(din[k] - want));
            }
    }
    CHECK(wo <= 1e-5 && ws <= 1e-6 && wr <= 1e-6 && wd <= 1e-5,
          "batchnorm train %lldx%lldx%lld t=%d: out %.3g stats %.3g running %.3g grads %.3g", (long long)n,
          (long long)c, (long long)hw, threads, wo, ws, wr, wd);
    /* inference with the running stats, every activation, on every kernel path (the fused row pass) */
    for (int isa = 0; isa < VTAG_ISA_COUNT; isa++) {
        if (!vtag_isa_supported((vtag_isa)isa)) continue;
        ctx.isa = (vtag_isa)isa;
        for (int act = 0; act <= VTAG_ACT_HARDSWISH; act++) {
            vtag_batchnorm_forward_infer(&ctx, out, in, gamma, beta, rm, rv, &d, (vtag_act)act);
            double w = 0;
            for (int64_t k = 0; k < total; k++) {
                int64_t ch = k / hw % c;
                double y = (in[k] - rm[ch]) / sqrt(rv[ch] + 1e-5) * gamma[ch] + beta[ch];
                w = fmax(w, fabs(out[k] - ct_act(y, (vtag_act)act)));
            }
            CHECK(w <= 1e-5, "batchnorm infer %s act %d: %.3g", vtag_isa_name((vtag_isa)isa), act, w);
        }
    }
    printf("batchnorm %lldx%lldx%lld t=%d: out %.2e stats %.2e running %.2e grads %.2e\n", (long long)n,
           (long long)c, (long long)hw, threads, wo, ws, wr, wd);
    vtag_ctx_free(&ctx);
    free(in), free(out), free(gamma), free(beta), free(mean), free(invstd), free(rm), free(rv), free(g);
    free(din), free(dgamma), free(dbeta), free(rm0), free(rv0), free(din0), free(dg0), free(db0);
}

static void fold(vtag_rng *rng)
{
    vtag_conv2d_dims d = {2, 4, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 0};
    vtag_error err = {0};
    vtag_conv2d_plan(&d, &err);
    int64_t nin = 2 * 4 * 30, nw = 6 * 2 * 9, nout = 2 * 6 * 30;
    float *in = ct_alloc(nin), *w = ct_alloc(nw), *b = ct_alloc(6), *y = ct_alloc(nout), *z = ct_alloc(nout);
    float *gm = ct_alloc(6), *bt = ct_alloc(6), *mu = ct_alloc(6), *var = ct_alloc(6), *ref = ct_alloc(nout);
    ct_fill(in, nin, rng, -1, 1), ct_fill(w, nw, rng, -1, 1), ct_fill(b, 6, rng, -1, 1);
    ct_fill(gm, 6, rng, 0.5f, 2), ct_fill(bt, 6, rng, -1, 1), ct_fill(mu, 6, rng, -1, 1), ct_fill(var, 6, rng, 0.2f, 3);
    vtag_ctx ctx;
    vtag_ctx_init(&ctx, 2, 1, &err);
    float *ws = ct_alloc(vtag_conv2d_workspace(&d, 2));
    vtag_conv2d_forward(&ctx, y, in, w, b, &d, VTAG_ACT_NONE, ws);
    vtag_batchnorm_dims bd = {2, 6, 30, 1e-5f, 0.1f};
    vtag_batchnorm_forward_infer(&ctx, ref, y, gm, bt, mu, var, &bd, VTAG_ACT_RELU6);
    vtag_batchnorm_fold(w, b, 6, 2 * 9, gm, bt, mu, var, 1e-5f);
    vtag_conv2d_forward(&ctx, z, in, w, b, &d, VTAG_ACT_RELU6, ws);
    double rel = ct_rel(z, ref, nout);
    CHECK(rel <= 1e-5, "fold: conv+bn vs folded conv rel %.3g", rel);
    printf("fold: rel %.2e\n", rel);
    vtag_ctx_free(&ctx);
    free(in), free(w), free(b), free(y), free(z), free(gm), free(bt), free(mu), free(var), free(ref), free(ws);
}

static void activations(vtag_rng *rng)
{
    int64_t n = 100000; /* above the parallel threshold */
    float *x = ct_alloc(n), *y = ct_alloc(n), *z = ct_alloc(n);
    ct_fill(x, n, rng, -8, 8);
    ct_fill(z, n, rng, -8, 8);
    for (int act = 0; act <= VTAG_ACT_HARDSWISH; act++) {
        vtag_act_forward(y, x, n, (vtag_act)act, 2);
        double w = 0;
        for (int64_t i = 0; i < n; i++) w = fmax(w, fabs(y[i] - ct_act(x[i], (vtag_act)act)));
        CHECK(w <= 1e-6, "act %d forward: %.3g", act, w);
    }
    vtag_hardsigmoid_forward(y, x, n, 1.0f / 6.0f, 0.5f, 2);
    double w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs(y[i] - fmin(1, fmax(0, x[i] / 6.0 + 0.5))));
    CHECK(w <= 1e-6, "hardsigmoid: %.3g", w);
    vtag_sigmoid_forward(y, x, n, 2);
    w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs(y[i] - 1.0 / (1.0 + exp(-x[i]))));
    CHECK(w <= 1e-6, "sigmoid: %.3g", w);
    memcpy(y, x, (size_t)n * 4);
    vtag_add_forward(y, y, z, n, 2); /* out aliases a */
    w = 0;
    for (int64_t i = 0; i < n; i++) w = fmax(w, fabs(y[i] - ((double)x[i] + z[i])));
    CHECK(w <= 1e-6, "add: %.3g", w);
    free(x), free(y), free(z);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 31);
    vtag_isa paths[VTAG_ISA_COUNT];
    ct_paths(paths); /* inference runs on each */
    train_and_infer(3, 4, 25, 1, &rng);
    train_and_infer(8, 16, 49, 2, &rng); /* above the parallel threshold */
    train_and_infer(1, 3, 7, 2, &rng);
    fold(&rng);
    activations(&rng);
    return check_summary("cnn/test_batchnorm");
}

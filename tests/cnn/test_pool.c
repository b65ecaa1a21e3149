/* Pooling against the naive twins (cnn_test.h) on odd shapes: max with padding, dilation and
 * ceil_mode (values and argmax), average with both count_include_pad values, global average;
 * PyTorch's output-size rule; plan errors; 1 and 2 threads. Backwards are held to the twin's
 * scatter (max: by argmax; average: each input gets g/divisor from every window holding it). */
#include <stdio.h>

#include "cnn_test.h"

typedef struct pshape {
    const char *name;
    int64_t n, c, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
    int ceil, cip;
} pshape;

static const pshape shapes[] = {
    {"3x3 s2 p1 (resnet stem)", 2, 3, 13, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 1},
    {"3x3 s2 p1 ceil", 2, 3, 13, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 s2 p1 ceil cip0", 2, 3, 13, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},
    {"2x2 s2 ceil odd", 1, 2, 7, 9, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1},
    {"3x2 s(1,2) asym", 2, 2, 8, 9, 3, 2, 1, 2, 1, 0, 2, 1, 1, 1, 0, 0},
    {"3x3 s3 p1 ceil cip0", 1, 4, 10, 11, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0},
    {"5x5 s1 p2", 1, 2, 6, 5, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 0, 1},
    {"global-like 7x7", 3, 5, 7, 7, 7, 7, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1},
};

static void run(const pshape *s, vtag_rng *rng)
{
    for (int dil = 1; dil <= 2; dil++) {
        vtag_pool2d_dims d = {s->n, s->c, s->h, s->w, s->kh, s->kw, s->sh, s->sw, s->pt, s->pl, s->pb, s->pr,
                              dil == 2 ? 2 : s->dh, dil == 2 ? 2 : s->dw, s->ceil, s->cip, 0, 0};
        vtag_error err = {0};
        if (vtag_pool2d_plan(&d, &err) != 0) {
            CHECK(dil == 2, "%s: plan: %s", s->name, err.msg); /* dilation may make a shape impossible */
            continue;
        }
        int64_t ho = naive_pool_size(d.h, d.kh, d.pad_top, d.pad_bottom, d.stride_h, d.dil_h, d.ceil_mode);
        int64_t wo = naive_pool_size(d.w, d.kw, d.pad_left, d.pad_right, d.stride_w, d.dil_w, d.ceil_mode);
        CHECK(d.h_out == ho && d.w_out == wo, "%s: size %lldx%lld, expected %lldx%lld", s->name, (long long)d.h_out,
              (long long)d.w_out, (long long)ho, (long long)wo);
        int64_t nin = d.n * d.c * d.h * d.w, nout = d.n * d.c * d.h_out * d.w_out;
        float *in = ct_alloc(nin), *out = ct_alloc(nout), *ref = ct_alloc(nout), *g = ct_alloc(nout);
        float *din = ct_alloc(nin), *rdin = ct_alloc(nin);
        int32_t *arg = calloc((size_t)nout, sizeof *arg), *rarg = calloc((size_t)nout, sizeof *rarg);
        ct_fill(in, nin, rng, -1, 1);
        ct_fill(g, nout, rng, -1, 1);
        for (int threads = 1; threads <= 2; threads++) {
            vtag_ctx ctx;
            vtag_ctx_init(&ctx, threads, 1, &err);
            naive_maxpool(ref, rarg, in, &d);
            vtag_maxpool2d_forward(&ctx, out, arg, in, &d);
            CHECK(ct_rel(out, ref, nout) == 0.0 && !memcmp(arg, rarg, (size_t)nout * sizeof *arg),
                  "%s dil %d t=%d: max forward", s->name, dil, threads);
            /* without argmax (inference: the separable fast path when undilated) */
            for (int64_t i = 0; i < nout; i++) out[i] = NAN;
            vtag_maxpool2d_forward(&ctx, out, NULL, in, &d);
            CHECK(ct_rel(out, ref, nout) == 0.0, "%s dil %d t=%d: max forward without argmax", s->name, dil, threads);
            memset(din, 0, (size_t)nin * sizeof *din);
            memset(rdin, 0, (size_t)nin * sizeof *rdin);
            vtag_maxpool2d_backward(din, g, arg, &d);
            for (int64_t i = 0; i < nout; i++)
                rdin[(i / (d.h_out * d.w_out)) * d.h * d.w + rarg[i]] += g[i];
            CHECK(ct_rel(din, rdin, nin) <= 1e-6, "%s dil %d t=%d: max backward", s->name, dil, threads);
            if (dil == 1) {
                naive_avgpool(ref, in, &d);
                vtag_avgpool2d_forward(&ctx, out, in, &d);
                double rel = ct_rel(out, ref, nout);
                CHECK(rel <= 1e-6, "%s t=%d: avg forward rel %.3g", s->name, threads, rel);
                /* backward: the adjoint, checked as <avg(x), g> == <x, avg^T(g)> for the basis x = e_i */
                memset(din, 0, (size_t)nin * sizeof *din);
                vtag_avgpool2d_backward(din, g, &d);
                float *e = ct_alloc(nin);
                double worst = 0.0;
                for (int64_t i = 0; i < nin; i += 1 + nin / 97) {
                    memset(e, 0, (size_t)nin * sizeof *e);
                    e[i] = 1.0f;
                    naive_avgpool(ref, e, &d);
                    double want = 0.0;
                    for (int64_t j = 0; j < nout; j++) want += (double)ref[j] * g[j];
                    worst = fmax(worst, fabs(want - din[i]));
                }
                free(e);
                CHECK(worst <= 1e-5, "%s t=%d: avg backward off by %.3g", s->name, threads, worst);
            }
            vtag_ctx_free(&ctx);
        }
        printf("%-26s dil %d -> %lldx%lld ok\n", s->name, dil, (long long)d.h_out, (long long)d.w_out);
        free(in), free(out), free(ref), free(g), free(din), free(rdin), free(arg), free(rarg);
    }
}

static void sizes_and_errors(void)
{
    vtag_error err = {0};
    /* PyTorch: MaxPool2d(2, 2, ceil_mode=True) on 5 -> 3; with padding 1 the 4th window would start
     * in the right padding (at 6 >= 5 + 1), so it is 3 again. */
    vtag_pool2d_dims d = {1, 1, 5, 5, 2, 2, 2, 2, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0};
    CHECK(vtag_pool2d_plan(&d, &err) == 0 && d.h_out == 3 && d.w_out == 3, "ceil sizes %lld %lld", (long long)d.h_out,
          (long long)d.w_out);
    d = (vtag_pool2d_dims){1, 1, 5, 5, 3, 3, 1, 1, 3, 0, 0, 0, 1, 1, 0, 1, 0, 0};
    CHECK(vtag_pool2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "padding"), "pad >= kernel: %s", err.msg);
    d = (vtag_pool2d_dims){1, 1, 5, 5, 3, 3, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0};
    CHECK(vtag_pool2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "stride"), "stride 0: %s", err.msg);
    d = (vtag_pool2d_dims){1, 1, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0};
    CHECK(vtag_pool2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "exceeds"), "kernel > input: %s", err.msg);
}

static void global_avg(vtag_rng *rng)
{
    int64_t n = 3, c = 5, hw = 49;
    float *in = ct_alloc(n * c * hw), *out = ct_alloc(n * c), *g = ct_alloc(n * c), *din = ct_alloc(n * c * hw);
    ct_fill(in, n * c * hw, rng, -1, 1);
    ct_fill(g, n * c, rng, -1, 1);
    vtag_ctx ctx;
    vtag_error err = {0};
    vtag_ctx_init(&ctx, 2, 1, &err);
    vtag_global_avgpool_forward(&ctx, out, in, n, c, hw);
    vtag_global_avgpool_backward(din, g, n, c, hw);
    double worst = 0.0, worst_b = 0.0;
    for (int64_t r = 0; r < n * c; r++) {
        double s = 0.0;
        for (int64_t j = 0; j < hw; j++) {
            s += in[r * hw + j];
            worst_b = fmax(worst_b, fabs(din[r * hw + j] - g[r] / 49.0));
        }
        worst = fmax(worst, fabs(out[r] - s / 49.0));
    }
    CHECK(worst <= 1e-6 && worst_b <= 1e-7, "global avgpool: forward %.3g backward %.3g", worst, worst_b);
    vtag_ctx_free(&ctx);
    free(in), free(out), free(g), free(din);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 21);
    sizes_and_errors();
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run(&shapes[i], &rng);
    global_avg(&rng);
    return check_summary("cnn/test_pool");
}

/* vtag_conv2d_forward/backward against the direct 7-loop twin (cnn_test.h) on many odd shapes:
 * groups (incl. depthwise and channel multiplier 2), stride 2, dilation 2, asymmetric padding,
 * 1×1 (direct and merged), non-square kernels and planes, batches that merge into one GEMM in
 * uneven chunks; several position and depth blocks of conv_gemm.c; every fused activation;
 * backward adds into prefilled gradients; plan errors. Each on every kernel path this CPU runs
 * (the depthwise kernel and conv_gemm.c are compiled per path), with 1, 2 and 3 threads, whose
 * results must be identical to the bit. conv_gemm.c's kernel is also run directly on every
 * non-depthwise shape and path, the generic one included (whose strategy prefers im2col + OpenBLAS).
 * Tolerance: rel ≤ 1e-5 of the largest reference value. */
#include <stdio.h>

#include "cnn/cnn_internal.h"
#include "cnn_test.h"

#define TOL 1e-5

typedef struct shape {
    const char *name;
    int64_t n, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, g;
} shape;

static const shape shapes[] = {
    {"3x3 basic", 2, 3, 9, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"groups 2 stride 2", 3, 4, 10, 9, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},
    {"depthwise s1", 2, 6, 8, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6},
    {"depthwise s2", 2, 5, 13, 10, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5},
    {"depthwise no pad", 2, 4, 11, 8, 4, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 4},
    {"depthwise dil2 s(2,1) asym", 2, 3, 12, 9, 3, 3, 3, 2, 1, 2, 1, 0, 2, 2, 2, 3},
    {"depthwise 5x5 s2", 3, 4, 15, 14, 4, 5, 5, 2, 2, 2, 2, 2, 2, 1, 1, 4},
    {"channel multiplier 2", 2, 3, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},
    /* small planes, 16 channels at a time (and the channels past the last 16) */
    {"depthwise 16+3 ch 7x7", 2, 19, 7, 7, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 19},
    {"depthwise 32 ch s2 14x13", 2, 32, 14, 13, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 32},
    {"depthwise 16 ch dil2 asym", 1, 16, 9, 8, 16, 3, 3, 1, 2, 2, 0, 1, 2, 2, 1, 16},
    {"depthwise 48 ch 5x5 4x6", 3, 48, 4, 6, 48, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 48},
    {"dilation 2", 2, 4, 9, 9, 8, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1},
    {"dilation (2,3) stride (1,2)", 2, 3, 13, 17, 5, 3, 2, 1, 2, 1, 0, 2, 3, 2, 3, 1},
    {"1x1 groups 3", 3, 6, 7, 5, 9, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 3},
    {"1x1 merged batch", 5, 8, 4, 4, 7, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    {"1x1 large plane", 2, 5, 40, 33, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    {"1x1 stride 2", 2, 4, 9, 9, 6, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1},
    {"1x1 padded", 2, 4, 5, 6, 3, 1, 1, 1, 1, 1, 0, 2, 1, 1, 1, 1},
    {"asym pad 2x4 kernel", 2, 3, 12, 10, 5, 2, 4, 1, 2, 0, 1, 2, 3, 1, 1, 1},
    {"merge chunks 3+3+1", 7, 3, 20, 20, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"merge groups 2", 6, 4, 6, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"7x7 s2 p3 (stem)", 2, 3, 16, 16, 8, 7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1},
    {"kernel over small input", 1, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"1x1 plane", 3, 8, 1, 1, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2},
    /* 1×1s that widen (C_out ≥ 2·C_in): conv_gemm on AVX2 */
    {"1x1 widening", 3, 8, 9, 7, 40, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
    {"1x1 s2 widening groups 2", 2, 6, 11, 10, 14, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 2},
    /* more output channels than one position block's tiles, merged and strided */
    {"3x3 wide", 2, 5, 9, 8, 72, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 s2 wide merged", 5, 6, 6, 7, 130, 3, 3, 2, 2, 1, 0, 1, 2, 1, 1, 2},
    {"5x5 large plane (blocks)", 2, 3, 37, 41, 13, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1},
    {"3x3 deep K (k blocks)", 2, 40, 6, 5, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    /* K = 576: conv_gemm on AVX-512, im2col + OpenBLAS on AVX2 (cnn_conv_strategy) */
    {"3x3 s2 K 576", 2, 64, 9, 8, 10, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
};

#define MAX_THREADS 3
#define N_ACTS (VTAG_ACT_HARDSWISH + 1)

static int same(const float *a, const float *b, int64_t n) { return !memcmp(a, b, (size_t)n * sizeof *a); }

static void run_shape(const shape *s, const vtag_isa *paths, int npaths, vtag_rng *rng)
{
    vtag_conv2d_dims d = {s->n, s->cin, s->h, s->w, s->cout, s->kh, s->kw, s->sh, s->sw, s->pt, s->pl,
                          s->pb, s->pr, s->dh, s->dw, s->g, 0, 0};
    vtag_error err = {0};
    int rc = vtag_conv2d_plan(&d, &err);
    CHECK(rc == 0, "%s: plan: %s", s->name, err.msg);
    if (rc) return;
    int64_t nin = d.n * d.c_in * d.h * d.w, nw = d.c_out * (d.c_in / d.groups) * d.kh * d.kw;
    int64_t nout = d.n * d.c_out * d.h_out * d.w_out;
    float *in = ct_alloc(nin), *w = ct_alloc(nw), *b = ct_alloc(d.c_out), *dout = ct_alloc(nout);
    float *ref = ct_alloc(N_ACTS * nout), *out = ct_alloc(nout), *first = ct_alloc(N_ACTS * nout);
    float *din0 = ct_alloc(nin), *dw0 = ct_alloc(nw), *db0 = ct_alloc(d.c_out);
    float *rin = ct_alloc(nin), *rw = ct_alloc(nw), *rb = ct_alloc(d.c_out);
    float *gin = ct_alloc(nin), *gw = ct_alloc(nw), *gb = ct_alloc(d.c_out);
    float *gin1 = ct_alloc(nin), *gw1 = ct_alloc(nw), *gb1 = ct_alloc(d.c_out); /* one thread's */
    ct_fill(in, nin, rng, -1, 1);
    ct_fill(w, nw, rng, -1, 1);
    ct_fill(b, d.c_out, rng, -1, 1);
    ct_fill(dout, nout, rng, -1, 1);
    ct_fill(din0, nin, rng, -1, 1);
    ct_fill(dw0, nw, rng, -1, 1);
    ct_fill(db0, d.c_out, rng, -1, 1);
    for (int act = 0; act < N_ACTS; act++) /* one run without bias */
        naive_conv_forward(ref + act * nout, in, w, act == VTAG_ACT_RELU ? NULL : b, &d, (vtag_act)act);
    /* Backward reference: the twin adding into the same prefilled gradients. */
    memcpy(rin, din0, (size_t)nin * sizeof *rin);
    memcpy(rw, dw0, (size_t)nw * sizeof *rw);
    memcpy(rb, db0, (size_t)d.c_out * sizeof *rb);
    naive_conv_backward(rin, rw, rb, dout, in, w, &d);
    int64_t wsn = vtag_conv2d_workspace(&d, MAX_THREADS);
    CHECK(wsn >= 0, "%s: workspace %lld", s->name, (long long)wsn);
    float *ws = ct_alloc(wsn);

    for (int pi = 0; pi < npaths; pi++) {
        const vtag_isa isa = paths[pi];
        const char *path = vtag_isa_name(isa);
        cnn_conv_plan pl = cnn_conv_strategy(&d, isa);
        const char *how = pl.depthwise ? "depthwise" : pl.winograd ? "winograd" : pl.own_gemm ? "conv_gemm" : "gemm";
        const int blocked = !pl.depthwise; /* conv_gemm.c can run it */
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            vtag_ctx ctx;
            vtag_ctx_init(&ctx, threads, 1, &err);
            ctx.isa = isa;
            for (int act = 0; act < N_ACTS; act++) {
                const float *bias = act == VTAG_ACT_RELU ? NULL : b;
                for (int64_t i = 0; i < nout; i++) out[i] = NAN;
                vtag_conv2d_forward(&ctx, out, in, w, bias, &d, (vtag_act)act, ws);
                double rel = ct_rel(out, ref + act * nout, nout);
                CHECK(rel <= TOL, "%s %s t=%d act=%d: forward rel %.3g", s->name, path, threads, act, rel);
                if (threads == 1)
                    memcpy(first + act * nout, out, (size_t)nout * sizeof *out);
                else
                    CHECK(same(out, first + act * nout, nout), "%s %s act=%d: forward on %d threads differs from 1",
                          s->name, path, act, threads);
            }
            memcpy(gin, din0, (size_t)nin * sizeof *gin);
            memcpy(gw, dw0, (size_t)nw * sizeof *gw);
            memcpy(gb, db0, (size_t)d.c_out * sizeof *gb);
            vtag_conv2d_backward(&ctx, gin, gw, gb, dout, in, w, &d, ws);
            double ri = ct_rel(gin, rin, nin), rw_ = ct_rel(gw, rw, nw), rb_ = ct_rel(gb, rb, d.c_out);
            CHECK(ri <= TOL && rw_ <= TOL && rb_ <= TOL, "%s %s t=%d: backward rel din %.3g dw %.3g db %.3g", s->name,
                  path, threads, ri, rw_, rb_);
            if (threads == 1) {
                memcpy(gin1, gin, (size_t)nin * sizeof *gin);
                memcpy(gw1, gw, (size_t)nw * sizeof *gw);
                memcpy(gb1, gb, (size_t)d.c_out * sizeof *gb);
            } else {
                CHECK(same(gin, gin1, nin) && same(gw, gw1, nw) && same(gb, gb1, d.c_out),
                      "%s %s: backward on %d threads differs from 1", s->name, path, threads);
            }
            /* NULL gradients are skipped: din alone, dw alone. */
            memcpy(gin, din0, (size_t)nin * sizeof *gin);
            vtag_conv2d_backward(&ctx, gin, NULL, NULL, dout, in, w, &d, ws);
            ri = ct_rel(gin, rin, nin);
            memcpy(gw, dw0, (size_t)nw * sizeof *gw);
            vtag_conv2d_backward(&ctx, NULL, gw, NULL, dout, in, w, &d, ws);
            rw_ = ct_rel(gw, rw, nw);
            CHECK(ri <= TOL && rw_ <= TOL, "%s %s t=%d: backward alone rel din %.3g dw %.3g", s->name, path, threads,
                  ri, rw_);
            if (pl.own_gemm)
                CHECK(wsn >= VTAG_ISA_CALL(isa, cnn_conv_gemm_workspace)(&d, &pl, threads), "%s %s: conv_gemm workspace",
                      s->name, path);
            if (blocked) { /* conv_gemm.c directly, HardSwish after the bias, in a workspace of its own */
                cnn_conv_plan bp = pl;
                bp.own_gemm = 1;
                float *cws = ct_alloc(VTAG_ISA_CALL(isa, cnn_conv_gemm_workspace)(&d, &bp, threads));
                for (int64_t i = 0; i < nout; i++) out[i] = NAN;
                for (int64_t g = 0; g < bp.groups; g++)
                    VTAG_ISA_CALL(isa, cnn_conv_gemm)(threads, out, in, g, w + g * bp.cout_g * bp.k, b,
                                                      VTAG_ACT_HARDSWISH, &d, &bp, cws);
                free(cws);
                double rel = ct_rel(out, ref + VTAG_ACT_HARDSWISH * nout, nout);
                CHECK(rel <= TOL, "%s %s t=%d: conv_gemm rel %.3g", s->name, path, threads, rel);
            }
            vtag_ctx_free(&ctx);
        }
        printf("%-28s %-7s out %lldx%lldx%lld  ws %lld floats  %s  ok\n", s->name, path, (long long)d.c_out,
               (long long)d.h_out, (long long)d.w_out, (long long)wsn, how);
    }
    free(ws);
    free(in), free(w), free(b), free(dout), free(ref), free(out), free(first);
    free(din0), free(dw0), free(db0), free(rin), free(rw), free(rb), free(gin), free(gw), free(gb);
    free(gin1), free(gw1), free(gb1);
}

static void plan_errors(void)
{
    vtag_error err = {0};
    vtag_conv2d_dims ok = {1, 4, 5, 5, 6, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0};
    vtag_conv2d_dims d = ok;
    CHECK(vtag_conv2d_plan(&d, &err) == 0 && d.h_out == 3 && d.w_out == 3, "valid plan: %s", err.msg);
    d = ok, d.groups = 3;
    CHECK(vtag_conv2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "groups"), "groups: %s", err.msg);
    d = ok, d.kh = 7;
    CHECK(vtag_conv2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "exceeds"), "kernel: %s", err.msg);
    d = ok, d.stride_w = 0;
    CHECK(vtag_conv2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "stride"), "stride: %s", err.msg);
    d = ok, d.pad_right = -1;
    CHECK(vtag_conv2d_plan(&d, &err) == VTAG_ERR_ARG && strstr(err.msg, "padding"), "pad: %s", err.msg);
    d = ok, d.c_in = 0;
    CHECK(vtag_conv2d_plan(&d, &err) == VTAG_ERR_ARG, "c_in 0: %s", err.msg);
    d = ok, d.dil_h = 0;
    CHECK(vtag_conv2d_plan(&d, &err) == VTAG_ERR_ARG, "dilation 0: %s", err.msg);
    /* the output size formula, with asymmetric padding, stride and dilation */
    d = (vtag_conv2d_dims){1, 1, 10, 11, 1, 3, 2, 3, 2, 1, 0, 2, 1, 2, 3, 1, 0, 0};
    CHECK(vtag_conv2d_plan(&d, &err) == 0 && d.h_out == (10 + 3 - 5) / 3 + 1 && d.w_out == (11 + 1 - 4) / 2 + 1,
          "sizes %lld %lld", (long long)d.h_out, (long long)d.w_out);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    plan_errors();
    vtag_isa paths[VTAG_ISA_COUNT];
    int npaths = ct_paths(paths);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run_shape(&shapes[i], paths, npaths, &rng);
    return check_summary("cnn/test_conv");
}

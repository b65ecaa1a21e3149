/* The Winograd forward of winograd.c (chosen by vtag_conv2d_forward for 3×3, stride-1, undilated,
 * ungrouped convs with enough channels: F(4×4, 3×3) on output planes at least 16 wide, F(2×2, 3×3)
 * on narrower ones) against the direct 7-loop twin (cnn_test.h): odd planes (partial tiles in the
 * last row and column), padding 1, 0 and asymmetric, a 1×1 output, channel counts off the kernel's
 * 6-row tiles and 16-lane vectors, more than one 128-deep K pass, tile blocks that span tile rows
 * and images and tile rows longer than a block, tile runs off the 8-tile vectors of the F(4×4)
 * transforms, batch 1 and 3, every fused activation with and without bias; on every kernel path
 * this CPU runs (the GEMM micro-kernel is 6×64 AVX-512, 6×16 AVX2 or portable C; F(4×4)'s
 * transforms gather and scatter 8 tiles at a time on AVX2), each with 1, 2 and 3 threads, whose
 * outputs must be identical to the bit (a tile's result does not depend on the block it is in).
 *
 * Tolerance: rel of the largest reference value. F(2×2): 1e-5, the same as test_conv — with inputs
 * and weights uniform in [−1, 1] its transforms only add and halve, and the error stays a few ulps
 * of the output scale (measured ≤ 3e-6). F(4×4): 4e-5 — its transforms scale by up to 8 and 1/24
 * (points 0, ±1, ±2), which costs about a factor of 3–4 (measured ≤ 1.1e-5 here, printed per
 * shape); the torchvision backbones' parity (1e-4 on fc/att, tests/onnx/backbone_parity.c)
 * measured 2.0e-6 (resnet18) and 2.9e-6 (resnet50) with it, a wide margin. */
#include <stdio.h>

#include "cnn/cnn_internal.h"
#include "cnn_test.h"

#define TOL_F2 1e-5
#define TOL_F4 4e-5

typedef struct shape {
    const char *name;
    int64_t n, cin, h, w, cout, pt, pl, pb, pr;
} shape;

static const shape shapes[] = {
    {"odd 7x9 pad 1", 1, 17, 7, 9, 19, 1, 1, 1, 1},
    {"pad 0 batch 3", 3, 20, 11, 8, 23, 0, 0, 0, 0},
    {"asym pad (1,0,2,1)", 3, 16, 9, 10, 21, 1, 0, 2, 1},
    {"1x1 output", 3, 16, 3, 3, 16, 0, 0, 0, 0},
    {"blocks across images", 3, 16, 23, 21, 37, 1, 1, 1, 1},
    {"deep K (3 passes)", 1, 300, 5, 6, 17, 1, 1, 1, 1},
    {"tile row > block", 1, 18, 4, 151, 16, 1, 1, 1, 1},
    {"resnet 7x7 64ch", 3, 64, 7, 7, 64, 1, 1, 1, 1},
    {"resnet 14x14 64ch", 2, 64, 14, 14, 64, 1, 1, 1, 1},
    {"resnet 28x28 64ch", 1, 64, 28, 28, 64, 1, 1, 1, 1},
    {"F4 asym pad (1,0,2,1)", 2, 16, 17, 18, 20, 1, 0, 2, 1},
    {"runs off 8 tiles", 2, 24, 27, 45, 30, 1, 1, 1, 1},
};

static void run_shape(const shape *s, const vtag_isa *paths, int npaths, vtag_rng *rng)
{
    vtag_conv2d_dims d = {s->n, s->cin, s->h, s->w, s->cout, 3, 3, 1, 1, s->pt, s->pl, s->pb, s->pr, 1, 1, 1, 0, 0};
    vtag_error err = {0};
    int rc = vtag_conv2d_plan(&d, &err);
    CHECK(rc == 0, "%s: plan: %s", s->name, err.msg);
    if (rc) return;
    int64_t nin = d.n * d.c_in * d.h * d.w, nw = d.c_out * d.c_in * 9, nout = d.n * d.c_out * d.h_out * d.w_out;
    float *in = ct_alloc(nin), *w = ct_alloc(nw), *b = ct_alloc(d.c_out), *ref = ct_alloc(nout), *out = ct_alloc(nout);
    float *one = ct_alloc(nout); /* the one-thread output */
    ct_fill(in, nin, rng, -1, 1);
    ct_fill(w, nw, rng, -1, 1);
    ct_fill(b, d.c_out, rng, -1, 1);
    const int max_threads = 3;
    int64_t wsn = vtag_conv2d_workspace(&d, max_threads);
    float *ws = ct_alloc(wsn);
    printf("%-22s n%lld %lld->%lld %lldx%lld -> %lldx%lld  worst rel", s->name, (long long)d.n, (long long)d.c_in,
           (long long)d.c_out, (long long)d.h, (long long)d.w, (long long)d.h_out, (long long)d.w_out);
    for (int pi = 0; pi < npaths; pi++) {
        const vtag_isa isa = paths[pi];
        const char *path = vtag_isa_name(isa);
        CHECK(cnn_conv_strategy(&d, isa).winograd, "%s %s: not on the Winograd path", s->name, path);
        CHECK(wsn >= VTAG_ISA_CALL(isa, cnn_winograd_workspace)(&d, max_threads), "%s %s: workspace %lld", s->name,
              path, (long long)wsn);
        const double tol = d.w_out >= 16 ? TOL_F4 : TOL_F2;
        double worst = 0.0;
        for (int act = VTAG_ACT_NONE; act <= VTAG_ACT_HARDSWISH; act++) {
            const float *bias = act == VTAG_ACT_RELU ? NULL : b; /* one run without bias */
            naive_conv_forward(ref, in, w, bias, &d, (vtag_act)act);
            for (int threads = 1; threads <= max_threads; threads++) {
                vtag_ctx ctx;
                vtag_ctx_init(&ctx, threads, 1, &err);
                ctx.isa = isa;
                for (int64_t i = 0; i < nout; i++) out[i] = NAN;
                vtag_conv2d_forward(&ctx, out, in, w, bias, &d, (vtag_act)act, ws);
                vtag_ctx_free(&ctx);
                double rel = ct_rel(out, ref, nout);
                worst = rel > worst ? rel : worst;
                CHECK(rel <= tol, "%s %s t=%d act=%d: forward rel %.3g", s->name, path, threads, act, rel);
                if (threads == 1)
                    memcpy(one, out, (size_t)nout * sizeof *out);
                else
                    CHECK(!memcmp(one, out, (size_t)nout * sizeof *out), "%s %s act=%d: %d threads differ from 1",
                          s->name, path, act, threads);
            }
        }
        printf(" %s %.2g", path, worst);
    }
    printf("\n");
    free(ws);
    free(in), free(w), free(b), free(ref), free(out), free(one);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    vtag_isa paths[VTAG_ISA_COUNT];
    int npaths = ct_paths(paths);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run_shape(&shapes[i], paths, npaths, &rng);
    return check_summary("cnn/test_winograd");
}

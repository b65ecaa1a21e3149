/* The Winograd F(2×2, 3×3) forward of winograd.c (chosen by vtag_conv2d_forward for 3×3, stride-1,
 * undilated, ungrouped convs with enough channels) against the direct 7-loop twin (cnn_test.h):
 * odd planes (partial tiles in the last row and column), padding 1, 0 and asymmetric, a 1×1 output,
 * channel counts off the kernel's 6-row tiles and 16-lane vectors, more than one 128-deep K pass,
 * tile blocks that span tile rows and images and tile rows longer than a block, batch 1 and 3,
 * every fused activation with and without bias; on every kernel path this CPU runs (the GEMM
 * micro-kernel is 6×64 AVX-512, 6×16 AVX2 or portable C), each with 1, 2 and 3 threads, whose
 * outputs must be identical to the bit (threads split the work by whole tile blocks).
 *
 * Tolerance: rel ≤ 1e-5 of the largest reference value, the same as test_conv. With inputs and
 * weights uniform in [−1, 1] the transforms only add (the input transform sums up to 4 values, the
 * weight transform averages), so the products summed in the 16 GEMMs are at most ~9× those of the
 * direct conv and the output transform's 9-term sums cancel that back; the float error stays a
 * few ulps of the output scale — measured ≤ 3e-6 here (printed per shape), and the
 * torchvision backbones' parity (1e-4 on fc/att) leaves a wide margin. */
#include <stdio.h>

#include "cnn/cnn_internal.h"
#include "cnn_test.h"

#define TOL 1e-5

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
                CHECK(rel <= TOL, "%s %s t=%d act=%d: forward rel %.3g", s->name, path, threads, act, rel);
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

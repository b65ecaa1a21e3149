/* vtag_conv2d_backward on the shapes its batched strategy splits on (conv2d.c): images merged
 * into one GEMM in even and uneven chunks, a plane wide enough to run alone (spatial and direct
 * 1×1), groups, and the stride-1 convs whose data gradient runs as the transposed conv on the
 * forward's Winograd kernel (3×3 with symmetric, asymmetric and no padding, 16+ channels). Against
 * the direct twin (cnn_test.h), adding into prefilled gradients, din or dw alone, on every kernel
 * path this CPU runs, with 1, 2 and 3 threads that must agree to the bit. Tolerance: rel ≤ 1e-5 of
 * the largest reference value. */
#include <stdio.h>

#include "cnn/cnn_internal.h"
#include "cnn_test.h"

#define TOL 1e-5
#define MAX_THREADS 3

typedef struct shape {
    const char *name;
    int64_t n, cin, h, w, cout, kh, kw, sh, sw, pt, pl, pb, pr, g;
} shape;

static const shape shapes[] = {
    {"late 4x4 s2 batch 9", 9, 12, 8, 8, 20, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    {"8x8 chunks 32+32+31", 95, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"wide plane alone 3x3", 3, 3, 50, 47, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"wide plane alone 1x1", 3, 5, 48, 50, 6, 1, 1, 1, 1, 0, 0, 0, 0, 1},
    {"1x1 s2 merged groups 2", 7, 8, 10, 9, 12, 1, 1, 2, 2, 0, 0, 0, 0, 2},
    {"groups 2 merged uneven", 5, 6, 17, 13, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2},
    {"transposed 3x3 16->24", 3, 16, 9, 11, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"transposed 3x3 asym pad", 2, 17, 10, 8, 16, 3, 3, 1, 1, 0, 2, 2, 1, 1},
    {"transposed 3x3 no pad", 2, 20, 7, 9, 18, 3, 3, 1, 1, 0, 0, 0, 0, 1},
    {"transposed 3x3 32x32", 4, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},
};

static int same(const float *a, const float *b, int64_t n) { return !memcmp(a, b, (size_t)n * sizeof *a); }

static void run_shape(const shape *s, const vtag_isa *paths, int npaths, vtag_rng *rng)
{
    vtag_conv2d_dims d = {s->n, s->cin, s->h, s->w, s->cout, s->kh, s->kw, s->sh, s->sw, s->pt, s->pl,
                          s->pb, s->pr, 1, 1, s->g, 0, 0};
    vtag_error err = {0};
    int rc = vtag_conv2d_plan(&d, &err);
    CHECK(rc == 0, "%s: plan: %s", s->name, err.msg);
    if (rc) return;
    const int64_t nin = d.n * d.c_in * d.h * d.w, nw = d.c_out * (d.c_in / d.groups) * d.kh * d.kw;
    const int64_t nout = d.n * d.c_out * d.h_out * d.w_out;
    float *in = ct_alloc(nin), *w = ct_alloc(nw), *dout = ct_alloc(nout);
    float *din0 = ct_alloc(nin), *dw0 = ct_alloc(nw), *db0 = ct_alloc(d.c_out);
    float *rin = ct_alloc(nin), *rw = ct_alloc(nw), *rb = ct_alloc(d.c_out);
    float *gin = ct_alloc(nin), *gw = ct_alloc(nw), *gb = ct_alloc(d.c_out);
    float *gin1 = ct_alloc(nin), *gw1 = ct_alloc(nw), *gb1 = ct_alloc(d.c_out);
    ct_fill(in, nin, rng, -1, 1);
    ct_fill(w, nw, rng, -1, 1);
    ct_fill(dout, nout, rng, -1, 1);
    ct_fill(din0, nin, rng, -1, 1);
    ct_fill(dw0, nw, rng, -1, 1);
    ct_fill(db0, d.c_out, rng, -1, 1);
    memcpy(rin, din0, (size_t)nin * sizeof *rin);
    memcpy(rw, dw0, (size_t)nw * sizeof *rw);
    memcpy(rb, db0, (size_t)d.c_out * sizeof *rb);
    naive_conv_backward(rin, rw, rb, dout, in, w, &d);
    const int64_t wsn = vtag_conv2d_workspace(&d, MAX_THREADS);
    CHECK(wsn >= 0, "%s: workspace %lld", s->name, (long long)wsn);
    float *ws = ct_alloc(wsn > 0 ? wsn : 1);
    for (int pi = 0; pi < npaths; pi++) {
        const char *path = vtag_isa_name(paths[pi]);
        for (int threads = 1; threads <= MAX_THREADS; threads++) {
            vtag_ctx ctx;
            vtag_ctx_init(&ctx, threads, 1, &err);
            ctx.isa = paths[pi];
            memcpy(gin, din0, (size_t)nin * sizeof *gin);
            memcpy(gw, dw0, (size_t)nw * sizeof *gw);
            memcpy(gb, db0, (size_t)d.c_out * sizeof *gb);
            vtag_conv2d_backward(&ctx, gin, gw, gb, dout, in, w, &d, ws);
            double ri = ct_rel(gin, rin, nin), rw_ = ct_rel(gw, rw, nw), rb_ = ct_rel(gb, rb, d.c_out);
            CHECK(ri <= TOL && rw_ <= TOL && rb_ <= TOL, "%s %s t=%d: rel din %.3g dw %.3g db %.3g", s->name, path,
                  threads, ri, rw_, rb_);
            if (threads == 1) {
                memcpy(gin1, gin, (size_t)nin * sizeof *gin);
                memcpy(gw1, gw, (size_t)nw * sizeof *gw);
                memcpy(gb1, gb, (size_t)d.c_out * sizeof *gb);
            } else {
                CHECK(same(gin, gin1, nin) && same(gw, gw1, nw) && same(gb, gb1, d.c_out),
                      "%s %s: %d threads differ from 1", s->name, path, threads);
            }
            memcpy(gin, din0, (size_t)nin * sizeof *gin);
            vtag_conv2d_backward(&ctx, gin, NULL, NULL, dout, in, w, &d, ws);
            ri = ct_rel(gin, rin, nin);
            memcpy(gw, dw0, (size_t)nw * sizeof *gw);
            vtag_conv2d_backward(&ctx, NULL, gw, NULL, dout, in, w, &d, ws);
            rw_ = ct_rel(gw, rw, nw);
            CHECK(ri <= TOL && rw_ <= TOL, "%s %s t=%d: alone rel din %.3g dw %.3g", s->name, path, threads, ri, rw_);
            vtag_ctx_free(&ctx);
        }
        printf("%-26s %-7s ws %lld floats  ok\n", s->name, path, (long long)wsn);
    }
    free(ws);
    free(in), free(w), free(dout), free(din0), free(dw0), free(db0), free(rin), free(rw), free(rb);
    free(gin), free(gw), free(gb), free(gin1), free(gw1), free(gb1);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    vtag_isa paths[VTAG_ISA_COUNT];
    const int npaths = ct_paths(paths);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) run_shape(&shapes[i], paths, npaths, &rng);
    return check_summary("cnn/test_conv_backward");
}

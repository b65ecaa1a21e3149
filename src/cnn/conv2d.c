/* Conv2d over NCHW: im2col + vtag_gemm per group (out_g[Cout_g, P] = W_g[Cout_g, K] · col[K, P]),
 * with small output planes merged across images into one GEMM, 1×1 stride-1 convs reading the
 * input plane directly, depthwise convs on the direct kernel of depthwise.c, and the bias and
 * activation applied in one pass after each GEMM; on the AVX-512 path spatial convs (on AVX2 the
 * shallow ones, the stems, and widening 1×1s) run on conv_gemm.c's blocked kernel and, on every
 * path, resnet's stride-1 3×3s on winograd.c. The strategy and the kernels follow ctx->isa. */
#include <limits.h>
#include <string.h>

#include "cnn/cnn_internal.h"

/* A GEMM narrower than this many columns runs far below peak: late layers (7×7, 14×14 planes)
 * merge images until N reaches it. */
#define MERGE_COLS 1024

/* Set to 1 to run every conv on im2col + vtag_gemm (to compare the paths in benchmarks). */
#ifndef CNN_NO_OWN_GEMM
#define CNN_NO_OWN_GEMM 0
#endif

/* On AVX2, conv_gemm.c runs spatial and widening 1×1 convs with a GEMM depth below this (see
 * cnn_conv_strategy). */
#ifndef CNN_AVX2_OWN_GEMM_MAX_K
#define CNN_AVX2_OWN_GEMM_MAX_K 512
#endif

/* Winograd F(2×2, 3×3) for 3×3 stride-1 convs with at least this many input and output channels
 * (0 turns it off). */
#ifndef CNN_WINOGRAD_MIN_C
#define CNN_WINOGRAD_MIN_C 16
#endif

int vtag_conv2d_plan(vtag_conv2d_dims *d, vtag_error *err)
{
    if (d->n < 1 || d->c_in < 1 || d->h < 1 || d->w < 1 || d->c_out < 1 || d->kh < 1 || d->kw < 1)
        return vtag_fail(err, VTAG_ERR_ARG,
                         "conv2d: sizes must be positive (n %lld, c_in %lld, h %lld, w %lld, c_out %lld, "
                         "kernel %lldx%lld)",
                         (long long)d->n, (long long)d->c_in, (long long)d->h, (long long)d->w,
                         (long long)d->c_out, (long long)d->kh, (long long)d->kw);
    if (d->stride_h < 1 || d->stride_w < 1 || d->dil_h < 1 || d->dil_w < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: stride (%lld, %lld) and dilation (%lld, %lld) must be >= 1",
                         (long long)d->stride_h, (long long)d->stride_w, (long long)d->dil_h, (long long)d->dil_w);
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0)
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: negative padding (%lld, %lld, %lld, %lld)",
                         (long long)d->pad_top, (long long)d->pad_left, (long long)d->pad_bottom,
                         (long long)d->pad_right);
    if (d->groups < 1 || d->c_in % d->groups || d->c_out % d->groups)
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: groups %lld must be >= 1 and divide c_in %lld and c_out %lld",
                         (long long)d->groups, (long long)d->c_in, (long long)d->c_out);
    /* Every size below is checked: attributes of a hostile ONNX file reach here unfiltered. */
    int64_t eff_h, eff_w, ph, pw;
    if (vtag_mul_i64(d->dil_h, d->kh - 1, &eff_h) || vtag_add_i64(eff_h, 1, &eff_h) ||
        vtag_mul_i64(d->dil_w, d->kw - 1, &eff_w) || vtag_add_i64(eff_w, 1, &eff_w))
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: kernel %lldx%lld with dilation (%lld, %lld) overflows int64",
                         (long long)d->kh, (long long)d->kw, (long long)d->dil_h, (long long)d->dil_w);
    if (vtag_add_i64(d->h, d->pad_top, &ph) || vtag_add_i64(ph, d->pad_bottom, &ph) ||
        vtag_add_i64(d->w, d->pad_left, &pw) || vtag_add_i64(pw, d->pad_right, &pw))
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: input %lldx%lld with padding (%lld, %lld, %lld, %lld) overflows int64",
                         (long long)d->h, (long long)d->w, (long long)d->pad_top, (long long)d->pad_left,
                         (long long)d->pad_bottom, (long long)d->pad_right);
    if (eff_h > ph || eff_w > pw)
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: kernel extent %lldx%lld exceeds the padded input %lldx%lld",
                         (long long)eff_h, (long long)eff_w, (long long)ph, (long long)pw);
    d->h_out = (ph - eff_h) / d->stride_h + 1;
    d->w_out = (pw - eff_w) / d->stride_w + 1;
    /* The tensors the forward and backward touch, and the depthwise kernel's polyphase planes
     * (the padded plane rounded up to whole strides: counted for depthwise convs only, where a
     * stride past the input would make them huge), each within VTAG_CNN_MAX_ELEMENTS: then no
     * product the kernels or the workspace sizes form can overflow. */
    const int depthwise = d->groups > 1 && d->groups == d->c_in && d->groups == d->c_out;
    const int64_t hq = ph / d->stride_h + (ph % d->stride_h != 0), wq = pw / d->stride_w + (pw % d->stride_w != 0);
    int64_t in_n, out_n, k, w_n, p, col, plane_h, plane_w, plane;
    const int over =
        vtag_mul_i64(d->n, d->c_in, &in_n) || vtag_mul_i64(in_n, d->h, &in_n) || vtag_mul_i64(in_n, d->w, &in_n) ||
        vtag_mul_i64(d->h_out, d->w_out, &p) || vtag_mul_i64(d->n, d->c_out, &out_n) || vtag_mul_i64(out_n, p, &out_n) ||
        vtag_mul_i64(d->c_in / d->groups, d->kh, &k) || vtag_mul_i64(k, d->kw, &k) || vtag_mul_i64(d->c_out, k, &w_n) ||
        vtag_mul_i64(k, p, &col) || vtag_mul_i64(hq, depthwise ? d->stride_h : 1, &plane_h) ||
        vtag_mul_i64(wq, depthwise ? d->stride_w : 1, &plane_w) || vtag_mul_i64(plane_h, plane_w, &plane);
    if (over || in_n > VTAG_CNN_MAX_ELEMENTS || out_n > VTAG_CNN_MAX_ELEMENTS || w_n > VTAG_CNN_MAX_ELEMENTS ||
        col > VTAG_CNN_MAX_ELEMENTS || plane > VTAG_CNN_MAX_ELEMENTS)
        return vtag_fail(err, VTAG_ERR_ARG,
                         "conv2d: too large (input [%lld, %lld, %lld, %lld], output %lldx%lld, kernel %lldx%lld, "
                         "stride (%lld, %lld)): a tensor past %lld elements",
                         (long long)d->n, (long long)d->c_in, (long long)d->h, (long long)d->w, (long long)d->h_out,
                         (long long)d->w_out, (long long)d->kh, (long long)d->kw, (long long)d->stride_h,
                         (long long)d->stride_w, (long long)VTAG_CNN_MAX_ELEMENTS);
    /* GEMM sizes are BLAS ints; keep every matrix dimension (and a merged N) well inside. */
    if (k > INT_MAX / 2 || p > INT_MAX / 2 / d->n || d->h * d->w > INT_MAX / 2 || d->c_out > INT_MAX / 2)
        return vtag_fail(err, VTAG_ERR_ARG, "conv2d: too large (K %lld, %lld output positions)", (long long)k,
                         (long long)p);
    return VTAG_OK;
}

cnn_conv_plan cnn_conv_strategy(const vtag_conv2d_dims *d, vtag_isa isa)
{
    cnn_conv_plan pl;
    pl.groups = d->groups;
    pl.cin_g = d->c_in / d->groups;
    pl.cout_g = d->c_out / d->groups;
    pl.k = pl.cin_g * d->kh * d->kw;
    pl.p = d->h_out * d->w_out;
    pl.depthwise = d->groups > 1 && d->groups == d->c_in && d->groups == d->c_out;
    pl.direct_1x1 = d->kh == 1 && d->kw == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_top == 0 &&
                    d->pad_left == 0 && d->pad_bottom == 0 && d->pad_right == 0;
    /* Merge enough images to reach MERGE_COLS, in chunks of equal size. */
    int64_t want = pl.p >= MERGE_COLS ? 1 : (MERGE_COLS + pl.p - 1) / pl.p;
    if (want > d->n) want = d->n;
    int64_t chunks = (d->n + want - 1) / want;
    pl.nb = (d->n + chunks - 1) / chunks;
    /* Measured (bench_cnn, batch 8): on AVX-512 (one thread, CPU time) the blocked kernel beats
     * im2col + OpenBLAS on spatial kernels — resnet18's 7×7 stem 1.3×, its 64-channel 3×3s 1.1×,
     * 128–512 channels 1.0–1.05× — and loses on 1×1s, which stay on OpenBLAS. On AVX2 (Zen 3) it
     * wins where the GEMM is shallow — resnet18's 7×7 stem (K = 147) 1.15×, mobilenet_v2's stem
     * (K = 27) 1.3× — and on 1×1s that widen (C_out ≥ 2·C_in: mobilenet_v2's expansions, resnet18's
     * stride-2 shortcuts, 1.05–1.35×: the output block gets bias and activation while in cache,
     * which pays for copying the input into panels), but from K = 576 (resnet18's stride-2 3×3s)
     * OpenBLAS's assembly kernel is 5–10% ahead on one thread and level on two, and on 1×1s that
     * narrow (mobilenet_v2's projections) it is up to 1.6× ahead. The generic path's kernel is
     * portable C, far below OpenBLAS's own AVX2 kernels. */
    const int spatial = !pl.depthwise && d->kh * d->kw > 1;
    const int widening_1x1 = !pl.depthwise && d->kh * d->kw == 1 && pl.cout_g >= 2 * pl.cin_g;
    pl.own_gemm = !CNN_NO_OWN_GEMM && ((isa == VTAG_ISA_AVX512 && spatial) ||
                                       (isa == VTAG_ISA_AVX2 && (spatial || widening_1x1) &&
                                        pl.k < CNN_AVX2_OWN_GEMM_MAX_K));
    pl.winograd = CNN_WINOGRAD_MIN_C > 0 && d->groups == 1 && d->kh == 3 && d->kw == 3 && d->stride_h == 1 &&
                  d->stride_w == 1 && d->dil_h == 1 && d->dil_w == 1 && d->c_in >= CNN_WINOGRAD_MIN_C &&
                  d->c_out >= CNN_WINOGRAD_MIN_C;
    return pl;
}

/* The scratch the forward of path isa needs. */
static int64_t forward_workspace(const vtag_conv2d_dims *d, int threads, vtag_isa isa)
{
    const cnn_conv_plan pl = cnn_conv_strategy(d, isa);
    /* The GEMM path threads inside one GEMM, so its scratch does not grow with threads; the
     * depthwise kernel gives each thread its own plane. */
    if (pl.depthwise) return VTAG_ISA_CALL(isa, cnn_depthwise_workspace)(d, threads);
    if (pl.winograd) return VTAG_ISA_CALL(isa, cnn_winograd_workspace)(d, threads);
    if (pl.own_gemm) return VTAG_ISA_CALL(isa, cnn_conv_gemm_workspace)(d, &pl, threads);
    if (pl.direct_1x1 && pl.nb == 1) return 0;
    int64_t n = pl.k * pl.nb * pl.p;               /* col */
    if (pl.nb > 1) n += pl.cout_g * pl.nb * pl.p; /* merged output */
    return n;
}

static int64_t backward_workspace(const vtag_conv2d_dims *d, int threads);

/* The largest over the paths, so that a caller need not know which path its context runs. */
int64_t vtag_conv2d_workspace(const vtag_conv2d_dims *d, int threads)
{
    int64_t fwd = 0;
    for (int isa = 0; isa < VTAG_ISA_COUNT; isa++) {
        int64_t n = forward_workspace(d, threads, (vtag_isa)isa);
        if (n > fwd) fwd = n;
    }
    const int64_t bwd = backward_workspace(d, threads);
    return fwd > bwd ? fwd : bwd;
}

/* out[n0 + j, g·cout_g + o, :] = act(src(j, o) + b), for the nb images and cout_g channels of a group. */
static void epilogue(int threads, vtag_isa isa, float *out, const float *src, int64_t src_ld, int64_t nb, int64_t g,
                     const float *b, const vtag_conv2d_dims *d, const cnn_conv_plan *pl, vtag_act act)
{
    const int64_t rows = nb * pl->cout_g, p = pl->p;
    if (src == out && !b && act == VTAG_ACT_NONE) return;
#pragma omp parallel for num_threads(threads) if (rows * p > CNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t j = r / pl->cout_g, o = r % pl->cout_g, co = g * pl->cout_g + o;
        float *dst = out + (j * d->c_out + co) * p;
        const float *s = src == out ? dst : src + o * src_ld + j * p;
        VTAG_ISA_CALL(isa, cnn_bias_act_row)(dst, s, p, b ? b[co] : 0.0f, act);
    }
}

void vtag_conv2d_forward(const vtag_ctx *ctx, float *out, const float *in, const float *w,
                         const float *b, const vtag_conv2d_dims *d, vtag_act act, float *ws)
{
    const vtag_isa isa = ctx->isa;
    const cnn_conv_plan pl = cnn_conv_strategy(d, isa);
    const int threads = ctx->threads;
    if (pl.depthwise) {
        VTAG_ISA_CALL(isa, cnn_depthwise_forward)(threads, out, in, w, b, d, act, ws);
        return;
    }
    if (pl.winograd) {
        VTAG_ISA_CALL(isa, cnn_winograd_forward)(threads, out, in, w, b, act, d, ws);
        return;
    }
    const int64_t hw = d->h * d->w, p = pl.p, k = pl.k;
    if (pl.own_gemm) {
        for (int64_t g = 0; g < pl.groups; g++)
            VTAG_ISA_CALL(isa, cnn_conv_gemm)(threads, out, in, g, w + g * pl.cout_g * k, b, act, d, &pl, ws);
        return;
    }
    float *col = ws, *merged = ws + k * pl.nb * p; /* [K, nb·P], [Cout_g, nb·P] */
    for (int64_t n0 = 0; n0 < d->n; n0 += pl.nb) {
        const int64_t nb = d->n - n0 < pl.nb ? d->n - n0 : pl.nb;
        const float *in_n = in + n0 * d->c_in * hw;  /* [nb, Cin, H, W] */
        float *out_n = out + n0 * d->c_out * p;        /* [nb, Cout, Ho, Wo] */
        for (int64_t g = 0; g < pl.groups; g++) {
            const float *wg = w + g * pl.cout_g * k; /* [Cout_g, K] */
            float *og = out_n + g * pl.cout_g * p;   /* [Cout_g, P] of image n0 */
            if (nb == 1 && pl.direct_1x1) {
                vtag_gemm(ctx, 0, 0, pl.cout_g, p, k, 1.0f, wg, k, in_n + g * pl.cin_g * hw, hw, 0.0f, og, p);
                epilogue(threads, isa, out_n, out_n, 0, 1, g, b, d, &pl, act);
                continue;
            }
            float *c = nb == 1 ? og : merged; /* [Cout_g, nb·P] */
            cnn_im2col(threads, col, nb * p, in_n, nb, g * pl.cin_g, d);
            vtag_gemm(ctx, 0, 0, pl.cout_g, nb * p, k, 1.0f, wg, k, col, nb * p, 0.0f, c, nb * p);
            epilogue(threads, isa, out_n, c, nb * p, nb, g, b, d, &pl, act);
        }
    }
}

/* The backward merges images until its GEMMs have this many columns: one image of a late
 * layer (8×8, 4×4 planes) gives the dW product an inner dimension of 64 or 16. */
#define BWD_MERGE_COLS 2048

/* Images per backward chunk: equal chunks of at least BWD_MERGE_COLS columns. */
static int64_t backward_images(const vtag_conv2d_dims *d, const cnn_conv_plan *pl)
{
    int64_t want = pl->p >= BWD_MERGE_COLS ? 1 : (BWD_MERGE_COLS + pl->p - 1) / pl->p;
    if (want > d->n) want = d->n;
    const int64_t chunks = (d->n + want - 1) / want;
    return (d->n + chunks - 1) / chunks;
}

/* The data gradient of a stride-1, undilated, ungrouped spatial conv is itself such a conv: of
 * dout, with the kernel flipped and its channels transposed, padded by k−1−pad on each side.
 * Then it runs on the forward's kernels (Winograd for 3×3s) instead of a GEMM into a column
 * matrix nine times the input and col2im's scatter. *t: those dims, when this holds. */
static int transposed_dims(const vtag_conv2d_dims *d, vtag_conv2d_dims *t)
{
    if (d->groups != 1 || d->stride_h != 1 || d->stride_w != 1 || d->dil_h != 1 || d->dil_w != 1 ||
        d->kh * d->kw == 1 || d->pad_top >= d->kh || d->pad_bottom >= d->kh || d->pad_left >= d->kw ||
        d->pad_right >= d->kw)
        return 0;
    *t = *d;
    t->c_in = d->c_out, t->c_out = d->c_in, t->h = d->h_out, t->w = d->w_out;
    t->pad_top = d->kh - 1 - d->pad_top, t->pad_bottom = d->kh - 1 - d->pad_bottom;
    t->pad_left = d->kw - 1 - d->pad_left, t->pad_right = d->kw - 1 - d->pad_right;
    if (vtag_conv2d_plan(t, NULL) || t->h_out != d->h || t->w_out != d->w) return 0;
    return cnn_conv_strategy(t, VTAG_ISA_GENERIC).winograd; /* the same on every path */
}

/* The larger of the two phases: the data gradient (the transposed conv's output, its weights
 * and its forward's scratch on any path, or col reused as dcol) and the weight gradient (col of
 * a chunk [K, nb·P] and, when several images merge, their dout gathered into [Cout_g, nb·P]). */
static int64_t backward_workspace(const vtag_conv2d_dims *d, int threads)
{
    const cnn_conv_plan pl = cnn_conv_strategy(d, VTAG_ISA_GENERIC); /* the same on every path */
    const int64_t nb = backward_images(d, &pl);
    int64_t n = nb == 1 ? (pl.direct_1x1 ? 0 : pl.k * pl.p) : (pl.k + pl.cout_g) * nb * pl.p;
    vtag_conv2d_dims t;
    if (transposed_dims(d, &t)) {
        int64_t fwd = 0;
        for (int isa = 0; isa < VTAG_ISA_COUNT; isa++) {
            const int64_t f = forward_workspace(&t, threads, (vtag_isa)isa);
            if (f > fwd) fwd = f;
        }
        const int64_t dx = d->n * d->c_in * d->h * d->w + d->c_out * pl.k + fwd;
        if (dx > n) n = dx;
    }
    return n;
}

/* din += conv(dout, flipped wᵀ) (transposed_dims). */
static void backward_data_transposed(const vtag_ctx *ctx, float *din, const float *dout, const float *w,
                                     const vtag_conv2d_dims *d, const vtag_conv2d_dims *t, float *ws)
{
    const int64_t kk = d->kh * d->kw, in_n = d->n * d->c_in * d->h * d->w;
    float *tmp = ws, *wt = ws + in_n, *fws = wt + d->c_out * d->c_in * kk; /* [n, Cin, H, W], [Cin, Cout, kh, kw] */
    for (int64_t ci = 0; ci < d->c_in; ci++)
        for (int64_t co = 0; co < d->c_out; co++) {
            const float *src = w + (co * d->c_in + ci) * kk;
            float *dst = wt + (ci * d->c_out + co) * kk;
            for (int64_t j = 0; j < kk; j++) dst[j] = src[kk - 1 - j];
        }
    vtag_conv2d_forward(ctx, tmp, dout, wt, NULL, t, VTAG_ACT_NONE, fws);
    vtag_add_forward(din, din, tmp, in_n, ctx->threads);
}

/* dW_g += dout_g · colᵀ and din += col2im(W_gᵀ · dout_g), with dout_g and col spanning nb
 * images at once: two GEMMs per chunk and group rather than two per image. */
void vtag_conv2d_backward(const vtag_ctx *ctx, float *din, float *dw, float *db, const float *dout,
                          const float *in, const float *w, const vtag_conv2d_dims *d, float *ws)
{
    const cnn_conv_plan pl = cnn_conv_strategy(d, ctx->isa);
    const int threads = ctx->threads;
    const int64_t hw = d->h * d->w, p = pl.p, k = pl.k;
    if (db) {
        /* One channel per iteration, summed over all images: no two threads write one db[o]. */
#pragma omp parallel for num_threads(threads) if (d->n * d->c_out * p > CNN_PAR_MIN) schedule(static)
        for (int64_t o = 0; o < d->c_out; o++) {
            double s = 0.0;
            for (int64_t n = 0; n < d->n; n++) {
                const float *g = dout + (n * d->c_out + o) * p;
                float part = 0.0f;
                for (int64_t i = 0; i < p; i++) part += g[i];
                s += part;
            }
            db[o] += (float)s;
        }
    }
    vtag_conv2d_dims t;
    if (din && transposed_dims(d, &t)) {
        backward_data_transposed(ctx, din, dout, w, d, &t, ws);
        din = NULL;
    }
    if (!din && !dw) return;
    const int64_t nbmax = backward_images(d, &pl);
    float *col = ws, *packed = ws + k * nbmax * p; /* [K, nb·P] (then dcol), [Cout_g, nb·P] */
    for (int64_t n0 = 0; n0 < d->n; n0 += nbmax) {
        const int64_t nb = d->n - n0 < nbmax ? d->n - n0 : nbmax, cols = nb * p;
        const float *in_n = in + n0 * d->c_in * hw; /* [nb, Cin, H, W] */
        float *din_n = din ? din + n0 * d->c_in * hw : NULL;
        for (int64_t g = 0; g < pl.groups; g++) {
            const float *wg = w + g * pl.cout_g * k;                       /* [Cout_g, K] */
            const float *dout_g = dout + (n0 * d->c_out + g * pl.cout_g) * p; /* [Cout_g, P] of image n0 */
            int64_t ldd = p;
            if (nbmax > 1) {
#pragma omp parallel for num_threads(threads) if (pl.cout_g * cols > CNN_PAR_MIN) schedule(static)
                for (int64_t r = 0; r < pl.cout_g * nb; r++) {
                    const int64_t o = r / nb, j = r % nb;
                    memcpy(packed + o * cols + j * p, dout_g + (j * d->c_out + o) * p, (size_t)p * sizeof *packed);
                }
                dout_g = packed, ldd = cols;
            }
            if (nb == 1 && nbmax == 1 && pl.direct_1x1) {
                const float *in_g = in_n + g * pl.cin_g * hw; /* [K, P] */
                if (dw) vtag_gemm(ctx, 0, 1, pl.cout_g, k, p, 1.0f, dout_g, p, in_g, hw, 1.0f, dw + g * pl.cout_g * k, k);
                if (din_n)
                    vtag_gemm(ctx, 1, 0, k, p, pl.cout_g, 1.0f, wg, k, dout_g, p, 1.0f, din_n + g * pl.cin_g * hw, p);
                continue;
            }
            if (dw) {
                cnn_im2col(threads, col, cols, in_n, nb, g * pl.cin_g, d);
                /* dW_g[Cout_g, K] += dout_g · colᵀ */
                vtag_gemm(ctx, 0, 1, pl.cout_g, k, cols, 1.0f, dout_g, ldd, col, cols, 1.0f, dw + g * pl.cout_g * k, k);
            }
            if (din_n) {
                /* dcol[K, nb·P] = W_gᵀ · dout_g, then scattered back onto the input planes. */
                vtag_gemm(ctx, 1, 0, k, cols, pl.cout_g, 1.0f, wg, k, dout_g, ldd, 0.0f, col, cols);
                cnn_col2im(threads, din_n, nb, g * pl.cin_g, col, cols, d);
            }
        }
    }
}

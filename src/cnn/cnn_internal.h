/* Helpers shared by the CNN layers of src/cnn: the conv strategy, im2col/col2im,
 * the direct depthwise kernel and the fused bias + activation pass. */
#ifndef VTAG_CNN_INTERNAL_H
#define VTAG_CNN_INTERNAL_H

#include <stdint.h>

#include "core/isa.h"
#include "vtag/cnn.h"

/* Below this many elements a parallel region costs more than it saves. */
#define CNN_PAR_MIN 32768

/* How vtag_conv2d_forward/backward run a given shape on kernel path `isa` (conv2d.c). */
typedef struct cnn_conv_plan {
    int64_t groups, cin_g, cout_g;
    int64_t k;       /* GEMM depth: cin_g·kh·kw */
    int64_t p;       /* output positions per image: h_out·w_out */
    int depthwise;   /* groups == c_in == c_out: the direct kernel of depthwise.c */
    int direct_1x1;  /* 1×1, stride 1, no padding: the input plane is the GEMM's B */
    int64_t nb;      /* images merged into one GEMM's N (forward) */
    int own_gemm;    /* forward on conv_gemm.c's kernel rather than im2col + vtag_gemm */
    int winograd;    /* forward on winograd.c's F(2×2, 3×3) */
} cnn_conv_plan;

cnn_conv_plan cnn_conv_strategy(const vtag_conv2d_dims *d, vtag_isa isa);

/* col[r, j·p + q] (row stride ld) for the r = (c, kh, kw) rows of channels
 * c0 .. c0+cin_g-1 of images 0..nb-1 of `in` (which points at the first image). */
void cnn_im2col(int threads, float *col, int64_t ld, const float *in, int64_t nb, int64_t c0,
                const vtag_conv2d_dims *d);
/* The adjoint of cnn_im2col: din[j, c0 + c, ...] += col for images j < nb (image j's columns
 * start at col + j·p, row stride ld). */
void cnn_col2im(int threads, float *din, int64_t nb, int64_t c0, const float *col, int64_t ld,
                const vtag_conv2d_dims *d);

/* The kernels below are compiled once per path (core/isa.h: depthwise.c, conv_gemm.c and
 * winograd.c are in VTAG_ISA_SOURCES) and called as VTAG_ISA_CALL(isa, name)(...). Each path
 * sizes its own workspace (conv_gemm's panel width differs per path); vtag_conv2d_workspace
 * takes the largest over the paths. For one path the results do not depend on the thread count:
 * threads split the work by whole output blocks, never a sum. */

/* groups == c_in == c_out, any kernel, stride, padding and dilation; ws holds
 * cnn_depthwise_workspace(d, threads) floats. */
VTAG_ISA_DECLARE(int64_t, cnn_depthwise_workspace, (const vtag_conv2d_dims *d, int threads));
VTAG_ISA_DECLARE(void, cnn_depthwise_forward, (int threads, float *out, const float *in, const float *w,
                                               const float *b, const vtag_conv2d_dims *d, vtag_act act,
                                               float *ws));

/* The blocked conv forward of group g (conv_gemm.c): out[n, g·cout_g + o, :] =
 * act(bias + Σ_r w[o, r] · col_n[r, :]) for the whole batch (w: the group's [cout_g, K] weights),
 * over blocks of positions across images; ws holds cnn_conv_gemm_workspace floats. A register-tiled
 * micro-kernel on AVX-512 and AVX2; portable C on the generic path, where the strategy prefers
 * im2col + OpenBLAS (tests call it directly). */
VTAG_ISA_DECLARE(int64_t, cnn_conv_gemm_workspace, (const vtag_conv2d_dims *d, const cnn_conv_plan *pl,
                                                    int threads));
VTAG_ISA_DECLARE(void, cnn_conv_gemm, (int threads, float *out, const float *in, int64_t g, const float *w,
                                       const float *bias, vtag_act act, const vtag_conv2d_dims *d,
                                       const cnn_conv_plan *pl, float *ws));

/* 3×3, stride 1, dilation 1, groups 1, any padding (winograd.c): out = act(conv(in, w) + bias);
 * ws holds cnn_winograd_workspace(d, threads) floats. */
VTAG_ISA_DECLARE(int64_t, cnn_winograd_workspace, (const vtag_conv2d_dims *d, int threads));
VTAG_ISA_DECLARE(void, cnn_winograd_forward, (int threads, float *out, const float *in, const float *w,
                                              const float *bias, vtag_act act, const vtag_conv2d_dims *d,
                                              float *ws));

/* dst[i] = act(src[i] + bias), i < n (dst may be src); per path (bias_act.c): a kernel calls its
 * own path's, VTAG_ISA_FN(cnn_bias_act_row). */
VTAG_ISA_DECLARE(void, cnn_bias_act_row, (float *dst, const float *src, int64_t n, float bias, vtag_act act));

#endif

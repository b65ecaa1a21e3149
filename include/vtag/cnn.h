/* Convolutional layers for the image backbones (SPEC §7), over NCHW float
 * tensors — the layout of PyTorch and ONNX, so weights load without
 * reordering. Same conventions as nn.h: forward/backward pairs of plain
 * functions, backward ADDS into every gradient it writes, a NULL gradient
 * pointer is skipped, shapes are int64_t and every kernel has a naive twin in
 * the tests.
 *
 * Scratch memory is passed in by the caller (sized by the *_workspace
 * functions) so that a layer never allocates and never fails at run time;
 * shapes are validated once, by the *_plan functions. */
#ifndef VTAG_CNN_H
#define VTAG_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation fused into a forward pass (conv, batchnorm inference). */
typedef enum vtag_act {
    VTAG_ACT_NONE = 0,
    VTAG_ACT_RELU = 1,
    VTAG_ACT_RELU6 = 2,     /* min(max(x, 0), 6) */
    VTAG_ACT_HARDSWISH = 3, /* x · min(max(x + 3, 0), 6) / 6 */
} vtag_act;

/* The most elements a *_plan accepts in any one tensor it implies: the input,
 * the output, the weights, one image's im2col matrix, the padded input plane
 * (rounded up to whole strides). 2^36 floats are 256 GiB; resnet50's largest
 * tensor at batch 256 is 2^27.6. Every size a plan computes is checked
 * (vtag_mul_i64, vtag_add_i64): a shape past int64 or past this limit is
 * VTAG_ERR_ARG, so that the forward and workspace arithmetic cannot overflow. */
#define VTAG_CNN_MAX_ELEMENTS ((int64_t)1 << 36)

/* ---- Conv2d --------------------------------------------------------------------
 * out[N, Cout, Ho, Wo] = Σ w[Cout, Cin/groups, KH, KW] ⋆ in[N, Cin, H, W] + b[Cout]
 * Ho = (H + pad_top + pad_bottom − dil_h·(KH−1) − 1) / stride_h + 1 (floor), W alike.
 * Padding is zeros. Cin and Cout must be divisible by groups. */
typedef struct vtag_conv2d_dims {
    int64_t n, c_in, h, w;           /* input */
    int64_t c_out, kh, kw;           /* weight [c_out, c_in/groups, kh, kw] */
    int64_t stride_h, stride_w;      /* >= 1 */
    int64_t pad_top, pad_left, pad_bottom, pad_right; /* >= 0 */
    int64_t dil_h, dil_w;            /* >= 1 */
    int64_t groups;                  /* >= 1 */
    int64_t h_out, w_out;            /* set by vtag_conv2d_plan */
} vtag_conv2d_dims;

/* Fills d->h_out, d->w_out; VTAG_ERR_ARG (with the reason) for an impossible shape. */
int vtag_conv2d_plan(vtag_conv2d_dims *d, vtag_error *err);
/* Floats of scratch that forward and backward need with `threads` threads. */
int64_t vtag_conv2d_workspace(const vtag_conv2d_dims *d, int threads);
/* b may be NULL. act is applied after the bias. */
void vtag_conv2d_forward(const vtag_ctx *ctx, float *out, const float *in, const float *w,
                         const float *b, const vtag_conv2d_dims *d, vtag_act act, float *ws);
/* din[N,Cin,H,W] +=, dw[Cout,Cin/g,KH,KW] +=, db[Cout] += (no fused activation:
 * run the activation's own backward first). */
void vtag_conv2d_backward(const vtag_ctx *ctx, float *din, float *dw, float *db, const float *dout,
                          const float *in, const float *w, const vtag_conv2d_dims *d, float *ws);

/* ---- BatchNorm2d (PyTorch semantics) --------------------------------------------
 * Training: per channel over N·H·W, mean and biased variance normalise;
 * running stats are updated with `momentum` using the UNBIASED variance:
 * running = (1 − momentum)·running + momentum·batch. Inference uses the
 * running stats. eps default 1e-5, momentum default 0.1. */
typedef struct vtag_batchnorm_dims {
    int64_t n, c, hw;
    float eps, momentum;
} vtag_batchnorm_dims;

/* save_mean[C], save_invstd[C] are written for the backward pass;
 * running_mean/var may be NULL (not updated). */
void vtag_batchnorm_forward_train(const vtag_ctx *ctx, float *out, float *save_mean,
                                  float *save_invstd, float *running_mean, float *running_var,
                                  const float *in, const float *gamma, const float *beta,
                                  const vtag_batchnorm_dims *d);
void vtag_batchnorm_forward_infer(const vtag_ctx *ctx, float *out, const float *in,
                                  const float *gamma, const float *beta, const float *mean,
                                  const float *var, const vtag_batchnorm_dims *d, vtag_act act);
/* Training-mode backward: din +=, dgamma +=, dbeta +=. */
void vtag_batchnorm_backward(const vtag_ctx *ctx, float *din, float *dgamma, float *dbeta,
                             const float *dout, const float *in, const float *gamma,
                             const float *save_mean, const float *save_invstd,
                             const vtag_batchnorm_dims *d);
/* Training-mode forward with what follows it in a residual block fused into its output pass:
 * out = act(bn(in) + res); res [N,C,H·W] may be NULL. */
void vtag_batchnorm_forward_train_act(const vtag_ctx *ctx, float *out, float *save_mean, float *save_invstd,
                                      float *running_mean, float *running_var, const float *in, const float *gamma,
                                      const float *beta, const float *res, vtag_act act,
                                      const vtag_batchnorm_dims *d);
/* Training-mode backward of y = relu(bn(in) [+ res]) from the gradient at y, in one pass over
 * the statistics and one over din: dy = dout where relu_out (y) > 0, else 0; relu_out NULL: plain
 * BN. din is WRITTEN (=, no buffer to zero first); dgamma +=, dbeta +=. */
void vtag_batchnorm_relu_backward(const vtag_ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
                                  const float *relu_out, const float *in, const float *gamma,
                                  const float *save_mean, const float *save_invstd, const vtag_batchnorm_dims *d);
/* Folds an inference BatchNorm into the conv before it:
 * w[o,…] *= g[o]/sqrt(var[o]+eps);  b[o] = (b[o] − mean[o])·g[o]/sqrt(var[o]+eps) + beta[o].
 * b must exist (zeros when the conv had none); per_out = Cin/groups·KH·KW. */
void vtag_batchnorm_fold(float *w, float *b, int64_t c_out, int64_t per_out, const float *gamma,
                         const float *beta, const float *mean, const float *var, float eps);

/* ---- Pooling ---------------------------------------------------------------------
 * Max: padded positions never win. Average: count_include_pad chooses whether
 * padded positions count in the divisor (ONNX default 0, PyTorch default 1).
 * ceil_mode: Ho = ceil(...) + 1, with the last window starting inside the
 * input or left padding (PyTorch's rule). */
typedef struct vtag_pool2d_dims {
    int64_t n, c, h, w;
    int64_t kh, kw;
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dil_h, dil_w; /* max pool only; 1 for average */
    int ceil_mode;
    int count_include_pad;
    int64_t h_out, w_out; /* set by vtag_pool2d_plan */
} vtag_pool2d_dims;

int vtag_pool2d_plan(vtag_pool2d_dims *d, vtag_error *err);
/* argmax[N,C,Ho,Wo] (index into the H·W plane) may be NULL at inference. */
void vtag_maxpool2d_forward(const vtag_ctx *ctx, float *out, int32_t *argmax, const float *in,
                            const vtag_pool2d_dims *d);
void vtag_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                             const vtag_pool2d_dims *d);
void vtag_avgpool2d_forward(const vtag_ctx *ctx, float *out, const float *in,
                            const vtag_pool2d_dims *d);
void vtag_avgpool2d_backward(float *din, const float *dout, const vtag_pool2d_dims *d);
/* out[N, C] = mean over the H·W plane of in[N, C, HW]. */
void vtag_global_avgpool_forward(const vtag_ctx *ctx, float *out, const float *in, int64_t n,
                                 int64_t c, int64_t hw);
void vtag_global_avgpool_backward(float *din, const float *dout, int64_t n, int64_t c, int64_t hw);

/* ---- Element-wise (out may alias in) -------------------------------------------------
 * ReLU is in nn.h. The backward passes take the forward INPUT. */
void vtag_act_forward(float *out, const float *in, int64_t n, vtag_act act, int threads);
void vtag_act_backward(float *din, const float *dout, const float *in, int64_t n, vtag_act act,
                       int threads);
/* HardSigmoid: max(0, min(1, alpha·x + beta)) (ONNX defaults alpha 0.2, beta 0.5;
 * PyTorch's is alpha 1/6, beta 0.5). */
void vtag_hardsigmoid_forward(float *out, const float *in, int64_t n, float alpha, float beta,
                              int threads);
void vtag_hardsigmoid_backward(float *din, const float *dout, const float *in, int64_t n, float alpha,
                               float beta, int threads);
void vtag_sigmoid_forward(float *out, const float *in, int64_t n, int threads);
/* Takes the forward OUTPUT y: din += dout·y·(1 − y). */
void vtag_sigmoid_backward(float *din, const float *dout, const float *out, int64_t n, int threads);
/* Residual add: out = a + b (out may alias a or b); backward is da += dout, db += dout
 * (either may be NULL). */
void vtag_add_forward(float *out, const float *a, const float *b, int64_t n, int threads);
void vtag_add_backward(float *da, float *db, const float *dout, int64_t n, int threads);

#ifdef __cplusplus
}
#endif
#endif

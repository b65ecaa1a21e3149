/* Naive N-d conv and pooling for the inputs the CNN module's 2-D kernels do
 * not cover (3 spatial dims: the Conv3d / Pool3d cases of ONNX's test data).
 * Deliberately simple: no model vtag targets runs through here. */
#ifndef VTAG_ONNX_ND_H
#define VTAG_ONNX_ND_H

#include "onnx/onnx_internal.h"

int onnx_parse_spatial(vtag_onnx_model_t *m, onnx_node *nd, int is_pool, vtag_error *err);
/* auto_pad resolved into pads for these input sizes; -1 (dim in *bad_dim) on an int64 overflow. */
int onnx_spatial_resolve(onnx_spatial *sp, const int64_t *in_sp, const int64_t *kernel, int nsp, int *bad_dim);

/* y[N, M, o...] = Σ w[M, C/g, k...] · x[N, C, i...] (+ b[M]); zero padding. */
void onnx_conv_nd_forward(float *y, const float *x, const float *w, const float *b, const int64_t *xs,
                          const int64_t *ws, const int64_t *ys, int nsp, const onnx_spatial *sp);
/* Max (is_max) or average pooling with the resolved attributes; ceil_mode
 * windows that start in the right padding are dropped by the output size. */
void onnx_pool_nd_forward(float *y, const float *x, const int64_t *xs, const int64_t *ys, int nsp,
                          const onnx_spatial *sp, int is_max);

#endif

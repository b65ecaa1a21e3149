/* Linear layer: out = in · w^T + b, with w stored [out, in] as in PyTorch. */
#include <string.h>

#include "vtag/nn.h"

void vtag_linear_forward(const vtag_ctx *ctx, float *out, const float *in, const float *w, const float *b,
                         int64_t n, int64_t in_dim, int64_t out_dim, int accumulate)
{
    if (b) {
        if (accumulate) {
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < out_dim; j++) out[i * out_dim + j] += b[j];
        } else {
            for (int64_t i = 0; i < n; i++) memcpy(out + i * out_dim, b, (size_t)out_dim * sizeof(float));
        }
    }
    float beta = (b || accumulate) ? 1.0f : 0.0f;
    /* out[N,O] (+)= in[N,I] · w[O,I]^T */
    vtag_gemm(ctx, 0, 1, n, out_dim, in_dim, 1.0f, in, in_dim, w, in_dim, beta, out, out_dim);
}

void vtag_linear_backward(const vtag_ctx *ctx, float *din, float *dw, float *db, const float *dout,
                          const float *in, const float *w, int64_t n, int64_t in_dim, int64_t out_dim)
{
    /* din[N,I] += dout[N,O] · w[O,I] */
    if (din) vtag_gemm(ctx, 0, 0, n, in_dim, out_dim, 1.0f, dout, out_dim, w, in_dim, 1.0f, din, in_dim);
    /* dw[O,I] += dout^T[O,N] · in[N,I] */
    if (dw) vtag_gemm(ctx, 1, 0, out_dim, in_dim, n, 1.0f, dout, out_dim, in, in_dim, 1.0f, dw, in_dim);
    if (db) {
        for (int64_t i = 0; i < n; i++) {
            const float *row = dout + i * out_dim;
            for (int64_t j = 0; j < out_dim; j++) db[j] += row[j];
        }
    }
}

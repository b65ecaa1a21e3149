/* Private helpers shared by the caption model files. */
#ifndef VTAG_CAPTION_INTERNAL_H
#define VTAG_CAPTION_INTERNAL_H

#include "vtag/caption.h"
#include "vtag/nn.h"

/* Value / gradient of a named parameter, NULL if the model has none. */
float *caption_param(const vtag_model *m, const char *name);
float *caption_grad(const vtag_model *m, const char *name);

/* out[i, 0:out_dim] (row stride ldo) += in[N, in_dim] · w[out_dim, in_dim]^T (+ b):
 * a Linear writing into a column slice of a wider array. */
static inline void caption_linear_slice(const vtag_ctx *ctx, float *out, int64_t ldo, const float *in, int64_t ldi,
                                        const float *w, const float *b, int64_t n, int64_t in_dim, int64_t out_dim)
{
    if (b)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < out_dim; j++) out[i * ldo + j] += b[j];
    vtag_gemm(ctx, 0, 1, n, out_dim, in_dim, 1.0f, in, ldi, w, in_dim, 1.0f, out, ldo);
}

#endif

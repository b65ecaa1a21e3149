/* Embedding: a table lookup forward, a scatter-add backward. */
#include <string.h>

#include "vtag/nn.h"

int vtag_embedding_forward(float *out, const int32_t *ids, const float *w, int64_t n, int64_t vocab, int64_t dim,
                           vtag_error *err)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return vtag_fail(err, VTAG_ERR_ARG, "embedding: id %d at row %lld is outside [0, %lld)", ids[i],
                             (long long)i, (long long)vocab);
    for (int64_t i = 0; i < n; i++) memcpy(out + i * dim, w + (int64_t)ids[i] * dim, (size_t)dim * sizeof(float));
    return VTAG_OK;
}

void vtag_embedding_backward(float *dw, const float *dout, const int32_t *ids, int64_t n, int64_t dim)
{
    /* Sequential: repeated ids would race if rows were split over threads. */
    for (int64_t i = 0; i < n; i++) {
        float *row = dw + (int64_t)ids[i] * dim;
        const float *g = dout + i * dim;
        for (int64_t j = 0; j < dim; j++) row[j] += g[j];
    }
}

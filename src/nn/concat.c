/* Concatenation and split along the feature (last) axis of [N, D] arrays. */
#include <string.h>

#include "vtag/nn.h"

static int64_t total_dim(const int64_t *dims, int count)
{
    int64_t t = 0;
    for (int i = 0; i < count; i++) t += dims[i];
    return t;
}

void vtag_concat_forward(float *out, const float *const *ins, const int64_t *dims, int count, int64_t n)
{
    const int64_t width = total_dim(dims, count);
    for (int64_t b = 0; b < n; b++) {
        float *o = out + b * width;
        for (int i = 0; i < count; i++) {
            memcpy(o, ins[i] + b * dims[i], (size_t)dims[i] * sizeof(float));
            o += dims[i];
        }
    }
}

void vtag_concat_backward(float *const *dins, const float *dout, const int64_t *dims, int count, int64_t n)
{
    const int64_t width = total_dim(dims, count);
    for (int64_t b = 0; b < n; b++) {
        const float *g = dout + b * width;
        for (int i = 0; i < count; i++) {
            if (dins[i]) {
                float *d = dins[i] + b * dims[i];
                for (int64_t j = 0; j < dims[i]; j++) d[j] += g[j];
            }
            g += dims[i];
        }
    }
}

void vtag_split_forward(float *const *outs, const float *in, const int64_t *dims, int count, int64_t n)
{
    const int64_t width = total_dim(dims, count);
    for (int64_t b = 0; b < n; b++) {
        const float *x = in + b * width;
        for (int i = 0; i < count; i++) {
            if (outs[i]) memcpy(outs[i] + b * dims[i], x, (size_t)dims[i] * sizeof(float));
            x += dims[i];
        }
    }
}

void vtag_split_backward(float *din, const float *const *douts, const int64_t *dims, int count, int64_t n)
{
    const int64_t width = total_dim(dims, count);
    for (int64_t b = 0; b < n; b++) {
        float *d = din + b * width;
        for (int i = 0; i < count; i++) {
            if (douts[i]) {
                const float *g = douts[i] + b * dims[i];
                for (int64_t j = 0; j < dims[i]; j++) d[j] += g[j];
            }
            d += dims[i];
        }
    }
}

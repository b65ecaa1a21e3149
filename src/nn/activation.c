/* Element-wise activations: ReLU, and dropout with a counter-based mask. */
#include "vtag/nn.h"

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768

void vtag_relu_forward(float *out, const float *in, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void vtag_relu_backward(float *din, const float *dout, const float *out, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++)
        if (out[i] > 0.0f) din[i] += dout[i];
}

void vtag_dropout_forward(float *out, float *mask, const float *in, int64_t n, float p, int train, vtag_rng *rng,
                          int threads)
{
    if (!train || p <= 0.0f) {
#pragma omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            out[i] = in[i];
            if (mask) mask[i] = 1.0f;
        }
        return;
    }
    const uint64_t base = rng->state;
    const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float m = vtag_rng_uniform_at(base, (uint64_t)i) < p ? 0.0f : scale;
        mask[i] = m;
        out[i] = in[i] * m;
    }
    /* Advance the stream past the n draws, exactly as n sequential draws would. */
    vtag_rng_skip(rng, (uint64_t)n);
}

void vtag_dropout_backward(float *din, const float *dout, const float *mask, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) din[i] += dout[i] * mask[i];
}

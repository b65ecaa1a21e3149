/* log-softmax over the last axis and the masked negative log-likelihood
 * (the XE loss of SPEC §4), separately and fused for the backward pass. */
#include <math.h>

#include "vtag/nn.h"

void vtag_logsoftmax_forward(float *logprobs, const float *logits, int64_t n, int64_t v, int threads)
{
#pragma omp parallel for num_threads(threads) if (n * v > 32768) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *x = logits + i * v;
        float *y = logprobs + i * v;
        float m = -INFINITY;
        for (int64_t j = 0; j < v; j++) m = x[j] > m ? x[j] : m;
        double z = 0.0;
        for (int64_t j = 0; j < v; j++) z += vtag_expf(x[j] - m);
        float lz = m + (float)log(z);
        for (int64_t j = 0; j < v; j++) y[j] = x[j] - lz;
    }
}

void vtag_logsoftmax_backward(float *dlogits, const float *dlogprobs, const float *logprobs, int64_t n, int64_t v,
                              int threads)
{
#pragma omp parallel for num_threads(threads) if (n * v > 32768) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *g = dlogprobs + i * v;
        const float *lp = logprobs + i * v;
        float *d = dlogits + i * v;
        double s = 0.0;
        for (int64_t j = 0; j < v; j++) s += g[j];
        float sf = (float)s;
        for (int64_t j = 0; j < v; j++) d[j] += g[j] - vtag_expf(lp[j]) * sf;
    }
}

static double mask_sum(const float *mask, int64_t n)
{
    if (!mask) return (double)n;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += mask[i];
    return s;
}

int vtag_nll_masked_forward(double *loss, const float *logprobs, const int32_t *target, const float *mask, int64_t n,
                            int64_t v, vtag_error *err)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (target[i] < 0 || target[i] >= v)
            return vtag_fail(err, VTAG_ERR_ARG, "nll: target %d at row %lld is outside [0, %lld)", target[i],
                             (long long)i, (long long)v);
        float m = mask ? mask[i] : 1.0f;
        if (m != 0.0f) s -= (double)m * logprobs[i * v + target[i]];
    }
    double ms = mask_sum(mask, n);
    *loss = ms > 0.0 ? s / ms : 0.0;
    return VTAG_OK;
}

void vtag_nll_masked_backward(float *dlogprobs, double dloss, const int32_t *target, const float *mask, int64_t n,
                              int64_t v)
{
    double ms = mask_sum(mask, n);
    if (ms <= 0.0) return;
    float scale = (float)(dloss / ms);
    for (int64_t i = 0; i < n; i++) {
        float m = mask ? mask[i] : 1.0f;
        dlogprobs[i * v + target[i]] -= scale * m;
    }
}

void vtag_logsoftmax_wnll_backward(float *dlogits, double scale, const float *logprobs, const int32_t *target,
                                   const float *weight, int64_t n, int64_t v, int threads)
{
#pragma omp parallel for num_threads(threads) if (n * v > 32768) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float m = (float)(scale * (weight ? weight[i] : 1.0f));
        if (m == 0.0f) continue;
        const float *lp = logprobs + i * v;
        float *d = dlogits + i * v;
        for (int64_t j = 0; j < v; j++) d[j] += m * vtag_expf(lp[j]);
        d[target[i]] -= m;
    }
}

void vtag_logsoftmax_nll_backward(float *dlogits, double dloss, const float *logprobs, const int32_t *target,
                                  const float *mask, int64_t n, int64_t v, int threads)
{
    double ms = mask_sum(mask, n);
    if (ms <= 0.0) return;
    vtag_logsoftmax_wnll_backward(dlogits, dloss / ms, logprobs, target, mask, n, v, threads);
}

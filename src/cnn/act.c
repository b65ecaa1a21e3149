/* Element-wise layers of the CNNs: the activations (ReLU, ReLU6, HardSwish) forward and backward,
 * HardSigmoid, Sigmoid and the residual add (the fused row pass is bias_act.c). */
#include <math.h>
#include <string.h>

#include "cnn/cnn_internal.h"

void vtag_act_forward(float *out, const float *in, int64_t n, vtag_act act, int threads)
{
    const int64_t chunk = 4096;
    int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        int64_t i0 = c * chunk, len = n - i0 < chunk ? n - i0 : chunk;
        cnn_bias_act_row_generic(out + i0, in + i0, len, 0.0f, act); /* no ctx: the baseline path */
    }
}

void vtag_act_backward(float *din, const float *dout, const float *in, int64_t n, vtag_act act,
                       int threads)
{
    switch (act) {
    /* the loads before the select, and += 0 where the gradient stops: the loops vectorise */
    case VTAG_ACT_RELU:
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const float g = dout[i];
            din[i] += in[i] > 0.0f ? g : 0.0f;
        }
        break;
    case VTAG_ACT_RELU6: /* PyTorch's hardtanh: the gradient passes strictly inside (0, 6) */
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const float g = dout[i], x = in[i];
            din[i] += x > 0.0f && x < 6.0f ? g : 0.0f;
        }
        break;
    case VTAG_ACT_HARDSWISH: /* PyTorch: 0 below -3, x/3 + 1/2 up to 3, 1 above */
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) {
            float x = in[i];
            if (x < -3.0f) continue;
            din[i] += x <= 3.0f ? dout[i] * (x / 3.0f + 0.5f) : dout[i];
        }
        break;
    default:
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) din[i] += dout[i];
        break;
    }
}

void vtag_hardsigmoid_forward(float *out, const float *in, int64_t n, float alpha, float beta,
                              int threads)
{
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float y = alpha * in[i] + beta;
        out[i] = y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
}

void vtag_hardsigmoid_backward(float *din, const float *dout, const float *in, int64_t n, float alpha,
                               float beta, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float y = alpha * in[i] + beta;
        if (y > 0.0f && y < 1.0f) din[i] += alpha * dout[i];
    }
}

void vtag_sigmoid_forward(float *out, const float *in, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN / 8) schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
}

void vtag_sigmoid_backward(float *din, const float *dout, const float *out, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) din[i] += dout[i] * out[i] * (1.0f - out[i]);
}

void vtag_add_forward(float *out, const float *a, const float *b, int64_t n, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void vtag_add_backward(float *da, float *db, const float *dout, int64_t n, int threads)
{
    if (da) {
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for num_threads(threads) if (n > CNN_PAR_MIN) schedule(static)
        for (int64_t i = 0; i < n; i++) db[i] += dout[i];
    }
}

/* BatchNorm2d with PyTorch's semantics: training normalises with the batch mean and biased
 * variance and moves the running stats with the unbiased one; inference uses the running stats
 * (with a fused activation); fold merges an inference BatchNorm into the conv before it. */
#include <math.h>

#include "cnn/cnn_internal.h"

void vtag_batchnorm_forward_train(const vtag_ctx *ctx, float *out, float *save_mean,
                                  float *save_invstd, float *running_mean, float *running_var,
                                  const float *in, const float *gamma, const float *beta,
                                  const vtag_batchnorm_dims *d)
{
    const int64_t n = d->n, c = d->c, hw = d->hw, m = n * hw;
    /* One channel per iteration; sums in double (two passes), so large N·H·W keep their digits. */
#pragma omp parallel for num_threads(ctx->threads) if (n * c * hw > CNN_PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + (i * c + ch) * hw;
            for (int64_t j = 0; j < hw; j++) sum += x[j];
        }
        const double mean = m > 0 ? sum / (double)m : 0.0;
        double sq = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + (i * c + ch) * hw;
            for (int64_t j = 0; j < hw; j++) {
                double t = x[j] - mean;
                sq += t * t;
            }
        }
        const double var = m > 0 ? sq / (double)m : 0.0;
        const double invstd = 1.0 / sqrt(var + (double)d->eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        if (running_mean)
            running_mean[ch] = (1.0f - d->momentum) * running_mean[ch] + d->momentum * (float)mean;
        if (running_var) {
            double unbiased = m > 1 ? sq / (double)(m - 1) : var;
            running_var[ch] = (1.0f - d->momentum) * running_var[ch] + d->momentum * (float)unbiased;
        }
        const float scale = (float)invstd * (gamma ? gamma[ch] : 1.0f);
        const float shift = (beta ? beta[ch] : 0.0f) - (float)mean * scale;
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + (i * c + ch) * hw;
            float *y = out + (i * c + ch) * hw;
            for (int64_t j = 0; j < hw; j++) y[j] = x[j] * scale + shift;
        }
    }
}

void vtag_batchnorm_forward_infer(const vtag_ctx *ctx, float *out, const float *in,
                                  const float *gamma, const float *beta, const float *mean,
                                  const float *var, const vtag_batchnorm_dims *d, vtag_act act)
{
    const int64_t c = d->c, hw = d->hw, rows = d->n * d->c;
#pragma omp parallel for num_threads(ctx->threads) if (rows * hw > CNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t ch = r % c;
        const float scale = (gamma ? gamma[ch] : 1.0f) / sqrtf(var[ch] + d->eps);
        const float shift = (beta ? beta[ch] : 0.0f) - mean[ch] * scale;
        const float *x = in + r * hw;
        float *y = out + r * hw;
        for (int64_t j = 0; j < hw; j++) y[j] = x[j] * scale;
        VTAG_ISA_CALL(ctx->isa, cnn_bias_act_row)(y, y, hw, shift, act);
    }
}

/* With xhat = (x − mean)·invstd and M = N·H·W:
 * dbeta = Σ dy, dgamma = Σ dy·xhat, dx = gamma·invstd·(dy − dbeta/M − xhat·dgamma/M). */
void vtag_batchnorm_backward(const vtag_ctx *ctx, float *din, float *dgamma, float *dbeta,
                             const float *dout, const float *in, const float *gamma,
                             const float *save_mean, const float *save_invstd,
                             const vtag_batchnorm_dims *d)
{
    const int64_t n = d->n, c = d->c, hw = d->hw, m = n * hw;
#pragma omp parallel for num_threads(ctx->threads) if (n * c * hw > CNN_PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const double mean = save_mean[ch], invstd = save_invstd[ch];
        double sdy = 0.0, sdyx = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + (i * c + ch) * hw, *dy = dout + (i * c + ch) * hw;
            for (int64_t j = 0; j < hw; j++) {
                sdy += dy[j];
                sdyx += dy[j] * ((x[j] - mean) * invstd);
            }
        }
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (!din || m == 0) continue;
        const double g = gamma ? gamma[ch] : 1.0;
        const float k = (float)(g * invstd);
        const float a = (float)(sdy / (double)m);
        const float bx = (float)(sdyx / (double)m);
        const float fm = (float)mean, fi = (float)invstd;
        for (int64_t i = 0; i < n; i++) {
            const float *x = in + (i * c + ch) * hw, *dy = dout + (i * c + ch) * hw;
            float *dx = din + (i * c + ch) * hw;
            for (int64_t j = 0; j < hw; j++) dx[j] += k * (dy[j] - a - (x[j] - fm) * fi * bx);
        }
    }
}

void vtag_batchnorm_fold(float *w, float *b, int64_t c_out, int64_t per_out, const float *gamma,
                         const float *beta, const float *mean, const float *var, float eps)
{
    for (int64_t o = 0; o < c_out; o++) {
        const double s = (gamma ? gamma[o] : 1.0) / sqrt((double)var[o] + eps);
        for (int64_t i = 0; i < per_out; i++) w[o * per_out + i] = (float)(w[o * per_out + i] * s);
        b[o] = (float)((b[o] - (double)mean[o]) * s + (beta ? beta[o] : 0.0));
    }
}

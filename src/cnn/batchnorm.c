/* BatchNorm2d with PyTorch's semantics: training normalises with the batch mean and biased
 * variance and moves the running stats with the unbiased one; inference uses the running stats
 * (with a fused activation); fold merges an inference BatchNorm into the conv before it. */
#include <math.h>

#include "cnn/cnn_internal.h"

/* Sums over a channel's rows in float, eight lanes (the loops vectorise) over blocks of ROW_BLOCK
 * elements, the blocks added in double: as exact as the double sums were in the tests, several
 * times faster, and the same for any thread count (one channel per thread). */
#define ROW_BLOCK 512

/* Σ x[j] and, when sq, Σ (x[j] − mean)² over n elements. */
static void row_sums(const float *x, int64_t n, float mean, double *sum, double *sq)
{
    for (int64_t j0 = 0; j0 < n; j0 += ROW_BLOCK) {
        const int64_t len = n - j0 < ROW_BLOCK ? n - j0 : ROW_BLOCK;
        const float *v = x + j0;
        float a[8] = {0}, b[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= len; j += 8)
            for (int l = 0; l < 8; l++) {
                const float t = v[j + l] - mean;
                a[l] += v[j + l];
                b[l] += t * t;
            }
        for (; j < len; j++) {
            const float t = v[j] - mean;
            a[0] += v[j];
            b[0] += t * t;
        }
        float sa = 0.0f, sb = 0.0f;
        for (int l = 0; l < 8; l++) sa += a[l], sb += b[l];
        *sum += sa;
        if (sq) *sq += sb;
    }
}

/* Σ dy[j] and Σ dy[j]·(x[j] − mean) over n elements, dy = 0 where mask[j] ≤ 0 (mask may be NULL). */
static void row_grad_sums(const float *dy, const float *x, const float *mask, int64_t n, float mean, double *sdy,
                          double *sdyx)
{
    float masked[ROW_BLOCK]; /* the masked block first: a select in the summing loop does not vectorise */
    for (int64_t j0 = 0; j0 < n; j0 += ROW_BLOCK) {
        const int64_t len = n - j0 < ROW_BLOCK ? n - j0 : ROW_BLOCK;
        const float *g = dy + j0, *v = x + j0;
        if (mask) {
            const float *mk = mask + j0;
            for (int64_t j = 0; j < len; j++) {
                const float gv = g[j];
                masked[j] = mk[j] > 0.0f ? gv : 0.0f;
            }
            g = masked;
        }
        float a[8] = {0}, b[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= len; j += 8)
            for (int l = 0; l < 8; l++) {
                a[l] += g[j + l];
                b[l] += g[j + l] * (v[j + l] - mean);
            }
        for (; j < len; j++) {
            a[0] += g[j];
            b[0] += g[j] * (v[j] - mean);
        }
        float sa = 0.0f, sb = 0.0f;
        for (int l = 0; l < 8; l++) sa += a[l], sb += b[l];
        *sdy += sa;
        *sdyx += sb;
    }
}

void vtag_batchnorm_forward_train_act(const vtag_ctx *ctx, float *out, float *save_mean, float *save_invstd,
                                      float *running_mean, float *running_var, const float *in, const float *gamma,
                                      const float *beta, const float *res, vtag_act act,
                                      const vtag_batchnorm_dims *d)
{
    const int64_t n = d->n, c = d->c, hw = d->hw, m = n * hw;
    /* One channel per iteration; two passes (mean, then squared deviations) in row_sums. */
#pragma omp parallel for num_threads(ctx->threads) if (n * c * hw > CNN_PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0.0, sq = 0.0;
        for (int64_t i = 0; i < n; i++) row_sums(in + (i * c + ch) * hw, hw, 0.0f, &sum, NULL);
        const double mean = m > 0 ? sum / (double)m : 0.0;
        for (int64_t i = 0; i < n; i++) {
            double unused = 0.0;
            row_sums(in + (i * c + ch) * hw, hw, (float)mean, &unused, &sq);
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
            const float *r = res ? res + (i * c + ch) * hw : NULL;
            if (r && act == VTAG_ACT_RELU) { /* ReLU in the same pass: the training step's common cases */
                for (int64_t j = 0; j < hw; j++) {
                    const float t = x[j] * scale + shift + r[j];
                    y[j] = t > 0.0f ? t : 0.0f;
                }
            } else if (act == VTAG_ACT_RELU) {
                for (int64_t j = 0; j < hw; j++) {
                    const float t = x[j] * scale + shift;
                    y[j] = t > 0.0f ? t : 0.0f;
                }
            } else {
                for (int64_t j = 0; j < hw; j++) y[j] = x[j] * scale + shift + (r ? r[j] : 0.0f);
                if (act != VTAG_ACT_NONE) VTAG_ISA_CALL(ctx->isa, cnn_bias_act_row)(y, y, hw, 0.0f, act);
            }
        }
    }
}

void vtag_batchnorm_forward_train(const vtag_ctx *ctx, float *out, float *save_mean,
                                  float *save_invstd, float *running_mean, float *running_var,
                                  const float *in, const float *gamma, const float *beta,
                                  const vtag_batchnorm_dims *d)
{
    vtag_batchnorm_forward_train_act(ctx, out, save_mean, save_invstd, running_mean, running_var, in, gamma, beta,
                                     NULL, VTAG_ACT_NONE, d);
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
 * dbeta = Σ dy, dgamma = Σ dy·xhat, dx = gamma·invstd·(dy − dbeta/M − xhat·dgamma/M).
 * dy = dout, or 0 where mask ≤ 0 (mask: a ReLU's output after the BN); din += when add, else =. */
static void batchnorm_backward(const vtag_ctx *ctx, float *din, int add, float *dgamma, float *dbeta,
                               const float *dout, const float *mask, const float *in, const float *gamma,
                               const float *save_mean, const float *save_invstd, const vtag_batchnorm_dims *d)
{
    const int64_t n = d->n, c = d->c, hw = d->hw, m = n * hw;
#pragma omp parallel for num_threads(ctx->threads) if (n * c * hw > CNN_PAR_MIN) schedule(static)
    for (int64_t ch = 0; ch < c; ch++) {
        const float fm = save_mean[ch], fi = save_invstd[ch];
        double sdy = 0.0, sdxm = 0.0; /* Σ dy, Σ dy·(x − mean) */
        for (int64_t i = 0; i < n; i++) {
            const int64_t o = (i * c + ch) * hw;
            row_grad_sums(dout + o, in + o, mask ? mask + o : NULL, hw, fm, &sdy, &sdxm);
        }
        const double sdyx = sdxm * fi;
        if (dbeta) dbeta[ch] += (float)sdy;
        if (dgamma) dgamma[ch] += (float)sdyx;
        if (!din || m == 0) continue;
        const double g = gamma ? gamma[ch] : 1.0;
        const float k = (float)(g * fi);
        const float a = (float)(sdy / (double)m);
        const float bx = (float)(sdyx / (double)m) * fi;
        /* dx = k·(dy − a − (x − mean)·invstd·(dgamma/M)) = k·dy − k·a − k·bx·(x − mean) */
        const float c0 = k * a, c1 = k * bx;
        for (int64_t i = 0; i < n; i++) {
            const int64_t o = (i * c + ch) * hw;
            const float *x = in + o, *dy = dout + o, *mk = mask ? mask + o : NULL;
            float *dx = din + o;
            if (mk && add) {
                for (int64_t j = 0; j < hw; j++) {
                    const float gv = dy[j], t = mk[j] > 0.0f ? gv : 0.0f;
                    dx[j] += k * t - c0 - c1 * (x[j] - fm);
                }
            } else if (mk) {
                for (int64_t j = 0; j < hw; j++) {
                    const float gv = dy[j], t = mk[j] > 0.0f ? gv : 0.0f;
                    dx[j] = k * t - c0 - c1 * (x[j] - fm);
                }
            } else if (add) {
                for (int64_t j = 0; j < hw; j++) dx[j] += k * dy[j] - c0 - c1 * (x[j] - fm);
            } else {
                for (int64_t j = 0; j < hw; j++) dx[j] = k * dy[j] - c0 - c1 * (x[j] - fm);
            }
        }
    }
}

void vtag_batchnorm_backward(const vtag_ctx *ctx, float *din, float *dgamma, float *dbeta,
                             const float *dout, const float *in, const float *gamma,
                             const float *save_mean, const float *save_invstd,
                             const vtag_batchnorm_dims *d)
{
    batchnorm_backward(ctx, din, 1, dgamma, dbeta, dout, NULL, in, gamma, save_mean, save_invstd, d);
}

void vtag_batchnorm_relu_backward(const vtag_ctx *ctx, float *din, float *dgamma, float *dbeta, const float *dout,
                                  const float *relu_out, const float *in, const float *gamma,
                                  const float *save_mean, const float *save_invstd, const vtag_batchnorm_dims *d)
{
    batchnorm_backward(ctx, din, 0, dgamma, dbeta, dout, relu_out, in, gamma, save_mean, save_invstd, d);
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

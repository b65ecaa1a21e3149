/* Adam, gradient clipping and the learning-rate schedule (see optim.h). */
#include <math.h>

#include "vtag/optim.h"

void vtag_adam_init(vtag_adam *opt)
{
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->weight_decay = 0.0f;
    opt->step = 0;
}

void vtag_adam_update_flat(float *value, const float *grad, float *m, float *v, int64_t n, float lr,
                           float beta1, float beta2, float eps, float weight_decay, int64_t step,
                           int threads)
{
    /* torch.optim.Adam: p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps). */
    const double bc1 = 1.0 - pow(beta1, (double)step);
    const double bc2 = 1.0 - pow(beta2, (double)step);
    const float step_size = (float)(lr / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
#pragma omp parallel for num_threads(threads) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] + weight_decay * value[i];
        m[i] = beta1 * m[i] + (1.0f - beta1) * g;
        v[i] = beta2 * v[i] + (1.0f - beta2) * g * g;
        value[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

void vtag_adam_update(vtag_adam *opt, vtag_params *p, float lr, int threads)
{
    opt->step++;
    vtag_adam_update_flat(p->value, p->grad, p->adam_m, p->adam_v, p->total, lr, opt->beta1, opt->beta2,
                          opt->eps, opt->weight_decay, opt->step, threads);
}

void vtag_clip_grad_value(float *grad, int64_t n, float clip, int threads)
{
#pragma omp parallel for num_threads(threads) if (n > 65536) schedule(static)
    for (int64_t i = 0; i < n; i++) grad[i] = grad[i] < -clip ? -clip : grad[i] > clip ? clip : grad[i];
}

double vtag_grad_norm(const float *grad, int64_t n, int threads)
{
    /* Partial sums over fixed blocks, added in block order: the same norm for every thread count
     * (an OpenMP reduction adds per-thread sums, whose boundaries move with the threads). */
    enum { BLOCK = 16384 };
    const int64_t nblocks = (n + BLOCK - 1) / BLOCK;
    double part[64], sq = 0.0;
    for (int64_t b0 = 0; b0 < nblocks; b0 += 64) {
        const int64_t nb = nblocks - b0 < 64 ? nblocks - b0 : 64;
#pragma omp parallel for num_threads(threads) if (nb > 4) schedule(static)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t i0 = (b0 + b) * BLOCK, i1 = i0 + BLOCK < n ? i0 + BLOCK : n;
            double s = 0.0;
            for (int64_t i = i0; i < i1; i++) s += (double)grad[i] * grad[i];
            part[b] = s;
        }
        for (int64_t b = 0; b < nb; b++) sq += part[b];
    }
    return sqrt(sq);
}

/* "nan", "inf" or "-inf" (printf's "-nan" is no word). */
static const char *non_finite(double x)
{
    return isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
}

int vtag_check_diverged(double loss, double grad_norm, int64_t step, vtag_error *err)
{
    if (!isfinite(loss))
        return vtag_fail(err, VTAG_ERR_DIVERGED, "step %lld: loss is %s (diverged)", (long long)step, non_finite(loss));
    if (!isfinite(grad_norm))
        return vtag_fail(err, VTAG_ERR_DIVERGED, "step %lld: gradient norm is %s (diverged)", (long long)step,
                         non_finite(grad_norm));
    return VTAG_OK;
}

double vtag_clip_grad_norm(float *grad, int64_t n, float max_norm, int threads)
{
    double norm = vtag_grad_norm(grad, n, threads);
    /* torch.nn.utils.clip_grad_norm_ uses max_norm / (norm + 1e-6). */
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
        float c = (float)coef;
#pragma omp parallel for num_threads(threads) if (n > 65536) schedule(static)
        for (int64_t i = 0; i < n; i++) grad[i] *= c;
    }
    return norm;
}

float vtag_lr_step_decay(float base, int epoch, int start, int every, float decay)
{
    if (every <= 0 || start < 0 || epoch < start) return base;
    int k = (epoch - start) / every;
    return (float)(base * pow(decay, k));
}

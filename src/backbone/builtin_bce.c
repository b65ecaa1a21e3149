/* Binary cross-entropy on logits, the multi-label loss of the built-in
 * backbone: one sigmoid per label, computed in the overflow-free form. */
#include <math.h>

#include "vtag/builtin.h"

double vtag_bce_logits_forward(const float *logits, const float *targets, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double x = logits[i], y = targets[i];
        sum += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
    }
    return n ? sum / (double)n : 0.0;
}

void vtag_bce_logits_backward(float *dlogits, const float *logits, const float *targets, int64_t n,
                              float scale)
{
    for (int64_t i = 0; i < n; i++) {
        float x = logits[i];
        /* sigmoid without overflow for large |x| */
        float s = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        dlogits[i] += scale * (s - targets[i]);
    }
}

/* The built-in backbone's classifier head alone, on fc rows that were already
 * extracted (the pipeline's features): the CNN baseline of a run folder. */
#include <string.h>

#include "vtag/builtin.h"
#include "vtag/nn.h"

int vtag_builtin_classify(const vtag_builtin *m, const float *fc, int64_t n, int64_t d, float *probs,
                          vtag_error *err)
{
    const int64_t V = m->cfg.n_labels, D = m->cfg.widths[m->cfg.n_stages - 1];
    if (d != D)
        return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: fc rows of %lld features, the classifier takes %lld",
                         (long long)d, (long long)D);
    if (n < 0) return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: %lld fc rows", (long long)n);
    const float *w = vtag_params_value(&m->params, m->cls_w);    /* [V, D] */
    const float *bias = vtag_params_value(&m->params, m->cls_b); /* [V] */
    /* One row at a time, each logit summed in d order: the same floats as
     * every earlier baseline file (no SIMD reassociation, no fused multiply-add
     * on the default target). */
    for (int64_t i = 0; i < n; i++) {
        const float *x = fc + i * D; /* [D] */
        float *p = probs + i * V;    /* [V] */
        for (int64_t v = 0; v < V; v++) {
            float z = bias[v];
            for (int64_t k = 0; k < D; k++) z += w[v * D + k] * x[k];
            p[v] = vtag_sigmoidf(z);
        }
    }
    return VTAG_OK;
}

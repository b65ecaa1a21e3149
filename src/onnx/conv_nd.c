/* Naive N-d (up to 3 spatial dims) conv and pooling, see onnx_nd.h. */
#include <float.h>

#include "onnx/onnx_nd.h"

/* Expands a flat spatial index into coordinates (last dim fastest). */
static void unflatten(int64_t i, const int64_t *dims, int nsp, int64_t *c)
{
    for (int d = nsp - 1; d >= 0; d--) {
        c[d] = i % dims[d];
        i /= dims[d];
    }
}

void onnx_conv_nd_forward(float *y, const float *x, const float *w, const float *b, const int64_t *xs,
                          const int64_t *ws, const int64_t *ys, int nsp, const onnx_spatial *sp)
{
    int64_t n = xs[0], c = xs[1], m = ws[0], g = sp->group, cg = c / g, mg = m / g;
    int64_t in_sz = onnx_numel(nsp, xs + 2), out_sz = onnx_numel(nsp, ys + 2), k_sz = onnx_numel(nsp, ws + 2);
    for (int64_t ni = 0; ni < n; ni++)
        for (int64_t mi = 0; mi < m; mi++) {
            int64_t gi = mi / mg;
            for (int64_t o = 0; o < out_sz; o++) {
                int64_t oc[3], kc[3];
                unflatten(o, ys + 2, nsp, oc);
                double acc = b ? b[mi] : 0.0;
                for (int64_t ci = 0; ci < cg; ci++)
                    for (int64_t k = 0; k < k_sz; k++) {
                        unflatten(k, ws + 2, nsp, kc);
                        int64_t off = 0, inside = 1;
                        for (int d = 0; d < nsp; d++) {
                            int64_t p = oc[d] * sp->stride[d] - sp->pad_begin[d] + kc[d] * sp->dil[d];
                            if (p < 0 || p >= xs[2 + d]) inside = 0;
                            off = off * xs[2 + d] + p;
                        }
                        if (!inside) continue;
                        acc +=
                            (double)w[(mi * cg + ci) * k_sz + k] * x[(ni * c + gi * cg + ci) * in_sz + off];
                    }
                y[(ni * m + mi) * out_sz + o] = (float)acc;
            }
        }
}

void onnx_pool_nd_forward(float *y, const float *x, const int64_t *xs, const int64_t *ys, int nsp,
                          const onnx_spatial *sp, int is_max)
{
    int64_t planes = xs[0] * xs[1];
    int64_t in_sz = onnx_numel(nsp, xs + 2), out_sz = onnx_numel(nsp, ys + 2),
            k_sz = onnx_numel(nsp, sp->kernel);
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t o = 0; o < out_sz; o++) {
            int64_t oc[3], kc[3];
            unflatten(o, ys + 2, nsp, oc);
            double acc = 0.0;
            float best = -FLT_MAX;
            int64_t count = 0, padded = 0;
            for (int64_t k = 0; k < k_sz; k++) {
                unflatten(k, sp->kernel, nsp, kc);
                int64_t off = 0, inside = 1, in_pad = 1;
                for (int d = 0; d < nsp; d++) {
                    int64_t p = oc[d] * sp->stride[d] - sp->pad_begin[d] + kc[d] * sp->dil[d];
                    if (p < 0 || p >= xs[2 + d]) inside = 0;
                    if (p < -sp->pad_begin[d] || p >= xs[2 + d] + sp->pad_end[d]) in_pad = 0;
                    off = off * xs[2 + d] + p;
                }
                if (in_pad) padded++;
                if (!inside) continue;
                float v = x[pl * in_sz + off];
                if (v > best) best = v;
                acc += v;
                count++;
            }
            if (is_max)
                y[pl * out_sz + o] = best;
            else {
                int64_t div = sp->count_include_pad ? padded : count;
                y[pl * out_sz + o] = div ? (float)(acc / (double)div) : 0.0f;
            }
        }
}

/* Additive attention of SPEC §3: score = alpha_net(tanh(p_att + h2att(h))),
 * alpha = softmax over positions, out = Σ alpha · att. p_att = ctx2att(att)
 * is computed once per image by the caller; this file is one query step. */
#include <math.h>
#include <string.h>

#include "vtag/nn.h"

static int check_dims(vtag_attention_dims d, vtag_error *err)
{
    if (d.n <= 0 || d.k <= 0 || d.d <= 0 || d.r <= 0 || d.a <= 0)
        return vtag_fail(err, VTAG_ERR_ARG, "attention: bad sizes n=%lld k=%lld d=%lld r=%lld a=%lld",
                         (long long)d.n, (long long)d.k, (long long)d.d, (long long)d.r, (long long)d.a);
    return VTAG_OK;
}

int vtag_attention_forward(vtag_ctx *ctx, float *out, vtag_attention_cache *cache, const float *h,
                           const float *att, const float *p_att, const vtag_attention_weights *w,
                           vtag_attention_dims dm, vtag_error *err)
{
    int rc = check_dims(dm, err);
    if (rc) return rc;
    const int64_t N = dm.n, K = dm.k, D = dm.d, A = dm.a;
    float *hatt = vtag_arena_floats(&ctx->arena, N * A); /* [N, A] */
    cache->dot = vtag_arena_floats(&ctx->arena, N * K * A);
    cache->alpha = vtag_arena_floats(&ctx->arena, N * K);
    if (!hatt || !cache->dot || !cache->alpha) return vtag_fail(err, VTAG_ERR_NOMEM, "attention: out of memory");
    vtag_linear_forward(ctx, hatt, h, w->h2att_w, w->h2att_b, N, dm.r, A, 0);
    const float ab = w->alpha_b[0];
#pragma omp parallel for num_threads(ctx->threads) if (N * K * A > 65536) schedule(static)
    for (int64_t b = 0; b < N; b++) {
        float *alpha = cache->alpha + b * K;
        float maxs = -INFINITY;
        for (int64_t k = 0; k < K; k++) {
            const float *pa = p_att + (b * K + k) * A;
            const float *ha = hatt + b * A;
            float *dot = cache->dot + (b * K + k) * A;
            float s = ab;
            for (int64_t j = 0; j < A; j++) {
                dot[j] = vtag_tanhf(pa[j] + ha[j]);
                s += dot[j] * w->alpha_w[j];
            }
            alpha[k] = s;
            if (s > maxs) maxs = s;
        }
        double z = 0.0;
        for (int64_t k = 0; k < K; k++) {
            alpha[k] = vtag_expf(alpha[k] - maxs);
            z += alpha[k];
        }
        float inv = (float)(1.0 / z);
        float *o = out + b * D;
        memset(o, 0, (size_t)D * sizeof(float));
        for (int64_t k = 0; k < K; k++) {
            alpha[k] *= inv;
            const float *ak = att + (b * K + k) * D;
            const float wk = alpha[k];
            for (int64_t j = 0; j < D; j++) o[j] += wk * ak[j];
        }
    }
    return VTAG_OK;
}

int vtag_attention_backward(vtag_ctx *ctx, float *dh, float *datt, float *dp_att, const vtag_attention_grads *g,
                            const float *dout, const vtag_attention_cache *cache, const float *h, const float *att,
                            const vtag_attention_weights *w, vtag_attention_dims dm, vtag_error *err)
{
    int rc = check_dims(dm, err);
    if (rc) return rc;
    const int64_t N = dm.n, K = dm.k, D = dm.d, A = dm.a;
    float *dhatt = vtag_arena_zeros(&ctx->arena, N * A);  /* [N, A] */
    float *dscore = vtag_arena_floats(&ctx->arena, N * K); /* [N, K] */
    if (!dhatt || !dscore) return vtag_fail(err, VTAG_ERR_NOMEM, "attention: out of memory");
#pragma omp parallel for num_threads(ctx->threads) if (N * K * A > 65536) schedule(static)
    for (int64_t b = 0; b < N; b++) {
        const float *alpha = cache->alpha + b * K;
        const float *go = dout + b * D;
        float *ds = dscore + b * K;
        /* d alpha_k = dout · att_k; softmax backward gives d score. */
        double dot_sum = 0.0;
        for (int64_t k = 0; k < K; k++) {
            const float *ak = att + (b * K + k) * D;
            double s = 0.0;
            for (int64_t j = 0; j < D; j++) s += (double)go[j] * ak[j];
            ds[k] = (float)s;
            dot_sum += alpha[k] * s;
            if (datt) {
                float *dak = datt + (b * K + k) * D;
                for (int64_t j = 0; j < D; j++) dak[j] += alpha[k] * go[j];
            }
        }
        for (int64_t k = 0; k < K; k++) ds[k] = alpha[k] * (ds[k] - (float)dot_sum);
        /* Through alpha_net and tanh into p_att and h2att(h). */
        float *dha = dhatt + b * A;
        for (int64_t k = 0; k < K; k++) {
            const float *dot = cache->dot + (b * K + k) * A;
            float *dpa = dp_att ? dp_att + (b * K + k) * A : NULL;
            const float s = ds[k];
            for (int64_t j = 0; j < A; j++) {
                float dpre = s * w->alpha_w[j] * (1.0f - dot[j] * dot[j]);
                if (dpa) dpa[j] += dpre;
                dha[j] += dpre;
            }
        }
    }
    /* Weight gradients of alpha_net, reduced serially for determinism. */
    if (g->alpha_w || g->alpha_b) {
        for (int64_t i = 0; i < N * K; i++) {
            const float *dot = cache->dot + i * A;
            if (g->alpha_w)
                for (int64_t j = 0; j < A; j++) g->alpha_w[j] += dscore[i] * dot[j];
            if (g->alpha_b) g->alpha_b[0] += dscore[i];
        }
    }
    vtag_linear_backward(ctx, dh, g->h2att_w, g->h2att_b, dhatt, h, w->h2att_w, N, dm.r, A);
    return VTAG_OK;
}

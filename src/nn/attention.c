/* Additive attention of SPEC §3: score = alpha_net(tanh(p_att + h2att(h))),
 * alpha = softmax over positions, out = Σ alpha · att. p_att = ctx2att(att)
 * is computed once per image by the caller; this file is one query step.
 * With dims.rep = n > 1, n consecutive query rows share one image's att and
 * p_att (SCST's samples of an image): row b reads image b / n. */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"

static int check_dims(vtag_attention_dims d, vtag_error *err)
{
    if (d.n <= 0 || d.k <= 0 || d.d <= 0 || d.r <= 0 || d.a <= 0 || d.rep < 0 || (d.rep > 1 && d.n % d.rep))
        return vtag_fail(err, VTAG_ERR_ARG, "attention: bad sizes n=%lld k=%lld d=%lld r=%lld a=%lld rep=%lld",
                         (long long)d.n, (long long)d.k, (long long)d.d, (long long)d.r, (long long)d.a,
                         (long long)d.rep);
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
    const int64_t rep = dm.rep > 1 ? dm.rep : 1;
    void (*row)(float *, float *, float *, const float *, const float *, const float *, const float *, float,
                int64_t, int64_t, int64_t) = VTAG_ISA_CALL(ctx->isa, nn_attention_row);
#pragma omp parallel for num_threads(ctx->threads) if (N * K * A > 65536) schedule(static)
    for (int64_t b = 0; b < N; b++) {
        const int64_t img = b / rep;
        row(out + b * D, cache->dot + b * K * A, cache->alpha + b * K, hatt + b * A, p_att + img * K * A,
            att + img * K * D, w->alpha_w, ab, K, A, D);
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
    const float *restrict aw = w->alpha_w;
    const int64_t rep = dm.rep > 1 ? dm.rep : 1, nimg = (N + rep - 1) / rep;
    /* Over images: the rows of one image add into the same datt / dp_att. */
#pragma omp parallel for num_threads(ctx->threads) if (N * K * A > 65536) schedule(static)
    for (int64_t img = 0; img < nimg; img++) {
        for (int64_t b = img * rep; b < (img + 1) * rep && b < N; b++) {
            const float *alpha = cache->alpha + b * K;
            const float *go = dout + b * D;
            float *ds = dscore + b * K;
            /* d alpha_k = dout · att_k; softmax backward gives d score. */
            double dot_sum = 0.0;
            for (int64_t k = 0; k < K; k++) {
                const float *ak = att + (img * K + k) * D;
                double s = 0.0;
#pragma omp simd reduction(+ : s)
                for (int64_t j = 0; j < D; j++) s += (double)go[j] * ak[j];
                ds[k] = (float)s;
                dot_sum += alpha[k] * s;
                if (datt) {
                    float *dak = datt + (img * K + k) * D;
                    for (int64_t j = 0; j < D; j++) dak[j] += alpha[k] * go[j];
                }
            }
            for (int64_t k = 0; k < K; k++) ds[k] = alpha[k] * (ds[k] - (float)dot_sum);
            /* Through alpha_net and tanh into p_att and h2att(h). */
            float *restrict dha = dhatt + b * A;
            for (int64_t k = 0; k < K; k++) {
                const float *restrict dot = cache->dot + (b * K + k) * A;
                float *restrict dpa = dp_att ? dp_att + (img * K + k) * A : NULL;
                const float s = ds[k];
                if (dpa)
                    for (int64_t j = 0; j < A; j++) {
                        float dpre = s * aw[j] * (1.0f - dot[j] * dot[j]);
                        dpa[j] += dpre;
                        dha[j] += dpre;
                    }
                else
                    for (int64_t j = 0; j < A; j++) dha[j] += s * aw[j] * (1.0f - dot[j] * dot[j]);
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

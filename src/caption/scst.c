/* Self-critical sequence training (SPEC §4): sampled captions rewarded by
 * CIDEr-D (and optionally sentence BLEU-4), minus a baseline — the greedy
 * caption's reward, or the mean of the other samples ("new self-critical") —
 * as the weight of each sample's log-likelihood. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption_internal.h"
#include "vtag/scst.h"

void vtag_scst_opts_defaults(vtag_scst_opts *o)
{
    o->sample_n = 5;
    o->baseline = VTAG_SCST_BASELINE_GREEDY;
    o->cider_weight = 1.0;
    o->bleu_weight = 0.0;
    o->batch_size = 10;
    o->lr = 5e-5f;
    o->grad_clip = 0.1f;
}

int vtag_scst_check_opts(const vtag_scst_opts *o, vtag_error *err)
{
    if (o->sample_n < 1) return vtag_fail(err, VTAG_ERR_ARG, "SCST needs at least one sample per image");
    if (o->baseline == VTAG_SCST_BASELINE_MEAN && o->sample_n < 2)
        return vtag_fail(err, VTAG_ERR_ARG,
                         "the mean baseline needs --sample-n >= 2 (each sample's baseline is the other samples' mean)");
    if (!(o->cider_weight >= 0 && o->cider_weight <= DBL_MAX) || !(o->bleu_weight >= 0 && o->bleu_weight <= DBL_MAX))
        return vtag_fail(err, VTAG_ERR_ARG, "SCST: the reward weights must be finite and >= 0 (%g, %g)", o->cider_weight,
                         o->bleu_weight);
    if (!(o->lr > 0 && o->lr <= FLT_MAX))
        return vtag_fail(err, VTAG_ERR_ARG, "SCST: the learning rate must be finite and > 0, not %g", (double)o->lr);
    if (o->cider_weight == 0 && o->bleu_weight == 0) return vtag_fail(err, VTAG_ERR_ARG, "SCST: both reward weights are 0");
    return VTAG_OK;
}

/* The caption as scored: its labels, then EOS (id 0) when it ended before
 * max_length — EOS counts as a token (SPEC §4). `buf` holds L+1 ids. */
static vtag_metrics_seq with_eos(const int32_t *seq, int32_t len, int64_t L, int32_t *buf)
{
    memcpy(buf, seq, (size_t)len * sizeof(int32_t));
    int64_t n = len;
    if (len < L) buf[n++] = 0;
    return (vtag_metrics_seq){buf, n};
}

int vtag_scst_reward(const vtag_metrics_df *df, vtag_metrics_work *w, const vtag_scst_opts *o, const int32_t *seq,
                     int32_t len, int64_t max_length, const vtag_metrics_seq *refs, int64_t n_refs, double *reward,
                     vtag_error *err)
{
    int32_t buf[1024];
    if (max_length + 1 > 1024) return vtag_fail(err, VTAG_ERR_ARG, "SCST: max_length %lld too large", (long long)max_length);
    vtag_metrics_seq cand = with_eos(seq, len, max_length, buf);
    double r = 0, c = 0;
    int rc = VTAG_OK;
    if (o->cider_weight != 0) {
        rc = vtag_metrics_cider_d(df, w, cand, refs, n_refs, &c, err);
        r += o->cider_weight * c;
    }
    if (!rc && o->bleu_weight != 0) {
        vtag_metrics_bleu b;
        double bl[VTAG_METRICS_MAX_N];
        vtag_metrics_bleu_init(&b);
        rc = vtag_metrics_bleu_add(&b, w, cand, refs, n_refs, err);
        vtag_metrics_bleu_score(&b, bl);
        r += o->bleu_weight * bl[3];
    }
    *reward = r;
    return rc;
}

void vtag_scst_advantages(const double *reward, const double *greedy, int64_t b, int n, vtag_scst_baseline baseline,
                          float *adv)
{
    for (int64_t i = 0; i < b; i++) {
        double sum = 0;
        for (int j = 0; j < n; j++) sum += reward[i * n + j];
        for (int j = 0; j < n; j++) {
            double base = baseline == VTAG_SCST_BASELINE_MEAN ? (sum - reward[i * n + j]) / (n - 1) : greedy[i];
            adv[i * n + j] = (float)(reward[i * n + j] - base);
        }
    }
}

/* The rewards of an image's n samples: CIDEr-D of all of them against the
 * image's references prepared once (vtag_metrics_cider_d_many), plus the
 * sentence BLEU-4 term when it is weighted. */
static int sample_rewards(const vtag_metrics_df *df, vtag_metrics_work *w, const vtag_scst_opts *o, const int32_t *seq,
                          const int32_t *len, int64_t B, int64_t n, int64_t L, const vtag_metrics_seq *const *refs,
                          const int64_t *n_refs, double *reward, vtag_error *err)
{
    int32_t *buf = malloc((size_t)(n * (L + 1)) * sizeof(int32_t));
    vtag_metrics_seq *cands = malloc((size_t)n * sizeof *cands);
    double *cider = malloc((size_t)n * sizeof *cider);
    int rc = buf && cands && cider ? VTAG_OK : vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory");
    for (int64_t i = 0; i < B && !rc; i++) {
        for (int64_t j = 0; j < n; j++)
            cands[j] = with_eos(seq + (i * n + j) * L, len[i * n + j], L, buf + j * (L + 1));
        for (int64_t j = 0; j < n; j++) reward[i * n + j] = 0;
        if (o->cider_weight != 0) {
            rc = vtag_metrics_cider_d_many(df, w, cands, n, refs[i], n_refs[i], cider, err);
            for (int64_t j = 0; j < n && !rc; j++) reward[i * n + j] += o->cider_weight * cider[j];
        }
        for (int64_t j = 0; j < n && !rc && o->bleu_weight != 0; j++) {
            vtag_metrics_bleu b;
            double bl[VTAG_METRICS_MAX_N];
            vtag_metrics_bleu_init(&b);
            rc = vtag_metrics_bleu_add(&b, w, cands[j], refs[i], n_refs[i], err);
            vtag_metrics_bleu_score(&b, bl);
            reward[i * n + j] += o->bleu_weight * bl[3];
        }
    }
    free(buf), free(cands), free(cider);
    return rc;
}

static int oom(vtag_error *err) { return vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory"); }

/* "step N: " before a divergence the sampler found (it does not count steps). */
static int at_step(int rc, int64_t step, vtag_error *err)
{
    if (rc == VTAG_ERR_DIVERGED && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        vtag_fail(err, rc, "step %lld: %s", (long long)step, msg);
    }
    return rc;
}

int vtag_scst_step(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_batch *bt, const vtag_metrics_seq *const *refs,
                   const int64_t *n_refs, const vtag_metrics_df *df, const vtag_scst_opts *o, vtag_scst_stats *stats,
                   vtag_error *err)
{
    int rc = vtag_scst_check_opts(o, err);
    if (rc) return rc;
    const int64_t B = bt->b, L = m->cfg.max_length, n = o->sample_n, BN = B * n;
    int32_t *gseq = malloc((size_t)(B * L) * sizeof(int32_t)), *glen = malloc((size_t)B * sizeof(int32_t));
    int32_t *sseq = malloc((size_t)(BN * L) * sizeof(int32_t)), *slen = malloc((size_t)BN * sizeof(int32_t));
    double *greedy = calloc((size_t)B, sizeof(double)), *reward = malloc((size_t)BN * sizeof(double));
    float *adv = malloc((size_t)BN * sizeof(float));
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    if (!gseq || !glen || !sseq || !slen || !greedy || !reward || !adv) {
        rc = oom(err);
        goto done;
    }
    /* Baseline: the greedy caption, dropout off, no gradient. */
    if (o->baseline == VTAG_SCST_BASELINE_GREEDY) {
        vtag_decode_opts g = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        vtag_arena_reset(&ctx->arena);
        if ((rc = vtag_model_decode(ctx, m, bt, &g, gseq, NULL, glen, err))) goto done;
        for (int64_t i = 0; i < B && !rc; i++)
            rc = vtag_scst_reward(df, &w, o, gseq + i * L, glen[i], L, refs[i], n_refs[i], &greedy[i], err);
        if (rc) goto done;
    }
    /* n samples per image, dropout on, keeping the activations. */
    vtag_scst_tape *tape = NULL;
    vtag_arena_reset(&ctx->arena);
    const int64_t step = stats ? stats->steps + 1 : 1;
    if ((rc = at_step(vtag_scst_sample(ctx, m, bt, n, 1, NULL, &tape, sseq, slen, err), step, err))) goto done;
    if ((rc = sample_rewards(df, &w, o, sseq, slen, B, n, L, refs, n_refs, reward, err))) goto done;
    vtag_scst_advantages(reward, greedy, B, (int)n, o->baseline, adv);
    /* −Σ advantage · log p(sample) over its labels and EOS, / Σ mask: the
     * gradient through the sampling pass (same activations, same masks). */
    double loss = 0;
    vtag_params_zero_grad(&m->params);
    if ((rc = vtag_scst_backward(ctx, m, tape, adv, &loss, err))) goto done;
    /* Stop before Adam writes nan into the weights: the caller keeps its last good checkpoint. */
    if ((rc = vtag_check_diverged(loss, vtag_grad_norm(m->params.grad, m->params.total, ctx->threads), step, err)))
        goto done;
    if (o->grad_clip > 0) vtag_clip_grad_value(m->params.grad, m->params.total, o->grad_clip, ctx->threads);
    vtag_adam_update(adam, &m->params, o->lr, ctx->threads);
    if (stats) {
        double rs = 0, as = 0, gs = 0;
        for (int64_t i = 0; i < BN; i++) rs += reward[i], as += adv[i];
        for (int64_t i = 0; i < B && o->baseline == VTAG_SCST_BASELINE_GREEDY; i++) {
            /* The log reports the greedy captions' CIDEr-D itself. */
            double c = greedy[i];
            if ((o->cider_weight != 1 || o->bleu_weight != 0) && df) {
                int32_t buf[1024];
                vtag_metrics_seq cand = with_eos(gseq + i * L, glen[i], L, buf);
                if ((rc = vtag_metrics_cider_d(df, &w, cand, refs[i], n_refs[i], &c, err))) goto done;
            }
            gs += c;
        }
        stats->reward += rs / (double)BN;
        stats->advantage += as / (double)BN;
        stats->greedy += gs / (double)B;
        stats->loss += loss;
        stats->steps++;
    }
done:
    vtag_metrics_work_free(&w);
    free(gseq), free(glen), free(sseq), free(slen), free(greedy), free(reward), free(adv);
    return rc;
}

int vtag_train_scst_epoch(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                          const vtag_metrics_seq *const *row_refs, const int64_t *row_n_refs, const vtag_metrics_df *df,
                          const vtag_scst_opts *o, vtag_scst_stats *stats, vtag_progress_fn progress, void *user,
                          vtag_error *err)
{
    int rc = vtag_scst_check_opts(o, err);
    if (rc) return rc;
    const int64_t n = rows->n, bs = o->batch_size > 0 ? o->batch_size : 10;
    const int64_t dfc = m->cfg.fc_feat_size, datt = rows->k * m->cfg.att_feat_size;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    float *fc = rows->fc ? malloc((size_t)(bs * dfc) * sizeof(float)) : NULL;
    float *att = rows->att ? malloc((size_t)(bs * datt) * sizeof(float)) : NULL;
    const vtag_metrics_seq **refs = malloc((size_t)bs * sizeof *refs);
    int64_t *nrefs = malloc((size_t)bs * sizeof *nrefs);
    memset(stats, 0, sizeof *stats);
    if (!perm || (rows->fc && !fc) || (rows->att && !att) || !refs || !nrefs) {
        rc = oom(err);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(vtag_rng_next(&ctx->rng) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int64_t start = 0; start < n && !rc; start += bs) {
        const int64_t b = n - start < bs ? n - start : bs;
        for (int64_t i = 0; i < b; i++) {
            int64_t r = perm[start + i];
            if (fc) memcpy(fc + i * dfc, rows->fc + r * dfc, (size_t)dfc * sizeof(float));
            if (att) memcpy(att + i * datt, rows->att + r * datt, (size_t)datt * sizeof(float));
            refs[i] = row_refs[r];
            nrefs[i] = row_n_refs[r];
        }
        vtag_batch bt = {b, rows->k, fc, att, NULL};
        rc = vtag_scst_step(ctx, m, adam, &bt, refs, nrefs, df, o, stats, err);
        if (!rc && progress) progress(user, start + b, n, stats->reward / (double)stats->steps);
    }
    if (stats->steps) {
        stats->reward /= (double)stats->steps;
        stats->advantage /= (double)stats->steps;
        stats->greedy = o->baseline == VTAG_SCST_BASELINE_GREEDY ? stats->greedy / (double)stats->steps : NAN;
        stats->loss /= (double)stats->steps;
    }
done:
    free(perm), free(fc), free(att), free(refs), free(nrefs);
    return rc;
}

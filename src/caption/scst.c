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

/* Buffers of the steps of an epoch, allocated once. */
struct vtag_scst_work {
    int64_t max_b, L, n;
    int32_t *gseq, *glen; /* [B, L], [B]: greedy captions */
    int32_t *sseq, *slen; /* [B·n, L], [B·n]: samples */
    double *greedy;       /* [B] greedy rewards */
    double *reward;       /* [B·n] */
    float *adv;           /* [B·n] */
    int32_t *ids;         /* [n, L+1]: an image's samples with EOS */
    vtag_metrics_seq *cands; /* [n] */
    double *cider;        /* [n] */
    vtag_metrics_work mw;
};

static int oom(vtag_error *err) { return vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory"); }

int vtag_scst_work_new(vtag_scst_work **out, int64_t max_b, int64_t max_length, int sample_n, vtag_error *err)
{
    *out = NULL;
    if (max_b < 1 || max_length < 1 || sample_n < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "SCST: %lld images of %lld tokens, %d samples each", (long long)max_b,
                         (long long)max_length, sample_n);
    const int64_t B = max_b, L = max_length, n = sample_n;
    int64_t BN, BNL, BL, NL1;
    if (vtag_mul_i64(B, n, &BN) || vtag_mul_i64(BN, L, &BNL) || vtag_mul_i64(B, L, &BL) || vtag_mul_i64(n, L + 1, &NL1) ||
        (uint64_t)BNL > SIZE_MAX / sizeof(double))
        return oom(err);
    vtag_scst_work *w = calloc(1, sizeof *w);
    if (!w) return oom(err);
    w->max_b = B, w->L = L, w->n = n;
    vtag_metrics_work_init(&w->mw);
    w->gseq = malloc((size_t)BL * sizeof(int32_t));
    w->glen = malloc((size_t)B * sizeof(int32_t));
    w->sseq = malloc((size_t)BNL * sizeof(int32_t));
    w->slen = malloc((size_t)BN * sizeof(int32_t));
    w->greedy = malloc((size_t)B * sizeof(double));
    w->reward = malloc((size_t)BN * sizeof(double));
    w->adv = malloc((size_t)BN * sizeof(float));
    w->ids = malloc((size_t)NL1 * sizeof(int32_t));
    w->cands = malloc((size_t)n * sizeof *w->cands);
    w->cider = malloc((size_t)n * sizeof(double));
    if (!w->gseq || !w->glen || !w->sseq || !w->slen || !w->greedy || !w->reward || !w->adv || !w->ids || !w->cands ||
        !w->cider) {
        vtag_scst_work_free(&w);
        return oom(err);
    }
    *out = w;
    return VTAG_OK;
}

void vtag_scst_work_free(vtag_scst_work **wp)
{
    vtag_scst_work *w = *wp;
    if (!w) return;
    vtag_metrics_work_free(&w->mw);
    free(w->gseq), free(w->glen), free(w->sseq), free(w->slen), free(w->greedy), free(w->reward), free(w->adv);
    free(w->ids), free(w->cands), free(w->cider);
    free(w);
    *wp = NULL;
}

/* The rewards of an image's n samples: CIDEr-D of all of them against the
 * image's references prepared once (vtag_metrics_cider_d_many), plus the
 * sentence BLEU-4 term when it is weighted. */
static int sample_rewards(vtag_scst_work *w, const vtag_metrics_df *df, const vtag_scst_opts *o, int64_t B,
                          const vtag_metrics_seq *const *refs, const int64_t *n_refs, vtag_error *err)
{
    const int64_t n = w->n, L = w->L;
    double *reward = w->reward;
    int rc = VTAG_OK;
    for (int64_t i = 0; i < B && !rc; i++) {
        for (int64_t j = 0; j < n; j++)
            w->cands[j] = with_eos(w->sseq + (i * n + j) * L, w->slen[i * n + j], L, w->ids + j * (L + 1));
        for (int64_t j = 0; j < n; j++) reward[i * n + j] = 0;
        if (o->cider_weight != 0) {
            rc = vtag_metrics_cider_d_many(df, &w->mw, w->cands, n, refs[i], n_refs[i], w->cider, err);
            for (int64_t j = 0; j < n && !rc; j++) reward[i * n + j] += o->cider_weight * w->cider[j];
        }
        for (int64_t j = 0; j < n && !rc && o->bleu_weight != 0; j++) {
            vtag_metrics_bleu b;
            double bl[VTAG_METRICS_MAX_N];
            vtag_metrics_bleu_init(&b);
            rc = vtag_metrics_bleu_add(&b, &w->mw, w->cands[j], refs[i], n_refs[i], err);
            vtag_metrics_bleu_score(&b, bl);
            reward[i * n + j] += o->bleu_weight * bl[3];
        }
    }
    return rc;
}

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

int vtag_scst_grad(vtag_ctx *ctx, vtag_model *m, vtag_scst_work *w, const vtag_batch *bt,
                   const vtag_metrics_seq *const *refs, const int64_t *n_refs, const vtag_metrics_df *df,
                   const vtag_scst_opts *o, int64_t step, double *loss, vtag_scst_stats *means, vtag_error *err)
{
    const int64_t B = bt->b, L = m->cfg.max_length, n = o->sample_n, BN = B * n;
    if (B < 1 || B > w->max_b || L != w->L || n != w->n)
        return vtag_fail(err, VTAG_ERR_ARG, "SCST: a step of %lld images, %lld tokens, %lld samples for buffers of "
                         "%lld, %lld, %lld", (long long)B, (long long)L, (long long)n, (long long)w->max_b,
                         (long long)w->L, (long long)w->n);
    int rc = VTAG_OK;
    /* Baseline: the greedy caption, dropout off, no gradient. */
    memset(w->greedy, 0, (size_t)B * sizeof(double));
    if (o->baseline == VTAG_SCST_BASELINE_GREEDY) {
        vtag_decode_opts g = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        vtag_arena_reset(&ctx->arena);
        if ((rc = vtag_model_decode(ctx, m, bt, &g, w->gseq, NULL, w->glen, err))) return rc;
        for (int64_t i = 0; i < B && !rc; i++)
            rc = vtag_scst_reward(df, &w->mw, o, w->gseq + i * L, w->glen[i], L, refs[i], n_refs[i], &w->greedy[i], err);
        if (rc) return rc;
    }
    /* n samples per image, dropout on, keeping the activations. */
    vtag_scst_tape *tape = NULL;
    vtag_arena_reset(&ctx->arena);
    if ((rc = at_step(vtag_scst_sample(ctx, m, bt, n, 1, NULL, &tape, w->sseq, w->slen, err), step, err))) return rc;
    if ((rc = sample_rewards(w, df, o, B, refs, n_refs, err))) return rc;
    vtag_scst_advantages(w->reward, w->greedy, B, (int)n, o->baseline, w->adv);
    /* −Σ advantage · log p(sample) over its labels and EOS, / Σ mask: the
     * gradient through the sampling pass (same activations, same masks). */
    *loss = 0;
    vtag_params_zero_grad(&m->params);
    if ((rc = vtag_scst_backward(ctx, m, tape, w->adv, loss, err))) return rc;
    if (!means) return VTAG_OK;
    double rs = 0, as = 0, gs = 0;
    for (int64_t i = 0; i < BN; i++) rs += w->reward[i], as += w->adv[i];
    for (int64_t i = 0; i < B && o->baseline == VTAG_SCST_BASELINE_GREEDY; i++) {
        /* The log reports the greedy captions' CIDEr-D itself. */
        double c = w->greedy[i];
        if ((o->cider_weight != 1 || o->bleu_weight != 0) && df) {
            int32_t buf[1024];
            vtag_metrics_seq cand = with_eos(w->gseq + i * L, w->glen[i], L, buf);
            if ((rc = vtag_metrics_cider_d(df, &w->mw, cand, refs[i], n_refs[i], &c, err))) return rc;
        }
        gs += c;
    }
    *means = (vtag_scst_stats){rs / (double)BN, as / (double)BN, gs / (double)B, *loss, 1, caption_tape_tokens(tape)};
    return VTAG_OK;
}

/* Adds a step's means to an epoch's sums. */
static void add_means(vtag_scst_stats *sum, const vtag_scst_stats *s)
{
    sum->reward += s->reward;
    sum->advantage += s->advantage;
    sum->greedy += s->greedy;
    sum->loss += s->loss;
    sum->steps++;
}

int vtag_scst_step(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_batch *bt, const vtag_metrics_seq *const *refs,
                   const int64_t *n_refs, const vtag_metrics_df *df, const vtag_scst_opts *o, vtag_scst_stats *stats,
                   vtag_error *err)
{
    int rc = vtag_scst_check_opts(o, err);
    if (rc) return rc;
    vtag_scst_work *w;
    if ((rc = vtag_scst_work_new(&w, bt->b, m->cfg.max_length, o->sample_n, err))) return rc;
    const int64_t step = stats ? stats->steps + 1 : 1;
    vtag_scst_stats means;
    double loss = 0;
    rc = vtag_scst_grad(ctx, m, w, bt, refs, n_refs, df, o, step, &loss, stats ? &means : NULL, err);
    if (!rc) rc = vtag_train_update(ctx, m, adam, loss, o->lr, o->grad_clip, step, NULL, err);
    if (!rc && stats) add_means(stats, &means);
    vtag_scst_work_free(&w);
    return rc;
}

/* An SCST leaf: images [lo, hi) of the step's gathered batch. */
typedef struct scst_leaf {
    vtag_ctx *ctx;
    vtag_model *m;
    vtag_scst_work *w;
    int64_t k, step;
    const float *fc, *att;
    const vtag_metrics_seq *const *refs;
    const int64_t *nrefs;
    const vtag_metrics_df *df;
    const vtag_scst_opts *o;
    vtag_scst_stats means; /* the last leaf's */
} scst_leaf;

static int scst_leaf_grad(void *user, int64_t lo, int64_t hi, double *loss, double *sums, vtag_error *err)
{
    scst_leaf *x = user;
    const vtag_model *m = x->m;
    const int64_t dfc = m->cfg.fc_feat_size, datt = x->k * m->cfg.att_feat_size, b = hi - lo;
    vtag_batch bt = {b, x->k, x->fc ? x->fc + lo * dfc : NULL, x->att ? x->att + lo * datt : NULL, NULL};
    int rc = vtag_scst_grad(x->ctx, x->m, x->w, &bt, x->refs + lo, x->nrefs + lo, x->df, x->o, x->step, loss,
                            &x->means, err);
    if (rc) return rc;
    const double samples = (double)(b * x->o->sample_n), tokens = (double)x->means.tokens;
    sums[STEP_TOKENS] = tokens;
    sums[STEP_LOSS] = *loss * tokens;
    sums[STEP_REWARD] = x->means.reward * samples;
    sums[STEP_ADV] = x->means.advantage * samples;
    sums[STEP_GREEDY] = x->o->baseline == VTAG_SCST_BASELINE_GREEDY ? x->means.greedy * (double)b : 0.0;
    sums[STEP_IMAGES] = (double)b;
    return VTAG_OK;
}

int vtag_train_scst_epoch_hooks(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                                const vtag_metrics_seq *const *row_refs, const int64_t *row_n_refs,
                                const vtag_metrics_df *df, const vtag_scst_opts *o, const vtag_train_hooks *hooks,
                                vtag_scst_stats *stats, vtag_error *err)
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
    vtag_scst_work *w = NULL;
    caption_steps *steps = NULL;
    memset(stats, 0, sizeof *stats);
    if (!perm || (rows->fc && !fc) || (rows->att && !att) || !refs || !nrefs) {
        rc = oom(err);
        goto done;
    }
    if ((rc = vtag_scst_work_new(&w, bs, m->cfg.max_length, o->sample_n, err))) goto done;
    if ((rc = caption_steps_new(&steps, m, hooks, err))) goto done;
    const int sharded = hooks && hooks->shard.micro > 1;
    vtag_train_shuffle(&ctx->rng, perm, n);
    scst_leaf leaf = {.ctx = ctx, .m = m, .w = w, .k = rows->k, .fc = fc, .att = att, .refs = refs, .nrefs = nrefs, .df = df, .o = o};
    for (int64_t start = 0; start < n && !rc; start += bs) {
        const int64_t b = n - start < bs ? n - start : bs;
        for (int64_t i = 0; i < b; i++) {
            int64_t r = perm[start + i];
            if (fc) memcpy(fc + i * dfc, rows->fc + r * dfc, (size_t)dfc * sizeof(float));
            if (att) memcpy(att + i * datt, rows->att + r * datt, (size_t)datt * sizeof(float));
            refs[i] = row_refs[r];
            nrefs[i] = row_n_refs[r];
        }
        const int64_t step = stats->steps + 1;
        double loss = 0, sums[STEP_SUMS];
        leaf.step = step;
        rc = caption_step_grad(ctx, m, steps, b, step, scst_leaf_grad, &leaf, &loss, sums, err);
        if (!rc) rc = caption_step_update(ctx, m, steps, adam, sums, &loss, o->lr, o->grad_clip, step, hooks, err);
        if (rc) break;
        vtag_scst_stats means = leaf.means; /* one pass over the whole batch: its own means */
        if (sharded) {
            const double images = sums[STEP_IMAGES], samples = images * o->sample_n;
            means = (vtag_scst_stats){sums[STEP_REWARD] / samples, sums[STEP_ADV] / samples,
                                      sums[STEP_GREEDY] / images, loss, 1, (int64_t)sums[STEP_TOKENS]};
        }
        add_means(stats, &means);
        if (hooks && hooks->progress) hooks->progress(hooks->user, start + b, n, stats->reward / (double)stats->steps);
    }
    if (stats->steps) {
        stats->reward /= (double)stats->steps;
        stats->advantage /= (double)stats->steps;
        stats->greedy = o->baseline == VTAG_SCST_BASELINE_GREEDY ? stats->greedy / (double)stats->steps : NAN;
        stats->loss /= (double)stats->steps;
    }
done:
    caption_steps_free(&steps);
    vtag_scst_work_free(&w);
    free(perm), free(fc), free(att), free(refs), free(nrefs);
    return rc;
}

int vtag_train_scst_epoch(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                          const vtag_metrics_seq *const *row_refs, const int64_t *row_n_refs, const vtag_metrics_df *df,
                          const vtag_scst_opts *o, vtag_scst_stats *stats, vtag_progress_fn progress, void *user,
                          vtag_error *err)
{
    const vtag_train_hooks hooks = {.progress = progress, .user = user};
    return vtag_train_scst_epoch_hooks(ctx, m, adam, rows, row_refs, row_n_refs, df, o, &hooks, stats, err);
}

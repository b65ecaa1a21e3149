/* XE training: the step split in gradient and update, epochs, the shuffle;
 * batched decoding over feature rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_internal.h"

void vtag_xe_opts_defaults(vtag_xe_opts *o)
{
    o->batch_size = 50;
    o->lr = 5e-4f;
    o->lr_decay = 0.8f;
    o->lr_decay_every = 3;
    o->lr_decay_start = 0;
    o->grad_clip = 0.1f;
}

static int check_rows(const vtag_model *m, const vtag_rows *r, vtag_error *err)
{
    if (r->n < 1) return vtag_fail(err, VTAG_ERR_ARG, "caption: no rows");
    if (m->cfg.type != VTAG_MODEL_ATT2IN && !r->fc)
        return vtag_fail(err, VTAG_ERR_ARG, "model %s needs fc features", vtag_model_type_name(m->cfg.type));
    if (m->cfg.type != VTAG_MODEL_FC && !r->att)
        return vtag_fail(err, VTAG_ERR_ARG, "model %s needs att features", vtag_model_type_name(m->cfg.type));
    return VTAG_OK;
}

/* Copies the rows idx[0..b) into contiguous batch buffers. */
static void gather(const vtag_model *m, const vtag_rows *r, const int64_t *idx, int64_t b, float *fc, float *att,
                   int32_t *labels)
{
    const int64_t dfc = m->cfg.fc_feat_size, datt = r->k * m->cfg.att_feat_size, L = m->cfg.max_length;
    for (int64_t i = 0; i < b; i++) {
        if (fc) memcpy(fc + i * dfc, r->fc + idx[i] * dfc, (size_t)dfc * sizeof(float));
        if (att) memcpy(att + i * datt, r->att + idx[i] * datt, (size_t)datt * sizeof(float));
        if (labels) memcpy(labels + i * L, r->labels + idx[i] * L, (size_t)L * sizeof(int32_t));
    }
}

void vtag_train_shuffle(vtag_rng *rng, int64_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(vtag_rng_next(rng) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

char *vtag_train_state_path(const char *checkpoint)
{
    const char *ext = ".safetensors";
    const size_t n = strlen(checkpoint), e = strlen(ext);
    const size_t stem = n > e && strcmp(checkpoint + n - e, ext) == 0 ? n - e : n;
    char *p = malloc(stem + 32);
    if (p) snprintf(p, stem + 32, "%.*s.state.safetensors", (int)stem, checkpoint);
    return p;
}

int vtag_train_xe_grad(vtag_ctx *ctx, vtag_model *m, const vtag_batch *batch, double *loss, vtag_error *err)
{
    vtag_arena_reset(&ctx->arena);
    vtag_params_zero_grad(&m->params);
    return vtag_model_xe(ctx, m, batch, 1, 1, loss, NULL, err);
}

int vtag_train_update(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, double loss, float lr, float grad_clip,
                      int64_t step, const vtag_train_hooks *hooks, vtag_error *err)
{
    vtag_params *p = &m->params;
    int rc;
    if (hooks && hooks->grad && (rc = hooks->grad(hooks->user, p->grad, p->total, step, err))) return rc;
    /* Stop before Adam writes nan into the weights. */
    if ((rc = vtag_check_diverged(loss, vtag_grad_norm(p->grad, p->total, ctx->threads), step, err))) return rc;
    if (grad_clip > 0) vtag_clip_grad_value(p->grad, p->total, grad_clip, ctx->threads);
    vtag_adam_update(adam, p, lr, ctx->threads);
    return VTAG_OK;
}

int vtag_train_xe_epoch_hooks(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                              const vtag_xe_opts *o, int epoch, const vtag_train_hooks *hooks, vtag_epoch_stats *stats,
                              vtag_error *err)
{
    int rc = check_rows(m, rows, err);
    if (rc) return rc;
    if (!rows->labels) return vtag_fail(err, VTAG_ERR_ARG, "training needs captions");
    const int64_t n = rows->n, bs = o->batch_size > 0 ? o->batch_size : 50, L = m->cfg.max_length;
    const int64_t dfc = m->cfg.fc_feat_size, datt = rows->k * m->cfg.att_feat_size;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    float *fc = rows->fc ? malloc((size_t)(bs * dfc) * sizeof(float)) : NULL;
    float *att = rows->att ? malloc((size_t)(bs * datt) * sizeof(float)) : NULL;
    int32_t *labels = malloc((size_t)(bs * L) * sizeof(int32_t));
    if (!perm || (rows->fc && !fc) || (rows->att && !att) || !labels) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "training: out of memory");
        goto done;
    }
    vtag_train_shuffle(&ctx->rng, perm, n);
    const float lr = vtag_lr_step_decay(o->lr, epoch, o->lr_decay_start, o->lr_decay_every, o->lr_decay);
    memset(stats, 0, sizeof *stats);
    double loss_sum = 0;
    for (int64_t start = 0; start < n; start += bs) {
        const int64_t b = n - start < bs ? n - start : bs;
        gather(m, rows, perm + start, b, fc, att, labels);
        vtag_batch bt = {b, rows->k, fc, att, labels};
        double loss = 0;
        if ((rc = vtag_train_xe_grad(ctx, m, &bt, &loss, err))) goto done;
        if ((rc = vtag_train_update(ctx, m, adam, loss, lr, o->grad_clip, stats->steps + 1, hooks, err))) goto done;
        for (int64_t i = 0; i < b * L; i++) stats->tokens += labels[i] != 0;
        stats->tokens += b;
        stats->steps++;
        loss_sum += loss;
        if (hooks && hooks->progress) hooks->progress(hooks->user, start + b, n, loss_sum / (double)stats->steps);
    }
    stats->loss = stats->steps ? loss_sum / (double)stats->steps : 0.0;
done:
    free(perm);
    free(fc);
    free(att);
    free(labels);
    return rc;
}

int vtag_train_xe_epoch(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows, const vtag_xe_opts *o,
                        int epoch, vtag_epoch_stats *stats, vtag_progress_fn progress, void *user, vtag_error *err)
{
    const vtag_train_hooks hooks = {progress, NULL, user};
    return vtag_train_xe_epoch_hooks(ctx, m, adam, rows, o, epoch, &hooks, stats, err);
}

int vtag_caption_rows(vtag_ctx *ctx, vtag_model *m, const vtag_rows *rows, const vtag_decode_opts *opts, int batch_size,
                      int32_t *seq, float *logprobs, int32_t *len, vtag_error *err)
{
    int rc = check_rows(m, rows, err);
    if (rc) return rc;
    const int64_t n = rows->n, bs = batch_size > 0 ? batch_size : 50, L = m->cfg.max_length;
    const int64_t dfc = m->cfg.fc_feat_size, datt = rows->k * m->cfg.att_feat_size;
    for (int64_t start = 0; start < n; start += bs) {
        const int64_t b = n - start < bs ? n - start : bs;
        /* Rows are contiguous: point into them instead of copying. */
        vtag_batch bt = {b, rows->k, rows->fc ? rows->fc + start * dfc : NULL, rows->att ? rows->att + start * datt : NULL,
                         NULL};
        vtag_arena_reset(&ctx->arena);
        rc = vtag_model_decode(ctx, m, &bt, opts, seq + start * L, logprobs ? logprobs + start * (L + 1) : NULL,
                               len ? len + start : NULL, err);
        if (rc) return rc;
    }
    return VTAG_OK;
}

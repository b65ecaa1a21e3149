/* XE training: the step split in gradient and update, epochs, the shuffle;
 * batched decoding over feature rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_internal.h"
#include "vtag/cluster.h"

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

/* ---- sharded steps ---- */

int vtag_train_shard_check(const vtag_train_shard *s, vtag_error *err)
{
    const int micro = s->micro > 1 ? s->micro : 1, ranks = s->ranks > 0 ? s->ranks : 1;
    if (s->micro < 0 || s->micro > 1024 || (micro & (micro - 1)))
        return vtag_fail(err, VTAG_ERR_ARG, "--micro-batches %d: it must be 1 or a power of two up to 1024", s->micro);
    if (s->rank < 0 || s->rank >= ranks)
        return vtag_fail(err, VTAG_ERR_ARG, "rank %d of %d ranks", s->rank, ranks);
    if (ranks & (ranks - 1))
        return vtag_fail(err, VTAG_ERR_ARG, "%d ranks: training needs a power of two (1, 2, 4, 8 ...), so that "
                         "each rank's micro-batches are one subtree of the gradient sum", ranks);
    if (micro % ranks)
        return vtag_fail(err, VTAG_ERR_ARG, "--micro-batches %d with %d ranks: it must be a multiple of the ranks "
                         "(e.g. --micro-batches %d)", micro, ranks, ranks);
    return VTAG_OK;
}

struct caption_steps {
    vtag_train_shard s; /* micro >= 1, ranks >= 1 */
    int64_t n;          /* floats of the gradient */
    int depth;          /* buffers: log2(micro/ranks) + 1 */
    float **buf;        /* the tree's open subtrees, left to right */
    double (*sums)[STEP_SUMS];
    int64_t *leaves;    /* leaves under each */
};

int caption_steps_new(caption_steps **out, const vtag_model *m, const vtag_train_hooks *hooks, vtag_error *err)
{
    *out = NULL;
    vtag_train_shard s = hooks ? hooks->shard : (vtag_train_shard){0, 0, 1};
    int rc = vtag_train_shard_check(&s, err);
    if (rc) return rc;
    s.micro = s.micro > 1 ? s.micro : 1;
    s.ranks = s.ranks > 0 ? s.ranks : 1;
    if (s.ranks > 1 && !(hooks && hooks->reduce))
        return vtag_fail(err, VTAG_ERR_ARG, "%d ranks and no gradient reduce", s.ranks);
    caption_steps *w = calloc(1, sizeof *w);
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "training: out of memory");
    w->s = s;
    w->n = m->params.total;
    *out = w;
    if (s.micro == 1) return VTAG_OK;
    int depth = 1;
    for (int l = s.micro / s.ranks; l > 1; l >>= 1) depth++;
    w->depth = depth;
    w->buf = calloc((size_t)depth, sizeof *w->buf);
    w->sums = calloc((size_t)depth, sizeof *w->sums);
    w->leaves = calloc((size_t)depth, sizeof *w->leaves);
    size_t bytes = 0;
    if (!w->buf || !w->sums || !w->leaves || vtag_mul_size((size_t)w->n, sizeof(float), &bytes)) {
        caption_steps_free(out);
        return vtag_fail(err, VTAG_ERR_NOMEM, "training: out of memory for %d micro-batch gradients", depth);
    }
    for (int d = 0; d < depth; d++)
        if (!(w->buf[d] = malloc(bytes ? bytes : 1))) {
            caption_steps_free(out);
            return vtag_fail(err, VTAG_ERR_NOMEM, "training: out of memory for %d micro-batch gradients", depth);
        }
    return VTAG_OK;
}

void caption_steps_free(caption_steps **wp)
{
    caption_steps *w = *wp;
    if (!w) return;
    for (int d = 0; w->buf && d < w->depth; d++) free(w->buf[d]);
    free(w->buf);
    free(w->sums);
    free(w->leaves);
    free(w);
    *wp = NULL;
}

int caption_step_grad(vtag_ctx *ctx, vtag_model *m, caption_steps *w, int64_t b, int64_t step, caption_leaf_fn leaf,
                      void *user, double *loss, double *sums, vtag_error *err)
{
    memset(sums, 0, STEP_SUMS * sizeof *sums);
    if (w->s.micro == 1) return leaf(user, 0, b, loss, sums, err);
    *loss = 0;
    const int64_t M = w->s.micro, per = M / w->s.ranks, first = w->s.rank * per;
    const int64_t base = b / M, extra = b % M;
    /* Micro-batch j's stream: a function of the epoch's stream (where its
     * shuffle left it, which no step moves), the step and j -- the same on
     * every rank, and the epoch's next shuffle is the one a whole-batch
     * step without dropout would see. */
    const uint64_t seed = vtag_rng_at(ctx->rng.state, (uint64_t)step);
    const vtag_rng step_rng = ctx->rng;
    float *g = m->params.grad;
    int top = 0, rc = VTAG_OK;
    for (int64_t j = first; j < first + per && !rc; j++) {
        const int64_t lo = j * base + (j < extra ? j : extra), hi = lo + base + (j < extra);
        float *dst = w->buf[top];
        double *ds = w->sums[top];
        memset(ds, 0, STEP_SUMS * sizeof *ds);
        if (hi > lo) {
            double l = 0;
            vtag_rng_seed(&ctx->rng, vtag_rng_at(seed, (uint64_t)j));
            rc = leaf(user, lo, hi, &l, ds, err);
            const float c = (float)ds[STEP_TOKENS];
            for (int64_t i = 0; i < w->n && !rc; i++) dst[i] = g[i] * c;
        } else {
            memset(dst, 0, (size_t)w->n * sizeof *dst);
        }
        w->leaves[top++] = 1;
        /* Close every subtree whose two halves are done: left + right. */
        while (top >= 2 && w->leaves[top - 1] == w->leaves[top - 2]) {
            vtag_tree_add(w->buf[top - 2], w->buf[top - 1], w->n, w->sums[top - 2], w->sums[top - 1], STEP_SUMS);
            w->leaves[top - 2] *= 2;
            top--;
        }
    }
    ctx->rng = step_rng;
    if (rc) return rc;
    memcpy(g, w->buf[0], (size_t)w->n * sizeof *g);
    memcpy(sums, w->sums[0], STEP_SUMS * sizeof *sums);
    return VTAG_OK;
}

/* Stop before Adam writes nan into the weights: the hooks, the check, clip, Adam. */
static int update(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, double loss, float lr, float grad_clip, int64_t step,
                  const vtag_train_hooks *hooks, vtag_error *err)
{
    vtag_params *p = &m->params;
    int rc;
    if (hooks && hooks->grad && (rc = hooks->grad(hooks->user, p->grad, p->total, step, err))) return rc;
    if ((rc = vtag_check_diverged(loss, vtag_grad_norm(p->grad, p->total, ctx->threads), step, err))) return rc;
    if (grad_clip > 0) vtag_clip_grad_value(p->grad, p->total, grad_clip, ctx->threads);
    vtag_adam_update(adam, p, lr, ctx->threads);
    return VTAG_OK;
}

int caption_step_update(vtag_ctx *ctx, vtag_model *m, const caption_steps *w, vtag_adam *adam, double *sums,
                        double *loss, float lr, float grad_clip, int64_t step, const vtag_train_hooks *hooks,
                        vtag_error *err)
{
    vtag_params *p = &m->params;
    int rc;
    if (hooks && hooks->reduce && (rc = hooks->reduce(hooks->reduce_user, p->grad, p->total, sums, STEP_SUMS, err)))
        return rc;
    if (w->s.micro > 1) {
        const double tokens = sums[STEP_TOKENS];
        const float scale = tokens > 0 ? (float)(1.0 / tokens) : 0.0f;
        for (int64_t i = 0; i < p->total; i++) p->grad[i] *= scale;
        *loss = tokens > 0 ? sums[STEP_LOSS] / tokens : 0.0;
    }
    if ((rc = update(ctx, m, adam, *loss, lr, grad_clip, step, hooks, err))) return rc;
    if (hooks && hooks->step) hooks->step(hooks->user, step, *loss);
    return VTAG_OK;
}

int vtag_train_update(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, double loss, float lr, float grad_clip,
                      int64_t step, const vtag_train_hooks *hooks, vtag_error *err)
{
    return update(ctx, m, adam, loss, lr, grad_clip, step, hooks, err);
}

/* An XE leaf: rows [lo, hi) of the step's gathered batch. */
typedef struct xe_leaf {
    vtag_ctx *ctx;
    vtag_model *m;
    int64_t k;
    const float *fc, *att;
    const int32_t *labels;
} xe_leaf;

static int xe_leaf_grad(void *user, int64_t lo, int64_t hi, double *loss, double *sums, vtag_error *err)
{
    const xe_leaf *x = user;
    const vtag_model *m = x->m;
    const int64_t dfc = m->cfg.fc_feat_size, datt = x->k * m->cfg.att_feat_size, L = m->cfg.max_length;
    vtag_batch bt = {hi - lo, x->k, x->fc ? x->fc + lo * dfc : NULL, x->att ? x->att + lo * datt : NULL,
                     x->labels + lo * L};
    int rc = vtag_train_xe_grad(x->ctx, x->m, &bt, loss, err);
    int64_t tokens = hi - lo; /* one EOS per row */
    for (int64_t i = lo * L; i < hi * L; i++) tokens += x->labels[i] != 0;
    sums[STEP_TOKENS] = (double)tokens;
    sums[STEP_LOSS] = *loss * (double)tokens;
    return rc;
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
    caption_steps *steps = NULL;
    if (!perm || (rows->fc && !fc) || (rows->att && !att) || !labels) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "training: out of memory");
        goto done;
    }
    if ((rc = caption_steps_new(&steps, m, hooks, err))) goto done;
    vtag_train_shuffle(&ctx->rng, perm, n);
    const float lr = vtag_lr_step_decay(o->lr, epoch, o->lr_decay_start, o->lr_decay_every, o->lr_decay);
    memset(stats, 0, sizeof *stats);
    double loss_sum = 0;
    xe_leaf leaf = {ctx, m, rows->k, fc, att, labels};
    for (int64_t start = 0; start < n; start += bs) {
        const int64_t b = n - start < bs ? n - start : bs;
        gather(m, rows, perm + start, b, fc, att, labels);
        double loss = 0, sums[STEP_SUMS];
        if ((rc = caption_step_grad(ctx, m, steps, b, stats->steps + 1, xe_leaf_grad, &leaf, &loss, sums, err)))
            goto done;
        if ((rc = caption_step_update(ctx, m, steps, adam, sums, &loss, lr, o->grad_clip, stats->steps + 1, hooks,
                                      err)))
            goto done;
        for (int64_t i = 0; i < b * L; i++) stats->tokens += labels[i] != 0;
        stats->tokens += b;
        stats->steps++;
        loss_sum += loss;
        if (hooks && hooks->progress) hooks->progress(hooks->user, start + b, n, loss_sum / (double)stats->steps);
    }
    stats->loss = stats->steps ? loss_sum / (double)stats->steps : 0.0;
done:
    caption_steps_free(&steps);
    free(perm);
    free(fc);
    free(att);
    free(labels);
    return rc;
}

int vtag_train_xe_epoch(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows, const vtag_xe_opts *o,
                        int epoch, vtag_epoch_stats *stats, vtag_progress_fn progress, void *user, vtag_error *err)
{
    const vtag_train_hooks hooks = {.progress = progress, .user = user};
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

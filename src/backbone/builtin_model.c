/* The built-in backbone's network: parameter layout, initialisation, and one
 * training-mode forward + BCE loss + backward pass (BN with batch statistics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/builtin_internal.h"
#include "vtag/builtin.h"
#include "vtag/cnn.h"
#include "vtag/nn.h"

void vtag_builtin_config_default(vtag_builtin_config *c)
{
    memset(c, 0, sizeof *c);
    c->size = 64;
    c->n_stages = 4;
    const int64_t w[4] = {16, 32, 64, 128};
    for (int s = 0; s < 4; s++) {
        c->widths[s] = w[s];
        c->blocks[s] = 1;
    }
    c->n_labels = 1;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(c->mean, mean, sizeof mean);
    memcpy(c->std, std, sizeof std);
    c->bn_eps = 1e-5f;
    c->bn_momentum = 0.1f;
}

int vtag_builtin_config_check(const vtag_builtin_config *c, vtag_error *err)
{
    if (c->n_stages < 1 || c->n_stages > VTAG_BUILTIN_MAX_STAGES)
        return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: %d stages (1..%d)", c->n_stages, VTAG_BUILTIN_MAX_STAGES);
    int64_t maxc = 0;
    for (int s = 0; s < c->n_stages; s++) {
        if (c->widths[s] < 1 || c->widths[s] > VTAG_BUILTIN_MAX_WIDTH)
            return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: stage %d width %lld (1..%d)", s,
                             (long long)c->widths[s], VTAG_BUILTIN_MAX_WIDTH);
        if (c->blocks[s] < 1 || c->blocks[s] > VTAG_BUILTIN_MAX_BLOCKS)
            return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: stage %d has %lld blocks (1..%d)", s,
                             (long long)c->blocks[s], VTAG_BUILTIN_MAX_BLOCKS);
        if (c->widths[s] > maxc) maxc = c->widths[s];
    }
    if (c->n_labels < 1 || c->n_labels > VTAG_BUILTIN_MAX_LABELS)
        return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: %lld labels (1..%d)", (long long)c->n_labels,
                         VTAG_BUILTIN_MAX_LABELS);
    if (c->size < VTAG_BUILTIN_MIN_SIZE || c->size > VTAG_BUILTIN_MAX_SIZE)
        return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: size %lld (%d..%d)", (long long)c->size,
                         VTAG_BUILTIN_MIN_SIZE, VTAG_BUILTIN_MAX_SIZE);
    if (vtag_builtin_out_side(c) < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: size %lld is too small for %d stages", (long long)c->size, c->n_stages);
    /* inference keeps its activations in buffers of the widest stage at the stem's side */
    const int64_t side0 = builtin_conv_side(c->size, 3, 2);
    int64_t map;
    if (vtag_mul_i64(maxc, side0, &map) || vtag_mul_i64(map, side0, &map) || map > VTAG_BUILTIN_MAX_MAP)
        return vtag_fail(err, VTAG_ERR_ARG,
                         "built-in backbone: %lld channels at %lldx%lld is a feature map of more than %lld floats per image",
                         (long long)maxc, (long long)side0, (long long)side0, (long long)VTAG_BUILTIN_MAX_MAP);
    for (int i = 0; i < 3; i++)
        if (!(c->std[i] > 0) || !isfinite(c->std[i]) || !isfinite(c->mean[i]))
            return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: mean must be finite and std positive and finite");
    if (!(c->bn_eps > 0) || !isfinite(c->bn_eps))
        return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: bn_eps must be positive and finite");
    return VTAG_OK;
}

int64_t builtin_conv_side(int64_t side, int64_t k, int64_t stride) { return (side + 2 * (k / 2) - k) / stride + 1; }

int64_t vtag_builtin_out_side(const vtag_builtin_config *c)
{
    int64_t side = builtin_conv_side(c->size, 3, 2);
    for (int s = 1; s < c->n_stages; s++) side = builtin_conv_side(side, 3, 2);
    return side;
}

static int add_unit(vtag_builtin *m, const char *conv, const char *bn, int64_t c_in, int64_t c_out, int64_t k,
                    int64_t stride, vtag_error *err)
{
    vtag_builtin_unit *u = &m->units[m->n_units];
    char name[160];
    int64_t wshape[4] = {c_out, c_in, k, k}, cshape[1] = {c_out};
    snprintf(name, sizeof name, "%s.weight", conv);
    if ((u->w = vtag_params_add(&m->params, name, 4, wshape, err)) < 0) return u->w;
    snprintf(name, sizeof name, "%s.weight", bn);
    if ((u->gamma = vtag_params_add(&m->params, name, 1, cshape, err)) < 0) return u->gamma;
    snprintf(name, sizeof name, "%s.bias", bn);
    if ((u->beta = vtag_params_add(&m->params, name, 1, cshape, err)) < 0) return u->beta;
    snprintf(name, sizeof name, "%s.running_mean", bn);
    if ((u->mean = vtag_params_add(&m->buffers, name, 1, cshape, err)) < 0) return u->mean;
    snprintf(name, sizeof name, "%s.running_var", bn);
    if ((u->var = vtag_params_add(&m->buffers, name, 1, cshape, err)) < 0) return u->var;
    u->c_in = c_in, u->c_out = c_out, u->k = k, u->stride = stride;
    return m->n_units++;
}

void vtag_builtin_free(vtag_builtin *m)
{
    vtag_params_free(&m->params);
    vtag_params_free(&m->buffers);
    free(m->units);
    free(m->blocks);
    if (m->labels)
        for (int64_t i = 0; i < m->cfg.n_labels; i++) free(m->labels[i]);
    free(m->labels);
    memset(m, 0, sizeof *m);
}

int builtin_declare(vtag_builtin *m, const vtag_builtin_config *cfg, const char *const *labels, vtag_error *err)
{
    memset(m, 0, sizeof *m);
    int rc = vtag_builtin_config_check(cfg, err);
    if (rc) return rc;
    m->cfg = *cfg;
    vtag_params_init(&m->params);
    vtag_params_init(&m->buffers);
    int n_blocks = 0;
    for (int s = 0; s < cfg->n_stages; s++) n_blocks += (int)cfg->blocks[s];
    m->units = calloc((size_t)(1 + 3 * n_blocks), sizeof *m->units);
    m->blocks = calloc((size_t)n_blocks, sizeof *m->blocks);
    m->labels = calloc((size_t)cfg->n_labels, sizeof *m->labels);
    if (!m->units || !m->blocks || !m->labels) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < cfg->n_labels; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "label%lld", (long long)i);
        m->labels[i] = strdup(labels ? labels[i] : buf);
        if (!m->labels[i]) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
            goto fail;
        }
    }
    int u = add_unit(m, "stem.conv", "stem.bn", 3, cfg->widths[0], 3, 2, err);
    if (u < 0) goto fail_rc;
    int64_t c = cfg->widths[0];
    for (int s = 0; s < cfg->n_stages; s++) {
        for (int64_t b = 0; b < cfg->blocks[s]; b++) {
            const int64_t stride = (s > 0 && b == 0) ? 2 : 1, w = cfg->widths[s];
            char conv[64], bn[64];
            vtag_builtin_block *blk = &m->blocks[m->n_blocks];
            snprintf(conv, sizeof conv, "layer%d.%lld.conv1", s + 1, (long long)b);
            snprintf(bn, sizeof bn, "layer%d.%lld.bn1", s + 1, (long long)b);
            if ((blk->conv1 = add_unit(m, conv, bn, c, w, 3, stride, err)) < 0) goto fail_rc;
            snprintf(conv, sizeof conv, "layer%d.%lld.conv2", s + 1, (long long)b);
            snprintf(bn, sizeof bn, "layer%d.%lld.bn2", s + 1, (long long)b);
            if ((blk->conv2 = add_unit(m, conv, bn, w, w, 3, 1, err)) < 0) goto fail_rc;
            blk->proj = -1;
            if (stride != 1 || c != w) {
                snprintf(conv, sizeof conv, "layer%d.%lld.downsample.0", s + 1, (long long)b);
                snprintf(bn, sizeof bn, "layer%d.%lld.downsample.1", s + 1, (long long)b);
                if ((blk->proj = add_unit(m, conv, bn, c, w, 1, stride, err)) < 0) goto fail_rc;
            }
            m->n_blocks++;
            c = w;
        }
    }
    int64_t wshape[2] = {cfg->n_labels, c}, bshape[1] = {cfg->n_labels};
    if ((m->cls_w = vtag_params_add(&m->params, "classifier.weight", 2, wshape, err)) < 0) goto fail_cls;
    if ((m->cls_b = vtag_params_add(&m->params, "classifier.bias", 1, bshape, err)) < 0) goto fail_cls;
    /* the limits on widths and blocks bound these sums far inside int64 */
    if (m->params.total + m->buffers.total > VTAG_BUILTIN_MAX_PARAMS) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: %lld parameters and buffers (at most %lld)",
                       (long long)(m->params.total + m->buffers.total), (long long)VTAG_BUILTIN_MAX_PARAMS);
        goto fail;
    }
    return VTAG_OK;
fail_cls:
    rc = err ? err->code : VTAG_ERR_ARG;
    goto fail;
fail_rc:
    rc = err && err->code ? err->code : VTAG_ERR_ARG;
fail:
    vtag_builtin_free(m);
    return rc;
}

int vtag_builtin_init(vtag_builtin *m, const vtag_builtin_config *cfg, const char *const *labels, vtag_error *err)
{
    int rc = builtin_declare(m, cfg, labels, err);
    if (!rc && ((rc = vtag_params_alloc(&m->params, err)) || (rc = vtag_params_alloc(&m->buffers, err))))
        vtag_builtin_free(m);
    return rc;
}

void vtag_builtin_init_weights(vtag_builtin *m, vtag_rng *rng)
{
    for (int i = 0; i < m->n_units; i++) {
        const vtag_builtin_unit *u = &m->units[i];
        float *w = vtag_params_value(&m->params, u->w);
        const int64_t n = u->c_out * u->c_in * u->k * u->k;
        const float std = sqrtf(2.0f / (float)(u->c_out * u->k * u->k));
        for (int64_t j = 0; j < n; j++) w[j] = std * vtag_rng_normal(rng);
        float *g = vtag_params_value(&m->params, u->gamma), *b = vtag_params_value(&m->params, u->beta);
        float *rm = vtag_params_value(&m->buffers, u->mean), *rv = vtag_params_value(&m->buffers, u->var);
        for (int64_t j = 0; j < u->c_out; j++) g[j] = 1.0f, b[j] = 0.0f, rm[j] = 0.0f, rv[j] = 1.0f;
    }
    const int64_t v = m->cfg.n_labels, d = m->cfg.widths[m->cfg.n_stages - 1];
    const float bound = 1.0f / sqrtf((float)d);
    float *w = vtag_params_value(&m->params, m->cls_w), *b = vtag_params_value(&m->params, m->cls_b);
    for (int64_t j = 0; j < v * d; j++) w[j] = bound * (2.0f * vtag_rng_uniform(rng) - 1.0f);
    for (int64_t j = 0; j < v; j++) b[j] = bound * (2.0f * vtag_rng_uniform(rng) - 1.0f);
}

/* ---- training-mode forward / backward ------------------------------------------------- */

/* What the forward pass keeps of one conv–BN unit for the backward pass. */
typedef struct unit_trace {
    vtag_conv2d_dims d;
    vtag_batchnorm_dims bd;
    const float *in; /* [n, c_in, h, w] */
    float *conv;     /* [n, c_out, ho, wo] before BN */
    float *out;      /* act(BN + res), the unit's output */
    float *mean, *invstd;
} unit_trace;

void builtin_unit_dims(const vtag_builtin_unit *u, int64_t n, int64_t side, vtag_conv2d_dims *d)
{
    memset(d, 0, sizeof *d);
    d->n = n, d->c_in = u->c_in, d->h = d->w = side, d->c_out = u->c_out, d->kh = d->kw = u->k;
    d->stride_h = d->stride_w = u->stride;
    d->pad_top = d->pad_left = d->pad_bottom = d->pad_right = u->k / 2;
    d->dil_h = d->dil_w = 1, d->groups = 1;
}

/* t->out = act(BN(conv(in)) + res), res (may be NULL) the residual added before the activation. */
static int unit_forward(vtag_ctx *ctx, const vtag_builtin *m, int idx, unit_trace *t, const float *in, int64_t n,
                        int64_t side, const float *res, vtag_act act, int update_running, float *ws, vtag_error *err)
{
    const vtag_builtin_unit *u = &m->units[idx];
    vtag_conv2d_dims *d = &t->d;
    builtin_unit_dims(u, n, side, d);
    int rc = vtag_conv2d_plan(d, err);
    if (rc) return rc;
    const int64_t out_n = n * u->c_out * d->h_out * d->w_out;
    t->in = in;
    t->conv = vtag_arena_floats(&ctx->arena, out_n);
    t->out = vtag_arena_floats(&ctx->arena, out_n);
    t->mean = vtag_arena_floats(&ctx->arena, u->c_out);
    t->invstd = vtag_arena_floats(&ctx->arena, u->c_out);
    if (!t->conv || !t->out || !t->mean || !t->invstd) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    vtag_conv2d_forward(ctx, t->conv, in, vtag_params_value(&m->params, u->w), NULL, d, VTAG_ACT_NONE, ws);
    t->bd = (vtag_batchnorm_dims){n, u->c_out, d->h_out * d->w_out, m->cfg.bn_eps, m->cfg.bn_momentum};
    vtag_batchnorm_forward_train_act(ctx, t->out, t->mean, t->invstd,
                                     update_running ? vtag_params_value(&m->buffers, u->mean) : NULL,
                                     update_running ? vtag_params_value(&m->buffers, u->var) : NULL, t->conv,
                                     vtag_params_value(&m->params, u->gamma), vtag_params_value(&m->params, u->beta), res,
                                     act, &t->bd);
    return VTAG_OK;
}

/* dy: gradient at relu_out = relu(BN + res) (relu_out NULL: at the BN output, no activation).
 * din (may be NULL) += gradient at the unit's input. */
static int unit_backward(vtag_ctx *ctx, vtag_builtin *m, int idx, const unit_trace *t, const float *dy,
                         const float *relu_out, float *din, float *ws, vtag_error *err)
{
    const vtag_builtin_unit *u = &m->units[idx];
    const int64_t out_n = t->d.n * u->c_out * t->d.h_out * t->d.w_out;
    float *dconv = vtag_arena_floats(&ctx->arena, out_n);
    if (!dconv) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    vtag_batchnorm_relu_backward(ctx, dconv, vtag_params_grad(&m->params, u->gamma),
                                 vtag_params_grad(&m->params, u->beta), dy, relu_out, t->conv,
                                 vtag_params_value(&m->params, u->gamma), t->mean, t->invstd, &t->bd);
    vtag_conv2d_backward(ctx, din, vtag_params_grad(&m->params, u->w), NULL, dconv, t->in,
                         vtag_params_value(&m->params, u->w), &t->d, ws);
    return VTAG_OK;
}

typedef struct block_trace {
    const float *in;
    int64_t in_numel, out_numel;
    const float *out; /* relu(bn2 + shortcut): its conv2 unit's output */
} block_trace;

int64_t builtin_max_workspace(const vtag_builtin_unit *units, const vtag_builtin_block *blocks, int n_blocks,
                             int64_t size, int64_t n, int threads)
{
    vtag_conv2d_dims d;
    builtin_unit_dims(&units[0], n, size, &d);
    if (vtag_conv2d_plan(&d, NULL)) return -1;
    int64_t side = builtin_conv_side(size, units[0].k, units[0].stride), best = vtag_conv2d_workspace(&d, threads);
    for (int b = 0; b < n_blocks; b++) {
        const int ids[3] = {blocks[b].conv1, blocks[b].proj, blocks[b].conv2};
        const vtag_builtin_unit *u1 = &units[ids[0]];
        const int64_t side2 = builtin_conv_side(side, u1->k, u1->stride);
        for (int j = 0; j < 3; j++) {
            if (ids[j] < 0) continue;
            builtin_unit_dims(&units[ids[j]], n, j == 2 ? side2 : side, &d);
            if (vtag_conv2d_plan(&d, NULL)) return -1;
            int64_t ws = vtag_conv2d_workspace(&d, threads);
            if (ws > best) best = ws;
        }
        side = side2;
    }
    return best;
}

int vtag_builtin_train_step(vtag_ctx *ctx, vtag_builtin *m, const float *images, const float *targets, int64_t n,
                            int update_running, int backward, float *logits, double *loss, vtag_error *err)
{
    if (n < 1) return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: empty batch");
    const vtag_builtin_config *cfg = &m->cfg;
    const int64_t V = cfg->n_labels, D = cfg->widths[cfg->n_stages - 1];
    const int64_t wsn = builtin_max_workspace(m->units, m->blocks, m->n_blocks, cfg->size, n, ctx->threads);
    if (wsn < 0) return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: size %lld is too small", (long long)cfg->size);
    float *ws = vtag_arena_floats(&ctx->arena, wsn > 0 ? wsn : 1);
    unit_trace *ut = vtag_arena_alloc(&ctx->arena, (size_t)m->n_units * sizeof *ut);
    block_trace *bt = vtag_arena_alloc(&ctx->arena, (size_t)m->n_blocks * sizeof *bt);
    if (!ws || !ut || !bt) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    const int th = ctx->threads;
    int rc;
    /* stem */
    if ((rc = unit_forward(ctx, m, 0, &ut[0], images, n, cfg->size, NULL, VTAG_ACT_RELU, update_running, ws, err)))
        return rc;
    int64_t side = ut[0].d.h_out, numel = n * m->units[0].c_out * side * side;
    const float *x = ut[0].out;
    for (int b = 0; b < m->n_blocks; b++) {
        const vtag_builtin_block *blk = &m->blocks[b];
        block_trace *t = &bt[b];
        t->in = x;
        t->in_numel = numel;
        unit_trace *u1 = &ut[blk->conv1], *u2 = &ut[blk->conv2];
        if ((rc = unit_forward(ctx, m, blk->conv1, u1, x, n, side, NULL, VTAG_ACT_RELU, update_running, ws, err)))
            return rc;
        const int64_t side2 = u1->d.h_out, numel2 = n * m->units[blk->conv1].c_out * side2 * side2;
        const float *shortcut = x;
        if (blk->proj >= 0) {
            if ((rc = unit_forward(ctx, m, blk->proj, &ut[blk->proj], x, n, side, NULL, VTAG_ACT_NONE, update_running,
                                   ws, err)))
                return rc;
            shortcut = ut[blk->proj].out;
        }
        if ((rc = unit_forward(ctx, m, blk->conv2, u2, u1->out, n, side2, shortcut, VTAG_ACT_RELU, update_running, ws,
                               err)))
            return rc;
        t->out = u2->out;
        t->out_numel = numel2;
        x = t->out, side = side2, numel = numel2;
    }
    /* head: global average pool → classifier */
    const int64_t hw = side * side;
    float *pooled = vtag_arena_floats(&ctx->arena, n * D);
    float *lg = logits ? logits : vtag_arena_floats(&ctx->arena, n * V);
    if (!pooled || !lg) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    vtag_global_avgpool_forward(ctx, pooled, x, n, D, hw);
    vtag_linear_forward(ctx, lg, pooled, vtag_params_value(&m->params, m->cls_w), vtag_params_value(&m->params, m->cls_b),
                        n, D, V, 0);
    if (loss) *loss = vtag_bce_logits_forward(lg, targets, n * V);
    if (!backward) return VTAG_OK;

    float *dlogits = vtag_arena_zeros(&ctx->arena, n * V), *dpooled = vtag_arena_zeros(&ctx->arena, n * D);
    float *dx = vtag_arena_zeros(&ctx->arena, numel);
    if (!dlogits || !dpooled || !dx) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    vtag_bce_logits_backward(dlogits, lg, targets, n * V, 1.0f / (float)(n * V));
    vtag_linear_backward(ctx, dpooled, vtag_params_grad(&m->params, m->cls_w), vtag_params_grad(&m->params, m->cls_b),
                         dlogits, pooled, vtag_params_value(&m->params, m->cls_w), n, D, V);
    vtag_global_avgpool_backward(dx, dpooled, n, D, hw);
    for (int b = m->n_blocks - 1; b >= 0; b--) {
        const vtag_builtin_block *blk = &m->blocks[b];
        const block_trace *t = &bt[b];
        const unit_trace *u1 = &ut[blk->conv1];
        float *dr1 = vtag_arena_zeros(&ctx->arena, t->out_numel);
        float *din = vtag_arena_zeros(&ctx->arena, t->in_numel);
        if (!dr1 || !din) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
        /* dx is the gradient at relu(bn2 + shortcut): each unit's BN backward masks it itself */
        if ((rc = unit_backward(ctx, m, blk->conv2, &ut[blk->conv2], dx, t->out, dr1, ws, err))) return rc;
        if ((rc = unit_backward(ctx, m, blk->conv1, u1, dr1, u1->out, din, ws, err))) return rc;
        if (blk->proj >= 0) {
            if ((rc = unit_backward(ctx, m, blk->proj, &ut[blk->proj], dx, t->out, din, ws, err))) return rc;
        } else {
            vtag_act_backward(din, dx, t->out, t->in_numel, VTAG_ACT_RELU, th);
        }
        dx = din;
    }
    return unit_backward(ctx, m, 0, &ut[0], dx, ut[0].out, NULL, ws, err);
}

/* The built-in backbone at inference: every BatchNorm folded into the conv
 * before it (running statistics), ReLU fused into the conv where nothing is
 * added first; outputs fc (global average pool), att (the last map as
 * [K, D] rows) and the label probabilities. */
#include <stdlib.h>
#include <string.h>

#include "backbone/builtin_internal.h"
#include "vtag/nn.h"

void vtag_builtin_infer_free(vtag_builtin_infer *inf)
{
    if (inf->w)
        for (int i = 0; i < inf->n_units; i++) free(inf->w[i]);
    if (inf->b)
        for (int i = 0; i < inf->n_units; i++) free(inf->b[i]);
    free(inf->w);
    free(inf->b);
    free(inf->units);
    free(inf->blocks);
    free(inf->cls_w);
    free(inf->cls_b);
    memset(inf, 0, sizeof *inf);
}

int vtag_builtin_infer_build(vtag_builtin_infer *inf, const vtag_builtin *m, vtag_error *err)
{
    memset(inf, 0, sizeof *inf);
    inf->cfg = m->cfg;
    inf->n_units = m->n_units;
    inf->n_blocks = m->n_blocks;
    const int64_t V = m->cfg.n_labels, D = m->cfg.widths[m->cfg.n_stages - 1];
    inf->w = calloc((size_t)m->n_units, sizeof *inf->w);
    inf->b = calloc((size_t)m->n_units, sizeof *inf->b);
    inf->units = malloc((size_t)m->n_units * sizeof *inf->units);
    inf->blocks = malloc((size_t)m->n_blocks * sizeof *inf->blocks);
    inf->cls_w = malloc((size_t)(V * D) * sizeof(float));
    inf->cls_b = malloc((size_t)V * sizeof(float));
    if (!inf->w || !inf->b || !inf->units || !inf->blocks || !inf->cls_w || !inf->cls_b) goto nomem;
    memcpy(inf->units, m->units, (size_t)m->n_units * sizeof *inf->units);
    memcpy(inf->blocks, m->blocks, (size_t)m->n_blocks * sizeof *inf->blocks);
    memcpy(inf->cls_w, vtag_params_value(&m->params, m->cls_w), (size_t)(V * D) * sizeof(float));
    memcpy(inf->cls_b, vtag_params_value(&m->params, m->cls_b), (size_t)V * sizeof(float));
    for (int i = 0; i < m->n_units; i++) {
        const vtag_builtin_unit *u = &m->units[i];
        const int64_t per_out = u->c_in * u->k * u->k;
        inf->w[i] = malloc((size_t)(u->c_out * per_out) * sizeof(float));
        inf->b[i] = calloc((size_t)u->c_out, sizeof(float));
        if (!inf->w[i] || !inf->b[i]) goto nomem;
        memcpy(inf->w[i], vtag_params_value(&m->params, u->w), (size_t)(u->c_out * per_out) * sizeof(float));
        vtag_batchnorm_fold(inf->w[i], inf->b[i], u->c_out, per_out, vtag_params_value(&m->params, u->gamma),
                            vtag_params_value(&m->params, u->beta), vtag_params_value(&m->buffers, u->mean),
                            vtag_params_value(&m->buffers, u->var), m->cfg.bn_eps);
    }
    return VTAG_OK;
nomem:
    vtag_builtin_infer_free(inf);
    return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
}

/* out = act(conv_u(in) + b_u); returns the output side. */
static int64_t run_unit(vtag_ctx *ctx, const vtag_builtin_infer *inf, int u, float *out, const float *in, int64_t n,
                        int64_t side, vtag_act act, float *ws)
{
    vtag_conv2d_dims d;
    builtin_unit_dims(&inf->units[u], n, side, &d);
    if (vtag_conv2d_plan(&d, NULL)) return -1;
    vtag_conv2d_forward(ctx, out, in, inf->w[u], inf->b[u], &d, act, ws);
    return d.h_out;
}

int vtag_builtin_infer_run(vtag_ctx *ctx, const vtag_builtin_infer *inf, const float *images, int64_t n, float *fc,
                           float *att, float *probs, vtag_error *err)
{
    if (n < 1) return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: empty batch");
    const vtag_builtin_config *cfg = &inf->cfg;
    const int64_t D = cfg->widths[cfg->n_stages - 1], V = cfg->n_labels;
    const int th = ctx->threads;
    const int64_t wsn = builtin_max_workspace(inf->units, inf->blocks, inf->n_blocks, cfg->size, n, th);
    if (wsn < 0) return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: size %lld is too small", (long long)cfg->size);
    /* Three rotating buffers of the largest activation: block input, conv1 output, conv2 output
     * (+ the projection's). The largest map is the stem's or the first stage's. */
    const int64_t side0 = builtin_conv_side(cfg->size, 3, 2);
    int64_t maxc = 0;
    for (int s = 0; s < cfg->n_stages; s++) maxc = cfg->widths[s] > maxc ? cfg->widths[s] : maxc;
    const int64_t big = n * maxc * side0 * side0;
    float *ws = vtag_arena_floats(&ctx->arena, wsn > 0 ? wsn : 1);
    float *buf[4];
    for (int i = 0; i < 4; i++) buf[i] = vtag_arena_floats(&ctx->arena, big);
    if (!ws || !buf[0] || !buf[1] || !buf[2] || !buf[3]) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    float *x = buf[0];
    int64_t side = run_unit(ctx, inf, 0, x, images, n, cfg->size, VTAG_ACT_RELU, ws);
    if (side < 1) return vtag_fail(err, VTAG_ERR_ARG, "built-in backbone: size %lld is too small", (long long)cfg->size);
    int cur = 0;
    for (int b = 0; b < inf->n_blocks; b++) {
        const vtag_builtin_block *blk = &inf->blocks[b];
        float *r = buf[(cur + 1) % 4], *y = buf[(cur + 2) % 4], *p = buf[(cur + 3) % 4];
        const int64_t side2 = run_unit(ctx, inf, blk->conv1, r, x, n, side, VTAG_ACT_RELU, ws);
        run_unit(ctx, inf, blk->conv2, y, r, n, side2, VTAG_ACT_NONE, ws);
        const float *shortcut = x;
        if (blk->proj >= 0) {
            run_unit(ctx, inf, blk->proj, p, x, n, side, VTAG_ACT_NONE, ws);
            shortcut = p;
        }
        const int64_t numel = n * inf->units[blk->conv2].c_out * side2 * side2;
        vtag_add_forward(y, y, shortcut, numel, th);
        vtag_act_forward(y, y, numel, VTAG_ACT_RELU, th);
        x = y, side = side2, cur = (cur + 2) % 4;
    }
    const int64_t hw = side * side;
    float *pooled = fc ? fc : vtag_arena_floats(&ctx->arena, n * D);
    if (!pooled) return vtag_fail(err, VTAG_ERR_NOMEM, "built-in backbone: out of memory");
    vtag_global_avgpool_forward(ctx, pooled, x, n, D, hw);
    if (att) {
        /* [n, D, hw] → [n, hw, D] */
        for (int64_t i = 0; i < n; i++)
            for (int64_t c = 0; c < D; c++)
                for (int64_t k = 0; k < hw; k++) att[(i * hw + k) * D + c] = x[(i * D + c) * hw + k];
    }
    if (probs) {
        vtag_linear_forward(ctx, probs, pooled, inf->cls_w, inf->cls_b, n, D, V, 0);
        vtag_sigmoid_forward(probs, probs, n * V, th);
    }
    return VTAG_OK;
}

/* The built-in backbone against its PyTorch twin (reference/builtin_backbone.py): the same
 * weights (a backbone file written by PyTorch, so the loader is tested too) and batch give the
 * same training-mode logits and BCE loss, every parameter gradient, the running statistics after
 * the step, and — after that step, with BN folded into the convs — the same fc, att and label
 * probabilities. Then save + load round-trips the model bit for bit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/builtin.h"
#include "vtag/safetensors.h"

static const vtag_st_tensor *need(const vtag_st_file *f, const char *name, int64_t numel)
{
    const vtag_st_tensor *t = vtag_st_find(f, name);
    CHECK(t && t->numel == numel && t->dtype == VTAG_DTYPE_F32, "fixture tensor %s (%lld values)", name,
          (long long)numel);
    return t && t->numel == numel ? t : NULL;
}

/* max |a − b| / (1 + max |b|) over the tensor: relative to its scale. */
static void compare(const char *what, const float *got, const vtag_st_tensor *want, double tol)
{
    if (!want) return;
    const float *w = want->data;
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < want->numel; i++) scale = fmax(scale, fabs(w[i]));
    for (int64_t i = 0; i < want->numel; i++) worst = fmax(worst, fabs((double)got[i] - w[i]));
    double rel = worst / (scale > 1e-3 ? scale : 1e-3);
    CHECK(rel <= tol, "%s: max error %.3g relative to the scale %.3g (tol %.1g)", what, rel, scale, tol);
    printf("%-40s n=%-6lld max|err|/scale=%.2e\n", what, (long long)want->numel, rel);
}

int main(void)
{
    vtag_error err = {0};
    vtag_builtin m;
    vtag_st_file fx;
    if (vtag_builtin_load(&m, "builtin_parity_model.safetensors", &err) ||
        vtag_st_open(&fx, "builtin_parity.safetensors", &err)) {
        fprintf(stderr, "%s (run reference/builtin_backbone.py --fixture .)\n", err.msg);
        return 1;
    }
    vtag_ctx ctx;
    CHECK(vtag_ctx_init(&ctx, 2, 1, &err) == 0, "ctx: %s", err.msg);
    const vtag_builtin_config *c = &m.cfg;
    const int64_t V = c->n_labels, D = c->widths[c->n_stages - 1], S = c->size;
    const vtag_st_tensor *im = vtag_st_find(&fx, "in.images");
    CHECK(im && im->ndim == 4 && im->shape[1] == 3 && im->shape[2] == S, "in.images");
    if (!im) return check_summary("backbone/test_builtin_parity");
    const int64_t n = im->shape[0], side = vtag_builtin_out_side(c), K = side * side;
    const vtag_st_tensor *tg = need(&fx, "in.targets", n * V);
    float *logits = malloc((size_t)(n * V) * sizeof(float));
    double loss = 0;
    vtag_params_zero_grad(&m.params);
    CHECK(vtag_builtin_train_step(&ctx, &m, im->data, tg->data, n, 1, 1, logits, &loss, &err) == 0, "step: %s", err.msg);
    vtag_arena_reset(&ctx.arena);
    compare("train.logits", logits, need(&fx, "train.logits", n * V), 1e-5);
    const vtag_st_tensor *tl = need(&fx, "train.loss", 1);
    if (tl) CHECK_NEAR(loss, ((const float *)tl->data)[0], 1e-6, "train.loss");
    for (int i = 0; i < m.params.count; i++) {
        char name[256];
        snprintf(name, sizeof name, "grad.%s", m.params.items[i].name);
        compare(name, vtag_params_grad(&m.params, i), need(&fx, name, m.params.items[i].numel), 1e-4);
    }
    for (int i = 0; i < m.buffers.count; i++) {
        char name[256];
        snprintf(name, sizeof name, "run.%s", m.buffers.items[i].name);
        compare(name, vtag_params_value(&m.buffers, i), need(&fx, name, m.buffers.items[i].numel), 1e-5);
    }
    /* inference with BN folded, after the step */
    vtag_builtin_infer inf;
    CHECK(vtag_builtin_infer_build(&inf, &m, &err) == 0, "infer: %s", err.msg);
    float *fc = malloc((size_t)(n * D) * sizeof(float)), *att = malloc((size_t)(n * K * D) * sizeof(float)),
          *probs = malloc((size_t)(n * V) * sizeof(float));
    CHECK(vtag_builtin_infer_run(&ctx, &inf, im->data, n, fc, att, probs, &err) == 0, "run: %s", err.msg);
    vtag_arena_reset(&ctx.arena);
    compare("eval.fc", fc, need(&fx, "eval.fc", n * D), 1e-5);
    compare("eval.att", att, need(&fx, "eval.att", n * K * D), 1e-5);
    compare("eval.probs", probs, need(&fx, "eval.probs", n * V), 1e-5);

    /* save → load is exact, labels and config included */
    CHECK(vtag_builtin_save(&m, "builtin_parity_roundtrip.safetensors", &err) == 0, "save: %s", err.msg);
    vtag_builtin m2;
    CHECK(vtag_builtin_load(&m2, "builtin_parity_roundtrip.safetensors", &err) == 0, "load: %s", err.msg);
    CHECK(m2.params.total == m.params.total &&
              memcmp(m2.params.value, m.params.value, (size_t)m.params.total * sizeof(float)) == 0 &&
              memcmp(m2.buffers.value, m.buffers.value, (size_t)m.buffers.total * sizeof(float)) == 0,
          "round trip changed the weights");
    CHECK(m2.cfg.n_labels == V && strcmp(m2.labels[V - 1], m.labels[V - 1]) == 0 && m2.cfg.size == S &&
              m2.cfg.n_stages == c->n_stages && m2.cfg.blocks[1] == c->blocks[1],
          "round trip changed the description");
    vtag_builtin_free(&m2);

    free(logits), free(fc), free(att), free(probs);
    vtag_builtin_infer_free(&inf);
    vtag_st_close(&fx);
    vtag_builtin_free(&m);
    vtag_ctx_free(&ctx);
    return check_summary("backbone/test_builtin_parity");
}

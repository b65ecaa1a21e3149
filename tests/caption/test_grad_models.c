/* Finite-difference check of the whole XE loss of each caption model with
 * respect to every parameter tensor (dropout off; a fixed sample of elements
 * per tensor keeps it fast), on small non-square sizes. eps = 1e-3 (not the
 * layer tests' 1e-2): with 15 positions a larger step too often crosses a
 * kink of max() or ReLU somewhere, which no analytic gradient can match. */
#include <stdlib.h>
#include <string.h>

#include "../nn/gradcheck.h"
#include "vtag/caption.h"

enum { B = 3, K = 4, L = 5 };

typedef struct st {
    vtag_ctx ctx;
    vtag_model m;
    vtag_batch bt;
} st;

static double loss(void *p)
{
    st *s = p;
    double l = 0;
    vtag_arena_reset(&s->ctx.arena);
    vtag_error err = {0};
    int rc = vtag_model_xe(&s->ctx, &s->m, &s->bt, 0, 0, &l, NULL, &err);
    if (rc) fprintf(stderr, "xe: %s\n", err.msg);
    return l;
}

static void grads(void *p)
{
    st *s = p;
    double l = 0;
    vtag_params_zero_grad(&s->m.params);
    vtag_arena_reset(&s->ctx.arena);
    vtag_error err = {0};
    int rc = vtag_model_xe(&s->ctx, &s->m, &s->bt, 0, 1, &l, NULL, &err);
    CHECK(rc == 0, "xe backward: %s", err.msg);
}

int main(void)
{
    static float fc[B * 9], att[B * K * 6];
    static int32_t labels[B * L] = {3, 1, 4, 0, 0, /**/ 5, 2, 6, 7, 1, /**/ 2, 0, 0, 0, 0};
    vtag_rng rng;
    vtag_rng_seed(&rng, 2024);
    gc_fill(fc, B * 9, &rng, -1, 1);
    gc_fill(att, B * K * 6, &rng, -1, 1);
    for (int type = 0; type < 3; type++) {
        static st s;
        memset(&s, 0, sizeof s);
        vtag_ctx_init(&s.ctx, 2, 1, NULL);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = 7;
        cfg.input_encoding_size = 5;
        cfg.rnn_size = 6;
        cfg.att_hid_size = 4;
        cfg.fc_feat_size = 9;
        cfg.att_feat_size = 6;
        cfg.max_length = L;
        vtag_error err = {0};
        CHECK(vtag_model_init(&s.m, &cfg, &err) == 0, "init: %s", err.msg);
        /* Larger weights than the default init, so every path carries signal. */
        for (int64_t i = 0; i < s.m.params.total; i++) s.m.params.value[i] = 0.6f * (2 * vtag_rng_uniform(&rng) - 1);
        s.bt = (vtag_batch){B, K, fc, att, labels};
        if (cfg.type == VTAG_MODEL_TOPDOWN) {
            gc_clear_relu_kinks(att, B * K, 6, 6, vtag_params_value(&s.m.params, vtag_params_find(&s.m.params, "att_embed.0.weight")),
                             vtag_params_value(&s.m.params, vtag_params_find(&s.m.params, "att_embed.0.bias")), 0.02f);
            gc_clear_relu_kinks(fc, B, 9, 6, vtag_params_value(&s.m.params, vtag_params_find(&s.m.params, "fc_embed.0.weight")),
                             vtag_params_value(&s.m.params, vtag_params_find(&s.m.params, "fc_embed.0.bias")), 0.02f);
        }
        gc_var vars[64];
        int nv = 0;
        for (int i = 0; i < s.m.params.count && nv < 64; i++) {
            const vtag_param *t = &s.m.params.items[i];
            vars[nv++] = (gc_var){t->name, vtag_params_value(&s.m.params, i), vtag_params_grad(&s.m.params, i),
                                  t->numel < 60 ? t->numel : 60};
        }
        gc_case c = {vtag_model_type_name(cfg.type), &s, loss, grads, vars, nv, 1e-3, GC_ATOL, GC_RTOL};
        gc_run(&c);
        vtag_model_free(&s.m);
        vtag_ctx_free(&s.ctx);
    }
    return check_summary("grad_models");
}

/* The built-in backbone's gradients by central finite differences: the BCE
 * loss on logits alone, then the whole network (BN in training mode, every
 * parameter tensor) on a tiny instance with an identity and a projection
 * shortcut. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/gradcheck.h"
#include "vtag/builtin.h"

typedef struct bce_state {
    float *x, *y, *dx;
    int64_t n;
} bce_state;

static double bce_loss(void *s)
{
    bce_state *b = s;
    return vtag_bce_logits_forward(b->x, b->y, b->n);
}

static void bce_grads(void *s)
{
    bce_state *b = s;
    memset(b->dx, 0, (size_t)b->n * sizeof(float));
    vtag_bce_logits_backward(b->dx, b->x, b->y, b->n, 1.0f / (float)b->n);
}

static void test_bce(void)
{
    enum { N = 24 };
    float x[N], y[N], dx[N];
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    gc_fill(x, N, &rng, -6.0f, 6.0f);
    x[0] = 40.0f, x[1] = -40.0f; /* far tails: no overflow, gradient ±1/n or 0 */
    for (int i = 0; i < N; i++) y[i] = vtag_rng_uniform(&rng) < 0.4f ? 1.0f : 0.0f;
    y[0] = 0.0f, y[1] = 1.0f;
    bce_state st = {x, y, dx, N};
    /* the value itself against log-sum-exp written out */
    double want = 0;
    for (int i = 0; i < N; i++) {
        double p = 1.0 / (1.0 + exp(-(double)x[i]));
        want += -(y[i] * log(fmax(p, 1e-300)) + (1 - y[i]) * log(fmax(1 - p, 1e-300)));
    }
    /* log(1-p) underflows for x = 40 in double only past 1e-300: use the exact tail */
    want += 40.0 - (-(1 - y[0]) * log(fmax(1 - 1.0 / (1.0 + exp(-40.0)), 1e-300)));
    want += 40.0 - (-y[1] * log(fmax(1.0 / (1.0 + exp(40.0)), 1e-300)));
    CHECK_NEAR(bce_loss(&st), want / N, 1e-5, "BCE value");
    gc_var vars[] = {{"logits", x, dx, N}};
    gc_case c = {"bce_logits", &st, bce_loss, bce_grads, vars, 1, 1e-2, 1e-5, 2e-3};
    gc_run(&c);
}

/* gc_run for a network with ReLUs: an element whose ±eps perturbation moves
 * some ReLU input across 0 has one-sided differences that disagree by the
 * jump in slope; such elements are skipped (at most max_skip of a tensor) and
 * every other one must match. The float forward pass leaves ~1e-5 of noise
 * on the loss (scaled by 1000 in net_loss, where gradients are 0.1..20), so
 * with eps = 1e-3 a difference quotient carries ~1e-2: atol 2e-2. The exact
 * check is the PyTorch parity test (test_builtin_parity, float64 reference). */
static void gc_run_kinks(const gc_case *c, double max_skip)
{
    c->grads(c->state);
    for (int v = 0; v < c->nvars; v++) {
        const gc_var *var = &c->vars[v];
        double *ana = malloc((size_t)var->n * sizeof(double));
        for (int64_t i = 0; i < var->n; i++) ana[i] = var->grad[i];
        int64_t bad = 0, skipped = 0;
        double worst = 0, l0 = c->loss(c->state);
        for (int64_t i = 0; i < var->n; i++) {
            float x0 = var->x[i];
            var->x[i] = (float)(x0 + c->eps);
            double lp = c->loss(c->state);
            var->x[i] = (float)(x0 - c->eps);
            double lm = c->loss(c->state);
            var->x[i] = x0;
            double num = (lp - lm) / (2 * c->eps), asym = fabs((lp - l0) - (l0 - lm)) / c->eps;
            if (asym > 0.05 + 0.02 * fabs(num)) {
                skipped++;
                continue;
            }
            double diff = fabs(num - ana[i]);
            if (diff > c->atol + c->rtol * fmax(fabs(num), fabs(ana[i]))) bad++;
            if (diff > worst) worst = diff;
        }
        CHECK(bad == 0, "%s: d%s: %lld of %lld elements off (worst %.3g)", c->name, var->name, (long long)bad,
              (long long)var->n, worst);
        CHECK(skipped <= max_skip * (double)var->n, "%s: d%s: %lld of %lld elements at a ReLU kink", c->name,
              var->name, (long long)skipped, (long long)var->n);
        printf("%-10s d%-32s n=%-5lld kinks=%-3lld max|num-ana|=%.2e\n", c->name, var->name, (long long)var->n,
               (long long)skipped, worst);
        free(ana);
    }
}

typedef struct net_state {
    vtag_ctx ctx;
    vtag_builtin m;
    float *images, *targets;
    int64_t n;
} net_state;

static double net_loss(void *s)
{
    net_state *t = s;
    double loss = 0;
    vtag_error err = {0};
    int rc = vtag_builtin_train_step(&t->ctx, &t->m, t->images, t->targets, t->n, 0, 0, NULL, &loss, &err);
    vtag_arena_reset(&t->ctx.arena);
    CHECK(rc == 0, "train_step: %s", err.msg);
    return loss * 1000.0; /* the mean over n·V is small: scale to the tolerances */
}

static void net_grads(void *s)
{
    net_state *t = s;
    vtag_params_zero_grad(&t->m.params);
    double loss = 0;
    vtag_error err = {0};
    int rc = vtag_builtin_train_step(&t->ctx, &t->m, t->images, t->targets, t->n, 0, 1, NULL, &loss, &err);
    vtag_arena_reset(&t->ctx.arena);
    CHECK(rc == 0, "train_step: %s", err.msg);
    for (int64_t i = 0; i < t->m.params.total; i++) t->m.params.grad[i] *= 1000.0f;
}

static void test_network(void)
{
    net_state t;
    memset(&t, 0, sizeof t);
    vtag_error err = {0};
    CHECK(vtag_ctx_init(&t.ctx, 1, 3, &err) == 0, "ctx: %s", err.msg);
    vtag_builtin_config cfg;
    vtag_builtin_config_default(&cfg);
    cfg.size = 12; /* stem → 6×6, stage 1 → 6×6 (identity), stage 2 → 3×3 (projection) */
    cfg.n_stages = 2;
    cfg.widths[0] = 3, cfg.widths[1] = 4;
    cfg.blocks[0] = 1, cfg.blocks[1] = 1;
    cfg.n_labels = 3;
    CHECK(vtag_builtin_init(&t.m, &cfg, NULL, &err) == 0, "init: %s", err.msg);
    CHECK(t.m.n_units == 6 && t.m.n_blocks == 2 && t.m.blocks[0].proj < 0 && t.m.blocks[1].proj >= 0,
          "layout: %d units, %d blocks", t.m.n_units, t.m.n_blocks);
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    vtag_builtin_init_weights(&t.m, &rng);
    /* BN affine parameters away from 1/0 so that their gradients are generic */
    for (int i = 0; i < t.m.n_units; i++) {
        gc_fill(vtag_params_value(&t.m.params, t.m.units[i].gamma), t.m.units[i].c_out, &rng, 0.5f, 1.5f);
        gc_fill(vtag_params_value(&t.m.params, t.m.units[i].beta), t.m.units[i].c_out, &rng, -0.3f, 0.3f);
    }
    t.n = 2;
    t.images = malloc((size_t)(t.n * 3 * 12 * 12) * sizeof(float));
    t.targets = malloc((size_t)(t.n * 3) * sizeof(float));
    gc_fill(t.images, t.n * 3 * 12 * 12, &rng, -2.0f, 2.0f);
    const float tg[6] = {1, 0, 1, 0, 1, 1};
    memcpy(t.targets, tg, sizeof tg);
    /* running statistics move only when asked */
    float rm0 = vtag_params_value(&t.m.buffers, t.m.units[0].mean)[0];
    double loss = 0;
    CHECK(vtag_builtin_train_step(&t.ctx, &t.m, t.images, t.targets, t.n, 0, 0, NULL, &loss, &err) == 0, "%s", err.msg);
    vtag_arena_reset(&t.ctx.arena);
    CHECK(vtag_params_value(&t.m.buffers, t.m.units[0].mean)[0] == rm0, "running mean moved without update_running");
    CHECK(isfinite(loss) && loss > 0, "loss %g", loss);

    gc_var *vars = calloc((size_t)t.m.params.count, sizeof *vars);
    for (int i = 0; i < t.m.params.count; i++) {
        vars[i].name = t.m.params.items[i].name;
        vars[i].x = vtag_params_value(&t.m.params, i);
        vars[i].grad = vtag_params_grad(&t.m.params, i);
        vars[i].n = t.m.params.items[i].numel;
    }
    gc_case c = {"builtin", &t, net_loss, net_grads, vars, t.m.params.count, 1e-3, 2e-2, 1e-2};
    gc_run_kinks(&c, 0.05);
    free(vars);
    free(t.images);
    free(t.targets);
    vtag_builtin_free(&t.m);
    vtag_ctx_free(&t.ctx);
}

int main(void)
{
    test_bce();
    test_network();
    return check_summary("backbone/test_builtin_grad");
}

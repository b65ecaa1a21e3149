/* Finite-difference checks of the element-wise backwards: ReLU6, HardSwish (inputs kept 0.05
 * away from their kinks, farther than the ±eps step), HardSigmoid, Sigmoid and the residual add. */
#include "cnn_test.h"
#include "nn/gradcheck.h"

enum { K_ACT, K_HSIG, K_SIG, K_ADD };

typedef struct act_state {
    int kind;
    vtag_act act;
    int64_t n;
    float *x, *y, *G, *out, *dx, *dy;
} act_state;

static double act_loss(void *p)
{
    act_state *s = p;
    switch (s->kind) {
    case K_ACT: vtag_act_forward(s->out, s->x, s->n, s->act, 2); break;
    case K_HSIG: vtag_hardsigmoid_forward(s->out, s->x, s->n, 0.2f, 0.5f, 2); break;
    case K_SIG: vtag_sigmoid_forward(s->out, s->x, s->n, 2); break;
    default: vtag_add_forward(s->out, s->x, s->y, s->n, 2); break;
    }
    return gc_dot(s->out, s->G, s->n);
}

static void act_grads(void *p)
{
    act_state *s = p;
    memset(s->dx, 0, (size_t)s->n * sizeof(float));
    memset(s->dy, 0, (size_t)s->n * sizeof(float));
    act_loss(s);
    switch (s->kind) {
    case K_ACT: vtag_act_backward(s->dx, s->G, s->x, s->n, s->act, 2); break;
    case K_HSIG: vtag_hardsigmoid_backward(s->dx, s->G, s->x, s->n, 0.2f, 0.5f, 2); break;
    case K_SIG: vtag_sigmoid_backward(s->dx, s->G, s->out, s->n, 2); break;
    default: vtag_add_backward(s->dx, s->dy, s->G, s->n, 2); break;
    }
}

/* Inputs spread over [lo, hi), moved 0.1 off any kink they land within 0.05 of. */
static void check_act(const char *name, int kind, vtag_act act, float lo, float hi, const float *kinks, int nk,
                      vtag_rng *rng)
{
    act_state s = {.kind = kind, .act = act, .n = 64};
    s.x = ct_alloc(s.n), s.y = ct_alloc(s.n), s.G = ct_alloc(s.n), s.out = ct_alloc(s.n);
    s.dx = ct_alloc(s.n), s.dy = ct_alloc(s.n);
    gc_fill(s.x, s.n, rng, lo, hi);
    for (int64_t i = 0; i < s.n; i++)
        for (int k = 0; k < nk; k++)
            if (fabsf(s.x[i] - kinks[k]) < 0.05f) s.x[i] = kinks[k] + 0.1f;
    gc_fill(s.y, s.n, rng, -1, 1);
    gc_fill(s.G, s.n, rng, -1, 1);
    gc_var vars[] = {{"x", s.x, s.dx, s.n}, {"y", s.y, s.dy, s.n}};
    gc_case cs = {name, &s, act_loss, act_grads, vars, kind == K_ADD ? 2 : 1, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&cs);
    free(s.x), free(s.y), free(s.G), free(s.out), free(s.dx), free(s.dy);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 14);
    const float relu_k[] = {0.0f}, relu6_k[] = {0.0f, 6.0f}, hs_k[] = {-3.0f, 3.0f}, hsig_k[] = {-2.5f, 2.5f};
    check_act("relu", K_ACT, VTAG_ACT_RELU, -2, 2, relu_k, 1, &rng);
    check_act("relu6", K_ACT, VTAG_ACT_RELU6, -2, 8, relu6_k, 2, &rng);
    check_act("hardswish", K_ACT, VTAG_ACT_HARDSWISH, -5, 5, hs_k, 2, &rng);
    check_act("identity", K_ACT, VTAG_ACT_NONE, -2, 2, NULL, 0, &rng);
    check_act("hardsigmoid (0.2, 0.5)", K_HSIG, VTAG_ACT_NONE, -4, 4, hsig_k, 2, &rng);
    check_act("sigmoid", K_SIG, VTAG_ACT_NONE, -4, 4, NULL, 0, &rng);
    check_act("add", K_ADD, VTAG_ACT_NONE, -2, 2, NULL, 0, &rng);
    return check_summary("cnn/test_grad_act");
}

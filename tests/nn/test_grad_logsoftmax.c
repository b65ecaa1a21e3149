/* Finite-difference check of log-softmax, masked NLL, and the fused
 * backward (which must equal the composition of the two). */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 6, V = 11 };

typedef struct st {
    int mode; /* 0: Σ logprobs·G; 1: NLL via both backwards; 2: NLL via the fused backward */
    float logits[N * V], lp[N * V], g[N * V], dlogits[N * V], dlp[N * V];
    int32_t target[N];
    float mask[N];
} st;

static double loss(void *p)
{
    st *s = p;
    vtag_logsoftmax_forward(s->lp, s->logits, N, V, 2);
    if (s->mode == 0) return gc_dot(s->lp, s->g, N * V);
    double l = 0;
    vtag_nll_masked_forward(&l, s->lp, s->target, s->mask, N, V, NULL);
    return 2.5 * l; /* dloss = 2.5 exercises the upstream scale */
}

static void grads(void *p)
{
    st *s = p;
    memset(s->dlogits, 0, sizeof s->dlogits);
    memset(s->dlp, 0, sizeof s->dlp);
    loss(s);
    if (s->mode == 0) {
        vtag_logsoftmax_backward(s->dlogits, s->g, s->lp, N, V, 2);
    } else if (s->mode == 1) {
        vtag_nll_masked_backward(s->dlp, 2.5, s->target, s->mask, N, V);
        vtag_logsoftmax_backward(s->dlogits, s->dlp, s->lp, N, V, 2);
    } else {
        vtag_logsoftmax_nll_backward(s->dlogits, 2.5, s->lp, s->target, s->mask, N, V, 2);
    }
}

int main(void)
{
    static st s = {.target = {3, 0, 10, 5, 5, 1}, .mask = {1, 1, 0, 1, 0, 1}};
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    gc_fill(s.logits, N * V, &rng, -3, 3);
    gc_fill(s.g, N * V, &rng, -1, 1);
    gc_var vars[] = {{"logits", s.logits, s.dlogits, N * V}};
    const char *names[] = {"logsoftmax", "logsoftmax+nll", "logsoftmax+nll(fused)"};
    for (s.mode = 0; s.mode < 3; s.mode++) {
        gc_case c = {names[s.mode], &s, loss, grads, vars, 1, GC_EPS, GC_ATOL, GC_RTOL};
        gc_run(&c);
    }
    /* Hand-computed case: two rows, V = 2, logits (0, 0) and (log 3, 0). */
    float lg[4] = {0, 0, logf(3.0f), 0}, lp[4];
    int32_t t[2] = {0, 1};
    float m[2] = {1, 1};
    vtag_logsoftmax_forward(lp, lg, 2, 2, 1);
    double l = 0;
    vtag_nll_masked_forward(&l, lp, t, m, 2, 2, NULL);
    CHECK_NEAR(l, (log(2.0) + log(4.0)) / 2, 1e-6, "nll of the hand case");
    float zero[2] = {0, 0};
    vtag_nll_masked_forward(&l, lp, t, zero, 2, 2, NULL);
    CHECK(l == 0.0, "all-masked loss %g", l);
    vtag_error err = {0};
    int32_t bad[2] = {0, 2};
    CHECK(vtag_nll_masked_forward(&l, lp, bad, m, 2, 2, &err) == VTAG_ERR_ARG, "target 2 of V=2 accepted");
    return check_summary("grad_logsoftmax");
}

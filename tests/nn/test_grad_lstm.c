/* Finite-difference check of both recurrent cells as whole steps:
 * the maxout core (a = i2h(x) + h2h(h)) and PyTorch's LSTMCell. */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 3, E = 7, R = 13 };

typedef struct st {
    vtag_ctx ctx;
    int maxout; /* 1: maxout core (5R gates), 0: standard LSTM (4R) */
    int64_t G;  /* gate width */
    float x[N * E], h[N * R], c[N * R];
    float wi[5 * R * E], bi[5 * R], wh[5 * R * R], bh[5 * R];
    float pre[N * 5 * R], cache[N * 5 * R], h1[N * R], c1[N * R];
    float gh[N * R], gc[N * R];
    float dx[N * E], dh[N * R], dc[N * R], dwi[5 * R * E], dbi[5 * R], dwh[5 * R * R], dbh[5 * R];
    float dpre[N * 5 * R];
} st;

static void forward(st *s)
{
    vtag_linear_forward(&s->ctx, s->pre, s->x, s->wi, s->bi, N, E, s->G, 0);
    vtag_linear_forward(&s->ctx, s->pre, s->h, s->wh, s->bh, N, R, s->G, 1);
    if (s->maxout) vtag_maxout_lstm_forward(s->h1, s->c1, s->cache, s->pre, s->c, N, R, 2);
    else vtag_lstm_forward(s->h1, s->c1, s->cache, s->pre, s->c, N, R, 2);
}

static double loss(void *p)
{
    st *s = p;
    forward(s);
    return gc_dot(s->h1, s->gh, N * R) + gc_dot(s->c1, s->gc, N * R);
}

static void grads(void *p)
{
    st *s = p;
    memset(s->dx, 0, sizeof s->dx);
    memset(s->dh, 0, sizeof s->dh);
    memset(s->dc, 0, sizeof s->dc);
    memset(s->dwi, 0, sizeof s->dwi);
    memset(s->dbi, 0, sizeof s->dbi);
    memset(s->dwh, 0, sizeof s->dwh);
    memset(s->dbh, 0, sizeof s->dbh);
    memset(s->dpre, 0, sizeof s->dpre);
    forward(s);
    if (s->maxout) vtag_maxout_lstm_backward(s->dpre, s->dc, s->gh, s->gc, s->cache, s->pre, s->c, N, R, 2);
    else vtag_lstm_backward(s->dpre, s->dc, s->gh, s->gc, s->cache, s->c, N, R, 2);
    vtag_linear_backward(&s->ctx, s->dx, s->dwi, s->dbi, s->dpre, s->x, s->wi, N, E, s->G);
    vtag_linear_backward(&s->ctx, s->dh, s->dwh, s->dbh, s->dpre, s->h, s->wh, N, R, s->G);
}

/* Shifts h2h's bias on the second max input, per unit, until the two max
 * inputs are at least 0.3 apart in every row, so that no ±eps perturbation
 * (which moves a by < 0.1 here) crosses the max's kink. */
static void separate_max_inputs(st *s)
{
    forward(s);
    for (int j = 0; j < R; j++) {
        for (int k = 0; k < 40; k++) {
            float shift = (k % 2 ? 1.0f : -1.0f) * 0.35f * (float)((k + 1) / 2);
            int ok = 1;
            for (int b = 0; b < N; b++) {
                float d = s->pre[b * 5 * R + 3 * R + j] - (s->pre[b * 5 * R + 4 * R + j] + shift);
                ok &= fabsf(d) >= 0.3f;
            }
            if (ok) {
                s->bh[4 * R + j] += shift;
                break;
            }
        }
    }
    forward(s);
}

int main(void)
{
    static st s;
    vtag_ctx_init(&s.ctx, 2, 1, NULL);
    for (s.maxout = 1; s.maxout >= 0; s.maxout--) {
        s.G = (s.maxout ? 5 : 4) * R;
        vtag_rng rng;
        vtag_rng_seed(&rng, 11 + s.maxout);
        gc_fill(s.x, N * E, &rng, -1, 1);
        gc_fill(s.h, N * R, &rng, -1, 1);
        gc_fill(s.c, N * R, &rng, -1, 1);
        gc_fill(s.wi, s.G * E, &rng, -0.5f, 0.5f);
        gc_fill(s.bi, s.G, &rng, -0.5f, 0.5f);
        gc_fill(s.wh, s.G * R, &rng, -0.5f, 0.5f);
        gc_fill(s.bh, s.G, &rng, -0.5f, 0.5f);
        gc_fill(s.gh, N * R, &rng, -1, 1);
        gc_fill(s.gc, N * R, &rng, -1, 1);
        if (s.maxout) separate_max_inputs(&s);
        gc_var vars[] = {{"x", s.x, s.dx, N * E},           {"h_prev", s.h, s.dh, N * R},
                         {"c_prev", s.c, s.dc, N * R},      {"i2h.weight", s.wi, s.dwi, s.G * E},
                         {"i2h.bias", s.bi, s.dbi, s.G},    {"h2h.weight", s.wh, s.dwh, s.G * R},
                         {"h2h.bias", s.bh, s.dbh, s.G}};
        gc_case c = {s.maxout ? "maxout_lstm" : "lstm(i,f,g,o)", &s, loss, grads, vars, 7, GC_EPS, GC_ATOL, GC_RTOL};
        gc_run(&c);
    }
    /* A tie in the max splits the gradient in half, as torch.max does. */
    float a[5] = {0.1f, 0.2f, 0.3f, 0.7f, 0.7f}, cp[1] = {0.5f}, h1[1], c1[1], cache[5], da[5] = {0}, dh[1] = {1};
    vtag_maxout_lstm_forward(h1, c1, cache, a, cp, 1, 1, 1);
    vtag_maxout_lstm_backward(da, NULL, dh, NULL, cache, a, cp, 1, 1, 1);
    CHECK(da[3] == da[4] && da[3] > 0, "tie gradient %g / %g", da[3], da[4]);
    vtag_ctx_free(&s.ctx);
    return check_summary("grad_lstm");
}

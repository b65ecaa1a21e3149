/* Finite-difference checks of the pooling backwards: max (ceil_mode, padding, dilation; inputs
 * spaced 0.05 apart so that no ±eps step changes a window's winner), average (both
 * count_include_pad values, ceil_mode, asymmetric padding) and global average. */
#include "cnn_test.h"
#include "nn/gradcheck.h"

typedef struct pool_state {
    vtag_ctx ctx;
    vtag_pool2d_dims d;
    int max;
    float *in, *G, *out, *din;
    int32_t *arg;
    int64_t nin, nout;
} pool_state;

static void pool_forward(pool_state *s)
{
    if (s->max)
        vtag_maxpool2d_forward(&s->ctx, s->out, s->arg, s->in, &s->d);
    else
        vtag_avgpool2d_forward(&s->ctx, s->out, s->in, &s->d);
}

static double pool_loss(void *p)
{
    pool_state *s = p;
    pool_forward(s);
    return gc_dot(s->out, s->G, s->nout);
}

static void pool_grads(void *p)
{
    pool_state *s = p;
    memset(s->din, 0, (size_t)s->nin * sizeof(float));
    pool_forward(s);
    if (s->max)
        vtag_maxpool2d_backward(s->din, s->G, s->arg, &s->d);
    else
        vtag_avgpool2d_backward(s->din, s->G, &s->d);
}

static void check_pool(const char *name, int max, vtag_pool2d_dims d, vtag_rng *rng)
{
    pool_state s = {.d = d, .max = max};
    vtag_error err = {0};
    int rc = vtag_pool2d_plan(&s.d, &err);
    CHECK(rc == 0, "%s: %s", name, err.msg);
    if (rc) return;
    vtag_ctx_init(&s.ctx, 2, 1, &err);
    s.nin = d.n * d.c * d.h * d.w;
    s.nout = d.n * d.c * s.d.h_out * s.d.w_out;
    s.in = ct_alloc(s.nin), s.din = ct_alloc(s.nin), s.G = ct_alloc(s.nout), s.out = ct_alloc(s.nout);
    s.arg = calloc((size_t)s.nout, sizeof *s.arg);
    /* a shuffled ladder of distinct values */
    for (int64_t i = 0; i < s.nin; i++) s.in[i] = 0.05f * (float)(i - s.nin / 2);
    for (int64_t i = s.nin - 1; i > 0; i--) {
        int64_t j = (int64_t)(vtag_rng_next(rng) % (uint64_t)(i + 1));
        float t = s.in[i];
        s.in[i] = s.in[j], s.in[j] = t;
    }
    gc_fill(s.G, s.nout, rng, -1, 1);
    gc_var vars[] = {{"in", s.in, s.din, s.nin}};
    gc_case cs = {name, &s, pool_loss, pool_grads, vars, 1, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&cs);
    free(s.in), free(s.din), free(s.G), free(s.out), free(s.arg);
    vtag_ctx_free(&s.ctx);
}

typedef struct gap_state {
    vtag_ctx ctx;
    int64_t n, c, hw;
    float *in, *G, *out, *din;
} gap_state;

static double gap_loss(void *p)
{
    gap_state *s = p;
    vtag_global_avgpool_forward(&s->ctx, s->out, s->in, s->n, s->c, s->hw);
    return gc_dot(s->out, s->G, s->n * s->c);
}

static void gap_grads(void *p)
{
    gap_state *s = p;
    memset(s->din, 0, (size_t)(s->n * s->c * s->hw) * sizeof(float));
    vtag_global_avgpool_backward(s->din, s->G, s->n, s->c, s->hw);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 13);
    /*                                         n  c  h  w  kh kw sh sw pt pl pb pr dh dw ceil cip */
    check_pool("max k3 s2 p1 ceil", 1, (vtag_pool2d_dims){2, 2, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, &rng);
    check_pool("max k2 s1 dil2 asym", 1, (vtag_pool2d_dims){1, 3, 6, 7, 2, 2, 1, 1, 1, 0, 0, 1, 2, 2, 0, 0, 0, 0}, &rng);
    check_pool("max k3x2 s(2,1) ceil", 1, (vtag_pool2d_dims){2, 1, 8, 5, 3, 2, 2, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0}, &rng);
    check_pool("avg k3 s2 p1 ceil cip1", 0, (vtag_pool2d_dims){2, 2, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, &rng);
    check_pool("avg k3 s2 p1 ceil cip0", 0, (vtag_pool2d_dims){2, 2, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, &rng);
    check_pool("avg k2 s2 asym cip1", 0, (vtag_pool2d_dims){1, 2, 5, 6, 2, 2, 2, 2, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0}, &rng);
    check_pool("avg k2x3 s(1,2) cip0", 0, (vtag_pool2d_dims){1, 2, 5, 8, 2, 3, 1, 2, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0}, &rng);

    gap_state g = {.n = 2, .c = 3, .hw = 10};
    vtag_error err = {0};
    vtag_ctx_init(&g.ctx, 1, 1, &err);
    g.in = ct_alloc(60), g.din = ct_alloc(60), g.G = ct_alloc(6), g.out = ct_alloc(6);
    gc_fill(g.in, 60, &rng, -1, 1);
    gc_fill(g.G, 6, &rng, -1, 1);
    gc_var vars[] = {{"in", g.in, g.din, 60}};
    gc_case cs = {"global avgpool", &g, gap_loss, gap_grads, vars, 1, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&cs);
    free(g.in), free(g.din), free(g.G), free(g.out);
    vtag_ctx_free(&g.ctx);
    return check_summary("cnn/test_grad_pool");
}

/* Finite-difference check (nn/gradcheck.h: central differences, loss Σ out·G in double) of
 * vtag_conv2d_backward: din, dw and db for groups, stride, dilation, asymmetric padding,
 * depthwise, 1×1 and a batch merged into one GEMM. */
#include "cnn_test.h"
#include "nn/gradcheck.h"

typedef struct conv_state {
    vtag_ctx ctx;
    vtag_conv2d_dims d;
    float *in, *w, *b, *G, *out, *ws;
    float *din, *dw, *db;
    int64_t nin, nw, nout;
} conv_state;

static double conv_loss(void *p)
{
    conv_state *s = p;
    vtag_conv2d_forward(&s->ctx, s->out, s->in, s->w, s->b, &s->d, VTAG_ACT_NONE, s->ws);
    return gc_dot(s->out, s->G, s->nout);
}

static void conv_grads(void *p)
{
    conv_state *s = p;
    memset(s->din, 0, (size_t)s->nin * sizeof(float));
    memset(s->dw, 0, (size_t)s->nw * sizeof(float));
    memset(s->db, 0, (size_t)s->d.c_out * sizeof(float));
    vtag_conv2d_forward(&s->ctx, s->out, s->in, s->w, s->b, &s->d, VTAG_ACT_NONE, s->ws);
    vtag_conv2d_backward(&s->ctx, s->din, s->dw, s->db, s->G, s->in, s->w, &s->d, s->ws);
}

static void check_conv(const char *name, vtag_conv2d_dims d, int threads, vtag_rng *rng)
{
    conv_state s = {.d = d};
    vtag_error err = {0};
    CHECK(vtag_conv2d_plan(&s.d, &err) == 0, "%s: %s", name, err.msg);
    vtag_ctx_init(&s.ctx, threads, 1, &err);
    s.nin = d.n * d.c_in * d.h * d.w;
    s.nw = d.c_out * (d.c_in / d.groups) * d.kh * d.kw;
    s.nout = d.n * d.c_out * s.d.h_out * s.d.w_out;
    s.in = ct_alloc(s.nin), s.w = ct_alloc(s.nw), s.b = ct_alloc(d.c_out), s.G = ct_alloc(s.nout);
    s.out = ct_alloc(s.nout), s.ws = ct_alloc(vtag_conv2d_workspace(&s.d, threads));
    s.din = ct_alloc(s.nin), s.dw = ct_alloc(s.nw), s.db = ct_alloc(d.c_out);
    gc_fill(s.in, s.nin, rng, -1, 1);
    gc_fill(s.w, s.nw, rng, -1, 1);
    gc_fill(s.b, d.c_out, rng, -1, 1);
    gc_fill(s.G, s.nout, rng, -1, 1);
    gc_var vars[] = {{"in", s.in, s.din, s.nin}, {"w", s.w, s.dw, s.nw}, {"b", s.b, s.db, d.c_out}};
    gc_case c = {name, &s, conv_loss, conv_grads, vars, 3, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&c);
    free(s.in), free(s.w), free(s.b), free(s.G), free(s.out), free(s.ws), free(s.din), free(s.dw), free(s.db);
    vtag_ctx_free(&s.ctx);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    /*                        n  cin h  w  cout kh kw sh sw pt pl pb pr dh dw g */
    check_conv("conv g2 s2 dil2 asym", (vtag_conv2d_dims){2, 4, 7, 6, 4, 3, 3, 2, 2, 2, 1, 1, 2, 2, 2, 2, 0, 0}, 1, &rng);
    check_conv("conv g2 s2 dil2 asym t2", (vtag_conv2d_dims){2, 4, 7, 6, 4, 3, 3, 2, 2, 2, 1, 1, 2, 2, 2, 2, 0, 0}, 2, &rng);
    check_conv("conv 3x2 s(1,2)", (vtag_conv2d_dims){2, 3, 6, 7, 5, 3, 2, 1, 2, 1, 0, 1, 1, 1, 1, 1, 0, 0}, 1, &rng);
    check_conv("conv depthwise s1", (vtag_conv2d_dims){2, 3, 6, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 0, 0}, 1, &rng);
    check_conv("conv depthwise s2 dil2", (vtag_conv2d_dims){1, 3, 8, 7, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 0, 0}, 2, &rng);
    check_conv("conv 1x1", (vtag_conv2d_dims){2, 4, 3, 4, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0}, 1, &rng);
    check_conv("conv 1x1 s2 g2", (vtag_conv2d_dims){2, 4, 5, 4, 6, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 2, 0, 0}, 1, &rng);
    return check_summary("cnn/test_grad_conv");
}

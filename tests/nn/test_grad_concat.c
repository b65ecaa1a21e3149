/* Finite-difference check of concatenation and split along the feature axis. */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 3, D0 = 7, D1 = 13, D2 = 5, W = D0 + D1 + D2 };

typedef struct st {
    int split;
    float a[N * D0], b[N * D1], c[N * D2], cat[N * W];
    float ga[N * D0], gb[N * D1], gc[N * D2], gcat[N * W];
    float da[N * D0], db[N * D1], dc[N * D2], dcat[N * W];
} st;

static const int64_t dims[3] = {D0, D1, D2};

static double loss(void *p)
{
    st *s = p;
    if (s->split) {
        float *outs[3] = {s->a, s->b, s->c};
        vtag_split_forward(outs, s->cat, dims, 3, N);
        return gc_dot(s->a, s->ga, N * D0) + gc_dot(s->b, s->gb, N * D1) + gc_dot(s->c, s->gc, N * D2);
    }
    const float *ins[3] = {s->a, s->b, s->c};
    vtag_concat_forward(s->cat, ins, dims, 3, N);
    return gc_dot(s->cat, s->gcat, N * W);
}

static void grads(void *p)
{
    st *s = p;
    memset(s->da, 0, sizeof s->da);
    memset(s->db, 0, sizeof s->db);
    memset(s->dc, 0, sizeof s->dc);
    memset(s->dcat, 0, sizeof s->dcat);
    loss(s);
    if (s->split) {
        const float *douts[3] = {s->ga, s->gb, s->gc};
        vtag_split_backward(s->dcat, douts, dims, 3, N);
    } else {
        float *dins[3] = {s->da, s->db, s->dc};
        vtag_concat_backward(dins, s->gcat, dims, 3, N);
    }
}

int main(void)
{
    static st s;
    vtag_rng rng;
    vtag_rng_seed(&rng, 9);
    gc_fill(s.a, N * D0, &rng, -1, 1);
    gc_fill(s.b, N * D1, &rng, -1, 1);
    gc_fill(s.c, N * D2, &rng, -1, 1);
    gc_fill(s.cat, N * W, &rng, -1, 1);
    gc_fill(s.ga, N * D0, &rng, -1, 1);
    gc_fill(s.gb, N * D1, &rng, -1, 1);
    gc_fill(s.gc, N * D2, &rng, -1, 1);
    gc_fill(s.gcat, N * W, &rng, -1, 1);
    gc_var cv[] = {{"in0", s.a, s.da, N * D0}, {"in1", s.b, s.db, N * D1}, {"in2", s.c, s.dc, N * D2}};
    gc_case c = {"concat", &s, loss, grads, cv, 3, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&c);
    s.split = 1;
    gc_var sv[] = {{"in", s.cat, s.dcat, N * W}};
    gc_case c2 = {"split", &s, loss, grads, sv, 1, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&c2);
    /* Layout: row 1 of the concatenation starts with row 1 of in0. */
    const float *ins[3] = {s.a, s.b, s.c};
    vtag_concat_forward(s.cat, ins, dims, 3, N);
    CHECK(s.cat[W] == s.a[D0] && s.cat[W + D0] == s.b[D1] && s.cat[2 * W + D0 + D1] == s.c[2 * D2],
          "concatenation layout");
    return check_summary("grad_concat");
}

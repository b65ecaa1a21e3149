/* Finite-difference check of Linear (both the overwrite and the accumulate form). */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 3, I = 7, O = 13 };

typedef struct st {
    vtag_ctx ctx;
    int accumulate;
    float in[N * I], w[O * I], b[O], base[N * O], out[N * O], g[N * O];
    float din[N * I], dw[O * I], db[O];
} st;

static double loss(void *p)
{
    st *s = p;
    memcpy(s->out, s->base, sizeof s->out);
    vtag_linear_forward(&s->ctx, s->out, s->in, s->w, s->b, N, I, O, s->accumulate);
    return gc_dot(s->out, s->g, N * O);
}

static void grads(void *p)
{
    st *s = p;
    memset(s->din, 0, sizeof s->din);
    memset(s->dw, 0, sizeof s->dw);
    memset(s->db, 0, sizeof s->db);
    loss(s);
    vtag_linear_backward(&s->ctx, s->din, s->dw, s->db, s->g, s->in, s->w, N, I, O);
}

int main(void)
{
    static st s;
    vtag_ctx_init(&s.ctx, 2, 1, NULL);
    vtag_rng rng;
    vtag_rng_seed(&rng, 42);
    gc_fill(s.in, N * I, &rng, -1, 1);
    gc_fill(s.w, O * I, &rng, -1, 1);
    gc_fill(s.b, O, &rng, -1, 1);
    gc_fill(s.base, N * O, &rng, -1, 1);
    gc_fill(s.g, N * O, &rng, -1, 1);
    gc_var vars[] = {{"in", s.in, s.din, N * I}, {"weight", s.w, s.dw, O * I}, {"bias", s.b, s.db, O}};
    for (s.accumulate = 0; s.accumulate <= 1; s.accumulate++) {
        gc_case c = {s.accumulate ? "linear(accumulate)" : "linear", &s, loss, grads, vars, 3, GC_EPS, GC_ATOL, GC_RTOL};
        gc_run(&c);
    }
    vtag_ctx_free(&s.ctx);
    return check_summary("grad_linear");
}

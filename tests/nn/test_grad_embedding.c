/* Finite-difference check of Embedding (with repeated ids) and its id check. */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 6, V = 11, E = 7 };

typedef struct st {
    int32_t ids[N];
    float w[V * E], out[N * E], g[N * E], dw[V * E];
} st;

static double loss(void *p)
{
    st *s = p;
    vtag_embedding_forward(s->out, s->ids, s->w, N, V, E, NULL);
    return gc_dot(s->out, s->g, N * E);
}

static void grads(void *p)
{
    st *s = p;
    memset(s->dw, 0, sizeof s->dw);
    loss(s);
    vtag_embedding_backward(s->dw, s->g, s->ids, N, E);
}

int main(void)
{
    static st s = {.ids = {3, 0, 10, 3, 7, 3}};
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    gc_fill(s.w, V * E, &rng, -1, 1);
    gc_fill(s.g, N * E, &rng, -1, 1);
    gc_var vars[] = {{"weight", s.w, s.dw, V * E}};
    gc_case c = {"embedding", &s, loss, grads, vars, 1, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&c);

    int32_t bad[2] = {1, V};
    vtag_error err = {0};
    CHECK(vtag_embedding_forward(s.out, bad, s.w, 2, V, E, &err) == VTAG_ERR_ARG, "id %d accepted", V);
    CHECK(strstr(err.msg, "row 1") != NULL, "message names the row: %s", err.msg);
    return check_summary("grad_embedding");
}

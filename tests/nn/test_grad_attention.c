/* Finite-difference check of additive attention, every input and weight; and rows sharing one image
 * (dims.rep, SCST's samples) against the same rows with the image repeated. */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 3, K = 6, D = 7, R = 13, A = 5 };

typedef struct st {
    vtag_ctx ctx;
    float h[N * R], att[N * K * D], patt[N * K * A];
    float hw[A * R], hb[A], aw[A], ab[1];
    float out[N * D], g[N * D];
    float dh[N * R], datt[N * K * D], dpatt[N * K * A], dhw[A * R], dhb[A], daw[A], dab[1];
    vtag_attention_cache cache;
} st;

/* rep 1: every row its own image; rep N: all rows share image 0. */
static vtag_attention_dims dims = {N, K, D, R, A, 1};

static double loss(void *p)
{
    st *s = p;
    vtag_attention_weights w = {s->hw, s->hb, s->aw, s->ab};
    vtag_arena_reset(&s->ctx.arena);
    vtag_attention_forward(&s->ctx, s->out, &s->cache, s->h, s->att, s->patt, &w, dims, NULL);
    return gc_dot(s->out, s->g, N * D);
}

static void grads(void *p)
{
    st *s = p;
    memset(s->dh, 0, sizeof s->dh);
    memset(s->datt, 0, sizeof s->datt);
    memset(s->dpatt, 0, sizeof s->dpatt);
    memset(s->dhw, 0, sizeof s->dhw);
    memset(s->dhb, 0, sizeof s->dhb);
    memset(s->daw, 0, sizeof s->daw);
    memset(s->dab, 0, sizeof s->dab);
    loss(s);
    vtag_attention_weights w = {s->hw, s->hb, s->aw, s->ab};
    vtag_attention_grads gr = {s->dhw, s->dhb, s->daw, s->dab};
    vtag_error err = {0};
    int rc = vtag_attention_backward(&s->ctx, s->dh, s->datt, s->dpatt, &gr, s->g, &s->cache, s->h, s->att, &w, dims, &err);
    CHECK(rc == 0, "attention backward: %s", err.msg);
}

int main(void)
{
    static st s;
    vtag_ctx_init(&s.ctx, 2, 1, NULL);
    vtag_rng rng;
    vtag_rng_seed(&rng, 21);
    gc_fill(s.h, N * R, &rng, -1, 1);
    gc_fill(s.att, N * K * D, &rng, -1, 1);
    gc_fill(s.patt, N * K * A, &rng, -1, 1);
    gc_fill(s.hw, A * R, &rng, -0.5f, 0.5f);
    gc_fill(s.hb, A, &rng, -0.5f, 0.5f);
    gc_fill(s.aw, A, &rng, -1.5f, 1.5f);
    gc_fill(s.ab, 1, &rng, -0.5f, 0.5f);
    gc_fill(s.g, N * D, &rng, -1, 1);
    gc_var vars[] = {{"h", s.h, s.dh, N * R},           {"att", s.att, s.datt, N * K * D},
                     {"p_att", s.patt, s.dpatt, N * K * A}, {"h2att.weight", s.hw, s.dhw, A * R},
                     {"h2att.bias", s.hb, s.dhb, A},    {"alpha_net.weight", s.aw, s.daw, A},
                     {"alpha_net.bias", s.ab, s.dab, 1}};
    gc_case c = {"attention", &s, loss, grads, vars, 7, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&c);

    /* Shared image: finite differences (att and p_att of the one image), and the twin with the image
     * repeated N times and rep 1: the same outputs, and datt / dp_att the sums of the repeated rows'. */
    dims.rep = N;
    vars[1].n = K * D;
    vars[2].n = K * A;
    gc_case cs = {"attention, rows sharing one image", &s, loss, grads, vars, 7, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&cs);
    {
        static float out1[N * D], dh1[N * R], datt1[K * D], dpatt1[K * A], dhw1[A * R];
        grads(&s);
        memcpy(out1, s.out, sizeof out1);
        memcpy(dh1, s.dh, sizeof dh1);
        memcpy(datt1, s.datt, sizeof datt1);
        memcpy(dpatt1, s.dpatt, sizeof dpatt1);
        memcpy(dhw1, s.dhw, sizeof dhw1);
        for (int b = 1; b < N; b++) {
            memcpy(s.att + b * K * D, s.att, K * D * sizeof(float));
            memcpy(s.patt + b * K * A, s.patt, K * A * sizeof(float));
        }
        dims.rep = 1;
        grads(&s);
        double worst = 0;
        for (int i = 0; i < N * D; i++) worst = fmax(worst, fabs(out1[i] - s.out[i]));
        for (int i = 0; i < N * R; i++) worst = fmax(worst, fabs(dh1[i] - s.dh[i]));
        for (int i = 0; i < A * R; i++) worst = fmax(worst, fabs(dhw1[i] - s.dhw[i]));
        for (int i = 0; i < K * D; i++) {
            double sum = 0;
            for (int b = 0; b < N; b++) sum += s.datt[b * K * D + i];
            worst = fmax(worst, fabs(datt1[i] - sum));
        }
        for (int i = 0; i < K * A; i++) {
            double sum = 0;
            for (int b = 0; b < N; b++) sum += s.dpatt[b * K * A + i];
            worst = fmax(worst, fabs(dpatt1[i] - sum));
        }
        CHECK(worst <= 1e-5, "shared image vs repeated image: max difference %g", worst);
    }
    vtag_attention_dims odd = {N, K, D, R, A, 2}; /* 3 rows are not whole images of 2 */
    vtag_error e2 = {0};
    vtag_attention_weights w2 = {s.hw, s.hb, s.aw, s.ab};
    CHECK(vtag_attention_forward(&s.ctx, s.out, &s.cache, s.h, s.att, s.patt, &w2, odd, &e2) == VTAG_ERR_ARG,
          "rep 2 with 3 rows accepted");
    /* The weights are a softmax: positive, summing to one per row. */
    loss(&s);
    for (int b = 0; b < N; b++) {
        double sum = 0;
        for (int k = 0; k < K; k++) sum += s.cache.alpha[b * K + k];
        CHECK_NEAR(sum, 1.0, 1e-6, "alpha row sum");
    }
    vtag_error err = {0};
    vtag_attention_dims bad = {N, 0, D, R, A, 1};
    vtag_attention_weights w = {s.hw, s.hb, s.aw, s.ab};
    CHECK(vtag_attention_forward(&s.ctx, s.out, &s.cache, s.h, s.att, s.patt, &w, bad, &err) == VTAG_ERR_ARG,
          "k = 0 accepted");
    vtag_ctx_free(&s.ctx);
    return check_summary("grad_attention");
}

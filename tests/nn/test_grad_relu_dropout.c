/* ReLU and Dropout: finite differences, and dropout's mask statistics and
 * independence from the thread count. */
#include "gradcheck.h"
#include "vtag/nn.h"

enum { N = 3, D = 13 };

typedef struct st {
    int dropout;
    vtag_rng rng0;
    float in[N * D], out[N * D], mask[N * D], g[N * D], din[N * D];
} st;

static double loss(void *p)
{
    st *s = p;
    if (s->dropout) {
        vtag_rng r = s->rng0; /* the same mask on every call */
        vtag_dropout_forward(s->out, s->mask, s->in, N * D, 0.4f, 1, &r, 2);
    } else {
        vtag_relu_forward(s->out, s->in, N * D, 2);
    }
    return gc_dot(s->out, s->g, N * D);
}

static void grads(void *p)
{
    st *s = p;
    memset(s->din, 0, sizeof s->din);
    loss(s);
    if (s->dropout) vtag_dropout_backward(s->din, s->g, s->mask, N * D, 2);
    else vtag_relu_backward(s->din, s->g, s->out, N * D, 2);
}

int main(void)
{
    static st s;
    vtag_rng rng;
    vtag_rng_seed(&rng, 3);
    /* Keep ReLU inputs away from the kink at 0 (|x| >= 0.1 > eps). */
    for (int i = 0; i < N * D; i++) {
        float u = vtag_rng_uniform(&rng);
        s.in[i] = (i % 2 ? 1.0f : -1.0f) * (0.1f + u);
    }
    gc_fill(s.g, N * D, &rng, -1, 1);
    gc_var vars[] = {{"in", s.in, s.din, N * D}};
    gc_case c = {"relu", &s, loss, grads, vars, 1, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&c);
    s.dropout = 1;
    vtag_rng_seed(&s.rng0, 99);
    c.name = "dropout(p=0.4)";
    gc_run(&c);

    /* Statistics: p = 0.3 over 200k elements; kept values scaled by 1/(1-p). */
    const int64_t n = 200000;
    float *x = malloc(n * sizeof(float)), *y1 = malloc(n * sizeof(float)), *y2 = malloc(n * sizeof(float));
    float *m1 = malloc(n * sizeof(float)), *m2 = malloc(n * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
    vtag_rng r1, r2;
    vtag_rng_seed(&r1, 5);
    vtag_rng_seed(&r2, 5);
    vtag_dropout_forward(y1, m1, x, n, 0.3f, 1, &r1, 1);
    vtag_dropout_forward(y2, m2, x, n, 0.3f, 1, &r2, 2);
    int64_t zeros = 0, same = 1, scaled = 1;
    for (int64_t i = 0; i < n; i++) {
        zeros += y1[i] == 0.0f;
        same &= y1[i] == y2[i];
        scaled &= y1[i] == 0.0f || fabsf(y1[i] - 1.0f / 0.7f) < 1e-6f;
    }
    CHECK(fabs((double)zeros / n - 0.3) < 0.005, "dropped fraction %.4f, expected 0.3", (double)zeros / n);
    CHECK(same, "mask differs between 1 and 2 threads");
    CHECK(scaled, "kept values are not scaled by 1/(1-p)");
    CHECK(r1.state == r2.state, "rng advanced differently with 1 and 2 threads");
    /* Evaluation mode is the identity and draws nothing. */
    vtag_rng r3 = r1;
    vtag_dropout_forward(y1, m1, s.in, N * D, 0.5f, 0, &r3, 1);
    CHECK(memcmp(y1, s.in, sizeof s.in) == 0, "eval-mode dropout changed its input");
    CHECK(r3.state == r1.state, "eval-mode dropout drew random numbers");
    free(x), free(y1), free(y2), free(m1), free(m2);
    return check_summary("grad_relu_dropout");
}

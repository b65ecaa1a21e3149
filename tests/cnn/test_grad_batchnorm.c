/* Finite-difference check of vtag_batchnorm_backward (training mode: the batch statistics
 * depend on the input, so din carries the mean and variance terms): din, dgamma, dbeta. */
#include "cnn_test.h"
#include "nn/gradcheck.h"

typedef struct bn_state {
    vtag_ctx ctx;
    vtag_batchnorm_dims d;
    float *in, *gamma, *beta, *G, *out, *mean, *invstd;
    float *din, *dgamma, *dbeta;
    int64_t n;
} bn_state;

static double bn_loss(void *p)
{
    bn_state *s = p;
    vtag_batchnorm_forward_train(&s->ctx, s->out, s->mean, s->invstd, NULL, NULL, s->in, s->gamma, s->beta, &s->d);
    return gc_dot(s->out, s->G, s->n);
}

static void bn_grads(void *p)
{
    bn_state *s = p;
    memset(s->din, 0, (size_t)s->n * sizeof(float));
    memset(s->dgamma, 0, (size_t)s->d.c * sizeof(float));
    memset(s->dbeta, 0, (size_t)s->d.c * sizeof(float));
    vtag_batchnorm_forward_train(&s->ctx, s->out, s->mean, s->invstd, NULL, NULL, s->in, s->gamma, s->beta, &s->d);
    vtag_batchnorm_backward(&s->ctx, s->din, s->dgamma, s->dbeta, s->G, s->in, s->gamma, s->mean, s->invstd, &s->d);
}

static void check_bn(const char *name, int64_t n, int64_t c, int64_t hw, int threads, vtag_rng *rng)
{
    bn_state s = {.d = {n, c, hw, 1e-5f, 0.1f}, .n = n * c * hw};
    vtag_error err = {0};
    vtag_ctx_init(&s.ctx, threads, 1, &err);
    s.in = ct_alloc(s.n), s.G = ct_alloc(s.n), s.out = ct_alloc(s.n), s.din = ct_alloc(s.n);
    s.gamma = ct_alloc(c), s.beta = ct_alloc(c), s.mean = ct_alloc(c), s.invstd = ct_alloc(c);
    s.dgamma = ct_alloc(c), s.dbeta = ct_alloc(c);
    gc_fill(s.in, s.n, rng, -2, 2);
    gc_fill(s.G, s.n, rng, -1, 1);
    gc_fill(s.gamma, c, rng, 0.5f, 1.5f);
    gc_fill(s.beta, c, rng, -1, 1);
    gc_var vars[] = {{"in", s.in, s.din, s.n}, {"gamma", s.gamma, s.dgamma, c}, {"beta", s.beta, s.dbeta, c}};
    gc_case cs = {name, &s, bn_loss, bn_grads, vars, 3, GC_EPS, GC_ATOL, GC_RTOL};
    gc_run(&cs);
    free(s.in), free(s.G), free(s.out), free(s.din), free(s.gamma), free(s.beta), free(s.mean), free(s.invstd);
    free(s.dgamma), free(s.dbeta);
    vtag_ctx_free(&s.ctx);
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 12);
    check_bn("batchnorm train 3x4x5", 3, 4, 5, 1, &rng);
    check_bn("batchnorm train 2x3x7 t2", 2, 3, 7, 2, &rng);
    check_bn("batchnorm train 1x2x9", 1, 2, 9, 1, &rng);
    return check_summary("cnn/test_grad_batchnorm");
}

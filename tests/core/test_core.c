/* Context, RNG, arena and parameter store. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "vtag/core.h"

static void test_rng(void)
{
    vtag_rng a, b;
    vtag_rng_seed(&a, 77);
    vtag_rng_seed(&b, 77);
    const uint64_t base = a.state;
    int same = 1, indexed = 1;
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t x = vtag_rng_next(&a);
        same &= x == vtag_rng_next(&b);
        indexed &= x == vtag_rng_at(base, i);
    }
    CHECK(same, "same seed gave different streams");
    CHECK(indexed, "vtag_rng_at disagrees with sequential draws");
    vtag_rng c = {base};
    vtag_rng_skip(&c, 1000);
    CHECK(c.state == a.state, "skip(1000) != 1000 draws");
    vtag_rng_seed(&b, 78);
    CHECK(vtag_rng_next(&b) != vtag_rng_at(base, 0), "seeds 77 and 78 start alike");
    /* Uniform in [0, 1) with mean 1/2; normal with mean 0, variance 1. */
    double su = 0, sn = 0, sn2 = 0;
    float umin = 1, umax = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = vtag_rng_uniform(&a);
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        su += u;
        double z = vtag_rng_normal(&a);
        sn += z;
        sn2 += z * z;
    }
    CHECK(umin >= 0.0f && umax < 1.0f, "uniform out of [0,1): %g %g", umin, umax);
    CHECK_NEAR(su / n, 0.5, 0.005, "uniform mean");
    CHECK_NEAR(sn / n, 0.0, 0.01, "normal mean");
    CHECK_NEAR(sn2 / n, 1.0, 0.02, "normal variance");
}

static void test_arena(void)
{
    vtag_arena ar;
    CHECK(vtag_arena_init(&ar, 1024, NULL) == VTAG_OK, "arena init");
    float *p = vtag_arena_floats(&ar, 10);
    CHECK(((uintptr_t)p & 63) == 0, "arena alignment");
    float *q = vtag_arena_zeros(&ar, 3);
    CHECK(q[0] == 0 && q[2] == 0 && (char *)q >= (char *)(p + 10), "zeros / no overlap");
    /* Overflow the first block, then reset: one block of the high-water size. */
    float *big = vtag_arena_floats(&ar, 100000);
    CHECK(big != NULL, "arena growth");
    big[99999] = 1.0f;
    size_t hw = ar.high_water;
    vtag_arena_reset(&ar);
    CHECK(ar.used_total == 0 && ar.high_water == hw, "reset keeps the high-water mark");
    void *again = vtag_arena_floats(&ar, 100000);
    vtag_arena_floats(&ar, 10);
    vtag_arena_floats(&ar, 3);
    CHECK(again != NULL && ar.high_water == hw, "steady-state step grew the arena (%zu vs %zu)", ar.high_water, hw);
    vtag_arena_free(&ar);
}

static void test_params(void)
{
    vtag_params p;
    vtag_params_init(&p);
    vtag_error err = {0};
    int64_t s1[2] = {13, 7}, s2[1] = {13}, s3[3] = {2, 3, 5};
    CHECK(vtag_params_add(&p, "linear.weight", 2, s1, &err) == 0, "add 0");
    CHECK(vtag_params_add(&p, "linear.bias", 1, s2, &err) == 1, "add 1");
    CHECK(vtag_params_add(&p, "x", 3, s3, &err) == 2, "add 2");
    CHECK(vtag_params_add(&p, "x", 1, s2, &err) == VTAG_ERR_ARG && strstr(err.msg, "'x'"), "duplicate name: %s", err.msg);
    int64_t bad[1] = {0};
    CHECK(vtag_params_add(&p, "y", 1, bad, &err) == VTAG_ERR_ARG, "zero dimension accepted");
    CHECK(vtag_params_alloc(&p, &err) == VTAG_OK, "alloc");
    CHECK(vtag_params_add(&p, "late", 1, s2, &err) == VTAG_ERR_ARG, "add after alloc accepted");
    CHECK(vtag_params_find(&p, "linear.bias") == 1 && vtag_params_find(&p, "nope") == -1, "find");
    int aligned = 1, disjoint = 1;
    for (int i = 0; i < p.count; i++) {
        aligned &= ((uintptr_t)vtag_params_value(&p, i) & 63) == 0;
        if (i) disjoint &= p.items[i].offset >= p.items[i - 1].offset + p.items[i - 1].numel;
    }
    CHECK(aligned && disjoint, "tensors aligned and disjoint");
    CHECK(p.items[2].numel == 30 && p.total >= 91 + 13 + 30, "sizes");
    float *g = vtag_params_grad(&p, 1);
    g[0] = 3.0f;
    vtag_params_zero_grad(&p);
    CHECK(g[0] == 0.0f, "zero_grad");
    vtag_params_free(&p);
}

static void test_ctx(void)
{
    vtag_ctx ctx;
    CHECK(vtag_ctx_init(&ctx, 0, 5, NULL) == VTAG_OK, "ctx init");
    CHECK(ctx.threads == vtag_default_threads() && ctx.threads >= 1, "default threads = cores");
    vtag_ctx_free(&ctx);
    CHECK(vtag_ctx_init(&ctx, 3, 5, NULL) == VTAG_OK && ctx.threads == 3, "explicit threads");
    vtag_ctx_free(&ctx);
}

int main(void)
{
    test_rng();
    test_arena();
    test_params();
    test_ctx();
    return check_summary("core");
}

/* vtag's promise (docs/ARCHITECTURE.md, "Determinism"): for one kernel path, the same bits
 * whatever the thread count. Here for its two thread-dependent building blocks: the CBLAS GEMM
 * (OpenBLAS's own threading changes the last bits on its Haswell/Zen kernels, so vtag splits C
 * into pieces fixed by the shape) and the global gradient norm (fixed-block partial sums). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/core.h"
#include "vtag/optim.h"

static void fill(float *x, int64_t n, vtag_rng *rng)
{
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * vtag_rng_uniform(rng) - 1.0f;
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 99);
    /* One piece (70×160×32: the threaded OpenBLAS call differed from the one-thread call on Zen),
     * pieces along N, pieces along M, an uneven split. */
    const int64_t shapes[][3] = {{70, 160, 32}, {50, 512, 16}, {96, 600, 64}, {700, 100, 40}, {50, 1300, 96}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c0 = malloc(sizeof(float) * m * n), *c1 = malloc(sizeof(float) * m * n), *cx = malloc(sizeof(float) * m * n);
        fill(a, m * k, &rng);
        fill(b, k * n, &rng);
        fill(c0, m * n, &rng);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int beta = 0; beta < 2; beta++) {
                    memcpy(c1, c0, sizeof(float) * m * n);
                    vtag_backend_cblas.gemm(1, ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, (float)beta, c1, n);
                    for (int threads = 2; threads <= 4; threads++) {
                        memcpy(cx, c0, sizeof(float) * m * n);
                        vtag_backend_cblas.gemm(threads, ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n,
                                                (float)beta, cx, n);
                        int64_t diff = 0;
                        for (int64_t i = 0; i < m * n; i++) diff += memcmp(&c1[i], &cx[i], sizeof(float)) != 0;
                        CHECK(diff == 0, "gemm %lldx%lldx%lld ta=%d tb=%d beta=%d: %lld elements differ between 1 and %d threads",
                              (long long)m, (long long)n, (long long)k, ta, tb, beta, (long long)diff, threads);
                    }
                }
        free(a), free(b), free(c0), free(c1), free(cx);
    }

    const int64_t n = 300001; /* above the parallel threshold, not a whole number of blocks */
    float *g0 = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n), *g1 = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) g0[i] = (float)vtag_rng_normal(&rng) * (i % 7 == 0 ? 100.0f : 0.01f);
    memcpy(g1, g0, sizeof(float) * n);
    double norm1 = vtag_clip_grad_norm(g1, n, 1.0f, 1);
    for (int threads = 2; threads <= 4; threads++) {
        memcpy(g, g0, sizeof(float) * n);
        double norm = vtag_clip_grad_norm(g, n, 1.0f, threads);
        CHECK(memcmp(&norm, &norm1, sizeof norm) == 0, "gradient norm %.17g with %d threads, %.17g with 1", norm,
              threads, norm1);
        CHECK(memcmp(g, g1, sizeof(float) * n) == 0, "clipped gradients differ between 1 and %d threads", threads);
    }
    double ref = 0.0;
    for (int64_t i = 0; i < n; i++) ref += (double)g0[i] * g0[i];
    CHECK_NEAR(norm1, sqrt(ref), 1e-9 * sqrt(ref), "gradient norm against a plain sum");
    free(g0), free(g), free(g1);
    return check_summary("determinism");
}

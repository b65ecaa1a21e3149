/* The CBLAS GEMM path equals the naive reference kernel for every
 * transpose combination, odd sizes, padded leading dimensions, alpha/beta. */
#include <stdlib.h>

#include "check.h"
#include "vtag/core.h"

static void fill(float *x, int64_t n, vtag_rng *rng)
{
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * vtag_rng_uniform(rng) - 1.0f;
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 1234);
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 7, 13}, {50, 2560, 512}, {17, 5, 1}, {64, 33, 129}, {1, 300, 77}};
    const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-2.0f, 0.25f}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (size_t c = 0; c < sizeof ab / sizeof ab[0]; c++) {
                    /* Leading dimensions padded by 3 to exercise strides. */
                    int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 3, ldc = n + 3;
                    int64_t arows = ta ? k : m, brows = tb ? n : k;
                    float *a = malloc(sizeof(float) * arows * lda), *b = malloc(sizeof(float) * brows * ldb);
                    float *c1 = malloc(sizeof(float) * m * ldc), *c2 = malloc(sizeof(float) * m * ldc);
                    fill(a, arows * lda, &rng);
                    fill(b, brows * ldb, &rng);
                    fill(c1, m * ldc, &rng);
                    for (int64_t i = 0; i < m * ldc; i++) c2[i] = c1[i];
                    for (int threads = 1; threads <= 2; threads++) {
                        for (int64_t i = 0; i < m * ldc; i++) c2[i] = c1[i];
                        float *c3 = malloc(sizeof(float) * m * ldc);
                        for (int64_t i = 0; i < m * ldc; i++) c3[i] = c1[i];
                        vtag_backend_cblas.gemm(threads, ta, tb, m, n, k, ab[c][0], a, lda, b, ldb, ab[c][1], c2, ldc);
                        vtag_backend_naive.gemm(threads, ta, tb, m, n, k, ab[c][0], a, lda, b, ldb, ab[c][1], c3, ldc);
                        double worst = 0.0;
                        int pad_ok = 1;
                        for (int64_t i = 0; i < m; i++) {
                            for (int64_t j = 0; j < n; j++) {
                                double d = fabs((double)c2[i * ldc + j] - c3[i * ldc + j]);
                                /* float32 sums of k products of values in [-1, 1]. */
                                double tol = 1e-5 * (1.0 + sqrt((double)k)) * (1.0 + fabs(ab[c][0]));
                                if (d / tol > worst) worst = d / tol;
                            }
                            for (int64_t j = n; j < ldc; j++) pad_ok &= c2[i * ldc + j] == c1[i * ldc + j];
                        }
                        CHECK(worst <= 1.0, "m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g threads=%d: error %.2f x tol",
                              (long long)m, (long long)n, (long long)k, ta, tb, ab[c][0], ab[c][1], threads, worst);
                        CHECK(pad_ok, "gemm wrote into the padding of C");
                        free(c3);
                    }
                    free(a), free(b), free(c1), free(c2);
                }
    }
    /* beta = 0 ignores whatever C held, NaN included. */
    float a[1] = {2}, b[1] = {3}, c[1] = {NAN};
    vtag_backend_naive.gemm(1, 0, 0, 1, 1, 1, 1.0f, a, 1, b, 1, 0.0f, c, 1);
    CHECK(c[0] == 6.0f, "naive beta=0 with NaN C gave %g", c[0]);
    c[0] = NAN;
    vtag_backend_cblas.gemm(1, 0, 0, 1, 1, 1, 1.0f, a, 1, b, 1, 0.0f, c, 1);
    CHECK(c[0] == 6.0f, "cblas beta=0 with NaN C gave %g", c[0]);
    return check_summary("gemm");
}

/* vtag_gemm_packed on every kernel path this CPU runs equals a naive double twin: rows 1..70
 * (every tail of the 6-row tile), columns and depths that are not multiples of the 16-column
 * panel or the 256-deep K block, both layouts of B, alpha/beta, padded leading dimensions;
 * 1, 2 and 3 threads give the same bits; beta = 0 overwrites NaN. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/core.h"

static void fill(float *x, int64_t n, vtag_rng *rng)
{
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * vtag_rng_uniform(rng) - 1.0f;
}

/* C = alpha · A · op(B) + beta · C in double. */
static void twin(int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                 int64_t ldb, float beta, double *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < k; p++) acc += (double)a[i * lda + p] * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = alpha * acc + (beta == 0.0f ? 0.0 : beta * c[i * ldc + j]);
        }
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 4321);
    vtag_ctx ctx;
    vtag_error err;
    CHECK(vtag_ctx_init(&ctx, 1, 1, &err) == VTAG_OK, "ctx: %s", err.msg);
    const int64_t ns[] = {1, 15, 17, 100}, ks[] = {0, 1, 7, 300};
    const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.25f}};
    int cases = 0;
    for (int isa = 0; isa < VTAG_ISA_COUNT; isa++) {
        if (!vtag_isa_supported((vtag_isa)isa)) continue;
        ctx.isa = (vtag_isa)isa;
        for (int64_t m = 1; m <= 70; m += (m < 14 ? 1 : 7))
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                    for (int tb = 0; tb < 2; tb++) {
                        const int64_t n = ns[ni], k = ks[ki], c_ab = (m + (int64_t)ni + (int64_t)ki + tb) % 3;
                        const float alpha = ab[c_ab][0], beta = ab[c_ab][1];
                        const int64_t lda = k + 3, ldb = (tb ? k : n) + 2, ldc = n + 5, brows = tb ? n : k;
                        float *a = malloc(sizeof(float) * (size_t)(m * lda + 1));
                        float *b = malloc(sizeof(float) * (size_t)(brows * ldb + 1));
                        float *c0 = malloc(sizeof(float) * (size_t)(m * ldc)), *c = malloc(sizeof(float) * (size_t)(m * ldc));
                        float *c1 = malloc(sizeof(float) * (size_t)(m * ldc));
                        double *want = malloc(sizeof(double) * (size_t)(m * ldc));
                        float *pk = malloc(sizeof(float) * (size_t)(vtag_gemm_pack_floats(k, n) + 1));
                        CHECK(a && b && c0 && c && c1 && want && pk, "out of memory");
                        fill(a, m * lda, &rng);
                        fill(b, brows * ldb, &rng);
                        fill(c0, m * ldc, &rng);
                        if (beta == 0.0f) c0[0] = NAN;
                        for (int64_t i = 0; i < m * ldc; i++) want[i] = c0[i];
                        twin(tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
                        vtag_packed_b p;
                        for (int threads = 1; threads <= 3; threads++) {
                            ctx.threads = threads;
                            vtag_gemm_pack(&ctx, &p, pk, tb, k, n, b, ldb);
                            memcpy(c, c0, sizeof(float) * (size_t)(m * ldc));
                            vtag_gemm_packed(&ctx, m, alpha, a, lda, &p, beta, c, ldc);
                            double worst = 0.0;
                            int pad_ok = 1;
                            for (int64_t i = 0; i < m; i++) {
                                for (int64_t j = 0; j < n; j++) {
                                    /* float32 sums of k products of values in [-1, 1]. */
                                    double d = fabs(c[i * ldc + j] - want[i * ldc + j]);
                                    double tol = 1e-6 * (1.0 + (double)k) + 1e-6 * fabs(want[i * ldc + j]);
                                    if (!(d <= tol)) worst = isnan(d) ? INFINITY : fmax(worst, d / tol);
                                }
                                for (int64_t j = n; j < ldc; j++) pad_ok &= c[i * ldc + j] == c0[i * ldc + j];
                            }
                            CHECK(worst <= 1.0, "%s m=%lld n=%lld k=%lld tb=%d alpha=%g beta=%g threads=%d: error %.2f x tol",
                                  vtag_isa_name((vtag_isa)isa), (long long)m, (long long)n, (long long)k, tb, alpha,
                                  beta, threads, worst);
                            CHECK(pad_ok, "packed gemm wrote outside C's columns");
                            if (threads == 1) memcpy(c1, c, sizeof(float) * (size_t)(m * ldc));
                            else
                                CHECK(memcmp(c1, c, sizeof(float) * (size_t)(m * ldc)) == 0,
                                      "%s m=%lld n=%lld k=%lld: %d threads differ from 1", vtag_isa_name((vtag_isa)isa),
                                      (long long)m, (long long)n, (long long)k, threads);
                            cases++;
                        }
                        free(a), free(b), free(c0), free(c), free(c1), free(want), free(pk);
                    }
    }
    CHECK(cases > 0, "no kernel path ran");
    CHECK(vtag_gemm_pack_floats(INT64_MAX / 2, 64) == -1, "an overflowing pack size is refused");
    vtag_ctx_free(&ctx);
    return check_summary("core/gemm_packed");
}

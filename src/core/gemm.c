/* GEMM backends: OpenBLAS through CBLAS, and the naive loops every test
 * holds it equal to. */
#include <cblas.h>

#include "vtag/core.h"

/* Declared by OpenBLAS's cblas.h; repeated so the intent is visible. */
void openblas_set_num_threads(int num_threads);

static void gemm_cblas(int threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                       float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0) return;
    openblas_set_num_threads(threads > 0 ? threads : 1);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
                (blasint)ldc);
}

static void gemm_naive(int threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                       float beta, float *c, int64_t ldc)
{
    (void)threads;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (int64_t p = 0; p < k; p++) {
                float av = trans_a ? a[p * lda + i] : a[i * lda + p];
                float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                acc += (double)av * bv;
            }
            /* beta == 0 overwrites, as BLAS does, even if C holds NaN. */
            c[i * ldc + j] = (float)(alpha * acc + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]));
        }
    }
}

const vtag_backend vtag_backend_cblas = {"cblas", gemm_cblas};
const vtag_backend vtag_backend_naive = {"naive", gemm_naive};

void vtag_gemm(const vtag_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc)
{
    ctx->backend->gemm(ctx->threads, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* GEMM backends: OpenBLAS through CBLAS, split into pieces that do not depend
 * on the thread count, and the naive loops every test holds it equal to. */
#include <cblas.h>

#include <string.h>

#include "core/gemm_packed.h"
#include "vtag/core.h"

/* Declared by OpenBLAS's cblas.h; repeated so the intent is visible. */
void openblas_set_num_threads(int num_threads);

/* The columns (split_n) or rows of C that each single-threaded OpenBLAS call computes: a function
 * of the shape alone, never of the thread count. OpenBLAS's own threading splits C at points that
 * depend on the thread count, and its Haswell/Zen sgemm kernels round an element differently
 * depending on where it falls in a micro-tile (measured: C computed whole and C computed as two
 * row or column halves differ in the last bits), so a threaded call gave other bits than a
 * one-thread call and training drifted apart with --threads. With the split fixed, every element
 * is computed by the same call on any thread count. A piece of SPLIT_MIN or more rows or columns
 * keeps the repacking of the other operand (once per piece) near 2% of the work. */
#define SPLIT_MIN 256

static int64_t gemm_pieces(int64_t m, int64_t n, int *split_n)
{
    *split_n = n >= m;
    const int64_t d = *split_n ? n : m;
    return d >= 2 * SPLIT_MIN ? d / SPLIT_MIN : 1;
}

static void gemm_cblas(int threads, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                       float beta, float *c, int64_t ldc)
{
    if (m == 0 || n == 0) return;
    /* One thread inside OpenBLAS (in the OpenMP build this is also the calling thread's
     * omp_set_num_threads(1); every vtag parallel region names its thread count). */
    openblas_set_num_threads(1);
    int split_n;
    const int64_t pieces = gemm_pieces(m, n, &split_n), d = split_n ? n : m;
    const CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
#pragma omp parallel for num_threads(threads > 1 ? threads : 1) if (pieces > 1 && threads > 1) schedule(static)
    for (int64_t p = 0; p < pieces; p++) {
        /* piece p: [p·d/pieces, (p+1)·d/pieces) */
        const int64_t i0 = p * d / pieces, i1 = (p + 1) * d / pieces;
        if (split_n)
            cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)(i1 - i0), (blasint)k, alpha, a, (blasint)lda,
                        trans_b ? b + i0 * ldb : b + i0, (blasint)ldb, beta, c + i0, (blasint)ldc);
        else
            cblas_sgemm(CblasRowMajor, ta, tb, (blasint)(i1 - i0), (blasint)n, (blasint)k, alpha,
                        trans_a ? a + i0 : a + i0 * lda, (blasint)lda, b, (blasint)ldb, beta, c + i0 * ldc,
                        (blasint)ldc);
    }
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

/* ---- packed weights (the kernel: gemm_packed.c) ---------------------------- */

int64_t vtag_gemm_pack_floats(int64_t k, int64_t n)
{
    int64_t panels = n / VTAG_PACK_NR + (n % VTAG_PACK_NR != 0), size;
    if (k < 0 || n < 0 || vtag_mul_i64(panels, VTAG_PACK_NR, &size) || vtag_mul_i64(size, k, &size)) return -1;
    return size;
}

void vtag_gemm_pack(const vtag_ctx *ctx, vtag_packed_b *p, float *buf, int trans_b, int64_t k, int64_t n,
                    const float *b, int64_t ldb)
{
    enum { NR = VTAG_PACK_NR };
    const int64_t panels = (n + NR - 1) / NR;
    p->data = buf, p->k = k, p->n = n;
#pragma omp parallel for num_threads(ctx->threads > 1 ? ctx->threads : 1) if (panels > 1 && k * n > 65536) schedule(static)
    for (int64_t q = 0; q < panels; q++) {
        float *dst = buf + q * k * NR;
        const int64_t j0 = q * NR, nr = n - j0 < NR ? n - j0 : NR;
        if (trans_b) { /* B [n, k]: column j of op(B) is row j of B */
            if (nr < NR) memset(dst, 0, (size_t)(k * NR) * sizeof(float));
            for (int64_t j = 0; j < nr; j++) {
                const float *row = b + (j0 + j) * ldb;
                for (int64_t kk = 0; kk < k; kk++) dst[kk * NR + j] = row[kk];
            }
        } else {
            for (int64_t kk = 0; kk < k; kk++) {
                memcpy(dst + kk * NR, b + kk * ldb + j0, (size_t)nr * sizeof(float));
                for (int64_t j = nr; j < NR; j++) dst[kk * NR + j] = 0.0f;
            }
        }
    }
}

void vtag_gemm_packed(const vtag_ctx *ctx, int64_t m, float alpha, const float *a, int64_t lda,
                      const vtag_packed_b *b, float beta, float *c, int64_t ldc)
{
    if (m == 0 || b->n == 0) return;
    const int64_t panels = (b->n + VTAG_PACK_NR - 1) / VTAG_PACK_NR;
    const int threads = ctx->threads < 1 ? 1 : ctx->threads > panels ? (int)panels : ctx->threads;
    void (*run)(int64_t, int64_t, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, float,
                float *, int64_t) = VTAG_ISA_CALL(ctx->isa, vtag_gemm_packed_panels);
    /* Thread t takes panels [t·P/threads, (t+1)·P/threads): whole panels, so no element's sum
     * depends on the split. Below ~1 MFLOP the fork costs more than it saves. */
#pragma omp parallel for num_threads(threads) if (threads > 1 && m * b->n * b->k > (1 << 19)) schedule(static)
    for (int t = 0; t < threads; t++)
        run(m, t * panels / threads, (t + 1) * panels / threads, b->k, b->n, alpha, a, lda, b->data, beta, c, ldc);
}

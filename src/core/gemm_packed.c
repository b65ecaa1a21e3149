/* The kernel of vtag_gemm_packed (gemm.c packs and splits the work): C = alpha · A · B + beta · C
 * over a range of B's packed panels, one MR × 16 tile of C at a time, K in blocks of KC so that
 * a tile's slice of the panel (16 KiB) stays in L1 while every row block of A passes over it.
 * A is read in place: with few rows (≤ ~64) it stays in L2, and packing it would cost as much
 * as the product. The avx512 unit compiles the AVX2 code (256-bit; AVX-512 untested here). */
#include "core/gemm_packed.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#define NR VTAG_PACK_NR
#define MR 6    /* rows of a tile: 6 × 2 accumulators of 8 floats, 2 panel loads, 1 broadcast */
#define KC 256  /* depth of a K block */

_Static_assert(NR == 16, "the kernels hold a panel row in two 8-float registers");

/* C tile [mr, nr] = alpha · t + beta · C (beta == 0 overwrites, NaN included); t is [MR][NR]. */
static inline void tile_update(float *c, int64_t ldc, const float *t, int mr, int nr, float alpha, float beta)
{
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++)
            c[r * ldc + j] = alpha * t[r * NR + j] + (beta == 0.0f ? 0.0f : beta * c[r * ldc + j]);
}

#if defined(__AVX2__)

/* One row of the tile: acc r0/r1 += A[r][k] · panel row k. Named accumulators, not an array: GCC
 * kept an array in memory inside the loop (half the speed). mr is a constant in every caller
 * (tile_mr below), so the rows past it vanish. */
#define TILE_ROW(r)                                                   \
    if (mr > r) {                                                     \
        const __m256 av = _mm256_broadcast_ss(a + r * lda + k);       \
        acc##r##0 = _mm256_fmadd_ps(av, b0, acc##r##0);               \
        acc##r##1 = _mm256_fmadd_ps(av, b1, acc##r##1);               \
    }
#define TILE_OUT(r)                                                   \
    if (mr > r) {                                                     \
        _mm256_storeu_ps(t + r * NR, acc##r##0);                      \
        _mm256_storeu_ps(t + r * NR + 8, acc##r##1);                  \
    }

static inline __attribute__((always_inline)) void tile(const int mr, int nr, int64_t kc, const float *a, int64_t lda,
                                                       const float *b, float *c, int64_t ldc, float alpha, float beta)
{
    __m256 acc00 = _mm256_setzero_ps(), acc01 = acc00, acc10 = acc00, acc11 = acc00, acc20 = acc00, acc21 = acc00;
    __m256 acc30 = acc00, acc31 = acc00, acc40 = acc00, acc41 = acc00, acc50 = acc00, acc51 = acc00;
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b + k * NR), b1 = _mm256_loadu_ps(b + k * NR + 8);
        TILE_ROW(0) TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5)
    }
    float t[MR * NR];
    TILE_OUT(0) TILE_OUT(1) TILE_OUT(2) TILE_OUT(3) TILE_OUT(4) TILE_OUT(5)
    if (nr == NR) {
        const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
        for (int r = 0; r < mr; r++)
            for (int h = 0; h < 2; h++) {
                float *cp = c + r * ldc + 8 * h;
                __m256 v = _mm256_mul_ps(va, _mm256_loadu_ps(t + r * NR + 8 * h));
                if (beta != 0.0f) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cp), v);
                _mm256_storeu_ps(cp, v);
            }
        return;
    }
    tile_update(c, ldc, t, mr, nr, alpha, beta);
}

#else

static inline void tile(const int mr, int nr, int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                        int64_t ldc, float alpha, float beta)
{
    float t[MR * NR] = {0};
    for (int64_t k = 0; k < kc; k++)
        for (int r = 0; r < mr; r++) {
            const float av = a[r * lda + k];
            for (int j = 0; j < NR; j++) t[r * NR + j] += av * b[k * NR + j];
        }
    tile_update(c, ldc, t, mr, nr, alpha, beta);
}

#endif

static void tile_mr(int mr, int nr, int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc,
                    float alpha, float beta)
{
    switch (mr) {
    case 6: tile(6, nr, kc, a, lda, b, c, ldc, alpha, beta); break;
    case 5: tile(5, nr, kc, a, lda, b, c, ldc, alpha, beta); break;
    case 4: tile(4, nr, kc, a, lda, b, c, ldc, alpha, beta); break;
    case 3: tile(3, nr, kc, a, lda, b, c, ldc, alpha, beta); break;
    case 2: tile(2, nr, kc, a, lda, b, c, ldc, alpha, beta); break;
    default: tile(1, nr, kc, a, lda, b, c, ldc, alpha, beta); break;
    }
}

/* Panels [p0, p1) of C [m, n]; bp is the packed B, [panels, k, NR]. Each element's sum runs over
 * the same K blocks in the same order whatever the panel range, so no split changes its bits. */
void VTAG_ISA_FN(vtag_gemm_packed_panels)(int64_t m, int64_t p0, int64_t p1, int64_t k, int64_t n, float alpha,
                                          const float *a, int64_t lda, const float *bp, float beta, float *c,
                                          int64_t ldc)
{
    int64_t k0 = 0;
    do { /* k == 0 still runs once: C = beta · C */
        const int64_t kc = k - k0 < KC ? k - k0 : KC;
        const float bk = k0 == 0 ? beta : 1.0f;
        for (int64_t p = p0; p < p1; p++) {
            const float *b = bp + (p * k + k0) * NR;
            const int nr = (int)(n - p * NR < NR ? n - p * NR : NR);
            for (int64_t i0 = 0; i0 < m; i0 += MR) {
                const int mr = (int)(m - i0 < MR ? m - i0 : MR);
                tile_mr(mr, nr, kc, a + i0 * lda + k0, lda, b, c + i0 * ldc + p * NR, ldc, alpha, bk);
            }
        }
        k0 += kc;
    } while (k0 < k);
}

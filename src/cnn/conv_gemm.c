/* The conv GEMM out_g[Cout_g, P] = W_g[Cout_g, K] · col[K, P] on a register-tiled micro-kernel, with
 * the im2col done block by block (K_BLOCK rows × a block of output positions, in L2) instead of for
 * a whole image: with im2col + OpenBLAS the column matrix of an early layer (several MB) streams
 * through memory twice; here it stays in cache.
 * Positions run across the nb merged images; each thread takes whole position blocks.
 * Compiled once per kernel path (core/isa.h): a 6×64 AVX-512 micro-kernel, a 6×16 AVX2 + FMA one,
 * portable C on the generic path (which the strategy leaves on im2col + OpenBLAS). */
#include <omp.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cnn/cnn_internal.h"

#define MR 6        /* output channels per micro-tile (broadcast from the weight rows) */
#define NR 64       /* output positions per panel: one AVX-512 micro-tile (four zmm), four AVX2 ones */
#ifndef K_BLOCK
#define K_BLOCK 128 /* GEMM depth per column block */
#endif
#ifndef N_BLOCK
#define N_BLOCK 256 /* most positions per column block */
#endif

/* Column block geometry shared by the workspace size and the kernel. */
static int64_t n_block(int64_t n_total, int threads)
{
    int64_t blocks = (n_total + N_BLOCK - 1) / N_BLOCK;
    if (blocks < threads) blocks = threads;
    blocks = (blocks + threads - 1) / threads * threads; /* whole rounds of the threads */
    int64_t nb = (n_total + blocks - 1) / blocks;
    /* multiples of 16 (one vector) rather than NR, so that the last panel wastes < 16 columns */
    return (nb + 15) / 16 * 16;
}

/* Floats of one thread's scratch — column panels, row buffer, output block [cout_g][block] —
 * for blocks over all n_total positions of the batch: n_block() never exceeds this, whatever the
 * threads. */
static int64_t thread_floats(const cnn_conv_plan *pl, int64_t n_total)
{
    int64_t n = (n_total + NR - 1) / NR * NR;
    if (n > N_BLOCK) n = N_BLOCK;
    return (pl->k < K_BLOCK ? pl->k : K_BLOCK) * n + n + NR + pl->cout_g * n;
}

int64_t VTAG_ISA_FN(cnn_conv_gemm_workspace)(const vtag_conv2d_dims *d, const cnn_conv_plan *pl, int threads)
{
    return (int64_t)(threads > 0 ? threads : 1) * thread_floats(pl, d->n * pl->p);
}

/* A run of positions of one output row that lands in one panel: output row `ho` of image `img`,
 * columns [wo0, wo0 + len), stored from lane `lane` of panel `panel`. */
typedef struct seg {
    int32_t img, ho, wo0, len, panel, lane;
} seg;

#define MAX_SEGS (N_BLOCK + N_BLOCK / NR + 2)

/* The runs of positions [q0, q1) (q = image · P + ho · w_out + wo), split at output rows and at
 * panels; the divisions happen here once per block, not once per GEMM row. */
static int64_t block_segments(seg *sg, int64_t q0, int64_t q1, const vtag_conv2d_dims *d)
{
    const int64_t p = d->h_out * d->w_out, wo_n = d->w_out;
    int64_t n = 0;
    for (int64_t q = q0; q < q1;) {
        const int64_t img = q / p, pos = q % p, ho = pos / wo_n, wo0 = pos % wo_n, qq = q - q0;
        int64_t len = wo_n - wo0;
        if (len > q1 - q) len = q1 - q;
        if (len > NR - qq % NR) len = NR - qq % NR; /* stop at the panel's end */
        sg[n++] = (seg){(int32_t)img, (int32_t)ho, (int32_t)wo0, (int32_t)len, (int32_t)(qq / NR), (int32_t)(qq % NR)};
        q += len;
    }
    return n;
}

/* Packs GEMM rows r in [k0, k1) of the column matrix, for the positions of the block's segments,
 * into panels of NR positions: panel[j][r − k0][lane], zero in the padding and in the lanes past
 * the block's end. Contiguous panels keep the micro-kernel's loads on consecutive lines (a
 * row-major block with a power-of-two row stride thrashed a few L1 sets). */
static void im2col_block(float *panels, const seg *sg, int64_t nseg, int64_t nq, const float *in, int64_t c0,
                         int64_t k0, int64_t k1, const vtag_conv2d_dims *d)
{
    const int64_t kc = k1 - k0, npanels = (nq + NR - 1) / NR;
    const int64_t kk = d->kh * d->kw, hw = d->h * d->w, wo_n = d->w_out;
    const int64_t sw = d->stride_w;
    if (nq < npanels * NR) /* the last panel's unused lanes */
        for (int64_t r = 0; r < kc; r++)
            memset(panels + ((npanels - 1) * kc + r) * NR + nq % NR, 0, (size_t)(NR - nq % NR) * sizeof *panels);
    for (int64_t r = k0; r < k1; r++) {
        const int64_t c = r / kk, kh = r % kk / d->kw, kw = r % d->kw;
        const int64_t off_w = kw * d->dil_w - d->pad_left, off_h = kh * d->dil_h - d->pad_top;
        /* output columns whose tap lands inside the input: [lo, hi) */
        int64_t lo = off_w >= 0 ? 0 : (-off_w + sw - 1) / sw;
        int64_t hi = d->w - off_w <= 0 ? 0 : (d->w - off_w + sw - 1) / sw;
        if (lo > wo_n) lo = wo_n;
        if (hi > wo_n) hi = wo_n;
        if (hi < lo) hi = lo;
        const float *chan = in + (c0 + c) * hw;
        float *prow = panels + (r - k0) * NR; /* panel j at prow + j·kc·NR */
        for (int64_t i = 0; i < nseg; i++) {
            const seg *g = &sg[i];
            float *o = prow + g->panel * kc * NR + g->lane - g->wo0; /* o[wo] is column wo of the run */
            const int64_t wo0 = g->wo0, wo1 = g->wo0 + g->len;
            const int64_t ih = g->ho * d->stride_h + off_h;
            if (ih < 0 || ih >= d->h) {
                for (int64_t wo = wo0; wo < wo1; wo++) o[wo] = 0.0f;
                continue;
            }
            const float *row = chan + g->img * d->c_in * hw + ih * d->w; /* tap column wo·sw + off_w */
            int64_t a = lo > wo0 ? lo : wo0, b = hi < wo1 ? hi : wo1;
            if (b < a) b = a;
            for (int64_t wo = wo0; wo < a; wo++) o[wo] = 0.0f;
            if (sw == 1) {
                for (int64_t wo = a; wo < b; wo++) o[wo] = row[wo + off_w];
            } else if (sw == 2) { /* a constant stride: the loads vectorise (deinterleaved) */
                for (int64_t wo = a; wo < b; wo++) o[wo] = row[2 * wo + off_w];
            } else {
                for (int64_t wo = a; wo < b; wo++) o[wo] = row[wo * sw + off_w];
            }
            for (int64_t wo = b; wo < wo1; wo++) o[wo] = 0.0f;
        }
    }
}

/* c[i][0..n) (+)= Σ_k a[i·lda + k] · b[k][0..n) for i < mr; a: MR weight rows (row stride lda, read
 * in place: packing them cost more than the six streams), b: a packed panel [kc][NR]; n <= NR. */
#if defined(__AVX512F__)
/* 6 × 64: 24 accumulators, and per k 4 loads and 6 broadcasts for 24 FMAs; a narrower last panel
 * (a 7×7 layer's 392 positions end in 8) runs only its NV vectors. */
static inline __attribute__((always_inline)) void micro_body(int64_t kc, const float *a, int64_t lda, const float *b,
                                                             float *c, int64_t ldc, int mr, int64_t n,
                                                             int accumulate, const int NV)
{
    __m512 acc[MR][4];
    const float *ar[MR]; /* weight rows; rows past mr repeat the last (computed, never stored) */
    for (int i = 0; i < MR; i++) ar[i] = a + (i < mr ? i : mr - 1) * lda;
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++, b += NR) {
        __m512 bv[4];
        for (int j = 0; j < NV; j++) bv[j] = _mm512_loadu_ps(b + 16 * j);
        for (int i = 0; i < MR; i++) {
            const __m512 x = _mm512_set1_ps(ar[i][k]);
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(x, bv[j], acc[i][j]);
        }
    }
    __mmask16 mask[4];
    for (int j = 0; j < NV; j++) {
        int64_t left = n - 16 * j;
        mask[j] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    for (int i = 0; i < mr; i++, c += ldc)
        for (int j = 0; j < NV; j++) {
            __m512 v = acc[i][j];
            if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[j], c + 16 * j));
            _mm512_mask_storeu_ps(c + 16 * j, mask[j], v);
        }
}

static void micro_kernel(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int mr,
                         int64_t n, int accumulate)
{
    switch ((n + 15) / 16) {
    case 1: micro_body(kc, a, lda, b, c, ldc, mr, n, accumulate, 1); break;
    case 2: micro_body(kc, a, lda, b, c, ldc, mr, n, accumulate, 2); break;
    case 3: micro_body(kc, a, lda, b, c, ldc, mr, n, accumulate, 3); break;
    default: micro_body(kc, a, lda, b, c, ldc, mr, n, accumulate, 4); break;
    }
}
#elif defined(__AVX2__)
/* 6 × 16 (OpenBLAS's Haswell sgemm shape): 12 accumulators, per k 2 loads and 6 broadcasts for
 * 12 FMAs, 15 of the 16 ymm registers; a panel is covered 16 lanes at a time, the weight rows stay
 * in L1 across its slices. (Panels 16 wide cut the block's im2col into runs of at most 16
 * positions: mobilenet_v2's stem spent a third of its time there.) All lanes below n rounded up to
 * 16 are stored: a panel's lanes past the block's end are zero and the output block's rows are
 * whole vectors wide. */
static void micro_16(int64_t kc, const float *const *ar, const float *b, float *c, int64_t ldc, int mr,
                     int accumulate)
{
    __m256 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++, b += NR) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int i = 0; i < MR; i++) {
            const __m256 x = _mm256_broadcast_ss(ar[i] + k);
            acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < mr; i++, c += ldc) {
        __m256 v0 = acc[i][0], v1 = acc[i][1];
        if (accumulate) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    }
}

static void micro_kernel(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int mr,
                         int64_t n, int accumulate)
{
    const float *ar[MR]; /* weight rows; rows past mr repeat the last (computed, never stored) */
    for (int i = 0; i < MR; i++) ar[i] = a + (i < mr ? i : mr - 1) * lda;
    for (int64_t j = 0; j < n; j += 16) micro_16(kc, ar, b + j, c + j, ldc, mr, accumulate);
}
#else
static void micro_kernel(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int mr,
                         int64_t n, int accumulate)
{
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++, b += NR)
        for (int i = 0; i < mr; i++) {
            const float x = a[i * lda + k];
            for (int64_t j = 0; j < n; j++) acc[i][j] += x * b[j];
        }
    for (int i = 0; i < mr; i++, c += ldc)
        for (int64_t j = 0; j < n; j++) c[j] = accumulate ? acc[i][j] + c[j] : acc[i][j];
}
#endif

void VTAG_ISA_FN(cnn_conv_gemm)(int threads, float *out, const float *in, int64_t g, const float *w, const float *bias,
                   vtag_act act, const vtag_conv2d_dims *d, const cnn_conv_plan *pl, float *ws)
{
    const int64_t m = pl->cout_g, k = pl->k, p = pl->p, n_total = d->n * p, c0 = g * pl->cin_g;
    const int64_t mtiles = (m + MR - 1) / MR;
    const int64_t nbk = n_block(n_total, threads);
    const int64_t nblocks = (n_total + nbk - 1) / nbk;
    /* One parallel region for the whole batch: each thread takes whole blocks of positions (across
     * images), computes them over every k block into its own output block, then adds the bias,
     * applies the activation and scatters the block to NCHW while it is still in cache. */
#pragma omp parallel num_threads(threads)
    {
        float *col = ws + (int64_t)omp_get_thread_num() * thread_floats(pl, n_total); /* [nbk / NR][kc][NR] */
        float *cb = col + (k < K_BLOCK ? k : K_BLOCK) * ((nbk + NR - 1) / NR * NR) + nbk + NR; /* [m][nbk] */
#pragma omp for schedule(static)
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const int64_t q0 = blk * nbk, q1 = q0 + nbk < n_total ? q0 + nbk : n_total, nq = q1 - q0;
            seg sg[MAX_SEGS];
            const int64_t nseg = block_segments(sg, q0, q1, d);
            for (int64_t k0 = 0; k0 < k; k0 += K_BLOCK) {
                const int64_t kc = k - k0 < K_BLOCK ? k - k0 : K_BLOCK;
                im2col_block(col, sg, nseg, nq, in, c0, k0, k0 + kc, d);
                /* GotoBLAS order: one panel (kc × NR, in L1 … L2) against every weight tile */
                for (int64_t j = 0; j < nq; j += NR) {
                    const float *bp = col + j * kc;
                    for (int64_t t = 0; t < mtiles; t++) {
                        const int mr = m - t * MR < MR ? (int)(m - t * MR) : MR;
                        micro_kernel(kc, w + t * MR * k + k0, k, bp, cb + t * MR * nbk + j, nbk, mr,
                                     nq - j < NR ? nq - j : NR, k0 > 0);
                    }
                }
            }
            for (int64_t o = 0; o < m; o++) {
                const int64_t co = g * m + o;
                const float bo = bias ? bias[co] : 0.0f;
                for (int64_t q = q0; q < q1;) {
                    const int64_t img = q / p, pos = q % p, len = q1 - q < p - pos ? q1 - q : p - pos;
                    VTAG_ISA_FN(cnn_bias_act_row)(out + (img * d->c_out + co) * p + pos, cb + o * nbk + (q - q0), len, bo, act);
                    q += len;
                }
            }
        }
    }
}

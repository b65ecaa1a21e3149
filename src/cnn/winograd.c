/* Winograd F(2×2, 3×3) forward for 3×3, stride-1, undilated, ungrouped convs (Lavin & Gray 2015):
 * each 2×2 output tile is Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d Bᵀᵀ)] A over the 4×4 input tile d, so the
 * 36 multiply-adds per (tile, Cin, Cout) of the direct conv become 16 — 16 GEMMs
 * M[f][Cout, tiles] = U[f][Cout, Cin] · V[f][Cin, tiles], one per point f of the 4×4 transform.
 *
 * Per call: the weights are transformed into U (in the workspace; at batch 8 that costs a few
 * percent of the conv), then each thread takes blocks of TB tiles (across images): input transform
 * into V (padding is zero-filled there), the 16 GEMMs into M on a register-blocked kernel, and
 * the output transform with bias and activation straight into NCHW while M is still in cache.
 * Compiled once per kernel path (core/isa.h): the GEMM kernel is 6×64 on AVX-512, 6×16 on
 * AVX2 + FMA, portable C on the generic path; the transforms are the same C on every path.
 *
 * Accuracy: the transforms only add and halve (G has entries ±½), so the rounding error is a
 * small multiple of the direct conv's — measured ≤ 3e-6 relative to the largest output on the
 * tests' shapes (tests/cnn/test_winograd.c). */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cnn/cnn_internal.h"

#define MR 6       /* output channels per micro-tile */
#ifndef TB         /* (overridable for tuning) */
#if defined(__AVX512F__) || !defined(__AVX2__)
#define TB 64      /* tiles per block: one GEMM panel (four zmm wide) */
#else
/* two 6×16 micro-tiles: a block's V and M (16 planes of C·TB each) nearer Zen 3's 512 KB L2;
 * measured against 64: resnet18's 128- and 256-channel 3×3s 6–12% faster, 64 and 512 level */
#define TB 32
#endif
#endif
#ifndef KB
#define KB 128     /* GEMM depth per pass over a panel */
#endif

static int64_t tiles_h(const vtag_conv2d_dims *d) { return (d->h_out + 1) / 2; }
static int64_t tiles_w(const vtag_conv2d_dims *d) { return (d->w_out + 1) / 2; }

/* The 16 planes of U, V and M lie one cache line further apart than their size: with plane sizes
 * that are multiples of 4 KB, the 16 streams of a transform all mapped to the same L1 sets
 * (measured 2x slower transforms). */
#define PLANE_PAD 16
static int64_t u_plane(const vtag_conv2d_dims *d) { return (d->c_out + MR - 1) / MR * MR * d->c_in + PLANE_PAD; }
static int64_t v_plane(const vtag_conv2d_dims *d) { return d->c_in * TB + PLANE_PAD; }
static int64_t m_plane(const vtag_conv2d_dims *d) { return d->c_out * TB + PLANE_PAD; }

/* One thread's scratch: V [16][Cin][TB], M [16][Cout][TB], four padded input rows and their
 * transform's even and odd columns, two output rows. */
static int64_t thread_floats(const vtag_conv2d_dims *d)
{
    return 16 * v_plane(d) + 16 * m_plane(d) + 4 * (2 * TB + 2) + 8 * (TB + 1) + 2 * (2 * TB);
}

/* The transformed weights, packed (weight_transform). */
static int64_t u_floats(const vtag_conv2d_dims *d) { return 16 * u_plane(d); }

int64_t VTAG_ISA_FN(cnn_winograd_workspace)(const vtag_conv2d_dims *d, int threads)
{
    return u_floats(d) + (int64_t)(threads > 0 ? threads : 1) * thread_floats(d);
}

/* U[f][t][c][i] = (G g Gᵀ)[f / 4][f % 4] for the 3×3 kernel g = w[t·MR + i, c] (zero past Cout),
 * G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]: packed in the micro-kernel's order (MR output channels
 * side by side per input channel), so that its weight loads are one contiguous stream. */
static void weight_transform(float *u, const float *w, const vtag_conv2d_dims *d)
{
    const int64_t cout = d->c_out, cin = d->c_in, mtiles = (cout + MR - 1) / MR, fs = u_plane(d);
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t tc = 0; tc < mtiles * cin; tc++) {
        const int64_t t = tc / cin, c = tc % cin;
        float *ut = u + tc * MR; /* point f at ut + f·fs */
        for (int64_t i = 0; i < MR; i++) {
            const int64_t o = t * MR + i;
            if (o >= cout) {
                for (int f = 0; f < 16; f++) ut[f * fs + i] = 0.0f;
                continue;
            }
            const float *g = w + (o * cin + c) * 9;
            float r[4][3]; /* G g */
            for (int j = 0; j < 3; j++) {
                const float g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
                r[0][j] = g0;
                r[1][j] = 0.5f * (g0 + g1 + g2);
                r[2][j] = 0.5f * (g0 - g1 + g2);
                r[3][j] = g2;
            }
            for (int k = 0; k < 4; k++) {
                ut[(k * 4 + 0) * fs + i] = r[k][0];
                ut[(k * 4 + 1) * fs + i] = 0.5f * (r[k][0] + r[k][1] + r[k][2]);
                ut[(k * 4 + 2) * fs + i] = 0.5f * (r[k][0] - r[k][1] + r[k][2]);
                ut[(k * 4 + 3) * fs + i] = r[k][2];
            }
        }
    }
}

/* A run of tiles of one tile row: image img, tile row th, tile columns [tw0, tw0 + len), stored
 * from lane `lane` of the block. */
typedef struct run {
    int64_t img, th, tw0, len, lane;
} run;

static int64_t block_runs(run *r, int64_t q0, int64_t q1, const vtag_conv2d_dims *d)
{
    const int64_t tw_n = tiles_w(d), tp = tiles_h(d) * tw_n;
    int64_t n = 0;
    for (int64_t q = q0; q < q1;) {
        const int64_t img = q / tp, pos = q % tp, th = pos / tw_n, tw0 = pos % tw_n;
        const int64_t len = tw_n - tw0 < q1 - q ? tw_n - tw0 : q1 - q;
        r[n++] = (run){img, th, tw0, len, q - q0};
        q += len;
    }
    return n;
}

/* V[f][c][lane + t] = (Bᵀ d B)[f / 4][f % 4] for the tiles of the runs, every input channel;
 * Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]. buf: 4 rows of 2·TB + 2 floats, then 8 of TB + 1.
 * Bᵀ d is taken over whole rows first, split into even and odd columns, so that both halves of the
 * transform are loops over contiguous tiles that vectorise (tile t reads columns 2t … 2t + 3: even
 * and odd t and t + 1). */
static void input_transform(float *v, float *buf, const run *runs, int64_t nruns, const float *in,
                            const vtag_conv2d_dims *d)
{
    const int64_t cin = d->c_in, hw = d->h * d->w, bw = 2 * TB + 2, fs = v_plane(d);
    float *ev[4], *od[4]; /* row k of Bᵀ d: even columns ev[k][j] = column 2j, odd od[k][j] = 2j + 1 */
    for (int k = 0; k < 4; k++) ev[k] = buf + 4 * bw + (2 * k) * (TB + 1), od[k] = ev[k] + (TB + 1);
    for (int64_t c = 0; c < cin; c++) {
        for (int64_t i = 0; i < nruns; i++) {
            const run *r = &runs[i];
            const float *chan = in + (r->img * cin + c) * hw;
            const int64_t x0 = 2 * r->tw0 - d->pad_left, nx = 2 * r->len + 2; /* input columns [x0, x0 + nx) */
            const int64_t a = x0 < 0 ? -x0 : 0, b = x0 + nx > d->w ? d->w - x0 : nx;
            for (int64_t k = 0; k < 4; k++) {
                float *row = buf + k * bw;
                const int64_t ih = 2 * r->th - d->pad_top + k;
                if (ih < 0 || ih >= d->h || b <= a) {
                    memset(row, 0, (size_t)nx * sizeof *row);
                    continue;
                }
                for (int64_t x = 0; x < a; x++) row[x] = 0.0f;
                memcpy(row + a, chan + ih * d->w + x0 + a, (size_t)(b - a) * sizeof *row);
                for (int64_t x = b; x < nx; x++) row[x] = 0.0f;
            }
            const float *r0 = buf, *r1 = buf + bw, *r2 = buf + 2 * bw, *r3 = buf + 3 * bw;
            const int64_t len = r->len;
            for (int64_t j = 0; j <= len; j++) {
                const float e0 = r0[2 * j], e1 = r1[2 * j], e2 = r2[2 * j], e3 = r3[2 * j];
                const float o0 = r0[2 * j + 1], o1 = r1[2 * j + 1], o2 = r2[2 * j + 1], o3 = r3[2 * j + 1];
                ev[0][j] = e0 - e2, ev[1][j] = e1 + e2, ev[2][j] = e2 - e1, ev[3][j] = e1 - e3;
                od[0][j] = o0 - o2, od[1][j] = o1 + o2, od[2][j] = o2 - o1, od[3][j] = o1 - o3;
            }
            float *vc = v + c * TB + r->lane; /* point f at vc + f·fs */
            for (int k = 0; k < 4; k++) {
                const float *e = ev[k], *o = od[k];
                float *v0 = vc + (4 * k) * fs, *v1 = v0 + fs, *v2 = v1 + fs, *v3 = v2 + fs;
#pragma omp simd
                for (int64_t t = 0; t < len; t++) {
                    v0[t] = e[t] - e[t + 1];
                    v1[t] = o[t] + e[t + 1];
                    v2[t] = e[t + 1] - o[t];
                    v3[t] = o[t] - o[t + 1];
                }
            }
        }
    }
}

/* c[i][0..n) (+)= Σ_k a[k·MR + i] · b[k][0..n), i < mr; a: packed weights [kc][MR], b: a panel
 * [kc][TB], c: row stride TB. */
#if defined(__AVX512F__)
/* 6 × 64: the whole panel width, 24 accumulators. */
static inline __attribute__((always_inline)) void micro_body(int64_t kc, const float *a, const float *b, float *c,
                                                             int mr, int64_t n, int accumulate, const int NV)
{
    __m512 acc[MR][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < kc; k++, b += TB, a += MR) {
        __m512 bv[4];
        for (int j = 0; j < NV; j++) bv[j] = _mm512_loadu_ps(b + 16 * j);
        for (int i = 0; i < MR; i++) {
            const __m512 x = _mm512_set1_ps(a[i]);
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(x, bv[j], acc[i][j]);
        }
    }
    __mmask16 mask[4];
    for (int j = 0; j < NV; j++) {
        int64_t left = n - 16 * j;
        mask[j] = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    for (int i = 0; i < mr; i++, c += TB)
        for (int j = 0; j < NV; j++) {
            __m512 x = acc[i][j];
            if (accumulate) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[j], c + 16 * j));
            _mm512_mask_storeu_ps(c + 16 * j, mask[j], x);
        }
}

static void micro_kernel(int64_t kc, const float *a, const float *b, float *c, int mr, int64_t n, int accumulate)
{
    switch ((n + 15) / 16) {
    case 1: micro_body(kc, a, b, c, mr, n, accumulate, 1); break;
    case 2: micro_body(kc, a, b, c, mr, n, accumulate, 2); break;
    case 3: micro_body(kc, a, b, c, mr, n, accumulate, 3); break;
    default: micro_body(kc, a, b, c, mr, n, accumulate, 4); break;
    }
}
#elif defined(__AVX2__)
/* 6 × 16 (OpenBLAS's Haswell sgemm shape): 12 accumulators, per k 2 loads and 6 broadcasts for
 * 12 FMAs, 15 of the 16 ymm registers; the panel is covered 16 lanes at a time. All lanes below
 * n rounded up to 16 are stored: the block's lanes past its end are zero in V and never read
 * from M. */
static void micro_16(int64_t kc, const float *a, const float *b, float *c, int mr, int accumulate)
{
    __m256 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; k++, b += TB, a += MR) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int i = 0; i < MR; i++) {
            const __m256 x = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(x, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(x, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < mr; i++, c += TB) {
        __m256 v0 = acc[i][0], v1 = acc[i][1];
        if (accumulate) v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c)), v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
        _mm256_storeu_ps(c, v0);
        _mm256_storeu_ps(c + 8, v1);
    }
}

static void micro_kernel(int64_t kc, const float *a, const float *b, float *c, int mr, int64_t n, int accumulate)
{
    for (int64_t j = 0; j < n; j += 16) micro_16(kc, a, b + j, c + j, mr, accumulate);
}
#else
static void micro_kernel(int64_t kc, const float *a, const float *b, float *c, int mr, int64_t n, int accumulate)
{
    float acc[MR][TB];
    for (int i = 0; i < mr; i++)
        for (int64_t j = 0; j < n; j++) acc[i][j] = accumulate ? c[i * TB + j] : 0.0f;
    for (int64_t k = 0; k < kc; k++, b += TB, a += MR)
        for (int i = 0; i < mr; i++) {
            const float x = a[i];
            for (int64_t j = 0; j < n; j++) acc[i][j] += x * b[j];
        }
    for (int i = 0; i < mr; i++)
        for (int64_t j = 0; j < n; j++) c[i * TB + j] = acc[i][j];
}
#endif

/* M[f][Cout][0..nq) = U[f] · V[f] for the 16 points. */
static void block_gemms(float *m, const float *u, const float *v, int64_t nq, const vtag_conv2d_dims *d)
{
    const int64_t cout = d->c_out, cin = d->c_in, mtiles = (cout + MR - 1) / MR;
    for (int f = 0; f < 16; f++) {
        const float *uf = u + f * u_plane(d), *vf = v + f * v_plane(d);
        float *mf = m + f * m_plane(d);
        for (int64_t k0 = 0; k0 < cin; k0 += KB) {
            const int64_t kc = cin - k0 < KB ? cin - k0 : KB;
            for (int64_t t = 0; t < mtiles; t++) {
                const int mr = cout - t * MR < MR ? (int)(cout - t * MR) : MR;
                micro_kernel(kc, uf + (t * cin + k0) * MR, vf + k0 * TB, mf + t * MR * TB, mr, nq, k0 > 0);
            }
        }
    }
}

/* out = act(bias + Aᵀ M A) for the tiles of the runs, Aᵀ = [1 1 1 0; 0 1 −1 −1]; orow: 2 rows of 2·TB. */
static void output_transform(float *out, float *orow, const float *m, const run *runs, int64_t nruns,
                             const float *bias, vtag_act act, const vtag_conv2d_dims *d)
{
    const int64_t cout = d->c_out, ho_n = d->h_out, wo_n = d->w_out, p = ho_n * wo_n, fs = m_plane(d);
    float *y0 = orow, *y1 = orow + 2 * TB;
    for (int64_t o = 0; o < cout; o++) {
        const float bo = bias ? bias[o] : 0.0f;
        for (int64_t i = 0; i < nruns; i++) {
            const run *r = &runs[i];
            const float *mo = m + o * TB + r->lane; /* point f at mo + f·fs */
#pragma omp simd
            for (int64_t t = 0; t < r->len; t++) {
                float s[2][4]; /* Aᵀ M */
                for (int j = 0; j < 4; j++) {
                    const float m0 = mo[j * fs + t], m1 = mo[(4 + j) * fs + t], m2 = mo[(8 + j) * fs + t],
                                m3 = mo[(12 + j) * fs + t];
                    s[0][j] = m0 + m1 + m2;
                    s[1][j] = m1 - m2 - m3;
                }
                y0[2 * t] = s[0][0] + s[0][1] + s[0][2];
                y0[2 * t + 1] = s[0][1] - s[0][2] - s[0][3];
                y1[2 * t] = s[1][0] + s[1][1] + s[1][2];
                y1[2 * t + 1] = s[1][1] - s[1][2] - s[1][3];
            }
            const int64_t oh = 2 * r->th, ow = 2 * r->tw0;
            const int64_t cols = 2 * r->len < wo_n - ow ? 2 * r->len : wo_n - ow;
            float *dst = out + (r->img * cout + o) * p + oh * wo_n + ow;
            VTAG_ISA_FN(cnn_bias_act_row)(dst, y0, cols, bo, act);
            if (oh + 1 < ho_n) VTAG_ISA_FN(cnn_bias_act_row)(dst + wo_n, y1, cols, bo, act);
        }
    }
}

void VTAG_ISA_FN(cnn_winograd_forward)(int threads, float *out, const float *in, const float *w, const float *bias,
                          vtag_act act, const vtag_conv2d_dims *d, float *ws)
{
    const int64_t nt = d->n * tiles_h(d) * tiles_w(d), nblocks = (nt + TB - 1) / TB;
    float *u = ws, *scratch = ws + u_floats(d);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float *v = scratch + tid * thread_floats(d), *m = v + 16 * v_plane(d);
        float *buf = m + 16 * m_plane(d), *orow = buf + 4 * (2 * TB + 2) + 8 * (TB + 1);
        weight_transform(u, w, d); /* an omp for: ends in a barrier */
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const int64_t q0 = blk * TB, q1 = q0 + TB < nt ? q0 + TB : nt, nq = q1 - q0;
            run runs[TB];
            const int64_t nruns = block_runs(runs, q0, q1, d);
            if (nq < TB) /* lanes past the block's end: computed by the kernel, never stored */
                for (int64_t f = 0; f < 16; f++)
                    for (int64_t c = 0; c < d->c_in; c++)
                        memset(v + f * v_plane(d) + c * TB + nq, 0, (size_t)(TB - nq) * sizeof *v);
            input_transform(v, buf, runs, nruns, in, d);
            block_gemms(m, u, v, nq, d);
            output_transform(out, orow, m, runs, nruns, bias, act, d);
        }
    }
}

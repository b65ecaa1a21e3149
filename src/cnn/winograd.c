/* Winograd forward for 3×3, stride-1, undilated, ungrouped convs (Lavin & Gray 2015): each m×m
 * output tile is Aᵀ [Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)] A over the (m+2)×(m+2) input tile d, one GEMM
 * M[f][Cout, tiles] = U[f][Cout, Cin] · V[f][Cin, tiles] per point f of the transform. F(4×4, 3×3)
 * (36 points for 16 outputs: 2.25 multiply-adds per output, Cin and Cout, against the direct
 * conv's 9 and F(2×2, 3×3)'s 4) runs planes of at least WINO_F4_MIN_W columns; F(2×2, 3×3)
 * (16 points for 4 outputs) the narrower ones, where F(4×4)'s tiles overhang the plane more.
 *
 * Per call: the weights are transformed into U (in the workspace), then each thread takes blocks
 * of up to TB tiles (across images; as many blocks as a whole number of rounds of the threads):
 * input transform into V (padding is zero-filled there), the GEMMs into M on a register-blocked
 * kernel, and the output transform with bias and activation straight into NCHW while M is still
 * in cache. Compiled once per kernel path (core/isa.h): the GEMM kernel is 6×64 on AVX-512, 6×16
 * on AVX2 + FMA, portable C on the generic path; the transforms are the same C on every path.
 * A tile's result does not depend on the block it falls in, so neither does it on the threads.
 *
 * Accuracy: F(2×2)'s transforms only add and halve, its error a few ulps of the output scale
 * (≤ 3e-6 relative on the tests' shapes). F(4×4)'s use the points 0, ±1, ±2 (entries up to 8 and
 * 1/24), which costs about ten times that — measured ≤ 3e-5 on tests/cnn/test_winograd.c's
 * shapes with inputs and weights uniform in [−1, 1], and within the backbone parity tests' 1e-4. */
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

/* Output planes at least this wide run F(4×4, 3×3); narrower ones F(2×2, 3×3). Measured (bench_cnn,
 * batch 8, one thread, CPU time, AVX2): resnet18's 56×56 and 28×28 3×3s 1.35× faster on F(4×4),
 * its 14×14s 8% slower (4×4 tiles overhang the plane by 31%), the 7×7s level. */
#ifndef WINO_F4_MIN_W
#define WINO_F4_MIN_W 16
#endif

/* The output tile's side m (4 or 2) and the transform's points (m + 2)². */
static int tile_m(const vtag_conv2d_dims *d) { return d->w_out >= WINO_F4_MIN_W ? 4 : 2; }
static int npoints(const vtag_conv2d_dims *d) { return (tile_m(d) + 2) * (tile_m(d) + 2); }
static int64_t tiles_h(const vtag_conv2d_dims *d) { return (d->h_out + tile_m(d) - 1) / tile_m(d); }
static int64_t tiles_w(const vtag_conv2d_dims *d) { return (d->w_out + tile_m(d) - 1) / tile_m(d); }

/* The 16 planes of U, V and M lie one cache line further apart than their size: with plane sizes
 * that are multiples of 4 KB, the 16 streams of a transform all mapped to the same L1 sets
 * (measured 2x slower transforms). */
#define PLANE_PAD 16
static int64_t u_plane(const vtag_conv2d_dims *d) { return (d->c_out + MR - 1) / MR * MR * d->c_in + PLANE_PAD; }
static int64_t v_plane(const vtag_conv2d_dims *d) { return d->c_in * TB + PLANE_PAD; }
static int64_t m_plane(const vtag_conv2d_dims *d) { return d->c_out * TB + PLANE_PAD; }

/* One row of F(4×4)'s input transform buffers: 4 columns per tile and the 8-tile vectors' reach. */
#define W4_ROW (4 * TB + 16)

/* The transforms' row buffers. F(2×2): four padded input rows (2·TB + 2) and their transform's
 * even and odd columns (8 of TB + 1); F(4×4): six padded input rows and their transform's
 * (12 of W4_ROW). */
static int64_t in_buf_floats(const vtag_conv2d_dims *d)
{
    return tile_m(d) == 2 ? 4 * (2 * TB + 2) + 8 * (TB + 1) : 12 * W4_ROW;
}

/* One thread's scratch: V [np][Cin][TB], M [np][Cout][TB], the input transform's rows, and the
 * output rows (F(2×2): two of 2·TB; F(4×4): four of 4·TB and the transform's 24 + 16 rows of TB). */
static int64_t thread_floats(const vtag_conv2d_dims *d)
{
    const int64_t out_rows = tile_m(d) == 2 ? 2 * (2 * TB) : 4 * (4 * TB) + 40 * TB;
    return npoints(d) * (v_plane(d) + m_plane(d)) + in_buf_floats(d) + out_rows;
}

/* The transformed weights, packed (weight_transform). */
static int64_t u_floats(const vtag_conv2d_dims *d) { return npoints(d) * u_plane(d); }

int64_t VTAG_ISA_FN(cnn_winograd_workspace)(const vtag_conv2d_dims *d, int threads)
{
    return u_floats(d) + (int64_t)(threads > 0 ? threads : 1) * thread_floats(d);
}

/* y = G x for one column x of a 3×3 kernel, F(4×4)'s G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙;
 * 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1]. */
static void g4(float y[6], float x0, float x1, float x2)
{
    const float s02 = 0.25f * x0 + x2, h1 = 0.5f * x1; /* y[3] = (¼x0 + ½x1 + x2) / 6 */
    y[0] = 0.25f * x0;
    y[1] = (x0 + x1 + x2) * (-1.0f / 6.0f);
    y[2] = (x0 - x1 + x2) * (-1.0f / 6.0f);
    y[3] = (s02 + h1) * (1.0f / 6.0f);
    y[4] = (s02 - h1) * (1.0f / 6.0f);
    y[5] = x2;
}

/* U[f][kb][t][c][i] = (G g Gᵀ)[f / a][f % a] for the 3×3 kernel g = w[t·MR + i, kb·KB + c] (zero
 * past Cout), a = m + 2; F(2×2)'s G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], F(4×4)'s that of g4: packed
 * in the micro-kernel's order (MR output channels side by side per input channel, the KB-deep
 * slices of one pass over the panel one after another), so that a pass's weight loads are one
 * contiguous stream. */
static void weight_transform(float *u, const float *w, const vtag_conv2d_dims *d)
{
    const int64_t cout = d->c_out, cin = d->c_in, mtiles = (cout + MR - 1) / MR, fs = u_plane(d);
    const int np = npoints(d), f4 = tile_m(d) == 4;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
    for (int64_t tc = 0; tc < mtiles * cin; tc++) {
        const int64_t t = tc / cin, c = tc % cin;
        const int64_t k0 = c / KB * KB, kc = cin - k0 < KB ? cin - k0 : KB;
        float *ut = u + k0 * mtiles * MR + (t * kc + c - k0) * MR; /* point f at ut + f·fs */
        for (int64_t i = 0; i < MR; i++) {
            const int64_t o = t * MR + i;
            if (o >= cout) {
                for (int f = 0; f < np; f++) ut[f * fs + i] = 0.0f;
                continue;
            }
            const float *g = w + (o * cin + c) * 9;
            if (f4) {
                float r[3][6], y[6]; /* r[j] = G · column j of g; row k of G g Gᵀ = G · (row k of G g) */
                for (int j = 0; j < 3; j++) g4(r[j], g[j], g[3 + j], g[6 + j]);
                for (int k = 0; k < 6; k++) {
                    g4(y, r[0][k], r[1][k], r[2][k]);
                    for (int l = 0; l < 6; l++) ut[(k * 6 + l) * fs + i] = y[l];
                }
                continue;
            }
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
static __attribute__((noinline)) void input_transform(float *v, float *buf, const run *runs, int64_t nruns, const float *in,
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

/* F(4×4): V[f][c][lane + t] = (Bᵀ d B)[f / 6][f % 6] for the tiles of the runs, every input
 * channel; Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0;
 * 0 4 0 −5 0 1]. Bᵀ d is taken over the six padded input rows first (contiguous: it vectorises);
 * tile t then reads columns 4t … 4t + 5 of each of its rows, which the AVX paths gather for eight
 * tiles at once by deinterleaving 32 columns (phases 0–3) and the 32 after the next four (phases
 * 0–1 of tile t + 1). buf: 6 padded input rows, then the 6 rows of Bᵀ d, W4_ROW floats each. */
#define BT6(y0, y1, y2, y3, y4, y5, a0, a1, a2, a3, a4, a5) \
    (y0 = 4.0f * (a0) - 5.0f * (a2) + (a4), y1 = (a3) + (a4) - 4.0f * ((a1) + (a2)), \
     y2 = (a4) - (a3) + 4.0f * ((a1) - (a2)), y3 = (a4) - (a2) + 2.0f * ((a3) - (a1)), \
     y4 = (a4) - (a2) - 2.0f * ((a3) - (a1)), y5 = 4.0f * (a1) - 5.0f * (a3) + (a5))

#if defined(__AVX2__)
/* p[k][j] = x[4j + k], j < 8, for the 32 floats at x. */
static inline __attribute__((always_inline)) void deinterleave4(__m256 p[4], const float *x)
{
    const __m256 a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8), c = _mm256_loadu_ps(x + 16),
                 d = _mm256_loadu_ps(x + 24);
    const __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
    const __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
    /* [x0 x8 x16 x24 | x4 x12 x20 x28] and so on: tiles in the order 0 2 4 6 1 3 5 7 */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    p[0] = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0x44), order);
    p[1] = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t0, t2, 0xee), order);
    p[2] = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0x44), order);
    p[3] = _mm256_permutevar8x32_ps(_mm256_shuffle_ps(t1, t3, 0xee), order);
}
#endif

static __attribute__((noinline)) void input_transform4(float *v, float *buf, const run *runs, int64_t nruns,
                                                       const float *in, const vtag_conv2d_dims *d)
{
    const int64_t cin = d->c_in, hw = d->h * d->w, fs = v_plane(d);
    float *rows = buf, *tr = buf + 6 * W4_ROW;
    for (int64_t c = 0; c < cin; c++) {
        for (int64_t i = 0; i < nruns; i++) {
            const run *r = &runs[i];
            const float *chan = in + (r->img * cin + c) * hw;
            const int64_t len = r->len, len8 = (len + 7) / 8 * 8;
            /* input columns [x0, x0 + nx); the rows are zero up to the 8-tile vectors' reach */
            const int64_t x0 = 4 * r->tw0 - d->pad_left, nx = 4 * len + 2, nz = 4 * len8 + 4;
            const int64_t a = x0 < 0 ? -x0 : 0, b = x0 + nx > d->w ? d->w - x0 : nx;
            for (int64_t k = 0; k < 6; k++) {
                float *row = rows + k * W4_ROW;
                const int64_t ih = 4 * r->th - d->pad_top + k;
                if (ih < 0 || ih >= d->h || b <= a) {
                    memset(row, 0, (size_t)nz * sizeof *row);
                    continue;
                }
                for (int64_t x = 0; x < a; x++) row[x] = 0.0f;
                memcpy(row + a, chan + ih * d->w + x0 + a, (size_t)(b - a) * sizeof *row);
                for (int64_t x = b; x < nz; x++) row[x] = 0.0f;
            }
            {
                const float *a0 = rows, *a1 = a0 + W4_ROW, *a2 = a1 + W4_ROW, *a3 = a2 + W4_ROW,
                            *a4 = a3 + W4_ROW, *a5 = a4 + W4_ROW;
                float *t0 = tr, *t1 = t0 + W4_ROW, *t2 = t1 + W4_ROW, *t3 = t2 + W4_ROW, *t4 = t3 + W4_ROW,
                      *t5 = t4 + W4_ROW;
#pragma omp simd
                for (int64_t x = 0; x < nz; x++)
                    BT6(t0[x], t1[x], t2[x], t3[x], t4[x], t5[x], a0[x], a1[x], a2[x], a3[x], a4[x], a5[x]);
            }
            float *vc = v + c * TB + r->lane; /* point f at vc + f·fs */
            for (int l = 0; l < 6; l++) {
                const float *e = tr + l * W4_ROW;
                float *v0 = vc + 6 * l * fs, *v1 = v0 + fs, *v2 = v1 + fs, *v3 = v2 + fs, *v4 = v3 + fs,
                      *v5 = v4 + fs;
#if defined(__AVX2__)
                /* eight tiles at a time; lanes past the run's end are transforms of zeros, and land
                 * in lanes a later run (or channel) overwrites, in the block's unused lanes, or in
                 * the plane's padding */
                const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
                for (int64_t t = 0; t < len; t += 8) {
                    __m256 p[4], q[4];
                    deinterleave4(p, e + 4 * t);
                    deinterleave4(q, e + 4 * t + 4);
                    const __m256 x0v = p[0], x1v = p[1], x2v = p[2], x3v = p[3], x4v = q[0], x5v = q[1];
                    const __m256 s12 = _mm256_add_ps(x1v, x2v), d12 = _mm256_sub_ps(x1v, x2v);
                    const __m256 d31 = _mm256_sub_ps(x3v, x1v), d42 = _mm256_sub_ps(x4v, x2v);
                    _mm256_storeu_ps(v0 + t, _mm256_add_ps(_mm256_fmsub_ps(four, x0v, _mm256_mul_ps(five, x2v)), x4v));
                    _mm256_storeu_ps(v1 + t, _mm256_fnmadd_ps(four, s12, _mm256_add_ps(x3v, x4v)));
                    _mm256_storeu_ps(v2 + t, _mm256_fmadd_ps(four, d12, _mm256_sub_ps(x4v, x3v)));
                    _mm256_storeu_ps(v3 + t, _mm256_fmadd_ps(two, d31, d42));
                    _mm256_storeu_ps(v4 + t, _mm256_fnmadd_ps(two, d31, d42));
                    _mm256_storeu_ps(v5 + t, _mm256_add_ps(_mm256_fmsub_ps(four, x1v, _mm256_mul_ps(five, x3v)), x5v));
                }
#else
                for (int64_t t = 0; t < len; t++) {
                    const float *x = e + 4 * t;
                    BT6(v0[t], v1[t], v2[t], v3[t], v4[t], v5[t], x[0], x[1], x[2], x[3], x[4], x[5]);
                }
#endif
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

/* M[f][Cout][0..nq) = U[f] · V[f] for every point f. */
static __attribute__((noinline)) void block_gemms(float *m, const float *u, const float *v, int64_t nq, const vtag_conv2d_dims *d)
{
    const int64_t cout = d->c_out, cin = d->c_in, mtiles = (cout + MR - 1) / MR;
    for (int f = 0; f < npoints(d); f++) {
        const float *uf = u + f * u_plane(d), *vf = v + f * v_plane(d);
        float *mf = m + f * m_plane(d);
        for (int64_t k0 = 0; k0 < cin; k0 += KB) {
            const int64_t kc = cin - k0 < KB ? cin - k0 : KB;
            for (int64_t t = 0; t < mtiles; t++) {
                const int mr = cout - t * MR < MR ? (int)(cout - t * MR) : MR;
                micro_kernel(kc, uf + (k0 * mtiles + t * kc) * MR, vf + k0 * TB, mf + t * MR * TB, mr, nq, k0 > 0);
            }
        }
    }
}

/* out = act(bias + Aᵀ M A) for the tiles of the runs, Aᵀ = [1 1 1 0; 0 1 −1 −1]; orow: 2 rows of 2·TB. */
static __attribute__((noinline)) void output_transform(float *out, float *orow, const float *m, const run *runs, int64_t nruns,
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

/* F(4×4): out = act(bias + Aᵀ M A) for the tiles of the runs, Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0;
 * 0 1 1 4 4 0; 0 1 −1 8 −8 1], in three passes over contiguous tiles that vectorise: Aᵀ M into
 * s[q][j] (24 rows of TB), its rows times A into y[q][k] (row q, column k of each tile: 16 of
 * TB), then each output row interleaved from its four y[q][k] and given bias and activation.
 * orow: four output rows of 4·TB, then s and y. */
#define AT6(y0, y1, y2, y3, a0, a1, a2, a3, a4, a5) \
    (y0 = (a0) + ((a1) + (a2)) + ((a3) + (a4)), y1 = ((a1) - (a2)) + 2.0f * ((a3) - (a4)), \
     y2 = ((a1) + (a2)) + 4.0f * ((a3) + (a4)), y3 = ((a1) - (a2)) + 8.0f * ((a3) - (a4)) + (a5))

static __attribute__((noinline)) void output_transform4(float *out, float *orow, const float *m, const run *runs,
                                                        int64_t nruns, const float *bias, vtag_act act,
                                                        const vtag_conv2d_dims *d)
{
    const int64_t cout = d->c_out, ho_n = d->h_out, wo_n = d->w_out, p = ho_n * wo_n, fs = m_plane(d);
    float *sb = orow + 16 * TB, *yb = sb + 24 * TB; /* s[q][j] at sb + (6q + j)·TB, y[q][k] at yb + (4q + k)·TB */
    for (int64_t o = 0; o < cout; o++) {
        const float bo = bias ? bias[o] : 0.0f;
        for (int64_t i = 0; i < nruns; i++) {
            const run *r = &runs[i];
            const int64_t len = r->len;
            const float *mo = m + o * TB + r->lane; /* point f at mo + f·fs */
            for (int j = 0; j < 6; j++) {
                const float *m0 = mo + j * fs, *m1 = m0 + 6 * fs, *m2 = m1 + 6 * fs, *m3 = m2 + 6 * fs,
                            *m4 = m3 + 6 * fs, *m5 = m4 + 6 * fs;
                float *s0 = sb + j * TB, *s1 = s0 + 6 * TB, *s2 = s1 + 6 * TB, *s3 = s2 + 6 * TB;
#pragma omp simd
                for (int64_t t = 0; t < len; t++) AT6(s0[t], s1[t], s2[t], s3[t], m0[t], m1[t], m2[t], m3[t], m4[t], m5[t]);
            }
            for (int q = 0; q < 4; q++) {
                const float *s0 = sb + 6 * q * TB, *s1 = s0 + TB, *s2 = s1 + TB, *s3 = s2 + TB, *s4 = s3 + TB,
                            *s5 = s4 + TB;
                float *y0 = yb + 4 * q * TB, *y1 = y0 + TB, *y2 = y1 + TB, *y3 = y2 + TB;
#pragma omp simd
                for (int64_t t = 0; t < len; t++) AT6(y0[t], y1[t], y2[t], y3[t], s0[t], s1[t], s2[t], s3[t], s4[t], s5[t]);
            }
            const int64_t oh = 4 * r->th, ow = 4 * r->tw0;
            const int64_t cols = 4 * len < wo_n - ow ? 4 * len : wo_n - ow;
            float *dst = out + (r->img * cout + o) * p + oh * wo_n + ow;
            for (int64_t q = 0; q < 4 && oh + q < ho_n; q++) {
                float *row = orow + q * 4 * TB;
                const float *y0 = yb + 4 * q * TB, *y1 = y0 + TB, *y2 = y1 + TB, *y3 = y2 + TB;
                int64_t t = 0;
#if defined(__AVX2__)
                for (; t + 8 <= len; t += 8) { /* [y0 y1 y2 y3] of tiles t … t + 7, one after another */
                    const __m256 a = _mm256_loadu_ps(y0 + t), b = _mm256_loadu_ps(y1 + t), c = _mm256_loadu_ps(y2 + t),
                                 e = _mm256_loadu_ps(y3 + t);
                    const __m256 u0 = _mm256_unpacklo_ps(a, b), u1 = _mm256_unpackhi_ps(a, b);
                    const __m256 u2 = _mm256_unpacklo_ps(c, e), u3 = _mm256_unpackhi_ps(c, e);
                    const __m256 w0 = _mm256_shuffle_ps(u0, u2, 0x44), w1 = _mm256_shuffle_ps(u0, u2, 0xee);
                    const __m256 w2 = _mm256_shuffle_ps(u1, u3, 0x44), w3 = _mm256_shuffle_ps(u1, u3, 0xee);
                    _mm256_storeu_ps(row + 4 * t, _mm256_permute2f128_ps(w0, w1, 0x20));
                    _mm256_storeu_ps(row + 4 * t + 8, _mm256_permute2f128_ps(w2, w3, 0x20));
                    _mm256_storeu_ps(row + 4 * t + 16, _mm256_permute2f128_ps(w0, w1, 0x31));
                    _mm256_storeu_ps(row + 4 * t + 24, _mm256_permute2f128_ps(w2, w3, 0x31));
                }
#endif
                for (; t < len; t++)
                    row[4 * t] = y0[t], row[4 * t + 1] = y1[t], row[4 * t + 2] = y2[t], row[4 * t + 3] = y3[t];
                VTAG_ISA_FN(cnn_bias_act_row)(dst + q * wo_n, row, cols, bo, act);
            }
        }
    }
}

void VTAG_ISA_FN(cnn_winograd_forward)(int threads, float *out, const float *in, const float *w, const float *bias,
                          vtag_act act, const vtag_conv2d_dims *d, float *ws)
{
    const int64_t nt = d->n * tiles_h(d) * tiles_w(d);
    const int np = npoints(d), f4 = tile_m(d) == 4;
    /* Blocks of at most TB tiles, as many as a whole number of rounds of the threads (a late
     * layer's few tiles still split across them), each a whole number of vectors wide. */
    const int nth = threads > 0 ? threads : 1;
    int64_t nblocks = (nt + TB - 1) / TB;
    nblocks = (nblocks + nth - 1) / nth * nth;
    int64_t tb = (nt + nblocks - 1) / nblocks;
    tb = (tb + 15) / 16 * 16;
    if (tb > TB) tb = TB;
    nblocks = (nt + tb - 1) / tb;
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
        float *v = scratch + tid * thread_floats(d), *m = v + np * v_plane(d);
        float *buf = m + np * m_plane(d), *orow = buf + in_buf_floats(d);
        weight_transform(u, w, d); /* an omp for: ends in a barrier */
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const int64_t q0 = blk * tb, q1 = q0 + tb < nt ? q0 + tb : nt, nq = q1 - q0;
            /* lanes past the block's end up to a whole vector: computed by the kernel, never stored */
            const int64_t nz = ((nq + 15) / 16 * 16 < TB ? (nq + 15) / 16 * 16 : TB) - nq;
            run runs[TB];
            const int64_t nruns = block_runs(runs, q0, q1, d);
            if (nz > 0)
                for (int64_t f = 0; f < np; f++)
                    for (int64_t c = 0; c < d->c_in; c++)
                        memset(v + f * v_plane(d) + c * TB + nq, 0, (size_t)nz * sizeof *v);
            if (f4)
                input_transform4(v, buf, runs, nruns, in, d);
            else
                input_transform(v, buf, runs, nruns, in, d);
            block_gemms(m, u, v, nq, d);
            if (f4)
                output_transform4(out, orow, m, runs, nruns, bias, act, d);
            else
                output_transform(out, orow, m, runs, nruns, bias, act, d);
        }
    }
}

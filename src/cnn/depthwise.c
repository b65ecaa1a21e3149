/* Depthwise conv forward (groups == c_in == c_out, MobileNet's 3×3s): a direct kernel, one
 * (image, channel) plane per iteration. The plane is copied, padded, into stride² polyphase planes
 * Q[pr][pc][r][j] = in[r·sh + pr − pad_top][j·sw + pc − pad_left] (0 outside), each Wq wide; tap
 * (kh, kw) then reads Q at a constant offset from the output index, so that over a "wide" output
 * of h_out rows of Wq columns (the last Wq − w_out of each row are discarded) every tap is one
 * contiguous axpy the compiler vectorises — no bounds tests, no strided loads, 7×7 planes too.
 * Compiled once per kernel path (core/isa.h): the loops vectorise to each path's width, and the
 * stride-2 deinterleave has AVX-512 and AVX2 versions. */
#include <omp.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#include <string.h>

#include "cnn/cnn_internal.h"

/* Elements of the wide output handled per pass (stays in L1 across the taps). */
#define DW_CHUNK 1024
#define DW_MAX_TAPS 64

typedef struct dw_geom {
    int64_t hq, wq;  /* rows and columns of one phase plane */
    int64_t phases;  /* stride_h · stride_w */
    int64_t len;     /* wide output elements: (h_out − 1)·wq + w_out */
} dw_geom;

static dw_geom dw_geometry(const vtag_conv2d_dims *d)
{
    dw_geom g;
    int64_t hp = d->h + d->pad_top + d->pad_bottom, wp = d->w + d->pad_left + d->pad_right;
    g.hq = (hp + d->stride_h - 1) / d->stride_h;
    g.wq = (wp + d->stride_w - 1) / d->stride_w;
    g.phases = d->stride_h * d->stride_w;
    g.len = (d->h_out - 1) * g.wq + d->w_out;
    return g;
}

int64_t VTAG_ISA_FN(cnn_depthwise_workspace)(const vtag_conv2d_dims *d, int threads)
{
    dw_geom g = dw_geometry(d);
    /* per thread: the phase planes and the wide output */
    return (int64_t)(threads > 0 ? threads : 1) * (g.phases * g.hq * g.wq + d->h_out * g.wq);
}

/* Writes the input pixels of one plane into its phase planes. The padding positions are never
 * written: they were zeroed once, when the thread's planes were set up, and stay zero. */
static void dw_phases(float *q, const float *plane, const vtag_conv2d_dims *d, const dw_geom *g)
{
    const int64_t sh = d->stride_h, sw = d->stride_w, psize = g->hq * g->wq;
    for (int64_t ih = 0; ih < d->h; ih++) {
        const int64_t y = ih + d->pad_top;
        const float *src = plane + ih * d->w;
        float *row = q + (y % sh) * sw * psize + y / sh * g->wq; /* phase (y mod sh, 0), row y / sh */
        if (sw == 1) {
            memcpy(row + d->pad_left, src, (size_t)d->w * sizeof *src);
        } else if (sw == 2) {
            /* x = iw + pad_left: even x to phase 0, odd x to phase 1, column x / 2 */
            float *ph[2] = {row, row + psize};
            int64_t iw = 0;
            if (d->pad_left & 1) {
                ph[1][d->pad_left >> 1] = src[0];
                iw = 1;
            }
            /* from here x is even: pairs (x, x + 1) go to column x / 2 of phases 0 and 1 */
            float *e = ph[0] + ((iw + d->pad_left) >> 1), *o = ph[1] + ((iw + d->pad_left) >> 1);
            int64_t pairs = (d->w - iw) / 2, j = 0;
#if defined(__AVX512F__)
            const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
            const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
            for (; j + 16 <= pairs; j += 16) {
                __m512 a = _mm512_loadu_ps(src + iw + 2 * j), b = _mm512_loadu_ps(src + iw + 2 * j + 16);
                _mm512_storeu_ps(e + j, _mm512_permutex2var_ps(a, ev, b));
                _mm512_storeu_ps(o + j, _mm512_permutex2var_ps(a, od, b));
            }
#elif defined(__AVX2__)
            /* shuffle gives (a0 a2 b0 b2 | a4 a6 b4 b6), the 64-bit permute puts the halves in order */
            for (; j + 8 <= pairs; j += 8) {
                __m256 a = _mm256_loadu_ps(src + iw + 2 * j), b = _mm256_loadu_ps(src + iw + 2 * j + 8);
                __m256d ev = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
                __m256d od = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
                _mm256_storeu_ps(e + j, _mm256_castpd_ps(_mm256_permute4x64_pd(ev, _MM_SHUFFLE(3, 1, 2, 0))));
                _mm256_storeu_ps(o + j, _mm256_castpd_ps(_mm256_permute4x64_pd(od, _MM_SHUFFLE(3, 1, 2, 0))));
            }
#endif
            for (; j < pairs; j++) {
                e[j] = src[iw + 2 * j];
                o[j] = src[iw + 2 * j + 1];
            }
            if (iw + 2 * pairs < d->w) e[pairs] = src[d->w - 1];
        } else {
            for (int64_t iw = 0; iw < d->w; iw++) {
                int64_t x = iw + d->pad_left;
                row[(x % sw) * psize + x / sw] = src[iw];
            }
        }
    }
}

/* acc[i] = bias + Σ_t w[t] · src[t][i], i < n. */
static void dw_taps(float *acc, const float *const *src, const float *w, float bias, int64_t taps, int64_t n)
{
    if (taps == 9) {
        const float *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3], *s4 = src[4], *s5 = src[5],
                    *s6 = src[6], *s7 = src[7], *s8 = src[8];
        const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],
                    w8 = w[8];
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            acc[i] = bias + w0 * s0[i] + w1 * s1[i] + w2 * s2[i] + w3 * s3[i] + w4 * s4[i] + w5 * s5[i] + w6 * s6[i] +
                     w7 * s7[i] + w8 * s8[i];
        return;
    }
    for (int64_t i = 0; i < n; i++) acc[i] = bias + w[0] * src[0][i];
    for (int64_t t = 1; t < taps; t++) {
        const float *s = src[t];
        const float wt = w[t];
#pragma omp simd
        for (int64_t i = 0; i < n; i++) acc[i] += wt * s[i];
    }
}

/* The generic direct loops, for kernels with more taps than DW_MAX_TAPS. */
static void dw_plane_generic(float *o, const float *plane, const float *wc, float bias, const vtag_conv2d_dims *d,
                             vtag_act act)
{
    for (int64_t ho = 0; ho < d->h_out; ho++) {
        float *orow = o + ho * d->w_out;
        for (int64_t wo = 0; wo < d->w_out; wo++) {
            float s = bias;
            for (int64_t kh = 0; kh < d->kh; kh++) {
                int64_t ih = ho * d->stride_h + kh * d->dil_h - d->pad_top;
                if (ih < 0 || ih >= d->h) continue;
                for (int64_t kw = 0; kw < d->kw; kw++) {
                    int64_t iw = wo * d->stride_w + kw * d->dil_w - d->pad_left;
                    if (iw >= 0 && iw < d->w) s += wc[kh * d->kw + kw] * plane[ih * d->w + iw];
                }
            }
            orow[wo] = s;
        }
        VTAG_ISA_FN(cnn_bias_act_row)(orow, orow, d->w_out, 0.0f, act);
    }
}

void VTAG_ISA_FN(cnn_depthwise_forward)(int threads, float *out, const float *in, const float *w, const float *b,
                           const vtag_conv2d_dims *d, vtag_act act, float *ws)
{
    const int64_t c = d->c_in, hw = d->h * d->w, p = d->h_out * d->w_out, kk = d->kh * d->kw;
    const dw_geom g = dw_geometry(d);
    const int64_t per_thread = g.phases * g.hq * g.wq + d->h_out * g.wq;
    /* tap t reads phase plane (kh·dh mod sh, kw·dw mod sw) at offset (kh·dh / sh)·wq + kw·dw / sw */
    int64_t plane_of[DW_MAX_TAPS], offset_of[DW_MAX_TAPS];
    const int fast = kk <= DW_MAX_TAPS;
    for (int64_t t = 0; fast && t < kk; t++) {
        int64_t y = t / d->kw * d->dil_h, x = t % d->kw * d->dil_w;
        plane_of[t] = (y % d->stride_h) * d->stride_w + x % d->stride_w;
        offset_of[t] = y / d->stride_h * g.wq + x / d->stride_w;
    }
#pragma omp parallel num_threads(threads) if (d->n * c * p * kk > CNN_PAR_MIN)
    {
        float *q = ws + (int64_t)omp_get_thread_num() * per_thread; /* [phases, hq, wq] */
        float *wide = q + g.phases * g.hq * g.wq;                   /* [h_out, wq] */
        if (fast) memset(q, 0, (size_t)(g.phases * g.hq * g.wq) * sizeof *q);
#pragma omp for schedule(static)
        for (int64_t nc = 0; nc < d->n * c; nc++) {
            const int64_t ch = nc % c;
            const float *plane = in + nc * hw; /* [H, W] */
            const float *wc = w + ch * kk;     /* [KH, KW] */
            const float bias = b ? b[ch] : 0.0f;
            float *o = out + nc * p;           /* [Ho, Wo] */
            if (!fast) {
                dw_plane_generic(o, plane, wc, bias, d, act);
                continue;
            }
            dw_phases(q, plane, d, &g);
            const float *src[DW_MAX_TAPS];
            for (int64_t i0 = 0; i0 < g.len; i0 += DW_CHUNK) {
                int64_t n = g.len - i0 < DW_CHUNK ? g.len - i0 : DW_CHUNK;
                for (int64_t t = 0; t < kk; t++) src[t] = q + plane_of[t] * g.hq * g.wq + offset_of[t] + i0;
                dw_taps(wide + i0, src, wc, bias, kk, n);
            }
            /* one activation pass over the wide rows (short rows one by one cost more than the
             * discarded columns), then the valid columns out */
            VTAG_ISA_FN(cnn_bias_act_row)(wide, wide, g.len, 0.0f, act);
            for (int64_t ho = 0; ho < d->h_out; ho++) {
                const float *wr = wide + ho * g.wq;
                float *orow = o + ho * d->w_out;
                for (int64_t wo = 0; wo < d->w_out; wo++) orow[wo] = wr[wo];
            }
        }
    }
}

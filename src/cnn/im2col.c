/* im2col and its adjoint col2im for the GEMM convolutions: row r = (c, kh, kw)
 * of the column matrix holds, for every output position, the input pixel that
 * kernel tap meets (zero where it falls in the padding). */
#include <string.h>

#include "cnn/cnn_internal.h"

/* The output columns wo whose tap iw = wo·stride + off lies inside [0, w): [*lo, *hi). */
static void valid_range(int64_t off, int64_t stride, int64_t w, int64_t w_out, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = w - off <= 0 ? 0 : (w - off + stride - 1) / stride;
    if (a > w_out) a = w_out;
    if (b > w_out) b = w_out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* dst[ho·w_out + wo] = plane[ih, iw] of tap (kh, kw), or 0 in the padding. */
static void im2col_tap(float *dst, const float *plane, int64_t kh, int64_t kw, const vtag_conv2d_dims *d)
{
    const int64_t wo_n = d->w_out, sw = d->stride_w;
    const int64_t off_w = kw * d->dil_w - d->pad_left;
    int64_t lo, hi;
    valid_range(off_w, sw, d->w, wo_n, &lo, &hi);
    for (int64_t ho = 0; ho < d->h_out; ho++, dst += wo_n) {
        int64_t ih = ho * d->stride_h + kh * d->dil_h - d->pad_top;
        if (ih < 0 || ih >= d->h) {
            memset(dst, 0, (size_t)wo_n * sizeof *dst);
            continue;
        }
        const float *row = plane + ih * d->w;
        for (int64_t wo = 0; wo < lo; wo++) dst[wo] = 0.0f;
        if (sw == 1 && hi > lo) {
            memcpy(dst + lo, row + lo + off_w, (size_t)(hi - lo) * sizeof *dst);
        } else {
            for (int64_t wo = lo; wo < hi; wo++) dst[wo] = row[wo * sw + off_w];
        }
        for (int64_t wo = hi; wo < wo_n; wo++) dst[wo] = 0.0f;
    }
}

/* plane[ih, iw] += src[ho·w_out + wo] for every tap (kh, kw) position inside the input. */
static void col2im_tap(float *plane, const float *src, int64_t kh, int64_t kw, const vtag_conv2d_dims *d)
{
    const int64_t wo_n = d->w_out, sw = d->stride_w;
    const int64_t off_w = kw * d->dil_w - d->pad_left;
    int64_t lo, hi;
    valid_range(off_w, sw, d->w, wo_n, &lo, &hi);
    for (int64_t ho = 0; ho < d->h_out; ho++, src += wo_n) {
        int64_t ih = ho * d->stride_h + kh * d->dil_h - d->pad_top;
        if (ih < 0 || ih >= d->h) continue;
        float *row = plane + ih * d->w;
        if (hi == lo) continue;
        if (sw == 1) {
            float *dst = row + off_w + lo;
            for (int64_t wo = 0; wo < hi - lo; wo++) dst[wo] += src[lo + wo];
        } else {
            for (int64_t wo = lo; wo < hi; wo++) row[wo * sw + off_w] += src[wo];
        }
    }
}

void cnn_im2col(int threads, float *col, int64_t ld, const float *in, int64_t nb, int64_t c0,
                const vtag_conv2d_dims *d)
{
    const int64_t kk = d->kh * d->kw, k = d->c_in / d->groups * kk;
    const int64_t hw = d->h * d->w, p = d->h_out * d->w_out;
    const int64_t items = k * nb;
#pragma omp parallel for num_threads(threads) if (items * p > CNN_PAR_MIN) schedule(static)
    for (int64_t item = 0; item < items; item++) {
        int64_t r = item / nb, j = item % nb;
        int64_t c = r / kk, kh = r % kk / d->kw, kw = r % d->kw;
        im2col_tap(col + r * ld + j * p, in + (j * d->c_in + c0 + c) * hw, kh, kw, d);
    }
}

void cnn_col2im(int threads, float *din, int64_t nb, int64_t c0, const float *col, int64_t ld,
                const vtag_conv2d_dims *d)
{
    const int64_t kk = d->kh * d->kw, cin_g = d->c_in / d->groups;
    const int64_t hw = d->h * d->w, p = d->h_out * d->w_out, items = nb * cin_g;
    /* One (image, channel) plane per iteration: its taps all write to that plane alone. */
#pragma omp parallel for num_threads(threads) if (items * kk * p > CNN_PAR_MIN) schedule(static)
    for (int64_t item = 0; item < items; item++) {
        const int64_t j = item / cin_g, c = item % cin_g;
        float *plane = din + (j * d->c_in + c0 + c) * hw;
        const float *src = col + j * p;
        for (int64_t t = 0; t < kk; t++) col2im_tap(plane, src + (c * kk + t) * ld, t / d->kw, t % d->kw, d);
    }
}

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

/* Tap (kh, kw) of nb images: dst[j·P + ho·w_out + wo] = image j's plane[ih, iw] (the plane of
 * image j at in + j·in_step), or 0 in the padding. The output rows in the top and bottom padding
 * are one zero run each; the padding columns of the other rows are zeroed column by column after
 * their pixels are copied. When the valid rows lie in the input as they do in the output (stride 1
 * and the output as wide as the input: "same" padding), they are the input shifted by a constant,
 * copied in one run; the pixels it carries into the padding columns are then overwritten. */
static void im2col_tap(float *dst, const float *in, int64_t in_step, int64_t nb, int64_t kh, int64_t kw,
                       const vtag_conv2d_dims *d)
{
    const int64_t wo_n = d->w_out, p = d->h_out * wo_n, sw = d->stride_w, row_step = d->stride_h * d->w;
    const int64_t off_w = kw * d->dil_w - d->pad_left, off_h = kh * d->dil_h - d->pad_top;
    int64_t lo, hi, ho_lo, ho_hi;
    valid_range(off_w, sw, d->w, wo_n, &lo, &hi);
    valid_range(off_h, d->stride_h, d->h, d->h_out, &ho_lo, &ho_hi);
    if (hi == lo) ho_hi = ho_lo; /* every column in the padding: all rows are zero */
    const int64_t head = ho_lo * wo_n, tail = p - ho_hi * wo_n, rows = ho_hi - ho_lo, n = hi - lo;
    const int64_t src0 = (ho_lo * d->stride_h + off_h) * d->w + lo * sw + off_w; /* row ho_lo, column lo */
    const int contiguous = sw == 1 && row_step == wo_n;
    for (int64_t j = 0; j < nb; j++, dst += p, in += in_step) {
        if (head) memset(dst, 0, (size_t)head * sizeof *dst);
        if (tail) memset(dst + p - tail, 0, (size_t)tail * sizeof *dst);
        if (!rows) continue;
        float *out = dst + head;
        const float *src = in + src0;
        if (contiguous) {
            memcpy(out + lo, src, (size_t)((rows - 1) * wo_n + n) * sizeof *dst);
        } else if (sw == 1) {
            for (int64_t r = 0; r < rows; r++) memcpy(out + r * wo_n + lo, src + r * row_step, (size_t)n * sizeof *dst);
        } else if (sw == 2) {
            for (int64_t r = 0; r < rows; r++) {
                float *o = out + r * wo_n + lo;
                const float *s = src + r * row_step;
                for (int64_t i = 0; i < n; i++) o[i] = s[2 * i];
            }
        } else {
            for (int64_t r = 0; r < rows; r++) {
                float *o = out + r * wo_n + lo;
                const float *s = src + r * row_step;
                for (int64_t i = 0; i < n; i++) o[i] = s[i * sw];
            }
        }
        /* Column first (a strided store, not a call per row of one or two floats). */
        for (int64_t wo = 0; wo < lo; wo++)
            for (int64_t r = 0; r < rows; r++) out[r * wo_n + wo] = 0.0f;
        for (int64_t wo = hi; wo < wo_n; wo++)
            for (int64_t r = 0; r < rows; r++) out[r * wo_n + wo] = 0.0f;
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
    /* One row (c, kh, kw) per iteration, all nb images in it: the tap's bounds are found once. */
#pragma omp parallel for num_threads(threads) if (k * nb * p > CNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < k; r++) {
        const int64_t c = r / kk, t = r % kk;
        im2col_tap(col + r * ld, in + (c0 + c) * hw, d->c_in * hw, nb, t / d->kw, t % d->kw, d);
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

/* Max, average and global-average pooling over NCHW planes, PyTorch's rules: padded positions
 * never win a max, count_include_pad picks the average's divisor (windows clipped to the padded
 * input), ceil_mode drops a last window that would start in the right/bottom padding. */
#include <limits.h>
#include <math.h>

#include "cnn/cnn_internal.h"

/* PyTorch's pooling_output_shape_pad_lr, for a padded extent `padded` >= the kernel extent
 * `eff` (so that nothing here can overflow: stride − 1 is added to padded − eff, not to padded). */
static int64_t pool_out(int64_t in, int64_t pad_a, int64_t padded, int64_t eff, int64_t stride, int ceil_mode)
{
    const int64_t span = padded - eff;
    int64_t out = span / stride + 1;
    if (ceil_mode && span % stride) out++;
    if (ceil_mode && out - 1 > (in + pad_a - 1) / stride) out--; /* (out − 1)·stride >= in + pad_a */
    return out;
}

int vtag_pool2d_plan(vtag_pool2d_dims *d, vtag_error *err)
{
    if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1 || d->kh < 1 || d->kw < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: sizes must be positive (n %lld, c %lld, h %lld, w %lld, kernel %lldx%lld)",
                         (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w, (long long)d->kh,
                         (long long)d->kw);
    if (d->stride_h < 1 || d->stride_w < 1 || d->dil_h < 1 || d->dil_w < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: stride (%lld, %lld) and dilation (%lld, %lld) must be >= 1",
                         (long long)d->stride_h, (long long)d->stride_w, (long long)d->dil_h, (long long)d->dil_w);
    if (d->pad_top < 0 || d->pad_left < 0 || d->pad_bottom < 0 || d->pad_right < 0)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: negative padding (%lld, %lld, %lld, %lld)",
                         (long long)d->pad_top, (long long)d->pad_left, (long long)d->pad_bottom,
                         (long long)d->pad_right);
    /* Every size below is checked: attributes of a hostile ONNX file reach here unfiltered. */
    int64_t eff_h, eff_w, ph, pw;
    if (vtag_mul_i64(d->dil_h, d->kh - 1, &eff_h) || vtag_add_i64(eff_h, 1, &eff_h) ||
        vtag_mul_i64(d->dil_w, d->kw - 1, &eff_w) || vtag_add_i64(eff_w, 1, &eff_w))
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: kernel %lldx%lld with dilation (%lld, %lld) overflows int64",
                         (long long)d->kh, (long long)d->kw, (long long)d->dil_h, (long long)d->dil_w);
    if (d->pad_top >= eff_h || d->pad_bottom >= eff_h || d->pad_left >= eff_w || d->pad_right >= eff_w)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: padding (%lld, %lld, %lld, %lld) must be smaller than the kernel extent %lldx%lld",
                         (long long)d->pad_top, (long long)d->pad_left, (long long)d->pad_bottom,
                         (long long)d->pad_right, (long long)eff_h, (long long)eff_w);
    if (vtag_add_i64(d->h, d->pad_top, &ph) || vtag_add_i64(ph, d->pad_bottom, &ph) ||
        vtag_add_i64(d->w, d->pad_left, &pw) || vtag_add_i64(pw, d->pad_right, &pw))
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: input %lldx%lld with padding overflows int64", (long long)d->h,
                         (long long)d->w);
    if (ph < eff_h || pw < eff_w)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: kernel extent %lldx%lld exceeds the padded input", (long long)eff_h,
                         (long long)eff_w);
    int64_t hw, in_n, out_n;
    if (vtag_mul_i64(d->h, d->w, &hw) || hw > INT32_MAX)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: plane of %lldx%lld positions too large for int32 argmax",
                         (long long)d->h, (long long)d->w);
    d->h_out = pool_out(d->h, d->pad_top, ph, eff_h, d->stride_h, d->ceil_mode);
    d->w_out = pool_out(d->w, d->pad_left, pw, eff_w, d->stride_w, d->ceil_mode);
    if (d->h_out < 1 || d->w_out < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: empty output");
    if (vtag_mul_i64(d->n, d->c, &in_n) || vtag_mul_i64(in_n, hw, &in_n) || in_n > VTAG_CNN_MAX_ELEMENTS ||
        vtag_mul_i64(d->n * d->c, d->h_out, &out_n) || vtag_mul_i64(out_n, d->w_out, &out_n) ||
        out_n > VTAG_CNN_MAX_ELEMENTS)
        return vtag_fail(err, VTAG_ERR_ARG, "pool2d: too large (input [%lld, %lld, %lld, %lld], output %lldx%lld): "
                         "a tensor past %lld elements", (long long)d->n, (long long)d->c, (long long)d->h,
                         (long long)d->w, (long long)d->h_out, (long long)d->w_out, (long long)VTAG_CNN_MAX_ELEMENTS);
    return VTAG_OK;
}

/* NaN-propagating max, as PyTorch's kernel compares (v > m || isnan(v)). */
static inline float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }

#define FAST_MAX_WO 1024

/* hm[wo] = max_nan over kw < kw_n of r[wo·sw + kw], wo in [lo, hi), in the order kw = 0, 1, …: one
 * pass per tap over the outputs, with the stride a constant where it is 1 or 2, so that the loops
 * vectorise (one output at a time, the compares were mispredicted branches: resnet18's stem pool,
 * on ReLU outputs full of ties at zero, cost 13% of the network). */
static void row_max(float *hm, const float *r, int64_t lo, int64_t hi, int64_t sw, int64_t kw_n)
{
    if (sw == 1) {
        for (int64_t wo = lo; wo < hi; wo++) hm[wo] = r[wo];
        for (int64_t kw = 1; kw < kw_n; kw++)
            for (int64_t wo = lo; wo < hi; wo++) hm[wo] = max_nan(hm[wo], r[wo + kw]);
    } else if (sw == 2) {
        for (int64_t wo = lo; wo < hi; wo++) hm[wo] = r[2 * wo];
        for (int64_t kw = 1; kw < kw_n; kw++)
            for (int64_t wo = lo; wo < hi; wo++) hm[wo] = max_nan(hm[wo], r[2 * wo + kw]);
    } else {
        for (int64_t wo = lo; wo < hi; wo++) hm[wo] = r[wo * sw];
        for (int64_t kw = 1; kw < kw_n; kw++)
            for (int64_t wo = lo; wo < hi; wo++) hm[wo] = max_nan(hm[wo], r[wo * sw + kw]);
    }
}

/* Inference max pooling of one plane without argmax or dilation: the max over each window's
 * columns first (one pass per input row, bounds tested only at the borders), then over its rows:
 * KH + KW comparisons per output instead of KH·KW, and loops the compiler vectorises. */
static void maxpool_plane_fast(float *o, const float *x, const vtag_pool2d_dims *d)
{
    float hm[FAST_MAX_WO]; /* window-column maxima of one input row */
    const int64_t wo_n = d->w_out, sw = d->stride_w, kw_n = d->kw;
    /* outputs whose whole window row lies inside the input: [lo, hi) */
    int64_t lo = d->pad_left > 0 ? (d->pad_left + sw - 1) / sw : 0;
    int64_t hi = d->w - kw_n + d->pad_left < 0 ? 0 : (d->w - kw_n + d->pad_left) / sw + 1;
    if (lo > wo_n) lo = wo_n;
    if (hi > wo_n) hi = wo_n;
    if (hi < lo) hi = lo;
    for (int64_t ho = 0; ho < d->h_out; ho++) {
        float *orow = o + ho * wo_n;
        int first = 1;
        for (int64_t kh = 0; kh < d->kh; kh++) {
            const int64_t ih = ho * d->stride_h - d->pad_top + kh;
            if (ih < 0 || ih >= d->h) continue;
            const float *row = x + ih * d->w;
            for (int64_t wo = 0; wo < wo_n; wo++) {
                if (wo == lo) {
                    row_max(hm, row - d->pad_left, lo, hi, sw, kw_n);
                    wo = hi;
                    if (wo == wo_n) break;
                }
                float m = -INFINITY;
                int any = 0;
                for (int64_t kw = 0; kw < kw_n; kw++) {
                    const int64_t iw = wo * sw - d->pad_left + kw;
                    if (iw < 0 || iw >= d->w) continue;
                    m = any ? max_nan(m, row[iw]) : row[iw];
                    any = 1;
                }
                hm[wo] = m;
            }
            if (first) {
                for (int64_t wo = 0; wo < wo_n; wo++) orow[wo] = hm[wo];
                first = 0;
            } else {
                for (int64_t wo = 0; wo < wo_n; wo++) orow[wo] = max_nan(orow[wo], hm[wo]);
            }
        }
        if (first)
            for (int64_t wo = 0; wo < wo_n; wo++) orow[wo] = -INFINITY;
    }
}

void vtag_maxpool2d_forward(const vtag_ctx *ctx, float *out, int32_t *argmax, const float *in,
                            const vtag_pool2d_dims *d)
{
    const int64_t hw = d->h * d->w, p = d->h_out * d->w_out, planes = d->n * d->c;
    const int fast = !argmax && d->dil_h == 1 && d->dil_w == 1 && d->w_out <= FAST_MAX_WO;
#pragma omp parallel for num_threads(ctx->threads) if (planes * p * d->kh * d->kw > CNN_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = in + pl * hw;
        if (fast) {
            maxpool_plane_fast(out + pl * p, x, d);
            continue;
        }
        for (int64_t ho = 0; ho < d->h_out; ho++) {
            for (int64_t wo = 0; wo < d->w_out; wo++) {
                float best = -INFINITY;
                int64_t at = -1;
                for (int64_t kh = 0; kh < d->kh; kh++) {
                    int64_t ih = ho * d->stride_h - d->pad_top + kh * d->dil_h;
                    if (ih < 0 || ih >= d->h) continue;
                    for (int64_t kw = 0; kw < d->kw; kw++) {
                        int64_t iw = wo * d->stride_w - d->pad_left + kw * d->dil_w;
                        if (iw < 0 || iw >= d->w) continue;
                        float v = x[ih * d->w + iw];
                        /* the first maximum wins; a NaN propagates, as in PyTorch */
                        if (at < 0 || v > best || isnan(v)) {
                            best = v;
                            at = ih * d->w + iw;
                        }
                    }
                }
                out[pl * p + ho * d->w_out + wo] = best;
                if (argmax) argmax[pl * p + ho * d->w_out + wo] = (int32_t)at;
            }
        }
    }
}

void vtag_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                             const vtag_pool2d_dims *d)
{
    const int64_t hw = d->h * d->w, p = d->h_out * d->w_out, planes = d->n * d->c;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t i = 0; i < p; i++)
            if (argmax[pl * p + i] >= 0) din[pl * hw + argmax[pl * p + i]] += dout[pl * p + i];
}

/* Window of output (ho, wo): input rows [*h0, *h1), columns [*w0, *w1), and its divisor. */
static float avg_window(const vtag_pool2d_dims *d, int64_t ho, int64_t wo, int64_t *h0, int64_t *h1, int64_t *w0,
                        int64_t *w1)
{
    int64_t a = ho * d->stride_h - d->pad_top, b = wo * d->stride_w - d->pad_left;
    int64_t a1 = a + d->kh, b1 = b + d->kw;
    if (a1 > d->h + d->pad_bottom) a1 = d->h + d->pad_bottom;
    if (b1 > d->w + d->pad_right) b1 = d->w + d->pad_right;
    int64_t padded = (a1 - a) * (b1 - b);
    if (a < 0) a = 0;
    if (b < 0) b = 0;
    if (a1 > d->h) a1 = d->h;
    if (b1 > d->w) b1 = d->w;
    *h0 = a, *h1 = a1, *w0 = b, *w1 = b1;
    int64_t count = d->count_include_pad ? padded : (a1 - a) * (b1 - b);
    return count > 0 ? 1.0f / (float)count : 0.0f;
}

void vtag_avgpool2d_forward(const vtag_ctx *ctx, float *out, const float *in,
                            const vtag_pool2d_dims *d)
{
    const int64_t hw = d->h * d->w, p = d->h_out * d->w_out, planes = d->n * d->c;
#pragma omp parallel for num_threads(ctx->threads) if (planes * p * d->kh * d->kw > CNN_PAR_MIN) schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *x = in + pl * hw;
        for (int64_t ho = 0; ho < d->h_out; ho++) {
            for (int64_t wo = 0; wo < d->w_out; wo++) {
                int64_t h0, h1, w0, w1;
                float scale = avg_window(d, ho, wo, &h0, &h1, &w0, &w1);
                float s = 0.0f;
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) s += x[ih * d->w + iw];
                out[pl * p + ho * d->w_out + wo] = s * scale;
            }
        }
    }
}

void vtag_avgpool2d_backward(float *din, const float *dout, const vtag_pool2d_dims *d)
{
    const int64_t hw = d->h * d->w, p = d->h_out * d->w_out, planes = d->n * d->c;
    for (int64_t pl = 0; pl < planes; pl++) {
        float *dx = din + pl * hw;
        for (int64_t ho = 0; ho < d->h_out; ho++) {
            for (int64_t wo = 0; wo < d->w_out; wo++) {
                int64_t h0, h1, w0, w1;
                float g = dout[pl * p + ho * d->w_out + wo] * avg_window(d, ho, wo, &h0, &h1, &w0, &w1);
                for (int64_t ih = h0; ih < h1; ih++)
                    for (int64_t iw = w0; iw < w1; iw++) dx[ih * d->w + iw] += g;
            }
        }
    }
}

void vtag_global_avgpool_forward(const vtag_ctx *ctx, float *out, const float *in, int64_t n,
                                 int64_t c, int64_t hw)
{
    const int64_t rows = n * c;
#pragma omp parallel for num_threads(ctx->threads) if (rows * hw > CNN_PAR_MIN) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * hw;
        float s = 0.0f;
        for (int64_t j = 0; j < hw; j++) s += x[j];
        out[r] = hw > 0 ? s / (float)hw : 0.0f;
    }
}

void vtag_global_avgpool_backward(float *din, const float *dout, int64_t n, int64_t c, int64_t hw)
{
    const int64_t rows = n * c;
    for (int64_t r = 0; r < rows; r++) {
        const float g = hw > 0 ? dout[r] / (float)hw : 0.0f;
        float *dx = din + r * hw;
        for (int64_t j = 0; j < hw; j++) dx[j] += g;
    }
}

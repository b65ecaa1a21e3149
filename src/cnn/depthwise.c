/* Depthwise conv forward (groups == c_in == c_out, MobileNet's 3×3s): a direct kernel, one
 * (image, channel) plane per iteration, each output row accumulated in place tap by tap, so that
 * the inner loop is a contiguous axpy (stride 1) the compiler vectorises. */
#include "cnn/cnn_internal.h"

static void valid_cols(int64_t off, int64_t stride, int64_t w, int64_t w_out, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t b = w - off <= 0 ? 0 : (w - off + stride - 1) / stride;
    if (a > w_out) a = w_out;
    if (b > w_out) b = w_out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

void cnn_depthwise_forward(int threads, float *out, const float *in, const float *w, const float *b,
                           const vtag_conv2d_dims *d, vtag_act act)
{
    const int64_t c = d->c_in, hw = d->h * d->w, wo_n = d->w_out, p = d->h_out * wo_n;
    const int64_t kk = d->kh * d->kw, sw = d->stride_w;
#pragma omp parallel for num_threads(threads) if (d->n * c * p * kk > CNN_PAR_MIN) schedule(static)
    for (int64_t nc = 0; nc < d->n * c; nc++) {
        const int64_t ch = nc % c;
        const float *plane = in + nc * hw; /* [H, W] */
        const float *wc = w + ch * kk;     /* [KH, KW] */
        const float bias = b ? b[ch] : 0.0f;
        for (int64_t ho = 0; ho < d->h_out; ho++) {
            float *orow = out + nc * p + ho * wo_n;
            for (int64_t wo = 0; wo < wo_n; wo++) orow[wo] = bias;
            for (int64_t kh = 0; kh < d->kh; kh++) {
                int64_t ih = ho * d->stride_h + kh * d->dil_h - d->pad_top;
                if (ih < 0 || ih >= d->h) continue;
                const float *irow = plane + ih * d->w;
                for (int64_t kw = 0; kw < d->kw; kw++) {
                    const int64_t off = kw * d->dil_w - d->pad_left;
                    const float wv = wc[kh * d->kw + kw];
                    int64_t lo, hi;
                    valid_cols(off, sw, d->w, wo_n, &lo, &hi);
                    if (sw == 1) {
                        for (int64_t wo = lo; wo < hi; wo++) orow[wo] += wv * irow[wo + off];
                    } else {
                        for (int64_t wo = lo; wo < hi; wo++) orow[wo] += wv * irow[wo * sw + off];
                    }
                }
            }
            cnn_bias_act_row(orow, orow, wo_n, 0.0f, act);
        }
    }
}

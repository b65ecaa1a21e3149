/* Naive twins of the src/cnn kernels, written straight from the definitions (double sums,
 * no im2col, no special cases), and helpers shared by the cnn tests. */
#ifndef VTAG_TEST_CNN_H
#define VTAG_TEST_CNN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/cnn.h"

static inline void ct_fill(float *x, int64_t n, vtag_rng *rng, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * vtag_rng_uniform(rng);
}

/* The kernel paths this CPU runs (into paths, returned count), printed as
 * "kernel paths tested: generic avx2 avx512 (not on this CPU)". */
static inline int ct_paths(vtag_isa *paths)
{
    int n = 0;
    printf("kernel paths tested:");
    for (int i = 0; i < VTAG_ISA_COUNT; i++) {
        if (vtag_isa_supported((vtag_isa)i)) {
            paths[n++] = (vtag_isa)i;
            printf(" %s", vtag_isa_name((vtag_isa)i));
        } else {
            printf(" %s (not on this CPU)", vtag_isa_name((vtag_isa)i));
        }
    }
    printf("\n");
    return n;
}

static inline float *ct_alloc(int64_t n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* max_i |a_i − b_i| / max(max_i |b_i|, 1e-6); NaN gives +inf. */
static inline double ct_rel(const float *a, const float *b, int64_t n)
{
    double diff = 0.0, scale = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) return INFINITY;
        diff = fmax(diff, d);
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

static inline double ct_act(double x, vtag_act act)
{
    switch (act) {
    case VTAG_ACT_RELU: return x > 0 ? x : 0;
    case VTAG_ACT_RELU6: return fmin(fmax(x, 0), 6);
    case VTAG_ACT_HARDSWISH: return x * fmin(fmax(x + 3, 0), 6) / 6;
    default: return x;
    }
}

/* The direct 7-loop convolution. */
static inline void naive_conv_forward(float *out, const float *in, const float *w, const float *b,
                                      const vtag_conv2d_dims *d, vtag_act act)
{
    int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->c_out; o++)
            for (int64_t y = 0; y < d->h_out; y++)
                for (int64_t x = 0; x < d->w_out; x++) {
                    double s = b ? b[o] : 0.0;
                    int64_t g = o / cog;
                    for (int64_t c = 0; c < cig; c++)
                        for (int64_t i = 0; i < d->kh; i++)
                            for (int64_t j = 0; j < d->kw; j++) {
                                int64_t iy = y * d->stride_h - d->pad_top + i * d->dil_h;
                                int64_t ix = x * d->stride_w - d->pad_left + j * d->dil_w;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                                s += (double)in[((n * d->c_in + g * cig + c) * d->h + iy) * d->w + ix] *
                                     w[((o * cig + c) * d->kh + i) * d->kw + j];
                            }
                    out[((n * d->c_out + o) * d->h_out + y) * d->w_out + x] = (float)ct_act(s, act);
                }
}

/* The same loops, transposed: every output gradient adds into the input and weight it touched. */
static inline void naive_conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                                       const float *w, const vtag_conv2d_dims *d)
{
    int64_t cig = d->c_in / d->groups, cog = d->c_out / d->groups;
    int64_t nin = d->n * d->c_in * d->h * d->w, nw = d->c_out * cig * d->kh * d->kw;
    double *gin = calloc((size_t)nin, sizeof *gin), *gw = calloc((size_t)nw, sizeof *gw);
    for (int64_t n = 0; n < d->n; n++)
        for (int64_t o = 0; o < d->c_out; o++)
            for (int64_t y = 0; y < d->h_out; y++)
                for (int64_t x = 0; x < d->w_out; x++) {
                    double g = dout[((n * d->c_out + o) * d->h_out + y) * d->w_out + x];
                    if (db) db[o] += (float)g;
                    int64_t gr = o / cog;
                    for (int64_t c = 0; c < cig; c++)
                        for (int64_t i = 0; i < d->kh; i++)
                            for (int64_t j = 0; j < d->kw; j++) {
                                int64_t iy = y * d->stride_h - d->pad_top + i * d->dil_h;
                                int64_t ix = x * d->stride_w - d->pad_left + j * d->dil_w;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                                int64_t ii = ((n * d->c_in + gr * cig + c) * d->h + iy) * d->w + ix;
                                int64_t wi = ((o * cig + c) * d->kh + i) * d->kw + j;
                                gin[ii] += g * w[wi];
                                gw[wi] += g * in[ii];
                            }
                }
    if (din)
        for (int64_t i = 0; i < nin; i++) din[i] += (float)gin[i];
    if (dw)
        for (int64_t i = 0; i < nw; i++) dw[i] += (float)gw[i];
    free(gin);
    free(gw);
}

/* PyTorch's pooled size, written from its documentation. */
static inline int64_t naive_pool_size(int64_t in, int64_t k, int64_t pa, int64_t pb, int64_t s, int64_t dil,
                                      int ceil_mode)
{
    double span = (double)(in + pa + pb - dil * (k - 1) - 1) / (double)s;
    int64_t out = (int64_t)(ceil_mode ? ceil(span) : floor(span)) + 1;
    if (ceil_mode && (out - 1) * s >= in + pa) out--;
    return out;
}

static inline void naive_maxpool(float *out, int32_t *arg, const float *in, const vtag_pool2d_dims *d)
{
    for (int64_t pl = 0; pl < d->n * d->c; pl++)
        for (int64_t y = 0; y < d->h_out; y++)
            for (int64_t x = 0; x < d->w_out; x++) {
                double best = -INFINITY;
                int32_t at = -1;
                for (int64_t i = 0; i < d->kh; i++)
                    for (int64_t j = 0; j < d->kw; j++) {
                        int64_t iy = y * d->stride_h - d->pad_top + i * d->dil_h;
                        int64_t ix = x * d->stride_w - d->pad_left + j * d->dil_w;
                        if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                        double v = in[(pl * d->h + iy) * d->w + ix];
                        if (at < 0 || v > best) best = v, at = (int32_t)(iy * d->w + ix);
                    }
                out[(pl * d->h_out + y) * d->w_out + x] = (float)best;
                if (arg) arg[(pl * d->h_out + y) * d->w_out + x] = at;
            }
}

/* Average: divisor = window ∩ padded input (count_include_pad) or window ∩ input. */
static inline void naive_avgpool(float *out, const float *in, const vtag_pool2d_dims *d)
{
    for (int64_t pl = 0; pl < d->n * d->c; pl++)
        for (int64_t y = 0; y < d->h_out; y++)
            for (int64_t x = 0; x < d->w_out; x++) {
                double s = 0.0;
                int64_t inside = 0, padded = 0;
                for (int64_t i = 0; i < d->kh; i++)
                    for (int64_t j = 0; j < d->kw; j++) {
                        int64_t iy = y * d->stride_h - d->pad_top + i;
                        int64_t ix = x * d->stride_w - d->pad_left + j;
                        if (iy < d->h + d->pad_bottom && ix < d->w + d->pad_right) padded++;
                        if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                        inside++;
                        s += in[(pl * d->h + iy) * d->w + ix];
                    }
                int64_t div = d->count_include_pad ? padded : inside;
                out[(pl * d->h_out + y) * d->w_out + x] = div ? (float)(s / (double)div) : 0.0f;
            }
}

#endif

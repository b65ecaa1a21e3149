/* cnn_im2col (src/cnn/im2col.c) against a naive twin written from the definition (row r = (c, kh, kw)
 * of the column matrix, column j·P + ho·w_out + wo holds image j's pixel at ih = ho·stride_h +
 * kh·dil_h − pad_top, iw = wo·stride_w + kw·dil_w − pad_left, or 0 in the padding): kernels 1, 3
 * and 7, strides 1 and 2, padding 0, 1, 3 and asymmetric, dilation 1 and 2, planes from 1×1 to
 * 33×20 (square and not, output as wide as the input and not), 1 and 3 images, a channel offset c0
 * into a grouped input and a leading dimension wider than nb·P (the columns past nb·P must stay
 * untouched), with 1, 2 and 3 threads. It is a copy: the whole buffer must match to the bit. */
#include <stdio.h>

#include "cnn/cnn_internal.h"
#include "cnn_test.h"

#define SENTINEL 12345.0f

static void naive_im2col(float *col, int64_t ld, const float *in, int64_t nb, int64_t c0, const vtag_conv2d_dims *d)
{
    const int64_t cin_g = d->c_in / d->groups, p = d->h_out * d->w_out;
    for (int64_t c = 0; c < cin_g; c++)
        for (int64_t kh = 0; kh < d->kh; kh++)
            for (int64_t kw = 0; kw < d->kw; kw++) {
                const int64_t r = (c * d->kh + kh) * d->kw + kw;
                for (int64_t j = 0; j < nb; j++)
                    for (int64_t ho = 0; ho < d->h_out; ho++)
                        for (int64_t wo = 0; wo < d->w_out; wo++) {
                            const int64_t ih = ho * d->stride_h + kh * d->dil_h - d->pad_top;
                            const int64_t iw = wo * d->stride_w + kw * d->dil_w - d->pad_left;
                            float v = 0.0f;
                            if (ih >= 0 && ih < d->h && iw >= 0 && iw < d->w)
                                v = in[((j * d->c_in + c0 + c) * d->h + ih) * d->w + iw];
                            col[r * ld + j * p + ho * d->w_out + wo] = v;
                        }
            }
}

typedef struct plane {
    int64_t h, w;
} plane;

/* One shape on every thread count: returns the number of cases run (0 when the shape is impossible). */
static int run_case(vtag_rng *rng, int64_t nb, int64_t c_in, int64_t groups, int64_t h, int64_t w, int64_t k,
                    int64_t stride, int64_t pad, int64_t pad_end, int64_t dil)
{
    vtag_conv2d_dims d = {0};
    d.n = nb, d.c_in = c_in, d.h = h, d.w = w, d.c_out = groups, d.kh = d.kw = k;
    d.stride_h = d.stride_w = stride;
    d.pad_top = d.pad_left = pad, d.pad_bottom = d.pad_right = pad_end;
    d.dil_h = d.dil_w = dil, d.groups = groups;
    if (vtag_conv2d_plan(&d, NULL)) return 0;
    const int64_t cin_g = c_in / groups, p = d.h_out * d.w_out, rows = cin_g * k * k, ld = nb * p + 3;
    const int64_t c0 = (groups - 1) * cin_g, n_in = nb * c_in * h * w, n_col = rows * ld;
    float *in = ct_alloc(n_in), *want = ct_alloc(n_col), *got = ct_alloc(n_col);
    ct_fill(in, n_in, rng, -1.0f, 1.0f);
    for (int64_t i = 0; i < n_col; i++) want[i] = SENTINEL;
    naive_im2col(want, ld, in, nb, c0, &d);
    for (int threads = 1; threads <= 3; threads++) {
        for (int64_t i = 0; i < n_col; i++) got[i] = SENTINEL;
        cnn_im2col(threads, got, ld, in, nb, c0, &d);
        CHECK(memcmp(got, want, (size_t)n_col * sizeof *got) == 0,
              "nb %lld c_in %lld/%lld %lldx%lld k %lld stride %lld pad %lld/%lld dil %lld threads %d",
              (long long)nb, (long long)c_in, (long long)groups, (long long)h, (long long)w, (long long)k,
              (long long)stride, (long long)pad, (long long)pad_end, (long long)dil, threads);
    }
    free(in);
    free(want);
    free(got);
    return 1;
}

int main(void)
{
    vtag_rng rng;
    vtag_rng_seed(&rng, 19);
    static const plane planes[] = {{1, 1}, {1, 5}, {2, 3}, {4, 4}, {5, 7}, {8, 8}, {9, 16}, {16, 16}, {17, 9}, {33, 20}};
    static const int64_t ks[] = {1, 3, 7}, strides[] = {1, 2}, pads[] = {0, 1, 3};
    int cases = 0;
    for (size_t pi = 0; pi < sizeof planes / sizeof *planes; pi++)
        for (size_t ki = 0; ki < 3; ki++)
            for (size_t si = 0; si < 2; si++)
                for (size_t qi = 0; qi < 3; qi++) {
                    const plane pl = planes[pi];
                    const int64_t k = ks[ki], s = strides[si], pad = pads[qi];
                    cases += run_case(&rng, 1, 1, 1, pl.h, pl.w, k, s, pad, pad, 1);
                    cases += run_case(&rng, 3, 4, 2, pl.h, pl.w, k, s, pad, pad, 1);
                    cases += run_case(&rng, 2, 3, 1, pl.h, pl.w, k, s, pad, pad == 0 ? 2 : 0, 1);
                    cases += run_case(&rng, 2, 2, 1, pl.h, pl.w, k, s, pad, pad, 2);
                }
    /* Large enough to run in parallel (items · P above CNN_PAR_MIN), and the built-in net's dW shapes. */
    cases += run_case(&rng, 4, 8, 1, 33, 20, 3, 1, 1, 1, 1);
    cases += run_case(&rng, 4, 8, 1, 33, 20, 3, 2, 1, 1, 1);
    cases += run_case(&rng, 32, 16, 1, 16, 16, 3, 1, 1, 1, 1);
    cases += run_case(&rng, 32, 16, 1, 16, 16, 3, 2, 1, 1, 1);
    cases += run_case(&rng, 32, 16, 1, 16, 16, 1, 2, 0, 0, 1);
    cases += run_case(&rng, 32, 64, 1, 4, 4, 3, 1, 1, 1, 1);
    cases += run_case(&rng, 8, 3, 1, 64, 64, 3, 2, 1, 1, 1);
    printf("%d shapes\n", cases);
    CHECK(cases > 500, "only %d shapes ran", cases);
    return check_summary("test_im2col");
}

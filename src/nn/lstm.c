/* The two recurrent cells, point-wise part (the GEMMs that make the gate
 * pre-activations are Linear layers, batched over time where possible):
 * the maxout LSTM core of fc/att2in and the standard LSTM cell of topdown. */
#include <math.h>

#include "vtag/nn.h"

void vtag_maxout_lstm_forward(float *h, float *c, float *cache, const float *a, const float *c_prev, int64_t n,
                              int64_t r, int threads)
{
#pragma omp parallel for num_threads(threads) if (n * r > 16384) schedule(static)
    for (int64_t b = 0; b < n; b++) {
        const float *ab = a + b * 5 * r;
        float *cb = cache + b * 5 * r; /* i, f, o, in, tanh(c) */
        for (int64_t j = 0; j < r; j++) {
            float ig = vtag_sigmoidf(ab[j]);
            float fg = vtag_sigmoidf(ab[r + j]);
            float og = vtag_sigmoidf(ab[2 * r + j]);
            float x1 = ab[3 * r + j], x2 = ab[4 * r + j];
            float in = x1 > x2 ? x1 : x2;
            float cn = fg * c_prev[b * r + j] + ig * in;
            float tc = vtag_tanhf(cn);
            c[b * r + j] = cn;
            h[b * r + j] = og * tc;
            cb[j] = ig;
            cb[r + j] = fg;
            cb[2 * r + j] = og;
            cb[3 * r + j] = in;
            cb[4 * r + j] = tc;
        }
    }
}

void vtag_maxout_lstm_backward(float *da, float *dc_prev, const float *dh, const float *dc, const float *cache,
                               const float *a, const float *c_prev, int64_t n, int64_t r, int threads)
{
#pragma omp parallel for num_threads(threads) if (n * r > 16384) schedule(static)
    for (int64_t b = 0; b < n; b++) {
        const float *cb = cache + b * 5 * r;
        const float *ab = a + b * 5 * r;
        float *db = da + b * 5 * r;
        for (int64_t j = 0; j < r; j++) {
            float ig = cb[j], fg = cb[r + j], og = cb[2 * r + j], in = cb[3 * r + j], tc = cb[4 * r + j];
            float g_h = dh ? dh[b * r + j] : 0.0f;
            float g_c = (dc ? dc[b * r + j] : 0.0f) + g_h * og * (1.0f - tc * tc);
            float g_o = g_h * tc;
            float g_i = g_c * in;
            float g_f = g_c * c_prev[b * r + j];
            float g_in = g_c * ig;
            if (dc_prev) dc_prev[b * r + j] += g_c * fg;
            db[j] += g_i * ig * (1.0f - ig);
            db[r + j] += g_f * fg * (1.0f - fg);
            db[2 * r + j] += g_o * og * (1.0f - og);
            float x1 = ab[3 * r + j], x2 = ab[4 * r + j];
            /* torch.max(a, b): ties send half the gradient to each side. */
            if (x1 > x2) db[3 * r + j] += g_in;
            else if (x2 > x1) db[4 * r + j] += g_in;
            else {
                db[3 * r + j] += 0.5f * g_in;
                db[4 * r + j] += 0.5f * g_in;
            }
        }
    }
}

void vtag_lstm_forward(float *h, float *c, float *cache, const float *gates, const float *c_prev, int64_t n,
                       int64_t r, int threads)
{
#pragma omp parallel for num_threads(threads) if (n * r > 16384) schedule(static)
    for (int64_t b = 0; b < n; b++) {
        const float *gb = gates + b * 4 * r;
        float *cb = cache + b * 5 * r; /* i, f, g, o, tanh(c) */
        for (int64_t j = 0; j < r; j++) {
            float ig = vtag_sigmoidf(gb[j]);
            float fg = vtag_sigmoidf(gb[r + j]);
            float gg = vtag_tanhf(gb[2 * r + j]);
            float og = vtag_sigmoidf(gb[3 * r + j]);
            float cn = fg * c_prev[b * r + j] + ig * gg;
            float tc = vtag_tanhf(cn);
            c[b * r + j] = cn;
            h[b * r + j] = og * tc;
            cb[j] = ig;
            cb[r + j] = fg;
            cb[2 * r + j] = gg;
            cb[3 * r + j] = og;
            cb[4 * r + j] = tc;
        }
    }
}

void vtag_lstm_backward(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *cache,
                        const float *c_prev, int64_t n, int64_t r, int threads)
{
#pragma omp parallel for num_threads(threads) if (n * r > 16384) schedule(static)
    for (int64_t b = 0; b < n; b++) {
        const float *cb = cache + b * 5 * r;
        float *db = dgates + b * 4 * r;
        for (int64_t j = 0; j < r; j++) {
            float ig = cb[j], fg = cb[r + j], gg = cb[2 * r + j], og = cb[3 * r + j], tc = cb[4 * r + j];
            float g_h = dh ? dh[b * r + j] : 0.0f;
            float g_c = (dc ? dc[b * r + j] : 0.0f) + g_h * og * (1.0f - tc * tc);
            if (dc_prev) dc_prev[b * r + j] += g_c * fg;
            db[j] += g_c * gg * ig * (1.0f - ig);
            db[r + j] += g_c * c_prev[b * r + j] * fg * (1.0f - fg);
            db[2 * r + j] += g_c * ig * (1.0f - gg * gg);
            db[3 * r + j] += g_h * tc * og * (1.0f - og);
        }
    }
}

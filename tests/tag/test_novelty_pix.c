/* The pixel side of the novelty (include/vtag/novelty.h): the 14 pixel
 * statistics of tiny frames against values computed by hand; the pixel
 * Gaussian against a hand computation (mean, shrunk covariance inverted by
 * Gauss-Jordan, the largest validation video's mean distance); a video's
 * novelty as the larger ratio; the file round trip, files without the pixel
 * Gaussian, and features files' optional pix tensor (written, read back,
 * bad shapes and values refused). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/novelty.h"
#include "vtag/safetensors.h"

enum { P = VTAG_NOVELTY_PIX, N = 80, D = 2, NV = 6 };

static void check_stats(const uint8_t *rgb, int64_t side, const double want[P], const char *what)
{
    float got[P];
    vtag_novelty_pixel_stats(rgb, side, got);
    for (int k = 0; k < P; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s [%d]", what, k);
        CHECK_NEAR(got[k], want[k], 1e-6, name);
    }
}

static void pixel_stats(void)
{
    /* 2x2: black, red / green, white */
    const uint8_t a[12] = {0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255};
    const double wa[P] = {0.5, 0.5, 0.25,             /* means */
                          0.5, 0.5, sqrt(0.1875),     /* std: B is 0, 0, 0, 1 */
                          1, 0, 0.5,                  /* mean |right - left| over 2 pairs */
                          0, 1, 0.5,                  /* mean |below - above| */
                          0.5,                        /* max - min: 0, 1, 1, 0 */
                          0};                         /* no interior pixel */
    check_stats(a, 2, wa, "2x2");
    /* 3x3 black with a centre of (90, 0, 0): g there 30, 4 g = 120 */
    uint8_t b[27] = {0};
    b[4 * 3] = 90;
    const double s = sqrt(8100.0 / 9 - 100) / 255;
    const double wb[P] = {10 / 255.0, 0, 0, s, 0, 0, 30 / 255.0, 0, 0, 30 / 255.0, 0, 0, 10 / 255.0, 120 / 255.0};
    check_stats(b, 3, wb, "3x3");
    /* 1x1 grey: means only */
    const uint8_t c[3] = {51, 102, 204};
    const double wc[P] = {0.2, 0.4, 0.8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.6, 0};
    check_stats(c, 1, wc, "1x1");
}

/* a (d x d) inverted in place by Gauss-Jordan with partial pivoting. */
static void invert(double *a, int d)
{
    double *inv = calloc((size_t)(d * d), sizeof *inv);
    for (int i = 0; i < d; i++) inv[i * d + i] = 1;
    for (int c = 0; c < d; c++) {
        int p = c;
        for (int r = c + 1; r < d; r++)
            if (fabs(a[r * d + c]) > fabs(a[p * d + c])) p = r;
        for (int k = 0; k < d; k++) {
            double t = a[c * d + k];
            a[c * d + k] = a[p * d + k], a[p * d + k] = t;
            t = inv[c * d + k];
            inv[c * d + k] = inv[p * d + k], inv[p * d + k] = t;
        }
        const double q = a[c * d + c];
        for (int k = 0; k < d; k++) a[c * d + k] /= q, inv[c * d + k] /= q;
        for (int r = 0; r < d; r++) {
            if (r == c) continue;
            const double m = a[r * d + c];
            for (int k = 0; k < d; k++) a[r * d + k] -= m * a[c * d + k], inv[r * d + k] -= m * inv[c * d + k];
        }
    }
    memcpy(a, inv, (size_t)(d * d) * sizeof *a);
    free(inv);
}

static double md(const double *mu, const double *prec, const float *x)
{
    double s = 0;
    for (int i = 0; i < P; i++)
        for (int j = 0; j < P; j++) s += (x[i] - mu[i]) * prec[i * P + j] * (x[j] - mu[j]);
    return s;
}

static void gaussian(void)
{
    static float fc[N * D], pix[N * P], vfc[NV * D], vpix[NV * P];
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    for (int i = 0; i < N; i++) {
        fc[i * D] = vtag_rng_normal(&rng), fc[i * D + 1] = 1 + vtag_rng_normal(&rng);
        const float common = vtag_rng_normal(&rng);
        for (int k = 0; k < P; k++) pix[i * P + k] = 0.3f + 0.05f * (float)k * common + 0.02f * vtag_rng_normal(&rng);
    }
    for (int i = 0; i < NV * D; i++) vfc[i] = 0.5f * vtag_rng_normal(&rng) + (i % D);
    for (int i = 0; i < NV; i++) {
        const float common = vtag_rng_normal(&rng);
        for (int k = 0; k < P; k++) vpix[i * P + k] = 0.3f + 0.05f * (float)k * common + 0.02f * vtag_rng_normal(&rng);
    }
    const char *items[N], *vitems[NV] = {"a", "b", "c", "a", "b", "c"};
    for (int i = 0; i < N; i++) items[i] = i % 3 ? "t1" : "t2";
    vtag_data_features tr = {0}, va = {0};
    tr.n = N, tr.fc_dim = D, tr.fc = fc, tr.pix = pix, tr.items = items;
    va.n = NV, va.fc_dim = D, va.fc = vfc, va.pix = vpix, va.items = vitems;
    vtag_error err = {0};
    vtag_novelty nv, fc_only;
    CHECK(vtag_novelty_fit(&nv, &tr, &va, 0.05, &err) == 0, "fit: %s", err.msg);
    CHECK(nv.pix_mean && nv.pix_precision && nv.pix_shrink == VTAG_NOVELTY_PIX_SHRINK && nv.pix_threshold > 0,
          "a pixel Gaussian");
    if (!nv.pix_mean) return;

    /* by hand */
    double mu[P] = {0}, *cov = calloc(P * P, sizeof *cov);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < P; k++) mu[k] += pix[i * P + k] / (double)N;
    for (int i = 0; i < N; i++)
        for (int a = 0; a < P; a++)
            for (int b = 0; b < P; b++) cov[a * P + b] += (pix[i * P + a] - mu[a]) * (pix[i * P + b] - mu[b]) / (N - 1);
    double trace = 0;
    for (int k = 0; k < P; k++) trace += cov[k * P + k];
    for (int k = 0; k < P; k++) cov[k * P + k] += VTAG_NOVELTY_PIX_SHRINK * trace / P;
    invert(cov, P);
    for (int k = 0; k < P; k++) CHECK_NEAR(nv.pix_mean[k], mu[k], 1e-9, "pixel mean");
    for (int k = 0; k < P * P; k++)
        CHECK_NEAR(nv.pix_precision[k], cov[k], 1e-7 * (1 + fabs(cov[k])), "pixel precision");
    double stat[3] = {0}, thr = 0;
    for (int i = 0; i < NV; i++) stat[i % 3] += md(mu, cov, vpix + i * P) / 2;
    for (int v = 0; v < 3; v++) thr = stat[v] > thr ? stat[v] : thr;
    CHECK_NEAR(nv.pix_threshold, thr, 1e-7 * thr, "pixel threshold: the largest validation video's mean distance");

    /* a video: the larger ratio */
    float centre_fc[D] = {(float)nv.mean[0], (float)nv.mean[1]}, far_pix[P], centre_pix[P];
    for (int k = 0; k < P; k++) centre_pix[k] = (float)mu[k], far_pix[k] = (float)mu[k] + 0.5f;
    double nov = -1, want = md(mu, cov, far_pix) / thr;
    CHECK(vtag_novelty_video(&nv, centre_fc, far_pix, 1, &nov, &err) == 0, "%s", err.msg);
    CHECK(nov > 1, "pixels far, fc at the mean: novelty %g", nov);
    CHECK_NEAR(nov, want, 1e-5 * want, "pixel ratio");
    CHECK(vtag_novelty_video(&nv, centre_fc, NULL, 1, &nov, &err) == 0 && nov < 1e-6, "without pix: fc only (%g)", nov);
    CHECK(vtag_novelty_video(&nv, centre_fc, centre_pix, 1, &nov, &err) == 0 && nov < 1e-6, "both at the mean: %g", nov);
    const float far_fc[D] = {30, -30};
    double fc_nov = 0;
    CHECK(vtag_novelty_video(&nv, far_fc, NULL, 1, &fc_nov, &err) == 0 && fc_nov > 1, "fc far: %g", fc_nov);
    CHECK(vtag_novelty_video(&nv, far_fc, centre_pix, 1, &nov, &err) == 0 && nov == fc_nov, "fc far: the fc ratio");
    /* the validation videos: none above 1, the largest exactly 1 */
    double top = 0;
    for (int v = 0; v < 3; v++) {
        const int64_t idx[2] = {v, v + 3};
        CHECK(vtag_novelty_rows(&nv, &va, idx, 2, &nov, &err) == 0, "%s", err.msg);
        top = nov > top ? nov : top;
    }
    CHECK_NEAR(top, 1, 1e-9, "the validation videos' largest novelty");

    /* the file: with the pixel Gaussian, and without */
    const char *file = "novelty_pix_test.novelty.safetensors";
    vtag_novelty back;
    CHECK(vtag_novelty_save(&nv, file, &err) == 0, "save: %s", err.msg);
    CHECK(vtag_novelty_load(&back, file, &err) == 0, "load: %s", err.msg);
    CHECK(back.pix_mean && back.pix_threshold == nv.pix_threshold && back.pix_shrink == nv.pix_shrink,
          "pixel Gaussian read back");
    for (int k = 0; back.pix_mean && k < P; k++) CHECK(back.pix_mean[k] == (float)nv.pix_mean[k], "pixel mean read back");
    for (int k = 0; back.pix_mean && k < P * P; k++)
        CHECK(back.pix_precision[k] == (float)nv.pix_precision[k], "pixel precision read back");
    CHECK(vtag_novelty_video(&back, centre_fc, far_pix, 1, &nov, &err) == 0, "%s", err.msg);
    CHECK_NEAR(nov, want, 1e-4 * want, "novelty after the round trip");
    vtag_novelty_free(&back);
    tr.pix = NULL; /* features without pix: fc only */
    CHECK(vtag_novelty_fit(&fc_only, &tr, &va, 0.05, &err) == 0 && !fc_only.pix_mean, "train without pix: fc only");
    CHECK(vtag_novelty_save(&fc_only, file, &err) == 0, "save: %s", err.msg);
    CHECK(vtag_novelty_load(&back, file, &err) == 0 && !back.pix_mean && back.pix_threshold == 0, "load fc only: %s",
          err.msg);
    CHECK(vtag_novelty_video(&back, centre_fc, far_pix, 1, &nov, &err) == 0 && nov < 1e-6, "fc-only model ignores pix");
    vtag_novelty_free(&back);
    vtag_novelty_free(&fc_only);
    tr.pix = pix, va.pix = NULL;
    CHECK(vtag_novelty_fit(&fc_only, &tr, &va, 0.05, &err) == 0 && !fc_only.pix_mean, "val without pix: fc only");
    vtag_novelty_free(&fc_only);
    /* a pixel Gaussian without its metadata */
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    float m[D] = {0}, p[D * D] = {1, 0, 0, 1}, pm[P] = {0};
    int64_t s1[1] = {D}, s2[2] = {D, D}, sp[1] = {P};
    int rc = vtag_st_writer_add(&w, "mean", VTAG_DTYPE_F32, 1, s1, m, &err);
    if (!rc) rc = vtag_st_writer_add(&w, "precision", VTAG_DTYPE_F32, 2, s2, p, &err);
    if (!rc) rc = vtag_st_writer_add(&w, "pix_mean", VTAG_DTYPE_F32, 1, sp, pm, &err);
    if (!rc)
        rc = vtag_st_writer_meta(&w, "vtag.novelty",
                                 "{\"threshold\": 1, \"shrink\": 0.01, \"train_rows\": 2, \"val_videos\": 0}", &err);
    if (!rc) rc = vtag_st_writer_save(&w, file, &err);
    vtag_st_writer_free(&w);
    CHECK(rc == 0, "write: %s", err.msg);
    CHECK(vtag_novelty_load(&back, file, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "pix"), "half a pixel Gaussian: %s",
          err.msg);
    unlink(file);
    vtag_novelty_free(&nv);
    free(cov);
}

static void features_file(void)
{
    const char *file = "novelty_pix_test.features.safetensors", *items[2] = {"v", "v"};
    float fc[2] = {1, 2}, pix[2 * P];
    for (int i = 0; i < 2 * P; i++) pix[i] = 0.01f * (float)i;
    vtag_error err = {0};
    vtag_data_features w = {.n = 2, .fc_dim = 1, .fc = fc, .items = items, .pix = pix}, r;
    CHECK(vtag_data_write_features(&w, file, &err) == 0, "write: %s", err.msg);
    CHECK(vtag_data_read_features(&r, file, &err) == 0, "read: %s", err.msg);
    CHECK(r.pix && memcmp(r.pix, pix, sizeof pix) == 0, "pix read back");
    vtag_data_free_features(&r);
    w.pix = NULL;
    CHECK(vtag_data_write_features(&w, file, &err) == 0 && vtag_data_read_features(&r, file, &err) == 0 && !r.pix,
          "without pix: %s", err.msg);
    vtag_data_free_features(&r);
    /* refused: 13 columns, a row count of its own, a NaN */
    for (int bad = 0; bad < 3; bad++) {
        vtag_st_writer st;
        vtag_st_writer_init(&st);
        int64_t sf[2] = {2, 1}, sp[2] = {bad == 1 ? 1 : 2, bad == 0 ? P - 1 : P};
        pix[5] = bad == 2 ? NAN : 0.05f;
        int rc = vtag_st_writer_add(&st, "fc", VTAG_DTYPE_F32, 2, sf, fc, &err);
        if (!rc) rc = vtag_st_writer_add(&st, "pix", VTAG_DTYPE_F32, 2, sp, pix, &err);
        if (!rc) rc = vtag_st_writer_meta(&st, "vtag.items", "[\"v\", \"v\"]", &err);
        if (!rc) rc = vtag_st_writer_save(&st, file, &err);
        vtag_st_writer_free(&st);
        CHECK(rc == 0, "write: %s", err.msg);
        CHECK(vtag_data_read_features(&r, file, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "pix"), "bad pix %d: %s",
              bad, err.msg);
    }
    unlink(file);
}

int main(void)
{
    pixel_stats();
    gaussian();
    features_file();
    return check_summary("tag/novelty_pix");
}

/* Novelty (include/vtag/novelty.h) against a hand computation in 3
 * dimensions: the mean, the shrunk covariance's inverse, the squared
 * Mahalanobis distances, the threshold as the largest validation video's
 * mean distance (rows of a video not adjacent), novelty = 1 for that video,
 * a far clip above 1; the file round trip and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/novelty.h"

enum { N = 60, D = 3, NV = 5 };

/* The inverse of a symmetric 3x3 matrix by cofactors. */
static void inverse3(const double a[9], double out[9])
{
    double c[9] = {a[4] * a[8] - a[5] * a[7], a[5] * a[6] - a[3] * a[8], a[3] * a[7] - a[4] * a[6],
                   a[2] * a[7] - a[1] * a[8], a[0] * a[8] - a[2] * a[6], a[1] * a[6] - a[0] * a[7],
                   a[1] * a[5] - a[2] * a[4], a[2] * a[3] - a[0] * a[5], a[0] * a[4] - a[1] * a[3]};
    double det = a[0] * c[0] + a[1] * c[1] + a[2] * c[2];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) out[i * 3 + j] = c[j * 3 + i] / det;
}

static double md(const double *mu, const double *p, const float *x)
{
    double z[3], s = 0;
    for (int j = 0; j < 3; j++) z[j] = x[j] - mu[j];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) s += z[i] * p[i * 3 + j] * z[j];
    return s;
}

int main(void)
{
    static float fc[N * D], vfc[NV * D];
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    for (int i = 0; i < N; i++) { /* correlated: x1 follows x0 */
        float a = vtag_rng_normal(&rng), b = vtag_rng_normal(&rng), c = vtag_rng_normal(&rng);
        fc[i * D] = 2 + a, fc[i * D + 1] = -1 + 0.8f * a + 0.3f * b, fc[i * D + 2] = 0.5f * c;
    }
    const float val[NV * D] = {2, -1, 0, 3, 0, 0.5f, 2.5f, -0.5f, -0.2f, 1, -2, 0.1f, 2, -1, 0.3f};
    memcpy(vfc, val, sizeof val);
    const char *items[N], *vitems[NV] = {"a", "b", "a", "b", "b"};
    for (int i = 0; i < N; i++) items[i] = i % 2 ? "t1" : "t2";
    vtag_data_features tr = {0}, va = {0};
    tr.n = N, tr.fc_dim = D, tr.fc = fc, tr.items = items;
    va.n = NV, va.fc_dim = D, va.fc = vfc, va.items = vitems;
    vtag_error err = {0};
    vtag_novelty nv;
    CHECK(vtag_novelty_fit(&nv, &tr, &va, 0.05, &err) == 0, "fit: %s", err.msg);

    /* by hand */
    double mu[3] = {0}, cov[9] = {0}, prec[9];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++) mu[j] += fc[i * D + j] / (double)N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 3; k++) cov[j * 3 + k] += (fc[i * D + j] - mu[j]) * (fc[i * D + k] - mu[k]) / (N - 1);
    double lambda = 0.05 * (cov[0] + cov[4] + cov[8]) / 3;
    for (int j = 0; j < 3; j++) cov[j * 4] += lambda;
    inverse3(cov, prec);
    for (int j = 0; j < 3; j++) CHECK_NEAR(nv.mean[j], mu[j], 1e-12, "mean");
    for (int j = 0; j < 9; j++) CHECK_NEAR(nv.precision[j], prec[j], 1e-9 * (1 + fabs(prec[j])), "precision");
    double va_a = (md(mu, prec, val) + md(mu, prec, val + 6)) / 2;
    double va_b = (md(mu, prec, val + 3) + md(mu, prec, val + 9) + md(mu, prec, val + 12)) / 3;
    CHECK_NEAR(nv.threshold, va_a > va_b ? va_a : va_b, 1e-9, "threshold: the largest validation video");
    CHECK(nv.val_videos == 2 && nv.train_rows == N, "fitted on %lld rows, %lld validation videos", (long long)nv.train_rows,
          (long long)nv.val_videos);

    /* a video's novelty */
    const float a_rows[6] = {2, -1, 0, 2.5f, -0.5f, -0.2f}, b_rows[9] = {3, 0, 0.5f, 1, -2, 0.1f, 2, -1, 0.3f};
    double nov;
    CHECK(vtag_novelty_video(&nv, va_b > va_a ? b_rows : a_rows, NULL, va_b > va_a ? 3 : 2, &nov, &err) == 0, "%s", err.msg);
    CHECK_NEAR(nov, 1.0, 1e-9, "the threshold's own video");
    const float far[3] = {40, 30, -20};
    CHECK(vtag_novelty_video(&nv, far, NULL, 1, &nov, &err) == 0 && nov > 10, "a far frame: novelty %g", nov);
    const float centre[3] = {(float)mu[0], (float)mu[1], (float)mu[2]};
    CHECK(vtag_novelty_video(&nv, centre, NULL, 1, &nov, &err) == 0 && nov < 1e-6, "the mean: novelty %g", nov);
    const int64_t idx[2] = {1, 3};
    double nov_rows;
    CHECK(vtag_novelty_rows(&nv, &va, idx, 2, &nov_rows, &err) == 0, "%s", err.msg);
    CHECK_NEAR(nov_rows, (md(mu, prec, val + 3) + md(mu, prec, val + 9)) / 2 / nv.threshold, 1e-9, "rows");

    /* the file */
    char *path = vtag_novelty_path("run/fc.safetensors");
    CHECK(path && strcmp(path, "run/fc.novelty.safetensors") == 0, "path %s", path ? path : "");
    free(path);
    const char *file = "novelty_test.novelty.safetensors";
    vtag_novelty back;
    CHECK(vtag_novelty_save(&nv, file, &err) == 0, "save: %s", err.msg);
    CHECK(vtag_novelty_load(&back, file, &err) == 0, "load: %s", err.msg);
    CHECK(back.dim == D && back.threshold == nv.threshold && back.val_videos == 2, "read back");
    for (int j = 0; j < 9 && back.dim == D; j++)
        CHECK_NEAR(back.precision[j], nv.precision[j], 1e-6 * (1 + fabs(nv.precision[j])), "precision read back");
    vtag_novelty_free(&back);

    /* bad input */
    FILE *f = fopen(file, "w");
    if (f) fputs("not a safetensors file", f), fclose(f);
    CHECK(vtag_novelty_load(&back, file, &err) != 0 && strstr(err.msg, file), "a bad file: %s", err.msg);
    unlink(file);
    va.fc_dim = 2;
    CHECK(vtag_novelty_fit(&back, &tr, &va, 0.05, &err) == VTAG_ERR_ARG, "validation fc of another size");
    va.fc_dim = D;
    CHECK(vtag_novelty_fit(&back, &tr, &va, 0, &err) == VTAG_ERR_ARG, "no shrinkage");
    tr.n = 1;
    CHECK(vtag_novelty_fit(&back, &tr, &va, 0.05, &err) == VTAG_ERR_ARG, "one row");
    CHECK(vtag_novelty_video(&nv, far, NULL, 0, &nov, &err) == VTAG_ERR_ARG, "no frame");
    vtag_novelty_free(&nv);
    return check_summary("tag/novelty");
}

/* Per-label calibration of the label scores (include/vtag/calib.h): a case
 * computed by hand, the maximum-likelihood map recovered from data drawn
 * with a known one, a label never reversed, shrinkage towards the shared map,
 * apply with and without a calibration, the file round trip, hostile files
 * and arguments refused with the file named. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/calib.h"
#include "vtag/safetensors.h"

static double logit(double s) { return log(s / (1 - s)); }
static double sigmoid(double z) { return 1 / (1 + exp(-z)); }

/* Two videos at s = 0.5, one right, one wrong: the identity is the optimum
 * (gradient (0, 0) at a = 1, b = 0), so a = 1, b = 0 and 0.5 stays 0.5. */
static void by_hand(void)
{
    const double scores[4] = {0, 0.5, 0, 0.5};
    const unsigned char truth[4] = {0, 1, 0, 0};
    vtag_calib c;
    vtag_error err = {0};
    CHECK(vtag_calib_fit(&c, scores, truth, 2, 1, VTAG_CALIB_SHRINK, &err) == VTAG_OK, "fit: %s", err.msg);
    CHECK_NEAR(c.a0, 1, 1e-9, "a0");
    CHECK_NEAR(c.b0, 0, 1e-9, "b0");
    CHECK_NEAR(c.a[1], 1, 1e-9, "a[1]");
    CHECK_NEAR(c.b[1], 0, 1e-9, "b[1]");
    double s[2] = {7, 0.5};
    vtag_calib_apply(&c, s);
    CHECK_NEAR(s[1], 0.5, 1e-12, "apply(0.5)");
    CHECK(s[0] == 7, "scores[0] untouched");
    vtag_calib_free(&c);
}

/* Label 1 right with probability sigmoid(2 logit(s) - 1), label 2 with
 * sigmoid(0.5 logit(s) + 1), 4000 videos: the fit recovers both maps; label
 * 3 is right when s < 0.5 (reversed): its slope stops at 0. */
static void recovers(void)
{
    enum { N = 4000, V = 3 };
    double *scores = calloc(N * (V + 1), sizeof *scores);
    unsigned char *truth = calloc(N * (V + 1), 1);
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    for (int i = 0; i < N; i++) {
        for (int v = 1; v <= V; v++) {
            const double s = 0.02 + 0.96 * vtag_rng_uniform(&rng), u = vtag_rng_uniform(&rng);
            const double p = v == 1 ? sigmoid(2 * logit(s) - 1) : v == 2 ? sigmoid(0.5 * logit(s) + 1) : (s < 0.5);
            scores[i * (V + 1) + v] = s;
            truth[i * (V + 1) + v] = u < p;
        }
    }
    vtag_calib c;
    vtag_error err = {0};
    CHECK(vtag_calib_fit(&c, scores, truth, N, V, VTAG_CALIB_SHRINK, &err) == VTAG_OK, "fit: %s", err.msg);
    CHECK(fabs(c.a[1] - 2) < 0.15 && fabs(c.b[1] + 1) < 0.15, "label 1: a %g b %g (2, -1)", c.a[1], c.b[1]);
    CHECK(fabs(c.a[2] - 0.5) < 0.1 && fabs(c.b[2] - 1) < 0.15, "label 2: a %g b %g (0.5, 1)", c.a[2], c.b[2]);
    CHECK(c.a[3] == 0, "label 3 (reversed): a %g, clamped to 0", c.a[3]);
    /* deterministic */
    vtag_calib d;
    CHECK(vtag_calib_fit(&d, scores, truth, N, V, VTAG_CALIB_SHRINK, &err) == VTAG_OK, "refit");
    CHECK(memcmp(c.a, d.a, (V + 1) * sizeof *c.a) == 0 && memcmp(c.b, d.b, (V + 1) * sizeof *c.b) == 0,
          "the same data, the same bits");
    vtag_calib_free(&d);
    /* apply: monotone within a label */
    double lo[V + 1] = {0, 0.2, 0.2, 0.2}, hi[V + 1] = {0, 0.8, 0.8, 0.8};
    vtag_calib_apply(&c, lo);
    vtag_calib_apply(&c, hi);
    CHECK(lo[1] < hi[1] && lo[2] < hi[2] && lo[3] == hi[3], "order kept (label 3 flat)");
    CHECK_NEAR(hi[1], sigmoid(c.a[1] * logit(0.8) + c.b[1]), 1e-12, "apply is the map");
    /* shrinkage: 8 videos of label 1 only move it part of the way from the shared map */
    vtag_calib few;
    CHECK(vtag_calib_fit(&few, scores, truth, 8, V, 1000, &err) == VTAG_OK, "fit 8");
    CHECK(fabs(few.a[1] - few.a0) < 0.05 && fabs(few.b[1] - few.b0) < 0.05, "strong shrink keeps the shared map");
    vtag_calib_free(&few);
    /* scores outside [0, 1] or NaN are refused */
    scores[5] = 1.5;
    CHECK(vtag_calib_fit(&d, scores, truth, N, V, VTAG_CALIB_SHRINK, &err) == VTAG_ERR_ARG && strstr(err.msg, "not in [0, 1]"),
          "1.5 refused: %s", err.msg);
    scores[5] = NAN;
    CHECK(vtag_calib_fit(&d, scores, truth, N, V, VTAG_CALIB_SHRINK, &err) == VTAG_ERR_ARG, "NaN refused");
    CHECK(vtag_calib_fit(&d, scores, truth, 0, V, VTAG_CALIB_SHRINK, &err) == VTAG_ERR_ARG, "no video refused");
    CHECK(vtag_calib_fit(&d, scores, truth, N, V, 0, &err) == VTAG_ERR_ARG, "shrink 0 refused");

    /* file round trip */
    char dir[] = "/tmp/vtag-calib-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char ckpt[256], path[256];
    snprintf(ckpt, sizeof ckpt, "%s/m.safetensors", dir);
    char *p = vtag_calib_path(ckpt);
    snprintf(path, sizeof path, "%s/m.calib.safetensors", dir);
    CHECK(p && strcmp(p, path) == 0, "path %s", p ? p : "(null)");
    free(p);
    vtag_calib e;
    CHECK(vtag_calib_load_beside(&e, ckpt, V, &err) == VTAG_OK && e.n_labels == 0, "no file: empty, no error");
    double same[V + 1] = {0, 0.3, 0.6, 0.9};
    vtag_calib_apply(&e, same);
    CHECK(same[1] == 0.3 && same[2] == 0.6 && same[3] == 0.9, "empty calibration changes nothing");
    CHECK(vtag_calib_save(&c, path, &err) == VTAG_OK, "save: %s", err.msg);
    CHECK(vtag_calib_load_beside(&e, ckpt, V, &err) == VTAG_OK && e.n_labels == V, "load: %s", err.msg);
    for (int v = 1; v <= V; v++) {
        CHECK_NEAR(e.a[v], c.a[v], 1e-6 * (1 + fabs(c.a[v])), "a round trip");
        CHECK_NEAR(e.b[v], c.b[v], 1e-6 * (1 + fabs(c.b[v])), "b round trip");
    }
    CHECK(e.videos == N && e.shrink == VTAG_CALIB_SHRINK, "metadata");
    vtag_calib_free(&e);
    CHECK(vtag_calib_load(&e, path, V + 1, &err) == VTAG_ERR_FORMAT && strstr(err.msg, path) &&
              strstr(err.msg, "calibrates 3 labels, the checkpoint has 4"),
          "another vocabulary refused: %s", err.msg);
    /* hostile: a negative slope, a missing tensor */
    const float bad_a[2] = {1, -1}, bad_b[2] = {0, 0};
    const int64_t shape[1] = {2};
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    CHECK(vtag_st_writer_add(&w, "a", VTAG_DTYPE_F32, 1, shape, bad_a, &err) == VTAG_OK &&
              vtag_st_writer_add(&w, "b", VTAG_DTYPE_F32, 1, shape, bad_b, &err) == VTAG_OK &&
              vtag_st_writer_meta(&w, "vtag.calib", "{\"a0\": 1, \"b0\": 0, \"shrink\": 5, \"videos\": 3}", &err) == VTAG_OK &&
              vtag_st_writer_save(&w, path, &err) == VTAG_OK,
          "write a bad file");
    vtag_st_writer_free(&w);
    CHECK(vtag_calib_load(&e, path, 0, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "a >= 0"), "negative slope: %s", err.msg);
    vtag_st_writer_init(&w);
    CHECK(vtag_st_writer_add(&w, "a", VTAG_DTYPE_F32, 1, shape, bad_b, &err) == VTAG_OK &&
              vtag_st_writer_save(&w, path, &err) == VTAG_OK,
          "write a file without b");
    vtag_st_writer_free(&w);
    CHECK(vtag_calib_load(&e, path, 0, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "not a calibration file") &&
              strstr(err.msg, path),
          "no b: %s", err.msg);
    unlink(path);
    rmdir(dir);
    vtag_calib_free(&c);
    free(scores);
    free(truth);
}

int main(void)
{
    by_hand();
    recovers();
    return check_summary("tag/test_calib");
}

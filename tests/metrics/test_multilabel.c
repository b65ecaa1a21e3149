/* Multi-label scores worked out by hand on four videos and four labels,
 * covering a label never predicted (sky at 0.5), a label never true (car),
 * a video with no true labels (v2), a video with no predictions (v3) and a
 * tie in GAP's pooled ranking. */
#include "mtest.h"

enum { CAT, DOG, CAR, SKY, N_LABELS };

/* v0: cat .9, dog .6, car .2   true {cat}
 * v1: dog .8, cat .6           true {cat, dog}
 * v2: car .7, sky .3           true {}
 * v3: (nothing)                true {sky} */
static const int32_t p0[] = {CAT, DOG, CAR}, p1[] = {DOG, CAT}, p2[] = {CAR, SKY};
static const double s0[] = {0.9, 0.6, 0.2}, s1[] = {0.8, 0.6}, s2[] = {0.7, 0.3};
static const int32_t t0[] = {CAT}, t1[] = {CAT, DOG}, t3[] = {SKY};

static const vtag_metrics_ml_item items[4] = {
    {p0, s0, 3, t0, 1},
    {p1, s1, 2, t1, 2},
    {p2, s2, 2, NULL, 0},
    {NULL, NULL, 0, t3, 1},
};

static void check_prf(const vtag_metrics_prf *got, const double want[6], const char *what)
{
    const char *names[6] = {"OP", "OR", "OF1", "CP", "CR", "CF1"};
    const double v[6] = {got->overall_p, got->overall_r, got->overall_f1,
                         got->class_p, got->class_r, got->class_f1};
    for (int i = 0; i < 6; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s %s", what, names[i]);
        CHECK_NEAR(v[i], want[i], 1e-15, label);
    }
}

static void test_hand(void)
{
    vtag_metrics_prf prf;
    vtag_error err = {0};

    /* Threshold 0.5 predicts v0 {cat, dog}, v1 {dog, cat}, v2 {car}, v3 {}.
     *        Nc Np Ng
     *   cat   2  2  2
     *   dog   1  2  1
     *   car   0  1  0   never true: counts in OP only
     *   sky   0  0  1   never predicted: Np counted as 1 in CP → 0
     * OP = 3/5, OR = 3/4, OF1 = 2/3;
     * CP = (1 + 1/2 + 0)/3 = 1/2, CR = (1 + 1 + 0)/3 = 2/3, CF1 = 4/7. */
    CHECK(vtag_metrics_ml_prf_threshold(items, 4, N_LABELS, 0.5, &prf, &err) == 0, "%s", err.msg);
    check_prf(&prf, (const double[6]){0.6, 0.75, 2.0 / 3, 0.5, 2.0 / 3, 4.0 / 7}, "t=0.5");

    /* Top 1: v0 {cat}, v1 {dog}, v2 {car}, v3 {}.
     *   cat 1 1 2, dog 1 1 1, car 0 1 0, sky 0 0 1
     * OP = 2/3, OR = 2/4, OF1 = 4/7; CP = (1 + 1 + 0)/3, CR = (1/2 + 1 + 0)/3. */
    CHECK(vtag_metrics_ml_prf_top_k(items, 4, N_LABELS, 1, &prf, &err) == 0, "%s", err.msg);
    check_prf(&prf, (const double[6]){2.0 / 3, 0.5, 4.0 / 7, 2.0 / 3, 0.5, 4.0 / 7}, "top-1");

    /* mAP over cat, dog, sky (car has no positive and is left out):
     * cat: v0 (.9 ✓), v1 (.6 ✓) → (1/1 + 2/2)/2 = 1;  dog: v1 (.8 ✓), v0 → 1/1 = 1;
     * sky: v2 (.3 ✗) only; v3 is true but never scores it → 0.  mAP = 2/3. */
    double v = -1;
    CHECK(vtag_metrics_ml_map(items, 4, N_LABELS, &v, &err) == 0, "%s", err.msg);
    CHECK_NEAR(v, 2.0 / 3, 1e-15, "mAP");

    /* GAP@2: pool .9 v0 cat ✓, .8 v1 dog ✓, .7 v2 car, .6 v0 dog, .6 v1 cat ✓,
     * .3 v2 sky (the .6 tie goes to the earlier video). 4 true labels in all:
     * (1/1 + 2/2 + 3/5)/4 = 0.65. GAP@1: ✓ ✓ ✗ → (1 + 1)/4. */
    CHECK(vtag_metrics_ml_gap(items, 4, N_LABELS, 2, &v, &err) == 0, "%s", err.msg);
    CHECK_NEAR(v, 0.65, 1e-15, "GAP@2");
    CHECK(vtag_metrics_ml_gap(items, 4, N_LABELS, 1, &v, &err) == 0, "%s", err.msg);
    CHECK_NEAR(v, 0.5, 1e-15, "GAP@1");
    CHECK(vtag_metrics_ml_gap(items, 4, N_LABELS, 20, &v, &err) == 0, "%s", err.msg);
    CHECK_NEAR(v, (1 + 1 + 3.0 / 5) / 4, 1e-15, "GAP@20 = GAP@2 here (.2 car adds no hit)");

    /* Hit@1: v0 ✓, v1 ✓, v2 ✗ (nothing true), v3 ✗ (nothing predicted) → 2/4. */
    CHECK(vtag_metrics_ml_hit(items, 4, N_LABELS, 1, &v, &err) == 0, "%s", err.msg);
    CHECK_NEAR(v, 0.5, 1e-15, "Hit@1");
    CHECK(vtag_metrics_ml_hit(items, 4, N_LABELS, 3, &v, &err) == 0, "%s", err.msg);
    CHECK_NEAR(v, 0.5, 1e-15, "Hit@3");
}

/* No true label anywhere, nothing predicted: every 0/0 is 0. */
static void test_empty(void)
{
    const int32_t p[] = {CAT};
    const double s[] = {0.1};
    const vtag_metrics_ml_item none[2] = {{p, s, 1, NULL, 0}, {NULL, NULL, 0, NULL, 0}};
    vtag_metrics_prf prf;
    vtag_error err = {0};
    double v = -1;
    CHECK(vtag_metrics_ml_prf_threshold(none, 2, N_LABELS, 0.5, &prf, &err) == 0, "%s", err.msg);
    check_prf(&prf, (const double[6]){0, 0, 0, 0, 0, 0}, "no truth, nothing predicted");
    CHECK(vtag_metrics_ml_prf_top_k(none, 2, N_LABELS, 1, &prf, &err) == 0, "%s", err.msg);
    check_prf(&prf, (const double[6]){0, 0, 0, 0, 0, 0}, "no truth, top 1");
    CHECK(vtag_metrics_ml_map(none, 2, N_LABELS, &v, &err) == 0 && v == 0, "mAP %g", v);
    CHECK(vtag_metrics_ml_gap(none, 2, N_LABELS, 5, &v, &err) == 0 && v == 0, "GAP %g", v);
    CHECK(vtag_metrics_ml_hit(none, 0, N_LABELS, 1, &v, &err) == 0 && v == 0, "Hit of nothing %g", v);
}

static void test_errors(void)
{
    vtag_metrics_prf prf;
    vtag_error err = {0};
    double v;
    const int32_t dup[] = {CAT, CAT}, out[] = {9};
    const double s[] = {0.5, 0.4}, bad[] = {NAN};
    const vtag_metrics_ml_item twice = {dup, s, 2, NULL, 0}, range = {out, s, 1, NULL, 0},
                               nan = {dup, bad, 1, NULL, 0}, true_twice = {NULL, NULL, 0, dup, 2};
    CHECK(vtag_metrics_ml_prf_threshold(&twice, 1, N_LABELS, 0.5, &prf, &err) == VTAG_ERR_ARG, "duplicate");
    CHECK(vtag_metrics_ml_map(&range, 1, N_LABELS, &v, &err) == VTAG_ERR_ARG, "out of range");
    CHECK(vtag_metrics_ml_gap(&nan, 1, N_LABELS, 1, &v, &err) == VTAG_ERR_ARG, "NaN score");
    CHECK(vtag_metrics_ml_hit(&true_twice, 1, N_LABELS, 1, &v, &err) == VTAG_ERR_ARG, "true twice");
    CHECK(vtag_metrics_ml_gap(items, 4, N_LABELS, 0, &v, &err) == VTAG_ERR_ARG, "k = 0");
}

static void test_class_accuracy(void)
{
    const int32_t pred[] = {1, 2, 3, 4}, truth[] = {1, 0, 3, 0};
    CHECK_NEAR(vtag_metrics_class_accuracy(pred, truth, 4), 0.5, 0, "accuracy");
    CHECK(vtag_metrics_class_accuracy(pred, truth, 0) == 0.0, "accuracy of nothing");
}

int main(void)
{
    test_hand();
    test_empty();
    test_errors();
    test_class_accuracy();
    return check_summary("metrics/test_multilabel");
}

/* vtag eval's calibration figures on a hand-made case: reliability bins,
 * ECE, the 1.0 edge, labels never seen in training, missing and failed
 * videos, high_n / high_right, and the refusal of a run that has none of the
 * split's videos. Every figure is computed by hand in the comments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/eval.h"

/* training labels: G g1 a b S s1 c (7); z only in the test split */
static const char *LABELS =
    "{\"video\": \"t1\", \"class1\": \"G\", \"class2\": \"g1\", \"tags\": [\"a\"], \"split\": \"train\"}\n"
    "{\"video\": \"t2\", \"class1\": \"G\", \"class2\": \"g1\", \"tags\": [\"b\"], \"split\": \"train\"}\n"
    "{\"video\": \"t3\", \"class1\": \"S\", \"class2\": \"s1\", \"tags\": [\"c\"], \"split\": \"train\"}\n"
    "{\"video\": \"v1\", \"class1\": \"G\", \"class2\": \"g1\", \"tags\": [\"a\"], \"split\": \"test\"}\n"
    "{\"video\": \"v2\", \"class1\": \"S\", \"class2\": \"s1\", \"tags\": [\"c\"], \"split\": \"test\"}\n"
    "{\"video\": \"v3\", \"class1\": \"G\", \"class2\": \"z\", \"tags\": [\"b\"], \"split\": \"test\"}\n";

static void make(vtag_tag_result *r, const char *video, const vtag_tag_label *labels, int64_t n_labels,
                 const vtag_tag_label *tags, int64_t n_tags)
{
    vtag_error err = {0};
    CHECK(vtag_tag_result_make(r, video, "G", NULL, labels, n_labels, tags, n_tags, NULL, 0, &err) == 0, "make %s: %s",
          video, err.msg);
}

static const vtag_eval_scores *class_scores(const vtag_eval *e, const char *class1, int run)
{
    for (int64_t k = 0; k < e->n_classes; k++)
        if (strcmp(e->classes[k].class1, class1) == 0) return &e->classes[k].scores[run];
    CHECK(0, "no class %s", class1);
    return NULL;
}

int main(void)
{
    vtag_error err = {0};
    FILE *f = fopen("calibration_labels.jsonl", "wb");
    CHECK(f != NULL, "cannot write the labels");
    if (!f) return check_summary("calibration/calibration");
    fputs(LABELS, f);
    fclose(f);
    vtag_data_labels labels;
    int rc = vtag_data_read_labels(&labels, "calibration_labels.jsonl", NULL, &err);
    CHECK(rc == 0, "labels: %s", err.msg);
    if (rc) return check_summary("calibration/calibration");

    /* run "m": v1 and v2 scored, v3 missing; "zz" is no label of the file, "S" in v1 below 0.1 */
    const vtag_tag_label l1[] = {{"G", 3, 1.0}, {"g1", 3, 0.95}, {"b", 2, 0.92}, {"a", 1, 0.35}, {"S", 0, 0.05}};
    const vtag_tag_label l2[] = {{"zz", 3, 0.99}, {"S", 3, 0.9}, {"c", 1, 0.5}, {"G", 0, 0.15}};
    vtag_tag_result *items = calloc(2, sizeof *items);
    make(&items[0], "v1", l1, 5, l1, 2);
    make(&items[1], "v2", l2, 4, l2, 2);
    vtag_tag_results res, fails;
    CHECK(vtag_tag_results_adopt(&res, items, 2, &err) == 0, "adopt: %s", err.msg);
    /* run "f": v3 failed, the others missing: every score 0 */
    items = calloc(1, sizeof *items);
    CHECK(vtag_tag_fail_result(&items[0], "v3", "cannot decode", &err) == 0, "fail result: %s", err.msg);
    CHECK(vtag_tag_results_adopt(&fails, items, 1, &err) == 0, "adopt: %s", err.msg);

    vtag_eval_run runs[2] = {{"m", &res, 0}, {"f", &fails, 0}};
    vtag_eval_opts o;
    vtag_eval_opts_default(&o);
    CHECK(o.high_score == 0.9, "high_score defaults to 0.9");
    vtag_eval e;
    rc = vtag_eval_compute(&e, &labels, runs, 2, &o, &err);
    CHECK(rc == 0, "eval: %s", err.msg);
    if (!rc) {
        /* 3 videos x 7 training labels = 21 pairs (z is no training label, zz no label at all).
         * bin 0: v1 S .05 s1 c (wrong); v2 g1 a b (wrong) s1 (right); v3 all 7 at 0, G and b right
         *        -> n 14, mean .05/14, right 3/14
         * bin 1: v2 G .15 wrong; bin 3: v1 a .35 right; bin 5: v2 c .5 right
         * bin 9: v1 G 1.0 (the 1.0 edge) g1 .95 right, b .92 wrong; v2 S .9 right -> n 4, mean .9425, right .75
         * ECE = (|3 - .05| + .15 + .65 + .5 + 4 * .1925) / 21 = 5.02 / 21 */
        const vtag_eval_scores *s = &e.overall[0];
        CHECK(s->pairs == 21, "pairs %lld", (long long)s->pairs);
        const int64_t n[VTAG_EVAL_BINS] = {14, 1, 0, 1, 0, 1, 0, 0, 0, 4};
        const double sc[VTAG_EVAL_BINS] = {.05 / 14, .15, NAN, .35, NAN, .5, NAN, NAN, NAN, .9425};
        const double ok[VTAG_EVAL_BINS] = {3.0 / 14, 0, NAN, 1, NAN, 1, NAN, NAN, NAN, .75};
        for (int b = 0; b < VTAG_EVAL_BINS; b++) {
            CHECK(s->bins[b].n == n[b], "bin %d: n %lld, want %lld", b, (long long)s->bins[b].n, (long long)n[b]);
            if (n[b]) {
                CHECK_NEAR(s->bins[b].score, sc[b], 1e-12, "bin mean score");
                CHECK_NEAR(s->bins[b].right, ok[b], 1e-12, "bin fraction right");
            } else {
                CHECK(isnan(s->bins[b].score) && isnan(s->bins[b].right), "empty bin %d is NaN", b);
            }
        }
        CHECK_NEAR(s->ece, 5.02 / 21, 1e-12, "ECE");
        CHECK(s->high_n == 4, "high_n %lld (0.9 itself counts)", (long long)s->high_n);
        CHECK_NEAR(s->high_right, 0.75, 1e-12, "high_right");
        /* class S = v2 alone: 7 pairs, S .9 right is its only high pair */
        const vtag_eval_scores *cs = class_scores(&e, "S", 0);
        CHECK(cs && cs->pairs == 7 && cs->high_n == 1 && cs->high_right == 1.0, "class S calibration");
        /* run "f": 21 pairs at 0, right: v1 G g1 a, v2 S s1 c, v3 G b = 8; ECE = 8/21 */
        const vtag_eval_scores *fs = &e.overall[1];
        CHECK(fs->failed == 1 && fs->missing == 2 && fs->pairs == 21 && fs->bins[0].n == 21, "failed run pairs");
        CHECK_NEAR(fs->ece, 8.0 / 21, 1e-12, "failed run ECE");
        CHECK(fs->high_n == 0 && isnan(fs->high_right), "no high pair: high_right NaN");
        char line[256];
        vtag_eval_calibration_line(&e, 0, line, sizeof line);
        CHECK(strcmp(line, "m: labels scored >= 0.90 are right 75.0% of the time (4 of 21 label-video pairs); ECE 0.239; "
                             "unknown 0 of 3 videos") == 0,
              "line: %s", line);
        vtag_eval_calibration_line(&e, 1, line, sizeof line);
        CHECK(strcmp(line, "f: no label scored >= 0.90 (of 21 label-video pairs); ECE 0.381; unknown 0 of 3 videos") == 0,
              "line: %s", line);
        char *json = NULL;
        CHECK(vtag_eval_to_json(&e, &json, &err) == 0, "json: %s", err.msg);
        CHECK(json && strstr(json, "\"high_score\": 0.9") && strstr(json, "\"high_n\": 4") &&
                  strstr(json, "\"high_right\": null") && strstr(json, "\"reliability\": [{\"n\": 14,"),
              "json calibration fields");
        /* per label, by training videos: G (2 training videos) first; test videos v1, v3 have it;
         * run m tags it on v1 (right): P 1, R 1/2 */
        CHECK(json && strstr(json, "\"per_label\": [{\"label\": \"G\", \"train\": 2, \"support\": 2, \"runs\": "
                                   "{\"m\": {\"tagged\": 1, \"P\": 1.0, \"R\": 0.5, \"F1\": 0.666666666667}"),
              "json per_label");
        free(json);
        vtag_eval_free(&e);
    }

    /* a higher threshold: G 1.0 and g1 .95, both right */
    o.high_score = 0.93;
    rc = vtag_eval_compute(&e, &labels, runs, 1, &o, &err);
    CHECK(rc == 0 && e.overall[0].high_n == 2 && e.overall[0].high_right == 1.0, "high_score 0.93");
    if (!rc) vtag_eval_free(&e);
    /* threshold 0: every pair counts, the unscored ones too; right: 3 + 1 + 1 + 3 = 8 of 21 */
    o.high_score = 0;
    rc = vtag_eval_compute(&e, &labels, runs, 1, &o, &err);
    CHECK(rc == 0 && e.overall[0].high_n == 21, "high_score 0: every pair");
    if (!rc) CHECK_NEAR(e.overall[0].high_right, 8.0 / 21, 1e-12, "high_score 0: fraction right");
    if (!rc) vtag_eval_free(&e);
    o.high_score = 1.5;
    CHECK(vtag_eval_compute(&e, &labels, runs, 1, &o, &err) == VTAG_ERR_ARG, "high_score 1.5 refused");

    /* a run with none of the split's videos: refused, naming the run's file and the labels */
    vtag_tag_results other;
    items = calloc(2, sizeof *items);
    make(&items[0], "t1", l1, 1, l1, 1);
    make(&items[1], "elsewhere", l1, 1, l1, 1);
    CHECK(vtag_tag_results_adopt(&other, items, 2, &err) == 0, "adopt: %s", err.msg);
    vtag_eval_run bad[2] = {{"m", &res, 0}, {"o", &other, 0}};
    const char *sources[2] = {"m.jsonl", "o.jsonl"};
    vtag_eval_opts_default(&o);
    o.sources = sources;
    rc = vtag_eval_compute(&e, &labels, bad, 2, &o, &err);
    CHECK(rc == VTAG_ERR_ARG && strcmp(err.msg, "eval: none of the 2 videos in o.jsonl is a test video of "
                                                 "calibration_labels.jsonl") == 0,
          "no matching video: %d %s", rc, err.msg);
    o.split = VTAG_DATA_SPLIT_VAL;
    rc = vtag_eval_compute(&e, &labels, runs, 1, &o, &err);
    CHECK(rc == VTAG_ERR_ARG && strstr(err.msg, "no val video"), "a split with no video: %s", err.msg);

    vtag_tag_results_free(&res);
    vtag_tag_results_free(&fails);
    vtag_tag_results_free(&other);
    vtag_data_free_labels(&labels);
    return check_summary("calibration/calibration");
}

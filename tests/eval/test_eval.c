/* vtag eval on a hand-made case: 3 test videos, one run with known tags and
 * one missing video, and a CNN baseline read from a predict file; every
 * figure checked against values computed by hand (see the comments). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/eval.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static const char *LABELS =
    "{\"video\": \"t1\", \"class1\": \"G\", \"class2\": \"g1\", \"tags\": [\"a\"], \"split\": \"train\"}\n"
    "{\"video\": \"t2\", \"class1\": \"G\", \"class2\": \"g1\", \"tags\": [\"b\"], \"split\": \"train\"}\n"
    "{\"video\": \"t3\", \"class1\": \"G\", \"class2\": \"g2\", \"tags\": [\"a\"], \"split\": \"train\"}\n"
    "{\"video\": \"t4\", \"class1\": \"S\", \"class2\": \"s1\", \"tags\": [\"c\"], \"split\": \"train\"}\n"
    "{\"video\": \"v1\", \"class1\": \"G\", \"class2\": \"g1\", \"tags\": [\"b\", \"a\"], \"split\": \"test\"}\n"
    "{\"video\": \"v2\", \"class1\": \"G\", \"class2\": \"g2\", \"tags\": [\"a\"], \"split\": \"test\"}\n"
    "{\"video\": \"v3\", \"class1\": \"S\", \"class2\": \"s1\", \"tags\": [\"c\"], \"split\": \"test\"}\n";

static void make(vtag_tag_result *r, const char *video, const char *c1, const char *c2, const vtag_tag_label *tags,
                 int64_t n_tags, const vtag_tag_label *labels, int64_t n_labels)
{
    vtag_error err = {0};
    int rc = vtag_tag_result_make(r, video, c1, c2, labels, n_labels, tags, n_tags, NULL, 0, &err);
    CHECK(rc == 0, "make %s: %s", video, err.msg);
}

/* CIDEr-D of cand against ref with df from the three test references (v1's
 * as v1_ref), by the metrics module's naive twin, on ids the test assigns
 * itself. */
static double naive_cider_df(const char *cand, const char *ref, const char *v1_ref)
{
    const char *refs_txt[3] = {v1_ref, "G g2 a", "S s1 c"};
    const char *vocab[] = {"G", "g1", "g2", "a", "b", "S", "s1", "c"};
    int32_t buf[5][8];
    int64_t len[5] = {0};
    const char *txt[5] = {refs_txt[0], refs_txt[1], refs_txt[2], cand, ref};
    for (int s = 0; s < 5; s++) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%s", txt[s]);
        for (char *tok = strtok(tmp, " "); tok; tok = strtok(NULL, " "))
            for (int32_t id = 0; id < 8; id++)
                if (strcmp(tok, vocab[id]) == 0) buf[s][len[s]++] = id;
    }
    vtag_metrics_seq seqs[5];
    vtag_metrics_item items[3];
    for (int s = 0; s < 5; s++) seqs[s] = (vtag_metrics_seq){buf[s], len[s]};
    for (int i = 0; i < 3; i++) items[i] = (vtag_metrics_item){seqs[i], &seqs[i], 1};
    double score = NAN;
    vtag_error err = {0};
    CHECK(vtag_metrics_cider_d_naive(items, 3, seqs[3], &seqs[4], 1, &score, &err) == 0, "naive: %s", err.msg);
    return score;
}

static double naive_cider(const char *cand, const char *ref) { return naive_cider_df(cand, ref, "G g1 a b"); }

/* Tag files name videos as they were given to vtag tag: found by the id in
 * the labels file, by that id resolved against the labels file's folder, or
 * by real path. */
static void test_paths(void)
{
    vtag_error err = {0};
    mkdir("eval_paths", 0755);
    mkdir("eval_paths/clips", 0755);
    write_file("eval_paths/clips/c.mp4", "");
    write_file("eval_paths/labels.jsonl",
               "{\"video\": \"clips/a.mp4\", \"class1\": \"G\", \"class2\": \"g\", \"tags\": [], \"split\": \"test\"}\n"
               "{\"video\": \"clips/b.mp4\", \"class1\": \"G\", \"class2\": \"g\", \"tags\": [], \"split\": \"test\"}\n"
               "{\"video\": \"clips/c.mp4\", \"class1\": \"G\", \"class2\": \"g\", \"tags\": [], \"split\": \"test\"}\n"
               "{\"video\": \"clips/d.mp4\", \"class1\": \"G\", \"class2\": \"g\", \"tags\": [], \"split\": \"test\"}\n");
    vtag_data_labels labels;
    int rc = vtag_data_read_labels(&labels, "eval_paths/labels.jsonl", NULL, &err);
    CHECK(rc == 0, "labels: %s", err.msg);
    if (rc) return;
    vtag_tag_result *items = calloc(3, sizeof *items);
    const vtag_tag_label t[] = {{"G", 1, 1.0}};
    make(&items[0], "clips/a.mp4", "G", NULL, t, 1, t, 1);                      /* as in the labels file */
    make(&items[1], "eval_paths/clips/b.mp4", "G", NULL, t, 1, t, 1);           /* resolved path */
    make(&items[2], "eval_paths/../eval_paths/./clips/c.mp4", "G", NULL, t, 1, t, 1); /* same file */
    vtag_tag_results res;
    CHECK(vtag_tag_results_adopt(&res, items, 3, &err) == 0, "adopt");
    vtag_eval_run run = {"m", &res, 0};
    vtag_eval e;
    rc = vtag_eval_compute(&e, &labels, &run, 1, NULL, &err);
    CHECK(rc == 0, "eval: %s", err.msg);
    if (!rc) {
        CHECK(e.videos[0].pred[0] == &res.items[0], "found by id");
        CHECK(e.videos[1].pred[0] == &res.items[1], "found by resolved path");
        CHECK(e.videos[2].pred[0] == &res.items[2], "found by real path");
        CHECK(e.videos[3].pred[0] == NULL && e.overall[0].missing == 1, "d is missing");
        CHECK_NEAR(e.overall[0].class1_acc, 0.75, 1e-12, "class1 accuracy 3/4");
        vtag_eval_free(&e);
    }
    vtag_tag_results_free(&res);
    vtag_data_free_labels(&labels);
    unlink("eval_paths/clips/c.mp4");
    unlink("eval_paths/labels.jsonl");
    rmdir("eval_paths/clips");
    rmdir("eval_paths");
}

int main(void)
{
    test_paths();
    vtag_error err = {0};
    write_file("eval_labels.jsonl", LABELS);
    vtag_data_labels labels;
    int rc = vtag_data_read_labels(&labels, "eval_labels.jsonl", NULL, &err);
    CHECK(rc == 0, "labels: %s", err.msg);
    if (rc) return check_summary("eval/eval");

    /* run "m": v1 and v2 tagged, v3 missing */
    vtag_tag_result *items = calloc(2, sizeof *items);
    const vtag_tag_label t1[] = {{"G", 4, 1.0}, {"g1", 3, 0.8}, {"a", 2, 0.6}};
    const vtag_tag_label l1[] = {{"G", 4, 1.0}, {"g1", 3, 0.8}, {"a", 2, 0.6}, {"c", 1, 0.2}};
    const vtag_tag_label t2[] = {{"G", 4, 1.0}, {"g1", 3, 0.9}, {"b", 2, 0.5}};
    const vtag_tag_label l2[] = {{"G", 4, 1.0}, {"g1", 3, 0.9}, {"b", 2, 0.5}, {"a", 1, 0.4}};
    make(&items[0], "v1", "G", "g1", t1, 3, l1, 4);
    make(&items[1], "v2", "G", "g1", t2, 3, l2, 4);
    vtag_tag_results res;
    CHECK(vtag_tag_results_adopt(&res, items, 2, &err) == 0, "adopt: %s", err.msg);

    /* baseline: v1 ranked a G x g2 S → class1 G, class2 g2, tags (top 2) a G;
     * v2 failed; v3 S c → class1 S, no class2, tags S c */
    write_file("eval_baseline.jsonl",
               "{\"video\": \"v1\", \"labels\": [{\"label\": \"x\", \"score\": 0.7}, {\"label\": \"a\", \"score\": 0.9}, "
               "{\"label\": \"G\", \"score\": 0.8}, {\"label\": \"g2\", \"score\": 0.6}, {\"label\": \"S\", \"score\": 0.5}], "
               "\"frames\": []}\n"
               "{\"video\": \"v2\", \"error\": \"cannot decode\"}\n"
               "{\"video\": \"v3\", \"labels\": [{\"label\": \"c\", \"score\": 0.3}, {\"label\": \"S\", \"score\": 0.95}]}\n");
    vtag_tag_results base;
    rc = vtag_eval_read_baseline(&base, "eval_baseline.jsonl", &labels, 2, 0.0, &err);
    CHECK(rc == 0, "baseline: %s", err.msg);
    if (!rc) {
        const vtag_tag_result *b1 = &base.items[0], *b3 = &base.items[2];
        CHECK(strcmp(b1->class1, "G") == 0 && strcmp(b1->class2, "g2") == 0 && b1->n_tags == 2 &&
                  strcmp(b1->tags[0].label, "a") == 0 && strcmp(b1->tags[1].label, "G") == 0 && b1->n_labels == 5,
              "baseline v1");
        CHECK(base.items[1].error != NULL, "baseline v2 failed");
        CHECK(strcmp(b3->class1, "S") == 0 && b3->class2 == NULL && b3->n_tags == 2, "baseline v3");
    }

    vtag_eval_run runs[2] = {{"m", &res, 0}, {"baseline", &base, 1}};
    vtag_eval_opts o;
    vtag_eval_opts_default(&o);
    vtag_eval e;
    rc = vtag_eval_compute(&e, &labels, runs, rc ? 1 : 2, &o, &err);
    CHECK(rc == 0, "eval: %s", err.msg);
    if (!rc) {
        const vtag_eval_scores *s = &e.overall[0];
        CHECK(e.n_videos == 3 && s->videos == 3 && s->missing == 1 && s->failed == 0, "counts");
        /* tags as predicted sets: v1 {G g1 a} vs {G g1 a b}: 3 of 3, 4 true;
         * v2 {G g1 b} vs {G g2 a}: 1 of 3, 3 true; v3 nothing, 3 true.
         * OP = 4/6, OR = 4/10, OF1 = 2·4/(6+10) = 0.5 */
        CHECK_NEAR(s->tags.overall_p, 4.0 / 6.0, 1e-12, "OP");
        CHECK_NEAR(s->tags.overall_r, 0.4, 1e-12, "OR");
        CHECK_NEAR(s->tags.overall_f1, 0.5, 1e-12, "OF1");
        /* per label over the 8 true labels (P, R): G (1, 1), g1 (1/2, 1),
         * g2 (0, 0), a (1, 1/2), b (0, 0), S, s1, c (0, 0) → CP = CR = 2.5/8 */
        CHECK_NEAR(s->tags.class_p, 2.5 / 8, 1e-12, "CP");
        CHECK_NEAR(s->tags.class_r, 2.5 / 8, 1e-12, "CR");
        CHECK_NEAR(s->tags.class_f1, 2.5 / 8, 1e-12, "CF1");
        /* top 3 by score are the tags here */
        CHECK_NEAR(s->top_k.overall_f1, 0.5, 1e-12, "OF1@3");
        /* GAP@20: pooled G✓1.0 G✓1.0 g1✗.9 g1✓.8 a✓.6 b✗.5 a✓.4 c✗.2 →
         * (1 + 1 + 3/4 + 4/5 + 5/7) / 10 true labels */
        CHECK_NEAR(s->gap, (1 + 1 + 0.75 + 0.8 + 5.0 / 7) / 10, 1e-12, "GAP@20");
        CHECK_NEAR(s->class1_acc, 2.0 / 3, 1e-12, "class1 accuracy");
        CHECK_NEAR(s->class2_acc, 1.0 / 3, 1e-12, "class2 accuracy");
        /* captions: predicted class1 class2 tags with repeats removed;
         * references class1 class2 tags in canonical order (a is in two
         * training videos, b in one: "G g1 a b") */
        double c1 = naive_cider("G g1 a", "G g1 a b"), c2 = naive_cider("G g1 b", "G g2 a");
        CHECK_NEAR(e.videos[0].cider_d[0], c1, 1e-9, "CIDEr-D v1");
        CHECK_NEAR(e.videos[1].cider_d[0], c2, 1e-9, "CIDEr-D v2");
        CHECK_NEAR(e.videos[2].cider_d[0], 0, 0, "CIDEr-D of a missing video");
        CHECK_NEAR(s->cider_d, (c1 + c2) / 3, 1e-9, "CIDEr-D mean");
        CHECK(c1 > 0 && c2 > 0, "non-trivial CIDEr-D (%g, %g)", c1, c2);
        /* BLEU-1: clipped unigram matches 3 + 1 + 0 of 6 guessed; c = 6,
         * r = 4 + 3 + 3 = 10 → brevity exp(1 - 10/6) (coco's form) */
        double bp = exp(1 - 1 / ((6 + 1e-15) / (10 + 1e-9)));
        CHECK_NEAR(s->bleu[0], (4 + 1e-15) / (6 + 1e-9) * bp, 1e-9, "BLEU-1");

        /* classes: G has 3 training videos of 4 → the head; S the tail */
        CHECK(e.n_classes == 2 && strcmp(e.classes[0].class1, "G") == 0 && e.classes[0].head == 1 &&
                  e.classes[0].train_videos == 3 && e.classes[0].videos == 2 && strcmp(e.classes[1].class1, "S") == 0 &&
                  e.classes[1].head == 0 && e.classes[1].videos == 1,
              "classes and head/tail");
        const vtag_eval_scores *g = &e.classes[0].scores[0], *sc = &e.classes[1].scores[0];
        CHECK_NEAR(g->tags.overall_f1, 8.0 / 13, 1e-12, "G: OF1 = 2·4/(6+7)");
        CHECK_NEAR(g->class1_acc, 1, 0, "G: class1 accuracy");
        CHECK_NEAR(g->class2_acc, 0.5, 0, "G: class2 accuracy");
        CHECK(sc->videos == 1 && sc->missing == 1 && sc->tags.overall_f1 == 0 && sc->class1_acc == 0, "S");
        CHECK_NEAR(e.head[0].tags.overall_f1, 8.0 / 13, 1e-12, "head = G");
        CHECK(e.tail[0].videos == 1 && e.tail[0].missing == 1, "tail = S");
        CHECK(e.videos[2].pred[0] == NULL && e.videos[0].pred[0] == &res.items[0], "per-video predictions");

        if (e.n_runs == 2) {
            /* baseline: v1 {a G} 2 of 2; v2 failed; v3 {S c} 2 of 2; 10 true →
             * OP 1, OR 0.4, OF1 = 8/14; class1 G ✓, —, S ✓; class2 g2 ✗, —, none */
            const vtag_eval_scores *b = &e.overall[1];
            CHECK(b->failed == 1 && b->missing == 0, "baseline counts");
            CHECK_NEAR(b->tags.overall_p, 1, 1e-12, "baseline OP");
            CHECK_NEAR(b->tags.overall_f1, 8.0 / 14, 1e-12, "baseline OF1");
            CHECK_NEAR(b->class1_acc, 2.0 / 3, 1e-12, "baseline class1 accuracy");
            CHECK_NEAR(b->class2_acc, 0, 0, "baseline class2 accuracy");
        }

        char *json = NULL;
        CHECK(vtag_eval_to_json(&e, &json, &err) == 0 && json, "json: %s", err.msg);
        CHECK(json && strstr(json, "\"OF1\": 0.5,") && strstr(json, "\"status\": \"missing\"") &&
                  strstr(json, "\"error\": \"cannot decode\""),
              "json content: %.300s", json ? json : "");
        free(json);
        vtag_eval_free(&e);
    }

    /* references with the labels' tag order (vtag train --keep-tag-order): v1
     * lists b before a, so its reference is "G g1 b a" and a guess in that
     * order scores higher than one in frequency order */
    o.keep_tag_order = 1;
    vtag_tag_result *kept = calloc(1, sizeof *kept);
    const vtag_tag_label tk[] = {{"G", 4, 1.0}, {"g1", 3, 0.8}, {"b", 2, 0.7}, {"a", 2, 0.6}};
    make(&kept[0], "v1", "G", "g1", tk, 4, tk, 4);
    vtag_tag_results kres;
    CHECK(vtag_tag_results_adopt(&kres, kept, 1, &err) == 0, "adopt: %s", err.msg);
    vtag_eval_run krun = {"kept", &kres, 0};
    CHECK(vtag_eval_compute(&e, &labels, &krun, 1, &o, &err) == 0, "keep order: %s", err.msg);
    double ck = naive_cider_df("G g1 b a", "G g1 b a", "G g1 b a");
    CHECK_NEAR(e.videos[0].cider_d[0], ck, 1e-9, "CIDEr-D, labels' order");
    vtag_eval_free(&e);
    o.keep_tag_order = 0;
    CHECK(vtag_eval_compute(&e, &labels, &krun, 1, &o, &err) == 0, "frequency order: %s", err.msg);
    double cf = naive_cider("G g1 b a", "G g1 a b");
    CHECK_NEAR(e.videos[0].cider_d[0], cf, 1e-9, "CIDEr-D, frequency order");
    CHECK(ck > cf, "the order counts (%g vs %g)", ck, cf);
    vtag_eval_free(&e);
    vtag_tag_results_free(&kres);

    /* df from the training references, and argument errors */
    o.df_train = 1;
    CHECK(vtag_eval_compute(&e, &labels, runs, 1, &o, &err) == 0, "df train: %s", err.msg);
    vtag_eval_free(&e);
    o.df_train = 0;
    o.split = VTAG_DATA_SPLIT_VAL;
    CHECK(vtag_eval_compute(&e, &labels, runs, 1, &o, &err) == VTAG_ERR_ARG && strstr(err.msg, "no val video"),
          "empty split: %s", err.msg);
    CHECK(vtag_eval_compute(&e, &labels, runs, 0, NULL, &err) == VTAG_ERR_ARG, "no runs");
    vtag_eval_run twice[2] = {{"m", &res, 0}, {"m", &res, 0}};
    CHECK(vtag_eval_compute(&e, &labels, twice, 2, NULL, &err) == VTAG_ERR_ARG && strstr(err.msg, "two runs"),
          "run names must differ: %s", err.msg);

    vtag_tag_results_free(&base);
    write_file("eval_baseline_bad.jsonl", "{\"video\": \"v1\", \"labels\": [{\"label\": \"a\"}]}\n");
    CHECK(vtag_eval_read_baseline(&base, "eval_baseline_bad.jsonl", &labels, 2, 0.0, &err) == VTAG_ERR_FORMAT &&
              strstr(err.msg, "eval_baseline_bad.jsonl:1:"),
          "bad baseline: %s", err.msg);
    vtag_tag_results_free(&base);
    vtag_tag_results_free(&res);
    vtag_data_free_labels(&labels);
    unlink("eval_labels.jsonl");
    unlink("eval_baseline.jsonl");
    unlink("eval_baseline_bad.jsonl");
    return check_summary("eval/eval");
}

/* Frame captions → video tags on constructed cases: counts once per frame,
 * ranking ties, class1/class2, --top-n and --min-frames exactly as defined
 * (ties at the cut, N beyond the label count, C = 0, no frames, one frame),
 * and the token-id entry point. */
#include <string.h>

#include "check.h"
#include "vtag/tag.h"

#define NF(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

static vtag_tag_result run(const vtag_tag_frame *f, int64_t n, vtag_tag_rule rule, int64_t value)
{
    vtag_tag_opts o;
    vtag_tag_opts_default(&o);
    o.min_score = 0; /* the counting rules alone (tests/tag/test_scores.c: the threshold) */
    o.rule = rule;
    if (rule == VTAG_TAG_RULE_TOP_N) o.top_n = value;
    else o.min_frames = value;
    vtag_tag_result r;
    vtag_error err = {0};
    int rc = vtag_tag_aggregate(&r, "v.mp4", f, n, &o, &err);
    CHECK(rc == 0, "aggregate: %s", err.msg);
    return r;
}

/* "A t1 X" → the tags must be exactly these labels in this order. */
static void expect_tags(const vtag_tag_result *r, const char *want, const char *what)
{
    char got[512] = "";
    for (int64_t i = 0; i < r->n_tags; i++) {
        if (i) strcat(got, " ");
        strcat(got, r->tags[i].label);
    }
    CHECK(strcmp(got, want) == 0, "%s: tags \"%s\", want \"%s\"", what, got, want);
}

static void expect_labels(const vtag_tag_result *r, const char *want, const char *what)
{
    char got[512] = "";
    for (int64_t i = 0; i < r->n_labels; i++) {
        char one[64];
        snprintf(one, sizeof one, "%s%s:%lld", i ? " " : "", r->labels[i].label, (long long)r->labels[i].frames);
        strcat(got, one);
    }
    CHECK(strcmp(got, want) == 0, "%s: labels \"%s\", want \"%s\"", what, got, want);
}

static void test_main_case(void)
{
    static const char *f0[] = {"A", "X", "t1", "t2"}, *f1[] = {"A", "X", "t2", "t3"}, *f2[] = {"B", "Y", "t1"},
                      *f3[] = {"A", "Z", "t3", "t1"};
    const vtag_tag_frame fr[] = {{0.5, f0, 4}, {1.5, f1, 4}, {2.5, f2, 3}, {3.5, f3, 4}};
    /* counts: A 3, t1 3, X 2, t2 2, t3 2, B 1, Y 1, Z 1; first appearance
     * A X t1 t2 t3 B Y Z, so the ranking is A t1 X t2 t3 B Y Z */
    vtag_tag_result r = run(fr, 4, VTAG_TAG_RULE_TOP_N, 5);
    CHECK(r.class1 && strcmp(r.class1, "A") == 0, "class1 %s", r.class1 ? r.class1 : "(null)");
    CHECK(r.class2 && strcmp(r.class2, "X") == 0, "class2 %s", r.class2 ? r.class2 : "(null)");
    expect_labels(&r, "A:3 t1:3 X:2 t2:2 t3:2 B:1 Y:1 Z:1", "ranking");
    CHECK_NEAR(r.labels[0].score, 0.75, 0, "score A = 3/4");
    CHECK_NEAR(r.labels[7].score, 0.25, 0, "score Z = 1/4");
    expect_tags(&r, "A t1 X t2 t3", "top-n 5");
    CHECK(r.tags[2].frames == 2 && r.tags[2].score == 0.5, "tag carries frames and score");
    CHECK(r.n_frames == 4 && r.frames[3].pts_seconds == 3.5 && r.frames[3].n_tokens == 4 &&
              strcmp(r.frames[3].tokens[1], "Z") == 0,
          "frames copied");
    vtag_tag_result_free(&r);

    struct {
        vtag_tag_rule rule;
        int64_t v;
        const char *want;
    } cases[] = {
        {VTAG_TAG_RULE_TOP_N, 0, ""},
        {VTAG_TAG_RULE_TOP_N, 1, "A"},
        {VTAG_TAG_RULE_TOP_N, 2, "A t1"},                   /* tie at 3 frames: first appearance */
        {VTAG_TAG_RULE_TOP_N, 3, "A t1 X"},                 /* cut inside the 2-frame tie: X came first */
        {VTAG_TAG_RULE_TOP_N, 8, "A t1 X t2 t3 B Y Z"},
        {VTAG_TAG_RULE_TOP_N, 100, "A t1 X t2 t3 B Y Z"},   /* N beyond the label count: all */
        {VTAG_TAG_RULE_MIN_FRAMES, 0, "A t1 X t2 t3 B Y Z"}, /* C = 0: every label seen */
        {VTAG_TAG_RULE_MIN_FRAMES, 1, "A t1 X t2 t3"},      /* more than 1 frame */
        {VTAG_TAG_RULE_MIN_FRAMES, 2, "A t1"},              /* k = 2 is not more than 2 */
        {VTAG_TAG_RULE_MIN_FRAMES, 3, ""},                  /* nothing in more than 3 frames */
        {VTAG_TAG_RULE_MIN_FRAMES, 4, ""},
    };
    for (int i = 0; i < NF(cases); i++) {
        vtag_tag_result q = run(fr, 4, cases[i].rule, cases[i].v);
        char what[64];
        snprintf(what, sizeof what, "%s %lld", cases[i].rule == VTAG_TAG_RULE_TOP_N ? "top-n" : "min-frames",
                 (long long)cases[i].v);
        expect_tags(&q, cases[i].want, what);
        expect_labels(&q, "A:3 t1:3 X:2 t2:2 t3:2 B:1 Y:1 Z:1", what); /* labels do not depend on the rule */
        vtag_tag_result_free(&q);
    }
}

static void test_ties_and_repeats(void)
{
    /* class1 tie 2-2 between B and A: B was first as a first token. class2
     * within B's frames: Q and P once each, Q first. A label repeated inside
     * a caption counts once for that frame. */
    static const char *f0[] = {"B", "Q", "x", "x"}, *f1[] = {"A", "P"}, *f2[] = {"A", "R", "x"}, *f3[] = {"B", "P"};
    const vtag_tag_frame fr[] = {{0, f0, 4}, {1, f1, 2}, {2, f2, 3}, {3, f3, 2}};
    vtag_tag_result r = run(fr, 4, VTAG_TAG_RULE_TOP_N, 3);
    CHECK(r.class1 && strcmp(r.class1, "B") == 0, "class1 tie: %s", r.class1 ? r.class1 : "(null)");
    CHECK(r.class2 && strcmp(r.class2, "Q") == 0, "class2 tie: %s", r.class2 ? r.class2 : "(null)");
    /* B 2, Q 1, x 2 (once in f0), A 2, P 2, R 1 → B x A P Q R */
    expect_labels(&r, "B:2 x:2 A:2 P:2 Q:1 R:1", "repeat counted once per frame");
    expect_tags(&r, "B x A", "top-n 3 with ties");
    vtag_tag_result_free(&r);

    /* class2 comes only from class1 frames: Y is the most frequent second
     * token overall but never follows A. */
    static const char *g0[] = {"A", "X"}, *g1[] = {"B", "Y"}, *g2[] = {"C", "Y"}, *g3[] = {"A"}, *g4[] = {"A", "Z"},
                      *g5[] = {"D", "Y"};
    const vtag_tag_frame gr[] = {{0, g0, 2}, {1, g1, 2}, {2, g2, 2}, {3, g3, 1}, {4, g4, 2}, {5, g5, 2}};
    r = run(gr, 6, VTAG_TAG_RULE_MIN_FRAMES, 0);
    CHECK(r.class1 && strcmp(r.class1, "A") == 0, "class1 A");
    CHECK(r.class2 && strcmp(r.class2, "X") == 0, "class2 from A's frames only: %s", r.class2 ? r.class2 : "(null)");
    vtag_tag_result_free(&r);

    /* class1 frames with one token only: no class2 */
    static const char *h0[] = {"A"}, *h1[] = {"B", "Y"}, *h2[] = {"A"};
    const vtag_tag_frame hr[] = {{0, h0, 1}, {1, h1, 2}, {2, h2, 1}};
    r = run(hr, 3, VTAG_TAG_RULE_TOP_N, 5);
    CHECK(r.class1 && strcmp(r.class1, "A") == 0 && r.class2 == NULL, "no class2");
    vtag_tag_result_free(&r);
}

static void test_degenerate(void)
{
    vtag_tag_result r = run(NULL, 0, VTAG_TAG_RULE_TOP_N, 5);
    CHECK(r.class1 == NULL && r.class2 == NULL && r.n_labels == 0 && r.n_tags == 0 && r.n_frames == 0, "no frames");
    vtag_tag_result_free(&r);
    r = run(NULL, 0, VTAG_TAG_RULE_MIN_FRAMES, 0);
    CHECK(r.n_tags == 0, "no frames, C = 0");
    vtag_tag_result_free(&r);

    /* empty captions still count in F */
    static const char *f1[] = {"A", "b"};
    const vtag_tag_frame fr[] = {{0, NULL, 0}, {1, f1, 2}, {2, NULL, 0}};
    r = run(fr, 3, VTAG_TAG_RULE_MIN_FRAMES, 0);
    CHECK(r.class1 && strcmp(r.class1, "A") == 0 && r.class2 && strcmp(r.class2, "b") == 0, "classes");
    expect_tags(&r, "A b", "empty captions, C = 0");
    CHECK_NEAR(r.tags[0].score, 1.0 / 3.0, 0, "F counts frames with empty captions");
    vtag_tag_result_free(&r);
    const vtag_tag_frame all_empty[] = {{0, NULL, 0}, {1, NULL, 0}};
    r = run(all_empty, 2, VTAG_TAG_RULE_TOP_N, 5);
    CHECK(r.class1 == NULL && r.n_labels == 0 && r.n_frames == 2, "only empty captions");
    vtag_tag_result_free(&r);

    /* one frame: every label has k = 1, score 1, caption order */
    static const char *o0[] = {"c1", "c2", "t"};
    const vtag_tag_frame one[] = {{7.25, o0, 3}};
    r = run(one, 1, VTAG_TAG_RULE_TOP_N, 2);
    expect_tags(&r, "c1 c2", "one frame, top-n 2");
    CHECK(r.tags[1].score == 1.0 && r.tags[1].frames == 1, "one frame: score 1");
    vtag_tag_result_free(&r);
    r = run(one, 1, VTAG_TAG_RULE_MIN_FRAMES, 0);
    expect_tags(&r, "c1 c2 t", "one frame, C = 0");
    vtag_tag_result_free(&r);
    r = run(one, 1, VTAG_TAG_RULE_MIN_FRAMES, 1);
    expect_tags(&r, "", "one frame, C = 1");
    vtag_tag_result_free(&r);
}

static void test_errors(void)
{
    vtag_tag_result r;
    vtag_error err = {0};
    vtag_tag_opts o;
    vtag_tag_opts_default(&o);
    CHECK(o.rule == VTAG_TAG_RULE_TOP_N && o.top_n == 10 && o.min_score == 0.25, "defaults: top-n 10, min-score 0.25");
    o.top_n = -1;
    CHECK(vtag_tag_aggregate(&r, "v", NULL, 0, &o, &err) == VTAG_ERR_ARG, "negative N");
    static const char *bad[] = {"A", ""};
    const vtag_tag_frame fr[] = {{0, bad, 2}};
    CHECK(vtag_tag_aggregate(&r, "v", fr, 1, NULL, &err) == VTAG_ERR_ARG && strstr(err.msg, "empty label"),
          "empty label: %s", err.msg);
    CHECK(vtag_tag_aggregate(&r, "", NULL, 0, NULL, &err) == VTAG_ERR_ARG, "empty video");
    CHECK(vtag_tag_fail_result(&r, "bad.mp4", "not a video", &err) == 0 && strcmp(r.error, "not a video") == 0 &&
              strcmp(r.video, "bad.mp4") == 0 && r.n_labels == 0,
          "error result");
    vtag_tag_result_free(&r);
}

static void test_ids(void)
{
    const char *vocab[] = {NULL, "A", "X", "t1"};
    const int32_t s0[] = {1, 2, 3, 0, 0}, s1[] = {1, 3, 0, 2, 2}, s2[] = {2, 1, 1, 1, 1};
    const vtag_tag_frame_ids fr[] = {{0.1, s0, 5}, {0.2, s1, 5}, {0.3, s2, 2}};
    vtag_tag_result r;
    vtag_error err = {0};
    int rc = vtag_tag_aggregate_ids(&r, "v", fr, 3, vocab, 3, NULL, &err);
    CHECK(rc == 0, "ids: %s", err.msg);
    if (!rc) {
        /* frames: [A X t1] [A t1] (ends at 0) [X A] (n_ids 2) */
        expect_labels(&r, "A:3 X:2 t1:2", "ids");
        CHECK(r.n_frames == 3 && r.frames[1].n_tokens == 2 && r.frames[2].n_tokens == 2, "caption ends at EOS");
        CHECK(strcmp(r.class1, "A") == 0 && strcmp(r.class2, "X") == 0, "ids classes");
        vtag_tag_result_free(&r);
    }
    const int32_t bad[] = {4};
    const vtag_tag_frame_ids fb[] = {{0, bad, 1}};
    CHECK(vtag_tag_aggregate_ids(&r, "v", fb, 1, vocab, 3, NULL, &err) == VTAG_ERR_ARG && strstr(err.msg, "id 4"),
          "id out of range: %s", err.msg);
}

int main(void)
{
    test_main_case();
    test_ties_and_repeats();
    test_degenerate();
    test_errors();
    test_ids();
    return check_summary("tag/aggregate");
}

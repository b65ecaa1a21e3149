/* Tags from the caption model's label scores (vtag_tag_apply_scores) and
 * the min_score threshold: ranking by score (ties by frames, then the frame
 * ranking, then id), rounding, labels only the scores know, the top-n and
 * min-frames rules with the threshold, "unknown", and the line's new fields
 * written and read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/tag.h"

static void joined(const vtag_tag_label *l, int64_t n, char *out, size_t cap)
{
    out[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i) strncat(out, " ", cap - strlen(out) - 1);
        strncat(out, l[i].label, cap - strlen(out) - 1);
    }
}

static void expect(const vtag_tag_label *l, int64_t n, const char *want, const char *what)
{
    char got[256];
    joined(l, n, got, sizeof got);
    CHECK(strcmp(got, want) == 0, "%s: \"%s\", want \"%s\"", what, got, want);
}

int main(void)
{
    /* vocabulary: 1 red, 2 blue, 3 x, 4 y, 5 kids */
    const char *vocab[] = {NULL, "red", "blue", "x", "y", "kids"};
    const char *f1[] = {"red", "x"}, *f2[] = {"red", "y"}, *f3[] = {"blue", "x"};
    vtag_tag_frame frames[] = {{0.0, f1, 2}, {1.0, f2, 2}, {2.0, f3, 2}};
    vtag_error err = {0};
    vtag_tag_opts o;
    vtag_tag_opts_default(&o);
    CHECK(o.min_score == VTAG_TAG_MIN_SCORE_DEFAULT, "default min_score %g", o.min_score);

    /* Counting alone: k/F scores, min_score applies to them. */
    vtag_tag_result r;
    o.min_score = 0.5;
    CHECK(vtag_tag_aggregate(&r, "v.mp4", frames, 3, &o, &err) == 0, "%s", err.msg);
    expect(r.labels, r.n_labels, "red x y blue", "count ranking");
    expect(r.tags, r.n_tags, "red x", "count tags >= 0.5");
    CHECK(!r.unknown, "count: not unknown");

    /* Scores re-rank: blue 0.9, red 0.62, y 0.62 (tie: red has more frames), x 0.3, kids 0.00004 (rounds to 0). */
    double s[] = {0, 0.62, 0.9, 0.3, 0.62, 0.00004};
    CHECK(vtag_tag_apply_scores(&r, s, vocab, 5, &o, &err) == 0, "%s", err.msg);
    expect(r.labels, r.n_labels, "blue red y x", "score ranking");
    expect(r.tags, r.n_tags, "blue red y", "score tags >= 0.5");
    CHECK(r.labels[0].frames == 1 && r.labels[1].frames == 2 && r.labels[3].frames == 2, "frames kept");
    CHECK(r.labels[0].score == 0.9 && r.class1 && strcmp(r.class1, "red") == 0, "score and class1 kept");
    CHECK(r.n_frames == 3, "frames kept");
    vtag_tag_result_free(&r);

    /* Top 2 then the threshold; a label seen only in the scores (kids). */
    double s2[] = {0, 0.2, 0.1, 0.05, 0.0, 0.7};
    o.top_n = 2;
    CHECK(vtag_tag_aggregate(&r, "v.mp4", frames, 3, &o, &err) == 0, "%s", err.msg);
    CHECK(vtag_tag_apply_scores(&r, s2, vocab, 5, &o, &err) == 0, "%s", err.msg);
    expect(r.labels, r.n_labels, "kids red blue x y", "scores: y keeps its place by frames");
    expect(r.tags, r.n_tags, "kids", "top 2, >= 0.5");
    CHECK(r.labels[0].frames == 0, "kids in no frame");
    vtag_tag_result_free(&r);

    /* Unknown: the best label under the threshold -> no tags. */
    double low[] = {0, 0.45, 0.2, 0.3, 0.1, 0};
    o.top_n = 5;
    CHECK(vtag_tag_aggregate(&r, "v.mp4", frames, 3, &o, &err) == 0, "%s", err.msg);
    CHECK(vtag_tag_apply_scores(&r, low, vocab, 5, &o, &err) == 0, "%s", err.msg);
    CHECK(r.unknown && r.n_tags == 0 && r.n_labels == 4, "unknown: %d tags %lld", r.unknown, (long long)r.n_tags);
    vtag_tag_result_free(&r);
    o.min_score = 0.45; /* at the threshold: a tag */
    CHECK(vtag_tag_aggregate(&r, "v.mp4", frames, 3, &o, &err) == 0, "%s", err.msg);
    CHECK(vtag_tag_apply_scores(&r, low, vocab, 5, &o, &err) == 0, "%s", err.msg);
    CHECK(!r.unknown, "score == min_score is not unknown");
    expect(r.tags, r.n_tags, "red", "score == min_score");
    vtag_tag_result_free(&r);

    /* min-frames with scores: frames > 1 among the ranking, then >= min_score. */
    o.rule = VTAG_TAG_RULE_MIN_FRAMES;
    o.min_frames = 1;
    o.min_score = 0.25;
    CHECK(vtag_tag_aggregate(&r, "v.mp4", frames, 3, &o, &err) == 0, "%s", err.msg);
    CHECK(vtag_tag_apply_scores(&r, s, vocab, 5, &o, &err) == 0, "%s", err.msg);
    expect(r.tags, r.n_tags, "red x", "min-frames 1, >= 0.25");

    /* The line: model, backbone, unknown; read back. */
    CHECK(vtag_tag_result_set_source(&r, "run/topdown.safetensors", "run/backbone.safetensors", &err) == 0, "%s",
          err.msg);
    char *line = NULL;
    CHECK(vtag_tag_to_json(&r, &line, &err) == 0, "%s", err.msg);
    CHECK(line && strstr(line, "\"model\": \"run/topdown.safetensors\", \"backbone\": \"run/backbone.safetensors\""),
          "line: %s", line ? line : "");
    CHECK(line && strstr(line, "\"unknown\": false"), "line: %s", line ? line : "");
    char path[] = "/tmp/vtag_scores_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f != NULL, "temp file");
    if (f) {
        fprintf(f, "%s\n", line);
        fprintf(f, "{\"video\": \"u.mp4\", \"class1\": null, \"class2\": null, \"unknown\": true, \"tags\": []}\n");
        fclose(f);
        vtag_tag_results rs;
        CHECK(vtag_tag_read(&rs, path, &err) == 0, "read: %s", err.msg);
        if (rs.count == 2) {
            CHECK(rs.items[0].model && strcmp(rs.items[0].model, "run/topdown.safetensors") == 0, "model read back");
            CHECK(rs.items[0].backbone && !rs.items[0].unknown && rs.items[1].unknown, "backbone, unknown read back");
            expect(rs.items[0].tags, rs.items[0].n_tags, "red x", "tags read back");
            vtag_tag_results_free(&rs);
        }
        f = fopen(path, "w");
        fprintf(f, "{\"video\": \"u.mp4\", \"class1\": null, \"class2\": null, \"unknown\": 1, \"tags\": []}\n");
        fclose(f);
        CHECK(vtag_tag_read(&rs, path, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "unknown"), "unknown: 1: %s", err.msg);
        unlink(path);
    }
    free(line);
    vtag_tag_result_free(&r);

    /* Bad input. */
    CHECK(vtag_tag_aggregate(&r, "v.mp4", frames, 3, &o, &err) == 0, "%s", err.msg);
    double bad[] = {0, 1.5, 0, 0, 0, 0};
    CHECK(vtag_tag_apply_scores(&r, bad, vocab, 5, &o, &err) == VTAG_ERR_ARG, "score 1.5");
    CHECK(r.n_labels == 4, "unchanged on failure");
    o.min_score = 1.2;
    CHECK(vtag_tag_apply_scores(&r, s, vocab, 5, &o, &err) == VTAG_ERR_ARG, "min_score 1.2");
    vtag_tag_result_free(&r);
    return check_summary("tag/scores");
}

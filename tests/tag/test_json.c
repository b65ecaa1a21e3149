/* The tag output line: exact text for a known result, write → read round
 * trip (UTF-8 labels, error lines, null classes), lookup by video, and the
 * reader's errors with their line numbers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/tag.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void test_exact_line(void)
{
    static const char *f0[] = {"游戏", "王者荣耀", "李白"}, *f1[] = {"游戏", "王者荣耀"}, *f2[] = {"游戏", "a \"q\""};
    const vtag_tag_frame fr[] = {{0.5, f0, 3}, {1.5, f1, 2}, {2.5, f2, 2}};
    vtag_tag_opts o;
    vtag_tag_opts_default(&o);
    o.top_n = 2;
    vtag_tag_result r;
    vtag_error err = {0};
    CHECK(vtag_tag_aggregate(&r, "clips/v1.mp4", fr, 3, &o, &err) == 0, "%s", err.msg);
    char *line = NULL;
    CHECK(vtag_tag_to_json(&r, &line, &err) == 0, "%s", err.msg);
    const char *want =
        "{\"video\": \"clips/v1.mp4\", \"class1\": \"游戏\", \"class2\": \"王者荣耀\", \"unknown\": false, "
        "\"tags\": [{\"label\": \"游戏\", \"frames\": 3, \"score\": 1.0}, "
        "{\"label\": \"王者荣耀\", \"frames\": 2, \"score\": 0.6666666667}], "
        "\"labels\": [{\"label\": \"游戏\", \"frames\": 3, \"score\": 1.0}, "
        "{\"label\": \"王者荣耀\", \"frames\": 2, \"score\": 0.6666666667}, "
        "{\"label\": \"李白\", \"frames\": 1, \"score\": 0.3333333333}, "
        "{\"label\": \"a \\\"q\\\"\", \"frames\": 1, \"score\": 0.3333333333}], "
        "\"frames\": [{\"pts_seconds\": 0.5, \"tokens\": [\"游戏\", \"王者荣耀\", \"李白\"]}, "
        "{\"pts_seconds\": 1.5, \"tokens\": [\"游戏\", \"王者荣耀\"]}, "
        "{\"pts_seconds\": 2.5, \"tokens\": [\"游戏\", \"a \\\"q\\\"\"]}]}";
    CHECK(line && strcmp(line, want) == 0, "line:\n%s\nwant:\n%s", line ? line : "(null)", want);
    free(line);

    /* round trip through a file, with an error line and an empty video */
    const char *path = "tag_json_roundtrip.jsonl";
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create");
    vtag_tag_result bad, empty;
    CHECK(vtag_tag_fail_result(&bad, "broken.mp4", "broken.mp4: not a media file", &err) == 0, "fail result");
    CHECK(vtag_tag_aggregate(&empty, "empty.mp4", NULL, 0, NULL, &err) == 0, "empty");
    CHECK(f && vtag_tag_write(f, &r, &err) == 0 && vtag_tag_write(f, &bad, &err) == 0 && vtag_tag_write(f, &empty, &err) == 0,
          "write: %s", err.msg);
    if (f) fclose(f);
    vtag_tag_results res;
    CHECK(vtag_tag_read(&res, path, &err) == 0, "read: %s", err.msg);
    CHECK(res.count == 3, "3 lines, got %lld", (long long)res.count);
    if (res.count == 3) {
        const vtag_tag_result *a = &res.items[0];
        CHECK(strcmp(a->video, "clips/v1.mp4") == 0 && strcmp(a->class1, "游戏") == 0 && strcmp(a->class2, "王者荣耀") == 0,
              "classes back");
        CHECK(a->n_tags == 2 && a->n_labels == 4 && a->n_frames == 3, "counts back");
        CHECK(a->n_labels == 4 && strcmp(a->labels[3].label, "a \"q\"") == 0 && a->labels[3].frames == 1 &&
                  fabs(a->labels[3].score - 1.0 / 3.0) < 1e-9,
              "escaped label back");
        CHECK(a->n_frames == 3 && a->frames[2].pts_seconds == 2.5 && strcmp(a->frames[0].tokens[2], "李白") == 0,
              "frames back");
        CHECK(res.items[1].error && strcmp(res.items[1].error, "broken.mp4: not a media file") == 0, "error back");
        CHECK(res.items[2].class1 == NULL && res.items[2].class2 == NULL && res.items[2].n_tags == 0, "nulls back");
        CHECK(vtag_tag_find(&res, "broken.mp4") == 1 && vtag_tag_find(&res, "clips/v1.mp4") == 0 &&
                  vtag_tag_find(&res, "empty.mp4") == 2 && vtag_tag_find(&res, "nope") == -1,
              "find");
    }
    vtag_tag_results_free(&res);
    vtag_tag_result_free(&r);
    vtag_tag_result_free(&bad);
    vtag_tag_result_free(&empty);
    unlink(path);
}

static void test_minimal_and_errors(void)
{
    const char *path = "tag_json_cases.jsonl";
    vtag_tag_results res;
    vtag_error err = {0};
    /* labels and frames may be left out; blank lines are skipped */
    write_file(path, "\n{\"video\": \"a\", \"class1\": \"x\", \"class2\": null, \"tags\": [{\"label\": \"x\", \"frames\": 2, "
                     "\"score\": 0.5}]}\n\n{\"video\": \"b\", \"error\": \"boom\"}\n");
    CHECK(vtag_tag_read(&res, path, &err) == 0, "minimal: %s", err.msg);
    CHECK(res.count == 2 && res.items[0].n_labels == 1 && res.items[0].labels[0].frames == 2 && res.items[0].n_frames == 0,
          "labels default to tags");
    vtag_tag_results_free(&res);

    struct {
        const char *text, *want;
    } cases[] = {
        {"{\"video\": \"a\", \"tags\": []}\n", "t.jsonl:1: missing field \"class1\""},
        {"{\"video\": \"a\", \"class1\": null, \"class2\": null}\n", "t.jsonl:1: missing field \"tags\""},
        {"\n{\"video\": \"a\", \"class1\": null, \"class2\": null, \"tags\": [], \"x\": 1}\n",
         "t.jsonl:2: unknown field \"x\""},
        {"{\"video\": \"a\", \"error\": \"e\", \"tags\": []}\n", "t.jsonl:1: unknown field \"tags\""},
        {"{\"video\": \"a\", \"error\": \"e\"}\n{\"video\": \"b\", \"error\": \"e\"}\n{\"video\": \"a\", \"error\": \"e\"}\n",
         "t.jsonl:3: video \"a\" listed twice (first on line 1)"},
        {"{\"video\": \"a\", \"class1\": null, \"class2\": null, \"tags\": [{\"label\": \"x\", \"frames\": 1, \"score\": 1}, "
         "{\"label\": \"x\", \"frames\": 1, \"score\": 1}]}\n",
         "t.jsonl:1: \"tags\": label \"x\" listed twice"},
        {"{\"video\": \"a\", \"class1\": null, \"class2\": null, \"tags\": [{\"label\": \"x\", \"frames\": 1.5, \"score\": 1}]}\n",
         "t.jsonl:1: \"tags\"[0]: \"frames\" must be an integer >= 0"},
        {"{\"video\": \"a\", \"class1\": \"\", \"class2\": null, \"tags\": []}\n",
         "t.jsonl:1: field \"class1\" must be a non-empty string or null"},
        {"{\"video\": \"a\", \"class1\": null, \"class2\": null, \"tags\": [], \"frames\": [{\"pts_seconds\": 0, \"tokens\": [1]}]}\n",
         "t.jsonl:1: \"frames\"[0]: tokens must be non-empty strings"},
        {"{\"video\": \"a\"\n", "t.jsonl:1: malformed JSON"},
        {"[1]\n", "t.jsonl:1: expected a JSON object"},
        {"{\"video\": 3, \"error\": \"e\"}\n", "t.jsonl:1: field \"video\" must be a non-empty string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file("t.jsonl", cases[i].text);
        int rc = vtag_tag_read(&res, "t.jsonl", &err);
        CHECK(rc == VTAG_ERR_FORMAT && strncmp(err.msg, cases[i].want, strlen(cases[i].want)) == 0,
              "case %zu: rc %d, \"%s\", want \"%s\"", i, rc, err.msg, cases[i].want);
        CHECK(res.items == NULL && res.count == 0, "case %zu: nothing returned", i);
    }
    CHECK(vtag_tag_read(&res, "does/not/exist.jsonl", &err) == VTAG_ERR_IO, "missing file");
    unlink("t.jsonl");
    unlink(path);
}

int main(void)
{
    test_exact_line();
    test_minimal_and_errors();
    return check_summary("tag/json");
}

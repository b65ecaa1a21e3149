/* The tag file's writer and reader agree on VTAG_TAG_LINE_MAX (issue 14
 * points 3 and 5): a line just under it is written and read back, a result
 * whose line would pass it is refused by the writer, and the reader stops
 * at a longer line with the cap's message. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/tag.h"

/* A result with n frames of four tokens each. */
static int make(vtag_tag_result *r, int64_t n, vtag_error *err)
{
    static const char *const toks[] = {"shirt", "casual", "cotton", "blue"};
    vtag_tag_frame *fr = malloc((size_t)n * sizeof *fr);
    if (!fr) return VTAG_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) fr[i] = (vtag_tag_frame){0.5 * (double)i, toks, 4};
    int rc = vtag_tag_aggregate(r, "long.mp4", fr, n, NULL, err);
    free(fr);
    return rc;
}

int main(void)
{
    char dir[] = "/tmp/vtag-test-tag-cap-XXXXXX", path[600];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/tags.jsonl", dir);
    vtag_error err = {0};
    vtag_tag_result r;
    char *line = NULL;

    /* about 70 bytes a frame: 50,000 frames fit in 4 MiB, 70,000 do not */
    CHECK(make(&r, 50000, &err) == VTAG_OK, "aggregate: %s", err.msg);
    int rc = vtag_tag_to_json(&r, &line, &err);
    CHECK(rc == VTAG_OK && line && strlen(line) > (VTAG_TAG_LINE_MAX >> 1) && strlen(line) <= VTAG_TAG_LINE_MAX,
          "50,000 frames: rc %d, %zu bytes: %s", rc, line ? strlen(line) : 0, err.msg);
    FILE *f = fopen(path, "w");
    CHECK(f && vtag_tag_write(f, &r, &err) == VTAG_OK, "write: %s", err.msg);
    if (f) fclose(f);
    vtag_tag_results back;
    rc = vtag_tag_read(&back, path, &err);
    CHECK(rc == VTAG_OK && back.count == 1 && back.items[0].n_frames == 50000, "read back: rc %d: %s", rc, err.msg);
    if (!rc) vtag_tag_results_free(&back);
    free(line);
    vtag_tag_result_free(&r);

    CHECK(make(&r, 70000, &err) == VTAG_OK, "aggregate: %s", err.msg);
    line = NULL;
    rc = vtag_tag_to_json(&r, &line, &err);
    CHECK(rc == VTAG_ERR_ARG && !line && strstr(err.msg, "long.mp4: the tag line would be") &&
              strstr(err.msg, "past the 4 MiB"),
          "70,000 frames: rc %d: %s", rc, err.msg);
    vtag_tag_result_free(&r);

    /* a longer line than any writer makes: the reader's message */
    f = fopen(path, "w");
    if (f) {
        fputs("{\"video\": \"", f);
        for (size_t i = 0; i < VTAG_TAG_LINE_MAX; i++) fputc('x', f);
        fputs("\"}\n", f);
        fclose(f);
    }
    rc = vtag_tag_read(&back, path, &err);
    CHECK(rc == VTAG_ERR_FORMAT && strstr(err.msg, "tags.jsonl: line 1 is longer than 4 MiB"), "rc %d: %s", rc,
          err.msg);
    unlink(path);
    rmdir(dir);
    return check_summary("hostile/test_tag_line_cap");
}

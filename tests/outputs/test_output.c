/* The record writer (vtag/output.h): RFC 4180 rows, JSON lines made into CSV
 * rows by columns, F.partial renamed to F at the end, and a resumed output
 * keeping its whole records, cutting a torn last one and skipping each kept
 * key once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/output.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

static void test_rows(void)
{
    vtag_error err = {0};
    char *row = NULL;
    const char *fields[] = {"plain", "a,b", "say \"hi\"", "two\nlines", "", NULL};
    CHECK(vtag_output_csv_row(fields, 6, &row, &err) == 0, "%s", err.msg);
    CHECK(row && strcmp(row, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,") == 0, "row %s", row);
    free(row);
    vtag_output_format f;
    CHECK(vtag_output_format_parse("csv", &f, &err) == 0 && f == VTAG_OUTPUT_CSV, "csv");
    CHECK(vtag_output_format_parse("xml", &f, &err) != 0 && strstr(err.msg, "'xml'"), "%s", err.msg);
}

static vtag_output *open_csv(const char *path, int resume)
{
    vtag_output_opts o;
    vtag_output_opts_defaults(&o);
    vtag_output_opts_records(&o, VTAG_OUTPUT_TAGS);
    o.path = path, o.format = VTAG_OUTPUT_CSV, o.resume = resume;
    vtag_output *out = NULL;
    vtag_error err = {0};
    CHECK(vtag_output_open(&out, &o, &err) == 0, "%s", err.msg);
    return out;
}

static void test_csv_file(void)
{
    const char *path = "outputs_test.csv";
    unlink(path);
    vtag_error err = {0};
    vtag_output *out = open_csv(path, 0);
    CHECK(out && vtag_output_write(out, "{\"video\": \"a,1.mp4\", \"class1\": \"x\", \"class2\": null, \"tags\": "
                                        "[{\"label\": \"x\", \"frames\": 2, \"score\": 1.0}, {\"label\": \"y\", "
                                        "\"frames\": 1, \"score\": 0.5}], \"frames\": [{}, {}], \"damaged_packets\": 3}", &err) == 0, "%s", err.msg);
    CHECK(out && vtag_output_write(out, "{\"video\": \"b.mp4\", \"error\": \"b.mp4: bad\"}", &err) == 0, "%s", err.msg);
    CHECK(access(path, F_OK) != 0, "the target is written only at the end");
    CHECK(vtag_output_close(&out, 1, &err) == 0 && !out, "%s", err.msg);
    const char *want = "video,class1,class2,tags,scores,frames,damaged_packets,error\n"
                       "\"a,1.mp4\",x,,x;y,1;0.5,2,3,\nb.mp4,,,,,,,b.mp4: bad\n";
    char *got = slurp(path);
    CHECK(got && strcmp(got, want) == 0, "csv file:\n%s", got);
    CHECK(access("outputs_test.csv.partial", F_OK) != 0, "no .partial left");

    /* resumed (the finished file), a torn row added first: both rows kept, the torn one cut */
    spit("outputs_test.csv.partial", "video,class1,class2,tags,scores,frames,damaged_packets,error\n\"a,1.mp4\",x,,x;y,1;0.5,2,,\n"
                                     "\"c\nd.mp4\",,,,,,,oops\n\"e.mp4");
    unlink(path);
    out = open_csv(path, 1);
    CHECK(vtag_output_kept(out) == 2, "kept %lld", (long long)vtag_output_kept(out));
    CHECK(vtag_output_skip(out, "a,1.mp4") == 1 && vtag_output_skip(out, "a,1.mp4") == 0, "a,1.mp4 skipped once");
    CHECK(vtag_output_skip(out, "c\nd.mp4") == 1, "a quoted line end is one record");
    CHECK(vtag_output_skip(out, "e.mp4") == 0, "the torn record is not kept");
    CHECK(vtag_output_write(out, "{\"video\": \"e.mp4\", \"error\": \"e\"}", &err) == 0, "%s", err.msg);
    CHECK(vtag_output_close(&out, 1, &err) == 0, "%s", err.msg);
    got = slurp(path);
    CHECK(got && strcmp(got, "video,class1,class2,tags,scores,frames,damaged_packets,error\n\"a,1.mp4\",x,,x;y,1;0.5,2,,\n"
                             "\"c\nd.mp4\",,,,,,,oops\ne.mp4,,,,,,,e\n") == 0, "resumed:\n%s", got);
    unlink(path);
}

static void test_jsonl_resume(void)
{
    const char *path = "outputs_test.jsonl";
    unlink(path);
    spit("outputs_test.jsonl.partial", "{\"video\": \"a\"}\n{\"video\": \"b\"}\n{\"video\": \"a\"}\n{\"vid");
    vtag_output_opts o;
    vtag_output_opts_defaults(&o);
    o.path = path, o.resume = 1;
    vtag_output *out = NULL;
    vtag_error err = {0};
    CHECK(vtag_output_open(&out, &o, &err) == 0 && vtag_output_kept(out) == 3, "%s", err.msg);
    CHECK(vtag_output_skip(out, "a") && vtag_output_skip(out, "a") && !vtag_output_skip(out, "a"),
          "a video listed twice is kept twice, not three times");
    CHECK(vtag_output_close(&out, 0, &err) == 0, "%s", err.msg); /* not finished: stays partial */
    CHECK(access(path, F_OK) != 0, "an unfinished output is not renamed");
    char *got = slurp("outputs_test.jsonl.partial");
    CHECK(got && strcmp(got, "{\"video\": \"a\"}\n{\"video\": \"b\"}\n{\"video\": \"a\"}\n") == 0, "torn line cut:\n%s", got);
    /* the same file resumed as CSV: refused, naming it, left as it was */
    o.format = VTAG_OUTPUT_CSV;
    vtag_output_opts_records(&o, VTAG_OUTPUT_TAGS);
    CHECK(vtag_output_open(&out, &o, &err) != 0 && strstr(err.msg, "outputs_test.jsonl.partial"), "%s", err.msg);
    got = slurp("outputs_test.jsonl.partial");
    CHECK(got && strlen(got) == 45, "left as it was");
    /* not resumed: emptied */
    o.format = VTAG_OUTPUT_JSONL, o.resume = 0;
    CHECK(vtag_output_open(&out, &o, &err) == 0 && vtag_output_kept(out) == 0, "%s", err.msg);
    CHECK(vtag_output_close(&out, 1, &err) == 0, "%s", err.msg);
    got = slurp(path);
    CHECK(got && !*got, "a fresh run with no records: an empty file");
    unlink(path);
}

int main(void)
{
    test_rows();
    test_csv_file();
    test_jsonl_resume();
    return check_summary("outputs/test_output");
}

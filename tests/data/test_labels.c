/* Labels files: JSON Lines and CSV (quoting, Chinese labels, labels with
 * spaces, '|' tags), relative paths, format detection, and every error with
 * its file and line. */
#include <stdlib.h>

#include "data/data_internal.h"
#include "data_test.h"

#define DIR "data_labels"

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void test_jsonl(void)
{
    data_test_mkdirs(DIR "/sub");
    const char *text =
        "{\"video\": \"clips/a.mp4\", \"class1\": \"游戏\", \"class2\": \"王者荣耀\", \"tags\": [\"李白\", \"五杀\"], "
        "\"split\": \"train\"}\n"
        "\n"
        "   \r\n"
        "{\"video\": \"/abs/b.mp4\", \"class1\": \"sports\", \"class2\": \"ice hockey\", \"tags\": [], \"split\": \"val\"}\n"
        "{\"split\": \"test\", \"tags\": [\"a|b\", \"big goal\"], \"class2\": \"football\", \"class1\": \"sports\", "
        "\"video\": \"http://example.com/c.mp4\"}\r\n"
        "{\"video\": \"d\", \"class1\": \"游戏\", \"class2\": \"王者荣耀\", \"tags\": [\"五杀\"], \"split\": null}";
    data_test_write(DIR "/sub/labels.jsonl", text, -1);
    vtag_data_labels l;
    vtag_error err = {0};
    int rc = vtag_data_read_labels(&l, DIR "/sub/labels.jsonl", NULL, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (rc) return;
    CHECK(l.format == VTAG_DATA_FORMAT_JSONL, "format");
    CHECK(l.count == 4, "count %lld", (long long)l.count);
    const vtag_data_entry *e = l.entries;
    CHECK(streq(e[0].video, "clips/a.mp4"), "video kept as written: %s", e[0].video);
    CHECK(streq(e[0].path, DIR "/sub/clips/a.mp4"), "relative path resolved: %s", e[0].path);
    CHECK(streq(e[0].class1, "游戏") && streq(e[0].class2, "王者荣耀"), "Chinese classes");
    CHECK(e[0].n_tags == 2 && streq(e[0].tags[0], "李白") && streq(e[0].tags[1], "五杀"), "tags in given order");
    CHECK(e[0].split == VTAG_DATA_SPLIT_TRAIN && e[0].line == 1, "split/line of entry 0");
    CHECK(streq(e[1].path, "/abs/b.mp4") && e[1].line == 4, "absolute path kept, line after blank lines (%lld)",
          (long long)e[1].line);
    CHECK(streq(e[1].class2, "ice hockey") && e[1].n_tags == 0 && e[1].split == VTAG_DATA_SPLIT_VAL,
          "label with a space, no tags, val");
    CHECK(streq(e[2].path, "http://example.com/c.mp4"), "URL kept: %s", e[2].path);
    CHECK(e[2].n_tags == 2 && streq(e[2].tags[0], "a|b") && streq(e[2].tags[1], "big goal"),
          "'|' is not a separator in JSON; fields in any order");
    CHECK(e[2].split == VTAG_DATA_SPLIT_TEST && e[2].line == 5, "test split, line 5");
    CHECK(e[3].split == VTAG_DATA_SPLIT_TRAIN && e[3].line == 6, "null split = default, last line without newline");
    CHECK(e[3].class1 == e[0].class1 && e[3].tags[0] == e[0].tags[1], "equal labels are interned");
    /* names: first appearance, line by line, class1, class2, tags */
    const char *names[] = {"游戏", "王者荣耀", "李白", "五杀", "sports", "ice hockey", "football", "a|b", "big goal"};
    CHECK(l.n_names == 9, "n_names %lld", (long long)l.n_names);
    for (int i = 0; i < 9 && i < l.n_names; i++) CHECK(streq(l.names[i], names[i]), "names[%d] = %s", i, l.names[i]);
    CHECK(vtag_data_find_video(&l, "d") == 3 && vtag_data_find_video(&l, "clips/a.mp4") == 0, "find_video");
    CHECK(vtag_data_find_video(&l, DIR "/sub/clips/a.mp4") == -1, "ids are matched as written, not resolved");
    CHECK(vtag_data_find_name(&l, "big goal") == 8 && vtag_data_find_name(&l, "big") == -1, "find_name");
    vtag_data_free_labels(&l);
    vtag_data_free_labels(&l); /* freeing twice is harmless */
}

static void test_csv(void)
{
    data_test_mkdirs(DIR);
    const char *text = "\xEF\xBB\xBFvideo,class1,class2,tags,split\r\n"
                       "v1.mp4,游戏,王者荣耀,李白|五杀,train\r\n"
                       "\r\n"
                       "\"clips/v,2.mp4\",\"sports, outdoor\",ice hockey, big goal | 点球 ,val\r\n"
                       "v3.mp4,\"say \"\"hi\"\"\",food,,\r\n"
                       "  v4.mp4 , pets , cats ,\"a|b\" ,test";
    data_test_write(DIR "/labels.csv", text, -1);
    vtag_data_labels l;
    vtag_error err = {0};
    int rc = vtag_data_read_labels(&l, DIR "/labels.csv", NULL, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (rc) return;
    CHECK(l.format == VTAG_DATA_FORMAT_CSV && l.count == 4, "format/count %lld", (long long)l.count);
    const vtag_data_entry *e = l.entries;
    CHECK(streq(e[0].video, "v1.mp4") && streq(e[0].path, DIR "/v1.mp4") && e[0].line == 2, "row 1 (BOM, CRLF)");
    CHECK(e[0].n_tags == 2 && streq(e[0].tags[0], "李白") && streq(e[0].tags[1], "五杀"), "| tags");
    CHECK(streq(e[1].video, "clips/v,2.mp4") && streq(e[1].path, DIR "/clips/v,2.mp4"), "quoted comma: %s",
          e[1].video);
    CHECK(streq(e[1].class1, "sports, outdoor") && streq(e[1].class2, "ice hockey"), "quoted comma in label");
    CHECK(e[1].n_tags == 2 && streq(e[1].tags[0], "big goal") && streq(e[1].tags[1], "点球"),
          "tags trimmed, inner spaces kept");
    CHECK(e[1].line == 4 && e[1].split == VTAG_DATA_SPLIT_VAL, "line %lld after a blank line", (long long)e[1].line);
    CHECK(streq(e[2].class1, "say \"hi\"") && e[2].n_tags == 0 && e[2].split == VTAG_DATA_SPLIT_TRAIN,
          "escaped quotes, empty tags, empty split = default");
    CHECK(streq(e[3].video, "v4.mp4") && streq(e[3].class1, "pets") && streq(e[3].class2, "cats"),
          "unquoted fields trimmed");
    CHECK(e[3].n_tags == 2 && streq(e[3].tags[0], "a") && streq(e[3].tags[1], "b"),
          "a quoted tags field is still split at '|'");
    CHECK(e[3].split == VTAG_DATA_SPLIT_TEST && e[3].line == 6, "last row without newline");
    vtag_data_free_labels(&l);

    /* Columns in another order, no split column; default split from opts. */
    data_test_write(DIR "/order.csv", "tags,video,class2,class1\nx|y,a,b,c\n", -1);
    vtag_data_labels_opts o;
    vtag_data_labels_opts_default(&o);
    o.default_split = VTAG_DATA_SPLIT_TEST;
    rc = vtag_data_read_labels(&l, DIR "/order.csv", &o, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (!rc) {
        CHECK(l.count == 1 && streq(l.entries[0].video, "a") && streq(l.entries[0].class1, "c") &&
                  streq(l.entries[0].class2, "b") && l.entries[0].n_tags == 2 &&
                  l.entries[0].split == VTAG_DATA_SPLIT_TEST,
              "columns by header name; default split");
        vtag_data_free_labels(&l);
    }
}

static void test_sniff(void)
{
    vtag_data_labels l;
    vtag_error err = {0};
    data_test_write(DIR "/json.txt", "\n  {\"video\": \"a\", \"class1\": \"b\", \"class2\": \"c\", \"tags\": [\"d\"]}\n", -1);
    int rc = vtag_data_read_labels(&l, DIR "/json.txt", NULL, &err);
    CHECK(rc == 0 && l.format == VTAG_DATA_FORMAT_JSONL && l.count == 1 && l.entries[0].line == 2,
          "sniffed JSON Lines: %s", err.msg);
    vtag_data_free_labels(&l);
    data_test_write(DIR "/csv.txt", "\xEF\xBB\xBFvideo,class1,class2,tags\na,b,c,d\n", -1);
    rc = vtag_data_read_labels(&l, DIR "/csv.txt", NULL, &err);
    CHECK(rc == 0 && l.format == VTAG_DATA_FORMAT_CSV && l.count == 1, "sniffed CSV: %s", err.msg);
    vtag_data_free_labels(&l);
    /* An explicit format wins over the extension. */
    data_test_write(DIR "/really_csv.jsonl", "video,class1,class2,tags\na,b,c,d\n", -1);
    vtag_data_labels_opts o;
    vtag_data_labels_opts_default(&o);
    o.format = VTAG_DATA_FORMAT_CSV;
    rc = vtag_data_read_labels(&l, DIR "/really_csv.jsonl", &o, &err);
    CHECK(rc == 0 && l.count == 1, "forced CSV: %s", err.msg);
    vtag_data_free_labels(&l);
    /* No folder in the path: the id is the path. */
    data_test_write("data_labels_here.csv", "video,class1,class2,tags\nclip.mp4,b,c,d\n", -1);
    rc = vtag_data_read_labels(&l, "data_labels_here.csv", NULL, &err);
    CHECK(rc == 0 && streq(l.entries[0].path, "clip.mp4"), "path without a folder: %s", err.msg);
    vtag_data_free_labels(&l);
}

#define GOOD(v) "{\"video\": \"" v "\", \"class1\": \"c1\", \"class2\": \"c2\", \"tags\": [\"t\"]}\n"

static void test_jsonl_errors(void)
{
    const char *p = DIR "/err.jsonl";
    /* missing field on line 7, after blank lines */
    EXPECT_LABELS_ERROR(p, GOOD("a") GOOD("b") "\n" GOOD("c") GOOD("d") GOOD("e")
                        "{\"video\": \"f\", \"class1\": \"c1\", \"tags\": []}\n",
                        DIR "/err.jsonl:7: missing field \"class2\"");
    EXPECT_LABELS_ERROR(p, GOOD("a") "{\"class1\": \"c1\", \"class2\": \"c2\", \"tags\": []}\n",
                        "err.jsonl:2: missing field \"video\"");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"a\", \"class1\": \"c1\", \"class2\": \"c2\"}\n",
                        "err.jsonl:1: missing field \"tags\"");
    EXPECT_LABELS_ERROR(p, GOOD("a") "{\"video\": \"b\", \"class1\": 3, \"class2\": \"c2\", \"tags\": []}\n",
                        "err.jsonl:2: field \"class1\" must be a string");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"c2\", \"tags\": \"t1|t2\"}\n",
                        "err.jsonl:1: field \"tags\" must be an array of strings");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"c2\", \"tags\": [\"t\", 5]}\n",
                        "err.jsonl:1: field \"tags\" must be an array of strings (element 1 is not)");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"c2\", \"tags\": [], \"split\": 1}\n",
                        "err.jsonl:1: field \"split\" must be a string");
    EXPECT_LABELS_ERROR(p, GOOD("a") GOOD("b") "{\"video\": \"c\", \"class1\": \"x\",\n",
                        "err.jsonl:3: invalid JSON: ");
    EXPECT_LABELS_ERROR(p, GOOD("a") "[1, 2]\n", "err.jsonl:2: expected a JSON object");
    EXPECT_LABELS_ERROR(p, GOOD("a") "{\"video\": \"b\", \"video\": \"c\", \"class1\": \"x\"}\n",
                        "err.jsonl:2: invalid JSON: duplicate object key");
    EXPECT_LABELS_ERROR(p, GOOD("a") GOOD("b") GOOD("c") "{\"video\": \"d\", \"class1\": \"\xC3\x28\", \"class2\": \"x\", \"tags\": []}\n",
                        "err.jsonl:4: invalid UTF-8");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"d\", \"class1\": \"\xED\xA0\x80\", \"class2\": \"x\", \"tags\": []}\n",
                        "err.jsonl:1: invalid UTF-8"); /* an encoded surrogate */
    EXPECT_LABELS_ERROR(p, GOOD("a") "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"y\", \"tags\": [], \"split\": \"dev\"}\n",
                        "err.jsonl:2: unknown split \"dev\" (train, val or test)");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"y\", \"tags\": [], \"split\": \"\"}\n",
                        "err.jsonl:1: unknown split \"\"");
    EXPECT_LABELS_ERROR(p, GOOD("a") GOOD("b") "\n" GOOD("a"), "err.jsonl:4: duplicate video \"a\" (first on line 1)");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"y\", \"tags\": [], \"tag\": []}\n",
                        "err.jsonl:1: unknown field \"tag\"");
    EXPECT_LABELS_ERROR(p, GOOD("a") "{\"video\": \"b\", \"class1\": \"\", \"class2\": \"y\", \"tags\": []}\n",
                        "err.jsonl:2: empty class1");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\", \"class2\": \"y\", \"tags\": [\"ok\", \"\"]}\n",
                        "err.jsonl:1: empty tag");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\", \"class1\": \"x\\ny\", \"class2\": \"y\", \"tags\": []}\n",
                        "err.jsonl:1: class1 contains a control character (0x0a)");
    EXPECT_LABELS_ERROR(p, "{\"video\": \"b\\u0000\", \"class1\": \"x\", \"class2\": \"y\", \"tags\": []}\n",
                        "err.jsonl:1: invalid JSON");
}

static void test_csv_errors(void)
{
    const char *p = DIR "/err.csv";
    const char *head = "video,class1,class2,tags,split\n";
    char buf[1024];
#define CSV(body) (snprintf(buf, sizeof buf, "%s%s", head, body), buf)
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,x,y,t,dev\n"), "err.csv:3: unknown split \"dev\"");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\n\n\r\nb,x,y,t\n"), "err.csv:5: expected 5 fields, got 4");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,x,y,t,val\n\na,z,z,z,test\n"),
                        "err.csv:5: duplicate video \"a\" (first on line 2)");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,\xFF,y,t,val\n"), "err.csv:3: invalid UTF-8");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,,y,t,val\n"), "err.csv:3: empty class1");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t1||t2,train\n"), "err.csv:2: empty tag");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,x\"y,y,t,val\n"), "err.csv:3: malformed CSV");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,\"x\"y,y,t,val\n"), "err.csv:3: malformed CSV");
    /* A quoted field that spans lines: the row is reported where it starts,
     * and the rows after it keep their true line numbers. */
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\n\"b\nc\",x,y,t,val\n"),
                        "err.csv:3: video contains a control character (0x0a)");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,x,y,\"t\n\n\",val\n"),
                        "err.csv:3: tag contains a control character");
    EXPECT_LABELS_ERROR(p, CSV("a,x,y,t,train\nb,x,y,t,val\n\"c,x,y,t,val\nd,x,y,t,val\n"),
                        "err.csv:4: unterminated quoted field");
    EXPECT_LABELS_ERROR(p, "video,class1,tags\na,b,c\n", "err.csv:1: missing column \"class2\" in the header");
    EXPECT_LABELS_ERROR(p, "video,class1,class2,tags,comment\na,b,c,d,e\n", "err.csv:1: unknown column \"comment\"");
    EXPECT_LABELS_ERROR(p, "video,class1,class2,tags,video\n", "err.csv:1: column \"video\" appears twice");
    EXPECT_LABELS_ERROR(p, "\n\n", "err.csv: no header line");
#undef CSV
}

static void test_missing_file(void)
{
    vtag_data_labels l;
    vtag_error err = {0};
    data_test_write(DIR "/empty.jsonl", "\n\n", -1);
    int rc0 = vtag_data_read_labels(&l, DIR "/empty.jsonl", NULL, &err);
    CHECK(rc0 == 0 && l.count == 0, "an empty JSON Lines file has no entries: %s", err.msg);
    vtag_data_free_labels(&l);
    int rc = vtag_data_read_labels(&l, DIR "/does_not_exist.jsonl", NULL, &err);
    CHECK(rc == VTAG_ERR_IO && strstr(err.msg, "does_not_exist.jsonl: cannot open") != NULL, "missing file: %s",
          err.msg);
}

static void test_utf8(void)
{
    struct {
        const char *s;
        size_t valid;
    } cases[] = {
        {"plain ascii", 11},
        {"游戏", 6},
        {"\xF0\x9F\x8E\xAE game", 9},
        {"a\xC0\xAF", 1},         /* overlong '/' */
        {"\xE0\x80\xAF", 0},      /* overlong, 3 bytes */
        {"ab\xED\xB0\x80", 2},    /* surrogate */
        {"\xF4\x90\x80\x80", 0},  /* above U+10FFFF */
        {"x\xE6\xB8", 1},         /* truncated */
        {"\x80", 0},              /* lone continuation */
        {"\xF5\x80\x80\x80", 0},  /* invalid lead */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t got = vtag_utf8_valid_prefix(cases[i].s, strlen(cases[i].s));
        CHECK(got == cases[i].valid, "utf8 case %zu: %zu vs %zu", i, got, cases[i].valid);
    }
}

int main(void)
{
    test_jsonl();
    test_csv();
    test_sniff();
    test_jsonl_errors();
    test_csv_errors();
    test_missing_file();
    test_utf8();
    return check_summary("data/labels");
}

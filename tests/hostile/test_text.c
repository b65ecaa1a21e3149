/* The core pieces behind issue 14 points 3 and 13: vtag_text_escape (and so
 * vtag_fail), vtag_line_read's cap, and vtag_file_open refusing what is not
 * a regular file without blocking (alarm: a FIFO open that blocks fails). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/core.h"

static void expect_escape(const char *in, size_t cap, const char *want)
{
    char out[256];
    size_t n = vtag_text_escape(out, cap, in);
    CHECK(strcmp(out, want) == 0 && n == strlen(want), "escape(\"%s\", %zu): got \"%s\", want \"%s\"", in, cap, out,
          want);
    char twice[256];
    vtag_text_escape(twice, sizeof twice, out);
    CHECK(strcmp(twice, out) == 0, "escaping \"%s\" again changed it to \"%s\"", out, twice);
}

static void test_escape(void)
{
    expect_escape("plain text", 256, "plain text");
    expect_escape("a\nb\rc\td", 256, "a\\nb\\rc\\td");
    expect_escape("\x1b[2J\x7f\x01", 256, "\\x1b[2J\\x7f\\x01");
    expect_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac", 256, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac");
    expect_escape("caf\xe9.mp4", 256, "caf\\xe9.mp4");                 /* Latin-1 */
    expect_escape("\xc0\xaf|\xed\xa0\x80|\xe2\x82", 256, "\\xc0\\xaf|\\xed\\xa0\\x80|\\xe2\\x82"); /* overlong, surrogate, cut */
    expect_escape("\xc2\x9b" "2J \xe2\x80\xae \xe2\x80\xa8 \xe2\x81\xa6", 256, "\\u009b2J \\u202e \\u2028 \\u2066");
    expect_escape("ab\x1b", 6, "ab");        /* no half escape: "\x1b" needs 4 bytes + NUL */
    expect_escape("ab\x1b", 7, "ab\\x1b");
    expect_escape("a\xc3\xa9", 3, "a");      /* no half character */
    expect_escape("abc", 1, "");

    vtag_error err = {0};
    int rc = vtag_fail(&err, VTAG_ERR_FORMAT, "%s: unknown field \"%s\"", "f.jsonl", "\x1b[31m\nforged");
    CHECK(rc == VTAG_ERR_FORMAT && err.code == VTAG_ERR_FORMAT, "vtag_fail's code");
    CHECK(strcmp(err.msg, "f.jsonl: unknown field \"\\x1b[31m\\nforged\"") == 0, "vtag_fail escapes: %s", err.msg);
    char big[2000];
    memset(big, '\x1b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    vtag_fail(&err, VTAG_ERR_FORMAT, "%s", big);
    size_t n = strlen(err.msg);
    CHECK(n < sizeof err.msg && n % 4 == 0 && !strchr(err.msg, '\x1b'), "long message cut at an escape: %zu", n);
}

/* Writes data to a temporary file and opens it for reading. */
static FILE *file_with(const char *dir, const char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/lines.txt", dir);
    FILE *w = fopen(path, "wb");
    if (!w) return NULL;
    fwrite(data, 1, len, w);
    fclose(w);
    FILE *f = NULL;
    vtag_error err;
    return vtag_file_open(&f, path, &err) ? NULL : f;
}

static void test_lines(const char *dir)
{
    static const char data[] = "a\nbb\n\nc\0c\nlast";
    FILE *f = file_with(dir, data, sizeof data - 1);
    CHECK(f != NULL, "cannot write a test file");
    if (!f) return;
    const char *want[] = {"a\n", "bb\n", "\n", "c\0c\n", "last"};
    const size_t want_len[] = {2, 3, 1, 4, 4};
    vtag_line ln = {0};
    vtag_error err = {0};
    for (int i = 0; i < 5; i++) {
        int rc = vtag_line_read(&ln, f, "lines.txt", 4, &err);
        CHECK(rc == VTAG_OK && ln.len == want_len[i] && memcmp(ln.data, want[i], ln.len) == 0 &&
                  ln.data[ln.len] == '\0' && ln.number == i + 1,
              "line %d: rc %d, len %zu, number %lld", i + 1, rc, ln.len, (long long)ln.number);
    }
    int rc = vtag_line_read(&ln, f, "lines.txt", 4, &err);
    CHECK(rc == VTAG_OK && ln.len == 0 && ln.number == 5, "the end: rc %d len %zu", rc, ln.len);
    vtag_line_free(&ln);
    fclose(f);

    /* max_len bytes pass, one more fails, and the buffer stays bounded */
    static const char cap[] = "abcd\nabcde\n";
    f = file_with(dir, cap, sizeof cap - 1);
    memset(&ln, 0, sizeof ln);
    rc = vtag_line_read(&ln, f, "cap.txt", 4, &err);
    CHECK(rc == VTAG_OK && ln.len == 5, "a line of max_len bytes: rc %d len %zu", rc, ln.len);
    rc = vtag_line_read(&ln, f, "cap.txt", 4, &err);
    CHECK(rc == VTAG_ERR_FORMAT && strcmp(err.msg, "cap.txt: line 2 is longer than 4 bytes") == 0,
          "one byte more: rc %d: %s", rc, err.msg);
    CHECK(ln.cap <= 4 + 2, "buffer %zu bytes for a cap of 4", ln.cap);
    vtag_line_free(&ln);
    fclose(f);
}

static void expect_refused(const char *path, const char *kind)
{
    vtag_error err = {0};
    FILE *f = NULL;
    int rc = vtag_file_open(&f, path, &err);
    char want[600];
    snprintf(want, sizeof want, "%s: not a regular file (%s)", path, kind);
    CHECK(rc == VTAG_ERR_IO && f == NULL && strcmp(err.msg, want) == 0, "open %s: rc %d: %s", path, rc, err.msg);
    rc = vtag_file_check_regular(path, &err);
    CHECK(rc == VTAG_ERR_IO && strcmp(err.msg, want) == 0, "check %s: rc %d: %s", path, rc, err.msg);
}

static void test_open(const char *dir)
{
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    alarm(10); /* a blocking open ends the test (SIGALRM) instead of hanging it */
    expect_refused(fifo, "a FIFO");
    alarm(0);
    expect_refused("/dev/null", "a character device");
    expect_refused(dir, "a directory");
    unlink(fifo);

    vtag_error err = {0};
    FILE *f = NULL;
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    int rc = vtag_file_open(&f, missing, &err);
    CHECK(rc == VTAG_ERR_IO && strstr(err.msg, "missing: cannot open: No such file") != NULL, "missing: %s", err.msg);
}

int main(void)
{
    char dir[] = "/tmp/vtag-test-text-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    test_escape();
    test_lines(dir);
    test_open(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/lines.txt", dir);
    unlink(path);
    rmdir(dir);
    return check_summary("hostile/test_text");
}

/* Issue 14, point 5: the safetensors writer and reader agree on the header
 * limit (100 MiB). A header over it is refused by the writer (nothing
 * written) and reported by the reader as over the limit, not as "past the end
 * of the file"; shapes the reader refuses are not written either. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/safetensors.h"

#define TDIR "core_st_limits"
#define LIMIT ((size_t)100 << 20)

static int tmp_files(void)
{
    int n = 0;
    DIR *d = opendir(TDIR);
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return n;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* A metadata value that makes the header pass the limit: refused, no file. */
static void test_writer_refuses_big_header(void)
{
    const char *path = TDIR "/big.safetensors";
    char *value = malloc(LIMIT + 1);
    if (!value) return;
    memset(value, 'a', LIMIT);
    value[LIMIT] = '\0';
    float x[2] = {1, 2};
    int64_t shape[1] = {2};
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    vtag_error err = {0};
    int rc = vtag_st_writer_add(&w, "x", VTAG_DTYPE_F32, 1, shape, x, &err);
    if (!rc) rc = vtag_st_writer_meta(&w, "big", value, &err);
    if (!rc) rc = vtag_st_writer_save(&w, path, &err);
    CHECK(rc != 0, "a header of more than 100 MiB was written");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "limit"), "message: %s", err.msg);
    CHECK(!exists(path), "%s exists", path);
    CHECK(tmp_files() == 0, "temporary files left");
    vtag_st_writer_free(&w);
    unlink(path);
    free(value);

}

/* A file whose header length is within the file but over the limit (sparse:
 * nothing to write): the message says so. */
static void test_reader_names_the_limit(void)
{
    const char *path = TDIR "/sparse.safetensors";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "create %s", path);
    if (fd < 0) return;
    uint64_t hlen = LIMIT + 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hlen >> (8 * i));
    int ok = write(fd, len8, 8) == 8 && ftruncate(fd, (off_t)(8 + hlen + 64)) == 0;
    close(fd);
    CHECK(ok, "write %s", path);
    vtag_st_file f;
    vtag_error err = {0};
    int rc = vtag_st_open(&f, path, &err);
    CHECK(rc != 0, "a header of 100 MiB + 8 bytes was accepted");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "limit") && !strstr(err.msg, "past the end"), "message: %s",
          err.msg);
    if (!rc) vtag_st_close(&f);
    unlink(path);

    /* and a length past the end is still reported as such */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ok = fd >= 0 && write(fd, len8, 8) == 8 && write(fd, "{}      ", 8) == 8;
    if (fd >= 0) close(fd);
    CHECK(ok, "write %s", path);
    rc = vtag_st_open(&f, path, &err);
    CHECK(rc != 0 && strstr(err.msg, "past the end"), "message: %s", err.msg);
    if (!rc) vtag_st_close(&f);
    unlink(path);
}

/* The writer refuses what the reader would: negative or overflowing shapes,
 * names and metadata that are not UTF-8. */
static void test_writer_refuses_bad_entries(void)
{
    const char *path = TDIR "/bad.safetensors";
    float x[1] = {0};
    const int64_t negative[2] = {2, -1}, huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    vtag_error err = {0};
    CHECK(vtag_st_writer_add(&w, "neg", VTAG_DTYPE_F32, 2, negative, x, &err) != 0, "negative dimension accepted");
    CHECK(vtag_st_writer_add(&w, "huge", VTAG_DTYPE_F32, 2, huge, x, &err) != 0, "2^80 elements accepted");
    CHECK(vtag_st_writer_add(&w, "bad\xff", VTAG_DTYPE_F32, 1, negative, x, &err) != 0, "non-UTF-8 name accepted");
    CHECK(vtag_st_writer_meta(&w, "k", "caf\xe9", &err) != 0 && strstr(err.msg, "UTF-8"), "non-UTF-8 metadata: %s",
          err.msg);
    vtag_st_writer_free(&w);
    CHECK(!exists(path), "%s exists", path);
}

int main(void)
{
    mkdir(TDIR, 0755);
    test_writer_refuses_big_header();
    test_reader_names_the_limit();
    test_writer_refuses_bad_entries();
    rmdir(TDIR);
    return check_summary("core/test_safetensors_limits");
}

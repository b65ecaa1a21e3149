/* The item ids of a features file as the U8 tensor "items" (issue 14,
 * point 5): NUL-terminated UTF-8 ids read in place, every malformed form
 * refused with a message naming the file; small id lists stay in the
 * metadata vtag.items (old and new readers alike); the writer refuses what
 * the reader would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/data.h"
#include "vtag/safetensors.h"

#define TDIR "data_features_items"

static const float FC[3] = {1, 2, 3};

/* fc [3, 1] plus the given items tensor (NULL: none) and vtag.items (NULL: none). */
static void write_file(const char *path, vtag_dtype dt, const char *blob, int64_t bytes, const char *meta)
{
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    vtag_error err = {0};
    const int64_t fc_shape[2] = {3, 1}, blob_shape[1] = {dt == VTAG_DTYPE_U8 ? bytes : bytes / 4};
    int rc = vtag_st_writer_add(&w, "fc", VTAG_DTYPE_F32, 2, fc_shape, FC, &err);
    if (!rc && blob) rc = vtag_st_writer_add(&w, "items", dt, 1, blob_shape, blob, &err);
    if (!rc && meta) rc = vtag_st_writer_meta(&w, "vtag.items", meta, &err);
    if (!rc) rc = vtag_st_writer_save(&w, path, &err);
    CHECK(rc == 0, "write %s: %s", path, err.msg);
    vtag_st_writer_free(&w);
}

/* The file is refused with a message naming it and containing `what`. */
static void refused(const char *name, vtag_dtype dt, const char *blob, int64_t bytes, const char *meta,
                    const char *what)
{
    char path[128];
    snprintf(path, sizeof path, TDIR "/%s.safetensors", name);
    write_file(path, dt, blob, bytes, meta);
    vtag_data_features f;
    vtag_error err = {0};
    int rc = vtag_data_read_features(&f, path, &err);
    CHECK(rc != 0, "%s: accepted", name);
    CHECK(strstr(err.msg, path) && strstr(err.msg, what), "%s: message '%s' lacks '%s'", name, err.msg, what);
    if (!rc) vtag_data_free_features(&f);
    unlink(path);
}

static void test_read(void)
{
    const char *path = TDIR "/ok.safetensors";
    static const char blob[] = "v1.mp4\0v1.mp4\0视频/v2.mp4"; /* the final NUL is the string's */
    write_file(path, VTAG_DTYPE_U8, blob, sizeof blob, NULL);
    vtag_data_features f;
    vtag_error err = {0};
    int rc = vtag_data_read_features(&f, path, &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (!rc) {
        CHECK(f.n == 3 && strcmp(f.items[0], "v1.mp4") == 0 && strcmp(f.items[2], "视频/v2.mp4") == 0, "ids");
        CHECK(f.items[1] == f.items[0], "equal consecutive ids share a pointer");
        vtag_data_free_features(&f);
    }
    unlink(path);

    refused("no_nul", VTAG_DTYPE_U8, "a\0b\0c", 5, NULL, "NUL");
    refused("empty", VTAG_DTYPE_U8, "a\0\0c", 5, NULL, "items[1]");
    refused("leading_empty", VTAG_DTYPE_U8, "\0b\0c", 5, NULL, "items[0]");
    refused("too_few", VTAG_DTYPE_U8, "a\0b", 4, NULL, "2 ids for 3 rows");
    refused("too_many", VTAG_DTYPE_U8, "a\0b\0c\0d", 8, NULL, "more than 3");
    refused("not_utf8", VTAG_DTYPE_U8, "a\0\xff\xfe\0c", 7, NULL, "items[1]");
    refused("f32", VTAG_DTYPE_F32, "abcdefgh", 8, NULL, "U8");
    refused("both", VTAG_DTYPE_U8, "a\0b\0c", 6, "[\"a\",\"b\",\"c\"]", "both");
    refused("neither", VTAG_DTYPE_U8, NULL, 0, NULL, "vtag.items");
    refused("json_nul", VTAG_DTYPE_U8, NULL, 0, "[\"a\\u0000b\",\"b\",\"c\"]", "invalid JSON");
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_write(void)
{
    /* a few ids: the metadata, as every reader of the format expects */
    const char *path = TDIR "/small.safetensors";
    const char *ids[3] = {"a.mp4", "a.mp4", "b.mp4"};
    vtag_data_features w = {.n = 3, .fc_dim = 1, .fc = FC, .items = ids};
    vtag_error err = {0};
    int rc = vtag_data_write_features(&w, path, &err);
    CHECK(rc == 0, "write: %s", err.msg);
    vtag_st_file st;
    if (!rc && !(rc = vtag_st_open(&st, path, &err))) {
        const char *meta = vtag_st_meta(&st, "vtag.items");
        CHECK(meta && strcmp(meta, "[\"a.mp4\",\"a.mp4\",\"b.mp4\"]") == 0 && !vtag_st_find(&st, "items"),
              "small id lists stay in vtag.items");
        vtag_st_close(&st);
    }
    unlink(path);

    /* what the reader refuses is not written */
    const char *bad_utf8[3] = {"a.mp4", "caf\xe9.mp4", "b.mp4"}, *empty[3] = {"a.mp4", "", "b.mp4"};
    w.items = bad_utf8;
    rc = vtag_data_write_features(&w, path, &err);
    CHECK(rc != 0 && strstr(err.msg, "item 1") && strstr(err.msg, "UTF-8"), "non-UTF-8 id: %s", err.msg);
    CHECK(!exists(path), "a file was written");
    w.items = empty;
    rc = vtag_data_write_features(&w, path, &err);
    CHECK(rc != 0 && strstr(err.msg, "item 1"), "empty id: %s", err.msg);
    CHECK(!exists(path), "a file was written");
}

int main(void)
{
    mkdir(TDIR, 0755);
    test_read();
    test_write();
    rmdir(TDIR);
    return check_summary("data/test_features_items");
}

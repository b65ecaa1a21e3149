/* safetensors: round trip, every header check (each bad file must give an
 * error naming the problem, never a crash), and atomic writes.
 * Also the C side of the Python interoperability test (st_interop.py):
 *   test_safetensors write PATH   writes the canonical file
 *   test_safetensors check PATH   checks a canonical file written by Python */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/safetensors.h"

/* ---- the canonical file, shared with st_interop.py ---------------------------- */
static float f32_value(int i) { return (float)i * 0.5f - 3.25f; }
static int32_t i32_value(int i) { return -7 * i + 1; }
static const int64_t i64_values[3] = {1099511627776LL, -5, 123456789012LL};
static const char *meta_vocab = "[\"\xe7\x8c\xab\",\"a b\",\"say \\\"hi\\\"\"]";

static int write_canonical(const char *path, vtag_error *err)
{
    static float f32[24];
    static int32_t i32[5];
    static float scalar[1] = {42.5f};
    for (int i = 0; i < 24; i++) f32[i] = f32_value(i);
    for (int i = 0; i < 5; i++) i32[i] = i32_value(i);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t s_f32[3] = {2, 3, 4}, s_i32[1] = {5}, s_i64[1] = {3}, s_empty[2] = {0, 4};
    int rc = vtag_st_writer_add(&w, "f32", VTAG_DTYPE_F32, 3, s_f32, f32, err);
    if (!rc) rc = vtag_st_writer_add(&w, "i32", VTAG_DTYPE_I32, 1, s_i32, i32, err);
    if (!rc) rc = vtag_st_writer_add(&w, "i64", VTAG_DTYPE_I64, 1, s_i64, i64_values, err);
    if (!rc) rc = vtag_st_writer_add(&w, "scalar", VTAG_DTYPE_F32, 0, NULL, scalar, err);
    if (!rc) rc = vtag_st_writer_add(&w, "empty", VTAG_DTYPE_F32, 2, s_empty, NULL, err);
    if (!rc) rc = vtag_st_writer_meta(&w, "vtag.model", "fc", err);
    if (!rc) rc = vtag_st_writer_meta(&w, "vtag.vocab", meta_vocab, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    return rc;
}

static void check_canonical(const char *path)
{
    vtag_st_file f;
    vtag_error err = {0};
    int rc = vtag_st_open(&f, path, &err);
    CHECK(rc == 0, "open %s: %s", path, err.msg);
    if (rc) return;
    CHECK(f.count == 5, "%d tensors", f.count);
    const vtag_st_tensor *t = vtag_st_find(&f, "f32");
    CHECK(t && t->dtype == VTAG_DTYPE_F32 && t->ndim == 3 && t->shape[0] == 2 && t->shape[2] == 4, "f32 header");
    int ok = t != NULL;
    for (int i = 0; ok && i < 24; i++) ok = ((const float *)t->data)[i] == f32_value(i);
    CHECK(ok, "f32 values");
    t = vtag_st_find(&f, "i32");
    ok = t && t->dtype == VTAG_DTYPE_I32 && t->numel == 5;
    for (int i = 0; ok && i < 5; i++) ok = ((const int32_t *)t->data)[i] == i32_value(i);
    CHECK(ok, "i32 tensor");
    t = vtag_st_find(&f, "i64");
    ok = t && t->dtype == VTAG_DTYPE_I64 && t->numel == 3;
    for (int i = 0; ok && i < 3; i++) ok = ((const int64_t *)t->data)[i] == i64_values[i];
    CHECK(ok, "i64 tensor");
    t = vtag_st_find(&f, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && ((const float *)t->data)[0] == 42.5f, "0-d tensor");
    t = vtag_st_find(&f, "empty");
    CHECK(t && t->ndim == 2 && t->numel == 0 && t->nbytes == 0, "empty tensor");
    CHECK(vtag_st_find(&f, "nope") == NULL, "find of a missing name");
    const char *m = vtag_st_meta(&f, "vtag.model");
    CHECK(m && strcmp(m, "fc") == 0, "metadata vtag.model");
    m = vtag_st_meta(&f, "vtag.vocab");
    CHECK(m && strcmp(m, meta_vocab) == 0, "metadata vtag.vocab = %s", m ? m : "(null)");
    vtag_st_close(&f);
}

/* ---- hand-made files ----------------------------------------------------------- */
static void write_raw(const char *path, const char *header, size_t header_len_field, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)header_len_field >> (8 * i));
    fwrite(len8, 1, 8, fp);
    fwrite(header, 1, strlen(header), fp);
    if (n) fwrite(data, 1, n, fp);
    fclose(fp);
}

static void expect_error(const char *what, const char *path, const char *needle)
{
    vtag_st_file f;
    vtag_error err = {0};
    int rc = vtag_st_open(&f, path, &err);
    CHECK(rc != 0, "%s: accepted", what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    CHECK(strstr(err.msg, path) != NULL, "%s: message '%s' does not name the file", what, err.msg);
    CHECK(f.count == 0 && f.base == NULL, "%s: file not left empty", what);
}

static void expect_bad_header(const char *what, const char *header, size_t data_bytes, const char *needle)
{
    static const unsigned char zeros[64];
    write_raw("bad.safetensors", header, strlen(header), zeros, data_bytes);
    expect_error(what, "bad.safetensors", needle);
}

static int count_tmp_files(void)
{
    int n = 0;
    DIR *d = opendir(".");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void test_errors(void)
{
    vtag_error err = {0};
    CHECK(write_canonical("good.safetensors", &err) == 0, "write: %s", err.msg);
    check_canonical("good.safetensors");

    /* Truncated in the data section, and shorter than the length field. */
    struct stat st;
    stat("good.safetensors", &st);
    CHECK(truncate("good.safetensors", st.st_size - 10) == 0, "truncate");
    expect_error("truncated data", "good.safetensors", "past the end of the data");
    CHECK(truncate("good.safetensors", 5) == 0, "truncate");
    expect_error("5-byte file", "good.safetensors", "truncated");
    write_raw("bad.safetensors", "", 0, NULL, 0);
    expect_error("empty header", "bad.safetensors", "not a JSON object");
    write_raw("bad.safetensors", "{}", 4096, NULL, 0);
    expect_error("header length past the end", "bad.safetensors", "header length 4096 is past the end");
    expect_error("missing file", "no/such/file.safetensors", "cannot open");

    expect_bad_header("overlap",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, "overlaps");
    expect_bad_header("unknown dtype", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                      "unknown dtype 'F16'");
    expect_bad_header("gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap of 4 bytes");
    expect_bad_header("trailing bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
                      "4 bytes after the last tensor");
    expect_bad_header("size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                      "8 bytes for 3 elements");
    expect_bad_header("reversed offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
                      "bad data_offsets");
    expect_bad_header("negative dimension", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
                      "shape[0]");
    expect_bad_header("unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", 4,
                      "unknown field 'x'");
    expect_bad_header("missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing dtype");
    expect_bad_header("bad json", "{\"a\":", 0, "not a JSON object");
    expect_bad_header("duplicate key",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                      4, "not a JSON object");
    expect_bad_header("metadata not a string", "{\"__metadata__\":{\"k\":1}}", 0, "value of 'k' is not a string");
    expect_bad_header("huge shape",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4,
                      "shape too large");

    /* A header whose length is not a multiple of 8 is valid; the reader
     * copies the data to an aligned place. */
    const char *h = "{\"x\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    int64_t vals[2] = {-3, 1LL << 50};
    write_raw("odd.safetensors", h, strlen(h), vals, sizeof vals);
    vtag_st_file f;
    int rc = vtag_st_open(&f, "odd.safetensors", &err);
    CHECK(rc == 0, "unpadded header: %s", err.msg);
    if (rc == 0) {
        const vtag_st_tensor *t = vtag_st_find(&f, "x");
        CHECK(t && ((uintptr_t)t->data & 7) == 0, "copied data is aligned");
        CHECK(t && ((const int64_t *)t->data)[0] == -3 && ((const int64_t *)t->data)[1] == (1LL << 50), "values");
        vtag_st_close(&f);
    }
}

static void test_atomic(void)
{
    vtag_error err = {0};
    /* Replacing a file leaves no temporary behind. */
    CHECK(write_canonical("atomic.safetensors", &err) == 0, "first write");
    CHECK(write_canonical("atomic.safetensors", &err) == 0, "overwrite");
    CHECK(count_tmp_files() == 0, "temporary files left behind");
    check_canonical("atomic.safetensors");
    /* A write that cannot happen creates nothing. */
    CHECK(write_canonical("missing-dir/x.safetensors", &err) == VTAG_ERR_IO, "write into a missing folder");
    CHECK(strstr(err.msg, "missing-dir/x.safetensors") != NULL, "message names the file: %s", err.msg);
    CHECK(access("missing-dir", F_OK) != 0, "folder created");
    /* Writer misuse. */
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    float x = 1;
    int64_t s1[1] = {1};
    CHECK(vtag_st_writer_add(&w, "a", VTAG_DTYPE_F32, 1, s1, &x, &err) == 0, "add");
    CHECK(vtag_st_writer_add(&w, "a", VTAG_DTYPE_F32, 1, s1, &x, &err) == VTAG_ERR_ARG, "duplicate name");
    CHECK(vtag_st_writer_add(&w, "__metadata__", VTAG_DTYPE_F32, 1, s1, &x, &err) == VTAG_ERR_ARG, "reserved name");
    vtag_st_writer_free(&w);
}

int main(int argc, char **argv)
{
    vtag_error err = {0};
    if (argc == 3 && strcmp(argv[1], "write") == 0) {
        if (write_canonical(argv[2], &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "check") == 0) {
        check_canonical(argv[2]);
        return check_summary("safetensors(check)");
    }
    test_errors();
    test_atomic();
    return check_summary("safetensors");
}

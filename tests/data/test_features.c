/* Features files (round trip, fc-only, att-only, every format error) and the
 * sets built from labels + vocabulary + features: rows of a split, caption
 * ids, references, and batches gathered into caller or arena buffers. */
#include <dirent.h>
#include <stdlib.h>

#include "data_test.h"
#include "vtag/safetensors.h"

#define TDIR "data_features"

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

enum { N = 7, DFC = 5, K = 3, DATT = 4 };

/* Row r of fc is r*100 + j, of att r*1000 + p*10 + j: every value names its row. */
static void make_features(float *fc, float *att)
{
    for (int r = 0; r < N; r++) {
        for (int j = 0; j < DFC; j++) fc[r * DFC + j] = (float)(r * 100 + j);
        for (int p = 0; p < K; p++)
            for (int j = 0; j < DATT; j++) att[(r * K + p) * DATT + j] = (float)(r * 1000 + p * 10 + j);
    }
}

/* Rows: frames of videos; "v2" rows are not contiguous. */
static const char *const ITEMS[N] = {"v1", "v1", "v2", "v3", "v3", "v2", "v4"};

static void test_round_trip(void)
{
    float fc[N * DFC], att[N * K * DATT];
    make_features(fc, att);
    vtag_data_features w = {.n = N, .fc_dim = DFC, .att_k = K, .att_dim = DATT, .fc = fc, .att = att,
                            .items = ITEMS, .backbone = "resnet18 (torchvision), 224 px"};
    vtag_error err = {0};
    int rc = vtag_data_write_features(&w, TDIR "/both.safetensors", &err);
    CHECK(rc == 0, "write: %s", err.msg);
    vtag_data_features f;
    rc = vtag_data_read_features(&f, TDIR "/both.safetensors", &err);
    CHECK(rc == 0, "read: %s", err.msg);
    if (!rc) {
        CHECK(f.n == N && f.fc_dim == DFC && f.att_k == K && f.att_dim == DATT, "shapes");
        CHECK(f.fc && memcmp(f.fc, fc, sizeof fc) == 0, "fc bytes");
        CHECK(f.att && memcmp(f.att, att, sizeof att) == 0, "att bytes");
        for (int r = 0; r < N; r++) CHECK(streq(f.items[r], ITEMS[r]), "item %d", r);
        CHECK(streq(f.backbone, w.backbone), "backbone");
        CHECK(streq(f.path, TDIR "/both.safetensors"), "path");
        vtag_data_free_features(&f);
        vtag_data_free_features(&f);
    }

    /* fc only (the fc model), att only (att2in), no backbone */
    vtag_data_features wfc = {.n = N, .fc_dim = DFC, .fc = fc, .items = ITEMS};
    rc = vtag_data_write_features(&wfc, TDIR "/fc.safetensors", &err);
    if (!rc) rc = vtag_data_read_features(&f, TDIR "/fc.safetensors", &err);
    CHECK(rc == 0, "fc only: %s", err.msg);
    if (!rc) {
        CHECK(f.fc && !f.att && f.att_k == 0 && f.att_dim == 0 && f.backbone == NULL, "fc-only fields");
        vtag_data_free_features(&f);
    }
    vtag_data_features watt = {.n = N, .att_k = K, .att_dim = DATT, .att = att, .items = ITEMS, .backbone = "x"};
    rc = vtag_data_write_features(&watt, TDIR "/att.safetensors", &err);
    if (!rc) rc = vtag_data_read_features(&f, TDIR "/att.safetensors", &err);
    CHECK(rc == 0, "att only: %s", err.msg);
    if (!rc) {
        CHECK(!f.fc && f.fc_dim == 0 && f.att && memcmp(f.att, att, sizeof att) == 0, "att-only fields");
        vtag_data_free_features(&f);
    }

    /* The write is atomic: no temporary file is left in the folder. */
    DIR *d = opendir(TDIR);
    int tmp = 0;
    for (struct dirent *e; d && (e = readdir(d));) tmp += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    CHECK(tmp == 0, "%d temporary files left", tmp);

    /* Bad writer input */
    const char *bad_items[N] = {"v1", "v1", "", "v3", "v3", "v2", "v4"};
    vtag_data_features wb = wfc;
    wb.items = bad_items;
    CHECK(vtag_data_write_features(&wb, TDIR "/bad.safetensors", &err) == VTAG_ERR_ARG &&
              strstr(err.msg, "item 2 is empty"),
          "empty item refused: %s", err.msg);
    wb = wfc;
    wb.fc = NULL;
    CHECK(vtag_data_write_features(&wb, TDIR "/bad.safetensors", &err) == VTAG_ERR_ARG, "no tensor refused");
    const char *bad_utf8[N] = {"v1", "v1", "\xC3\x28", "v3", "v3", "v2", "v4"};
    wb = wfc;
    wb.items = bad_utf8;
    CHECK(vtag_data_write_features(&wb, TDIR "/bad.safetensors", &err) == VTAG_ERR_ARG &&
              strstr(err.msg, "item 2 is not valid UTF-8"),
          "invalid UTF-8 item refused: %s", err.msg);
}

/* Writes a safetensors file by hand: tensors fc/att/extra with the given
 * shapes (ndim 0 = absent) and the given metadata (NULL = absent). */
static void write_raw(const char *path, int fc_ndim, const int64_t *fc_shape, int att_ndim, const int64_t *att_shape,
                      vtag_dtype fc_dtype, int extra, const char *items, const char *backbone)
{
    static float buf[4096];
    vtag_st_writer w;
    vtag_error err = {0};
    vtag_st_writer_init(&w);
    if (fc_ndim) vtag_st_writer_add(&w, "fc", fc_dtype, fc_ndim, fc_shape, buf, &err);
    if (att_ndim) vtag_st_writer_add(&w, "att", VTAG_DTYPE_F32, att_ndim, att_shape, buf, &err);
    if (extra) {
        int64_t s[1] = {3};
        vtag_st_writer_add(&w, "labels", VTAG_DTYPE_F32, 1, s, buf, &err);
    }
    if (items) vtag_st_writer_meta(&w, "vtag.items", items, &err);
    if (backbone) vtag_st_writer_meta(&w, "vtag.backbone", backbone, &err);
    if (vtag_st_writer_save(&w, path, &err) != 0) fprintf(stderr, "write_raw: %s\n", err.msg);
    vtag_st_writer_free(&w);
}

static void expect_read_error(const char *want)
{
    vtag_data_features f;
    vtag_error err = {0};
    int rc = vtag_data_read_features(&f, TDIR "/bad.safetensors", &err);
    CHECK(rc == VTAG_ERR_FORMAT && strstr(err.msg, TDIR "/bad.safetensors: ") && strstr(err.msg, want),
          "\"%s\" lacks \"%s\" (rc %d)", err.msg, want, rc);
    CHECK(f.impl == NULL && f.n == 0 && f.items == NULL, "failed read leaves an empty object");
}

static void test_read_errors(void)
{
    const char *p = TDIR "/bad.safetensors";
    const char *items3 = "[\"a\",\"b\",\"c\"]";
    int64_t fc3[2] = {3, 4}, att3[3] = {3, 2, 4}, att2[3] = {2, 2, 4}, flat[1] = {12}, fc0[2] = {3, 0};
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 0, NULL, "b");
    expect_read_error("missing metadata \"vtag.items\"");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 0, "[\"a\",", "b");
    expect_read_error("vtag.items: invalid JSON");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 0, "{\"a\": 1}", "b");
    expect_read_error("vtag.items must be a JSON array of item ids");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 0, "[\"a\",\"b\"]", "b");
    expect_read_error("vtag.items has 2 ids for 3 rows");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 0, "[\"a\",7,\"c\"]", "b");
    expect_read_error("vtag.items[1] is not a non-empty string");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 0, "[\"a\",\"b\",\"\"]", "b");
    expect_read_error("vtag.items[2] is not a non-empty string");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_F32, 1, items3, "b");
    expect_read_error("unexpected tensor \"labels\"");
    write_raw(p, 0, NULL, 0, NULL, VTAG_DTYPE_F32, 0, items3, "b");
    expect_read_error("no \"fc\" or \"att\" tensor");
    write_raw(p, 1, flat, 0, NULL, VTAG_DTYPE_F32, 0, items3, "b");
    expect_read_error("tensor \"fc\" must be F32 [N, D_fc], got F32 [12]");
    write_raw(p, 2, fc3, 0, NULL, VTAG_DTYPE_I32, 0, items3, "b");
    expect_read_error("tensor \"fc\" must be F32 [N, D_fc], got I32 [3, 4]");
    write_raw(p, 2, fc0, 0, NULL, VTAG_DTYPE_F32, 0, items3, "b");
    expect_read_error("tensor \"fc\" must be F32 [N, D_fc], got F32 [3, 0]");
    write_raw(p, 0, NULL, 2, fc3, VTAG_DTYPE_F32, 0, items3, "b");
    expect_read_error("tensor \"att\" must be F32 [N, K, D_att], got F32 [3, 4]");
    write_raw(p, 2, fc3, 3, att2, VTAG_DTYPE_F32, 0, items3, "b");
    expect_read_error("fc has 3 rows but att has 2");
    write_raw(p, 2, fc3, 3, att3, VTAG_DTYPE_F32, 0, items3, NULL);
    vtag_data_features f;
    vtag_error err = {0};
    CHECK(vtag_data_read_features(&f, p, &err) == 0 && f.backbone == NULL && f.n == 3, "valid by hand: %s", err.msg);
    vtag_data_free_features(&f);
    CHECK(vtag_data_read_features(&f, TDIR "/absent.safetensors", &err) == VTAG_ERR_IO &&
              strstr(err.msg, "absent.safetensors"),
          "missing file: %s", err.msg);
}

static void test_sets(void)
{
    /* v1, v2 train; v3 val; v4 test; v5 has no rows. */
    const char *labels_text = "video,class1,class2,tags,split\n"
                              "v1,game,moba,kill|李白,train\n"
                              "v2,game,moba,kill,train\n"
                              "v3,sports,football,goal,val\n"
                              "v4,game,fps,kill|goal,test\n"
                              "v5,food,noodles,,train\n";
    data_test_write(TDIR "/labels.csv", labels_text, -1);
    vtag_data_labels l;
    vtag_data_captions c;
    vtag_data_vocab v;
    vtag_data_features f;
    vtag_data_caption_opts o;
    vtag_data_caption_opts_default(&o);
    vtag_error err = {0};
    int rc = vtag_data_read_labels(&l, TDIR "/labels.csv", NULL, &err);
    if (!rc) rc = vtag_data_make_captions(&c, &l, &o, &err);
    if (!rc) rc = vtag_data_build_vocab(&v, &l, &c, &o, &err);
    if (!rc) rc = vtag_data_read_features(&f, TDIR "/both.safetensors", &err);
    CHECK(rc == 0, "setup: %s", err.msg);
    if (rc) return;
    /* vocab: game 1, moba 2, kill 3, 李白 4, food 5, noodles 6 */
    CHECK(v.size == 6 && streq(v.tokens[3], "kill") && streq(v.tokens[6], "noodles"), "vocab");

    int64_t entry[N];
    rc = vtag_data_map_rows(&f, &l, entry, &err);
    CHECK(rc == 0 && entry[0] == 0 && entry[2] == 1 && entry[5] == 1 && entry[6] == 3, "map rows: %s", err.msg);

    vtag_data_set s;
    rc = vtag_data_build_set(&s, &l, &c, &v, &f, VTAG_DATA_SPLIT_TRAIN, &o, &err);
    CHECK(rc == 0, "train set: %s", err.msg);
    if (!rc) {
        CHECK(s.n_rows == 4 && s.rows[0] == 0 && s.rows[1] == 1 && s.rows[2] == 2 && s.rows[3] == 5, "train rows");
        CHECK(s.n_videos == 2 && s.videos[0] == 0 && s.videos[1] == 1, "train videos (v5 has no rows)");
        CHECK(s.row_video[0] == 0 && s.row_video[1] == 0 && s.row_video[2] == 1 && s.row_video[3] == 1, "row_video");
        CHECK(s.max_length == 16, "L");
        const int32_t want0[16] = {1, 2, 3, 4}, want1[16] = {1, 2, 3};
        CHECK(memcmp(s.captions, want0, sizeof want0) == 0 && memcmp(s.captions + 16, want1, sizeof want1) == 0,
              "captions, 0-padded");
        CHECK(s.refs[0].ids == s.captions && s.refs[0].len == 4 && s.refs[1].ids == s.captions + 16 &&
                  s.refs[1].len == 3,
              "references");

        /* caller buffers */
        int64_t idx[3] = {3, 0, 3};
        float fc[3 * DFC], att[3 * K * DATT];
        int32_t labels[3 * 16];
        vtag_batch b;
        rc = vtag_data_gather_batch(&s, idx, 3, fc, att, labels, &b, &err);
        CHECK(rc == 0 && b.b == 3 && b.k == K && b.fc == fc && b.att == att && b.labels == labels, "gather: %s",
              err.msg);
        const int64_t src[3] = {5, 0, 5};
        int bad = 0;
        for (int i = 0; i < 3; i++) {
            bad += memcmp(fc + i * DFC, f.fc + src[i] * DFC, DFC * sizeof(float)) != 0;
            bad += memcmp(att + i * K * DATT, f.att + src[i] * K * DATT, K * DATT * sizeof(float)) != 0;
        }
        bad += memcmp(labels, want1, sizeof want1) != 0 || memcmp(labels + 16, want0, sizeof want0) != 0 ||
               memcmp(labels + 32, want1, sizeof want1) != 0;
        CHECK(bad == 0, "gathered rows (%d wrong)", bad);
        rc = vtag_data_gather_batch(&s, idx, 3, fc, NULL, NULL, &b, &err);
        CHECK(rc == 0 && b.att == NULL && b.k == 0 && b.labels == NULL && b.fc == fc, "gather fc only");
        int64_t out[1] = {4};
        rc = vtag_data_gather_batch(&s, out, 1, fc, att, labels, &b, &err);
        CHECK(rc == VTAG_ERR_ARG && strstr(err.msg, "row 4 is outside the set's 4 rows"), "range: %s", err.msg);

        /* arena buffers */
        vtag_arena arena;
        if (vtag_arena_init(&arena, 1 << 12, &err) == 0) {
            rc = vtag_data_gather_batch_arena(&s, idx, 3, VTAG_DATA_GATHER_FC | VTAG_DATA_GATHER_LABELS, &arena, &b,
                                              &err);
            CHECK(rc == 0 && b.fc && !b.att && b.labels && b.k == 0, "arena gather: %s", err.msg);
            if (!rc)
                CHECK(memcmp(b.fc, fc, sizeof fc) == 0 && memcmp(b.labels, labels, sizeof labels) == 0,
                      "arena gather = caller gather");
            rc = vtag_data_gather_batch_arena(&s, idx, 3, VTAG_DATA_GATHER_ATT, &arena, &b, &err);
            CHECK(rc == 0 && b.att && memcmp(b.att, att, sizeof att) == 0 && b.k == K, "arena att: %s", err.msg);
            vtag_arena_free(&arena);
        }
        vtag_data_free_set(&s);
    }

    /* val, test and all; a short max_length */
    rc = vtag_data_build_set(&s, &l, &c, &v, &f, VTAG_DATA_SPLIT_VAL, &o, &err);
    CHECK(rc == 0 && s.n_rows == 2 && s.n_videos == 1 && s.refs[0].len == 0,
          "val set: goal/football/sports unseen in training and no UNK → empty reference: %s", err.msg);
    vtag_data_free_set(&s);
    o.max_length = 2;
    rc = vtag_data_build_set(&s, &l, &c, &v, &f, VTAG_DATA_SPLIT_TEST, &o, &err);
    CHECK(rc == 0 && s.n_rows == 1 && s.rows[0] == 6 && s.refs[0].len == 2 && s.captions[0] == 1 &&
              s.captions[1] == 3,
          "test set, cut at 2: %s", err.msg);
    vtag_data_free_set(&s);
    o.max_length = 16;
    rc = vtag_data_build_set(&s, &l, &c, &v, &f, VTAG_DATA_SPLIT_ALL, &o, &err);
    CHECK(rc == 0 && s.n_rows == N && s.n_videos == 4, "all splits: %s", err.msg);
    vtag_data_free_set(&s);

    /* fc-only features: asking the arena for att is an error */
    vtag_data_features ffc;
    rc = vtag_data_read_features(&ffc, TDIR "/fc.safetensors", &err);
    if (!rc) rc = vtag_data_build_set(&s, &l, &c, &v, &ffc, VTAG_DATA_SPLIT_TRAIN, &o, &err);
    CHECK(rc == 0, "fc-only set: %s", err.msg);
    if (!rc) {
        vtag_arena arena;
        vtag_batch b;
        int64_t idx[1] = {0};
        if (vtag_arena_init(&arena, 1 << 12, &err) == 0) {
            rc = vtag_data_gather_batch_arena(&s, idx, 1, VTAG_DATA_GATHER_ATT, &arena, &b, &err);
            CHECK(rc == VTAG_ERR_ARG && strstr(err.msg, "fc.safetensors: has no att features"), "%s", err.msg);
            vtag_arena_free(&arena);
        }
        float att[K * DATT];
        rc = vtag_data_gather_batch(&s, idx, 1, NULL, att, NULL, &b, &err);
        CHECK(rc == 0 && b.att == NULL && b.k == 0, "caller att buffer ignored without att");
        vtag_data_free_set(&s);
    }
    vtag_data_free_features(&ffc);

    /* An item absent from the labels file */
    const char *items[N] = {"v1", "v1", "v2", "v9", "v3", "v2", "v7"};
    float fcv[N * DFC] = {0};
    vtag_data_features w = {.n = N, .fc_dim = DFC, .fc = fcv, .items = items, .backbone = "b"};
    vtag_data_features fbad;
    rc = vtag_data_write_features(&w, TDIR "/unknown.safetensors", &err);
    if (!rc) rc = vtag_data_read_features(&fbad, TDIR "/unknown.safetensors", &err);
    CHECK(rc == 0, "write/read: %s", err.msg);
    if (!rc) {
        rc = vtag_data_map_rows(&fbad, &l, entry, &err);
        CHECK(rc == VTAG_ERR_NOTFOUND && strstr(err.msg, TDIR "/unknown.safetensors: item \"v9\" (row 3) is not in " TDIR
                                                         "/labels.csv"),
              "absent id: %s", err.msg);
        rc = vtag_data_build_set(&s, &l, &c, &v, &fbad, VTAG_DATA_SPLIT_TRAIN, &o, &err);
        CHECK(rc == VTAG_ERR_NOTFOUND && strstr(err.msg, "item \"v9\" (row 3)") && s.rows == NULL,
              "set with an absent id: %s", err.msg);
        vtag_data_free_features(&fbad);
    }

    vtag_data_free_features(&f);
    vtag_data_free_vocab(&v);
    vtag_data_free_captions(&c);
    vtag_data_free_labels(&l);
}

int main(void)
{
    data_test_mkdirs(TDIR);
    test_round_trip();
    test_read_errors();
    test_sets();
    return check_summary("data/features");
}

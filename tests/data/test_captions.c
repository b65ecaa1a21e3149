/* Captions and vocabulary: canonical tag order and its ties, dedupe, the
 * max_length cut, count threshold and UNK, and the vtag.vocab JSON round trip. */
#include <stdlib.h>

#include "data_test.h"

#define DIR "data_captions"

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Caption i of c as '/'-joined labels (no test label contains '/'). */
static const char *caption_text(const vtag_data_labels *l, const vtag_data_captions *c, int64_t i, char *buf,
                                size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int64_t j = c->start[i]; j < c->start[i + 1]; j++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", j > c->start[i] ? "/" : "", l->names[c->names[j]]);
    return buf;
}

static int read_labels(vtag_data_labels *l, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, DIR "/%s", name);
    data_test_write(path, text, -1);
    vtag_error err = {0};
    int rc = vtag_data_read_labels(l, path, NULL, &err);
    CHECK(rc == 0, "read %s: %s", name, err.msg);
    return rc;
}

static void test_order(void)
{
    /* Training tag counts: c 4, b 2, y 2, a 1, x 1; z only in val (0).
     * First appearance (names order): 游戏 王者荣耀 a b c 体育 y 足球 x z */
    const char *text = "video,class1,class2,tags,split\n"
                       "v1,游戏,王者荣耀,a|b|c,train\n"
                       "v2,游戏,王者荣耀,c|b,train\n"
                       "v3,体育,王者荣耀,c|y,train\n"
                       "v4,体育,足球,x|y|c|c,train\n"
                       "v5,体育,足球,z|x|y|b|a,val\n"
                       "v6,游戏,游戏,游戏|c|王者荣耀|b|c,test\n";
    vtag_data_labels l;
    if (read_labels(&l, "order.csv", text)) return;
    vtag_data_caption_opts o;
    vtag_data_caption_opts_default(&o);
    CHECK(o.max_length == 16 && o.count_threshold == 0 && o.keep_tag_order == 0, "defaults");
    vtag_data_captions c;
    vtag_error err = {0};
    int rc = vtag_data_make_captions(&c, &l, &o, &err);
    CHECK(rc == 0, "captions: %s", err.msg);
    if (rc) {
        vtag_data_free_labels(&l);
        return;
    }
    char buf[512];
    const char *want[] = {
        "游戏/王者荣耀/c/b/a",
        "游戏/王者荣耀/c/b",
        "体育/王者荣耀/c/y",
        "体育/足球/c/y/x",           /* the repeated c kept once */
        "体育/足球/b/y/a/x/z",       /* ties: b = y (2), a = x (1) by first appearance; z (0) last */
        "游戏/c/b/王者荣耀",         /* class2 = class1 and repeats removed; 王者荣耀 (0 as a tag) last */
    };
    for (int i = 0; i < 6; i++)
        CHECK(streq(caption_text(&l, &c, i, buf, sizeof buf), want[i]), "caption %d: %s vs %s", i, buf, want[i]);
    int64_t kc = vtag_data_find_name(&l, "c"), kz = vtag_data_find_name(&l, "z"), kb = vtag_data_find_name(&l, "b");
    CHECK(c.tag_count[kc] == 4 && c.tag_count[kb] == 2 && c.tag_count[kz] == 0,
          "tag counts: c %lld b %lld z %lld", (long long)c.tag_count[kc], (long long)c.tag_count[kb],
          (long long)c.tag_count[kz]);
    vtag_data_free_captions(&c);

    o.keep_tag_order = 1;
    rc = vtag_data_make_captions(&c, &l, &o, &err);
    CHECK(rc == 0, "captions: %s", err.msg);
    if (!rc) {
        CHECK(streq(caption_text(&l, &c, 0, buf, sizeof buf), "游戏/王者荣耀/a/b/c"), "kept order: %s", buf);
        CHECK(streq(caption_text(&l, &c, 3, buf, sizeof buf), "体育/足球/x/y/c"), "kept order, dedupe: %s", buf);
        CHECK(streq(caption_text(&l, &c, 5, buf, sizeof buf), "游戏/c/王者荣耀/b"), "kept order: %s", buf);
        vtag_data_free_captions(&c);
    }
    vtag_data_free_labels(&l);
}

/* Encodes caption i of c through v with max_length L. */
static int64_t encode(const vtag_data_labels *l, const vtag_data_captions *c, const vtag_data_vocab *v, int64_t i,
                      int64_t L, int32_t *ids)
{
    const char *tokens[64];
    int64_t n = c->start[i + 1] - c->start[i];
    for (int64_t j = 0; j < n; j++) tokens[j] = l->names[c->names[c->start[i] + j]];
    return vtag_data_encode_caption(v, tokens, n, L, ids);
}

static void test_vocab(void)
{
    /* Training video counts: sports 3, football 2, goal 2, 'red card' 1,
     * 篮球 1, dunk 1; "hockey" only in val. */
    const char *text = "{\"video\": \"a\", \"class1\": \"sports\", \"class2\": \"football\", \"tags\": [\"goal\", \"red card\", \"goal\"]}\n"
                       "{\"video\": \"b\", \"class1\": \"sports\", \"class2\": \"football\", \"tags\": [\"goal\"]}\n"
                       "{\"video\": \"c\", \"class1\": \"sports\", \"class2\": \"篮球\", \"tags\": [\"dunk\"]}\n"
                       "{\"video\": \"d\", \"class1\": \"sports\", \"class2\": \"hockey\", \"tags\": [\"dunk\", \"goal\"], \"split\": \"val\"}\n";
    vtag_data_labels l;
    if (read_labels(&l, "vocab.jsonl", text)) return;
    vtag_data_caption_opts o;
    vtag_data_caption_opts_default(&o);
    vtag_data_captions c;
    vtag_error err = {0};
    if (vtag_data_make_captions(&c, &l, &o, &err) != 0) {
        CHECK(0, "captions: %s", err.msg);
        vtag_data_free_labels(&l);
        return;
    }

    /* threshold 0: every training label, in first appearance order; no UNK */
    vtag_data_vocab v;
    int rc = vtag_data_build_vocab(&v, &l, &c, &o, &err);
    CHECK(rc == 0, "vocab: %s", err.msg);
    if (!rc) {
        const char *want[] = {NULL, "sports", "football", "goal", "red card", "篮球", "dunk"};
        CHECK(v.size == 6 && v.unk == 0, "size %lld unk %d", (long long)v.size, v.unk);
        for (int id = 1; id <= 6 && id <= v.size; id++)
            CHECK(streq(v.tokens[id], want[id]), "id %d: %s vs %s", id, v.tokens[id], want[id]);
        CHECK(v.tokens[0] == NULL, "tokens[0] is NULL");
        CHECK(vtag_data_find_token(&v, "red card") == 4 && vtag_data_find_token(&v, "hockey") == 0 &&
                  vtag_data_find_token(&v, "red") == 0,
              "find_token");
        int32_t ids[16];
        int64_t n = encode(&l, &c, &v, 3, 16, ids);
        CHECK(n == 3 && ids[0] == 1 && ids[1] == 3 && ids[2] == 6, "val caption without UNK drops hockey (n=%lld)",
              (long long)n);
        n = encode(&l, &c, &v, 0, 16, ids);
        CHECK(n == 4 && ids[0] == 1 && ids[1] == 2 && ids[2] == 3 && ids[3] == 4, "caption 0 (n=%lld)", (long long)n);
        n = encode(&l, &c, &v, 0, 3, ids);
        CHECK(n == 3 && ids[2] == 3, "cut at max_length 3 (n=%lld)", (long long)n);
        n = encode(&l, &c, &v, 0, 1, ids);
        CHECK(n == 1 && ids[0] == 1, "cut at max_length 1");

        /* JSON round trip */
        char *json = NULL;
        rc = vtag_data_encode_vocab(&v, &json, &err);
        CHECK(rc == 0 && json && streq(json, "[\"sports\",\"football\",\"goal\",\"red card\",\"篮球\",\"dunk\"]"),
              "vocab JSON: %s", json ? json : err.msg);
        vtag_data_vocab d;
        rc = vtag_data_decode_vocab(&d, json, "m.safetensors", &err);
        CHECK(rc == 0, "decode: %s", err.msg);
        if (!rc) {
            CHECK(d.size == v.size && d.unk == 0, "decoded size");
            for (int64_t id = 1; id <= v.size && id <= d.size; id++)
                CHECK(streq(d.tokens[id], v.tokens[id]), "decoded id %lld", (long long)id);
            CHECK(vtag_data_find_token(&d, "篮球") == 5, "decoded lookup");
            vtag_data_free_vocab(&d);
        }
        free(json);
        vtag_data_free_vocab(&v);
    }

    /* threshold 1: only sports (3), football (2), goal (2); UNK appended. */
    o.count_threshold = 1;
    rc = vtag_data_build_vocab(&v, &l, &c, &o, &err);
    CHECK(rc == 0, "vocab: %s", err.msg);
    if (!rc) {
        CHECK(v.size == 4 && v.unk == 4 && streq(v.tokens[4], "UNK"), "size %lld unk %d", (long long)v.size, v.unk);
        CHECK(streq(v.tokens[1], "sports") && streq(v.tokens[2], "football") && streq(v.tokens[3], "goal"), "ids");
        int32_t ids[16];
        int64_t n = encode(&l, &c, &v, 0, 16, ids); /* sports football goal 'red card' */
        CHECK(n == 4 && ids[3] == 4, "rare label → UNK (n=%lld)", (long long)n);
        n = encode(&l, &c, &v, 2, 16, ids); /* sports 篮球 dunk: two rare labels, UNK once */
        CHECK(n == 2 && ids[0] == 1 && ids[1] == 4, "UNK at most once (n=%lld)", (long long)n);
        n = encode(&l, &c, &v, 3, 16, ids); /* val: sports hockey goal dunk */
        CHECK(n == 3 && ids[0] == 1 && ids[1] == 4 && ids[2] == 3, "unseen label → UNK (n=%lld)", (long long)n);
        char *json = NULL;
        rc = vtag_data_encode_vocab(&v, &json, &err);
        vtag_data_vocab d;
        rc = rc ? rc : vtag_data_decode_vocab(&d, json, NULL, &err);
        CHECK(rc == 0 && d.unk == 4 && d.size == 4, "UNK survives the round trip: %s", err.msg);
        if (!rc) vtag_data_free_vocab(&d);
        free(json);
        vtag_data_free_vocab(&v);
    }

    /* threshold 3: nothing above it; the vocabulary is just UNK. */
    o.count_threshold = 3;
    rc = vtag_data_build_vocab(&v, &l, &c, &o, &err);
    CHECK(rc == 0 && v.size == 1 && v.unk == 1, "all rare: size %lld unk %d", (long long)v.size, v.unk);
    if (!rc) vtag_data_free_vocab(&v);
    o.count_threshold = -1;
    rc = vtag_data_build_vocab(&v, &l, &c, &o, &err);
    CHECK(rc == VTAG_ERR_ARG, "negative threshold refused");
    vtag_data_free_captions(&c);
    vtag_data_free_labels(&l);
}

/* A label spelled "UNK" is the unknown token. */
static void test_unk_label(void)
{
    const char *text = "video,class1,class2,tags\n"
                       "a,UNK,x,common\n"
                       "b,UNK,y,common\n"
                       "c,z,x,rare\n";
    vtag_data_labels l;
    if (read_labels(&l, "unk.csv", text)) return;
    vtag_data_caption_opts o;
    vtag_data_caption_opts_default(&o);
    o.count_threshold = 1;
    vtag_data_captions c;
    vtag_data_vocab v;
    vtag_error err = {0};
    int rc = vtag_data_make_captions(&c, &l, &o, &err);
    if (!rc) rc = vtag_data_build_vocab(&v, &l, &c, &o, &err);
    CHECK(rc == 0, "vocab: %s", err.msg);
    if (rc) {
        vtag_data_free_labels(&l);
        return;
    }
    CHECK(v.size == 3 && v.unk == 1 && streq(v.tokens[1], "UNK") && streq(v.tokens[2], "x") &&
              streq(v.tokens[3], "common"),
          "size %lld unk %d", (long long)v.size, v.unk);
    vtag_data_free_vocab(&v);
    vtag_data_free_captions(&c);
    vtag_data_free_labels(&l);
}

static void expect_decode_error(const char *json, const char *want)
{
    vtag_data_vocab v;
    vtag_error err = {0};
    int rc = vtag_data_decode_vocab(&v, json, "m.safetensors", &err);
    CHECK(rc == VTAG_ERR_FORMAT && strstr(err.msg, want), "decode %s: \"%s\" lacks \"%s\"", json, err.msg, want);
    CHECK(v.impl == NULL && v.size == 0, "failed decode leaves an empty vocabulary");
}

static void test_decode_errors(void)
{
    expect_decode_error("[\"a\", ", "m.safetensors: vtag.vocab: invalid JSON");
    expect_decode_error("{\"a\": 1}", "m.safetensors: vtag.vocab: expected a JSON array");
    expect_decode_error("[\"a\", 2]", "m.safetensors: vtag.vocab: element 1 is not a non-empty string");
    expect_decode_error("[\"a\", \"\"]", "element 1 is not a non-empty string");
    expect_decode_error("[\"a\", \"b\", \"a\"]", "m.safetensors: vtag.vocab: element 2 repeats element 0 (\"a\")");
    vtag_data_vocab v;
    vtag_error err = {0};
    int rc = vtag_data_decode_vocab(&v, "[]", NULL, &err);
    CHECK(rc == 0 && v.size == 0 && v.unk == 0 && vtag_data_find_token(&v, "a") == 0, "empty vocabulary");
    if (!rc) vtag_data_free_vocab(&v);
}

/* Many tokens: lookups stay exact through the hash map's growth. */
static void test_many_tokens(void)
{
    enum { N = 5000 };
    size_t cap = (size_t)N * 16 + 16;
    char *json = malloc(cap);
    size_t at = 0;
    at += (size_t)snprintf(json + at, cap - at, "[");
    for (int i = 0; i < N; i++) at += (size_t)snprintf(json + at, cap - at, "%s\"标签 %d\"", i ? "," : "", i);
    snprintf(json + at, cap - at, "]");
    vtag_data_vocab v;
    vtag_error err = {0};
    int rc = vtag_data_decode_vocab(&v, json, NULL, &err);
    CHECK(rc == 0 && v.size == N, "decode %d tokens: %s", N, err.msg);
    if (!rc) {
        int bad = 0;
        char tok[32];
        for (int i = 0; i < N; i++) {
            snprintf(tok, sizeof tok, "标签 %d", i);
            bad += vtag_data_find_token(&v, tok) != i + 1;
        }
        CHECK(bad == 0, "%d lookups wrong", bad);
        CHECK(vtag_data_find_token(&v, "标签 5000") == 0, "absent token");
        vtag_data_free_vocab(&v);
    }
    free(json);
}

int main(void)
{
    data_test_mkdirs(DIR);
    test_order();
    test_vocab();
    test_unk_label();
    test_decode_errors();
    test_many_tokens();
    return check_summary("data/captions");
}

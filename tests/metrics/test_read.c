/* The JSON Lines readers of `vtag score`: what a good file turns into, and
 * that every kind of bad line is an error naming the file and the line. */
#include "mtest.h"

static const char *write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "wb");
    if (!f) {
        perror(name);
        abort();
    }
    fputs(text, f);
    fclose(f);
    return name;
}

static void test_good_captions(void)
{
    const char *path = write_file("metrics_read_good.jsonl",
                                  "{\"id\": 1, \"cand\": \"a  b\\tc\", \"refs\": [\"a b\", \"\"]}\n"
                                  "\n"
                                  "{\"id\": \"x\", \"cand\": [\"li bai\", \"a\"], \"refs\": [[\"li bai\"], \"\\u738b b\"]}\n");
    vtag_metrics_vocab v;
    vtag_metrics_vocab_init(&v);
    vtag_metrics_captions c;
    vtag_error err = {0};
    CHECK(vtag_metrics_read_captions(path, 1, &v, &c, &err) == 0, "%s", err.msg);
    CHECK(c.n_items == 2, "items %lld", (long long)c.n_items);
    CHECK(v.count == 5, "tokens a b c, li bai, 王: %d", (int)v.count);
    if (c.n_items == 2) {
        CHECK(c.items[0].cand.len == 3 && c.items[0].n_refs == 2, "item 0 shape");
        CHECK(c.items[0].refs[1].len == 0, "empty reference");
        CHECK(c.items[1].cand.len == 2 && c.items[1].refs[0].len == 1, "array tokens keep spaces");
        CHECK(c.items[1].cand.ids[0] == vtag_metrics_vocab_find(&v, "li bai", 6), "token 'li bai'");
        CHECK(strcmp(vtag_metrics_vocab_token(&v, c.items[1].refs[1].ids[0]), "\xe7\x8e\x8b") == 0, "UTF-8 token");
        CHECK(c.items[1].cand.ids[1] == c.items[0].cand.ids[0], "shared vocabulary");
    }
    vtag_metrics_captions_free(&c);
    /* A df corpus needs no "cand". */
    path = write_file("metrics_read_df.jsonl", "{\"refs\": [\"a b\"]}\n");
    CHECK(vtag_metrics_read_captions(path, 0, &v, &c, &err) == 0, "%s", err.msg);
    CHECK(c.n_items == 1 && c.items[0].cand.len == 0, "df corpus");
    vtag_metrics_captions_free(&c);
    vtag_metrics_vocab_free(&v);
}

/* `text` must fail, with an error that contains `want` (file:line: …). */
static void bad_captions(const char *text, const char *want)
{
    const char *path = write_file("metrics_read_bad.jsonl", text);
    vtag_metrics_vocab v;
    vtag_metrics_vocab_init(&v);
    vtag_metrics_captions c;
    vtag_error err = {0};
    int rc = vtag_metrics_read_captions(path, 1, &v, &c, &err);
    CHECK(rc != 0, "accepted: %s", text);
    CHECK(strstr(err.msg, want) != NULL, "error '%s' lacks '%s'", err.msg, want);
    CHECK(c.items == NULL && c.n_items == 0, "output left empty");
    vtag_metrics_vocab_free(&v);
}

static void bad_multilabel(const char *text, const char *want)
{
    const char *path = write_file("metrics_read_bad_ml.jsonl", text);
    vtag_metrics_vocab v;
    vtag_metrics_vocab_init(&v);
    vtag_metrics_ml_set s;
    vtag_error err = {0};
    int rc = vtag_metrics_read_multilabel(path, &v, &s, &err);
    CHECK(rc != 0, "accepted: %s", text);
    CHECK(strstr(err.msg, want) != NULL, "error '%s' lacks '%s'", err.msg, want);
    vtag_metrics_vocab_free(&v);
}

static void test_bad(void)
{
    const char *ok = "{\"id\": 1, \"cand\": \"a\", \"refs\": [\"a\"]}\n";
    char text[512];
    snprintf(text, sizeof text, "%s%s{\"id\": 3, \"cand\": \"a\", \"refs\": [\"a\"\n", ok, ok);
    bad_captions(text, "metrics_read_bad.jsonl:3: malformed JSON");
    snprintf(text, sizeof text, "%s{\"id\": 2, \"refs\": [\"a\"]}\n", ok);
    bad_captions(text, "metrics_read_bad.jsonl:2: missing field \"cand\"");
    snprintf(text, sizeof text, "%s\n{\"id\": 2, \"cand\": \"a\"}\n", ok);
    bad_captions(text, "metrics_read_bad.jsonl:3: missing field \"refs\"");
    snprintf(text, sizeof text, "%s{\"id\": 2, \"cand\": \"a\", \"refs\": [\"a\", 7]}\n", ok);
    bad_captions(text, ":2: \"refs\"[1] must be a string or an array of token strings");
    snprintf(text, sizeof text, "%s{\"id\": 2, \"cand\": [\"a\", 3], \"refs\": [\"a\"]}\n", ok);
    bad_captions(text, ":2: \"cand\": token 1 is not a string");
    snprintf(text, sizeof text, "%s{\"id\": 2, \"cand\": 5, \"refs\": [\"a\"]}\n", ok);
    bad_captions(text, ":2: \"cand\" must be a string");
    bad_captions("{\"cand\": \"a\", \"refs\": []}\n", ":1: \"refs\" must be a non-empty array");
    bad_captions("{\"cand\": \"a\", \"refs\": [\"a\"], \"ref\": 1}\n", ":1: unknown field \"ref\"");
    bad_captions("[1, 2]\n", ":1: expected a JSON object");
    bad_captions("{\"cand\": \"a\", \"cand\": \"b\", \"refs\": [\"a\"]}\n", ":1: malformed JSON");
    bad_captions("\n\n", "no items");

    vtag_metrics_vocab v;
    vtag_metrics_vocab_init(&v);
    vtag_metrics_captions c;
    vtag_error err = {0};
    CHECK(vtag_metrics_read_captions("metrics_no_such_file.jsonl", 1, &v, &c, &err) == VTAG_ERR_IO, "missing file");
    CHECK(strstr(err.msg, "metrics_no_such_file.jsonl") != NULL, "names the file: %s", err.msg);
    vtag_metrics_vocab_free(&v);

    const char *mok = "{\"id\": 1, \"pred\": [[\"a\", 0.5]], \"true\": [\"a\"]}\n";
    snprintf(text, sizeof text, "%s{\"id\": 2, \"pred\": [[\"a\", \"high\"]], \"true\": []}\n", mok);
    bad_multilabel(text, "metrics_read_bad_ml.jsonl:2: \"pred\"[0]: score is not a number");
    snprintf(text, sizeof text, "%s{\"id\": 2, \"pred\": [[3, 0.1]], \"true\": []}\n", mok);
    bad_multilabel(text, ":2: \"pred\"[0]: label is not a string");
    snprintf(text, sizeof text, "%s%s{\"id\": 3, \"pred\": []}\n", mok, mok);
    bad_multilabel(text, ":3: missing field \"true\"");
    snprintf(text, sizeof text, "%s{\"id\": 2, \"pred\": [], \"true\": [\"a\", 1]}\n", mok);
    bad_multilabel(text, ":2: \"true\"[1]: label is not a string");
    bad_multilabel("{\"pred\": [[\"a\", 1], [\"a\", 2]], \"true\": []}\n", ":1: \"pred\": label \"a\" appears twice");
    bad_multilabel("{\"pred\": [[\"a\"]], \"true\": []}\n", ":1: \"pred\"[0] must be a [label, score] pair");
    bad_multilabel("{\"pred\": [], \"true\": [], \"score\": 1}\n", ":1: unknown field \"score\"");
    bad_multilabel("{\"pred\": [], \"true\": [\n", ":1: malformed JSON");
}

static void test_good_multilabel(void)
{
    const char *path = write_file("metrics_read_ml.jsonl",
                                  "{\"id\": 1, \"pred\": [[\"cat\", 0.9], [\"dog\", 1]], \"true\": [\"cat\"]}\n"
                                  "{\"id\": 2, \"pred\": [], \"true\": []}\n");
    vtag_metrics_vocab v;
    vtag_metrics_vocab_init(&v);
    vtag_metrics_ml_set s;
    vtag_error err = {0};
    CHECK(vtag_metrics_read_multilabel(path, &v, &s, &err) == 0, "%s", err.msg);
    CHECK(s.n_items == 2 && v.count == 2, "items %lld labels %d", (long long)s.n_items, (int)v.count);
    if (s.n_items == 2) {
        CHECK(s.items[0].n_pred == 2 && s.items[0].pred_scores[1] == 1.0, "integer score");
        CHECK(s.items[0].n_true == 1 && s.items[0].true_labels[0] == s.items[0].pred_labels[0], "true label");
        CHECK(s.items[1].n_pred == 0 && s.items[1].n_true == 0, "empty item");
    }
    vtag_metrics_ml_set_free(&s);
    vtag_metrics_vocab_free(&v);
}

static void test_vocab(void)
{
    vtag_metrics_vocab v;
    vtag_metrics_vocab_init(&v);
    vtag_error err = {0};
    char tok[16];
    int ok = 1;
    for (int i = 0; i < 5000 && ok; i++) { /* several rehashes */
        int n = snprintf(tok, sizeof tok, "t%d", i);
        int32_t id;
        ok = vtag_metrics_vocab_intern(&v, tok, (size_t)n, &id, &err) == 0 && id == i;
    }
    CHECK(ok && v.count == 5000, "interning: %s", err.msg);
    int32_t id = -1;
    CHECK(vtag_metrics_vocab_intern(&v, "t123", 4, &id, &err) == 0 && id == 123, "same id again");
    CHECK(vtag_metrics_vocab_find(&v, "t4999", 5) == 4999 && vtag_metrics_vocab_find(&v, "t5000", 5) == -1, "find");
    CHECK(strcmp(vtag_metrics_vocab_token(&v, 77), "t77") == 0 && !vtag_metrics_vocab_token(&v, 5000), "token");
    CHECK(vtag_metrics_vocab_intern(&v, "", 0, &id, &err) == 0 && id == 5000, "empty string is a token");
    CHECK(vtag_metrics_vocab_intern(&v, "a\0b", 3, &id, &err) == VTAG_ERR_ARG, "NUL refused");
    vtag_metrics_vocab_free(&v);
}

int main(void)
{
    test_vocab();
    test_good_captions();
    test_good_multilabel();
    test_bad();
    return check_summary("metrics/test_read");
}

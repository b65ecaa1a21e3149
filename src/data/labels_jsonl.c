/* JSON Lines labels: one object per line, {"video", "class1", "class2",
 * "tags", "split"?}; blank lines are skipped, unknown fields are errors. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static const char *const FIELDS[] = {"video", "class1", "class2", "tags", "split"};

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

/* Growable tag pointer/length arrays, reused from line to line. */
typedef struct tag_buf {
    const char **tags;
    size_t *lens;
    int64_t cap;
} tag_buf;

static int tag_buf_reserve(tag_buf *t, int64_t n)
{
    if (n <= t->cap) return 0;
    int64_t cap = t->cap ? t->cap : 16;
    while (cap < n) cap *= 2;
    const char **tags = realloc(t->tags, (size_t)cap * sizeof *tags);
    if (!tags) return -1;
    t->tags = tags;
    size_t *lens = realloc(t->lens, (size_t)cap * sizeof *lens);
    if (!lens) return -1;
    t->lens = lens;
    t->cap = cap;
    return 0;
}

static int string_field(data_loader *ld, int64_t line, json_t *obj, const char *name, const char **s,
                        size_t *len)
{
    json_t *v = json_object_get(obj, name);
    if (!v) return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "missing field \"%s\"", name);
    if (!json_is_string(v)) return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "field \"%s\" must be a string", name);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return VTAG_OK;
}

static int parse_object(data_loader *ld, int64_t line, json_t *obj, tag_buf *tb)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        size_t i = 0;
        while (i < sizeof FIELDS / sizeof *FIELDS && strcmp(key, FIELDS[i]) != 0) i++;
        if (i == sizeof FIELDS / sizeof *FIELDS)
            return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "unknown field \"%.64s\"", key);
    }
    data_record r;
    memset(&r, 0, sizeof r);
    int rc;
    if ((rc = string_field(ld, line, obj, "video", &r.video, &r.video_len)) ||
        (rc = string_field(ld, line, obj, "class1", &r.class1, &r.class1_len)) ||
        (rc = string_field(ld, line, obj, "class2", &r.class2, &r.class2_len)))
        return rc;
    json_t *tags = json_object_get(obj, "tags");
    if (!tags) return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "missing field \"tags\"");
    if (!json_is_array(tags))
        return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "field \"tags\" must be an array of strings");
    int64_t n = (int64_t)json_array_size(tags);
    if (tag_buf_reserve(tb, n) != 0) return vtag_fail(ld->err, VTAG_ERR_NOMEM, "%s: out of memory", ld->labels->path);
    for (int64_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tags, (size_t)i);
        if (!json_is_string(t))
            return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "field \"tags\" must be an array of strings (element %lld is not)",
                                    (long long)i);
        tb->tags[i] = json_string_value(t);
        tb->lens[i] = json_string_length(t);
    }
    r.tags = tb->tags;
    r.tag_lens = tb->lens;
    r.n_tags = n;
    json_t *split = json_object_get(obj, "split");
    if (split && !json_is_null(split)) {
        if (!json_is_string(split))
            return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "field \"split\" must be a string");
        r.split = json_string_value(split);
        r.split_len = json_string_length(split);
    }
    return data_loader_add(ld, &r, line);
}

int data_labels_parse_jsonl(data_loader *ld, FILE *f)
{
    vtag_line ln = {0};
    tag_buf tb = {0};
    int rc = VTAG_OK, got;
    while ((got = data_loader_next_line(ld, f, &ln)) > 0) {
        const int64_t lineno = ln.number;
        if (is_blank(ln.data, ln.len)) continue;
        json_error_t jerr;
        json_t *obj = json_loadb(ln.data, ln.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
            rc = data_loader_fail(ld, lineno, VTAG_ERR_FORMAT, "invalid JSON: %s", jerr.text);
            break;
        }
        if (!json_is_object(obj)) rc = data_loader_fail(ld, lineno, VTAG_ERR_FORMAT, "expected a JSON object");
        else rc = parse_object(ld, lineno, obj, &tb);
        json_decref(obj);
        if (rc) break;
    }
    if (got < 0) rc = -got;
    vtag_line_free(&ln);
    free(tb.tags);
    free(tb.lens);
    return rc;
}

/* Reading tag output files (docs/FORMATS.md "Tag output") back into
 * vtag_tag_results, for vtag eval. Every error names the file and the line;
 * unknown fields are errors, like everywhere else in vtag (STYLE 8). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/tag.h"

typedef struct reader {
    const char *path;
    int64_t lineno;
    vtag_error *err;
} reader;

static int rd_fail(const reader *rd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rd_fail(const reader *rd, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vtag_fail(rd->err, code, "%s:%lld: %s", rd->path, (long long)rd->lineno, msg);
}

static int known_fields(const reader *rd, json_t *obj, const char *const *known, const char *where)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) return rd_fail(rd, VTAG_ERR_FORMAT, "unknown field \"%.80s\"%s", key, where);
    }
    return VTAG_OK;
}

static int nonempty_string(json_t *v) { return json_is_string(v) && json_string_length(v) > 0; }

/* A list of {"label", "frames", "score"} into *out (malloc'd). */
static int read_labels(const reader *rd, json_t *arr, const char *field, vtag_tag_label **out, int64_t *n)
{
    static const char *const known[] = {"label", "frames", "score", NULL};
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr)) return rd_fail(rd, VTAG_ERR_FORMAT, "field \"%s\" must be an array", field);
    size_t len = json_array_size(arr);
    vtag_tag_label *l = malloc((len + 1) * sizeof *l);
    if (!l) return rd_fail(rd, VTAG_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        char where[64];
        snprintf(where, sizeof where, " in \"%s\"[%zu]", field, i);
        int rc = json_is_object(e) ? known_fields(rd, e, known, where)
                                   : rd_fail(rd, VTAG_ERR_FORMAT, "\"%s\"[%zu] must be an object", field, i);
        json_t *lab = rc ? NULL : json_object_get(e, "label"), *fr = rc ? NULL : json_object_get(e, "frames"),
               *sc = rc ? NULL : json_object_get(e, "score");
        if (!rc && !nonempty_string(lab))
            rc = rd_fail(rd, VTAG_ERR_FORMAT, "\"%s\"[%zu]: \"label\" must be a non-empty string", field, i);
        if (!rc && !(json_is_integer(fr) && json_integer_value(fr) >= 0))
            rc = rd_fail(rd, VTAG_ERR_FORMAT, "\"%s\"[%zu]: \"frames\" must be an integer >= 0", field, i);
        if (!rc && !(json_is_number(sc) && isfinite(json_number_value(sc))))
            rc = rd_fail(rd, VTAG_ERR_FORMAT, "\"%s\"[%zu]: \"score\" must be a finite number", field, i);
        for (size_t j = 0; !rc && j < i; j++)
            if (strcmp(l[j].label, json_string_value(lab)) == 0)
                rc = rd_fail(rd, VTAG_ERR_FORMAT, "\"%s\": label \"%.80s\" listed twice", field, l[j].label);
        if (rc) {
            free(l);
            return rc;
        }
        l[i] = (vtag_tag_label){json_string_value(lab), (int64_t)json_integer_value(fr), json_number_value(sc)};
    }
    *out = l;
    *n = (int64_t)len;
    return VTAG_OK;
}

/* {"pts_seconds", "tokens"} objects; token pointers borrow the JSON's strings. */
static int read_frames(const reader *rd, json_t *arr, vtag_tag_frame **out, const char ***tok_out, int64_t *n)
{
    static const char *const known[] = {"pts_seconds", "tokens", NULL};
    *out = NULL;
    *tok_out = NULL;
    *n = 0;
    if (!json_is_array(arr)) return rd_fail(rd, VTAG_ERR_FORMAT, "field \"frames\" must be an array");
    size_t len = json_array_size(arr), n_tok = 0;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) return rd_fail(rd, VTAG_ERR_FORMAT, "\"frames\"[%zu] must be an object", i);
        char where[64];
        snprintf(where, sizeof where, " in \"frames\"[%zu]", i);
        int rc = known_fields(rd, e, known, where);
        if (rc) return rc;
        json_t *t = json_object_get(e, "tokens"), *p = json_object_get(e, "pts_seconds");
        if (!json_is_array(t)) return rd_fail(rd, VTAG_ERR_FORMAT, "\"frames\"[%zu]: \"tokens\" must be an array", i);
        if (!(json_is_number(p) && isfinite(json_number_value(p))))
            return rd_fail(rd, VTAG_ERR_FORMAT, "\"frames\"[%zu]: \"pts_seconds\" must be a finite number", i);
        for (size_t k = 0; k < json_array_size(t); k++)
            if (!nonempty_string(json_array_get(t, k)))
                return rd_fail(rd, VTAG_ERR_FORMAT, "\"frames\"[%zu]: tokens must be non-empty strings", i);
        n_tok += json_array_size(t);
    }
    vtag_tag_frame *f = malloc((len + 1) * sizeof *f);
    const char **tok = malloc((n_tok + 1) * sizeof *tok);
    if (!f || !tok) {
        free(f);
        free(tok);
        return rd_fail(rd, VTAG_ERR_NOMEM, "out of memory");
    }
    const char **next = tok;
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(arr, i), *t = json_object_get(e, "tokens");
        f[i] = (vtag_tag_frame){json_number_value(json_object_get(e, "pts_seconds")), next, (int64_t)json_array_size(t)};
        for (size_t k = 0; k < json_array_size(t); k++) *next++ = json_string_value(json_array_get(t, k));
    }
    *out = f;
    *tok_out = tok;
    *n = (int64_t)len;
    return VTAG_OK;
}

static int class_field(const reader *rd, json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v) return rd_fail(rd, VTAG_ERR_FORMAT, "missing field \"%s\"", key);
    if (json_is_null(v)) return VTAG_OK;
    if (!nonempty_string(v)) return rd_fail(rd, VTAG_ERR_FORMAT, "field \"%s\" must be a non-empty string or null", key);
    *out = json_string_value(v);
    return VTAG_OK;
}

static int parse_line(const reader *rd, json_t *obj, vtag_tag_result *r)
{
    static const char *const known_ok[] = {"video",  "model",  "backbone",        "class1", "class2", "unknown", "novelty",
                                           "tags",   "labels", "frames", "damaged_packets", NULL};
    static const char *const known_err[] = {"video", "error", NULL};
    json_t *video = json_object_get(obj, "video"), *error = json_object_get(obj, "error");
    if (!video) return rd_fail(rd, VTAG_ERR_FORMAT, "missing field \"video\"");
    if (!nonempty_string(video)) return rd_fail(rd, VTAG_ERR_FORMAT, "field \"video\" must be a non-empty string");
    vtag_error e2;
    if (error) {
        int rc = known_fields(rd, obj, known_err, " (a line with \"error\" has only \"video\" and \"error\")");
        if (!rc && !json_is_string(error)) rc = rd_fail(rd, VTAG_ERR_FORMAT, "field \"error\" must be a string");
        if (!rc && vtag_tag_fail_result(r, json_string_value(video), json_string_value(error), &e2))
            rc = rd_fail(rd, e2.code, "%s", e2.msg);
        return rc;
    }
    int rc = known_fields(rd, obj, known_ok, "");
    const char *c1 = NULL, *c2 = NULL;
    vtag_tag_label *tags = NULL, *labels = NULL;
    vtag_tag_frame *frames = NULL;
    const char **tok = NULL;
    int64_t n_tags = 0, n_labels = 0, n_frames = 0;
    if (!rc) rc = class_field(rd, obj, "class1", &c1);
    if (!rc) rc = class_field(rd, obj, "class2", &c2);
    if (!rc && !json_object_get(obj, "tags")) rc = rd_fail(rd, VTAG_ERR_FORMAT, "missing field \"tags\"");
    if (!rc) rc = read_labels(rd, json_object_get(obj, "tags"), "tags", &tags, &n_tags);
    if (!rc && json_object_get(obj, "labels")) rc = read_labels(rd, json_object_get(obj, "labels"), "labels", &labels, &n_labels);
    if (!rc && json_object_get(obj, "frames")) rc = read_frames(rd, json_object_get(obj, "frames"), &frames, &tok, &n_frames);
    json_t *dmg = json_object_get(obj, "damaged_packets"), *unk = json_object_get(obj, "unknown");
    json_t *model = json_object_get(obj, "model"), *bb = json_object_get(obj, "backbone");
    json_t *nov = json_object_get(obj, "novelty");
    if (!rc && unk && !json_is_boolean(unk)) rc = rd_fail(rd, VTAG_ERR_FORMAT, "field \"unknown\" must be true or false");
    if (!rc && nov && !(json_is_number(nov) && json_number_value(nov) >= 0 && isfinite(json_number_value(nov))))
        rc = rd_fail(rd, VTAG_ERR_FORMAT, "field \"novelty\" must be a number >= 0");
    if (!rc && ((model && !nonempty_string(model)) || (bb && !nonempty_string(bb))))
        rc = rd_fail(rd, VTAG_ERR_FORMAT, "fields \"model\" and \"backbone\" must be non-empty strings");
    if (!rc && dmg && !(json_is_integer(dmg) && json_integer_value(dmg) >= 0))
        rc = rd_fail(rd, VTAG_ERR_FORMAT, "field \"damaged_packets\" must be an integer >= 0");
    if (!rc && vtag_tag_result_make(r, json_string_value(video), c1, c2, labels ? labels : tags, labels ? n_labels : n_tags,
                                    tags, n_tags, frames, n_frames, &e2))
        rc = rd_fail(rd, e2.code, "%s", e2.msg);
    if (!rc && dmg) r->damaged_packets = (int64_t)json_integer_value(dmg);
    if (!rc && unk) r->unknown = json_is_true(unk);
    if (!rc && nov) r->novelty = json_number_value(nov);
    if (!rc && (model || bb) &&
        vtag_tag_result_set_source(r, model ? json_string_value(model) : NULL, bb ? json_string_value(bb) : NULL, &e2)) {
        vtag_tag_result_free(r);
        rc = rd_fail(rd, e2.code, "%s", e2.msg);
    }
    free(tags);
    free(labels);
    free(frames);
    free(tok);
    return rc;
}

static int by_video(const void *pa, const void *pb, void *items)
{
    const vtag_tag_result *it = items;
    return strcmp(it[*(const int64_t *)pa].video, it[*(const int64_t *)pb].video);
}

/* qsort_r is a GNU/BSD extension with different signatures; a small merge
 * sort keeps this portable and stable. */
static void sort_index(int64_t *idx, int64_t *tmp, int64_t n, const vtag_tag_result *items)
{
    if (n < 2) return;
    int64_t h = n / 2;
    sort_index(idx, tmp, h, items);
    sort_index(idx + h, tmp, n - h, items);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = by_video(&idx[j], &idx[i], (void *)items) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

int vtag_tag_results_adopt(vtag_tag_results *out, vtag_tag_result *items, int64_t count, vtag_error *err)
{
    int64_t *order = malloc(((size_t)count + 1) * sizeof *order), *tmp = malloc(((size_t)count + 1) * sizeof *tmp);
    if (!order || !tmp) {
        free(order);
        free(tmp);
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < count; i++) order[i] = i;
    sort_index(order, tmp, count, items);
    free(tmp);
    for (int64_t i = 1; i < count; i++)
        if (strcmp(items[order[i - 1]].video, items[order[i]].video) == 0) {
            int rc = vtag_fail(err, VTAG_ERR_FORMAT, "video \"%.200s\" listed twice (results %lld and %lld)",
                               items[order[i]].video, (long long)order[i - 1] + 1, (long long)order[i] + 1);
            free(order);
            return rc;
        }
    out->items = items;
    out->count = count;
    out->order = order;
    return VTAG_OK;
}

int64_t vtag_tag_find(const vtag_tag_results *res, const char *video)
{
    int64_t lo = 0, hi = res->count;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(res->items[res->order[mid]].video, video);
        if (c == 0) return res->order[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void vtag_tag_results_free(vtag_tag_results *res)
{
    if (!res) return;
    for (int64_t i = 0; i < res->count; i++) vtag_tag_result_free(&res->items[i]);
    free(res->items);
    free(res->order);
    memset(res, 0, sizeof *res);
}

int vtag_tag_read(vtag_tag_results *out, const char *path, vtag_error *err)
{
    memset(out, 0, sizeof *out);
    reader rd = {path, 0, err};
    FILE *f;
    int rc = vtag_file_open(&f, path, err);
    if (rc) return rc;
    vtag_tag_result *items = NULL;
    int64_t n = 0, cap = 0, *line_of = NULL;
    vtag_line ln = {0};
    while (!(rc = vtag_line_read(&ln, f, path, VTAG_TAG_LINE_MAX, err)) && ln.len > 0) {
        rd.lineno = ln.number;
        size_t i = 0;
        while (i < ln.len && ln.data[i] && strchr(" \t\r\n", ln.data[i])) i++;
        if (i == ln.len) continue;
        json_error_t jerr;
        json_t *obj = json_loadb(ln.data, ln.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj) {
            rc = rd_fail(&rd, VTAG_ERR_FORMAT, "malformed JSON: %s (column %d)", jerr.text, jerr.column);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            vtag_tag_result *ni = realloc(items, (size_t)cap * sizeof *ni);
            int64_t *nl = ni ? realloc(line_of, (size_t)cap * sizeof *nl) : NULL;
            if (ni) items = ni;
            if (nl) line_of = nl;
            if (!ni || !nl) {
                json_decref(obj);
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
        }
        rc = json_is_object(obj) ? parse_line(&rd, obj, &items[n]) : rd_fail(&rd, VTAG_ERR_FORMAT, "expected a JSON object");
        json_decref(obj);
        if (rc) break;
        line_of[n++] = rd.lineno;
    }
    vtag_line_free(&ln);
    fclose(f);
    vtag_error e2;
    if (!rc && vtag_tag_results_adopt(out, items, n, &e2)) {
        rc = e2.code;
        /* name the lines rather than the result numbers */
        int64_t a = -1, b = -1;
        for (int64_t i = 0; i < n && b < 0; i++)
            for (int64_t j = 0; j < i; j++)
                if (strcmp(items[i].video, items[j].video) == 0) {
                    a = j;
                    b = i;
                    break;
                }
        if (b >= 0)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: video \"%.200s\" listed twice (first on line %lld)", path,
                           (long long)line_of[b], items[b].video, (long long)line_of[a]);
        else
            *err = e2;
    }
    free(line_of);
    if (rc && !out->items) {
        for (int64_t i = 0; i < n; i++) vtag_tag_result_free(&items[i]);
        free(items);
    }
    return rc;
}

/* The CNN multi-label baseline as tag results: `vtag backbone predict`
 * lines {"video", "labels": [{"label", "score"}, …]} → class1 / class2 (the
 * best-scoring training class1 / class2 label) and the top-n labels as tags. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/eval.h"

typedef struct scored {
    const char *label;
    double score;
    int64_t order;
} scored;

static int by_score(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* One video's result from its scored labels s[0..n) (tl: scratch of n): the
 * labels by score, class1 / class2 the best-scoring training class1 /
 * class2 label, the top_n labels as tags. */
static int result(vtag_tag_result *r, const char *video, scored *s, size_t n, vtag_tag_label *tl,
                  const vtag_data_labels *l, const char *is_c1, const char *is_c2, int64_t top_n, double min_score, vtag_error *err)
{
    qsort(s, n, sizeof *s, by_score);
    const char *c1 = NULL, *c2 = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t nm = vtag_data_find_name(l, s[i].label);
        if (!c1 && nm >= 0 && is_c1[nm]) c1 = s[i].label;
        if (!c2 && nm >= 0 && is_c2[nm]) c2 = s[i].label;
        tl[i] = (vtag_tag_label){s[i].label, 0, s[i].score};
    }
    /* the caption runs' rule: the first top_n scoring >= min_score (a prefix, tl being sorted) */
    const vtag_tag_opts o = {VTAG_TAG_RULE_TOP_N, top_n, 0, min_score};
    int unknown;
    const int64_t n_tags = vtag_tag_select(tl, (int64_t)n, &o, tl, &unknown);
    int rc = vtag_tag_result_make(r, video, c1, c2, tl, (int64_t)n, tl, n_tags, NULL, 0, err);
    if (!rc) r->unknown = unknown;
    return rc;
}

/* Marks the names of labels that are a class1 / class2 of a training video
 * (of every video when there is none): *is_c holds both, 2 (n_names + 1). */
static int class_marks(const vtag_data_labels *labels, char **is_c, vtag_error *err)
{
    int64_t n_train = 0;
    for (int64_t i = 0; i < labels->count; i++) n_train += labels->entries[i].split == VTAG_DATA_SPLIT_TRAIN;
    if (!(*is_c = calloc(2 * ((size_t)labels->n_names + 1), 1)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    char *is_c1 = *is_c, *is_c2 = *is_c + labels->n_names + 1;
    for (int64_t i = 0; i < labels->count; i++) {
        const vtag_data_entry *en = &labels->entries[i];
        if (n_train && en->split != VTAG_DATA_SPLIT_TRAIN) continue;
        is_c1[vtag_data_find_name(labels, en->class1)] = 1;
        is_c2[vtag_data_find_name(labels, en->class2)] = 1;
    }
    return VTAG_OK;
}

static int parse(const char *path, int64_t lineno, json_t *obj, const vtag_data_labels *l, const char *is_c1,
                 const char *is_c2, int64_t top_n, double min_score, vtag_tag_result *r, vtag_error *err)
{
    json_t *video = json_object_get(obj, "video"), *error = json_object_get(obj, "error"),
           *labels = json_object_get(obj, "labels");
    if (!json_is_string(video) || !json_string_length(video))
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: field \"video\" must be a non-empty string", path, (long long)lineno);
    vtag_error e2;
    if (error) {
        if (!json_is_string(error))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: field \"error\" must be a string", path, (long long)lineno);
        if (vtag_tag_fail_result(r, json_string_value(video), json_string_value(error), &e2))
            return vtag_fail(err, e2.code, "%s:%lld: %s", path, (long long)lineno, e2.msg);
        return VTAG_OK;
    }
    if (!json_is_array(labels))
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: field \"labels\" must be an array", path, (long long)lineno);
    size_t n = json_array_size(labels);
    scored *s = malloc((n + 1) * sizeof *s);
    vtag_tag_label *tl = malloc((n + 1) * sizeof *tl);
    int rc = VTAG_OK;
    if (!s || !tl) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *e = json_array_get(labels, i), *lab = json_object_get(e, "label"), *sc = json_object_get(e, "score");
        if (!json_is_object(e) || !json_is_string(lab) || !json_string_length(lab) || !json_is_number(sc) ||
            !isfinite(json_number_value(sc)))
            rc = vtag_fail(err, VTAG_ERR_FORMAT,
                           "%s:%lld: \"labels\"[%zu] must be {\"label\": non-empty string, \"score\": finite number}", path,
                           (long long)lineno, i);
        for (size_t j = 0; !rc && j < i; j++)
            if (strcmp(s[j].label, json_string_value(lab)) == 0)
                rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: label \"%.80s\" listed twice", path, (long long)lineno,
                               s[j].label);
        if (!rc) s[i] = (scored){json_string_value(lab), json_number_value(sc), (int64_t)i};
    }
    if (!rc && result(r, json_string_value(video), s, n, tl, l, is_c1, is_c2, top_n, min_score, &e2))
        rc = vtag_fail(err, e2.code, "%s:%lld: %s", path, (long long)lineno, e2.msg);
    free(s);
    free(tl);
    return rc;
}

int vtag_eval_read_baseline(vtag_tag_results *out, const char *path, const vtag_data_labels *labels, int64_t top_n,
                            double min_score, vtag_error *err)
{
    memset(out, 0, sizeof *out);
    if (top_n < 0 || !(min_score >= 0 && min_score <= 1))
        return vtag_fail(err, VTAG_ERR_ARG, "baseline: top_n must be >= 0 and min_score in [0, 1]");
    char *is_c = NULL;
    int rc = class_marks(labels, &is_c, err);
    if (rc) return rc;
    char *is_c1 = is_c, *is_c2 = is_c + labels->n_names + 1;
    FILE *f;
    if ((rc = vtag_file_open(&f, path, err))) {
        free(is_c);
        return rc;
    }
    vtag_tag_result *items = NULL;
    int64_t n = 0, cap = 0;
    vtag_line ln = {0};
    while (!(rc = vtag_line_read(&ln, f, path, VTAG_TAG_LINE_MAX, err)) && ln.len > 0) {
        const int64_t lineno = ln.number;
        size_t i = 0;
        while (i < ln.len && ln.data[i] && strchr(" \t\r\n", ln.data[i])) i++;
        if (i == ln.len) continue;
        json_error_t jerr;
        json_t *obj = json_loadb(ln.data, ln.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!obj || !json_is_object(obj)) {
            json_decref(obj);
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: %s", path, (long long)lineno,
                           obj ? "expected a JSON object" : jerr.text);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            vtag_tag_result *ni = realloc(items, (size_t)cap * sizeof *ni);
            if (!ni) {
                json_decref(obj);
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            items = ni;
        }
        rc = parse(path, lineno, obj, labels, is_c1, is_c2, top_n, min_score, &items[n], err);
        json_decref(obj);
        if (rc) break;
        n++;
    }
    vtag_line_free(&ln);
    fclose(f);
    free(is_c);
    if (!rc) {
        vtag_error e2;
        if (vtag_tag_results_adopt(out, items, n, &e2)) rc = vtag_fail(err, e2.code, "%s: %s", path, e2.msg);
    }
    if (rc && !out->items) {
        for (int64_t i = 0; i < n; i++) vtag_tag_result_free(&items[i]);
        free(items);
    }
    return rc;
}

int vtag_eval_baseline_results(vtag_tag_results *out, const vtag_tag_results *pred, const vtag_data_labels *labels,
                               int64_t top_n, double min_score, vtag_error *err)
{
    memset(out, 0, sizeof *out);
    if (top_n < 0 || !(min_score >= 0 && min_score <= 1))
        return vtag_fail(err, VTAG_ERR_ARG, "baseline: top_n must be >= 0 and min_score in [0, 1]");
    char *is_c = NULL;
    int rc = class_marks(labels, &is_c, err);
    if (rc) return rc;
    int64_t most = 0, done = 0;
    for (int64_t i = 0; i < pred->count; i++)
        if (pred->items[i].n_labels > most) most = pred->items[i].n_labels;
    vtag_tag_result *items = calloc((size_t)pred->count + 1, sizeof *items);
    scored *s = malloc(((size_t)most + 1) * sizeof *s);
    vtag_tag_label *tl = malloc(((size_t)most + 1) * sizeof *tl);
    if (!items || !s || !tl) rc = vtag_fail(err, VTAG_ERR_NOMEM, "baseline: out of memory");
    for (int64_t i = 0; !rc && i < pred->count; i++) {
        const vtag_tag_result *p = &pred->items[i];
        vtag_error e2;
        for (int64_t k = 0; k < p->n_labels; k++) s[k] = (scored){p->labels[k].label, p->labels[k].score, k};
        if (p->error ? vtag_tag_fail_result(&items[i], p->video, p->error, &e2)
                     : result(&items[i], p->video, s, (size_t)p->n_labels, tl, labels, is_c, is_c + labels->n_names + 1,
                              top_n, min_score, &e2))
            rc = vtag_fail(err, e2.code, "baseline of %s: %s", p->video, e2.msg);
        else
            done++;
    }
    if (!rc) rc = vtag_tag_results_adopt(out, items, pred->count, err);
    if (rc) {
        for (int64_t i = 0; i < done; i++) vtag_tag_result_free(&items[i]);
        free(items);
    }
    free(s);
    free(tl);
    free(is_c);
    return rc;
}

/* vtag eval --json: the whole evaluation as one JSON object
 * (docs/FORMATS.md "Evaluation"). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static void put(json_t *o, const char *k, json_t *v, int *bad) { *bad |= json_object_set_new(o, k, v); }

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* [{"n", "score", "right"}, …] per bin, null score and right for an empty bin */
static json_t *reliability_json(const vtag_eval_scores *s)
{
    json_t *a = json_array();
    int bad = !a;
    for (int b = 0; b < VTAG_EVAL_BINS && !bad; b++) {
        json_t *o = json_object();
        bad = !o;
        if (bad) break;
        put(o, "n", json_integer(s->bins[b].n), &bad);
        put(o, "score", real_or_null(s->bins[b].score), &bad);
        put(o, "right", real_or_null(s->bins[b].right), &bad);
        bad |= json_array_append_new(a, o);
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *scores_json(const vtag_eval_scores *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    put(o, "videos", json_integer(s->videos), &bad);
    put(o, "missing", json_integer(s->missing), &bad);
    put(o, "failed", json_integer(s->failed), &bad);
    put(o, "CIDEr-D", json_real(s->cider_d), &bad);
    static const char *const bleu[] = {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"};
    for (int k = 0; k < 4; k++) put(o, bleu[k], json_real(s->bleu[k]), &bad);
    const vtag_metrics_prf *p[2] = {&s->tags, &s->top_k};
    static const char *const names[2][6] = {{"OP", "OR", "OF1", "CP", "CR", "CF1"},
                                            {"OP@k", "OR@k", "OF1@k", "CP@k", "CR@k", "CF1@k"}};
    for (int i = 0; i < 2; i++) {
        const double v[6] = {p[i]->overall_p, p[i]->overall_r, p[i]->overall_f1, p[i]->class_p, p[i]->class_r, p[i]->class_f1};
        for (int k = 0; k < 6; k++) put(o, names[i][k], json_real(v[k]), &bad);
    }
    put(o, "GAP@k", json_real(s->gap), &bad);
    put(o, "mAP", json_real(s->map), &bad);
    put(o, "class1_acc", json_real(s->class1_acc), &bad);
    put(o, "class2_acc", json_real(s->class2_acc), &bad);
    put(o, "pairs", json_integer(s->pairs), &bad);
    put(o, "ece", real_or_null(s->ece), &bad);
    put(o, "reliability", reliability_json(s), &bad);
    put(o, "high_n", json_integer(s->high_n), &bad);
    put(o, "high_right", real_or_null(s->high_right), &bad);
    put(o, "unknown", json_integer(s->unknown), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *by_run(const vtag_eval *e, const vtag_eval_scores *s)
{
    json_t *o = json_object();
    int bad = !o;
    for (int r = 0; r < e->n_runs && !bad; r++) put(o, e->runs[r].name, scores_json(&s[r]), &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *label_names(const vtag_tag_label *l, int64_t n)
{
    json_t *a = json_array();
    int bad = !a;
    for (int64_t i = 0; i < n && !bad; i++) bad = json_array_append_new(a, json_string(l[i].label));
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *video_json(const vtag_eval *e, const vtag_eval_video *v)
{
    json_t *o = json_object(), *tags = json_array(), *pred = json_object();
    int bad = !o || !tags || !pred;
    for (int64_t t = 0; !bad && t < v->ref->n_tags; t++) bad = json_array_append_new(tags, json_string(v->ref->tags[t]));
    if (bad) {
        json_decref(o);
        json_decref(tags);
        json_decref(pred);
        return NULL;
    }
    put(o, "video", json_string(v->ref->video), &bad);
    put(o, "class1", json_string(v->ref->class1), &bad);
    put(o, "class2", json_string(v->ref->class2), &bad);
    put(o, "tags", tags, &bad);
    for (int r = 0; r < e->n_runs; r++) {
        const vtag_tag_result *p = v->pred[r];
        json_t *q = json_object();
        if (!q) {
            bad = 1;
            break;
        }
        put(q, "status", json_string(!p ? "missing" : p->error ? "failed" : "ok"), &bad);
        if (p && p->error) put(q, "error", json_string(p->error), &bad);
        if (p && !p->error) {
            put(q, "class1", str_or_null(p->class1), &bad);
            put(q, "class2", str_or_null(p->class2), &bad);
            put(q, "tags", label_names(p->tags, p->n_tags), &bad);
        }
        put(q, "CIDEr-D", json_real(v->cider_d[r]), &bad);
        put(pred, e->runs[r].name, q, &bad);
    }
    put(o, "pred", pred, &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* [{"label", "train", "support", "runs": {NAME: {"tagged", "P", "R", "F1"}}}] for every label of the
 * training videos, by training videos (the report's per-tag table) */
static json_t *per_label_json(const vtag_eval *e)
{
    const int64_t L = e->labels->n_names;
    const int nr = e->n_runs;
    const int64_t *train = e->impl->label_train;
    int64_t *cnt = malloc(((size_t)nr * 3 + 1) * ((size_t)L + 1) * sizeof *cnt);
    int64_t *order = malloc(((size_t)L + 1) * sizeof *order);
    json_t *a = json_array();
    int bad = !cnt || !order || !a;
    int64_t n = 0;
    for (int r = 0; r < nr && !bad; r++) {
        int64_t *c = cnt + (size_t)r * 3 * (size_t)L;
        eval_label_tally(e, r, c, c + L, c + 2 * L);
    }
    if (!bad && (n = eval_label_order(e, order)) < 0) bad = 1;
    for (int64_t k = 0; k < n && !bad; k++) {
        const int64_t id = order[k];
        json_t *o = json_object(), *runs = json_object();
        if (!o || !runs) {
            json_decref(o);
            json_decref(runs);
            bad = 1;
            break;
        }
        put(o, "label", json_string(e->labels->names[id]), &bad);
        put(o, "train", json_integer(train[id]), &bad);
        put(o, "support", json_integer(cnt[id]), &bad);
        for (int r = 0; r < nr; r++) {
            const int64_t *c = cnt + (size_t)r * 3 * (size_t)L, sup = c[id], pred = c[L + id], hit = c[2 * L + id];
            const double p = pred ? (double)hit / (double)pred : NAN, rc = sup ? (double)hit / (double)sup : NAN;
            const double f1 = isnan(p) || isnan(rc) ? NAN : p + rc > 0 ? 2 * p * rc / (p + rc) : 0;
            json_t *q = json_object();
            bad |= !q;
            if (!q) break;
            put(q, "tagged", json_integer(pred), &bad);
            put(q, "P", real_or_null(p), &bad);
            put(q, "R", real_or_null(rc), &bad);
            put(q, "F1", real_or_null(f1), &bad);
            put(runs, e->runs[r].name, q, &bad);
        }
        put(o, "runs", runs, &bad);
        bad |= json_array_append_new(a, o);
    }
    free(cnt);
    free(order);
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

int vtag_eval_to_json(const vtag_eval *e, char **out, vtag_error *err)
{
    *out = NULL;
    json_t *o = json_object(), *runs = json_array(), *classes = json_array(), *videos = json_array();
    int bad = !o || !runs || !classes || !videos;
    if (bad) {
        json_decref(o);
        json_decref(runs);
        json_decref(classes);
        json_decref(videos);
        return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    put(o, "split", json_string(vtag_data_split_name(e->opts.split)), &bad);
    put(o, "videos", json_integer(e->n_videos), &bad);
    put(o, "df", json_string(e->opts.df_train ? "train" : vtag_data_split_name(e->opts.split)), &bad);
    put(o, "k", json_integer(e->opts.top_k), &bad);
    put(o, "gap_k", json_integer(e->opts.gap_k), &bad);
    put(o, "high_score", json_real(e->opts.high_score), &bad);
    for (int r = 0; r < e->n_runs; r++) {
        json_t *q = json_object();
        bad |= !q;
        if (!q) break;
        put(q, "name", json_string(e->runs[r].name), &bad);
        put(q, "baseline", json_boolean(e->runs[r].baseline), &bad);
        put(q, "scores", scores_json(&e->overall[r]), &bad);
        bad |= json_array_append_new(runs, q);
    }
    put(o, "runs", runs, &bad);
    put(o, "head", by_run(e, e->head), &bad);
    put(o, "tail", by_run(e, e->tail), &bad);
    for (int64_t k = 0; k < e->n_classes && !bad; k++) {
        const vtag_eval_class *c = &e->classes[k];
        json_t *q = json_object();
        bad |= !q;
        if (!q) break;
        put(q, "class1", json_string(c->class1), &bad);
        put(q, "train_videos", json_integer(c->train_videos), &bad);
        put(q, "videos", json_integer(c->videos), &bad);
        put(q, "head", json_boolean(c->head), &bad);
        put(q, "scores", by_run(e, c->scores), &bad);
        bad |= json_array_append_new(classes, q);
    }
    put(o, "classes", classes, &bad);
    if (!bad) put(o, "per_label", per_label_json(e), &bad);
    for (int64_t v = 0; v < e->n_videos && !bad; v++) bad |= json_array_append_new(videos, video_json(e, &e->videos[v]));
    put(o, "per_video", videos, &bad);
    if (!bad) *out = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (!*out) return vtag_fail(err, VTAG_ERR_NOMEM, "eval: cannot encode the result as JSON");
    return VTAG_OK;
}

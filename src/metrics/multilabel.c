/* Multi-label scores (SPEC §5): OP/OR/OF1 and CP/CR/CF1 at a threshold or
 * top k, mAP, YouTube-8M GAP@k, Hit@k, and single-label class accuracy.
 * The conventions for empty denominators are in metrics.h and
 * docs/ARCHITECTURE.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/metrics.h"

/* One prediction, with what sorting and scoring need. */
typedef struct ml_entry {
    double score;
    int64_t item; /* index of the item */
    int64_t pos;  /* index in the item's pred list */
    int32_t label;
    int32_t correct; /* label is true for the item */
} ml_entry;

/* Score descending, then item, then list position ascending. */
static int ml_by_score(const void *pa, const void *pb)
{
    const ml_entry *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->item != b->item) return a->item < b->item ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Label ascending, then as ml_by_score. */
static int ml_by_label(const void *pa, const void *pb)
{
    const ml_entry *a = pa, *b = pb;
    if (a->label != b->label) return a->label < b->label ? -1 : 1;
    return ml_by_score(pa, pb);
}

/* Checks labels, scores and duplicates; returns the largest n_pred in *most. */
static int ml_check(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels, int64_t *most,
                    vtag_error *err)
{
    if (n < 0 || (n > 0 && !items) || n_labels < 0)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: bad multi-label arguments");
    int64_t *seen = malloc(((size_t)n_labels + 1) * sizeof *seen);
    if (!seen) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory");
    for (int32_t l = 0; l < n_labels; l++) seen[l] = -1;
    int rc = VTAG_OK;
    *most = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        const vtag_metrics_ml_item *it = &items[i];
        if (it->n_pred < 0 || it->n_true < 0 || (it->n_pred && (!it->pred_labels || !it->pred_scores)) ||
            (it->n_true && !it->true_labels)) {
            rc = vtag_fail(err, VTAG_ERR_ARG, "metrics: item %lld: bad prediction or truth list", (long long)i);
            break;
        }
        if (it->n_pred > *most) *most = it->n_pred;
        for (int64_t p = 0; p < it->n_pred && !rc; p++) {
            int32_t l = it->pred_labels[p];
            if (l < 0 || l >= n_labels)
                rc = vtag_fail(err, VTAG_ERR_ARG, "metrics: item %lld: label id %d out of range [0, %d)",
                               (long long)i, (int)l, (int)n_labels);
            else if (!isfinite(it->pred_scores[p]))
                rc = vtag_fail(err, VTAG_ERR_ARG, "metrics: item %lld: score of label %d is not finite",
                               (long long)i, (int)l);
            else if (seen[l] == 2 * i)
                rc = vtag_fail(err, VTAG_ERR_ARG, "metrics: item %lld: label %d predicted twice",
                               (long long)i, (int)l);
            else
                seen[l] = 2 * i;
        }
        for (int64_t t = 0; t < it->n_true && !rc; t++) {
            int32_t l = it->true_labels[t];
            if (l < 0 || l >= n_labels)
                rc = vtag_fail(err, VTAG_ERR_ARG, "metrics: item %lld: label id %d out of range [0, %d)",
                               (long long)i, (int)l, (int)n_labels);
            else if (seen[l] == 2 * i + 1)
                rc = vtag_fail(err, VTAG_ERR_ARG, "metrics: item %lld: true label %d listed twice",
                               (long long)i, (int)l);
            else
                seen[l] = 2 * i + 1;
        }
    }
    free(seen);
    return rc;
}

/* Every item's predictions as entries sorted best first within the item
 * (items in order), with `correct` set. (total) entries; *starts (n + 1). */
static int ml_entries(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                      ml_entry **out, int64_t **starts, vtag_error *err)
{
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) total += items[i].n_pred;
    ml_entry *e = malloc(((size_t)total + 1) * sizeof *e);
    int64_t *st = malloc(((size_t)n + 1) * sizeof *st);
    int64_t *mark = malloc(((size_t)n_labels + 1) * sizeof *mark);
    if (!e || !st || !mark) {
        free(e);
        free(st);
        free(mark);
        return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory");
    }
    for (int32_t l = 0; l < n_labels; l++) mark[l] = -1;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const vtag_metrics_ml_item *it = &items[i];
        for (int64_t t = 0; t < it->n_true; t++) mark[it->true_labels[t]] = i;
        st[i] = k;
        for (int64_t p = 0; p < it->n_pred; p++, k++) {
            e[k] = (ml_entry){.score = it->pred_scores[p], .item = i, .pos = p,
                              .label = it->pred_labels[p], .correct = mark[it->pred_labels[p]] == i};
        }
        qsort(e + st[i], (size_t)it->n_pred, sizeof *e, ml_by_score);
    }
    st[n] = k;
    free(mark);
    *out = e;
    *starts = st;
    return VTAG_OK;
}

static double ml_ratio(double a, double b)
{
    return b != 0 ? a / b : 0.0;
}

static double ml_f1(double p, double r)
{
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

/* top_k > 0: each item's top_k predictions; otherwise score >= threshold. */
static int ml_prf(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels, double threshold,
                  int64_t top_k, vtag_metrics_prf *out, vtag_error *err)
{
    int64_t most;
    int rc = ml_check(items, n, n_labels, &most, err);
    if (rc) return rc;
    ml_entry *e;
    int64_t *st;
    rc = ml_entries(items, n, n_labels, &e, &st, err);
    if (rc) return rc;
    int64_t *cnt = calloc(3 * ((size_t)n_labels + 1), sizeof *cnt);
    if (!cnt) {
        free(e);
        free(st);
        return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory");
    }
    int64_t *nc = cnt, *np = cnt + n_labels + 1, *ng = cnt + 2 * ((int64_t)n_labels + 1);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t t = 0; t < items[i].n_true; t++) ng[items[i].true_labels[t]]++;
        for (int64_t j = st[i]; j < st[i + 1]; j++) {
            int chosen = top_k > 0 ? j - st[i] < top_k : e[j].score >= threshold;
            if (!chosen) continue;
            np[e[j].label]++;
            nc[e[j].label] += e[j].correct;
        }
    }
    int64_t snc = 0, snp = 0, sng = 0, classes = 0;
    double cp = 0, cr = 0;
    for (int32_t l = 0; l < n_labels; l++) {
        snc += nc[l];
        snp += np[l];
        sng += ng[l];
        if (ng[l] == 0) continue; /* no class-wise precision or recall without a true item */
        classes++;
        cp += (double)nc[l] / (double)(np[l] > 0 ? np[l] : 1); /* ML-GCN: Np = 0 counts as 1 */
        cr += (double)nc[l] / (double)ng[l];
    }
    out->overall_p = ml_ratio((double)snc, (double)snp);
    out->overall_r = ml_ratio((double)snc, (double)sng);
    out->overall_f1 = ml_f1(out->overall_p, out->overall_r);
    out->class_p = ml_ratio(cp, (double)classes);
    out->class_r = ml_ratio(cr, (double)classes);
    out->class_f1 = ml_f1(out->class_p, out->class_r);
    free(cnt);
    free(e);
    free(st);
    return VTAG_OK;
}

int vtag_metrics_ml_prf_threshold(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                                  double threshold, vtag_metrics_prf *out, vtag_error *err)
{
    if (isnan(threshold)) return vtag_fail(err, VTAG_ERR_ARG, "metrics: threshold is NaN");
    return ml_prf(items, n, n_labels, threshold, 0, out, err);
}

int vtag_metrics_ml_prf_top_k(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                              int64_t k, vtag_metrics_prf *out, vtag_error *err)
{
    if (k < 1) return vtag_fail(err, VTAG_ERR_ARG, "metrics: top-k needs k >= 1 (got %lld)", (long long)k);
    return ml_prf(items, n, n_labels, 0, k, out, err);
}

int vtag_metrics_ml_map(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                        double *map, vtag_error *err)
{
    int64_t most;
    int rc = ml_check(items, n, n_labels, &most, err);
    if (rc) return rc;
    ml_entry *e;
    int64_t *st;
    rc = ml_entries(items, n, n_labels, &e, &st, err);
    if (rc) return rc;
    int64_t *ng = calloc((size_t)n_labels + 1, sizeof *ng);
    if (!ng) {
        free(e);
        free(st);
        return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t t = 0; t < items[i].n_true; t++) ng[items[i].true_labels[t]]++;
    int64_t total = st[n];
    qsort(e, (size_t)total, sizeof *e, ml_by_label);
    double sum = 0;
    int64_t classes = 0;
    for (int32_t l = 0; l < n_labels; l++) classes += ng[l] > 0;
    for (int64_t j = 0; j < total;) {
        int32_t l = e[j].label;
        int64_t rank = 0, hits = 0;
        double ap = 0;
        for (; j < total && e[j].label == l; j++) {
            rank++;
            if (e[j].correct) {
                hits++;
                ap += (double)hits / (double)rank;
            }
        }
        if (ng[l] > 0) sum += ap / (double)ng[l];
    }
    *map = ml_ratio(sum, (double)classes);
    free(ng);
    free(e);
    free(st);
    return VTAG_OK;
}

int vtag_metrics_ml_gap(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels, int64_t k,
                        double *gap, vtag_error *err)
{
    if (k < 1) return vtag_fail(err, VTAG_ERR_ARG, "metrics: GAP needs k >= 1 (got %lld)", (long long)k);
    int64_t most;
    int rc = ml_check(items, n, n_labels, &most, err);
    if (rc) return rc;
    ml_entry *e;
    int64_t *st;
    rc = ml_entries(items, n, n_labels, &e, &st, err);
    if (rc) return rc;
    /* Keep each item's top k, in item order, then rank the pool. */
    int64_t pooled = 0, positives = 0;
    for (int64_t i = 0; i < n; i++) {
        positives += items[i].n_true;
        for (int64_t j = st[i]; j < st[i + 1] && j - st[i] < k; j++) {
            e[pooled] = e[j];
            e[pooled].pos = j - st[i]; /* tie order: rank within the item */
            pooled++;
        }
    }
    qsort(e, (size_t)pooled, sizeof *e, ml_by_score);
    double ap = 0;
    int64_t hits = 0;
    for (int64_t i = 0; i < pooled; i++) {
        if (!e[i].correct) continue;
        hits++;
        ap += (double)hits / (double)(i + 1);
    }
    *gap = ml_ratio(ap, (double)positives);
    free(e);
    free(st);
    return VTAG_OK;
}

int vtag_metrics_ml_hit(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels, int64_t k,
                        double *hit, vtag_error *err)
{
    if (k < 1) return vtag_fail(err, VTAG_ERR_ARG, "metrics: Hit@k needs k >= 1 (got %lld)", (long long)k);
    int64_t most;
    int rc = ml_check(items, n, n_labels, &most, err);
    if (rc) return rc;
    ml_entry *e;
    int64_t *st;
    rc = ml_entries(items, n, n_labels, &e, &st, err);
    if (rc) return rc;
    int64_t hits = 0;
    for (int64_t i = 0; i < n; i++) {
        int any = 0;
        for (int64_t j = st[i]; j < st[i + 1] && j - st[i] < k; j++) any |= e[j].correct;
        hits += any;
    }
    *hit = ml_ratio((double)hits, (double)n);
    free(e);
    free(st);
    return VTAG_OK;
}

double vtag_metrics_class_accuracy(const int32_t *pred, const int32_t *truth, int64_t n)
{
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) right += pred[i] == truth[i];
    return n > 0 ? (double)right / (double)n : 0.0;
}

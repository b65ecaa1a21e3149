/* Calibration of a run's label scores: reliability bins, expected
 * calibration error and how often the labels scored >= high_score are right,
 * over every (video, label) pair of a set of videos. Definitions:
 * include/vtag/eval.h (vtag_eval_scores) and docs/ARCHITECTURE.md ("eval"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

int eval_label_counts(vtag_eval *e, vtag_error *err)
{
    vtag_eval_impl *m = e->impl;
    const vtag_data_labels *l = e->labels;
    m->label_train = calloc((size_t)l->n_names + 1, sizeof *m->label_train);
    if (!m->label_train) return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    const vtag_data_split from = e->train_videos > 0 ? VTAG_DATA_SPLIT_TRAIN : e->opts.split;
    for (int64_t i = 0; i < l->count; i++) {
        if (l->entries[i].split != from) continue;
        /* a caption may name a label twice: count each video once */
        for (int64_t k = m->caps.start[i]; k < m->caps.start[i + 1]; k++) {
            int32_t id = m->caps.names[k];
            int seen = 0;
            for (int64_t j = m->caps.start[i]; j < k && !seen; j++) seen = m->caps.names[j] == id;
            if (!seen && id >= 0 && id < l->n_names) m->label_train[id]++;
        }
    }
    return VTAG_OK;
}

static double clamp01(double s) { return s > 0 ? (s < 1 ? s : 1) : 0; } /* NaN -> 0 */

typedef struct calib_acc {
    double sum_s[VTAG_EVAL_BINS], sum_r[VTAG_EVAL_BINS];
    int64_t cnt[VTAG_EVAL_BINS], high, high_ok;
    double high_score;
} calib_acc;

/* k pairs with score s, `right` of them right */
static void add(calib_acc *a, double s, int64_t k, int64_t right)
{
    int b = (int)floor(s * VTAG_EVAL_BINS);
    b = b < 0 ? 0 : b >= VTAG_EVAL_BINS ? VTAG_EVAL_BINS - 1 : b;
    a->cnt[b] += k;
    a->sum_s[b] += s * (double)k;
    a->sum_r[b] += (double)right;
    if (s >= a->high_score) {
        a->high += k;
        a->high_ok += right;
    }
}

/* Sparse: a video's pairs are its scored labels, its true labels, and the
 * rest (score 0, wrong) counted at once, so the cost follows the labels the
 * runs and the references name, not videos x label names. */
int eval_calibrate(const vtag_eval *e, int run, const int64_t *vids, int64_t n, vtag_eval_scores *out, vtag_error *err)
{
    const vtag_eval_impl *m = e->impl;
    const int64_t L = e->labels->n_names;
    double *score = calloc((size_t)L + 1, sizeof *score);
    char *mark = calloc((size_t)L + 1, 1); /* 1: scored, 2: right, 3: both */
    if (!score || !mark) {
        free(score);
        free(mark);
        return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    int64_t T = 0; /* the label names scored: those of the training videos */
    for (int64_t id = 0; id < L; id++) T += m->label_train[id] > 0;
    calib_acc a = {.high_score = e->opts.high_score};
    for (int64_t i = 0; i < n; i++) {
        const int64_t v = vids[i];
        const eval_pred *p = &m->pred[(int64_t)run * e->n_videos + v];
        const eval_span sp[3] = {p->state == EVAL_OK ? p->labels : (eval_span){0, 0},
                                 p->state == EVAL_OK ? p->tags : (eval_span){0, 0}, m->truth[v]};
        /* every label with its score; a tag missing from the labels list keeps the tag's score */
        for (int s = 0; s < 2; s++)
            for (int64_t k = 0; k < sp[s].n; k++) {
                const int32_t id = m->ids[sp[s].off + k];
                if (id >= L || m->label_train[id] <= 0 || (s == 1 && (mark[id] & 1))) continue;
                score[id] = clamp01(m->sc[sp[s].off + k]);
                mark[id] |= 1;
            }
        for (int64_t k = 0; k < sp[2].n; k++) {
            const int32_t id = m->ids[sp[2].off + k];
            if (m->label_train[id] > 0) mark[id] |= 2;
        }
        int64_t counted = 0;
        for (int s = 0; s < 3; s++)
            for (int64_t k = 0; k < sp[s].n; k++) {
                const int32_t id = m->ids[sp[s].off + k];
                if (id >= L || !mark[id]) continue;
                add(&a, score[id], 1, mark[id] >> 1);
                counted++;
                score[id] = 0;
                mark[id] = 0;
            }
        add(&a, 0, T - counted, 0); /* the other labels: score 0, wrong */
    }
    free(score);
    free(mark);
    const int64_t pairs = n * T;
    out->pairs = pairs;
    out->ece = pairs ? 0 : NAN;
    for (int b = 0; b < VTAG_EVAL_BINS; b++) {
        vtag_eval_bin *o = &out->bins[b];
        o->n = a.cnt[b];
        o->score = a.cnt[b] ? a.sum_s[b] / (double)a.cnt[b] : NAN;
        o->right = a.cnt[b] ? a.sum_r[b] / (double)a.cnt[b] : NAN;
        if (a.cnt[b]) out->ece += (double)a.cnt[b] / (double)pairs * fabs(o->right - o->score);
    }
    out->high_n = a.high;
    out->high_right = a.high ? (double)a.high_ok / (double)a.high : NAN;
    return VTAG_OK;
}

void eval_label_tally(const vtag_eval *e, int run, int64_t *support, int64_t *predicted, int64_t *hit)
{
    const vtag_eval_impl *m = e->impl;
    const int64_t L = e->labels->n_names;
    memset(support, 0, (size_t)L * sizeof *support);
    memset(predicted, 0, (size_t)L * sizeof *predicted);
    memset(hit, 0, (size_t)L * sizeof *hit);
    for (int64_t v = 0; v < e->n_videos; v++) {
        const eval_span t = m->truth[v], p = m->pred[(int64_t)run * e->n_videos + v].tags; /* empty unless EVAL_OK */
        for (int64_t k = 0; k < t.n; k++) support[m->ids[t.off + k]]++;
        for (int64_t k = 0; k < p.n; k++) {
            const int32_t id = m->ids[p.off + k];
            if (id >= L) continue; /* a tag that is no label of the file: wrong, counted in no row */
            predicted[id]++;
            for (int64_t j = 0; j < t.n; j++)
                if (m->ids[t.off + j] == id) {
                    hit[id]++;
                    break;
                }
        }
    }
}

typedef struct label_rank {
    int64_t name, train;
} label_rank;

static int by_train_desc(const void *pa, const void *pb)
{
    const label_rank *a = pa, *b = pb;
    if (a->train != b->train) return a->train > b->train ? -1 : 1;
    return (a->name > b->name) - (a->name < b->name);
}

int64_t eval_label_order(const vtag_eval *e, int64_t *order)
{
    const int64_t L = e->labels->n_names;
    label_rank *r = malloc(((size_t)L + 1) * sizeof *r);
    if (!r) return -1;
    int64_t n = 0;
    for (int64_t i = 0; i < L; i++)
        if (e->impl->label_train[i] > 0) r[n++] = (label_rank){i, e->impl->label_train[i]};
    qsort(r, (size_t)n, sizeof *r, by_train_desc);
    for (int64_t k = 0; k < n; k++) order[k] = r[k].name;
    free(r);
    return n;
}

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

int eval_calibrate(const vtag_eval *e, int run, const int64_t *vids, int64_t n, vtag_eval_scores *out, vtag_error *err)
{
    const vtag_eval_impl *m = e->impl;
    const int64_t L = e->labels->n_names;
    double *score = calloc((size_t)L + 1, sizeof *score);
    char *right = calloc((size_t)L + 1, 1);
    if (!score || !right) {
        free(score);
        free(right);
        return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    double sum_s[VTAG_EVAL_BINS] = {0}, sum_r[VTAG_EVAL_BINS] = {0};
    int64_t cnt[VTAG_EVAL_BINS] = {0}, high = 0, high_ok = 0, pairs = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t v = vids[i];
        const eval_pred *p = &m->pred[(int64_t)run * e->n_videos + v];
        if (p->state == EVAL_OK) {
            /* every label with its score; a tag missing from the labels list keeps the tag's score */
            const eval_span sp[2] = {p->labels, p->tags};
            for (int s = 0; s < 2; s++)
                for (int64_t k = 0; k < sp[s].n; k++) {
                    int32_t id = m->ids[sp[s].off + k];
                    if (id < L && (s == 0 || score[id] == 0)) score[id] = clamp01(m->sc[sp[s].off + k]);
                }
        }
        for (int64_t k = 0; k < m->truth[v].n; k++) right[m->ids[m->truth[v].off + k]] = 1;
        for (int64_t id = 0; id < L; id++) {
            if (m->label_train[id] > 0) {
                const double s = score[id];
                int b = (int)floor(s * VTAG_EVAL_BINS);
                b = b < 0 ? 0 : b >= VTAG_EVAL_BINS ? VTAG_EVAL_BINS - 1 : b;
                cnt[b]++;
                sum_s[b] += s;
                sum_r[b] += right[id];
                pairs++;
                if (s >= e->opts.high_score) {
                    high++;
                    high_ok += right[id];
                }
            }
            score[id] = 0;
            right[id] = 0;
        }
    }
    free(score);
    free(right);
    out->pairs = pairs;
    out->ece = pairs ? 0 : NAN;
    for (int b = 0; b < VTAG_EVAL_BINS; b++) {
        vtag_eval_bin *o = &out->bins[b];
        o->n = cnt[b];
        o->score = cnt[b] ? sum_s[b] / (double)cnt[b] : NAN;
        o->right = cnt[b] ? sum_r[b] / (double)cnt[b] : NAN;
        if (cnt[b]) out->ece += (double)cnt[b] / (double)pairs * fabs(o->right - o->score);
    }
    out->high_n = high;
    out->high_right = high ? (double)high_ok / (double)high : NAN;
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

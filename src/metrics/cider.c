/* CIDEr-D exactly as coco-caption's CiderD computes it (SPEC §5), on token
 * ids: each sentence becomes its distinct n-grams with tf·idf values in the
 * scratch table; the references of an item are prepared once and reused for
 * every candidate scored against them. */
#include <math.h>

#include "metrics/ngram.h"

#define CIDER_SIGMA 6.0

/* Looks every gram up in the df table, sets val = count·idf and adds val²
 * to norm2 of its order. The lookups are prefetched first: the table is
 * usually far larger than the caches and the misses then overlap. */
static void cider_weigh(const vtag_metrics_df *df, vtag_metrics_gram *g, int64_t n,
                        double norm2[VTAG_METRICS_MAX_N])
{
    for (int64_t i = 0; i < n; i++) __builtin_prefetch(&df->slots[g[i].hash & df->mask]);
    for (int64_t i = 0; i < n; i++) {
        double v = (double)g[i].count * ng_df_idf(df, &g[i]);
        g[i].val = v;
        norm2[g[i].order] += v * v;
    }
}

static int cider_check(const vtag_metrics_df *df, const vtag_metrics_seq *cands, int64_t n_cands,
                       const vtag_metrics_seq *refs, int64_t n_refs, vtag_error *err)
{
    if (!df->finished)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: CIDEr-D needs a finished df table");
    if (n_refs < 1 || !refs)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: CIDEr-D needs at least one reference");
    if (n_cands < 0 || (n_cands > 0 && !cands))
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: bad candidate list");
    for (int64_t r = 0; r < n_refs; r++) {
        int rc = ng_check_seq(refs[r], "reference", r, err);
        if (rc) return rc;
    }
    for (int64_t c = 0; c < n_cands; c++) {
        int rc = ng_check_seq(cands[c], "candidate", c, err);
        if (rc) return rc;
    }
    return VTAG_OK;
}

int vtag_metrics_cider_d_many(const vtag_metrics_df *df, vtag_metrics_work *w,
                              const vtag_metrics_seq *cands, int64_t n_cands,
                              const vtag_metrics_seq *refs, int64_t n_refs, double *scores,
                              vtag_error *err)
{
    int rc = cider_check(df, cands, n_cands, refs, n_refs, err);
    if (rc) return rc;
    int64_t ref_grams = 0, most = 0;
    for (int64_t r = 0; r < n_refs; r++) {
        int64_t g = ng_count(refs[r].len);
        ref_grams += g;
        if (g > most) most = g;
    }
    for (int64_t c = 0; c < n_cands; c++) {
        int64_t g = ng_count(cands[c].len);
        if (g > most) most = g;
    }
    rc = ng_work_reserve(w, most, ref_grams + most, n_refs, err);
    if (rc) return rc;

    /* References: distinct grams with tf·idf, norms and bigram counts. */
    int64_t n = 0;
    for (int64_t r = 0; r < n_refs; r++) {
        w->ref_start[r] = n;
        ng_work_clear(w);
        int64_t first = n;
        ng_work_add_sentence(w, refs[r].ids, refs[r].len, &n);
        double norm2[VTAG_METRICS_MAX_N] = {0};
        cider_weigh(df, w->grams + first, n - first, norm2);
        double *info = w->ref_info + 6 * r;
        for (int k = 0; k < VTAG_METRICS_MAX_N; k++) info[k] = sqrt(norm2[k]);
        info[4] = refs[r].len > 1 ? (double)(refs[r].len - 1) : 0.0;
    }
    w->ref_start[n_refs] = n;

    for (int64_t c = 0; c < n_cands; c++) {
        ng_work_clear(w);
        int64_t m = n;
        ng_work_add_sentence(w, cands[c].ids, cands[c].len, &m);
        double norm2[VTAG_METRICS_MAX_N] = {0}, norm[VTAG_METRICS_MAX_N];
        cider_weigh(df, w->grams + n, m - n, norm2);
        for (int k = 0; k < VTAG_METRICS_MAX_N; k++) norm[k] = sqrt(norm2[k]);
        double len_c = cands[c].len > 1 ? (double)(cands[c].len - 1) : 0.0;

        double sum[VTAG_METRICS_MAX_N] = {0};
        for (int64_t r = 0; r < n_refs; r++) {
            double val[VTAG_METRICS_MAX_N] = {0};
            for (int64_t g = w->ref_start[r]; g < w->ref_start[r + 1]; g++) {
                const vtag_metrics_gram *gr = &w->grams[g];
                int64_t j = ng_work_find(w, gr);
                if (j < 0) continue;
                double vc = w->grams[j].val, vr = gr->val;
                val[gr->order] += (vc < vr ? vc : vr) * vr; /* clipped */
            }
            const double *info = w->ref_info + 6 * r;
            double delta = len_c - info[4];
            double penalty = exp(-(delta * delta) / (2 * CIDER_SIGMA * CIDER_SIGMA));
            for (int k = 0; k < VTAG_METRICS_MAX_N; k++) {
                if (norm[k] != 0 && info[k] != 0) val[k] /= norm[k] * info[k];
                sum[k] += val[k] * penalty;
            }
        }
        double mean = 0;
        for (int k = 0; k < VTAG_METRICS_MAX_N; k++) mean += sum[k];
        mean /= VTAG_METRICS_MAX_N;
        scores[c] = mean / (double)n_refs * 10.0;
    }
    return VTAG_OK;
}

int vtag_metrics_cider_d(const vtag_metrics_df *df, vtag_metrics_work *w, vtag_metrics_seq cand,
                         const vtag_metrics_seq *refs, int64_t n_refs, double *score,
                         vtag_error *err)
{
    return vtag_metrics_cider_d_many(df, w, &cand, 1, refs, n_refs, score, err);
}

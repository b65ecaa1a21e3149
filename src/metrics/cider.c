/* CIDEr-D exactly as coco-caption's CiderD computes it (SPEC §5), on token
 * ids. The distinct n-grams of the references and candidates in hand get
 * small indices and one df lookup each; the references of an item are
 * prepared once (tf·idf by order, norms, lengths) and reused for every
 * candidate scored against them. */
#include <math.h>

#include "core/isa.h"
#include "metrics/ngram.h"

#define CIDER_SIGMA 6.0

/* Distinct grams of occurrences occ[from, to) in w->list, their counts in
 * w->count (the caller resets them); returns how many. */
static int64_t cider_distinct(vtag_metrics_work *w, int64_t from, int64_t to)
{
    int64_t m = 0;
    for (int64_t o = from; o < to; o++) {
        int32_t g = w->occ[o];
        if (w->count[g]++ == 0) w->list[m++] = g;
    }
    return m;
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

/* Reference r: its distinct grams with count·idf into ref_gram/ref_val
 * from index *k on, order by order; its norms and bigram count. */
static void cider_prepare_ref(vtag_metrics_work *w, int64_t r, int64_t len, int64_t *k)
{
    int64_t j = *k;
    double *info = w->ref_info + 6 * r;
    for (int n = 0; n < VTAG_METRICS_MAX_N; n++) {
        w->ref_start[4 * r + n] = j;
        int64_t m = cider_distinct(w, w->ref_occ[r] + ng_order_start(len, n),
                                   w->ref_occ[r] + ng_order_start(len, n + 1));
        double norm2 = 0;
        for (int64_t i = 0; i < m; i++) {
            int32_t g = w->list[i];
            double v = (double)w->count[g] * w->grams[g].idf;
            w->count[g] = 0;
            norm2 += v * v;
            w->ref_gram[j] = g;
            w->ref_val[j++] = v;
        }
        info[n] = sqrt(norm2);
    }
    info[4] = len > 1 ? (double)(len - 1) : 0.0;
    *k = j;
}

/* CIDEr-D of the candidate of len tokens whose occurrences start at occ
 * index `from`, against prepared references first_ref .. first_ref+n_refs-1. */
static double cider_score(vtag_metrics_work *w, int64_t from, int64_t len, int64_t first_ref,
                          int64_t n_refs)
{
    /* The candidate's tf·idf vector, held in w->value by gram index. */
    int64_t m = 0;
    double norm[VTAG_METRICS_MAX_N];
    for (int n = 0; n < VTAG_METRICS_MAX_N; n++) {
        int64_t first = m;
        for (int64_t o = from + ng_order_start(len, n); o < from + ng_order_start(len, n + 1); o++) {
            int32_t g = w->occ[o];
            if (w->count[g]++ == 0) w->list[m++] = g;
        }
        double norm2 = 0;
        for (int64_t i = first; i < m; i++) {
            int32_t g = w->list[i];
            double v = (double)w->count[g] * w->grams[g].idf;
            w->count[g] = 0;
            w->value[g] = v;
            norm2 += v * v;
        }
        norm[n] = sqrt(norm2);
    }
    double len_c = len > 1 ? (double)(len - 1) : 0.0;

    double sum[VTAG_METRICS_MAX_N] = {0};
    for (int64_t r = first_ref; r < first_ref + n_refs; r++) {
        const double *info = w->ref_info + 6 * r;
        double delta = len_c - info[4];
        double penalty = exp(-(delta * delta) / (2 * CIDER_SIGMA * CIDER_SIGMA));
        for (int n = 0; n < VTAG_METRICS_MAX_N; n++) {
            double val = 0; /* Σ min(vc, vr)·vr; vc = 0 for a gram not in the candidate */
            for (int64_t j = w->ref_start[4 * r + n]; j < w->ref_start[4 * r + n + 1]; j++) {
                double vc = w->value[w->ref_gram[j]], vr = w->ref_val[j];
                val += (vc < vr ? vc : vr) * vr;
            }
            if (norm[n] != 0 && info[n] != 0) val /= norm[n] * info[n];
            sum[n] += val * penalty;
        }
    }
    for (int64_t i = 0; i < m; i++) w->value[w->list[i]] = 0;
    double mean = 0;
    for (int n = 0; n < VTAG_METRICS_MAX_N; n++) mean += sum[n];
    mean /= VTAG_METRICS_MAX_N;
    return mean / (double)n_refs * 10.0;
}

int vtag_metrics_cider_d_many(const vtag_metrics_df *df, vtag_metrics_work *w,
                              const vtag_metrics_seq *cands, int64_t n_cands,
                              const vtag_metrics_seq *refs, int64_t n_refs, double *scores,
                              vtag_error *err)
{
    int rc = cider_check(df, cands, n_cands, refs, n_refs, err);
    if (rc) return rc;
    if (ng_short_fits(refs, n_refs) && ng_short_fits(cands, n_cands)) {
        /* captions: keys in rows, no scratch table (cider_short.c) */
        rc = ng_short_reserve(w, n_refs + 1, err);
        if (rc) return rc;
        VTAG_ISA_CALL(w->isa, ng_cider_short)(df, w, cands, n_cands, refs, n_refs, scores);
        return VTAG_OK;
    }
    int64_t total = 0;
    for (int64_t r = 0; r < n_refs; r++) total += ng_count(refs[r].len);
    for (int64_t c = 0; c < n_cands; c++) total += ng_count(cands[c].len);
    rc = ng_work_reserve(w, total, n_refs, err);
    if (rc) return rc;

    /* Every reference's n-grams, then their idfs in one batch of lookups. */
    ng_work_clear(w);
    int64_t n_occ = 0;
    for (int64_t r = 0; r < n_refs; r++) {
        w->ref_occ[r] = n_occ;
        ng_add_sentence(w, refs[r].ids, refs[r].len, &n_occ);
    }
    w->ref_occ[n_refs] = n_occ;
    ng_lookup_idf(df, w, 0);
    int64_t k = 0;
    for (int64_t r = 0; r < n_refs; r++) cider_prepare_ref(w, r, refs[r].len, &k);
    w->ref_start[4 * n_refs] = k;

    for (int64_t c = 0; c < n_cands; c++) {
        int64_t first_new = w->n_grams, to = n_occ;
        ng_add_sentence(w, cands[c].ids, cands[c].len, &to);
        ng_lookup_idf(df, w, first_new); /* only grams no reference has */
        scores[c] = cider_score(w, n_occ, cands[c].len, 0, n_refs);
    }
    return VTAG_OK;
}

int vtag_metrics_cider_d(const vtag_metrics_df *df, vtag_metrics_work *w, vtag_metrics_seq cand,
                         const vtag_metrics_seq *refs, int64_t n_refs, double *score,
                         vtag_error *err)
{
    return vtag_metrics_cider_d_many(df, w, &cand, 1, refs, n_refs, score, err);
}

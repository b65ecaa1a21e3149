/* CIDEr-D document frequencies: one open-addressing table from exact n-gram
 * keys to df and idf, built once from a reference corpus, then read-only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/ngram.h"

void vtag_metrics_df_init(vtag_metrics_df *df)
{
    memset(df, 0, sizeof *df);
    vtag_metrics_work_init(&df->work);
}

void vtag_metrics_df_free(vtag_metrics_df *df)
{
    free(df->slots);
    vtag_metrics_work_free(&df->work);
    memset(df, 0, sizeof *df);
}

static int df_grow(vtag_metrics_df *df, vtag_error *err)
{
    uint64_t cap = df->slots ? 2 * (df->mask + 1) : 1024;
    vtag_metrics_df_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (df table)");
    uint64_t mask = cap - 1;
    if (df->slots) {
        for (uint64_t i = 0; i <= df->mask; i++) {
            const vtag_metrics_df_slot *s = &df->slots[i];
            if (!s->k0) continue;
            uint64_t j = ng_hash(s->k0, s->k1) & mask;
            while (slots[j].k0) j = (j + 1) & mask;
            slots[j] = *s;
        }
    }
    free(df->slots);
    df->slots = slots;
    df->mask = mask;
    return VTAG_OK;
}

int vtag_metrics_df_add(vtag_metrics_df *df, const vtag_metrics_seq *refs, int64_t n_refs,
                        vtag_error *err)
{
    if (df->finished)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: df table already finished");
    if (n_refs < 0 || (n_refs > 0 && !refs))
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: bad reference set (%lld references)",
                         (long long)n_refs);
    int64_t total = 0;
    for (int64_t r = 0; r < n_refs; r++) {
        int rc = ng_check_seq(refs[r], "reference", r, err);
        if (rc) return rc;
        total += ng_count(refs[r].len);
    }
    vtag_metrics_work *w = &df->work;
    int rc = ng_work_reserve(w, total, total, 0, err);
    if (rc) return rc;
    /* One table for the whole set: each distinct n-gram counts once. */
    ng_work_clear(w);
    int64_t n = 0;
    for (int64_t r = 0; r < n_refs; r++) ng_work_add_sentence(w, refs[r].ids, refs[r].len, &n);
    for (int64_t g = 0; g < n; g++) {
        if (2 * (uint64_t)(df->count + 1) > df->mask + 1 || !df->slots) {
            rc = df_grow(df, err);
            if (rc) return rc;
        }
        const vtag_metrics_gram *gr = &w->grams[g];
        uint64_t i = gr->hash & df->mask;
        for (;;) {
            vtag_metrics_df_slot *s = &df->slots[i];
            if (!s->k0) {
                s->k0 = gr->k0;
                s->k1 = gr->k1;
                s->df = 1;
                df->count++;
                break;
            }
            if (s->k0 == gr->k0 && s->k1 == gr->k1) {
                s->df++;
                break;
            }
            i = (i + 1) & df->mask;
        }
    }
    df->n_sets++;
    return VTAG_OK;
}

int vtag_metrics_df_finish(vtag_metrics_df *df, vtag_error *err)
{
    if (df->finished) return VTAG_OK;
    if (df->n_sets < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: df table has no reference sets");
    if (!df->slots) {
        int rc = df_grow(df, err);
        if (rc) return rc;
    }
    /* Written as coco-caption writes it, so that the doubles are identical. */
    df->log_n = log((double)df->n_sets);
    for (uint64_t i = 0; i <= df->mask; i++) {
        vtag_metrics_df_slot *s = &df->slots[i];
        if (s->k0) s->idf = df->log_n - log(s->df > 1 ? (double)s->df : 1.0);
    }
    vtag_metrics_work_free(&df->work);
    df->finished = 1;
    return VTAG_OK;
}

int64_t vtag_metrics_df_get(const vtag_metrics_df *df, const int32_t *ids, int n)
{
    if (!df->slots || n < 1 || n > VTAG_METRICS_MAX_N) return 0;
    uint64_t k[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0) return 0;
        k[i] = (uint64_t)ids[i] + 1;
    }
    uint64_t k0 = k[0] | k[1] << 32, k1 = k[2] | k[3] << 32;
    uint64_t i = ng_hash(k0, k1) & df->mask;
    for (;;) {
        const vtag_metrics_df_slot *s = &df->slots[i];
        if (s->k0 == k0 && s->k1 == k1) return s->df;
        if (!s->k0) return 0;
        i = (i + 1) & df->mask;
    }
}

/* CIDEr-D document frequencies: an open-addressing table from exact n-gram
 * keys to df and idf, built once from a reference corpus, then read-only.
 * Every distinct n-gram of every candidate and reference is looked up
 * there, so its size decides the speed: finishing drops the n-grams seen in
 * one set only (most of them), whose idf is that of an absent n-gram. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "metrics/ngram.h"

/* Zeroed memory for a lookup table; large ones on 2 MiB pages where the
 * system allows, as every lookup lands on a random page. */
static void *table_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < huge) return calloc(1, bytes);
    void *p = NULL;
    bytes = (bytes + huge - 1) / huge * huge;
    if (posix_memalign(&p, huge, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure only costs speed */
#endif
    memset(p, 0, bytes);
    return p;
}

void vtag_metrics_df_init(vtag_metrics_df *df)
{
    memset(df, 0, sizeof *df);
    vtag_metrics_work_init(&df->work);
}

void vtag_metrics_df_free(vtag_metrics_df *df)
{
    free(df->slots);
    free(df->filter);
    free(df->short_slots);
    free(df->uni_idf);
    free(df->short_filter);
    vtag_metrics_work_free(&df->work);
    memset(df, 0, sizeof *df);
}

static int df_grow(vtag_metrics_df *df, vtag_error *err)
{
    uint64_t cap = df->slots ? 2 * (df->mask + 1) : 1024;
    vtag_metrics_df_slot *c = table_alloc(cap * sizeof *c);
    if (!c) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (df table)");
    uint64_t mask = cap - 1;
    if (df->slots) {
        for (uint64_t i = 0; i <= df->mask; i++) {
            const vtag_metrics_df_slot *s = &df->slots[i];
            if (!s->k0) continue;
            uint64_t j = ng_hash(s->k0, s->k1) & mask;
            while (c[j].k0) j = (j + 1) & mask;
            c[j] = *s;
        }
    }
    free(df->slots);
    df->slots = c;
    df->mask = mask;
    return VTAG_OK;
}

static vtag_metrics_df_slot *df_find_slot(const vtag_metrics_df *df, uint64_t k0, uint64_t k1, uint64_t h)
{
    uint64_t i = h & df->mask;
    for (;;) {
        vtag_metrics_df_slot *s = &df->slots[i];
        if (!s->k0 || (s->k0 == k0 && s->k1 == k1)) return s;
        i = (i + 1) & df->mask;
    }
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
    int rc = ng_work_reserve(w, total, 0, err);
    if (rc) return rc;
    /* One scratch table for the whole set: each distinct n-gram counts once. */
    ng_work_clear(w);
    int64_t n_occ = 0;
    for (int64_t r = 0; r < n_refs; r++) ng_add_sentence(w, refs[r].ids, refs[r].len, &n_occ);
    for (int64_t g = 0; g < w->n_grams; g++) {
        if (2 * (uint64_t)(df->count + 1) > df->mask + 1 || !df->slots) {
            rc = df_grow(df, err);
            if (rc) return rc;
        }
        const vtag_metrics_gram *gr = &w->grams[g];
        vtag_metrics_df_slot *s = df_find_slot(df, gr->k0, gr->k1, gr->hash);
        if (!s->k0) {
            s->k0 = gr->k0;
            s->k1 = gr->k1;
            df->count++;
        }
        s->df++;
    }
    df->n_sets++;
    return VTAG_OK;
}

/* The short key of the gram (k0, k1), or 0 when an id is >= NG_SHORT_ID. */
static uint64_t df_short_key(uint64_t k0, uint64_t k1)
{
    uint64_t part[4] = {k0 & 0xffffffffu, k0 >> 32, k1 & 0xffffffffu, k1 >> 32}, key = 0;
    for (int i = 0; i < 4; i++) {
        if (part[i] > NG_SHORT_ID) return 0;
        key |= part[i] << (16 * i);
    }
    return key;
}

/* The short-key table and the unigram idfs (see vtag_metrics_df) from the
 * finished table t of cap slots. */
static int df_build_short(vtag_metrics_df *df, const vtag_metrics_df_slot *t, uint64_t cap,
                          vtag_error *err)
{
    int64_t n = 0, uni_len = 0;
    for (uint64_t j = 0; j < cap; j++) {
        uint64_t key = t[j].k0 ? df_short_key(t[j].k0, t[j].k1) : 0;
        if (!key) continue;
        if (key >> 16) n++;
        else if ((int64_t)key > uni_len) uni_len = (int64_t)key; /* id + 1 */
    }
    int bits = 4;
    while (((uint64_t)1 << bits) < 2 * (uint64_t)n) bits++;
    vtag_metrics_df_short *s = table_alloc(((size_t)1 << bits) * sizeof *s);
    double *uni = malloc((size_t)(uni_len > 0 ? uni_len : 1) * sizeof *uni);
    int fbits = 12; /* 16 bits per key: about 6% of absent keys pass */
    while (((uint64_t)1 << fbits) < 16 * (uint64_t)n) fbits++;
    uint64_t *filter = calloc(((size_t)1 << fbits) / 64, sizeof *filter);
    if (!s || !uni || !filter) {
        free(s);
        free(uni);
        free(filter);
        return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (df table)");
    }
    for (int64_t i = 0; i < uni_len; i++) uni[i] = df->log_n;
    const uint64_t mask = ((uint64_t)1 << bits) - 1;
    for (uint64_t j = 0; j < cap; j++) {
        uint64_t key = t[j].k0 ? df_short_key(t[j].k0, t[j].k1) : 0;
        if (!key) continue;
        if (!(key >> 16)) {
            uni[key - 1] = t[j].idf;
            continue;
        }
        uint64_t i = ng_short_slot(key, 64 - bits);
        while (s[i].key) i = (i + 1) & mask;
        s[i] = (vtag_metrics_df_short){key, t[j].idf};
        uint64_t b = ng_short_slot(key, 64 - fbits);
        filter[b / 64] |= (uint64_t)1 << (b % 64);
    }
    df->short_filter = filter;
    df->short_filter_bits = fbits;
    df->short_slots = s;
    df->short_mask = mask;
    df->short_shift = 64 - bits;
    df->uni_idf = uni;
    df->uni_len = uni_len;
    return VTAG_OK;
}

int vtag_metrics_df_finish(vtag_metrics_df *df, vtag_error *err)
{
    if (df->finished) return VTAG_OK;
    if (df->n_sets < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: df table has no reference sets");
    int64_t stored = 0;
    for (uint64_t i = 0; df->slots && i <= df->mask; i++) stored += df->slots[i].df >= 2;
    uint64_t cap = 1024;
    while (cap < 2 * (uint64_t)stored) cap *= 2;
    vtag_metrics_df_slot *t = table_alloc(cap * sizeof *t);
    if (!t) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (df table)");
    /* Written as coco-caption writes it, so that the doubles are identical. */
    df->log_n = log((double)df->n_sets);
    for (uint64_t i = 0; df->slots && i <= df->mask; i++) {
        const vtag_metrics_df_slot *s = &df->slots[i];
        if (s->df < 2) continue; /* idf log N - log 1: the same as absent */
        uint64_t j = ng_hash(s->k0, s->k1) & (cap - 1);
        while (t[j].k0) j = (j + 1) & (cap - 1);
        t[j] = *s;
        t[j].idf = df->log_n - log((double)s->df);
    }
    /* 16 filter bits per stored n-gram: about 6% of absent n-grams pass. */
    int bits = 12;
    while (((uint64_t)1 << bits) < 16 * (uint64_t)stored) bits++;
    uint64_t *filter = calloc(((size_t)1 << bits) / 64, sizeof *filter);
    if (!filter) {
        free(t);
        return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (df filter)");
    }
    for (uint64_t j = 0; j < cap; j++) {
        if (!t[j].k0) continue;
        uint64_t b = ng_hash(t[j].k0, t[j].k1) >> (64 - bits);
        filter[b / 64] |= (uint64_t)1 << (b % 64);
    }
    int rc = df_build_short(df, t, cap, err);
    if (rc) {
        free(t);
        free(filter);
        return rc;
    }
    free(df->slots);
    df->slots = t;
    df->mask = cap - 1;
    df->filter = filter;
    df->filter_bits = bits;
    df->stored = stored;
    vtag_metrics_work_free(&df->work);
    df->finished = 1;
    return VTAG_OK;
}

double vtag_metrics_df_idf(const vtag_metrics_df *df, const int32_t *ids, int n)
{
    if (!df->finished || n < 1 || n > VTAG_METRICS_MAX_N) return NAN;
    uint64_t k[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0) return df->log_n; /* never in the table */
        k[i] = (uint64_t)ids[i] + 1;
    }
    uint64_t k0 = k[0] | k[1] << 32, k1 = k[2] | k[3] << 32;
    const vtag_metrics_df_slot *s = df_find_slot(df, k0, k1, ng_hash(k0, k1));
    return s->k0 ? s->idf : df->log_n;
}

/* True unless the filter proves the gram of hash h absent. */
static inline int df_maybe(const vtag_metrics_df *df, uint64_t h)
{
    uint64_t b = h >> (64 - df->filter_bits);
    return (int)(df->filter[b / 64] >> (b % 64) & 1);
}

void ng_lookup_idf(const vtag_metrics_df *df, vtag_metrics_work *w, int64_t from)
{
    /* The filter (in cache) settles most grams; the misses of the others
     * are all issued first so that they overlap. */
    vtag_metrics_gram *grams = w->grams;
    const vtag_metrics_df_slot *t = df->slots;
    const uint64_t mask = df->mask;
    for (int64_t g = from; g < w->n_grams; g++)
        if (df_maybe(df, grams[g].hash)) __builtin_prefetch(&t[grams[g].hash & mask]);
    for (int64_t g = from; g < w->n_grams; g++) {
        vtag_metrics_gram *gr = &grams[g];
        gr->idf = df->log_n; /* absent, or df = 1: log N - log 1 */
        if (!df_maybe(df, gr->hash)) continue;
        for (uint64_t i = gr->hash & mask;; i = (i + 1) & mask) {
            if (t[i].k0 == gr->k0 && t[i].k1 == gr->k1) {
                gr->idf = t[i].idf;
                break;
            }
            if (!t[i].k0) break;
        }
    }
}

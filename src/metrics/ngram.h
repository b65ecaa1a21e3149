/* Private to src/metrics: exact n-gram keys, their hash, and the scratch
 * hash table that turns a sentence into its distinct n-grams with counts. */
#ifndef VTAG_METRICS_NGRAM_H
#define VTAG_METRICS_NGRAM_H

#include <stdint.h>

#include "vtag/metrics.h"

/* An n-gram (n <= 4) of ids >= 0 is held exactly in two words, (id+1) of
 * tokens 0 and 1 in k0 and of tokens 2 and 3 in k1, 0 where the gram is
 * shorter; so grams of different orders never compare equal and k0 != 0. */
static inline uint64_t ng_hash(uint64_t k0, uint64_t k1)
{
    uint64_t h = k0 * 0x9E3779B97F4A7C15ull ^ (k1 + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return h;
}

/* Checks a sentence's ids (>= 0) and length; names it in the error. */
int ng_check_seq(vtag_metrics_seq s, const char *what, int64_t index, vtag_error *err);

/* Makes room in w for a table holding `distinct` n-grams at a time and for
 * `grams` gram records, and for `refs` cooked references. */
int ng_work_reserve(vtag_metrics_work *w, int64_t distinct, int64_t grams, int64_t refs,
                    vtag_error *err);

/* Starts a new, empty table (older entries become invisible). */
void ng_work_clear(vtag_metrics_work *w);

/* Index of the gram (k0, k1) in w->grams, added at *n_grams with count 0
 * if absent from the current table. Capacity was reserved. */
static inline int64_t ng_work_insert(vtag_metrics_work *w, uint64_t k0, uint64_t k1, int32_t order,
                                     int64_t *n_grams)
{
    uint64_t h = ng_hash(k0, k1);
    uint64_t i = h & w->mask;
    for (;;) {
        if (w->slot_stamp[i] != w->stamp) {
            int64_t g = (*n_grams)++;
            w->slot_stamp[i] = w->stamp;
            w->slot_idx[i] = (int32_t)g;
            vtag_metrics_gram *gr = &w->grams[g];
            gr->k0 = k0;
            gr->k1 = k1;
            gr->hash = h;
            gr->order = order;
            gr->count = 0;
            gr->val = 0.0;
            return g;
        }
        const vtag_metrics_gram *gr = &w->grams[w->slot_idx[i]];
        if (gr->k0 == k0 && gr->k1 == k1) return w->slot_idx[i];
        i = (i + 1) & w->mask;
    }
}

/* Index of a gram in the current table, or -1. */
static inline int64_t ng_work_find(const vtag_metrics_work *w, const vtag_metrics_gram *q)
{
    uint64_t i = q->hash & w->mask;
    for (;;) {
        if (w->slot_stamp[i] != w->stamp) return -1;
        const vtag_metrics_gram *gr = &w->grams[w->slot_idx[i]];
        if (gr->k0 == q->k0 && gr->k1 == q->k1) return w->slot_idx[i];
        i = (i + 1) & w->mask;
    }
}

/* Adds every n-gram (orders 1..4) of ids[0..len) to the current table,
 * counting occurrences; new grams are appended at *n_grams. */
static inline void ng_work_add_sentence(vtag_metrics_work *w, const int32_t *ids, int64_t len,
                                        int64_t *n_grams)
{
    for (int64_t i = 0; i < len; i++) {
        uint64_t k0 = (uint64_t)ids[i] + 1, k1 = 0;
        w->grams[ng_work_insert(w, k0, 0, 0, n_grams)].count++;
        if (i + 1 >= len) continue;
        k0 |= ((uint64_t)ids[i + 1] + 1) << 32;
        w->grams[ng_work_insert(w, k0, 0, 1, n_grams)].count++;
        if (i + 2 >= len) continue;
        k1 = (uint64_t)ids[i + 2] + 1;
        w->grams[ng_work_insert(w, k0, k1, 2, n_grams)].count++;
        if (i + 3 >= len) continue;
        k1 |= ((uint64_t)ids[i + 3] + 1) << 32;
        w->grams[ng_work_insert(w, k0, k1, 3, n_grams)].count++;
    }
}

/* Number of n-grams of orders 1..4 in a sentence of len tokens. */
static inline int64_t ng_count(int64_t len)
{
    int64_t c = 0;
    for (int64_t n = 1; n <= VTAG_METRICS_MAX_N; n++)
        if (len >= n) c += len - n + 1;
    return c;
}

/* The idf of a gram: log(N) - log(df), log(N) when absent. */
static inline double ng_df_idf(const vtag_metrics_df *df, const vtag_metrics_gram *g)
{
    uint64_t i = g->hash & df->mask;
    for (;;) {
        const vtag_metrics_df_slot *s = &df->slots[i];
        if (s->k0 == g->k0 && s->k1 == g->k1) return s->idf;
        if (s->k0 == 0) return df->log_n;
        i = (i + 1) & df->mask;
    }
}

#endif

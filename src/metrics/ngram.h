/* Private to src/metrics: exact n-gram keys, their hash, and the scratch
 * table that gives every distinct n-gram of the sentences in hand an index,
 * so that each is looked up in the df table once per call and sentences
 * become lists of small integers. */
#ifndef VTAG_METRICS_NGRAM_H
#define VTAG_METRICS_NGRAM_H

#include <stdint.h>

#include "core/isa.h"
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

/* Makes room in w for `occurrences` n-gram occurrences (and as many
 * distinct grams) between two clears, and for `refs` references. */
int ng_work_reserve(vtag_metrics_work *w, int64_t occurrences, int64_t refs, vtag_error *err);

/* Forgets every gram (O(1): the table's stamp moves on). */
void ng_work_clear(vtag_metrics_work *w);

/* Index of the gram (k0, k1) in w->grams, added if new. */
static inline int32_t ng_insert(vtag_metrics_work *w, uint64_t k0, uint64_t k1, int32_t order)
{
    uint64_t h = ng_hash(k0, k1);
    const uint64_t stamp = (uint64_t)w->stamp << 32;
    for (uint64_t i = h & w->mask;; i = (i + 1) & w->mask) {
        uint64_t slot = w->slots[i];
        if ((slot & 0xffffffff00000000ull) != stamp) { /* empty since the last clear */
            int32_t g = (int32_t)w->n_grams++;
            w->slots[i] = stamp | (uint32_t)g;
            w->grams[g] = (vtag_metrics_gram){k0, k1, h, 0.0, order, 0};
            return g;
        }
        const vtag_metrics_gram *gr = &w->grams[(uint32_t)slot];
        if (gr->k0 == k0 && gr->k1 == k1) return (int32_t)(uint32_t)slot;
    }
}

/* Appends the gram index of every n-gram of ids[0..len) to w->occ at
 * *n_occ, order by order: the len unigrams, the len-1 bigrams, and so on
 * (ng_order_start gives where each order begins). */
static inline void ng_add_sentence(vtag_metrics_work *w, const int32_t *ids, int64_t len, int64_t *n_occ)
{
    int32_t *occ = w->occ;
    int64_t o = *n_occ;
    for (int64_t i = 0; i < len; i++) occ[o++] = ng_insert(w, (uint64_t)ids[i] + 1, 0, 0);
    for (int64_t i = 0; i + 1 < len; i++)
        occ[o++] = ng_insert(w, ((uint64_t)ids[i] + 1) | ((uint64_t)ids[i + 1] + 1) << 32, 0, 1);
    for (int64_t i = 0; i + 2 < len; i++)
        occ[o++] = ng_insert(w, ((uint64_t)ids[i] + 1) | ((uint64_t)ids[i + 1] + 1) << 32,
                             (uint64_t)ids[i + 2] + 1, 2);
    for (int64_t i = 0; i + 3 < len; i++)
        occ[o++] = ng_insert(w, ((uint64_t)ids[i] + 1) | ((uint64_t)ids[i + 1] + 1) << 32,
                             ((uint64_t)ids[i + 2] + 1) | ((uint64_t)ids[i + 3] + 1) << 32, 3);
    *n_occ = o;
}

/* Where the n-grams of order n (0-based) of a sentence of len tokens start
 * among its occurrences; n = 4 gives their total. */
static inline int64_t ng_order_start(int64_t len, int n)
{
    int64_t o = 0;
    for (int m = 0; m < n; m++)
        if (len > m) o += len - m;
    return o;
}

/* Number of n-grams of orders 1..4 in a sentence of len tokens. */
static inline int64_t ng_count(int64_t len)
{
    int64_t c = 0;
    for (int64_t n = 1; n <= VTAG_METRICS_MAX_N; n++)
        if (len >= n) c += len - n + 1;
    return c;
}

/* Sets the idf of grams [from, w->n_grams) from the df table. */
void ng_lookup_idf(const vtag_metrics_df *df, vtag_metrics_work *w, int64_t from);

/* ---- short sentences (cider_short.c) ----------------------------------------
 * Captions are short: when every sentence of a call has at most
 * NG_SHORT_LEN tokens and every id is below NG_SHORT_ID, an n-gram is one
 * 64-bit key ((id+1) of tokens 0..3 in 16 bits each, 0 where the gram is
 * shorter, so orders never collide and a key is never 0), a sentence's grams
 * of one order fit one row of NG_SHORT_LEN keys, and counting a gram in a
 * sentence is one vector compare: no scratch table. */
#define NG_SHORT_LEN 16
#define NG_SHORT_ID 65535

/* One sentence, ready to score: its keys by order and position (rows are
 * padded past the last gram with keys of lower orders or 0, which never
 * equal a key of the row's order), and its distinct grams in order of first
 * occurrence with count, idf and count · idf. The distinct grams of orders
 * 2..4 that the df filter lets through are listed in look_key (their didf
 * index n·16 + d in look_at) and looked up together. */
typedef struct vtag_metrics_sent {
    uint64_t key[VTAG_METRICS_MAX_N][NG_SHORT_LEN];
    uint64_t dkey[VTAG_METRICS_MAX_N][NG_SHORT_LEN];
    double didf[VTAG_METRICS_MAX_N][NG_SHORT_LEN];
    double dval[VTAG_METRICS_MAX_N][NG_SHORT_LEN];
    int32_t dcount[VTAG_METRICS_MAX_N][NG_SHORT_LEN];
    uint64_t look_key[VTAG_METRICS_MAX_N * NG_SHORT_LEN];
    int32_t look_at[VTAG_METRICS_MAX_N * NG_SHORT_LEN];
    int32_t n_look;
    int32_t nd[VTAG_METRICS_MAX_N];
    double norm[VTAG_METRICS_MAX_N];
    double len_b; /* bigram count max(0, tokens - 1) */
} vtag_metrics_sent;

/* Slot of a short key in df->short_slots: the top bits of key · φ·2^64. */
static inline uint64_t ng_short_slot(uint64_t key, int shift)
{
    return (key * 0x9E3779B97F4A7C15ull) >> shift;
}

/* Room in w for n sentence blocks. */
int ng_short_reserve(vtag_metrics_work *w, int64_t n, vtag_error *err);

/* True when every sentence fits the short path. */
int ng_short_fits(const vtag_metrics_seq *s, int64_t n);

/* CIDEr-D of each candidate against the references, as
 * vtag_metrics_cider_d_many (checked, short sentences, room for
 * n_refs + 1 blocks), bit for bit, on every kernel path (w->isa). */
VTAG_ISA_DECLARE(void, ng_cider_short,
                 (const vtag_metrics_df *df, vtag_metrics_work *w, const vtag_metrics_seq *cands, int64_t n_cands,
                  const vtag_metrics_seq *refs, int64_t n_refs, double *scores));

#endif

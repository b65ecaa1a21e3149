/* CIDEr-D of short sentences (captions: at most 16 tokens, ids < 65535)
 * without a scratch table: each sentence's n-grams become 64-bit keys in
 * rows of 16 by order, repeats within a sentence and matches between the
 * candidate and a reference are counted by comparing a key with a whole row
 * at once, and each distinct gram of a sentence takes its idf from the df
 * table's short keys (prefetched while the sentences are cut up, read once
 * all are). The arithmetic is cider.c's, in the same order, so the scores
 * are the same to the bit, on every kernel path (core/isa.h: this file is
 * compiled once per path; only the row compare differs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/isa.h"
#include "metrics/ngram.h"

#define CIDER_SIGMA 6.0

/* Bit j set where row[j] == x, j < 16. */
static inline uint32_t row_match(const uint64_t *row, uint64_t x)
{
#if defined(__AVX512F__)
    __m512i v = _mm512_set1_epi64((long long)x);
    uint32_t lo = _mm512_cmpeq_epi64_mask(_mm512_loadu_si512((const void *)row), v);
    uint32_t hi = _mm512_cmpeq_epi64_mask(_mm512_loadu_si512((const void *)(row + 8)), v);
    return lo | hi << 8;
#elif defined(__AVX2__)
    __m256i v = _mm256_set1_epi64x((long long)x);
    uint32_t m = 0;
    for (int j = 0; j < 4; j++) {
        __m256i eq = _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(row + 4 * j)), v);
        m |= (uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(eq)) << (4 * j);
    }
    return m;
#else
    uint32_t m = 0;
    for (int j = 0; j < NG_SHORT_LEN; j++) m |= (uint32_t)(row[j] == x) << j;
    return m;
#endif
}

/* A double chosen without a branch: b when pick, else a. */
static inline double pick_double(int pick, double a, double b)
{
    uint64_t ua, ub, m = -(uint64_t)(pick != 0);
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & ~m) | (ub & m);
    memcpy(&a, &ua, sizeof a);
    return a;
}

/* Keys, distinct grams and their counts of ids[0..len) into s, the
 * unigrams' idfs (direct), and the grams of orders 2..4 that the df filter
 * does not prove absent listed for short_look (the others keep log N).
 * Whether a gram is listed is as likely as not, so that does not branch. */
static void short_cut(const vtag_metrics_df *df, vtag_metrics_sent *s, const int32_t *ids, int64_t len)
{
    uint64_t t[NG_SHORT_LEN + 3] = {0};
    for (int64_t i = 0; i < len; i++) t[i] = (uint64_t)ids[i] + 1;
    for (int i = 0; i < NG_SHORT_LEN; i++) {
        uint64_t key = t[i];
        s->key[0][i] = key;
        key |= t[i + 1] << 16;
        s->key[1][i] = key;
        key |= t[i + 2] << 32;
        s->key[2][i] = key;
        key |= t[i + 3] << 48;
        s->key[3][i] = key;
    }
    const int fshift = 64 - df->short_filter_bits;
    int32_t n_look = 0;
    for (int n = 0; n < VTAG_METRICS_MAX_N; n++) {
        int m = (int)len - n, d = 0;
        const uint64_t *row = s->key[n];
        for (int i = 0; i < m; i++) {
            uint64_t x = row[i];
            uint32_t eq = row_match(row, x);
            if (eq & ((1u << i) - 1)) continue; /* seen before */
            s->dkey[n][d] = x;
            s->dcount[n][d] = __builtin_popcount(eq);
            if (n == 0) {
                s->didf[0][d] = (int64_t)x - 1 < df->uni_len ? df->uni_idf[x - 1] : df->log_n;
            } else {
                uint64_t b = ng_short_slot(x, fshift);
                s->didf[n][d] = df->log_n;
                s->look_key[n_look] = x;
                s->look_at[n_look] = n * NG_SHORT_LEN + d;
                n_look += (int32_t)(df->short_filter[b / 64] >> (b % 64) & 1);
            }
            d++;
        }
        s->nd[n] = d;
    }
    s->n_look = n_look;
    s->len_b = len > 1 ? (double)(len - 1) : 0.0;
}

static void short_prefetch(const vtag_metrics_df *df, const vtag_metrics_sent *s)
{
    for (int32_t l = 0; l < s->n_look; l++)
        __builtin_prefetch(&df->short_slots[ng_short_slot(s->look_key[l], df->short_shift)]);
}

/* The listed grams' idfs from the df table (most are there: the filter
 * passes about 6% of absent grams). The first two slots of every gram are
 * read without a branch, so that the cache misses overlap (a mispredicted
 * branch would throw the later loads away); the few grams placed further
 * on are probed after. */
static void short_look(const vtag_metrics_df *df, vtag_metrics_sent *s)
{
    const vtag_metrics_df_short *t = df->short_slots;
    const uint64_t mask = df->short_mask;
    double *didf = &s->didf[0][0];
    int32_t rest[VTAG_METRICS_MAX_N * NG_SHORT_LEN], n_rest = 0;
    for (int32_t l = 0; l < s->n_look; l++) {
        uint64_t key = s->look_key[l], i = ng_short_slot(key, df->short_shift);
        const vtag_metrics_df_short *a = &t[i], *b = &t[(i + 1) & mask];
        double idf = pick_double(b->key == key, didf[s->look_at[l]], b->idf);
        didf[s->look_at[l]] = pick_double(a->key == key, idf, a->idf);
        rest[n_rest] = l;
        n_rest += (a->key != key) & (a->key != 0) & (b->key != key) & (b->key != 0);
    }
    for (int32_t r = 0; r < n_rest; r++) {
        uint64_t key = s->look_key[rest[r]];
        for (uint64_t i = (ng_short_slot(key, df->short_shift) + 2) & mask;; i = (i + 1) & mask) {
            if (t[i].key == key) {
                didf[s->look_at[rest[r]]] = t[i].idf;
                break;
            }
            if (!t[i].key) break; /* log N already */
        }
    }
}

/* count · idf and the norms of s. */
static void short_weigh(vtag_metrics_sent *s)
{
    for (int n = 0; n < VTAG_METRICS_MAX_N; n++) {
        double norm2 = 0;
        for (int d = 0; d < s->nd[n]; d++) {
            double v = (double)s->dcount[n][d] * s->didf[n][d];
            s->dval[n][d] = v;
            norm2 += v * v;
        }
        s->norm[n] = sqrt(norm2);
    }
}

static double short_score(const vtag_metrics_sent *c, const vtag_metrics_sent *refs, int64_t n_refs)
{
    double sum[VTAG_METRICS_MAX_N] = {0};
    for (int64_t r = 0; r < n_refs; r++) {
        const vtag_metrics_sent *ref = &refs[r];
        double delta = c->len_b - ref->len_b;
        double penalty = exp(-(delta * delta) / (2 * CIDER_SIGMA * CIDER_SIGMA));
        for (int n = 0; n < VTAG_METRICS_MAX_N; n++) {
            double val = 0; /* Σ min(vc, vr)·vr over the reference's grams */
            for (int d = 0; d < ref->nd[n]; d++) {
                int count = __builtin_popcount(row_match(c->key[n], ref->dkey[n][d]));
                double vc = (double)count * ref->didf[n][d], vr = ref->dval[n][d];
                val += (vc < vr ? vc : vr) * vr;
            }
            if (c->norm[n] != 0 && ref->norm[n] != 0) val /= c->norm[n] * ref->norm[n];
            sum[n] += val * penalty;
        }
    }
    double mean = 0;
    for (int n = 0; n < VTAG_METRICS_MAX_N; n++) mean += sum[n];
    mean /= VTAG_METRICS_MAX_N;
    return mean / (double)n_refs * 10.0;
}

void VTAG_ISA_FN(ng_cider_short)(const vtag_metrics_df *df, vtag_metrics_work *w, const vtag_metrics_seq *cands,
                                 int64_t n_cands, const vtag_metrics_seq *refs, int64_t n_refs, double *scores)
{
    vtag_metrics_sent *sent = w->sents; /* the references, then a candidate */
    for (int64_t r = 0; r < n_refs; r++) {
        short_cut(df, &sent[r], refs[r].ids, refs[r].len);
        short_prefetch(df, &sent[r]);
    }
    for (int64_t r = 0; r < n_refs; r++) short_look(df, &sent[r]);
    for (int64_t r = 0; r < n_refs; r++) short_weigh(&sent[r]);
    for (int64_t c = 0; c < n_cands; c++) {
        short_cut(df, &sent[n_refs], cands[c].ids, cands[c].len);
        short_prefetch(df, &sent[n_refs]);
        short_look(df, &sent[n_refs]);
        short_weigh(&sent[n_refs]);
        scores[c] = short_score(&sent[n_refs], sent, n_refs);
    }
}

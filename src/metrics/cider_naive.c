/* The naive twin of CIDEr-D: SPEC §5 written out with linear scans and no
 * hashing, so that tests can hold the fast version equal to it. */
#include <math.h>
#include <string.h>

#include "metrics/ngram.h"

static int gram_at(const vtag_metrics_seq *s, int64_t i, const int32_t *g, int n)
{
    return memcmp(s->ids + i, g, (size_t)n * sizeof *g) == 0;
}

static int64_t gram_count(const vtag_metrics_seq *s, const int32_t *g, int n)
{
    int64_t c = 0;
    for (int64_t i = 0; i + n <= s->len; i++) c += gram_at(s, i, g, n);
    return c;
}

/* True when position i holds the first occurrence of its gram in s. */
static int gram_first(const vtag_metrics_seq *s, int64_t i, int n)
{
    for (int64_t j = 0; j < i; j++)
        if (gram_at(s, j, s->ids + i, n)) return 0;
    return 1;
}

static double naive_idf(const vtag_metrics_item *items, int64_t n_items, const int32_t *g, int n)
{
    int64_t df = 0;
    for (int64_t it = 0; it < n_items; it++) {
        int found = 0;
        for (int64_t r = 0; r < items[it].n_refs && !found; r++)
            found = gram_count(&items[it].refs[r], g, n) > 0;
        df += found;
    }
    return log((double)n_items) - log(df > 1 ? (double)df : 1.0);
}

static double naive_norm(const vtag_metrics_item *items, int64_t n_items, const vtag_metrics_seq *s,
                         int n)
{
    double sum = 0;
    for (int64_t i = 0; i + n <= s->len; i++) {
        if (!gram_first(s, i, n)) continue;
        double v = (double)gram_count(s, s->ids + i, n) * naive_idf(items, n_items, s->ids + i, n);
        sum += v * v;
    }
    return sqrt(sum);
}

int vtag_metrics_cider_d_naive(const vtag_metrics_item *df_items, int64_t n_df_items,
                               vtag_metrics_seq cand, const vtag_metrics_seq *refs,
                               int64_t n_refs, double *score, vtag_error *err)
{
    if (n_df_items < 1 || n_refs < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: naive CIDEr-D needs df items and references");
    int rc = ng_check_seq(cand, "candidate", 0, err);
    for (int64_t r = 0; r < n_refs && !rc; r++) rc = ng_check_seq(refs[r], "reference", r, err);
    if (rc) return rc;
    double total = 0;
    for (int n = 1; n <= VTAG_METRICS_MAX_N; n++) {
        double nc = naive_norm(df_items, n_df_items, &cand, n);
        for (int64_t r = 0; r < n_refs; r++) {
            const vtag_metrics_seq *ref = &refs[r];
            double nr = naive_norm(df_items, n_df_items, ref, n), val = 0;
            for (int64_t i = 0; i + n <= cand.len; i++) {
                if (!gram_first(&cand, i, n)) continue;
                const int32_t *g = cand.ids + i;
                double idf = naive_idf(df_items, n_df_items, g, n);
                double vc = (double)gram_count(&cand, g, n) * idf;
                double vr = (double)gram_count(ref, g, n) * idf;
                val += fmin(vc, vr) * vr;
            }
            if (nc != 0 && nr != 0) val /= nc * nr;
            double lc = cand.len > 1 ? (double)(cand.len - 1) : 0.0;
            double lr = ref->len > 1 ? (double)(ref->len - 1) : 0.0;
            total += val * exp(-(lc - lr) * (lc - lr) / 72.0);
        }
    }
    *score = 10.0 * total / VTAG_METRICS_MAX_N / (double)n_refs;
    return VTAG_OK;
}

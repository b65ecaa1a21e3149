/* BLEU-1..4 as coco-caption's BleuScorer computes the corpus score with
 * option "closest" (SPEC §5): statistics are summed item by item, the score
 * is formed once at the end. */
#include <math.h>
#include <string.h>

#include "metrics/ngram.h"

void vtag_metrics_bleu_init(vtag_metrics_bleu *b)
{
    memset(b, 0, sizeof *b);
}

static int bleu_check(vtag_metrics_seq cand, const vtag_metrics_seq *refs, int64_t n_refs,
                      vtag_error *err)
{
    if (n_refs < 1 || !refs)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: BLEU needs at least one reference");
    int rc = ng_check_seq(cand, "candidate", 0, err);
    for (int64_t r = 0; r < n_refs && !rc; r++) rc = ng_check_seq(refs[r], "reference", r, err);
    return rc;
}

/* The reference length closest to the candidate's; ties go to the shorter. */
static int64_t bleu_closest(int64_t testlen, const vtag_metrics_seq *refs, int64_t n_refs)
{
    int64_t best = refs[0].len;
    for (int64_t r = 1; r < n_refs; r++) {
        int64_t l = refs[r].len;
        int64_t d = l > testlen ? l - testlen : testlen - l;
        int64_t bd = best > testlen ? best - testlen : testlen - best;
        if (d < bd || (d == bd && l < best)) best = l;
    }
    return best;
}

static void bleu_lengths(vtag_metrics_bleu *b, int64_t testlen, const vtag_metrics_seq *refs,
                         int64_t n_refs)
{
    b->testlen += testlen;
    b->reflen += bleu_closest(testlen, refs, n_refs);
    for (int k = 0; k < VTAG_METRICS_MAX_N; k++)
        if (testlen > k) b->guess[k] += testlen - k;
}

int vtag_metrics_bleu_add(vtag_metrics_bleu *b, vtag_metrics_work *w, vtag_metrics_seq cand,
                          const vtag_metrics_seq *refs, int64_t n_refs, vtag_error *err)
{
    int rc = bleu_check(cand, refs, n_refs, err);
    if (rc) return rc;
    int64_t total = ng_count(cand.len);
    for (int64_t r = 0; r < n_refs; r++) total += ng_count(refs[r].len);
    rc = ng_work_reserve(w, total, 0, err);
    if (rc) return rc;

    ng_work_clear(w);
    int64_t n_occ = 0;
    ng_add_sentence(w, cand.ids, cand.len, &n_occ);
    int64_t cand_end = n_occ, m = 0;
    for (int64_t o = 0; o < cand_end; o++) /* the candidate's counts, in count */
        if (w->count[w->occ[o]]++ == 0) w->list[m++] = w->occ[o];
    /* value[g]: the largest count of g in any one reference, for the
     * candidate's grams only. */
    for (int64_t r = 0; r < n_refs; r++) {
        int64_t from = cand_end, to = cand_end, m2 = 0;
        ng_add_sentence(w, refs[r].ids, refs[r].len, &to);
        for (int64_t o = from; o < to; o++) {
            int32_t g = w->occ[o];
            if (w->count[g] && w->count2[g]++ == 0) w->list2[m2++] = g;
        }
        for (int64_t i = 0; i < m2; i++) {
            int32_t g = w->list2[i];
            if (w->count2[g] > w->value[g]) w->value[g] = w->count2[g];
            w->count2[g] = 0;
        }
    }
    for (int64_t i = 0; i < m; i++) {
        int32_t g = w->list[i];
        int64_t most = (int64_t)w->value[g], c = w->count[g];
        b->correct[w->grams[g].order] += c < most ? c : most;
        w->count[g] = 0;
        w->value[g] = 0;
    }
    bleu_lengths(b, cand.len, refs, n_refs);
    return VTAG_OK;
}

static int64_t naive_count(const int32_t *s, int64_t len, const int32_t *g, int n)
{
    int64_t c = 0;
    for (int64_t i = 0; i + n <= len; i++)
        if (memcmp(s + i, g, (size_t)n * sizeof *g) == 0) c++;
    return c;
}

int vtag_metrics_bleu_add_naive(vtag_metrics_bleu *b, vtag_metrics_seq cand,
                                const vtag_metrics_seq *refs, int64_t n_refs, vtag_error *err)
{
    int rc = bleu_check(cand, refs, n_refs, err);
    if (rc) return rc;
    for (int n = 1; n <= VTAG_METRICS_MAX_N; n++) {
        for (int64_t i = 0; i + n <= cand.len; i++) {
            const int32_t *g = cand.ids + i;
            int seen = 0; /* count each distinct gram once, at its first position */
            for (int64_t j = 0; j < i && !seen; j++) seen = memcmp(cand.ids + j, g, (size_t)n * sizeof *g) == 0;
            if (seen) continue;
            int64_t cc = naive_count(cand.ids, cand.len, g, n), best = 0;
            for (int64_t r = 0; r < n_refs; r++) {
                int64_t rc2 = naive_count(refs[r].ids, refs[r].len, g, n);
                if (rc2 > best) best = rc2;
            }
            b->correct[n - 1] += cc < best ? cc : best;
        }
    }
    bleu_lengths(b, cand.len, refs, n_refs);
    return VTAG_OK;
}

void vtag_metrics_bleu_score(const vtag_metrics_bleu *b, double bleu[VTAG_METRICS_MAX_N])
{
    const double small = 1e-9, tiny = 1e-15; /* coco-caption's constants */
    double prod = 1.0;
    for (int k = 0; k < VTAG_METRICS_MAX_N; k++) {
        prod *= ((double)b->correct[k] + tiny) / ((double)b->guess[k] + small);
        bleu[k] = pow(prod, 1.0 / (k + 1));
    }
    double ratio = ((double)b->testlen + tiny) / ((double)b->reflen + small);
    if (ratio < 1)
        for (int k = 0; k < VTAG_METRICS_MAX_N; k++) bleu[k] *= exp(1 - 1 / ratio);
}

/* The scratch memory of CIDEr-D and BLEU: grown on demand, never shrunk, so
 * a training loop scoring captions of bounded length allocates only once. */
#include <stdlib.h>
#include <string.h>

#include "metrics/ngram.h"

void vtag_metrics_work_init(vtag_metrics_work *w)
{
    memset(w, 0, sizeof *w);
}

void vtag_metrics_work_free(vtag_metrics_work *w)
{
    free(w->slot_idx);
    free(w->slot_stamp);
    free(w->grams);
    free(w->ref_info);
    free(w->ref_start);
    memset(w, 0, sizeof *w);
}

int ng_check_seq(vtag_metrics_seq s, const char *what, int64_t index, vtag_error *err)
{
    if (s.len < 0 || (s.len > 0 && !s.ids))
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: %s %lld has no tokens but length %lld", what,
                         (long long)index, (long long)s.len);
    if (s.len > INT32_MAX / 8)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: %s %lld is too long (%lld tokens)", what,
                         (long long)index, (long long)s.len);
    for (int64_t i = 0; i < s.len; i++)
        if (s.ids[i] < 0)
            return vtag_fail(err, VTAG_ERR_ARG, "metrics: %s %lld has a negative token id (%d)",
                             what, (long long)index, (int)s.ids[i]);
    return VTAG_OK;
}

int ng_work_reserve(vtag_metrics_work *w, int64_t distinct, int64_t grams, int64_t refs,
                    vtag_error *err)
{
    if (grams > INT32_MAX || distinct > INT32_MAX / 2)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: %lld n-grams at once is too many",
                         (long long)grams);
    uint64_t want = 16;
    while (want < 2 * (uint64_t)distinct) want *= 2; /* load <= 1/2 */
    if (want > w->mask + 1 || !w->slot_idx) {
        int32_t *idx = malloc(want * sizeof *idx);
        uint32_t *stamp = calloc(want, sizeof *stamp);
        if (!idx || !stamp) {
            free(idx);
            free(stamp);
            return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (hash table)");
        }
        free(w->slot_idx);
        free(w->slot_stamp);
        w->slot_idx = idx;
        w->slot_stamp = stamp;
        w->mask = want - 1;
        w->stamp = 0;
    }
    if (grams > w->grams_cap) {
        int64_t cap = w->grams_cap ? w->grams_cap : 64;
        while (cap < grams) cap *= 2;
        vtag_metrics_gram *g = realloc(w->grams, (size_t)cap * sizeof *g);
        if (!g) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (n-grams)");
        w->grams = g;
        w->grams_cap = cap;
    }
    if (refs > w->refs_cap) {
        int64_t cap = w->refs_cap ? w->refs_cap : 8;
        while (cap < refs) cap *= 2;
        double *info = realloc(w->ref_info, (size_t)cap * 6 * sizeof *info);
        if (!info) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (references)");
        w->ref_info = info;
        int64_t *start = realloc(w->ref_start, (size_t)(cap + 1) * sizeof *start);
        if (!start) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (references)");
        w->ref_start = start;
        w->refs_cap = cap;
    }
    return VTAG_OK;
}

void ng_work_clear(vtag_metrics_work *w)
{
    if (++w->stamp == 0) { /* wrapped after 2^32 sentences: forget every old stamp */
        memset(w->slot_stamp, 0, (w->mask + 1) * sizeof *w->slot_stamp);
        w->stamp = 1;
    }
}

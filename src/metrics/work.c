/* The scratch memory of CIDEr-D and BLEU: grown on demand, never shrunk, so
 * a training loop scoring captions of bounded length allocates only once. */
#include <stdlib.h>
#include <string.h>

#include "metrics/ngram.h"

void vtag_metrics_work_init(vtag_metrics_work *w)
{
    memset(w, 0, sizeof *w);
    /* VTAG_CPU when it names a path this CPU runs (the CLI refuses any other
     * at start-up), else the best path, which a refused VTAG_CPU leaves. */
    vtag_isa_select(&w->isa, NULL);
}

void vtag_metrics_work_free(vtag_metrics_work *w)
{
    free(w->slots);
    free(w->grams);
    free(w->occ);
    free(w->count);
    free(w->count2);
    free(w->value);
    free(w->list);
    free(w->list2);
    free(w->ref_gram);
    free(w->ref_val);
    free(w->ref_info);
    free(w->ref_start);
    free(w->ref_occ);
    free(w->sents);
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

int ng_work_reserve(vtag_metrics_work *w, int64_t occurrences, int64_t refs, vtag_error *err)
{
    if (occurrences > INT32_MAX / 2)
        return vtag_fail(err, VTAG_ERR_ARG, "metrics: %lld n-grams at once is too many",
                         (long long)occurrences);
    if (occurrences > w->cap || !w->slots) {
        int64_t cap = w->cap ? w->cap : 256;
        while (cap < occurrences) cap *= 2;
        uint64_t n_slots = 2 * (uint64_t)cap; /* load <= 1/2 */
        vtag_metrics_work grown = {0};
        grown.slots = calloc(n_slots, sizeof *grown.slots);
        grown.grams = malloc((size_t)cap * sizeof *grown.grams);
        grown.occ = malloc((size_t)cap * sizeof *grown.occ);
        grown.count = calloc((size_t)cap, sizeof *grown.count); /* counters start at zero */
        grown.count2 = calloc((size_t)cap, sizeof *grown.count2);
        grown.value = calloc((size_t)cap, sizeof *grown.value);
        grown.list = malloc((size_t)cap * sizeof *grown.list);
        grown.list2 = malloc((size_t)cap * sizeof *grown.list2);
        grown.ref_gram = malloc((size_t)cap * sizeof *grown.ref_gram);
        grown.ref_val = malloc((size_t)cap * sizeof *grown.ref_val);
        /* the reference arrays move over unchanged */
        grown.ref_info = w->ref_info;
        grown.ref_start = w->ref_start;
        grown.ref_occ = w->ref_occ;
        grown.refs_cap = w->refs_cap;
        grown.sents = w->sents;
        grown.sents_cap = w->sents_cap;
        w->ref_info = NULL;
        w->ref_start = w->ref_occ = NULL;
        w->refs_cap = 0;
        w->sents = NULL;
        w->sents_cap = 0;
        vtag_metrics_work_free(w);
        *w = grown;
        if (!grown.slots || !grown.grams || !grown.occ || !grown.count ||
            !grown.count2 || !grown.value || !grown.list || !grown.list2 || !grown.ref_gram ||
            !grown.ref_val) {
            vtag_metrics_work_free(w);
            return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (n-gram tables)");
        }
        w->mask = n_slots - 1;
        w->cap = cap;
        w->stamp = 0;
    }
    if (refs > w->refs_cap) {
        int64_t cap = w->refs_cap ? w->refs_cap : 8;
        while (cap < refs) cap *= 2;
        double *info = realloc(w->ref_info, (size_t)cap * 6 * sizeof *info);
        if (info) w->ref_info = info;
        int64_t *start = realloc(w->ref_start, (size_t)(4 * cap + 1) * sizeof *start);
        if (start) w->ref_start = start;
        int64_t *occ = realloc(w->ref_occ, (size_t)(cap + 1) * sizeof *occ);
        if (occ) w->ref_occ = occ;
        if (!info || !start || !occ)
            return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (references)");
        w->refs_cap = cap;
    }
    return VTAG_OK;
}

void ng_work_clear(vtag_metrics_work *w)
{
    w->n_grams = 0;
    if (++w->stamp == 0) { /* wrapped after 2^32 clears: forget every old stamp */
        memset(w->slots, 0, (w->mask + 1) * sizeof *w->slots);
        w->stamp = 1;
    }
}

int ng_short_fits(const vtag_metrics_seq *s, int64_t n)
{
    for (int64_t k = 0; k < n; k++) {
        if (s[k].len > NG_SHORT_LEN) return 0;
        int32_t max = 0;
        for (int64_t i = 0; i < s[k].len; i++) max = s[k].ids[i] > max ? s[k].ids[i] : max;
        if (max >= NG_SHORT_ID) return 0;
    }
    return 1;
}

int ng_short_reserve(vtag_metrics_work *w, int64_t n, vtag_error *err)
{
    if (n <= w->sents_cap) return VTAG_OK;
    int64_t cap = w->sents_cap ? w->sents_cap : 8;
    while (cap < n) cap *= 2;
    size_t bytes = ((size_t)cap * sizeof(vtag_metrics_sent) + 63) / 64 * 64;
    vtag_metrics_sent *s = aligned_alloc(64, bytes);
    if (!s) return vtag_fail(err, VTAG_ERR_NOMEM, "metrics: out of memory (sentences)");
    free(w->sents);
    w->sents = s;
    w->sents_cap = cap;
    return VTAG_OK;
}

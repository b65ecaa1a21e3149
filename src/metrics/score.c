/* Corpus caption scores: CIDEr-D (mean over items) and BLEU-1..4 in one pass. */
#include <stdio.h>

#include "metrics/ngram.h"

int vtag_metrics_score_captions(const vtag_metrics_df *df, const vtag_metrics_item *items,
                                int64_t n, double *per_item, vtag_metrics_caption_scores *out,
                                vtag_error *err)
{
    if (n < 1 || !items) return vtag_fail(err, VTAG_ERR_ARG, "metrics: no items to score");
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    vtag_metrics_bleu bleu;
    vtag_metrics_bleu_init(&bleu);
    double sum = 0;
    int rc = VTAG_OK;
    for (int64_t i = 0; i < n && !rc; i++) {
        double s = 0;
        rc = vtag_metrics_cider_d(df, &w, items[i].cand, items[i].refs, items[i].n_refs, &s, err);
        if (!rc) rc = vtag_metrics_bleu_add(&bleu, &w, items[i].cand, items[i].refs, items[i].n_refs, err);
        if (rc) {
            if (err) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                vtag_fail(err, rc, "item %lld: %s", (long long)i, msg);
            }
            break;
        }
        if (per_item) per_item[i] = s;
        sum += s;
    }
    vtag_metrics_work_free(&w);
    if (rc) return rc;
    out->n = n;
    out->cider_d = sum / (double)n;
    vtag_metrics_bleu_score(&bleu, out->bleu);
    return VTAG_OK;
}

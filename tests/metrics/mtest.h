/* Helpers shared by the metrics tests (CHECK comes from tests/check.h):
 * sentences written as text ("a b c" → ids through a vocabulary). */
#ifndef VTAG_TEST_METRICS_H
#define VTAG_TEST_METRICS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/metrics.h"

/* Up to 64 sentences of up to 64 tokens, kept for the whole test. */
typedef struct mt_text {
    vtag_metrics_vocab vocab;
    int32_t ids[64][64];
    vtag_metrics_seq seqs[64];
    int n;
} mt_text;

/* The sentence "a b c" (tokens split on spaces) as ids of t->vocab. */
static inline vtag_metrics_seq mt_seq(mt_text *t, const char *s)
{
    int k = t->n++;
    int64_t len = 0;
    const char *p = s;
    while (*p) {
        while (*p == ' ') p++;
        const char *q = p;
        while (*q && *q != ' ') q++;
        if (q > p) {
            int32_t id = -1;
            vtag_error err;
            if (vtag_metrics_vocab_intern(&t->vocab, p, (size_t)(q - p), &id, &err)) abort();
            t->ids[k][len++] = id;
        }
        p = q;
    }
    t->seqs[k] = (vtag_metrics_seq){t->ids[k], len};
    return t->seqs[k];
}

#endif

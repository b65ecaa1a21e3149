/* vtag metrics: CIDEr-D and BLEU-1..4 with coco-caption's conventions on
 * token-id sequences, and multi-label scores (OP/OR/OF1, CP/CR/CF1, mAP,
 * GAP@k, Hit@k, class accuracy). Definitions: SPEC §5, conventions for the
 * corner cases: docs/ARCHITECTURE.md ("metrics"). */
#ifndef VTAG_METRICS_H
#define VTAG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_METRICS_MAX_N 4 /* n-gram orders 1..4 for CIDEr-D and BLEU */

/* A sentence: token ids >= 0 (any id space: a caption vocabulary, or the
 * ids a vtag_metrics_vocab hands out). */
typedef struct vtag_metrics_seq {
    const int32_t *ids; /* (len) */
    int64_t len;
} vtag_metrics_seq;

/* One scored item: a candidate and its reference sentences. */
typedef struct vtag_metrics_item {
    vtag_metrics_seq cand;
    const vtag_metrics_seq *refs; /* (n_refs) */
    int64_t n_refs;
} vtag_metrics_item;

/* ---- vocabulary ------------------------------------------------------------
 * Interns UTF-8 token strings to dense ids 0, 1, 2, … in order of first
 * appearance, so that text can be scored through the id-based API. */
typedef struct vtag_metrics_vocab {
    char *chars;      /* every token, NUL-terminated, back to back */
    int64_t chars_len, chars_cap;
    int64_t *offsets; /* (count) where token i starts in chars */
    int32_t count, cap;
    int32_t *slots;   /* (mask + 1) open addressing: token id or -1 */
    uint64_t mask;
} vtag_metrics_vocab;

void vtag_metrics_vocab_init(vtag_metrics_vocab *v);
/* The id of s[0..len) (no NUL inside), added if new. */
int vtag_metrics_vocab_intern(vtag_metrics_vocab *v, const char *s, size_t len, int32_t *id,
                              vtag_error *err);
int32_t vtag_metrics_vocab_find(const vtag_metrics_vocab *v, const char *s, size_t len); /* or -1 */
const char *vtag_metrics_vocab_token(const vtag_metrics_vocab *v, int32_t id);      /* or NULL */
void vtag_metrics_vocab_free(vtag_metrics_vocab *v);

/* ---- scratch ------------------------------------------------------------------
 * Per-thread working memory for CIDEr-D and BLEU: hash tables and n-gram
 * lists, grown on demand and reused, so steady-state calls allocate nothing.
 * All fields are private. */
typedef struct vtag_metrics_gram {
    uint64_t k0, k1; /* the n-gram, exactly: (id+1) of tokens 0,1 and 2,3; 0 = absent */
    uint64_t hash;
    double idf;
    int32_t order;   /* n - 1 */
    int32_t pad;
} vtag_metrics_gram;

typedef struct vtag_metrics_work {
    /* The distinct n-grams of every sentence in hand, each looked up once in
     * the df table; sentences are lists of indices into them. */
    uint64_t *slots;          /* (mask + 1) stamp << 32 | index into grams */
    uint64_t mask;
    uint32_t stamp;
    vtag_metrics_gram *grams; /* (cap) */
    int64_t n_grams;
    int32_t *occ;             /* (cap) gram index of each n-gram occurrence */
    int32_t *count, *count2;  /* (cap) per-gram counters, zero between uses */
    double *value;            /* (cap) per-gram values, zero between uses */
    int32_t *list, *list2;    /* (cap) distinct grams of one sentence */
    int32_t *ref_gram;        /* (cap) the distinct grams of the references, */
    double *ref_val;          /* (cap) by reference and order, with count · idf */
    int64_t cap;
    double *ref_info;         /* (refs_cap * 6): 4 norms, bigram count per reference */
    int64_t *ref_start;       /* (4 * refs_cap + 1) first ref_gram of each (reference, order) */
    int64_t *ref_occ;         /* (refs_cap + 1) first occurrence of each reference */
    int64_t refs_cap;
    /* CIDEr-D of short sentences (src/metrics/cider_short.c): one block per
     * sentence, the references first, then one candidate at a time. */
    struct vtag_metrics_sent *sents; /* (sents_cap) */
    int64_t sents_cap;
    vtag_isa isa; /* kernel path of the short-sentence scorer (set by init) */
} vtag_metrics_work;

void vtag_metrics_work_init(vtag_metrics_work *w);
void vtag_metrics_work_free(vtag_metrics_work *w);

/* ---- document frequencies (CIDEr-D) ---------------------------------------------
 * df(g) = number of reference sets containing n-gram g, N = number of sets;
 * idf(g) = log(N) - log(max(1, df(g))). Built once (add every set, then
 * finish) and then read-only: share it between threads, each with its own
 * vtag_metrics_work. An n-gram found in one set has the idf of an absent
 * one, log N - log 1 = log N, so the finished table keeps only those with
 * df >= 2: usually a small fraction, and a table that stays in cache. */
typedef struct vtag_metrics_df_slot {
    uint64_t k0, k1; /* the n-gram as in vtag_metrics_gram; k0 == 0: empty */
    int64_t df;
    double idf;      /* set by vtag_metrics_df_finish */
} vtag_metrics_df_slot;

/* The same n-grams for sentences of small ids (every id < 65535): the key
 * packs (id+1) of tokens 0..3 in 16 bits each, 0 where the gram is shorter. */
typedef struct vtag_metrics_df_short {
    uint64_t key; /* 0: empty */
    double idf;
} vtag_metrics_df_short;

typedef struct vtag_metrics_df {
    vtag_metrics_df_slot *slots; /* (mask + 1) open addressing, load <= 1/2 */
    uint64_t mask;
    uint64_t *filter; /* (1 << filter_bits) bits: bit (hash >> (64 - filter_bits))
                       * is set for every stored n-gram; a clear bit proves absence
                       * without touching the table */
    int filter_bits;
    int64_t count;  /* distinct n-grams added */
    int64_t stored; /* those with df >= 2, kept by vtag_metrics_df_finish */
    int64_t n_sets; /* N */
    double log_n;   /* log(N), valid once finished */
    int finished;
    /* Set by vtag_metrics_df_finish: the stored n-grams of orders 2..4 whose
     * ids are all < 65535 under short keys (load <= 1/2, probed from slot
     * short_hash(key) >> short_shift), and the idf of every unigram id
     * < uni_len directly (log N for the rest). */
    vtag_metrics_df_short *short_slots; /* (short_mask + 1) */
    uint64_t short_mask;
    int short_shift;
    double *uni_idf; /* (uni_len) */
    int64_t uni_len;
    uint64_t *short_filter; /* (1 << short_filter_bits) bits: the top bits of
                             * short_hash(key) of every short key stored */
    int short_filter_bits;
    vtag_metrics_work work; /* de-duplicates n-grams within a set while building */
} vtag_metrics_df;

void vtag_metrics_df_init(vtag_metrics_df *df);
/* Adds one reference set (the references of one item). */
int vtag_metrics_df_add(vtag_metrics_df *df, const vtag_metrics_seq *refs, int64_t n_refs,
                        vtag_error *err);
/* Freezes the table and computes every idf; needed before scoring. */
int vtag_metrics_df_finish(vtag_metrics_df *df, vtag_error *err);
/* idf of the n-gram ids[0..n) (1 <= n <= 4) in a finished table (else NaN). */
double vtag_metrics_df_idf(const vtag_metrics_df *df, const int32_t *ids, int n);
void vtag_metrics_df_free(vtag_metrics_df *df);

/* ---- CIDEr-D --------------------------------------------------------------------
 * coco-caption's CiderD (sigma 6, clipped, x10): for each order n the
 * candidate's and a reference's tf-idf vectors give
 * sim_n = Σ_g min(v_c, v_r)·v_r / (|v_c|·|v_r|) (0 if a norm is 0), times
 * exp(-δ²/72) with δ the difference of the two bigram counts
 * max(0, tokens - 1); score = 10 · mean_n mean_r sim_n. n_refs >= 1. */
int vtag_metrics_cider_d(const vtag_metrics_df *df, vtag_metrics_work *w, vtag_metrics_seq cand,
                         const vtag_metrics_seq *refs, int64_t n_refs, double *score,
                         vtag_error *err);
/* Several candidates against the same references (SCST: the greedy caption
 * and the samples of one image): the references are prepared once. */
int vtag_metrics_cider_d_many(const vtag_metrics_df *df, vtag_metrics_work *w,
                              const vtag_metrics_seq *cands, int64_t n_cands,
                              const vtag_metrics_seq *refs, int64_t n_refs, double *scores,
                              vtag_error *err);
/* The naive twin, for tests: the definition written out with linear scans,
 * df counted by scanning df_items' references (N = n_df_items). Slow. */
int vtag_metrics_cider_d_naive(const vtag_metrics_item *df_items, int64_t n_df_items,
                               vtag_metrics_seq cand, const vtag_metrics_seq *refs,
                               int64_t n_refs, double *score, vtag_error *err);

/* ---- BLEU-1..4 ----------------------------------------------------------------------
 * Corpus-level, coco-caption's BleuScorer with option "closest": clipped
 * n-gram matches and guesses summed over items, the reference length closest
 * to each candidate's (ties: the shorter), then
 * BLEU-N = Π_{k<=N} ((correct_k + 1e-15)/(guess_k + 1e-9))^(1/N), times
 * exp(1 - 1/ratio) where ratio = (c + 1e-15)/(r + 1e-9) < 1. */
typedef struct vtag_metrics_bleu {
    int64_t testlen, reflen; /* c and r */
    int64_t guess[VTAG_METRICS_MAX_N], correct[VTAG_METRICS_MAX_N];
} vtag_metrics_bleu;

void vtag_metrics_bleu_init(vtag_metrics_bleu *b); /* all zero */
/* Adds one item's statistics (n_refs >= 1). */
int vtag_metrics_bleu_add(vtag_metrics_bleu *b, vtag_metrics_work *w, vtag_metrics_seq cand,
                          const vtag_metrics_seq *refs, int64_t n_refs, vtag_error *err);
/* Naive twin of vtag_metrics_bleu_add, for tests. */
int vtag_metrics_bleu_add_naive(vtag_metrics_bleu *b, vtag_metrics_seq cand,
                                const vtag_metrics_seq *refs, int64_t n_refs, vtag_error *err);
/* bleu[k] = BLEU-(k+1). */
void vtag_metrics_bleu_score(const vtag_metrics_bleu *b, double bleu[VTAG_METRICS_MAX_N]);

/* ---- corpus caption scores ----------------------------------------------------------- */
typedef struct vtag_metrics_caption_scores {
    int64_t n;       /* items */
    double cider_d;  /* mean over items */
    double bleu[VTAG_METRICS_MAX_N];
} vtag_metrics_caption_scores;

/* CIDEr-D (df finished) and BLEU of every item; per_item (n, may be NULL)
 * receives each item's CIDEr-D. */
int vtag_metrics_score_captions(const vtag_metrics_df *df, const vtag_metrics_item *items,
                                int64_t n, double *per_item, vtag_metrics_caption_scores *out,
                                vtag_error *err);

/* ---- multi-label -----------------------------------------------------------------------
 * Labels are ids 0..n_labels-1. An item's predictions are (label, score)
 * pairs, each label at most once; its truth a set of labels. "Predicted at
 * threshold t" means score >= t; "top k" means the item's min(k, n_pred)
 * best scores, ties going to the pair listed first. Conventions (see
 * docs/ARCHITECTURE.md): overall sums run over every label; class-wise
 * means (CP, CR, mAP) run over the labels that are true for at least one
 * item; a label never predicted has Np counted as 1 in CP (precision 0),
 * as in ML-GCN's code; every other 0/0 gives 0. */
typedef struct vtag_metrics_ml_item {
    const int32_t *pred_labels; /* (n_pred) */
    const double *pred_scores;  /* (n_pred) finite */
    int64_t n_pred;
    const int32_t *true_labels; /* (n_true) */
    int64_t n_true;
} vtag_metrics_ml_item;

typedef struct vtag_metrics_prf {
    double overall_p, overall_r, overall_f1; /* OP, OR, OF1 */
    double class_p, class_r, class_f1;       /* CP, CR, CF1 (means over labels) */
} vtag_metrics_prf;

int vtag_metrics_ml_prf_threshold(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                                  double threshold, vtag_metrics_prf *out, vtag_error *err);
int vtag_metrics_ml_prf_top_k(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                              int64_t k, vtag_metrics_prf *out, vtag_error *err);
/* Mean over labels of non-interpolated AP: items that score the label,
 * ranked by score (ties: item order); AP = Σ over true items ranked of
 * precision@rank / Ng (a true item that does not score the label adds 0). */
int vtag_metrics_ml_map(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels,
                        double *map, vtag_error *err);
/* YouTube-8M GAP: every item's top k pooled and ranked by score (ties: item
 * order, then rank), AP = Σ_i correct_i·precision@i / (number of true labels
 * of all items). */
int vtag_metrics_ml_gap(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels, int64_t k,
                        double *gap, vtag_error *err);
/* Fraction of items with a true label among their top k. */
int vtag_metrics_ml_hit(const vtag_metrics_ml_item *items, int64_t n, int32_t n_labels, int64_t k,
                        double *hit, vtag_error *err);
/* Single-label accuracy: fraction of i with pred[i] == truth[i]; 0 when n == 0. */
double vtag_metrics_class_accuracy(const int32_t *pred, const int32_t *truth, int64_t n);

/* ---- JSON Lines input (docs/FORMATS.md "Score input") ------------------------------------
 * Errors name the file and the line. Tokens and labels are interned in vocab. */
typedef struct vtag_metrics_captions {
    vtag_metrics_item *items; /* (n_items) */
    int64_t n_items;
    vtag_metrics_seq *seqs;   /* storage the items point into */
    int32_t *tokens;
} vtag_metrics_captions;

/* Lines {"id": …, "cand": …, "refs": […]}; with need_cand == 0 "cand" may be
 * absent (a document-frequency corpus). */
int vtag_metrics_read_captions(const char *path, int need_cand, vtag_metrics_vocab *vocab,
                               vtag_metrics_captions *out, vtag_error *err);
void vtag_metrics_captions_free(vtag_metrics_captions *c);

typedef struct vtag_metrics_ml_set {
    vtag_metrics_ml_item *items; /* (n_items) */
    int64_t n_items;
    int32_t *labels;             /* storage the items point into */
    double *scores;
} vtag_metrics_ml_set;

/* Lines {"id": …, "pred": [[label, score], …], "true": [label, …]}. */
int vtag_metrics_read_multilabel(const char *path, vtag_metrics_vocab *vocab,
                                 vtag_metrics_ml_set *out, vtag_error *err);
void vtag_metrics_ml_set_free(vtag_metrics_ml_set *s);

#ifdef __cplusplus
}
#endif
#endif

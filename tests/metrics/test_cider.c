/* CIDEr-D: values worked out by hand on tiny corpora (every edge case of
 * issue 4), and the fast version held equal to its naive twin on random
 * corpora. With refs {"a b"} and {"c d"} (N = 2) every n-gram has df <= 1,
 * so every idf is log 2 and the cosines reduce to small fractions. */
#include <stdint.h>

#include "mtest.h"

static double cider(const vtag_metrics_df *df, vtag_metrics_work *w, vtag_metrics_seq cand,
                    const vtag_metrics_seq *refs, int64_t n_refs)
{
    double s = -1;
    vtag_error err = {0};
    int rc = vtag_metrics_cider_d(df, w, cand, refs, n_refs, &s, &err);
    CHECK(rc == 0, "cider_d failed: %s", err.msg);
    return s;
}

static void build_df(vtag_metrics_df *df, const vtag_metrics_seq *const *sets, const int64_t *n_refs,
                     int n_sets)
{
    vtag_error err = {0};
    vtag_metrics_df_init(df);
    for (int i = 0; i < n_sets; i++) CHECK(vtag_metrics_df_add(df, sets[i], n_refs[i], &err) == 0, "%s", err.msg);
    CHECK(vtag_metrics_df_finish(df, &err) == 0, "%s", err.msg);
}

static void test_hand(void)
{
    static mt_text t;
    vtag_metrics_seq ab = mt_seq(&t, "a b"), cd = mt_seq(&t, "c d");
    vtag_metrics_seq refs1[2] = {ab, ab}; /* a repeated reference */
    const vtag_metrics_seq *sets[2] = {refs1, &cd};
    int64_t n_refs[2] = {2, 1};
    vtag_metrics_df df;
    build_df(&df, sets, n_refs, 2);
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);

    int32_t a = vtag_metrics_vocab_find(&t.vocab, "a", 1), b = vtag_metrics_vocab_find(&t.vocab, "b", 1);
    int32_t gab[2] = {a, b}, gba[2] = {b, a};
    double L = log(2.0);
    CHECK(df.n_sets == 2, "N = %lld", (long long)df.n_sets);
    CHECK(vtag_metrics_df_idf(&df, &a, 1) == L, "a repeated reference counts once: df(a) = 1");
    CHECK(vtag_metrics_df_idf(&df, gab, 2) == L, "df(a b) = 1");
    CHECK(vtag_metrics_df_idf(&df, gba, 2) == L, "b a is absent: idf log N");
    CHECK(df.count == 6 && df.stored == 0, "distinct n-grams: %lld, stored %lld", (long long)df.count,
          (long long)df.stored);

    /* Identical: orders 1 and 2 have cosine 1, orders 3 and 4 are empty:
     * 10 · (1 + 1 + 0 + 0)/4 = 5, whether the reference is given once or twice. */
    CHECK_NEAR(cider(&df, &w, ab, &ab, 1), 5.0, 1e-12, "identical");
    CHECK_NEAR(cider(&df, &w, ab, refs1, 2), 5.0, 1e-12, "repeated reference");

    /* Empty candidate: no n-grams, every norm is 0. */
    vtag_metrics_seq empty = mt_seq(&t, "");
    CHECK(cider(&df, &w, empty, &ab, 1) == 0.0, "empty candidate");
    CHECK(cider(&df, &w, ab, &empty, 1) == 0.0, "empty reference");

    /* Longer than every reference: "a b a b" vs "a b" (L = log 2).
     * order 1: vc = {a: 2L, b: 2L}, vr = {a: L, b: L}: (L² + L²)/(2√2 L · √2 L) = 1/2
     * order 2: vc = {ab: 2L, ba: L (absent from df: idf log 2)}, vr = {ab: L}:
     *          min(2L, L)·L/(√5 L · L) = 1/√5
     * orders 3, 4: the reference has none. Bigram counts 3 and 1: δ = 2,
     * penalty exp(-4/72). Score 10/4 · (1/2 + 1/√5) · exp(-1/18). */
    vtag_metrics_seq abab = mt_seq(&t, "a b a b");
    double want = 2.5 * (0.5 + 1 / sqrt(5.0)) * exp(-1.0 / 18);
    CHECK_NEAR(cider(&df, &w, abab, &ab, 1), want, 1e-12, "longer candidate (clipping + penalty)");
    CHECK_NEAR(want, 2.2400641743510197, 1e-15, "hand value");

    /* n-grams absent from the df corpus: a candidate sharing nothing scores
     * 0; a reference outside the corpus gets idf log N for its n-grams:
     * "x" vs "x": order 1 cosine 1, the others empty: 10 · 1/4. */
    vtag_metrics_seq xy = mt_seq(&t, "x y"), x = mt_seq(&t, "x");
    CHECK(cider(&df, &w, xy, &ab, 1) == 0.0, "disjoint candidate");
    CHECK_NEAR(cider(&df, &w, x, &x, 1), 2.5, 1e-12, "n-grams absent from df");
    /* Mean over references: ("a b" vs {"a b", "c d"}) = (5 + 0)/2. */
    vtag_metrics_seq mixed[2] = {ab, cd};
    CHECK_NEAR(cider(&df, &w, ab, mixed, 2), 2.5, 1e-12, "mean over references");

    /* cider_d_many matches one call per candidate. */
    vtag_metrics_seq cands[4] = {ab, abab, empty, xy};
    double many[4], one;
    vtag_error err = {0};
    CHECK(vtag_metrics_cider_d_many(&df, &w, cands, 4, mixed, 2, many, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 4; i++) {
        one = cider(&df, &w, cands[i], mixed, 2);
        CHECK(many[i] == one, "many[%d] = %.17g, one = %.17g", i, many[i], one);
    }

    /* Errors, not crashes. */
    CHECK(vtag_metrics_cider_d(&df, &w, ab, mixed, 0, &one, &err) == VTAG_ERR_ARG, "no references");
    int32_t neg = -3;
    vtag_metrics_seq bad = {&neg, 1};
    CHECK(vtag_metrics_cider_d(&df, &w, bad, mixed, 1, &one, &err) == VTAG_ERR_ARG, "negative id");
    vtag_metrics_df unfinished;
    vtag_metrics_df_init(&unfinished);
    CHECK(vtag_metrics_cider_d(&unfinished, &w, ab, mixed, 1, &one, &err) == VTAG_ERR_ARG, "unfinished df");
    CHECK(vtag_metrics_df_finish(&unfinished, &err) == VTAG_ERR_ARG, "df of nothing");
    vtag_metrics_df_free(&unfinished);
    CHECK(vtag_metrics_df_add(&df, &ab, 1, &err) == VTAG_ERR_ARG, "add after finish");

    vtag_metrics_work_free(&w);
    vtag_metrics_df_free(&df);
    vtag_metrics_vocab_free(&t.vocab);
}

/* Sets {"a b", "a b"}, {"a"}, {"c"}: N = 3, df(a) = 2 (the repeated
 * reference counts once, or it would be 3), df(b) = df(c) = df(a b) = 1. */
static void test_df(void)
{
    static mt_text t;
    vtag_metrics_seq ab[2] = {mt_seq(&t, "a b"), mt_seq(&t, "a b")};
    vtag_metrics_seq a = mt_seq(&t, "a"), c = mt_seq(&t, "c");
    const vtag_metrics_seq *sets[3] = {ab, &a, &c};
    int64_t n_refs[3] = {2, 1, 1};
    vtag_metrics_df df;
    build_df(&df, sets, n_refs, 3);
    CHECK(df.count == 4 && df.stored == 1, "count %lld stored %lld", (long long)df.count, (long long)df.stored);
    CHECK(vtag_metrics_df_idf(&df, a.ids, 1) == log(3.0) - log(2.0), "idf(a) = log 3 - log 2");
    CHECK(vtag_metrics_df_idf(&df, c.ids, 1) == log(3.0), "idf(c) = log 3");
    CHECK(vtag_metrics_df_idf(&df, ab[0].ids, 2) == log(3.0), "idf(a b) = log 3");
    int32_t zz[2] = {c.ids[0], c.ids[0]}, neg = -1;
    CHECK(vtag_metrics_df_idf(&df, zz, 2) == log(3.0), "absent: log 3");
    CHECK(vtag_metrics_df_idf(&df, &neg, 1) == log(3.0), "negative id: absent");
    CHECK(isnan(vtag_metrics_df_idf(&df, zz, 5)), "n = 5");
    vtag_metrics_df_free(&df);
    vtag_metrics_vocab_free(&t.vocab);
}

/* N = 1: idf = log 1 - log 1 = 0 for every n-gram, seen or not. */
static void test_single_item(void)
{
    static mt_text t;
    vtag_metrics_seq r = mt_seq(&t, "a b c"), c = mt_seq(&t, "a b c"), z = mt_seq(&t, "z");
    const vtag_metrics_seq *sets[1] = {&r};
    int64_t n_refs[1] = {1};
    vtag_metrics_df df;
    build_df(&df, sets, n_refs, 1);
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    CHECK(df.log_n == 0.0, "log N = %g", df.log_n);
    CHECK(cider(&df, &w, c, &r, 1) == 0.0, "N = 1, identical");
    CHECK(cider(&df, &w, z, &z, 1) == 0.0, "N = 1, absent n-gram");
    vtag_metrics_work_free(&w);
    vtag_metrics_df_free(&df);
    vtag_metrics_vocab_free(&t.vocab);
}

/* Random corpora: the fast version equals the naive twin. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void test_random(uint64_t seed, int vocab, int n_items)
{
    enum { MAXLEN = 24, MAXREFS = 5 };
    int32_t *tok = malloc((size_t)n_items * (MAXREFS + 1) * MAXLEN * sizeof *tok);
    vtag_metrics_seq *seqs = malloc((size_t)n_items * (MAXREFS + 1) * sizeof *seqs);
    vtag_metrics_item *items = malloc((size_t)n_items * sizeof *items);
    uint64_t s = seed;
    for (int i = 0; i < n_items; i++) {
        int n_refs = 1 + (int)(rnd(&s) % MAXREFS);
        for (int k = 0; k <= n_refs; k++) {
            int64_t at = ((int64_t)i * (MAXREFS + 1) + k);
            int32_t *t = tok + at * MAXLEN;
            int len = (int)(rnd(&s) % MAXLEN);
            if (k > 1 && rnd(&s) % 4 == 0) { /* repeat the previous reference */
                seqs[at] = seqs[at - 1];
                continue;
            }
            for (int j = 0; j < len; j++) t[j] = (int32_t)(rnd(&s) % (uint64_t)vocab);
            seqs[at] = (vtag_metrics_seq){t, len};
        }
        int64_t base = (int64_t)i * (MAXREFS + 1);
        items[i] = (vtag_metrics_item){seqs[base], seqs + base + 1, n_refs};
    }
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    vtag_error err = {0};
    for (int i = 0; i < n_items; i++) vtag_metrics_df_add(&df, items[i].refs, items[i].n_refs, &err);
    CHECK(vtag_metrics_df_finish(&df, &err) == 0, "%s", err.msg);
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    double worst = 0;
    for (int i = 0; i < n_items; i++) {
        double fast = 0, slow = 0;
        vtag_metrics_cider_d(&df, &w, items[i].cand, items[i].refs, items[i].n_refs, &fast, &err);
        vtag_metrics_cider_d_naive(items, n_items, items[i].cand, items[i].refs, items[i].n_refs, &slow, &err);
        if (fabs(fast - slow) > worst) worst = fabs(fast - slow);
    }
    CHECK(worst <= 1e-12, "fast vs naive, seed %llu: max |diff| %.3g", (unsigned long long)seed, worst);
    vtag_metrics_work_free(&w);
    vtag_metrics_df_free(&df);
    free(items);
    free(seqs);
    free(tok);
}

/* Captions take the short path (every sentence <= 16 tokens, every id
 * < 65535: keys in rows, cider_short.c), anything else the general one
 * (scratch table, cider.c). Relabelling the ids changes no score, so one
 * corpus scored with ids from `base` on must give the same doubles whether
 * base puts it on the short path (0, just under the limit), the general one
 * (past it) or between (calls with an id >= 65535 go the general way);
 * cider_d_many gives each candidate's cider_d, bit for bit; and so does
 * the short path's row compare on every kernel path this CPU runs. */
enum { SH_ITEMS = 300, SH_REFS = 5, SH_MAXLEN = 17, SH_MANY = 3 };

static void short_scores(int32_t base, int vocab, uint64_t seed, vtag_isa isa, double *one, double *many,
                         int *used_rows)
{
    static int32_t tok[SH_ITEMS][SH_REFS + 1][SH_MAXLEN];
    static vtag_metrics_seq seqs[SH_ITEMS][SH_REFS + 1];
    int n_refs[SH_ITEMS];
    uint64_t s = seed;
    for (int i = 0; i < SH_ITEMS; i++) {
        n_refs[i] = 1 + (int)(rnd(&s) % SH_REFS);
        for (int k = 0; k <= n_refs[i]; k++) {
            if (k > 1 && rnd(&s) % 5 == 0) { /* a repeated reference */
                seqs[i][k] = seqs[i][k - 1];
                continue;
            }
            /* mostly 0..16 tokens; 17 (one too many for the short path) now and then */
            int len = rnd(&s) % 10 == 0 ? SH_MAXLEN : (int)(rnd(&s) % SH_MAXLEN);
            for (int j = 0; j < len; j++) tok[i][k][j] = base + (int32_t)(rnd(&s) % (uint64_t)vocab);
            seqs[i][k] = (vtag_metrics_seq){tok[i][k], len};
        }
    }
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    vtag_error err = {0};
    for (int i = 0; i < SH_ITEMS; i++)
        CHECK(vtag_metrics_df_add(&df, &seqs[i][1], n_refs[i], &err) == 0, "%s", err.msg);
    CHECK(vtag_metrics_df_finish(&df, &err) == 0, "%s", err.msg);
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    w.isa = isa;
    for (int i = 0; i < SH_ITEMS; i++) {
        CHECK(vtag_metrics_cider_d(&df, &w, seqs[i][0], &seqs[i][1], n_refs[i], &one[i], &err) == 0, "%s",
              err.msg);
        vtag_metrics_seq cands[SH_MANY];
        for (int c = 0; c < SH_MANY; c++) cands[c] = seqs[(i + c) % SH_ITEMS][0];
        CHECK(vtag_metrics_cider_d_many(&df, &w, cands, SH_MANY, &seqs[i][1], n_refs[i], &many[SH_MANY * i],
                                        &err) == 0, "%s", err.msg);
    }
    *used_rows = w.sents != NULL;
    vtag_metrics_work_free(&w);
    vtag_metrics_df_free(&df);
}

static void test_short_path(uint64_t seed, int vocab, vtag_isa isa)
{
    static double one[4][SH_ITEMS], many[4][SH_ITEMS * SH_MANY];
    const int32_t base[4] = {0, 65535 - vocab, 65535 - vocab / 2, 70000};
    int rows[4];
    for (int b = 0; b < 4; b++) short_scores(base[b], vocab, seed, isa, one[b], many[b], &rows[b]);
    CHECK(rows[0] && rows[1] && rows[2] && !rows[3], "paths taken: short %d %d %d, general %d", rows[0], rows[1],
          rows[2], rows[3]);
    int differ = 0;
    for (int b = 1; b < 4; b++)
        for (int i = 0; i < SH_ITEMS; i++) differ += one[b][i] != one[0][i];
    for (int b = 0; b < 4; b++)
        for (int i = 0; i < SH_ITEMS; i++) {
            differ += many[b][SH_MANY * i] != one[b][i]; /* the item's own candidate */
            for (int c = 0; c < SH_MANY; c++) differ += many[b][SH_MANY * i + c] != many[0][SH_MANY * i + c];
        }
    CHECK(differ == 0, "seed %llu vocab %d, kernel path %s: %d scores differ between paths",
          (unsigned long long)seed, vocab, vtag_isa_name(isa), differ);
    double mean = 0;
    for (int i = 0; i < SH_ITEMS; i++) mean += one[0][i];
    CHECK(mean > 0, "seed %llu: some overlap (mean %g)", (unsigned long long)seed, mean / SH_ITEMS);
}

int main(void)
{
    test_hand();
    test_df();
    test_single_item();
    test_random(1, 4, 120);    /* tiny vocabulary: many repeated n-grams */
    test_random(2, 30, 150);
    test_random(3, 5000, 100); /* mostly unique n-grams */
    printf("kernel paths tested:");
    for (int i = 0; i < VTAG_ISA_COUNT; i++) {
        if (!vtag_isa_supported((vtag_isa)i)) {
            printf(" %s (not on this CPU)", vtag_isa_name((vtag_isa)i));
            continue;
        }
        printf(" %s", vtag_isa_name((vtag_isa)i));
        test_short_path(4, 6, (vtag_isa)i); /* repeats within a sentence */
        test_short_path(5, 40, (vtag_isa)i);
    }
    printf("\n");
    return check_summary("metrics/test_cider");
}

/* BLEU-1..4: statistics and scores worked out by hand (coco-caption,
 * "closest"), and the fast statistics held equal to the naive twin. */
#include <stdint.h>

#include "mtest.h"

static vtag_metrics_bleu stats(vtag_metrics_work *w, vtag_metrics_seq cand, const vtag_metrics_seq *refs,
                               int64_t n_refs)
{
    vtag_metrics_bleu b, naive;
    vtag_metrics_bleu_init(&b);
    vtag_metrics_bleu_init(&naive);
    vtag_error err = {0};
    CHECK(vtag_metrics_bleu_add(&b, w, cand, refs, n_refs, &err) == 0, "%s", err.msg);
    CHECK(vtag_metrics_bleu_add_naive(&naive, cand, refs, n_refs, &err) == 0, "%s", err.msg);
    CHECK(memcmp(&b, &naive, sizeof b) == 0, "fast and naive statistics differ");
    return b;
}

static void test_hand(void)
{
    static mt_text t;
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    double s[4];

    /* Identical 4-token sentences: every n-gram matches; c = r = 4, and
     * coco's ratio (4 + 1e-15)/(4 + 1e-9) < 1 costs a factor exp(-2.5e-10). */
    vtag_metrics_seq abcd = mt_seq(&t, "a b c d"), ab = mt_seq(&t, "a b");
    vtag_metrics_bleu b = stats(&w, abcd, &abcd, 1);
    CHECK(b.testlen == 4 && b.reflen == 4, "lengths %lld %lld", (long long)b.testlen, (long long)b.reflen);
    for (int k = 0; k < 4; k++) CHECK(b.guess[k] == 4 - k && b.correct[k] == 4 - k, "order %d", k + 1);
    vtag_metrics_bleu_score(&b, s);
    for (int k = 0; k < 4; k++) CHECK_NEAR(s[k], 1.0, 1e-9, "identical");

    /* Clipping: "a a a a" vs {"a b", "a a c"}: unigram a: 4 in the candidate,
     * at most 2 in one reference → 2 of 4; bigram "a a": 3 vs 1 → 1 of 3;
     * no trigram or 4-gram matches (2 and 1 guesses). Closest reference
     * length to 4 is 3 (not 2): no brevity penalty.
     * BLEU-1 = 2/4, BLEU-2 = (2/4 · 1/3)^(1/2) = 1/√6. */
    vtag_metrics_seq aaaa = mt_seq(&t, "a a a a");
    vtag_metrics_seq refs2[2] = {mt_seq(&t, "a b"), mt_seq(&t, "a a c")};
    b = stats(&w, aaaa, refs2, 2);
    CHECK(b.correct[0] == 2 && b.correct[1] == 1 && b.correct[2] == 0 && b.correct[3] == 0, "clipped");
    CHECK(b.guess[0] == 4 && b.guess[1] == 3 && b.guess[2] == 2 && b.guess[3] == 1, "guesses");
    CHECK(b.reflen == 3, "closest length %lld", (long long)b.reflen);
    vtag_metrics_bleu_score(&b, s);
    CHECK_NEAR(s[0], 0.5, 1e-9, "BLEU-1 clipped");
    CHECK_NEAR(s[1], 1 / sqrt(6.0), 1e-9, "BLEU-2 clipped");
    /* No trigram match: (1/2 · 1/3 · 1e-15/2)^(1/3), about 4.4e-6, not 0. */
    CHECK_NEAR(s[2], cbrt(0.5 / 3 * 1e-15 / 2), 1e-12, "BLEU-3 with no match");

    /* Ties in "closest" go to the shorter: length 3 vs references of 2 and 4. */
    vtag_metrics_seq abc = mt_seq(&t, "a b c");
    vtag_metrics_seq refs3[2] = {mt_seq(&t, "a b c d"), mt_seq(&t, "a b")};
    b = stats(&w, abc, refs3, 2);
    CHECK(b.reflen == 2, "tie → shorter: %lld", (long long)b.reflen);

    /* Brevity penalty: "a b" vs "a b c d": c = 2 < r = 4, all n-grams of the
     * candidate match: BLEU-1 = BLEU-2 = exp(1 - 4/2) = e^-1. */
    b = stats(&w, ab, &abcd, 1);
    vtag_metrics_bleu_score(&b, s);
    CHECK_NEAR(s[0], exp(-1.0), 1e-9, "brevity penalty BLEU-1");
    CHECK_NEAR(s[1], exp(-1.0), 1e-9, "brevity penalty BLEU-2");

    /* A repeated reference changes nothing: clipping takes the largest count
     * in any one reference, not the sum ("a a" vs {"a b", "a b"}: 1 of 2). */
    vtag_metrics_seq aa = mt_seq(&t, "a a");
    vtag_metrics_seq twice[2] = {ab, ab};
    vtag_metrics_bleu once_stats = stats(&w, aa, &ab, 1);
    b = stats(&w, aa, twice, 2);
    CHECK(memcmp(&b, &once_stats, sizeof b) == 0 && b.correct[0] == 1 && b.guess[0] == 2, "repeated reference");

    /* Empty candidate: no guesses; c = 0 < r gives a penalty of exp(-huge) = 0. */
    vtag_metrics_seq empty = mt_seq(&t, "");
    b = stats(&w, empty, &ab, 1);
    CHECK(b.testlen == 0 && b.guess[0] == 0 && b.correct[0] == 0, "empty stats");
    vtag_metrics_bleu_score(&b, s);
    CHECK(s[0] == 0.0 && s[3] == 0.0, "empty candidate: %g %g", s[0], s[3]);

    /* Corpus level: statistics add up over items before the score is taken.
     * "a a a a" (above) + "a b c d" (identical): unigrams 6/8, bigrams 4/6,
     * trigrams 2/4, 4-grams 1/2; c = 8 > r = 7. */
    vtag_metrics_bleu corpus;
    vtag_metrics_bleu_init(&corpus);
    vtag_error err = {0};
    CHECK(vtag_metrics_bleu_add(&corpus, &w, aaaa, refs2, 2, &err) == 0, "%s", err.msg);
    CHECK(vtag_metrics_bleu_add(&corpus, &w, abcd, &abcd, 1, &err) == 0, "%s", err.msg);
    vtag_metrics_bleu_score(&corpus, s);
    CHECK_NEAR(s[0], 0.75, 1e-9, "corpus BLEU-1");
    CHECK_NEAR(s[1], sqrt(0.75 * 4 / 6.0), 1e-9, "corpus BLEU-2");
    CHECK_NEAR(s[3], pow(0.75 * 4 / 6.0 * 0.5 * 0.5, 0.25), 1e-9, "corpus BLEU-4");

    CHECK(vtag_metrics_bleu_add(&corpus, &w, ab, refs2, 0, &err) == VTAG_ERR_ARG, "no references");
    vtag_metrics_work_free(&w);
    vtag_metrics_vocab_free(&t.vocab);
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fast and naive statistics agree on random sentences (stats() checks). */
static void test_random(uint64_t seed, int vocab)
{
    int32_t tok[6][40];
    vtag_metrics_seq seq[6];
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    uint64_t s = seed;
    for (int it = 0; it < 300; it++) {
        int n = 2 + (int)(rnd(&s) % 5);
        for (int k = 0; k < n; k++) {
            int len = (int)(rnd(&s) % 40);
            for (int j = 0; j < len; j++) tok[k][j] = (int32_t)(rnd(&s) % (uint64_t)vocab);
            seq[k] = (vtag_metrics_seq){tok[k], len};
        }
        stats(&w, seq[0], seq + 1, n - 1);
    }
    vtag_metrics_work_free(&w);
}

int main(void)
{
    test_hand();
    test_random(7, 3);
    test_random(8, 40);
    return check_summary("metrics/test_bleu");
}

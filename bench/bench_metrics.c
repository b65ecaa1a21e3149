/* CIDEr-D speed. `bench_metrics write FILE IMAGES CANDS SEED` writes
 * IMAGES × CANDS lines of label captions (class1 class2 tags…, tags in
 * canonical order, as SPEC §2 builds them): each image has 5 references,
 * repeated on each of its CANDS lines, and CANDS candidates (SCST: the
 * samples of one image). `bench_metrics run FILE CANDS [REPEATS]` builds the
 * document frequencies from each image's references (N = IMAGES), then times
 * CIDEr-D of every line on one thread, best of REPEATS: one call per line
 * when CANDS is 1, else one vtag_metrics_cider_d_many call per image, which
 * prepares the references once. Prints one JSON line: the best wall time
 * and, apart, the best CPU time of this thread (robust to other jobs taking
 * turns on the core). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtag/metrics.h"

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(rnd(s) >> 11) * 0x1.0p-53;
}

enum { N_CLASS1 = 10, N_CLASS2 = 10, N_TAGS = 1000, MAX_TAGS = 14 };

/* A Zipf-like tag: rank r with probability about 1/(r+1). */
static int zipf_tag(uint64_t *s)
{
    for (;;) {
        double u = unif(s);
        int t = (int)(exp(u * log((double)N_TAGS + 1)) - 1);
        if (t >= 0 && t < N_TAGS) return t;
    }
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Tags sorted by rank (the canonical order: most frequent first), no repeats. */
static int tidy(int *tags, int n)
{
    qsort(tags, (size_t)n, sizeof *tags, cmp_int);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || tags[m - 1] != tags[i]) tags[m++] = tags[i];
    return m;
}

/* A noisy copy of the true caption: each tag dropped with p_drop, up to
 * `extra` random tags added; the class2 replaced with p_class. */
static void write_caption(FILE *f, uint64_t *s, int c1, int c2, const int *tags, int n, double p_drop,
                          int extra, double p_class)
{
    int out[MAX_TAGS + 4], m = 0;
    for (int i = 0; i < n; i++)
        if (unif(s) >= p_drop) out[m++] = tags[i];
    int add = (int)(rnd(s) % (uint64_t)(extra + 1));
    for (int i = 0; i < add && m < MAX_TAGS + 4; i++) out[m++] = zipf_tag(s);
    m = tidy(out, m);
    if (m > MAX_TAGS) m = MAX_TAGS; /* captions are cut at 16 tokens */
    if (unif(s) < p_class) c2 = (int)(rnd(s) % N_CLASS2);
    fprintf(f, "\"c%d c%d_%d", c1, c1, c2);
    for (int i = 0; i < m; i++) fprintf(f, " t%d", out[i]);
    fputc('"', f);
}

static int write_corpus(const char *path, long images, long cands, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    /* The references go to a buffer first, to be repeated on each line. */
    char *refs = NULL;
    size_t refs_len = 0;
    uint64_t s = seed;
    for (long i = 0; i < images; i++) {
        int c1 = (int)(rnd(&s) % N_CLASS1), c2 = (int)(rnd(&s) % N_CLASS2);
        int tags[MAX_TAGS], nt = 11 + (int)(rnd(&s) % (MAX_TAGS - 10));
        for (int k = 0; k < nt; k++) tags[k] = zipf_tag(&s);
        nt = tidy(tags, nt);
        FILE *m = open_memstream(&refs, &refs_len);
        if (!m) {
            perror("open_memstream");
            fclose(f);
            return 1;
        }
        for (int r = 0; r < 5; r++) {
            if (r) fprintf(m, ", ");
            write_caption(m, &s, c1, c2, tags, nt, 0.15, 2, 0.05);
        }
        fclose(m);
        for (long c = 0; c < cands; c++) {
            fprintf(f, "{\"id\": \"%ld.%ld\", \"cand\": ", i, c);
            write_caption(f, &s, c1, c2, tags, nt, 0.3, 3, 0.2);
            fprintf(f, ", \"refs\": [%s]}\n", refs);
        }
        free(refs);
        refs = NULL;
    }
    if (fclose(f)) {
        perror(path);
        return 1;
    }
    return 0;
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* Threads of this process (Linux: /proc/self/status), or -1: the benchmark
 * reports it to show that vtag scored on one thread. */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

static int run(const char *path, int64_t group, int repeats)
{
    vtag_metrics_vocab vocab;
    vtag_metrics_vocab_init(&vocab);
    vtag_metrics_captions caps;
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    vtag_error err = {0};
    int rc = vtag_metrics_read_captions(path, 1, &vocab, &caps, &err);
    if (rc) {
        fprintf(stderr, "bench_metrics: %s\n", err.msg);
        return 1;
    }
    if (caps.n_items % group) {
        fprintf(stderr, "bench_metrics: %lld lines are not images of %lld\n", (long long)caps.n_items,
                (long long)group);
        return 1;
    }
    double t0 = now();
    for (int64_t i = 0; !rc && i < caps.n_items; i += group) /* one reference set per image */
        rc = vtag_metrics_df_add(&df, caps.items[i].refs, caps.items[i].n_refs, &err);
    if (!rc) rc = vtag_metrics_df_finish(&df, &err);
    double t_df = now() - t0;
    double *scores = malloc((size_t)caps.n_items * sizeof *scores);
    vtag_metrics_seq *cands = malloc((size_t)group * sizeof *cands);
    if (!scores || !cands) rc = vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    double best = 1e300, best_cpu = 1e300, tokens = 0;
    for (int64_t i = 0; i < caps.n_items; i++) tokens += (double)caps.items[i].cand.len;
    for (int rep = 0; rep < repeats && !rc; rep++) {
        t0 = now();
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (group == 1) {
            for (int64_t i = 0; i < caps.n_items && !rc; i++)
                rc = vtag_metrics_cider_d(&df, &w, caps.items[i].cand, caps.items[i].refs,
                                          caps.items[i].n_refs, &scores[i], &err);
        } else {
            for (int64_t i = 0; i < caps.n_items && !rc; i += group) {
                for (int64_t c = 0; c < group; c++) cands[c] = caps.items[i + c].cand;
                rc = vtag_metrics_cider_d_many(&df, &w, cands, group, caps.items[i].refs, caps.items[i].n_refs,
                                               &scores[i], &err);
            }
        }
        double t = now() - t0, c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    if (rc) {
        fprintf(stderr, "bench_metrics: %s\n", err.msg);
    } else {
        double mean = 0;
        for (int64_t i = 0; i < caps.n_items; i++) mean += scores[i];
        mean /= (double)caps.n_items;
        printf("{\"candidates\": %lld, \"mean_tokens\": %.2f, \"distinct_ngrams\": %lld, \"df_seconds\": %.4f, "
               "\"seconds\": %.6f, \"us_per_candidate\": %.4f, \"cpu_us_per_candidate\": %.4f, "
               "\"mean_cider_d\": %.17g, \"threads\": %d}\n",
               (long long)caps.n_items, tokens / (double)caps.n_items, (long long)df.count, t_df, best,
               best / (double)caps.n_items * 1e6, best_cpu / (double)caps.n_items * 1e6, mean, thread_count());
    }
    free(scores);
    free(cands);
    vtag_metrics_work_free(&w);
    vtag_metrics_df_free(&df);
    vtag_metrics_captions_free(&caps);
    vtag_metrics_vocab_free(&vocab);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "write") == 0)
        return write_corpus(argv[2], strtol(argv[3], NULL, 10), strtol(argv[4], NULL, 10),
                            strtoull(argv[5], NULL, 10));
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "run") == 0 && atol(argv[3]) >= 1)
        return run(argv[2], atol(argv[3]), argc == 5 ? atoi(argv[4]) : 5);
    fprintf(stderr, "usage: bench_metrics write FILE IMAGES CANDS SEED | bench_metrics run FILE CANDS [REPEATS]\n");
    return 2;
}

/* Fuzz target: the JSON Lines result files vtag reads back — score input
 * (captions and multi-label, src/metrics/read.c), tag output (src/tag/read.c),
 * CNN baseline predictions and training logs (src/eval/) — and what is
 * computed from an accepted file: CIDEr-D and BLEU, the multi-label metrics,
 * and the tags re-aggregated from the frames. A tag file that reads must also
 * write out and read back. */
#include <string.h>

#include "eval/eval_internal.h"
#include "fuzz.h"
#include "vtag/data.h"
#include "vtag/eval.h"
#include "vtag/metrics.h"
#include "vtag/tag.h"

/* The labels file the baseline reader takes (its classes decide class1 and class2). */
static const char labels_jsonl[] =
    "{\"video\": \"clips/v1.mp4\", \"class1\": \"游戏\", \"class2\": \"王者荣耀\", \"tags\": [\"李白\"]}\n"
    "{\"video\": \"v2\", \"class1\": \"a\", \"class2\": \"b\", \"tags\": [\"x\", \"y\"], \"split\": \"val\"}\n";

static void check_captions(const char *path, int need_cand)
{
    vtag_metrics_vocab vocab;
    vtag_metrics_vocab_init(&vocab);
    vtag_metrics_captions caps = {0};
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    vtag_error err = {0};
    int rc = vtag_metrics_read_captions(path, need_cand, &vocab, &caps, &err);
    for (int64_t i = 0; !rc && i < caps.n_items; i++)
        rc = vtag_metrics_df_add(&df, caps.items[i].refs, caps.items[i].n_refs, &err);
    if (!rc) rc = vtag_metrics_df_finish(&df, &err);
    if (!rc && need_cand) {
        double *per_item = malloc((size_t)(caps.n_items ? caps.n_items : 1) * sizeof *per_item);
        vtag_metrics_caption_scores sc;
        if (per_item) (void)vtag_metrics_score_captions(&df, caps.items, caps.n_items, per_item, &sc, &err);
        free(per_item);
    }
    vtag_metrics_df_free(&df);
    vtag_metrics_captions_free(&caps);
    vtag_metrics_vocab_free(&vocab);
}

static void check_multilabel(const char *path)
{
    vtag_metrics_vocab vocab;
    vtag_metrics_vocab_init(&vocab);
    vtag_metrics_ml_set set = {0};
    vtag_error err = {0};
    if (!vtag_metrics_read_multilabel(path, &vocab, &set, &err)) {
        vtag_metrics_prf prf;
        double x;
        int32_t n_labels = vocab.count;
        (void)vtag_metrics_ml_prf_threshold(set.items, set.n_items, n_labels, 0.5, &prf, &err);
        (void)vtag_metrics_ml_prf_top_k(set.items, set.n_items, n_labels, 3, &prf, &err);
        (void)vtag_metrics_ml_map(set.items, set.n_items, n_labels, &x, &err);
        (void)vtag_metrics_ml_gap(set.items, set.n_items, n_labels, 3, &x, &err);
        (void)vtag_metrics_ml_hit(set.items, set.n_items, n_labels, 1, &x, &err);
    }
    vtag_metrics_ml_set_free(&set);
    vtag_metrics_vocab_free(&vocab);
}

/* Writes every result to the copy and reads it back: the writer and the
 * reader must agree on every file the reader accepts. */
static void check_tag_roundtrip(const vtag_tag_results *res)
{
    char copy[4096];
    fuzz_path(copy, sizeof copy, ".copy.jsonl");
    FILE *f = fopen(copy, "wb");
    if (!f) abort();
    vtag_error err = {0};
    for (int64_t i = 0; i < res->count; i++)
        if (vtag_tag_write(f, &res->items[i], &err)) {
            fprintf(stderr, "fuzz_results: an accepted tag line does not write: %s\n", err.msg);
            abort();
        }
    if (fclose(f) != 0) abort();
    vtag_tag_results back;
    int rc = vtag_tag_read(&back, copy, &err);
    unlink(copy);
    if (rc) {
        fprintf(stderr, "fuzz_results: a tag file written from an accepted one does not read back: %s\n", err.msg);
        abort();
    }
    if (back.count != res->count) {
        fprintf(stderr, "fuzz_results: %lld results read back as %lld\n", (long long)res->count,
                (long long)back.count);
        abort();
    }
    vtag_tag_results_free(&back);
}

static void check_tags(const char *path)
{
    vtag_tag_results res;
    vtag_error err = {0};
    if (vtag_tag_read(&res, path, &err)) return;
    for (int64_t i = 0; i < res.count; i++) {
        const vtag_tag_result *r = &res.items[i];
        if (vtag_tag_find(&res, r->video) != i) {
            fprintf(stderr, "fuzz_results: result %lld is not found by its own video\n", (long long)i);
            abort();
        }
        if (r->error || !r->n_frames) continue;
        vtag_tag_result again;
        vtag_tag_opts o;
        vtag_tag_opts_default(&o);
        if (!vtag_tag_aggregate(&again, r->video, r->frames, r->n_frames, &o, &err)) vtag_tag_result_free(&again);
    }
    check_tag_roundtrip(&res);
    vtag_tag_results_free(&res);
}

static void check_baseline(const char *path)
{
    char lp[4096];
    fuzz_path(lp, sizeof lp, ".labels.jsonl");
    fuzz_write(lp, (const uint8_t *)labels_jsonl, sizeof labels_jsonl - 1);
    vtag_data_labels l;
    vtag_error err = {0};
    int rc = vtag_data_read_labels(&l, lp, NULL, &err);
    unlink(lp);
    if (rc) {
        fprintf(stderr, "fuzz_results: the fixed labels file does not read: %s\n", err.msg);
        abort();
    }
    vtag_tag_results res;
    if (!vtag_eval_read_baseline(&res, path, &l, 3, 0.0, &err)) vtag_tag_results_free(&res);
    vtag_data_free_labels(&l);
}

static void check_trainlog(const char *path)
{
    eval_trainlog t;
    vtag_error err = {0};
    if (!eval_read_trainlog(&t, path, &err)) eval_trainlog_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_path(path, sizeof path, ".jsonl");
    fuzz_write(path, data, size);
    check_captions(path, 1);
    check_captions(path, 0);
    check_multilabel(path);
    check_tags(path);
    check_baseline(path);
    check_trainlog(path);
    unlink(path);
    return 0;
}

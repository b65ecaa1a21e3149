/* Evaluating a run folder without the CLI (vtag_run_eval): a folder made
 * here (features of 3 videos whose rows interleave, checkpoints saved with
 * vtag_checkpoint_save, a built-in backbone) gives one run per checkpoint in
 * training order with the tags vtag_tag_aggregate_ids gives on the same
 * captions, the logs beside them, and the CNN baseline only with a built-in
 * backbone, equal to the classifier computed by hand and to the baseline file
 * read back; keep_tag_order as the folder's pipeline.json records the tag
 * order. vtag_builtin_classify against a hand computation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/builtin.h"
#include "vtag/caption.h"
#include "vtag/captioner.h"
#include "vtag/eval.h"
#include "vtag/run_eval.h"

enum { N = 7, DFC = 4, K = 2, DATT = 3, L = 4, V_BB = 3, VIDEOS = 3 };
static const char *ITEMS[N] = {"v1", "v1", "v2", "v1", "v3", "v2", "v3"}; /* rows of a video not adjacent */
static const char *VIDEO[VIDEOS] = {"v1", "v2", "v3"};                  /* order of first appearance */
static const char *VOCAB = "[\"G\", \"S\", \"a\", \"b\"]";
static const char *BB_LABELS[V_BB] = {"G", "S", "a"};
static float FC[N * DFC], ATT[N * K * DATT];
static char dir[] = "/tmp/vtag_eval_run_XXXXXX";

static const char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot create %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void save_model(vtag_model_type type, int64_t att_size, uint64_t seed, const char *name)
{
    vtag_error err = {0};
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    cfg.type = type;
    cfg.vocab_size = 4;
    cfg.input_encoding_size = cfg.rnn_size = cfg.att_hid_size = 8;
    cfg.fc_feat_size = DFC;
    cfg.att_feat_size = att_size;
    cfg.max_length = L;
    vtag_model m;
    int rc = vtag_model_init(&m, &cfg, &err);
    CHECK(rc == 0, "model init: %s", err.msg);
    if (rc) return;
    vtag_rng rng;
    vtag_rng_seed(&rng, seed);
    vtag_model_init_weights(&m, &rng);
    CHECK(vtag_checkpoint_save(&m, VOCAB, at(name), &err) == 0, "save %s: %s", name, err.msg);
    vtag_model_free(&m);
}

static void save_backbone(vtag_builtin *b)
{
    vtag_error err = {0};
    vtag_builtin_config c;
    vtag_builtin_config_default(&c);
    c.size = 8;
    c.n_stages = 1;
    c.widths[0] = DFC;
    c.blocks[0] = 1;
    c.n_labels = V_BB;
    int rc = vtag_builtin_init(b, &c, BB_LABELS, &err);
    CHECK(rc == 0, "backbone init: %s", err.msg);
    if (rc) return;
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    vtag_builtin_init_weights(b, &rng);
    float *bias = vtag_params_value(&b->params, b->cls_b);
    bias[0] = 0.25f, bias[1] = -0.5f, bias[2] = 0.0f; /* distinct scores */
    CHECK(vtag_builtin_save(b, at("backbone.safetensors"), &err) == 0, "backbone save: %s", err.msg);
}

/* The classifier by hand, in double: p_v = 1 / (1 + exp(-(b_v + w_v · x))). */
static double hand_prob(const vtag_builtin *b, const float *x, int64_t v)
{
    const float *w = vtag_params_value(&b->params, b->cls_w), *bias = vtag_params_value(&b->params, b->cls_b);
    double z = bias[v];
    for (int64_t d = 0; d < DFC; d++) z += (double)w[v * DFC + d] * x[d];
    return 1.0 / (1.0 + exp(-z));
}

static void test_classify(const vtag_builtin *b)
{
    vtag_error err = {0};
    float probs[N * V_BB];
    CHECK(vtag_builtin_classify(b, FC, N, DFC, probs, &err) == 0, "classify: %s", err.msg);
    for (int64_t i = 0; i < N; i++)
        for (int64_t v = 0; v < V_BB; v++) CHECK_NEAR(probs[i * V_BB + v], hand_prob(b, FC + i * DFC, v), 1e-6, "prob");
    CHECK(vtag_builtin_classify(b, FC, N, DFC + 1, probs, &err) == VTAG_ERR_ARG, "a wrong fc size is refused");
    CHECK(strstr(err.msg, "classifier takes 4") != NULL, "message: %s", err.msg);
}

typedef struct progress_log {
    int calls;
    char ckpt[8][512];
    int64_t rows[8];
} progress_log;

static void on_progress(void *user, const char *checkpoint, int64_t rows)
{
    progress_log *p = user;
    if (p->calls < 8) {
        snprintf(p->ckpt[p->calls], sizeof p->ckpt[0], "%s", checkpoint);
        p->rows[p->calls] = rows;
    }
    p->calls++;
}

/* The run against the checkpoint's captions, aggregated by hand. */
static void check_run(const char *ckpt, const vtag_tag_results *res)
{
    vtag_error err = {0};
    vtag_ctx ctx;
    vtag_captioner c;
    CHECK(vtag_ctx_init(&ctx, 1, 42, &err) == 0, "ctx: %s", err.msg);
    int rc = vtag_captioner_load(&c, ckpt, &err);
    CHECK(rc == 0, "load %s: %s", ckpt, err.msg);
    CHECK(res->count == VIDEOS, "%s: %lld videos", ckpt, (long long)res->count);
    if (rc || res->count != VIDEOS) {
        vtag_ctx_free(&ctx);
        return;
    }
    int32_t seq[N * L], len[N];
    const int type = c.model.cfg.type;
    vtag_rows rows = {N, K, type == VTAG_MODEL_ATT2IN ? NULL : FC, type == VTAG_MODEL_FC ? NULL : ATT, NULL};
    vtag_decode_opts d = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
    CHECK(vtag_caption_rows(&ctx, &c.model, &rows, &d, 50, seq, NULL, len, &err) == 0, "caption: %s", err.msg);
    for (int v = 0; v < VIDEOS; v++) {
        vtag_tag_frame_ids fr[N];
        int64_t nf = 0, idx[N];
        for (int64_t r = 0; r < N; r++)
            if (strcmp(ITEMS[r], VIDEO[v]) == 0) idx[nf] = r, fr[nf] = (vtag_tag_frame_ids){(double)nf, seq + r * L, len[r]}, nf++;
        vtag_tag_result want;
        CHECK(vtag_tag_aggregate_ids(&want, VIDEO[v], fr, nf, c.vocab.tokens, c.vocab.size, NULL, &err) == 0, "%s",
              err.msg);
        /* the labels ranked by the model's scores for the video's rows (vtag tag's samples and seed) */
        double scores[64];
        CHECK(c.vocab.size < 64, "vocabulary of %lld", (long long)c.vocab.size);
        CHECK(vtag_caption_label_scores(&ctx, &c.model, &rows, idx, nf, VTAG_CAPTION_SCORE_SAMPLES_DEFAULT,
                                        VTAG_CAPTION_SCORE_SEED, scores, &err) == 0, "scores: %s", err.msg);
        CHECK(vtag_tag_apply_scores(&want, scores, c.vocab.tokens, c.vocab.size, NULL, &err) == 0, "%s", err.msg);
        if (res->items[v].novelty >= 0) vtag_tag_set_novelty(&want, res->items[v].novelty);
        const vtag_tag_result *got = &res->items[v];
        CHECK(strcmp(got->video, VIDEO[v]) == 0, "video %d is %s", v, got->video);
        CHECK(!got->error, "%s: error %s", VIDEO[v], got->error);
        CHECK((!want.class1 && !got->class1) || (want.class1 && got->class1 && !strcmp(want.class1, got->class1)),
              "%s class1 %s vs %s", VIDEO[v], got->class1, want.class1);
        CHECK((!want.class2 && !got->class2) || (want.class2 && got->class2 && !strcmp(want.class2, got->class2)),
              "%s class2 %s vs %s", VIDEO[v], got->class2, want.class2);
        CHECK(got->n_frames == nf, "%s: %lld frames, %lld rows", VIDEO[v], (long long)got->n_frames, (long long)nf);
        CHECK(got->n_tags == want.n_tags && got->n_labels == want.n_labels, "%s: %lld tags", VIDEO[v],
              (long long)got->n_tags);
        for (int64_t t = 0; t < got->n_labels && t < want.n_labels; t++)
            CHECK(!strcmp(got->labels[t].label, want.labels[t].label) && got->labels[t].frames == want.labels[t].frames,
                  "%s label %lld: %s x%lld vs %s x%lld", VIDEO[v], (long long)t, got->labels[t].label,
                  (long long)got->labels[t].frames, want.labels[t].label, (long long)want.labels[t].frames);
        for (int64_t t = 0; t < got->n_labels && t < want.n_labels; t++)
            CHECK(got->labels[t].score == want.labels[t].score, "%s label %lld: score %g vs %g", VIDEO[v], (long long)t,
                  got->labels[t].score, want.labels[t].score);
        CHECK(got->unknown == want.unknown, "%s: unknown %d vs %d", VIDEO[v], got->unknown, want.unknown);
        vtag_tag_result_free(&want);
    }
    vtag_captioner_free(&c);
    vtag_ctx_free(&ctx);
}

static const char *LABELS =
    "{\"video\": \"t1\", \"class1\": \"G\", \"class2\": \"a\", \"tags\": [], \"split\": \"train\"}\n"
    "{\"video\": \"t2\", \"class1\": \"S\", \"class2\": \"b\", \"tags\": [\"a\"], \"split\": \"train\"}\n"
    "{\"video\": \"v1\", \"class1\": \"G\", \"class2\": \"a\", \"tags\": [], \"split\": \"test\"}\n"
    "{\"video\": \"v2\", \"class1\": \"S\", \"class2\": \"b\", \"tags\": [], \"split\": \"test\"}\n"
    "{\"video\": \"v3\", \"class1\": \"G\", \"class2\": \"b\", \"tags\": [], \"split\": \"test\"}\n";

/* The baseline: per video the mean of its rows' probabilities, best first,
 * to 6 significant digits; the same tag results from memory as from the
 * file it wrote. */
static void check_baseline(const vtag_builtin *b, const vtag_run_eval_result *r)
{
    vtag_error err = {0};
    CHECK(r->has_baseline && r->baseline.count == VIDEOS, "baseline of %lld videos", (long long)r->baseline.count);
    if (r->baseline.count != VIDEOS) return;
    for (int v = 0; v < VIDEOS; v++) {
        const vtag_tag_result *p = &r->baseline.items[v];
        CHECK(strcmp(p->video, VIDEO[v]) == 0 && p->n_labels == V_BB && p->n_tags == 0, "baseline of %s", p->video);
        for (int64_t k = 0; k < p->n_labels; k++) {
            int64_t lab = 0;
            while (lab < V_BB && strcmp(BB_LABELS[lab], p->labels[k].label)) lab++;
            CHECK(lab < V_BB, "label %s", p->labels[k].label);
            double mean = 0;
            int nf = 0;
            for (int64_t row = 0; row < N && lab < V_BB; row++)
                if (strcmp(ITEMS[row], VIDEO[v]) == 0) mean += hand_prob(b, FC + row * DFC, lab), nf++;
            CHECK_NEAR(p->labels[k].score, mean / nf, 2e-6, "baseline score");
            char num[32];
            snprintf(num, sizeof num, "%.6g", p->labels[k].score);
            CHECK(strtod(num, NULL) == p->labels[k].score, "score %.17g kept to 6 digits", p->labels[k].score);
            CHECK(k == 0 || p->labels[k - 1].score >= p->labels[k].score, "%s: labels by score", p->video);
        }
    }
    vtag_data_labels labels;
    write_text(at("labels.jsonl"), LABELS);
    int rc = vtag_data_read_labels(&labels, at("labels.jsonl"), NULL, &err);
    CHECK(rc == 0, "labels: %s", err.msg);
    if (rc) return;
    vtag_tag_results mem, file;
    CHECK(vtag_eval_baseline_results(&mem, &r->baseline, &labels, 2, 0.0, &err) == 0, "from memory: %s", err.msg);
    CHECK(r->baseline_path && vtag_eval_read_baseline(&file, r->baseline_path, &labels, 2, 0.0, &err) == 0,
          "from the file: %s", err.msg);
    CHECK(mem.count == VIDEOS && file.count == VIDEOS, "%lld and %lld videos", (long long)mem.count,
          (long long)file.count);
    for (int64_t i = 0; i < mem.count && i < file.count; i++) {
        const vtag_tag_result *m = &mem.items[i], *f = &file.items[i];
        CHECK(!strcmp(m->video, f->video) && m->n_tags == 2 && f->n_tags == 2 && m->n_labels == f->n_labels,
              "%s: same shape", m->video);
        CHECK(m->class1 && f->class1 && !strcmp(m->class1, f->class1) && strcmp(m->class1, "a") != 0,
              "%s: class1 %s / %s, a training class1", m->video, m->class1, f->class1);
        CHECK(m->class2 && !strcmp(m->class2, "a"), "%s: class2 %s, the one training class2 among the labels",
              m->video, m->class2);
        for (int64_t k = 0; k < m->n_labels && k < f->n_labels; k++)
            CHECK(!strcmp(m->labels[k].label, f->labels[k].label) && m->labels[k].score == f->labels[k].score,
                  "%s label %lld: %s %.17g vs %s %.17g", m->video, (long long)k, m->labels[k].label,
                  m->labels[k].score, f->labels[k].label, f->labels[k].score);
    }
    vtag_tag_results_free(&mem);
    vtag_tag_results_free(&file);
    vtag_data_free_labels(&labels);
    unlink(at("labels.jsonl"));
}

/* keep_tag_order as DIR/pipeline.json records it (vtag pipeline --keep-tag-order). */
static void check_tag_order(vtag_ctx *ctx, const vtag_run_eval_opts *o)
{
    const char *manifest[] = {"\"labels\"", "\"frequency\"", NULL, "\"sorted\""};
    for (int i = 0; i < 4; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"backbone\": \"built-in\", \"sample\": \"uniform:2\", \"stages\": {\"fc-xe\": 1.0}%s%s}",
                 manifest[i] ? ", \"tag_order\": " : "", manifest[i] ? manifest[i] : "");
        write_text(at("pipeline.json"), text);
        vtag_run_eval_result r;
        vtag_error err = {0};
        int rc = vtag_run_eval(ctx, dir, o, &r, &err);
        if (i < 3) CHECK(rc == 0 && r.n_runs == 3 && r.keep_tag_order == (i == 0), "tag_order %s: %d (%s)",
                         manifest[i] ? manifest[i] : "absent", r.keep_tag_order, err.msg);
        else CHECK(rc == VTAG_ERR_FORMAT && strstr(err.msg, "pipeline.json: tag_order is neither") && r.n_runs == 0,
                   "an unknown tag_order: %s", err.msg);
        if (!rc) vtag_run_eval_result_free(&r);
    }
    CHECK(unlink(at("pipeline.json")) == 0, "remove the manifest");
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    for (int i = 0; i < N * DFC; i++) FC[i] = sinf(1.3f * (float)i + 0.2f);
    for (int i = 0; i < N * K * DATT; i++) ATT[i] = cosf(0.7f * (float)i);
    vtag_error err = {0};
    vtag_ctx ctx;
    CHECK(vtag_ctx_init(&ctx, 2, 42, &err) == 0, "ctx: %s", err.msg);
    vtag_run_eval_opts o;
    vtag_run_eval_opts_defaults(&o);
    progress_log pl = {0};
    o.progress = on_progress, o.user = &pl;
    vtag_run_eval_result r;

    /* no features yet */
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == VTAG_ERR_NOTFOUND, "no features");
    CHECK(strstr(err.msg, "features-test.safetensors: missing") != NULL, "message: %s", err.msg);
    vtag_data_features f = {N, DFC, K, DATT, FC, ATT, ITEMS, NULL, NULL, NULL, NULL};
    CHECK(vtag_data_write_features(&f, at("features-test.safetensors"), &err) == 0, "features: %s", err.msg);
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == VTAG_ERR_NOTFOUND, "no checkpoint");
    CHECK(strstr(err.msg, "no trained caption model") != NULL, "message: %s", err.msg);

    /* three checkpoints, one log, no backbone */
    save_model(VTAG_MODEL_FC, DATT, 1, "fc.safetensors");
    save_model(VTAG_MODEL_FC, DATT, 2, "fc-xe.safetensors");
    save_model(VTAG_MODEL_TOPDOWN, DATT, 3, "topdown-xe.safetensors");
    write_text(at("fc-xe.log.jsonl"), "{}\n");
    int rc = vtag_run_eval(&ctx, dir, &o, &r, &err);
    CHECK(rc == 0, "eval: %s", err.msg);
    const char *want[] = {"fc-xe", "fc", "topdown-xe"};
    CHECK(r.n_runs == 3, "%d runs", r.n_runs);
    for (int i = 0; i < r.n_runs && i < 3; i++) {
        CHECK(strcmp(r.names[i], want[i]) == 0, "run %d is %s", i, r.names[i]);
        char name[64];
        snprintf(name, sizeof name, "%s.safetensors", want[i]);
        check_run(at(name), &r.results[i]);
        CHECK(pl.calls == 3 && strcmp(pl.ckpt[i], at(name)) == 0 && pl.rows[i] == N, "progress %d: %s, %lld rows", i,
              pl.ckpt[i], (long long)pl.rows[i]);
    }
    CHECK(r.n_logs == 1 && !strcmp(r.logs[0].name, "fc-xe") && !strcmp(r.logs[0].path, at("fc-xe.log.jsonl")),
          "the one log: %d", r.n_logs);
    CHECK(!r.has_baseline && !r.baseline_path && r.baseline.count == 0, "no baseline without a backbone");
    CHECK(access(at("baseline-test.jsonl"), F_OK) != 0, "no baseline file without a backbone");
    CHECK(r.keep_tag_order == 0, "no manifest: the frequency order");
    vtag_run_eval_result_free(&r);
    check_tag_order(&ctx, &o);

    /* one model; a model with no checkpoint */
    o.model = "fc";
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == 0 && r.n_runs == 2, "--model fc: %d runs", r.n_runs);
    vtag_run_eval_result_free(&r);
    o.model = "att2in";
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == VTAG_ERR_NOTFOUND, "no att2in");
    CHECK(strstr(err.msg, "no trained att2in model") != NULL, "message: %s", err.msg);
    /* a checkpoint that does not fit the features */
    save_model(VTAG_MODEL_ATT2IN, DATT + 2, 4, "att2in-xe.safetensors");
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == VTAG_ERR_FORMAT, "att2in of the wrong att size");
    CHECK(strstr(err.msg, "att2in-xe.safetensors") && strstr(err.msg, "att of 5 features"), "message: %s", err.msg);
    CHECK(r.n_runs == 0, "nothing returned after a failure");
    unlink(at("att2in-xe.safetensors"));
    o.model = NULL;

    /* with the built-in backbone: the baseline, in memory and in the file */
    vtag_builtin b;
    memset(&b, 0, sizeof b);
    save_backbone(&b);
    test_classify(&b);
    o.write_baseline = 0;
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == 0, "eval: %s", err.msg);
    CHECK(r.has_baseline && !r.baseline_path && access(at("baseline-test.jsonl"), F_OK) != 0, "not written");
    vtag_run_eval_result_free(&r);
    o.write_baseline = 1;
    CHECK(vtag_run_eval(&ctx, dir, &o, &r, &err) == 0, "eval: %s", err.msg);
    CHECK(r.n_runs == 3, "%d runs", r.n_runs);
    CHECK(r.baseline_path && !strcmp(r.baseline_path, at("baseline-test.jsonl")), "written to %s", r.baseline_path);
    check_baseline(&b, &r);
    vtag_run_eval_result_free(&r);
    vtag_builtin_free(&b);

    const char *files[] = {"features-test.safetensors", "fc.safetensors", "fc-xe.safetensors", "topdown-xe.safetensors",
                           "fc-xe.log.jsonl", "backbone.safetensors", "baseline-test.jsonl"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) CHECK(unlink(at(files[i])) == 0, "remove %s", files[i]);
    CHECK(rmdir(dir) == 0, "the folder holds nothing else");
    vtag_ctx_free(&ctx);
    return check_summary("run/test_eval_run");
}

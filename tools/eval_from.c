/* vtag eval --from DIR: the runs of a pipeline folder, made from the features
 * the pipeline already extracted for the evaluated split (no video is decoded
 * again): every XE and SCST checkpoint captions each frame row, the captions
 * of a video's rows are counted into its tags; and the CNN baseline — the
 * built-in backbone's own classifier on the same fc rows — is written as
 * `vtag backbone predict` lines to DIR/baseline-<split>.jsonl. */
#include "eval_from.h"

#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/builtin.h"
#include "vtag/caption.h"
#include "vtag/nn.h"

/* Rows of each video, in order of first appearance. */
typedef struct groups {
    int64_t n;
    int64_t *start; /* (n + 1) into rows */
    int64_t *rows;  /* (f->n) */
    const char **video;
} groups;

static void groups_free(groups *g)
{
    free(g->start);
    free(g->rows);
    free(g->video);
    memset(g, 0, sizeof *g);
}

static int group_rows(groups *g, const vtag_data_features *f, vtag_error *err)
{
    memset(g, 0, sizeof *g);
    int64_t *first = malloc((size_t)(f->n ? f->n : 1) * sizeof *first); /* group of each row */
    g->start = calloc((size_t)f->n + 2, sizeof *g->start);
    g->rows = malloc((size_t)(f->n ? f->n : 1) * sizeof *g->rows);
    g->video = malloc((size_t)(f->n ? f->n : 1) * sizeof *g->video);
    if (!first || !g->start || !g->rows || !g->video) {
        free(first);
        groups_free(g);
        return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    /* Rows of one video are usually adjacent; look back to the video's group
     * through a linear scan of the groups only when they are not. */
    for (int64_t r = 0; r < f->n; r++) {
        int64_t k = -1;
        if (r > 0 && strcmp(f->items[r], f->items[r - 1]) == 0) k = first[r - 1];
        for (int64_t j = g->n - 1; k < 0 && j >= 0; j--)
            if (strcmp(g->video[j], f->items[r]) == 0) k = j;
        if (k < 0) g->video[k = g->n++] = f->items[r];
        first[r] = k;
        g->start[k + 1]++;
    }
    for (int64_t k = 0; k < g->n; k++) g->start[k + 1] += g->start[k];
    int64_t *fill = calloc((size_t)g->n + 1, sizeof *fill);
    if (!fill) {
        free(first);
        groups_free(g);
        return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    for (int64_t r = 0; r < f->n; r++) g->rows[g->start[first[r]] + fill[first[r]]++] = r;
    free(fill);
    free(first);
    return 0;
}

/* One checkpoint over the features: tag results of every video. */
static int run_checkpoint(vtag_ctx *ctx, const char *ckpt, const vtag_data_features *f, const groups *g,
                          const vtag_tag_opts *topt, vtag_tag_results *out, vtag_error *err)
{
    vtag_model m;
    memset(&m, 0, sizeof m);
    vtag_data_vocab vocab;
    memset(&vocab, 0, sizeof vocab);
    char *vocab_json = NULL;
    int32_t *seq = NULL, *len = NULL;
    vtag_tag_frame_ids *fr = NULL;
    vtag_tag_result *items = NULL;
    int64_t done = 0;
    int rc = vtag_checkpoint_load(&m, &vocab_json, ckpt, err);
    if (!rc) rc = vtag_data_decode_vocab(&vocab, vocab_json, ckpt, err);
    if (!rc && m.cfg.type != VTAG_MODEL_ATT2IN && f->fc_dim != m.cfg.fc_feat_size)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: fc has %lld features per row, the model %s expects %lld", f->path,
                       (long long)f->fc_dim, ckpt, (long long)m.cfg.fc_feat_size);
    if (!rc && m.cfg.type != VTAG_MODEL_FC && f->att_dim != m.cfg.att_feat_size)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: att has %lld features per position, the model %s expects %lld",
                       f->path, (long long)f->att_dim, ckpt, (long long)m.cfg.att_feat_size);
    const int64_t L = m.cfg.max_length;
    if (!rc) {
        seq = malloc((size_t)(f->n * L + 1) * sizeof *seq);
        len = malloc((size_t)(f->n + 1) * sizeof *len);
        fr = malloc((size_t)(f->n + 1) * sizeof *fr);
        items = calloc((size_t)g->n + 1, sizeof *items);
        if (!seq || !len || !fr || !items) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    if (!rc) {
        vtag_rows rows = {f->n, f->att_k, m.cfg.type == VTAG_MODEL_ATT2IN ? NULL : f->fc,
                          m.cfg.type == VTAG_MODEL_FC ? NULL : f->att, NULL};
        vtag_decode_opts d = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        rc = vtag_caption_rows(ctx, &m, &rows, &d, 50, seq, NULL, len, err);
    }
    for (int64_t k = 0; !rc && k < g->n; k++) {
        int64_t nf = g->start[k + 1] - g->start[k];
        for (int64_t i = 0; i < nf; i++) {
            int64_t r = g->rows[g->start[k] + i];
            fr[i] = (vtag_tag_frame_ids){(double)i, seq + r * L, len[r]};
        }
        rc = vtag_tag_aggregate_ids(&items[k], g->video[k], fr, nf, vocab.tokens, vocab.size, topt, err);
        if (!rc) done++;
    }
    if (!rc) {
        rc = vtag_tag_results_adopt(out, items, g->n, err);
        if (!rc) items = NULL;
    }
    if (items) {
        for (int64_t k = 0; k < done; k++) vtag_tag_result_free(&items[k]);
        free(items);
    }
    free(seq);
    free(len);
    free(fr);
    free(vocab_json);
    vtag_data_free_vocab(&vocab);
    vtag_model_free(&m);
    return rc;
}

typedef struct scored {
    int64_t label;
    float score;
} scored;

static int by_score(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->label < y->label ? -1 : x->label > y->label;
}

/* The built-in backbone's classifier on the fc rows: per video the mean
 * sigmoid over its frames, written as `vtag backbone predict` lines. */
static int write_baseline(const char *bb_path, const vtag_data_features *f, const groups *g, const char *out,
                          vtag_error *err)
{
    vtag_builtin b;
    memset(&b, 0, sizeof b);
    int rc = vtag_builtin_load(&b, bb_path, err);
    if (rc) return rc;
    const int64_t V = b.cfg.n_labels, D = f->fc_dim;
    const float *w = b.params.value + b.params.items[b.cls_w].offset; /* [V, D] */
    const float *bias = b.params.value + b.params.items[b.cls_b].offset; /* [V] */
    if (b.params.items[b.cls_w].shape[1] != D) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: fc has %lld features, the backbone %s's classifier takes %lld",
                       f->path, (long long)D, bb_path, (long long)b.params.items[b.cls_w].shape[1]);
        vtag_builtin_free(&b);
        return rc;
    }
    size_t n = strlen(out) + 8;
    char *tmp = malloc(n);
    scored *s = malloc((size_t)V * sizeof *s);
    double *mean = malloc((size_t)V * sizeof *mean);
    FILE *o = NULL;
    if (!tmp || !s || !mean) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    if (!rc) {
        snprintf(tmp, n, "%s.tmp", out);
        if (!(o = fopen(tmp, "w"))) rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    }
    for (int64_t k = 0; !rc && k < g->n; k++) {
        int64_t nf = g->start[k + 1] - g->start[k];
        for (int64_t v = 0; v < V; v++) mean[v] = 0;
        for (int64_t i = 0; i < nf; i++) {
            const float *x = f->fc + g->rows[g->start[k] + i] * D;
            for (int64_t v = 0; v < V; v++) {
                float z = bias[v];
                for (int64_t d = 0; d < D; d++) z += w[v * D + d] * x[d];
                mean[v] += vtag_sigmoidf(z);
            }
        }
        for (int64_t v = 0; v < V; v++) s[v] = (scored){v, (float)(mean[v] / (double)(nf ? nf : 1))};
        qsort(s, (size_t)V, sizeof *s, by_score);
        json_t *labs = json_array();
        int bad = !labs; /* a label json_pack refuses fails the line, never drops out */
        for (int64_t v = 0; !bad && v < V; v++)
            bad = json_array_append_new(labs, json_pack("{s:s, s:f}", "label", b.labels[s[v].label], "score",
                                                        (double)s[v].score)) != 0;
        if (bad) json_decref(labs);
        json_t *line = bad ? NULL : json_pack("{s:s, s:o, s:[]}", "video", g->video[k], "labels", labs, "frames");
        if (!line)
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot encode the line of %s", tmp, g->video[k]);
        else if (json_dumpf(line, o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) ||
                 fputc('\n', o) == EOF)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        json_decref(line);
    }
    if (o && (fflush(o) || ferror(o)) && !rc) rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (o && fclose(o) && !rc) rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, out)) rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot rename to %s", tmp, out);
    if (rc && tmp) remove(tmp);
    free(tmp);
    free(s);
    free(mean);
    vtag_builtin_free(&b);
    return rc;
}

void eval_from_free(eval_from *e)
{
    for (int i = 0; i < e->n_runs; i++) {
        vtag_tag_results_free(&e->results[i]);
        free(e->names[i]);
    }
    for (int i = 0; i < e->n_logs; i++) {
        free((char *)e->logs[i].name);
        free((char *)e->logs[i].path);
    }
    free(e->baseline);
    memset(e, 0, sizeof *e);
}

int eval_from_dir(eval_from *e, vtag_ctx *ctx, const char *dir, const char *model, vtag_data_split split,
                  const vtag_tag_opts *topt, vtag_error *err)
{
    memset(e, 0, sizeof *e);
    char name[64];
    snprintf(name, sizeof name, "features-%s", vtag_data_split_name(split));
    char *feats = cli_path(dir, name, ".safetensors");
    if (!feats) return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    if (!cli_is_file(feats)) {
        int rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: missing (has vtag pipeline --out %s finished?)", feats, dir);
        free(feats);
        return rc;
    }
    vtag_data_features f;
    memset(&f, 0, sizeof f);
    groups g = {0};
    int rc = vtag_data_read_features(&f, feats, err);
    if (!rc) rc = group_rows(&g, &f, err);
    const char *models[] = {"fc", "att2in", "topdown"};
    for (int i = 0; i < 3 && !rc; i++) {
        if (model && strcmp(model, "all") != 0 && strcmp(model, models[i]) != 0) continue;
        for (int scst = 0; scst < 2 && !rc; scst++) {
            const char *suffix = scst ? "" : "-xe";
            char run[64];
            snprintf(run, sizeof run, "%s%s", models[i], suffix);
            char *ckpt = cli_path(dir, run, ".safetensors"), *log = cli_path(dir, run, ".log.jsonl");
            if (!ckpt || !log) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
            if (!rc && cli_is_file(ckpt)) {
                if (e->n_runs == EVAL_FROM_MAX) rc = vtag_fail(err, VTAG_ERR_ARG, "eval: too many runs");
                if (!rc) {
                    cli_note("eval", "captioning %lld rows with %s", (long long)f.n, ckpt);
                    rc = run_checkpoint(ctx, ckpt, &f, &g, topt, &e->results[e->n_runs], err);
                }
                if (!rc) {
                    e->names[e->n_runs++] = strdup(run);
                    if (cli_is_file(log)) {
                        e->logs[e->n_logs].name = strdup(run);
                        e->logs[e->n_logs++].path = log;
                        log = NULL;
                    }
                }
            }
            free(ckpt);
            free(log);
        }
    }
    if (!rc && e->n_runs == 0)
        rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: no trained %s model", dir, model ? model : "caption");
    if (!rc) {
        char *bb = cli_path(dir, "backbone", ".safetensors");
        snprintf(name, sizeof name, "baseline-%s", vtag_data_split_name(split));
        char *base = cli_path(dir, name, ".jsonl");
        if (!bb || !base) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
        if (!rc && cli_is_file(bb)) {
            rc = write_baseline(bb, &f, &g, base, err);
            if (!rc) e->baseline = base, base = NULL;
        }
        free(bb);
        free(base);
    }
    groups_free(&g);
    vtag_data_free_features(&f);
    free(feats);
    if (rc) eval_from_free(e);
    return rc;
}

/* vtag eval --from DIR as a library call (run_eval.h): the features of one
 * split read once, every trained checkpoint of the folder captioning their
 * rows into each video's tags, and the built-in backbone's classifier on the
 * same fc rows as the CNN baseline, all returned in memory. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/builtin.h"
#include "vtag/calib.h"
#include "vtag/caption.h"
#include "vtag/captioner.h"
#include "vtag/novelty.h"
#include "vtag/run.h"
#include "vtag/run_eval.h"

void vtag_run_eval_opts_defaults(vtag_run_eval_opts *o)
{
    memset(o, 0, sizeof *o);
    o->split = VTAG_DATA_SPLIT_TEST;
    vtag_tag_opts_default(&o->tag);
    o->write_baseline = 1;
}

/* Rows of each video, in order of first appearance. */
typedef struct groups {
    int64_t n;
    int64_t *start;     /* (n + 1) into rows */
    int64_t *rows;      /* (f->n) */
    const char **video; /* (n) borrowed from the features */
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
    size_t n1 = (size_t)f->n + 1;
    int64_t *first = malloc(n1 * sizeof *first); /* group of each row */
    int64_t *fill = calloc(n1, sizeof *fill);
    g->start = calloc(n1 + 1, sizeof *g->start);
    g->rows = malloc(n1 * sizeof *g->rows);
    g->video = malloc(n1 * sizeof *g->video);
    if (!first || !fill || !g->start || !g->rows || !g->video) {
        free(first);
        free(fill);
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
    for (int64_t r = 0; r < f->n; r++) g->rows[g->start[first[r]] + fill[first[r]]++] = r;
    free(fill);
    free(first);
    return VTAG_OK;
}

/* Frees items[0..done) and the array. */
static void items_free(vtag_tag_result *items, int64_t done)
{
    for (int64_t k = 0; items && k < done; k++) vtag_tag_result_free(&items[k]);
    free(items);
}

static int in_labels(void *user, const char *label)
{
    return vtag_data_find_name(user, label) >= 0;
}

/* Provenance (vtag/provenance.h): the checkpoint must come from the backbone
 * of the features and of the folder's backbone file when it records one, and
 * its vocabulary must be among the labels file's names. */
static int check_provenance(const char *dir, const vtag_captioner *c, const vtag_data_features *f,
                            const vtag_data_labels *labels, vtag_error *err)
{
    char *bb = vtag_run_path(dir, VTAG_RUN_FILE_BACKBONE, NULL);
    int rc = bb ? vtag_captioner_check_backbone_of(c, f, "evaluate", err)
                : vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    if (!rc && c->backbone_sha256 && vtag_is_file(bb))
        rc = vtag_provenance_check_backbone(c->path, &c->backbone, bb, "evaluate", err);
    if (!rc && labels)
        rc = vtag_captioner_check_labels(c, in_labels, (void *)labels, labels->path ? labels->path : "the labels", err);
    free(bb);
    return rc;
}

/* One checkpoint over the features: the tag results of every video. */
static int caption_run(vtag_ctx *ctx, const char *dir, const char *ckpt, const vtag_data_features *f, const groups *g,
                       const vtag_run_eval_opts *o, vtag_tag_results *out, vtag_error *err)
{
    const vtag_tag_opts *topt = &o->tag;
    vtag_captioner c;
    int32_t *seq = NULL, *len = NULL;
    vtag_tag_result *items = NULL;
    int64_t done = 0, L = 0;
    size_t n_seq = 0;
    int rc = vtag_captioner_load(&c, ckpt, err);
    if (!rc) rc = check_provenance(dir, &c, f, o->labels, err);
    if (rc) {
        vtag_captioner_free(&c);
        return rc;
    }
    if (o->progress) o->progress(o->user, ckpt, f->n);
    /* A video-level model captions one row per video made of its frames' rows:
     * its result for a video is one frame, the video's caption. */
    vtag_data_features vf = {0};
    groups vg = {0};
    const vtag_data_features *frames = f; /* the frame rows, for the novelty */
    const groups *fg = g;
    vtag_novelty nv;
    vtag_calib cal;
    memset(&cal, 0, sizeof cal);
    rc = vtag_novelty_load_beside(&nv, ckpt, err);
    if (!rc) rc = vtag_calib_load_beside(&cal, ckpt, c.vocab.size, err);
    if (!rc && c.model.cfg.frames > 0) {
        rc = vtag_data_features_by_video(f, c.model.cfg.frames, &vf, err);
        if (!rc) rc = group_rows(&vg, &vf, err);
        f = &vf, g = &vg;
    }
    if (!rc) rc = vtag_captioner_check_features(&c, f->fc_dim, f->att_dim, f->path, err);
    if (!rc) {
        L = c.model.cfg.max_length;
        if (vtag_mul_size((size_t)f->n, (size_t)L, &n_seq) || vtag_mul_size(n_seq + 1, sizeof *seq, &n_seq))
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: %lld rows: too many", f->path, (long long)f->n);
    }
    if (!rc) {
        seq = malloc(n_seq);
        len = malloc(((size_t)f->n + 1) * sizeof *len);
        items = calloc((size_t)g->n + 1, sizeof *items);
        if (!seq || !len || !items) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    }
    const int type = c.model.cfg.type;
    const vtag_rows rows = {f->n, f->att_k, type == VTAG_MODEL_ATT2IN ? NULL : f->fc,
                            type == VTAG_MODEL_FC ? NULL : f->att, NULL};
    if (!rc) {
        vtag_decode_opts d = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        rc = vtag_caption_rows(ctx, &c.model, &rows, &d, 50, seq, NULL, len, err);
    }
    double *scores = rc ? NULL : malloc(((size_t)c.vocab.size + 1) * sizeof *scores);
    if (!rc && !scores) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    for (int64_t k = 0; !rc && k < g->n; k++) {
        const int64_t *idx = g->rows + g->start[k], nk = g->start[k + 1] - g->start[k];
        rc = vtag_tag_aggregate_seq(&items[k], g->video[k], NULL, seq, len, idx, nk, L, c.vocab.tokens, c.vocab.size,
                                    topt, err);
        if (!rc) done++;
        /* the scores vtag tag gives the video (same rows, samples and seed) */
        if (!rc)
            rc = vtag_caption_label_scores(ctx, &c.model, &rows, idx, nk, VTAG_CAPTION_SCORE_SAMPLES_DEFAULT,
                                           VTAG_CAPTION_SCORE_SEED, scores, err);
        if (!rc) vtag_calib_apply(&cal, scores);
        if (!rc) rc = vtag_tag_apply_scores(&items[k], scores, c.vocab.tokens, c.vocab.size, topt, err);
        if (!rc) rc = vtag_tag_result_set_source(&items[k], ckpt, NULL, err);
        if (!rc && nv.dim > 0) { /* the same video's frames (both groupings keep first appearance order) */
            double novelty = 0;
            if (strcmp(fg->video[k], g->video[k]) != 0)
                rc = vtag_fail(err, VTAG_ERR_ARG, "eval: video rows out of order (%s)", g->video[k]);
            if (!rc) rc = vtag_novelty_rows(&nv, frames, fg->rows + fg->start[k], fg->start[k + 1] - fg->start[k],
                                            &novelty, err);
            if (!rc) vtag_tag_set_novelty(&items[k], novelty);
        }
    }
    free(scores);
    vtag_calib_free(&cal);
    vtag_novelty_free(&nv);
    if (!rc && !(rc = vtag_tag_results_adopt(out, items, g->n, err))) items = NULL;
    items_free(items, done);
    free(seq);
    free(len);
    groups_free(&vg);
    vtag_data_free_features(&vf);
    vtag_captioner_free(&c);
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

/* The built-in backbone's classifier on the fc rows: per video the mean of
 * its frames' probabilities, labels by score (ties: label order). A score is
 * kept as the file holds it, "%.6g" read back, so the baseline's figures are
 * the same whether it comes from memory or from the file. */
static int baseline_run(const char *bb_path, const vtag_data_features *f, const groups *g, vtag_tag_results *out,
                        vtag_error *err)
{
    vtag_builtin b;
    int rc = vtag_builtin_load(&b, bb_path, err);
    if (rc) return rc;
    const int64_t V = b.cfg.n_labels, D = b.cfg.widths[b.cfg.n_stages - 1];
    if (f->fc_dim != D) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: fc has %lld features, the backbone %s's classifier takes %lld",
                       f->path, (long long)f->fc_dim, bb_path, (long long)D);
        vtag_builtin_free(&b);
        return rc;
    }
    scored *s = malloc((size_t)V * sizeof *s);
    double *mean = malloc((size_t)V * sizeof *mean);
    float *probs = malloc((size_t)V * sizeof *probs);
    vtag_tag_label *tl = malloc((size_t)V * sizeof *tl);
    vtag_tag_result *items = calloc((size_t)g->n + 1, sizeof *items);
    int64_t done = 0;
    if (!s || !mean || !probs || !tl || !items) rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    for (int64_t k = 0; !rc && k < g->n; k++) {
        int64_t nf = g->start[k + 1] - g->start[k];
        for (int64_t v = 0; v < V; v++) mean[v] = 0;
        for (int64_t i = 0; !rc && i < nf; i++) {
            rc = vtag_builtin_classify(&b, f->fc + g->rows[g->start[k] + i] * D, 1, D, probs, err);
            for (int64_t v = 0; !rc && v < V; v++) mean[v] += probs[v];
        }
        for (int64_t v = 0; v < V; v++) s[v] = (scored){v, (float)(mean[v] / (double)(nf ? nf : 1))};
        qsort(s, (size_t)V, sizeof *s, by_score);
        for (int64_t v = 0; !rc && v < V; v++) {
            char num[32];
            if (!isfinite(s[v].score))
                rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: the baseline score of %s is not finite", f->path, g->video[k]);
            snprintf(num, sizeof num, "%.6g", (double)s[v].score);
            tl[v] = (vtag_tag_label){b.labels[s[v].label], 0, strtod(num, NULL)};
        }
        if (!rc) rc = vtag_tag_result_make(&items[k], g->video[k], NULL, NULL, tl, V, NULL, 0, NULL, 0, err);
        if (!rc) done++;
    }
    if (!rc && !(rc = vtag_tag_results_adopt(out, items, g->n, err))) items = NULL;
    items_free(items, done);
    free(s);
    free(mean);
    free(probs);
    free(tl);
    vtag_builtin_free(&b);
    return rc;
}

/* The predictions as `vtag backbone predict` lines, atomically. */
static int write_baseline(const vtag_tag_results *pred, const char *path, vtag_error *err)
{
    vtag_atomic a;
    int rc = vtag_atomic_open(&a, path, err);
    for (int64_t k = 0; !rc && k < pred->count; k++) {
        const vtag_tag_result *p = &pred->items[k];
        json_t *labs = json_array();
        int bad = !labs; /* a label json_pack refuses fails the line, never drops out */
        for (int64_t v = 0; !bad && v < p->n_labels; v++)
            bad = json_array_append_new(labs, json_pack("{s:s, s:f}", "label", p->labels[v].label, "score",
                                                        p->labels[v].score)) != 0;
        if (bad) json_decref(labs);
        json_t *line = bad ? NULL : json_pack("{s:s, s:o, s:[]}", "video", p->video, "labels", labs, "frames");
        if (!line)
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot encode the line of %s", path, p->video);
        else if (json_dumpf(line, a.f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) ||
                 fputc('\n', a.f) == EOF)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        json_decref(line);
    }
    if (rc) vtag_atomic_abort(&a);
    else rc = vtag_atomic_commit(&a, err);
    return rc;
}

void vtag_run_eval_result_free(vtag_run_eval_result *r)
{
    for (int i = 0; i < r->n_runs; i++) {
        vtag_tag_results_free(&r->results[i]);
        free(r->names[i]);
    }
    for (int i = 0; i < r->n_logs; i++) free((char *)r->logs[i].path);
    vtag_tag_results_free(&r->baseline);
    free(r->baseline_path);
    memset(r, 0, sizeof *r);
}



/* The caption runs of the folder's trained checkpoints, into r. */
static int caption_runs(vtag_ctx *ctx, const char *dir, const vtag_run_eval_opts *o, const vtag_data_features *f,
                        const groups *g, vtag_run_eval_result *r, vtag_error *err)
{
    vtag_run_trained *list = NULL;
    int n = 0, rc = vtag_run_list_trained(dir, o->model, &list, &n, err);
    if (!rc && n > VTAG_RUN_EVAL_MAX) rc = vtag_fail(err, VTAG_ERR_ARG, "eval: too many runs");
    for (int i = 0; !rc && i < n; i++) {
        rc = caption_run(ctx, dir, list[i].checkpoint, f, g, o, &r->results[r->n_runs], err);
        if (rc) break;
        r->names[r->n_runs++] = list[i].name; /* taken over */
        list[i].name = NULL;
        if (list[i].log) {
            r->logs[r->n_logs++] = (vtag_eval_log){r->names[r->n_runs - 1], list[i].log};
            list[i].log = NULL;
        }
    }
    if (!rc && r->n_runs == 0)
        rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: no trained %s model", dir, o->model ? o->model : "caption");
    vtag_run_trained_free(&list, n);
    return rc;
}

int vtag_run_eval(vtag_ctx *ctx, const char *dir, const vtag_run_eval_opts *o, vtag_run_eval_result *r,
                  vtag_error *err)
{
    memset(r, 0, sizeof *r);
    const char *split = vtag_data_split_name(o->split);
    char *feats = vtag_run_path(dir, VTAG_RUN_FILE_FEATURES, split);
    char *bb = vtag_run_path(dir, VTAG_RUN_FILE_BACKBONE, NULL);
    char *base = vtag_run_path(dir, VTAG_RUN_FILE_BASELINE, split);
    vtag_data_features f;
    memset(&f, 0, sizeof f);
    groups g = {0};
    int rc = !feats || !bb || !base ? vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory") : VTAG_OK;
    if (!rc && !vtag_is_file(feats))
        rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: missing (has vtag pipeline --out %s finished?)", feats, dir);
    if (!rc) rc = vtag_data_read_features(&f, feats, err);
    if (!rc) rc = group_rows(&g, &f, err);
    if (!rc) rc = vtag_run_read_tag_order(dir, &r->keep_tag_order, err);
    if (!rc) rc = caption_runs(ctx, dir, o, &f, &g, r, err);
    if (!rc && vtag_is_file(bb)) {
        rc = baseline_run(bb, &f, &g, &r->baseline, err);
        r->has_baseline = !rc;
        if (!rc && o->write_baseline && !(rc = write_baseline(&r->baseline, base, err))) r->baseline_path = base, base = NULL;
    }
    groups_free(&g);
    vtag_data_free_features(&f);
    free(feats);
    free(bb);
    free(base);
    if (rc) vtag_run_eval_result_free(r);
    return rc;
}

/* ---- calibration (vtag_run_calibrate) ---------------------------------------------- */
int vtag_run_calibrate(vtag_ctx *ctx, const char *checkpoint, const char *val_feats, const vtag_data_labels *labels,
                       vtag_run_calibrate_info *info, vtag_error *err)
{
    if (info) memset(info, 0, sizeof *info);
    vtag_captioner c;
    vtag_data_features f, vf;
    memset(&f, 0, sizeof f);
    memset(&vf, 0, sizeof vf);
    groups g = {0};
    double *scores = NULL;
    unsigned char *truth = NULL;
    int rc = vtag_captioner_load(&c, checkpoint, err);
    if (rc) return rc;
    const vtag_data_features *rows_of = &f;
    rc = vtag_data_read_features(&f, val_feats, err);
    if (!rc) rc = vtag_captioner_check_backbone_of(&c, &f, "calibrate", err);
    if (!rc && c.model.cfg.frames > 0 && !(rc = vtag_data_features_by_video(&f, c.model.cfg.frames, &vf, err)))
        rows_of = &vf;
    if (!rc) rc = vtag_captioner_check_features(&c, rows_of->fc_dim, rows_of->att_dim, rows_of->path, err);
    if (!rc) rc = group_rows(&g, rows_of, err);
    const int64_t V1 = c.vocab.size + 1;
    size_t cells = 0;
    if (!rc && vtag_mul_size((size_t)g.n + 1, (size_t)V1, &cells))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: %lld videos: too many", val_feats, (long long)g.n);
    if (!rc) {
        scores = calloc(cells, sizeof *scores);
        truth = calloc(cells, 1);
        if (!scores || !truth) rc = vtag_fail(err, VTAG_ERR_NOMEM, "calibrate: out of memory");
    }
    const int type = c.model.cfg.type;
    const vtag_rows rows = {rows_of->n, rows_of->att_k, type == VTAG_MODEL_ATT2IN ? NULL : rows_of->fc,
                            type == VTAG_MODEL_FC ? NULL : rows_of->att, NULL};
    int64_t n = 0; /* videos with labels */
    for (int64_t k = 0; !rc && k < g.n; k++) {
        const int64_t e = vtag_data_find_video(labels, g.video[k]);
        if (e < 0) continue;
        const vtag_data_entry *en = &labels->entries[e];
        unsigned char *t = truth + n * V1;
        const char *names[2] = {en->class1, en->class2};
        for (int j = 0; j < 2 + en->n_tags; j++) {
            const int32_t id = vtag_data_find_token(&c.vocab, j < 2 ? names[j] : en->tags[j - 2]);
            if (id > 0 && id < V1) t[id] = 1;
        }
        rc = vtag_caption_label_scores(ctx, &c.model, &rows, g.rows + g.start[k], g.start[k + 1] - g.start[k],
                                       VTAG_CAPTION_SCORE_SAMPLES_DEFAULT, VTAG_CAPTION_SCORE_SEED, scores + n * V1, err);
        n++;
    }
    if (!rc && n == 0)
        rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: none of its videos is in %s: nothing to calibrate on", val_feats,
                       labels->path ? labels->path : "the labels");
    vtag_calib cal;
    memset(&cal, 0, sizeof cal);
    char *path = rc ? NULL : vtag_calib_path(checkpoint);
    if (!rc && !path) rc = vtag_fail(err, VTAG_ERR_NOMEM, "calibrate: out of memory");
    if (!rc) rc = vtag_calib_fit(&cal, scores, truth, n, c.vocab.size, VTAG_CALIB_SHRINK, err);
    if (!rc) rc = vtag_calib_save(&cal, path, err);
    if (!rc && info) info->videos = n, info->labels = c.vocab.size, info->a0 = cal.a0, info->b0 = cal.b0;
    vtag_calib_free(&cal);
    free(path);
    free(scores);
    free(truth);
    groups_free(&g);
    vtag_data_free_features(&vf);
    vtag_data_free_features(&f);
    vtag_captioner_free(&c);
    return rc;
}

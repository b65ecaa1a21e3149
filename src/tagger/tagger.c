/* The tagger: frames of one video → backbone features → one caption per frame. */
#include "vtag/tagger.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vtag/backbone.h"
#include "vtag/data.h"

struct vtag_tagger {
    vtag_backbone_t *backbone;
    vtag_backbone_info info;
    vtag_model model;
    vtag_data_vocab vocab;
    vtag_video_sampler sampler;
    vtag_video_options vopt;
    int beam;
    char *model_path, *backbone_path;
    float *images; /* [max_batch, 3, S, S] */
};

void vtag_tagger_options_default(vtag_tagger_options *o)
{
    memset(o, 0, sizeof *o);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Fills t->model_path, t->backbone_path and the sampler from DIR/pipeline.json. */
static int from_dir(vtag_tagger_t *t, const vtag_tagger_options *o, vtag_error *err)
{
    char *mpath = join(o->dir, "pipeline.json");
    if (!mpath) return vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    json_error_t je;
    /* is_file first: jansson's open would block on a FIFO */
    json_t *m = is_file(mpath) ? json_load_file(mpath, 0, &je) : NULL;
    if (!m) {
        int rc = is_file(mpath)
                     ? vtag_fail(err, VTAG_ERR_FORMAT, "%s:%d: %s", mpath, je.line, je.text)
                     : vtag_fail(err, VTAG_ERR_IO, "%s: no pipeline here (run vtag pipeline --out %s first)",
                                 mpath, o->dir);
        free(mpath);
        return rc;
    }
    int rc = 0;
    const char *bb = json_string_value(json_object_get(m, "backbone"));
    const char *sample = json_string_value(json_object_get(m, "sample"));
    if (!bb || !sample) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: backbone or sample missing", mpath);
        goto out;
    }
    t->backbone_path = strcmp(bb, "built-in") == 0 ? join(o->dir, "backbone.safetensors") : strdup(bb);
    if (!o->sampler && (rc = vtag_video_sampler_parse(&t->sampler, sample, err))) goto out;
    json_int_t size = json_integer_value(json_object_get(m, "size"));
    if (!o->size && size > 0) t->vopt.size = size;

    /* The model: the one asked for, else the best by validation CIDEr-D. */
    const char *names[] = {"topdown", "att2in", "fc"};
    const char *pick = o->model;
    if (!pick) {
        double best = -2;
        json_t *summary = json_object_get(m, "summary");
        for (int i = 0; i < 3; i++) {
            json_t *s = json_object_get(summary, names[i]);
            if (!s) continue;
            double v = json_number_value(json_object_get(s, "val_cider_d_scst"));
            double x = json_number_value(json_object_get(s, "val_cider_d_xe"));
            if (x > v) v = x;
            if (v > best) best = v, pick = names[i];
        }
    }
    for (int i = 0; i < 3 && !t->model_path; i++) {
        const char *name = pick ? pick : names[i];
        char file[64];
        snprintf(file, sizeof file, "%s.safetensors", name);
        char *p = join(o->dir, file);
        if (p && !is_file(p)) {
            free(p);
            snprintf(file, sizeof file, "%s-xe.safetensors", name);
            p = join(o->dir, file);
            if (p && !is_file(p)) free(p), p = NULL;
        }
        t->model_path = p;
        if (pick) break;
    }
    if (!t->model_path)
        rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: no trained %s model (vtag pipeline has not finished it)",
                       o->dir, pick ? pick : "caption");
out:
    json_decref(m);
    free(mpath);
    return rc;
}

int vtag_tagger_open(vtag_tagger_t **out, vtag_ctx *ctx, const vtag_tagger_options *o, vtag_error *err)
{
    (void)ctx;
    *out = NULL;
    if (!o || (!o->dir && (!o->checkpoint || !o->backbone)))
        return vtag_fail(err, VTAG_ERR_ARG, "tagger: give a pipeline folder, or a checkpoint and a backbone");
    vtag_tagger_t *t = calloc(1, sizeof *t);
    if (!t) return vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    vtag_video_sampler_default(&t->sampler);
    if (o->sampler) t->sampler = *o->sampler;
    vtag_video_options_default(&t->vopt);
    t->vopt.size = 0;
    t->vopt.threads = o->decode_threads;
    t->beam = o->beam;
    int rc = 0;
    if (o->dir) {
        rc = from_dir(t, o, err);
    } else {
        t->model_path = strdup(o->checkpoint);
        t->backbone_path = strdup(o->backbone);
        if (!t->model_path || !t->backbone_path) rc = vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    }
    if (o->size) t->vopt.size = o->size;

    char *vocab_json = NULL;
    if (!rc) rc = vtag_checkpoint_load(&t->model, &vocab_json, t->model_path, err);
    if (!rc) rc = vtag_data_decode_vocab(&t->vocab, vocab_json, t->model_path, err);
    free(vocab_json);
    if (!rc && t->vocab.size != t->model.cfg.vocab_size)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.vocab has %lld labels, the model %lld", t->model_path,
                       (long long)t->vocab.size, (long long)t->model.cfg.vocab_size);
    if (!rc) {
        vtag_backbone_options bo;
        vtag_backbone_options_default(&bo);
        bo.size = t->vopt.size;
        rc = vtag_backbone_open(&t->backbone, t->backbone_path, &bo, err);
    }
    if (!rc) {
        t->info = *vtag_backbone_get_info(t->backbone);
        t->vopt.size = t->info.size;
        const vtag_model_config *c = &t->model.cfg;
        if (c->type != VTAG_MODEL_ATT2IN && c->fc_feat_size != t->info.d_fc)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: the model expects fc of %lld features, the backbone %s gives %lld",
                           t->model_path, (long long)c->fc_feat_size, t->backbone_path, (long long)t->info.d_fc);
        else if (c->type != VTAG_MODEL_FC && c->att_feat_size != t->info.d_att)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: the model expects att of %lld features, the backbone %s gives %lld",
                           t->model_path, (long long)c->att_feat_size, t->backbone_path, (long long)t->info.d_att);
    }
    if (!rc) {
        int64_t s = t->info.size;
        t->images = malloc((size_t)(t->info.max_batch * 3 * s * s) * sizeof(float));
        if (!t->images) rc = vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    }
    if (rc) {
        vtag_tagger_close(&t);
        return rc;
    }
    *out = t;
    return 0;
}

void vtag_tagger_result_free(vtag_tagger_result *r)
{
    if (!r) return;
    free(r->pts_seconds);
    free(r->seq);
    free(r->len);
    memset(r, 0, sizeof *r);
}

/* Grows the per-video feature arrays to hold `need` frames. */
static int grow(float **fc, float **att, double **pts, int64_t *cap, int64_t need, int64_t dfc, int64_t datt)
{
    if (need <= *cap) return 0;
    int64_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    float *f = realloc(*fc, (size_t)(n * dfc) * sizeof(float));
    if (!f) return -1;
    *fc = f;
    float *a = realloc(*att, (size_t)(n * (datt ? datt : 1)) * sizeof(float));
    if (!a) return -1;
    *att = a;
    double *p = realloc(*pts, (size_t)n * sizeof(double));
    if (!p) return -1;
    *pts = p;
    *cap = n;
    return 0;
}

int vtag_tagger_run(vtag_tagger_t *t, vtag_ctx *ctx, const char *path, vtag_tagger_result *r, vtag_error *err)
{
    vtag_tagger_result_free(r);
    const int64_t s = t->info.size, dfc = t->info.d_fc, datt = t->info.k_att * t->info.d_att;
    const int64_t L = t->model.cfg.max_length, batch = t->info.max_batch;
    const int need_att = t->model.cfg.type != VTAG_MODEL_FC;
    vtag_video_t *v = NULL;
    float *fc = NULL, *att = NULL;
    double *pts = NULL;
    int64_t cap = 0, n = 0, pending = 0;
    double t_decode = 0, t_backbone = 0, t0 = now_seconds();
    int rc = vtag_video_open(&v, path, &t->sampler, &t->vopt, err);
    while (!rc) {
        vtag_video_frame fr;
        int got = 0;
        rc = vtag_video_next(v, &fr, &got, err);
        if (rc) break;
        if (got) {
            if (grow(&fc, &att, &pts, &cap, n + pending + 1, dfc, need_att ? datt : 0)) {
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            vtag_video_normalize(fr.rgb, s, t->info.mean, t->info.std, t->images + pending * 3 * s * s);
            pts[n + pending] = fr.pts_seconds;
            pending++;
        }
        if (pending == batch || (!got && pending > 0)) {
            double tb = now_seconds();
            t_decode += tb - t0;
            rc = vtag_backbone_run(t->backbone, ctx, t->images, pending, fc + n * dfc,
                                   need_att ? att + n * datt : NULL, err);
            n += pending;
            pending = 0;
            t0 = now_seconds();
            t_backbone += t0 - tb;
        }
        if (!got) break;
    }
    if (!rc) t_decode += now_seconds() - t0;
    if (v) {
        vtag_video_stats st;
        vtag_video_get_stats(v, &st);
        r->damaged_packets = st.damaged_packets;
        vtag_video_close(&v);
    }
    if (!rc && n == 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no frame could be decoded", path);
    if (!rc) {
        r->seq = malloc((size_t)(n * L) * sizeof(int32_t));
        r->len = malloc((size_t)n * sizeof(int32_t));
        if (!r->seq || !r->len) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!rc) {
        double tc = now_seconds();
        vtag_rows rows = {n, t->info.k_att, t->model.cfg.type == VTAG_MODEL_ATT2IN ? NULL : fc,
                          need_att ? att : NULL, NULL};
        vtag_decode_opts d = {t->beam > 1 ? VTAG_DECODE_BEAM : VTAG_DECODE_GREEDY, t->beam > 1 ? t->beam : 1,
                              1.0f, 0};
        rc = vtag_caption_rows(ctx, &t->model, &rows, &d, 50, r->seq, NULL, r->len, err);
        r->seconds_caption = now_seconds() - tc;
    }
    free(fc);
    free(att);
    if (rc) {
        free(pts);
        int64_t damaged = r->damaged_packets;
        vtag_tagger_result_free(r);
        r->damaged_packets = damaged;
        return rc;
    }
    r->n_frames = n;
    r->max_length = L;
    r->pts_seconds = pts;
    r->seconds_decode = t_decode;
    r->seconds_backbone = t_backbone;
    return 0;
}

const char *const *vtag_tagger_tokens(const vtag_tagger_t *t) { return t->vocab.tokens; }
int64_t vtag_tagger_vocab_size(const vtag_tagger_t *t) { return t->vocab.size; }
const vtag_model *vtag_tagger_model(const vtag_tagger_t *t) { return &t->model; }
const char *vtag_tagger_model_path(const vtag_tagger_t *t) { return t->model_path; }
const char *vtag_tagger_backbone_path(const vtag_tagger_t *t) { return t->backbone_path; }

void vtag_tagger_close(vtag_tagger_t **tp)
{
    if (!tp || !*tp) return;
    vtag_tagger_t *t = *tp;
    vtag_backbone_close(&t->backbone);
    vtag_model_free(&t->model);
    vtag_data_free_vocab(&t->vocab);
    free(t->model_path);
    free(t->backbone_path);
    free(t->images);
    free(t);
    *tp = NULL;
}

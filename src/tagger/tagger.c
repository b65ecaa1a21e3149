/* The tagger: frames of one video → backbone features → one caption per frame.
 * The tagger holds what is loaded once (backbone weights, caption model,
 * vocabulary, settings) and is only read while tagging; a worker holds what
 * a run writes (the frame batch, the backbone's activations).
 *
 * With several threads and a plan that seeks for (about) every target, a
 * video's targets are shared out between as many readers on threads of
 * their own (vtag_video_share), each decoding with one thread (FFmpeg's
 * frame threads refill their pipeline at every seek); the calling thread
 * takes the frames in target order into the backbone's batches. Readers and
 * backbone take turns: the readers decode until their ring (two batches) is
 * full or the video ends, then the backbone runs on a batch while they wait.
 * The readers fill the cores; running the backbone beside them only makes
 * its OpenMP threads spin at barriers against the decoders. The batches are
 * those of one reader: the same bits. */
#include "vtag/tagger.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/backbone.h"
#include "vtag/captioner.h"
#include "vtag/calib.h"
#include "vtag/novelty.h"
#include "vtag/run.h"
#include "vtag/safetensors.h"

struct vtag_tagger {
    vtag_backbone_t *backbone;
    vtag_backbone_info info;
    vtag_captioner cap; /* the model and its vocabulary */
    vtag_video_sampler sampler;
    vtag_video_options vopt;
    int beam;
    int serial; /* vtag_tagger_options.serial */
    int64_t samples;
    vtag_novelty novelty; /* dim 0: the checkpoint has none */
    vtag_calib calib;     /* its label scores' calibration; n_labels 0: none */
    char *model_path, *backbone_path;
    vtag_tagger_worker *own; /* vtag_tagger_run's and vtag_tagger_tag's */
};

struct vtag_tagger_worker {
    const vtag_tagger_t *t;
    vtag_backbone_worker *bb;
    float *images; /* [max_batch, 3, S, S] */
    size_t images_bytes;
};

void vtag_tagger_options_default(vtag_tagger_options *o)
{
    memset(o, 0, sizeof *o);
}

/* Fills t->model_path, t->backbone_path, the sampler and the frame size from
 * the run folder o->dir: its settings, and its best checkpoint on validation
 * (the XE one when it beat SCST). */
static int from_dir(vtag_tagger_t *t, const vtag_tagger_options *o, vtag_error *err)
{
    vtag_run *run = NULL;
    vtag_run_choice best = {0};
    int rc = vtag_run_open(&run, o->dir, err);
    if (!rc && !(t->backbone_path = strdup(vtag_run_backbone(run))))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    if (!rc && !o->sampler) rc = vtag_video_sampler_parse(&t->sampler, vtag_run_sample(run), err);
    if (!rc && !o->size && vtag_run_size(run) > 0) t->vopt.size = vtag_run_size(run);
    if (!rc) rc = vtag_run_best(run, o->model, &best, err);
    if (!rc) t->model_path = best.checkpoint, best.checkpoint = NULL;
    vtag_run_choice_free(&best);
    vtag_run_close(&run);
    return rc;
}

/* "the backbone PATH", the features' source in a size mismatch. */
static int check_features(const vtag_tagger_t *t, vtag_error *err)
{
    size_t n = strlen(t->backbone_path) + 16;
    char *what = malloc(n);
    if (!what) return vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    snprintf(what, n, "the backbone %s", t->backbone_path);
    /* a video-level model attends over the frames' fc vectors, not the backbone's att */
    const int64_t d_att = t->cap.model.cfg.frames > 0 ? t->info.d_fc : t->info.d_att;
    int rc = vtag_captioner_check_features(&t->cap, t->info.d_fc, d_att, what, err);
    free(what);
    return rc;
}

static int in_labels(void *user, const char *label)
{
    json_t *labels = user;
    size_t i;
    json_t *v;
    json_array_foreach(labels, i, v) if (json_is_string(v) && strcmp(json_string_value(v), label) == 0) return 1;
    return 0;
}

/* A backbone built without label names has "label<i>" for output i: no
 * label set to compare. */
static int unnamed(json_t *labels)
{
    size_t i;
    json_t *v;
    char want[32];
    json_array_foreach(labels, i, v)
    {
        snprintf(want, sizeof want, "label%zu", i);
        if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) return 0;
    }
    return 1;
}

/* Provenance (vtag/provenance.h): the backbone file must be the one the
 * checkpoint's features came from (when it records one); from a run folder,
 * a built-in backbone's label names must hold the checkpoint's vocabulary
 * (UNK aside). */
static int check_provenance(const vtag_tagger_t *t, int from_dir, vtag_error *err)
{
    int rc = VTAG_OK;
    if (t->cap.backbone_sha256)
        rc = vtag_provenance_check_backbone(t->model_path, &t->cap.backbone, t->backbone_path, "tag", err);
    json_t *d = rc || !from_dir ? NULL : json_loads(t->info.description, 0, NULL);
    const char *kind = json_string_value(json_object_get(d, "kind"));
    if (!kind || strcmp(kind, "builtin") != 0) {
        json_decref(d);
        return rc;
    }
    json_decref(d);
    vtag_st_file f;
    if ((rc = vtag_st_open(&f, t->backbone_path, err))) return rc;
    const char *text = vtag_st_meta(&f, VTAG_PROVENANCE_BACKBONE_META);
    json_t *meta = text ? json_loads(text, 0, NULL) : NULL;
    json_t *labels = json_object_get(meta, "labels");
    if (json_is_array(labels) && !unnamed(labels)) {
        size_t n = strlen(t->backbone_path) + 32;
        char *where = malloc(n);
        if (!where) rc = vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
        else snprintf(where, n, "the labels of the backbone %s", t->backbone_path);
        if (!rc) rc = vtag_captioner_check_labels(&t->cap, in_labels, labels, where, err);
        free(where);
    }
    json_decref(meta);
    vtag_st_close(&f);
    return rc;
}

/* The novelty model and the scores' calibration beside the checkpoint
 * (vtag_novelty_path, vtag_calib_path), when there are. */
static int load_beside(vtag_tagger_t *t, vtag_error *err)
{
    int rc = vtag_novelty_load_beside(&t->novelty, t->model_path, err);
    if (!rc) rc = vtag_calib_load_beside(&t->calib, t->model_path, t->cap.vocab.size, err);
    if (!rc && t->novelty.dim > 0 && t->novelty.dim != t->info.d_fc)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: its novelty model has %lld features, the backbone %s's fc %lld",
                       t->model_path, (long long)t->novelty.dim, t->backbone_path, (long long)t->info.d_fc);
    return rc;
}

/* The caption model's load, on a thread of its own. */
typedef struct caption_load {
    vtag_tagger_t *t;
    int rc;
    vtag_error err;
} caption_load;

static void *caption_load_main(void *arg)
{
    caption_load *c = arg;
    c->rc = vtag_captioner_load(&c->t->cap, c->t->model_path, &c->err);
    return NULL;
}

/* The caption model and the backbone. With threads to spare (ctx), the
 * caption model loads on a thread of its own while this one opens the
 * backbone: both are mostly page faults and copies of tens of MB, each on a
 * core. Each loads as it would alone (the same bits); the error is the one
 * loading them in turn would give (the caption model's first). */
static int load_models(vtag_tagger_t *t, const vtag_ctx *ctx, vtag_error *err)
{
    caption_load c = {t, VTAG_OK, {0}};
    pthread_t tid;
    const int threaded = ctx && ctx->threads > 1 && pthread_create(&tid, NULL, caption_load_main, &c) == 0;
    if (!threaded) {
        caption_load_main(&c);
        if (c.rc) {
            if (err) *err = c.err;
            return c.rc;
        }
    }
    vtag_backbone_options bo;
    vtag_backbone_options_default(&bo);
    bo.size = t->vopt.size;
    vtag_error be = {0};
    const int brc = vtag_backbone_open(&t->backbone, t->backbone_path, &bo, &be);
    if (threaded) pthread_join(tid, NULL);
    const int rc = c.rc ? c.rc : brc;
    if (rc && err) *err = c.rc ? c.err : be;
    return rc;
}

int vtag_tagger_open(vtag_tagger_t **out, vtag_ctx *ctx, const vtag_tagger_options *o, vtag_error *err)
{
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
    t->vopt.protocols = o->protocols;
    t->beam = o->beam;
    t->serial = o->serial;
    t->samples = o->samples > 0 ? o->samples : VTAG_CAPTION_SCORE_SAMPLES_DEFAULT;
    int rc = 0;
    if (o->dir) {
        rc = from_dir(t, o, err);
    } else {
        t->model_path = strdup(o->checkpoint);
        t->backbone_path = strdup(o->backbone);
        if (!t->model_path || !t->backbone_path) rc = vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    }
    if (o->size) t->vopt.size = o->size;

    if (!rc) rc = load_models(t, ctx, err);
    if (!rc) {
        t->info = *vtag_backbone_get_info(t->backbone);
        t->vopt.size = t->info.size;
        rc = check_features(t, err);
        if (!rc) rc = load_beside(t, err);
        if (!rc) rc = check_provenance(t, o->dir != NULL, err);
    }
    if (!rc) rc = vtag_tagger_worker_open(&t->own, t, err);
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
    free(r->scores);
    memset(r, 0, sizeof *r);
}

/* A video-level model's one row (vtag_data_video_row): *fc [n, dfc] becomes
 * [1, dfc] and *att [1, T, dfc]; *n becomes 1. */
static int video_row(float **fc, float **att, int64_t *n, int64_t dfc, int64_t T, const char *path, vtag_error *err)
{
    size_t bytes;
    if (vtag_mul_size((size_t)T * sizeof(float), (size_t)dfc, &bytes))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: %lld frames of %lld features is too large", path, (long long)T,
                         (long long)dfc);
    float *vfc = malloc((size_t)dfc * sizeof *vfc), *vatt = malloc(bytes);
    int rc = vfc && vatt ? vtag_data_video_row(*fc, *n, dfc, T, vfc, vatt, err)
                         : vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    if (rc) {
        free(vfc);
        free(vatt);
        return rc;
    }
    free(*fc);
    free(*att);
    *fc = vfc, *att = vatt, *n = 1;
    return VTAG_OK;
}

/* Grows the per-video feature arrays to hold `need` frames. */

int vtag_tagger_worker_open(vtag_tagger_worker **out, const vtag_tagger_t *t, vtag_error *err)
{
    *out = NULL;
    vtag_tagger_worker *w = calloc(1, sizeof *w);
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    w->t = t;
    int rc = vtag_backbone_worker_open(&w->bb, t->backbone, err);
    size_t n = 0; /* S and the batch are bounded at the backbone's open; checked all the same */
    if (!rc && (vtag_mul_size((size_t)t->info.max_batch * 3, (size_t)(t->info.size * t->info.size), &n) ||
                vtag_mul_size(n, sizeof(float), &w->images_bytes)))
        rc = vtag_fail(err, VTAG_ERR_ARG, "tagger: a batch of %lld frames of %lld px is too large",
                       (long long)t->info.max_batch, (long long)t->info.size);
    if (!rc && !(w->images = malloc(w->images_bytes))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "tagger: out of memory");
    if (rc) {
        vtag_tagger_worker_close(&w);
        return rc;
    }
    *out = w;
    return VTAG_OK;
}

size_t vtag_tagger_worker_bytes(const vtag_tagger_worker *w)
{
    return sizeof *w + w->images_bytes + vtag_backbone_worker_bytes(w->bb);
}

void vtag_tagger_worker_close(vtag_tagger_worker **wp)
{
    if (!wp || !*wp) return;
    vtag_backbone_worker_close(&(*wp)->bb);
    free((*wp)->images);
    free(*wp);
    *wp = NULL;
}

/* ---- frames → features ------------------------------------------------------------ */

/* One video's features as the frames come: fc [n, dfc], att [n, datt] (needs_att), pts [n]. */
typedef struct feats {
    float *fc, *att;
    float *pix; /* [cap, VTAG_NOVELTY_PIX] the frames' pixel statistics (with a pixel novelty model) */
    double *pts;
    int64_t cap, n, pending; /* pending: frames in the worker's batch, not yet through the backbone */
    double t_backbone;
} feats;

/* Whether the caption model reads the backbone's att (frame-level att2in and topdown). */
static int needs_att(const vtag_tagger_t *t)
{
    return t->cap.model.cfg.type != VTAG_MODEL_FC && t->cap.model.cfg.frames == 0;
}

/* Room in f for need rows: fc, att (datt values a row, 0: none), pts and, with pix, the pixel statistics. */
static int grow(feats *f, int64_t need, int64_t dfc, int64_t datt, int pix)
{
    if (need <= f->cap) return 0; /* pix is the same for every frame of a tagger */
    int64_t n = f->cap ? f->cap : 16;
    while (n < need) n *= 2;
    float *a = realloc(f->fc, (size_t)(n * dfc) * sizeof(float));
    if (!a) return -1;
    f->fc = a;
    a = realloc(f->att, (size_t)(n * (datt ? datt : 1)) * sizeof(float));
    if (!a) return -1;
    f->att = a;
    double *p = realloc(f->pts, (size_t)n * sizeof(double));
    if (!p) return -1;
    f->pts = p;
    if (pix) {
        a = realloc(f->pix, (size_t)(n * VTAG_NOVELTY_PIX) * sizeof(float));
        if (!a) return -1;
        f->pix = a;
    }
    f->cap = n;
    return 0;
}

/* Frame rgb (time pts) into the worker's batch. */
static int add_frame(vtag_tagger_worker *w, feats *f, const uint8_t *rgb, double pts, const char *path,
                     vtag_error *err)
{
    const vtag_tagger_t *t = w->t;
    const int64_t s = t->info.size, datt = t->info.k_att * t->info.d_att;
    const int pix = t->novelty.pix_mean != NULL;
    if (grow(f, f->n + f->pending + 1, t->info.d_fc, needs_att(t) ? datt : 0, pix))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    if (pix) vtag_novelty_pixel_stats(rgb, s, f->pix + (f->n + f->pending) * VTAG_NOVELTY_PIX);
    vtag_video_normalize(rgb, s, t->info.mean, t->info.std, w->images + f->pending * 3 * s * s);
    f->pts[f->n + f->pending] = pts;
    f->pending++;
    return VTAG_OK;
}

/* The batch through the backbone when it is full (or, at the end, not empty). */
static int run_batch(vtag_tagger_worker *w, vtag_ctx *ctx, feats *f, int end, vtag_error *err)
{
    const vtag_tagger_t *t = w->t;
    if (f->pending == 0 || (!end && f->pending < t->info.max_batch)) return VTAG_OK;
    const int64_t dfc = t->info.d_fc, datt = t->info.k_att * t->info.d_att;
    const double tb = vtag_seconds();
    int rc = vtag_backbone_worker_run(w->bb, ctx, w->images, f->pending, f->fc + f->n * dfc,
                                      needs_att(t) ? f->att + f->n * datt : NULL, err);
    f->n += f->pending;
    f->pending = 0;
    f->t_backbone += vtag_seconds() - tb;
    return rc;
}

/* One reader, then the backbone, in turn on this thread. */
static int frames_serial(vtag_tagger_worker *w, vtag_ctx *ctx, vtag_video_t *v, const char *path, feats *f,
                         vtag_error *err)
{
    int rc = VTAG_OK;
    for (int got = 1; !rc && got;) {
        vtag_video_frame fr;
        rc = vtag_video_next(v, &fr, &got, err);
        if (!rc && got) rc = add_frame(w, f, fr.rgb, fr.pts_seconds, path, err);
        if (!rc) rc = run_batch(w, ctx, f, !got, err);
    }
    return rc;
}

/* The readers run this many backbone batches ahead of it at most. */
#define RING_BATCHES 2

typedef struct shared_video shared_video;

typedef struct part {
    shared_video *sv;
    vtag_video_t *v;
    int index;
    int64_t next; /* (mu) this part's targets below next are in the ring, or gaps */
    int failed;   /* (mu) its reader stopped at target next, with err */
    vtag_error err;
} part;

struct shared_video {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t n_targets;
    int parts;
    int *owner;       /* [n_targets] the part of each target (vtag_video_share_plan) */
    int stop;         /* (mu) the backbone side has left: readers stop */
    int idle;         /* (mu) readers waiting for a slot, or finished */
    int64_t consumed; /* (mu) the backbone side's next target */
    int64_t ring_n;   /* target i is in slot i % ring_n */
    size_t frame_bytes;
    uint8_t *rgb;  /* [ring_n, S, S, 3] */
    double *pts;   /* [ring_n] */
    uint8_t *have; /* [ring_n] 1: a frame, 0: a gap (nothing on screen at the target) */
    part *p;       /* [parts] */
};

/* (mu held) Waits until target i has its slot; 0: stop. */
static int wait_slot(shared_video *sv, int64_t i)
{
    if (sv->stop || i < sv->consumed + sv->ring_n) return !sv->stop;
    sv->idle++;
    while (!sv->stop && i >= sv->consumed + sv->ring_n) {
        pthread_cond_broadcast(&sv->cv); /* what this part has published, before it sleeps */
        pthread_cond_wait(&sv->cv, &sv->mu);
    }
    sv->idle--;
    return !sv->stop;
}

/* (mu held) This part's targets in [p->next, upto) are gaps; 0: stop. */
static int mark_gaps(part *p, int64_t upto)
{
    shared_video *sv = p->sv;
    for (; p->next < upto; p->next++) {
        if (sv->owner[p->next] != p->index) continue;
        if (!wait_slot(sv, p->next)) return 0;
        sv->have[p->next % sv->ring_n] = 0;
    }
    return 1;
}

/* A reader's thread: its targets' frames into the ring, in order. */
static void *part_main(void *arg)
{
    part *p = arg;
    shared_video *sv = p->sv;
    for (int go = 1; go;) {
        vtag_video_frame fr;
        vtag_error e = {0};
        int got = 0;
        const int rc = vtag_video_next(p->v, &fr, &got, &e);
        pthread_mutex_lock(&sv->mu);
        go = mark_gaps(p, rc ? p->next : got ? fr.index : sv->n_targets);
        if (go && rc) p->failed = 1, p->err = e;
        go = go && !rc && got && wait_slot(sv, fr.index);
        pthread_mutex_unlock(&sv->mu);
        if (go) { /* the slot is this part's until it publishes it (next) */
            const int64_t slot = fr.index % sv->ring_n;
            memcpy(sv->rgb + (size_t)slot * sv->frame_bytes, fr.rgb, sv->frame_bytes);
            sv->pts[slot] = fr.pts_seconds;
            sv->have[slot] = 1;
        }
        pthread_mutex_lock(&sv->mu);
        if (go) p->next = fr.index + 1;
        else sv->idle++; /* for good */
        pthread_cond_broadcast(&sv->cv);
        pthread_mutex_unlock(&sv->mu);
    }
    return NULL;
}

/* This thread's side: target after target, the frames into the batch, and
 * a full batch (or the last) through the backbone once every reader waits
 * for a slot or has finished. */
static int take_frames(vtag_tagger_worker *w, vtag_ctx *ctx, shared_video *sv, const char *path, feats *f,
                       vtag_error *err)
{
    int rc = VTAG_OK;
    for (int64_t c = 0; c < sv->n_targets && !rc; c++) {
        part *p = &sv->p[sv->owner[c]];
        pthread_mutex_lock(&sv->mu);
        while (p->next <= c && !p->failed) pthread_cond_wait(&sv->cv, &sv->mu);
        const int ready = p->next > c;
        pthread_mutex_unlock(&sv->mu);
        if (!ready) {
            if (err) *err = p->err;
            return p->err.code ? p->err.code : VTAG_ERR_IO;
        }
        const int64_t slot = c % sv->ring_n;
        if (sv->have[slot]) rc = add_frame(w, f, sv->rgb + (size_t)slot * sv->frame_bytes, sv->pts[slot], path, err);
        const int end = c + 1 == sv->n_targets;
        pthread_mutex_lock(&sv->mu);
        sv->consumed = c + 1;
        pthread_cond_broadcast(&sv->cv);
        if (f->pending == w->t->info.max_batch || (end && f->pending > 0)) /* the readers' turn is over */
            while (sv->idle < sv->parts) pthread_cond_wait(&sv->cv, &sv->mu);
        pthread_mutex_unlock(&sv->mu);
        if (!rc) rc = run_batch(w, ctx, f, end, err);
    }
    return rc;
}

/* How many readers share path's targets: 1 (frames_serial) unless the
 * context has threads to spare and seeking for every target decodes at most
 * a quarter more than the plan of one reader (a shared reader decodes no
 * more for its targets than seeking for each: together, at most cost_seek).
 * keyframes:N is shared when it seeks (cost_seek >= 0: one packet a keyframe)
 * and the container index lists every packet: each reader plans again, from
 * the index in a few packet reads, not by reading the whole file. */
static int64_t parts_for(const vtag_tagger_t *t, const vtag_ctx *ctx, const vtag_video_t *v)
{
    vtag_video_stats st;
    vtag_video_get_stats(v, &st);
    const int keys_n = t->sampler.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES && t->sampler.key_targets > 0 &&
                       vtag_video_get_info(v)->index_complete;
    if (t->serial || ctx->threads < 2 || st.cost_seek < 0 || st.cost_seek * 4 > st.cost_plan * 5 || st.targets < 2 ||
        (t->sampler.kind != VTAG_VIDEO_SAMPLE_UNIFORM && t->sampler.kind != VTAG_VIDEO_SAMPLE_FPS && !keys_n))
        return 1;
    return st.targets < ctx->threads ? st.targets : ctx->threads;
}

/* parts readers of path on threads of their own (each decoding with one
 * thread), sharing out the targets of *plan (closed here), this thread
 * running the backbone. *damaged: the readers' damaged packets. */
static int frames_shared(vtag_tagger_worker *w, vtag_ctx *ctx, const char *path, vtag_video_t **plan, int parts,
                         feats *f, int64_t *damaged, vtag_error *err)
{
    const vtag_tagger_t *t = w->t;
    shared_video sv;
    memset(&sv, 0, sizeof sv);
    vtag_video_stats st;
    vtag_video_get_stats(*plan, &st);
    sv.n_targets = st.targets, sv.parts = parts;
    sv.ring_n = RING_BATCHES * t->info.max_batch;
    sv.frame_bytes = (size_t)(t->info.size * t->info.size * 3); /* S is bounded at the backbone's open */
    pthread_t *tid = calloc((size_t)parts, sizeof *tid);
    sv.p = calloc((size_t)parts, sizeof *sv.p);
    sv.owner = malloc((size_t)sv.n_targets * sizeof *sv.owner); /* n_targets >= 2, bounded by make_targets */
    sv.rgb = malloc((size_t)sv.ring_n * sv.frame_bytes);
    sv.pts = malloc((size_t)sv.ring_n * sizeof *sv.pts);
    sv.have = malloc((size_t)sv.ring_n);
    int rc = !tid || !sv.p || !sv.owner || !sv.rgb || !sv.pts || !sv.have
                 ? vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path)
                 : vtag_video_share_plan(*plan, parts, sv.owner, err);
    vtag_video_close(plan); /* it planned; the readers decode with one thread each */
    if (rc) {
        free(tid), free(sv.p), free(sv.owner), free(sv.rgb), free(sv.pts), free(sv.have);
        return rc;
    }
    pthread_mutex_init(&sv.mu, NULL);
    pthread_cond_init(&sv.cv, NULL);
    vtag_video_options vo = t->vopt;
    vo.threads = 1;
    int started = 0;
    for (int k = 0; k < parts && !rc; k++) {
        sv.p[k].sv = &sv, sv.p[k].index = k;
        rc = vtag_video_open(&sv.p[k].v, path, &t->sampler, &vo, err);
        if (!rc) rc = vtag_video_share(sv.p[k].v, k, parts, sv.owner, err);
    }
    for (; !rc && started < parts; started++)
        if (pthread_create(&tid[started], NULL, part_main, &sv.p[started]))
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot start a decoder thread", path);
    if (!rc) rc = take_frames(w, ctx, &sv, path, f, err);
    pthread_mutex_lock(&sv.mu);
    sv.stop = 1;
    pthread_cond_broadcast(&sv.cv);
    pthread_mutex_unlock(&sv.mu);
    *damaged = 0;
    for (int k = 0; k < parts; k++) {
        if (k < started) pthread_join(tid[k], NULL);
        if (sv.p[k].v) {
            vtag_video_stats st;
            vtag_video_get_stats(sv.p[k].v, &st);
            *damaged += st.damaged_packets;
            vtag_video_close(&sv.p[k].v);
        }
    }
    pthread_mutex_destroy(&sv.mu);
    pthread_cond_destroy(&sv.cv);
    free(tid), free(sv.p), free(sv.owner), free(sv.rgb), free(sv.pts), free(sv.have);
    return rc;
}

int vtag_tagger_worker_run(vtag_tagger_worker *w, vtag_ctx *ctx, const char *path, vtag_tagger_result *r,
                           vtag_error *err)
{
    const vtag_tagger_t *t = w->t;
    vtag_tagger_result_free(r);
    const int64_t dfc = t->info.d_fc;
    const int64_t L = t->cap.model.cfg.max_length;
    const int64_t T = t->cap.model.cfg.frames; /* > 0: one caption of the whole video */
    const int need_att = needs_att(t); /* the backbone's att */
    vtag_video_t *v = NULL;
    feats f;
    memset(&f, 0, sizeof f);
    const double t0 = vtag_seconds();
    int rc = vtag_video_open(&v, path, &t->sampler, &t->vopt, err);
    const int64_t parts = rc ? 1 : parts_for(t, ctx, v);
    if (!rc && parts > 1) {
        rc = frames_shared(w, ctx, path, &v, (int)parts, &f, &r->damaged_packets, err);
    } else if (!rc) {
        rc = frames_serial(w, ctx, v, path, &f, err);
    }
    const double t_decode = vtag_seconds() - t0 - f.t_backbone, t_backbone = f.t_backbone;
    if (v) {
        vtag_video_stats st;
        vtag_video_get_stats(v, &st);
        r->damaged_packets = st.damaged_packets;
        vtag_video_close(&v);
    }
    float *fc = f.fc, *att = f.att;
    double *pts = f.pts;
    int64_t n = f.n;
    if (!rc && n == 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no frame could be decoded", path);
    r->novelty = -1;
    if (!rc && t->novelty.dim > 0) rc = vtag_novelty_video(&t->novelty, fc, f.pix, n, &r->novelty, err);
    free(f.pix);
    if (!rc && T > 0) rc = video_row(&fc, &att, &n, dfc, T, path, err); /* its pts: the first frame's */
    if (!rc) {
        r->seq = malloc((size_t)(n * L) * sizeof(int32_t));
        r->len = malloc((size_t)n * sizeof(int32_t));
        if (!r->seq || !r->len) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!rc) {
        double tc = vtag_seconds();
        vtag_rows rows = {n, T > 0 ? T : t->info.k_att, t->cap.model.cfg.type == VTAG_MODEL_ATT2IN ? NULL : fc,
                          need_att || T > 0 ? att : NULL, NULL};
        vtag_decode_opts d = {t->beam > 1 ? VTAG_DECODE_BEAM : VTAG_DECODE_GREEDY, t->beam > 1 ? t->beam : 1,
                              1.0f, 0};
        /* decoding only reads the model (its passes take it const); the
         * non-const parameter is the trainers' */
        rc = vtag_caption_rows(ctx, (vtag_model *)&t->cap.model, &rows, &d, 50, r->seq, NULL, r->len, err);
        if (!rc && !(r->scores = malloc((size_t)(t->cap.vocab.size + 1) * sizeof *r->scores)))
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        if (!rc)
            rc = vtag_caption_label_scores(ctx, &t->cap.model, &rows, NULL, rows.n, t->samples, VTAG_CAPTION_SCORE_SEED,
                                           r->scores, err);
        if (!rc) vtag_calib_apply(&t->calib, r->scores);
        r->seconds_caption = vtag_seconds() - tc;
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

int vtag_tagger_run(vtag_tagger_t *t, vtag_ctx *ctx, const char *path, vtag_tagger_result *r, vtag_error *err)
{
    return vtag_tagger_worker_run(t->own, ctx, path, r, err);
}

int vtag_tagger_worker_tag(vtag_tagger_worker *w, vtag_ctx *ctx, const char *path, const vtag_tag_opts *opts,
                           vtag_tag_result *result, vtag_tagger_stats *stats, vtag_error *err)
{
    const vtag_tagger_t *t = w->t;
    memset(result, 0, sizeof *result);
    vtag_tagger_result r = {0};
    int rc = vtag_tagger_worker_run(w, ctx, path, &r, err);
    if (!rc)
        rc = vtag_tag_aggregate_seq(result, path, r.pts_seconds, r.seq, r.len, NULL, r.n_frames, r.max_length,
                                    vtag_tagger_tokens(t), vtag_tagger_vocab_size(t), opts, err);
    if (!rc) rc = vtag_tag_apply_scores(result, r.scores, vtag_tagger_tokens(t), vtag_tagger_vocab_size(t), opts, err);
    if (!rc) rc = vtag_tag_result_set_source(result, t->model_path, t->backbone_path, err);
    if (!rc && r.novelty >= 0) vtag_tag_set_novelty(result, r.novelty);
    if (!rc) result->damaged_packets = r.damaged_packets; /* into the tag line */
    if (rc) vtag_tag_result_free(result);
    if (stats)
        *stats = (vtag_tagger_stats){r.n_frames, r.damaged_packets, r.seconds_decode, r.seconds_backbone,
                                     r.seconds_caption};
    vtag_tagger_result_free(&r);
    return rc;
}

int vtag_tagger_tag(vtag_tagger_t *t, vtag_ctx *ctx, const char *path, const vtag_tag_opts *opts,
                    vtag_tag_result *result, vtag_tagger_stats *stats, vtag_error *err)
{
    return vtag_tagger_worker_tag(t->own, ctx, path, opts, result, stats, err);
}

const char *const *vtag_tagger_tokens(const vtag_tagger_t *t) { return t->cap.vocab.tokens; }
int64_t vtag_tagger_vocab_size(const vtag_tagger_t *t) { return t->cap.vocab.size; }
const vtag_model *vtag_tagger_model(const vtag_tagger_t *t) { return &t->cap.model; }
const char *vtag_tagger_model_path(const vtag_tagger_t *t) { return t->model_path; }
const char *vtag_tagger_backbone_path(const vtag_tagger_t *t) { return t->backbone_path; }

void vtag_tagger_close(vtag_tagger_t **tp)
{
    if (!tp || !*tp) return;
    vtag_tagger_t *t = *tp;
    vtag_tagger_worker_close(&t->own);
    vtag_backbone_close(&t->backbone);
    vtag_captioner_free(&t->cap);
    vtag_novelty_free(&t->novelty);
    vtag_calib_free(&t->calib);
    free(t->model_path);
    free(t->backbone_path);
    free(t);
    *tp = NULL;
}

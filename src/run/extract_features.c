/* vtag_features_extract: the videos of a labels file → a backbone → a
 * features file. One thread decodes the next videos into a ring while the
 * backbone runs on the current one; the rows are kept in order and written
 * once, atomically, at the end. In a cluster every rank does its own videos
 * (i mod N) and sends their rows to rank 0, which writes the file (shard.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "vtag/extract.h"
#include "vtag/novelty.h"
#include "vtag/provenance.h"

void vtag_features_opts_defaults(vtag_features_opts *o)
{
    memset(o, 0, sizeof *o);
    o->split = VTAG_DATA_SPLIT_ALL;
    vtag_video_sampler_default(&o->sampler);
    vtag_backbone_options_default(&o->backbone);
}

/* ---- the decoder thread: videos in order into a ring of decoded videos --------------------- */

#define RING 3

typedef struct decoded {
    int64_t entry;
    uint8_t *rgb; /* [n, S, S, 3] */
    int64_t n, cap;
    int rc;
    vtag_error err;
} decoded;

typedef struct pipe_state {
    const vtag_data_labels *labels;
    const int64_t *entries;
    int64_t n_entries;
    const vtag_video_sampler *smp;
    int64_t size;
    decoded ring[RING];
    int64_t produced, consumed; /* videos put into / taken from the ring */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pipe_state;

static void decode_one(decoded *d, const char *path, const vtag_video_sampler *smp, int64_t size)
{
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = size;
    o.threads = 1;
    vtag_video_t *v = NULL;
    d->n = 0;
    d->rc = vtag_video_open(&v, path, smp, &o, &d->err);
    const size_t fb = (size_t)size * (size_t)size * 3; /* size <= VTAG_VIDEO_MAX_SIDE */
    while (!d->rc) {
        vtag_video_frame fr;
        int got = 0;
        if ((d->rc = vtag_video_next(v, &fr, &got, &d->err)) || !got) break;
        if (d->n == d->cap) {
            const int64_t cap = d->cap ? d->cap * 2 : 16;
            size_t bytes;
            uint8_t *p = vtag_mul_size((size_t)cap, fb, &bytes) ? NULL : realloc(d->rgb, bytes);
            if (!p) {
                d->rc = vtag_fail(&d->err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            d->rgb = p, d->cap = cap;
        }
        memcpy(d->rgb + (size_t)d->n * fb, fr.rgb, fb);
        d->n++;
    }
    if (!d->rc && d->n == 0) d->rc = vtag_fail(&d->err, VTAG_ERR_FORMAT, "%s: no frame could be decoded", path);
    vtag_video_close(&v);
}

static void *decoder_main(void *arg)
{
    pipe_state *p = arg;
    for (int64_t i = 0; i < p->n_entries; i++) {
        pthread_mutex_lock(&p->mu);
        while (p->produced - p->consumed >= RING && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
        const int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        decoded *d = &p->ring[i % RING];
        d->entry = p->entries[i];
        decode_one(d, p->labels->entries[d->entry].path, p->smp, p->size);
        pthread_mutex_lock(&p->mu);
        p->produced++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* ---- output rows --------------------------------------------------------------------------- */

typedef struct rows {
    int64_t n, cap, d_fc, katt; /* katt = K·D_att, 0 without att */
    float *fc, *att;            /* [cap, d_fc], [cap, katt] */
    float *pix;                 /* [cap, VTAG_NOVELTY_PIX] the frames' pixel statistics */
    const char **items;         /* (cap) */
} rows;

static int rows_reserve(rows *r, int64_t more)
{
    int64_t need;
    if (vtag_add_i64(r->n, more, &need)) return -1;
    if (need <= r->cap) return 0;
    int64_t cap = r->cap ? r->cap : 256;
    while (cap < need)
        if (vtag_mul_i64(cap, 2, &cap)) return -1;
    int64_t n_fc, n_att;
    size_t b_fc, b_att, b_items, b_pix;
    if (vtag_mul_i64(cap, r->d_fc, &n_fc) || vtag_mul_i64(cap, r->katt, &n_att) ||
        vtag_mul_size((size_t)n_fc, sizeof(float), &b_fc) || vtag_mul_size((size_t)n_att, sizeof(float), &b_att) ||
        vtag_mul_size((size_t)cap, sizeof *r->items, &b_items) ||
        vtag_mul_size((size_t)cap, VTAG_NOVELTY_PIX * sizeof(float), &b_pix))
        return -1;
    float *fc = realloc(r->fc, b_fc);
    if (fc) r->fc = fc;
    float *att = r->katt ? realloc(r->att, b_att) : NULL;
    if (att) r->att = att;
    const char **items = realloc(r->items, b_items);
    if (items) r->items = items;
    float *pix = realloc(r->pix, b_pix);
    if (pix) r->pix = pix;
    if (!fc || (r->katt && !att) || !items || !pix) return -1;
    r->cap = cap;
    return 0;
}

/* ---- the run ------------------------------------------------------------------------------- */

static void report(const vtag_features_opts *o, int64_t done, int64_t total, int64_t rows, double t0, int final,
                   const vtag_error *skipped, int64_t line)
{
    if (!o->progress) return;
    const vtag_features_progress p = {done, total, rows, vtag_seconds() - t0, final, skipped, line};
    o->progress(o->user, &p);
}

/* The backbone over the frames of one decoded video, appended to r. The
 * batches never span two videos, so a video's rows are the same whichever
 * videos a rank has. */
static int run_video(vtag_backbone_t *bb, vtag_ctx *ctx, const decoded *d, const char *video, float *images,
                     rows *r, vtag_error *err)
{
    const vtag_backbone_info *info = vtag_backbone_get_info(bb);
    const int64_t S = info->size, B = info->max_batch, img = 3 * S * S;
    if (rows_reserve(r, d->n))
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for %lld feature rows", (long long)(r->n + d->n));
    for (int64_t b0 = 0; b0 < d->n; b0 += B) {
        const int64_t nb = b0 + B <= d->n ? B : d->n - b0;
        for (int64_t j = 0; j < nb; j++)
            vtag_video_normalize(d->rgb + (size_t)(b0 + j) * (size_t)(S * S * 3), S, info->mean, info->std,
                                 images + j * img);
        int rc = vtag_backbone_run(bb, ctx, images, nb, r->fc + (r->n + b0) * r->d_fc,
                                   r->katt ? r->att + (r->n + b0) * r->katt : NULL, err);
        if (rc) return vtag_fail(err, rc, "%s: %s", video, err->msg);
    }
    for (int64_t j = 0; j < d->n; j++) {
        vtag_novelty_pixel_stats(d->rgb + (size_t)j * (size_t)(S * S * 3), S, r->pix + (r->n + j) * VTAG_NOVELTY_PIX);
        r->items[r->n + j] = video;
    }
    r->n += d->n;
    return VTAG_OK;
}

/* One rank's run: its decoder and backbone, and the rows it holds (rank 0:
 * the file's; the others: one video's, sent on). */
typedef struct run {
    const vtag_data_labels *labels;
    const vtag_features_opts *o;
    vtag_backbone_t *bb;
    vtag_ctx ctx;
    float *images; /* [max_batch, 3, S, S] */
    pipe_state p;
    int64_t taken; /* own videos taken from the ring */
    rows r;
} run;

/* What became of one video. */
typedef struct outcome {
    int rc;          /* VTAG_OK: its rows are in; else why not (err) */
    int undecodable; /* rc is the decoder's: skip_bad leaves the video out; else the run fails */
    vtag_error err;
} outcome;

/* This rank's next video, from the decoder's ring through the backbone into x->r. */
static void own_video(run *x, outcome *v)
{
    pipe_state *p = &x->p;
    pthread_mutex_lock(&p->mu);
    while (p->produced <= x->taken) pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    const decoded *d = &p->ring[x->taken % RING];
    memset(v, 0, sizeof *v);
    if (d->rc) v->rc = d->rc, v->undecodable = 1, v->err = d->err;
    else v->rc = run_video(x->bb, &x->ctx, d, x->labels->entries[d->entry].video, x->images, &x->r, &v->err);
    x->taken++;
    pthread_mutex_lock(&p->mu);
    p->consumed++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* A video's result from a rank to rank 0: this head, then fc [n, D_fc],
 * att [n, K·D_att] and pix [n, VTAG_NOVELTY_PIX] as floats (the ranks of a
 * job share one byte order). */
typedef struct result_head {
    int32_t rc, undecodable; /* as in outcome */
    int64_t n;
    char msg[sizeof ((vtag_error *)0)->msg];
} result_head;

/* The message of one video's result in *msg (grown as needed), *len bytes. */
static int pack(const rows *r, const outcome *v, char **msg, size_t *cap, size_t *len)
{
    result_head h = {v->rc, v->undecodable, v->rc ? 0 : r->n, {0}};
    if (v->rc) snprintf(h.msg, sizeof h.msg, "%s", v->err.msg);
    size_t per, body;
    if (vtag_mul_size((size_t)(r->d_fc + r->katt + VTAG_NOVELTY_PIX), sizeof(float), &per) ||
        vtag_mul_size(per, (size_t)h.n, &body) || body > SIZE_MAX - sizeof h)
        return -1;
    *len = sizeof h + body;
    if (*len > *cap) {
        char *m = realloc(*msg, *len);
        if (!m) return -1;
        *msg = m, *cap = *len;
    }
    memcpy(*msg, &h, sizeof h);
    if (h.n) {
        const size_t fc_bytes = (size_t)h.n * (size_t)r->d_fc * sizeof(float); /* all <= body */
        const size_t pix_bytes = (size_t)h.n * VTAG_NOVELTY_PIX * sizeof(float);
        memcpy(*msg + sizeof h, r->fc, fc_bytes);
        if (r->katt) memcpy(*msg + sizeof h + fc_bytes, r->att, body - fc_bytes - pix_bytes);
        memcpy(*msg + sizeof h + body - pix_bytes, r->pix, pix_bytes);
    }
    return 0;
}

/* A rank other than 0: its videos, each sent to rank 0 as soon as it is done,
 * until rank 0 says stop or a video fails where rank 0 will stop anyway. */
static int serve(run *x, shard *sh, int64_t n_mine, vtag_error *err)
{
    char *msg = NULL;
    size_t cap = 0, len = 0;
    int rc = VTAG_OK, stop = 0;
    for (int64_t k = 0; k < n_mine && !rc; k++) {
        if ((rc = shard_should_stop(sh, &stop, err)) || stop) break;
        outcome v;
        x->r.n = 0;
        own_video(x, &v);
        if (pack(&x->r, &v, &msg, &cap, &len)) {
            /* The head alone still goes: rank 0 stops at this video, with why. */
            result_head h = {VTAG_ERR_NOMEM, 0, 0, {0}};
            snprintf(h.msg, sizeof h.msg, "out of memory for the %lld feature rows of a video", (long long)x->r.n);
            rc = shard_send(sh, &h, sizeof h, err);
            break;
        }
        rc = shard_send(sh, msg, len, err);
        if (v.rc && (!v.undecodable || !x->o->skip_bad)) break;
    }
    free(msg);
    return rc;
}

/* Rank 0: the result of video i from the rank that did it, its rows appended to x->r. */
static int take(run *x, shard *sh, int64_t i, const char *video, outcome *v, vtag_error *err)
{
    rows *r = &x->r;
    void *buf = NULL;
    size_t len = 0, per, body;
    memset(v, 0, sizeof *v);
    int rc = shard_recv(sh, i, &buf, &len, err);
    if (rc) return rc;
    result_head h;
    if (len >= sizeof h) memcpy(&h, buf, sizeof h);
    if (len < sizeof h || h.n < 0 ||
        vtag_mul_size((size_t)(r->d_fc + r->katt + VTAG_NOVELTY_PIX), sizeof(float), &per) ||
        vtag_mul_size(per, (size_t)h.n, &body) || len - sizeof h != body) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "rank %d sent a result of %zu bytes for %s", shard_owner(sh, i), len,
                       video);
    } else if (h.rc) {
        v->rc = v->err.code = h.rc;
        v->undecodable = h.undecodable;
        memcpy(v->err.msg, h.msg, sizeof v->err.msg);
        v->err.msg[sizeof v->err.msg - 1] = 0;
    } else if (rows_reserve(r, h.n)) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for %lld feature rows", (long long)(r->n + h.n));
    } else {
        const char *p = (const char *)buf + sizeof h;
        const size_t fc_bytes = (size_t)(h.n * r->d_fc) * sizeof(float);
        const size_t pix_bytes = (size_t)h.n * VTAG_NOVELTY_PIX * sizeof(float);
        if (h.n) memcpy(r->fc + r->n * r->d_fc, p, fc_bytes);
        if (h.n && r->katt) memcpy(r->att + r->n * r->katt, p + fc_bytes, body - fc_bytes - pix_bytes);
        if (h.n) memcpy(r->pix + r->n * VTAG_NOVELTY_PIX, p + body - pix_bytes, pix_bytes);
        for (int64_t j = 0; j < h.n; j++) r->items[r->n + j] = video;
        r->n += h.n;
    }
    free(buf);
    return rc;
}

/* Rank 0: every video in list order, its own from the ring, the others' as
 * their ranks send them, each reported as one process reports it. */
static int gather(run *x, shard *sh, const int64_t *entries, int64_t n_entries, double t0, int64_t *bad,
                  vtag_error *err)
{
    const char *lpath = x->labels->path ? x->labels->path : "labels";
    for (int64_t i = 0; i < n_entries; i++) {
        const vtag_data_entry *en = &x->labels->entries[entries[i]];
        outcome v;
        int rc = VTAG_OK;
        if (shard_mine(sh, i)) own_video(x, &v);
        else if ((rc = take(x, sh, i, en->video, &v, err))) return rc;
        const vtag_error *skipped = NULL;
        if (v.rc && v.undecodable && x->o->skip_bad) {
            skipped = &v.err;
            (*bad)++;
        } else if (v.rc && v.undecodable) {
            return vtag_fail(err, v.rc, "%s (%s:%lld)", v.err.msg, lpath, (long long)en->line);
        } else if (v.rc) {
            if (err) *err = v.err;
            return v.rc;
        }
        report(x->o, i + 1, n_entries, x->r.n, t0, 0, skipped, en->line);
    }
    return VTAG_OK;
}

/* Every rank: its videos (those of the split, i mod N in a cluster), the
 * backbone and the decoder thread; then all ranks agree that each is ready. */
static int setup(run *x, shard *sh, const char *backbone_path, int64_t **entries, int64_t *n_entries,
                 int64_t **mine, int64_t *n_mine, int *started, pthread_t *tid, vtag_error *err)
{
    const vtag_data_labels *labels = x->labels;
    const vtag_features_opts *o = x->o;
    const char *lpath = labels->path ? labels->path : "labels";
    /* The decoder thread takes a core: by default the backbone gets the others (of this
     * rank's share in a cluster). With OpenMP's spinning barriers, one thread more than there
     * are free cores costs far more than it gives (bench/README.md, "Built-in backbone"). */
    const int cores = vtag_cluster_threads(o->cluster, 0);
    const int threads = o->threads ? o->threads : (cores > 1 ? cores - 1 : 1);
    int rc = vtag_ctx_init(&x->ctx, threads, 1, err);
    if (rc) return rc;
    const size_t n_alloc = (size_t)(labels->count ? labels->count : 1) * sizeof(int64_t);
    if (!(*entries = malloc(n_alloc)) || !(*mine = malloc(n_alloc)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    for (int64_t e = 0; e < labels->count; e++)
        if (o->split == VTAG_DATA_SPLIT_ALL || labels->entries[e].split == o->split) {
            if (shard_mine(sh, *n_entries)) (*mine)[(*n_mine)++] = e;
            (*entries)[(*n_entries)++] = e;
        }
    if (*n_entries == 0)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: no video in split \"%s\"", lpath, vtag_data_split_name(o->split));
    if ((rc = vtag_backbone_open(&x->bb, backbone_path, &o->backbone, err))) return rc;
    const vtag_backbone_info *info = vtag_backbone_get_info(x->bb);
    const int64_t S = info->size, B = info->max_batch;
    x->r.d_fc = info->d_fc;
    x->r.katt = o->no_att ? 0 : info->k_att * info->d_att;
    size_t img_bytes;
    if (vtag_mul_size((size_t)(B * 3 * S * S), sizeof(float), &img_bytes) || !(x->images = malloc(img_bytes)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a batch of %lld frames", (long long)B);
    pipe_state *p = &x->p;
    p->labels = labels, p->entries = *mine, p->n_entries = *n_mine, p->smp = &o->sampler, p->size = S;
    if (pthread_create(tid, NULL, decoder_main, p) != 0)
        return vtag_fail(err, VTAG_ERR_NOMEM, "cannot start the decoder thread");
    *started = 1;
    return VTAG_OK;
}

int vtag_features_extract(const char *backbone_path, const vtag_data_labels *labels, const char *out,
                          const vtag_features_opts *opts, vtag_features_result *res, vtag_error *err)
{
    vtag_features_opts defaults;
    if (!opts) vtag_features_opts_defaults(&defaults), opts = &defaults;
    if (res) memset(res, 0, sizeof *res);
    const char *lpath = labels->path ? labels->path : "labels";
    shard sh;
    shard_init(&sh, opts->cluster);
    run x;
    memset(&x, 0, sizeof x);
    x.labels = labels, x.o = opts;
    pthread_mutex_init(&x.p.mu, NULL);
    pthread_cond_init(&x.p.cv, NULL);
    pthread_t tid;
    int started = 0;
    int64_t *entries = NULL, *mine = NULL, n_entries = 0, n_mine = 0, bad = 0;
    int rc = setup(&x, &sh, backbone_path, &entries, &n_entries, &mine, &n_mine, &started, &tid, err);
    if ((rc = shard_agree(&sh, rc, err))) goto done;
    const double t0 = vtag_seconds();
    rc = sh.rank == 0 ? gather(&x, &sh, entries, n_entries, t0, &bad, err) : serve(&x, &sh, n_mine, err);
    vtag_error ferr = {0};
    const int frc = sh.broken ? VTAG_OK : shard_finish(&sh, &ferr);
    if (sh.broken) { /* the ranks no longer meet: the caller ends the job */
        if (frc && err) *err = ferr;
        rc = frc ? frc : rc;
        goto done;
    }
    if (!rc && sh.rank == 0) {
        report(opts, n_entries, n_entries, x.r.n, t0, 1, NULL, 0);
        const vtag_backbone_info *info = vtag_backbone_get_info(x.bb);
        vtag_data_features f = {0};
        f.n = x.r.n;
        f.fc_dim = x.r.d_fc;
        f.fc = x.r.fc;
        if (x.r.katt) f.att_k = info->k_att, f.att_dim = info->d_att, f.att = x.r.att;
        f.pix = x.r.pix;
        f.items = x.r.items;
        /* vtag.backbone: the description with the backbone's identity (vtag/provenance.h) */
        char *identity = NULL;
        if (x.r.n == 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no frame of any video could be decoded", lpath);
        else rc = vtag_provenance_backbone_json(&identity, info->description, backbone_path, info->d_fc, info->k_att,
                                                info->d_att, err);
        f.backbone = identity;
        if (!rc) rc = vtag_data_write_features(&f, out, err);
        free(identity);
        if (!rc && res) {
            res->rows = x.r.n;
            res->videos = n_entries - bad;
            res->skipped = bad;
            res->seconds = vtag_seconds() - t0;
        }
    }
    rc = shard_agree(&sh, rc, err);
done:
    if (started) {
        /* Stop the decoder (it may be waiting for a free slot) and wait until it has left the ring. */
        pthread_mutex_lock(&x.p.mu);
        x.p.stop = 1;
        pthread_cond_broadcast(&x.p.cv);
        pthread_mutex_unlock(&x.p.mu);
        pthread_join(tid, NULL);
    }
    for (int i = 0; i < RING; i++) free(x.p.ring[i].rgb);
    pthread_mutex_destroy(&x.p.mu);
    pthread_cond_destroy(&x.p.cv);
    free(x.images);
    free(entries);
    free(mine);
    free(x.r.fc), free(x.r.att), free(x.r.items), free(x.r.pix);
    vtag_backbone_close(&x.bb);
    vtag_ctx_free(&x.ctx);
    return rc;
}

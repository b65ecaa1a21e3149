/* vtag_features_extract: the videos of a labels file → a backbone → a
 * features file. One thread decodes the next videos into a ring while the
 * backbone runs on the current one; the rows are kept in order and written
 * once, atomically, at the end. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/extract.h"

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
    size_t b_fc, b_att, b_items;
    if (vtag_mul_i64(cap, r->d_fc, &n_fc) || vtag_mul_i64(cap, r->katt, &n_att) ||
        vtag_mul_size((size_t)n_fc, sizeof(float), &b_fc) || vtag_mul_size((size_t)n_att, sizeof(float), &b_att) ||
        vtag_mul_size((size_t)cap, sizeof *r->items, &b_items))
        return -1;
    float *fc = realloc(r->fc, b_fc);
    if (fc) r->fc = fc;
    float *att = r->katt ? realloc(r->att, b_att) : NULL;
    if (att) r->att = att;
    const char **items = realloc(r->items, b_items);
    if (items) r->items = items;
    if (!fc || (r->katt && !att) || !items) return -1;
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

/* The backbone over the frames of one decoded video, appended to r. */
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
    for (int64_t j = 0; j < d->n; j++) r->items[r->n + j] = video;
    r->n += d->n;
    return VTAG_OK;
}

int vtag_features_extract(const char *backbone_path, const vtag_data_labels *labels, const char *out,
                          const vtag_features_opts *opts, vtag_features_result *res, vtag_error *err)
{
    vtag_features_opts defaults;
    if (!opts) vtag_features_opts_defaults(&defaults), opts = &defaults;
    if (res) memset(res, 0, sizeof *res);
    const char *lpath = labels->path ? labels->path : "labels";
    vtag_backbone_t *bb = NULL;
    vtag_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    rows r = {0};
    int64_t *entries = NULL, n_entries = 0, bad = 0;
    float *images = NULL;
    pipe_state p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t tid;
    int started = 0, rc;
    /* The decoder thread takes a core: by default the backbone gets the others. With OpenMP's
     * spinning barriers, one thread more than there are free cores costs far more than it gives
     * (bench/README.md, "Built-in backbone"). */
    const int threads = opts->threads ? opts->threads : (vtag_default_threads() > 1 ? vtag_default_threads() - 1 : 1);
    if ((rc = vtag_ctx_init(&ctx, threads, 1, err))) goto done;
    entries = malloc((size_t)(labels->count ? labels->count : 1) * sizeof *entries);
    if (!entries) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t e = 0; e < labels->count; e++)
        if (opts->split == VTAG_DATA_SPLIT_ALL || labels->entries[e].split == opts->split) entries[n_entries++] = e;
    if (n_entries == 0) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no video in split \"%s\"", lpath, vtag_data_split_name(opts->split));
        goto done;
    }
    if ((rc = vtag_backbone_open(&bb, backbone_path, &opts->backbone, err))) goto done;
    const vtag_backbone_info *info = vtag_backbone_get_info(bb);
    const int64_t S = info->size, B = info->max_batch;
    r.d_fc = info->d_fc;
    r.katt = opts->no_att ? 0 : info->k_att * info->d_att;
    size_t img_bytes;
    if (vtag_mul_size((size_t)(B * 3 * S * S), sizeof(float), &img_bytes) || !(images = malloc(img_bytes))) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a batch of %lld frames", (long long)B);
        goto done;
    }
    p.labels = labels, p.entries = entries, p.n_entries = n_entries, p.smp = &opts->sampler, p.size = S;
    if (pthread_create(&tid, NULL, decoder_main, &p) != 0) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "cannot start the decoder thread");
        goto done;
    }
    started = 1;
    const double t0 = vtag_seconds();
    for (int64_t i = 0; i < n_entries; i++) {
        pthread_mutex_lock(&p.mu);
        while (p.produced <= i) pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        const decoded *d = &p.ring[i % RING];
        const vtag_data_entry *en = &labels->entries[d->entry];
        const vtag_error *skipped = NULL;
        if (d->rc) {
            if (!opts->skip_bad) {
                rc = vtag_fail(err, d->rc, "%s (%s:%lld)", d->err.msg, lpath, (long long)en->line);
                goto done;
            }
            skipped = &d->err;
            bad++;
        } else if ((rc = run_video(bb, &ctx, d, en->video, images, &r, err))) {
            goto done;
        }
        report(opts, i + 1, n_entries, r.n, t0, 0, skipped, en->line);
        pthread_mutex_lock(&p.mu);
        p.consumed++;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
    }
    report(opts, n_entries, n_entries, r.n, t0, 1, NULL, 0);
    if (r.n == 0) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no frame of any video could be decoded", lpath);
        goto done;
    }
    vtag_data_features f = {0};
    f.n = r.n;
    f.fc_dim = r.d_fc;
    f.fc = r.fc;
    if (r.katt) f.att_k = info->k_att, f.att_dim = info->d_att, f.att = r.att;
    f.items = r.items;
    f.backbone = info->description;
    if ((rc = vtag_data_write_features(&f, out, err))) goto done;
    if (res) {
        res->rows = r.n;
        res->videos = n_entries - bad;
        res->skipped = bad;
        res->seconds = vtag_seconds() - t0;
    }
done:
    if (started) {
        /* Stop the decoder (it may be waiting for a free slot) and wait until it has left the ring. */
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        pthread_join(tid, NULL);
    }
    for (int i = 0; i < RING; i++) free(p.ring[i].rgb);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    free(images);
    free(entries);
    free(r.fc), free(r.att), free(r.items);
    vtag_backbone_close(&bb);
    vtag_ctx_free(&ctx);
    return rc;
}

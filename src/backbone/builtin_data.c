/* Training data of the built-in backbone: frames of the labelled videos
 * decoded once into memory (uint8 RGB at S×S), the label vocabulary and the
 * multi-hot targets (class1, class2 and tags of the frame's video). */
#include <stdlib.h>
#include <string.h>

#include "vtag/builtin.h"

void vtag_builtin_free_frames(vtag_builtin_frames *f)
{
    free(f->rgb);
    free(f->entry);
    free(f->pts);
    memset(f, 0, sizeof *f);
}

typedef struct video_frames {
    uint8_t *rgb; /* [n, S, S, 3] */
    double *pts;
    int64_t n, cap;
    int rc;
    vtag_error err;
} video_frames;

static int decode_video(video_frames *out, const char *path, const vtag_video_sampler *s, int64_t size, int threads)
{
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = size;
    o.threads = threads;
    vtag_video_t *v = NULL;
    int rc = vtag_video_open(&v, path, s, &o, &out->err);
    const size_t fb = (size_t)(size * size * 3);
    while (!rc) {
        vtag_video_frame fr;
        int got = 0;
        if ((rc = vtag_video_next(v, &fr, &got, &out->err)) || !got) break;
        if (out->n == out->cap) {
            int64_t cap = out->cap ? out->cap * 2 : 16;
            uint8_t *rgb = realloc(out->rgb, (size_t)cap * fb);
            double *pts = realloc(out->pts, (size_t)cap * sizeof *pts);
            if (rgb) out->rgb = rgb;
            if (pts) out->pts = pts;
            if (!rgb || !pts) {
                rc = vtag_fail(&out->err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            out->cap = cap;
        }
        memcpy(out->rgb + (size_t)out->n * fb, fr.rgb, fb);
        out->pts[out->n++] = fr.pts_seconds;
    }
    if (!rc && out->n == 0) rc = vtag_fail(&out->err, VTAG_ERR_FORMAT, "%s: no frame could be decoded", path);
    vtag_video_close(&v);
    return rc;
}

int vtag_builtin_load_video(vtag_builtin_frames *f, const char *path, const vtag_video_sampler *s, int64_t size,
                            vtag_error *err)
{
    memset(f, 0, sizeof *f);
    f->size = size;
    video_frames vf;
    memset(&vf, 0, sizeof vf);
    int rc = decode_video(&vf, path, s, size, 1);
    if (!rc && !(f->entry = calloc((size_t)vf.n, sizeof *f->entry)))
        rc = vtag_fail(&vf.err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    if (rc) {
        free(vf.rgb);
        free(vf.pts);
        return vtag_fail(err, rc, "%s", vf.err.msg);
    }
    f->rgb = vf.rgb;
    f->pts = vf.pts;
    f->n = vf.n;
    f->n_videos = 1;
    return VTAG_OK;
}

int vtag_builtin_load_frames(vtag_builtin_frames *f, const vtag_data_labels *l, vtag_data_split split,
                             const vtag_video_sampler *s, int64_t size, int threads, vtag_builtin_progress progress,
                             void *user, vtag_error *err)
{
    memset(f, 0, sizeof *f);
    f->size = size;
    int64_t nv = 0;
    for (int64_t e = 0; e < l->count; e++) nv += split == VTAG_DATA_SPLIT_ALL || l->entries[e].split == split;
    int64_t *ents = malloc((size_t)(nv ? nv : 1) * sizeof *ents);
    video_frames *vf = calloc((size_t)(nv ? nv : 1), sizeof *vf);
    if (!ents || !vf) {
        free(ents), free(vf);
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for %lld videos", (long long)nv);
    }
    nv = 0;
    for (int64_t e = 0; e < l->count; e++)
        if (split == VTAG_DATA_SPLIT_ALL || l->entries[e].split == split) ents[nv++] = e;
    if (threads < 1) threads = vtag_default_threads();
    int64_t done = 0;
    int failed = 0;
    /* One video per thread, each with a one-thread decoder: the videos are short, so
     * parallel videos keep the cores busier than FFmpeg's frame threads. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t i = 0; i < nv; i++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        vf[i].rc = decode_video(&vf[i], l->entries[ents[i]].path, s, size, 1);
        if (vf[i].rc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp critical(builtin_frames_progress)
        {
            done++;
            if (progress) progress(user, done, nv);
        }
    }
    int rc = VTAG_OK;
    int64_t total = 0;
    for (int64_t i = 0; i < nv && !rc; i++) {
        if (vf[i].rc) {
            rc = vtag_fail(err, vf[i].rc, "%s (%s:%lld)", vf[i].err.msg, l->path, (long long)l->entries[ents[i]].line);
        }
        total += vf[i].n;
    }
    const size_t fb = (size_t)(size * size * 3);
    if (!rc && total > 0) {
        f->rgb = malloc((size_t)total * fb);
        f->entry = malloc((size_t)total * sizeof *f->entry);
        f->pts = malloc((size_t)total * sizeof *f->pts);
        if (!f->rgb || !f->entry || !f->pts)
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for %lld frames of %lldx%lld", (long long)total,
                           (long long)size, (long long)size);
    }
    for (int64_t i = 0; i < nv; i++) {
        if (!rc && vf[i].n) {
            memcpy(f->rgb + (size_t)f->n * fb, vf[i].rgb, (size_t)vf[i].n * fb);
            memcpy(f->pts + f->n, vf[i].pts, (size_t)vf[i].n * sizeof *f->pts);
            for (int64_t j = 0; j < vf[i].n; j++) f->entry[f->n + j] = ents[i];
            f->n += vf[i].n;
            f->n_videos++;
        }
        free(vf[i].rgb);
        free(vf[i].pts);
    }
    free(vf);
    free(ents);
    if (rc) vtag_builtin_free_frames(f);
    f->size = size;
    return rc;
}

int vtag_builtin_vocab(const vtag_data_labels *l, const char ***out, int64_t *n, int64_t *index, vtag_error *err)
{
    *out = NULL;
    *n = 0;
    char *used = calloc((size_t)(l->n_names ? l->n_names : 1), 1);
    if (!used) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    for (int64_t e = 0; e < l->count; e++) {
        const vtag_data_entry *en = &l->entries[e];
        if (en->split != VTAG_DATA_SPLIT_TRAIN) continue;
        int64_t k = vtag_data_find_name(l, en->class1);
        if (k >= 0) used[k] = 1;
        if ((k = vtag_data_find_name(l, en->class2)) >= 0) used[k] = 1;
        for (int64_t t = 0; t < en->n_tags; t++)
            if ((k = vtag_data_find_name(l, en->tags[t])) >= 0) used[k] = 1;
    }
    int64_t v = 0;
    for (int64_t k = 0; k < l->n_names; k++) v += used[k];
    const char **names = malloc((size_t)(v ? v : 1) * sizeof *names);
    if (!names) {
        free(used);
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    }
    v = 0;
    for (int64_t k = 0; k < l->n_names; k++) {
        index[k] = used[k] ? v : -1;
        if (used[k]) names[v++] = l->names[k];
    }
    free(used);
    *out = names;
    *n = v;
    return VTAG_OK;
}

void vtag_builtin_targets(const vtag_data_labels *l, int64_t e, const int64_t *index, int64_t v, float *targets)
{
    memset(targets, 0, (size_t)v * sizeof(float));
    const vtag_data_entry *en = &l->entries[e];
    int64_t k = vtag_data_find_name(l, en->class1);
    if (k >= 0 && index[k] >= 0) targets[index[k]] = 1.0f;
    if ((k = vtag_data_find_name(l, en->class2)) >= 0 && index[k] >= 0) targets[index[k]] = 1.0f;
    for (int64_t t = 0; t < en->n_tags; t++)
        if ((k = vtag_data_find_name(l, en->tags[t])) >= 0 && index[k] >= 0) targets[index[k]] = 1.0f;
}

/* A whole corpus: plans for every video, videos rendered and encoded in
 * parallel (longest first), then labels.jsonl, each file written atomically. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include "synth/synth_internal.h"

void vtag_synth_options_default(vtag_synth_options *o)
{
    memset(o, 0, sizeof *o);
    o->videos = 500;
    o->seed = 1;
    o->codec = VTAG_SYNTH_CODEC_AUTO;
}

int vtag_synth_write_video(const char *path, const vtag_synth_video *v, const vtag_synth_source *src,
                           vtag_synth_codec codec, const char **encoder, int64_t *bytes, vtag_error *err)
{
    vtag_synth_renderer *r = NULL;
    synth_encoder *e = NULL;
    uint8_t *rgb = NULL;
    int rc = vtag_synth_renderer_open(&r, v, src, err);
    if (rc == VTAG_OK) rc = synth_encoder_open(&e, path, v->width, v->height, v->fps, codec, err);
    /* One spare line, zeroed: libswscale's SIMD input readers may read a
     * little past the last pixel. */
    if (rc == VTAG_OK && !(rgb = calloc((size_t)((v->height + 1) * v->width * 3), 1)))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    for (int64_t f = 0; rc == VTAG_OK && f < v->frames; f++) {
        rc = vtag_synth_renderer_draw(r, f, rgb, err);
        if (rc == VTAG_OK) rc = synth_encoder_write(e, rgb, err);
    }
    if (rc == VTAG_OK) {
        if (encoder) *encoder = synth_encoder_name(e);
        rc = synth_encoder_finish(&e, bytes, err);
    }
    synth_encoder_abort(&e);
    free(rgb);
    vtag_synth_renderer_close(&r);
    return rc;
}

/* JSON string body: labels here are plain text, but escape properly anyway. */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

int vtag_synth_write_labels(const char *path, const vtag_synth_video *videos, int64_t n, vtag_error *err)
{
    const vtag_synth_catalog *cat = vtag_synth_get_catalog();
    vtag_atomic a;
    int rc = vtag_atomic_open(&a, path, err);
    if (rc) return rc;
    FILE *f = a.f;
    char name[64];
    for (int64_t i = 0; i < n; i++) {
        const vtag_synth_video *v = &videos[i];
        vtag_synth_video_name(v->index, name, sizeof name);
        fputs("{\"video\": ", f);
        put_json_string(f, name);
        fputs(", \"class1\": ", f);
        put_json_string(f, cat->class1[v->class1]);
        fputs(", \"class2\": ", f);
        put_json_string(f, cat->class2[v->class2]);
        fputs(", \"tags\": [", f);
        for (int t = 0; t < v->n_tags; t++) {
            if (t) fputs(", ", f);
            put_json_string(f, cat->tags[v->tags[t].id]);
        }
        fprintf(f, "], \"split\": \"%s\"}\n", vtag_data_split_name(v->split));
    }
    /* a failed write leaves the stream's error flag: the commit reports it */
    return vtag_atomic_commit(&a, err);
}

/* mkdir -p */
static int make_dirs(const char *path, vtag_error *err)
{
    size_t len = strlen(path);
    char *buf = malloc(len + 1);
    if (!buf) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    memcpy(buf, path, len + 1);
    int rc = VTAG_OK;
    for (char *p = buf + 1; rc == VTAG_OK; p++) {
        if (*p && *p != '/') continue;
        char c = *p;
        *p = '\0';
        struct stat sb;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot create the folder: %s", buf, strerror(errno));
        else if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: not a folder", buf);
        *p = c;
        if (!c) break;
    }
    free(buf);
    return rc;
}

typedef struct job {
    int64_t video;
    int64_t cost;
} job;

static int by_cost_desc(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return x->video < y->video ? -1 : x->video > y->video;
}

int vtag_synth_corpus(const char *dir, const vtag_synth_options *o, const vtag_synth_source *src,
                      vtag_synth_report *rep, vtag_error *err)
{
    vtag_synth_options def;
    if (!o) {
        vtag_synth_options_default(&def);
        o = &def;
    }
    if (rep) memset(rep, 0, sizeof *rep);
    if (!dir || !*dir) return vtag_fail(err, VTAG_ERR_ARG, "synth: no output folder");
    if (!src) return vtag_fail(err, VTAG_ERR_ARG, "synth: no picture source");
    if (o->videos < 1 || o->videos > 1000000)
        return vtag_fail(err, VTAG_ERR_ARG, "synth: %lld videos (1 to 1000000)", (long long)o->videos);
    size_t dlen = strlen(dir);
    char *vdir = malloc(dlen + 16), *labels = malloc(dlen + 16);
    vtag_synth_video *plans = calloc((size_t)o->videos, sizeof *plans);
    job *jobs = calloc((size_t)o->videos, sizeof *jobs);
    int rc = VTAG_OK;
    if (!vdir || !labels || !plans || !jobs) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(vdir, dlen + 16, "%s/videos", dir);
    snprintf(labels, dlen + 16, "%s/labels.jsonl", dir);
    if ((rc = make_dirs(vdir, err))) goto done;
    for (int64_t i = 0; i < o->videos; i++) {
        vtag_synth_plan(o->seed, i, &plans[i]);
        jobs[i].video = i;
        jobs[i].cost = plans[i].frames * plans[i].width * plans[i].height;
    }
    /* Longest first keeps the threads busy to the end. */
    qsort(jobs, (size_t)o->videos, sizeof *jobs, by_cost_desc);

    int threads = o->threads > 0 ? o->threads : omp_get_num_procs();
    int failed = 0;
    int64_t done_count = 0, frames = 0, bytes = 0, first_bad = -1;
    const char *encoder = NULL;
    vtag_error first_err = {0};
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t j = 0; j < o->videos; j++) {
        int stop;
#pragma omp atomic read
        stop = failed;
        if (stop) continue;
        const vtag_synth_video *v = &plans[jobs[j].video];
        char path[4096 + 32], name[64];
        vtag_synth_video_name(v->index, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        vtag_error e = {0};
        const char *enc = NULL;
        int64_t size = 0;
        int r = vtag_synth_write_video(path, v, src, o->codec, &enc, &size, &e);
#pragma omp critical(vtag_synth_corpus)
        {
            if (r != VTAG_OK) {
                if (first_bad < 0 || v->index < first_bad) {
                    first_bad = v->index;
                    first_err = e;
                }
#pragma omp atomic write
                failed = 1;
            } else {
                done_count++;
                frames += v->frames;
                bytes += size;
                encoder = enc;
                if (o->progress) o->progress(o->user, done_count, o->videos, v);
            }
        }
    }
    if (failed) {
        if (err) *err = first_err;
        rc = first_err.code ? first_err.code : VTAG_ERR_IO;
        goto done;
    }
    if ((rc = vtag_synth_write_labels(labels, plans, o->videos, err))) goto done;
    if (rep) {
        rep->videos = done_count;
        rep->frames = frames;
        rep->bytes = bytes;
        rep->encoder = encoder;
    }
done:
    free(vdir);
    free(labels);
    free(plans);
    free(jobs);
    return rc;
}

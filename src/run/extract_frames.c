/* vtag_frames_extract: sample videos into a folder of PNGs and its index,
 * frames.jsonl, through a staging folder (frames_stage.c), so that the index
 * always names the PNGs beside it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frames_stage.h"
#include "vtag/extract.h"

void vtag_frames_opts_defaults(vtag_frames_opts *o)
{
    memset(o, 0, sizeof *o);
    vtag_video_sampler_default(&o->sampler);
    vtag_video_options_default(&o->video);
}

int64_t vtag_frames_find_inside(const char *const *videos, int64_t n_videos, const char *out_dir)
{
    for (int64_t k = 0; k < n_videos; k++) {
        char parent[4200];
        const char *slash = strrchr(videos[k], '/');
        if (!slash) snprintf(parent, sizeof parent, ".");
        else if (slash == videos[k]) snprintf(parent, sizeof parent, "/");
        else snprintf(parent, sizeof parent, "%.*s", (int)(slash - videos[k]), videos[k]);
        vtag_error err = {0};
        int same = 0;
        if (vtag_path_same_file(parent, out_dir, &same, &err) == VTAG_OK && same) return k;
    }
    return -1;
}

/* "dir/clip.final.mp4" → "clip.final"; k-th video with a stem seen before
 * gets "-k" so that names never collide within one run. */
static void file_stem(const char *video, int64_t k, const char *const *videos, char *out, size_t cap)
{
    const char *base = strrchr(video, '/');
    base = base ? base + 1 : video;
    const char *dot = strrchr(base, '.');
    size_t len = (dot && dot != base) ? (size_t)(dot - base) : strlen(base);
    if (len == 0) {
        base = "video";
        len = 5;
    }
    int64_t same = 0;
    for (int64_t j = 0; j < k; j++) {
        const char *b = strrchr(videos[j], '/');
        b = b ? b + 1 : videos[j];
        const char *d = strrchr(b, '.');
        const size_t l = (d && d != b) ? (size_t)(d - b) : strlen(b);
        if (l == len && strncmp(b, base, len) == 0) same++;
    }
    if (same) snprintf(out, cap, "%.*s-%lld", (int)len, base, (long long)(same + 1));
    else snprintf(out, cap, "%.*s", (int)len, base);
}

/* The index line of one frame; NULL when a field cannot be made (json_string
 * refuses invalid UTF-8): never a line with a field left out. */
static char *index_line(const char *video, const char *file, const vtag_video_frame *fr)
{
    json_t *o = json_object();
    int bad = !o || json_object_set_new(o, "video", json_string(video));
    bad = bad || json_object_set_new(o, "index", json_integer(fr->index));
    bad = bad || json_object_set_new(o, "pts_seconds", json_real(round(fr->pts_seconds * 1e6) / 1e6));
    bad = bad || json_object_set_new(o, "file", json_string(file));
    bad = bad || json_object_set_new(o, "target_seconds", json_real(round(fr->target_seconds * 1e6) / 1e6));
    char *line = bad ? NULL : json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(o);
    return line;
}

typedef struct run {
    const char *const *videos;
    const char *out_dir, *stage;
    const vtag_frames_opts *o;
    FILE *index; /* the staged index being written */
    int64_t lines;
} run;

/* One frame: its PNG into the staging folder, its line into the index. An
 * error here is the output's (fatal). */
static int put_frame(run *r, const char *video, const char *stem, const vtag_video_frame *fr, vtag_error *err)
{
    char name[300];
    snprintf(name, sizeof name, "%s_%05lld.png", stem, (long long)fr->index);
    char *path = vtag_path_join(r->stage, name);
    if (!path) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", name);
    int rc = vtag_video_write_png(path, fr->rgb, fr->size, fr->size, err);
    free(path);
    if (rc) return rc;
    char *line = index_line(video, name, fr);
    if (!line)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: cannot encode its frames.jsonl line (invalid UTF-8 or out of memory)",
                         name);
    if (fprintf(r->index, "%s\n", line) < 0)
        rc = vtag_fail(err, VTAG_ERR_IO, "%s/frames.jsonl: write failed: %s", r->out_dir, strerror(errno));
    free(line);
    r->lines += !rc;
    return rc;
}

/* Samples video k into the staging folder and fills v. */
static void sample_video(run *r, int64_t k, vtag_frames_video *v)
{
    memset(v, 0, sizeof *v);
    v->video = r->videos[k];
    v->index = k;
    vtag_video_t *vid = NULL;
    if ((v->status = vtag_video_open(&vid, v->video, &r->o->sampler, &r->o->video, &v->err))) return;
    v->opened = 1;
    char stem[256];
    file_stem(v->video, k, r->videos, stem, sizeof stem);
    for (;;) {
        vtag_video_frame fr;
        int got;
        if ((v->status = vtag_video_next(vid, &fr, &got, &v->err)) || !got) break;
        if ((v->status = put_frame(r, v->video, stem, &fr, &v->err))) {
            v->fatal = 1;
            break;
        }
    }
    vtag_video_get_stats(vid, &v->stats);
    const vtag_video_stats *st = &v->stats;
    v->damaged = v->status == VTAG_OK && (st->damaged_packets > 0 || st->missing_seconds > 0 ||
                                          (st->targets >= 0 && st->frames_out < st->targets));
    vtag_video_close(&vid);
}

int vtag_frames_extract(const char *const *videos, int64_t n_videos, const char *out_dir,
                        const vtag_frames_opts *o, vtag_frames_result *res, vtag_error *err)
{
    vtag_frames_opts defaults;
    if (!o) vtag_frames_opts_defaults(&defaults), o = &defaults;
    vtag_frames_result sum = {0};
    if (res) *res = sum;
    const int64_t inside = vtag_frames_find_inside(videos, n_videos, out_dir);
    if (inside >= 0)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: inside the output folder %s, whose files a run replaces",
                         videos[inside], out_dir);
    char *stage = NULL, *index_path = NULL;
    int rc = frames_stage_open(out_dir, &stage, err);
    if (rc) return rc;
    vtag_atomic index = {0};
    if (!(index_path = vtag_path_join(stage, "frames.jsonl"))) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", out_dir);
        goto done;
    }
    if ((rc = vtag_atomic_open(&index, index_path, err))) goto done;
    run r = {videos, out_dir, stage, o, index.f, 0};
    for (int64_t k = 0; k < n_videos && !rc; k++) {
        vtag_frames_video v;
        sample_video(&r, k, &v);
        sum.failed += v.status != VTAG_OK;
        sum.damaged += v.damaged;
        sum.videos += v.status == VTAG_OK;
        if (o->video_done) o->video_done(o->user, &v);
        if (v.fatal) {
            *err = v.err;
            rc = v.status;
        }
    }
    sum.frames = r.lines;
    if (rc) goto done;
    /* The index is complete: flush it before anything in DIR changes. */
    if (fflush(index.f) != 0) {
        rc = vtag_fail(err, VTAG_ERR_IO, "%s/frames.jsonl: write failed: %s (the folder is left as it was)", out_dir,
                       strerror(errno));
        goto done;
    }
    if ((rc = vtag_atomic_commit(&index, err))) {
        rc = vtag_fail(err, rc, "%s (the folder is left as it was)", err->msg);
        goto done;
    }
    rc = frames_stage_commit(out_dir, stage, err);
done:
    vtag_atomic_abort(&index);
    frames_stage_drop(&stage);
    free(index_path);
    if (res) *res = sum;
    return rc;
}

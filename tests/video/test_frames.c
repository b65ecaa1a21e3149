/* Sampled frames against the ffmpeg CLI, on the clips of make_clips.sh:
 * each sampler returns the times it promises, the frame on screen at each
 * time (by the CLI's own list of frame times), with the pixels the CLI
 * decodes there after the same crop and scale (PSNR >= 35 dB); seeking,
 * decoding through and the planner's mix return identical pictures. */
#include <libavutil/log.h>

#include "video_test.h"
#include "vtag/video.h"

#define MIN_PSNR 35.0

typedef struct clip {
    const char *file, *base;
    double duration; /* what the container says for the video stream */
    int rotation;
} clip;

static const clip clips[] = {
    {"h264.mp4", "h264", 4.0, 0},      {"vp9.webm", "vp9", 3.0, 0},       {"mpeg4.avi", "mpeg4", 3.0, 0},
    {"mjpeg.mov", "mjpeg", 2.0, 0},    {"anim.gif", "anim", 3.0, 0},      {"rot90.mp4", "rot90", 2.0, 270},
    {"rot270.mp4", "rot270", 2.0, 90}, {"vfr.mp4", "vfr", 5.8, 0},       {"av.mp4", "av", 2.0, 0},
};

static double worst_psnr = 99.0;

typedef struct run_result {
    int64_t n;
    int64_t index[64];
    double target[64], pts[64];
    uint8_t *rgb; /* [n, S, S, 3] */
} run_result;

/* Runs one sampler over a clip and checks every frame against the reference. */
static void run(const clip *c, const vt_ref *ref, const char *spec, double start, double end, int64_t max_frames,
                vtag_video_strategy strategy, int threads, run_result *res)
{
    char path[256];
    snprintf(path, sizeof path, "video/%s", c->file);
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_error err = {0};
    VT_CHECK(vtag_video_sampler_parse(&s, spec, &err) == VTAG_OK, "%s", err.msg);
    s.start = start;
    s.end = end;
    s.max_frames = max_frames;
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = ref->size;
    o.strategy = strategy;
    o.threads = threads;
    vtag_video_t *v = NULL;
    memset(res, 0, sizeof *res);
    if (vtag_video_open(&v, path, &s, &o, &err)) {
        VT_CHECK(0, "%s: %s", path, err.msg);
        return;
    }
    const vtag_video_info *info = vtag_video_get_info(v);
    VT_CHECK(fabs(info->duration - c->duration) < 0.01, "%s duration %.4f, expected %.4f", c->file, info->duration,
             c->duration);
    VT_CHECK(info->rotation == c->rotation, "%s rotation %d, expected %d", c->file, info->rotation, c->rotation);
    /* keyframes and scene run to the last frame, whatever the header says */
    int open_end = s.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES || s.kind == VTAG_VIDEO_SAMPLE_SCENE;
    double lo = start, hi = end >= 0 ? end : open_end ? INFINITY : info->duration;
    int64_t fsz = ref->size * ref->size * 3;
    res->rgb = malloc((size_t)(64 * fsz));
    double min_psnr = 99.0;
    for (;;) {
        vtag_video_frame f;
        int got;
        int rc = vtag_video_next(v, &f, &got, &err);
        VT_CHECK(rc == VTAG_OK, "%s %s: %s", c->file, spec, err.msg);
        if (rc || !got) break;
        VT_CHECK(res->n < 64, "too many frames");
        if (res->n >= 64) break;
        VT_CHECK(f.size == ref->size && f.rgb, "frame size");
        /* 1. the promised time */
        if (s.kind == VTAG_VIDEO_SAMPLE_UNIFORM) {
            double want = lo + ((double)f.index + 0.5) * (hi - lo) / (double)s.count;
            VT_CHECK(fabs(f.target_seconds - want) < 1e-9, "%s %s #%lld target %.6f, promised %.6f", c->file,
                     spec, (long long)f.index, f.target_seconds, want);
        } else if (s.kind == VTAG_VIDEO_SAMPLE_FPS) {
            double want = lo + ((double)f.index + 0.5) / s.fps;
            VT_CHECK(fabs(f.target_seconds - want) < 1e-9 && want < hi, "%s %s #%lld target %.6f, promised %.6f",
                     c->file, spec, (long long)f.index, f.target_seconds, want);
        } else {
            VT_CHECK(f.target_seconds == f.pts_seconds && f.pts_seconds >= lo && f.pts_seconds < hi,
                     "%s %s: frame at %.6f outside [%g, %g)", c->file, spec, f.pts_seconds, lo, hi);
        }
        /* 2. the frame on screen at that time, by the CLI's frame list */
        int64_t k = vt_ref_at(ref, f.target_seconds);
        VT_CHECK(fabs(f.pts_seconds - ref->pts[k]) < 1e-4,
                 "%s %s #%lld: at %.4f s got the frame of %.4f s, the CLI shows the frame of %.4f s", c->file, spec,
                 (long long)f.index, f.target_seconds, f.pts_seconds, ref->pts[k]);
        /* 3. its pixels */
        double p = vt_psnr(f.rgb, ref->rgb + k * fsz, fsz);
        VT_CHECK(p >= MIN_PSNR, "%s %s #%lld (%.4f s): PSNR %.2f dB", c->file, spec, (long long)f.index,
                 f.pts_seconds, p);
        if (p < min_psnr) min_psnr = p;
        res->index[res->n] = f.index;
        res->target[res->n] = f.target_seconds;
        res->pts[res->n] = f.pts_seconds;
        memcpy(res->rgb + res->n * fsz, f.rgb, (size_t)fsz);
        res->n++;
    }
    vtag_video_stats st;
    vtag_video_get_stats(v, &st);
    VT_CHECK(st.damaged_packets == 0, "%s %s: %lld damaged packets in a good clip", c->file, spec,
             (long long)st.damaged_packets);
    VT_CHECK(st.frames_out == res->n, "stats.frames_out");
    VT_CHECK(st.frames_converted <= st.frames_out, "%s %s: %lld conversions for %lld frames", c->file, spec,
             (long long)st.frames_converted, (long long)st.frames_out);
    printf("  %-10s %-11s [%4.2f, %5.3f) max %-3lld %-6s: %2lld frames, %3lld decoded, %2lld seeks, min PSNR %5.2f dB\n",
           c->file, spec, lo, hi, (long long)max_frames,
           strategy == VTAG_VIDEO_STRATEGY_SEEK ? "seek" : strategy == VTAG_VIDEO_STRATEGY_LINEAR ? "linear" : "auto",
           (long long)res->n, (long long)st.frames_decoded, (long long)st.seeks, min_psnr);
    if (min_psnr < worst_psnr) worst_psnr = min_psnr;
    vtag_video_close(&v);
    VT_CHECK(v == NULL, "close sets the handle to NULL");
}

static void check_count(const run_result *r, int64_t want, const char *what)
{
    VT_CHECK(r->n == want, "%s: %lld frames, expected %lld", what, (long long)r->n, (long long)want);
    for (int64_t i = 0; i < r->n; i++) VT_CHECK(r->index[i] == i, "%s: index %lld at %lld", what, (long long)r->index[i], (long long)i);
}

static void same_frames(const run_result *a, const run_result *b, int64_t fsz, const char *what)
{
    VT_CHECK(a->n == b->n, "%s: %lld vs %lld frames", what, (long long)a->n, (long long)b->n);
    for (int64_t i = 0; i < a->n && i < b->n; i++) {
        VT_CHECK(a->pts[i] == b->pts[i], "%s #%lld: pts %.4f vs %.4f", what, (long long)i, a->pts[i], b->pts[i]);
        VT_CHECK(memcmp(a->rgb + i * fsz, b->rgb + i * fsz, (size_t)fsz) == 0, "%s #%lld: pixels differ", what,
                 (long long)i);
    }
}

static void test_clip(const clip *c, int64_t size)
{
    vt_ref ref;
    if (vt_ref_load(&ref, c->base, size)) {
        VT_CHECK(0, "reference for %s", c->file);
        return;
    }
    int64_t fsz = size * size * 3;
    run_result a, s, l, r;

    /* uniform: the planner's choice, seeking every time, decoding through */
    run(c, &ref, "uniform:7", 0, -1, 0, VTAG_VIDEO_STRATEGY_AUTO, 0, &a);
    check_count(&a, 7, c->file);
    run(c, &ref, "uniform:7", 0, -1, 0, VTAG_VIDEO_STRATEGY_SEEK, 0, &s);
    run(c, &ref, "uniform:7", 0, -1, 0, VTAG_VIDEO_STRATEGY_LINEAR, 1, &l);
    same_frames(&a, &s, fsz, "auto vs seek");
    same_frames(&a, &l, fsz, "auto vs linear");
    free(a.rgb);
    free(s.rgb);
    free(l.rgb);

    /* the default sampler, uniform:16 */
    run(c, &ref, "uniform", 0, -1, 0, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    check_count(&r, 16, c->file);
    free(r.rgb);

    /* a range and a cap */
    run(c, &ref, "uniform:4", 0.5, 1.9, 0, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    check_count(&r, 4, c->file);
    free(r.rgb);
    run(c, &ref, "fps:3", 0.3, -1, 4, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    check_count(&r, 4, c->file);
    free(r.rgb);
    run(c, &ref, "fps:2", 0, -1, 0, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    check_count(&r, (int64_t)floor(c->duration * 2 + 0.5 - 1e-9), c->file);
    free(r.rgb);

    /* keyframes: exactly the frames the CLI marks as keyframes */
    run(c, &ref, "keyframes", 0, -1, 0, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    int64_t keys = 0;
    for (int64_t i = 0; i < ref.n && keys < 64; i++)
        if (ref.key[i]) {
            VT_CHECK(keys < r.n && fabs(r.pts[keys] - ref.pts[i]) < 1e-4, "%s keyframe %lld at %.4f missing",
                     c->file, (long long)keys, ref.pts[i]);
            keys++;
        }
    VT_CHECK(r.n == keys, "%s: %lld keyframes, the CLI has %lld", c->file, (long long)r.n, (long long)keys);
    free(r.rgb);
    run(c, &ref, "keyframes", 0.9, -1, 2, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    free(r.rgb);

    /* scene: on the H.264 clip, the start and the cut at 2 s */
    run(c, &ref, "scene:0.2", 0, -1, 0, VTAG_VIDEO_STRATEGY_AUTO, 0, &r);
    if (strcmp(c->base, "h264") == 0) {
        VT_CHECK(r.n == 2 && r.pts[0] == 0.0 && fabs(r.pts[1] - 2.0) < 1e-6, "h264 scenes: %lld frames", (long long)r.n);
    } else {
        VT_CHECK(r.n >= 1 && r.pts[0] == ref.pts[0], "%s: the first frame starts a scene", c->file);
    }
    free(r.rgb);
    vt_ref_free(&ref);
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    for (size_t i = 0; i < sizeof clips / sizeof clips[0]; i++) test_clip(&clips[i], 96);
    test_clip(&clips[0], 224); /* the default size */
    printf("worst PSNR over all frames: %.2f dB (threshold %.0f)\n", worst_psnr, MIN_PSNR);
    return vt_summary("video/frames");
}

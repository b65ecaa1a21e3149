/* keyframes:N on the clips of make_clips.sh:
 *  - the frames are exactly the keyframes nearest to uniform:N's targets
 *    (ties: the earlier), by a brute-force search over the keyframe packets
 *    that libavformat lists (the CLI's key pictures for AVI, whose packets
 *    carry no presentation time); each once, in time order, with the first
 *    target that chose it; for N = 1, 3, 4, 7 and 50 (more targets than
 *    keyframes), a range, and a cap;
 *  - their pixels are byte for byte those of the plain keyframes sampler, and
 *    the CLI's pictures at those times (PSNR >= 35 dB);
 *  - the plain keyframes sampler gives every keyframe packet's picture, in
 *    time order, with index = count before and target = pts, nothing damaged
 *    (the open-GOP clip too: its key packets sent one after another without a
 *    flush came out in reverse order, damaged), and over a range the same
 *    pictures;
 *  - where keyframe packets decode alone only those are read and decoded
 *    (MP4, WebM, MOV, GIF); AVI with B-frames and a pipe decode through and
 *    give the same frames;
 *  - 1 and 2 decoder threads, and 2 readers sharing the set out, give the
 *    same frames;
 *  - the spec parser's refusals and canonical spelling. */
#include <fcntl.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <unistd.h>

#include "video_test.h"
#include "vtag/video.h"

enum { S = 96, MAX_FRAMES = 64, MAX_KEYS = 256 };
#define MIN_PSNR 35.0

typedef struct frames {
    int64_t n;
    int64_t index[MAX_FRAMES];
    double target[MAX_FRAMES], pts[MAX_FRAMES];
    uint8_t rgb[MAX_FRAMES][S * S * 3];
    double duration;
    vtag_video_stats st; /* of the last reader */
} frames;

/* Frames of clip under spec into *f (appended; part of parts readers, 1: alone). */
static int read_frames(const char *path, const char *spec, double start, double end, int64_t max_frames,
                       int threads, int part, int parts, frames *f)
{
    vtag_video_sampler smp;
    vtag_video_sampler_default(&smp);
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = S, o.threads = threads;
    vtag_error err = {0};
    vtag_video_t *v = NULL;
    int rc = vtag_video_sampler_parse(&smp, spec, &err);
    smp.start = start, smp.end = end, smp.max_frames = max_frames;
    if (!rc) rc = vtag_video_open(&v, path, &smp, &o, &err);
    if (!rc && parts > 1) {
        int owner[MAX_FRAMES];
        vtag_video_stats st;
        vtag_video_get_stats(v, &st);
        if (st.targets < 0 || st.targets > MAX_FRAMES) rc = VTAG_ERR_ARG, snprintf(err.msg, sizeof err.msg, "targets");
        if (!rc) rc = vtag_video_share_plan(v, parts, owner, &err);
        if (!rc) rc = vtag_video_share(v, part, parts, owner, &err);
    }
    if (!rc) f->duration = vtag_video_get_info(v)->duration;
    for (int got = 1; !rc && got;) {
        vtag_video_frame fr;
        rc = vtag_video_next(v, &fr, &got, &err);
        if (rc || !got) break;
        if (f->n == MAX_FRAMES) {
            rc = VTAG_ERR_ARG, snprintf(err.msg, sizeof err.msg, "too many frames");
            break;
        }
        f->index[f->n] = fr.index, f->target[f->n] = fr.target_seconds, f->pts[f->n] = fr.pts_seconds;
        memcpy(f->rgb[f->n], fr.rgb, S * S * 3);
        f->n++;
    }
    if (v) vtag_video_get_stats(v, &f->st);
    vtag_video_close(&v);
    VT_CHECK(rc == 0, "%s %s: %s", path, spec, err.msg);
    return rc;
}

/* The presentation times of the keyframe packets, ascending, on vtag's
 * timeline (seconds from the container's start time). */
static int64_t packet_keys(const char *path, double *t)
{
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0) return -1;
    int64_t n = 0;
    int s = avformat_find_stream_info(fmt, NULL) < 0 ? -1 : av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    AVPacket *pkt = av_packet_alloc();
    double t0 = fmt->start_time != AV_NOPTS_VALUE ? (double)fmt->start_time / AV_TIME_BASE : 0.0;
    while (s >= 0 && pkt && av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == s && (pkt->flags & AV_PKT_FLAG_KEY) && pkt->pts != AV_NOPTS_VALUE && n < MAX_KEYS)
            t[n++] = (double)pkt->pts * av_q2d(fmt->streams[s]->time_base) - t0;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    for (int64_t i = 1; i < n; i++) /* decode order → presentation order */
        for (int64_t j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1], t[j - 1] = x;
        }
    return s < 0 ? -1 : n;
}

/* The brute force: for each target the nearest key of [lo, key_hi) (ties:
 * the earlier), consecutive repeats dropped, at most cap. */
static int64_t nearest_keys(const double *key, int64_t nk, double lo, double hi, double key_hi, int64_t N,
                            int64_t cap, double *want_t, double *want_target)
{
    int64_t m = 0, last = -1;
    for (int64_t j = 0; j < N; j++) {
        double t = lo + ((double)j + 0.5) * (hi - lo) / (double)N;
        int64_t best = -1;
        for (int64_t k = 0; k < nk; k++) {
            if (key[k] < lo - 1e-6 || key[k] >= key_hi - 1e-6) continue;
            if (best < 0 || fabs(key[k] - t) < fabs(key[best] - t) - 1e-7) best = k; /* ties within 0.1 us */
        }
        if (best < 0 || best == last) continue;
        last = best;
        if (m < MAX_FRAMES) want_t[m] = key[best], want_target[m] = t;
        m++;
    }
    return cap > 0 && m > cap ? cap : m;
}

static const char *clip_path(const char *clip)
{
    static char path[256];
    snprintf(path, sizeof path, "video/%s", clip);
    return path;
}

static void same(const frames *a, const frames *b, const char *what)
{
    VT_CHECK(a->n == b->n, "%s: %lld frames against %lld", what, (long long)b->n, (long long)a->n);
    for (int64_t i = 0; i < a->n && i < b->n; i++) {
        VT_CHECK(a->index[i] == b->index[i] && a->pts[i] == b->pts[i] && a->target[i] == b->target[i],
                 "%s: frame %lld is index %lld at %.6f (target %.6f), not %lld at %.6f (%.6f)", what, (long long)i,
                 (long long)b->index[i], b->pts[i], b->target[i], (long long)a->index[i], a->pts[i], a->target[i]);
        VT_CHECK(memcmp(a->rgb[i], b->rgb[i], S * S * 3) == 0, "%s: frame %lld differs", what, (long long)i);
    }
}

typedef struct clip {
    const char *file, *base;
    int alone; /* keyframe packets decode alone: only they are read and decoded */
    int plain; /* the plain keyframes sampler's pictures are compared */
} clip;

static frames got, plain, other;

/* One keyframes:N run on c against the brute force, the plain sampler and the CLI. */
static void check_run(const clip *c, const vt_ref *ref, const double *keys, int64_t nk, int64_t N, double start,
                      double end, int64_t cap)
{
    char spec[64], what[160];
    snprintf(spec, sizeof spec, "keyframes:%lld", (long long)N);
    snprintf(what, sizeof what, "%s %s [%g, %g) max %lld", c->file, spec, start, end, (long long)cap);
    memset(&got, 0, sizeof got);
    if (read_frames(clip_path(c->file), spec, start, end, cap, 0, 0, 1, &got)) return;
    double hi = end >= 0 && end < got.duration ? end : got.duration, key_hi = end >= 0 ? end : INFINITY;
    double want_t[MAX_FRAMES], want_target[MAX_FRAMES];
    int64_t m = nearest_keys(keys, nk, start, hi, key_hi, N, cap, want_t, want_target);
    VT_CHECK(got.n == m, "%s: %lld frames, the nearest keyframes are %lld", what, (long long)got.n,
             (long long)m);
    for (int64_t i = 0; i < got.n && i < m; i++) {
        VT_CHECK(fabs(got.pts[i] - want_t[i]) < 1e-4 && fabs(got.target[i] - want_target[i]) < 1e-9,
                 "%s #%lld: keyframe %.4f for target %.4f, the nearest is %.4f for %.4f", what, (long long)i,
                 got.pts[i], got.target[i], want_t[i], want_target[i]);
        VT_CHECK(got.index[i] == i, "%s: index %lld at %lld", what, (long long)got.index[i], (long long)i);
        VT_CHECK(i == 0 || got.pts[i] > got.pts[i - 1], "%s: #%lld at %.4f after %.4f", what, (long long)i,
                 got.pts[i], got.pts[i - 1]);
        /* the CLI's picture at that time */
        int64_t k = vt_ref_at(ref, got.pts[i]);
        double p = vt_psnr(got.rgb[i], ref->rgb + k * S * S * 3, S * S * 3);
        VT_CHECK(fabs(ref->pts[k] - got.pts[i]) < 1e-4 && ref->key[k] && p >= MIN_PSNR,
                 "%s #%lld (%.4f s): the CLI's key picture at %.4f (key %d), PSNR %.2f dB", what, (long long)i,
                 got.pts[i], ref->pts[k], ref->key[k], p);
        /* the plain sampler's bits */
        for (int64_t j = 0; c->plain && j < plain.n; j++)
            if (plain.pts[j] == got.pts[i])
                VT_CHECK(memcmp(plain.rgb[j], got.rgb[i], S * S * 3) == 0, "%s #%lld (%.4f s): pixels differ from "
                         "the keyframes sampler's", what, (long long)i, got.pts[i]);
    }
    if (c->alone) {
        VT_CHECK(got.st.targets == got.n && got.st.frames_decoded == got.n && got.st.packets_read == got.n,
                 "%s: %lld targets, %lld packets read and %lld decoded for %lld frames", what,
                 (long long)got.st.targets, (long long)got.st.packets_read, (long long)got.st.frames_decoded,
                 (long long)got.n);
    } else {
        VT_CHECK(got.st.targets == -1, "%s: decoded through, yet %lld targets", what, (long long)got.st.targets);
    }
    VT_CHECK(got.st.damaged_packets == 0, "%s: %lld damaged packets", what, (long long)got.st.damaged_packets);
    printf("  %-18s %-13s [%3.1f, %5.2f) max %lld: %2lld frames, %3lld packets read, %3lld decoded, %2lld seeks\n",
           c->file, spec, start, hi, (long long)cap, (long long)got.n, (long long)got.st.packets_read,
           (long long)got.st.frames_decoded, (long long)got.st.seeks);

    /* 1 and 2 decoder threads; 2 readers sharing the set out */
    memset(&other, 0, sizeof other);
    if (!read_frames(clip_path(c->file), spec, start, end, cap, 1, 0, 1, &other)) same(&got, &other, "1 thread");
    memset(&other, 0, sizeof other);
    if (!read_frames(clip_path(c->file), spec, start, end, cap, 2, 0, 1, &other)) same(&got, &other, "2 threads");
    if (c->alone && got.n > 1) {
        memset(&other, 0, sizeof other);
        int rc = read_frames(clip_path(c->file), spec, start, end, cap, 1, 0, 2, &other);
        if (!rc) rc = read_frames(clip_path(c->file), spec, start, end, cap, 1, 1, 2, &other);
        for (int64_t i = 1; i < other.n; i++) /* by index */
            for (int64_t j = i; j > 0 && other.index[j] < other.index[j - 1]; j--) {
                static uint8_t tmp[S * S * 3];
                int64_t ti = other.index[j];
                double tp = other.pts[j], tt = other.target[j];
                memcpy(tmp, other.rgb[j], sizeof tmp);
                other.index[j] = other.index[j - 1], other.pts[j] = other.pts[j - 1];
                other.target[j] = other.target[j - 1];
                memcpy(other.rgb[j], other.rgb[j - 1], sizeof tmp);
                other.index[j - 1] = ti, other.pts[j - 1] = tp, other.target[j - 1] = tt;
                memcpy(other.rgb[j - 1], tmp, sizeof tmp);
            }
        if (!rc) same(&got, &other, "2 readers");
    }
}

/* The plain keyframes sampler (in `plain`): every keyframe, each its own
 * picture (the CLI's key picture at that time), in time order, undamaged. */
static void check_plain(const clip *c, const vt_ref *ref, const double *keys, int64_t nk)
{
    VT_CHECK(plain.n == nk, "%s keyframes: %lld frames for %lld keyframes", c->file, (long long)plain.n,
             (long long)nk);
    for (int64_t i = 0; i < plain.n && i < nk; i++) {
        VT_CHECK(plain.index[i] == i && plain.target[i] == plain.pts[i] && fabs(plain.pts[i] - keys[i]) < 1e-4 &&
                     (i == 0 || plain.pts[i] > plain.pts[i - 1]),
                 "%s keyframes #%lld: index %lld at %.4f (target %.4f), the keyframe is at %.4f", c->file,
                 (long long)i, (long long)plain.index[i], plain.pts[i], plain.target[i], keys[i]);
        int64_t k = vt_ref_at(ref, plain.pts[i]);
        double p = vt_psnr(plain.rgb[i], ref->rgb + k * S * S * 3, S * S * 3);
        VT_CHECK(fabs(ref->pts[k] - plain.pts[i]) < 1e-4 && ref->key[k] && p >= MIN_PSNR,
                 "%s keyframes #%lld (%.4f s): the CLI's key picture at %.4f (key %d), PSNR %.2f dB", c->file,
                 (long long)i, plain.pts[i], ref->pts[k], ref->key[k], p);
    }
    VT_CHECK(plain.st.damaged_packets == 0, "%s keyframes: %lld damaged packets", c->file,
             (long long)plain.st.damaged_packets);
    printf("  %-18s %-13s %2lld frames, %3lld packets read, %3lld decoded, %2lld seeks\n", c->file, "keyframes",
           (long long)plain.n, (long long)plain.st.packets_read, (long long)plain.st.frames_decoded,
           (long long)plain.st.seeks);
    /* a range: the keyframes in [0.6, 2.5), the same pictures */
    memset(&other, 0, sizeof other);
    if (read_frames(clip_path(c->file), "keyframes", 0.6, 2.5, 0, 0, 0, 1, &other)) return;
    int64_t first = 0, m = 0;
    while (first < nk && keys[first] < 0.6 - 1e-6) first++;
    while (first + m < nk && keys[first + m] < 2.5 - 1e-6) m++;
    VT_CHECK(other.n == m, "%s keyframes [0.6, 2.5): %lld frames for %lld keyframes", c->file, (long long)other.n,
             (long long)m);
    for (int64_t i = 0; i < other.n && i < m; i++) {
        int64_t j = first + i;
        VT_CHECK(other.index[i] == i && other.pts[i] == plain.pts[j] &&
                     memcmp(other.rgb[i], plain.rgb[j], S * S * 3) == 0,
                 "%s keyframes [0.6, 2.5) #%lld: index %lld at %.4f, not keyframe %.4f's picture", c->file,
                 (long long)i, (long long)other.index[i], other.pts[i], plain.pts[j]);
    }
}

static void test_clip(const clip *c)
{
    vt_ref ref;
    if (vt_ref_load(&ref, c->base, S)) {
        VT_CHECK(0, "reference for %s", c->file);
        return;
    }
    double keys[MAX_KEYS];
    int64_t nk = packet_keys(clip_path(c->file), keys);
    if (nk == 0) { /* no presentation times in the packets (AVI): the CLI's key pictures */
        for (int64_t i = 0; i < ref.n && nk < MAX_KEYS; i++)
            if (ref.key[i]) keys[nk++] = ref.pts[i];
    }
    VT_CHECK(nk > 0, "%s: no keyframe listed", c->file);
    memset(&plain, 0, sizeof plain);
    read_frames(clip_path(c->file), "keyframes", 0, -1, 0, 0, 0, 1, &plain);
    check_plain(c, &ref, keys, nk);
    static const int64_t Ns[] = {1, 3, 4, 7, 50};
    for (size_t i = 0; i < sizeof Ns / sizeof *Ns; i++) check_run(c, &ref, keys, nk, Ns[i], 0, -1, 0);
    check_run(c, &ref, keys, nk, 5, 0.6, 1.9, 0); /* a range */
    check_run(c, &ref, keys, nk, 7, 0, -1, 2);    /* a cap */
    vt_ref_free(&ref);
}

/* A pipe cannot seek: decoded through, the same frames as from the file
 * (keyframes:3 and plain keyframes). */
static void test_pipe(const char *spec)
{
    frames *file = &plain; /* reused */
    memset(file, 0, sizeof *file);
    memset(&got, 0, sizeof got);
    if (read_frames(clip_path("h264.mp4"), spec, 0, -1, 0, 0, 0, 1, file)) return;
    int fd = open(clip_path("h264.mp4"), O_RDONLY);
    VT_CHECK(fd >= 0, "open h264.mp4");
    if (fd < 0) return;
    char name[32], what[64];
    snprintf(name, sizeof name, "pipe:%d", fd);
    snprintf(what, sizeof what, "pipe %s", spec);
    if (!read_frames(name, spec, 0, -1, 0, 0, 0, 1, &got)) {
        VT_CHECK(got.st.targets == -1 && got.st.seeks == 0, "%s: decoded through", what);
        same(file, &got, what);
    }
    close(fd);
}

static void test_parse(void)
{
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_error err = {0};
    static const char *const bad[] = {"keyframes:0", "keyframes:x", "keyframes:1.5", "keyframes:-3",
                                      "keyframes:1000001", "keyframes:", "keyframes:4x", "keyframes:nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        VT_CHECK(vtag_video_sampler_parse(&s, bad[i], &err) == VTAG_ERR_ARG && strstr(err.msg, bad[i]) &&
                     strstr(err.msg, "keyframes:N needs a whole N in [1, 1000000]") && !strchr(err.msg, '\n'),
                 "%s: '%s'", bad[i], err.msg);
    }
    char buf[64];
    VT_CHECK(vtag_video_sampler_parse(&s, "keyframes:16", &err) == 0 && s.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES &&
                 s.key_targets == 16,
             "keyframes:16");
    vtag_video_sampler_format(&s, buf, sizeof buf);
    VT_CHECK(strcmp(buf, "keyframes:16") == 0, "formatted %s", buf);
    VT_CHECK(vtag_video_sampler_parse(&s, "keyframes:1000000", &err) == 0 && s.key_targets == 1000000, "1e6");
    VT_CHECK(vtag_video_sampler_parse(&s, "keyframes", &err) == 0 && s.key_targets == 0, "plain keyframes again");
    vtag_video_sampler_format(&s, buf, sizeof buf);
    VT_CHECK(strcmp(buf, "keyframes") == 0, "formatted %s", buf);
    vtag_video_sampler_default(&s);
    VT_CHECK(s.key_targets == 0, "the default is no keyframes:N");
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    static const clip clips[] = {
        {"h264.mp4", "h264", 1, 1},     {"vp9.webm", "vp9", 1, 1},     {"mpeg4.avi", "mpeg4", 0, 1},
        {"mjpeg.mov", "mjpeg", 1, 1},   {"anim.gif", "anim", 1, 1},    {"rot90.mp4", "rot90", 1, 1},
        {"vfr.mp4", "vfr", 1, 1},       {"av.mp4", "av", 1, 1},        {"opengop.mp4", "opengop", 1, 1},
        {"h264_moov_end.mp4", "h264", 1, 1},
    };
    for (size_t i = 0; i < sizeof clips / sizeof *clips; i++) test_clip(&clips[i]);
    test_pipe("keyframes:3");
    test_pipe("keyframes");
    test_parse();
    return vt_summary("video/keyframes_n");
}

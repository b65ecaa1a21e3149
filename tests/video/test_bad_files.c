/* Files that are not videos, or broken ones: a one-line error, or for a
 * damaged stream the frames that decode plus a count of damaged packets;
 * never a crash (and, in the ASan build, never a leak). The broken files are
 * made here from the fixture clips, deterministically. */
#include <libavutil/log.h>
#include <sys/stat.h>

#include "video_test.h"
#include "vtag/video.h"

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static int write_file(const char *path, const uint8_t *data, int64_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = n == 0 || fwrite(data, 1, (size_t)n, f) == (size_t)n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static uint8_t *read_all(const char *path, int64_t *n)
{
    *n = file_size(path);
    if (*n < 0) return NULL;
    uint8_t *buf = malloc((size_t)*n + 1);
    FILE *f = fopen(path, "rb");
    if (!buf || !f || fread(buf, 1, (size_t)*n, f) != (size_t)*n) {
        free(buf);
        if (f) fclose(f);
        return NULL;
    }
    fclose(f);
    return buf;
}

/* bad/<name>: the first half of clip, or clip with random bytes over the
 * middle fifth. */
static void make_broken(const char *clip, const char *name, int truncate)
{
    char src[256], dst[256];
    snprintf(src, sizeof src, "video/%s", clip);
    snprintf(dst, sizeof dst, "video/bad/%s", name);
    int64_t n;
    uint8_t *buf = read_all(src, &n);
    VT_CHECK(buf != NULL, "cannot read %s", src);
    if (!buf) return;
    if (truncate) n /= 2;
    else {
        vtag_rng rng;
        vtag_rng_seed(&rng, 20240601);
        for (int64_t i = 2 * n / 5; i < 3 * n / 5; i++) buf[i] = (uint8_t)(vtag_rng_next(&rng) >> 56);
    }
    VT_CHECK(write_file(dst, buf, n) == 0, "cannot write %s", dst);
    free(buf);
}

static int one_line(const char *msg)
{
    return msg[0] != '\0' && strchr(msg, '\n') == NULL;
}

/* Expects open and probe to fail with `code` and a one-line message
 * containing `what`. */
static void expect_error(const char *path, int code, const char *what)
{
    vtag_error err = {0};
    vtag_video_info info;
    int rc = vtag_video_probe(path, &info, &err);
    VT_CHECK(rc == code, "%s: probe returned %d (%s), expected %d", path, rc, err.msg, code);
    VT_CHECK(one_line(err.msg) && strstr(err.msg, what), "%s: message '%s' (want '%s')", path, err.msg, what);
    vtag_video_t *v = (vtag_video_t *)&err; /* must come back NULL */
    memset(&err, 0, sizeof err);
    rc = vtag_video_open(&v, path, NULL, NULL, &err);
    VT_CHECK(rc == code && v == NULL, "%s: open returned %d (%s)", path, rc, err.msg);
    VT_CHECK(one_line(err.msg) && strstr(err.msg, what), "%s: message '%s'", path, err.msg);
    printf("  %-32s -> %s\n", path, err.msg);
}

typedef struct outcome {
    int64_t frames, targets, damaged;
    double missing;
    int open_rc;
} outcome;

/* Runs a sampler to the end; a damaged stream must never be an error. */
static outcome drain(const char *path, const char *spec, vtag_video_strategy strategy)
{
    outcome o = {0, 0, 0, 0.0, 0};
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_error err = {0};
    vtag_video_sampler_parse(&s, spec, &err);
    vtag_video_options opt;
    vtag_video_options_default(&opt);
    opt.size = 32;
    opt.strategy = strategy;
    vtag_video_t *v = NULL;
    o.open_rc = vtag_video_open(&v, path, &s, &opt, &err);
    if (o.open_rc) {
        VT_CHECK(one_line(err.msg), "%s: open error not one line: '%s'", path, err.msg);
        return o;
    }
    double last = -1.0;
    for (;;) {
        vtag_video_frame f;
        int got;
        int rc = vtag_video_next(v, &f, &got, &err);
        VT_CHECK(rc == VTAG_OK, "%s %s: %s", path, spec, err.msg);
        if (rc || !got) break;
        VT_CHECK(f.rgb && f.size == 32, "frame");
        VT_CHECK(f.target_seconds >= last, "%s %s: targets go back", path, spec);
        last = f.target_seconds;
    }
    vtag_video_stats st;
    vtag_video_get_stats(v, &st);
    o.frames = st.frames_out;
    o.targets = st.targets;
    o.damaged = st.damaged_packets;
    o.missing = st.missing_seconds;
    VT_CHECK(st.targets < 0 || st.frames_out <= st.targets, "more frames than targets");
    vtag_video_close(&v);
    return o;
}

static const char *samplers[] = {"uniform:16", "fps:5", "keyframes", "scene:0.2", "keyframes:6"};
static const vtag_video_strategy strategies[] = {VTAG_VIDEO_STRATEGY_AUTO, VTAG_VIDEO_STRATEGY_SEEK,
                                                 VTAG_VIDEO_STRATEGY_LINEAR};

/* Every sampler and strategy over a broken file: no error, no crash. */
static void survive(const char *path)
{
    for (size_t i = 0; i < sizeof samplers / sizeof samplers[0]; i++)
        for (size_t j = 0; j < 3; j++) {
            if (i >= 2 && j > 0) continue; /* keyframes/scene/keyframes:N have one strategy */
            outcome o = drain(path, samplers[i], strategies[j]);
            VT_CHECK(o.open_rc == VTAG_OK || o.open_rc == VTAG_ERR_FORMAT, "%s: open %d", path, o.open_rc);
            if (i == 0 && j == 0)
                printf("  %-32s uniform:16 -> %lld of %lld frames, %lld damaged packets, %.2f s missing\n",
                       path, (long long)o.frames, (long long)o.targets, (long long)o.damaged, o.missing);
        }
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    mkdir("video/bad", 0777);

    /* not videos */
    const char *text = "This is a text file, not a video.\n";
    VT_CHECK(write_file("video/bad/text.mp4", (const uint8_t *)text, (int64_t)strlen(text)) == 0, "write");
    VT_CHECK(write_file("video/bad/empty.mp4", NULL, 0) == 0, "write");
    uint8_t noise[65536];
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (uint8_t)(vtag_rng_next(&rng) >> 56);
    VT_CHECK(write_file("video/bad/noise.mp4", noise, (int64_t)sizeof noise) == 0, "write");
    expect_error("video/bad/text.mp4", VTAG_ERR_FORMAT, "not a media file");
    expect_error("video/bad/empty.mp4", VTAG_ERR_FORMAT, "empty file");
    expect_error("video/bad/noise.mp4", VTAG_ERR_FORMAT, "video/bad/noise.mp4");
    expect_error("video/audio.mp4", VTAG_ERR_FORMAT, "no video stream");
    expect_error("video/bad/missing.mp4", VTAG_ERR_IO, "No such file");
    expect_error("video/bad", VTAG_ERR_IO, "directory");

    /* truncated at half: with the index first, the first half decodes */
    make_broken("h264.mp4", "h264_half.mp4", 1);
    outcome o = drain("video/bad/h264_half.mp4", "uniform:16", VTAG_VIDEO_STRATEGY_AUTO);
    VT_CHECK(o.open_rc == VTAG_OK, "truncated h264 opens");
    VT_CHECK(o.frames >= 4 && o.frames < 16, "truncated h264: %lld of 16 frames", (long long)o.frames);
    VT_CHECK(o.damaged >= 1, "truncated h264: damage counted (%lld)", (long long)o.damaged);
    /* with the index at the end (camera files), nothing can be read */
    make_broken("h264_moov_end.mp4", "h264_moov_end_half.mp4", 1);
    expect_error("video/bad/h264_moov_end_half.mp4", VTAG_ERR_FORMAT, "not a media file");

    /* random bytes over the middle: frames come out, damage is counted */
    make_broken("h264.mp4", "h264_noise.mp4", 0);
    o = drain("video/bad/h264_noise.mp4", "fps:25", VTAG_VIDEO_STRATEGY_LINEAR);
    VT_CHECK(o.open_rc == VTAG_OK && o.frames >= 50, "damaged h264: %lld frames", (long long)o.frames);
    VT_CHECK(o.damaged >= 1, "damaged h264: %lld damaged packets", (long long)o.damaged);
    o = drain("video/bad/h264_noise.mp4", "scene:0.5", VTAG_VIDEO_STRATEGY_AUTO);
    VT_CHECK(o.damaged >= 1, "damaged h264 decoded through: %lld damaged packets", (long long)o.damaged);
    /* keyframes:N: the keyframe at 1 s is hit; a gap, counted, never a neighbouring picture */
    o = drain("video/bad/h264_noise.mp4", "keyframes:4", VTAG_VIDEO_STRATEGY_AUTO);
    VT_CHECK(o.frames == 3 && o.targets == 4 && o.damaged >= 1, "damaged h264, keyframes:4: %lld of %lld frames, "
             "%lld damaged packets", (long long)o.frames, (long long)o.targets, (long long)o.damaged);

    /* every format, both kinds of damage, every sampler and strategy */
    const char *clips[] = {"h264.mp4", "vp9.webm", "mpeg4.avi", "mjpeg.mov", "anim.gif", "vfr.mp4", "rot90.mp4"};
    for (size_t i = 0; i < sizeof clips / sizeof clips[0]; i++) {
        char name[128], path[160];
        for (int t = 0; t < 2; t++) {
            snprintf(name, sizeof name, "%s_%s", t ? "half" : "noise", clips[i]);
            make_broken(clips[i], name, t);
            snprintf(path, sizeof path, "video/bad/%s", name);
            survive(path);
        }
    }
    return vt_summary("video/bad_files");
}

/* The small pieces of the video API: sampler specs, argument checks at open,
 * normalisation, and the PNG writer (read back with libpng). */
#include <libavutil/log.h>
#include <png.h>

#include "video_test.h"
#include "vtag/video.h"

static void test_sampler_specs(void)
{
    vtag_video_sampler s;
    vtag_error err = {0};
    char buf[64];
    vtag_video_sampler_default(&s);
    VT_CHECK(s.kind == VTAG_VIDEO_SAMPLE_UNIFORM && s.count == 16 && s.end < 0 && s.start == 0 && s.max_frames == 0,
             "default is uniform:16 over the whole video");
    const char *good[] = {"uniform:16", "uniform:1", "fps:2", "fps:0.5", "keyframes", "keyframes:3", "scene:0.3", "scene:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        VT_CHECK(vtag_video_sampler_parse(&s, good[i], &err) == VTAG_OK, "%s: %s", good[i], err.msg);
        vtag_video_sampler_format(&s, buf, sizeof buf);
        VT_CHECK(strcmp(buf, good[i]) == 0, "'%s' formats as '%s'", good[i], buf);
    }
    VT_CHECK(vtag_video_sampler_parse(&s, "uniform", &err) == VTAG_OK && s.count == 16, "bare uniform is 16");
    const char *bad[] = {"uniform:0", "uniform:2.5", "uniform:x", "fps", "fps:0", "fps:-1", "fps:nan",
                         "keyframes:0", "keyframes:x", "scene", "scene:0", "scene:1.5", "random:3", "", "uniform:16x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        VT_CHECK(vtag_video_sampler_parse(&s, bad[i], &err) == VTAG_ERR_ARG && err.msg[0] && !strchr(err.msg, '\n'),
                 "'%s' must be refused with a one-line message", bad[i]);
    }
}

static void test_open_arguments(void)
{
    vtag_video_sampler s;
    vtag_video_options o;
    vtag_error err = {0};
    vtag_video_t *v = NULL;

    vtag_video_options_default(&o);
    VT_CHECK(o.size == 224 && o.threads == 0 && o.strategy == VTAG_VIDEO_STRATEGY_AUTO, "default options");
    o.size = 0;
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", NULL, &o, &err) == VTAG_ERR_ARG && !v, "size 0");
    vtag_video_options_default(&o);
    o.threads = -1;
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", NULL, &o, &err) == VTAG_ERR_ARG && !v, "threads -1");

    vtag_video_sampler_default(&s);
    s.start = 3.0;
    s.end = 2.0;
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", &s, NULL, &err) == VTAG_ERR_ARG && !v, "end before start");
    s.start = 10.0;
    s.end = -1;
    memset(&err, 0, sizeof err);
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", &s, NULL, &err) == VTAG_ERR_ARG && !v &&
                 strstr(err.msg, "empty"),
             "start past the end: '%s'", err.msg);
    vtag_video_sampler_default(&s);
    s.count = 0;
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", &s, NULL, &err) == VTAG_ERR_ARG && !v, "uniform:0");

    /* NULL sampler and options: uniform:16 at 224 */
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", NULL, NULL, &err) == VTAG_OK && v, "%s", err.msg);
    if (v) {
        const vtag_video_info *info = vtag_video_get_info(v);
        VT_CHECK(info->width == 320 && info->height == 240 && strcmp(info->codec, "h264") == 0, "info");
        vtag_video_frame f;
        int got, n = 0;
        while (vtag_video_next(v, &f, &got, &err) == VTAG_OK && got) {
            VT_CHECK(f.size == 224 && f.rgb, "default size");
            n++;
        }
        VT_CHECK(n == 16, "default sampler gives 16 frames, got %d", n);
        VT_CHECK(vtag_video_next(v, &f, &got, &err) == VTAG_OK && !got, "after the end: still the end");
        vtag_video_stats st;
        vtag_video_get_stats(v, &st);
        VT_CHECK(st.targets == 16 && st.frames_out == 16 && st.frames_converted <= 16 && st.cost_seek > 0 &&
                     st.cost_linear > 0 && st.cost_plan <= st.cost_seek && st.cost_plan <= st.cost_linear,
                 "the plan is no worse than either pure strategy (plan %lld, seek %lld, linear %lld)",
                 (long long)st.cost_plan, (long long)st.cost_seek, (long long)st.cost_linear);
    }
    vtag_video_close(&v);
    VT_CHECK(v == NULL, "close NULLs");
    vtag_video_close(&v); /* twice is fine */
    vtag_video_close(NULL);

    vtag_video_info info;
    VT_CHECK(vtag_video_probe("video/vp9.webm", &info, &err) == VTAG_OK, "%s", err.msg);
    VT_CHECK(info.keyframes == 3 && info.frames == 75 && !info.index_complete, "webm probe: %lld keyframes, %lld frames",
             (long long)info.keyframes, (long long)info.frames);
    VT_CHECK(vtag_video_probe("video/mjpeg.mov", &info, &err) == VTAG_OK && info.keyframes == 50 &&
                 info.index_complete,
             "mjpeg: every frame a keyframe, from the index");
    VT_CHECK(vtag_video_probe("video/anim.gif", &info, &err) == VTAG_OK && info.frames == 30 &&
                 fabs(info.frame_rate - 10.0) < 1e-9,
             "gif: 30 frames at 10 fps");
}

static void test_normalize(void)
{
    const int64_t s = 3;
    uint8_t rgb[3 * 3 * 3];
    for (int i = 0; i < 27; i++) rgb[i] = (uint8_t)(i * 9);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    float out[27];
    vtag_video_normalize(rgb, s, mean, std, out);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 9; p++) {
            double want = ((double)rgb[p * 3 + c] / 255.0 - mean[c]) / std[c];
            VT_CHECK(fabs(out[c * 9 + p] - want) < 1e-5, "channel %d pixel %d: %g vs %g", c, p, out[c * 9 + p], want);
        }
}

static void test_png(void)
{
    const int w = 37, h = 11;
    uint8_t rgb[37 * 11 * 3];
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(i * 31 + 7);
    vtag_error err = {0};
    VT_CHECK(vtag_video_write_png("video/api.png", rgb, w, h, &err) == VTAG_OK, "%s", err.msg);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    int ok = png_image_begin_read_from_file(&img, "video/api.png");
    VT_CHECK(ok && img.width == (png_uint_32)w && img.height == (png_uint_32)h, "PNG header");
    if (ok) {
        img.format = PNG_FORMAT_RGB;
        uint8_t back[37 * 11 * 3];
        VT_CHECK(png_image_finish_read(&img, NULL, back, 0, NULL), "PNG read");
        VT_CHECK(memcmp(back, rgb, sizeof rgb) == 0, "PNG round trip");
    }
    png_image_free(&img);
    memset(&err, 0, sizeof err);
    VT_CHECK(vtag_video_write_png("video/no-such-folder/x.png", rgb, w, h, &err) == VTAG_ERR_IO &&
                 strstr(err.msg, "no-such-folder"),
             "unwritable path: '%s'", err.msg);
    VT_CHECK(vtag_video_write_png("video/api0.png", rgb, 0, h, &err) == VTAG_ERR_ARG, "zero width");
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    test_sampler_specs();
    test_open_arguments();
    test_normalize();
    test_png();
    return vt_summary("video/api");
}

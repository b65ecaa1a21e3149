/* Fuzz target: video files (src/video/) — probing (header, index, keyframe
 * count) and reading the first few sampled frames through FFmpeg, as vtag
 * probe and vtag frames do, with both ways of reaching the frames. */
#include <libavutil/log.h>

#include "fuzz.h"
#include "vtag/video.h"

/* The harness's cap on the work per input: frames returned per pass. */
#define MAX_FRAMES 4

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    av_log_set_level(AV_LOG_QUIET); /* FFmpeg's diagnostics are its own, as in the CLI */
    return 0;
}

static void read_frames(const char *path, const char *sampler, vtag_video_strategy strategy)
{
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_error err = {0};
    if (vtag_video_sampler_parse(&s, sampler, &err)) abort();
    s.max_frames = MAX_FRAMES;
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = 16;
    o.threads = 1;
    o.strategy = strategy;
    vtag_video_t *v = NULL;
    if (vtag_video_open(&v, path, &s, &o, &err)) return;
    (void)vtag_video_get_info(v);
    size_t sink = 0;
    int got = 1;
    while (got) {
        vtag_video_frame fr;
        if (vtag_video_next(v, &fr, &got, &err)) break;
        if (got)
            for (int64_t i = 0; i < fr.size * fr.size * 3; i++) sink += fr.rgb[i];
    }
    fuzz_keep(sink);
    vtag_video_stats st;
    vtag_video_get_stats(v, &st);
    vtag_video_close(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_path(path, sizeof path, ".video");
    fuzz_write(path, data, size);
    vtag_video_info info;
    vtag_error err = {0};
    if (!vtag_video_probe(path, &info, &err)) {
        read_frames(path, "uniform:3", VTAG_VIDEO_STRATEGY_AUTO);
        read_frames(path, "scene:0.1", VTAG_VIDEO_STRATEGY_LINEAR);
    }
    unlink(path);
    return 0;
}

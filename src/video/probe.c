/* vtag_video_probe: header facts plus the keyframe count, from the index
 * when it lists every packet, else from one decode-free pass over the file. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "video_internal.h"

int vtag_video_probe(const char *path, vtag_video_info *info, vtag_error *err)
{
    return vtag_video_probe_with(path, NULL, info, err);
}

int vtag_video_probe_with(const char *path, const vtag_video_options *o, vtag_video_info *info, vtag_error *err)
{
    vv_input in;
    int rc = vv_input_open(&in, path, o ? o->protocols : NULL, info, err);
    if (rc) return rc;
    vv_index ix;
    if ((rc = vv_index_build(&ix, &in, info, err))) goto done;
    if (ix.n > 0 && ix.complete) {
        info->index_complete = 1;
        int64_t keys = 0;
        for (int64_t i = 0; i < ix.n; i++) keys += ix.key[i];
        info->keyframes = keys;
        if (info->frames == 0) info->frames = ix.n;
    } else {
        int64_t packets = 0, keys = 0;
        double end = 0.0;
        if ((rc = vv_scan_packets(&in, &packets, &keys, &end, NULL, err))) goto done;
        info->keyframes = keys;
        info->frames = packets;
        if (info->duration <= 0) info->duration = end;
    }
done:
    vv_index_free(&ix);
    vv_input_close(&in);
    return rc;
}

void vtag_video_versions(char *buf, int64_t cap)
{
    const unsigned f = avformat_version(), c = avcodec_version(), s = swscale_version(), u = avutil_version();
    snprintf(buf, (size_t)cap, "FFmpeg %s; libavformat %u.%u.%u, libavcodec %u.%u.%u, libswscale %u.%u.%u, libavutil %u.%u.%u",
             av_version_info(), AV_VERSION_MAJOR(f), AV_VERSION_MINOR(f), AV_VERSION_MICRO(f), AV_VERSION_MAJOR(c),
             AV_VERSION_MINOR(c), AV_VERSION_MICRO(c), AV_VERSION_MAJOR(s), AV_VERSION_MINOR(s), AV_VERSION_MICRO(s),
             AV_VERSION_MAJOR(u), AV_VERSION_MINOR(u), AV_VERSION_MICRO(u));
}

/* Every line FFmpeg logs passes here: the level set below is the one filter
 * (FFmpeg's own state, not vtag's), so a library or thread that logs at a
 * level of its own choosing is silenced as well. */
static void log_line(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > av_log_get_level()) return;
    av_log_default_callback(avcl, level, fmt, vl);
}

void vtag_video_set_log(vtag_video_log level)
{
    av_log_set_level(level == VTAG_VIDEO_LOG_WARNING ? AV_LOG_WARNING : AV_LOG_QUIET);
    av_log_set_callback(log_line);
}

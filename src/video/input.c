/* Opening a media file: the demuxer, the video stream, and the facts its
 * header gives (vtag_video_info); a decode-free packet scan for the rest. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavutil/display.h>

#include "video_internal.h"

double vv_seconds(const vv_input *in, int64_t ts)
{
    return (double)ts * av_q2d(in->tb) - in->t0;
}

int64_t vv_stream_ts(const vv_input *in, double t)
{
    return (int64_t)floor((t + in->t0) / av_q2d(in->tb));
}

/* Clockwise quarter turns for display, as the ffmpeg CLI's autorotate reads
 * the display matrix (which rotates counter-clockwise). */
static int rotation_of(const AVStream *st)
{
    const uint8_t *m = NULL;
#if LIBAVFORMAT_VERSION_INT >= AV_VERSION_INT(60, 15, 100)
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                         st->codecpar->nb_coded_side_data,
                                                         AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * sizeof(int32_t)) m = sd->data;
#else
    size_t size = 0;
    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (size < 9 * sizeof(int32_t)) m = NULL;
#endif
    if (!m) return 0;
    int32_t matrix[9];
    memcpy(matrix, m, sizeof matrix);
    double a = av_display_rotation_get(matrix);
    if (isnan(a)) return 0;
    long q = lround(-a / 90.0);
    return (int)(((q % 4) + 4) % 4) * 90;
}

static int pick_stream(AVFormatContext *fmt)
{
    int best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (best >= 0 && !(fmt->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) return best;
    /* Cover art is a one-picture "video" stream; look for a real one. */
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVStream *s = fmt->streams[i];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
            return (int)i;
    }
    return -1;
}

static int no_video_error(const vv_input *in, const char *path, vtag_error *err)
{
    int audio = 0, pics = 0, other = 0;
    for (unsigned i = 0; i < in->fmt->nb_streams; i++) {
        const AVStream *s = in->fmt->streams[i];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) audio++;
        else if (s->disposition & AV_DISPOSITION_ATTACHED_PIC) pics++;
        else other++;
    }
    return vtag_fail(err, VTAG_ERR_FORMAT,
                     "%s: no video stream (%d audio, %d cover-art, %d other streams)", path, audio, pics,
                     other);
}

/* What may be opened as a video: a regular file (FFmpeg's open would block
 * on a FIFO without a writer, and read a device without end) whose name is
 * valid UTF-8 (outputs write it into JSON). Reading URLs or "-" would be
 * admitted here, by name. */
static int check_path(const char *path, vtag_error *err)
{
    size_t n = strlen(path);
    if (vtag_utf8_valid_prefix(path, n) != n)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: the file name is not valid UTF-8", path);
    int rc = vtag_file_check_regular(path, err);
    if (rc) return rc;
    struct stat sb;
    if (stat(path, &sb) != 0) return vtag_fail(err, VTAG_ERR_IO, "%s: %s", path, strerror(errno));
    if (sb.st_size == 0) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: empty file (0 bytes)", path);
    return VTAG_OK;
}

/* avformat_find_stream_info decodes a picture or two of each stream for its
 * parameters: with each decoder held to vtag's picture limit, a header that
 * claims a huge picture is refused there before the picture is allocated
 * (FFmpeg's per-macroblock tables for it remain: about 100 MB at most). */
static int find_stream_info(AVFormatContext *fmt)
{
    unsigned n = fmt->nb_streams;
    AVDictionary **opts = n ? av_calloc(n, sizeof *opts) : NULL;
    if (n && !opts) return AVERROR(ENOMEM);
    for (unsigned i = 0; i < n; i++) av_dict_set_int(&opts[i], "max_pixels", VTAG_VIDEO_MAX_PIXELS, 0);
    int ret = avformat_find_stream_info(fmt, opts);
    for (unsigned i = 0; i < n; i++) av_dict_free(&opts[i]);
    av_freep(&opts);
    return ret;
}

/* FFmpeg reads only the file it was given. A "video" may be a playlist (HLS,
 * DASH) or another demuxer's list of files, which makes FFmpeg open further
 * files or URLs named inside it: a way for a hostile input to read other
 * local files, or reach the network, from a tagging service. Every open goes
 * through gate_open, which allows the input's own "file:" URL and nothing
 * else; protocol_whitelist=file backs it up. */
typedef struct vv_gate {
    int (*open_default)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **opts);
    char url[]; /* "file:" + the path: a ':' in a name is never a protocol */
} vv_gate;

static int gate_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **opts)
{
    const vv_gate *g = s->opaque;
    if (!g || !url || strcmp(url, g->url) != 0 || (flags & AVIO_FLAG_WRITE)) return AVERROR(EPERM);
    return g->open_default(s, pb, url, flags, opts);
}

/* avformat_open_input of path alone (see vv_gate); in->gate is freed by
 * vv_input_close. */
static int open_gated(vv_input *in, const char *path)
{
    size_t len = strlen(path);
    vv_gate *g = malloc(sizeof *g + len + sizeof "file:");
    in->fmt = avformat_alloc_context();
    if (!g || !in->fmt) {
        free(g);
        avformat_free_context(in->fmt);
        in->fmt = NULL;
        return AVERROR(ENOMEM);
    }
    memcpy(g->url, "file:", 5);
    memcpy(g->url + 5, path, len + 1);
    g->open_default = in->fmt->io_open;
    in->fmt->opaque = g;
    in->fmt->io_open = gate_open;
    in->gate = g;
    AVDictionary *opts = NULL;
    int ret = av_dict_set(&opts, "protocol_whitelist", "file", 0);
    if (ret >= 0) ret = avformat_open_input(&in->fmt, g->url, NULL, &opts);
    else avformat_free_context(in->fmt), in->fmt = NULL;
    av_dict_free(&opts);
    return ret;
}

int vv_input_open(vv_input *in, const char *path, vtag_video_info *info, vtag_error *err)
{
    memset(in, 0, sizeof *in);
    memset(info, 0, sizeof *info);
    in->stream = -1;
    info->keyframes = -1;

    int rc = check_path(path, err);
    if (rc) return rc;
    int ret = open_gated(in, path);
    if (ret < 0) {
        vv_input_close(in);
        int code = (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EIO)) ? VTAG_ERR_IO
                                                                                                : VTAG_ERR_FORMAT;
        return vtag_fail(err, code, "%s: not a media file FFmpeg can read (%s)", path, av_err2str(ret));
    }
    ret = find_stream_info(in->fmt);
    if (ret < 0) {
        vtag_fail(err, VTAG_ERR_FORMAT, "%s: cannot read the stream parameters (%s)", path, av_err2str(ret));
        vv_input_close(in);
        return VTAG_ERR_FORMAT;
    }
    in->stream = pick_stream(in->fmt);
    if (in->stream < 0) {
        no_video_error(in, path, err);
        vv_input_close(in);
        return VTAG_ERR_FORMAT;
    }
    AVStream *st = in->st = in->fmt->streams[in->stream];
    /* Only the chosen stream's packets matter; the demuxer may skip the rest. */
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        if ((int)i != in->stream) in->fmt->streams[i]->discard = AVDISCARD_ALL;
    in->tb = st->time_base;
    if (in->tb.num <= 0 || in->tb.den <= 0) in->tb = (AVRational){1, AV_TIME_BASE};
    in->t0 = in->fmt->start_time != AV_NOPTS_VALUE ? (double)in->fmt->start_time / AV_TIME_BASE : 0.0;
    in->first_pts = st->start_time != AV_NOPTS_VALUE ? vv_seconds(in, st->start_time) : 0.0;

    const AVCodecParameters *par = st->codecpar;
    if (par->width > VTAG_VIDEO_MAX_SIDE || par->height > VTAG_VIDEO_MAX_SIDE ||
        (int64_t)par->width * par->height > VTAG_VIDEO_MAX_PIXELS) {
        vtag_fail(err, VTAG_ERR_UNSUPPORTED,
                  "%s: pictures of %dx%d pixels, more than vtag decodes (%d a side, %lld in all)", path,
                  par->width, par->height, VTAG_VIDEO_MAX_SIDE, (long long)VTAG_VIDEO_MAX_PIXELS);
        vv_input_close(in);
        return VTAG_ERR_UNSUPPORTED;
    }
    snprintf(info->container, sizeof info->container, "%s", in->fmt->iformat->name);
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(par->codec_id));
    info->width = par->width;
    info->height = par->height;
    info->rotation = rotation_of(st);
    int swap = info->rotation == 90 || info->rotation == 270;
    info->display_width = swap ? info->height : info->width;
    info->display_height = swap ? info->width : info->height;
    AVRational fr = st->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = st->r_frame_rate;
    info->frame_rate = (fr.num > 0 && fr.den > 0) ? av_q2d(fr) : 0.0;
    info->frames = st->nb_frames > 0 ? st->nb_frames : 0;
    info->index_entries = avformat_index_get_entries_count(st);

    /* The end of the video stream on the timeline; the container's duration
     * (its longest stream, often the audio) only when the stream has none.
     * A duration guessed from the bit rate is worthless for sampling: the
     * caller scans for it (duration 0). */
    double d = 0.0;
    if (in->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
            d = (double)st->duration * av_q2d(in->tb) + in->first_pts;
        else if (in->fmt->duration != AV_NOPTS_VALUE && in->fmt->duration > 0)
            d = (double)in->fmt->duration / AV_TIME_BASE;
    }
    info->duration = d;
    return VTAG_OK;
}

void vv_input_close(vv_input *in)
{
    if (in->fmt) avformat_close_input(&in->fmt);
    free(in->gate);
    in->gate = NULL;
    in->st = NULL;
    in->stream = -1;
}

int vv_scan_packets(vv_input *in, int64_t *packets, int64_t *keyframes, double *end, vtag_error *err)
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
    int64_t n = 0, k = 0;
    double e = 0.0;
    int errors = 0;
    for (;;) {
        int ret = av_read_frame(in->fmt, pkt);
        if (ret == AVERROR_EOF) break;
        if (ret == AVERROR(ENOMEM)) {
            av_packet_free(&pkt);
            return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
        }
        if (ret < 0) {
            /* A damaged stretch: the demuxer resynchronises, or the file ends. */
            if ((in->fmt->pb && avio_feof(in->fmt->pb)) || ++errors > 64) break;
            continue;
        }
        errors = 0;
        if (pkt->stream_index == in->stream) {
            n++;
            if (pkt->flags & AV_PKT_FLAG_KEY) k++;
            int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (ts != AV_NOPTS_VALUE) {
                double t = vv_seconds(in, ts + (pkt->duration > 0 ? pkt->duration : 0));
                if (t > e) e = t;
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (packets) *packets = n;
    if (keyframes) *keyframes = k;
    if (end) *end = e;
    return VTAG_OK;
}

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

/* What may be opened as a local video: a regular file (FFmpeg's open would
 * block on a FIFO without a writer, and read a device without end). */
static int check_file(const char *name, const char *path, vtag_error *err)
{
    int rc = vtag_file_check_regular(path, err);
    if (rc) return rc;
    struct stat sb;
    if (stat(path, &sb) != 0) return vtag_fail(err, VTAG_ERR_IO, "%s: %s", name, strerror(errno));
    if (sb.st_size == 0) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: empty file (0 bytes)", name);
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

/* ---- what a name opens ------------------------------------------------------ */

#define SCHEME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."

/* The scheme of name ("http" of "http://…") into buf, or 0 when name has no
 * "scheme:" prefix. */
static size_t scheme_of(const char *name, char *buf, size_t cap)
{
    size_t n = strspn(name, SCHEME_CHARS);
    if (n == 0 || name[n] != ':' || n >= cap) return 0;
    memcpy(buf, name, n);
    buf[n] = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] >= 'A' && buf[i] <= 'Z') buf[i] = (char)(buf[i] - 'A' + 'a');
    return n;
}

/* A ':' in a file name is no protocol ("http:clip.mp4" is a file): only
 * "scheme://", and FFmpeg's "pipe:N" and "file:PATH", name one. */
void vtag_video_input_protocol(const char *name, char *proto, size_t cap)
{
    char s[32];
    const char *p = "file";
    if (strcmp(name, "-") == 0 || strncmp(name, "pipe:", 5) == 0) p = "pipe";
    else if (scheme_of(name, s, sizeof s) && strncmp(name + strlen(s), "://", 3) == 0) p = s;
    if (cap) snprintf(proto, cap, "%s", p);
}

/* Whether the comma-separated list holds name. */
static int list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, name, n) == 0) return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

int vtag_video_protocol_allowed(const char *list, const char *proto)
{
    return list && proto && list_has(list, proto);
}

int vtag_video_protocols_check(const char *list, vtag_error *err)
{
    if (!list || !*list) return vtag_fail(err, VTAG_ERR_ARG, "protocols: the list is empty");
    if (strlen(list) >= VTAG_VIDEO_PROTOCOLS_MAX)
        return vtag_fail(err, VTAG_ERR_ARG, "protocols: the list is longer than %d bytes", VTAG_VIDEO_PROTOCOLS_MAX - 1);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == 0 || strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789+-.") < k)
            return vtag_fail(err, VTAG_ERR_ARG,
                             "protocols: '%.*s' is not a protocol name (lower-case names separated by commas)",
                             (int)(k > 64 ? 64 : k), p);
        p += k + (p[k] == ',');
        if (p[-1] == ',' && !*p) return vtag_fail(err, VTAG_ERR_ARG, "protocols: the list ends with a comma");
    }
    return VTAG_OK;
}

/* The protocols FFmpeg builds a listed one on: they join protocol_whitelist
 * (the list names what the user reaches, not its transport). */
static const char *transport_of(const char *proto)
{
    static const char *const table[][2] = {
        {"http", "tcp"},  {"https", "tls,tcp"}, {"rtmp", "tcp"}, {"rtmps", "tls,tcp"},
        {"rtsp", "tcp,udp,rtp"}, {"ftp", "tcp"},  {"tls", "tcp"},  {"hls", "http,https,tls,tcp"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i][0], proto) == 0) return table[i][1];
    return NULL;
}

/* FFmpeg's protocol_whitelist for the allowed list: each name, then its transports. */
static void whitelist_of(const char *list, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = 0;
    for (int pass = 0; pass < 2; pass++)
        for (const char *p = list; *p;) {
            size_t k = strcspn(p, ",");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(k < sizeof name ? k : sizeof name - 1), p);
            p += k + (p[k] == ',');
            const char *add = pass == 0 ? name : transport_of(name);
            for (const char *q = add; q && *q;) {
                size_t m = strcspn(q, ",");
                char one[64];
                snprintf(one, sizeof one, "%.*s", (int)(m < sizeof one ? m : sizeof one - 1), q);
                q += m + (q[m] == ',');
                if (list_has(out, one) || len + m + 2 > cap) continue;
                len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", one);
            }
        }
}

/* FFmpeg reads only what it was given. A "video" may be a playlist (HLS,
 * DASH) or another demuxer's list of files, which makes FFmpeg open further
 * files or URLs named inside it: a way for a hostile input to read other
 * local files, or reach the network, from a tagging service. Every open goes
 * through gate_open. A local file (and pipe:) allows its own URL and nothing
 * else, backed by protocol_whitelist; a network URL allows what the allowed
 * protocols reach (a playlist's segments on the same protocols), and
 * protocol_whitelist holds FFmpeg's own nested opens (a redirect) to them. */
typedef struct vv_gate {
    int (*open_default)(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **opts);
    int network;                              /* further URLs on the whitelist's protocols may open */
    char whitelist[VTAG_VIDEO_PROTOCOLS_MAX * 2]; /* protocol_whitelist */
    char url[];                               /* what was opened: "file:" + a path (a ':' in a
                                                 name is never a protocol), "pipe:N", the URL */
} vv_gate;

static int gate_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags, AVDictionary **opts)
{
    const vv_gate *g = s->opaque;
    if (!g || !url || (flags & AVIO_FLAG_WRITE)) return AVERROR(EPERM);
    if (strcmp(url, g->url) != 0) {
        const char *proto = g->network ? avio_find_protocol_name(url) : NULL;
        if (!proto || strcmp(proto, "file") == 0 || strcmp(proto, "pipe") == 0 || !list_has(g->whitelist, proto))
            return AVERROR(EPERM);
    }
    return g->open_default(s, pb, url, flags, opts);
}

/* avformat_open_input of url alone (see vv_gate); in->gate is freed by
 * vv_input_close. Network reads give up after 60 s without a byte. */
static int open_gated(vv_input *in, const char *url, const char *whitelist, int network)
{
    size_t len = strlen(url);
    vv_gate *g = malloc(sizeof *g + len + 1);
    in->fmt = avformat_alloc_context();
    if (!g || !in->fmt) {
        free(g);
        avformat_free_context(in->fmt);
        in->fmt = NULL;
        return AVERROR(ENOMEM);
    }
    memcpy(g->url, url, len + 1);
    snprintf(g->whitelist, sizeof g->whitelist, "%s", whitelist);
    g->network = network;
    g->open_default = in->fmt->io_open;
    in->fmt->opaque = g;
    in->fmt->io_open = gate_open;
    in->gate = g;
    AVDictionary *opts = NULL;
    int ret = av_dict_set(&opts, "protocol_whitelist", whitelist, 0);
    if (ret >= 0 && network) ret = av_dict_set(&opts, "rw_timeout", "60000000", 0);
    if (ret >= 0) ret = avformat_open_input(&in->fmt, g->url, NULL, &opts);
    else avformat_free_context(in->fmt), in->fmt = NULL;
    av_dict_free(&opts);
    return ret;
}

/* Opens name as its protocol says (vtag_video_input_protocol), once it is allowed. */
static int open_input(vv_input *in, const char *name, const char *protocols, vtag_error *err)
{
    size_t n = strlen(name);
    /* outputs write the name into JSON */
    if (vtag_utf8_valid_prefix(name, n) != n)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: the file name is not valid UTF-8", name);
    const char *allowed = protocols ? protocols : VTAG_VIDEO_PROTOCOLS_DEFAULT;
    int rc = vtag_video_protocols_check(allowed, err);
    if (rc) return rc;
    char proto[32];
    vtag_video_input_protocol(name, proto, sizeof proto);
    if (!list_has(allowed, proto))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: protocol '%s' is not allowed (--allow-protocols)", name, proto);
    char *url = NULL;
    int local = strcmp(proto, "file") == 0, pipe = strcmp(proto, "pipe") == 0;
    if (local) {
        const char *path = strncmp(name, "file:", 5) == 0 ? name + 5 : name;
        if ((rc = check_file(name, path, err))) return rc;
        if ((url = malloc(strlen(path) + sizeof "file:"))) strcat(strcpy(url, "file:"), path);
    } else {
        url = strdup(strcmp(name, "-") == 0 ? "pipe:0" : name);
    }
    if (!url) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", name);
    char whitelist[VTAG_VIDEO_PROTOCOLS_MAX * 2];
    if (local || pipe) snprintf(whitelist, sizeof whitelist, "%s", proto);
    else whitelist_of(allowed, whitelist, sizeof whitelist);
    int ret = open_gated(in, url, whitelist, !local && !pipe);
    free(url);
    in->reopen = !pipe;
    if (ret < 0) {
        vv_input_close(in);
        int code = (ret == AVERROR(ENOENT) || ret == AVERROR(EACCES) || ret == AVERROR(EIO) ||
                    ret == AVERROR(ETIMEDOUT) || ret == AVERROR(ECONNREFUSED) || ret == AVERROR_HTTP_NOT_FOUND ||
                    ret == AVERROR_HTTP_FORBIDDEN || ret == AVERROR_HTTP_SERVER_ERROR)
                       ? VTAG_ERR_IO
                       : VTAG_ERR_FORMAT;
        if (local) return vtag_fail(err, code, "%s: not a media file FFmpeg can read (%s)", name, av_err2str(ret));
        return vtag_fail(err, code, "%s: cannot read it as a video (%s)", name, av_err2str(ret));
    }
    in->seekable = in->fmt->pb && (in->fmt->pb->seekable & AVIO_SEEKABLE_NORMAL);
    return VTAG_OK;
}

int vv_input_open(vv_input *in, const char *path, const char *protocols, vtag_video_info *info, vtag_error *err)
{
    memset(in, 0, sizeof *in);
    memset(info, 0, sizeof *info);
    in->stream = -1;
    info->keyframes = -1;

    int rc = open_input(in, path, protocols, err);
    if (rc) return rc;
    int ret = find_stream_info(in->fmt);
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

int vv_scan_packets(vv_input *in, int64_t *packets, int64_t *keyframes, double *end, vv_keys *keys,
                    vtag_error *err)
{
    if (keys) {
        memset(keys, 0, sizeof *keys);
        keys->pts_known = 1;
        for (unsigned i = 0; i < in->fmt->nb_streams; i++)
            if ((int)i != in->stream) in->fmt->streams[i]->discard = AVDISCARD_ALL; /* their bytes are not read */
    }
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
    int64_t n = 0, k = 0, cap = 0;
    double e = 0.0;
    int errors = 0, rc = VTAG_OK;
    for (;;) {
        int ret = av_read_frame(in->fmt, pkt);
        if (ret == AVERROR_EOF) break;
        if (ret == AVERROR(ENOMEM)) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
            break;
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
                if (keys && (pkt->flags & AV_PKT_FLAG_KEY)) {
                    if ((rc = vv_keys_add(keys, &cap, vv_seconds(in, ts), err))) break;
                    if (pkt->pts == AV_NOPTS_VALUE) keys->pts_known = 0;
                }
            }
        }
        av_packet_unref(pkt);
    }
    av_packet_unref(pkt);
    av_packet_free(&pkt);
    if (rc) {
        if (keys) vv_keys_free(keys);
        return rc;
    }
    if (keys) vv_keys_sort(keys);
    if (packets) *packets = n;
    if (keyframes) *keyframes = k;
    if (end) *end = e;
    return VTAG_OK;
}

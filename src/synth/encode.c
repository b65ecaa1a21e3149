/* The encoder side of synth: RGB frames → yuv420p (libswscale) → H.264 by
 * libx264, or MPEG-4 part 2 where libx264 is missing → MP4 (libavformat),
 * written atomically (vtag_atomic_*: FFmpeg writes the temporary file by
 * name, the commit fsyncs it and renames it into place when complete). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "synth/synth_internal.h"

struct synth_encoder {
    vtag_atomic out; /* the MP4's temporary file: FFmpeg writes it by name */
    AVFormatContext *oc;
    AVCodecContext *enc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    int64_t next_pts;
    const char *name;
};

static int av_fail(vtag_error *err, const char *path, const char *what, int averr)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(averr, buf, sizeof buf);
    return vtag_fail(err, averr == AVERROR(ENOMEM) ? VTAG_ERR_NOMEM : VTAG_ERR_IO, "%s: %s: %s", path, what, buf);
}

int vtag_synth_codec_parse(const char *s, vtag_synth_codec *out, vtag_error *err)
{
    if (strcmp(s, "auto") == 0) *out = VTAG_SYNTH_CODEC_AUTO;
    else if (strcmp(s, "h264") == 0) *out = VTAG_SYNTH_CODEC_H264;
    else if (strcmp(s, "mpeg4") == 0) *out = VTAG_SYNTH_CODEC_MPEG4;
    else return vtag_fail(err, VTAG_ERR_ARG, "unknown codec '%s' (auto, h264 or mpeg4)", s);
    return VTAG_OK;
}

/* Sends frame (NULL: drain) and writes every packet that comes out. */
static int encode_and_write(synth_encoder *e, AVFrame *frame, vtag_error *err)
{
    int ret = avcodec_send_frame(e->enc, frame);
    if (ret < 0) return av_fail(err, e->out.path, "encoding failed", ret);
    for (;;) {
        ret = avcodec_receive_packet(e->enc, e->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return VTAG_OK;
        if (ret < 0) return av_fail(err, e->out.path, "encoding failed", ret);
        av_packet_rescale_ts(e->pkt, e->enc->time_base, e->st->time_base);
        e->pkt->stream_index = e->st->index;
        ret = av_interleaved_write_frame(e->oc, e->pkt); /* takes the packet's reference */
        if (ret < 0) return av_fail(err, e->out.path, "writing failed", ret);
    }
}

static void encoder_free(synth_encoder *e)
{
    if (!e) return;
    if (e->oc) {
        if (e->oc->pb) avio_closep(&e->oc->pb);
        avformat_free_context(e->oc);
    }
    avcodec_free_context(&e->enc);
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    sws_freeContext(e->sws);
    vtag_atomic_abort(&e->out); /* no-op once committed */
    free(e);
}

void synth_encoder_abort(synth_encoder **ep)
{
    if (!ep || !*ep) return;
    synth_encoder *e = *ep;
    if (e->oc && e->oc->pb) avio_closep(&e->oc->pb);
    encoder_free(e); /* removes the temporary file */
    *ep = NULL;
}

const char *synth_encoder_name(const synth_encoder *e) { return e->name; }

int synth_encoder_open(synth_encoder **out, const char *path, int64_t width, int64_t height, int fps,
                       vtag_synth_codec codec, vtag_error *err)
{
    *out = NULL;
    if (width < 16 || height < 16 || width > 8192 || height > 8192 || (width & 1) || (height & 1) || fps < 1 ||
        fps > 240)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: cannot encode %lldx%lld at %d fps (even sizes from 16, 1..240 fps)",
                         path, (long long)width, (long long)height, fps);
    const AVCodec *c = NULL;
    if (codec != VTAG_SYNTH_CODEC_MPEG4) c = avcodec_find_encoder_by_name("libx264");
    if (!c && codec == VTAG_SYNTH_CODEC_H264)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: this FFmpeg has no libx264 encoder (try --codec mpeg4)",
                         path);
    if (!c) c = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!c) return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: this FFmpeg has neither libx264 nor an MPEG-4 encoder", path);
    int x264 = c->id == AV_CODEC_ID_H264;

    synth_encoder *e = calloc(1, sizeof *e);
    if (!e) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    e->name = c->name;
    int rc = vtag_atomic_open(&e->out, path, err), ret;
    if (rc) goto fail;
    fclose(e->out.f); /* reopened by name through avio, which truncates it */
    e->out.f = NULL;

    if ((ret = avformat_alloc_output_context2(&e->oc, NULL, "mp4", NULL)) < 0) {
        rc = av_fail(err, path, "no MP4 muxer", ret);
        goto fail;
    }
    e->oc->flags |= AVFMT_FLAG_BITEXACT; /* no library versions in the file */
    if (!(e->st = avformat_new_stream(e->oc, NULL)) || !(e->enc = avcodec_alloc_context3(c)) ||
        !(e->frame = av_frame_alloc()) || !(e->pkt = av_packet_alloc())) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    AVCodecContext *enc = e->enc;
    enc->width = (int)width;
    enc->height = (int)height;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->gop_size = 2 * fps;
    enc->thread_count = 1; /* videos are encoded in parallel instead; one thread is also deterministic */
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_SMPTE170M;
    enc->color_primaries = AVCOL_PRI_SMPTE170M;
    enc->color_trc = AVCOL_TRC_SMPTE170M;
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    if (e->oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (x264) {
        av_opt_set(enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(enc->priv_data, "crf", "27", 0);
        /* MB-tree off: with it, this libx264 (0.164) gave streams that
         * depended on the process's heap (two runs on the same pictures
         * differed, 45-90 dB apart); without it every run is byte-identical. */
        av_opt_set(enc->priv_data, "x264-params", "mbtree=0", 0);
    } else {
        enc->max_b_frames = 2;
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 5;
    }
    /* Corpora open encoders from several threads; libx264 fills static
     * tables when an encoder opens, so one open at a time (costs nothing). */
#pragma omp critical(vtag_synth_codec_open)
    ret = avcodec_open2(enc, c, NULL);
    if (ret < 0) {
        rc = av_fail(err, path, "cannot open the encoder", ret);
        goto fail;
    }
    if ((ret = avcodec_parameters_from_context(e->st->codecpar, enc)) < 0) {
        rc = av_fail(err, path, "encoder parameters", ret);
        goto fail;
    }
    e->st->time_base = enc->time_base;
    e->st->avg_frame_rate = enc->framerate;
    /* "file:" so that a name with a colon is never taken for a protocol. */
    char *url = malloc(strlen(e->out.tmp) + 6);
    if (!url) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    sprintf(url, "file:%s", e->out.tmp);
    ret = avio_open(&e->oc->pb, url, AVIO_FLAG_WRITE);
    free(url);
    if (ret < 0) {
        rc = av_fail(err, path, "cannot open for writing", ret);
        goto fail;
    }
    if ((ret = avformat_write_header(e->oc, NULL)) < 0) {
        rc = av_fail(err, path, "cannot write the MP4 header", ret);
        goto fail;
    }

    e->frame->format = AV_PIX_FMT_YUV420P;
    e->frame->width = (int)width;
    e->frame->height = (int)height;
    e->frame->color_range = AVCOL_RANGE_MPEG;
    e->frame->colorspace = AVCOL_SPC_SMPTE170M;
    if ((ret = av_frame_get_buffer(e->frame, 0)) < 0) {
        rc = av_fail(err, path, "frame buffer", ret);
        goto fail;
    }
    /* The encoder's SIMD copies read the lines' padding too: zero it once
     * (swscale never writes it), so that no leftover of the heap can reach
     * the stream. */
    for (int b = 0; b < AV_NUM_DATA_POINTERS && e->frame->buf[b]; b++)
        memset(e->frame->buf[b]->data, 0, e->frame->buf[b]->size);
    e->sws = sws_getContext((int)width, (int)height, AV_PIX_FMT_RGB24, (int)width, (int)height, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (!e->sws) {
        rc = vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: no RGB24 → yuv420p conversion", path);
        goto fail;
    }
    *out = e;
    return VTAG_OK;
fail:
    synth_encoder_abort(&e);
    return rc;
}

int synth_encoder_write(synth_encoder *e, const uint8_t *rgb, vtag_error *err)
{
    int ret = av_frame_make_writable(e->frame);
    if (ret < 0) return av_fail(err, e->out.path, "frame buffer", ret);
    const uint8_t *src[1] = {rgb};
    int stride[1] = {e->frame->width * 3};
    sws_scale(e->sws, src, stride, 0, e->frame->height, e->frame->data, e->frame->linesize);
    e->frame->pts = e->next_pts++;
    return encode_and_write(e, e->frame, err);
}

int synth_encoder_finish(synth_encoder **ep, int64_t *bytes, vtag_error *err)
{
    synth_encoder *e = *ep;
    int rc = encode_and_write(e, NULL, err);
    int ret;
    if (rc == VTAG_OK && (ret = av_write_trailer(e->oc)) < 0) rc = av_fail(err, e->out.path, "cannot finish the MP4", ret);
    if (rc == VTAG_OK && e->oc->pb) {
        int64_t size = avio_size(e->oc->pb);
        if (bytes) *bytes = size;
        avio_flush(e->oc->pb);
        if (e->oc->pb->error < 0) rc = av_fail(err, e->out.path, "writing failed", e->oc->pb->error);
        if ((ret = avio_closep(&e->oc->pb)) < 0 && rc == VTAG_OK) rc = av_fail(err, e->out.path, "writing failed", ret);
    }
    if (rc == VTAG_OK) rc = vtag_atomic_commit(&e->out, err);
    if (rc != VTAG_OK) {
        synth_encoder_abort(ep);
        return rc;
    }
    encoder_free(e);
    *ep = NULL;
    return VTAG_OK;
}

/* Decoded picture → S×S RGB, the ffmpeg CLI's way: turned upright for the
 * rotation metadata (autorotate), the shorter side scaled to S with bicubic
 * libswscale (the other side rounded to the nearest pixel, as scale=-1
 * does), the centre S×S kept (the crop filter's offset, rounded to nearest
 * even); and the small grey thumbnails that scene detection compares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>

#include "video_internal.h"

/* The yuvj formats are yuv with full-range values; libswscale wants them
 * spelled that way (it warns about the old names). */
static enum AVPixelFormat plain_format(enum AVPixelFormat f, int *full)
{
    switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full = 1; return AV_PIX_FMT_YUV411P;
    default: return f;
    }
}

/* Plane dst = plane src [ph rows, pw columns] turned clockwise by rot
 * degrees (dst is ph wide for 90 and 270), pixels of `step` bytes (a U/V
 * pair for NV12, 3 for RGB). */
static void rotate_plane(const uint8_t *src, int src_ls, int pw, int ph, uint8_t *dst, int dst_ls, int step,
                         int rot)
{
    int dw = rot == 180 ? pw : ph, dh = rot == 180 ? ph : pw;
    for (int y = 0; y < dh; y++) {
        uint8_t *d = dst + (ptrdiff_t)y * dst_ls;
        for (int x = 0; x < dw; x++) {
            int sx, sy;
            if (rot == 90) { sx = y; sy = ph - 1 - x; }
            else if (rot == 180) { sx = pw - 1 - x; sy = ph - 1 - y; }
            else { sx = pw - 1 - y; sy = x; } /* 270 */
            const uint8_t *p = src + (ptrdiff_t)sy * src_ls + (ptrdiff_t)sx * step;
            if (step == 1) d[x] = *p;
            else memcpy(d + (ptrdiff_t)x * step, p, (size_t)step);
        }
    }
}

/* libswscale's vector code may write up to a few dozen bytes past the last
 * pixel of a packed RGB destination (18 seen at 170 px wide), so every buffer
 * it writes gets AV_INPUT_BUFFER_PADDING_SIZE bytes of slack. */
static int grow(uint8_t **buf, int64_t *cap, int64_t bytes, vtag_error *err)
{
    if (*cap >= bytes) return VTAG_OK;
    free(*buf);
    *buf = malloc((size_t)bytes + AV_INPUT_BUFFER_PADDING_SIZE);
    *cap = *buf ? bytes : 0;
    return *buf ? VTAG_OK : vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
}

/* Scales src (w×h, fmt) to dst (dw×dh RGB24). */
static int scale_rgb(vv_converter *c, const uint8_t *const src[4], const int src_ls[4], int w, int h,
                     enum AVPixelFormat fmt, const AVPixFmtDescriptor *d, const AVFrame *f, int full, uint8_t *dst,
                     int dw, int dh, vtag_error *err)
{
    c->sws = sws_getCachedContext(c->sws, w, h, fmt, dw, dh, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL, NULL, NULL);
    if (!c->sws)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "video: no conversion from %s at %dx%d to RGB %dx%d", d->name,
                         w, h, dw, dh);
    if (!(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) && d->nb_components >= 3) {
        /* The picture's own matrix (BT.709 for HD) and range, as the scale
           filter reads them from the frame. */
        sws_setColorspaceDetails(c->sws, sws_getCoefficients(f->colorspace), full,
                                 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }
    int stride = dw * 3;
    sws_scale(c->sws, src, src_ls, 0, h, &dst, &stride);
    return VTAG_OK;
}

int vv_convert_rgb(vv_converter *c, const AVFrame *f, int rotation, int64_t size, uint8_t *out,
                   vtag_error *err)
{
    int full = f->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat fmt = plain_format((enum AVPixelFormat)f->format, &full);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    if (!d || (d->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM)))
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "video: cannot convert pixel format %s",
                         d ? d->name : "(none)");
    int w = f->width, h = f->height, s = (int)size;
    if (w <= 0 || h <= 0) return vtag_fail(err, VTAG_ERR_FORMAT, "video: decoded picture of size %dx%d", w, h);

    /* Upright size, scaled size (shorter side S), centre offset. */
    int swapped = rotation == 90 || rotation == 270;
    int uw = swapped ? h : w, uh = swapped ? w : h;
    int sw = s, sh = s;
    if (uw > uh) sw = (int)av_rescale(s, uw, uh);
    else if (uh > uw) sh = (int)av_rescale(s, uh, uw);
    if (sw < s) sw = s;
    if (sh < s) sh = s;
    int cx = (int)lrint((sw - s) / 2.0), cy = (int)lrint((sh - s) / 2.0);
    int rc = grow(&c->scaled, &c->scaled_cap, (int64_t)sw * sh * 3, err);
    if (rc) return rc;

    const uint8_t *src[4] = {f->data[0], f->data[1], f->data[2], f->data[3]};
    int src_ls[4] = {f->linesize[0], f->linesize[1], f->linesize[2], f->linesize[3]};
    if (rotation && d->log2_chroma_w == d->log2_chroma_h) {
        /* Turn the picture itself, as autorotate does before scaling, so the
           colour planes are resampled the same way. */
        if (c->turned_w != uw || c->turned_h != uh || c->turned_format != (int)fmt) {
            av_freep(&c->turned[0]);
            c->turned_w = c->turned_h = 0;
            if (av_image_alloc(c->turned, c->turned_linesize, uw, uh, fmt, 32) < 0)
                return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
            c->turned_w = uw;
            c->turned_h = uh;
            c->turned_format = (int)fmt;
        }
        int max_step[4];
        av_image_fill_max_pixsteps(max_step, NULL, d);
        for (int p = 0; p < 4; p++) {
            if (!src[p] || !c->turned[p]) continue;
            if (p == 1 && (d->flags & AV_PIX_FMT_FLAG_PAL)) {
                memcpy(c->turned[1], src[1], AVPALETTE_SIZE);
                continue;
            }
            int chroma = p == 1 || p == 2;
            int pw = chroma ? AV_CEIL_RSHIFT(w, d->log2_chroma_w) : w;
            int ph = chroma ? AV_CEIL_RSHIFT(h, d->log2_chroma_h) : h;
            rotate_plane(src[p], src_ls[p], pw, ph, c->turned[p], c->turned_linesize[p], max_step[p], rotation);
        }
        for (int p = 0; p < 4; p++) {
            src[p] = c->turned[p];
            src_ls[p] = c->turned_linesize[p];
        }
        rc = scale_rgb(c, src, src_ls, uw, uh, fmt, d, f, full, c->scaled, sw, sh, err);
    } else if (rotation) {
        /* Chroma subsampled one way only (4:2:2): turn the scaled RGB. */
        int tw = swapped ? sh : sw, th = swapped ? sw : sh;
        if ((rc = grow(&c->rgb_turn, &c->rgb_turn_cap, (int64_t)tw * th * 3, err))) return rc;
        rc = scale_rgb(c, src, src_ls, w, h, fmt, d, f, full, c->rgb_turn, tw, th, err);
        if (!rc) rotate_plane(c->rgb_turn, tw * 3, tw, th, c->scaled, sw * 3, 3, rotation);
    } else {
        rc = scale_rgb(c, src, src_ls, w, h, fmt, d, f, full, c->scaled, sw, sh, err);
    }
    if (rc) return rc;
    for (int y = 0; y < s; y++)
        memcpy(out + (int64_t)y * s * 3, c->scaled + ((int64_t)(cy + y) * sw + cx) * 3, (size_t)s * 3);
    return VTAG_OK;
}

void vv_converter_free(vv_converter *c)
{
    sws_freeContext(c->sws);
    c->sws = NULL;
    free(c->scaled);
    free(c->rgb_turn);
    c->scaled = c->rgb_turn = NULL;
    c->scaled_cap = c->rgb_turn_cap = 0;
    av_freep(&c->turned[0]);
    c->turned_w = c->turned_h = 0;
}

int vv_thumbnail(struct SwsContext **sws, const AVFrame *f, uint8_t *out, vtag_error *err)
{
    int full = 0;
    enum AVPixelFormat fmt = plain_format((enum AVPixelFormat)f->format, &full);
    *sws = sws_getCachedContext(*sws, f->width, f->height, fmt, VV_THUMB, VV_THUMB, AV_PIX_FMT_GRAY8, SWS_AREA,
                                NULL, NULL, NULL);
    if (!*sws) return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "video: no thumbnail conversion for this format");
    int stride = VV_THUMB;
    sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, &out, &stride);
    return VTAG_OK;
}

void vtag_video_normalize(const uint8_t *rgb, int64_t size, const float mean[3], const float std[3],
                          float *out)
{
    int64_t hw = size * size;
    for (int c = 0; c < 3; c++) {
        float scale = 1.0f / (255.0f * std[c]), shift = mean[c] / std[c];
        float *o = out + c * hw; /* [S, S] plane of channel c */
        for (int64_t i = 0; i < hw; i++) o[i] = (float)rgb[i * 3 + c] * scale - shift;
    }
}

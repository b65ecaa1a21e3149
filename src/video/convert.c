/* Decoded picture → S×S RGB: the centre square (the shorter side), scaled
 * to S with bicubic libswscale, then turned for the rotation metadata; and
 * the small grey thumbnails that scene detection compares. Cropping first
 * and scaling the square is the same picture as scaling the shorter side to
 * S and cropping the centre, for a fraction of the work. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/imgutils.h>
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

/* dst [S, S, 3] = src [S, S, 3] turned clockwise by rot degrees. */
static void rotate_rgb(const uint8_t *src, uint8_t *dst, int64_t s, int rot)
{
    for (int64_t y = 0; y < s; y++)
        for (int64_t x = 0; x < s; x++) {
            int64_t sx, sy;
            if (rot == 90) { sx = y; sy = s - 1 - x; }
            else if (rot == 180) { sx = s - 1 - x; sy = s - 1 - y; }
            else { sx = s - 1 - y; sy = x; } /* 270 */
            memcpy(dst + (y * s + x) * 3, src + (sy * s + sx) * 3, 3);
        }
}

/* Plane dst [n, n] = plane src [n, n] turned clockwise by rot degrees,
 * pixels of `step` bytes (a U/V pair for NV12). */
static void rotate_plane(const uint8_t *src, int src_ls, uint8_t *dst, int dst_ls, int n, int step, int rot)
{
    for (int y = 0; y < n; y++) {
        uint8_t *d = dst + (ptrdiff_t)y * dst_ls;
        for (int x = 0; x < n; x++) {
            int sx, sy;
            if (rot == 90) { sx = y; sy = n - 1 - x; }
            else if (rot == 180) { sx = n - 1 - x; sy = n - 1 - y; }
            else { sx = n - 1 - y; sy = x; } /* 270 */
            const uint8_t *p = src + (ptrdiff_t)sy * src_ls + (ptrdiff_t)sx * step;
            if (step == 1) d[x] = *p;
            else memcpy(d + (ptrdiff_t)x * step, p, (size_t)step);
        }
    }
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
    int w = f->width, h = f->height, m = w < h ? w : h;
    if (m <= 0) return vtag_fail(err, VTAG_ERR_FORMAT, "video: decoded picture of size %dx%d", w, h);
    /* Turning the picture before scaling, as the ffmpeg CLI's autorotate
       does, keeps the colour planes sampled the same way; that needs the
       same subsampling both ways (not 4:2:2). Otherwise turn the RGB. */
    int turn_first = rotation && d->log2_chroma_w == d->log2_chroma_h;

    /* The centre square of the picture as displayed, its corner moved to the
       chroma grid as the crop filter does, mapped back to the stored picture. */
    int turned = rotation == 90 || rotation == 270;
    int dw = turned ? h : w, dh = turned ? w : h;
    int cx = ((dw - m) / 2) & ~((1 << d->log2_chroma_w) - 1);
    int cy = ((dh - m) / 2) & ~((1 << d->log2_chroma_h) - 1);
    int x, y;
    if (!turn_first || rotation == 0) { x = cx; y = cy; }
    else if (rotation == 90) { x = cy; y = h - cx - m; }
    else if (rotation == 180) { x = w - cx - m; y = h - cy - m; }
    else { x = w - cy - m; y = cx; } /* 270 */
    x &= ~((1 << d->log2_chroma_w) - 1);
    y &= ~((1 << d->log2_chroma_h) - 1);
    int max_step[4];
    av_image_fill_max_pixsteps(max_step, NULL, d);
    const uint8_t *src[4] = {NULL, NULL, NULL, NULL};
    int src_ls[4] = {0, 0, 0, 0};
    for (int p = 0; p < 4; p++) {
        src[p] = f->data[p];
        src_ls[p] = f->linesize[p];
        if (!src[p] || (p == 1 && (d->flags & AV_PIX_FMT_FLAG_PAL))) continue;
        int sx = (p == 1 || p == 2) ? d->log2_chroma_w : 0;
        int sy = (p == 1 || p == 2) ? d->log2_chroma_h : 0;
        src[p] += (ptrdiff_t)(y >> sy) * f->linesize[p] + (ptrdiff_t)(x >> sx) * max_step[p];
    }

    if (turn_first) {
        if (c->turned_side != m || c->turned_format != (int)fmt) {
            av_freep(&c->turned[0]);
            c->turned_side = 0;
            if (av_image_alloc(c->turned, c->turned_linesize, m, m, fmt, 32) < 0)
                return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
            c->turned_side = m;
            c->turned_format = (int)fmt;
        }
        for (int p = 0; p < 4; p++) {
            if (!src[p] || !c->turned[p]) continue;
            if (p == 1 && (d->flags & AV_PIX_FMT_FLAG_PAL)) {
                memcpy(c->turned[1], src[1], AVPALETTE_SIZE);
                continue;
            }
            int n = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(m, d->log2_chroma_w) : m;
            rotate_plane(src[p], src_ls[p], c->turned[p], c->turned_linesize[p], n, max_step[p], rotation);
        }
        for (int p = 0; p < 4; p++) {
            src[p] = c->turned[p];
            src_ls[p] = c->turned_linesize[p];
        }
    }

    c->sws = sws_getCachedContext(c->sws, m, m, fmt, (int)size, (int)size, AV_PIX_FMT_RGB24, SWS_BICUBIC, NULL,
                                  NULL, NULL);
    if (!c->sws)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "video: no conversion from %s at %dx%d to RGB", d->name, m,
                         m);
    if (!(d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)) && d->nb_components >= 3) {
        /* The picture's own matrix (BT.709 for HD) and range, as the scale
           filter reads them from the frame. */
        sws_setColorspaceDetails(c->sws, sws_getCoefficients(f->colorspace), full,
                                 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    }
    int rgb_turn = rotation && !turn_first;
    uint8_t *dst = out;
    if (rgb_turn) {
        if (c->size != size) {
            free(c->tmp);
            c->tmp = malloc((size_t)(size * size * 3));
            c->size = c->tmp ? size : 0;
            if (!c->tmp) return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
        }
        dst = c->tmp;
    }
    int stride = (int)(size * 3);
    sws_scale(c->sws, src, src_ls, 0, m, &dst, &stride);
    if (rgb_turn) rotate_rgb(c->tmp, out, size, rotation);
    return VTAG_OK;
}

void vv_converter_free(vv_converter *c)
{
    sws_freeContext(c->sws);
    c->sws = NULL;
    free(c->tmp);
    c->tmp = NULL;
    c->size = 0;
    av_freep(&c->turned[0]);
    c->turned_side = 0;
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

/* Drawing on float canvases: anti-aliased convex polygons, capsules and
 * ellipses (coverage from the signed distance), sprites through affine maps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth_internal.h"

int synth_canvas_alloc(synth_canvas *c, int w, int h, int ch)
{
    c->w = w;
    c->h = h;
    c->ch = ch;
    c->px = calloc((size_t)w * (size_t)h * (size_t)ch, sizeof *c->px);
    return c->px ? 0 : -1;
}

void synth_canvas_free(synth_canvas *c)
{
    free(c->px);
    memset(c, 0, sizeof *c);
}

void synth_blend(synth_canvas *c, int64_t i, const float rgb[3], float a)
{
    float *p = c->px + i * c->ch;
    if (c->ch == 1) {
        p[0] += (rgb[0] - p[0]) * a;
        return;
    }
    for (int k = 0; k < 3; k++) p[k] += (rgb[k] - p[k]) * a;
    if (c->ch == 4) p[3] += (1.0f - p[3]) * a;
}

void synth_canvas_fill(synth_canvas *c, const float rgb[3], float alpha)
{
    int64_t n = (int64_t)c->w * c->h;
    for (int64_t i = 0; i < n; i++) synth_blend(c, i, rgb, alpha);
}

static inline float clamp01(float x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* Four channels at once (GCC/Clang vector extension; plain loads and stores
 * through memcpy, so no alignment is assumed). */
typedef float v4f __attribute__((vector_size(16)));
static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void store4(float *p, v4f v) { memcpy(p, &v, sizeof v); }

/* Pixel range [*x0, *x1) × [*y0, *y1) covering [ax, bx] × [ay, by] plus a pixel. */
static int clip_box(const synth_canvas *c, float ax, float ay, float bx, float by, int *x0, int *y0, int *x1,
                    int *y1)
{
    if (!(ax <= bx && ay <= by)) return 0; /* also rejects NaN */
    float fx0 = floorf(ax) - 1, fy0 = floorf(ay) - 1, fx1 = ceilf(bx) + 1, fy1 = ceilf(by) + 1;
    *x0 = fx0 < 0 ? 0 : fx0 > c->w ? c->w : (int)fx0;
    *y0 = fy0 < 0 ? 0 : fy0 > c->h ? c->h : (int)fy0;
    *x1 = fx1 < 0 ? 0 : fx1 > c->w ? c->w : (int)fx1;
    *y1 = fy1 < 0 ? 0 : fy1 > c->h ? c->h : (int)fy1;
    return *x0 < *x1 && *y0 < *y1;
}

void synth_poly(synth_canvas *c, const float *xy, int n, const float rgb[3], float alpha)
{
    if (n < 3 || n > 16) return;
    float area = 0, minx = xy[0], maxx = xy[0], miny = xy[1], maxy = xy[1];
    for (int i = 0; i < n; i++) {
        int j = (i + 1) % n;
        area += xy[2 * i] * xy[2 * j + 1] - xy[2 * j] * xy[2 * i + 1];
        minx = fminf(minx, xy[2 * i]);
        maxx = fmaxf(maxx, xy[2 * i]);
        miny = fminf(miny, xy[2 * i + 1]);
        maxy = fmaxf(maxy, xy[2 * i + 1]);
    }
    if (area == 0) return;
    /* Edge i: inside when nx·p + c >= 0, with |n| = 1. */
    float ex[16], ey[16], ec[16], sign = area > 0 ? 1.0f : -1.0f;
    for (int i = 0; i < n; i++) {
        int j = (i + 1) % n;
        float dx = xy[2 * j] - xy[2 * i], dy = xy[2 * j + 1] - xy[2 * i + 1];
        float len = sqrtf(dx * dx + dy * dy);
        if (len == 0) len = 1;
        ex[i] = -dy / len * sign;
        ey[i] = dx / len * sign;
        ec[i] = -(ex[i] * xy[2 * i] + ey[i] * xy[2 * i + 1]);
    }
    int x0, y0, x1, y1;
    if (!clip_box(c, minx, miny, maxx, maxy, &x0, &y0, &x1, &y1)) return;
    for (int y = y0; y < y1; y++) {
        float py = (float)y + 0.5f;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f, d = 1e30f;
            for (int i = 0; i < n; i++) d = fminf(d, ex[i] * px + ey[i] * py + ec[i]);
            float cov = clamp01(d + 0.5f);
            if (cov > 0) synth_blend(c, (int64_t)y * c->w + x, rgb, cov * alpha);
        }
    }
}

void synth_rect(synth_canvas *c, float x0, float y0, float x1, float y1, const float rgb[3], float alpha)
{
    float xy[8] = {x0, y0, x1, y0, x1, y1, x0, y1};
    synth_poly(c, xy, 4, rgb, alpha);
}

void synth_capsule(synth_canvas *c, float ax, float ay, float bx, float by, float r, const float rgb[3],
                   float alpha)
{
    int x0, y0, x1, y1;
    if (!clip_box(c, fminf(ax, bx) - r, fminf(ay, by) - r, fmaxf(ax, bx) + r, fmaxf(ay, by) + r, &x0, &y0, &x1,
                  &y1))
        return;
    float dx = bx - ax, dy = by - ay, ll = dx * dx + dy * dy;
    for (int y = y0; y < y1; y++) {
        float py = (float)y + 0.5f;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f;
            float t = ll > 0 ? ((px - ax) * dx + (py - ay) * dy) / ll : 0;
            t = clamp01(t);
            float qx = ax + t * dx - px, qy = ay + t * dy - py;
            float cov = clamp01(r - sqrtf(qx * qx + qy * qy) + 0.5f);
            if (cov > 0) synth_blend(c, (int64_t)y * c->w + x, rgb, cov * alpha);
        }
    }
}

void synth_ellipse(synth_canvas *c, float cx, float cy, float rx, float ry, float angle, const float rgb[3],
                   float alpha)
{
    if (!(rx > 0 && ry > 0)) return;
    float r = fmaxf(rx, ry);
    int x0, y0, x1, y1;
    if (!clip_box(c, cx - r, cy - r, cx + r, cy + r, &x0, &y0, &x1, &y1)) return;
    float ca = cosf(angle), sa = sinf(angle);
    float irx2 = 1.0f / (rx * rx), iry2 = 1.0f / (ry * ry);
    for (int y = y0; y < y1; y++) {
        float py = (float)y + 0.5f - cy;
        for (int x = x0; x < x1; x++) {
            float px = (float)x + 0.5f - cx;
            float u = ca * px + sa * py, v = -sa * px + ca * py;
            /* First-order distance to the curve f = 0: -f / |grad f|. */
            float f = u * u * irx2 + v * v * iry2 - 1.0f;
            float gx = 2 * u * irx2, gy = 2 * v * iry2;
            float g = sqrtf(gx * gx + gy * gy);
            float d = g > 1e-12f ? -f / g : r;
            float cov = clamp01(d + 0.5f);
            if (cov > 0) synth_blend(c, (int64_t)y * c->w + x, rgb, cov * alpha);
        }
    }
}

/* Box blur along one axis with zeros outside (transparent for sprites). */
static int blur_axis(synth_canvas *c, int r, int horizontal)
{
    if (r <= 0) return 0;
    int n = horizontal ? c->w : c->h, lines = horizontal ? c->h : c->w, ch = c->ch;
    int64_t step = horizontal ? ch : (int64_t)c->w * ch;
    float *tmp = malloc((size_t)n * (size_t)ch * sizeof *tmp);
    if (!tmp) return -1;
    float norm = 1.0f / (float)(2 * r + 1);
    for (int l = 0; l < lines; l++) {
        float *base = c->px + (horizontal ? (int64_t)l * c->w * ch : (int64_t)l * ch);
        for (int k = 0; k < ch; k++) {
            double sum = 0;
            for (int i = 0; i <= r && i < n; i++) sum += base[i * step + k];
            for (int i = 0; i < n; i++) {
                tmp[(int64_t)i * ch + k] = (float)sum * norm;
                int add = i + r + 1, sub = i - r;
                if (add < n) sum += base[add * step + k];
                if (sub >= 0) sum -= base[sub * step + k];
            }
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < ch; k++) base[i * step + k] = tmp[(int64_t)i * ch + k];
    }
    free(tmp);
    return 0;
}

int synth_blur_x(synth_canvas *c, int r) { return blur_axis(c, r, 1); }
int synth_blur_y(synth_canvas *c, int r) { return blur_axis(c, r, 0); }

synth_affine synth_affine_mul(synth_affine a, synth_affine b)
{
    const float *p = a.m, *q = b.m;
    synth_affine r = {{p[0] * q[0] + p[1] * q[3], p[0] * q[1] + p[1] * q[4], p[0] * q[2] + p[1] * q[5] + p[2],
                       p[3] * q[0] + p[4] * q[3], p[3] * q[1] + p[4] * q[4], p[3] * q[2] + p[4] * q[5] + p[5]}};
    return r;
}

synth_affine synth_affine_inv(synth_affine a)
{
    const float *p = a.m;
    float det = p[0] * p[4] - p[1] * p[3];
    float id = det != 0 ? 1.0f / det : 0;
    float i0 = p[4] * id, i1 = -p[1] * id, i3 = -p[3] * id, i4 = p[0] * id;
    synth_affine r = {{i0, i1, -(i0 * p[2] + i1 * p[5]), i3, i4, -(i3 * p[2] + i4 * p[5])}};
    return r;
}

void synth_draw_sprite(synth_canvas *dst, const synth_canvas *sprite, synth_affine to_dst, float opacity)
{
    if (opacity <= 0 || dst->ch != 4 || sprite->ch != 4 || sprite->w < 2 || sprite->h < 2) return;
    float sw = (float)sprite->w, sh = (float)sprite->h;
    float cx[4] = {0, sw, 0, sw}, cy[4] = {0, 0, sh, sh};
    float minx = 1e30f, maxx = -1e30f, miny = 1e30f, maxy = -1e30f;
    for (int i = 0; i < 4; i++) {
        float x = to_dst.m[0] * cx[i] + to_dst.m[1] * cy[i] + to_dst.m[2];
        float y = to_dst.m[3] * cx[i] + to_dst.m[4] * cy[i] + to_dst.m[5];
        minx = fminf(minx, x);
        maxx = fmaxf(maxx, x);
        miny = fminf(miny, y);
        maxy = fmaxf(maxy, y);
    }
    int x0, y0, x1, y1;
    if (!clip_box(dst, minx, miny, maxx, maxy, &x0, &y0, &x1, &y1)) return;
    synth_affine inv = synth_affine_inv(to_dst);
    const float *m = inv.m;
    int w = sprite->w, h = sprite->h;
    const float *sp = sprite->px;
    for (int y = y0; y < y1; y++) {
        float py = (float)y + 0.5f;
        /* Sample position in pixel-index space (centres at integers). */
        float fx = m[0] * ((float)x0 + 0.5f) + m[1] * py + m[2] - 0.5f;
        float fy = m[3] * ((float)x0 + 0.5f) + m[4] * py + m[5] - 0.5f;
        float *out = dst->px + ((int64_t)y * dst->w + x0) * 4;
        for (int x = x0; x < x1; x++, fx += m[0], fy += m[3], out += 4) {
            if (fx <= -1 || fy <= -1 || fx >= w || fy >= h) continue;
            int ix = (int)floorf(fx), iy = (int)floorf(fy);
            float ax = fx - (float)ix, ay = fy - (float)iy;
            v4f acc;
            if (ix >= 0 && iy >= 0 && ix < w - 1 && iy < h - 1) { /* all four taps inside: no checks */
                const float *s0 = sp + ((int64_t)iy * w + ix) * 4, *s1 = s0 + (int64_t)w * 4;
                v4f a = load4(s0), b = load4(s0 + 4), c = load4(s1), d = load4(s1 + 4);
                v4f top = a + (b - a) * ax, bot = c + (d - c) * ax;
                acc = top + (bot - top) * ay;
            } else {
                acc = (v4f){0, 0, 0, 0};
                for (int dy = 0; dy < 2; dy++) {
                    int yy = iy + dy;
                    if (yy < 0 || yy >= h) continue;
                    float wy = dy ? ay : 1 - ay;
                    for (int dx = 0; dx < 2; dx++) {
                        int xx = ix + dx;
                        if (xx < 0 || xx >= w) continue;
                        float wgt = wy * (dx ? ax : 1 - ax);
                        acc += load4(sp + ((int64_t)yy * w + xx) * 4) * wgt;
                    }
                }
            }
            if (acc[3] <= 0) continue;
            store4(out, load4(out) * (1 - acc[3] * opacity) + acc * opacity);
        }
    }
}

void synth_draw_backdrop(synth_canvas *dst, const synth_canvas *src, synth_affine dst_to_src)
{
    if (dst->ch != 4 || src->ch != 4 || src->w < 2 || src->h < 2) return;
    const float *m = dst_to_src.m;
    int w = src->w, h = src->h;
    float xmax = (float)(w - 1) - 1e-3f, ymax = (float)(h - 1) - 1e-3f;
    for (int y = 0; y < dst->h; y++) {
        float py = (float)y + 0.5f;
        float fx = m[0] * 0.5f + m[1] * py + m[2] - 0.5f;
        float fy = m[3] * 0.5f + m[4] * py + m[5] - 0.5f;
        float *out = dst->px + (int64_t)y * dst->w * 4;
        for (int x = 0; x < dst->w; x++, fx += m[0], fy += m[3], out += 4) {
            float cx = fx < 0 ? 0 : fx > xmax ? xmax : fx, cy = fy < 0 ? 0 : fy > ymax ? ymax : fy;
            int ix = (int)cx, iy = (int)cy;
            float ax = cx - (float)ix, ay = cy - (float)iy;
            const float *s0 = src->px + ((int64_t)iy * w + ix) * 4, *s1 = s0 + (int64_t)w * 4;
            v4f a = load4(s0), b = load4(s0 + 4), c = load4(s1), d = load4(s1 + 4);
            v4f top = a + (b - a) * ax, bot = c + (d - c) * ax;
            store4(out, top + (bot - top) * ay);
        }
    }
}

/* Procedural stand-ins for Fashion-MNIST's ten classes when the dataset is
 * missing: a 28×28 grey silhouette per class, varied by a key. */
#include <math.h>
#include <string.h>

#include "synth/synth_internal.h"

/* A shape is drawn in 28×28 design coordinates, then scaled and shifted a
 * little per key. */
typedef struct shape {
    synth_canvas c;
    float sx, sy, dx, dy;
    float tone; /* base intensity */
} shape;

static float X(const shape *s, float x) { return 14 + (x - 14) * s->sx + s->dx; }
static float Y(const shape *s, float y) { return 14 + (y - 14) * s->sy + s->dy; }

static void poly(shape *s, const float *xy, int n, float tone)
{
    float t[32];
    for (int i = 0; i < n; i++) {
        t[2 * i] = X(s, xy[2 * i]);
        t[2 * i + 1] = Y(s, xy[2 * i + 1]);
    }
    float v[3] = {tone, tone, tone};
    synth_poly(&s->c, t, n, v, 1);
}

/* The polygon and its mirror image about x = 14. */
static void poly2(shape *s, const float *xy, int n, float tone)
{
    float m[32];
    for (int i = 0; i < n; i++) {
        m[2 * i] = 28 - xy[2 * i];
        m[2 * i + 1] = xy[2 * i + 1];
    }
    poly(s, xy, n, tone);
    poly(s, m, n, tone);
}

static void caps(shape *s, float ax, float ay, float bx, float by, float r, float tone)
{
    float v[3] = {tone, tone, tone};
    synth_capsule(&s->c, X(s, ax), Y(s, ay), X(s, bx), Y(s, by), r * s->sx, v, 1);
}

static void ell(shape *s, float cx, float cy, float rx, float ry, float tone)
{
    float v[3] = {tone, tone, tone};
    synth_ellipse(&s->c, X(s, cx), Y(s, cy), rx * s->sx, ry * s->sy, 0, v, 1);
}

static void rect(shape *s, float x0, float y0, float x1, float y1, float tone)
{
    float xy[8] = {x0, y0, x1, y0, x1, y1, x0, y1};
    poly(s, xy, 4, tone);
}

static void torso_sleeves(shape *s, float top, float bottom, float sleeve_end, float t)
{
    rect(s, 8, top, 20, bottom, t);
    const float sleeve[8] = {8.5f, top, 2.5f, sleeve_end - 2, 5.5f, sleeve_end, 9, top + 6};
    poly2(s, sleeve, 4, t * 0.92f);
}

void synth_shape_draw(int object, uint64_t key, uint8_t *out)
{
    float buf[VTAG_SYNTH_PICTURE * VTAG_SYNTH_PICTURE];
    memset(buf, 0, sizeof buf);
    synth_rng r = synth_stream(key, 0x53484150 /* "SHAP" */);
    shape s = {{buf, VTAG_SYNTH_PICTURE, VTAG_SYNTH_PICTURE, 1}, 0, 0, 0, 0, 0};
    s.sx = synth_range(&r, 0.88f, 1.02f);
    s.sy = synth_range(&r, 0.90f, 1.02f);
    s.dx = synth_range(&r, -1.0f, 1.0f);
    s.dy = synth_range(&r, -0.8f, 0.8f);
    float t = synth_range(&r, 150, 225), dark = t * 0.55f, light = fminf(255, t * 1.15f);
    float v = synth_range(&r, -1.0f, 1.0f); /* a per-key proportion */
    switch (object) {
    case OBJ_TSHIRT:
        torso_sleeves(&s, 4, 26 + v, 12 + v, t);
        ell(&s, 14, 3.6f, 3.2f, 2.0f, 0);
        break;
    case OBJ_TROUSER: {
        rect(&s, 8, 2, 20, 5, dark);
        const float left[8] = {8, 4.5f, 14.5f, 4.5f, 13.2f, 27, 8.4f + v * 0.5f, 27};
        poly2(&s, left, 4, t);
        caps(&s, 14, 6, 14, 12, 0.4f, dark);
        break;
    }
    case OBJ_PULLOVER:
        torso_sleeves(&s, 4, 25, 23 + v, t);
        ell(&s, 14, 3.4f, 2.6f, 1.5f, 0);
        rect(&s, 8, 23.2f, 20, 25, dark);
        break;
    case OBJ_DRESS: {
        const float body[12] = {11, 2, 17, 2, 18, 10, 23 + v, 27, 5 - v, 27, 10, 10};
        poly(&s, body, 6, t);
        rect(&s, 10, 9.5f, 18, 11, dark);
        ell(&s, 14, 2.2f, 2.0f, 1.2f, 0);
        break;
    }
    case OBJ_COAT:
        rect(&s, 7, 2.5f, 21, 27, t);
        {
            const float sleeve[8] = {7.5f, 2.5f, 2, 23 + v, 5, 25, 8, 9};
            poly2(&s, sleeve, 4, t * 0.9f);
            const float lapel[6] = {11, 2.5f, 14, 2.5f, 14, 9};
            poly2(&s, lapel, 3, light);
        }
        caps(&s, 14, 8, 14, 27, 0.45f, dark);
        for (int i = 0; i < 3; i++) ell(&s, 15.6f, 12 + 4.5f * (float)i, 0.7f, 0.7f, dark);
        break;
    case OBJ_SANDAL:
        caps(&s, 2.5f, 21 + v * 0.5f, 25.5f, 21, 1.8f, t);
        caps(&s, 6, 20, 10, 13, 0.9f, light);
        caps(&s, 10, 13, 18, 12, 0.9f, light);
        caps(&s, 16, 20, 20, 13.5f, 1.1f, light);
        caps(&s, 20, 13.5f, 25, 17, 0.9f, light);
        break;
    case OBJ_SHIRT:
        torso_sleeves(&s, 4, 26, 24 + v, t);
        {
            const float collar[6] = {10, 3, 14, 3.5f, 12, 7};
            poly2(&s, collar, 3, light);
        }
        for (int i = 0; i < 5; i++) ell(&s, 14, 8 + 3.8f * (float)i, 0.55f, 0.55f, dark);
        rect(&s, 9.5f, 9, 12.5f, 12.5f, dark);
        rect(&s, 10, 9.5f, 12, 12, t);
        break;
    case OBJ_SNEAKER: {
        const float upper[12] = {4, 21, 4.5f, 13 + v, 10, 11, 17, 14.5f, 25, 17.5f, 25, 21};
        poly(&s, upper, 6, t);
        caps(&s, 3, 22.5f, 25.5f, 22.5f, 1.8f, light);
        for (int i = 0; i < 3; i++) caps(&s, 10.5f + 2.2f * (float)i, 12.2f + 0.8f * (float)i, 12 + 2.2f * (float)i,
                                          15 + 0.8f * (float)i, 0.5f, dark);
        break;
    }
    case OBJ_BAG:
        rect(&s, 4, 10 + v, 24, 27, t);
        rect(&s, 4, 10 + v, 24, 16 + v, t * 0.8f);
        caps(&s, 8, 10 + v, 10, 3, 1.3f, dark);
        caps(&s, 10, 3, 18, 3, 1.3f, dark);
        caps(&s, 18, 3, 20, 10 + v, 1.3f, dark);
        ell(&s, 14, 16 + v, 1.2f, 1.2f, light);
        break;
    case OBJ_BOOT: {
        const float shaft[8] = {7, 2 + v, 15, 2 + v, 16, 15, 7, 17};
        poly(&s, shaft, 4, t);
        const float foot[10] = {7, 14, 16, 13, 24, 18, 25.5f, 24, 7, 24};
        poly(&s, foot, 5, t * 0.95f);
        caps(&s, 7.5f, 25, 25, 25, 1.3f, dark);
        rect(&s, 7, 24, 11, 27, dark);
        break;
    }
    default:
        break;
    }
    /* Shading from the top, and a fabric-like texture, on the object only. */
    for (int y = 0; y < VTAG_SYNTH_PICTURE; y++)
        for (int x = 0; x < VTAG_SYNTH_PICTURE; x++) {
            float *p = &buf[y * VTAG_SYNTH_PICTURE + x];
            if (*p <= 0.5f) {
                *p = 0;
                continue;
            }
            float tex = synth_range(&r, -14, 14) + 8 * sinf(0.9f * (float)x + 0.4f * (float)y);
            *p = *p * (1.08f - 0.16f * (float)y / VTAG_SYNTH_PICTURE) + tex;
        }
    for (int i = 0; i < VTAG_SYNTH_PICTURE * VTAG_SYNTH_PICTURE; i++) {
        float p = buf[i];
        out[i] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : lrintf(p));
    }
}

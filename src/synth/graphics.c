/* What is drawn over the products: the hand, rain and snow in the scene;
 * logo, subtitles, price tag, discount badge, countdown, QR code, ribbons
 * and confetti laid over the picture after capture, in the centred square
 * that a centre crop keeps. */
#include <math.h>
#include <string.h>

#include "synth/scene.h"

static void init_particles(particle *p, int n, synth_rng *g, int kind)
{
    for (int i = 0; i < n; i++) {
        p[i].x = synth_uniform(g);
        p[i].y = synth_uniform(g);
        p[i].angle = synth_range(g, 0, 6.28f);
        if (kind == 0) { /* rain */
            p[i].vx = -0.25f;
            p[i].vy = synth_range(g, 1.2f, 2.0f);
            p[i].size = synth_range(g, 0.04f, 0.08f);
        } else if (kind == 1) { /* snow */
            p[i].vx = synth_range(g, -0.03f, 0.03f);
            p[i].vy = synth_range(g, 0.08f, 0.2f);
            p[i].size = synth_range(g, 0.006f, 0.013f);
        } else { /* confetti */
            p[i].vx = synth_range(g, -0.05f, 0.05f);
            p[i].vy = synth_range(g, 0.15f, 0.35f);
            p[i].size = synth_range(g, 0.012f, 0.022f);
            synth_hsv(p[i].rgb, synth_uniform(g), 0.8f, 1.0f);
        }
    }
}

void synth_scene_graphics_init(vtag_synth_renderer *r)
{
    /* Graphics: corners for logo, price tag, discount badge, QR code. */
    synth_rng lay = synth_stream(r->v.seed, K_LAYOUT);
    int perm[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
        int j = synth_int(&lay, 0, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(r->corner, perm, sizeof perm);
    {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_QR);
        for (int i = 0; i < 21 * 21; i++) r->qr[i] = synth_uniform(&t) < 0.5f;
    }
    {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_HAND);
        static const float tones[4][3] = {{241, 194, 167}, {224, 172, 130}, {176, 118, 82}, {110, 72, 50}};
        memcpy(r->skin, tones[synth_int(&t, 0, 3)], sizeof r->skin);
        r->hand_side = synth_uniform(&t) < 0.5f ? -1 : 1;
    }
    {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_PRICE);
        for (int i = 0; i < 3; i++) r->price_digits[i] = (float)synth_int(&t, i == 0 ? 1 : 0, 9);
    }
    {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_RAIN);
        r->n_rain = synth_int(&t, 50, 90);
        init_particles(r->rain, r->n_rain, &t, 0);
        t = synth_stream(r->v.seed, K_TAG + T_SNOW);
        r->n_snow = synth_int(&t, 60, 96);
        init_particles(r->snow, r->n_snow, &t, 1);
        t = synth_stream(r->v.seed, K_TAG + T_CONFETTI);
        r->n_confetti = synth_int(&t, 40, 80);
        init_particles(r->confetti, r->n_confetti, &t, 2);
    }
}

static void draw_digit(synth_canvas *c, float x, float y, float h, int d, const float *rgb, float alpha)
{
    static const unsigned char seg[10] = {0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f};
    /* segments a..g as (x0, y0, x1, y1) in a 0.5 × 1 box */
    static const float p[7][4] = {{0, 0, .5f, 0}, {.5f, 0, .5f, .5f}, {.5f, .5f, .5f, 1}, {0, 1, .5f, 1},
                                  {0, .5f, 0, 1},  {0, 0, 0, .5f},     {0, .5f, .5f, .5f}};
    float th = h * 0.07f + 0.3f;
    for (int s = 0; s < 7; s++)
        if (seg[d % 10] >> s & 1)
            synth_capsule(c, x + p[s][0] * h, y + p[s][1] * h, x + p[s][2] * h, y + p[s][3] * h, th, rgb, alpha);
}

static void corner_xy(const vtag_synth_renderer *r, int corner, float w, float h, float *x, float *y)
{
    float m = 0.05f * r->S;
    *x = r->ox + ((corner & 1) ? r->S - m - w : m);
    *y = r->oy + ((corner & 2) ? r->S - m - h : m);
}

/* Words of a subtitle line: white bars with a dark outline, changing per span. */
static void draw_subtitles(vtag_synth_renderer *r, int64_t frame)
{
    const vtag_synth_tag *tg = &r->v.tags[r->tag_at[T_SUBTITLES]];
    int span = 0;
    for (int i = 0; i < tg->n_spans; i++)
        if (frame >= tg->spans[i].begin) span = i;
    synth_rng g = synth_stream(synth_hash(r->v.seed, K_TAG + T_SUBTITLES), (uint64_t)span);
    float S = r->S, white[3] = {250, 250, 250}, black[3] = {10, 10, 10};
    int lines = synth_int(&g, 1, 2);
    for (int l = 0; l < lines; l++) {
        int words = synth_int(&g, 2, 5);
        float wl[5], total = 0, gap = 0.035f * S;
        for (int i = 0; i < words; i++) total += (wl[i] = synth_range(&g, 0.06f, 0.16f) * S);
        total += gap * (float)(words - 1);
        float x = r->ox + (S - total) / 2, y = r->oy + S * (lines == 2 && l == 0 ? 0.8f : 0.89f);
        for (int i = 0; i < words; i++) {
            synth_capsule(&r->frame, x, y, x + wl[i], y, 0.03f * S, black, 0.8f);
            synth_capsule(&r->frame, x, y, x + wl[i], y, 0.019f * S, white, 1);
            x += wl[i] + gap;
        }
    }
}

static void draw_hand(vtag_synth_renderer *r, int64_t frame)
{
    const vtag_synth_tag *tg = &r->v.tags[r->tag_at[T_HAND]];
    int64_t b = 0, e = 1;
    for (int i = 0; i < tg->n_spans; i++)
        if (frame >= tg->spans[i].begin && frame < tg->spans[i].end) b = tg->spans[i].begin, e = tg->spans[i].end;
    float p = (float)(frame - b) / (float)(e - b), S = r->S;
    float reach = smooth(0.0f, 0.35f, p) * (1 - smooth(0.8f, 1.0f, p)); /* in, hold, out */
    float side = (float)r->hand_side;
    float bx = r->ox + S / 2 + side * 0.3f * S, by = r->oy + S * (1.02f - 0.28f * reach);
    float ang = -PI_F / 2 - side * 0.5f; /* pointing up and inwards */
    float ca = cosf(ang), sa = sinf(ang);
    float dark[3] = {r->skin[0] * 0.8f, r->skin[1] * 0.8f, r->skin[2] * 0.8f};
    synth_capsule(&r->frame, bx, by, bx - ca * 0.3f * S, by - sa * 0.3f * S, 0.07f * S, dark, 1); /* wrist */
    synth_ellipse(&r->frame, bx, by, 0.1f * S, 0.085f * S, ang, r->skin, 1);
    for (int f = 0; f < 4; f++) {
        float off = (-0.06f + 0.04f * (float)f) * S, len = (0.1f + (f == 1 || f == 2 ? 0.03f : 0)) * S;
        float fx = bx + ca * 0.07f * S - sa * off, fy = by + sa * 0.07f * S + ca * off;
        synth_capsule(&r->frame, fx, fy, fx + ca * len, fy + sa * len, 0.018f * S, r->skin, 1);
    }
    float tx = bx - sa * 0.09f * S * side, ty = by + ca * 0.09f * S * side;
    synth_capsule(&r->frame, tx, ty, tx + (ca - sa * side) * 0.06f * S, ty + (sa + ca * side) * 0.06f * S,
                  0.02f * S, r->skin, 1);
}

static void draw_particles(vtag_synth_renderer *r, const particle *p, int n, float t, int kind)
{
    float W = (float)r->W, H = (float)r->H, S = r->S;
    float grey[3] = {215, 220, 230}, white[3] = {250, 250, 250};
    for (int i = 0; i < n; i++) {
        float x = p[i].x + p[i].vx * t, y = p[i].y + p[i].vy * t;
        x = (x - floorf(x)) * (W + 0.2f * S) - 0.1f * S;
        y = (y - floorf(y)) * (H + 0.2f * S) - 0.1f * S;
        float len = p[i].size * S;
        if (kind == 0) {
            synth_capsule(&r->frame, x, y, x + p[i].vx * len, y + len, 0.006f * S + 0.3f, grey, 0.55f);
        } else if (kind == 1) {
            synth_ellipse(&r->frame, x, y, len, len, 0, white, 0.9f);
        } else {
            float a = p[i].angle + 3 * t, ca = cosf(a) * len, sa = sinf(a) * len;
            float q[8] = {x - ca + sa, y - sa - ca, x + ca + sa, y + sa - ca, x + ca - sa, y + sa + ca,
                          x - ca - sa, y - sa + ca};
            synth_poly(&r->frame, q, 4, p[i].rgb, 1);
        }
    }
}

void synth_scene_graphics(vtag_synth_renderer *r, int64_t frame, float t)
{
    synth_canvas *c = &r->frame;
    float S = r->S, x, y;
    float white[3] = {250, 250, 250}, black[3] = {12, 12, 12};
    if (has(r, T_LOGO)) {
        float rad = 0.055f * S;
        corner_xy(r, r->corner[0], 2 * rad, 2 * rad, &x, &y);
        x += rad;
        y += rad;
        for (int i = 0; i < 16; i++) {
            float a0 = (float)i * 2 * PI_F / 16, a1 = (float)(i + 1) * 2 * PI_F / 16;
            synth_capsule(c, x + rad * cosf(a0), y + rad * sinf(a0), x + rad * cosf(a1), y + rad * sinf(a1),
                          0.012f * S, white, 0.85f);
        }
        synth_capsule(c, x - 0.5f * rad, y - 0.45f * rad, x, y + 0.5f * rad, 0.014f * S, white, 0.85f);
        synth_capsule(c, x + 0.5f * rad, y - 0.45f * rad, x, y + 0.5f * rad, 0.014f * S, white, 0.85f);
    }
    if (visible(r, T_FREESHIP, frame)) {
        float blue[3] = {28, 88, 200};
        synth_rect(c, r->ox, r->oy, r->ox + S, r->oy + 0.11f * S, blue, 0.92f);
        synth_rect(c, r->ox + 0.04f * S, r->oy + 0.025f * S, r->ox + 0.12f * S, r->oy + 0.07f * S, white, 1);
        synth_rect(c, r->ox + 0.12f * S, r->oy + 0.04f * S, r->ox + 0.15f * S, r->oy + 0.07f * S, white, 1);
        synth_ellipse(c, r->ox + 0.065f * S, r->oy + 0.078f * S, 0.012f * S, 0.012f * S, 0, black, 1);
        synth_ellipse(c, r->ox + 0.13f * S, r->oy + 0.078f * S, 0.012f * S, 0.012f * S, 0, black, 1);
        synth_capsule(c, r->ox + 0.2f * S, r->oy + 0.055f * S, r->ox + 0.5f * S, r->oy + 0.055f * S, 0.017f * S,
                      white, 1);
        synth_capsule(c, r->ox + 0.56f * S, r->oy + 0.055f * S, r->ox + 0.88f * S, r->oy + 0.055f * S, 0.017f * S,
                      white, 1);
    }
    if (visible(r, T_NEWARRIVAL, frame)) {
        float green[3] = {36, 168, 78};
        float ax = r->ox + 0.6f * S, ay = r->oy - 0.02f * S, bx = r->ox + 1.02f * S, by = r->oy + 0.4f * S;
        synth_capsule(c, ax, ay, bx, by, 0.06f * S, green, 1);
        for (int i = 0; i < 3; i++) {
            float t0 = 0.3f + 0.15f * (float)i, t1 = t0 + 0.1f;
            synth_capsule(c, ax + (bx - ax) * t0, ay + (by - ay) * t0, ax + (bx - ax) * t1, ay + (by - ay) * t1,
                          0.015f * S, white, 1);
        }
    }
    if (visible(r, T_COUNTDOWN, frame)) {
        const vtag_synth_tag *tg = &r->v.tags[r->tag_at[T_COUNTDOWN]];
        int64_t left = tg->spans[0].end - frame;
        int secs = (int)((left + r->v.fps - 1) / r->v.fps);
        float w = 0.4f * S, h = 0.13f * S;
        x = r->ox + (S - w) / 2;
        y = r->oy + (visible(r, T_FREESHIP, frame) ? 0.14f : 0.04f) * S;
        float red[3] = {235, 40, 40};
        synth_rect(c, x, y, x + w, y + h, black, 0.8f);
        int dig[4] = {secs / 600 % 10, secs / 60 % 10, secs % 60 / 10, secs % 10};
        float dh = 0.085f * S, dx = x + 0.05f * S;
        for (int i = 0; i < 4; i++) {
            draw_digit(c, dx, y + 0.022f * S, dh, dig[i], red, 1);
            dx += i == 1 ? 0.11f * S : 0.075f * S;
        }
        synth_ellipse(c, x + 0.2f * S, y + 0.045f * S, 0.008f * S, 0.008f * S, 0, red, 1);
        synth_ellipse(c, x + 0.2f * S, y + 0.085f * S, 0.008f * S, 0.008f * S, 0, red, 1);
    }
    if (visible(r, T_PRICE, frame)) {
        float yellow[3] = {250, 214, 40}, w = 0.3f * S, h = 0.13f * S;
        corner_xy(r, r->corner[1], w, h, &x, &y);
        float q[10] = {x, y + h / 2, x + 0.05f * S, y, x + w, y, x + w, y + h, x + 0.05f * S, y + h};
        synth_poly(c, q, 5, yellow, 1);
        synth_ellipse(c, x + 0.045f * S, y + h / 2, 0.012f * S, 0.012f * S, 0, black, 1);
        for (int i = 0; i < 3; i++)
            draw_digit(c, x + 0.09f * S + 0.065f * S * (float)i, y + 0.025f * S, 0.08f * S, (int)r->price_digits[i],
                       black, 1);
    }
    if (visible(r, T_DISCOUNT, frame)) {
        float red[3] = {222, 30, 44}, rad = 0.1f * S;
        corner_xy(r, r->corner[2], 2.4f * rad, 2.4f * rad, &x, &y);
        x += 1.2f * rad;
        y += 1.2f * rad;
        synth_ellipse(c, x, y, rad, rad, 0, red, 1);
        for (int i = 0; i < 12; i++) {
            float a = (float)i * 2 * PI_F / 12 + t * 0.5f, b = a + PI_F / 12;
            float tri[6] = {x + 0.9f * rad * cosf(a - 0.2f), y + 0.9f * rad * sinf(a - 0.2f),
                            x + 1.22f * rad * cosf(b - 0.13f), y + 1.22f * rad * sinf(b - 0.13f),
                            x + 0.9f * rad * cosf(b + 0.05f), y + 0.9f * rad * sinf(b + 0.05f)};
            synth_poly(c, tri, 3, red, 1);
        }
        synth_capsule(c, x + 0.4f * rad, y - 0.5f * rad, x - 0.4f * rad, y + 0.5f * rad, 0.09f * rad, white, 1);
        synth_ellipse(c, x - 0.35f * rad, y - 0.32f * rad, 0.18f * rad, 0.18f * rad, 0, white, 1);
        synth_ellipse(c, x + 0.35f * rad, y + 0.32f * rad, 0.18f * rad, 0.18f * rad, 0, white, 1);
    }
    if (visible(r, T_QR, frame)) {
        float side = 0.22f * S, mod = side / 25;
        corner_xy(r, r->corner[3], side, side, &x, &y);
        synth_rect(c, x, y, x + side, y + side, white, 1);
        for (int j = 0; j < 21; j++)
            for (int i = 0; i < 21; i++) {
                int fi = i < 7 ? i : i >= 14 ? i - 14 : -1, fj = j < 7 ? j : j >= 14 ? j - 14 : -1;
                int bit;
                if (fi >= 0 && fj >= 0 && !(i >= 14 && j >= 14)) { /* finder patterns */
                    int ring = fi == 0 || fi == 6 || fj == 0 || fj == 6;
                    int core = fi >= 2 && fi <= 4 && fj >= 2 && fj <= 4;
                    bit = ring || core;
                } else {
                    bit = r->qr[j * 21 + i];
                }
                if (bit)
                    synth_rect(c, x + (float)(i + 2) * mod, y + (float)(j + 2) * mod, x + (float)(i + 3) * mod,
                               y + (float)(j + 3) * mod, black, 1);
            }
    }
    if (visible(r, T_SUBTITLES, frame)) draw_subtitles(r, frame);
    if (visible(r, T_CONFETTI, frame)) draw_particles(r, r->confetti, r->n_confetti, t, 2);
}

void synth_scene_extras(vtag_synth_renderer *r, int64_t frame, float t)
{
    if (visible(r, T_HAND, frame)) draw_hand(r, frame);
    if (has(r, T_RAIN)) draw_particles(r, r->rain, r->n_rain, t, 0);
    if (visible(r, T_SNOW, frame)) draw_particles(r, r->snow, r->n_snow, t, 1);
}

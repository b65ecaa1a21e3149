/* Backgrounds: one procedural style per class1 (studio, floor, street,
 * shelf, sale burst, table, runway, kids), varied per video, and the props. */
#include <math.h>
#include <string.h>

#include "synth/scene.h"

void synth_hsv(float *out, float h, float s, float v)
{
    h -= floorf(h);
    float i = floorf(h * 6), f = h * 6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    switch ((int)i % 6) {
    case 0: set3(out, v, t, p); break;
    case 1: set3(out, q, v, p); break;
    case 2: set3(out, p, v, t); break;
    case 3: set3(out, p, q, v); break;
    case 4: set3(out, t, p, v); break;
    default: set3(out, v, p, q); break;
    }
    for (int k = 0; k < 3; k++) out[k] *= 255;
}

/* ---- backgrounds: world pixels, (wx, wy) in units of S from the centre ---- */

static void background_pixel(int style, const float *pal, uint64_t key, float wx, float wy, float S, float *o)
{
    const float *c0 = pal, *c1 = pal + 3, *c2 = pal + 6, *c3 = pal + 9;
    switch (style) {
    case BG_STUDIO: {
        mix3(o, c0, c1, smooth(-0.9f, 0.9f, wy));
        float fl[3];
        mix3(fl, o, c2, 0.6f);
        mix3(o, o, fl, smooth(0.2f, 0.45f, wy));
        break;
    }
    case BG_FLOOR: {
        if (wy < 0.15f) {
            mix3(o, c0, c1, smooth(-0.9f, 0.15f, wy));
            float panel = fabsf(wx / 0.35f - roundf(wx / 0.35f));
            if (panel < 0.03f) for (int k = 0; k < 3; k++) o[k] *= 0.9f;
            if (wy > 0.12f) for (int k = 0; k < 3; k++) o[k] *= 0.75f; /* skirting */
        } else {
            float u = wx / (wy + 0.6f) * 6;
            int64_t board = (int64_t)floorf(u);
            float h = cell_hash(key, board, 7);
            mix3(o, c2, c3, h);
            float seam = fabsf(u - roundf(u));
            float grain = 7 * sinf(wy * S * 0.8f + 9 * h + 3 * sinf(u * 5));
            for (int k = 0; k < 3; k++) o[k] = o[k] * (seam < 0.04f ? 0.55f : 1) + grain;
        }
        break;
    }
    case BG_STREET: {
        float horizon = 0.25f;
        if (wy >= horizon) {
            float g = 118 + 10 * sinf(wx * 40) * 0.2f;
            set3(o, g, g, g + 4);
            float line = fabsf((wy - horizon) / 0.18f - roundf((wy - horizon) / 0.18f));
            if (line < 0.05f) for (int k = 0; k < 3; k++) o[k] *= 1.15f;
            if (wy < horizon + 0.025f) for (int k = 0; k < 3; k++) o[k] *= 0.7f; /* curb */
            break;
        }
        mix3(o, c0, c1, smooth(-1.0f, horizon, wy));
        int64_t b = (int64_t)floorf(wx / 0.28f + 100);
        float hb = 0.25f + 0.55f * cell_hash(key, b, 1);
        if (wy > horizon - hb) {
            float t = cell_hash(key, b, 2);
            mix3(o, c2, c3, t);
            float wxl = wx / 0.07f, wyl = (wy - horizon) / 0.08f;
            if (fabsf(wxl - roundf(wxl)) < 0.28f && fabsf(wyl - roundf(wyl)) < 0.25f &&
                wy > horizon - hb + 0.04f && wy < horizon - 0.05f) {
                float lit = cell_hash(key, (int64_t)roundf(wxl), (int64_t)roundf(wyl)) > 0.6f ? 1.35f : 0.75f;
                for (int k = 0; k < 3; k++) o[k] *= lit;
            }
        }
        break;
    }
    case BG_SHELF: {
        mix3(o, c0, c1, smooth(-1.0f, 1.0f, wy));
        static const float shelves[3] = {-0.45f, 0.08f, 0.6f};
        for (int s = 0; s < 3; s++) {
            float d = wy - shelves[s];
            if (d >= 0 && d < 0.045f) {
                mix3(o, c2, c2, 0);
                if (d > 0.03f) for (int k = 0; k < 3; k++) o[k] *= 0.7f;
            } else if (d >= 0.045f && d < 0.09f) {
                for (int k = 0; k < 3; k++) o[k] *= 0.8f + 0.2f * (d - 0.045f) / 0.045f;
            } else if (d < 0 && d > -0.3f && fabsf(wx) > 0.36f) {
                int64_t cell = (int64_t)floorf(wx / 0.11f);
                float h = cell_hash(key, cell, s + 10), hh = 0.08f + 0.2f * cell_hash(key, cell, s + 20);
                float fx = wx / 0.11f - (float)cell;
                if (h > 0.35f && -d < hh && fx > 0.12f && fx < 0.88f) {
                    float box[3];
                    synth_hsv(box, cell_hash(key, cell, s + 30), 0.45f, 0.75f);
                    mix3(o, box, c3, 0.25f);
                }
            }
        }
        break;
    }
    case BG_SALE: {
        float a = atan2f(wy + 0.05f, wx), rr = sqrtf(wx * wx + (wy + 0.05f) * (wy + 0.05f));
        int ray = (int)floorf((a + PI_F) / (2 * PI_F) * 16);
        mix3(o, (ray & 1) ? c0 : c1, c2, smooth(0.0f, 0.35f, 0.35f - rr) * 0.6f);
        break;
    }
    case BG_TABLE: {
        float grain = 14 * sinf(wy * S * 0.35f + 5 * sinf(wx * 6 + wy * 2)) + 6 * sinf(wx * S * 0.05f);
        mix3(o, c0, c1, smooth(-1.0f, 1.0f, wy));
        for (int k = 0; k < 3; k++) o[k] += grain;
        break;
    }
    case BG_RUNWAY: {
        mix3(o, c0, c1, smooth(-1.0f, 1.0f, wy));
        float half = 0.08f + 0.27f * smooth(-0.3f, 1.0f, wy);
        if (wy > -0.3f && fabsf(wx) < half) {
            mix3(o, c2, c2, 0);
            if (fabsf(wx) < 0.006f + 0.01f * (wy + 0.3f)) for (int k = 0; k < 3; k++) o[k] *= 1.3f;
        } else if (wy > 0.0f && fabsf(wx) > half + 0.06f) {
            float gx = wx / 0.09f, gy = wy / 0.09f;
            float dx = gx - roundf(gx), dy = gy - roundf(gy);
            if (dx * dx + dy * dy < 0.12f) mix3(o, o, c3, 0.7f);
        }
        if (wy < -0.7f && fabsf(wx / 0.25f - roundf(wx / 0.25f)) < 0.08f && wy > -0.78f)
            set3(o, 240, 235, 210);
        break;
    }
    case BG_KIDS: {
        mix3(o, c0, c1, smooth(-1.0f, 1.0f, wy));
        float gx = wx / 0.24f, gy = wy / 0.24f;
        int64_t ix = (int64_t)floorf(gx), iy = (int64_t)floorf(gy);
        float h = cell_hash(key, ix, iy);
        if (h > 0.45f) {
            float cx = (float)ix + 0.25f + 0.5f * cell_hash(key, ix, iy + 1000);
            float cy = (float)iy + 0.25f + 0.5f * cell_hash(key, ix + 1000, iy);
            float rad = 0.12f + 0.12f * h;
            if ((gx - cx) * (gx - cx) + (gy - cy) * (gy - cy) < rad * rad) {
                float dot[3];
                synth_hsv(dot, cell_hash(key, ix, iy + 2000), 0.45f, 0.95f);
                mix3(o, o, dot, 0.85f);
            }
        }
        break;
    }
    default:
        set3(o, 128, 128, 128);
    }
}

/* Four palette colours per style, varied per video. */
static void background_palette(int style, synth_rng *r, float *pal)
{
    float h = synth_uniform(r);
    switch (style) {
    case BG_STUDIO:
        synth_hsv(pal, h, synth_range(r, 0.08f, 0.25f), 0.95f);
        synth_hsv(pal + 3, h + 0.03f, synth_range(r, 0.10f, 0.30f), 0.85f);
        synth_hsv(pal + 6, h, 0.15f, 0.75f);
        break;
    case BG_FLOOR:
        synth_hsv(pal, 0.08f + 0.1f * h, 0.12f, 0.92f);
        synth_hsv(pal + 3, 0.08f + 0.1f * h, 0.18f, 0.82f);
        synth_hsv(pal + 6, 0.07f, synth_range(r, 0.45f, 0.65f), synth_range(r, 0.45f, 0.6f));
        synth_hsv(pal + 9, 0.08f, synth_range(r, 0.5f, 0.7f), synth_range(r, 0.6f, 0.75f));
        break;
    case BG_STREET:
        synth_hsv(pal, 0.58f, synth_range(r, 0.45f, 0.6f), synth_range(r, 0.75f, 0.9f));
        synth_hsv(pal + 3, 0.57f, 0.15f, 0.95f);
        synth_hsv(pal + 6, 0.05f + 0.05f * h, 0.3f, 0.55f);
        synth_hsv(pal + 9, 0.6f, 0.08f, 0.65f);
        break;
    case BG_SHELF:
        synth_hsv(pal, 0.1f + 0.5f * h, 0.1f, 0.88f);
        synth_hsv(pal + 3, 0.1f + 0.5f * h, 0.12f, 0.76f);
        synth_hsv(pal + 6, 0.07f, 0.55f, synth_range(r, 0.45f, 0.6f));
        synth_hsv(pal + 9, 0, 0, 0.8f);
        break;
    case BG_SALE:
        synth_hsv(pal, synth_range(r, 0.98f, 1.02f), 0.85f, 0.9f);
        synth_hsv(pal + 3, synth_range(r, 0.06f, 0.13f), 0.85f, 0.98f);
        synth_hsv(pal + 6, 0.14f, 0.5f, 1.0f);
        break;
    case BG_TABLE:
        synth_hsv(pal, 0.07f, synth_range(r, 0.45f, 0.6f), synth_range(r, 0.55f, 0.7f));
        synth_hsv(pal + 3, 0.06f, 0.6f, 0.45f);
        break;
    case BG_RUNWAY:
        synth_hsv(pal, 0.65f + 0.1f * h, 0.4f, 0.1f);
        synth_hsv(pal + 3, 0.7f, 0.3f, 0.22f);
        synth_hsv(pal + 6, 0.7f, 0.1f, synth_range(r, 0.3f, 0.42f));
        synth_hsv(pal + 9, 0.05f, 0.2f, 0.3f);
        break;
    default: /* BG_KIDS */
        synth_hsv(pal, h, 0.15f, 0.98f);
        synth_hsv(pal + 3, h + 0.1f, 0.2f, 0.93f);
        break;
    }
}

static void draw_props(vtag_synth_renderer *r)
{
    synth_canvas *c = &r->bg;
    float S = r->S, cx = r->bgcx, cy = r->bgcy;
    float col[3], dark[3];
    if (synth_class1_background(r->v.class1) == BG_TABLE) { /* the open box everything comes out of */
        set3(col, 196, 156, 104);
        set3(dark, 120, 88, 52);
        synth_rect(c, cx - 0.34f * S, cy + 0.12f * S, cx + 0.34f * S, cy + 0.62f * S, col, 1);
        synth_rect(c, cx - 0.34f * S, cy + 0.12f * S, cx + 0.34f * S, cy + 0.2f * S, dark, 1);
        const float flap[8] = {cx - 0.34f * S, cy + 0.12f * S, cx - 0.5f * S, cy - 0.02f * S,
                               cx - 0.45f * S, cy - 0.06f * S, cx - 0.3f * S, cy + 0.12f * S};
        synth_poly(c, flap, 4, col, 1);
        const float flap2[8] = {cx + 0.34f * S, cy + 0.12f * S, cx + 0.5f * S, cy - 0.02f * S,
                                cx + 0.45f * S, cy - 0.06f * S, cx + 0.3f * S, cy + 0.12f * S};
        synth_poly(c, flap2, 4, col, 1);
    }
    if (has(r, T_SHOEBOX)) {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_SHOEBOX);
        synth_hsv(col, synth_uniform(&t), synth_range(&t, 0.0f, 0.7f), synth_range(&t, 0.5f, 0.95f));
        for (int k = 0; k < 3; k++) dark[k] = col[k] * 0.7f;
        float side = synth_uniform(&t) < 0.5f ? -1.0f : 1.0f;
        float x0 = cx + side * 0.12f * S - 0.3f * S, x1 = x0 + 0.6f * S, y0 = cy + 0.05f * S, y1 = cy + 0.42f * S;
        synth_rect(c, x0, y0, x1, y1, col, 1);
        synth_rect(c, x0 - 0.02f * S, y0 - 0.05f * S, x1 + 0.02f * S, y0 + 0.05f * S, dark, 1);
        float white[3] = {240, 240, 236};
        synth_rect(c, x0 + 0.08f * S, y0 + 0.14f * S, x0 + 0.26f * S, y0 + 0.25f * S, white, 1);
    }
    if (has(r, T_PEDESTAL)) {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_PEDESTAL);
        float v = synth_range(&t, 0.75f, 0.95f);
        synth_hsv(col, synth_uniform(&t), 0.08f, v);
        for (int k = 0; k < 3; k++) dark[k] = col[k] * 0.8f;
        synth_rect(c, cx - 0.36f * S, cy + 0.33f * S, cx + 0.36f * S, cy + 0.75f * S, dark, 1);
        synth_ellipse(c, cx, cy + 0.75f * S, 0.36f * S, 0.07f * S, 0, dark, 1);
        synth_ellipse(c, cx, cy + 0.33f * S, 0.36f * S, 0.07f * S, 0, col, 1);
    }
    if (has(r, T_PLANT)) {
        synth_rng t = synth_stream(r->v.seed, K_TAG + T_PLANT);
        float side = synth_uniform(&t) < 0.5f ? -1.0f : 1.0f;
        float px = cx + side * 0.38f * S, py = cy + 0.28f * S;
        float pot[3] = {170, 90, 55}, leaf[3];
        const float potxy[8] = {px - 0.08f * S, py, px + 0.08f * S, py, px + 0.06f * S, py + 0.16f * S,
                                px - 0.06f * S, py + 0.16f * S};
        int n = synth_int(&t, 7, 11);
        for (int i = 0; i < n; i++) {
            synth_hsv(leaf, synth_range(&t, 0.25f, 0.38f), synth_range(&t, 0.55f, 0.8f), synth_range(&t, 0.35f, 0.65f));
            float a = synth_range(&t, -2.6f, -0.5f), len = synth_range(&t, 0.1f, 0.2f) * S;
            synth_ellipse(c, px + cosf(a) * len * 0.7f, py + sinf(a) * len * 0.7f, len * 0.55f, len * 0.18f, a, leaf,
                          1);
        }
        synth_poly(c, potxy, 4, pot, 1);
    }
}

void synth_scene_background(vtag_synth_renderer *r)
{
    int style = synth_class1_background(r->v.class1);
    synth_rng bgr = synth_stream(r->v.seed, K_BACKGROUND);
    float pal[12] = {0};
    background_palette(style, &bgr, pal);
    uint64_t key = synth_next(&bgr);
    int bw = r->bg.w, bh = r->bg.h;
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++) {
            float wx = ((float)x + 0.5f - r->bgcx) / r->S, wy = ((float)y + 0.5f - r->bgcy) / r->S;
            float *o = r->bg.px + ((int64_t)y * bw + x) * 4;
            background_pixel(style, pal, key, wx, wy, r->S, o);
            for (int k = 0; k < 3; k++) o[k] = o[k] < 0 ? 0 : o[k] > 255 ? 255 : o[k];
        }
    draw_props(r);
}

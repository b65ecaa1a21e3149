/* One video's scene: a background canvas per class1 style, product sprites
 * coloured and patterned per tags, props, camera motion, light, noise and
 * on-screen graphics; any frame is drawn on demand from the plan alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth_internal.h"

#define PI_F 3.14159265f
#define MAX_SPRITES 6
#define MAX_ITEMS 8
#define MAX_PARTICLES 96

/* Keys of the random streams, one per purpose, so that adding or removing a
 * tag changes nothing else in the video. */
enum {
    K_CAMERA = 1, K_BACKGROUND, K_PICTURE, K_ITEMS, K_COLOUR, K_PATTERN, K_LIGHT, K_NOISE, K_LAYOUT,
    K_TAG = 0x100 /* + tag id */
};

typedef struct item {
    int sprite;          /* index into sprites */
    float x, y;          /* position relative to the world centre, units of S */
    float size;          /* object width, units of S */
    float ax, ay, fx, fy, px, py; /* drift: amplitude (S), frequency (Hz), phase */
    float rot0, spin, sway, sway_f, sway_p; /* rotation (radians, radians/s) */
    float flip;          /* 1, or -1 for a mirrored twin */
    int tag;             /* index into v.tags whose spans show the item, -1: always */
} item;

typedef struct particle {
    float x, y, vx, vy, size, angle;
    float rgb[3];
} particle;

struct vtag_synth_renderer {
    vtag_synth_video v;
    int W, H;
    float S, ox, oy;             /* the centred safe square (what a centre crop keeps) */
    int tag_at[T_COUNT];         /* index into v.tags, or -1 */
    synth_canvas bg;             /* the world, RGB */
    float bgcx, bgcy;            /* the world centre in bg coords */
    synth_canvas sprite[MAX_SPRITES], shadow[MAX_SPRITES], mirror[MAX_SPRITES];
    int n_sprites;
    item items[MAX_ITEMS];
    int n_items;
    /* camera */
    float z0, za, zf, zp, zoom_in;
    float pax, pay, pfx, pfy, ppx, ppy;
    float shake, shake_f[4], shake_p[4];
    float roll0, roll_sway, roll_f, roll_p;
    /* light and noise */
    float *light;                /* [H, W, 3] multipliers */
    float noise;                 /* sigma, 0..255 */
    uint64_t noise_key;
    /* graphics */
    int corner[4];               /* logo, price, discount, qr: 0 TL, 1 TR, 2 BL, 3 BR */
    float skin[3];
    int hand_side;
    uint8_t qr[21 * 21];
    particle rain[MAX_PARTICLES], snow[MAX_PARTICLES], confetti[MAX_PARTICLES];
    int n_rain, n_snow, n_confetti;
    float price_digits[3];
    synth_canvas frame;          /* RGB float work buffer [H, W] */
};

static int has(const vtag_synth_renderer *r, int tag) { return r->tag_at[tag] >= 0; }

static int visible(const vtag_synth_renderer *r, int tag, int64_t frame)
{
    return r->tag_at[tag] >= 0 && vtag_synth_tag_visible(&r->v.tags[r->tag_at[tag]], frame);
}

static inline float smooth(float e0, float e1, float x)
{
    float t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

static void mix3(float *out, const float *a, const float *b, float t)
{
    for (int k = 0; k < 3; k++) out[k] = a[k] + (b[k] - a[k]) * t;
}

static void set3(float *out, float r, float g, float b)
{
    out[0] = r;
    out[1] = g;
    out[2] = b;
}

/* A colour from HSV (h in turns). */
static void hsv(float *out, float h, float s, float v)
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

static float cell_hash(uint64_t key, int64_t a, int64_t b) /* [0, 1) */
{
    return synth_u01(synth_hash(synth_hash(key, (uint64_t)a), (uint64_t)b));
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
                    hsv(box, cell_hash(key, cell, s + 30), 0.45f, 0.75f);
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
                hsv(dot, cell_hash(key, ix, iy + 2000), 0.45f, 0.95f);
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
        hsv(pal, h, synth_range(r, 0.08f, 0.25f), 0.95f);
        hsv(pal + 3, h + 0.03f, synth_range(r, 0.10f, 0.30f), 0.85f);
        hsv(pal + 6, h, 0.15f, 0.75f);
        break;
    case BG_FLOOR:
        hsv(pal, 0.08f + 0.1f * h, 0.12f, 0.92f);
        hsv(pal + 3, 0.08f + 0.1f * h, 0.18f, 0.82f);
        hsv(pal + 6, 0.07f, synth_range(r, 0.45f, 0.65f), synth_range(r, 0.45f, 0.6f));
        hsv(pal + 9, 0.08f, synth_range(r, 0.5f, 0.7f), synth_range(r, 0.6f, 0.75f));
        break;
    case BG_STREET:
        hsv(pal, 0.58f, synth_range(r, 0.45f, 0.6f), synth_range(r, 0.75f, 0.9f));
        hsv(pal + 3, 0.57f, 0.15f, 0.95f);
        hsv(pal + 6, 0.05f + 0.05f * h, 0.3f, 0.55f);
        hsv(pal + 9, 0.6f, 0.08f, 0.65f);
        break;
    case BG_SHELF:
        hsv(pal, 0.1f + 0.5f * h, 0.1f, 0.88f);
        hsv(pal + 3, 0.1f + 0.5f * h, 0.12f, 0.76f);
        hsv(pal + 6, 0.07f, 0.55f, synth_range(r, 0.45f, 0.6f));
        hsv(pal + 9, 0, 0, 0.8f);
        break;
    case BG_SALE:
        hsv(pal, synth_range(r, 0.98f, 1.02f), 0.85f, 0.9f);
        hsv(pal + 3, synth_range(r, 0.06f, 0.13f), 0.85f, 0.98f);
        hsv(pal + 6, 0.14f, 0.5f, 1.0f);
        break;
    case BG_TABLE:
        hsv(pal, 0.07f, synth_range(r, 0.45f, 0.6f), synth_range(r, 0.55f, 0.7f));
        hsv(pal + 3, 0.06f, 0.6f, 0.45f);
        break;
    case BG_RUNWAY:
        hsv(pal, 0.65f + 0.1f * h, 0.4f, 0.1f);
        hsv(pal + 3, 0.7f, 0.3f, 0.22f);
        hsv(pal + 6, 0.7f, 0.1f, synth_range(r, 0.3f, 0.42f));
        hsv(pal + 9, 0.05f, 0.2f, 0.3f);
        break;
    default: /* BG_KIDS */
        hsv(pal, h, 0.15f, 0.98f);
        hsv(pal + 3, h + 0.1f, 0.2f, 0.93f);
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
        hsv(col, synth_uniform(&t), synth_range(&t, 0.0f, 0.7f), synth_range(&t, 0.5f, 0.95f));
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
        hsv(col, synth_uniform(&t), 0.08f, v);
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
            hsv(leaf, synth_range(&t, 0.25f, 0.38f), synth_range(&t, 0.55f, 0.8f), synth_range(&t, 0.35f, 0.65f));
            float a = synth_range(&t, -2.6f, -0.5f), len = synth_range(&t, 0.1f, 0.2f) * S;
            synth_ellipse(c, px + cosf(a) * len * 0.7f, py + sinf(a) * len * 0.7f, len * 0.55f, len * 0.18f, a, leaf,
                          1);
        }
        synth_poly(c, potxy, 4, pot, 1);
    }
}

/* ---- product sprites ---- */

static float luminance(const float *c) { return 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]; }

/* A 28×28 picture → premultiplied RGBA sprite n wide; hanger adds headroom. */
static int build_sprite(synth_canvas *out, const uint8_t *pic, int n, const float *base,
                        int pattern, uint64_t pattern_key, int hanger, int blur)
{
    int h = hanger ? (int)lroundf((float)n * 1.3f) : n, top = h - n;
    if (synth_canvas_alloc(out, n, h, 4)) return -1;
    float second[3];
    if (luminance(base) > 150)
        for (int k = 0; k < 3; k++) second[k] = base[k] * 0.3f;
    else
        for (int k = 0; k < 3; k++) second[k] = base[k] + (255 - base[k]) * 0.8f;
    if (hanger) {
        float wood[3] = {92, 64, 40};
        float fn = (float)n, t = fn * 0.035f + 0.6f;
        synth_capsule(out, fn * 0.5f, (float)top * 0.15f, fn * 0.5f, (float)top * 0.55f, t, wood, 1);
        synth_capsule(out, fn * 0.5f, (float)top * 0.15f, fn * 0.58f, (float)top * 0.05f, t, wood, 1);
        synth_capsule(out, fn * 0.5f, (float)top * 0.55f, fn * 0.1f, (float)top + fn * 0.12f, t, wood, 1);
        synth_capsule(out, fn * 0.5f, (float)top * 0.55f, fn * 0.9f, (float)top + fn * 0.12f, t, wood, 1);
    }
    synth_rng pr = synth_stream(pattern_key, K_PATTERN);
    float period = 1.0f / synth_range(&pr, 6, 9), angle = synth_uniform(&pr) < 0.5f ? 0 : 0.785f;
    float ca = cosf(angle), sa = sinf(angle);
    float ph[6];
    for (int i = 0; i < 6; i++) ph[i] = synth_range(&pr, 0, 6.28f);
    float camo_dark[3] = {base[0] * 0.55f, base[1] * 0.55f, base[2] * 0.55f};
    float camo_olive[3] = {0.5f * base[0] + 0.5f * 96, 0.5f * base[1] + 0.5f * 104, 0.5f * base[2] + 0.5f * 48};
    float scale = (float)VTAG_SYNTH_PICTURE / (float)n;
    for (int y = 0; y < n; y++) {
        float fy = ((float)y + 0.5f) * scale - 0.5f;
        int iy = (int)floorf(fy);
        float ay = fy - (float)iy;
        for (int x = 0; x < n; x++) {
            float fx = ((float)x + 0.5f) * scale - 0.5f;
            int ix = (int)floorf(fx);
            float ax = fx - (float)ix, I = 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    int xx = ix + dx, yy = iy + dy;
                    if (xx < 0 || yy < 0 || xx >= VTAG_SYNTH_PICTURE || yy >= VTAG_SYNTH_PICTURE) continue;
                    I += (dx ? ax : 1 - ax) * (dy ? ay : 1 - ay) * (float)pic[yy * VTAG_SYNTH_PICTURE + xx];
                }
            float a = smooth(6, 40, I);
            if (a <= 0) continue;
            float u = ((float)x + 0.5f) / (float)n, v = ((float)y + 0.5f) / (float)n, m = 0;
            float c[3];
            switch (pattern) {
            case T_STRIPED: {
                float s = (ca * v + sa * u) / period;
                m = smooth(0.4f, 0.6f, fabsf(s - floorf(s) - 0.5f) * 2);
                break;
            }
            case T_CHECKED: {
                float s1 = u / period, s2 = v / period;
                float b1 = fabsf(s1 - floorf(s1) - 0.5f) < 0.25f, b2 = fabsf(s2 - floorf(s2) - 0.5f) < 0.25f;
                m = 0.45f * (b1 + b2);
                break;
            }
            case T_POLKA: {
                float gu = u / period, gv = v / period;
                float row = floorf(gv);
                gu += fmodf(row, 2) * 0.5f;
                float du = gu - floorf(gu) - 0.5f, dv = gv - row - 0.5f;
                m = 1 - smooth(0.22f, 0.3f, sqrtf(du * du + dv * dv));
                break;
            }
            case T_TWOTONE: /* the lower third in the second colour */
                m = smooth(0.62f, 0.68f, v);
                break;
            default:
                break;
            }
            if (pattern == T_CAMO) {
                float nz = sinf(u * 11 + ph[0]) + sinf(v * 13 + ph[1]) + sinf((u + v) * 9 + ph[2]) +
                           sinf((u - v) * 15 + ph[3]);
                if (nz > 0.9f) memcpy(c, camo_dark, sizeof c);
                else if (nz < -0.6f) memcpy(c, camo_olive, sizeof c);
                else memcpy(c, base, sizeof c);
            } else {
                mix3(c, base, second, m);
            }
            float shade = 0.3f + 0.85f * I / 255.0f;
            float *p = out->px + ((int64_t)(y + top) * n + x) * 4;
            for (int k = 0; k < 3; k++) {
                float val = fminf(255, c[k] * shade);
                p[k] = val * a + p[k] * (1 - a);
            }
            p[3] = a + p[3] * (1 - a);
        }
    }
    if (blur > 0 && synth_blur_x(out, blur)) return -1;
    return 0;
}

/* The shadow (blurred black silhouette) and the floor reflection of a sprite. */
static int build_shadow_mirror(const synth_canvas *s, synth_canvas *shadow, synth_canvas *mirror, int want_shadow,
                               int want_mirror)
{
    int64_t n = (int64_t)s->w * s->h;
    if (want_shadow) {
        if (synth_canvas_alloc(shadow, s->w, s->h, 4)) return -1;
        for (int64_t i = 0; i < n; i++) shadow->px[i * 4 + 3] = s->px[i * 4 + 3] * 0.55f;
        int br = s->w / 22 + 1;
        if (synth_blur_x(shadow, br) || synth_blur_y(shadow, br)) return -1;
    }
    if (want_mirror) {
        if (synth_canvas_alloc(mirror, s->w, s->h, 4)) return -1;
        for (int y = 0; y < s->h; y++) {
            float fade = 0.42f * (1 - smooth(0.0f, 0.55f, (float)y / (float)s->h));
            const float *src = s->px + (int64_t)(s->h - 1 - y) * s->w * 4;
            float *dst = mirror->px + (int64_t)y * s->w * 4;
            for (int x = 0; x < s->w * 4; x++) dst[x] = src[x] * fade;
        }
    }
    return 0;
}

static void add_item(vtag_synth_renderer *r, synth_rng *g, int sprite, float x, float y, float size, float flip,
                     int tag)
{
    if (r->n_items >= MAX_ITEMS) return;
    item *it = &r->items[r->n_items++];
    memset(it, 0, sizeof *it);
    it->sprite = sprite;
    it->x = x;
    it->y = y;
    it->size = size;
    it->flip = flip;
    it->tag = tag;
    int fast = has(r, T_MOTIONBLUR);
    it->ax = fast ? synth_range(g, 0.12f, 0.18f) : synth_range(g, 0.01f, 0.05f);
    it->ay = synth_range(g, 0.005f, 0.03f);
    it->fx = fast ? synth_range(g, 0.35f, 0.6f) : synth_range(g, 0.08f, 0.3f);
    it->fy = synth_range(g, 0.1f, 0.4f);
    it->px = synth_range(g, 0, 6.28f);
    it->py = synth_range(g, 0, 6.28f);
    it->rot0 = synth_range(g, -0.08f, 0.08f);
    it->sway = synth_range(g, 0.0f, 0.07f);
    it->sway_f = synth_range(g, 0.1f, 0.5f);
    it->sway_p = synth_range(g, 0, 6.28f);
    if (has(r, T_SPINNING)) { /* starting away from upright, so that the first frame shows it too */
        it->spin = (synth_uniform(g) < 0.5f ? -1 : 1) * synth_range(g, 0.9f, 2.2f);
        it->rot0 += synth_range(g, 0.6f, 5.7f);
    }
}

static int build_items(vtag_synth_renderer *r, const vtag_synth_source *src, vtag_error *err)
{
    const vtag_synth_catalog *cat = vtag_synth_get_catalog();
    int object = cat->class2_object[r->v.class2], second = synth_class2_second_object(r->v.class2);
    synth_rng g = synth_stream(r->v.seed, K_ITEMS);
    synth_rng pk = synth_stream(r->v.seed, K_PICTURE);
    synth_rng cr = synth_stream(r->v.seed, K_COLOUR);
    float base[3] = {128, 128, 128};
    int pattern = -1;
    for (int i = 0; i < r->v.n_tags; i++) {
        int t = r->v.tags[i].id;
        if (t < T_COLOUR_COUNT) synth_colour_rgb(t, base);
        if (t >= T_STRIPED && t <= T_TWOTONE) pattern = t;
    }
    for (int k = 0; k < 3; k++) base[k] = fminf(255, fmaxf(0, base[k] + synth_range(&cr, -8, 8)));
    int clothes = object == OBJ_TSHIRT || object == OBJ_TROUSER || object == OBJ_PULLOVER || object == OBJ_DRESS ||
                  object == OBJ_COAT || object == OBJ_SHIRT;
    int hanger = has(r, T_HANGER) && clothes;
    int blur_on = has(r, T_MOTIONBLUR);
    float S = r->S;

    uint8_t pic[VTAG_SYNTH_PICTURE * VTAG_SYNTH_PICTURE];
    /* Layout: sizes in units of S. */
    int copies = 1;
    float size = synth_range(&g, 0.52f, 0.68f);
    if (has(r, T_CLOSEUP)) size = synth_range(&g, 0.95f, 1.15f);
    if (has(r, T_PAIR)) size = 0.44f;
    if (has(r, T_COLLAGE)) size = 0.4f, copies = 4;
    if (second >= 0) size = 0.45f;
    float zmax = 1.45f;
    int res = (int)lroundf(size * S * zmax);
    res = res < 24 ? 24 : res > 360 ? 360 : res;
    int blur = blur_on ? res / 12 + 1 : 0;
    for (int i = 0; i < copies; i++) {
        vtag_synth_source_picture(src, object, r->v.split, synth_next(&pk), pic);
        if (build_sprite(&r->sprite[r->n_sprites], pic, res, base, pattern, r->v.seed + (uint64_t)i, hanger,
                         blur))
            return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        r->n_sprites++;
    }
    if (second >= 0) {
        float c2[3];
        synth_colour_rgb(synth_uniform(&cr) < 0.5f ? T_BLACK : T_BROWN, c2);
        vtag_synth_source_picture(src, second, r->v.split, synth_next(&pk), pic);
        if (build_sprite(&r->sprite[r->n_sprites], pic, res, c2, -1, 0, 0, blur))
            return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        r->n_sprites++;
    }
    int bag_sprite = -1;
    float bag_side = 1;
    synth_rng bag_rng = synth_stream(r->v.seed, K_TAG + T_HANDBAG);
    if (has(r, T_HANDBAG)) {
        synth_rng *t = &bag_rng;
        float c2[3];
        hsv(c2, synth_uniform(t), synth_range(t, 0.3f, 0.8f), synth_range(t, 0.3f, 0.85f));
        vtag_synth_source_picture(src, OBJ_BAG, r->v.split, synth_next(t), pic);
        bag_side = synth_uniform(t) < 0.5f ? -1.0f : 1.0f;
        int bres = (int)lroundf(0.3f * S * zmax);
        if (build_sprite(&r->sprite[r->n_sprites], pic, bres < 24 ? 24 : bres, c2, -1, 0, 0, 0))
            return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        bag_sprite = r->n_sprites++;
    }
    for (int i = 0; i < r->n_sprites; i++)
        if (build_shadow_mirror(&r->sprite[i], &r->shadow[i], &r->mirror[i], has(r, T_SHADOW), has(r, T_MIRROR)))
            return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    /* Items (positions in units of S from the world centre). */
    if (copies == 4) {
        for (int i = 0; i < 4; i++)
            add_item(r, &g, i, (i & 1) ? 0.23f : -0.23f, (i & 2) ? 0.23f : -0.23f, size, 1, -1);
    } else if (second >= 0) {
        add_item(r, &g, 0, -0.22f, 0.0f, size, 1, -1);
        add_item(r, &g, 1, 0.24f, 0.04f, size, 1, -1);
    } else if (has(r, T_PAIR)) {
        add_item(r, &g, 0, -0.24f, 0.0f, size, 1, -1);
        add_item(r, &g, 0, 0.24f, 0.0f, size, -1, -1);
    } else {
        add_item(r, &g, 0, synth_range(&g, -0.05f, 0.05f), synth_range(&g, -0.06f, 0.02f), size, 1, -1);
    }
    if (bag_sprite >= 0) {
        add_item(r, &bag_rng, bag_sprite, bag_side * 0.33f, 0.24f, 0.28f, 1, r->tag_at[T_HANDBAG]);
        r->items[r->n_items - 1].spin = 0;
        r->items[r->n_items - 1].ax = 0.01f;
    }
    return VTAG_OK;
}

/* ---- light ---- */

static int build_light(vtag_synth_renderer *r)
{
    int W = r->W, H = r->H;
    r->light = calloc((size_t)W * (size_t)H * 4, sizeof *r->light);
    if (!r->light) return -1;
    synth_rng g = synth_stream(r->v.seed, K_LIGHT);
    float wb[3];
    for (int k = 0; k < 3; k++) wb[k] = synth_range(&g, 0.97f, 1.03f);
    if (has(r, T_WARM)) wb[0] *= 1.12f, wb[1] *= 0.98f, wb[2] *= 0.78f;
    if (has(r, T_COOL)) wb[0] *= 0.82f, wb[1] *= 0.96f, wb[2] *= 1.15f;
    float gain = has(r, T_LOWLIGHT) ? 0.42f : 1.0f;
    float vig = synth_range(&g, 0.0f, 0.25f);
    float sx = (float)W / 2, sy = (float)H / 2 - 0.05f * r->S, sig = 0.33f * r->S;
    float rmax2 = (float)W * (float)W / 4 + (float)H * (float)H / 4;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float dx = (float)x + 0.5f - (float)W / 2, dy = (float)y + 0.5f - (float)H / 2;
            float m = gain * (1 - vig * (dx * dx + dy * dy) / rmax2);
            if (has(r, T_SPOTLIGHT)) {
                float ex = (float)x + 0.5f - sx, ey = (float)y + 0.5f - sy;
                m *= 0.25f + 0.95f * expf(-(ex * ex + ey * ey) / (2 * sig * sig));
            }
            float *p = r->light + ((int64_t)y * W + x) * 4;
            for (int k = 0; k < 3; k++) p[k] = m * wb[k];
        }
    r->noise = synth_range(&g, 1.5f, 4.0f) * (has(r, T_LOWLIGHT) ? 2.2f : 1.0f);
    r->noise_key = synth_hash(r->v.seed, K_NOISE);
    return 0;
}

/* ---- graphics ---- */

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
            hsv(p[i].rgb, synth_uniform(g), 0.8f, 1.0f);
        }
    }
}

int vtag_synth_renderer_open(vtag_synth_renderer **out, const vtag_synth_video *v, const vtag_synth_source *src,
                             vtag_error *err)
{
    *out = NULL;
    if (!v || !src) return vtag_fail(err, VTAG_ERR_ARG, "synth renderer: no plan or no picture source");
    if (v->width < 16 || v->height < 16 || v->width > 4096 || v->height > 4096 || v->frames <= 0 || v->fps <= 0 ||
        v->n_tags < 0 || v->n_tags > VTAG_SYNTH_MAX_TAGS || v->class2 < 0 ||
        v->class2 >= vtag_synth_get_catalog()->n_class2 || v->class1 < 0 ||
        v->class1 >= vtag_synth_get_catalog()->n_class1)
        return vtag_fail(err, VTAG_ERR_ARG, "synth renderer: video %lld: bad plan (%lldx%lld, %lld frames)",
                         (long long)v->index, (long long)v->width, (long long)v->height, (long long)v->frames);
    vtag_synth_renderer *r = calloc(1, sizeof *r);
    if (!r) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    r->v = *v;
    r->W = (int)v->width;
    r->H = (int)v->height;
    r->S = (float)(r->W < r->H ? r->W : r->H);
    r->ox = ((float)r->W - r->S) / 2;
    r->oy = ((float)r->H - r->S) / 2;
    for (int t = 0; t < T_COUNT; t++) r->tag_at[t] = -1;
    for (int i = 0; i < v->n_tags; i++)
        if (v->tags[i].id >= 0 && v->tags[i].id < T_COUNT) r->tag_at[v->tags[i].id] = i;
    int rc = VTAG_OK;

    /* Camera. */
    synth_rng g = synth_stream(v->seed, K_CAMERA);
    r->z0 = synth_range(&g, 1.0f, 1.12f);
    r->za = synth_range(&g, 0.0f, 0.06f);
    r->zf = synth_range(&g, 0.05f, 0.2f);
    r->zp = synth_range(&g, 0, 6.28f);
    r->zoom_in = synth_uniform(&g) < 0.3f ? synth_range(&g, 0.1f, 0.25f) : 0;
    r->pax = synth_range(&g, 0.01f, 0.08f);
    r->pay = synth_range(&g, 0.01f, 0.05f);
    r->pfx = synth_range(&g, 0.04f, 0.2f);
    r->pfy = synth_range(&g, 0.04f, 0.2f);
    r->ppx = synth_range(&g, 0, 6.28f);
    r->ppy = synth_range(&g, 0, 6.28f);
    r->shake = synth_uniform(&g) < 0.35f ? synth_range(&g, 0.006f, 0.015f) : 0;
    for (int i = 0; i < 4; i++) {
        r->shake_f[i] = synth_range(&g, 2.5f, 7.0f);
        r->shake_p[i] = synth_range(&g, 0, 6.28f);
    }
    float tilt = synth_range(&g, 0.14f, 0.24f) * (synth_uniform(&g) < 0.5f ? -1 : 1);
    r->roll0 = has(r, T_TILTED) ? tilt : 0;
    r->roll_sway = synth_range(&g, 0.0f, 0.02f);
    r->roll_f = synth_range(&g, 0.05f, 0.3f);
    r->roll_p = synth_range(&g, 0, 6.28f);

    /* The world canvas covers every view the camera takes (zoom >= 0.94). */
    float rmax = fabsf(r->roll0) + r->roll_sway + 0.02f, zmin = r->z0 * (1 - r->za);
    float hx = ((float)r->W / 2 * cosf(rmax) + (float)r->H / 2 * sinf(rmax)) / zmin + (r->pax + 0.03f) * r->S + 4;
    float hy = ((float)r->W / 2 * sinf(rmax) + (float)r->H / 2 * cosf(rmax)) / zmin + (r->pay + 0.03f) * r->S + 4;
    int bw = 2 * (int)ceilf(hx), bh = 2 * (int)ceilf(hy);
    if (synth_canvas_alloc(&r->bg, bw, bh, 4) || synth_canvas_alloc(&r->frame, r->W, r->H, 4)) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    r->bgcx = (float)bw / 2;
    r->bgcy = (float)bh / 2;
    {
        int style = synth_class1_background(v->class1);
        synth_rng bgr = synth_stream(v->seed, K_BACKGROUND);
        float pal[12] = {0};
        background_palette(style, &bgr, pal);
        uint64_t key = synth_next(&bgr);
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++) {
                float wx = ((float)x + 0.5f - r->bgcx) / r->S, wy = ((float)y + 0.5f - r->bgcy) / r->S;
                float *o = r->bg.px + ((int64_t)y * bw + x) * 4;
                background_pixel(style, pal, key, wx, wy, r->S, o);
                for (int k = 0; k < 3; k++) o[k] = o[k] < 0 ? 0 : o[k] > 255 ? 255 : o[k];
            }
    }
    draw_props(r);
    if ((rc = build_items(r, src, err))) goto fail;
    if (build_light(r)) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto fail;
    }

    /* Graphics: corners for logo, price tag, discount badge, QR code. */
    synth_rng lay = synth_stream(v->seed, K_LAYOUT);
    int perm[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
        int j = synth_int(&lay, 0, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(r->corner, perm, sizeof perm);
    {
        synth_rng t = synth_stream(v->seed, K_TAG + T_QR);
        for (int i = 0; i < 21 * 21; i++) r->qr[i] = synth_uniform(&t) < 0.5f;
    }
    {
        synth_rng t = synth_stream(v->seed, K_TAG + T_HAND);
        static const float tones[4][3] = {{241, 194, 167}, {224, 172, 130}, {176, 118, 82}, {110, 72, 50}};
        memcpy(r->skin, tones[synth_int(&t, 0, 3)], sizeof r->skin);
        r->hand_side = synth_uniform(&t) < 0.5f ? -1 : 1;
    }
    {
        synth_rng t = synth_stream(v->seed, K_TAG + T_PRICE);
        for (int i = 0; i < 3; i++) r->price_digits[i] = (float)synth_int(&t, i == 0 ? 1 : 0, 9);
    }
    {
        synth_rng t = synth_stream(v->seed, K_TAG + T_RAIN);
        r->n_rain = synth_int(&t, 50, 90);
        init_particles(r->rain, r->n_rain, &t, 0);
        t = synth_stream(v->seed, K_TAG + T_SNOW);
        r->n_snow = synth_int(&t, 60, 96);
        init_particles(r->snow, r->n_snow, &t, 1);
        t = synth_stream(v->seed, K_TAG + T_CONFETTI);
        r->n_confetti = synth_int(&t, 40, 80);
        init_particles(r->confetti, r->n_confetti, &t, 2);
    }
    *out = r;
    return VTAG_OK;
fail:
    vtag_synth_renderer_close(&r);
    return rc;
}

void vtag_synth_renderer_close(vtag_synth_renderer **rp)
{
    if (!rp || !*rp) return;
    vtag_synth_renderer *r = *rp;
    synth_canvas_free(&r->bg);
    synth_canvas_free(&r->frame);
    for (int i = 0; i < MAX_SPRITES; i++) {
        synth_canvas_free(&r->sprite[i]);
        synth_canvas_free(&r->shadow[i]);
        synth_canvas_free(&r->mirror[i]);
    }
    free(r->light);
    free(r);
    *rp = NULL;
}

/* ---- per frame ---- */

/* world → screen at time t. */
static synth_affine camera(const vtag_synth_renderer *r, float t)
{
    float S = r->S;
    float z = r->z0 * (1 + r->za * sinf(2 * PI_F * r->zf * t + r->zp));
    float dur = (float)r->v.frames / (float)r->v.fps;
    z *= 1 + r->zoom_in * t / dur;
    float px = r->pax * S * sinf(2 * PI_F * r->pfx * t + r->ppx);
    float py = r->pay * S * sinf(2 * PI_F * r->pfy * t + r->ppy);
    float roll = r->roll0 + r->roll_sway * sinf(2 * PI_F * r->roll_f * t + r->roll_p);
    if (r->shake > 0) {
        px += r->shake * S * (sinf(2 * PI_F * r->shake_f[0] * t + r->shake_p[0]) +
                              0.5f * sinf(2 * PI_F * r->shake_f[1] * t + r->shake_p[1]));
        py += r->shake * S * (sinf(2 * PI_F * r->shake_f[2] * t + r->shake_p[2]) +
                              0.5f * sinf(2 * PI_F * r->shake_f[3] * t + r->shake_p[3]));
        roll += 0.008f * sinf(2 * PI_F * r->shake_f[1] * t + r->shake_p[2]);
    }
    float c = cosf(roll) * z, s = sinf(roll) * z;
    float wx = r->bgcx + px, wy = r->bgcy + py;
    synth_affine a = {{c, -s, (float)r->W / 2 - (c * wx - s * wy), s, c, (float)r->H / 2 - (s * wx + c * wy)}};
    return a;
}

/* sprite → world for item it at time t. */
static synth_affine item_map(const vtag_synth_renderer *r, const item *it, const synth_canvas *sp, float t)
{
    float S = r->S;
    float x = r->bgcx + S * (it->x + it->ax * sinf(2 * PI_F * it->fx * t + it->px));
    float y = r->bgcy + S * (it->y + it->ay * sinf(2 * PI_F * it->fy * t + it->py));
    float th = it->rot0 + it->spin * t + it->sway * sinf(2 * PI_F * it->sway_f * t + it->sway_p);
    float k = it->size * S / (float)sp->w;
    float c = cosf(th) * k, s = sinf(th) * k, f = it->flip;
    float cx = (float)sp->w / 2, cy = (float)sp->h / 2;
    /* world = P + R(th) · diag(f k, k) · (s - centre) */
    synth_affine a = {{c * f, -s, 0, s * f, c, 0}};
    a.m[2] = x - (a.m[0] * cx + a.m[1] * cy);
    a.m[5] = y - (a.m[3] * cx + a.m[4] * cy);
    return a;
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

static void draw_graphics(vtag_synth_renderer *r, int64_t frame, float t)
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

int vtag_synth_renderer_draw(vtag_synth_renderer *r, int64_t frame, uint8_t *rgb, vtag_error *err)
{
    if (!r || !rgb || frame < 0 || frame >= r->v.frames)
        return vtag_fail(err, VTAG_ERR_ARG, "synth renderer: frame %lld out of range", (long long)frame);
    float t = (float)frame / (float)r->v.fps;
    synth_affine cam = camera(r, t);
    synth_draw_backdrop(&r->frame, &r->bg, synth_affine_inv(cam));
    /* Shadows and reflections under every item first, then the items. */
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < r->n_items; i++) {
            const item *it = &r->items[i];
            if (it->tag >= 0 && !vtag_synth_tag_visible(&r->v.tags[it->tag], frame)) continue;
            const synth_canvas *sp = &r->sprite[it->sprite];
            synth_affine m = synth_affine_mul(cam, item_map(r, it, sp, t));
            if (pass == 0 && r->shadow[it->sprite].px) {
                synth_affine off = {{1, 0, 0.05f * r->S, 0, 1, 0.07f * r->S}};
                synth_draw_sprite(&r->frame, &r->shadow[it->sprite],
                                  synth_affine_mul(cam, synth_affine_mul(off, item_map(r, it, sp, t))), 1);
            } else if (pass == 1 && r->mirror[it->sprite].px) {
                synth_affine down = {{1, 0, 0, 0, 1, (float)sp->h}};
                synth_draw_sprite(&r->frame, &r->mirror[it->sprite], synth_affine_mul(m, down), 1);
            } else if (pass == 2) {
                synth_draw_sprite(&r->frame, sp, m, 1);
            }
        }
    if (visible(r, T_HAND, frame)) draw_hand(r, frame);
    if (has(r, T_RAIN)) draw_particles(r, r->rain, r->n_rain, t, 0);
    if (visible(r, T_SNOW, frame)) draw_particles(r, r->snow, r->n_snow, t, 1);
    /* Light, flash, sensor noise; then the graphics, which are added after capture. */
    float *px = r->frame.px;
    int flash = visible(r, T_FLASH, frame);
    float amp = r->noise * 3.4641f / 65536.0f; /* uniform noise with std `noise` */
    for (int y = 0; y < r->H; y++) {
        /* xorshift64* along the row from a per-(frame, row) hash */
        uint64_t st = synth_hash(synth_hash(r->noise_key, (uint64_t)frame), (uint64_t)y) | 1;
        float *p = px + (int64_t)y * r->W * 4;
        const float *m = r->light + (int64_t)y * r->W * 4;
        for (int x = 0; x < r->W; x++, p += 4, m += 4) {
            st ^= st >> 12;
            st ^= st << 25;
            st ^= st >> 27;
            uint64_t h = st * 0x2545f4914f6cdd1dULL;
            float lum = ((float)(h & 0xffff) - 32768.0f) * amp;
            float cr = ((float)(h >> 16 & 0xffff) - 32768.0f) * amp * 0.35f;
            float cb = ((float)(h >> 32 & 0xffff) - 32768.0f) * amp * 0.35f;
            float v0 = p[0] * m[0], v1 = p[1] * m[1], v2 = p[2] * m[2];
            if (flash) {
                v0 += (255 - fminf(v0, 255)) * 0.55f;
                v1 += (255 - fminf(v1, 255)) * 0.55f;
                v2 += (255 - fminf(v2, 255)) * 0.55f;
            }
            p[0] = v0 + lum + cr;
            p[1] = v1 + lum;
            p[2] = v2 + lum + cb;
        }
    }
    draw_graphics(r, frame, t);
    int64_t n = (int64_t)r->W * r->H;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            float v = px[i * 4 + k];
            rgb[i * 3 + k] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : (int)(v + 0.5f));
        }
    return VTAG_OK;
}

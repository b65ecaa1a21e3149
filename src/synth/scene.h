/* The renderer's state, shared by the files that build and draw a scene:
 * scene.c (camera, light, frames), background.c, products.c, graphics.c. */
#ifndef VTAG_SYNTH_SCENE_H
#define VTAG_SYNTH_SCENE_H

#include <math.h>
#include <stdint.h>

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

static inline int has(const vtag_synth_renderer *r, int tag) { return r->tag_at[tag] >= 0; }

static inline int visible(const vtag_synth_renderer *r, int tag, int64_t frame)
{
    return r->tag_at[tag] >= 0 && vtag_synth_tag_visible(&r->v.tags[r->tag_at[tag]], frame);
}

static inline float smooth(float e0, float e1, float x)
{
    float t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

static inline void mix3(float *out, const float *a, const float *b, float t)
{
    for (int k = 0; k < 3; k++) out[k] = a[k] + (b[k] - a[k]) * t;
}

static inline void set3(float *out, float r, float g, float b)
{
    out[0] = r;
    out[1] = g;
    out[2] = b;
}

/* A colour from HSV (h in turns), 0..255. */
void synth_hsv(float *out, float h, float s, float v);

static inline float cell_hash(uint64_t key, int64_t a, int64_t b) /* [0, 1) */
{
    return synth_u01(synth_hash(synth_hash(key, (uint64_t)a), (uint64_t)b));
}

/* background.c: the world canvas (r->bg allocated, r->bgcx/bgcy set) in the
 * class1's style, then the props standing in it. */
void synth_scene_background(vtag_synth_renderer *r);
/* products.c: sprites of the product(s) and the items that move them. */
int synth_scene_products(vtag_synth_renderer *r, const vtag_synth_source *src, vtag_error *err);
/* sprite → world for item it at time t. */
synth_affine synth_item_map(const vtag_synth_renderer *r, const item *it, const synth_canvas *sp, float t);
/* graphics.c: per-video choices of the graphics (corners, QR code, skin,
 * particles); per frame, the things in the scene (hand, rain, snow) and the
 * graphics laid over the picture after capture. */
void synth_scene_graphics_init(vtag_synth_renderer *r);
void synth_scene_extras(vtag_synth_renderer *r, int64_t frame, float t);
void synth_scene_graphics(vtag_synth_renderer *r, int64_t frame, float t);

#endif

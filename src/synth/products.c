/* Product sprites: a 28×28 picture upscaled, coloured and patterned per the
 * tags (with hanger, motion blur, shadow, reflection), and the items that
 * place and move them in the world (single, pair, collage, two products). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/scene.h"

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

int synth_scene_products(vtag_synth_renderer *r, const vtag_synth_source *src, vtag_error *err)
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
        synth_hsv(c2, synth_uniform(t), synth_range(t, 0.3f, 0.8f), synth_range(t, 0.3f, 0.85f));
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

synth_affine synth_item_map(const vtag_synth_renderer *r, const item *it, const synth_canvas *sp, float t)
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

/* One video's scene: built once from the plan (background, products,
 * light), then any frame drawn on demand: camera, products, light, sensor
 * noise, graphics. A frame is a function of the plan and its number only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth/scene.h"

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
    synth_scene_background(r);
    if ((rc = synth_scene_products(r, src, err))) goto fail;
    if (build_light(r)) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    synth_scene_graphics_init(r);
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
            synth_affine m = synth_affine_mul(cam, synth_item_map(r, it, sp, t));
            if (pass == 0 && r->shadow[it->sprite].px) {
                synth_affine off = {{1, 0, 0.05f * r->S, 0, 1, 0.07f * r->S}};
                synth_draw_sprite(&r->frame, &r->shadow[it->sprite],
                                  synth_affine_mul(cam, synth_affine_mul(off, synth_item_map(r, it, sp, t))), 1);
            } else if (pass == 1 && r->mirror[it->sprite].px) {
                synth_affine down = {{1, 0, 0, 0, 1, (float)sp->h}};
                synth_draw_sprite(&r->frame, &r->mirror[it->sprite], synth_affine_mul(m, down), 1);
            } else if (pass == 2) {
                synth_draw_sprite(&r->frame, sp, m, 1);
            }
        }
    synth_scene_extras(r, frame, t);
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
    synth_scene_graphics(r, frame, t);
    int64_t n = (int64_t)r->W * r->H;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            float v = px[i * 4 + k];
            rgb[i * 3 + k] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : (int)(v + 0.5f));
        }
    return VTAG_OK;
}

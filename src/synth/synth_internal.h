/* Private pieces of the synth module: the catalogue's ids, drawing
 * primitives shared by the scene and the procedural shapes, and the encoder. */
#ifndef VTAG_SYNTH_INTERNAL_H
#define VTAG_SYNTH_INTERNAL_H

#include <stdint.h>

#include "vtag/synth.h"

/* ---- catalogue ids (the order of the tables in catalog.c) ---- */
enum synth_object {
    OBJ_TSHIRT, OBJ_TROUSER, OBJ_PULLOVER, OBJ_DRESS, OBJ_COAT,
    OBJ_SANDAL, OBJ_SHIRT, OBJ_SNEAKER, OBJ_BAG, OBJ_BOOT,
    OBJ_COUNT
};

enum synth_background {
    BG_STUDIO, BG_FLOOR, BG_STREET, BG_SHELF, BG_SALE, BG_TABLE, BG_RUNWAY, BG_KIDS,
    BG_COUNT
};

enum synth_tag {
    /* colour of the product: exactly one per video */
    T_BLACK, T_WHITE, T_GREY, T_BEIGE, T_BROWN, T_RED, T_BURGUNDY, T_ORANGE,
    T_YELLOW, T_GREEN, T_OLIVE, T_BLUE, T_NAVY, T_PINK, T_PURPLE,
    /* pattern: at most one */
    T_STRIPED, T_CHECKED, T_POLKA, T_CAMO, T_TWOTONE,
    /* presentation: at most one */
    T_PAIR, T_CLOSEUP, T_COLLAGE,
    /* camera and motion */
    T_TILTED, T_SPINNING, T_MOTIONBLUR,
    /* light: spotlight / low light at most one, warm / cool at most one */
    T_SPOTLIGHT, T_LOWLIGHT, T_WARM, T_COOL,
    /* props in the scene */
    T_MIRROR, T_SHADOW, T_HANGER, T_SHOEBOX, T_PEDESTAL, T_PLANT,
    T_RAIN, T_LOGO,
    /* partial: on screen in 20–60% of the frames */
    T_FLASH, T_SNOW, T_SUBTITLES, T_PRICE, T_DISCOUNT, T_COUNTDOWN, T_QR,
    T_NEWARRIVAL, T_FREESHIP, T_HAND, T_CONFETTI, T_HANDBAG,
    T_COUNT
};
#define T_COLOUR_FIRST T_BLACK
#define T_COLOUR_COUNT (T_PURPLE + 1)
#define T_PARTIAL_FIRST T_FLASH

/* The background style of each class1 and the second object (or -1) of
 * each class2, for the renderer. */
int synth_class1_background(int class1);
int synth_class2_second_object(int class2);
/* RGB (0..255) of a colour tag. */
void synth_colour_rgb(int colour_tag, float rgb[3]);

/* ---- random numbers: counter-based streams keyed by purpose ---- */
uint64_t synth_hash(uint64_t a, uint64_t b);
static inline float synth_u01(uint64_t h) { return (float)(h >> 40) * (1.0f / 16777216.0f); }
typedef struct synth_rng {
    uint64_t key, n;
} synth_rng;
static inline synth_rng synth_stream(uint64_t seed, uint64_t purpose) { return (synth_rng){synth_hash(seed, purpose), 0}; }
static inline uint64_t synth_next(synth_rng *r) { return synth_hash(r->key, ++r->n); }
static inline float synth_uniform(synth_rng *r) { return synth_u01(synth_next(r)); }
static inline float synth_range(synth_rng *r, float lo, float hi) { return lo + (hi - lo) * synth_uniform(r); }
static inline int synth_int(synth_rng *r, int lo, int hi) /* [lo, hi] */
{
    return lo + (int)(synth_next(r) % (uint64_t)(hi - lo + 1));
}

/* ---- drawing on float canvases (0..255), anti-aliased by coverage ----
 * ch 1 (grey), 3 (RGB) or 4 (premultiplied RGBA: alpha 0..1 in px[3]). */
typedef struct synth_canvas {
    float *px; /* [h, w, ch] */
    int w, h, ch;
} synth_canvas;

int synth_canvas_alloc(synth_canvas *c, int w, int h, int ch);
void synth_canvas_free(synth_canvas *c);
void synth_canvas_fill(synth_canvas *c, const float rgb[3], float alpha);
/* Blends colour rgb at coverage*alpha into pixel i. */
void synth_blend(synth_canvas *c, int64_t i, const float rgb[3], float a);
/* Convex polygon (x, y pairs, either winding), a capsule (segment with
 * radius: lines, dots), an ellipse rotated by angle (radians). */
void synth_poly(synth_canvas *c, const float *xy, int n, const float rgb[3], float alpha);
void synth_rect(synth_canvas *c, float x0, float y0, float x1, float y1, const float rgb[3], float alpha);
void synth_capsule(synth_canvas *c, float ax, float ay, float bx, float by, float r, const float rgb[3],
                   float alpha);
void synth_ellipse(synth_canvas *c, float cx, float cy, float rx, float ry, float angle, const float rgb[3],
                   float alpha);
/* Horizontal box blur of radius r (all channels), in place. */
int synth_blur_x(synth_canvas *c, int r);
int synth_blur_y(synth_canvas *c, int r);

/* 2×3 affine maps: (x, y) → (m0 x + m1 y + m2, m3 x + m4 y + m5). */
typedef struct synth_affine {
    float m[6];
} synth_affine;
synth_affine synth_affine_mul(synth_affine a, synth_affine b); /* a ∘ b */
synth_affine synth_affine_inv(synth_affine a);
/* Draws an RGBA sprite onto a 4-channel canvas (its fourth channel is
 * blended like the others); to_dst maps sprite pixel coords (pixel centres
 * at i + 0.5) to canvas coords. Bilinear, transparent outside. */
void synth_draw_sprite(synth_canvas *dst, const synth_canvas *sprite, synth_affine to_dst, float opacity);
/* Fills a whole 4-channel canvas from a 4-channel source through dst → src
 * coords, bilinear, clamped at the source's edges. */
void synth_draw_backdrop(synth_canvas *dst, const synth_canvas *src, synth_affine dst_to_src);

/* ---- pictures (source.c, shapes.c) ---- */
/* Which Fashion-MNIST picture vtag_synth_source_picture takes: set 0 (train
 * files) or 1 (t10k files) and the item index; -1 for a shapes source. */
int synth_source_pick(const vtag_synth_source *s, int object, vtag_data_split split, uint64_t key, int *set,
                      int64_t *index);
void synth_shape_draw(int object, uint64_t key, uint8_t *out /* [28, 28] */);

/* ---- the encoder (encode.c) ---- */
typedef struct synth_encoder synth_encoder;
/* Opens an MP4 writer to a temporary file next to path. */
int synth_encoder_open(synth_encoder **out, const char *path, int64_t width, int64_t height, int fps,
                       vtag_synth_codec codec, vtag_error *err);
const char *synth_encoder_name(const synth_encoder *e);
int synth_encoder_write(synth_encoder *e, const uint8_t *rgb, vtag_error *err);
/* Flushes, writes the trailer, renames the file into place; frees e. */
int synth_encoder_finish(synth_encoder **e, int64_t *bytes, vtag_error *err);
/* Frees e and removes the temporary file (after an error). */
void synth_encoder_abort(synth_encoder **e);

#endif

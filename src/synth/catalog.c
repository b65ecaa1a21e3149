/* The synthetic catalogue's label space (class1 → class2 → tags, with their
 * frequencies and correlations) and the per-video plan drawn from it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "synth/synth_internal.h"

/* ---- class1: departments, each drawn as its own background (same order as
 * enum synth_background). Weights give the long tail. ---- */
static const char *const class1_names[] = {"apparel", "footwear", "street style", "bags",
                                           "flash sale", "unboxing", "runway", "kids"};
static const float class1_weight[] = {0.34f, 0.18f, 0.13f, 0.09f, 0.09f, 0.07f, 0.06f, 0.04f};
#define N_CLASS1 ((int)(sizeof class1_names / sizeof class1_names[0]))

/* A tag with its probability, overriding the base rate. */
typedef struct affinity {
    int tag;
    float p;
} affinity;

#define MAX_AFF 16
static const affinity class1_aff[N_CLASS1][MAX_AFF] = {
    /* apparel */
    {{T_HANGER, .45f}, {T_MIRROR, .12f}, {T_SHADOW, .25f}, {T_PLANT, .10f}, {T_LOGO, .25f}, {T_SUBTITLES, .20f},
     {T_PRICE, .15f}, {T_NEWARRIVAL, .15f}, {T_CLOSEUP, .12f}, {T_SPINNING, .08f}, {T_WARM, .12f},
     {T_COOL, .10f}, {-1, 0}},
    /* footwear */
    {{T_PAIR, .50f}, {T_SHOEBOX, .25f}, {T_PEDESTAL, .30f}, {T_SHADOW, .30f}, {T_MIRROR, .20f},
     {T_SPINNING, .20f}, {T_CLOSEUP, .15f}, {T_PRICE, .20f}, {T_LOGO, .30f}, {T_HAND, .12f},
     {T_MOTIONBLUR, .08f}, {-1, 0}},
    /* street style */
    {{T_RAIN, .18f}, {T_SNOW, .10f}, {T_MOTIONBLUR, .20f}, {T_TILTED, .25f}, {T_PLANT, .25f},
     {T_HANDBAG, .30f}, {T_LOWLIGHT, .12f}, {T_SUBTITLES, .30f}, {T_LOGO, .15f}, {T_WARM, .20f},
     {T_SHADOW, .20f}, {-1, 0}},
    /* bags */
    {{T_CLOSEUP, .30f}, {T_PEDESTAL, .30f}, {T_SHADOW, .30f}, {T_HAND, .30f}, {T_PRICE, .25f}, {T_LOGO, .35f},
     {T_MIRROR, .10f}, {T_COLLAGE, .08f}, {-1, 0}},
    /* flash sale */
    {{T_DISCOUNT, .80f}, {T_COUNTDOWN, .55f}, {T_PRICE, .60f}, {T_FREESHIP, .45f}, {T_CONFETTI, .40f},
     {T_FLASH, .25f}, {T_COLLAGE, .25f}, {T_QR, .30f}, {T_SPOTLIGHT, .10f}, {-1, 0}},
    /* unboxing */
    {{T_HAND, .70f}, {T_SHOEBOX, .50f}, {T_SUBTITLES, .40f}, {T_QR, .15f}, {T_LOWLIGHT, .15f}, {T_WARM, .25f},
     {T_CLOSEUP, .30f}, {T_TILTED, .20f}, {T_PAIR, .15f}, {-1, 0}},
    /* runway */
    {{T_SPOTLIGHT, .60f}, {T_FLASH, .50f}, {T_LOWLIGHT, .25f}, {T_MOTIONBLUR, .25f}, {T_MIRROR, .30f},
     {T_SUBTITLES, .15f}, {T_LOGO, .20f}, {-1, 0}},
    /* kids */
    {{T_COLLAGE, .35f}, {T_CONFETTI, .45f}, {T_NEWARRIVAL, .30f}, {T_LOGO, .20f}, {T_PAIR, .15f}, {T_PLANT, .10f},
     {T_SUBTITLES, .15f}, {-1, 0}},
};

/* Colour palettes: which colours a product line comes in. */
enum { P_NEUTRAL, P_DARK, P_BRIGHT, P_DENIM, P_EARTH, P_EVENING, P_SNEAKER, P_SUMMER, P_KIDS, P_COUNT };
static const affinity palettes[P_COUNT][10] = {
    [P_NEUTRAL] = {{T_BLACK, 25}, {T_WHITE, 20}, {T_GREY, 18}, {T_BEIGE, 12}, {T_NAVY, 12}, {T_BROWN, 8},
                   {T_BLUE, 5}, {-1, 0}},
    [P_DARK] = {{T_BLACK, 28}, {T_NAVY, 20}, {T_GREY, 14}, {T_BROWN, 10}, {T_BURGUNDY, 10}, {T_OLIVE, 10},
                {T_GREEN, 4}, {T_BEIGE, 4}, {-1, 0}},
    [P_BRIGHT] = {{T_RED, 18}, {T_BLUE, 15}, {T_WHITE, 12}, {T_YELLOW, 11}, {T_GREEN, 10}, {T_PINK, 10},
                  {T_ORANGE, 9}, {T_PURPLE, 8}, {T_BLACK, 7}, {-1, 0}},
    [P_DENIM] = {{T_BLUE, 38}, {T_NAVY, 24}, {T_BLACK, 16}, {T_GREY, 10}, {T_BEIGE, 8}, {T_BROWN, 4}, {-1, 0}},
    [P_EARTH] = {{T_BROWN, 30}, {T_BLACK, 22}, {T_BEIGE, 20}, {T_OLIVE, 10}, {T_BURGUNDY, 10}, {T_GREY, 8},
                 {-1, 0}},
    [P_EVENING] = {{T_BLACK, 26}, {T_RED, 18}, {T_BURGUNDY, 14}, {T_NAVY, 10}, {T_WHITE, 10}, {T_PURPLE, 10},
                   {T_PINK, 8}, {T_GREEN, 4}, {-1, 0}},
    [P_SNEAKER] = {{T_WHITE, 34}, {T_BLACK, 20}, {T_GREY, 10}, {T_RED, 9}, {T_BLUE, 9}, {T_NAVY, 6},
                   {T_GREEN, 4}, {T_PINK, 4}, {T_YELLOW, 4}, {-1, 0}},
    [P_SUMMER] = {{T_BEIGE, 24}, {T_BROWN, 20}, {T_BLACK, 14}, {T_WHITE, 12}, {T_PINK, 12}, {T_ORANGE, 8},
                  {T_YELLOW, 6}, {T_BLUE, 4}, {-1, 0}},
    [P_KIDS] = {{T_PINK, 20}, {T_YELLOW, 16}, {T_BLUE, 14}, {T_GREEN, 12}, {T_RED, 12}, {T_ORANGE, 10},
                {T_PURPLE, 10}, {T_WHITE, 6}, {-1, 0}},
};

/* ---- class2: product lines, each under one class1. The catalogue's
 * columns (name, parent, product) and the drawing rules below are indexed
 * alike. ---- */
static const char *const class2_names[] = {
    "t-shirts", "trousers", "pullovers", "dresses", "shirts", "coats",                  /* apparel */
    "sneakers", "ankle boots", "sandals",                                               /* footwear */
    "street coats", "street dresses", "street sneakers",                                /* street style */
    "handbags", "bag & boots",                                                          /* bags */
    "sale sneakers", "sale t-shirts", "sale bags",                                      /* flash sale */
    "sneaker unboxing", "boot unboxing", "sandal unboxing",                             /* unboxing */
    "runway dresses", "runway coats",                                                   /* runway */
    "kids t-shirts", "kids sandals",                                                    /* kids */
};
#define N_CLASS2 ((int)(sizeof class2_names / sizeof class2_names[0]))
static const int class2_parent[N_CLASS2] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 7};
static const int class2_object[N_CLASS2] = {
    OBJ_TSHIRT, OBJ_TROUSER, OBJ_PULLOVER, OBJ_DRESS, OBJ_SHIRT, OBJ_COAT,
    OBJ_SNEAKER, OBJ_BOOT, OBJ_SANDAL,
    OBJ_COAT, OBJ_DRESS, OBJ_SNEAKER,
    OBJ_BAG, OBJ_BAG,
    OBJ_SNEAKER, OBJ_TSHIRT, OBJ_BAG,
    OBJ_SNEAKER, OBJ_BOOT, OBJ_SANDAL,
    OBJ_DRESS, OBJ_COAT,
    OBJ_TSHIRT, OBJ_SANDAL};

typedef struct class2_def {
    float weight; /* within the parent */
    int second;   /* a second product's class, -1 when there is one */
    int palette;
    affinity aff[8];
} class2_def;

static const class2_def class2_defs[N_CLASS2] = {
    /* apparel */
    {.28f, -1, P_BRIGHT, {{T_STRIPED, .25f}, {T_TWOTONE, .10f}, {T_POLKA, .05f}, {-1, 0}}},
    {.20f, -1, P_DENIM, {{T_CHECKED, .08f}, {T_CAMO, .08f}, {T_STRIPED, .05f}, {-1, 0}}},
    {.16f, -1, P_DARK, {{T_STRIPED, .20f}, {T_CHECKED, .10f}, {-1, 0}}},
    {.14f, -1, P_EVENING, {{T_POLKA, .30f}, {T_TWOTONE, .10f}, {T_STRIPED, .10f}, {-1, 0}}},
    {.12f, -1, P_NEUTRAL, {{T_CHECKED, .45f}, {T_STRIPED, .20f}, {-1, 0}}},
    {.10f, -1, P_EARTH, {{T_TWOTONE, .15f}, {T_CHECKED, .10f}, {T_CAMO, .04f}, {-1, 0}}},
    /* footwear */
    {.50f, -1, P_SNEAKER, {{T_TWOTONE, .30f}, {T_STRIPED, .05f}, {-1, 0}}},
    {.30f, -1, P_EARTH, {{T_TWOTONE, .10f}, {-1, 0}}},
    {.20f, -1, P_SUMMER, {{T_TWOTONE, .08f}, {T_STRIPED, .05f}, {-1, 0}}},
    /* street style */
    {.40f, -1, P_DARK, {{T_CAMO, .25f}, {T_CHECKED, .10f}, {-1, 0}}},
    {.35f, -1, P_BRIGHT, {{T_POLKA, .20f}, {T_STRIPED, .15f}, {-1, 0}}},
    {.25f, -1, P_SNEAKER, {{T_TWOTONE, .30f}, {-1, 0}}},
    /* bags */
    {.70f, -1, P_EARTH, {{T_TWOTONE, .25f}, {T_CHECKED, .10f}, {T_POLKA, .05f}, {-1, 0}}},
    {.30f, OBJ_BOOT, P_EARTH, {{T_TWOTONE, .20f}, {-1, 0}}},
    /* flash sale */
    {.45f, -1, P_SNEAKER, {{T_TWOTONE, .25f}, {-1, 0}}},
    {.35f, -1, P_BRIGHT, {{T_STRIPED, .30f}, {T_POLKA, .10f}, {-1, 0}}},
    {.20f, -1, P_NEUTRAL, {{T_TWOTONE, .20f}, {-1, 0}}},
    /* unboxing */
    {.60f, -1, P_SNEAKER, {{T_TWOTONE, .30f}, {-1, 0}}},
    {.25f, -1, P_EARTH, {{T_TWOTONE, .10f}, {-1, 0}}},
    {.15f, -1, P_SUMMER, {{-1, 0}}},
    /* runway */
    {.55f, -1, P_EVENING, {{T_POLKA, .12f}, {T_TWOTONE, .15f}, {-1, 0}}},
    {.45f, -1, P_DARK, {{T_TWOTONE, .20f}, {T_CHECKED, .10f}, {-1, 0}}},
    /* kids */
    {.60f, -1, P_KIDS, {{T_STRIPED, .35f}, {T_POLKA, .30f}, {-1, 0}}},
    {.40f, -1, P_KIDS, {{T_POLKA, .20f}, {-1, 0}}},
};

/* ---- tags ---- */
static const char *const tag_names[T_COUNT] = {
    "black", "white", "grey", "beige", "brown", "red", "burgundy", "orange", "yellow", "green", "olive", "blue",
    "navy", "pink", "purple",
    "striped", "checked", "polka dot", "camouflage", "two-tone",
    "pair", "close-up", "collage",
    "tilted", "spinning", "motion blur",
    "spotlight", "low light", "warm light", "cool light",
    "mirror", "shadow", "hanger", "shoe box", "pedestal", "plant", "rain", "logo",
    "flash", "snow", "subtitles", "price tag", "discount badge", "countdown", "qr code", "new arrival",
    "free shipping", "hand", "confetti", "with handbag",
};

/* Base rates of the tags no class overrides (colours come from palettes). */
static const float tag_base[T_COUNT] = {
    [T_STRIPED] = .06f, [T_CHECKED] = .03f, [T_POLKA] = .02f, [T_CAMO] = .015f, [T_TWOTONE] = .05f,
    [T_PAIR] = .04f, [T_CLOSEUP] = .08f, [T_COLLAGE] = .02f,
    [T_TILTED] = .06f, [T_SPINNING] = .05f, [T_MOTIONBLUR] = .04f,
    [T_SPOTLIGHT] = .05f, [T_LOWLIGHT] = .04f, [T_WARM] = .08f, [T_COOL] = .07f,
    [T_MIRROR] = .04f, [T_SHADOW] = .12f, [T_PEDESTAL] = .03f, [T_PLANT] = .04f, [T_LOGO] = .10f,
    [T_FLASH] = .02f, [T_SUBTITLES] = .10f, [T_PRICE] = .06f, [T_DISCOUNT] = .03f, [T_COUNTDOWN] = .01f,
    [T_QR] = .03f, [T_NEWARRIVAL] = .04f, [T_FREESHIP] = .02f, [T_HAND] = .05f, [T_CONFETTI] = .01f,
    [T_HANDBAG] = .02f,
};

static const unsigned char tag_partial[T_COUNT] = {
    [T_FLASH] = 1, [T_SNOW] = 1, [T_SUBTITLES] = 1, [T_PRICE] = 1, [T_DISCOUNT] = 1, [T_COUNTDOWN] = 1,
    [T_QR] = 1, [T_NEWARRIVAL] = 1, [T_FREESHIP] = 1, [T_HAND] = 1, [T_CONFETTI] = 1, [T_HANDBAG] = 1,
};

/* How many separate spans a partial tag is shown in: [min, max]. */
static const unsigned char span_range[T_COUNT][2] = {
    [T_FLASH] = {3, 8}, [T_SNOW] = {1, 2}, [T_SUBTITLES] = {2, 5}, [T_PRICE] = {1, 2}, [T_DISCOUNT] = {1, 3},
    [T_COUNTDOWN] = {1, 1}, [T_QR] = {1, 2}, [T_NEWARRIVAL] = {1, 1}, [T_FREESHIP] = {1, 2}, [T_HAND] = {1, 2},
    [T_CONFETTI] = {1, 3}, [T_HANDBAG] = {1, 2},
};

static const char *const object_names[OBJ_COUNT] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

static const float colour_rgb[T_COLOUR_COUNT][3] = {
    [T_BLACK] = {32, 32, 35},    [T_WHITE] = {236, 236, 230}, [T_GREY] = {130, 130, 134},
    [T_BEIGE] = {214, 190, 148}, [T_BROWN] = {118, 72, 38},   [T_RED] = {210, 32, 36},
    [T_BURGUNDY] = {118, 22, 44}, [T_ORANGE] = {240, 128, 22}, [T_YELLOW] = {242, 208, 40},
    [T_GREEN] = {40, 150, 62},   [T_OLIVE] = {108, 112, 40},  [T_BLUE] = {42, 102, 212},
    [T_NAVY] = {26, 36, 92},     [T_PINK] = {240, 132, 182},  [T_PURPLE] = {122, 52, 162},
};

static const vtag_synth_catalog catalog = {
    .n_class1 = N_CLASS1,
    .n_class2 = N_CLASS2,
    .n_tags = T_COUNT,
    .class1 = class1_names,
    .class2 = class2_names,
    .class2_parent = class2_parent,
    .class2_object = class2_object,
    .tags = tag_names,
    .partial = tag_partial,
    .objects = object_names,
};

const vtag_synth_catalog *vtag_synth_get_catalog(void) { return &catalog; }

int synth_class1_background(int class1) { return class1; }
int synth_class2_second_object(int class2) { return class2_defs[class2].second; }

void synth_colour_rgb(int colour_tag, float rgb[3])
{
    for (int k = 0; k < 3; k++) rgb[k] = colour_rgb[colour_tag][k];
}

uint64_t synth_hash(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ 0x243f6a8885a308d3ULL;
    z += (b + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    z = (z ^ (z >> 32)) * 0xd6e8feb86659fd93ULL;
    return z ^ (z >> 32);
}

/* ---- the plan ---- */

static int pick_weighted(synth_rng *r, const float *w, int n)
{
    float total = 0;
    for (int i = 0; i < n; i++) total += w[i];
    float u = synth_uniform(r) * total;
    for (int i = 0; i < n; i++) {
        if (u < w[i]) return i;
        u -= w[i];
    }
    return n - 1;
}

static float tag_probability(int class1, int class2, int tag)
{
    for (const affinity *a = class2_defs[class2].aff; a->tag >= 0; a++)
        if (a->tag == tag) return a->p;
    for (const affinity *a = class1_aff[class1]; a->tag >= 0; a++)
        if (a->tag == tag) return a->p;
    return tag_base[tag];
}

/* Whether a tag can show on this product at all. */
static int tag_applies(int tag, int object, int second)
{
    int clothes = object == OBJ_TSHIRT || object == OBJ_TROUSER || object == OBJ_PULLOVER || object == OBJ_DRESS ||
                  object == OBJ_COAT || object == OBJ_SHIRT;
    int shoes = object == OBJ_SANDAL || object == OBJ_SNEAKER || object == OBJ_BOOT;
    switch (tag) {
    case T_HANGER: return clothes;
    case T_SHOEBOX: return shoes;
    case T_PEDESTAL: return shoes || object == OBJ_BAG;
    case T_HANDBAG: return object != OBJ_BAG;
    case T_PAIR:
    case T_CLOSEUP:
    case T_COLLAGE: return second < 0;
    default: return 1;
    }
}

/* Splits `total` into `count` parts, part i at least lo[i], at random. */
static void compose(synth_rng *r, int64_t total, int count, const int64_t *lo, int64_t *out)
{
    double w[VTAG_SYNTH_MAX_SPANS + 1], sum = 0;
    int64_t rest = total;
    for (int i = 0; i < count; i++) {
        rest -= lo[i];
        w[i] = -log(1.0 - (double)synth_uniform(r)); /* uniform on the simplex */
        sum += w[i];
    }
    int64_t given = 0;
    for (int i = 0; i < count; i++) {
        out[i] = lo[i] + (int64_t)floor((double)rest * w[i] / sum);
        given += out[i] - lo[i];
    }
    for (int i = 0; given < rest; i = (i + 1) % count, given++) out[i]++;
}

static void plan_spans(synth_rng *r, int64_t n, vtag_synth_tag *t)
{
    int64_t kmin = (int64_t)ceil(VTAG_SYNTH_PARTIAL_MIN * (double)n);
    int64_t kmax = (int64_t)floor(VTAG_SYNTH_PARTIAL_MAX * (double)n);
    int64_t k = (int64_t)llround(synth_range(r, (float)VTAG_SYNTH_PARTIAL_MIN, (float)VTAG_SYNTH_PARTIAL_MAX) *
                                 (double)n);
    if (k < kmin) k = kmin;
    if (k > kmax) k = kmax;
    int m = synth_int(r, span_range[t->id][0], span_range[t->id][1]);
    if (m > k) m = (int)k;
    int64_t lo[VTAG_SYNTH_MAX_SPANS + 1], len[VTAG_SYNTH_MAX_SPANS], gap[VTAG_SYNTH_MAX_SPANS + 1];
    for (int i = 0; i < m; i++) lo[i] = 1;
    compose(r, k, m, lo, len);
    for (int i = 0; i <= m; i++) lo[i] = (i == 0 || i == m) ? 0 : 1;
    compose(r, n - k, m + 1, lo, gap);
    int64_t at = 0;
    for (int i = 0; i < m; i++) {
        at += gap[i];
        t->spans[i].begin = at;
        at += len[i];
        t->spans[i].end = at;
    }
    t->n_spans = m;
    t->visible_frames = k;
}

void vtag_synth_plan(uint64_t seed, int64_t index, vtag_synth_video *v)
{
    memset(v, 0, sizeof *v);
    v->index = index;
    v->seed = synth_hash(seed, (uint64_t)index);
    synth_rng r = synth_stream(v->seed, 0x504c414e /* "PLAN" */);

    float u = synth_uniform(&r);
    v->split = u < 0.70f ? VTAG_DATA_SPLIT_TRAIN : u < 0.85f ? VTAG_DATA_SPLIT_VAL : VTAG_DATA_SPLIT_TEST;

    /* Format: mostly short, small and slow, with a tail up to the limits. */
    static const float fps_w[] = {.40f, .22f, .18f, .10f, .05f, .05f};
    static const int fps_v[] = {10, 12, 15, 20, 24, 25};
    v->fps = fps_v[pick_weighted(&r, fps_w, 6)];
    float s = synth_uniform(&r);
    double seconds = VTAG_SYNTH_MIN_SECONDS + (VTAG_SYNTH_MAX_SECONDS - VTAG_SYNTH_MIN_SECONDS) * (double)(s * s * s * s * s);
    v->frames = (int64_t)llround(seconds * v->fps);
    static const float aspect_w[] = {.35f, .25f, .15f, .25f};
    static const float aspect_v[] = {1.0f, 4.0f / 3.0f, 16.0f / 9.0f, 9.0f / 16.0f};
    int a = pick_weighted(&r, aspect_w, 4);
    static const float short_w[] = {.50f, .20f, .12f, .08f, .05f, .03f, .02f};
    static const int short_v[] = {128, 144, 160, 176, 192, 240, 320};
    int64_t shorter = short_v[pick_weighted(&r, short_w, 7)];
    float asp = aspect_v[a] >= 1 ? aspect_v[a] : 1.0f / aspect_v[a];
    /* Multiples of 16: whole macroblocks, and sizes libswscale's RGB24
     * writers never overrun (some other widths, e.g. 170, make them write
     * up to 18 bytes past a tightly sized buffer). */
    int64_t longer = 16 * (int64_t)lroundf((float)shorter * asp / 16.0f);
    if (longer > VTAG_SYNTH_MAX_SIDE) longer = VTAG_SYNTH_MAX_SIDE;
    v->width = aspect_v[a] >= 1 ? longer : shorter;
    v->height = aspect_v[a] >= 1 ? shorter : longer;

    /* Class1, then a class2 under it. */
    v->class1 = pick_weighted(&r, class1_weight, N_CLASS1);
    float w2[N_CLASS2];
    for (int i = 0; i < N_CLASS2; i++) w2[i] = class2_parent[i] == v->class1 ? class2_defs[i].weight : 0;
    v->class2 = pick_weighted(&r, w2, N_CLASS2);
    const class2_def *c2 = &class2_defs[v->class2];
    int object = class2_object[v->class2];

    /* Tags in catalogue order: the colour from the line's palette, then
     * every other tag with its probability; exclusive groups draw once. */
    int colour = 0;
    {
        float w[10];
        int n = 0;
        while (palettes[c2->palette][n].tag >= 0) {
            w[n] = palettes[c2->palette][n].p;
            n++;
        }
        colour = palettes[c2->palette][pick_weighted(&r, w, n)].tag;
    }
    static const int groups[][6] = {
        {T_STRIPED, T_CHECKED, T_POLKA, T_CAMO, T_TWOTONE, -1},
        {T_PAIR, T_CLOSEUP, T_COLLAGE, -1},
        {T_SPOTLIGHT, T_LOWLIGHT, -1},
        {T_WARM, T_COOL, -1},
        {T_RAIN, T_SNOW, -1},
    };
    unsigned char on[T_COUNT] = {0};
    on[colour] = 1;
    unsigned char grouped[T_COUNT] = {0};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        float uu = synth_uniform(&r), acc = 0;
        for (const int *t = groups[g]; *t >= 0; t++) {
            grouped[*t] = 1;
            float p = tag_applies(*t, object, c2->second) ? tag_probability(v->class1, v->class2, *t) : 0;
            if (uu >= acc && uu < acc + p) on[*t] = 1;
            acc += p;
        }
    }
    for (int t = T_STRIPED; t < T_COUNT; t++) {
        if (grouped[t]) continue;
        float uu = synth_uniform(&r); /* drawn for every tag: plans stay aligned */
        if (tag_applies(t, object, c2->second) && uu < tag_probability(v->class1, v->class2, t)) on[t] = 1;
    }
    /* Captions hold class1, class2 and at most 14 tags (max_length 16). */
    for (int t = 0; t < T_COUNT && v->n_tags < VTAG_SYNTH_MAX_TAGS - 2; t++) {
        if (!on[t]) continue;
        vtag_synth_tag *tg = &v->tags[v->n_tags++];
        tg->id = t;
        tg->visible_frames = v->frames;
    }
    /* Spans from their own stream per tag, so that a plan with a tag removed
     * renders every other frame identically. */
    for (int i = 0; i < v->n_tags; i++) {
        vtag_synth_tag *tg = &v->tags[i];
        if (!tag_partial[tg->id]) continue;
        synth_rng rs = synth_stream(v->seed, 0x5350414e00ULL + (uint64_t)tg->id);
        plan_spans(&rs, v->frames, tg);
    }
}

int vtag_synth_tag_visible(const vtag_synth_tag *t, int64_t frame)
{
    if (t->n_spans == 0) return 1;
    for (int i = 0; i < t->n_spans; i++)
        if (frame >= t->spans[i].begin && frame < t->spans[i].end) return 1;
    return 0;
}

void vtag_synth_video_name(int64_t index, char *buf, size_t cap)
{
    snprintf(buf, cap, "videos/%06lld.mp4", (long long)index);
}

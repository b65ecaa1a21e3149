/* The renderer: frames are a pure function of the plan (same plan, same
 * pixels, from either picture source), a partly visible tag changes exactly
 * the frames of its spans, full tags change every frame, and bad calls are
 * errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "synth/synth_internal.h"
#include "vtag/synth.h"

static uint8_t *render(const vtag_synth_video *v, const vtag_synth_source *src, const int64_t *frames, int n)
{
    vtag_synth_renderer *r = NULL;
    vtag_error err = {0};
    int rc = vtag_synth_renderer_open(&r, v, src, &err);
    CHECK(rc == 0, "open renderer for video %lld: %s", (long long)v->index, err.msg);
    if (rc) return NULL;
    size_t one = (size_t)(v->width * v->height * 3);
    uint8_t *out = malloc(one * (size_t)n);
    for (int i = 0; i < n; i++) {
        rc = vtag_synth_renderer_draw(r, frames[i], out + one * (size_t)i, &err);
        CHECK(rc == 0, "draw %lld: %s", (long long)frames[i], err.msg);
    }
    vtag_synth_renderer_close(&r);
    CHECK(r == NULL, "close sets NULL");
    return out;
}

/* The plan without tag index t. */
static vtag_synth_video without(const vtag_synth_video *v, int t)
{
    vtag_synth_video w = *v;
    memmove(&w.tags[t], &w.tags[t + 1], (size_t)(w.n_tags - t - 1) * sizeof w.tags[0]);
    w.n_tags--;
    return w;
}

static void test_deterministic(const vtag_synth_source *src)
{
    vtag_synth_video v;
    vtag_synth_plan(3, 17, &v);
    int64_t frames[3] = {0, v.frames / 2, v.frames - 1};
    uint8_t *a = render(&v, src, frames, 3), *b = render(&v, src, frames, 3);
    size_t one = (size_t)(v.width * v.height * 3);
    CHECK(a && b && memcmp(a, b, one * 3) == 0, "%s: same plan, same frames", vtag_synth_source_kind(src));
    CHECK(a && memcmp(a, a + one, one) != 0 && memcmp(a + one, a + 2 * one, one) != 0, "frames change over time");
    /* Not a flat picture: some spread in every channel. */
    if (a) {
        int lo[3] = {255, 255, 255}, hi[3] = {0, 0, 0};
        for (size_t i = 0; i < one; i++) {
            int k = (int)(i % 3);
            if (a[i] < lo[k]) lo[k] = a[i];
            if (a[i] > hi[k]) hi[k] = a[i];
        }
        CHECK(hi[0] - lo[0] > 60 && hi[1] - lo[1] > 60 && hi[2] - lo[2] > 60, "contrast %d %d %d",
              hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]);
    }
    free(a);
    free(b);
}

/* For every partial tag, one video that has it: with the tag removed from
 * the plan, the frames of its spans change and no other frame does. The
 * frames checked are every span's edges (first, last, and one outside on
 * each side) and a spread of others. */
static void test_partial(const vtag_synth_source *src)
{
    const vtag_synth_catalog *cat = vtag_synth_get_catalog();
    int covered = 0, wanted = 0;
    for (int tag = 0; tag < cat->n_tags; tag++) {
        if (!cat->partial[tag]) continue;
        wanted++;
        vtag_synth_video v;
        int at = -1;
        for (int64_t i = 0; i < 3000 && at < 0; i++) {
            vtag_synth_plan(1, i, &v);
            if (v.width * v.height > 160 * 160) continue; /* small ones keep the test quick */
            for (int t = 0; t < v.n_tags; t++)
                if (v.tags[t].id == tag) at = t;
        }
        CHECK(at >= 0, "no video with tag %s", cat->tags[tag]);
        if (at < 0) continue;
        covered++;
        const vtag_synth_tag *g = &v.tags[at];
        int64_t frames[64];
        int n = 0;
        for (int s = 0; s < g->n_spans && n < 48; s++) {
            int64_t cand[4] = {g->spans[s].begin - 1, g->spans[s].begin, g->spans[s].end - 1, g->spans[s].end};
            for (int k = 0; k < 4; k++)
                if (cand[k] >= 0 && cand[k] < v.frames) frames[n++] = cand[k];
        }
        for (int k = 0; k < 12; k++) frames[n++] = v.frames * k / 12;
        vtag_synth_video w = without(&v, at);
        uint8_t *a = render(&v, src, frames, n), *b = render(&w, src, frames, n);
        if (!a || !b) {
            free(a);
            free(b);
            continue;
        }
        size_t one = (size_t)(v.width * v.height * 3);
        int wrong = 0, shown = 0;
        for (int i = 0; i < n; i++) {
            int vis = vtag_synth_tag_visible(g, frames[i]);
            int differ = memcmp(a + one * (size_t)i, b + one * (size_t)i, one) != 0;
            shown += vis;
            if (vis != differ) {
                wrong++;
                fprintf(stderr, "tag %s, video %lld, frame %lld: visible %d, changed %d\n", cat->tags[tag],
                        (long long)v.index, (long long)frames[i], vis, differ);
            }
        }
        CHECK(wrong == 0 && shown > 0, "tag %s: %d frames wrong (%d shown)", cat->tags[tag], wrong, shown);
        free(a);
        free(b);
    }
    CHECK(covered == wanted, "%d of %d partial tags checked", covered, wanted);
}

/* Full tags are drawn in every frame: removing one changes every frame. */
static void test_full(const vtag_synth_source *src)
{
    const vtag_synth_catalog *cat = vtag_synth_get_catalog();
    int checked = 0;
    for (int64_t i = 0; i < 40; i++) {
        vtag_synth_video v;
        vtag_synth_plan(2, i, &v);
        if (v.width * v.height > 160 * 160) continue;
        for (int t = 0; t < v.n_tags; t++) {
            int id = v.tags[t].id;
            /* the colour is always drawn: changing it is another plan, not a removal */
            if (cat->partial[id] || id < T_COLOUR_COUNT) continue;
            int64_t frames[3] = {0, v.frames / 3, v.frames - 1};
            vtag_synth_video w = without(&v, t);
            uint8_t *a = render(&v, src, frames, 3), *b = render(&w, src, frames, 3);
            size_t one = (size_t)(v.width * v.height * 3);
            for (int k = 0; k < 3 && a && b; k++)
                CHECK(memcmp(a + one * (size_t)k, b + one * (size_t)k, one) != 0, "tag %s invisible in frame %lld",
                      cat->tags[id], (long long)frames[k]);
            checked++;
            free(a);
            free(b);
        }
    }
    CHECK(checked >= 10, "%d full tags checked", checked);
}

static void test_errors(const vtag_synth_source *src)
{
    vtag_synth_renderer *r = NULL;
    vtag_error err = {0};
    vtag_synth_video v;
    vtag_synth_plan(1, 0, &v);
    vtag_synth_video bad = v;
    bad.frames = 0;
    CHECK(vtag_synth_renderer_open(&r, &bad, src, &err) == VTAG_ERR_ARG && r == NULL, "0 frames: %s", err.msg);
    bad = v;
    bad.class2 = 999;
    CHECK(vtag_synth_renderer_open(&r, &bad, src, &err) == VTAG_ERR_ARG, "bad class2: %s", err.msg);
    CHECK(vtag_synth_renderer_open(&r, &v, NULL, &err) == VTAG_ERR_ARG, "no source: %s", err.msg);
    CHECK(vtag_synth_renderer_open(&r, &v, src, &err) == 0, "open: %s", err.msg);
    uint8_t *rgb = malloc((size_t)(v.width * v.height * 3));
    CHECK(vtag_synth_renderer_draw(r, v.frames, rgb, &err) == VTAG_ERR_ARG, "frame past the end: %s", err.msg);
    CHECK(vtag_synth_renderer_draw(r, -1, rgb, &err) == VTAG_ERR_ARG, "negative frame");
    free(rgb);
    vtag_synth_renderer_close(&r);
    vtag_synth_renderer_close(&r);
}

int main(void)
{
    vtag_synth_source *shapes = NULL, *fm = NULL;
    vtag_error err = {0};
    CHECK(vtag_synth_source_open_shapes(&shapes, &err) == 0, "shapes: %s", err.msg);
    test_deterministic(shapes);
    test_partial(shapes);
    test_full(shapes);
    test_errors(shapes);
    char p[512];
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", VTAG_SYNTH_FMNIST_DIR);
    if (access(p, R_OK) == 0) {
        CHECK(vtag_synth_source_open_fmnist(&fm, VTAG_SYNTH_FMNIST_DIR, &err) == 0, "fashion-mnist: %s", err.msg);
        if (fm) {
            test_deterministic(fm);
            /* The same plan from photos and from shapes: other pictures. */
            vtag_synth_video v;
            vtag_synth_plan(3, 17, &v);
            int64_t f[1] = {v.frames / 2};
            uint8_t *a = render(&v, fm, f, 1), *b = render(&v, shapes, f, 1);
            CHECK(a && b && memcmp(a, b, (size_t)(v.width * v.height * 3)) != 0, "photos differ from shapes");
            free(a);
            free(b);
        }
    } else {
        printf("Fashion-MNIST is not installed: the photo checks are skipped\n");
    }
    vtag_synth_source_close(&fm);
    vtag_synth_source_close(&shapes);
    return check_summary("synth/test_render");
}

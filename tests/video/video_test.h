/* Helpers for the video tests: a failure counter, the references that
 * tests/video/make_clips.sh writes, and PSNR. Tests run in build/fixtures. */
#ifndef VTAG_VIDEO_TEST_H
#define VTAG_VIDEO_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vt_failed, vt_passed;

#define VT_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (cond) vt_passed++;                                               \
        else {                                                               \
            vt_failed++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

static inline int vt_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, vt_passed, vt_failed);
    return vt_failed ? 1 : 0;
}

/* Every frame of a clip as the ffmpeg CLI decodes it, at S×S. */
typedef struct vt_ref {
    int64_t n, size;
    double *pts; /* [n] */
    int *key;    /* [n] */
    uint8_t *rgb;/* [n, S, S, 3] */
} vt_ref;

static inline void vt_ref_free(vt_ref *r)
{
    free(r->pts);
    free(r->key);
    free(r->rgb);
    memset(r, 0, sizeof *r);
}

/* Loads video/<base>.<size>.{txt,rgb}; 0 on success. */
static inline int vt_ref_load(vt_ref *r, const char *base, int64_t size)
{
    memset(r, 0, sizeof *r);
    r->size = size;
    char path[512];
    snprintf(path, sizeof path, "video/%s.%lld.txt", base, (long long)size);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s (run the video/clips fixture)\n", path);
        return -1;
    }
    double t;
    int k;
    int64_t cap = 0;
    while (fscanf(f, "%lf %d", &t, &k) == 2) {
        if (r->n == cap) {
            cap = cap ? 2 * cap : 64;
            r->pts = realloc(r->pts, (size_t)cap * sizeof *r->pts);
            r->key = realloc(r->key, (size_t)cap * sizeof *r->key);
        }
        r->pts[r->n] = t;
        r->key[r->n] = k;
        r->n++;
    }
    fclose(f);
    snprintf(path, sizeof path, "video/%s.%lld.rgb", base, (long long)size);
    f = fopen(path, "rb");
    size_t bytes = (size_t)(r->n * size * size * 3);
    r->rgb = malloc(bytes ? bytes : 1);
    int ok = f && r->rgb && fread(r->rgb, 1, bytes, f) == bytes;
    if (f) fclose(f);
    if (!ok || r->n == 0) {
        fprintf(stderr, "bad reference %s\n", path);
        vt_ref_free(r);
        return -1;
    }
    return 0;
}

/* The reference frame on screen at t: the last with pts <= t, else the
 * first. showinfo prints times to 6 significant digits, hence the slack. */
static inline int64_t vt_ref_at(const vt_ref *r, double t)
{
    int64_t k = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (r->pts[i] <= t + 2e-5) k = i;
    return k;
}

static inline double vt_psnr(const uint8_t *a, const uint8_t *b, int64_t n)
{
    double se = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    if (se == 0.0) return 99.0;
    return 10.0 * log10(255.0 * 255.0 * (double)n / se);
}

#endif

/* Helpers for the synth tests: whole files, every frame of a video decoded
 * by vtag's own video module, and PSNR. */
#ifndef VTAG_SYNTH_TEST_H
#define VTAG_SYNTH_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/video.h"

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static inline char *st_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)n) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static inline int st_same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = st_read_file(a, &la), *y = st_read_file(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Frames 0..count-1 of a video, each the picture on screen at its centre
 * time (uniform:count), as S×S RGB; *got frames decoded. NULL on error. */
static inline uint8_t *st_decode(const char *path, int64_t count, int64_t size, int64_t *got, int64_t *damaged,
                                 vtag_error *err)
{
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    s.count = count;
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = size;
    o.threads = 1;
    o.strategy = VTAG_VIDEO_STRATEGY_LINEAR;
    vtag_video_t *v = NULL;
    *got = 0;
    if (vtag_video_open(&v, path, &s, &o, err)) return NULL;
    size_t one = (size_t)(size * size * 3);
    uint8_t *out = malloc(one * (size_t)count);
    int ok = out != NULL;
    while (ok) {
        vtag_video_frame f;
        int more = 0;
        if (vtag_video_next(v, &f, &more, err)) ok = 0;
        if (!ok || !more) break;
        if (f.index < 0 || f.index >= count) {
            ok = 0;
            break;
        }
        memcpy(out + one * (size_t)f.index, f.rgb, one);
        (*got)++;
    }
    vtag_video_stats st;
    vtag_video_get_stats(v, &st);
    if (damaged) *damaged = st.damaged_packets;
    vtag_video_close(&v);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static inline double st_psnr(const uint8_t *a, const uint8_t *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    if (se == 0) return 99;
    return 10 * log10(255.0 * 255.0 / (se / (double)n));
}

#endif

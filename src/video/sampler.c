/* Sampler specs ("uniform:16", "fps:2", "keyframes", "keyframes:16",
 * "scene:0.3") and the reader's default options. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/video.h"

void vtag_video_sampler_default(vtag_video_sampler *s)
{
    memset(s, 0, sizeof *s);
    s->kind = VTAG_VIDEO_SAMPLE_UNIFORM;
    s->count = 16;
    s->end = -1.0;
}

void vtag_video_options_default(vtag_video_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = 224;
    o->threads = 0;
    o->strategy = VTAG_VIDEO_STRATEGY_AUTO;
}

static int parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int vtag_video_sampler_parse(vtag_video_sampler *s, const char *spec, vtag_error *err)
{
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    const char *arg = colon ? colon + 1 : NULL;
    double v = 0.0;
    if (name_len == 7 && strncmp(spec, "uniform", 7) == 0) {
        if (!arg) v = 16;
        else if (parse_number(arg, &v) || v < 1 || v > 1e6 || v != floor(v))
            return vtag_fail(err, VTAG_ERR_ARG, "sampler '%s': uniform:N needs a whole N in [1, 1000000]", spec);
        s->kind = VTAG_VIDEO_SAMPLE_UNIFORM;
        s->count = (int64_t)v;
        return VTAG_OK;
    }
    if (name_len == 3 && strncmp(spec, "fps", 3) == 0) {
        if (!arg || parse_number(arg, &v) || !(v > 0) || v > 1000)
            return vtag_fail(err, VTAG_ERR_ARG, "sampler '%s': fps:F needs F in (0, 1000]", spec);
        s->kind = VTAG_VIDEO_SAMPLE_FPS;
        s->fps = v;
        return VTAG_OK;
    }
    if (name_len == 9 && strncmp(spec, "keyframes", 9) == 0) {
        if (arg && (parse_number(arg, &v) || v < 1 || v > 1e6 || v != floor(v)))
            return vtag_fail(err, VTAG_ERR_ARG,
                             "sampler '%s': keyframes:N needs a whole N in [1, 1000000] (or plain keyframes)", spec);
        s->kind = VTAG_VIDEO_SAMPLE_KEYFRAMES;
        s->key_targets = arg ? (int64_t)v : 0;
        return VTAG_OK;
    }
    if (name_len == 5 && strncmp(spec, "scene", 5) == 0) {
        if (!arg || parse_number(arg, &v) || !(v > 0) || v > 1)
            return vtag_fail(err, VTAG_ERR_ARG, "sampler '%s': scene:T needs T in (0, 1]", spec);
        s->kind = VTAG_VIDEO_SAMPLE_SCENE;
        s->threshold = v;
        return VTAG_OK;
    }
    return vtag_fail(err, VTAG_ERR_ARG,
                     "unknown sampler '%s' (uniform:N, fps:F, keyframes, keyframes:N or scene:T)", spec);
}

void vtag_video_sampler_format(const vtag_video_sampler *s, char *buf, int64_t cap)
{
    if (cap <= 0) return;
    switch (s->kind) {
    case VTAG_VIDEO_SAMPLE_UNIFORM: snprintf(buf, (size_t)cap, "uniform:%lld", (long long)s->count); break;
    case VTAG_VIDEO_SAMPLE_FPS: snprintf(buf, (size_t)cap, "fps:%g", s->fps); break;
    case VTAG_VIDEO_SAMPLE_KEYFRAMES:
        if (s->key_targets > 0) snprintf(buf, (size_t)cap, "keyframes:%lld", (long long)s->key_targets);
        else snprintf(buf, (size_t)cap, "keyframes");
        break;
    case VTAG_VIDEO_SAMPLE_SCENE: snprintf(buf, (size_t)cap, "scene:%g", s->threshold); break;
    default: snprintf(buf, (size_t)cap, "?"); break;
    }
}

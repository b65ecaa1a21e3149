/* What the reader leaves out costs no bits, and readers that share a sample
 * set out (vtag_video_share) return what one reader does:
 *  - skipping the non-reference pictures that cannot be on screen at a target
 *    (the default) returns the same frames, bit for bit, as decoding every
 *    picture (decode_all), by seeking and by decoding through; on the H.264
 *    clip (B-frames) it decodes fewer pictures;
 *  - 2 and 3 readers, each with one decoder thread, with the targets shared
 *    out by vtag_video_share_plan, round robin, and in blocks of 2, return
 *    together the frames of one reader: the same indices, times and pixels,
 *    each reader's in ascending order and only its own;
 *  - the plan of the bench's kind of clip (targets at every phase of the GOP)
 *    gives each of 2 parts half the targets, within one;
 *  - sharing is refused for the keyframes sampler, for a part or an owner
 *    out of range, twice, and after the first frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "video_test.h"
#include "vtag/video.h"

enum { S = 64, MAX_FRAMES = 64, MAX_TARGETS = 64 };

typedef struct frames {
    int64_t n, decoded;
    int64_t index[MAX_FRAMES];
    double pts[MAX_FRAMES];
    uint8_t rgb[MAX_FRAMES][S * S * 3];
} frames;

static const vtag_video_options *options(vtag_video_strategy strategy, int decode_all, int threads)
{
    static vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = S, o.strategy = strategy, o.decode_all = decode_all, o.threads = threads;
    return &o;
}

/* How the targets are shared out: by the plan, round robin, in blocks of 2. */
enum { BY_PLAN, ROUND_ROBIN, BLOCKS_OF_2 };

/* Every frame of one reader (part of parts, 1: alone; shared out by how) appended to *f. */
static int read_all(const char *clip, const char *spec, const vtag_video_options *o, int part, int parts, int how,
                    frames *f)
{
    int owner[MAX_TARGETS];
    vtag_video_sampler smp;
    vtag_video_sampler_default(&smp);
    vtag_error err = {0};
    vtag_video_t *v = NULL;
    char path[256];
    snprintf(path, sizeof path, "video/%s", clip);
    int rc = vtag_video_sampler_parse(&smp, spec, &err);
    if (!rc) rc = vtag_video_open(&v, path, &smp, o, &err);
    if (!rc && parts > 1) {
        vtag_video_stats st;
        vtag_video_get_stats(v, &st);
        if (st.targets > MAX_TARGETS) rc = VTAG_ERR_ARG, snprintf(err.msg, sizeof err.msg, "too many targets");
        for (int64_t i = 0; !rc && i < st.targets; i++) owner[i] = (int)(how == ROUND_ROBIN ? i % parts : (i / 2) % parts);
        if (!rc && how == BY_PLAN) rc = vtag_video_share_plan(v, parts, owner, &err);
        if (!rc) rc = vtag_video_share(v, part, parts, owner, &err);
    }
    int64_t last = -1;
    for (int got = 1; !rc && got;) {
        vtag_video_frame fr;
        rc = vtag_video_next(v, &fr, &got, &err);
        if (rc || !got) break;
        VT_CHECK(fr.index > last, "%s %s part %d/%d: index %lld after %lld", clip, spec, part, parts,
                 (long long)fr.index, (long long)last);
        VT_CHECK(parts == 1 || owner[fr.index] == part, "%s: index %lld in part %d of %d", clip,
                 (long long)fr.index, part, parts);
        last = fr.index;
        if (f->n == MAX_FRAMES) break;
        f->index[f->n] = fr.index, f->pts[f->n] = fr.pts_seconds;
        memcpy(f->rgb[f->n], fr.rgb, S * S * 3);
        f->n++;
    }
    if (v) {
        vtag_video_stats st;
        vtag_video_get_stats(v, &st);
        f->decoded += st.frames_decoded;
    }
    vtag_video_close(&v);
    if (rc) fprintf(stderr, "%s %s: %s\n", clip, spec, err.msg);
    return rc;
}

static void sort_by_index(frames *f)
{
    for (int64_t i = 1; i < f->n; i++)
        for (int64_t j = i; j > 0 && f->index[j] < f->index[j - 1]; j--) {
            int64_t ti = f->index[j];
            double tp = f->pts[j];
            static uint8_t tr[S * S * 3];
            memcpy(tr, f->rgb[j], sizeof tr);
            f->index[j] = f->index[j - 1], f->pts[j] = f->pts[j - 1];
            memcpy(f->rgb[j], f->rgb[j - 1], sizeof tr);
            f->index[j - 1] = ti, f->pts[j - 1] = tp;
            memcpy(f->rgb[j - 1], tr, sizeof tr);
        }
}

static void same(const frames *a, const frames *b, const char *what, const char *clip, const char *spec)
{
    VT_CHECK(a->n == b->n, "%s %s, %s: %lld frames against %lld", clip, spec, what, (long long)b->n, (long long)a->n);
    for (int64_t i = 0; i < a->n && i < b->n; i++) {
        VT_CHECK(a->index[i] == b->index[i] && a->pts[i] == b->pts[i], "%s %s, %s: frame %lld is index %lld at %.6f, "
                 "not %lld at %.6f", clip, spec, what, (long long)i, (long long)b->index[i], b->pts[i],
                 (long long)a->index[i], a->pts[i]);
        VT_CHECK(memcmp(a->rgb[i], b->rgb[i], S * S * 3) == 0, "%s %s, %s: frame %lld differs", clip, spec, what,
                 (long long)i);
    }
}

int main(void)
{
    static const char *const clips[] = {"h264.mp4", "vp9.webm", "mpeg4.avi", "mjpeg.mov", "anim.gif",
                                        "rot90.mp4", "vfr.mp4", "av.mp4"};
    static const char *const specs[] = {"uniform:7", "fps:3"};
    static const vtag_video_strategy strategies[] = {VTAG_VIDEO_STRATEGY_AUTO, VTAG_VIDEO_STRATEGY_SEEK,
                                                     VTAG_VIDEO_STRATEGY_LINEAR};
    static frames one, all, shared;
    for (size_t c = 0; c < sizeof clips / sizeof *clips; c++)
        for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
            for (size_t k = 0; k < sizeof strategies / sizeof *strategies; k++) {
                const char *clip = clips[c], *spec = specs[s];
                memset(&one, 0, sizeof one);
                memset(&all, 0, sizeof all);
                if (read_all(clip, spec, options(strategies[k], 0, 0), 0, 1, 0, &one) ||
                    read_all(clip, spec, options(strategies[k], 1, 0), 0, 1, 0, &all)) {
                    VT_CHECK(0, "%s %s could not be read", clip, spec);
                    continue;
                }
                VT_CHECK(one.n > 0, "%s %s: no frame", clip, spec);
                same(&one, &all, "every picture decoded", clip, spec);
                if (strcmp(clip, "h264.mp4") == 0 && strategies[k] == VTAG_VIDEO_STRATEGY_LINEAR)
                    VT_CHECK(one.decoded < all.decoded, "%s %s: %lld pictures decoded, %lld with every one", clip,
                             spec, (long long)one.decoded, (long long)all.decoded);
                for (int parts = 2; parts <= 3; parts++)
                    for (int how = BY_PLAN; how <= BLOCKS_OF_2; how++) {
                        memset(&shared, 0, sizeof shared);
                        int rc = 0;
                        for (int p = 0; p < parts && !rc; p++)
                            rc = read_all(clip, spec, options(strategies[k], 0, 1), p, parts, how, &shared);
                        VT_CHECK(rc == 0, "%s %s: %d readers failed", clip, spec, parts);
                        sort_by_index(&shared);
                        char what[64];
                        snprintf(what, sizeof what, "%d readers, sharing %d", parts, how);
                        same(&one, &shared, what, clip, spec);
                    }
            }

    /* the plan balances: h264.mp4 (4 s, a keyframe every second) at uniform:8 has targets at
       4 phases of the GOP, twice; each of 2 parts gets 4 */
    vtag_video_sampler smp;
    vtag_video_sampler_default(&smp);
    vtag_error err = {0};
    vtag_video_t *v = NULL;
    int owner[MAX_TARGETS] = {0}, n0 = 0;
    VT_CHECK(vtag_video_sampler_parse(&smp, "uniform:8", &err) == 0, "%s", err.msg);
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", &smp, options(VTAG_VIDEO_STRATEGY_AUTO, 0, 1), &err) == 0, "%s",
             err.msg);
    VT_CHECK(v && vtag_video_share_plan(v, 2, owner, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 8; i++) n0 += owner[i] == 0;
    VT_CHECK(n0 >= 3 && n0 <= 5, "part 0 has %d of 8 targets", n0);
    VT_CHECK(v && vtag_video_share(v, 2, 2, owner, &err) == VTAG_ERR_ARG, "part 2 of 2");
    owner[3] = 2;
    VT_CHECK(v && vtag_video_share(v, 0, 2, owner, &err) == VTAG_ERR_ARG, "an owner out of range");
    owner[3] = 1;
    VT_CHECK(v && vtag_video_share(v, 0, 2, owner, &err) == 0, "%s", err.msg);
    VT_CHECK(v && vtag_video_share(v, 1, 2, owner, &err) == VTAG_ERR_ARG, "shared twice");
    vtag_video_close(&v);

    /* refusals */
    vtag_video_sampler_default(&smp);
    VT_CHECK(vtag_video_sampler_parse(&smp, "keyframes", &err) == 0, "%s", err.msg);
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", &smp, options(VTAG_VIDEO_STRATEGY_AUTO, 0, 0), &err) == 0, "%s",
             err.msg);
    VT_CHECK(v && vtag_video_share_plan(v, 2, owner, &err) == VTAG_ERR_ARG, "keyframes planned");
    VT_CHECK(v && vtag_video_share(v, 0, 2, owner, &err) == VTAG_ERR_ARG, "keyframes shared");
    vtag_video_close(&v);
    vtag_video_sampler_default(&smp);
    VT_CHECK(vtag_video_open(&v, "video/h264.mp4", &smp, options(VTAG_VIDEO_STRATEGY_AUTO, 0, 0), &err) == 0, "%s",
             err.msg);
    vtag_video_frame fr;
    int got = 0;
    VT_CHECK(v && vtag_video_next(v, &fr, &got, &err) == 0 && got, "%s", err.msg);
    memset(owner, 0, sizeof owner);
    VT_CHECK(v && vtag_video_share(v, 0, 2, owner, &err) == VTAG_ERR_ARG, "shared after the first frame");
    vtag_video_close(&v);
    return vt_summary("video/test_share");
}

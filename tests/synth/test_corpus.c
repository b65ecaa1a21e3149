/* Whole corpora through the library: the same seed gives byte-identical
 * labels and videos and identical decoded frames (whatever the thread
 * count), another seed other videos, a smaller corpus is a prefix; videos
 * decode with vtag's video module to the rendered pictures; MPEG-4 and
 * shapes work; errors leave no labels file and no temporary files. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

#include "check.h"
#include "synth_test.h"
#include "vtag/synth.h"

#define NV 6

static int make(const char *dir, uint64_t seed, int64_t n, int threads, vtag_synth_codec codec,
                const vtag_synth_source *src, vtag_synth_report *rep)
{
    vtag_synth_options o;
    vtag_synth_options_default(&o);
    o.videos = n;
    o.seed = seed;
    o.threads = threads;
    o.codec = codec;
    vtag_error err = {0};
    int rc = vtag_synth_corpus(dir, &o, src, rep, &err);
    CHECK(rc == 0, "corpus %s: %s", dir, err.msg);
    return rc;
}

static void path_of(char *buf, size_t cap, const char *dir, int64_t i)
{
    char name[64];
    vtag_synth_video_name(i, name, sizeof name);
    snprintf(buf, cap, "%s/%s", dir, name);
}

static int temp_files(const char *dir)
{
    char p[512];
    snprintf(p, sizeof p, "%s/videos", dir);
    DIR *d = opendir(p);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    snprintf(p, sizeof p, "%s", dir);
    if ((d = opendir(p))) {
        for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
        closedir(d);
    }
    return n;
}

static int64_t side(const vtag_synth_video *v) { return v->width < v->height ? v->width : v->height; }

static void test_same_seed(const vtag_synth_source *src)
{
    vtag_synth_report ra, rb;
    if (make("synth_a", 5, NV, 2, VTAG_SYNTH_CODEC_AUTO, src, &ra) || make("synth_b", 5, NV, 1, VTAG_SYNTH_CODEC_AUTO, src, &rb))
        return;
    const char *want = avcodec_find_encoder_by_name("libx264") ? "libx264" : "mpeg4";
    CHECK(ra.videos == NV && ra.encoder && strcmp(ra.encoder, want) == 0, "report: %lld videos, encoder %s",
          (long long)ra.videos, ra.encoder ? ra.encoder : "?");
    CHECK(ra.frames == rb.frames && ra.bytes == rb.bytes, "reports agree");
    CHECK(st_same_file("synth_a/labels.jsonl", "synth_b/labels.jsonl"), "byte-identical labels files");
    CHECK(temp_files("synth_a") == 0 && temp_files("synth_b") == 0, "no temporary files left");
    int64_t compared = 0;
    for (int64_t i = 0; i < NV; i++) {
        vtag_synth_video v;
        vtag_synth_plan(5, i, &v);
        char pa[512], pb[512];
        path_of(pa, sizeof pa, "synth_a", i);
        path_of(pb, sizeof pb, "synth_b", i);
        CHECK(st_same_file(pa, pb), "video %lld: byte-identical files (2 threads vs 1)", (long long)i);
        /* Every frame decoded by vtag's video module, at the shorter side. */
        vtag_error err = {0};
        int64_t ga = 0, gb = 0, da = 0;
        uint8_t *fa = st_decode(pa, v.frames, side(&v), &ga, &da, &err);
        CHECK(fa && ga == v.frames && da == 0, "%s: %lld of %lld frames, %lld damaged: %s", pa, (long long)ga,
              (long long)v.frames, (long long)da, err.msg);
        uint8_t *fb = st_decode(pb, v.frames, side(&v), &gb, NULL, &err);
        CHECK(fa && fb && ga == gb && memcmp(fa, fb, (size_t)(ga * side(&v) * side(&v) * 3)) == 0,
              "video %lld: identical decoded frames", (long long)i);
        compared += ga;
        /* Probe: the plan's format. */
        vtag_video_info info;
        CHECK(vtag_video_probe(pa, &info, &err) == 0, "probe %s: %s", pa, err.msg);
        CHECK(info.width == v.width && info.height == v.height && info.frames == v.frames &&
                  fabs(info.frame_rate - v.fps) < 1e-6 && fabs(info.duration - (double)v.frames / v.fps) < 0.11,
              "%s: %lldx%lld %lld frames %.3f fps %.3f s vs plan %lldx%lld %lld frames %d fps", pa,
              (long long)info.width, (long long)info.height, (long long)info.frames, info.frame_rate, info.duration,
              (long long)v.width, (long long)v.height, (long long)v.frames, v.fps);
        CHECK(strcmp(info.codec, strcmp(want, "libx264") == 0 ? "h264" : "mpeg4") == 0, "codec %s", info.codec);
        /* The decoded picture is the rendered one (colour matrix and range
         * agree between the encoder and the decoder). */
        if (fa && ga == v.frames) {
            vtag_synth_renderer *r = NULL;
            CHECK(vtag_synth_renderer_open(&r, &v, src, &err) == 0, "renderer: %s", err.msg);
            int64_t s = side(&v), ox = (v.width - s) / 2, oy = (v.height - s) / 2;
            uint8_t *rgb = malloc((size_t)(v.width * v.height * 3)), *crop = malloc((size_t)(s * s * 3));
            double worst = 99, shift = 0;
            for (int64_t f = 0; r && f < v.frames; f += v.frames / 4) {
                vtag_synth_renderer_draw(r, f, rgb, &err);
                for (int64_t y = 0; y < s; y++)
                    memcpy(crop + y * s * 3, rgb + ((y + oy) * v.width + ox) * 3, (size_t)(s * 3));
                const uint8_t *dec = fa + f * s * s * 3;
                double p = st_psnr(crop, dec, (size_t)(s * s * 3));
                if (p < worst) worst = p;
                /* A wrong matrix or range moves the mean colour; the
                 * sensor noise and the codec only blur. */
                for (int k = 0; k < 3; k++) {
                    double d = 0;
                    for (int64_t q = k; q < s * s * 3; q += 3) d += (double)crop[q] - (double)dec[q];
                    d = fabs(d / (double)(s * s));
                    if (d > shift) shift = d;
                }
            }
            CHECK(worst > 26 && shift < 2, "video %lld: decoded vs rendered PSNR %.1f dB, mean shift %.2f", (long long)i,
                  worst, shift);
            free(rgb);
            free(crop);
            vtag_synth_renderer_close(&r);
        }
        free(fa);
        free(fb);
    }
    printf("same seed: %d videos, %lld frames compared\n", NV, (long long)compared);
}

static void test_other_seed_and_prefix(const vtag_synth_source *src)
{
    if (make("synth_c", 6, NV, 2, VTAG_SYNTH_CODEC_AUTO, src, NULL) ||
        make("synth_d", 5, 3, 2, VTAG_SYNTH_CODEC_AUTO, src, NULL))
        return;
    CHECK(!st_same_file("synth_a/labels.jsonl", "synth_c/labels.jsonl"), "another seed: other labels");
    int differ = 0;
    for (int64_t i = 0; i < NV; i++) {
        vtag_synth_video a, c;
        vtag_synth_plan(5, i, &a);
        vtag_synth_plan(6, i, &c);
        char pa[512], pc[512];
        path_of(pa, sizeof pa, "synth_a", i);
        path_of(pc, sizeof pc, "synth_c", i);
        /* The first frames at a common size. */
        vtag_error err = {0};
        int64_t ga = 0, gc = 0;
        uint8_t *fa = st_decode(pa, 4, 96, &ga, NULL, &err), *fc = st_decode(pc, 4, 96, &gc, NULL, &err);
        differ += fa && fc && ga == 4 && gc == 4 && memcmp(fa, fc, 4 * 96 * 96 * 3) != 0;
        free(fa);
        free(fc);
    }
    CHECK(differ == NV, "another seed: %d of %d videos decode to other frames", differ, NV);
    /* Video i depends on the seed and i only. */
    size_t la = 0, ld = 0;
    char *a = st_read_file("synth_a/labels.jsonl", &la), *d = st_read_file("synth_d/labels.jsonl", &ld);
    CHECK(a && d && ld < la && memcmp(a, d, ld) == 0, "3 videos: a prefix of the labels of 6");
    free(a);
    free(d);
    for (int64_t i = 0; i < 3; i++) {
        char pa[512], pd[512];
        path_of(pa, sizeof pa, "synth_a", i);
        path_of(pd, sizeof pd, "synth_d", i);
        CHECK(st_same_file(pa, pd), "video %lld the same in both corpora", (long long)i);
    }
}

static void test_mpeg4_and_shapes(const vtag_synth_source *src)
{
    vtag_synth_source *shapes = NULL;
    vtag_error err = {0};
    CHECK(vtag_synth_source_open_shapes(&shapes, &err) == 0, "shapes");
    vtag_synth_report rep;
    if (make("synth_mpeg4", 8, 2, 2, VTAG_SYNTH_CODEC_MPEG4, shapes, &rep) == 0) {
        CHECK(rep.encoder && strcmp(rep.encoder, "mpeg4") == 0, "forced MPEG-4: %s", rep.encoder ? rep.encoder : "?");
        for (int64_t i = 0; i < 2; i++) {
            vtag_synth_video v;
            vtag_synth_plan(8, i, &v);
            char p[512];
            path_of(p, sizeof p, "synth_mpeg4", i);
            vtag_video_info info;
            CHECK(vtag_video_probe(p, &info, &err) == 0 && strcmp(info.codec, "mpeg4") == 0 &&
                      info.frames == v.frames,
                  "%s: codec %s, %lld frames: %s", p, info.codec, (long long)info.frames, err.msg);
            int64_t got = 0, dmg = 0;
            uint8_t *f = st_decode(p, v.frames, side(&v), &got, &dmg, &err);
            CHECK(f && got == v.frames && dmg == 0, "%s decodes: %lld frames, %lld damaged", p, (long long)got,
                  (long long)dmg);
            /* MPEG-4 part 2 at q5 is coarser than H.264, but the same picture. */
            vtag_synth_renderer *r = NULL;
            if (f && vtag_synth_renderer_open(&r, &v, shapes, &err) == 0) {
                int64_t s = side(&v), ox = (v.width - s) / 2, oy = (v.height - s) / 2, fr = v.frames / 2;
                uint8_t *rgb = malloc((size_t)(v.width * v.height * 3)), *crop = malloc((size_t)(s * s * 3));
                vtag_synth_renderer_draw(r, fr, rgb, &err);
                for (int64_t y = 0; y < s; y++)
                    memcpy(crop + y * s * 3, rgb + ((y + oy) * v.width + ox) * 3, (size_t)(s * 3));
                double p2 = st_psnr(crop, f + fr * s * s * 3, (size_t)(s * s * 3));
                CHECK(p2 > 25, "%s: PSNR %.1f dB", p, p2);
                free(rgb);
                free(crop);
                vtag_synth_renderer_close(&r);
            }
            free(f);
        }
    }
    /* H.264 demanded: libx264 or a clear error. */
    vtag_synth_options o;
    vtag_synth_options_default(&o);
    o.videos = 1;
    o.codec = VTAG_SYNTH_CODEC_H264;
    int rc = vtag_synth_corpus("synth_h264", &o, src, NULL, &err);
    if (avcodec_find_encoder_by_name("libx264"))
        CHECK(rc == 0, "h264: %s", err.msg);
    else
        CHECK(rc == VTAG_ERR_UNSUPPORTED && strstr(err.msg, "libx264"), "h264 without libx264: %s", err.msg);
    vtag_synth_source_close(&shapes);
}

static void test_errors(const vtag_synth_source *src)
{
    vtag_synth_options o;
    vtag_synth_options_default(&o);
    vtag_error err = {0};
    o.videos = 0;
    CHECK(vtag_synth_corpus("synth_e", &o, src, NULL, &err) == VTAG_ERR_ARG, "0 videos: %s", err.msg);
    o.videos = 2;
    CHECK(vtag_synth_corpus("synth_e", &o, NULL, NULL, &err) == VTAG_ERR_ARG, "no source: %s", err.msg);
    /* DIR/videos is a file: nothing can be written, no labels appear. */
    mkdir("synth_e", 0777);
    FILE *f = fopen("synth_e/videos", "w");
    if (f) fclose(f);
    unlink("synth_e/labels.jsonl");
    memset(&err, 0, sizeof err);
    int rc = vtag_synth_corpus("synth_e", &o, src, NULL, &err);
    CHECK(rc == VTAG_ERR_IO && strstr(err.msg, "synth_e/videos") && !strchr(err.msg, '\n'), "videos is a file: %d %s",
          rc, err.msg);
    CHECK(access("synth_e/labels.jsonl", F_OK) != 0, "no labels file after a failure");
    /* A video that cannot be written (its name is taken by a folder): the
     * corpus fails with that video's name, and no labels file appears. */
    mkdir("synth_f", 0777);
    mkdir("synth_f/videos", 0777);
    mkdir("synth_f/videos/000001.mp4", 0777);
    unlink("synth_f/labels.jsonl");
    rc = vtag_synth_corpus("synth_f", &o, src, NULL, &err);
    CHECK(rc == VTAG_ERR_IO && strstr(err.msg, "000001.mp4"), "video path is a folder: %d %s", rc, err.msg);
    CHECK(access("synth_f/labels.jsonl", F_OK) != 0, "no labels file after a failed video");
    CHECK(temp_files("synth_f") == 0, "temporary files removed after the failure");
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    vtag_synth_source *src = NULL;
    vtag_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", VTAG_SYNTH_FMNIST_DIR);
    if (access(p, R_OK) == 0) CHECK(vtag_synth_source_open_fmnist(&src, VTAG_SYNTH_FMNIST_DIR, &err) == 0, "%s", err.msg);
    if (!src) CHECK(vtag_synth_source_open_shapes(&src, &err) == 0, "%s", err.msg);
    printf("pictures from %s\n", src ? vtag_synth_source_kind(src) : "?");
    if (src) {
        test_same_seed(src);
        test_other_seed_and_prefix(src);
        test_mpeg4_and_shapes(src);
        test_errors(src);
    }
    vtag_synth_source_close(&src);
    return check_summary("synth/test_corpus");
}

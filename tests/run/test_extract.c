/* The extraction workflows as library calls (vtag/extract.h) on three tiny
 * synth videos (64 px, 8 frames; two train, one val) and a random built-in
 * backbone (32 px): vtag_features_extract writes, row for row and bit for
 * bit, what decoding, normalising and running the backbone video by video
 * gives, with the items, the progress calls, the split, a missing split and a
 * broken video (an error naming its labels line, or skipped with skip_bad);
 * vtag_frames_extract writes the index and exactly the PNGs it names, reports
 * every video in order, names a repeated stem "-2", replaces a previous run's
 * files and refuses a video inside the folder; vtag_video_info_json gives
 * the probe line and refuses a name that is not UTF-8. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "vtag/builtin.h"
#include "vtag/extract.h"
#include "vtag/synth.h"

#define N_VIDEOS 3
#define N_FRAMES 3 /* sampled per video */

static char dir[] = "extract.XXXXXX";
static char labels_path[512], backbone_path[512];

static char *at(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int make_corpus(void)
{
    vtag_error err = {0};
    vtag_synth_source *src = NULL;
    vtag_synth_video v[N_VIDEOS];
    int rc = vtag_synth_source_open_shapes(&src, &err);
    CHECK(rc == 0, "shapes: %s", err.msg);
    if (rc) return rc;
    mkdir(at("videos"), 0755);
    for (int i = 0; i < N_VIDEOS && !rc; i++) {
        vtag_synth_plan(5, i, &v[i]);
        v[i].split = i < 2 ? VTAG_DATA_SPLIT_TRAIN : VTAG_DATA_SPLIT_VAL;
        v[i].width = v[i].height = 64, v[i].fps = 10, v[i].frames = 8;
        char name[64];
        vtag_synth_video_name(i, name, sizeof name);
        rc = vtag_synth_write_video(at(name), &v[i], src, VTAG_SYNTH_CODEC_AUTO, NULL, NULL, &err);
        CHECK(rc == 0, "video %d: %s", i, err.msg);
    }
    snprintf(labels_path, sizeof labels_path, "%s", at("labels.jsonl"));
    if (!rc) rc = vtag_synth_write_labels(labels_path, v, N_VIDEOS, &err);
    CHECK(rc == 0, "labels: %s", err.msg);
    vtag_synth_source_close(&src);
    if (rc) return rc;
    /* a random backbone: the rows only have to be the backbone's, not good ones */
    vtag_builtin_config cfg;
    vtag_builtin_config_default(&cfg);
    cfg.size = 32, cfg.n_stages = 2, cfg.widths[0] = 8, cfg.widths[1] = 16, cfg.n_labels = 3;
    vtag_builtin m;
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    snprintf(backbone_path, sizeof backbone_path, "%s", at("backbone.safetensors"));
    rc = vtag_builtin_init(&m, &cfg, NULL, &err);
    if (!rc) {
        vtag_builtin_init_weights(&m, &rng);
        rc = vtag_builtin_save(&m, backbone_path, &err);
        vtag_builtin_free(&m);
    }
    CHECK(rc == 0, "backbone: %s", err.msg);
    return rc;
}

/* ---- features ------------------------------------------------------------------------ */

typedef struct seen {
    int64_t calls, finals, skipped, last_done, last_rows, skipped_line;
    int ordered;
} seen;

static void on_progress(void *user, const vtag_features_progress *p)
{
    seen *s = user;
    s->calls++;
    s->finals += p->final;
    s->ordered &= p->done == (p->final ? p->total : s->last_done + 1) && p->rows >= s->last_rows;
    if (p->skipped) s->skipped++, s->skipped_line = p->line;
    s->last_done = p->done, s->last_rows = p->rows;
}

/* The rows of one video as the workflow's parts give them: decode, normalise,
 * run in batches of max_batch. fc/att: [n, D]; returns n, or -1. */
static int64_t reference_rows(vtag_backbone_t *bb, vtag_ctx *ctx, const char *path, const vtag_video_sampler *smp,
                              float *fc, float *att)
{
    const vtag_backbone_info *info = vtag_backbone_get_info(bb);
    const int64_t S = info->size, B = info->max_batch, img = 3 * S * S;
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = S, o.threads = 1;
    vtag_video_t *v = NULL;
    vtag_error err = {0};
    float *images = malloc((size_t)(N_FRAMES * img) * sizeof(float));
    int64_t n = 0;
    int rc = vtag_video_open(&v, path, smp, &o, &err);
    while (!rc && images) {
        vtag_video_frame fr;
        int got = 0;
        if ((rc = vtag_video_next(v, &fr, &got, &err)) || !got) break;
        if (n == N_FRAMES) break;
        vtag_video_normalize(fr.rgb, S, info->mean, info->std, images + n * img);
        n++;
    }
    vtag_video_close(&v);
    for (int64_t b0 = 0; !rc && b0 < n; b0 += B) {
        const int64_t nb = b0 + B <= n ? B : n - b0;
        rc = vtag_backbone_run(bb, ctx, images + b0 * img, nb, fc + b0 * info->d_fc,
                               att + b0 * info->k_att * info->d_att, &err);
    }
    CHECK(rc == 0, "reference %s: %s", path, err.msg);
    free(images);
    return rc || !images ? -1 : n;
}

static void test_features(void)
{
    vtag_error err = {0};
    vtag_data_labels labels;
    if (vtag_data_read_labels(&labels, labels_path, NULL, &err)) {
        CHECK(0, "labels: %s", err.msg);
        return;
    }
    vtag_features_opts o;
    vtag_features_opts_defaults(&o);
    CHECK(o.split == VTAG_DATA_SPLIT_ALL && o.sampler.kind == VTAG_VIDEO_SAMPLE_UNIFORM && o.sampler.count == 16,
          "defaults: split %d, sampler %d:%lld", o.split, o.sampler.kind, (long long)o.sampler.count);
    o.sampler.count = N_FRAMES;
    o.backbone.max_batch = 2; /* a video's frames in two calls */
    o.threads = 1;
    seen s = {.ordered = 1};
    o.progress = on_progress, o.user = &s;
    vtag_features_result res;
    const char *out = at("features.safetensors");
    int rc = vtag_features_extract(backbone_path, &labels, out, &o, &res, &err);
    CHECK(rc == 0, "extract: %s", err.msg);
    CHECK(res.rows == N_VIDEOS * N_FRAMES && res.videos == N_VIDEOS && res.skipped == 0 && res.seconds >= 0,
          "result: %lld rows, %lld videos, %lld skipped", (long long)res.rows, (long long)res.videos,
          (long long)res.skipped);
    CHECK(s.calls == N_VIDEOS + 1 && s.finals == 1 && s.ordered && s.skipped == 0 && s.last_rows == res.rows,
          "progress: %lld calls, %lld final, ordered %d", (long long)s.calls, (long long)s.finals, s.ordered);

    /* the file against the parts run by hand */
    vtag_data_features f;
    vtag_backbone_t *bb = NULL;
    vtag_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    if (rc || vtag_data_read_features(&f, out, &err)) {
        CHECK(0, "read: %s", err.msg);
    } else if (vtag_backbone_open(&bb, backbone_path, &o.backbone, &err) || vtag_ctx_init(&ctx, 1, 1, &err)) {
        CHECK(0, "backbone: %s", err.msg);
        vtag_data_free_features(&f);
    } else {
        const vtag_backbone_info *info = vtag_backbone_get_info(bb);
        const int64_t katt = info->k_att * info->d_att;
        CHECK(f.n == res.rows && f.fc_dim == info->d_fc && f.att_k == info->k_att && f.att_dim == info->d_att,
              "shape: n %lld, fc %lld, att %lld x %lld", (long long)f.n, (long long)f.fc_dim, (long long)f.att_k,
              (long long)f.att_dim);
        /* the description with the backbone's identity added (vtag/provenance.h) */
        const size_t nd = strlen(info->description) - 1; /* without its closing brace */
        CHECK(f.backbone && strncmp(f.backbone, info->description, nd) == 0 && strstr(f.backbone, "\"sha256\":\""),
              "vtag.backbone: %s", f.backbone);
        float *fc = malloc((size_t)(N_FRAMES * info->d_fc) * sizeof(float));
        float *att = malloc((size_t)(N_FRAMES * katt) * sizeof(float));
        for (int64_t e = 0, row = 0; e < labels.count && fc && att && f.n == res.rows; e++) {
            const int64_t n = reference_rows(bb, &ctx, labels.entries[e].path, &o.sampler, fc, att);
            CHECK(n == N_FRAMES, "video %lld: %lld frames", (long long)e, (long long)n);
            if (n != N_FRAMES) break;
            int items = 1;
            for (int64_t j = 0; j < n; j++) items &= strcmp(f.items[row + j], labels.entries[e].video) == 0;
            CHECK(items, "rows %lld..: items are %s", (long long)row, labels.entries[e].video);
            CHECK(memcmp(f.fc + row * info->d_fc, fc, (size_t)(n * info->d_fc) * sizeof(float)) == 0,
                  "video %lld: fc rows differ", (long long)e);
            CHECK(memcmp(f.att + row * katt, att, (size_t)(n * katt) * sizeof(float)) == 0,
                  "video %lld: att rows differ", (long long)e);
            row += n;
        }
        free(fc);
        free(att);
        vtag_data_free_features(&f);
    }
    vtag_backbone_close(&bb);
    vtag_ctx_free(&ctx);

    /* one split, fc only */
    o.split = VTAG_DATA_SPLIT_VAL, o.no_att = 1, o.progress = NULL;
    rc = vtag_features_extract(backbone_path, &labels, at("val.safetensors"), &o, &res, &err);
    CHECK(rc == 0 && res.rows == N_FRAMES && res.videos == 1, "val: rc %d, %lld rows: %s", rc, (long long)res.rows,
          err.msg);
    if (rc == 0 && vtag_data_read_features(&f, at("val.safetensors"), &err) == 0) {
        CHECK(f.n == N_FRAMES && !f.att && f.att_k == 0 && strcmp(f.items[0], labels.entries[2].video) == 0,
              "val: n %lld, att %p, item %s", (long long)f.n, (const void *)f.att, f.items[0]);
        vtag_data_free_features(&f);
    }
    o.split = VTAG_DATA_SPLIT_TEST;
    rc = vtag_features_extract(backbone_path, &labels, at("test.safetensors"), &o, NULL, &err);
    CHECK(rc == VTAG_ERR_FORMAT && strstr(err.msg, "no video in split \"test\"") &&
              access(at("test.safetensors"), F_OK) != 0,
          "no test split: rc %d: %s", rc, err.msg);
    vtag_data_free_labels(&labels);
}

static void test_features_bad_video(void)
{
    /* video 1 broken after the labels name it */
    char name[64];
    vtag_synth_video_name(1, name, sizeof name);
    FILE *fv = fopen(at(name), "wb");
    CHECK(fv && fputs("not a video", fv) >= 0 && fclose(fv) == 0, "cannot break %s", name);
    vtag_error err = {0};
    vtag_data_labels labels;
    if (vtag_data_read_labels(&labels, labels_path, NULL, &err)) {
        CHECK(0, "labels: %s", err.msg);
        return;
    }
    vtag_features_opts o;
    vtag_features_opts_defaults(&o);
    o.sampler.count = N_FRAMES, o.threads = 1;
    char want[600];
    snprintf(want, sizeof want, "(%s:2)", labels_path);
    const char *out = at("bad.safetensors");
    int rc = vtag_features_extract(backbone_path, &labels, out, &o, NULL, &err);
    CHECK(rc != 0 && strstr(err.msg, name) && strstr(err.msg, want) && access(out, F_OK) != 0,
          "a broken video: rc %d: %s", rc, err.msg);
    seen s = {.ordered = 1};
    o.skip_bad = 1, o.progress = on_progress, o.user = &s;
    vtag_features_result res;
    rc = vtag_features_extract(backbone_path, &labels, out, &o, &res, &err);
    CHECK(rc == 0 && res.rows == 2 * N_FRAMES && res.videos == 2 && res.skipped == 1, "skip_bad: rc %d, %lld rows: %s",
          rc, (long long)res.rows, err.msg);
    CHECK(s.skipped == 1 && s.skipped_line == 2 && s.ordered, "skip_bad progress: %lld skipped, line %lld",
          (long long)s.skipped, (long long)s.skipped_line);
    vtag_data_free_labels(&labels);
}

/* ---- frames --------------------------------------------------------------------------- */

typedef struct reported {
    int64_t calls, failed, in_order;
    int64_t frames_out;
} reported;

static void on_video(void *user, const vtag_frames_video *v)
{
    reported *r = user;
    r->in_order &= v->index == r->calls;
    r->calls++;
    r->failed += v->status != VTAG_OK && !v->opened && !v->fatal;
    r->frames_out += v->stats.frames_out;
}

/* The index's files, each an existing side×side PNG; the folder holds nothing
 * else. Returns the number of lines, or -1. */
static int64_t check_folder(const char *out, int64_t side, const char *first_file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/frames.jsonl", out);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096], first[256] = "";
    int64_t n = 0, good = 1;
    json_t *files = json_array();
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        const char *file = json_string_value(json_object_get(o, "file"));
        good &= file && json_is_string(json_object_get(o, "video")) && json_is_integer(json_object_get(o, "index"));
        if (file) {
            if (!n) snprintf(first, sizeof first, "%s", file);
            json_array_append_new(files, json_string(file));
            snprintf(path, sizeof path, "%s/%s", out, file);
            FILE *p = fopen(path, "rb");
            unsigned char head[24] = {0};
            good &= p && fread(head, 1, 24, p) == 24 && memcmp(head, "\x89PNG", 4) == 0 &&
                    (head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19]) == side &&
                    (head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23]) == side;
            if (p) fclose(p);
        }
        json_decref(o);
        n++;
    }
    fclose(f);
    CHECK(good, "%s: every line names a %lld px PNG", out, (long long)side);
    CHECK(strcmp(first, first_file) == 0, "%s: first file %s, expected %s", out, first, first_file);
    DIR *d = opendir(out);
    int64_t others = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "frames.jsonl") == 0)
            continue;
        int listed = 0;
        for (size_t i = 0; i < json_array_size(files) && !listed; i++)
            listed = strcmp(json_string_value(json_array_get(files, i)), e->d_name) == 0;
        others += !listed;
        CHECK(listed, "%s: %s is not in the index", out, e->d_name);
    }
    if (d) closedir(d);
    json_decref(files);
    return good && !others ? n : -1;
}

static void test_frames(void)
{
    char v0[64], v2[64];
    vtag_synth_video_name(0, v0, sizeof v0);
    vtag_synth_video_name(2, v2, sizeof v2);
    char p0[600], p2[600];
    snprintf(p0, sizeof p0, "%s", at(v0));
    snprintf(p2, sizeof p2, "%s", at(v2));
    const char *videos[] = {p0, at("videos/missing.mp4"), p2, p0};
    const char *out = at("frames/sub");
    vtag_frames_opts o;
    vtag_frames_opts_defaults(&o);
    CHECK(o.video.size == 224 && o.sampler.count == 16, "defaults: %lld px, uniform:%lld", (long long)o.video.size,
          (long long)o.sampler.count);
    o.sampler.count = 4, o.video.size = 16;
    reported r = {.in_order = 1};
    o.video_done = on_video, o.user = &r;
    vtag_frames_result res;
    vtag_error err = {0};
    int rc = vtag_frames_extract(videos, 4, out, &o, &res, &err);
    CHECK(rc == 0, "frames: %s", err.msg);
    CHECK(res.videos == 3 && res.failed == 1 && res.damaged == 0 && res.frames == 12,
          "result: %lld read, %lld failed, %lld damaged, %lld frames", (long long)res.videos, (long long)res.failed,
          (long long)res.damaged, (long long)res.frames);
    CHECK(r.calls == 4 && r.in_order && r.failed == 1 && r.frames_out == 12, "reports: %lld calls, %lld failed",
          (long long)r.calls, (long long)r.failed);
    CHECK(check_folder(out, 16, "000000_00000.png") == 12, "first run's folder");
    CHECK(access(at("frames/sub/000000-2_00003.png"), F_OK) == 0, "the repeated video's PNGs are 000000-2_*");

    /* a rerun with fewer, larger frames replaces every file of the first */
    o.sampler.count = 2, o.video.size = 24, o.video_done = NULL;
    rc = vtag_frames_extract(videos + 2, 1, out, &o, &res, &err);
    CHECK(rc == 0 && res.frames == 2, "rerun: rc %d, %lld frames: %s", rc, (long long)res.frames, err.msg);
    CHECK(check_folder(out, 24, "000002_00000.png") == 2, "the rerun's folder holds its 2 PNGs only");

    /* a video inside the folder is refused before anything is written */
    const char *inside[] = {p2, at("frames/sub/000002_00000.png")};
    CHECK(vtag_frames_find_inside(inside, 2, out) == 1, "find_inside");
    rc = vtag_frames_extract(inside, 2, out, &o, &res, &err);
    CHECK(rc == VTAG_ERR_ARG && strstr(err.msg, "000002_00000.png"), "inside: rc %d: %s", rc, err.msg);
    CHECK(check_folder(out, 24, "000002_00000.png") == 2, "the refused run left the folder as it was");
}

static void test_probe_line(void)
{
    char v0[64];
    vtag_synth_video_name(0, v0, sizeof v0);
    vtag_video_info info;
    vtag_error err = {0};
    char *line = NULL;
    int rc = vtag_video_probe(at(v0), &info, &err);
    CHECK(rc == 0, "probe: %s", err.msg);
    if (rc) return;
    rc = vtag_video_info_json("clip.mp4", &info, &line, &err);
    char want[512];
    snprintf(want, sizeof want,
             "{\"video\": \"clip.mp4\", \"container\": \"mov,mp4,m4a,3gp,3g2,mj2\", \"codec\": \"%s\", "
             "\"duration_seconds\": 0.8, \"frame_rate\": 10.0, \"width\": 64, \"height\": 64, \"rotation\": 0, "
             "\"display_width\": 64, \"display_height\": 64, \"frames\": 8, \"keyframes\": %lld, \"index\": \"full\"}",
             info.codec, (long long)info.keyframes);
    CHECK(rc == 0 && line && strcmp(line, want) == 0, "probe line:\n%s\nwant\n%s", line ? line : "(null)", want);
    free(line);
    rc = vtag_video_info_json("caf\xe9.mp4", &info, &line, &err);
    CHECK(rc == VTAG_ERR_FORMAT && !line && strstr(err.msg, "caf\\xe9.mp4: cannot encode the probe line"),
          "a name that is not UTF-8: rc %d: %s", rc, err.msg);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    vtag_video_set_log(VTAG_VIDEO_LOG_QUIET);
    if (make_corpus() == 0) {
        test_probe_line();
        test_frames();
        test_features();
        test_features_bad_video();
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary("run/test_extract");
}

/* A video's targets shared out between readers on threads of their own,
 * the backbone running on the batches as they fill (the tagger's default
 * with several threads, vtag_tagger_options.serial = 0), tags as one reader
 * followed by the backbone does (serial = 1): the same JSON line, byte for
 * byte, with 1, 2 and 3 threads, for uniform and fps samplers whose plan
 * seek for (almost) every target (checked: else the shared path would not run),
 * with several backbone batches and more targets than the readers' ring
 * holds (uniform:20, batches of 8, a ring of 16), and for a video that
 * cannot be read (the same error). Clips from the ffmpeg CLI, 64×48,
 * 10 s at 25 fps, a keyframe every 5 frames. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/builtin.h"
#include "vtag/caption.h"
#include "vtag/tag.h"
#include "vtag/tagger.h"
#include "vtag/video.h"

static const char VOCAB[] = "[\"red\",\"green\",\"blue\",\"shirt\",\"UNK\"]";
static char dir[] = "/tmp/vtag-test-tagger-shared-XXXXXX";

/* A built-in backbone of 16 px, 2 stages of 4 and 8 channels: fc 8, att 8 (K = 4). */
static int make_builtin(const char *path, vtag_error *err)
{
    vtag_builtin_config cfg;
    vtag_builtin_config_default(&cfg);
    cfg.size = 16, cfg.n_stages = 2;
    cfg.widths[0] = 4, cfg.widths[1] = 8;
    cfg.blocks[0] = 1, cfg.blocks[1] = 1;
    cfg.n_labels = 3;
    vtag_builtin m;
    int rc = vtag_builtin_init(&m, &cfg, NULL, err);
    if (rc) return rc;
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    vtag_builtin_init_weights(&m, &rng);
    rc = vtag_builtin_save(&m, path, err);
    vtag_builtin_free(&m);
    return rc;
}

/* A topdown model with random weights, large enough that captions follow the features; fc 8, att 8. */
static int make_checkpoint(const char *path, vtag_error *err)
{
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    cfg.type = VTAG_MODEL_TOPDOWN;
    cfg.vocab_size = 5, cfg.input_encoding_size = 6, cfg.rnn_size = 8, cfg.att_hid_size = 4;
    cfg.fc_feat_size = 8, cfg.att_feat_size = 8, cfg.max_length = 4;
    vtag_model m;
    int rc = vtag_model_init(&m, &cfg, err);
    if (rc) return rc;
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    vtag_model_init_weights(&m, &rng);
    for (int64_t i = 0; i < m.params.total; i++) m.params.value[i] *= 4.0f;
    int b = vtag_params_find(&m.params, "logit.bias");
    if (b >= 0)
        for (int64_t i = 1; i < m.params.items[b].numel; i++) m.params.value[m.params.items[b].offset + i] += 1.0f;
    rc = vtag_checkpoint_save(&m, VOCAB, path, err);
    vtag_model_free(&m);
    return rc;
}

/* The tag line of video with sampler spec, threads and serial (the error's text when it fails). */
static char *tag_line(const char *video, const char *spec, int threads, int serial)
{
    vtag_error err = {0};
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    o.sampler = &s, o.checkpoint = "model.safetensors", o.backbone = "backbone.safetensors", o.serial = serial;
    vtag_ctx ctx;
    vtag_tagger_t *t = NULL;
    vtag_tag_result r = {0};
    char *line = NULL;
    int rc = vtag_video_sampler_parse(&s, spec, &err);
    if (!rc) rc = vtag_ctx_init(&ctx, threads, 42, &err);
    if (!rc) {
        rc = vtag_tagger_open(&t, &ctx, &o, &err);
        if (!rc) rc = vtag_tagger_tag(t, &ctx, video, NULL, &r, NULL, &err);
        if (!rc) rc = vtag_tag_to_json(&r, &line, &err);
        vtag_tag_result_free(&r);
        vtag_tagger_close(&t);
        vtag_ctx_free(&ctx);
    }
    if (rc) {
        line = malloc(strlen(err.msg) + 8);
        if (line) sprintf(line, "error: %s", err.msg);
    }
    return line;
}

/* Whether seeking for every target decodes at most a quarter more than the
 * reader's plan for video (the tagger's condition for sharing it out). */
static int seeks_always(const char *video, const char *spec)
{
    vtag_error err = {0};
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    vtag_video_options vo;
    vtag_video_options_default(&vo);
    vo.size = 16;
    vtag_video_t *v = NULL;
    vtag_video_stats st = {0};
    if (vtag_video_sampler_parse(&s, spec, &err) || vtag_video_open(&v, video, &s, &vo, &err)) return 0;
    vtag_video_get_stats(v, &st);
    vtag_video_close(&v);
    return st.cost_seek >= 0 && st.cost_seek * 4 <= st.cost_plan * 5;
}

int main(void)
{
    if (!mkdtemp(dir) || chdir(dir)) {
        perror(dir);
        return 1;
    }
    vtag_error err = {0};
    CHECK(system("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=64x48:r=25:d=10 "
                 "-c:v libx264 -preset veryfast -g 5 -keyint_min 5 -sc_threshold 0 -pix_fmt yuv420p "
                 "clip.mp4") == 0,
          "ffmpeg made clip.mp4");
    CHECK(make_builtin("backbone.safetensors", &err) == 0, "backbone: %s", err.msg);
    CHECK(make_checkpoint("model.safetensors", &err) == 0, "checkpoint: %s", err.msg);

    static const char *const specs[] = {"uniform:20", "uniform:5", "fps:1.3"};
    for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
        CHECK(seeks_always("clip.mp4", specs[k]), "%s: the plan seeks for (almost) every target", specs[k]);
        char *want = tag_line("clip.mp4", specs[k], 2, 1);
        CHECK(want && strncmp(want, "error", 5) != 0, "%s: tagged: %s", specs[k], want ? want : "?");
        for (int threads = 1; threads <= 3; threads++) {
            char *got = tag_line("clip.mp4", specs[k], threads, 0);
            CHECK(got && want && strcmp(got, want) == 0, "%s, %d threads, shared:\n  got  %s\n  want %s", specs[k],
                  threads, got ? got : "?", want ? want : "?");
            free(got);
        }
        free(want);
    }
    char *want = tag_line("missing.mp4", "uniform:4", 2, 1), *got = tag_line("missing.mp4", "uniform:4", 2, 0);
    CHECK(want && got && strncmp(want, "error", 5) == 0 && strcmp(got, want) == 0, "a missing video: %s / %s",
          got ? got : "?", want ? want : "?");
    free(want);
    free(got);

    const char *files[] = {"clip.mp4", "backbone.safetensors", "model.safetensors", "model.novelty.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    if (chdir("/") == 0) rmdir(dir);
    return check_summary("tag/test_tagger_shared");
}

/* vtag_tagger_open loads the caption model on a thread of its own while it
 * opens the backbone when the context has threads to spare: the same model
 * bits, the same tag line, and the same error (the caption model's first, as
 * loading them in turn gives) as with one thread, for damaged checkpoints,
 * damaged backbones (an ONNX file of random bytes, a truncated safetensors)
 * and both at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/builtin.h"
#include "vtag/caption.h"
#include "vtag/tag.h"
#include "vtag/tagger.h"

static const char VOCAB[] = "[\"red\",\"green\",\"blue\",\"shirt\",\"UNK\"]";
static char dir[] = "/tmp/vtag-test-tagger-load-XXXXXX";

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

/* Opens a tagger of checkpoint and backbone with threads; *line: its tag
 * line of video, or "error: ..." (open's or tagging's); *params: a copy of
 * the caption model's parameters (NULL on an error). */
static void open_tag(const char *checkpoint, const char *backbone, int threads, const char *video, char **line,
                     float **params, int64_t *n)
{
    vtag_error err = {0};
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    o.checkpoint = checkpoint, o.backbone = backbone;
    vtag_ctx ctx;
    vtag_tagger_t *t = NULL;
    vtag_tag_result r = {0};
    *line = NULL, *params = NULL, *n = 0;
    int rc = vtag_ctx_init(&ctx, threads, 42, &err);
    if (!rc) {
        rc = vtag_tagger_open(&t, &ctx, &o, &err);
        if (!rc) {
            const vtag_params *p = &vtag_tagger_model(t)->params;
            if ((*params = malloc((size_t)p->total * sizeof(float)))) {
                memcpy(*params, p->value, (size_t)p->total * sizeof(float));
                *n = p->total;
            }
        }
        if (!rc) rc = vtag_tagger_tag(t, &ctx, video, NULL, &r, NULL, &err);
        if (!rc) rc = vtag_tag_to_json(&r, line, &err);
        vtag_tag_result_free(&r);
        vtag_tagger_close(&t);
        vtag_ctx_free(&ctx);
    }
    if (rc) {
        free(*params);
        *params = NULL, *n = 0;
        *line = malloc(strlen(err.msg) + 8);
        if (*line) sprintf(*line, "error: %s", err.msg);
    }
}

/* The tagger of checkpoint and backbone with 2 and 3 threads against 1; want: a
 * piece of the line (the error's text) that must be in it. */
static void same(const char *checkpoint, const char *backbone, const char *want)
{
    char *l1, *l2;
    float *p1, *p2;
    int64_t n1, n2;
    open_tag(checkpoint, backbone, 1, "clip.mp4", &l1, &p1, &n1);
    CHECK(l1 && strstr(l1, want), "%s + %s, 1 thread: %s (want %s)", checkpoint, backbone, l1 ? l1 : "?", want);
    for (int threads = 2; threads <= 3; threads++) {
        open_tag(checkpoint, backbone, threads, "clip.mp4", &l2, &p2, &n2);
        CHECK(l1 && l2 && strcmp(l1, l2) == 0, "%s + %s, %d threads:\n  got  %s\n  want %s", checkpoint, backbone,
              threads, l2 ? l2 : "?", l1 ? l1 : "?");
        CHECK(n1 == n2 && (!n1 || memcmp(p1, p2, (size_t)n1 * sizeof(float)) == 0),
              "%s, %d threads: the caption model's %lld parameters differ from one thread's (%lld)", checkpoint,
              threads, (long long)n2, (long long)n1);
        free(l2);
        free(p2);
    }
    free(l1);
    free(p1);
}

static int write_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const size_t w = fwrite(b, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

/* The first n bytes of src into dst. */
static int truncate_copy(const char *src, const char *dst, size_t n)
{
    FILE *f = fopen(src, "rb");
    char *b = malloc(n);
    const size_t got = f && b ? fread(b, 1, n, f) : 0;
    if (f) fclose(f);
    const int rc = got == n ? write_bytes(dst, b, n) : -1;
    free(b);
    return rc;
}

int main(void)
{
    if (!mkdtemp(dir) || chdir(dir)) {
        perror(dir);
        return 1;
    }
    vtag_error err = {0};
    CHECK(system("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i testsrc2=s=64x48:r=25:d=2 "
                 "-c:v libx264 -preset veryfast -g 5 -pix_fmt yuv420p clip.mp4") == 0,
          "ffmpeg made clip.mp4");
    CHECK(make_builtin("backbone.safetensors", &err) == 0, "backbone: %s", err.msg);
    CHECK(make_checkpoint("model.safetensors", &err) == 0, "checkpoint: %s", err.msg);
    unsigned char junk[1000];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 131u + 7u);
    CHECK(write_bytes("junk.onnx", junk, sizeof junk) == 0, "junk.onnx written");
    CHECK(write_bytes("junk.safetensors", "not a checkpoint", 16) == 0, "junk.safetensors written");
    CHECK(truncate_copy("backbone.safetensors", "cut.safetensors", 300) == 0, "cut.safetensors written");

    same("model.safetensors", "backbone.safetensors", "\"tags\"");
    same("junk.safetensors", "backbone.safetensors", "error: junk.safetensors: ");
    same("model.safetensors", "junk.onnx", "error: junk.onnx: not an ONNX model");
    same("model.safetensors", "cut.safetensors", "error: cut.safetensors: ");
    same("junk.safetensors", "junk.onnx", "error: junk.safetensors: ");
    same("missing.safetensors", "cut.safetensors", "error: missing.safetensors: ");

    const char *files[] = {"clip.mp4", "backbone.safetensors", "model.safetensors", "junk.onnx", "junk.safetensors",
                           "cut.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    if (chdir("/") == 0) rmdir(dir);
    return check_summary("tag/test_tagger_load");
}

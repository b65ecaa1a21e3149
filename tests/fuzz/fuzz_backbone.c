/* Fuzz target: the built-in backbone's files (src/backbone/builtin_file.c) —
 * the model vtag features and vtag backbone predict open, and the training
 * state vtag backbone train --resume reads — and the backbone handle that
 * picks a reader by the file's contents (src/backbone/backbone.c). A small
 * accepted model is folded for inference and run on one frame. */
#include <string.h>

#include "fuzz.h"
#include "fuzz_seeds.h"
#include "vtag/backbone.h"
#include "vtag/builtin.h"

/* The harness's cap on the models it runs (the library's limits are under
 * test; this keeps one input cheap). */
#define SMALL_SIZE 32
#define SMALL_WIDTH 32
#define SMALL_LABELS 64

static int small_model(const vtag_builtin_config *c)
{
    if (c->size > SMALL_SIZE || c->n_labels > SMALL_LABELS) return 0;
    for (int s = 0; s < c->n_stages; s++)
        if (c->widths[s] > SMALL_WIDTH || c->blocks[s] > 2) return 0;
    return 1;
}

static void run_one_frame(const vtag_builtin *m)
{
    vtag_ctx ctx;
    vtag_error err = {0};
    if (vtag_ctx_init(&ctx, 1, 1, &err)) return;
    vtag_builtin_infer inf;
    if (!vtag_builtin_infer_build(&inf, m, &err)) {
        const vtag_builtin_config *c = &m->cfg;
        int64_t side = vtag_builtin_out_side(c), d = c->widths[c->n_stages - 1];
        float images[3 * SMALL_SIZE * SMALL_SIZE], fc[SMALL_WIDTH], probs[SMALL_LABELS];
        float *att = malloc((size_t)(side * side * d) * sizeof *att);
        for (int64_t i = 0; i < 3 * c->size * c->size; i++) images[i] = (float)(i % 11) / 5.0f - 1.0f;
        if (att) (void)vtag_builtin_infer_run(&ctx, &inf, images, 1, fc, att, probs, &err);
        free(att);
        vtag_builtin_infer_free(&inf);
    }
    vtag_ctx_free(&ctx);
}

static void check_model(const char *path)
{
    vtag_builtin m;
    vtag_error err = {0};
    if (vtag_builtin_load(&m, path, &err)) return;
    free(vtag_builtin_describe(&m));
    if (small_model(&m.cfg)) run_one_frame(&m);
    vtag_builtin_free(&m);
}

/* --resume into the run's model: the seeds are states of fuzz_builtin_config. */
static void check_state(const char *path)
{
    vtag_builtin_config cfg;
    fuzz_builtin_config(&cfg);
    vtag_builtin m;
    vtag_error err = {0};
    if (vtag_builtin_init(&m, &cfg, fuzz_builtin_labels(), &err)) return;
    vtag_adam adam;
    vtag_adam_init(&adam);
    vtag_rng rng;
    vtag_rng_seed(&rng, 1);
    int epoch = 0;
    double best = 0;
    (void)vtag_builtin_state_load(&m, &adam, &rng, &epoch, &best, path, &err);
    vtag_builtin_free(&m);
}

static void check_handle(const char *path)
{
    vtag_backbone_options o;
    vtag_backbone_options_default(&o);
    o.max_batch = 1;
    vtag_backbone_t *b = NULL;
    vtag_error err = {0};
    if (vtag_backbone_open(&b, path, &o, &err)) return;
    (void)vtag_backbone_get_info(b);
    vtag_backbone_close(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_path(path, sizeof path, ".safetensors");
    fuzz_write(path, data, size);
    check_model(path);
    check_state(path);
    check_handle(path);
    unlink(path);
    return 0;
}

/* Fuzz target: safetensors files (src/core/safetensors.c) and everything vtag
 * reads through them from a user's path: features files (src/data/features.c),
 * caption checkpoints with their vocabulary, and the training state that
 * --resume reads (src/caption/checkpoint.c). A small accepted checkpoint also
 * captions one row, as vtag caption would. */
#include <string.h>

#include "fuzz.h"
#include "vtag/caption.h"
#include "vtag/data.h"
#include "vtag/safetensors.h"

/* The harness's own cap on every model size it builds or decodes with: the
 * library's limits are what is under test, this only keeps one input cheap. */
#define SMALL 64

/* Reads every byte handed out, so that ASan sees any read past the file. */
static size_t sum_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

static void check_safetensors(const char *path)
{
    vtag_st_file f;
    vtag_error err = {0};
    if (vtag_st_open(&f, path, &err)) return;
    size_t sink = 0;
    for (int i = 0; i < f.count; i++) {
        const vtag_st_tensor *t = &f.tensors[i];
        int64_t numel = 0;
        if (t->ndim < 0 || t->ndim > VTAG_MAX_DIMS || vtag_shape_numel(t->shape, t->ndim, &numel) ||
            numel != t->numel || (size_t)t->numel * vtag_dtype_size(t->dtype) != t->nbytes) {
            fprintf(stderr, "fuzz_checkpoint: tensor %d: shape, numel and nbytes disagree\n", i);
            abort();
        }
        sink += sum_bytes(t->data, t->nbytes) + strlen(t->name);
        if (vtag_st_find(&f, t->name) == NULL) abort();
    }
    for (int i = 0; i < f.meta_count; i++) sink += strlen(f.meta_keys[i]) + strlen(f.meta_values[i]);
    fuzz_keep(sink);
    vtag_st_close(&f);
}

static void check_features(const char *path)
{
    vtag_data_features f;
    vtag_error err = {0};
    if (vtag_data_read_features(&f, path, &err)) return;
    size_t sink = 0;
    if (f.fc) sink += sum_bytes(f.fc, (size_t)(f.n * f.fc_dim) * sizeof(float));
    if (f.att) sink += sum_bytes(f.att, (size_t)(f.n * f.att_k * f.att_dim) * sizeof(float));
    for (int64_t i = 0; i < f.n; i++) sink += strlen(f.items[i]);
    if (f.backbone) sink += strlen(f.backbone);
    fuzz_keep(sink);
    vtag_data_free_features(&f);
}

static int small_config(const vtag_model_config *c)
{
    return c->vocab_size <= SMALL && c->input_encoding_size <= SMALL && c->rnn_size <= SMALL &&
           c->att_hid_size <= SMALL && c->fc_feat_size <= SMALL && c->att_feat_size <= SMALL &&
           c->max_length <= SMALL;
}

/* Greedy and beam decoding of one row of constant features. */
static void caption_one(vtag_model *m)
{
    const vtag_model_config *c = &m->cfg;
    vtag_ctx ctx;
    vtag_error err = {0};
    if (vtag_ctx_init(&ctx, 1, 1, &err)) return;
    enum { K = 2 };
    float fc[SMALL], att[K * SMALL];
    int32_t seq[2 * SMALL], len[2];
    for (int i = 0; i < SMALL; i++) fc[i] = 0.25f * (float)(i % 5);
    for (int i = 0; i < K * SMALL; i++) att[i] = 0.5f - 0.125f * (float)(i % 7);
    vtag_batch b = {.b = 1, .k = K, .fc = c->fc_feat_size ? fc : NULL, .att = c->att_feat_size ? att : NULL};
    vtag_decode_opts o = {.mode = VTAG_DECODE_GREEDY, .beam_size = 2, .temperature = 1.0f};
    if (!vtag_model_decode(&ctx, m, &b, &o, seq, NULL, len, &err)) {
        vtag_arena_reset(&ctx.arena);
        o.mode = VTAG_DECODE_BEAM;
        (void)vtag_model_decode(&ctx, m, &b, &o, seq, NULL, len, &err);
    }
    vtag_ctx_free(&ctx);
}

static void check_checkpoint(const char *path)
{
    vtag_model m;
    char *vocab_json = NULL;
    vtag_error err = {0};
    if (vtag_checkpoint_load(&m, &vocab_json, path, &err)) return;
    vtag_data_vocab v;
    if (!vtag_data_decode_vocab(&v, vocab_json, path, &err)) vtag_data_free_vocab(&v);
    if (small_config(&m.cfg)) caption_one(&m);
    free(vocab_json);
    vtag_model_free(&m);
}

/* --resume: a model of the file's own configuration (as small as the harness
 * allows) takes the state. */
static void check_train_state(const char *path)
{
    vtag_st_file f;
    vtag_error err = {0};
    if (vtag_st_open(&f, path, &err)) return;
    const char *cj = vtag_st_meta(&f, "vtag.config");
    vtag_model_config cfg;
    int ok = cj && !vtag_model_config_from_json(&cfg, cj, &err) && small_config(&cfg);
    vtag_st_close(&f);
    if (!ok) return;
    vtag_model m;
    if (vtag_model_init(&m, &cfg, &err)) return;
    vtag_train_state s;
    memset(&s, 0, sizeof s);
    (void)vtag_train_state_load(&m, &s, path, &err);
    vtag_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_path(path, sizeof path, ".safetensors");
    fuzz_write(path, data, size);
    check_safetensors(path);
    check_features(path);
    check_checkpoint(path);
    check_train_state(path);
    unlink(path);
    return 0;
}

/* Writes the binary seeds of the fuzz targets with the library's own writers
 * (tests/fuzz/make_seeds.sh runs it): small built-in backbone model and
 * training state, caption checkpoints of the three model types, a caption
 * training state and a features file. usage: fuzz_make_seeds CORPUS_DIR */
#include <stdio.h>
#include <string.h>

#include "fuzz_seeds.h"
#include "vtag/data.h"

static int fail(const vtag_error *err)
{
    fprintf(stderr, "fuzz_make_seeds: %s\n", err->msg);
    return 1;
}

static int backbone_seeds(const char *dir)
{
    char path[4096];
    vtag_builtin_config cfg;
    fuzz_builtin_config(&cfg);
    vtag_builtin m;
    vtag_error err = {0};
    if (vtag_builtin_init(&m, &cfg, fuzz_builtin_labels(), &err)) return fail(&err);
    vtag_rng rng;
    vtag_rng_seed(&rng, 1);
    vtag_builtin_init_weights(&m, &rng);
    vtag_adam adam;
    vtag_adam_init(&adam);
    adam.step = 3;
    snprintf(path, sizeof path, "%s/backbone/model.safetensors", dir);
    int rc = vtag_builtin_save(&m, path, &err);
    snprintf(path, sizeof path, "%s/backbone/state.safetensors", dir);
    if (!rc) rc = vtag_builtin_state_save(&m, &adam, &rng, 2, 0.5, path, &err);
    vtag_builtin_free(&m);
    return rc ? fail(&err) : 0;
}

static int caption_seeds(const char *dir)
{
    static const char vocab[] = "[\"red\",\"green\",\"blue\",\"shirt\",\"UNK\"]";
    const vtag_model_type types[3] = {VTAG_MODEL_FC, VTAG_MODEL_ATT2IN, VTAG_MODEL_TOPDOWN};
    char path[4096];
    vtag_error err = {0};
    vtag_rng rng;
    vtag_rng_seed(&rng, 2);
    for (int t = 0; t < 3; t++) {
        vtag_model_config cfg;
        fuzz_caption_config(&cfg, types[t]);
        vtag_model m;
        if (vtag_model_init(&m, &cfg, &err)) return fail(&err);
        vtag_model_init_weights(&m, &rng);
        snprintf(path, sizeof path, "%s/checkpoint/%s.safetensors", dir, vtag_model_type_name(types[t]));
        int rc = vtag_checkpoint_save(&m, vocab, path, &err);
        if (!rc && types[t] == VTAG_MODEL_FC) {
            vtag_train_state s;
            memset(&s, 0, sizeof s);
            vtag_adam_init(&s.adam);
            s.epoch = 2, s.adam.step = 4, s.rng_state = 12345, s.best_score = 0.25, s.best_epoch = 1;
            snprintf(path, sizeof path, "%s/checkpoint/state_fc.safetensors", dir);
            rc = vtag_train_state_save(&m, &s, vocab, path, &err);
        }
        vtag_model_free(&m);
        if (rc) return fail(&err);
    }
    /* features: 2 rows, fc [2, 3], att [2, 2, 3] */
    static const float fc[6] = {0.5f, 1, 0, 0.25f, 2, 1}, att[12] = {1, 0, 0.5f, 2, 1, 0, 0, 0, 1, 0.75f, 1, 3};
    static const char *const items[2] = {"v1.mp4", "v2.mp4"};
    vtag_data_features f = {.n = 2, .fc_dim = 3, .att_k = 2, .att_dim = 3, .fc = fc, .att = att, .items = items,
                            .backbone = "fuzz-seed"};
    snprintf(path, sizeof path, "%s/checkpoint/features.safetensors", dir);
    if (vtag_data_write_features(&f, path, &err)) return fail(&err);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR (with backbone/ and checkpoint/ in it)\n");
        return 2;
    }
    return backbone_seeds(argv[1]) || caption_seeds(argv[1]);
}

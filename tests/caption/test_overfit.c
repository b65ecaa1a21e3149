/* Overfitting (issue 3, point 2): on 40 items with random features and random
 * captions of 3-8 labels, each model must reproduce at least 95% of the
 * training captions exactly by greedy decoding. Also checks that a
 * checkpoint round trip keeps the captions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/caption.h"

enum { N = 40, K = 4, DFC = 32, DATT = 16, V = 30, L = 8 };

int main(void)
{
    static float fc[N * DFC], att[N * K * DATT];
    static int32_t labels[N * L];
    vtag_rng rng;
    vtag_rng_seed(&rng, 4040);
    for (int i = 0; i < N * DFC; i++) fc[i] = vtag_rng_normal(&rng);
    for (int i = 0; i < N * K * DATT; i++) att[i] = vtag_rng_normal(&rng);
    for (int i = 0; i < N; i++) {
        int len = 3 + (int)(vtag_rng_next(&rng) % 6);
        for (int t = 0; t < len; t++) {
            int32_t id;
            int dup;
            do { /* distinct labels, as captions are */
                id = 1 + (int32_t)(vtag_rng_next(&rng) % V);
                dup = 0;
                for (int q = 0; q < t; q++) dup |= labels[i * L + q] == id;
            } while (dup);
            labels[i * L + t] = id;
        }
    }
    const vtag_rows rows = {N, K, fc, att, labels};
    for (int type = 0; type < 3; type++) {
        vtag_ctx ctx;
        vtag_ctx_init(&ctx, 2, 17, NULL);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = V;
        cfg.input_encoding_size = cfg.rnn_size = cfg.att_hid_size = 64;
        cfg.fc_feat_size = DFC;
        cfg.att_feat_size = DATT;
        cfg.max_length = L;
        cfg.drop_prob_lm = 0.0f;
        vtag_model m;
        vtag_error err = {0};
        CHECK(vtag_model_init(&m, &cfg, &err) == 0, "init: %s", err.msg);
        vtag_model_init_weights(&m, &ctx.rng);
        vtag_adam adam;
        vtag_adam_init(&adam);
        vtag_xe_opts o;
        vtag_xe_opts_defaults(&o);
        o.batch_size = 10;
        o.lr = 5e-3f;
        o.lr_decay_start = -1;
        vtag_epoch_stats st = {0};
        int epoch;
        int32_t seq[N * L], len[N];
        int exact = 0;
        vtag_decode_opts greedy = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        for (epoch = 0; epoch < 300; epoch++) {
            CHECK(vtag_train_xe_epoch(&ctx, &m, &adam, &rows, &o, epoch, &st, NULL, NULL, &err) == 0, "epoch: %s", err.msg);
            if (epoch % 10 != 9) continue;
            CHECK(vtag_caption_rows(&ctx, &m, &rows, &greedy, 16, seq, NULL, len, &err) == 0, "caption: %s", err.msg);
            exact = 0;
            for (int i = 0; i < N; i++) exact += memcmp(seq + i * L, labels + i * L, sizeof(int32_t) * L) == 0;
            if (exact >= 39) break;
        }
        printf("%s: %d/%d captions exact after %d epochs (loss %.4f)\n", vtag_model_type_name(cfg.type), exact, N,
               epoch + 1, st.loss);
        CHECK(exact * 100 >= 95 * N, "%s reproduces only %d of %d captions", vtag_model_type_name(cfg.type), exact, N);

        /* A checkpoint round trip gives the same captions. */
        CHECK(vtag_checkpoint_save(&m, "[\"a\"]", "overfit.safetensors", &err) == 0, "save: %s", err.msg);
        vtag_model m2;
        char *vocab = NULL;
        CHECK(vtag_checkpoint_load(&m2, &vocab, "overfit.safetensors", &err) == 0, "load: %s", err.msg);
        int32_t seq2[N * L];
        CHECK(vtag_caption_rows(&ctx, &m2, &rows, &greedy, 16, seq2, NULL, NULL, &err) == 0, "caption: %s", err.msg);
        CHECK(memcmp(seq, seq2, sizeof seq) == 0, "checkpoint round trip changed the captions");
        CHECK(vocab && strcmp(vocab, "[\"a\"]") == 0, "vocab metadata");
        free(vocab);
        vtag_model_free(&m2);
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
    return check_summary("overfit");
}

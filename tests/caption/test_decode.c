/* Decoding: the step-by-step path agrees with teacher forcing, beam k = 1
 * equals greedy, beam k = 3 is never below greedy's sequence log-probability,
 * and no mode emits a label twice. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/caption.h"

enum { B = 20, K = 5, L = 6, V = 9 };

static int has_duplicate(const int32_t *s, int32_t n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (s[i] == s[j]) return 1;
    return 0;
}

static double seq_score(const float *lp, int32_t len)
{
    double s = 0;
    for (int t = 0; t <= len; t++) s += lp[t];
    return s;
}

int main(void)
{
    static float fc[B * 11], att[B * K * 7];
    vtag_rng rng;
    vtag_rng_seed(&rng, 99);
    for (int i = 0; i < B * 11; i++) fc[i] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int i = 0; i < B * K * 7; i++) att[i] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int type = 0; type < 3; type++) {
        vtag_ctx ctx;
        vtag_ctx_init(&ctx, 2, 7, NULL);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = V;
        cfg.input_encoding_size = 8;
        cfg.rnn_size = 10;
        cfg.att_hid_size = 6;
        cfg.fc_feat_size = 11;
        cfg.att_feat_size = 7;
        cfg.max_length = L;
        vtag_model m;
        vtag_error err = {0};
        CHECK(vtag_model_init(&m, &cfg, &err) == 0, "init: %s", err.msg);
        /* Peaked distributions: big weights, a logit bias favouring labels over EOS. */
        for (int64_t i = 0; i < m.params.total; i++) m.params.value[i] = 1.2f * (2 * vtag_rng_uniform(&rng) - 1);
        float *lb = vtag_params_value(&m.params, vtag_params_find(&m.params, "logit.bias"));
        lb[0] -= 1.5f;
        const char *name = vtag_model_type_name(cfg.type);
        vtag_batch bt = {B, K, fc, att, NULL};
        int32_t g[B * L], gl[B], s2[B * L], l2[B];
        float glp[B * (L + 1)], lp2[B * (L + 1)];
        vtag_decode_opts greedy = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        CHECK(vtag_model_decode(&ctx, &m, &bt, &greedy, g, glp, gl, &err) == 0, "%s greedy: %s", name, err.msg);
        int dup = 0, full = 0;
        for (int b = 0; b < B; b++) dup += has_duplicate(g + b * L, gl[b]), full += gl[b] == L;
        CHECK(dup == 0, "%s: greedy emitted a label twice", name);

        /* Teacher forcing on the greedy captions gives the same log-probabilities. */
        vtag_arena_reset(&ctx.arena);
        float *lp = malloc(sizeof(float) * B * (L + 1) * (V + 1));
        bt.labels = g;
        double loss;
        CHECK(vtag_model_xe(&ctx, &m, &bt, 0, 0, &loss, lp, &err) == 0, "%s xe: %s", name, err.msg);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t <= gl[b]; t++) {
                int32_t tok = t < gl[b] ? g[b * L + t] : 0;
                double d = fabs(lp[(b * (L + 1) + t) * (V + 1) + tok] - glp[b * (L + 1) + t]);
                worst = d > worst ? d : worst;
            }
        CHECK(worst < 1e-4, "%s: step-by-step vs teacher-forced logprob differ by %g", name, worst);
        bt.labels = NULL;
        free(lp);

        /* Beam 1 == greedy. */
        vtag_decode_opts beam = {VTAG_DECODE_BEAM, 1, 1.0f, 0};
        vtag_arena_reset(&ctx.arena);
        CHECK(vtag_model_decode(&ctx, &m, &bt, &beam, s2, lp2, l2, &err) == 0, "%s beam1: %s", name, err.msg);
        CHECK(memcmp(s2, g, sizeof g) == 0 && memcmp(l2, gl, sizeof gl) == 0, "%s: beam 1 differs from greedy", name);
        worst = 0;
        for (int i = 0; i < B * (L + 1); i++) worst = fmax(worst, fabs(lp2[i] - glp[i]));
        CHECK(worst < 1e-5, "%s: beam 1 logprobs differ from greedy by %g", name, worst);

        /* Beam 3 is never below greedy, and emits no duplicates. */
        beam.beam_size = 3;
        vtag_arena_reset(&ctx.arena);
        CHECK(vtag_model_decode(&ctx, &m, &bt, &beam, s2, lp2, l2, &err) == 0, "%s beam3: %s", name, err.msg);
        int below = 0, better = 0;
        dup = 0;
        for (int b = 0; b < B; b++) {
            double sb = seq_score(lp2 + b * (L + 1), l2[b]), sg = seq_score(glp + b * (L + 1), gl[b]);
            below += sb < sg - 1e-9;
            better += sb > sg + 1e-6;
            dup += has_duplicate(s2 + b * L, l2[b]);
        }
        CHECK(below == 0, "%s: beam 3 below greedy on %d of %d items", name, below, B);
        CHECK(dup == 0, "%s: beam 3 emitted a label twice", name);
        printf("%s: greedy full-length %d/%d, beam 3 better than greedy on %d/%d items\n", name, full, B, better, B);

        /* Sampling: reproducible from the seed, no duplicates, dropout allowed. */
        vtag_decode_opts sample = {VTAG_DECODE_SAMPLE, 1, 1.0f, 1};
        int32_t s3[B * L], l3[B];
        vtag_rng saved = ctx.rng;
        vtag_arena_reset(&ctx.arena);
        CHECK(vtag_model_decode(&ctx, &m, &bt, &sample, s2, NULL, l2, &err) == 0, "%s sample: %s", name, err.msg);
        ctx.rng = saved;
        vtag_arena_reset(&ctx.arena);
        vtag_model_decode(&ctx, &m, &bt, &sample, s3, NULL, l3, &err);
        CHECK(memcmp(s2, s3, sizeof s2) == 0, "%s: sampling is not reproducible", name);
        dup = 0;
        for (int b = 0; b < B; b++) dup += has_duplicate(s2 + b * L, l2[b]);
        CHECK(dup == 0, "%s: sampling emitted a label twice", name);
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
    return check_summary("decode");
}

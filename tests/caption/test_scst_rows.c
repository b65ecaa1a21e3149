/* SCST's sampling pass and backward on the rows still sampling only (caption_scst_sample /
 * caption_scst_backward with every_row = 0, what vtag_scst_sample / vtag_scst_backward do) against the
 * same pass stepping every row at every position (every_row = 1), dropout on, for fc, att2in and
 * topdown: the same samples, the same loss and the same gradients within 1e-5 relative, on a batch whose
 * rows finish at different steps — forced captions of every length from EOS only to max_length, and
 * free sampling from a small vocabulary, where rows end early at random. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption/caption_internal.h"
#include "check.h"

enum { NI = 3, NS = 4, NB = NI * NS, L = 6, K = 3, FC = 9, ATT = 6 };

typedef struct run_out {
    int32_t seq[NB * L], len[NB];
    double loss;
    float *grad; /* [params.total] */
} run_out;

/* One sampling pass and its backward from RNG seed `seed`. */
static void run(vtag_ctx *ctx, vtag_model *m, const vtag_batch *images, const int32_t *forced, const float *adv,
                int every_row, uint64_t seed, run_out *o)
{
    vtag_error err = {0};
    vtag_scst_tape *tape = NULL;
    vtag_rng_seed(&ctx->rng, seed);
    vtag_arena_reset(&ctx->arena);
    vtag_params_zero_grad(&m->params);
    int rc = caption_scst_sample(ctx, m, images, NS, 1, forced, every_row, &tape, o->seq, o->len, &err);
    if (!rc) rc = caption_scst_backward(ctx, m, tape, adv, every_row, &o->loss, &err);
    CHECK(rc == 0, "every_row %d: %s", every_row, err.msg);
    memcpy(o->grad, m->params.grad, (size_t)m->params.total * sizeof(float));
}

/* The two runs agree: samples exactly, loss and each gradient within 1e-5 of the largest. Returns how
 * many rows ended before max_length. */
static int compare(const char *what, const vtag_model *m, const run_out *all, const run_out *live)
{
    CHECK(memcmp(all->seq, live->seq, sizeof all->seq) == 0 && memcmp(all->len, live->len, sizeof all->len) == 0,
          "%s: the samples differ", what);
    CHECK(fabs(live->loss - all->loss) <= 1e-5 * fabs(all->loss) + 1e-12, "%s: loss %.9g, stepping every row %.9g",
          what, live->loss, all->loss);
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < m->params.total; i++) {
        worst = fmax(worst, fabs((double)live->grad[i] - all->grad[i]));
        scale = fmax(scale, fabs((double)all->grad[i]));
    }
    CHECK(scale > 0, "%s: every gradient is 0 (a weak comparison)", what);
    CHECK(worst <= 1e-5 * scale, "%s: gradients off by %g (largest %g)", what, worst, scale);
    int early = 0;
    for (int b = 0; b < NB; b++) early += live->len[b] < L;
    printf("%s: loss %.9f vs %.9f, max grad diff %.2e of %.2e, %d of %d rows ended early\n", what, live->loss,
           all->loss, worst, scale, early, NB);
    return early;
}

int main(void)
{
    static float fc[NI * FC], att[NI * K * ATT];
    /* Rows finishing at every step: EOS only, 1 … L-1 labels, and max_length (EOS forced after L). */
    static const int32_t forced[NB * L] = {
        3, 1, 4, 0, 0, 0, /**/ 5, 2, 6, 7, 1, 4, /**/ 0, 0, 0, 0, 0, 0, /**/ 2, 7, 0, 0, 0, 0,
        6, 0, 0, 0, 0, 0, /**/ 1, 5, 3, 2, 0, 0, /**/ 4, 6, 1, 7, 3, 0, /**/ 7, 0, 0, 0, 0, 0,
        2, 3, 4, 5, 6, 7, /**/ 1, 2, 0, 0, 0, 0, /**/ 5, 0, 0, 0, 0, 0, /**/ 3, 4, 5, 0, 0, 0};
    static float adv[NB];
    vtag_rng rng;
    vtag_rng_seed(&rng, 91);
    for (int i = 0; i < NI * FC; i++) fc[i] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int i = 0; i < NI * K * ATT; i++) att[i] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int b = 0; b < NB; b++) adv[b] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int type = 0; type < 3; type++) {
        vtag_ctx ctx;
        vtag_model m;
        vtag_error err = {0};
        CHECK(vtag_ctx_init(&ctx, 2, 1, &err) == 0, "ctx: %s", err.msg);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = 7;
        cfg.input_encoding_size = 5;
        cfg.rnn_size = 6;
        cfg.att_hid_size = 4;
        cfg.fc_feat_size = FC;
        cfg.att_feat_size = ATT;
        cfg.max_length = L;
        CHECK(vtag_model_init(&m, &cfg, &err) == 0, "init: %s", err.msg);
        const char *name = vtag_model_type_name(cfg.type);
        for (int64_t i = 0; i < m.params.total; i++) m.params.value[i] = 0.6f * (2 * vtag_rng_uniform(&rng) - 1);
        const vtag_batch images = {NI, K, fc, att, NULL};
        run_out all, live;
        all.grad = malloc((size_t)m.params.total * sizeof(float));
        live.grad = malloc((size_t)m.params.total * sizeof(float));
        char what[80];

        snprintf(what, sizeof what, "%s, forced captions", name);
        run(&ctx, &m, &images, forced, adv, 1, 5, &all);
        run(&ctx, &m, &images, forced, adv, 0, 5, &live);
        compare(what, &m, &all, &live);

        /* Free sampling: 7 labels, so rows end early at random; the random stream must stay the same
         * (dropout masks over every row, one uniform per live row) for the samples to match. */
        int early = 0;
        for (uint64_t seed = 1; seed <= 5; seed++) {
            snprintf(what, sizeof what, "%s, sampled, seed %llu", name, (unsigned long long)seed);
            run(&ctx, &m, &images, NULL, adv, 1, seed, &all);
            run(&ctx, &m, &images, NULL, adv, 0, seed, &live);
            early += compare(what, &m, &all, &live);
        }
        CHECK(early > 0, "%s: no sampled row ended early (a weak comparison)", name);

        /* The public pair is the live-rows one. */
        {
            vtag_scst_tape *tape = NULL;
            run_out pub;
            pub.grad = all.grad;
            vtag_rng_seed(&ctx.rng, 5);
            vtag_arena_reset(&ctx.arena);
            vtag_params_zero_grad(&m.params);
            CHECK(vtag_scst_sample(&ctx, &m, &images, NS, 1, forced, &tape, pub.seq, pub.len, &err) == 0, "%s", err.msg);
            CHECK(vtag_scst_backward(&ctx, &m, tape, adv, &pub.loss, &err) == 0, "%s", err.msg);
            memcpy(pub.grad, m.params.grad, (size_t)m.params.total * sizeof(float));
            run(&ctx, &m, &images, forced, adv, 0, 5, &live);
            CHECK(pub.loss == live.loss && memcmp(pub.grad, live.grad, (size_t)m.params.total * sizeof(float)) == 0,
                  "%s: vtag_scst_sample/backward differ from the live-rows pass", name);
        }
        free(all.grad);
        free(live.grad);
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
    return check_summary("caption_test_scst_rows");
}

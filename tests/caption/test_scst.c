/* SCST pieces against values worked out by hand (advantages, the policy-gradient loss and its gradient,
 * rewards with EOS as a token, option checks), vtag_model_xe_weighted by finite differences, and the
 * sampling pass with a tape (vtag_scst_sample / vtag_scst_backward): its samples against
 * vtag_model_decode's, its loss and gradients against vtag_model_xe_weighted on the images repeated,
 * and by finite differences with dropout on (the gradient under the sampling pass's own masks). */
#include <stdlib.h>
#include <string.h>

#include "../nn/gradcheck.h"
#include "vtag/caption.h"
#include "vtag/nn.h"
#include "vtag/scst.h"

/* ---- advantages ---------------------------------------------------------------------------------- */

static void test_advantages(void)
{
    /* Two images, n = 3 samples each. Image 0: rewards 1, 2, 4, greedy 1.5; image 1: 0, 0, 3, greedy 1. */
    const double reward[6] = {1, 2, 4, 0, 0, 3}, greedy[2] = {1.5, 1};
    float adv[6];
    /* greedy baseline, r − greedy[i]: 1 − 1.5 = −0.5, 2 − 1.5 = 0.5, 4 − 1.5 = 2.5; 0 − 1 = −1, −1, 3 − 1 = 2 */
    const float want_greedy[6] = {-0.5f, 0.5f, 2.5f, -1.0f, -1.0f, 2.0f};
    vtag_scst_advantages(reward, greedy, 2, 3, VTAG_SCST_BASELINE_GREEDY, adv);
    for (int i = 0; i < 6; i++) CHECK(adv[i] == want_greedy[i], "greedy adv[%d] = %g, want %g", i, adv[i], want_greedy[i]);
    /* mean of the other two: 1 − (2+4)/2 = −2, 2 − (1+4)/2 = −0.5, 4 − (1+2)/2 = 2.5;
     * 0 − (0+3)/2 = −1.5, −1.5, 3 − (0+0)/2 = 3 (greedy ignored). */
    const float want_mean[6] = {-2.0f, -0.5f, 2.5f, -1.5f, -1.5f, 3.0f};
    vtag_scst_advantages(reward, greedy, 2, 3, VTAG_SCST_BASELINE_MEAN, adv);
    for (int i = 0; i < 6; i++) CHECK(adv[i] == want_mean[i], "mean adv[%d] = %g, want %g", i, adv[i], want_mean[i]);
    /* n = 2: each sample's baseline is the other one: 0.25 − 1 = −0.75, 1 − 0.25 = 0.75. */
    const double r2[2] = {0.25, 1.0};
    vtag_scst_advantages(r2, NULL, 1, 2, VTAG_SCST_BASELINE_MEAN, adv);
    CHECK(adv[0] == -0.75f && adv[1] == 0.75f, "n = 2 mean baseline: %g %g, want -0.75 0.75", adv[0], adv[1]);
}

/* ---- options ------------------------------------------------------------------------------------- */

static void test_check_opts(void)
{
    vtag_scst_opts o;
    vtag_scst_opts_defaults(&o);
    vtag_error err = {0};
    CHECK(vtag_scst_check_opts(&o, &err) == VTAG_OK, "defaults refused: %s", err.msg);
    CHECK(o.sample_n == 5 && o.baseline == VTAG_SCST_BASELINE_GREEDY && o.lr == 5e-5f && o.grad_clip == 0.1f,
          "defaults are not SPEC §4's (n 5, greedy, lr 5e-5, clip 0.1)");

    o.baseline = VTAG_SCST_BASELINE_MEAN;
    o.sample_n = 1;
    memset(&err, 0, sizeof err);
    int rc = vtag_scst_check_opts(&o, &err);
    CHECK(rc == VTAG_ERR_ARG && err.code == VTAG_ERR_ARG, "mean baseline with 1 sample: rc %d, want VTAG_ERR_ARG", rc);
    /* A clear message: names the option and the minimum. */
    CHECK(strstr(err.msg, "mean") && strstr(err.msg, "--sample-n") && strstr(err.msg, "2"),
          "the refusal does not name the mean baseline, --sample-n and 2: \"%s\"", err.msg);
    printf("mean baseline, n = 1: \"%s\"\n", err.msg);

    o.sample_n = 2;
    memset(&err, 0, sizeof err);
    CHECK(vtag_scst_check_opts(&o, &err) == VTAG_OK, "mean baseline with 2 samples refused: %s", err.msg);
    o.baseline = VTAG_SCST_BASELINE_GREEDY;
    o.sample_n = 1;
    CHECK(vtag_scst_check_opts(&o, &err) == VTAG_OK, "greedy baseline with 1 sample refused: %s", err.msg);
    o.sample_n = 0;
    CHECK(vtag_scst_check_opts(&o, &err) == VTAG_ERR_ARG, "0 samples accepted");
    o.sample_n = 5;
    o.cider_weight = 0;
    o.bleu_weight = 0;
    CHECK(vtag_scst_check_opts(&o, &err) == VTAG_ERR_ARG, "both reward weights 0 accepted");
}

/* ---- the loss and its gradient w.r.t. the logits, by hand -----------------------------------------
 * V = 2 labels, so V+1 = 3 classes; all logits 0, so log p = −log 3 and softmax = 1/3 everywhere.
 * Caption A = [1] + EOS (2 tokens), B = [2, 1] + EOS (3 tokens); Σ mask = 5; advantages −0.5, +0.5.
 *   loss = −Σ w·log p[target] / Σ mask = −(−0.5·2·(−log 3) + 0.5·3·(−log 3)) / 5
 *        = log 3 · (−0.5·2 + 0.5·3) / 5 = 0.1·log 3 = 0.10986123
 *   dlogits[n, :] = (1/5)·w_n·(softmax − onehot(target_n)):
 *     A's rows (w = −0.5, factor −0.1): target −0.1·(1/3 − 1) = +1/15, others −0.1·(1/3) = −1/30
 *     B's rows (w = +0.5, factor +0.1): target −1/15, others +1/30;  A's padding row (mask 0): 0.
 * Rows position-major as in xe.c: [t0: A→1, B→2 | t1: A→EOS, B→1 | t2: A pad, B→EOS]. */
static void test_loss_by_hand(void)
{
    enum { N = 6, V1 = 3 };
    const int32_t target[N] = {1, 2, 0, 1, 0, 0};
    const float mask[N] = {1, 1, 1, 1, 0, 1}, adv_row[2] = {-0.5f, 0.5f};
    float lp[N * V1], w[N], d[N * V1] = {0};
    const float zeros[N * V1] = {0};
    vtag_logsoftmax_forward(lp, zeros, N, V1, 1);
    double msum = 0, loss = 0;
    for (int i = 0; i < N; i++) {
        w[i] = adv_row[i % 2] * mask[i]; /* weight = advantage · mask */
        msum += mask[i];
        loss -= (double)w[i] * lp[i * V1 + target[i]];
    }
    loss /= msum;
    CHECK_NEAR(lp[4], -log(3.0), 1e-6, "log p of a uniform row = −log 3");
    CHECK_NEAR(loss, 0.1 * log(3.0), 1e-7, "loss = 0.1·log 3");
    vtag_logsoftmax_wnll_backward(d, 1.0 / msum, lp, target, w, N, V1, 1);
    const double a = 1.0 / 15, b = 1.0 / 30;
    const double want[N * V1] = {
        -b, +a, -b, /* t0 A → 1 */ +b, +b, -a, /* t0 B → 2 */
        +a, -b, -b, /* t1 A → 0 */ +b, -a, +b, /* t1 B → 1 */
        0, 0, 0,    /* t2 A pad */ -a, +b, +b, /* t2 B → 0 */
    };
    for (int i = 0; i < N * V1; i++) CHECK_NEAR(d[i], want[i], 1e-7, "dlogits by hand");

    /* A second, non-uniform row: logits (0, log 2, log 3) → softmax (1/6, 1/3, 1/2); target 2, advantage 2,
     * scale 1/4: d = (2/4)·(1/6, 1/3, 1/2 − 1) = (1/12, 1/6, −1/4). */
    const float logits[3] = {0.0f, (float)log(2.0), (float)log(3.0)};
    const int32_t t2 = 2;
    const float w2 = 2.0f;
    float lp2[3], d2[3] = {0};
    vtag_logsoftmax_forward(lp2, logits, 1, 3, 1);
    vtag_logsoftmax_wnll_backward(d2, 0.25, lp2, &t2, &w2, 1, 3, 1);
    CHECK_NEAR(d2[0], 1.0 / 12, 1e-7, "non-uniform row d[0] = 1/12");
    CHECK_NEAR(d2[1], 1.0 / 6, 1e-7, "non-uniform row d[1] = 1/6");
    CHECK_NEAR(d2[2], -0.25, 1e-7, "non-uniform row d[2] = −1/4");
}

/* The same cases through vtag_model_xe_weighted — the loss vtag_scst_step calls — on a model whose
 * weights are all 0 but logit.bias, so its logits at every position are logit.bias:
 *  case 1 (bias 0, A and B above): loss 0.1·log 3; ∂/∂logit.bias = Σ over rows of dlogits:
 *    class 0: −1/30 + 1/15 + 1/30 + 1/30 − 1/15 = 1/30; class 1: 1/15 − 1/30 + 1/30 − 1/15 + 1/30 = 1/30;
 *    class 2: −1/30 − 1/30 − 1/15 + 1/30 + 1/30 = −1/15 (the three sum to 0);
 *  case 2 (bias (0, log 2, log 3), caption [2] + EOS, advantage 2): loss = −2·(log 1/2 + log 1/6)/2
 *    = log 12; ∂/∂bias = (2/2)·[(1/6, 1/3, −1/2) + (1/6 − 1, 1/3, 1/2)] = (−2/3, 2/3, 0).
 *  Every other gradient is 0 (h = 0 and the logit weight is 0). */
static void test_model_by_hand(void)
{
    for (int type = 0; type < 3; type++) {
        vtag_ctx ctx;
        vtag_model m;
        vtag_error err = {0};
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = 2;
        cfg.input_encoding_size = 3;
        cfg.rnn_size = 4;
        cfg.att_hid_size = 3;
        cfg.fc_feat_size = 5;
        cfg.att_feat_size = 2;
        cfg.max_length = 3;
        CHECK(vtag_ctx_init(&ctx, 1, 7, &err) == 0, "ctx: %s", err.msg);
        CHECK(vtag_model_init(&m, &cfg, &err) == 0, "init: %s", err.msg);
        const char *name = vtag_model_type_name(cfg.type);
        const float fc[2 * 5] = {0.3f, -1, 2, 0.5f, 1, -0.2f, 0.1f, 0, 1, 1};
        const float att[2 * 2 * 2] = {1, -1, 0.5f, 2, -0.3f, 0.7f, 0, 1};
        const int32_t labels[2 * 3] = {1, 0, 0, /**/ 2, 1, 0};
        const float adv[2] = {-0.5f, 0.5f};
        vtag_batch bt = {2, 2, fc, att, labels};
        int bias = vtag_params_find(&m.params, "logit.bias");
        float *gb = vtag_params_grad(&m.params, bias);
        double loss = NAN;
        float lp[2 * 4 * 3];
        vtag_params_zero_grad(&m.params);
        CHECK(vtag_model_xe_weighted(&ctx, &m, &bt, adv, 0, 1, &loss, lp, &err) == 0, "%s: xe_weighted: %s", name, err.msg);
        CHECK_NEAR(loss, 0.1 * log(3.0), 1e-7, "model, case 1: loss = 0.1·log 3");
        CHECK_NEAR(lp[7], -log(3.0), 1e-6, "model, case 1: log p = −log 3");
        CHECK_NEAR(gb[0], 1.0 / 30, 1e-7, "model, case 1: d logit.bias[0] = 1/30");
        CHECK_NEAR(gb[1], 1.0 / 30, 1e-7, "model, case 1: d logit.bias[1] = 1/30");
        CHECK_NEAR(gb[2], -1.0 / 15, 1e-7, "model, case 1: d logit.bias[2] = −1/15");
        double other = 0;
        for (int64_t i = 0; i < m.params.total; i++)
            if (i < m.params.items[bias].offset || i >= m.params.items[bias].offset + 3)
                other = fmax(other, fabs(m.params.grad[i]));
        CHECK(other <= 1e-7, "%s: a gradient other than logit.bias is %g, want 0", name, other);

        /* A third row C = [2, 1] + EOS with advantage 0 adds nothing to the sum but 3 to Σ mask (SPEC §4:
         * the mask covers every sample): loss = log 3 · (−0.5·2 + 0.5·3 + 0·3)/8 = log 3 / 16. */
        const int32_t labels3[3 * 3] = {1, 0, 0, /**/ 2, 1, 0, /**/ 2, 1, 0};
        const float fc3[3 * 5] = {0}, att3[3 * 2 * 2] = {0}, adv3[3] = {-0.5f, 0.5f, 0.0f};
        vtag_batch bt3 = {3, 2, fc3, att3, labels3};
        CHECK(vtag_model_xe_weighted(&ctx, &m, &bt3, adv3, 0, 0, &loss, NULL, &err) == 0, "%s: xe_weighted: %s", name,
              err.msg);
        CHECK_NEAR(loss, log(3.0) / 16, 1e-7, "model, zero-advantage row: loss = log 3 / 16");

        float *b = vtag_params_value(&m.params, bias);
        b[1] = (float)log(2.0);
        b[2] = (float)log(3.0);
        const int32_t one[3] = {2, 0, 0};
        const float two = 2.0f;
        vtag_batch b1 = {1, 2, fc, att, one};
        vtag_params_zero_grad(&m.params);
        CHECK(vtag_model_xe_weighted(&ctx, &m, &b1, &two, 0, 1, &loss, NULL, &err) == 0, "%s: xe_weighted: %s", name,
              err.msg);
        CHECK_NEAR(loss, log(12.0), 1e-6, "model, case 2: loss = log 12");
        CHECK_NEAR(gb[0], -2.0 / 3, 1e-6, "model, case 2: d logit.bias[0] = −2/3");
        CHECK_NEAR(gb[1], 2.0 / 3, 1e-6, "model, case 2: d logit.bias[1] = 2/3");
        CHECK_NEAR(gb[2], 0.0, 1e-6, "model, case 2: d logit.bias[2] = 0");
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
}

/* ---- rewards: EOS as a token --------------------------------------------------------------------------
 * Document frequencies over two reference sets, EOS (0) appended as the caller does: {[1, 2, 0]} and
 * {[3, 0]}. N = 2; "0" is in both sets, idf = log 2 − log 2 = 0; every other n-gram is in one set,
 * idf = log 2 =: l. Candidate [1, 2] scored against the reference [1, 2, 0]:
 *  - max_length 4 (it ended early): scored as [1, 2, 0], the reference itself: orders 1..3 have
 *    equal non-zero vectors, sim = 1; no 4-gram, sim 0; δ = 0. CIDEr-D = 10 · (1 + 1 + 1 + 0)/4 = 7.5.
 *  - max_length 2 (it is full length, no EOS): [1, 2]. Order 1: v_c = (l, l), v_r = (l, l, 0):
 *    sim = 2l² / (√2 l · √2 l) = 1. Order 2: v_c = {12: l}, v_r = {12: l, 20: l}: sim = l² / (l · √2 l)
 *    = 1/√2. Orders 3, 4: the candidate has none, 0. δ = 1 − 2 bigrams: exp(−1/72).
 *    CIDEr-D = 10 · exp(−1/72) · (1 + 1/√2)/4 = 4.2089… */
static void test_reward(void)
{
    const int32_t ra[3] = {1, 2, 0}, rb[2] = {3, 0};
    const vtag_metrics_seq set_a = {ra, 3}, set_b = {rb, 2};
    vtag_metrics_df df;
    vtag_metrics_work w;
    vtag_error err = {0};
    vtag_metrics_df_init(&df);
    vtag_metrics_work_init(&w);
    CHECK(vtag_metrics_df_add(&df, &set_a, 1, &err) == 0 && vtag_metrics_df_add(&df, &set_b, 1, &err) == 0 &&
              vtag_metrics_df_finish(&df, &err) == 0,
          "df: %s", err.msg);
    vtag_scst_opts o;
    vtag_scst_opts_defaults(&o);
    const int32_t seq[4] = {1, 2, 0, 0};
    double r = NAN, direct = NAN;

    CHECK(vtag_scst_reward(&df, &w, &o, seq, 2, 4, &set_a, 1, &r, &err) == 0, "reward: %s", err.msg);
    CHECK_NEAR(r, 7.5, 1e-9, "ended before max_length: scored with EOS, 7.5");
    const int32_t with_eos[3] = {1, 2, 0};
    vtag_metrics_cider_d(&df, &w, (vtag_metrics_seq){with_eos, 3}, &set_a, 1, &direct, &err);
    CHECK(r == direct, "reward %.17g, CIDEr-D of [1, 2, 0] %.17g", r, direct);

    CHECK(vtag_scst_reward(&df, &w, &o, seq, 2, 2, &set_a, 1, &r, &err) == 0, "reward: %s", err.msg);
    const double full = 10.0 * exp(-1.0 / 72) * (1 + 1 / sqrt(2.0)) / 4;
    CHECK_NEAR(r, full, 1e-9, "full length: scored without EOS, 2.5·exp(−1/72)·(1 + 1/√2)");
    vtag_metrics_cider_d(&df, &w, (vtag_metrics_seq){seq, 2}, &set_a, 1, &direct, &err);
    CHECK(r == direct, "reward %.17g, CIDEr-D of [1, 2] %.17g", r, direct);
    printf("reward of [1, 2]: %.9f with EOS (max_length 4), %.9f without (max_length 2)\n", 7.5, full);

    /* An empty caption is EOS alone: its only unigram has idf 0, CIDEr-D 0. */
    CHECK(vtag_scst_reward(&df, &w, &o, seq, 0, 4, &set_a, 1, &r, &err) == 0 && r == 0.0, "EOS alone: %g, want 0", r);

    /* The weights: 2·CIDEr-D; and sentence BLEU-4 alone. [1, 2, 3] against [1, 2, 3, 0]: with EOS
     * (max_length 5) every n-gram matches, BLEU-4 = 1 (to 1e-9: (k + 1e-15)/(k + 1e-9)); without
     * (max_length 3) no 4-gram: ((1e-15)/(1e-9))^(1/4) = 10^−1.5, brevity c 3 < r 4: exp(1 − 4/3),
     * BLEU-4 = 10^−1.5 · exp(−1/3) = 0.0226588… */
    o.cider_weight = 2;
    CHECK(vtag_scst_reward(&df, &w, &o, seq, 2, 4, &set_a, 1, &r, &err) == 0, "reward: %s", err.msg);
    CHECK_NEAR(r, 15.0, 1e-9, "cider_weight 2: 15");
    const int32_t r3[4] = {1, 2, 3, 0}, s3[3] = {1, 2, 3};
    const vtag_metrics_seq ref3 = {r3, 4};
    o.cider_weight = 0;
    o.bleu_weight = 1;
    CHECK(vtag_scst_reward(&df, &w, &o, s3, 3, 5, &ref3, 1, &r, &err) == 0, "reward: %s", err.msg);
    CHECK_NEAR(r, 1.0, 1e-8, "BLEU-4 with EOS = 1");
    CHECK(vtag_scst_reward(&df, &w, &o, s3, 3, 3, &ref3, 1, &r, &err) == 0, "reward: %s", err.msg);
    CHECK_NEAR(r, pow(10.0, -1.5) * exp(-1.0 / 3), 1e-10, "BLEU-4 without EOS = 10^−1.5·exp(−1/3)");
    vtag_metrics_work_free(&w);
    vtag_metrics_df_free(&df);
}

/* ---- vtag_model_xe_weighted: finite differences with signed weights, and weights 1 = vtag_model_xe ----
 * The harness and sizes of test_grad_models.c (eps 1e-3; ReLU kinks of topdown cleared). */
enum { B = 4, K = 4, L = 5 };

typedef struct st {
    vtag_ctx ctx;
    vtag_model m;
    vtag_batch bt;
    const float *w;
} st;

static double loss_fn(void *p)
{
    st *s = p;
    double l = 0;
    vtag_arena_reset(&s->ctx.arena);
    vtag_error err = {0};
    if (vtag_model_xe_weighted(&s->ctx, &s->m, &s->bt, s->w, 0, 0, &l, NULL, &err)) fprintf(stderr, "xe: %s\n", err.msg);
    return l;
}

static void grads_fn(void *p)
{
    st *s = p;
    double l = 0;
    vtag_params_zero_grad(&s->m.params);
    vtag_arena_reset(&s->ctx.arena);
    vtag_error err = {0};
    CHECK(vtag_model_xe_weighted(&s->ctx, &s->m, &s->bt, s->w, 0, 1, &l, NULL, &err) == 0, "xe backward: %s", err.msg);
}

static float *param(vtag_model *m, const char *name) { return vtag_params_value(&m->params, vtag_params_find(&m->params, name)); }

static void test_weighted(void)
{
    static float fc[B * 9], att[B * K * 6];
    /* Rows: short, full length, EOS only, two labels. Weights: +, −, 0, − (the zero row still counts in Σ mask). */
    static const int32_t labels[B * L] = {3, 1, 4, 0, 0, /**/ 5, 2, 6, 7, 1, /**/ 0, 0, 0, 0, 0, /**/ 2, 7, 0, 0, 0};
    static const float weights[B] = {0.8f, -1.3f, 0.0f, -0.4f}, ones[B] = {1, 1, 1, 1};
    vtag_rng rng;
    vtag_rng_seed(&rng, 2025);
    gc_fill(fc, B * 9, &rng, -1, 1);
    gc_fill(att, B * K * 6, &rng, -1, 1);
    for (int type = 0; type < 3; type++) {
        static st s;
        memset(&s, 0, sizeof s);
        vtag_error err = {0};
        CHECK(vtag_ctx_init(&s.ctx, 2, 1, &err) == 0, "ctx: %s", err.msg);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = 7;
        cfg.input_encoding_size = 5;
        cfg.rnn_size = 6;
        cfg.att_hid_size = 4;
        cfg.fc_feat_size = 9;
        cfg.att_feat_size = 6;
        cfg.max_length = L;
        CHECK(vtag_model_init(&s.m, &cfg, &err) == 0, "init: %s", err.msg);
        const char *name = vtag_model_type_name(cfg.type);
        for (int64_t i = 0; i < s.m.params.total; i++) s.m.params.value[i] = 0.6f * (2 * vtag_rng_uniform(&rng) - 1);
        s.bt = (vtag_batch){B, K, fc, att, labels};
        if (cfg.type == VTAG_MODEL_TOPDOWN) {
            gc_clear_relu_kinks(att, B * K, 6, 6, param(&s.m, "att_embed.0.weight"), param(&s.m, "att_embed.0.bias"), 0.02f);
            gc_clear_relu_kinks(fc, B, 9, 6, param(&s.m, "fc_embed.0.weight"), param(&s.m, "fc_embed.0.bias"), 0.02f);
        }

        /* Weights all 1 are vtag_model_xe, bit for bit, with dropout off and on (same RNG state). */
        const int64_t total = s.m.params.total, nlp = B * (L + 1) * (cfg.vocab_size + 1);
        float *g1 = malloc((size_t)total * sizeof(float)), *g2 = malloc((size_t)total * sizeof(float));
        float *lp1 = malloc((size_t)nlp * sizeof(float)), *lp2 = malloc((size_t)nlp * sizeof(float));
        CHECK(g1 && g2 && lp1 && lp2, "out of memory");
        for (int train = 0; train < 2 && g1 && g2 && lp1 && lp2; train++) {
            double l1 = NAN, l2 = NAN;
            vtag_rng_seed(&s.ctx.rng, 99);
            vtag_params_zero_grad(&s.m.params);
            vtag_arena_reset(&s.ctx.arena);
            CHECK(vtag_model_xe(&s.ctx, &s.m, &s.bt, train, 1, &l1, lp1, &err) == 0, "xe: %s", err.msg);
            memcpy(g1, s.m.params.grad, (size_t)total * sizeof(float));
            vtag_rng_seed(&s.ctx.rng, 99);
            vtag_params_zero_grad(&s.m.params);
            vtag_arena_reset(&s.ctx.arena);
            CHECK(vtag_model_xe_weighted(&s.ctx, &s.m, &s.bt, ones, train, 1, &l2, lp2, &err) == 0, "xe_w: %s", err.msg);
            memcpy(g2, s.m.params.grad, (size_t)total * sizeof(float));
            CHECK(l1 == l2, "%s, dropout %s: weights 1 give loss %.17g, vtag_model_xe %.17g", name, train ? "on" : "off",
                  l2, l1);
            CHECK(memcmp(g1, g2, (size_t)total * sizeof(float)) == 0 && memcmp(lp1, lp2, (size_t)nlp * sizeof(float)) == 0,
                  "%s, dropout %s: weights 1 give other gradients or logprobs than vtag_model_xe", name,
                  train ? "on" : "off");
        }
        /* Linearity in the weights: weights −2 give −2 × the XE loss and gradients (exact: ×2 is exact in
         * float and the sign flips exactly). */
        {
            const float m2[B] = {-2, -2, -2, -2};
            double l1 = NAN, l2 = NAN;
            vtag_params_zero_grad(&s.m.params);
            vtag_arena_reset(&s.ctx.arena);
            vtag_model_xe(&s.ctx, &s.m, &s.bt, 0, 1, &l1, NULL, &err);
            memcpy(g1, s.m.params.grad, (size_t)total * sizeof(float));
            vtag_params_zero_grad(&s.m.params);
            vtag_arena_reset(&s.ctx.arena);
            vtag_model_xe_weighted(&s.ctx, &s.m, &s.bt, m2, 0, 1, &l2, NULL, &err);
            double worst = 0, scale = 0;
            for (int64_t i = 0; i < total; i++) {
                worst = fmax(worst, fabs((double)s.m.params.grad[i] + 2.0 * g1[i]));
                scale = fmax(scale, fabs((double)g1[i]));
            }
            CHECK_NEAR(l2, -2 * l1, 1e-12 * fabs(l1), "weights −2: loss = −2·XE");
            CHECK(worst <= 1e-6 * scale, "%s: weights −2: gradients off −2·XE's by %g (max %g)", name, worst, scale);
        }
        free(g1), free(g2), free(lp1), free(lp2);

        /* Finite differences with the signed weights. */
        s.w = weights;
        gc_var vars[64];
        int nv = 0;
        for (int i = 0; i < s.m.params.count && nv < 64; i++) {
            const vtag_param *t = &s.m.params.items[i];
            vars[nv++] = (gc_var){t->name, vtag_params_value(&s.m.params, i), vtag_params_grad(&s.m.params, i),
                                  t->numel < 60 ? t->numel : 60};
        }
        char cname[64];
        snprintf(cname, sizeof cname, "%s signed weights", name);
        gc_case c = {cname, &s, loss_fn, grads_fn, vars, nv, 1e-3, GC_ATOL, GC_RTOL};
        gc_run(&c);
        vtag_model_free(&s.m);
        vtag_ctx_free(&s.ctx);
    }
}


/* ---- the sampling pass with a tape ----------------------------------------------------------------
 * NI = 2 images × NS = 3 samples, the sizes of test_weighted. */
enum { NI = 2, NS = 3, NB = NI * NS };

typedef struct tape_st {
    vtag_ctx ctx;
    vtag_model m;
    vtag_batch images;
    const int32_t *forced;
    const float *adv;
    int train;
    uint64_t seed;
} tape_st;

/* The tape's loss with forced captions; the RNG re-seeded, so dropout draws the same masks every call. */
static double tape_loss(tape_st *s, int backward)
{
    vtag_rng_seed(&s->ctx.rng, s->seed);
    vtag_arena_reset(&s->ctx.arena);
    vtag_error err = {0};
    vtag_scst_tape *tape = NULL;
    int32_t seq[NB * L], len[NB];
    double l = NAN;
    int rc = vtag_scst_sample(&s->ctx, &s->m, &s->images, NS, s->train, s->forced, &tape, seq, len, &err);
    if (!rc && backward) vtag_params_zero_grad(&s->m.params);
    if (!rc) rc = vtag_scst_backward(&s->ctx, &s->m, tape, s->adv, &l, &err); /* adds gradients */
    CHECK(rc == 0, "tape: %s", err.msg);
    return l;
}

/* The loss alone: vtag_scst_backward adds gradients, so the FD loss runs on a copy of the gradients. */
static double tape_loss_fn(void *p)
{
    tape_st *s = p;
    float *keep = malloc((size_t)s->m.params.total * sizeof(float));
    memcpy(keep, s->m.params.grad, (size_t)s->m.params.total * sizeof(float));
    double l = tape_loss(s, 0);
    memcpy(s->m.params.grad, keep, (size_t)s->m.params.total * sizeof(float));
    free(keep);
    return l;
}

static void tape_grads_fn(void *p) { tape_loss(p, 1); }

static void test_tape(void)
{
    static float fc[NI * 9], att[NI * K * 6], fc_rep[NB * 9], att_rep[NB * K * 6];
    /* Rows 0–2 image 0, 3–5 image 1: short, full length, EOS only, two labels, one label, three. */
    static const int32_t forced[NB * L] = {3, 1, 4, 0, 0, /**/ 5, 2, 6, 7, 1, /**/ 0, 0, 0, 0, 0,
                                           /**/ 2, 7, 0, 0, 0, /**/ 6, 0, 0, 0, 0, /**/ 1, 5, 3, 0, 0};
    static const float adv[NB] = {0.8f, -1.3f, 0.0f, -0.4f, 1.1f, 0.5f};
    vtag_rng rng;
    vtag_rng_seed(&rng, 77);
    gc_fill(fc, NI * 9, &rng, -1, 1);
    gc_fill(att, NI * K * 6, &rng, -1, 1);
    for (int64_t b = 0; b < NB; b++) {
        memcpy(fc_rep + b * 9, fc + b / NS * 9, 9 * sizeof(float));
        memcpy(att_rep + b * K * 6, att + b / NS * K * 6, K * 6 * sizeof(float));
    }
    for (int type = 0; type < 3; type++) {
        static tape_st s;
        memset(&s, 0, sizeof s);
        vtag_error err = {0};
        CHECK(vtag_ctx_init(&s.ctx, 2, 1, &err) == 0, "ctx: %s", err.msg);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = 7;
        cfg.input_encoding_size = 5;
        cfg.rnn_size = 6;
        cfg.att_hid_size = 4;
        cfg.fc_feat_size = 9;
        cfg.att_feat_size = 6;
        cfg.max_length = L;
        CHECK(vtag_model_init(&s.m, &cfg, &err) == 0, "init: %s", err.msg);
        const char *name = vtag_model_type_name(cfg.type);
        for (int64_t i = 0; i < s.m.params.total; i++) s.m.params.value[i] = 0.6f * (2 * vtag_rng_uniform(&rng) - 1);
        s.images = (vtag_batch){NI, K, fc, att, NULL};
        s.forced = forced;
        s.adv = adv;
        s.seed = 5;
        if (cfg.type == VTAG_MODEL_TOPDOWN) {
            gc_clear_relu_kinks(att, NI * K, 6, 6, param(&s.m, "att_embed.0.weight"), param(&s.m, "att_embed.0.bias"), 0.02f);
            gc_clear_relu_kinks(fc, NI, 9, 6, param(&s.m, "fc_embed.0.weight"), param(&s.m, "fc_embed.0.bias"), 0.02f);
            for (int64_t b = 0; b < NB; b++) {
                memcpy(fc_rep + b * 9, fc + b / NS * 9, 9 * sizeof(float));
                memcpy(att_rep + b * K * 6, att + b / NS * K * 6, K * 6 * sizeof(float));
            }
        }
        const int64_t total = s.m.params.total;
        float *g_xe = malloc((size_t)total * sizeof(float));

        /* Dropout off: the tape over the images (features prepared once each) is vtag_model_xe_weighted
         * over the images repeated NS times, loss and every gradient. */
        vtag_batch rep = {NB, K, fc_rep, att_rep, forced};
        double l_xe = NAN;
        vtag_params_zero_grad(&s.m.params);
        vtag_arena_reset(&s.ctx.arena);
        CHECK(vtag_model_xe_weighted(&s.ctx, &s.m, &rep, adv, 0, 1, &l_xe, NULL, &err) == 0, "xe_w: %s", err.msg);
        memcpy(g_xe, s.m.params.grad, (size_t)total * sizeof(float));
        s.train = 0;
        double l_tape = tape_loss(&s, 1);
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < total; i++) {
            worst = fmax(worst, fabs((double)s.m.params.grad[i] - g_xe[i]));
            scale = fmax(scale, fabs((double)g_xe[i]));
        }
        CHECK_NEAR(l_tape, l_xe, 1e-6 * fabs(l_xe), "tape loss = xe_weighted's on the repeated images");
        CHECK(worst <= 1e-5 * scale, "%s: tape gradients off xe_weighted's by %g (max %g)", name, worst, scale);
        printf("%s: tape = xe_weighted on repeated images: loss %.9f vs %.9f, max grad diff %.2e (max %.2e)\n", name,
               l_tape, l_xe, worst, scale);
        free(g_xe);

        /* Dropout on: finite differences of the tape's loss, every mask as drawn by the sampling pass. */
        s.train = 1;
        gc_var vars[64];
        int nv = 0;
        for (int i = 0; i < s.m.params.count && nv < 64; i++) {
            const vtag_param *t = &s.m.params.items[i];
            vars[nv++] = (gc_var){t->name, vtag_params_value(&s.m.params, i), vtag_params_grad(&s.m.params, i),
                                  t->numel < 60 ? t->numel : 60};
        }
        char cname[80];
        snprintf(cname, sizeof cname, "%s tape, dropout on", name);
        gc_case c = {cname, &s, tape_loss_fn, tape_grads_fn, vars, nv, 1e-3, GC_ATOL, GC_RTOL};
        gc_run(&c);

        /* Sampling: the tape draws what vtag_model_decode draws (same RNG state) — on the images
         * repeated for fc and att2in (no per-image dropout), one sample per image for topdown (whose
         * decode draws the embedded features' masks per row). */
        {
            const int64_t n = cfg.type == VTAG_MODEL_TOPDOWN ? 1 : NS, rows = NI * n;
            int32_t seq1[NB * L], len1[NB], seq2[NB * L], len2[NB];
            vtag_batch imgs = {NI, K, fc, att, NULL}, reps = {rows, K, n == 1 ? fc : fc_rep, n == 1 ? att : att_rep, NULL};
            vtag_decode_opts so = {VTAG_DECODE_SAMPLE, 1, 1.0f, 1};
            int same = 1, any_long = 0;
            for (uint64_t seed = 1; seed <= 20; seed++) {
                vtag_scst_tape *tape = NULL;
                vtag_rng_seed(&s.ctx.rng, seed);
                vtag_arena_reset(&s.ctx.arena);
                CHECK(vtag_scst_sample(&s.ctx, &s.m, &imgs, n, 1, NULL, &tape, seq1, len1, &err) == 0, "sample: %s",
                      err.msg);
                vtag_rng_seed(&s.ctx.rng, seed);
                vtag_arena_reset(&s.ctx.arena);
                CHECK(vtag_model_decode(&s.ctx, &s.m, &reps, &so, seq2, NULL, len2, &err) == 0, "decode: %s", err.msg);
                same &= memcmp(seq1, seq2, (size_t)(rows * L) * sizeof(int32_t)) == 0 &&
                        memcmp(len1, len2, (size_t)rows * sizeof(int32_t)) == 0;
                for (int64_t b = 0; b < rows; b++) any_long |= len1[b] >= 2;
            }
            CHECK(same, "%s: the tape's samples differ from vtag_model_decode's", name);
            CHECK(any_long, "%s: no sample of 2 labels or more in 20 draws (a weak comparison)", name);
        }
        vtag_model_free(&s.m);
        vtag_ctx_free(&s.ctx);
    }
}

int main(void)
{
    test_advantages();
    test_check_opts();
    test_loss_by_hand();
    test_model_by_hand();
    test_reward();
    test_weighted();
    test_tape();
    return check_summary("caption_test_scst");
}

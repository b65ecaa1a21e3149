/* vtag_caption_label_scores against the exact probability that a label is
 * in the caption, enumerated over every caption a tiny model can write (each
 * prefix's next-token distribution from teacher forcing, renormalised over
 * the tokens decoding allows: no label twice, only EOS after L labels). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/caption.h"

enum { N = 2, K = 3, L = 3, V = 4, DFC = 5, DATT = 4 };

/* Adds to exact[v] the probability of every caption through `prefix` (of
 * length j, probability p) that holds v. */
static void enumerate(vtag_ctx *ctx, vtag_model *m, const float *fc, const float *att, int32_t *prefix, int j,
                      double p, double *exact, vtag_error *err)
{
    int32_t labels[L];
    float lp[(L + 1) * (V + 1)];
    if (j < 0 || j > L) return;
    memset(labels, 0, sizeof labels);
    for (int i = 0; i < j && i < L; i++) labels[i] = prefix[i];
    vtag_batch bt = {1, K, fc, att, labels};
    double loss;
    CHECK(vtag_model_xe(ctx, m, &bt, 0, 0, &loss, lp, err) == 0, "xe: %s", err->msg);
    double q[V + 1], z = 0;
    for (int v = 0; v <= V; v++) {
        int allowed = v == 0 || j < L;
        for (int i = 0; i < j && i < L; i++) allowed = allowed && prefix[i] != v;
        z += q[v] = allowed ? exp((double)lp[j * (V + 1) + v]) : 0.0;
    }
    for (int v = 1; v <= V && j < L; v++) {
        if (q[v] == 0) continue;
        exact[v] += p * q[v] / z; /* v emitted at step j */
        prefix[j] = v;
        enumerate(ctx, m, fc, att, prefix, j + 1, p * q[v] / z, exact, err);
    }
}

int main(void)
{
    static float fc[N * DFC], att[N * K * DATT];
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    for (int i = 0; i < N * DFC; i++) fc[i] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int i = 0; i < N * K * DATT; i++) att[i] = 2 * vtag_rng_uniform(&rng) - 1;
    for (int type = 0; type < 3; type++) {
        vtag_ctx ctx;
        vtag_ctx_init(&ctx, 1, 7, NULL);
        vtag_model_config cfg;
        vtag_model_config_defaults(&cfg);
        cfg.type = (vtag_model_type)type;
        cfg.vocab_size = V;
        cfg.input_encoding_size = 6;
        cfg.rnn_size = 7;
        cfg.att_hid_size = 5;
        cfg.fc_feat_size = DFC;
        cfg.att_feat_size = DATT;
        cfg.max_length = L;
        vtag_model m;
        vtag_error err = {0};
        CHECK(vtag_model_init(&m, &cfg, &err) == 0, "init: %s", err.msg);
        for (int64_t i = 0; i < m.params.total; i++) m.params.value[i] = 1.5f * (2 * vtag_rng_uniform(&rng) - 1);
        const char *name = vtag_model_type_name(cfg.type);
        double exact[N][V + 1];
        for (int r = 0; r < N; r++) {
            int32_t prefix[L] = {0};
            memset(exact[r], 0, sizeof exact[r]);
            enumerate(&ctx, &m, fc + r * DFC, att + r * K * DATT, prefix, 0, 1.0, exact[r], &err);
        }
        vtag_rows rows = {N, K, fc, att, NULL};
        double s[V + 1], again[V + 1], pair[V + 1];
        /* one row, many samples: within a few standard errors of the exact value */
        const int64_t one = 1;
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, &one, 1, 20000, 3, s, &err) == 0, "%s: %s", name, err.msg);
        for (int v = 1; v <= V; v++) CHECK_NEAR(s[v], exact[1][v], 0.01, name);
        CHECK(s[0] == 0, "%s: scores[0] is %g", name, s[0]);
        /* both rows: the mean of their probabilities */
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, NULL, N, 40000, 3, pair, &err) == 0, "%s: %s", name, err.msg);
        for (int v = 1; v <= V; v++) CHECK_NEAR(pair[v], (exact[0][v] + exact[1][v]) / 2, 0.01, name);
        /* a seed gives the same scores; another seed other ones */
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, &one, 1, 20000, 3, again, &err) == 0, "%s", err.msg);
        CHECK(memcmp(s, again, sizeof s) == 0, "%s: the same seed gave other scores", name);
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, &one, 1, 64, 4, again, &err) == 0, "%s", err.msg);
        int differ = 0;
        for (int v = 1; v <= V; v++) {
            differ |= again[v] != s[v];
            CHECK(again[v] >= 0 && again[v] <= 1, "%s: score %g outside [0, 1]", name, again[v]);
        }
        CHECK(differ, "%s: another seed and sample count gave the same scores", name);
        /* bad calls */
        const int64_t out_of_range = N;
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, &out_of_range, 1, 10, 3, s, &err) == VTAG_ERR_ARG,
              "%s: a row out of range", name);
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, NULL, N, 0, 3, s, &err) == VTAG_ERR_ARG, "%s: no sample", name);
        CHECK(vtag_caption_label_scores(&ctx, &m, &rows, NULL, 0, 10, 3, s, &err) == VTAG_ERR_ARG, "%s: no row", name);
        vtag_model_free(&m);
        vtag_ctx_free(&ctx);
    }
    return check_summary("caption/label_scores");
}

/* The fused attention row of attention_row.c (nn_internal.h) on every kernel path this CPU runs
 * against a naive twin in double: tanh, score, softmax and the weighted sum, for widths on and off
 * the 4-, 8- and 16-lane vectors, one position and many, scores far apart (a softmax near one-hot)
 * and close together. Tolerance: 1e-5 absolute on dot and out (values in [-1, 1]; vtag_tanhf's
 * own error is 3e-7) and 1e-5 on alpha. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "nn/nn_internal.h"

static void naive_row(double *out, double *dot, double *alpha, const float *ha, const float *p_att, const float *att,
                      const float *aw, float ab, int64_t K, int64_t A, int64_t D)
{
    double mx = -INFINITY, z = 0;
    for (int64_t k = 0; k < K; k++) {
        double s = ab;
        for (int64_t j = 0; j < A; j++) {
            dot[k * A + j] = tanh((double)p_att[k * A + j] + ha[j]);
            s += dot[k * A + j] * aw[j];
        }
        alpha[k] = s;
        mx = fmax(mx, s);
    }
    for (int64_t k = 0; k < K; k++) z += alpha[k] = exp(alpha[k] - mx);
    for (int64_t j = 0; j < D; j++) out[j] = 0;
    for (int64_t k = 0; k < K; k++) {
        alpha[k] /= z;
        for (int64_t j = 0; j < D; j++) out[j] += alpha[k] * att[k * D + j];
    }
}

static float uni(vtag_rng *rng, float scale) { return scale * (2.0f * vtag_rng_uniform(rng) - 1.0f); }

int main(void)
{
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {49, 512, 512}, {16, 33, 2048}, {7, 17, 9}, {2, 64, 15}};
    vtag_rng rng;
    vtag_rng_seed(&rng, 3);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int64_t K = shapes[si][0], A = shapes[si][1], D = shapes[si][2];
        for (int sharp = 0; sharp < 2; sharp++) {
            float *ha = malloc(sizeof(float) * A), *pa = malloc(sizeof(float) * K * A);
            float *att = malloc(sizeof(float) * K * D), *aw = malloc(sizeof(float) * A);
            float *out = malloc(sizeof(float) * D), *dot = malloc(sizeof(float) * K * A), *alpha = malloc(sizeof(float) * K);
            double *rout = malloc(sizeof(double) * D), *rdot = malloc(sizeof(double) * K * A);
            double *ralpha = malloc(sizeof(double) * K);
            for (int64_t j = 0; j < A; j++) ha[j] = uni(&rng, 1.5f), aw[j] = uni(&rng, sharp ? 2.0f : 0.1f);
            for (int64_t i = 0; i < K * A; i++) pa[i] = uni(&rng, 1.5f);
            for (int64_t i = 0; i < K * D; i++) att[i] = uni(&rng, 1.0f);
            const float ab = uni(&rng, 0.5f);
            naive_row(rout, rdot, ralpha, ha, pa, att, aw, ab, K, A, D);
            for (int isa = 0; isa < VTAG_ISA_COUNT; isa++) {
                if (!vtag_isa_supported((vtag_isa)isa)) continue;
                VTAG_ISA_CALL((vtag_isa)isa, nn_attention_row)(out, dot, alpha, ha, pa, att, aw, ab, K, A, D);
                double edot = 0, ealpha = 0, eout = 0;
                for (int64_t i = 0; i < K * A; i++) edot = fmax(edot, fabs(dot[i] - rdot[i]));
                for (int64_t k = 0; k < K; k++) ealpha = fmax(ealpha, fabs(alpha[k] - ralpha[k]));
                for (int64_t j = 0; j < D; j++) eout = fmax(eout, fabs(out[j] - rout[j]));
                printf("%s K=%lld A=%lld D=%lld sharp=%d: dot %.1e alpha %.1e out %.1e\n",
                       vtag_isa_name((vtag_isa)isa), (long long)K, (long long)A, (long long)D, sharp, edot, ealpha,
                       eout);
                CHECK(edot < 1e-5 && ealpha < 1e-5 && eout < 1e-5, "%s K=%lld A=%lld D=%lld: errors %g %g %g",
                      vtag_isa_name((vtag_isa)isa), (long long)K, (long long)A, (long long)D, edot, ealpha, eout);
            }
            free(ha), free(pa), free(att), free(aw), free(out), free(dot), free(alpha), free(rout), free(rdot),
                free(ralpha);
        }
    }
    return check_summary("nn/test_attention_row");
}

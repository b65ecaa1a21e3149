/* The forward row of additive attention (nn_internal.h), compiled once per kernel path. GCC does
 * not vectorise a loop around nn.h's vtag_tanhf ("control flow in loop"), so in the baseline-only
 * build tanh ran scalar and the row was a sixth of an XE or SCST step; here tanh and the score are
 * one pass of 8 (AVX2 + FMA) or 16 (AVX-512) lanes, with nn.h's exp polynomial. */
#include <math.h>
#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "nn/nn_internal.h"

#if defined(__AVX512F__)
/* vtag_expf on 16 lanes (FMA where the scalar code multiplies then adds). The clamps take x as
 * the second operand, so that a NaN passes through as in the scalar code. */
static inline __m512 exp16(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-87.3f), x);
    x = _mm512_min_ps(_mm512_set1_ps(88.3f), x);
    const __m512 round = _mm512_set1_ps(12582912.0f);
    const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), round);
    const __m512 n = _mm512_sub_ps(t, round);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000)), _mm512_set1_epi32(127)),
        23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}
#elif defined(__AVX2__)
/* vtag_expf on 8 lanes, as exp16 above. */
static inline __m256 exp8(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.3f), x);
    const __m256 round = _mm256_set1_ps(12582912.0f);
    const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), round);
    const __m256 n = _mm256_sub_ps(t, round);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000)), _mm256_set1_epi32(127)),
        23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}
#endif

/* dk[j] = tanh(pa[j] + ha[j]) for j < A; returns Σ dk[j]·aw[j]. */
static inline float tanh_score(float *restrict dk, const float *restrict pa, const float *restrict ha,
                               const float *restrict aw, int64_t A)
{
    int64_t j = 0;
    float s = 0.0f;
#if defined(__AVX512F__)
    __m512 acc = _mm512_setzero_ps();
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    for (; j + 16 <= A; j += 16) {
        const __m512 x = _mm512_add_ps(_mm512_loadu_ps(pa + j), _mm512_loadu_ps(ha + j));
        const __m512 d = _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(exp16(_mm512_add_ps(x, x)), one)));
        _mm512_storeu_ps(dk + j, d);
        acc = _mm512_fmadd_ps(d, _mm512_loadu_ps(aw + j), acc);
    }
    s = _mm512_reduce_add_ps(acc);
#elif defined(__AVX2__)
    __m256 acc = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    for (; j + 8 <= A; j += 8) {
        const __m256 x = _mm256_add_ps(_mm256_loadu_ps(pa + j), _mm256_loadu_ps(ha + j));
        const __m256 d = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(exp8(_mm256_add_ps(x, x)), one)));
        _mm256_storeu_ps(dk + j, d);
        acc = _mm256_fmadd_ps(d, _mm256_loadu_ps(aw + j), acc);
    }
    const __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
    s = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps(q, q, 1)));
#endif
    /* The portable path, and the tail of the vector ones: tanh, then the score as a SIMD sum. */
    for (int64_t i = j; i < A; i++) dk[i] = vtag_tanhf(pa[i] + ha[i]);
    float t = 0.0f;
#pragma omp simd reduction(+ : t)
    for (int64_t i = j; i < A; i++) t += dk[i] * aw[i];
    return s + t;
}

void VTAG_ISA_FN(nn_attention_row)(float *restrict out, float *restrict dot, float *restrict alpha,
                                   const float *restrict ha, const float *restrict p_att,
                                   const float *restrict att, const float *restrict aw, float ab, int64_t K,
                                   int64_t A, int64_t D)
{
    float maxs = -INFINITY;
    for (int64_t k = 0; k < K; k++) {
        const float *restrict pa = p_att + k * A;
        float *restrict dk = dot + k * A;
        float s = tanh_score(dk, pa, ha, aw, A);
        s += ab;
        alpha[k] = s;
        if (s > maxs) maxs = s;
    }
    double z = 0.0;
    for (int64_t k = 0; k < K; k++) {
        alpha[k] = vtag_expf(alpha[k] - maxs);
        z += alpha[k];
    }
    const float inv = (float)(1.0 / z);
    memset(out, 0, (size_t)D * sizeof(float));
    for (int64_t k = 0; k < K; k++) {
        alpha[k] *= inv;
        const float *restrict ak = att + k * D;
        const float wk = alpha[k];
#pragma omp simd
        for (int64_t j = 0; j < D; j++) out[j] += wk * ak[j];
    }
}

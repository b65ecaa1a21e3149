/* Neural-network layers. Each operation is a forward/backward pair of plain
 * functions over row-major float arrays; shapes are given as int64 sizes.
 *
 * Conventions (as in llm.c):
 *  - Backward ADDS into every gradient it writes (inputs and parameters);
 *    callers zero gradients once per step. A NULL gradient pointer means
 *    "not needed" and is skipped.
 *  - A Linear's weight is [out, in], as PyTorch stores it.
 *  - Rows are independent, so N rows may be all time steps of a batch
 *    at once (teacher forcing): one GEMM for all input projections or logits.
 */
#ifndef VTAG_NN_H
#define VTAG_NN_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Linear: out[N,O] = in[N,I] · w[O,I]^T + b[O] ------------------------
 * accumulate != 0 adds into out instead of overwriting it. b may be NULL. */
void vtag_linear_forward(const vtag_ctx *ctx, float *out, const float *in, const float *w,
                         const float *b, int64_t n, int64_t in_dim, int64_t out_dim, int accumulate);
/* din[N,I] += dout·w;  dw[O,I] += dout^T·in;  db[O] += Σ_n dout */
void vtag_linear_backward(const vtag_ctx *ctx, float *din, float *dw, float *db, const float *dout,
                          const float *in, const float *w, int64_t n, int64_t in_dim, int64_t out_dim);

/* ---- Embedding: out[N,E] = w[ids[n], :] ----------------------------------- */
/* Returns VTAG_ERR_ARG (and writes nothing) if an id is outside [0, V). */
int vtag_embedding_forward(float *out, const int32_t *ids, const float *w, int64_t n, int64_t vocab,
                           int64_t dim, vtag_error *err);
void vtag_embedding_backward(float *dw, const float *dout, const int32_t *ids, int64_t n, int64_t dim);

/* ---- ReLU (out may alias in) ------------------------------------------------ */
void vtag_relu_forward(float *out, const float *in, int64_t n, int threads);
/* din += dout · [out > 0]  (uses the forward output, so in-place is fine) */
void vtag_relu_backward(float *din, const float *dout, const float *out, int64_t n, int threads);

/* ---- Dropout -----------------------------------------------------------------
 * Training: mask[i] = 0 with probability p, else 1/(1-p); out = in · mask.
 * The mask draws n numbers from rng (counter based: independent of threads).
 * Evaluation (train == 0) or p == 0: out = in and mask is filled with 1. */
void vtag_dropout_forward(float *out, float *mask, const float *in, int64_t n, float p, int train,
                          vtag_rng *rng, int threads);
void vtag_dropout_backward(float *din, const float *dout, const float *mask, int64_t n, int threads);

/* ---- Maxout LSTM core (fc and att2in; SPEC §3) ---------------------------------
 * a[N,5R] = i2h(x) + h2h(h_prev) (+ a2c(ctx) on the last 2R for att2in).
 * i,f,o = sigmoid(a[0:R], a[R:2R], a[2R:3R]); in = max(a[3R:4R], a[4R:5R]);
 * c = f·c_prev + i·in;  h = o·tanh(c).
 * cache[N,5R] holds i, f, o, in, tanh(c) for the backward pass. */
void vtag_maxout_lstm_forward(float *h, float *c, float *cache, const float *a, const float *c_prev,
                              int64_t n, int64_t r, int threads);
/* da[N,5R] += ∂L/∂a;  dc_prev[N,R] += ∂L/∂c_prev. dh and dc are the gradients
 * reaching h and c (dc may be NULL). Ties of the max split the gradient in
 * half, as torch.max(a, b) does. */
void vtag_maxout_lstm_backward(float *da, float *dc_prev, const float *dh, const float *dc,
                               const float *cache, const float *a, const float *c_prev, int64_t n,
                               int64_t r, int threads);

/* ---- Standard LSTM cell (topdown; PyTorch LSTMCell gate order i, f, g, o) ------
 * g[N,4R] = x·w_ih^T + b_ih + h_prev·w_hh^T + b_hh;
 * i,f,o = sigmoid, g = tanh;  c = f·c_prev + i·g;  h = o·tanh(c).
 * cache[N,5R] holds i, f, g, o, tanh(c). */
void vtag_lstm_forward(float *h, float *c, float *cache, const float *gates, const float *c_prev,
                       int64_t n, int64_t r, int threads);
void vtag_lstm_backward(float *dgates, float *dc_prev, const float *dh, const float *dc,
                        const float *cache, const float *c_prev, int64_t n, int64_t r, int threads);

/* ---- Additive attention (SPEC §3) --------------------------------------------
 * score[n,k] = alpha_net(tanh(p_att[n,k,:] + h2att(h[n,:])));
 * alpha = softmax_k(score);  out[n,:] = Σ_k alpha[n,k] · att[n,k,:]. */
typedef struct vtag_attention_dims {
    int64_t n; /* batch rows */
    int64_t k; /* attention positions */
    int64_t d; /* feature size of att (the context size) */
    int64_t r; /* query size (rnn_size) */
    int64_t a; /* att_hid_size */
    int64_t rep; /* rows per image: row b attends over image b / rep of att and
                  * p_att, which hold n / rep images (0 or 1: one row each) */
} vtag_attention_dims;

typedef struct vtag_attention_weights {
    const float *h2att_w;   /* [A, R] */
    const float *h2att_b;   /* [A] */
    const float *alpha_w;   /* [1, A] */
    const float *alpha_b;   /* [1] */
} vtag_attention_weights;

typedef struct vtag_attention_grads {
    float *h2att_w, *h2att_b, *alpha_w, *alpha_b; /* same shapes; NULL = not needed */
} vtag_attention_grads;

typedef struct vtag_attention_cache {
    float *dot;   /* [N, K, A]  tanh(p_att + h2att(h)) */
    float *alpha; /* [N, K]     attention weights */
} vtag_attention_cache;

/* Allocates the cache from ctx's arena. */
int vtag_attention_forward(vtag_ctx *ctx, float *out, vtag_attention_cache *cache, const float *h,
                           const float *att, const float *p_att, const vtag_attention_weights *w,
                           vtag_attention_dims dims, vtag_error *err);
/* dh[N,R] +=, datt[N/rep,K,D] +=, dp_att[N/rep,K,A] +=, and the weight gradients. */
int vtag_attention_backward(vtag_ctx *ctx, float *dh, float *datt, float *dp_att,
                            const vtag_attention_grads *g, const float *dout,
                            const vtag_attention_cache *cache, const float *h, const float *att,
                            const vtag_attention_weights *w, vtag_attention_dims dims,
                            vtag_error *err);

/* ---- log-softmax and masked NLL --------------------------------------------------
 * logprobs[N,V] = log_softmax(logits) over the last axis (out may alias in). */
void vtag_logsoftmax_forward(float *logprobs, const float *logits, int64_t n, int64_t v, int threads);
/* dlogits += dlogprobs - softmax · Σ_j dlogprobs[j] (per row) */
void vtag_logsoftmax_backward(float *dlogits, const float *dlogprobs, const float *logprobs, int64_t n,
                              int64_t v, int threads);
/* loss = -Σ_n mask[n]·logprobs[n, target[n]] / Σ_n mask[n]  (0 if Σ mask = 0).
 * mask may be NULL (all ones). Targets outside [0, V) are an error. */
int vtag_nll_masked_forward(double *loss, const float *logprobs, const int32_t *target,
                            const float *mask, int64_t n, int64_t v, vtag_error *err);
/* dlogprobs[n, target[n]] += -dloss · mask[n] / Σ mask */
void vtag_nll_masked_backward(float *dlogprobs, double dloss, const int32_t *target, const float *mask,
                              int64_t n, int64_t v);
/* Both backwards at once, without a [N,V] dlogprobs buffer:
 * dlogits[n,:] += dloss · mask[n] / Σ mask · (softmax(n,:) - onehot(target[n])). */
void vtag_logsoftmax_nll_backward(float *dlogits, double dloss, const float *logprobs,
                                  const int32_t *target, const float *mask, int64_t n, int64_t v,
                                  int threads);
/* The same with an explicit scale and signed per-row weights (policy
 * gradient: weight = advantage · mask, scale = 1 / Σ mask):
 * dlogits[n,:] += scale · weight[n] · (softmax(n,:) − onehot(target[n])). */
void vtag_logsoftmax_wnll_backward(float *dlogits, double scale, const float *logprobs,
                                   const int32_t *target, const float *weight, int64_t n, int64_t v,
                                   int threads);

/* ---- concatenation / split along the feature (last) axis ------------------------
 * out[N, Σ dims] = [ins[0] | ins[1] | …]; ins[i] is [N, dims[i]]. */
void vtag_concat_forward(float *out, const float *const *ins, const int64_t *dims, int count, int64_t n);
/* dins[i] += the matching slice of dout (NULL entries skipped). */
void vtag_concat_backward(float *const *dins, const float *dout, const int64_t *dims, int count, int64_t n);
/* outs[i] = slice i of in (NULL entries skipped). */
void vtag_split_forward(float *const *outs, const float *in, const int64_t *dims, int count, int64_t n);
/* din += [douts[0] | douts[1] | …] (NULL entries contribute nothing). */
void vtag_split_backward(float *din, const float *const *douts, const int64_t *dims, int count, int64_t n);

/* ---- small helpers ------------------------------------------------------------------
 * exp, tanh and sigmoid without calls into libm, so that the loops around them
 * vectorise (libm's tanhf alone was a fifth of a training step). exp is
 * Cephes' single-precision polynomial after range reduction by ln 2: relative
 * error about 2e-7 over the whole float range; tanh and sigmoid are built on it
 * (absolute error about 1e-7). */
static inline float vtag_expf(float x)
{
    /* Branch-free and without floorf, so that GCC vectorises the loops that
     * call it (the clamps become blends; floorf and fminf would not, without
     * -ffast-math): n = x/ln 2 rounded to the nearest integer by adding and
     * subtracting 1.5·2^23. */
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    const float round = 12582912.0f;
    union {
        float f;
        uint32_t u;
    } t = {x * 1.44269504088896341f + round}; /* 1.5·2^23 + n: n sits in the low mantissa bits */
    float n = t.f - round;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n from t's bits rather than by converting n to int: a NaN (a diverged model, a
     * damaged file) then gives NaN, where the conversion would be undefined behaviour. */
    union {
        uint32_t u;
        float f;
    } scale = {(t.u - 0x4B400000u + 127u) << 23};
    return p * scale.f;
}
static inline float vtag_tanhf(float x) { return 1.0f - 2.0f / (vtag_expf(2.0f * x) + 1.0f); }
static inline float vtag_sigmoidf(float x) { return 1.0f / (1.0f + vtag_expf(-x)); }

#ifdef __cplusplus
}
#endif
#endif

/* Private helpers shared by the caption model files. */
#ifndef VTAG_CAPTION_INTERNAL_H
#define VTAG_CAPTION_INTERNAL_H

#include "vtag/caption.h"
#include "vtag/nn.h"
#include "vtag/scst.h"

/* Checks cfg and declares the model's parameters (names and shapes) without
 * allocating them: the checkpoint reader compares a file against this before
 * vtag_params_alloc. On failure *m is left empty. */
int caption_model_declare(vtag_model *m, const vtag_model_config *cfg, vtag_error *err);

/* The role of each parameter: its name in the reference (SPEC §3) and its slot
 * in vtag_model.slot, resolved once by caption_model_declare. A role a model
 * type does not have resolves to -1. */
typedef enum caption_slot {
    CP_EMBED, /* "embed.weight" (fc, att2in) or "embed.0.weight" (topdown) */
    CP_IMG_EMBED_W, /* "img_embed.weight" */
    CP_IMG_EMBED_B, /* "img_embed.bias" */
    CP_FC_EMBED_W, /* "fc_embed.0.weight" */
    CP_FC_EMBED_B, /* "fc_embed.0.bias" */
    CP_ATT_EMBED_W, /* "att_embed.0.weight" */
    CP_ATT_EMBED_B, /* "att_embed.0.bias" */
    CP_CTX2ATT_W, /* "ctx2att.weight" */
    CP_CTX2ATT_B, /* "ctx2att.bias" */
    CP_I2H_W, /* "core.i2h.weight" */
    CP_I2H_B, /* "core.i2h.bias" */
    CP_H2H_W, /* "core.h2h.weight" */
    CP_H2H_B, /* "core.h2h.bias" */
    CP_A2C_W, /* "core.a2c.weight" */
    CP_A2C_B, /* "core.a2c.bias" */
    CP_H2ATT_W, /* "core.attention.h2att.weight" */
    CP_H2ATT_B, /* "core.attention.h2att.bias" */
    CP_ALPHA_W, /* "core.attention.alpha_net.weight" */
    CP_ALPHA_B, /* "core.attention.alpha_net.bias" */
    CP_ATT_LSTM_W_IH, /* "core.att_lstm.weight_ih" */
    CP_ATT_LSTM_W_HH, /* "core.att_lstm.weight_hh" */
    CP_ATT_LSTM_B_IH, /* "core.att_lstm.bias_ih" */
    CP_ATT_LSTM_B_HH, /* "core.att_lstm.bias_hh" */
    CP_LANG_LSTM_W_IH, /* "core.lang_lstm.weight_ih" */
    CP_LANG_LSTM_W_HH, /* "core.lang_lstm.weight_hh" */
    CP_LANG_LSTM_B_IH, /* "core.lang_lstm.bias_ih" */
    CP_LANG_LSTM_B_HH, /* "core.lang_lstm.bias_hh" */
    CP_LOGIT_W, /* "logit.weight" */
    CP_LOGIT_B, /* "logit.bias" */
    CP_COUNT
} caption_slot;

/* The reference's name of a role for a model type (NULL: the type has none). */
const char *caption_slot_name(vtag_model_type type, caption_slot s);

/* Value / gradient of a parameter by its role, NULL if the model has none. */
static inline float *caption_param(const vtag_model *m, caption_slot s)
{
    const int i = m->slot[s];
    return i < 0 ? NULL : m->params.value + m->params.items[i].offset;
}
static inline float *caption_grad(const vtag_model *m, caption_slot s)
{
    const int i = m->slot[s];
    return i < 0 ? NULL : m->params.grad + m->params.items[i].offset;
}

/* out[i, 0:out_dim] (row stride ldo) += in[N, in_dim] · w[out_dim, in_dim]^T (+ b):
 * a Linear writing into a column slice of a wider array. */
static inline void caption_linear_slice(const vtag_ctx *ctx, float *out, int64_t ldo, const float *in, int64_t ldi,
                                        const float *w, const float *b, int64_t n, int64_t in_dim, int64_t out_dim)
{
    if (b)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < out_dim; j++) out[i * ldo + j] += b[j];
    vtag_gemm(ctx, 0, 1, n, out_dim, in_dim, 1.0f, in, ldi, w, in_dim, 1.0f, out, ldo);
}

/* ---- the model pass shared by XE (xe.c) and SCST's sampling pass (sample.c) ----
 * B rows = images × rep (rep = 1 for XE; SCST: the samples of each image are
 * consecutive rows). Arrays are position-major: [T, B, …]. */

/* The token sequence of a pass: inputs and targets per position, and the mask. */
typedef struct caption_seqs {
    int64_t B, T;      /* rows, output positions */
    int64_t rep;       /* rows per image (B / rep images) */
    int32_t *in;       /* [T, B] input token at each position (BOS = 0 first) */
    int32_t *target;   /* [T, B] */
    float *mask;       /* [T, B] 1 up to and including the EOS */
} caption_seqs;

/* Everything the forward pass leaves for the backward pass. Per-image arrays
 * ([B/rep, …]) are marked "img". */
typedef struct caption_fwd {
    float *x;        /* [S, B, E] step inputs (fc: step 0 is img_embed(fc)) */
    float *a;        /* [S, B, G] gate pre-activations (G = 5R, or 4R for att_lstm) */
    float *cache;    /* [S, B, 5R] */
    float *hs, *cs;  /* [S+1, B, R] states, slot 0 = zeros */
    float *drop;     /* [T, B, R] output dropout masks */
    /* attention models */
    float *p_att;    /* img [K, A] */
    float *ctxs;     /* [S, B, D] attention contexts */
    float *a2c_p;    /* att2in, sample.c: img [K, 2R] = att·W_a2c^T, which attention
                      * averages instead of att (a2c(ctx) = Σ alpha·P + bias, so no
                      * per-step a2c GEMM); NULL: ctxs and a2c as usual */
    vtag_attention_cache *att_cache; /* [S] */
    /* topdown */
    float *fce, *fce_mask, *fce_pre;   /* img [R] */
    float *ate, *ate_mask, *ate_pre;   /* img [K, R] */
    float *x_pre, *x_mask;             /* [T, B, E] embedding before dropout / mask */
    float *att_in;   /* [T, B, 2R+E] */
    float *lang_in;  /* [T, B, 2R] */
    float *a2, *cache2, *h2s, *c2s;    /* lang_lstm: [T,B,4R], [T,B,5R], [T+1,B,R] */
} caption_fwd;

/* Backward of the recurrent part: dout [T, B, R] is the gradient reaching the
 * (dropped-out) outputs; parameter gradients are ADDED. bt holds the images. */
int caption_model_backward(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, const caption_seqs *sq,
                           const caption_fwd *f, const float *dout, vtag_error *err);

/* The weighted loss over a finished forward pass (out [T, B, R], lp [T, B, V+1]
 * log-probabilities), loss = −Σ w_b Σ_t mask·log p(target) / Σ mask, and with
 * backward != 0 its gradient through the logit layer and the model. */
int caption_loss_backward(vtag_ctx *ctx, vtag_model *m, const vtag_batch *bt, const caption_seqs *sq,
                          const caption_fwd *f, const float *out, const float *lp, const float *row_weight,
                          int backward, double *loss, vtag_error *err);

/* Picks the next token from a row of log-probabilities: the arg-max (ties:
 * the lowest id), or with sample != 0 a draw from softmax(row / temperature)
 * using one uniform from rng. p is scratch of v floats. A draw from a row
 * with no positive probability (nan: the weights are not finite) is -1. */
int32_t caption_pick(const float *row, float *p, int64_t v, int sample, float temperature, vtag_rng *rng);
/* The error of that -1: VTAG_ERR_DIVERGED, "the sampling probabilities are nan (diverged)". */
int caption_nan_probs(vtag_error *err);

/* ---- sharded steps (train.c; vtag_train_shard in caption.h) ---- */

/* The sums a step carries to its update (vtag_grad_reduce_fn). */
enum { STEP_TOKENS, STEP_LOSS, STEP_REWARD, STEP_ADV, STEP_GREEDY, STEP_IMAGES, STEP_SUMS };

/* One leaf of a step: the gradient of rows [lo, hi) of the step's batch
 * (lo < hi), normalised by its own tokens, in m->params.grad (zeroed first);
 * *loss its mean loss; sums[STEP_SUMS] its sums (tokens, loss times tokens,
 * SCST sums). */
typedef int (*caption_leaf_fn)(void *user, int64_t lo, int64_t hi, double *loss, double *sums, vtag_error *err);

/* Per-epoch buffers of the step tree (none with micro <= 1). */
typedef struct caption_steps caption_steps;
int caption_steps_new(caption_steps **w, const vtag_model *m, const vtag_train_hooks *hooks, vtag_error *err);
void caption_steps_free(caption_steps **w);

/* The gradient half of a step on b rows: with micro <= 1 one leaf over every
 * row, from ctx->rng (*loss the leaf's); else this rank's micro-batches, each
 * from its own stream (of the epoch's stream, step and j; ctx->rng unmoved), their gradients times their tokens summed in the tree
 * into m->params.grad (*loss not known yet: the update finds it). sums gets
 * the step's (this rank's) sums. */
int caption_step_grad(vtag_ctx *ctx, vtag_model *m, caption_steps *w, int64_t b, int64_t step, caption_leaf_fn leaf,
                      void *user, double *loss, double *sums, vtag_error *err);
/* The update half: hooks->reduce over the ranks, then (micro > 1) the
 * gradient divided by the tokens and *loss = loss sum / tokens, then as
 * vtag_train_update; hooks->step after it. */
int caption_step_update(vtag_ctx *ctx, vtag_model *m, const caption_steps *w, vtag_adam *adam, double *sums,
                        double *loss, float lr, float grad_clip, int64_t step, const vtag_train_hooks *hooks,
                        vtag_error *err);

/* A weight packed (arena) for the products made at every step of a decode or a
 * sampling pass (a BLAS call repacks the whole weight for each few-row product):
 * op(W) is [k, n], trans: W is [n, k] (a Linear's, row stride ldw). VTAG_ERR_NOMEM
 * (unreported) when the arena is full. */
int caption_pack(vtag_ctx *ctx, vtag_packed_b *p, int trans, int64_t k, int64_t n, const float *w, int64_t ldw);
/* out[n, w->n] (row stride ldo) (+)= b + in[n, w->k] · W^T with W packed (trans). */
void caption_packed_linear(const vtag_ctx *ctx, float *out, int64_t ldo, const float *in, int64_t ldi,
                           const vtag_packed_b *w, const float *b, int64_t n, int accumulate);

/* Target tokens of a sampling tape (its mask's ones): an SCST leaf's count. */
int64_t caption_tape_tokens(const vtag_scst_tape *tape);

/* vtag_scst_sample and vtag_scst_backward, which step only the rows still
 * sampling (every_row = 0); every_row = 1 steps every row at every position,
 * as before that: the same random draws, the same results up to the rounding
 * of a product's row count (tests/caption/test_scst_rows.c). */
int caption_scst_sample(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *images, int64_t n, int train,
                        const int32_t *forced, int every_row, vtag_scst_tape **tape, int32_t *seq, int32_t *len,
                        vtag_error *err);
int caption_scst_backward(vtag_ctx *ctx, vtag_model *m, const vtag_scst_tape *tape, const float *adv, int every_row,
                          double *loss, vtag_error *err);

#endif

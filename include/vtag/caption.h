/* Caption models of SPEC §3 (fc, att2in, topdown): parameters with the
 * reference implementation's names, teacher-forced forward/backward for XE
 * training, and decoding (greedy, sampling, beam search).
 *
 * Token ids: 0 is BOS at the input, EOS at the output and padding; labels are
 * 1..V, so the output layer has V+1 entries. */
#ifndef VTAG_CAPTION_H
#define VTAG_CAPTION_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vtag_model_type {
    VTAG_MODEL_FC = 0,
    VTAG_MODEL_ATT2IN = 1,
    VTAG_MODEL_TOPDOWN = 2,
} vtag_model_type;

const char *vtag_model_type_name(vtag_model_type t); /* "fc", "att2in", "topdown" */
int vtag_model_type_parse(const char *s, vtag_model_type *t); /* 0 or VTAG_ERR_ARG; accepts "updown" */

typedef struct vtag_model_config {
    vtag_model_type type;
    int64_t vocab_size;          /* V labels (ids 1..V) */
    int64_t input_encoding_size; /* E, default 512 */
    int64_t rnn_size;            /* R, default 512 */
    int64_t att_hid_size;        /* A, default 512 */
    int64_t fc_feat_size;        /* from the features file */
    int64_t att_feat_size;       /* from the features file */
    int64_t max_length;          /* caption tokens, default 16 */
    float drop_prob_lm;          /* default 0.5 */
} vtag_model_config;

/* SPEC defaults for everything but type, vocab and feature sizes. */
void vtag_model_config_defaults(vtag_model_config *cfg);
/* JSON of the sizes (the checkpoint's vtag.config); caller frees. */
char *vtag_model_config_to_json(const vtag_model_config *cfg);
int vtag_model_config_from_json(vtag_model_config *cfg, const char *json, vtag_error *err);

typedef struct vtag_model {
    vtag_model_config cfg;
    vtag_params params; /* every tensor under its SPEC §3 name */
} vtag_model;

/* Declares and allocates the parameters (zero); vtag_model_init_weights then
 * draws them as PyTorch's default initialisers would (uniform ±1/sqrt(fan_in)
 * for Linear and LSTM, ±0.1 for embeddings and the logit weight). */
int vtag_model_init(vtag_model *m, const vtag_model_config *cfg, vtag_error *err);
void vtag_model_init_weights(vtag_model *m, vtag_rng *rng);
void vtag_model_free(vtag_model *m);

/* A batch of B rows: image features and, for training, captions.
 * labels[B, L] hold each caption's ids, 0-padded, L = cfg.max_length. */
typedef struct vtag_batch {
    int64_t b;
    int64_t k;             /* att positions (0 for fc) */
    const float *fc;       /* [B, fc_feat_size]    (fc, topdown) */
    const float *att;      /* [B, K, att_feat_size] (att2in, topdown) */
    const int32_t *labels; /* [B, L] */
} vtag_batch;

/* Teacher-forced XE: input BOS + caption, target caption + EOS, loss = mean
 * −log p over every caption token plus one EOS per row (SPEC §4).
 * train != 0 turns dropout on (drawing from ctx->rng). If backward != 0 the
 * parameter gradients are ADDED to m->params.grad (scaled by dloss = 1).
 * logprobs (optional) receives [B, L+1, V+1] log-probabilities per position. */
int vtag_model_xe(vtag_ctx *ctx, vtag_model *m, const vtag_batch *batch, int train, int backward,
                  double *loss, float *logprobs, vtag_error *err);

/* ---- decoding ------------------------------------------------------------------
 * A label is never emitted twice in one caption (its log-probability is set to
 * −inf once emitted; duplicates mean nothing for tags). Decoding stops at EOS
 * or after max_length labels. */
typedef enum vtag_decode_mode {
    VTAG_DECODE_GREEDY = 0,
    VTAG_DECODE_SAMPLE = 1,
    VTAG_DECODE_BEAM = 2,
} vtag_decode_mode;

typedef struct vtag_decode_opts {
    vtag_decode_mode mode;
    int beam_size;     /* for BEAM */
    float temperature; /* for SAMPLE */
    int train;         /* dropout on (SCST samples) */
} vtag_decode_opts;

/* seq[B, L] receives the labels (0 after the end); seq_logprobs[B, L+1]
 * (optional) the log-probability of each emitted token, then of EOS (0 after).
 * Returns the caption lengths in len[B] (optional). */
int vtag_model_decode(vtag_ctx *ctx, vtag_model *m, const vtag_batch *batch, const vtag_decode_opts *opts,
                      int32_t *seq, float *seq_logprobs, int32_t *len, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

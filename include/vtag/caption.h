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
    int64_t frames;              /* 0: frame-level (a row per frame); T > 0: video-level, a row per
                                  * video whose T attention positions are its frames' fc vectors
                                  * (vtag_data_video_row); vtag.config "frames", absent = 0 */
} vtag_model_config;

/* SPEC defaults for everything but type, vocab and feature sizes. */
void vtag_model_config_defaults(vtag_model_config *cfg);
/* JSON of the sizes (the checkpoint's vtag.config); caller frees. */
char *vtag_model_config_to_json(const vtag_model_config *cfg);
int vtag_model_config_from_json(vtag_model_config *cfg, const char *json, vtag_error *err);

/* Roles of a model's parameters (src/caption/caption_internal.h names them). */
#define VTAG_MODEL_SLOTS 32

typedef struct vtag_model {
    vtag_model_config cfg;
    vtag_params params; /* every tensor under its SPEC §3 name */
    /* private: the index in params of each parameter by its role, resolved
     * once when the model is declared (-1: this type has none), so that the
     * passes never look a tensor up by name */
    int slot[VTAG_MODEL_SLOTS];
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
/* The same with a signed weight per row (SCST: the row's advantage):
 * loss = −Σ_b w_b Σ_t mask·log p / Σ mask. row_weight NULL = all ones. */
int vtag_model_xe_weighted(vtag_ctx *ctx, vtag_model *m, const vtag_batch *batch, const float *row_weight,
                           int train, int backward, double *loss, float *logprobs, vtag_error *err);

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

/* ---- training and checkpoints (src/caption/train.c, checkpoint.c) ------------------ */
#include "vtag/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows to train or caption: each row one frame's features and its caption. */
typedef struct vtag_rows {
    int64_t n, k;
    const float *fc;       /* [n, fc_feat_size] or NULL */
    const float *att;      /* [n, K, att_feat_size] or NULL */
    const int32_t *labels; /* [n, max_length] 0-padded, or NULL when captioning */
} vtag_rows;

typedef struct vtag_xe_opts {
    int batch_size;      /* default 50 */
    float lr;            /* default 5e-4 */
    float lr_decay;      /* ×0.8 … */
    int lr_decay_every;  /* … every 3 epochs … */
    int lr_decay_start;  /* … from epoch 0 (<0: never) */
    float grad_clip;     /* clip gradient elements to ±0.1 (0: off) */
} vtag_xe_opts;

void vtag_xe_opts_defaults(vtag_xe_opts *o);

typedef struct vtag_epoch_stats {
    double loss;     /* mean over steps */
    int64_t tokens;  /* target tokens (labels + EOS) */
    int64_t steps;
} vtag_epoch_stats;

/* Called after every step with (done rows, total rows, running mean loss). */
typedef void (*vtag_progress_fn)(void *user, int64_t done, int64_t total, double loss);

/* ---- a training step: gradient -> hook -> update ----
 * Every step (XE and SCST) is split in two: the gradient half zeroes
 * m->params.grad and adds the batch's loss gradient to it; vtag_train_update
 * then calls the gradient hook, checks that the loss and the gradient are
 * finite, clips and takes one Adam step. The hook is where a caller running
 * several processes sums their gradients (an all-reduce): the divergence
 * check comes after it, on the gradient the update will use. */

/* grad: the flat gradient m->params.grad, n = m->params.total floats, which
 * the hook may change in place; step: the step's number within its epoch
 * (1-based, the N of "step N: ... (diverged)"). Non-zero stops the epoch
 * before the update with that status; the hook sets err. */
typedef int (*vtag_grad_hook_fn)(void *user, float *grad, int64_t n, int64_t step, vtag_error *err);

/* Sums the step's gradient grad[n] and its sums[n_sums] (sums[0] target
 * tokens, sums[1] loss times tokens, then the SCST reward, advantage and
 * greedy-score sums and the images) over several processes, in place: the
 * first thing a step's update does (vtag_cluster_grad_reduce). */
typedef int (*vtag_grad_reduce_fn)(void *user, float *grad, int64_t n, double *sums, int n_sums, vtag_error *err);

/* ---- data-parallel steps (SPEC §10) ----
 * With micro > 1 each step's batch is cut into `micro` micro-batches (as even
 * as possible, the first ones one row longer; a short last batch may leave
 * some empty). Micro-batch j draws its dropout masks and samples from its own
 * stream, seeded from ctx->rng's state (which steps then leave as it is),
 * the step and j; its gradient,
 * times its target tokens c_j, is a leaf of a perfect binary tree summed left
 * + right at every node; the step's gradient is the root over sum(c_j) (and
 * its loss likewise). A process of rank r among `ranks` computes only the
 * micro-batches [r·micro/ranks, (r+1)·micro/ranks), a subtree; the gradient
 * hook combines the ranks' subtrees in the same tree (vtag_cluster_tree_sum).
 * So the gradient is the same float sum, in the same order, for every
 * number of ranks that divides micro: 1, 2 or 4 processes give bit-identical
 * weights (with the same threads per process). micro 0 or 1: the whole batch
 * in one pass, from ctx->rng itself (one process only). */
typedef struct vtag_train_shard {
    int micro;       /* micro-batches per step: 0 or 1, or a power of two (at most 1024) */
    int rank, ranks; /* this process of how many (ranks 0 = 1); ranks divides micro */
} vtag_train_shard;

/* "--micro-batches M with N ranks: ..." unless the shard is one of the above. */
int vtag_train_shard_check(const vtag_train_shard *s, vtag_error *err);

/* What an epoch calls besides its own work (every member optional). */
typedef struct vtag_train_hooks {
    vtag_progress_fn progress; /* after every step */
    vtag_grad_hook_fn grad;    /* between the gradient and the update */
    void *user;                /* given to both */
    vtag_train_shard shard;    /* {0}: the whole batch in one pass */
    vtag_grad_reduce_fn reduce; /* first in the update, before grad (ranks > 1 need one) */
    void *reduce_user;
    /* after every step's update: its number and loss (the mean over the whole
     * batch, every rank the same) */
    void (*step)(void *user, int64_t step, double loss);
} vtag_train_hooks;

/* perm[0..n) = a permutation of 0..n-1: Fisher-Yates from the end, n-1 draws
 * from rng. The one shuffle of every trainer's epoch. */
void vtag_train_shuffle(vtag_rng *rng, int64_t *perm, int64_t n);

/* The gradient half of an XE step on one batch (dropout on): resets
 * ctx->arena, zeroes m->params.grad, adds the loss gradient; *loss the
 * batch's mean loss. */
int vtag_train_xe_grad(vtag_ctx *ctx, vtag_model *m, const vtag_batch *batch, double *loss, vtag_error *err);

/* The update half of a step: hooks->grad (when set); then, when the loss or
 * the gradient norm is not finite, VTAG_ERR_DIVERGED ("step N: loss is nan
 * (diverged)", vtag_check_diverged) with the weights and Adam untouched (the
 * caller keeps its last good checkpoint); else gradient elements clipped to
 * +-grad_clip (0: off) and one Adam step with lr. hooks may be NULL. */
int vtag_train_update(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, double loss, float lr, float grad_clip,
                      int64_t step, const vtag_train_hooks *hooks, vtag_error *err);

/* One epoch of XE: a shuffled pass over the rows (the permutation and every
 * dropout mask come from ctx->rng, so an epoch is a function of the RNG state
 * at its start), one step per batch (vtag_train_xe_grad, then
 * vtag_train_update with lr from the step-decay schedule at `epoch`). A step
 * whose loss or gradient is not finite stops the epoch before its update,
 * with VTAG_ERR_DIVERGED ("step N: loss is nan (diverged)"). hooks may be NULL. */
int vtag_train_xe_epoch_hooks(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                              const vtag_xe_opts *o, int epoch, const vtag_train_hooks *hooks, vtag_epoch_stats *stats,
                              vtag_error *err);
/* The same without a gradient hook. */
int vtag_train_xe_epoch(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows, const vtag_xe_opts *o,
                        int epoch, vtag_epoch_stats *stats, vtag_progress_fn progress, void *user, vtag_error *err);

/* Decodes every row in batches of batch_size: seq [n, L], logprobs [n, L+1]
 * (optional), len [n] (optional). */
int vtag_caption_rows(vtag_ctx *ctx, vtag_model *m, const vtag_rows *rows, const vtag_decode_opts *opts,
                      int batch_size, int32_t *seq, float *logprobs, int32_t *len, vtag_error *err);

/* Each label's probability of appearing in the caption of a video, from
 * the model itself: for each of the n rows (idx NULL: rows 0..n-1 of rows,
 * else rows idx[0..n)), ceil(samples / n) captions are sampled (temperature
 * 1, no dropout, from a generator seeded with `seed`, so a video's scores do
 * not depend on other videos), and P(label in the row's caption) is
 * estimated as the mean over them of the sum, over the steps before the
 * label is emitted, of its probability at that step (unbiased; less variance
 * than counting samples). scores[1..V] (V+1 entries; [0] = 0) is the mean of
 * the rows' probabilities: the chance that the caption of a frame drawn at
 * random from the video holds the label. */
#define VTAG_CAPTION_SCORE_SAMPLES_MAX 65536
#define VTAG_CAPTION_SCORE_SAMPLES_DEFAULT 128 /* per video: vtag tag's and vtag eval's */
#define VTAG_CAPTION_SCORE_SEED 1               /* the same for every video */
int vtag_caption_label_scores(vtag_ctx *ctx, const vtag_model *m, const vtag_rows *rows, const int64_t *idx,
                              int64_t n, int64_t samples, uint64_t seed, double *scores, vtag_error *err);
/* Checkpoint: the parameters under their SPEC names, metadata vtag.model,
 * vtag.config and vtag.vocab (a JSON array; element i = token of id i+1). */
int vtag_checkpoint_save(const vtag_model *m, const char *vocab_json, const char *path, vtag_error *err);
/* Loads a checkpoint into a new model; *vocab_json (malloc'd) if non-NULL.
 * Checks vtag.config (every field, against limits no real model reaches),
 * then every tensor's presence, shape and finite values against it, before
 * the model is allocated; refuses a missing, extra or wrongly shaped tensor,
 * naming it. */
int vtag_checkpoint_load(vtag_model *m, char **vocab_json, const char *path, vtag_error *err);

/* Training state for --resume (a separate file, SPEC §8): Adam's moments and
 * step, the epoch reached, the RNG state, the best validation score. */
typedef struct vtag_train_state {
    int epoch;          /* epochs completed */
    vtag_adam adam;
    uint64_t rng_state;
    double best_score;  /* best validation CIDEr-D so far (-1: none) */
    int best_epoch;
} vtag_train_state;

/* The training state beside a checkpoint: "M.safetensors" ->
 * "M.state.safetensors", any other name gets ".state.safetensors" appended
 * (malloc'd; NULL when out of memory). */
char *vtag_train_state_path(const char *checkpoint);
/* Saves the current weights with the state (so a resumed run continues from
 * the last epoch, not from the best checkpoint). */
int vtag_train_state_save(const vtag_model *m, const vtag_train_state *s, const char *vocab_json, const char *path,
                          vtag_error *err);
/* Restores weights, Adam moments and state into an initialised model of the
 * same configuration; refuses a state file of another model or size, and
 * checks every field of vtag.train_state (type and range) and every tensor
 * (shape, finite, adam_v >= 0) first: on failure neither *s nor the model
 * changes. The caller checks s->epoch against its own run's epochs. */
int vtag_train_state_load(vtag_model *m, vtag_train_state *s, const char *path, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* Self-critical sequence training (SPEC §4): CIDEr-D reward, greedy or
 * mean-of-other-samples baseline, one policy-gradient step at a time. */
#ifndef VTAG_SCST_H
#define VTAG_SCST_H

#include "vtag/caption.h"
#include "vtag/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vtag_scst_baseline {
    VTAG_SCST_BASELINE_GREEDY = 0, /* reward of the greedy caption (dropout off) */
    VTAG_SCST_BASELINE_MEAN = 1,   /* mean reward of the image's other samples */
} vtag_scst_baseline;

typedef struct vtag_scst_opts {
    int sample_n;              /* samples per image (5) */
    vtag_scst_baseline baseline;
    double cider_weight;       /* reward = cider_weight · CIDEr-D … (1) */
    double bleu_weight;        /* … + bleu_weight · sentence BLEU-4 (0) */
    int batch_size;            /* images per step (10) */
    float lr;                  /* 5e-5, no decay */
    float grad_clip;           /* ±0.1 */
} vtag_scst_opts;

typedef struct vtag_scst_stats {
    double reward;    /* mean reward of the samples */
    double advantage; /* mean advantage */
    double greedy;    /* mean CIDEr-D of the greedy captions (NaN with the mean baseline: no greedy pass) */
    double loss;
    int64_t steps;
    int64_t tokens;   /* vtag_scst_grad: the step's target tokens (labels and EOS of every sample) */
} vtag_scst_stats;

void vtag_scst_opts_defaults(vtag_scst_opts *o);
/* Refuses the mean baseline with fewer than 2 samples, and other nonsense. */
int vtag_scst_check_opts(const vtag_scst_opts *o, vtag_error *err);

/* The reward of one caption (labels seq[0..len)): EOS (id 0) is appended as a
 * token when the caption ended before max_length. The references are scored
 * as given (the caller appends EOS to them the same way, and computes the
 * document frequencies over those references once per run). */
int vtag_scst_reward(const vtag_metrics_df *df, vtag_metrics_work *w, const vtag_scst_opts *o, const int32_t *seq,
                     int32_t len, int64_t max_length, const vtag_metrics_seq *refs, int64_t n_refs, double *reward,
                     vtag_error *err);

/* adv[i·n + j] = reward[i·n + j] − baseline (greedy[i], or the mean of the
 * other n−1 rewards of image i). */
void vtag_scst_advantages(const double *reward, const double *greedy, int64_t b, int n, vtag_scst_baseline baseline,
                          float *adv);

/* The sampling pass with a tape: n captions for each of the B images of
 * `images` (rows i·n … i·n+n−1 are image i's), drawn as vtag_model_decode
 * samples (temperature 1, no label twice; train != 0: dropout on), keeping in
 * ctx->arena every activation the backward needs — the tape is valid until the
 * arena is reset. Each image's features are prepared once and shared by its
 * rows (topdown: one dropout mask of the embedded features per image).
 * forced [B·n, L] (optional): take these captions instead of sampling
 * (0-padded; no random draws for tokens), for tests. seq [B·n, L] receives the
 * captions (0 after the end), len [B·n] (optional) their lengths. */
typedef struct vtag_scst_tape vtag_scst_tape;
int vtag_scst_sample(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *images, int64_t n, int train,
                     const int32_t *forced, vtag_scst_tape **tape, int32_t *seq, int32_t *len, vtag_error *err);
/* loss = −Σ_b adv[b] Σ_t mask·log p(token) / Σ mask over the tape's rows and
 * tokens (labels and EOS), with the log-probabilities and dropout masks of the
 * sampling pass itself; its gradient is ADDED to m->params.grad. */
int vtag_scst_backward(vtag_ctx *ctx, vtag_model *m, const vtag_scst_tape *tape, const float *adv, double *loss,
                       vtag_error *err);

/* Buffers for SCST steps of up to max_b images of max_length tokens with
 * sample_n samples each: allocated once, reused by every step of an epoch. */
typedef struct vtag_scst_work vtag_scst_work;
int vtag_scst_work_new(vtag_scst_work **w, int64_t max_b, int64_t max_length, int sample_n, vtag_error *err);
void vtag_scst_work_free(vtag_scst_work **w); /* NULLs *w */

/* The gradient half of an SCST step on B images (the update half is
 * vtag_train_update, with o->lr and o->grad_clip): greedy pass (no gradient,
 * dropout off; greedy baseline only), n samples per image (dropout on) on a
 * tape, rewards, advantages, then m->params.grad zeroed and the gradient of
 * the loss −Σ adv · log p(token) · mask / Σ mask (mask: labels and EOS)
 * through the sampling pass (vtag_scst_backward) added; *loss the loss.
 * refs[i] (n_refs[i]) are image i's references. means (optional) receives
 * the step's mean reward, advantage, greedy CIDEr-D and loss, steps = 1.
 * Sampling probabilities that are not finite fail with VTAG_ERR_DIVERGED
 * ("step N: ... (diverged)"). */
int vtag_scst_grad(vtag_ctx *ctx, vtag_model *m, vtag_scst_work *w, const vtag_batch *batch,
                   const vtag_metrics_seq *const *refs, const int64_t *n_refs, const vtag_metrics_df *df,
                   const vtag_scst_opts *o, int64_t step, double *loss, vtag_scst_stats *means, vtag_error *err);

/* One SCST step on B images: vtag_scst_grad, then vtag_train_update (no
 * hook): clipping and one Adam update. stats (optional) accumulates the
 * step's means. Sampling probabilities, a loss or a gradient that are not
 * finite fail with VTAG_ERR_DIVERGED ("step N: ... (diverged)", N =
 * stats->steps + 1), before the update. */
int vtag_scst_step(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_batch *batch,
                   const vtag_metrics_seq *const *refs, const int64_t *n_refs, const vtag_metrics_df *df,
                   const vtag_scst_opts *o, vtag_scst_stats *stats, vtag_error *err);

/* A shuffled pass over the rows (vtag_train_shuffle) in steps of
 * o->batch_size images, each vtag_scst_grad then vtag_train_update with
 * hooks (NULL: none); *stats the means over the steps. */
int vtag_train_scst_epoch_hooks(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                                const vtag_metrics_seq *const *row_refs, const int64_t *row_n_refs,
                                const vtag_metrics_df *df, const vtag_scst_opts *o, const vtag_train_hooks *hooks,
                                vtag_scst_stats *stats, vtag_error *err);
/* The same without a gradient hook. */
int vtag_train_scst_epoch(vtag_ctx *ctx, vtag_model *m, vtag_adam *adam, const vtag_rows *rows,
                          const vtag_metrics_seq *const *row_refs, const int64_t *row_n_refs, const vtag_metrics_df *df,
                          const vtag_scst_opts *o, vtag_scst_stats *stats, vtag_progress_fn progress, void *user,
                          vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

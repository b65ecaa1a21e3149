/* The built-in backbone (SPEC §7): a small residual CNN that vtag trains
 * itself as a multi-label classifier over the label vocabulary (one sigmoid
 * per label, binary cross-entropy), then uses as a feature extractor:
 * fc = the global average pool of the last conv map, att = that map as
 * K = h·w positions of D channels. This header is the training side (model,
 * loss, frames, epochs, files); inference goes through vtag/backbone.h. */
#ifndef VTAG_BUILTIN_H
#define VTAG_BUILTIN_H

#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/optim.h"
#include "vtag/video.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- BCE with logits (mean over every element, as torch's BCEWithLogitsLoss) ----
 * loss = mean_i max(x_i, 0) − x_i·y_i + log(1 + exp(−|x_i|)). */
double vtag_bce_logits_forward(const float *logits, const float *targets, int64_t n);
/* dlogits[i] += scale · (sigmoid(x_i) − y_i); scale = 1/n gives the mean's gradient. */
void vtag_bce_logits_backward(float *dlogits, const float *logits, const float *targets, int64_t n,
                              float scale);

/* ---- the network -------------------------------------------------------------------
 * stem: conv 3×3/2 (widths[0]) – BN – ReLU; then n_stages stages of blocks[s]
 * BasicBlocks of widths[s] channels (conv 3×3 – BN – ReLU – conv 3×3 – BN,
 * plus the input — through a 1×1 conv – BN projection when the shape changes
 * — then ReLU); stage s > 0 starts with stride 2. Head: global average pool
 * (fc, D = widths[last]) → Linear(D → V) logits. Convs have no bias (BN follows). */
#define VTAG_BUILTIN_MAX_STAGES 4
/* Limits no real model reaches (the default is 16..128 wide, 1 block per
 * stage, 64 px: 0.7 M parameters), checked by vtag_builtin_config_check and
 * vtag_builtin_init / vtag_builtin_load before anything is allocated:
 * channels per stage (ResNet's widest basic block: 512), blocks per stage
 * (ResNet-34: 6), input side, labels, parameters (ResNet-50: 25 M; 2^27
 * parameters are 512 MB per copy, four copies in training) and the largest
 * feature map of one image (the stem's: widths[0]·(S/2)² floats, resnet50 at
 * 224 px: 0.8 M; 2^26 floats are 256 MB). */
#define VTAG_BUILTIN_MAX_WIDTH 2048
#define VTAG_BUILTIN_MAX_BLOCKS 32
#define VTAG_BUILTIN_MIN_SIZE 8
#define VTAG_BUILTIN_MAX_SIZE 4096
#define VTAG_BUILTIN_MAX_LABELS 100000
#define VTAG_BUILTIN_MAX_PARAMS ((int64_t)1 << 27)
#define VTAG_BUILTIN_MAX_MAP ((int64_t)1 << 26)

typedef struct vtag_builtin_config {
    int64_t size;                             /* input S×S */
    int n_stages;                             /* 1..4 */
    int64_t widths[VTAG_BUILTIN_MAX_STAGES];  /* channels of each stage; the stem has widths[0] */
    int64_t blocks[VTAG_BUILTIN_MAX_STAGES];  /* BasicBlocks per stage, >= 1 */
    int64_t n_labels;                         /* V */
    float mean[3], std[3];                    /* frame normalisation */
    float bn_eps, bn_momentum;                /* 1e-5, 0.1 */
} vtag_builtin_config;

/* S = 64, widths 16/32/64/128, one block per stage, ImageNet mean/std: on the
 * demo corpus as good as 96 px with 32..256 (val mAP 0.60 after 7 epochs) at
 * a third of the training time (bench/README.md). */
void vtag_builtin_config_default(vtag_builtin_config *c);
int vtag_builtin_config_check(const vtag_builtin_config *c, vtag_error *err);
/* Side of the last conv map: K = side². */
int64_t vtag_builtin_out_side(const vtag_builtin_config *c);

/* One conv–BN unit: indices into params (weight, BN weight/bias) and buffers
 * (BN running mean/var). */
typedef struct vtag_builtin_unit {
    int w, gamma, beta, mean, var;
    int64_t c_in, c_out, k, stride; /* square kernel k, padding k/2 */
} vtag_builtin_unit;

typedef struct vtag_builtin_block {
    int conv1, conv2, proj; /* unit indices; proj = -1 for the identity */
} vtag_builtin_block;

typedef struct vtag_builtin {
    vtag_builtin_config cfg;
    vtag_params params;  /* trainable: convs, BN weight/bias, classifier */
    vtag_params buffers; /* BN running_mean / running_var (only .value used) */
    vtag_builtin_unit *units;   /* (n_units) stem first, then each block's conv1, conv2, proj */
    int n_units;
    vtag_builtin_block *blocks; /* (n_blocks) */
    int n_blocks;
    int cls_w, cls_b;    /* classifier.weight [V, D], classifier.bias [V] */
    char **labels;       /* (cfg.n_labels) the label of each output */
} vtag_builtin;

/* Declares and allocates every tensor (names as the PyTorch twin's state_dict,
 * reference/builtin_backbone.py); labels may be NULL (then "label<i>"). */
int vtag_builtin_init(vtag_builtin *m, const vtag_builtin_config *cfg, const char *const *labels,
                      vtag_error *err);
/* Kaiming-normal (fan_out, ReLU) convs, BN weight 1 / bias 0, running
 * mean 0 / var 1, classifier uniform ±1/sqrt(D) — torchvision's ResNet init. */
void vtag_builtin_init_weights(vtag_builtin *m, vtag_rng *rng);
void vtag_builtin_free(vtag_builtin *m);

/* Training mode: BN normalises with batch statistics (running stats updated
 * when update_running). images [n, 3, S, S] normalised; targets [n, V] in
 * {0,1}. Writes logits [n, V] (if non-NULL) and the mean BCE into *loss;
 * with backward != 0 ADDS the gradient of that loss into m->params.grad.
 * Activations come from ctx->arena; the caller resets it after the call. */
int vtag_builtin_train_step(vtag_ctx *ctx, vtag_builtin *m, const float *images, const float *targets,
                            int64_t n, int update_running, int backward, float *logits, double *loss,
                            vtag_error *err);

/* ---- inference (BN folded into the convs, ReLU fused) -------------------------------- */
typedef struct vtag_builtin_infer {
    vtag_builtin_config cfg;
    int n_units;
    vtag_builtin_unit *units;           /* (n_units) copied from the model */
    float **w, **b;                     /* (n_units) folded weights [c_out, c_in, k, k], biases [c_out] */
    vtag_builtin_block *blocks;         /* (n_blocks) */
    int n_blocks;
    float *cls_w, *cls_b;               /* [V, D], [V] */
} vtag_builtin_infer;

int vtag_builtin_infer_build(vtag_builtin_infer *inf, const vtag_builtin *m, vtag_error *err);
void vtag_builtin_infer_free(vtag_builtin_infer *inf);
/* images [n,3,S,S] → fc [n, D] (may be NULL), att [n, K, D] (may be NULL),
 * probs [n, V] sigmoid of the logits (may be NULL). Scratch from ctx->arena
 * (reset by the caller). */
int vtag_builtin_infer_run(vtag_ctx *ctx, const vtag_builtin_infer *inf, const float *images, int64_t n,
                           float *fc, float *att, float *probs, vtag_error *err);
/* The classifier head alone on fc rows already extracted: probs [n, V] =
 * sigmoid(classifier.weight · fc[i] + classifier.bias), fc [n, d]; d must be
 * D = widths[last] (else VTAG_ERR_ARG). Plain float sums in feature order,
 * one row at a time (builtin_classify.c). */
int vtag_builtin_classify(const vtag_builtin *m, const float *fc, int64_t n, int64_t d, float *probs,
                          vtag_error *err);

/* ---- files -----------------------------------------------------------------------------
 * safetensors: every parameter and BN buffer under its PyTorch name, and the
 * metadata vtag.backbone = JSON {"arch": "vtag-resnet", "size", "widths",
 * "blocks", "mean", "std", "bn_eps", "labels"} (docs/FORMATS.md). */
#define VTAG_BUILTIN_ARCH "vtag-resnet"
int vtag_builtin_save(const vtag_builtin *m, const char *path, vtag_error *err);
/* Reads a file written by vtag_builtin_save; every error names the file. */
int vtag_builtin_load(vtag_builtin *m, const char *path, vtag_error *err);
/* The vtag.backbone JSON of m (malloc'd; the caller frees). */
char *vtag_builtin_describe(const vtag_builtin *m);
/* Training state (what --resume continues from): weights, BN buffers, Adam's
 * moments and step, the RNG, the epochs done and the best validation score.
 * Loading trusts nothing in the file: it must have been written for the same
 * configuration, and every field is checked (VTAG_ERR_FORMAT naming the file
 * and the field) before anything is changed: "epoch" an integer in
 * 0..VTAG_BUILTIN_MAX_EPOCHS (the caller also holds it to its run's total),
 * "adam_step" an integer >= epoch (one step per epoch at least; 0 at epoch
 * 0), "rng" exactly 16 hex digits, "best" -1 (no validation yet) or a mAP in
 * [0, 1], no other field; the tensors of the configuration's sizes, finite,
 * Adam's second moments >= 0. */
#define VTAG_BUILTIN_MAX_EPOCHS 100000
int vtag_builtin_state_save(const vtag_builtin *m, const vtag_adam *adam, const vtag_rng *rng, int epoch, double best,
                            const char *path, vtag_error *err);
int vtag_builtin_state_load(vtag_builtin *m, vtag_adam *adam, vtag_rng *rng, int *epoch, double *best, const char *path,
                            vtag_error *err);

/* ---- training data -------------------------------------------------------------------
 * Frames sampled from the labelled videos, decoded once at S×S and kept in
 * memory as uint8 RGB; each frame's target is its video's labels (class1,
 * class2 and tags set to 1). */
typedef struct vtag_builtin_frames {
    int64_t n, size;       /* frames, S */
    uint8_t *rgb;          /* [n, S, S, 3] */
    int64_t *entry;        /* (n) labels entry of each frame */
    double *pts;           /* (n) seconds */
    int64_t n_videos;      /* videos with at least one frame */
} vtag_builtin_frames;

/* Progress callback: videos done / total. */
typedef void (*vtag_builtin_progress)(void *user, int64_t done, int64_t total);

/* Decodes the frames of every entry of `l` in `split` (VTAG_DATA_SPLIT_ALL:
 * every entry). A video that fails is an error naming it. threads: videos
 * decoded at once. */
int vtag_builtin_load_frames(vtag_builtin_frames *f, const vtag_data_labels *l, vtag_data_split split,
                             const vtag_video_sampler *s, int64_t size, int threads,
                             vtag_builtin_progress progress, void *user, vtag_error *err);
/* The frames s picks from one video (one decoder thread; entry 0 for every
 * frame); an error names the video. */
int vtag_builtin_load_video(vtag_builtin_frames *f, const char *path, const vtag_video_sampler *s, int64_t size,
                            vtag_error *err);
void vtag_builtin_free_frames(vtag_builtin_frames *f);

/* The label vocabulary: labels of the training split, in labels->names order.
 * index[n_names] maps a labels name to its output (-1 if not in the vocabulary).
 * *out is malloc'd (borrowed strings). */
int vtag_builtin_vocab(const vtag_data_labels *l, const char ***out, int64_t *n, int64_t *index,
                       vtag_error *err);
/* targets[V] = multi-hot of entry e's class1, class2 and tags. */
void vtag_builtin_targets(const vtag_data_labels *l, int64_t e, const int64_t *index, int64_t v,
                          float *targets);

/* ---- epochs ------------------------------------------------------------------------------- */
typedef struct vtag_builtin_train_opts {
    int64_t batch;  /* frames per step (32) */
    float lr;       /* Adam (1e-3), cosine-decayed to lr·0.05 over the epochs */
    float weight_decay; /* L2 (1e-4) */
    int flip;       /* random horizontal flips (1) */
    int64_t shift;  /* random translations of up to ±shift pixels (S/16) */
    int epochs;     /* for the schedule */
    vtag_builtin_progress progress; /* after every step: frames done, frames of the epoch (NULL: none) */
    void *user;                     /* progress's */
} vtag_builtin_train_opts;

void vtag_builtin_train_opts_default(vtag_builtin_train_opts *o);

typedef struct vtag_builtin_epoch_stats {
    double loss;      /* mean over the steps */
    int64_t frames;
    double seconds;
} vtag_builtin_epoch_stats;

/* One pass over the frames in an order drawn from ctx->rng. index maps labels
 * names to outputs (vtag_builtin_vocab). Resets ctx->arena after every step.
 * A step whose loss or gradient is not finite stops the epoch before its
 * update, with VTAG_ERR_DIVERGED (vtag_check_diverged). */
int vtag_builtin_train_epoch(vtag_ctx *ctx, vtag_builtin *m, vtag_adam *adam, const vtag_builtin_frames *f,
                             const vtag_data_labels *l, const int64_t *index, const vtag_builtin_train_opts *o,
                             int epoch, vtag_builtin_epoch_stats *st, vtag_error *err);
/* probs [f->n, V]: every frame's label probabilities (folded inference model).
 * Resets ctx->arena after every batch. */
int vtag_builtin_predict_frames(vtag_ctx *ctx, const vtag_builtin_infer *inf, const vtag_builtin_frames *f,
                                int64_t batch, float *probs, vtag_error *err);
/* Video-level mAP (mean of each video's frame probabilities vs its labels)
 * over the labels of the vocabulary. */
int vtag_builtin_video_map(const vtag_builtin_frames *f, const float *probs, int64_t v, const vtag_data_labels *l,
                           const int64_t *index, double *map, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

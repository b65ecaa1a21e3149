/* Optimisation: Adam with bias correction, gradient clipping, and the
 * step-decay learning-rate schedule of SPEC §4. */
#ifndef VTAG_OPTIM_H
#define VTAG_OPTIM_H

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_adam {
    float beta1, beta2, eps;
    float weight_decay; /* L2 added to the gradient, as torch.optim.Adam does */
    int64_t step;       /* number of updates taken so far */
} vtag_adam;

void vtag_adam_init(vtag_adam *opt); /* (0.9, 0.999, 1e-8), no decay */
/* One update of every parameter in p with learning rate lr. */
void vtag_adam_update(vtag_adam *opt, vtag_params *p, float lr, int threads);
/* Flat-buffer form: value, grad, m, v are [n]. `step` is the 1-based index of this update. */
void vtag_adam_update_flat(float *value, const float *grad, float *m, float *v, int64_t n, float lr,
                           float beta1, float beta2, float eps, float weight_decay, int64_t step,
                           int threads);

/* Clamp every gradient element to [-clip, clip]. */
void vtag_clip_grad_value(float *grad, int64_t n, float clip, int threads);
/* The global L2 norm of the gradients (summed over fixed blocks: the same
 * bits for every thread count); nan or inf when an element is. Trainers stop
 * on a norm that is not finite (VTAG_ERR_DIVERGED) before Adam spreads it. */
double vtag_grad_norm(const float *grad, int64_t n, int threads);
/* VTAG_ERR_DIVERGED, "step 12: loss is nan (diverged)" (or "...: gradient
 * norm is inf ..."), when the loss or the gradient norm of a step is not
 * finite; VTAG_OK otherwise. Steps count from 1. */
int vtag_check_diverged(double loss, double grad_norm, int64_t step, vtag_error *err);
/* Scale the gradients so that their global L2 norm is at most max_norm;
 * returns the norm before clipping. */
double vtag_clip_grad_norm(float *grad, int64_t n, float max_norm, int threads);

/* lr = base * decay^floor((epoch - start) / every) for epoch >= start >= 0,
 * else base; every <= 0 disables the decay. Epochs count from 0. */
float vtag_lr_step_decay(float base, int epoch, int start, int every, float decay);

#ifdef __cplusplus
}
#endif
#endif

/* Calibration of a caption model's label scores, per label, on the
 * validation videos (Platt scaling). vtag_caption_label_scores gives each
 * label the model's probability that a frame's caption holds it; a model
 * fitted on a few hundred videos is over-confident on the tags it learnt by
 * heart and the probabilities of different labels are not on one scale
 * (README, "Scores"). So each label id v gets a map
 *
 *     score' = sigmoid(a[v] * logit(s) + b[v]),  s clamped to [1e-4, 1 - 1e-4]
 *
 * fitted by maximum likelihood on the validation videos (y = the label is one
 * of the video's labels), with an L2 pull of (a[v], b[v]) towards one map
 * (a0, b0) fitted on every label's pairs together (strength shrink: a label
 * seen in few validation videos keeps nearly the shared map). a[v] >= 0, so
 * a label's ranking of the videos never changes (its average precision
 * neither); what changes is how its scores compare with other labels' and
 * with the tag threshold. The trainer fits it on the checkpoint it writes and
 * saves it beside it (vtag_calib_path); vtag tag and vtag eval apply it when
 * the file is there. */
#ifndef VTAG_CALIB_H
#define VTAG_CALIB_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_CALIB_SHRINK 5.0   /* chosen on the demo corpus's seeds (README, "Scores") */
#define VTAG_CALIB_EPS 1e-4     /* scores are clamped to [EPS, 1 - EPS] before the logit */
#define VTAG_CALIB_MAX_LABELS 1000000

typedef struct vtag_calib {
    int64_t n_labels;   /* V: label ids 1..V (the checkpoint's vocabulary) */
    double *a, *b;      /* (V + 1) each; [0] unused (1, 0) */
    double a0, b0;      /* the shared map */
    double shrink;
    int64_t videos;     /* validation videos it was fitted on */
} vtag_calib;

/* Fits c on n_videos videos: scores[i * (V + 1) + v] the label scores of
 * video i (v = 1..V; [0] ignored), truth[i * (V + 1) + v] nonzero when label
 * v is one of video i's labels. Needs n_videos >= 1, 1 <= V <=
 * VTAG_CALIB_MAX_LABELS, shrink > 0 and finite scores in [0, 1].
 * Deterministic (Newton's method in a fixed order). */
int vtag_calib_fit(vtag_calib *c, const double *scores, const unsigned char *truth, int64_t n_videos, int64_t n_labels,
                   double shrink, vtag_error *err);
/* scores[1..V] in place (scores[0] untouched). */
void vtag_calib_apply(const vtag_calib *c, double *scores);
/* "M.safetensors" -> "M.calib.safetensors" (malloc'd; NULL: out of memory). */
char *vtag_calib_path(const char *checkpoint);
/* Atomic write: F32 tensors a and b [V + 1], metadata vtag.calib
 * {"a0", "b0", "shrink", "videos"}. The reader checks shapes, finite values,
 * a >= 0, and, with n_labels > 0, that V is n_labels. */
int vtag_calib_save(const vtag_calib *c, const char *path, vtag_error *err);
int vtag_calib_load(vtag_calib *c, const char *path, int64_t n_labels, vtag_error *err);
/* The calibration beside a checkpoint (vtag_calib_path) when there is one;
 * without the file c is left empty (n_labels 0: apply changes nothing) and
 * that is no error. */
int vtag_calib_load_beside(vtag_calib *c, const char *checkpoint, int64_t n_labels, vtag_error *err);
void vtag_calib_free(vtag_calib *c);

#ifdef __cplusplus
}
#endif
#endif

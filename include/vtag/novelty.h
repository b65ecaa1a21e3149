/* Novelty: how unlike the training videos a video is, in the backbone's
 * feature space, so that a clip nothing like the training corpus (a test
 * pattern, a fractal) is "unknown" instead of getting confident tags. The
 * caption model's scores are probabilities given that the video is like the
 * training videos; they say nothing about videos that are not, and a softmax
 * is confident on them all the same (docs/ARCHITECTURE.md, "Scores").
 *
 * The model: the mean m and the shrunk covariance S = C + l I (C the
 * covariance of the training frames' fc rows, l = shrink * trace(C) / d) of
 * the training frames; a frame's distance is the squared Mahalanobis distance
 * (x - m)' S^-1 (x - m), a video's statistic the mean over its frames, and
 * the threshold the largest statistic among the validation videos (a
 * conformal rule: an in-domain video exceeds it with probability about
 * 1 / (validation videos + 1)). novelty = statistic / threshold; above 1 the
 * video is unknown. The trainer fits it and writes it beside each checkpoint
 * (vtag_novelty_path); the tagger and vtag eval read it from there. */
#ifndef VTAG_NOVELTY_H
#define VTAG_NOVELTY_H

#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_NOVELTY_SHRINK 0.01 /* chosen on the demo corpus (README, "Scores") */

typedef struct vtag_novelty {
    int64_t dim;        /* d = the features' fc size */
    double *mean;       /* (d) */
    double *precision;  /* (d, d) S^-1 */
    double shrink;
    double threshold;   /* > 0 */
    int64_t train_rows, val_videos; /* what it was fitted on (val_videos 0: the training videos) */
} vtag_novelty;

/* Fits on train's fc rows; the threshold from val's videos (rows grouped by
 * item), or from train's when val is NULL. Needs fc, at least 2 rows and
 * val's fc of the same size. */
int vtag_novelty_fit(vtag_novelty *nv, const vtag_data_features *train, const vtag_data_features *val, double shrink,
                     vtag_error *err);
/* The statistic of a video's n frames (fc rows [n, dim]) over the threshold. */
int vtag_novelty_video(const vtag_novelty *nv, const float *fc, int64_t n, double *novelty, vtag_error *err);
/* The same for the rows idx[0..n) of a features file. */
int vtag_novelty_rows(const vtag_novelty *nv, const vtag_data_features *f, const int64_t *idx, int64_t n,
                      double *novelty, vtag_error *err);
/* "M.safetensors" -> "M.novelty.safetensors" (malloc'd; NULL: out of memory). */
char *vtag_novelty_path(const char *checkpoint);
/* Atomic write; the reader checks shapes, finite values and the threshold. */
int vtag_novelty_save(const vtag_novelty *nv, const char *path, vtag_error *err);
int vtag_novelty_load(vtag_novelty *nv, const char *path, vtag_error *err);
/* The novelty model beside a checkpoint (vtag_novelty_path), when there is
 * one; without the file nv is left empty (dim 0) and that is no error. */
int vtag_novelty_load_beside(vtag_novelty *nv, const char *checkpoint, vtag_error *err);
void vtag_novelty_free(vtag_novelty *nv);

#ifdef __cplusplus
}
#endif
#endif

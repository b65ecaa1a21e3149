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
 * (vtag_novelty_path); the tagger and vtag eval read it from there.
 *
 * The backbone's features alone make the detector depend on what the
 * trained CNN happens to represent (a retrained backbone put cellular
 * automata inside the training cloud). So when the features files carry
 * `pix` (vtag_novelty_pixel_stats of each frame, as the backbone was given
 * it), a second Gaussian of the same kind is fitted on those 14 pixel
 * statistics (shrink VTAG_NOVELTY_PIX_SHRINK, its own threshold), and a
 * video's novelty is the larger of the two statistic / threshold ratios:
 * either above 1 makes it unknown. */
#ifndef VTAG_NOVELTY_H
#define VTAG_NOVELTY_H

#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_NOVELTY_SHRINK 0.01 /* chosen on the demo corpus (README, "Scores") */
#define VTAG_NOVELTY_PIX 14            /* pixel statistics of a frame (vtag_novelty_pixel_stats) */
#define VTAG_NOVELTY_PIX_SHRINK 0.001  /* the pixel Gaussian's (the e2e clips, bench/README.md) */

typedef struct vtag_novelty {
    int64_t dim;        /* d = the features' fc size */
    double *mean;       /* (d) */
    double *precision;  /* (d, d) S^-1 */
    double shrink;
    double threshold;   /* > 0 */
    int64_t train_rows, val_videos; /* what it was fitted on (val_videos 0: the training videos) */
    /* The pixel statistics' Gaussian, when the features had pix (else NULL, 0): */
    double *pix_mean;      /* (VTAG_NOVELTY_PIX) */
    double *pix_precision; /* (VTAG_NOVELTY_PIX, VTAG_NOVELTY_PIX) */
    double pix_shrink;
    double pix_threshold;  /* > 0 with pix_mean */
} vtag_novelty;

/* The pixel statistics of one frame, RGB interleaved side x side (the frame
 * exactly as vtag_video_normalize receives it), values / 255: per channel
 * R, G, B its mean (out[0..2]), standard deviation (out[3..5]), mean
 * |x[i][j+1] - x[i][j]| (out[6..8]) and mean |x[i+1][j] - x[i][j]|
 * (out[9..11]); out[12] the mean over pixels of max - min over the
 * channels; out[13] the mean over interior pixels of |4 g - its 4
 * neighbours|, g the mean of the channels (0 where there is no pair or no
 * interior pixel). Exact sums in integers, so every caller gets the same
 * bits. */
void vtag_novelty_pixel_stats(const uint8_t *rgb, int64_t side, float out[VTAG_NOVELTY_PIX]);

/* Fits on train's fc rows; the threshold from val's videos (rows grouped by
 * item), or from train's when val is NULL. Needs fc, at least 2 rows and
 * val's fc of the same size. When train (and val, if given) have pix, the
 * pixel Gaussian too (VTAG_NOVELTY_PIX_SHRINK); it is left out when every
 * validation video sits on its mean (threshold 0). */
int vtag_novelty_fit(vtag_novelty *nv, const vtag_data_features *train, const vtag_data_features *val, double shrink,
                     vtag_error *err);
/* The statistic of a video's n frames (fc rows [n, dim]) over the threshold;
 * with pix (rows [n, VTAG_NOVELTY_PIX]) and a pixel Gaussian in nv, the
 * larger of that and the pixel statistic over its threshold. pix NULL, or
 * nv without a pixel Gaussian: fc only. */
int vtag_novelty_video(const vtag_novelty *nv, const float *fc, const float *pix, int64_t n, double *novelty,
                       vtag_error *err);
/* The same for the rows idx[0..n) of a features file (its pix when it has them). */
int vtag_novelty_rows(const vtag_novelty *nv, const vtag_data_features *f, const int64_t *idx, int64_t n,
                      double *novelty, vtag_error *err);
/* "M.safetensors" -> "M.novelty.safetensors" (malloc'd; NULL: out of memory). */
char *vtag_novelty_path(const char *checkpoint);
/* Atomic write; the reader checks shapes, finite values and the threshold
 * (pix_mean, pix_precision and vtag.novelty's pix_threshold, pix_shrink are
 * optional: files without them load as fc only). */
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

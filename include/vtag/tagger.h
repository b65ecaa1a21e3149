/* The tagger: one video in, one caption per sampled frame out — frames
 * (video.h) through the image backbone (backbone.h) and a caption model
 * (captioner.h) — and, with vtag_tagger_tag, the video's tags (tag.h).
 *
 * A tagger is opened once (backbone, model, vocabulary loaded) and then run on
 * any number of videos: one at a time through vtag_tagger_run / _tag, or
 * from several threads at once, each through its own worker (below). */
#ifndef VTAG_TAGGER_H
#define VTAG_TAGGER_H

#include <stdint.h>

#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/tag.h"
#include "vtag/video.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_tagger vtag_tagger_t;

typedef struct vtag_tagger_options {
    /* Either a pipeline folder (vtag pipeline --out DIR): its pipeline.json
     * names the backbone, sampler and frame size, and the checkpoint is the
     * run's best on validation (vtag_run_best, run.h): of `model`'s two
     * checkpoints, <model>.safetensors (after SCST) or <model>-xe.safetensors,
     * whichever had the better validation CIDEr-D; model NULL: the best model
     * of the run. */
    const char *dir;
    const char *model;
    /* Or a checkpoint and a backbone file (built-in .safetensors or .onnx). */
    const char *checkpoint;
    const char *backbone;
    /* Frames: sampler NULL = the pipeline's (or uniform:16); size 0 = the
     * backbone's own. */
    const vtag_video_sampler *sampler;
    int64_t size;
    int beam;           /* 0 or 1: greedy; K > 1: beam search of width K */
    int64_t samples;    /* captions sampled per video for the label scores
                           (vtag_caption_label_scores); 0: VTAG_CAPTION_SCORE_SAMPLES_DEFAULT */
    int decode_threads; /* FFmpeg decoder threads (0: FFmpeg's choice) */
    int serial;         /* 1: one reader, then the backbone, on the calling thread. Default 0:
                           when the context has several threads and the plan (uniform, fps)
                           seeks for about every target (vtag_video_stats: cost_seek at most
                           1.25 × cost_plan), that many readers share the targets out
                           (vtag_video_share), each on a thread of its own; the calling thread
                           runs the backbone on the batches. The same bits either way (the same
                           frames in the same batches) */
    const char *protocols; /* what a video may be read through (vtag_video_options.protocols;
                              NULL: VTAG_VIDEO_PROTOCOLS_DEFAULT); kept, not copied */
} vtag_tagger_options;

void vtag_tagger_options_default(vtag_tagger_options *o);

/* The captions of one video's frames. */
typedef struct vtag_tagger_result {
    int64_t n_frames;
    int64_t max_length;     /* L */
    double *pts_seconds;    /* (n_frames) */
    int32_t *seq;           /* (n_frames, L) label ids, 0 after the caption's end */
    int32_t *len;           /* (n_frames) caption lengths */
    int64_t damaged_packets;/* from the video reader (> 0: a damaged stream) */
    double seconds_decode, seconds_backbone, seconds_caption; /* wall time per stage */
    double *scores;         /* (V+1) each label's probability of being in a frame's caption
                               (vtag_caption_label_scores), through the checkpoint's calibration
                               when it has one beside it (calib.h): then the probability that
                               the label is one of the video's; [0] unused */
    double novelty;         /* the frames' novelty (novelty.h) when the checkpoint has a novelty
                               model beside it, else -1 */
} vtag_tagger_result;

int vtag_tagger_open(vtag_tagger_t **out, vtag_ctx *ctx, const vtag_tagger_options *o, vtag_error *err);
/* Samples, embeds and captions `path`. r is (re)filled; free it with
 * vtag_tagger_result_free. A video with no decodable frame is an error. */
int vtag_tagger_run(vtag_tagger_t *t, vtag_ctx *ctx, const char *path, vtag_tagger_result *r,
                    vtag_error *err);
void vtag_tagger_result_free(vtag_tagger_result *r);

/* What one vtag_tagger_tag call did (vtag tag --timing prints it). */
typedef struct vtag_tagger_stats {
    int64_t n_frames;        /* frames sampled and captioned */
    int64_t damaged_packets; /* from the video reader (> 0: a damaged stream) */
    double seconds_decode, seconds_backbone, seconds_caption; /* wall time per stage */
} vtag_tagger_stats;

/* Tags one video: vtag_tagger_run, then the frame captions counted into the
 * video's tags by vtag_tag_aggregate_seq and ranked by the label scores
 * (vtag_tag_apply_scores) under opts (NULL: defaults); the result names the
 * checkpoint and the backbone file.
 * result->video is path. On failure result is zeroed and err says why (vtag
 * tag writes it as the video's error line, vtag_tag_fail_result). stats may
 * be NULL; it is filled on failure too, as far as the work went. Free the
 * result with vtag_tag_result_free. */
int vtag_tagger_tag(vtag_tagger_t *t, vtag_ctx *ctx, const char *path, const vtag_tag_opts *opts,
                    vtag_tag_result *result, vtag_tagger_stats *stats, vtag_error *err);
/* A worker tags videos with a tagger that other workers use at the same
 * time: the tagger's models (backbone weights, caption model, vocabulary) are
 * loaded once and only read; the worker holds the scratch a run writes (the
 * frame batch, the backbone's activations and plans), and the caller's ctx
 * (one per thread) the decoding arena. One worker per thread; close the
 * workers before the tagger. vtag_tagger_run and vtag_tagger_tag use the
 * tagger's own worker, so they are not called while workers run. */
typedef struct vtag_tagger_worker vtag_tagger_worker;
int vtag_tagger_worker_open(vtag_tagger_worker **out, const vtag_tagger_t *t, vtag_error *err);
/* As vtag_tagger_run and vtag_tagger_tag, with the worker's scratch. */
int vtag_tagger_worker_run(vtag_tagger_worker *w, vtag_ctx *ctx, const char *path, vtag_tagger_result *r,
                           vtag_error *err);
int vtag_tagger_worker_tag(vtag_tagger_worker *w, vtag_ctx *ctx, const char *path, const vtag_tag_opts *opts,
                           vtag_tag_result *result, vtag_tagger_stats *stats, vtag_error *err);
/* Bytes the worker holds now (its backbone scratch reaches its peak at the first run). */
size_t vtag_tagger_worker_bytes(const vtag_tagger_worker *w);
void vtag_tagger_worker_close(vtag_tagger_worker **w);

/* tokens[id] for id 1..V (the label strings); tokens[0] is NULL. */
const char *const *vtag_tagger_tokens(const vtag_tagger_t *t);
int64_t vtag_tagger_vocab_size(const vtag_tagger_t *t);
const vtag_model *vtag_tagger_model(const vtag_tagger_t *t);
/* The checkpoint and the backbone file the tagger loaded. */
const char *vtag_tagger_model_path(const vtag_tagger_t *t);
const char *vtag_tagger_backbone_path(const vtag_tagger_t *t);
void vtag_tagger_close(vtag_tagger_t **t);

#ifdef __cplusplus
}
#endif
#endif

/* vtag synth: a generator of labelled demo corpora — short videos of fashion
 * products shaped like a platform's catalogue (class1 / class2 / tags, SPEC §1–2). */
#ifndef VTAG_SYNTH_H
#define VTAG_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the label space ------------------------------------------------------
 * Fixed tables: class1 is the catalogue department, drawn as its own
 * background style; class2 is a product line under one class1 (its product is
 * one of Fashion-MNIST's ten classes); tags are the product's colour and
 * pattern, the presentation, the camera, the light, props and on-screen
 * graphics. Partial tags are visible in only 20–60% of a video's frames. */
typedef struct vtag_synth_catalog {
    int n_class1, n_class2, n_tags;
    const char *const *class1;   /* (n_class1) */
    const char *const *class2;   /* (n_class2) */
    const int *class2_parent;    /* (n_class2) class1 of each class2 */
    const int *class2_object;    /* (n_class2) the Fashion-MNIST class of its product, 0..9 */
    const char *const *tags;     /* (n_tags) */
    const unsigned char *partial;/* (n_tags) 1: visible in part of the frames only */
    const char *const *objects;  /* (10) Fashion-MNIST class names */
} vtag_synth_catalog;

const vtag_synth_catalog *vtag_synth_get_catalog(void);

/* ---- one video's plan -------------------------------------------------------
 * Everything the labels file says about a video, its format, and for every
 * tag the frames where it is on screen. A plan is a function of the corpus
 * seed and the video's index only: video i is the same whatever the corpus
 * size, so a smaller corpus is a prefix of a larger one. */
#define VTAG_SYNTH_MAX_TAGS 16
#define VTAG_SYNTH_MAX_SPANS 8
#define VTAG_SYNTH_MIN_SIDE 128
#define VTAG_SYNTH_MAX_SIDE 320
#define VTAG_SYNTH_MIN_SECONDS 5
#define VTAG_SYNTH_MAX_SECONDS 30
#define VTAG_SYNTH_MIN_FPS 10
#define VTAG_SYNTH_MAX_FPS 25
/* Partial tags are visible in this share of the frames (inclusive bounds). */
#define VTAG_SYNTH_PARTIAL_MIN 0.2
#define VTAG_SYNTH_PARTIAL_MAX 0.6

typedef struct vtag_synth_span {
    int64_t begin, end; /* frames [begin, end) */
} vtag_synth_span;

typedef struct vtag_synth_tag {
    int id;                 /* index into the catalogue's tags */
    int n_spans;            /* 0: visible in every frame */
    vtag_synth_span spans[VTAG_SYNTH_MAX_SPANS]; /* sorted, disjoint, non-empty */
    int64_t visible_frames; /* frames in the spans, or every frame */
} vtag_synth_tag;

typedef struct vtag_synth_video {
    int64_t index;
    uint64_t seed;         /* the video's own random stream (pictures, motion, noise) */
    vtag_data_split split; /* TRAIN, VAL or TEST */
    int class1, class2;
    int n_tags;
    vtag_synth_tag tags[VTAG_SYNTH_MAX_TAGS]; /* in catalogue order; the labels file's order */
    int64_t width, height; /* multiples of 16, 128..320 */
    int fps;               /* 10..25 */
    int64_t frames;        /* 5..30 s worth */
} vtag_synth_video;

/* Fills *v for video `index` of the corpus with seed `seed`; cannot fail. */
void vtag_synth_plan(uint64_t seed, int64_t index, vtag_synth_video *v);
/* 1 when tag t (one of a plan's tags) is on screen in `frame`. */
int vtag_synth_tag_visible(const vtag_synth_tag *t, int64_t frame);
/* "videos/000042.mp4": the video's path relative to the corpus folder. */
void vtag_synth_video_name(int64_t index, char *buf, size_t cap);

/* ---- product pictures ---------------------------------------------------------
 * 28×28 grey pictures of the ten Fashion-MNIST classes: Fashion-MNIST's own
 * photos (its train split for train and val videos, disjoint halves of it,
 * its test split for test videos), or procedural shapes drawn per request. */
#define VTAG_SYNTH_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define VTAG_SYNTH_PICTURE 28

typedef struct vtag_synth_source vtag_synth_source;

/* Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from dir, checking
 * every header. VTAG_ERR_NOTFOUND when dir holds no Fashion-MNIST files
 * (the caller may fall back to shapes), VTAG_ERR_FORMAT for a bad file. */
int vtag_synth_source_open_fmnist(vtag_synth_source **out, const char *dir, vtag_error *err);
/* Procedural shapes, one silhouette family per class. */
int vtag_synth_source_open_shapes(vtag_synth_source **out, vtag_error *err);
/* "fashion-mnist" or "shapes". */
const char *vtag_synth_source_kind(const vtag_synth_source *s);
/* The picture of class `object` (0..9) chosen by `key` for a video of split
 * `split`; out is [28, 28] grey, 0 = background. Thread-safe. */
void vtag_synth_source_picture(const vtag_synth_source *s, int object, vtag_data_split split, uint64_t key,
                               uint8_t *out);
void vtag_synth_source_close(vtag_synth_source **s);

/* ---- rendering -------------------------------------------------------------------
 * A renderer prepares one video's scene (background, product sprites,
 * props) and draws any frame of it on demand: a frame is a pure function of
 * the plan and the frame number. */
typedef struct vtag_synth_renderer vtag_synth_renderer;

int vtag_synth_renderer_open(vtag_synth_renderer **out, const vtag_synth_video *v, const vtag_synth_source *src,
                             vtag_error *err);
/* frame in [0, v->frames); rgb is [height, width, 3] RGB24. */
int vtag_synth_renderer_draw(vtag_synth_renderer *r, int64_t frame, uint8_t *rgb, vtag_error *err);
void vtag_synth_renderer_close(vtag_synth_renderer **r);

/* ---- videos and corpora ------------------------------------------------------------ */
typedef enum vtag_synth_codec {
    VTAG_SYNTH_CODEC_AUTO = 0,  /* H.264 through libx264; MPEG-4 part 2 where libx264 is missing */
    VTAG_SYNTH_CODEC_H264 = 1,  /* libx264 or an error */
    VTAG_SYNTH_CODEC_MPEG4 = 2, /* libavcodec's mpeg4 encoder */
} vtag_synth_codec;

/* Parses "auto", "h264", "mpeg4"; 0 or VTAG_ERR_ARG. */
int vtag_synth_codec_parse(const char *s, vtag_synth_codec *out, vtag_error *err);

/* Renders v into an MP4 at path: written under a temporary name in the same
 * folder and renamed when complete. *encoder (may be NULL) gets the encoder's
 * name ("libx264" or "mpeg4"), *bytes (may be NULL) the file size. */
int vtag_synth_write_video(const char *path, const vtag_synth_video *v, const vtag_synth_source *src,
                           vtag_synth_codec codec, const char **encoder, int64_t *bytes, vtag_error *err);

/* labels.jsonl (SPEC §8, with split): one line per video, atomically. */
int vtag_synth_write_labels(const char *path, const vtag_synth_video *videos, int64_t n, vtag_error *err);

typedef struct vtag_synth_options {
    int64_t videos;          /* default 500 */
    uint64_t seed;           /* default 1 */
    int threads;             /* videos rendered at once; 0 (default): one per core */
    vtag_synth_codec codec;  /* default AUTO */
    /* Called after each video, one call at a time (from the worker threads);
     * NULL: none. */
    void (*progress)(void *user, int64_t done, int64_t total, const vtag_synth_video *v);
    void *user;
} vtag_synth_options;

typedef struct vtag_synth_report {
    int64_t videos, frames, bytes;
    const char *encoder; /* "libx264" or "mpeg4" */
} vtag_synth_report;

void vtag_synth_options_default(vtag_synth_options *o);
/* Writes dir/videos/NNNNNN.mp4 for every video, then dir/labels.jsonl
 * (creating the folders). Videos are rendered in parallel, longest first;
 * each is deterministic whatever the thread count. On failure the labels
 * file is not written (videos finished before remain). rep may be NULL. */
int vtag_synth_corpus(const char *dir, const vtag_synth_options *o, const vtag_synth_source *src,
                      vtag_synth_report *rep, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

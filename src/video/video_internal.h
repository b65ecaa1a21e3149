/* Private pieces of the video module shared by its files: the container
 * index used for planning, the open-file helper and the RGB converter. */
#ifndef VTAG_VIDEO_INTERNAL_H
#define VTAG_VIDEO_INTERNAL_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>

#include "vtag/video.h"

/* A demuxer and the chosen video stream, opened and probed. */
typedef struct vv_input {
    AVFormatContext *fmt;
    AVStream *st;
    int stream;
    AVRational tb;
    double t0;        /* container start time, seconds: timeline origin */
    double first_pts; /* the stream's first presentation time on that timeline */
    void *gate;       /* private: what fmt may open (input.c) */
    int seekable;     /* the input seeks (a file, HTTP with ranges); else the demuxer
                         reads forward only (a pipe): no index, no seeks */
    int reopen;       /* the input may be opened again (not a pipe: stdin is read once) */
} vv_input;

/* Opens path (a file, "-" or a URL of an allowed protocol: protocols NULL is
 * VTAG_VIDEO_PROTOCOLS_DEFAULT), finds the best video stream and fills the
 * fields of info that come from the header (everything but keyframes when
 * the index is partial). */
int vv_input_open(vv_input *in, const char *path, const char *protocols, vtag_video_info *info, vtag_error *err);
void vv_input_close(vv_input *in);
/* Seconds on the timeline for a timestamp in the stream's time base. */
double vv_seconds(const vv_input *in, int64_t ts);
/* The stream time-base timestamp of timeline time t (rounded down). */
int64_t vv_stream_ts(const vv_input *in, double t);

/* The keyframes of a stream for keyframes:N, ascending by presentation time. */
typedef struct vv_keys {
    int64_t n;
    double *t;     /* [n] presentation seconds on the timeline */
    int pts_known; /* every keyframe packet carried a presentation time */
} vv_keys;

/* Reads every video packet without decoding: packet count, keyframe count and
 * the end of the last packet (seconds); with keys (else NULL), also the
 * keyframes' times, sorted, other streams discarded (their bytes are not
 * read). Leaves the demuxer at the end. */
int vv_scan_packets(vv_input *in, int64_t *packets, int64_t *keyframes, double *end, vv_keys *keys,
                    vtag_error *err);

/* The container's index as a sorted list of times. complete: it lists every
 * packet (MP4/MOV, AVI), otherwise only keyframes (Matroska cues) and frame
 * counts between entries are estimated from the frame rate. */
typedef struct vv_index {
    int64_t n;
    double *t;     /* [n] seconds, ascending (decode timestamps for MP4) */
    int64_t *ts;   /* [n] the same in the stream's time base, to seek to exactly */
    uint8_t *key;  /* [n] */
    int complete;
    double fps;    /* for estimates when !complete */
    double delay;  /* seconds a keyframe is shown after its index time (B-frame
                      reordering: MP4 indexes decode times) */
} vv_index;

/* n == 0 when the format has no index worth planning with. */
int vv_index_build(vv_index *ix, const vv_input *in, const vtag_video_info *info, vtag_error *err);
void vv_index_free(vv_index *ix);
/* Frames decoded to go from just after time a to time b (a < b). */
int64_t vv_index_frames_between(const vv_index *ix, double a, double b);
/* The entry of the last keyframe at or before t (or the first keyframe). */
int64_t vv_index_key_before(const vv_index *ix, double t);

/* From an index that lists every packet: entry time + ix->delay (MP4
 * indexes decode times; a keyframe is shown that much later). */
int vv_keys_from_index(vv_keys *k, const vv_index *ix, vtag_error *err);
/* Appends t (growing k->t; *cap its capacity), and sorts the list: keyframes
 * come in decode order, which for some streams is not presentation order. */
int vv_keys_add(vv_keys *k, int64_t *cap, double t, vtag_error *err);
void vv_keys_sort(vv_keys *k);
void vv_keys_free(vv_keys *k);

/* Frame → S×S RGB: turned upright, shorter side scaled to S, centre crop. */
typedef struct vv_converter {
    struct SwsContext *sws;
    uint8_t *scaled;          /* [sh, sw, 3] the whole picture scaled, before the crop */
    int64_t scaled_cap;
    uint8_t *rgb_turn;        /* [.., .., 3] scaled before turning (4:2:2 and the like) */
    int64_t rgb_turn_cap;
    uint8_t *turned[4];       /* the picture turned upright, in the decoder's format */
    int turned_linesize[4];
    int turned_w, turned_h, turned_format;
} vv_converter;

int vv_convert_rgb(vv_converter *c, const AVFrame *f, int rotation, int64_t size, uint8_t *out,
                   vtag_error *err);
void vv_converter_free(vv_converter *c);
/* 64×64 grey thumbnail of the whole picture, for scene detection. */
#define VV_THUMB 64
int vv_thumbnail(struct SwsContext **sws, const AVFrame *f, uint8_t *out, vtag_error *err);

#endif

/* vtag video: decode any file FFmpeg reads and sample frames from it, one at
 * a time, as S×S RGB (shorter side scaled to S, centre crop, rotation
 * metadata applied). Built on libavformat/libavcodec/libswscale.
 *
 * FFmpeg writes its own diagnostics through av_log(); the library leaves
 * that process-wide setting alone unless asked (vtag_video_set_log; the vtag
 * CLI silences it). */
#ifndef VTAG_VIDEO_H
#define VTAG_VIDEO_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- samplers -------------------------------------------------------------
 * Every sampler works on the range [start, end) of the video's timeline
 * (seconds from the container's start time; end < 0 means the end of the
 * video) and stops after max_frames frames (0: no cap).
 *   uniform:N   the centres of N equal segments of the range (default N=16)
 *   fps:F       the centres of consecutive 1/F s segments: start+(k+0.5)/F
 *   keyframes   every keyframe whose time lies in the range
 *   keyframes:N the keyframes nearest to uniform:N's targets: each of the N
 *               targets is served by the keyframe of the range nearest to it
 *               in time (ties: the earlier); a keyframe chosen by several
 *               targets is returned once, so at most N frames, in time order,
 *               each with the first target that chose it. Only those
 *               keyframes are decoded: a seek to each, then its one packet.
 *               Keyframe times come from the container index when it lists
 *               every packet (MP4/MOV, AVI), else from one pass over the
 *               packets without decoding. A stream whose keyframe packets
 *               cannot be decoded alone at a known time (no presentation
 *               times and reordered pictures, as AVI with B-frames) or that
 *               cannot seek (a pipe) is decoded as `keyframes` decodes it,
 *               choosing among the keyframe pictures as they come: the same
 *               frames, slower. A keyframe that gives no picture alone (an
 *               open-GOP picture the decoder waits past) is decoded from an
 *               earlier keyframe instead. A range holding no keyframe gives
 *               no frame.
 *   scene:T     the first frame of the range, then every frame whose picture
 *               differs from the previous frame by more than T (0 < T <= 1;
 *               the mean absolute difference of 64×64 grey thumbnails / 255)
 * For uniform and fps the frame returned for time t is the frame on screen at
 * t: the last frame whose presentation time is <= t (the first frame when t
 * lies before it). Two targets may share one frame; it is then returned
 * twice, as the ffmpeg fps filter duplicates frames. */
typedef enum vtag_video_sampler_kind {
    VTAG_VIDEO_SAMPLE_UNIFORM = 0,
    VTAG_VIDEO_SAMPLE_FPS = 1,
    VTAG_VIDEO_SAMPLE_KEYFRAMES = 2,
    VTAG_VIDEO_SAMPLE_SCENE = 3,
} vtag_video_sampler_kind;

typedef struct vtag_video_sampler {
    vtag_video_sampler_kind kind;
    int64_t count;      /* uniform: N */
    int64_t key_targets;/* keyframes: N of keyframes:N; 0 (the default): every keyframe */
    double fps;         /* fps: F */
    double threshold;   /* scene: T */
    double start;       /* seconds, >= 0 */
    double end;         /* seconds; < 0: to the end of the video */
    int64_t max_frames; /* 0: no cap */
} vtag_video_sampler;

/* uniform:16 over the whole video. */
void vtag_video_sampler_default(vtag_video_sampler *s);
/* Parses "uniform:N", "fps:F", "keyframes", "keyframes:N" or "scene:T" into
 * s->kind and its parameter; start, end and max_frames are left as they are. */
int vtag_video_sampler_parse(vtag_video_sampler *s, const char *spec, vtag_error *err);
/* Writes the canonical spelling ("uniform:16", "fps:0.5", …) into buf. */
void vtag_video_sampler_format(const vtag_video_sampler *s, char *buf, int64_t cap);

/* How the reader reaches the sampled frames. AUTO decides per target from the
 * container's index: seek back to the keyframe before the target and decode
 * forward, or keep decoding from where the decoder is, whichever decodes
 * fewer frames. Without a usable index (GIF, streams) it decodes through. */
typedef enum vtag_video_strategy {
    VTAG_VIDEO_STRATEGY_AUTO = 0,
    VTAG_VIDEO_STRATEGY_SEEK = 1,   /* seek for every target */
    VTAG_VIDEO_STRATEGY_LINEAR = 2, /* one seek to the range start, then decode through */
} vtag_video_strategy;

typedef struct vtag_video_options {
    int64_t size;                 /* S, output frames are S×S RGB; default 224 */
    int threads;                  /* decoder threads; 0: FFmpeg picks (one per core) */
    vtag_video_strategy strategy; /* default AUTO */
    const char *protocols;        /* the protocols a video may be read through (below); NULL
                                     (default): VTAG_VIDEO_PROTOCOLS_DEFAULT. Not copied. */
    int decode_all;               /* 1: decode every picture on the way to a target; default 0
                                     skips the non-reference pictures that cannot be on screen
                                     at it (the frames returned are the same bits either way) */
} vtag_video_options;

void vtag_video_options_default(vtag_video_options *o);

/* ---- inputs ----------------------------------------------------------------
 * A video is named by a local path, by "-" (the standard input: FFmpeg's
 * pipe:0, read once), by "pipe:N" or "file:PATH", or by a URL
 * "scheme://…" of an FFmpeg protocol; any other ':' belongs to a file name
 * ("http:clip.mp4" is a local file). The
 * protocols allowed are a comma-separated list of FFmpeg protocol names
 * ("file" is every local path); each brings the transports FFmpeg builds it
 * on (https: tls, tcp), and everything FFmpeg opens for the input (a
 * redirect, a playlist's segments) is held to them (protocol_whitelist). A
 * local file or a pipe is read alone: a playlist in it opens nothing else.
 * A name whose protocol is not allowed fails with VTAG_ERR_ARG, "NAME:
 * protocol 'rtmp' is not allowed (--allow-protocols)". An input that cannot
 * seek (a pipe) is decoded through, never seeked; one of unknown duration
 * read from a pipe can only be sampled by keyframes or scene. Network reads
 * give up after 60 s without data. */
#define VTAG_VIDEO_PROTOCOLS_DEFAULT "file,pipe,http,https"
#define VTAG_VIDEO_PROTOCOLS_MAX 256 /* bytes of a list, with its NUL */
/* The protocol a name reads through (into proto, cap bytes): "pipe" for "-"
 * and "pipe:N", the scheme of "scheme://…" lower-cased, else "file". */
void vtag_video_input_protocol(const char *name, char *proto, size_t cap);
/* A list of protocol names: non-empty, [a-z0-9+.-] names separated by
 * commas, shorter than VTAG_VIDEO_PROTOCOLS_MAX; VTAG_ERR_ARG otherwise. */
int vtag_video_protocols_check(const char *list, vtag_error *err);
/* Whether the list holds proto. */
int vtag_video_protocol_allowed(const char *list, const char *proto);

/* ---- probing --------------------------------------------------------------- */
/* The largest picture vtag decodes: 8K (8192×4320, 7680×4320), up to 8192
 * pixels a side. A header may claim any size in a few bytes (an H.264
 * sequence header of 16000×16000 made FFmpeg hold 1.2 GB for one picture):
 * a larger stream is refused by probe and open (VTAG_ERR_UNSUPPORTED), and
 * the decoders, the one FFmpeg runs while probing included, refuse a larger
 * picture before allocating it (mid-stream, it counts as a damaged packet). */
#define VTAG_VIDEO_MAX_SIDE 8192
#define VTAG_VIDEO_MAX_PIXELS ((int64_t)8192 * 4320)

typedef struct vtag_video_info {
    char container[64];    /* libavformat's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char codec[32];        /* e.g. "h264" */
    double duration;       /* seconds */
    double frame_rate;     /* average frames per second (0 if unknown) */
    int64_t width, height; /* coded picture size, before rotation */
    int rotation;          /* clockwise degrees applied for display: 0, 90, 180, 270 */
    int64_t display_width, display_height; /* after rotation */
    int64_t frames;        /* video packets (0 if unknown) */
    int64_t keyframes;     /* keyframe packets (-1 if unknown) */
    int index_complete;    /* 1: the container index lists every packet */
    int64_t index_entries; /* entries in the container's index at open */
} vtag_video_info;

/* Opens path, reads its header and index; counts keyframes from the index
 * when the index lists every packet, otherwise by reading the packets (no
 * decoding). Errors: VTAG_ERR_IO (cannot open), VTAG_ERR_FORMAT (not a media
 * file, or no video stream), VTAG_ERR_UNSUPPORTED (no decoder). */
int vtag_video_probe(const char *path, vtag_video_info *info, vtag_error *err);
/* The same with o's protocols (o NULL: the defaults; the rest of o is unused). */
int vtag_video_probe_with(const char *path, const vtag_video_options *o, vtag_video_info *info, vtag_error *err);

/* The probe line of a video (docs/FORMATS.md, "probe output"; no newline):
 *   {"video", "container", "codec", "duration_seconds", "frame_rate", "width",
 *    "height", "rotation", "display_width", "display_height", "frames",
 *    "keyframes", "index": "full" | "scan"}
 * seconds and rates rounded to 1e-6. *line is malloc'd (the caller frees it).
 * A field JSON cannot hold (a path that is not valid UTF-8) fails the line
 * (VTAG_ERR_FORMAT, "PATH: cannot encode the probe line …"): never a line
 * with a field left out. */
int vtag_video_info_json(const char *path, const vtag_video_info *info, char **line, vtag_error *err);

/* The FFmpeg release and the versions of the libav* libraries loaded at run
 * time (they may differ from the headers vtag was built with), as one line. */
void vtag_video_versions(char *buf, int64_t cap);

/* How much FFmpeg itself writes to stderr (its av_log level). This is
 * FFmpeg's process-wide setting, not vtag state: a program sets it once, at
 * start, before any thread opens a video. */
typedef enum vtag_video_log {
    VTAG_VIDEO_LOG_QUIET = 0,   /* nothing */
    VTAG_VIDEO_LOG_WARNING = 1, /* warnings and errors (the CLI's --verbose) */
} vtag_video_log;

void vtag_video_set_log(vtag_video_log level);

/* ---- reading frames ---------------------------------------------------------- */
typedef struct vtag_video vtag_video_t; /* an open video with a sampler: the frame iterator */

typedef struct vtag_video_frame {
    int64_t index;         /* position in the sample set (targets skipped by damage leave gaps) */
    double target_seconds; /* the time the sampler asked for (keyframes/scene: the frame's time;
                              keyframes:N: the first of uniform:N's targets that chose it) */
    double pts_seconds;    /* the returned frame's own presentation time */
    double scene_score;    /* scene sampler: difference from the previous frame; else 0 */
    int64_t size;          /* S */
    const uint8_t *rgb;    /* [S, S, 3] row-major RGB24; owned by the reader, valid until the next call */
} vtag_video_frame;

typedef struct vtag_video_stats {
    int64_t targets;         /* frames the sampler asked for (uniform, fps; keyframes and keyframes:N:
                                the keyframes chosen, when it seeks); -1 when not known up front */
    int64_t frames_out;      /* frames returned so far */
    int64_t packets_read;    /* video packets read */
    int64_t frames_decoded;  /* pictures the decoder returned */
    int64_t frames_converted;/* pictures scaled to RGB (kept frames only) */
    int64_t seeks;
    int64_t damaged_packets; /* packets the demuxer or decoder rejected, flagged corrupt, or
                                that gave no picture in a pass from the start to the end */
    double missing_seconds;  /* > 0: the packets ended this long before the duration the
                                header gives (a truncated file) */
    int64_t cost_seek;       /* predicted decodes when seeking for every target (-1: no index) */
    int64_t cost_linear;     /* predicted decodes when decoding through */
    int64_t cost_plan;       /* predicted decodes of the plan in use */
    vtag_video_strategy strategy; /* LINEAR or SEEK when the plan is pure, AUTO when mixed */
} vtag_video_stats;

/* Opens path for reading with sampler s (NULL: uniform:16) and options o
 * (NULL: defaults). The same errors as vtag_video_probe, plus VTAG_ERR_ARG for
 * a bad sampler or option. *out is NULL on failure. */
int vtag_video_open(vtag_video_t **out, const char *path, const vtag_video_sampler *s,
                    const vtag_video_options *o, vtag_error *err);
const vtag_video_info *vtag_video_get_info(const vtag_video_t *v);
/* Decodes up to the next sampled frame. On success *got is 1 and frame is
 * filled, or *got is 0 at the end of the sample set. A damaged stream is not
 * an error: what cannot be decoded is skipped and counted in
 * stats.damaged_packets; the sample set then ends early or has gaps. Errors
 * (VTAG_ERR_NOMEM, VTAG_ERR_IO) end the iteration. */
int vtag_video_next(vtag_video_t *v, vtag_video_frame *frame, int *got, vtag_error *err);
void vtag_video_get_stats(const vtag_video_t *v, vtag_video_stats *stats);
/* Several readers over the same video, on threads of their own, may share
 * its sample set out (uniform, fps, and keyframes:N where it seeks, i.e.
 * stats.targets >= 0; its targets are then the chosen keyframes, each
 * costing one decode): vtag_video_share_plan gives each
 * target i a part, owner[i] in [0, parts) (owner has stats.targets
 * entries), so that the parts decode about as much as each other by the
 * index's count of frames (target by target, to the part whose load plus
 * the cost of reaching i from its previous target is least; ties to the
 * lowest part). vtag_video_share makes v return only the targets i with
 * owner[i] == part, each the frame a lone reader returns for it, with the
 * same index (owner is copied). Call it before the first vtag_video_next;
 * VTAG_ERR_ARG otherwise, for another sampler, or for a part or an owner
 * outside [0, parts). */
int vtag_video_share_plan(const vtag_video_t *v, int parts, int *owner, vtag_error *err);
int vtag_video_share(vtag_video_t *v, int part, int parts, const int *owner, vtag_error *err);
/* Frees everything and sets *v to NULL; NULL and *v == NULL are fine. */
void vtag_video_close(vtag_video_t **v);

/* ---- helpers ------------------------------------------------------------------- */
/* rgb [S, S, 3] uint8 → out [3, S, S] float, (x/255 - mean[c]) / std[c]. */
void vtag_video_normalize(const uint8_t *rgb, int64_t size, const float mean[3], const float std[3],
                          float *out);
/* Writes an RGB24 image as PNG, atomically (temporary name, flush, rename). */
int vtag_video_write_png(const char *path, const uint8_t *rgb, int64_t width, int64_t height,
                         vtag_error *err);
/* The same PNG into memory: *png (malloc'd, the caller frees it), *len bytes. */
int vtag_video_encode_png(const uint8_t *rgb, int64_t width, int64_t height, uint8_t **png, size_t *len,
                          vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

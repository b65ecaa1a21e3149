/* The frame iterator: plans how to reach the sampled times (seek or decode
 * through, from the container index), runs the demux → decode loop with one
 * reused packet and frame, picks the frame on screen at each time, and
 * converts only the frames it returns.
 *
 * Two decoded frames are held by reference (no copies): `held`, the latest
 * frame at or before the current time, and `ahead`, the next one, whose
 * arrival proves that `held` is still on screen.
 *
 * keyframes:N chooses its keyframes up front from the keyframe list (index
 * or packet scan), then seeks to each and decodes its one packet alone (the
 * next one's packet sent while the caller takes a picture); where that cannot
 * be trusted it decodes through and chooses among the keyframe pictures as
 * they come, holding the latest in `cand`. Plain keyframes takes every
 * keyframe of the range the same way, or else decodes through, sending only
 * keyframe packets where they decode alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "video_internal.h"

/* Packets read ahead of the decoder while approaching a target. */
#define QUEUE_CAP 128
/* A seek costs a decoder flush: the pictures in flight (one per extra frame
 * thread, plus the reordering delay) are thrown away, and the pipeline fills
 * again. Counted as this many decoded frames, plus those, when planning. */
#define SEEK_PENALTY 2
/* After a seek the demuxer may land on a keyframe shown after the target
 * (its decode time was before it): step back at most this often. */
#define MAX_RESEEKS 4
/* Frame times and targets are computed differently (ticks × time base vs
 * segment centres); they are the same time when this close. */
#define TIME_EPS 1e-7

struct vtag_video {
    vv_input in;
    vtag_video_info info;
    vv_index index;
    vtag_video_sampler smp;
    vtag_video_options opt;

    AVCodecContext *dec;
    AVPacket *pkt;  /* reused for every read; the one being sent */
    /* Read-ahead ring: while approaching a target t, packets are read up to
       the first one decoded after t, so that the picture on screen at t is
       known before anything is sent; non-reference pictures shown before it
       are then not decoded at all (skip_frame = NONREF, packet by packet). */
    AVPacket *queue[QUEUE_CAP];
    int q_head, q_len;
    int approaching;  /* uniform/fps: skipping applies, towards `target` */
    double target;
    double sent_best; /* latest time <= target among packets sent since the last seek */
    int pkt_skip;     /* pkt may be skipped if it is not a reference */
    AVFrame *frame; /* reused for every decode */
    AVFrame *held, *ahead;
    int have_held, have_ahead;
    double held_t, ahead_t;
    int64_t held_serial, ahead_serial, serial;

    int pkt_pending; /* pkt was refused with EAGAIN and must be sent again */
    int demux_eof, draining, dec_eof;
    int need_key;         /* after a seek: drop packets up to the first keyframe */
    int key_only;         /* keyframes sampler: -1 undecided, 1 send keyframe packets only,
                             0 decode all and keep the key pictures */
    int fresh_seek;       /* no frame at or before the target seen since the last seek */
    int64_t seek_key_dts; /* decode time of that first keyframe */
    int read_errors, drain_errors;
    /* Since the last flush: packets sent, pictures received, decode errors.
       A stream decoded from its start to its end gives one picture per
       packet; the packets that gave none (and no error) were damaged too. */
    int64_t seg_sent, seg_recv, seg_errors, seg_skipped;
    int seg_from_start;
    double last_t;        /* time of the last decoded frame, for frames without one */
    double pkt_end;       /* the furthest end time of a packet read */

    double range_start, range_end;
    double *targets;      /* [n_targets] ascending (uniform, fps) */
    double pos;           /* the last target reached; -inf before the first */
    int64_t n_targets, next_target;
    int64_t emitted;      /* keyframes/scene: frames returned */
    /* keyframes:N (smp.key_targets > 0) */
    int key_mode;         /* 0: another sampler; KEYS_SEEK or KEYS_THROUGH */
    double *uni;          /* [n_uni] uniform:N's targets over the range */
    int64_t n_uni;
    double *key_target;   /* KEYS_SEEK: [n_targets] the first target that chose each keyframe */
    int64_t *key_ts;      /* [n_targets] its time in the stream's time base, to seek to */
    double *key_lo, *key_hi; /* [n_targets] its packet's time lies in [lo, hi): halfway to its
                                neighbours in the keyframe list */
    int64_t key_sent;     /* KEYS_SEEK: the chosen keyframe whose packet the decoder holds (-1: none) */
    double key_sent_t;    /* its packet's time (NAN: not found) */
    AVFrame *cand;        /* KEYS_THROUGH: the latest keyframe picture, not yet known to serve a target;
                             KEYS_SEEK: the picture being returned while the next one decodes */
    double cand_t;
    int64_t cand_serial;
    int have_cand;
    int64_t initial_seek; /* keyframes/scene: index entry to seek to first, or -1 */
    int64_t seek_penalty; /* frames a seek costs beyond those to its target */
    int *mine;            /* vtag_video_share: [n_targets] 1 for the targets this reader returns */
    int done;

    vv_converter conv;
    uint8_t *rgb;         /* [S, S, 3] the frame handed out */
    int64_t rgb_serial;   /* which decoded frame rgb holds (0: none) */
    struct SwsContext *thumb_sws;
    uint8_t *thumb_prev, *thumb_cur; /* [VV_THUMB, VV_THUMB] */
    int have_thumb;

    vtag_video_stats stats;
};

/* keyframes:N's two ways: seek to each chosen keyframe and decode its packet
 * alone, or decode through as `keyframes` does and choose as they come. */
enum { KEYS_SEEK = 1, KEYS_THROUGH = 2 };

/* ---- demux and decode ------------------------------------------------------ */

static int nomem(vtag_error *err)
{
    return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
}

/* The next packet of the video stream into v->pkt; *got = 0 at the end. */
static int read_packet(vtag_video_t *v, int *got, vtag_error *err)
{
    *got = 0;
    while (!v->demux_eof) {
        int ret = av_read_frame(v->in.fmt, v->pkt);
        if (ret == AVERROR(ENOMEM)) return nomem(err);
        if (ret < 0 && ret != AVERROR_EOF) {
            /* A damaged or missing stretch: count it; the demuxer either
               resynchronises or the file has ended (truncated). */
            v->stats.damaged_packets++;
            if ((!v->in.fmt->pb || !avio_feof(v->in.fmt->pb)) && ++v->read_errors <= 64) continue;
        }
        if (ret < 0) {
            v->demux_eof = 1;
            /* Packets that stop well before the announced end: a cut file. */
            double fps = v->info.frame_rate > 0 ? v->info.frame_rate : 25.0;
            double missing = v->info.duration - v->pkt_end;
            if (missing > 0.5 && missing > 2.0 / fps && missing > v->stats.missing_seconds)
                v->stats.missing_seconds = missing;
            break;
        }
        v->read_errors = 0;
        if (v->pkt->stream_index != v->in.stream) {
            av_packet_unref(v->pkt);
            continue;
        }
        v->stats.packets_read++;
        int64_t ts = v->pkt->pts != AV_NOPTS_VALUE ? v->pkt->pts : v->pkt->dts;
        if (ts != AV_NOPTS_VALUE) {
            double end = vv_seconds(&v->in, ts + (v->pkt->duration > 0 ? v->pkt->duration : 0));
            if (end > v->pkt_end) v->pkt_end = end;
        }
        if (v->pkt->flags & AV_PKT_FLAG_CORRUPT) v->stats.damaged_packets++;
        int key = (v->pkt->flags & AV_PKT_FLAG_KEY) != 0;
        if (v->key_only < 0) {
            /* Keyframe packets decode alone to the right picture and time when
               the container stamps presentation times or nothing is
               reordered; AVI with B-frames has neither. */
            v->key_only = v->pkt->pts != AV_NOPTS_VALUE || v->in.st->codecpar->video_delay == 0;
        }
        if (!key && (v->need_key || v->key_only == 1)) {
            av_packet_unref(v->pkt);
            continue;
        }
        if (v->need_key) {
            v->need_key = 0;
            v->seek_key_dts = v->pkt->dts != AV_NOPTS_VALUE ? v->pkt->dts : v->pkt->pts;
        }
        *got = 1;
        break;
    }
    return VTAG_OK;
}

static double packet_time(const vtag_video_t *v, int64_t ts)
{
    return ts == AV_NOPTS_VALUE ? NAN : vv_seconds(&v->in, ts);
}

/* Reads ahead into the queue: one packet, or while approaching a target,
 * every packet up to the first decoded after it (a picture shown by then
 * is decoded by then). */
static int fill_queue(vtag_video_t *v, vtag_error *err)
{
    while (v->q_len < QUEUE_CAP) {
        if (v->q_len > 0) {
            if (!v->approaching) break;
            const AVPacket *last = v->queue[(v->q_head + v->q_len - 1) % QUEUE_CAP];
            double t = packet_time(v, last->dts != AV_NOPTS_VALUE ? last->dts : last->pts);
            if (!(t <= v->target + TIME_EPS)) break; /* past the target, or unknown */
        }
        int got, rc = read_packet(v, &got, err);
        if (rc) return rc;
        if (!got) break;
        av_packet_move_ref(v->queue[(v->q_head + v->q_len) % QUEUE_CAP], v->pkt);
        v->q_len++;
    }
    return VTAG_OK;
}

/* Moves the queue's first packet into v->pkt (0 if the queue is empty) and
 * decides whether its picture may go undecoded when it is not a reference:
 * when a known picture shown after it is still shown by the target, it is
 * not the one on screen then. */
static int pop_packet(vtag_video_t *v)
{
    if (v->q_len == 0) return 0;
    av_packet_move_ref(v->pkt, v->queue[v->q_head]);
    v->q_head = (v->q_head + 1) % QUEUE_CAP;
    v->q_len--;
    v->pkt_skip = 0;
    double p = packet_time(v, v->pkt->pts);
    if (!v->approaching || isnan(p)) return 1;
    if (!(v->pkt->flags & AV_PKT_FLAG_KEY)) {
        double best = v->sent_best;
        for (int i = 0; i < v->q_len; i++) {
            double q = packet_time(v, v->queue[(v->q_head + i) % QUEUE_CAP]->pts);
            if (q <= v->target + TIME_EPS && q > best) best = q;
        }
        v->pkt_skip = p < best - TIME_EPS && !v->opt.decode_all;
    }
    if (p <= v->target + TIME_EPS && p > v->sent_best) v->sent_best = p;
    return 1;
}

static void clear_queue(vtag_video_t *v)
{
    for (int i = 0; i < QUEUE_CAP; i++)
        if (v->queue[i]) av_packet_unref(v->queue[i]);
    v->q_head = v->q_len = 0;
    v->sent_best = -INFINITY;
}

/* Gives the decoder one packet, or the end-of-stream signal. */
static int feed(vtag_video_t *v, vtag_error *err)
{
    if (!v->pkt_pending) {
        int rc = fill_queue(v, err);
        if (rc) return rc;
        if (!pop_packet(v)) {
            avcodec_send_packet(v->dec, NULL); /* drain: the decoder returns what it holds */
            v->draining = 1;
            return VTAG_OK;
        }
    }
    /* Read per packet, also by frame threads (copied from this context). */
    v->dec->skip_frame = v->pkt_skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    int ret = avcodec_send_packet(v->dec, v->pkt);
    if (ret == AVERROR(EAGAIN)) {
        v->pkt_pending = 1; /* receive first, then send it again */
        return VTAG_OK;
    }
    v->pkt_pending = 0;
    av_packet_unref(v->pkt);
    if (ret == AVERROR(ENOMEM)) return nomem(err);
    v->seg_sent++;
    v->seg_skipped += v->pkt_skip;
    if (ret < 0 && ret != AVERROR_EOF) {
        v->stats.damaged_packets++;
        v->seg_errors++;
    }
    return VTAG_OK;
}

/* The next decoded picture into v->frame; *got = 0 at the end of the stream. */
static int decode_next(vtag_video_t *v, int *got, vtag_error *err)
{
    *got = 0;
    while (!v->dec_eof) {
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret >= 0) {
            v->stats.frames_decoded++;
            v->seg_recv++;
            if ((v->frame->flags & AV_FRAME_FLAG_CORRUPT) || v->frame->decode_error_flags)
                v->stats.damaged_packets++;
            *got = 1;
            return VTAG_OK;
        }
        if (ret == AVERROR_EOF) {
            v->dec_eof = 1;
            int64_t silent = v->seg_sent - v->seg_recv - v->seg_errors;
            if (v->seg_from_start && v->seg_skipped == 0 && silent > 0) v->stats.damaged_packets += silent;
            break;
        }
        if (ret == AVERROR(ENOMEM)) return nomem(err);
        if (ret != AVERROR(EAGAIN)) {
            /* A packet sent earlier did not decode (frame threads report late). */
            v->stats.damaged_packets++;
            v->seg_errors++;
            if (v->draining && ++v->drain_errors > 64) v->dec_eof = 1;
            continue;
        }
        if (v->draining) { /* nothing more will come */
            v->dec_eof = 1;
            break;
        }
        int rc = feed(v, err);
        if (rc) return rc;
    }
    return VTAG_OK;
}

static double frame_time(vtag_video_t *v, const AVFrame *f)
{
    int64_t ts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
    double t;
    if (ts != AV_NOPTS_VALUE) t = vv_seconds(&v->in, ts);
    else t = v->last_t + 1.0 / (v->info.frame_rate > 0 ? v->info.frame_rate : 25.0);
    v->last_t = t;
    return t;
}

/* Makes sure `ahead` holds the next decoded frame; *got = 0 at the end. */
static int pull(vtag_video_t *v, int *got, vtag_error *err)
{
    *got = v->have_ahead;
    if (v->have_ahead) return VTAG_OK;
    int rc = decode_next(v, got, err);
    if (rc || !*got) return rc;
    av_frame_unref(v->ahead);
    av_frame_move_ref(v->ahead, v->frame);
    v->ahead_t = frame_time(v, v->ahead);
    v->ahead_serial = ++v->serial;
    v->have_ahead = 1;
    return VTAG_OK;
}

/* ahead → held */
static void promote(vtag_video_t *v)
{
    av_frame_unref(v->held);
    av_frame_move_ref(v->held, v->ahead);
    v->held_t = v->ahead_t;
    v->held_serial = v->ahead_serial;
    v->have_held = 1;
    v->have_ahead = 0;
}

/* Repositions the demuxer at the keyframe at or before stream time ts. */
static int seek_to(vtag_video_t *v, int64_t ts)
{
    int ret = av_seek_frame(v->in.fmt, v->in.stream, ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) return ret;
    avcodec_flush_buffers(v->dec);
    av_packet_unref(v->pkt);
    clear_queue(v);
    av_frame_unref(v->held);
    av_frame_unref(v->ahead);
    v->have_held = v->have_ahead = 0;
    v->pkt_pending = v->demux_eof = v->draining = v->dec_eof = 0;
    v->read_errors = v->drain_errors = 0;
    v->need_key = 1;
    v->fresh_seek = 1;
    v->seg_sent = v->seg_recv = v->seg_errors = v->seg_skipped = 0;
    v->seg_from_start = 0;
    v->seek_key_dts = AV_NOPTS_VALUE;
    v->stats.seeks++;
    return 0;
}

/* True when the frame in `ahead` is where the stream begins: nothing
 * earlier exists to seek back to. */
static int at_stream_start(const vtag_video_t *v)
{
    if (v->ahead_t <= v->in.first_pts + 1e-6) return 1;
    if (v->index.n > 0 && v->seek_key_dts != AV_NOPTS_VALUE &&
        vv_seconds(&v->in, v->seek_key_dts) <= v->index.t[0] + 1e-9)
        return 1;
    return 0;
}

/* How long a frame stays on screen, for the last frame of the stream. */
static double frame_span(const vtag_video_t *v, const AVFrame *f)
{
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    int64_t dur = f->duration;
#else
    int64_t dur = f->pkt_duration;
#endif
    double d = dur > 0 ? (double)dur * av_q2d(v->in.tb) : 0.0;
    double nominal = v->info.frame_rate > 0 ? 1.0 / v->info.frame_rate : 0.04;
    return d > nominal ? d : nominal;
}

/* Decodes forward to the frame on screen at t. *which: 1 held, 2 ahead,
 * 0 none (the stream ended before t, e.g. a truncated file). */
static int reach(vtag_video_t *v, double t, int *which, vtag_error *err)
{
    int reseeks = 0;
    *which = 0;
    for (;;) {
        int got, rc = pull(v, &got, err);
        if (rc) return rc;
        if (!got) {
            /* End of stream: the last frame stays on screen to the end (the
               header's duration may count a longer audio track), unless the
               file was cut short: then only for its own duration. */
            if (v->have_held &&
                (v->stats.missing_seconds == 0 || t < v->held_t + frame_span(v, v->held) + 1e-6))
                *which = 1;
            return VTAG_OK;
        }
        if (v->ahead_t <= t + TIME_EPS) {
            promote(v);
            v->fresh_seek = 0;
            continue;
        }
        if (v->have_held) {
            *which = 1;
            return VTAG_OK;
        }
        /* The first frame we have is after t. */
        if (v->fresh_seek && reseeks < MAX_RESEEKS && !at_stream_start(v)) {
            /* Keyframes here are shown later after their index time than
               the plan assumed (variable frame rate): plan with that. */
            double lag = v->seek_key_dts != AV_NOPTS_VALUE ? v->ahead_t - vv_seconds(&v->in, v->seek_key_dts) : 0;
            if (lag > v->index.delay && lag < 1.0) v->index.delay = lag;
            int64_t ts = v->seek_key_dts != AV_NOPTS_VALUE ? v->seek_key_dts - 1 : vv_stream_ts(&v->in, t - 1.0);
            reseeks++;
            if (seek_to(v, ts) == 0) continue;
        }
        v->fresh_seek = 0;
        *which = 2;
        return VTAG_OK;
    }
}

/* ---- planning ------------------------------------------------------------------ */

/* The targets of uniform:N and fps:F into v->targets; for keyframes:N,
 * uniform:N's into v->uni (all N: max_frames caps the keyframes chosen). */
static int make_targets(vtag_video_t *v, const char *path, vtag_error *err)
{
    const vtag_video_sampler *s = &v->smp;
    const int keys = s->kind == VTAG_VIDEO_SAMPLE_KEYFRAMES;
    double len = v->range_end - v->range_start;
    int64_t n, count = keys ? s->key_targets : s->count;
    if (s->kind == VTAG_VIDEO_SAMPLE_UNIFORM || keys) n = count;
    else {
        double k = ceil(len * s->fps - 0.5 - 1e-9); /* centres start+(k+0.5)/F < end */
        if (k > 1e7) return vtag_fail(err, VTAG_ERR_ARG, "%s: fps:%g asks for %.0f frames", path, s->fps, k);
        n = k > 0 ? (int64_t)k : 0;
    }
    if (!keys && s->max_frames > 0 && n > s->max_frames) n = s->max_frames;
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    if (!t) return nomem(err);
    for (int64_t i = 0; i < n; i++)
        t[i] = s->kind == VTAG_VIDEO_SAMPLE_FPS ? v->range_start + ((double)i + 0.5) / s->fps
                                                 : v->range_start + ((double)i + 0.5) * len / (double)count;
    if (keys) v->uni = t, v->n_uni = n;
    else v->targets = t, v->n_targets = n;
    return VTAG_OK;
}

/* Where keyframes:N's keyframes may lie: the range, to the last frame when
 * it has no end (as `keyframes`; the targets stop at the stated duration). */
static double key_range_end(const vtag_video_t *v)
{
    return v->smp.end < 0 ? INFINITY : v->range_end;
}

/* keyframes:N's choice, from the keyframe list k: for each of uniform:N's
 * targets the keyframe of the range nearest to it (ties, within TIME_EPS:
 * the earlier; a keyframe every 1/25 s ties at the targets of N = 50), each
 * chosen keyframe once, in time order, up to max_frames of them. Plain
 * keyframes (no uniform:N targets) chooses every keyframe of the range. */
static int choose_keys(vtag_video_t *v, const vv_keys *k, vtag_error *err)
{
    const int every = v->smp.key_targets == 0;
    int64_t lo = 0, hi = 0;
    while (lo < k->n && k->t[lo] < v->range_start - TIME_EPS) lo++;
    for (hi = lo; hi < k->n && k->t[hi] < key_range_end(v) - TIME_EPS;) hi++;
    int64_t cap = every || hi - lo < v->n_uni ? hi - lo : v->n_uni;
    if (cap < 1) cap = 1;
    free(v->targets), free(v->key_target), free(v->key_ts), free(v->key_lo), free(v->key_hi); /* a second choice */
    v->targets = malloc((size_t)cap * sizeof *v->targets);
    v->key_target = malloc((size_t)cap * sizeof *v->key_target);
    v->key_ts = malloc((size_t)cap * sizeof *v->key_ts);
    v->key_lo = malloc((size_t)cap * sizeof *v->key_lo);
    v->key_hi = malloc((size_t)cap * sizeof *v->key_hi);
    if (!v->targets || !v->key_target || !v->key_ts || !v->key_lo || !v->key_hi) return nomem(err);
    int64_t m = 0, last = -1, c = lo;
    for (int64_t j = 0; j < (every ? hi - lo : v->n_uni) && lo < hi; j++) {
        double t = every ? k->t[lo + j] : v->uni[j];
        while (c + 1 < hi && k->t[c + 1] <= t) c++; /* the last keyframe at or before t, else the first */
        int64_t best = every ? lo + j
                             : c + 1 < hi && k->t[c] < t && k->t[c + 1] - t < t - k->t[c] - TIME_EPS ? c + 1 : c;
        if (best == last) continue;
        v->targets[m] = k->t[best];
        v->key_target[m] = t;
        v->key_ts[m] = vv_stream_ts(&v->in, k->t[best] + TIME_EPS); /* demuxers seek by presentation time */
        v->key_lo[m] = best > 0 ? 0.5 * (k->t[best - 1] + k->t[best]) : -INFINITY;
        v->key_hi[m] = best + 1 < k->n ? 0.5 * (k->t[best] + k->t[best + 1]) : INFINITY;
        last = best;
        m++;
    }
    if (v->smp.max_frames > 0 && m > v->smp.max_frames) m = v->smp.max_frames;
    v->n_targets = m;
    return VTAG_OK;
}

/* Cost of seeking for t: the frames from the keyframe shown by t (its
 * index entry in *key) to t, plus the penalty. */
static int64_t seek_cost(const vtag_video_t *v, double t, int64_t *key)
{
    *key = vv_index_key_before(&v->index, t - v->index.delay);
    return vv_index_frames_between(&v->index, nextafter(v->index.t[*key], -INFINITY), t) + v->seek_penalty;
}

/* Whether to seek before decoding towards target i when the decoder stands
 * at pos (the previous target; -inf before the first), and what that costs
 * in decoded frames (*cost; *cost_seek: the cost of seeking). AUTO takes the
 * cheaper of seeking to the keyframe shown by t and decoding on. The choice
 * for one target does not change the cost of the next (both end at the
 * target), so choosing per target is optimal for the whole set. */
static int decide(const vtag_video_t *v, int64_t i, double pos, vtag_video_strategy strategy, int64_t *cost,
                  int64_t *cost_seek)
{
    double t = v->targets[i];
    int64_t on = vv_index_frames_between(&v->index, pos, t);
    *cost = on;
    *cost_seek = -1;
    if (v->index.n == 0) return 0; /* nothing to seek by: decode through */
    int64_t key, s = seek_cost(v, t, &key);
    /* seeking back to where the decoder already is gains nothing */
    int useful = isinf(pos) ? key > 0 : v->index.t[key] + v->index.delay > pos + 1e-9;
    int choose = strategy == VTAG_VIDEO_STRATEGY_SEEK     ? 1
                 : strategy == VTAG_VIDEO_STRATEGY_LINEAR ? (i == 0 && useful && s < on)
                                                          : (useful && s < on);
    *cost_seek = s;
    if (choose) *cost = s;
    return choose;
}

/* Predicted decodes of a whole sample set under a strategy. */
static int64_t simulate(const vtag_video_t *v, vtag_video_strategy strategy, int64_t *seeks)
{
    int64_t total = 0, cost, cost_seek;
    double pos = -INFINITY;
    *seeks = 0;
    for (int64_t i = 0; i < v->n_targets; i++) {
        *seeks += decide(v, i, pos, strategy, &cost, &cost_seek);
        total += cost;
        if (v->targets[i] > pos) pos = v->targets[i];
    }
    return total;
}

static void plan(vtag_video_t *v)
{
    vtag_video_stats *st = &v->stats;
    int64_t seeks;
    st->targets = v->n_targets;
    st->cost_linear = simulate(v, VTAG_VIDEO_STRATEGY_LINEAR, &seeks);
    st->cost_seek = v->index.n > 0 ? simulate(v, VTAG_VIDEO_STRATEGY_SEEK, &seeks) : -1;
    st->cost_plan = simulate(v, v->opt.strategy, &seeks);
    if (v->opt.strategy != VTAG_VIDEO_STRATEGY_AUTO) st->strategy = v->opt.strategy;
    else if (seeks == 0) st->strategy = VTAG_VIDEO_STRATEGY_LINEAR;
    else if (seeks == v->n_targets) st->strategy = VTAG_VIDEO_STRATEGY_SEEK;
    else st->strategy = VTAG_VIDEO_STRATEGY_AUTO;
    if (v->index.n == 0) st->strategy = VTAG_VIDEO_STRATEGY_LINEAR;
}

/* Seeks for chosen keyframe i and reads its packet into v->pkt (key packets
 * only: key_only); *t is its time, NAN when it was not found. */
static int find_key_packet(vtag_video_t *v, int64_t i, double *t, vtag_error *err)
{
    *t = NAN;
    int64_t ts = v->key_ts[i];
    const int64_t second = (int64_t)(1.0 / av_q2d(v->in.tb)) + 1;
    for (int tries = 0;; tries++) {
        /* A seek that fails leaves the demuxer after the previous keyframe:
           reading on reaches this one. */
        seek_to(v, ts);
        int got = 0;
        double pt = NAN;
        for (;;) {
            int rc = read_packet(v, &got, err);
            if (rc) return rc;
            if (!got) return VTAG_OK;
            pt = packet_time(v, v->pkt->pts != AV_NOPTS_VALUE ? v->pkt->pts : v->pkt->dts);
            if (!(pt < v->key_lo[i])) break;
            av_packet_unref(v->pkt);
        }
        if (!(pt >= v->key_hi[i])) {
            *t = pt;
            return VTAG_OK;
        }
        av_packet_unref(v->pkt); /* the seek landed past it: step back */
        if (tries == MAX_RESEEKS) return VTAG_OK;
        ts -= second;
    }
}

/* The index gives keyframes' decode times; plan_keys adds the stream's lag
 * to get when they are shown, which holds while every keyframe is shown that
 * long after its decode (closed GOPs). Reads the chosen keyframes' packets
 * (no decoding): *ok = 1 when each is shown at the time planned and carries
 * it, 0 when one is not (an open GOP: the scan gives the true times), -1
 * when one carries no presentation time and pictures are reordered (AVI
 * with B-frames: they cannot be decoded alone to a known time). */
static int check_index_keys(vtag_video_t *v, int *ok, vtag_error *err)
{
    const int64_t seeks = v->stats.seeks, packets = v->stats.packets_read;
    *ok = 1;
    for (int64_t i = 0; i < v->n_targets && *ok == 1; i++) {
        double t;
        int rc = find_key_packet(v, i, &t, err);
        if (rc) return rc;
        if (isnan(t)) continue; /* damaged or missing: the decoding pass copes */
        if (v->pkt->pts == AV_NOPTS_VALUE && v->in.st->codecpar->video_delay > 0) *ok = -1;
        else if (fabs(t - v->targets[i]) > 1e-6) *ok = 0;
        av_packet_unref(v->pkt);
    }
    v->stats.seeks = seeks, v->stats.packets_read = packets; /* planning, not reading */
    return VTAG_OK;
}

/* keyframes:N: the keyframe list from the index when it lists every packet
 * (and its times check out), else from one packet scan; seeking to each
 * chosen keyframe when its packet decodes alone to a known time (it carries
 * a presentation time, or nothing is reordered). Otherwise, and for an input
 * that cannot seek, decoding through as `keyframes` does. Plain keyframes
 * takes the same way to every keyframe of the range (key packets sent one
 * after another without a flush come out misordered on open GOPs), or else
 * keeps the stats and plan vtag_video_open gave it. */
static int plan_keys(vtag_video_t *v, const char *path, vtag_error *err)
{
    vtag_video_stats *st = &v->stats;
    vv_keys k;
    memset(&k, 0, sizeof k);
    const int reordered = v->in.st->codecpar->video_delay > 0;
    int rc = VTAG_OK, mode = 0; /* 0: not decided, scan the packets */
    v->key_only = 1; /* find_key_packet reads key packets only */
    if (v->in.seekable && v->index.n > 0 && v->index.complete) {
        int ok = 0;
        rc = vv_keys_from_index(&k, &v->index, err);
        if (!rc) rc = choose_keys(v, &k, err);
        if (!rc) rc = check_index_keys(v, &ok, err);
        vv_keys_free(&k);
        if (rc) return rc;
        mode = ok == 1 ? KEYS_SEEK : ok == -1 ? KEYS_THROUGH : 0;
    }
    if (mode == 0) {
        mode = KEYS_THROUGH;
        if (v->in.seekable && v->in.reopen) {
            vv_input scan;
            vtag_video_info tmp;
            rc = vv_input_open(&scan, path, v->opt.protocols, &tmp, err);
            if (!rc) {
                rc = vv_scan_packets(&scan, NULL, NULL, NULL, &k, err);
                vv_input_close(&scan);
            }
            if (!rc && (k.pts_known || !reordered)) {
                rc = choose_keys(v, &k, err);
                mode = KEYS_SEEK;
            }
            vv_keys_free(&k);
            if (rc) return rc;
        }
    }
    if (mode != KEYS_SEEK && v->smp.key_targets == 0) {
        /* plain keyframes decodes through as before (next_candidate), from the
           keyframe before the range: the check above moved the demuxer */
        v->key_only = -1;
        v->n_targets = 0;
        if (v->index.n > 0) v->initial_seek = vv_index_key_before(&v->index, v->range_start - v->index.delay);
        return VTAG_OK;
    }
    v->key_mode = mode;
    if (mode == KEYS_SEEK) {
        st->targets = v->n_targets;
        st->cost_seek = st->cost_plan = v->n_targets; /* one packet each */
        if (v->smp.key_targets > 0) /* plain keyframes keeps vtag_video_open's */
            st->cost_linear = v->index.n > 0 ? vv_index_frames_between(&v->index, -INFINITY, v->range_end) : -1;
        st->strategy = VTAG_VIDEO_STRATEGY_SEEK;
        return VTAG_OK;
    }
    v->key_only = -1; /* as `keyframes`: decided at the first packet */
    v->n_targets = 0;
    st->targets = -1;
    st->cost_seek = -1;
    st->strategy = VTAG_VIDEO_STRATEGY_LINEAR;
    /* From the keyframe before the range (the first: packets may have been read). */
    int64_t key = v->index.n > 0 ? vv_index_key_before(&v->index, v->range_start - v->index.delay) : -1;
    v->initial_seek = key;
    st->cost_linear = st->cost_plan =
        v->index.n > 0 ? vv_index_frames_between(&v->index, key > 0 ? nextafter(v->index.t[key], -INFINITY) : -INFINITY,
                                                 v->range_end)
                       : -1;
    return VTAG_OK;
}

/* ---- open / close ---------------------------------------------------------------- */

static int open_decoder(vtag_video_t *v, const char *path, vtag_error *err)
{
    const AVCodecParameters *par = v->in.st->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: no decoder for codec %s", path,
                         avcodec_get_name(par->codec_id));
    v->dec = avcodec_alloc_context3(codec);
    if (!v->dec) return nomem(err);
    int ret = avcodec_parameters_to_context(v->dec, par);
    if (ret < 0) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: bad codec parameters (%s)", path, av_err2str(ret));
    v->dec->pkt_timebase = v->in.tb;
    v->dec->thread_count = v->opt.threads;
    v->dec->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    v->dec->max_pixels = VTAG_VIDEO_MAX_PIXELS; /* a picture that grows mid-stream is refused, not allocated */
    ret = avcodec_open2(v->dec, codec, NULL);
    if (ret < 0)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: cannot open the %s decoder (%s)", path, codec->name,
                         av_err2str(ret));
    return VTAG_OK;
}

/* Fills in what the header did not say (duration, keyframe count) by
 * reading the packets once, in a separate demuxer. */
static int scan_for_duration(vtag_video_t *v, const char *path, vtag_error *err)
{
    vv_input scan;
    vtag_video_info tmp;
    int rc = vv_input_open(&scan, path, v->opt.protocols, &tmp, err);
    if (rc) return rc;
    double end = 0.0;
    int64_t packets = 0, keys = 0;
    rc = vv_scan_packets(&scan, &packets, &keys, &end, NULL, err);
    vv_input_close(&scan);
    if (rc) return rc;
    v->info.duration = end;
    if (v->info.frames == 0) v->info.frames = packets;
    v->info.keyframes = keys;
    return VTAG_OK;
}

int vtag_video_open(vtag_video_t **out, const char *path, const vtag_video_sampler *s,
                    const vtag_video_options *o, vtag_error *err)
{
    *out = NULL;
    vtag_video_t *v = calloc(1, sizeof *v);
    if (!v) return nomem(err);
    v->in.stream = -1;
    v->initial_seek = -1;
    v->key_sent = -1;
    v->pos = -INFINITY;
    v->key_only = (s ? s->kind : VTAG_VIDEO_SAMPLE_UNIFORM) == VTAG_VIDEO_SAMPLE_KEYFRAMES ? -1 : 0;
    v->seg_from_start = 1;
    if (s) v->smp = *s;
    else vtag_video_sampler_default(&v->smp);
    if (o) v->opt = *o;
    else vtag_video_options_default(&v->opt);

    int rc = VTAG_OK;
    if (v->opt.size < 1 || v->opt.size > 8192) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "video: frame size %lld out of [1, 8192]", (long long)v->opt.size);
        goto fail;
    }
    if (v->opt.threads < 0 || v->opt.threads > 64) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "video: %d decoder threads out of [0, 64]", v->opt.threads);
        goto fail;
    }
    if (!(v->smp.start >= 0) || v->smp.max_frames < 0 || (v->smp.end >= 0 && v->smp.end <= v->smp.start) ||
        (v->smp.kind == VTAG_VIDEO_SAMPLE_UNIFORM && v->smp.count < 1) ||
        (v->smp.kind == VTAG_VIDEO_SAMPLE_FPS && !(v->smp.fps > 0)) ||
        (v->smp.kind == VTAG_VIDEO_SAMPLE_SCENE && !(v->smp.threshold > 0 && v->smp.threshold <= 1)) ||
        (v->smp.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES && (v->smp.key_targets < 0 || v->smp.key_targets > 1000000)) ||
        v->smp.kind < VTAG_VIDEO_SAMPLE_UNIFORM || v->smp.kind > VTAG_VIDEO_SAMPLE_SCENE) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "video: invalid sampler (need 0 <= start < end, a positive parameter)");
        goto fail;
    }

    if ((rc = vv_input_open(&v->in, path, v->opt.protocols, &v->info, err))) goto fail;
    const int by_frames = (v->smp.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES && v->smp.key_targets == 0) ||
                          v->smp.kind == VTAG_VIDEO_SAMPLE_SCENE;
    if (v->info.duration <= 0 && !v->in.reopen && !by_frames) { /* a pipe is read once */
        rc = vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: the stream states no duration and a pipe cannot be read twice "
                       "to find it: sample by keyframes or scene:T, or give a file", path);
        goto fail;
    }
    if (v->info.duration <= 0 && v->in.reopen && (rc = scan_for_duration(v, path, err))) goto fail;
    if ((rc = vv_index_build(&v->index, &v->in, &v->info, err))) goto fail;
    if (!v->in.seekable) vv_index_free(&v->index); /* a pipe: decoded through, a seek back would fail */
    if ((rc = open_decoder(v, path, err))) goto fail;
    v->seek_penalty = SEEK_PENALTY + (v->dec->thread_count > 1 ? v->dec->thread_count - 1 : 0) +
                      (v->in.st->codecpar->video_delay > 0 ? v->in.st->codecpar->video_delay : 0);
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    v->held = av_frame_alloc();
    v->ahead = av_frame_alloc();
    v->cand = av_frame_alloc();
    v->rgb = malloc((size_t)(v->opt.size * v->opt.size * 3));
    v->thumb_prev = malloc(VV_THUMB * VV_THUMB);
    v->thumb_cur = malloc(VV_THUMB * VV_THUMB);
    int queue_ok = 1;
    for (int i = 0; i < QUEUE_CAP; i++) queue_ok = (v->queue[i] = av_packet_alloc()) && queue_ok;
    v->sent_best = -INFINITY;
    if (!queue_ok || !v->pkt || !v->frame || !v->held || !v->ahead || !v->cand || !v->rgb || !v->thumb_prev || !v->thumb_cur) {
        rc = nomem(err);
        goto fail;
    }
    v->seek_key_dts = AV_NOPTS_VALUE;

    double dur = v->info.duration;
    v->range_start = v->smp.start;
    v->range_end = (v->smp.end < 0 || (dur > 0 && v->smp.end > dur)) ? dur : v->smp.end;
    if (by_frames) {
        if (v->smp.end < 0) v->range_end = INFINITY; /* to the last frame, whatever the header says */
        v->stats.targets = -1;
        v->stats.cost_seek = -1;
        v->stats.strategy = VTAG_VIDEO_STRATEGY_LINEAR;
        int64_t key = v->range_start > 0 && v->index.n > 0
                          ? vv_index_key_before(&v->index, v->range_start - v->index.delay)
                          : -1;
        v->initial_seek = key > 0 ? key : -1;
        v->stats.cost_linear = v->stats.cost_plan =
            v->index.n > 0 && isfinite(v->range_end)
                ? vv_index_frames_between(&v->index, key > 0 ? nextafter(v->index.t[key], -INFINITY) : -INFINITY,
                                          v->range_end)
                : -1;
        if (v->smp.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES && v->in.seekable && (rc = plan_keys(v, path, err)))
            goto fail;
    } else {
        if (!(v->range_end > v->range_start)) {
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: the range [%g, %g) s is empty (the video lasts %.3f s)", path,
                           v->range_start, v->smp.end < 0 ? dur : v->smp.end, dur);
            goto fail;
        }
        if ((rc = make_targets(v, path, err))) goto fail;
        if (v->smp.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES) rc = plan_keys(v, path, err);
        else plan(v);
        if (rc) goto fail;
    }
    *out = v;
    return VTAG_OK;

fail:
    vtag_video_close(&v);
    return rc;
}

void vtag_video_close(vtag_video_t **pv)
{
    if (!pv || !*pv) return;
    vtag_video_t *v = *pv;
    avcodec_free_context(&v->dec);
    av_packet_free(&v->pkt);
    for (int i = 0; i < QUEUE_CAP; i++) av_packet_free(&v->queue[i]);
    av_frame_free(&v->frame);
    av_frame_free(&v->held);
    av_frame_free(&v->ahead);
    av_frame_free(&v->cand);
    vv_input_close(&v->in);
    vv_index_free(&v->index);
    vv_converter_free(&v->conv);
    sws_freeContext(v->thumb_sws);
    free(v->rgb);
    free(v->thumb_prev);
    free(v->thumb_cur);
    free(v->targets);
    free(v->uni);
    free(v->key_target);
    free(v->key_ts);
    free(v->key_lo);
    free(v->key_hi);
    free(v->mine);
    free(v);
    *pv = NULL;
}

const vtag_video_info *vtag_video_get_info(const vtag_video_t *v)
{
    return &v->info;
}

void vtag_video_get_stats(const vtag_video_t *v, vtag_video_stats *stats)
{
    *stats = v->stats;
}

static int check_share(const vtag_video_t *v, int parts, vtag_error *err)
{
    if (v->smp.kind != VTAG_VIDEO_SAMPLE_UNIFORM && v->smp.kind != VTAG_VIDEO_SAMPLE_FPS &&
        (v->key_mode != KEYS_SEEK || v->smp.key_targets == 0)) /* plain keyframes' index counts frames returned */
        return vtag_fail(err, VTAG_ERR_ARG,
                         "video: only uniform, fps and seeking keyframes:N sample sets can be shared between readers");
    if (parts < 1 || parts > 1024) return vtag_fail(err, VTAG_ERR_ARG, "video: %d parts out of [1, 1024]", parts);
    return VTAG_OK;
}

int vtag_video_share_plan(const vtag_video_t *v, int parts, int *owner, vtag_error *err)
{
    int rc = check_share(v, parts, err);
    if (rc) return rc;
    int64_t *load = calloc((size_t)parts, sizeof *load);
    double *pos = malloc((size_t)parts * sizeof *pos);
    if (!load || !pos) {
        free(load), free(pos);
        return nomem(err);
    }
    for (int k = 0; k < parts; k++) pos[k] = -INFINITY;
    for (int64_t i = 0; i < v->n_targets; i++) {
        int best = 0;
        int64_t best_load = 0, cost, cost_seek;
        for (int k = 0; k < parts; k++) {
            if (v->key_mode) cost = 1; /* keyframes:N: one packet each */
            else decide(v, i, pos[k], v->opt.strategy, &cost, &cost_seek);
            if (k == 0 || load[k] + cost < best_load) best = k, best_load = load[k] + cost;
        }
        owner[i] = best;
        load[best] = best_load;
        if (v->targets[i] > pos[best]) pos[best] = v->targets[i];
    }
    free(load);
    free(pos);
    return VTAG_OK;
}

int vtag_video_share(vtag_video_t *v, int part, int parts, const int *owner, vtag_error *err)
{
    int rc = check_share(v, parts, err);
    if (rc) return rc;
    if (part < 0 || part >= parts) return vtag_fail(err, VTAG_ERR_ARG, "video: part %d of %d", part, parts);
    if (v->next_target > 0 || v->done || v->mine)
        return vtag_fail(err, VTAG_ERR_ARG, "video: a reader is shared once, before its first frame");
    for (int64_t i = 0; i < v->n_targets; i++)
        if (owner[i] < 0 || owner[i] >= parts)
            return vtag_fail(err, VTAG_ERR_ARG, "video: target %lld goes to part %d of %d", (long long)i, owner[i],
                             parts);
    if (!(v->mine = malloc((size_t)(v->n_targets > 0 ? v->n_targets : 1) * sizeof *v->mine))) return nomem(err);
    for (int64_t i = 0; i < v->n_targets; i++) v->mine[i] = owner[i] == part;
    return VTAG_OK;
}

/* ---- iteration ------------------------------------------------------------------- */

/* Converts decoded frame f (serial) unless rgb already holds it. */
static int keep(vtag_video_t *v, const AVFrame *f, int64_t serial, vtag_error *err)
{
    if (serial == v->rgb_serial) return VTAG_OK;
    int rc = vv_convert_rgb(&v->conv, f, v->info.rotation, v->opt.size, v->rgb, err);
    if (rc) return rc;
    v->rgb_serial = serial;
    v->stats.frames_converted++;
    return VTAG_OK;
}

static void hand_out(vtag_video_t *v, vtag_video_frame *fr, int64_t index, double target, double pts,
                     double score, int *got)
{
    fr->index = index;
    fr->target_seconds = target;
    fr->pts_seconds = pts;
    fr->scene_score = score;
    fr->size = v->opt.size;
    fr->rgb = v->rgb;
    v->stats.frames_out++;
    *got = 1;
}

static int next_target(vtag_video_t *v, vtag_video_frame *fr, int *got, vtag_error *err)
{
    while (v->next_target < v->n_targets) {
        int64_t i = v->next_target++;
        if (v->mine && !v->mine[i]) continue; /* another reader's */
        double t = v->targets[i];
        v->approaching = 1;
        v->target = t;
        /* Demuxers seek by their own reading of timestamps (MP4: decode time
           plus the stream's shift, which is how the plan reads the index);
           reach() steps back if the keyframe found is shown after t. On
           failure, decoding goes on from where it is. */
        int64_t cost, cost_seek;
        if (decide(v, i, v->pos, v->opt.strategy, &cost, &cost_seek)) seek_to(v, vv_stream_ts(&v->in, t + TIME_EPS));
        int which, rc = reach(v, t, &which, err);
        if (rc) return rc;
        if (t > v->pos) v->pos = t;
        if (!which) continue; /* nothing on screen at t: a gap */
        const AVFrame *f = which == 1 ? v->held : v->ahead;
        if ((rc = keep(v, f, which == 1 ? v->held_serial : v->ahead_serial, err))) return rc;
        hand_out(v, fr, i, t, which == 1 ? v->held_t : v->ahead_t, 0.0, got);
        return VTAG_OK;
    }
    v->done = 1;
    return VTAG_OK;
}

static double thumb_distance(const uint8_t *a, const uint8_t *b)
{
    int64_t sum = 0;
    for (int i = 0; i < VV_THUMB * VV_THUMB; i++) sum += abs((int)a[i] - (int)b[i]);
    return (double)sum / (255.0 * VV_THUMB * VV_THUMB);
}

static int is_key(const AVFrame *f)
{
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
    return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return f->key_frame != 0;
#endif
}

/* keyframes and scene: every decoded frame of the range is a candidate. */
static int next_candidate(vtag_video_t *v, vtag_video_frame *fr, int *got, vtag_error *err)
{
    if (v->initial_seek >= 0) {
        seek_to(v, vv_stream_ts(&v->in, v->range_start + TIME_EPS));
        v->initial_seek = -1;
    }
    for (;;) {
        int have, rc = pull(v, &have, err);
        if (rc) return rc;
        if (!have || v->ahead_t >= v->range_end) break;
        promote(v);
        if (v->held_t < v->range_start) continue;
        if (v->smp.kind == VTAG_VIDEO_SAMPLE_KEYFRAMES && !v->key_only && !is_key(v->held)) continue;
        double score = 0.0;
        if (v->smp.kind == VTAG_VIDEO_SAMPLE_SCENE) {
            if ((rc = vv_thumbnail(&v->thumb_sws, v->held, v->thumb_cur, err))) return rc;
            int first = !v->have_thumb;
            if (!first) score = thumb_distance(v->thumb_prev, v->thumb_cur);
            uint8_t *swap = v->thumb_prev;
            v->thumb_prev = v->thumb_cur;
            v->thumb_cur = swap;
            v->have_thumb = 1;
            if (!first && !(score > v->smp.threshold)) continue;
        }
        if ((rc = keep(v, v->held, v->held_serial, err))) return rc;
        hand_out(v, fr, v->emitted++, v->held_t, v->held_t, score, got);
        return VTAG_OK;
    }
    v->done = 1;
    return VTAG_OK;
}

/* ---- keyframes:N ------------------------------------------------------------------ */

/* Seeks to chosen keyframe i and sends its one packet to the decoder alone
 * (frame threads decode it while the caller works on the frame before). */
static int send_key(vtag_video_t *v, int64_t i, vtag_error *err)
{
    v->key_sent = i;
    int rc = find_key_packet(v, i, &v->key_sent_t, err);
    if (rc || isnan(v->key_sent_t)) return rc;
    v->dec->skip_frame = AVDISCARD_DEFAULT;
    int ret = avcodec_send_packet(v->dec, v->pkt);
    av_packet_unref(v->pkt);
    if (ret == AVERROR(ENOMEM)) return nomem(err);
    if (ret < 0) v->stats.damaged_packets++;
    return VTAG_OK;
}

/* Decodes chosen keyframe i's packet alone into `held` (sent already, or now).
 * *ok = 0 when that gave no picture (the decoder waits for earlier pictures,
 * or the packet is damaged); *pkt_t is the packet's time (NAN: no packet). */
static int decode_key_alone(vtag_video_t *v, int64_t i, int *ok, double *pkt_t, vtag_error *err)
{
    *ok = 0;
    int rc = v->key_sent == i ? VTAG_OK : send_key(v, i, err);
    v->key_sent = -1;
    *pkt_t = v->key_sent_t;
    if (rc || isnan(*pkt_t)) return rc;
    avcodec_send_packet(v->dec, NULL); /* drain: its picture comes out now */
    for (int errors = 0;;) {
        int ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret == AVERROR(ENOMEM)) return nomem(err);
        if (ret == AVERROR_EOF || ret == AVERROR(EAGAIN)) break;
        if (ret < 0) {
            v->stats.damaged_packets++;
            if (++errors > 8) break;
            continue;
        }
        v->stats.frames_decoded++;
        if (*ok) {
            av_frame_unref(v->frame);
            continue;
        }
        if ((v->frame->flags & AV_FRAME_FLAG_CORRUPT) || v->frame->decode_error_flags) v->stats.damaged_packets++;
        av_frame_unref(v->held);
        av_frame_move_ref(v->held, v->frame);
        v->held_t = frame_time(v, v->held);
        v->held_serial = ++v->serial;
        v->have_held = 1;
        *ok = 1;
    }
    avcodec_flush_buffers(v->dec); /* drained: it takes packets again after a flush */
    return VTAG_OK;
}

/* keyframes:N by seeking: the chosen keyframes in order, this reader's own. */
static int next_key_seek(vtag_video_t *v, vtag_video_frame *fr, int *got, vtag_error *err)
{
    while (v->next_target < v->n_targets) {
        int64_t i = v->next_target++;
        if (v->mine && !v->mine[i]) continue; /* another reader's */
        int ok;
        double t;
        int rc = decode_key_alone(v, i, &ok, &t, err);
        if (rc) return rc;
        int which = ok;
        if (!ok && !isnan(t)) {
            /* No picture alone: decode towards its time from the keyframe
               (reach steps back to an earlier one if the decoder needs it). */
            v->key_only = 0;
            v->approaching = 1;
            v->target = t;
            seek_to(v, v->key_ts[i]);
            rc = reach(v, t, &which, err);
            v->key_only = 1;
            v->approaching = 0;
            if (rc) return rc;
            /* only the keyframe's own picture will do, not a neighbour */
            if (which && fabs((which == 1 ? v->held_t : v->ahead_t) - t) > 1e-6) which = 0;
        }
        if (!which) { /* the keyframe cannot be found or decoded: a gap */
            v->stats.damaged_packets++;
            continue;
        }
        /* The picture moves to `cand` (send_key's seek drops held and ahead),
           and this reader's next keyframe decodes on the frame threads while
           it is converted and the caller takes it. */
        double pts = which == 1 ? v->held_t : v->ahead_t;
        int64_t serial = which == 1 ? v->held_serial : v->ahead_serial;
        av_frame_unref(v->cand);
        av_frame_move_ref(v->cand, which == 1 ? v->held : v->ahead);
        v->have_held = v->have_ahead = 0;
        int64_t j = v->next_target;
        while (j < v->n_targets && v->mine && !v->mine[j]) j++;
        if (j < v->n_targets && (rc = send_key(v, j, err))) return rc;
        if ((rc = keep(v, v->cand, serial, err))) return rc;
        if (v->smp.key_targets == 0) hand_out(v, fr, v->emitted++, pts, pts, 0.0, got); /* plain keyframes */
        else hand_out(v, fr, i, v->key_target[i], pts, 0.0, got);
        return VTAG_OK;
    }
    v->done = 1;
    return VTAG_OK;
}

/* The next keyframe picture of the range into `held`, decoding as the
 * keyframes sampler does; *have = 0 at the end of the range. */
static int pull_key_picture(vtag_video_t *v, int *have, vtag_error *err)
{
    *have = 0;
    for (;;) {
        int h, rc = pull(v, &h, err);
        if (rc) return rc;
        if (!h || v->ahead_t >= key_range_end(v)) return VTAG_OK;
        promote(v);
        if (v->held_t < v->range_start) continue;
        if (!v->key_only && !is_key(v->held)) continue;
        *have = 1;
        return VTAG_OK;
    }
}

/* keyframes:N decoded through: a keyframe picture in `cand` serves the
 * targets nearer to it than to the next keyframe (ties: it), and is returned
 * once the next keyframe (or the end) shows it serves one. */
static int next_key_through(vtag_video_t *v, vtag_video_frame *fr, int *got, vtag_error *err)
{
    if (v->initial_seek >= 0) {
        seek_to(v, v->index.ts[v->initial_seek]);
        v->initial_seek = -1;
    }
    while (v->next_target < v->n_uni) {
        int have, rc = pull_key_picture(v, &have, err);
        if (rc) return rc;
        if (v->have_cand) {
            int64_t first = v->next_target;
            while (v->next_target < v->n_uni &&
                   (!have || v->uni[v->next_target] - v->cand_t <= v->held_t - v->uni[v->next_target] + TIME_EPS))
                v->next_target++;
            if (v->next_target > first) {
                if ((rc = keep(v, v->cand, v->cand_serial, err))) return rc;
                hand_out(v, fr, v->emitted++, v->uni[first], v->cand_t, 0.0, got);
                v->have_cand = 0;
            }
        }
        if (have) {
            av_frame_unref(v->cand);
            if (av_frame_ref(v->cand, v->held) < 0) return nomem(err);
            v->cand_t = v->held_t;
            v->cand_serial = v->held_serial;
            v->have_cand = 1;
        }
        if (*got) return VTAG_OK;
        if (!have) break;
    }
    v->done = 1;
    return VTAG_OK;
}

int vtag_video_next(vtag_video_t *v, vtag_video_frame *frame, int *got, vtag_error *err)
{
    *got = 0;
    memset(frame, 0, sizeof *frame);
    if (v->done) return VTAG_OK;
    if (v->smp.max_frames > 0 && v->stats.frames_out >= v->smp.max_frames) {
        v->done = 1;
        return VTAG_OK;
    }
    int rc = v->key_mode == KEYS_SEEK      ? next_key_seek(v, frame, got, err)
             : v->key_mode == KEYS_THROUGH ? next_key_through(v, frame, got, err)
             : (v->smp.kind == VTAG_VIDEO_SAMPLE_UNIFORM || v->smp.kind == VTAG_VIDEO_SAMPLE_FPS)
                 ? next_target(v, frame, got, err)
                 : next_candidate(v, frame, got, err);
    if (rc) v->done = 1;
    return rc;
}

/* The container's index as the planner sees it: sorted entry times, which of
 * them are keyframes, and how many frames lie between two times; and the
 * keyframe list of keyframes:N, from that index or from a packet scan. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "video_internal.h"

int vv_index_build(vv_index *ix, const vv_input *in, const vtag_video_info *info, vtag_error *err)
{
    memset(ix, 0, sizeof *ix);
    ix->fps = info->frame_rate > 0 ? info->frame_rate : 25.0;
    /* Formats with a "generic" index only learn it while reading: what is
       there after probing covers the first seconds, not the file. */
    if (in->fmt->iformat->flags & AVFMT_GENERIC_INDEX) return VTAG_OK;
    int n = avformat_index_get_entries_count(in->st);
    if (n <= 0) return VTAG_OK;
    ix->t = malloc((size_t)n * sizeof *ix->t);
    ix->ts = malloc((size_t)n * sizeof *ix->ts);
    ix->key = malloc((size_t)n);
    if (!ix->t || !ix->ts || !ix->key) {
        vv_index_free(ix);
        return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory for the index (%d entries)", n);
    }
    int64_t keys = 0, nonkeys = 0;
    for (int i = 0; i < n; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(in->st, i);
        ix->ts[i] = e->timestamp;
        ix->t[i] = vv_seconds(in, e->timestamp);
        ix->key[i] = (e->flags & AVINDEX_KEYFRAME) != 0;
        if (ix->key[i]) keys++;
        else nonkeys++;
    }
    ix->n = n;
    /* The first frame is shown at first_pts; its index entry is its decode
       time. Keyframes keep that lag all through a stream. */
    ix->delay = in->first_pts - ix->t[0];
    if (!(ix->delay > 0)) ix->delay = 0;
    if (ix->delay > 1.0) ix->delay = 1.0;
    ix->complete = nonkeys > 0 || (info->frames > 0 && n >= info->frames);
    if (keys == 0) vv_index_free(ix); /* nothing to seek to */
    return VTAG_OK;
}

void vv_index_free(vv_index *ix)
{
    free(ix->t);
    free(ix->ts);
    free(ix->key);
    ix->t = NULL;
    ix->ts = NULL;
    ix->key = NULL;
    ix->n = 0;
}

/* Number of entries with time <= t. */
static int64_t upper_bound(const vv_index *ix, double t)
{
    int64_t lo = 0, hi = ix->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (ix->t[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int64_t vv_index_frames_between(const vv_index *ix, double a, double b)
{
    if (!(b > a)) return 0;
    if (ix->complete) return upper_bound(ix, b) - upper_bound(ix, a);
    if (isinf(a)) a = ix->n > 0 ? ix->t[0] : 0.0;
    double f = ceil((b - a) * ix->fps - 1e-9);
    return f > 0 ? (int64_t)f : 0;
}

int64_t vv_index_key_before(const vv_index *ix, double t)
{
    /* Times computed two ways (ticks × time base, target arithmetic) agree to
       well under a microsecond when they are meant to be equal. */
    for (int64_t i = upper_bound(ix, t + 1e-7) - 1; i >= 0; i--)
        if (ix->key[i]) return i;
    for (int64_t i = 0; i < ix->n; i++)
        if (ix->key[i]) return i;
    return -1;
}

void vv_keys_free(vv_keys *k)
{
    free(k->t);
    k->t = NULL;
    k->n = 0;
}

static int keys_grow(vv_keys *k, int64_t *cap, vtag_error *err)
{
    if (k->n < *cap) return VTAG_OK;
    int64_t c = *cap ? 2 * *cap : 256;
    double *t = realloc(k->t, (size_t)c * sizeof *t);
    if (!t) return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory for the keyframe list");
    k->t = t;
    *cap = c;
    return VTAG_OK;
}

int vv_keys_from_index(vv_keys *k, const vv_index *ix, vtag_error *err)
{
    memset(k, 0, sizeof *k);
    int64_t cap = 0;
    for (int64_t i = 0; i < ix->n; i++) {
        if (!ix->key[i]) continue;
        int rc = keys_grow(k, &cap, err);
        if (rc) {
            vv_keys_free(k);
            return rc;
        }
        k->t[k->n++] = ix->t[i] + ix->delay;
    }
    k->pts_known = 0; /* the index does not say; the reader checks the packets */
    return VTAG_OK;
}

/* Keyframes come in decode order, which for some streams is not
 * presentation order. Insertion sort: the list is almost sorted. */
static void keys_sort(vv_keys *k)
{
    for (int64_t i = 1; i < k->n; i++) {
        double t = k->t[i];
        int64_t j = i;
        for (; j > 0 && k->t[j - 1] > t; j--) k->t[j] = k->t[j - 1];
        k->t[j] = t;
    }
}

int vv_keys_scan(vv_keys *k, vv_input *in, vtag_error *err)
{
    memset(k, 0, sizeof *k);
    k->pts_known = 1;
    for (unsigned i = 0; i < in->fmt->nb_streams; i++)
        if ((int)i != in->stream) in->fmt->streams[i]->discard = AVDISCARD_ALL; /* their bytes are not read */
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
    int64_t cap = 0;
    int errors = 0, rc = VTAG_OK;
    for (;;) {
        int ret = av_read_frame(in->fmt, pkt);
        if (ret == AVERROR_EOF) break;
        if (ret == AVERROR(ENOMEM)) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory");
            break;
        }
        if (ret < 0) { /* a damaged stretch: the demuxer resynchronises, or the file ends */
            if ((in->fmt->pb && avio_feof(in->fmt->pb)) || ++errors > 64) break;
            continue;
        }
        errors = 0;
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (pkt->stream_index == in->stream && (pkt->flags & AV_PKT_FLAG_KEY) && ts != AV_NOPTS_VALUE) {
            if ((rc = keys_grow(k, &cap, err))) break;
            if (pkt->pts == AV_NOPTS_VALUE) k->pts_known = 0;
            k->t[k->n++] = vv_seconds(in, ts);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    if (rc) vv_keys_free(k);
    else keys_sort(k);
    return rc;
}

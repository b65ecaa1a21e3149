/* The container's index as the planner sees it: sorted entry times, which of
 * them are keyframes, and how many frames lie between two times; and the
 * keyframe list of keyframes:N from that index (vv_scan_packets gives it
 * from a packet scan). */
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

int vv_keys_add(vv_keys *k, int64_t *cap, double t, vtag_error *err)
{
    if (k->n == *cap) {
        int64_t c = *cap ? 2 * *cap : 256;
        double *grown = realloc(k->t, (size_t)c * sizeof *grown);
        if (!grown) return vtag_fail(err, VTAG_ERR_NOMEM, "video: out of memory for the keyframe list");
        k->t = grown;
        *cap = c;
    }
    k->t[k->n++] = t;
    return VTAG_OK;
}

int vv_keys_from_index(vv_keys *k, const vv_index *ix, vtag_error *err)
{
    memset(k, 0, sizeof *k);
    int64_t cap = 0;
    for (int64_t i = 0; i < ix->n; i++) {
        if (!ix->key[i]) continue;
        int rc = vv_keys_add(k, &cap, ix->t[i] + ix->delay, err);
        if (rc) {
            vv_keys_free(k);
            return rc;
        }
    }
    k->pts_known = 0; /* the index does not say; the reader checks the packets */
    return VTAG_OK;
}

/* Insertion sort: the list is almost sorted. */
void vv_keys_sort(vv_keys *k)
{
    for (int64_t i = 1; i < k->n; i++) {
        double t = k->t[i];
        int64_t j = i;
        for (; j > 0 && k->t[j - 1] > t; j--) k->t[j] = k->t[j - 1];
        k->t[j] = t;
    }
}

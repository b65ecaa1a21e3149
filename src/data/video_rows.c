/* Video rows for the video-level captioner: a video's sampled frames become
 * one row whose T attention positions are T of its frames' fc vectors and
 * whose fc is their mean, so one caption is written per video. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

int vtag_data_video_row(const float *fc_rows, int64_t n, int64_t d, int64_t T, float *fc_out, float *att_out,
                        vtag_error *err)
{
    if (n < 1 || d < 1 || T < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "video row: %lld frames of %lld values into %lld positions", (long long)n,
                         (long long)d, (long long)T);
    int64_t prod;
    if (vtag_mul_i64(2 * n, T, &prod) || vtag_mul_i64(n, d, &prod))
        return vtag_fail(err, VTAG_ERR_ARG, "video row: %lld frames of %lld values is too large", (long long)n,
                         (long long)d);
    /* Frame j sits at the middle of the j-th of T equal slices of the n rows:
     * fewer rows than positions repeat rows, more pick them evenly. */
    for (int64_t j = 0; j < T; j++) {
        int64_t r = (2 * j + 1) * n / (2 * T);
        memcpy(att_out + j * d, fc_rows + r * d, (size_t)d * sizeof *att_out);
    }
    for (int64_t c = 0; c < d; c++) {
        double s = 0.0;
        for (int64_t r = 0; r < n; r++) s += fc_rows[r * d + c];
        fc_out[c] = (float)(s / (double)n);
    }
    return VTAG_OK;
}

static int nomem(vtag_data_features *out, const char *path, vtag_error *err)
{
    vtag_data_free_features(out);
    return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory making video rows", path);
}

int vtag_data_features_by_video(const vtag_data_features *in, int64_t T, vtag_data_features *out, vtag_error *err)
{
    const char *path = in->path ? in->path : "features";
    memset(out, 0, sizeof *out);
    if (!in->fc || in->fc_dim < 1)
        return vtag_fail(err, VTAG_ERR_ARG,
                         "%s: no fc tensor: video rows are made of the frames' fc vectors (make the features with fc)",
                         path);
    if (T < 0) return vtag_fail(err, VTAG_ERR_ARG, "%s: %lld frames per video", path, (long long)T);
    const int64_t n = in->n, d = in->fc_dim;
    out->path = strdup(path);
    out->impl = calloc(1, sizeof *out->impl);
    int64_t *video = malloc((size_t)(n ? n : 1) * sizeof *video);  /* (n) video of each row */
    int64_t *count = calloc((size_t)(n ? n : 1), sizeof *count);    /* (n_videos) its rows */
    int64_t *start = malloc((size_t)(n + 1) * sizeof *start);       /* (n_videos + 1) offsets into order */
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);   /* (n) rows grouped by video */
    int64_t *first = malloc((size_t)(n ? n : 1) * sizeof *first);   /* (n_videos) first row of each */
    data_map map = {0};
    int rc = VTAG_OK;
    if (!out->path || !out->impl || !video || !count || !start || !order || !first) goto oom;
    int64_t nv = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t old;
        if (data_map_put(&map, in->items[r], nv, &old) != 0) goto oom;
        if (old < 0) first[nv] = r, old = nv++;
        video[r] = old;
        count[old]++;
    }
    int64_t most = 0;
    start[0] = 0;
    for (int64_t v = 0; v < nv; v++) {
        start[v + 1] = start[v] + count[v];
        if (count[v] > most) most = count[v];
        count[v] = 0;
    }
    for (int64_t r = 0; r < n; r++) order[start[video[r]] + count[video[r]]++] = r;
    if (T == 0) T = most;
    if (T < 1) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: no rows to make video rows of", path);
        goto done;
    }
    size_t fc_bytes, att_bytes, tmp_bytes;
    if (vtag_mul_size((size_t)nv * sizeof(float), (size_t)d, &fc_bytes) ||
        vtag_mul_size(fc_bytes, (size_t)T, &att_bytes) ||
        vtag_mul_size((size_t)most * sizeof(float), (size_t)d, &tmp_bytes)) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: %lld videos of %lld frames of %lld values is too large", path,
                       (long long)nv, (long long)T, (long long)d);
        goto done;
    }
    float *fc = data_pool_alloc(&out->impl->pool, fc_bytes ? fc_bytes : 1, 64);   /* [nv, d] */
    float *att = data_pool_alloc(&out->impl->pool, att_bytes ? att_bytes : 1, 64); /* [nv, T, d] */
    const char **items = data_pool_alloc(&out->impl->pool, (size_t)(nv ? nv : 1) * sizeof *items, sizeof *items);
    float *tmp = malloc(tmp_bytes ? tmp_bytes : 1); /* [most, d] one video's rows */
    if (!fc || !att || !items || !tmp) {
        free(tmp);
        goto oom;
    }
    for (int64_t v = 0; v < nv && rc == VTAG_OK; v++) {
        const int64_t c = start[v + 1] - start[v];
        for (int64_t i = 0; i < c; i++)
            memcpy(tmp + i * d, in->fc + order[start[v] + i] * d, (size_t)d * sizeof *tmp);
        rc = vtag_data_video_row(tmp, c, d, T, fc + v * d, att + v * T * d, err);
        const char *id = in->items[first[v]];
        if (!(items[v] = data_pool_strndup(&out->impl->pool, id, strlen(id)))) rc = VTAG_ERR_NOMEM;
    }
    free(tmp);
    if (rc == VTAG_ERR_NOMEM) goto oom;
    if (in->backbone && !(out->backbone = data_pool_strndup(&out->impl->pool, in->backbone, strlen(in->backbone))))
        goto oom;
    out->n = nv;
    out->fc = fc;
    out->fc_dim = d;
    out->att = att;
    out->att_k = T;
    out->att_dim = d;
    out->items = items;
    goto done;
oom:
    rc = VTAG_ERR_NOMEM;
    nomem(out, path, err);
done:
    if (rc && rc != VTAG_ERR_NOMEM) vtag_data_free_features(out);
    data_map_free(&map);
    free(video);
    free(count);
    free(start);
    free(order);
    free(first);
    return rc;
}

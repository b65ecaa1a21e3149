/* Training / validation sets: the feature rows of one split with their
 * videos' caption ids and CIDEr-D references, and the gather that fills a
 * vtag_batch for a list of rows. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

void vtag_data_free_set(vtag_data_set *s)
{
    free(s->rows);
    free(s->row_video);
    free(s->videos);
    free(s->captions);
    free(s->refs);
    memset(s, 0, sizeof *s);
}

int vtag_data_build_set(vtag_data_set *s, const vtag_data_labels *l, const vtag_data_captions *c,
                        const vtag_data_vocab *v, const vtag_data_features *f, vtag_data_split split,
                        const vtag_data_caption_opts *o, vtag_error *err)
{
    memset(s, 0, sizeof *s);
    if (c->count != l->count) return vtag_fail(err, VTAG_ERR_ARG, "set: captions do not belong to these labels");
    if (o->max_length < 1) return vtag_fail(err, VTAG_ERR_ARG, "set: max_length must be at least 1");
    if (split < VTAG_DATA_SPLIT_TRAIN || split > VTAG_DATA_SPLIT_ALL)
        return vtag_fail(err, VTAG_ERR_ARG, "set: invalid split");
    const int64_t L = o->max_length;
    int64_t *entry = malloc((size_t)(f->n ? f->n : 1) * sizeof *entry);
    int64_t *video_of = malloc((size_t)(l->count ? l->count : 1) * sizeof *video_of);
    const char **tokens = NULL;
    int rc = VTAG_OK;
    if (!entry || !video_of) goto nomem;
    if ((rc = vtag_data_map_rows(f, l, entry, err))) goto done;

    s->feats = f;
    s->max_length = L;
    for (int64_t i = 0; i < l->count; i++) video_of[i] = -1;
    int64_t n_rows = 0, n_videos = 0;
    for (int64_t r = 0; r < f->n; r++) {
        if (split != VTAG_DATA_SPLIT_ALL && l->entries[entry[r]].split != split) continue;
        n_rows++;
        if (video_of[entry[r]] < 0) video_of[entry[r]] = n_videos++;
    }
    s->rows = malloc((size_t)(n_rows ? n_rows : 1) * sizeof *s->rows);
    s->row_video = malloc((size_t)(n_rows ? n_rows : 1) * sizeof *s->row_video);
    s->videos = malloc((size_t)(n_videos ? n_videos : 1) * sizeof *s->videos);
    s->captions = calloc((size_t)(n_videos ? n_videos : 1) * (size_t)L, sizeof *s->captions);
    s->refs = malloc((size_t)(n_videos ? n_videos : 1) * sizeof *s->refs);
    if (!s->rows || !s->row_video || !s->videos || !s->captions || !s->refs) goto nomem;
    int64_t at = 0;
    for (int64_t r = 0; r < f->n; r++) {
        if (split != VTAG_DATA_SPLIT_ALL && l->entries[entry[r]].split != split) continue;
        s->rows[at] = r;
        s->row_video[at] = video_of[entry[r]];
        s->videos[video_of[entry[r]]] = entry[r];
        at++;
    }
    s->n_rows = n_rows;
    s->n_videos = n_videos;

    int64_t max_caption = 0;
    for (int64_t i = 0; i < c->count; i++)
        if (c->start[i + 1] - c->start[i] > max_caption) max_caption = c->start[i + 1] - c->start[i];
    tokens = malloc((size_t)(max_caption ? max_caption : 1) * sizeof *tokens);
    if (!tokens) goto nomem;
    for (int64_t vi = 0; vi < n_videos; vi++) {
        int64_t e = s->videos[vi];
        int64_t n = c->start[e + 1] - c->start[e];
        for (int64_t j = 0; j < n; j++) tokens[j] = l->names[c->names[c->start[e] + j]];
        int32_t *ids = s->captions + vi * L;
        s->refs[vi].ids = ids;
        s->refs[vi].len = vtag_data_encode_caption(v, tokens, n, L, ids);
    }
    goto done;
nomem:
    rc = vtag_fail(err, VTAG_ERR_NOMEM, "set: out of memory");
done:
    free(entry);
    free(video_of);
    free(tokens);
    if (rc) vtag_data_free_set(s);
    return rc;
}

int vtag_data_gather_batch(const vtag_data_set *s, const int64_t *idx, int64_t b, float *fc, float *att,
                           int32_t *labels, vtag_batch *batch, vtag_error *err)
{
    const vtag_data_features *f = s->feats;
    const int64_t L = s->max_length;
    if (b < 0) return vtag_fail(err, VTAG_ERR_ARG, "gather: negative batch size");
    for (int64_t i = 0; i < b; i++)
        if (idx[i] < 0 || idx[i] >= s->n_rows)
            return vtag_fail(err, VTAG_ERR_ARG, "gather: row %lld is outside the set's %lld rows", (long long)idx[i],
                             (long long)s->n_rows);
    if (!f->fc) fc = NULL;
    if (!f->att) att = NULL;
    const int64_t att_row = f->att_k * f->att_dim;
    for (int64_t i = 0; i < b; i++) {
        int64_t r = s->rows[idx[i]];
        if (fc) memcpy(fc + i * f->fc_dim, f->fc + r * f->fc_dim, (size_t)f->fc_dim * sizeof *fc);
        if (att) memcpy(att + i * att_row, f->att + r * att_row, (size_t)att_row * sizeof *att);
        if (labels) memcpy(labels + i * L, s->captions + s->row_video[idx[i]] * L, (size_t)L * sizeof *labels);
    }
    memset(batch, 0, sizeof *batch);
    batch->b = b;
    batch->k = att ? f->att_k : 0;
    batch->fc = fc;
    batch->att = att;
    batch->labels = labels;
    return VTAG_OK;
}

int vtag_data_gather_batch_arena(const vtag_data_set *s, const int64_t *idx, int64_t b, unsigned what,
                                 vtag_arena *arena, vtag_batch *batch, vtag_error *err)
{
    const vtag_data_features *f = s->feats;
    if ((what & VTAG_DATA_GATHER_FC) && !f->fc)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: has no fc features", f->path ? f->path : "features");
    if ((what & VTAG_DATA_GATHER_ATT) && !f->att)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: has no att features", f->path ? f->path : "features");
    if (b < 0) return vtag_fail(err, VTAG_ERR_ARG, "gather: negative batch size");
    float *fc = NULL, *att = NULL;
    int32_t *labels = NULL;
    const int64_t rows = b > 0 ? b : 1; /* an empty batch still gets valid pointers */
    if (what & VTAG_DATA_GATHER_FC) fc = vtag_arena_floats(arena, rows * f->fc_dim);
    if (what & VTAG_DATA_GATHER_ATT) att = vtag_arena_floats(arena, rows * f->att_k * f->att_dim);
    if (what & VTAG_DATA_GATHER_LABELS)
        labels = vtag_arena_alloc(arena, (size_t)(rows * s->max_length) * sizeof *labels);
    if (((what & VTAG_DATA_GATHER_FC) && !fc) || ((what & VTAG_DATA_GATHER_ATT) && !att) ||
        ((what & VTAG_DATA_GATHER_LABELS) && !labels))
        return vtag_fail(err, VTAG_ERR_NOMEM, "gather: out of memory");
    return vtag_data_gather_batch(s, idx, b, fc, att, labels, batch, err);
}

/* Labels → captions (SPEC §2): class1, class2, then the tags in canonical
 * order (descending training-video count, ties by first appearance), with
 * repeated labels removed. The cut at max_length is left to encoding. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

void vtag_data_caption_opts_default(vtag_data_caption_opts *o)
{
    o->max_length = 16;
    o->count_threshold = 0;
    o->keep_tag_order = 0;
}

void vtag_data_free_captions(vtag_data_captions *c)
{
    free(c->start);
    free(c->names);
    free(c->tag_count);
    memset(c, 0, sizeof *c);
}

/* Index of an interned label of l (always present). */
static int32_t name_index(const vtag_data_labels *l, const char *s)
{
    return (int32_t)vtag_data_find_name(l, s);
}

int vtag_data_make_captions(vtag_data_captions *c, const vtag_data_labels *l, const vtag_data_caption_opts *o,
                            vtag_error *err)
{
    memset(c, 0, sizeof *c);
    if (!l->impl && l->count > 0) return vtag_fail(err, VTAG_ERR_ARG, "captions: labels not read");
    if (l->n_names > INT32_MAX) return vtag_fail(err, VTAG_ERR_ARG, "captions: more than 2^31 labels");
    int64_t total = 0, max_tags = 0;
    for (int64_t i = 0; i < l->count; i++) {
        total += 2 + l->entries[i].n_tags;
        if (l->entries[i].n_tags > max_tags) max_tags = l->entries[i].n_tags;
    }
    int64_t n_names = l->n_names;
    c->count = l->count;
    c->start = malloc((size_t)(l->count + 1) * sizeof *c->start);
    c->names = malloc((size_t)(total ? total : 1) * sizeof *c->names);
    c->tag_count = calloc((size_t)(n_names ? n_names : 1), sizeof *c->tag_count);
    int64_t *stamp = malloc((size_t)(n_names ? n_names : 1) * sizeof *stamp); /* entry + 1 that last saw a label */
    int32_t *tags = malloc((size_t)(max_tags ? max_tags : 1) * sizeof *tags);
    if (!c->start || !c->names || !c->tag_count || !stamp || !tags) {
        free(stamp);
        free(tags);
        vtag_data_free_captions(c);
        return vtag_fail(err, VTAG_ERR_NOMEM, "captions: out of memory");
    }
    for (int64_t k = 0; k < n_names; k++) stamp[k] = 0;

    /* Tag counts: each training video counts once per tag it lists. */
    for (int64_t i = 0; i < l->count; i++) {
        const vtag_data_entry *e = &l->entries[i];
        if (e->split != VTAG_DATA_SPLIT_TRAIN) continue;
        for (int64_t t = 0; t < e->n_tags; t++) {
            int32_t k = name_index(l, e->tags[t]);
            if (stamp[k] == i + 1) continue;
            stamp[k] = i + 1;
            c->tag_count[k]++;
        }
    }

    /* A second set of stamps, offset past the first pass's values. */
    const int64_t base = l->count + 1;
    int64_t at = 0;
    for (int64_t i = 0; i < l->count; i++) {
        const vtag_data_entry *e = &l->entries[i];
        int64_t n = e->n_tags;
        for (int64_t t = 0; t < n; t++) tags[t] = name_index(l, e->tags[t]);
        if (!o->keep_tag_order) {
            /* Insertion sort (a caption has a handful of tags): count
             * descending, then first appearance (= names index) ascending. */
            for (int64_t t = 1; t < n; t++) {
                int32_t x = tags[t];
                int64_t j = t;
                while (j > 0 && (c->tag_count[tags[j - 1]] < c->tag_count[x] ||
                                 (c->tag_count[tags[j - 1]] == c->tag_count[x] && tags[j - 1] > x))) {
                    tags[j] = tags[j - 1];
                    j--;
                }
                tags[j] = x;
            }
        }
        c->start[i] = at;
        const int64_t mark = base + i;
        int32_t head[2] = {name_index(l, e->class1), name_index(l, e->class2)};
        for (int64_t t = 0; t < 2 + n; t++) {
            int32_t k = t < 2 ? head[t] : tags[t - 2];
            if (stamp[k] == mark) continue;
            stamp[k] = mark;
            c->names[at++] = k;
        }
    }
    c->start[l->count] = at;
    free(stamp);
    free(tags);
    return VTAG_OK;
}

/* The caption vocabulary (SPEC §2): labels → ids 1..V built from the training
 * captions, UNK only when some token falls at or below the threshold, and
 * its JSON form, the checkpoint metadata vtag.vocab. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

struct vtag_data_vocab_impl {
    data_pool pool;
    data_map map; /* token → id */
    const char **tokens; /* (cap) */
    int64_t cap;
};

void vtag_data_free_vocab(vtag_data_vocab *v)
{
    if (v->impl) {
        data_pool_free(&v->impl->pool);
        data_map_free(&v->impl->map);
        free(v->impl->tokens);
        free(v->impl);
    }
    memset(v, 0, sizeof *v);
}

static int vocab_start(vtag_data_vocab *v, int64_t cap)
{
    memset(v, 0, sizeof *v);
    v->impl = calloc(1, sizeof *v->impl);
    if (!v->impl) return -1;
    v->impl->tokens = malloc((size_t)(cap + 1) * sizeof *v->impl->tokens);
    if (!v->impl->tokens) return -1;
    v->impl->cap = cap + 1;
    v->impl->tokens[0] = NULL;
    v->tokens = v->impl->tokens;
    return 0;
}

/* Appends a token (copied) as id size+1. Returns the id, 0 if already
 * present (*dup receives its id), -1 when out of memory. */
static int64_t vocab_append(vtag_data_vocab *v, const char *s, size_t len, int32_t *dup)
{
    vtag_data_vocab_impl *im = v->impl;
    int64_t old = data_map_find(&im->map, s, len);
    if (old >= 0) {
        *dup = (int32_t)old;
        return 0;
    }
    if (v->size + 2 > im->cap) {
        int64_t cap = 2 * im->cap;
        const char **t = realloc(im->tokens, (size_t)cap * sizeof *t);
        if (!t) return -1;
        im->tokens = t;
        im->cap = cap;
        v->tokens = t;
    }
    char *copy = data_pool_strndup(&im->pool, s, len);
    if (!copy) return -1;
    int64_t id = v->size + 1;
    if (data_map_put(&im->map, copy, id, NULL) != 0) return -1;
    im->tokens[id] = copy;
    v->size = id;
    return id;
}

int32_t vtag_data_find_token(const vtag_data_vocab *v, const char *token)
{
    if (!v->impl) return 0;
    int64_t id = data_map_find(&v->impl->map, token, strlen(token));
    return id > 0 ? (int32_t)id : 0;
}

int vtag_data_build_vocab(vtag_data_vocab *v, const vtag_data_labels *l, const vtag_data_captions *c,
                          const vtag_data_caption_opts *o, vtag_error *err)
{
    memset(v, 0, sizeof *v);
    if (c->count != l->count) return vtag_fail(err, VTAG_ERR_ARG, "vocab: captions do not belong to these labels");
    if (o->count_threshold < 0) return vtag_fail(err, VTAG_ERR_ARG, "vocab: negative count threshold");
    int64_t *count = calloc((size_t)(l->n_names ? l->n_names : 1), sizeof *count);
    if (!count || vocab_start(v, 64) != 0) {
        free(count);
        vtag_data_free_vocab(v);
        return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
    }
    /* Captions hold each label once, so this counts training videos. */
    for (int64_t i = 0; i < l->count; i++) {
        if (l->entries[i].split != VTAG_DATA_SPLIT_TRAIN) continue;
        for (int64_t j = c->start[i]; j < c->start[i + 1]; j++) count[c->names[j]]++;
    }
    int any_rare = 0, rc = VTAG_OK;
    for (int64_t i = 0; i < l->count && !rc; i++) {
        if (l->entries[i].split != VTAG_DATA_SPLIT_TRAIN) continue;
        for (int64_t j = c->start[i]; j < c->start[i + 1]; j++) {
            int32_t k = c->names[j];
            if (count[k] <= o->count_threshold) {
                any_rare = 1;
                continue;
            }
            if (v->size >= INT32_MAX - 1) {
                rc = vtag_fail(err, VTAG_ERR_ARG, "vocab: more than 2^31 - 2 tokens");
                break;
            }
            int32_t dup;
            const char *s = l->names[k];
            if (vocab_append(v, s, strlen(s), &dup) < 0) {
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
                break;
            }
        }
    }
    if (!rc && any_rare) {
        int32_t dup;
        if (vocab_append(v, VTAG_DATA_UNK, strlen(VTAG_DATA_UNK), &dup) < 0)
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
    }
    /* As for a decoded vocabulary: a token "UNK" is the unknown token. */
    v->unk = vtag_data_find_token(v, VTAG_DATA_UNK);
    free(count);
    if (rc) vtag_data_free_vocab(v);
    return rc;
}

int vtag_data_encode_vocab(const vtag_data_vocab *v, char **json, vtag_error *err)
{
    *json = NULL;
    json_t *arr = json_array();
    if (!arr) return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
    for (int64_t id = 1; id <= v->size; id++) {
        json_t *s = json_string(v->tokens[id]);
        if (!s) {
            json_decref(arr);
            return vtag_fail(err, VTAG_ERR_ARG, "vocab: token %lld is not valid UTF-8", (long long)id);
        }
        if (json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
        }
    }
    *json = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!*json) return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
    return VTAG_OK;
}

int vtag_data_decode_vocab(vtag_data_vocab *v, const char *json, const char *source, vtag_error *err)
{
    memset(v, 0, sizeof *v);
    const char *src = source ? source : "vtag.vocab";
    const char *sep = source ? ": vtag.vocab" : "";
    json_error_t jerr;
    json_t *arr = json_loads(json, 0, &jerr);
    if (!arr) return vtag_fail(err, VTAG_ERR_FORMAT, "%s%s: invalid JSON: %s", src, sep, jerr.text);
    int rc = VTAG_OK;
    if (!json_is_array(arr)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s%s: expected a JSON array of tokens", src, sep);
        goto done;
    }
    int64_t n = (int64_t)json_array_size(arr);
    if (n > INT32_MAX - 1) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s%s: %lld tokens is too many", src, sep, (long long)n);
        goto done;
    }
    if (vocab_start(v, n) != 0) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, (size_t)i);
        if (!json_is_string(t) || json_string_length(t) == 0) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s%s: element %lld is not a non-empty string", src, sep, (long long)i);
            goto done;
        }
        int32_t dup = 0;
        int64_t id = vocab_append(v, json_string_value(t), json_string_length(t), &dup);
        if (id < 0) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", src);
            goto done;
        }
        if (id == 0) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s%s: element %lld repeats element %lld (\"%.64s\")", src, sep,
                           (long long)i, (long long)dup - 1, json_string_value(t));
            goto done;
        }
    }
    v->unk = vtag_data_find_token(v, VTAG_DATA_UNK);
done:
    json_decref(arr);
    if (rc) vtag_data_free_vocab(v);
    return rc;
}

int64_t vtag_data_encode_caption(const vtag_data_vocab *v, const char *const *tokens, int64_t n_tokens,
                                 int64_t max_length, int32_t *ids)
{
    int64_t n = 0;
    for (int64_t i = 0; i < n_tokens && n < max_length; i++) {
        int32_t id = vtag_data_find_token(v, tokens[i]);
        if (id == 0) id = v->unk;
        if (id == 0) continue;
        int64_t j = 0;
        while (j < n && ids[j] != id) j++;
        if (j == n) ids[n++] = id;
    }
    return n;
}

/* Token interning: UTF-8 strings to dense ids in order of first appearance,
 * so that text files can be scored through the id-based metrics. */
#include <stdlib.h>
#include <string.h>

#include "vtag/metrics.h"

void vtag_metrics_vocab_init(vtag_metrics_vocab *v)
{
    memset(v, 0, sizeof *v);
}

void vtag_metrics_vocab_free(vtag_metrics_vocab *v)
{
    free(v->chars);
    free(v->offsets);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

static uint64_t str_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static size_t token_len(const vtag_metrics_vocab *v, int32_t id)
{
    int64_t end = id + 1 < v->count ? v->offsets[id + 1] : v->chars_len;
    return (size_t)(end - v->offsets[id] - 1);
}

/* The slot holding s, or the empty slot where it would go. */
static uint64_t vocab_slot(const vtag_metrics_vocab *v, const char *s, size_t len)
{
    uint64_t i = str_hash(s, len) & v->mask;
    for (;;) {
        int32_t id = v->slots[i];
        if (id < 0) return i;
        if (token_len(v, id) == len && memcmp(v->chars + v->offsets[id], s, len) == 0) return i;
        i = (i + 1) & v->mask;
    }
}

int32_t vtag_metrics_vocab_find(const vtag_metrics_vocab *v, const char *s, size_t len)
{
    if (!v->slots) return -1;
    return v->slots[vocab_slot(v, s, len)];
}

const char *vtag_metrics_vocab_token(const vtag_metrics_vocab *v, int32_t id)
{
    return id >= 0 && id < v->count ? v->chars + v->offsets[id] : NULL;
}

static int vocab_rehash(vtag_metrics_vocab *v, uint64_t n_slots, vtag_error *err)
{
    int32_t *slots = malloc(n_slots * sizeof *slots);
    if (!slots) return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
    for (uint64_t i = 0; i < n_slots; i++) slots[i] = -1;
    free(v->slots);
    v->slots = slots;
    v->mask = n_slots - 1;
    for (int32_t id = 0; id < v->count; id++)
        v->slots[vocab_slot(v, v->chars + v->offsets[id], token_len(v, id))] = id;
    return VTAG_OK;
}

int vtag_metrics_vocab_intern(vtag_metrics_vocab *v, const char *s, size_t len, int32_t *id,
                              vtag_error *err)
{
    if (memchr(s, '\0', len)) return vtag_fail(err, VTAG_ERR_ARG, "vocab: token contains NUL");
    if (!v->slots) {
        int rc = vocab_rehash(v, 64, err);
        if (rc) return rc;
    }
    uint64_t slot = vocab_slot(v, s, len);
    if (v->slots[slot] >= 0) {
        *id = v->slots[slot];
        return VTAG_OK;
    }
    if (v->count == INT32_MAX) return vtag_fail(err, VTAG_ERR_ARG, "vocab: too many tokens");
    if (v->count == v->cap) {
        int32_t cap = v->cap ? (v->cap > INT32_MAX / 2 ? INT32_MAX : 2 * v->cap) : 64;
        int64_t *off = realloc(v->offsets, (size_t)cap * sizeof *off);
        if (!off) return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
        v->offsets = off;
        v->cap = cap;
    }
    if (v->chars_len + (int64_t)len + 1 > v->chars_cap) {
        int64_t cap = v->chars_cap ? v->chars_cap : 1024;
        while (cap < v->chars_len + (int64_t)len + 1) cap *= 2;
        char *chars = realloc(v->chars, (size_t)cap);
        if (!chars) return vtag_fail(err, VTAG_ERR_NOMEM, "vocab: out of memory");
        v->chars = chars;
        v->chars_cap = cap;
    }
    int32_t new_id = v->count++;
    v->offsets[new_id] = v->chars_len;
    memcpy(v->chars + v->chars_len, s, len);
    v->chars[v->chars_len + (int64_t)len] = '\0';
    v->chars_len += (int64_t)len + 1;
    v->slots[slot] = new_id;
    *id = new_id;
    if (2 * (uint64_t)v->count > v->mask + 1) return vocab_rehash(v, 2 * (v->mask + 1), err);
    return VTAG_OK;
}

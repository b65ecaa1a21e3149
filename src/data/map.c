/* Open-addressing hash map from NUL-terminated strings (borrowed) to int64,
 * for label and video lookups in O(1) expected time. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static uint64_t str_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int key_equal(const char *key, const char *s, size_t len)
{
    return strncmp(key, s, len) == 0 && key[len] == '\0';
}

/* The slot holding s, or the empty slot where it would go. */
static uint64_t map_slot(const data_map *m, const char *s, size_t len)
{
    uint64_t i = str_hash(s, len) & m->mask;
    while (m->keys[i] && !key_equal(m->keys[i], s, len)) i = (i + 1) & m->mask;
    return i;
}

int64_t data_map_find(const data_map *m, const char *s, size_t len)
{
    if (!m->keys) return -1;
    uint64_t i = map_slot(m, s, len);
    return m->keys[i] ? m->vals[i] : -1;
}

static int map_grow(data_map *m, uint64_t n_slots)
{
    const char **keys = calloc(n_slots, sizeof *keys);
    int64_t *vals = malloc(n_slots * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    data_map old = *m;
    m->keys = keys;
    m->vals = vals;
    m->mask = n_slots - 1;
    if (old.keys) {
        for (uint64_t i = 0; i <= old.mask; i++) {
            if (!old.keys[i]) continue;
            uint64_t j = map_slot(m, old.keys[i], strlen(old.keys[i]));
            m->keys[j] = old.keys[i];
            m->vals[j] = old.vals[i];
        }
    }
    free(old.keys);
    free(old.vals);
    return 0;
}

int data_map_put(data_map *m, const char *key, int64_t val, int64_t *old)
{
    if (old) *old = -1;
    if (!m->keys && map_grow(m, 64) != 0) return -1;
    size_t len = strlen(key);
    uint64_t i = map_slot(m, key, len);
    if (m->keys[i]) {
        if (old) *old = m->vals[i];
        return 0;
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->count++;
    /* Load factor at most 1/2 keeps probe runs short. */
    if (2 * (uint64_t)m->count > m->mask + 1) return map_grow(m, 2 * (m->mask + 1));
    return 0;
}

void data_map_free(data_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

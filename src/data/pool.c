/* A chunked bump allocator for the many small strings and arrays of a labels
 * file or a vocabulary: one free per object, and pointers never move. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

#define POOL_BLOCK_BYTES ((size_t)64 << 10)

struct data_pool_block {
    data_pool_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *data_pool_alloc(data_pool *p, size_t bytes, size_t align)
{
    data_pool_block *b = p->head;
    if (b) {
        size_t at = (b->used + align - 1) & ~(align - 1);
        if (at <= b->cap && bytes <= b->cap - at) {
            b->used = at + bytes;
            return b->data + at;
        }
    }
    /* A request larger than a block gets a block of its own. */
    size_t cap = bytes > POOL_BLOCK_BYTES / 4 ? bytes : POOL_BLOCK_BYTES;
    if (cap > SIZE_MAX - sizeof *b) return NULL;
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->cap = cap;
    b->used = bytes;
    if (bytes == cap && p->head) {
        /* Keep filling the current block: put the big one behind it. */
        b->next = p->head->next;
        p->head->next = b;
    } else {
        b->next = p->head;
        p->head = b;
    }
    return b->data;
}

char *data_pool_strndup(data_pool *p, const char *s, size_t len)
{
    if (len == SIZE_MAX) return NULL;
    char *d = data_pool_alloc(p, len + 1, 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void data_pool_free(data_pool *p)
{
    data_pool_block *b = p->head;
    while (b) {
        data_pool_block *next = b->next;
        free(b);
        b = next;
    }
    p->head = NULL;
}

/* Bump allocator for per-step activations (see core.h). */
#include <stdlib.h>
#include <string.h>

#include "vtag/core.h"

#define ALIGN 64

struct vtag_arena_block {
    vtag_arena_block *prev;
    size_t cap, used;
    unsigned char *mem;
};

static vtag_arena_block *block_new(size_t cap)
{
    vtag_arena_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->mem = aligned_alloc(ALIGN, (cap + ALIGN - 1) / ALIGN * ALIGN);
    if (!b->mem) {
        free(b);
        return NULL;
    }
    b->prev = NULL;
    b->cap = (cap + ALIGN - 1) / ALIGN * ALIGN;
    b->used = 0;
    return b;
}

int vtag_arena_init(vtag_arena *a, size_t capacity, vtag_error *err)
{
    memset(a, 0, sizeof *a);
    a->head = block_new(capacity ? capacity : 1 << 20);
    if (!a->head) return vtag_fail(err, VTAG_ERR_NOMEM, "arena: cannot allocate %zu bytes", capacity);
    return VTAG_OK;
}

void *vtag_arena_alloc(vtag_arena *a, size_t bytes)
{
    size_t need = (bytes + ALIGN - 1) / ALIGN * ALIGN;
    vtag_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = b ? b->cap * 2 : (size_t)1 << 20;
        if (cap < need) cap = need;
        vtag_arena_block *nb = block_new(cap);
        if (!nb) return NULL;
        nb->prev = b;
        a->head = b = nb;
    }
    void *p = b->mem + b->used;
    b->used += need;
    a->used_total += need;
    if (a->used_total > a->high_water) a->high_water = a->used_total;
    return p;
}

float *vtag_arena_floats(vtag_arena *a, int64_t n) { return vtag_arena_alloc(a, (size_t)n * sizeof(float)); }

float *vtag_arena_zeros(vtag_arena *a, int64_t n)
{
    float *p = vtag_arena_floats(a, n);
    if (p) memset(p, 0, (size_t)n * sizeof(float));
    return p;
}

void vtag_arena_reset(vtag_arena *a)
{
    vtag_arena_block *b = a->head;
    if (b && b->prev) {
        /* This step outgrew the first block: replace the chain by one block
         * that holds the whole high-water mark. */
        while (b) {
            vtag_arena_block *prev = b->prev;
            free(b->mem);
            free(b);
            b = prev;
        }
        a->head = block_new(a->high_water);
    } else if (b) {
        b->used = 0;
    }
    a->used_total = 0;
}

void vtag_arena_free(vtag_arena *a)
{
    vtag_arena_block *b = a->head;
    while (b) {
        vtag_arena_block *prev = b->prev;
        free(b->mem);
        free(b);
        b = prev;
    }
    memset(a, 0, sizeof *a);
}

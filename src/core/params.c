/* The parameter store: named tensors carved from four flat buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "vtag/core.h"

void vtag_params_init(vtag_params *p) { memset(p, 0, sizeof *p); }

int vtag_params_add(vtag_params *p, const char *name, int ndim, const int64_t *shape, vtag_error *err)
{
    if (p->value) return vtag_fail(err, VTAG_ERR_ARG, "params: '%s' added after allocation", name);
    if (ndim < 1 || ndim > VTAG_MAX_DIMS)
        return vtag_fail(err, VTAG_ERR_ARG, "params: '%s' has %d dimensions", name, ndim);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) return vtag_fail(err, VTAG_ERR_ARG, "params: '%s' has dimension %d = %lld", name, i, (long long)shape[i]);
    if (vtag_params_find(p, name) >= 0) return vtag_fail(err, VTAG_ERR_ARG, "params: '%s' declared twice", name);
    if (p->count == p->cap) {
        int cap = p->cap ? p->cap * 2 : 16;
        vtag_param *items = realloc(p->items, (size_t)cap * sizeof *items);
        if (!items) return vtag_fail(err, VTAG_ERR_NOMEM, "params: out of memory");
        p->items = items;
        p->cap = cap;
    }
    vtag_param *t = &p->items[p->count];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return vtag_fail(err, VTAG_ERR_NOMEM, "params: out of memory");
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = vtag_numel(ndim, shape);
    /* Each tensor starts on a 64-byte boundary (16 floats) for vector loads. */
    t->offset = (p->total + 15) / 16 * 16;
    p->total = t->offset + t->numel;
    return p->count++;
}

/* Zeroes bytes at b. A large block's whole pages go back to the kernel
 * instead (on Linux, private anonymous memory — the heap — reads as zeros
 * after MADV_DONTNEED): the gradient and Adam buffers of a model that is only
 * run, the tagger's, then cost no page faults and no clearing, and a trainer
 * pays for a page when it first writes it, as it did in the memset. */
static void zero_block(void *b, size_t bytes)
{
#ifdef __linux__
    const long pg = sysconf(_SC_PAGESIZE);
    const uintptr_t s = (uintptr_t)b, e = s + bytes;
    const uintptr_t a = pg > 0 ? (s + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg : 0;
    const uintptr_t z = pg > 0 ? e / (uintptr_t)pg * (uintptr_t)pg : 0;
    if (pg > 0 && z > a && z - a >= ((uintptr_t)1 << 20) && madvise((void *)a, z - a, MADV_DONTNEED) == 0) {
        memset(b, 0, a - s);
        memset((void *)z, 0, e - z);
        return;
    }
#endif
    memset(b, 0, bytes);
}

int vtag_params_alloc(vtag_params *p, vtag_error *err)
{
    size_t bytes = (size_t)((p->total + 15) / 16 * 16) * sizeof(float);
    if (bytes == 0) bytes = 64;
    float **bufs[4] = {&p->value, &p->grad, &p->adam_m, &p->adam_v};
    for (int i = 0; i < 4; i++) {
        *bufs[i] = aligned_alloc(64, bytes);
        if (!*bufs[i]) return vtag_fail(err, VTAG_ERR_NOMEM, "params: cannot allocate %zu bytes", bytes);
        zero_block(*bufs[i], bytes);
    }
    return VTAG_OK;
}

int vtag_params_find(const vtag_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0) return i;
    return -1;
}

float *vtag_params_value(const vtag_params *p, int index) { return p->value + p->items[index].offset; }
float *vtag_params_grad(const vtag_params *p, int index) { return p->grad + p->items[index].offset; }

void vtag_params_zero_grad(vtag_params *p)
{
    if (p->grad) memset(p->grad, 0, (size_t)p->total * sizeof(float));
}

void vtag_params_free(vtag_params *p)
{
    for (int i = 0; i < p->count; i++) free(p->items[i].name);
    free(p->items);
    free(p->value);
    free(p->grad);
    free(p->adam_m);
    free(p->adam_v);
    memset(p, 0, sizeof *p);
}

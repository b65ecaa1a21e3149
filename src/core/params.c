/* The parameter store: named tensors carved from four flat buffers. */
#include <stdlib.h>
#include <string.h>

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

int vtag_params_alloc(vtag_params *p, vtag_error *err)
{
    size_t bytes = (size_t)((p->total + 15) / 16 * 16) * sizeof(float);
    if (bytes == 0) bytes = 64;
    float **bufs[4] = {&p->value, &p->grad, &p->adam_m, &p->adam_v};
    for (int i = 0; i < 4; i++) {
        *bufs[i] = aligned_alloc(64, bytes);
        if (!*bufs[i]) return vtag_fail(err, VTAG_ERR_NOMEM, "params: cannot allocate %zu bytes", bytes);
        memset(*bufs[i], 0, bytes);
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

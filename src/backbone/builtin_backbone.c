/* The built-in CNN behind the backbone handle (vtag/backbone.h): fc is the
 * global average pool of the last conv map, att that map as [K = h·w, D]. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/backbone_internal.h"
#include "vtag/builtin.h"

/* The weights: the folded inference model only (the file's unfolded
 * parameters are dropped once it is built). Read-only after open. */
typedef struct builtin_impl {
    vtag_builtin_infer inf;
} builtin_impl;

/* A worker's scratch: the activations' arena (the caller's, in ctx, is left alone). */
static int builtin_scratch_open(const vtag_backbone_t *b, void **scratch, vtag_error *err)
{
    (void)b;
    vtag_arena *a = calloc(1, sizeof *a);
    if (!a) return vtag_fail(err, VTAG_ERR_NOMEM, "backbone: out of memory");
    int rc = vtag_arena_init(a, (size_t)1 << 20, err);
    if (rc) {
        free(a);
        return rc;
    }
    *scratch = a;
    return VTAG_OK;
}

static int builtin_run(const vtag_backbone_t *b, void *scratch, vtag_ctx *ctx, const float *images, int64_t n,
                       float *fc, float *att, vtag_error *err)
{
    const builtin_impl *im = b->impl;
    vtag_arena *a = scratch;
    vtag_ctx local = *ctx; /* threads and backend of the caller, the worker's arena */
    local.arena = *a;
    int rc = vtag_builtin_infer_run(&local, &im->inf, images, n, fc, att, NULL, err);
    vtag_arena_reset(&local.arena);
    *a = local.arena;
    return rc;
}

static size_t builtin_scratch_bytes(const void *scratch)
{
    const vtag_arena *a = scratch;
    return sizeof *a + a->high_water;
}

static void builtin_scratch_close(void *scratch)
{
    vtag_arena *a = scratch;
    if (!a) return;
    vtag_arena_free(a);
    free(a);
}

static void builtin_close(vtag_backbone_t *b)
{
    builtin_impl *im = b->impl;
    if (!im) return;
    vtag_builtin_infer_free(&im->inf);
    free(im);
    b->impl = NULL;
}

static const vtag_backbone_ops builtin_ops = {builtin_scratch_open, builtin_run, builtin_scratch_bytes,
                                              builtin_scratch_close, builtin_close};

int vtag_builtin_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o,
                               vtag_error *err)
{
    *out = NULL;
    vtag_backbone_t *b = calloc(1, sizeof *b);
    builtin_impl *im = calloc(1, sizeof *im);
    if (!b || !im) {
        free(b), free(im);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    b->ops = &builtin_ops;
    b->impl = im;
    vtag_builtin model;
    memset(&model, 0, sizeof model);
    int rc = vtag_builtin_load(&model, path, err);
    if (!rc) rc = vtag_builtin_infer_build(&im->inf, &model, err);
    vtag_builtin_free(&model);
    const vtag_builtin_config *c = &im->inf.cfg;
    if (!rc && o && o->size && o->size != c->size)
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: the built-in backbone was trained at %lld px, not %lld (leave --size out)",
                       path, (long long)c->size, (long long)o->size);
    if (rc) {
        builtin_close(b);
        free(b);
        return rc;
    }
    vtag_backbone_info *in = &b->info;
    in->size = c->size;
    for (int i = 0; i < 3; i++) {
        in->mean[i] = o && o->have_norm ? o->mean[i] : c->mean[i];
        in->std[i] = o && o->have_norm ? o->std[i] : c->std[i];
    }
    const int64_t side = vtag_builtin_out_side(c);
    in->d_fc = in->d_att = c->widths[c->n_stages - 1];
    in->k_att = side * side;
    in->max_batch = o && o->max_batch > 0 ? o->max_batch : 8;
    /* {"kind": "builtin", "arch", "file" (base name), "size", "widths"}: JSON, short enough for the field */
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    json_t *w = json_array();
    for (int s = 0; s < c->n_stages; s++) json_array_append_new(w, json_integer(c->widths[s]));
    json_t *d = json_pack("{s:s, s:s, s:s%, s:I, s:o}", "kind", "builtin", "arch", VTAG_BUILTIN_ARCH, "file", base,
                          strlen(base) < 100 ? strlen(base) : (size_t)100, "size", (json_int_t)c->size, "widths", w);
    char *txt = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    snprintf(in->description, sizeof in->description, "%s", txt ? txt : "{\"kind\": \"builtin\"}");
    free(txt);
    json_decref(d);
    *out = b;
    return VTAG_OK;
}

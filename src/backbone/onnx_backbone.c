/* An ONNX model as an image backbone: one float input [N, 3, S, S]; fc is
 * the tapped value flattened per image ([N, C, 1, 1] → [N, C]); att is the
 * tapped conv map [N, C, H, W] read as [N, H·W, C] (a [N, K, D] value is
 * taken as is). A model exported with a fixed batch runs smaller batches
 * zero-padded to it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/onnx_backbone.h"
#include "vtag/onnx.h"

/* The model (graph, initializers) and the taps: read-only after open. */
typedef struct onnx_impl {
    vtag_onnx_model_t *m;
    const char *input;         /* the image input's name */
    const char *names[2];      /* fc, att value names */
    char *own[2];
    int att_map;               /* att is [N, C, H, W] (transposed on the way out) */
    int64_t fixed_batch;       /* > 0: the model's input has this batch size */
} onnx_impl;

/* A worker's scratch: its session (plans, activation buffers) and the padding of a fixed batch. */
typedef struct onnx_scratch {
    vtag_onnx_session *s;
    float *pad; /* [fixed_batch, 3, S, S] for smaller batches */
    size_t pad_bytes;
} onnx_scratch;

static void onnx_scratch_close(void *scratch)
{
    onnx_scratch *w = scratch;
    if (!w) return;
    vtag_onnx_session_close(&w->s);
    free(w->pad);
    free(w);
}

static int onnx_scratch_open(const vtag_backbone_t *b, void **scratch, vtag_error *err)
{
    const onnx_impl *im = b->impl;
    onnx_scratch *w = calloc(1, sizeof *w);
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "backbone: out of memory");
    int rc = vtag_onnx_session_open(&w->s, im->m, err);
    if (!rc && im->fixed_batch) { /* bounded at open by planning [fixed_batch, 3, S, S] */
        w->pad_bytes = (size_t)(im->fixed_batch * 3 * b->info.size * b->info.size) * sizeof(float);
        if (!(w->pad = malloc(w->pad_bytes))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "backbone: out of memory");
    }
    if (rc) {
        onnx_scratch_close(w);
        return rc;
    }
    *scratch = w;
    return VTAG_OK;
}

static size_t onnx_scratch_bytes(const void *scratch)
{
    const onnx_scratch *w = scratch;
    return sizeof *w + w->pad_bytes + vtag_onnx_session_bytes(w->s);
}

static int onnx_bb_run(const vtag_backbone_t *b, void *scratch, vtag_ctx *ctx, const float *images, int64_t n,
                       float *fc, float *att, vtag_error *err)
{
    const onnx_impl *im = b->impl;
    onnx_scratch *w = scratch;
    const vtag_backbone_info *info = &b->info;
    int64_t s = info->size, per = 3 * s * s, nb = n;
    const float *x = images;
    if (im->fixed_batch && n != im->fixed_batch) {
        memcpy(w->pad, images, (size_t)(n * per) * sizeof(float));
        memset(w->pad + n * per, 0, (size_t)((im->fixed_batch - n) * per) * sizeof(float));
        x = w->pad;
        nb = im->fixed_batch;
    }
    vtag_onnx_tensor in = {VTAG_ONNX_FLOAT, 4, {nb, 3, s, s}, (void *)x};
    vtag_onnx_tensor out[2];
    int rc = vtag_onnx_session_run_view(w->s, ctx, 1, &im->input, &in, att ? 2 : 1, im->names, out, err);
    if (rc) return rc;
    memcpy(fc, out[0].data, (size_t)(n * info->d_fc) * sizeof(float));
    if (!att) return VTAG_OK;
    const float *map = out[1].data;
    int64_t k = info->k_att, d = info->d_att;
    if (!im->att_map) {
        memcpy(att, map, (size_t)(n * k * d) * sizeof(float));
        return VTAG_OK;
    }
    /* [n, d, k] → [n, k, d] */
#pragma omp parallel for num_threads(ctx->threads) collapse(2) if (n * k * d > 65536)
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < d; c++) {
            const float *src = map + (i * d + c) * k;
            float *dst = att + i * k * d + c;
            for (int64_t p = 0; p < k; p++) dst[p * d] = src[p];
        }
    return VTAG_OK;
}

static void onnx_bb_close(vtag_backbone_t *b)
{
    onnx_impl *im = b->impl;
    if (!im) return;
    vtag_onnx_close(&im->m);
    free(im->own[0]);
    free(im->own[1]);
    free(im);
    b->impl = NULL;
}

static const vtag_backbone_ops onnx_bb_ops = {onnx_scratch_open, onnx_bb_run, onnx_scratch_bytes, onnx_scratch_close,
                                              onnx_bb_close};

/* Shapes of the taps for a batch of nb; fills the info's sizes. */
static int taps_check(vtag_backbone_t *b, onnx_impl *im, const char *path, int64_t nb, vtag_error *err)
{
    vtag_ctx ctx;
    int rc = vtag_ctx_init(&ctx, 1, 0, err);
    if (rc) return rc;
    int64_t s = b->info.size;
    vtag_onnx_tensor in = {VTAG_ONNX_FLOAT, 4, {nb, 3, s, s}, NULL}, sh[2];
    rc = vtag_onnx_infer(im->m, &ctx, 1, &im->input, &in, 2, im->names, sh, err);
    vtag_ctx_free(&ctx);
    if (rc) return rc;
    for (int t = 0; t < 2; t++)
        if (sh[t].dtype != VTAG_ONNX_FLOAT || sh[t].ndim < 2 || sh[t].shape[0] != nb)
            return vtag_fail(err, VTAG_ERR_ARG, "%s: %s tap '%s' is not a float tensor with the batch first", path,
                             t ? "att" : "fc", im->names[t]);
    b->info.d_fc = vtag_onnx_tensor_numel(&sh[0]) / nb;
    const vtag_onnx_tensor *a = &sh[1];
    if (a->ndim == 4) {
        im->att_map = 1;
        b->info.d_att = a->shape[1];
        b->info.k_att = a->shape[2] * a->shape[3];
    } else if (a->ndim == 3) {
        b->info.k_att = a->shape[1];
        b->info.d_att = a->shape[2];
    } else if (a->ndim == 2) {
        b->info.k_att = 1;
        b->info.d_att = a->shape[1];
    } else {
        return vtag_fail(err, VTAG_ERR_ARG, "%s: att tap '%s' has rank %d (2, 3 or 4 [N, C, H, W])", path,
                         im->names[1], a->ndim);
    }
    return VTAG_OK;
}

int vtag_onnx_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o, vtag_error *err)
{
    *out = NULL;
    vtag_backbone_t *b = calloc(1, sizeof *b);
    onnx_impl *im = calloc(1, sizeof *im);
    if (!b || !im) {
        free(b), free(im);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    b->ops = &onnx_bb_ops;
    b->impl = im;
    int rc = vtag_onnx_open(&im->m, path, err);
    if (rc) goto fail;
    if (vtag_onnx_input_count(im->m) != 1) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: the model has %d inputs; a backbone takes one image input", path,
                       vtag_onnx_input_count(im->m));
        goto fail;
    }
    vtag_onnx_tensor decl;
    im->input = vtag_onnx_input(im->m, 0, &decl);
    if ((decl.dtype && decl.dtype != VTAG_ONNX_FLOAT) || (decl.ndim >= 0 && decl.ndim != 4) ||
        (decl.ndim == 4 && decl.shape[1] > 0 && decl.shape[1] != 3)) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' is not a float image batch [N, 3, H, W]", path, im->input);
        goto fail;
    }
    vtag_backbone_info *info = &b->info;
    int64_t declared = decl.ndim == 4 && decl.shape[2] > 0 ? decl.shape[2] : 0;
    info->size = o->size ? o->size : declared ? declared : 224;
    /* the model's declared sizes are as untrusted as the rest of the file */
    if (info->size < 1 || info->size > VTAG_BACKBONE_MAX_SIZE) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' of %lld px (1..%d)", path, im->input, (long long)info->size,
                       VTAG_BACKBONE_MAX_SIZE);
        goto fail;
    }
    if (decl.ndim == 4 && decl.shape[0] > VTAG_BACKBONE_MAX_BATCH) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' has a fixed batch of %lld (at most %d)", path, im->input,
                       (long long)decl.shape[0], VTAG_BACKBONE_MAX_BATCH);
        goto fail;
    }
    for (int i = 0; i < 3; i++) {
        info->mean[i] = o->have_norm ? o->mean[i] : (float[]){0.485f, 0.456f, 0.406f}[i];
        info->std[i] = o->have_norm ? o->std[i] : (float[]){0.229f, 0.224f, 0.225f}[i];
    }
    info->max_batch = o->max_batch > 0 ? o->max_batch : 8;
    if (decl.ndim == 4 && decl.shape[0] > 0) {
        im->fixed_batch = decl.shape[0];
        if (info->max_batch > im->fixed_batch) info->max_batch = im->fixed_batch;
    }
    const char *dfc = NULL, *datt = NULL;
    if (!o->fc_node || !o->att_node) {
        if ((rc = vtag_onnx_default_taps(im->m, &dfc, &datt, err))) goto fail;
    }
    /* the option strings belong to the caller */
    im->own[0] = strdup(o->fc_node ? o->fc_node : dfc);
    im->own[1] = strdup(o->att_node ? o->att_node : datt);
    if (!im->own[0] || !im->own[1]) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    im->names[0] = im->own[0];
    im->names[1] = im->own[1];
    if ((rc = taps_check(b, im, path, im->fixed_batch ? im->fixed_batch : info->max_batch, err))) goto fail;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    json_t *d = json_pack("{s:s, s:s%, s:I, s:s, s:s}", "kind", "onnx", "file", base,
                          strlen(base) < 100 ? strlen(base) : (size_t)100, "size", (json_int_t)info->size, "fc",
                          im->names[0], "att", im->names[1]);
    char *txt = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    snprintf(info->description, sizeof info->description, "%s", txt && strlen(txt) < sizeof info->description ? txt
                                                                  : "{\"kind\": \"onnx\"}");
    free(txt);
    json_decref(d);
    *out = b;
    return VTAG_OK;
fail:
    onnx_bb_close(b);
    free(b);
    return rc;
}

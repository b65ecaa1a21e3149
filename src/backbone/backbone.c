/* vtag_backbone_*: one handle over the two kinds of image backbone, chosen
 * by the file's contents — a safetensors header (8-byte length, then '{') is
 * the built-in CNN, anything else is read as an ONNX protobuf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backbone/backbone_internal.h"
#include "backbone/onnx_backbone.h"

void vtag_backbone_options_default(vtag_backbone_options *o)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memset(o, 0, sizeof *o);
    for (int i = 0; i < 3; i++) {
        o->mean[i] = mean[i];
        o->std[i] = std[i];
    }
    o->max_batch = 8;
}

/* 1: safetensors, 0: not, < 0: the file cannot be read. */
static int is_safetensors(const char *path, vtag_error *err)
{
    FILE *f;
    if (vtag_file_open(&f, path, err)) return -1;
    struct stat st;
    unsigned char head[9];
    int ok = fstat(fileno(f), &st) == 0 && fread(head, 1, sizeof head, f) == sizeof head;
    fclose(f);
    if (!ok) return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | head[i];
    return len >= 2 && len <= (uint64_t)st.st_size - 8 && head[8] == '{';
}

int vtag_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o, vtag_error *err)
{
    *out = NULL;
    vtag_backbone_options def;
    if (!o) {
        vtag_backbone_options_default(&def);
        o = &def;
    }
    if (o->size < 0 || o->size > VTAG_BACKBONE_MAX_SIZE)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: input size %lld px (1..%d)", path, (long long)o->size,
                         VTAG_BACKBONE_MAX_SIZE);
    if (o->max_batch > VTAG_BACKBONE_MAX_BATCH)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: batch of %lld frames (at most %d)", path, (long long)o->max_batch,
                         VTAG_BACKBONE_MAX_BATCH);
    int st = is_safetensors(path, err);
    if (st < 0) return err ? err->code : VTAG_ERR_IO;
    if (st) {
        if (o->fc_node || o->att_node)
            return vtag_fail(err, VTAG_ERR_ARG,
                             "%s: --fc-node/--att-node name ONNX values; this is a built-in backbone", path);
        return vtag_builtin_backbone_open(out, path, o, err);
    }
    return vtag_onnx_backbone_open(out, path, o, err);
}

const vtag_backbone_info *vtag_backbone_get_info(const vtag_backbone_t *b) { return &b->info; }

struct vtag_backbone_worker {
    const vtag_backbone_t *b;
    void *scratch;
};

int vtag_backbone_worker_open(vtag_backbone_worker **out, const vtag_backbone_t *b, vtag_error *err)
{
    *out = NULL;
    vtag_backbone_worker *w = calloc(1, sizeof *w);
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "backbone: out of memory");
    w->b = b;
    int rc = b->ops->scratch_open(b, &w->scratch, err);
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return VTAG_OK;
}

int vtag_backbone_worker_run(vtag_backbone_worker *w, vtag_ctx *ctx, const float *images, int64_t n, float *fc,
                             float *att, vtag_error *err)
{
    const vtag_backbone_t *b = w->b;
    if (n < 1 || n > b->info.max_batch)
        return vtag_fail(err, VTAG_ERR_ARG, "backbone: batch of %lld frames (1..%lld)", (long long)n,
                         (long long)b->info.max_batch);
    return b->ops->run(b, w->scratch, ctx, images, n, fc, att, err);
}

size_t vtag_backbone_worker_bytes(const vtag_backbone_worker *w)
{
    return sizeof *w + w->b->ops->scratch_bytes(w->scratch);
}

void vtag_backbone_worker_close(vtag_backbone_worker **w)
{
    if (!w || !*w) return;
    (*w)->b->ops->scratch_close((*w)->scratch);
    free(*w);
    *w = NULL;
}

int vtag_backbone_run(vtag_backbone_t *b, vtag_ctx *ctx, const float *images, int64_t n, float *fc, float *att,
                      vtag_error *err)
{
    if (!b->own) {
        int rc = vtag_backbone_worker_open(&b->own, b, err);
        if (rc) return rc;
    }
    return vtag_backbone_worker_run(b->own, ctx, images, n, fc, att, err);
}

void vtag_backbone_close(vtag_backbone_t **b)
{
    if (!b || !*b) return;
    vtag_backbone_worker_close(&(*b)->own);
    (*b)->ops->close(*b);
    free(*b);
    *b = NULL;
}

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

const vtag_backbone_info *vtag_backbone_get_info(const vtag_backbone_t *b) { return b->ops->info(b); }

int vtag_backbone_run(vtag_backbone_t *b, vtag_ctx *ctx, const float *images, int64_t n, float *fc, float *att,
                      vtag_error *err)
{
    return b->ops->run(b, ctx, images, n, fc, att, err);
}

void vtag_backbone_close(vtag_backbone_t **b)
{
    if (!b || !*b) return;
    (*b)->ops->close(*b);
    free(*b);
    *b = NULL;
}

/* The backbone handle behind include/vtag/backbone.h: one ops table per kind
 * (built-in CNN, ONNX model), chosen by vtag_backbone_open from the file. */
#ifndef VTAG_BACKBONE_INTERNAL_H
#define VTAG_BACKBONE_INTERNAL_H

#include "vtag/backbone.h"

typedef struct vtag_backbone_ops {
    /* images [n, 3, S, S] normalised, 1 <= n <= info.max_batch; fc [n, d_fc], att [n, k_att, d_att] or NULL */
    int (*run)(struct vtag_backbone *b, vtag_ctx *ctx, const float *images, int64_t n, float *fc, float *att,
               vtag_error *err);
    /* frees impl (not b itself) */
    void (*close)(struct vtag_backbone *b);
    const vtag_backbone_info *(*info)(const struct vtag_backbone *b);
} vtag_backbone_ops;

struct vtag_backbone {
    const vtag_backbone_ops *ops;
    vtag_backbone_info info; /* filled by the opener */
    void *impl;
};

/* The built-in CNN (src/backbone/builtin_backbone.c): a .safetensors file
 * with vtag.backbone metadata, BN folded at open. o->size other than 0 or
 * the file's size is an error (the network was trained at that size). */
int vtag_builtin_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o,
                               vtag_error *err);

#endif

/* The backbone handle behind include/vtag/backbone.h: one ops table per kind
 * (built-in CNN, ONNX model), chosen by vtag_backbone_open from the file. */
#ifndef VTAG_BACKBONE_INTERNAL_H
#define VTAG_BACKBONE_INTERNAL_H

#include "vtag/backbone.h"

/* The weights live in impl, read-only once opened; everything a run writes
 * lives in a worker's scratch, so workers over one backbone run in parallel. */
typedef struct vtag_backbone_ops {
    /* a new scratch (activation buffers) for runs of b */
    int (*scratch_open)(const struct vtag_backbone *b, void **scratch, vtag_error *err);
    /* images [n, 3, S, S] normalised, 1 <= n <= info.max_batch; fc [n, d_fc], att [n, k_att, d_att] or NULL */
    int (*run)(const struct vtag_backbone *b, void *scratch, vtag_ctx *ctx, const float *images, int64_t n,
               float *fc, float *att, vtag_error *err);
    size_t (*scratch_bytes)(const void *scratch);
    void (*scratch_close)(void *scratch);
    /* frees impl (not b itself) */
    void (*close)(struct vtag_backbone *b);
} vtag_backbone_ops;

struct vtag_backbone {
    const vtag_backbone_ops *ops;
    vtag_backbone_info info; /* filled by the opener */
    void *impl;
    vtag_backbone_worker *own; /* vtag_backbone_run's, made at its first call */
};

/* The built-in CNN (src/backbone/builtin_backbone.c): a .safetensors file
 * with vtag.backbone metadata, BN folded at open. o->size other than 0 or
 * the file's size is an error (the network was trained at that size). */
int vtag_builtin_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o,
                               vtag_error *err);

#endif

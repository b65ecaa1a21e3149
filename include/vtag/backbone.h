/* Image backbones (SPEC §7): one handle over the two kinds — the built-in CNN
 * that vtag trains itself (a .safetensors file) and an ImageNet CNN imported
 * from ONNX (a .onnx file). Both turn a batch of normalised frames into the
 * two feature tensors the caption models read: fc (a pooled vector) and att
 * (the last conv map as K = H·W positions of D channels). */
#ifndef VTAG_BACKBONE_H
#define VTAG_BACKBONE_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_backbone vtag_backbone_t;

/* Limits no real backbone reaches, checked at open before anything is
 * allocated: the input side S (options, an ONNX model's declared input, a
 * built-in file's config; ImageNet CNNs take 224..600) and the frames per run
 * call (options, an ONNX model's fixed batch; features uses 8). */
#define VTAG_BACKBONE_MAX_SIZE 8192
#define VTAG_BACKBONE_MAX_BATCH 4096

typedef struct vtag_backbone_options {
    int64_t size;      /* input S×S; 0: the model's own (built-in: from its file; ONNX: 224) */
    float mean[3];     /* RGB normalisation; default ImageNet 0.485 0.456 0.406 */
    float std[3];      /* default 0.229 0.224 0.225 */
    int have_norm;     /* 0: use the model's own (built-in) or the ImageNet defaults (ONNX) */
    const char *fc_node;  /* ONNX: output name tapped for fc; NULL: the last GlobalAveragePool's output */
    const char *att_node; /* ONNX: output name tapped for att; NULL: the last GlobalAveragePool's input */
    int64_t max_batch; /* frames per run call; default 8 */
} vtag_backbone_options;

void vtag_backbone_options_default(vtag_backbone_options *o);

typedef struct vtag_backbone_info {
    int64_t size;          /* input S */
    float mean[3], std[3]; /* normalisation the frames must get */
    int64_t d_fc;          /* fc [N, d_fc] */
    int64_t k_att, d_att;  /* att [N, k_att, d_att] */
    int64_t max_batch;
    char description[256]; /* vtag.backbone metadata of the features file */
} vtag_backbone_info;

/* Opens a built-in backbone (.safetensors with vtag.backbone metadata) or an
 * ONNX model (.onnx), chosen by the file's contents. */
int vtag_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o,
                       vtag_error *err);
const vtag_backbone_info *vtag_backbone_get_info(const vtag_backbone_t *b);
/* images [N, 3, S, S] normalised (vtag_video_normalize), N <= max_batch;
 * fc [N, d_fc] and att [N, k_att, d_att] are written (att may be NULL).
 * Runs through the backbone's own worker (below): one thread at a time. */
int vtag_backbone_run(vtag_backbone_t *b, vtag_ctx *ctx, const float *images, int64_t n, float *fc,
                      float *att, vtag_error *err);
/* Frees everything and sets *b to NULL; NULL and *b == NULL are fine. */
void vtag_backbone_close(vtag_backbone_t **b);

/* A worker runs a backbone that other workers run at the same time: the
 * backbone's weights (built-in convs with BatchNorm folded, ONNX
 * initializers) are loaded once and only read; each worker holds the scratch
 * a run writes (activation buffers, the ONNX plans, a fixed batch's padding),
 * allocated at its first run and reused. One worker per thread; close the
 * workers before the backbone. */
typedef struct vtag_backbone_worker vtag_backbone_worker;
int vtag_backbone_worker_open(vtag_backbone_worker **out, const vtag_backbone_t *b, vtag_error *err);
/* As vtag_backbone_run. */
int vtag_backbone_worker_run(vtag_backbone_worker *w, vtag_ctx *ctx, const float *images, int64_t n, float *fc,
                             float *att, vtag_error *err);
/* Bytes of scratch the worker holds now (it grows to its peak at the first run). */
size_t vtag_backbone_worker_bytes(const vtag_backbone_worker *w);
void vtag_backbone_worker_close(vtag_backbone_worker **w);

#ifdef __cplusplus
}
#endif
#endif

/* The ONNX backbone (src/backbone/onnx_backbone.c): an ImageNet CNN in ONNX
 * with fc / att taps (default: the last GlobalAveragePool's output and input). */
#ifndef VTAG_ONNX_BACKBONE_H
#define VTAG_ONNX_BACKBONE_H

#include "backbone/backbone_internal.h"

int vtag_onnx_backbone_open(vtag_backbone_t **out, const char *path, const vtag_backbone_options *o,
                            vtag_error *err);

#endif

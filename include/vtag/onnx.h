/* ONNX import (SPEC §7): load a .onnx model (protobuf ModelProto) and run its
 * graph on the CPU — the ImageNet CNNs torchvision exports (Conv, BatchNorm,
 * pooling, activations, Gemm/MatMul and the shape chains before Reshape).
 * Errors name the file, the node and its op; an unknown op or attribute is
 * always an error, never skipped. */
#ifndef VTAG_ONNX_H
#define VTAG_ONNX_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, numbered as ONNX's TensorProto.DataType. Compute ops work on
 * FLOAT; shape arithmetic on INT64 / INT32; the rest only load and move. */
typedef enum vtag_onnx_dtype {
    VTAG_ONNX_FLOAT = 1,
    VTAG_ONNX_UINT8 = 2,
    VTAG_ONNX_INT8 = 3,
    VTAG_ONNX_INT32 = 6,
    VTAG_ONNX_INT64 = 7,
    VTAG_ONNX_BOOL = 9,
    VTAG_ONNX_DOUBLE = 11,
} vtag_onnx_dtype;

#define VTAG_ONNX_MAX_DIMS 8
/* The most elements of any tensor of a model — initializer, input, or a value
 * shape inference computes — with a dim of 0 counted as 1, so that every
 * partial product of a shape is bounded too (an empty [0, 2^62, 4] is
 * refused). 2^36 (256 GiB of floats) is far past any real network (resnet50's
 * largest activation at batch 256: 2^27.6) and keeps every product of two
 * sizes inside int64. A model past it is refused at load (initializers) or
 * planning (values), naming the initializer or the node. */
#define VTAG_ONNX_MAX_ELEMENTS ((int64_t)1 << 36)

typedef struct vtag_onnx_tensor {
    int dtype; /* vtag_onnx_dtype */
    int ndim;
    int64_t shape[VTAG_ONNX_MAX_DIMS]; /* -1: unknown (declared shapes only) */
    void *data;                        /* row-major */
} vtag_onnx_tensor;

/* Bytes per element (0 for an unknown dtype) and a lower-case name ("float", "int64"). */
size_t vtag_onnx_dtype_size(int dtype);
const char *vtag_onnx_dtype_name(int dtype);
int64_t vtag_onnx_tensor_numel(const vtag_onnx_tensor *t);
/* Reads a serialized TensorProto (the input_*.pb / output_*.pb of ONNX test
 * data); t->data is malloc'd, free it with vtag_onnx_tensor_free. */
int vtag_onnx_tensor_read(vtag_onnx_tensor *t, const char *path, vtag_error *err);
void vtag_onnx_tensor_free(vtag_onnx_tensor *t);

/* A model caches its execution plans and their buffers: use it from one
 * thread at a time, or run it from several through sessions (below). */
typedef struct vtag_onnx_model vtag_onnx_model_t;

/* The supported operators' names, i = 0, 1, …; NULL past the last. */
const char *vtag_onnx_supported_op(int i);

/* Loads and checks the whole model: every node's op and attributes are parsed
 * (unknown → VTAG_ERR_UNSUPPORTED naming it and the node), initializers
 * decoded, the graph sorted. BatchNormalization nodes that follow a Conv
 * whose output nothing else reads are folded into the conv's weights; the
 * conv's own output then no longer exists as a value. */
int vtag_onnx_open(vtag_onnx_model_t **out, const char *path, vtag_error *err);
void vtag_onnx_close(vtag_onnx_model_t **m);

int64_t vtag_onnx_opset(const vtag_onnx_model_t *m);
/* Graph inputs that are not initializers, and graph outputs. */
int vtag_onnx_input_count(const vtag_onnx_model_t *m);
/* Name, declared dtype and shape (dims -1 where symbolic) of input i. */
const char *vtag_onnx_input(const vtag_onnx_model_t *m, int i, vtag_onnx_tensor *declared);
int vtag_onnx_output_count(const vtag_onnx_model_t *m);
const char *vtag_onnx_output_name(const vtag_onnx_model_t *m, int i);
/* Nodes in execution order (folded BatchNormalizations included, marked). */
int vtag_onnx_node_count(const vtag_onnx_model_t *m);
const char *vtag_onnx_node_op(const vtag_onnx_model_t *m, int i);
const char *vtag_onnx_node_name(const vtag_onnx_model_t *m, int i);
int vtag_onnx_node_folded(const vtag_onnx_model_t *m, int i);
/* Every value name a run can return: graph inputs and node outputs. */
int vtag_onnx_value_count(const vtag_onnx_model_t *m);
const char *vtag_onnx_value_name(const vtag_onnx_model_t *m, int i);

/* Shapes of named values for given input shapes (inputs bound by name, data
 * may be NULL): shape inference only, nothing is computed but the constant
 * shape chains. shapes[i] receives dtype, ndim and shape. */
int vtag_onnx_infer(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                    const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                    vtag_onnx_tensor *shapes, vtag_error *err);

/* Runs the graph: inputs bound by name; each requested value (a graph output
 * or any intermediate value) is returned in out[i] with malloc'd data (free
 * with vtag_onnx_tensor_free). Shape inference, constant folding, activation
 * fusion and buffer planning happen once per input shape and output set; a
 * run then allocates nothing but the returned copies. */
int vtag_onnx_run(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                  const vtag_onnx_tensor *in, int n_out, const char *const *out_names, vtag_onnx_tensor *out,
                  vtag_error *err);
/* As vtag_onnx_run, but out[i].data points into the model's own buffers,
 * valid until the next run or close (no copy). */
int vtag_onnx_run_view(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                       const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                       vtag_onnx_tensor *out, vtag_error *err);

/* A session runs a model that other sessions run at the same time: it keeps
 * its own plans and activation buffers, and only reads the model (graph,
 * initializers), which must outlive it and not be run through the calls above
 * meanwhile. One session per thread; it is not timed by the profile. */
typedef struct vtag_onnx_session vtag_onnx_session;
int vtag_onnx_session_open(vtag_onnx_session **out, const vtag_onnx_model_t *m, vtag_error *err);
/* As vtag_onnx_run_view; out[i].data points into the session's buffers. */
int vtag_onnx_session_run_view(vtag_onnx_session *s, vtag_ctx *ctx, int n_in, const char *const *in_names,
                               const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                               vtag_onnx_tensor *out, vtag_error *err);
/* Bytes of the activation buffers and workspaces its runs have allocated. */
size_t vtag_onnx_session_bytes(const vtag_onnx_session *s);
void vtag_onnx_session_close(vtag_onnx_session **s);

/* What the plan for these inputs and outputs does (built if needed). */
typedef struct vtag_onnx_plan_stats {
    int nodes;          /* nodes of the graph */
    int bn_folded;      /* BatchNormalizations folded into a Conv at load */
    int const_folded;   /* nodes computed once at plan time (shape chains, constants) */
    int dead;           /* nodes no requested value needs */
    int steps;          /* nodes run per call */
    int act_fused;      /* activations fused into the Conv / BatchNormalization before them */
    int views;          /* steps that only relabel their input (Reshape, Flatten, ...): no copy */
    int buffers;        /* activation buffers, shared by values whose lifetimes do not overlap */
    size_t buffer_bytes;
    size_t naive_bytes; /* what one buffer per value would take */
} vtag_onnx_plan_stats;

int vtag_onnx_plan_stats_get(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                             const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                             vtag_onnx_plan_stats *st, vtag_error *err);

/* Per-op-type timing of the runs (off by default): seconds summed since
 * profiling was switched on. vtag_onnx_profile returns how many op types it
 * filled (at most max), slowest first. */
void vtag_onnx_profile_enable(vtag_onnx_model_t *m, int on);
int vtag_onnx_profile(const vtag_onnx_model_t *m, const char **ops, double *seconds, int *calls, int max);

/* The default feature taps: fc = the output of the last GlobalAveragePool
 * (flattened to [N, C]); att = its input [N, C, H, W] (read as [N, H·W, C]).
 * VTAG_ERR_NOTFOUND when the graph has no GlobalAveragePool. */
int vtag_onnx_default_taps(const vtag_onnx_model_t *m, const char **fc, const char **att, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

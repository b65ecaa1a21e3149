/* Private pieces of the ONNX importer: the loaded graph (values, nodes), the
 * operator table and the execution plan. One concern per file: load.c (the
 * protobuf and its checks), attr.c (attributes), graph.c (sorting, BN
 * folding), plan.c (shape inference, constant folding, fusion, buffers),
 * model.c (the public API), ops_*.c (operators). */
#ifndef VTAG_ONNX_INTERNAL_H
#define VTAG_ONNX_INTERNAL_H

#include <stdint.h>

#include "onnx.pb-c.h"
#include "vtag/cnn.h"
#include "vtag/onnx.h"

enum { ONNX_VAL_INPUT = 0, ONNX_VAL_CONST = 1, ONNX_VAL_NODE = 2 };

typedef struct onnx_value {
    const char *name;
    int kind;           /* ONNX_VAL_* */
    int producer;       /* node index (ONNX_VAL_NODE), else -1 */
    int folded_into;    /* >= 0: a BatchNormalization folding removed this value */
    vtag_onnx_tensor t; /* CONST: the data; INPUT: declared dtype and shape */
    int owned;          /* t.data was malloc'd by the importer */
    char *own_name;     /* name made by the importer (a folded conv's new bias) */
} onnx_value;

enum { ONNX_AUTOPAD_NOTSET = 0, ONNX_AUTOPAD_VALID, ONNX_AUTOPAD_SAME_UPPER, ONNX_AUTOPAD_SAME_LOWER };
enum { ONNX_PAD_CONSTANT = 0, ONNX_PAD_REFLECT, ONNX_PAD_EDGE };

/* Conv / pooling attributes over 1..3 spatial dims (absent → defaults). */
typedef struct onnx_spatial {
    int nsp; /* 0 until known (from kernel_shape or weight) */
    int64_t kernel[3], stride[3], dil[3];
    int64_t pad_begin[3], pad_end[3];
    int auto_pad;
    int64_t group;
    int ceil_mode, count_include_pad;
    int storage_order;                            /* MaxPool Indices: 1 = column-major planes */
} onnx_spatial;

#define ONNX_MAX_ATTRS 64
#define ONNX_MAX_OUTS 5 /* the most outputs an op of the table declares */

typedef struct onnx_node {
    const Onnx__NodeProto *p;
    const char *name; /* the node's name, or "#<index>" when it has none */
    char anon[24];
    const struct onnx_opdef *op;
    int n_in, n_out;
    int *in, *out; /* value ids; -1 for an absent optional input */
    int folded;    /* a BatchNormalization folded into the Conv before it */
    unsigned char used[ONNX_MAX_ATTRS];
    /* op parameters, filled by the op's parse */
    onnx_spatial sp;
    float alpha, beta, eps;               /* Gemm, HardSigmoid, BatchNormalization */
    float clip_min, clip_max;             /* Clip before opset 11 (attributes) */
    int64_t axis;                         /* Flatten, Concat, Gather */
    int trans_a, trans_b;                 /* Gemm */
    int64_t allowzero;                    /* Reshape */
    int pad_mode;                         /* Pad */
    float pad_value;                      /* Pad before opset 11 */
    int64_t ints[2 * VTAG_ONNX_MAX_DIMS]; /* Pad pads / Unsqueeze axes from attributes */
    int n_ints;                           /* -1: taken from an input (newer opsets) */
    int legacy_bcast;                     /* Add / Mul before opset 7: broadcast = 1 */
    int64_t bcast_axis;                   /* ... B aligned at this axis of A (-1: at the end) */
    int64_t start, end;                   /* Shape */
    int has_end;
    vtag_onnx_tensor value; /* Constant */
    int value_owned;
} onnx_node;

struct onnx_plan;

/* Inference sees in[i] == NULL for an absent optional input and in[i]->data
 * non-NULL only for inputs known at plan time (constants). */
typedef struct onnx_opdef {
    const char *name;
    int min_in, max_in, min_out, max_out;
    unsigned optional_in; /* bit k: input k may be absent (an empty name); no other may */
    int (*parse)(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err);
    int (*infer)(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                 vtag_onnx_tensor *out, vtag_error *err);
    void (*run)(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                vtag_onnx_tensor *out, float *ws);
    /* floats of scratch (NULL: none) */
    int64_t (*workspace)(const onnx_node *nd, const vtag_onnx_tensor *const *in, int threads);
    int inplace;    /* out[0] may share in[0]'s buffer when their sizes match */
    int view;       /* out[0] is in[0] reinterpreted (Reshape, Flatten, ...) */
    int shape_only; /* the output depends on the input's shape only (Shape): folded at plan time */
    int fuses_act;  /* run applies the `act` it is given (Conv, BatchNormalization) */
} onnx_opdef;

const onnx_opdef *onnx_op_find(const char *op_type);

typedef struct onnx_plan onnx_plan;
#define ONNX_MAX_PLANS 4

/* The plans of one runner (the model's own, or a vtag_onnx_session): each
 * plan holds its shapes, folded constants and activation buffers, so a cache
 * is the whole run-time state; the model it runs is only read. */
typedef struct onnx_plans {
    onnx_plan *plans[ONNX_MAX_PLANS];
    int n;
    uint64_t clock;
} onnx_plans;

struct vtag_onnx_model {
    char *path;
    Onnx__ModelProto *proto;
    int64_t opset;
    onnx_value *values;
    int n_values, cap_values;
    onnx_node *nodes; /* in execution (topological) order */
    int n_nodes;
    int *inputs, n_inputs; /* bindable graph inputs (not initializers) */
    int *outputs, n_outputs;
    int profile;                 /* time every step (vtag_onnx_profile_enable) */
    double prof_sec[32];         /* per op of the op table */
    int prof_calls[32];
    onnx_plans cache; /* vtag_onnx_run & co.; sessions keep their own */
};

/* "PATH: node 'NAME' (OP): ..." errors. */
int onnx_node_fail(const vtag_onnx_model_t *m, const onnx_node *nd, vtag_error *err, int code,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* attr.c: attribute readers mark what they read; onnx_attrs_check then
 * reports the first attribute nobody read. */
const Onnx__AttributeProto *onnx_attr_get(onnx_node *nd, const char *name);
int onnx_attr_int(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, int64_t def, int64_t *out,
                  vtag_error *err);
int onnx_attr_float(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, float def, float *out,
                    vtag_error *err);
/* *n = -1 when absent; more than max values is an error. */
int onnx_attr_ints(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, int64_t *out, int max, int *n,
                   vtag_error *err);
/* Copies the string (or def) into out[size]. */
int onnx_attr_string(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, const char *def, char *out,
                     size_t size, vtag_error *err);
int onnx_attrs_check(const vtag_onnx_model_t *m, const onnx_node *nd, vtag_error *err);

/* load.c: a TensorProto → tensor; *owned says whether t->data was malloc'd
 * (raw_data is used in place). `what` names it in errors. */
int onnx_tensor_from_proto(vtag_onnx_tensor *t, int *owned, const Onnx__TensorProto *p, const char *what,
                           vtag_error *err);
int onnx_model_load(vtag_onnx_model_t *m, vtag_error *err);

/* graph.c */
int onnx_graph_sort(vtag_onnx_model_t *m, vtag_error *err);
int onnx_graph_fold_batchnorm(vtag_onnx_model_t *m, vtag_error *err);
int onnx_value_find(const vtag_onnx_model_t *m, const char *name);

/* plan.c */
typedef struct onnx_request {
    int n_in;
    const char *const *in_names;
    const vtag_onnx_tensor *in;
    int n_out;
    const char *const *out_names;
} onnx_request;
/* Finds in c, or builds into it, the plan for these input shapes, outputs
 * and threads; m is only read. */
int onnx_plan_get(const vtag_onnx_model_t *m, onnx_plans *c, const vtag_ctx *ctx, const onnx_request *rq,
                  onnx_plan **out, vtag_error *err);
void onnx_plans_free(onnx_plans *c);
/* Bytes of the activation buffers and workspaces the cached plans hold. */
size_t onnx_plans_bytes(const onnx_plans *c);
/* Shapes (dtype, ndim, shape; data NULL) of the requested outputs. */
void onnx_plan_shapes(const onnx_plan *p, vtag_onnx_tensor *shapes);
/* Runs it (in[] in the request's order); out[i] point into the plan's buffers,
 * which the first run allocates (the only way it can fail). prof_sec and
 * prof_calls (per op of the op table) are added to, or NULL: not timed. */
int onnx_plan_run(const vtag_onnx_model_t *m, onnx_plan *p, const vtag_ctx *ctx, const vtag_onnx_tensor *in,
                  vtag_onnx_tensor *out, double *prof_sec, int *prof_calls, vtag_error *err);
void onnx_plan_stats(const vtag_onnx_model_t *m, const onnx_plan *p, vtag_onnx_plan_stats *st);
/* Index of an op in the op table (for profiles), and the op at an index. */
int onnx_op_index(const onnx_opdef *op);
const onnx_opdef *onnx_op_at(int i);
void onnx_plan_free(onnx_plan *p);

/* Clip's bounds (attributes or scalar inputs); -1 when an input is not known yet. */
int onnx_clip_bounds(const onnx_node *nd, const vtag_onnx_tensor *const *in, float *lo, float *hi);

/* Small tensor helpers (ops.c). */
int64_t onnx_numel(int ndim, const int64_t *shape);
/* 0 when the shape has a rank of 0..VTAG_ONNX_MAX_DIMS, no negative dim and at most
 * VTAG_ONNX_MAX_ELEMENTS elements counting a 0 dim as 1; else -1 with the reason in why[size]. */
int onnx_shape_check(int ndim, const int64_t *shape, char *why, size_t size);
int onnx_is_float(const vtag_onnx_tensor *t);
/* Normalises an axis in [-r, r) (or [-r, r] when r_plus_one); -1 when out of range. */
int64_t onnx_axis(int64_t axis, int r);
/* Multidirectional (numpy) broadcast of two shapes; -1 when incompatible. */
int onnx_broadcast_shape(const vtag_onnx_tensor *a, const vtag_onnx_tensor *b, int *ndim, int64_t *shape);
/* Reads element i of an integer tensor (INT64 or INT32) as int64. */
int64_t onnx_int_at(const vtag_onnx_tensor *t, int64_t i);
/* Reads a scalar (or 1-element) float input. */
float onnx_float_at(const vtag_onnx_tensor *t, int64_t i);

#endif

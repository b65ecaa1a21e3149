/* The operator table: name → parse / infer / run, and small helpers the
 * operators share (axes, broadcasting, reading scalars). */
#include <stdio.h>
#include <string.h>

#include "onnx/onnx_internal.h"

extern const onnx_opdef onnx_op_conv, onnx_op_batchnorm, onnx_op_maxpool, onnx_op_avgpool,
    onnx_op_global_avgpool, onnx_op_relu, onnx_op_clip, onnx_op_sigmoid, onnx_op_hardsigmoid,
    onnx_op_hardswish, onnx_op_add, onnx_op_mul, onnx_op_gemm, onnx_op_matmul, onnx_op_flatten,
    onnx_op_reshape, onnx_op_identity, onnx_op_unsqueeze, onnx_op_concat, onnx_op_constant, onnx_op_shape,
    onnx_op_gather, onnx_op_pad, onnx_op_cast;

static const onnx_opdef *const ops[] = {
    &onnx_op_conv,    &onnx_op_batchnorm, &onnx_op_maxpool,   &onnx_op_avgpool,     &onnx_op_global_avgpool,
    &onnx_op_relu,    &onnx_op_clip,      &onnx_op_sigmoid,   &onnx_op_hardsigmoid, &onnx_op_hardswish,
    &onnx_op_add,     &onnx_op_mul,       &onnx_op_gemm,      &onnx_op_matmul,      &onnx_op_flatten,
    &onnx_op_reshape, &onnx_op_identity,  &onnx_op_unsqueeze, &onnx_op_concat,      &onnx_op_constant,
    &onnx_op_shape,   &onnx_op_gather,    &onnx_op_pad,       &onnx_op_cast,
};
#define N_OPS ((int)(sizeof ops / sizeof ops[0]))

const char *vtag_onnx_supported_op(int i) { return i >= 0 && i < N_OPS ? ops[i]->name : NULL; }


const onnx_opdef *onnx_op_find(const char *op_type)
{
    for (int i = 0; i < N_OPS; i++)
        if (strcmp(ops[i]->name, op_type) == 0) return ops[i];
    return NULL;
}

int onnx_op_index(const onnx_opdef *op)
{
    for (int i = 0; i < N_OPS; i++)
        if (ops[i] == op) return i;
    return -1;
}

const onnx_opdef *onnx_op_at(int i) { return i >= 0 && i < N_OPS ? ops[i] : NULL; }

int64_t onnx_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

int onnx_shape_check(int ndim, const int64_t *shape, char *why, size_t size)
{
    if (ndim < 0 || ndim > VTAG_ONNX_MAX_DIMS) {
        snprintf(why, size, "rank %d (0 to %d)", ndim, VTAG_ONNX_MAX_DIMS);
        return -1;
    }
    int64_t n = 1;
    int o = snprintf(why, size, "shape [");
    for (int d = 0; d < ndim && o >= 0 && (size_t)o < size; d++)
        o += snprintf(why + o, size - (size_t)o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o >= 0 && (size_t)o < size) o += snprintf(why + o, size - (size_t)o, "]");
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) {
            if (o >= 0 && (size_t)o < size) snprintf(why + o, size - (size_t)o, ": negative dim %d", d);
            return -1;
        }
        if (vtag_mul_i64(n, shape[d] ? shape[d] : 1, &n) || n > VTAG_ONNX_MAX_ELEMENTS) {
            if (o >= 0 && (size_t)o < size)
                snprintf(why + o, size - (size_t)o, ": more than %lld elements (a 0 dim counted as 1)",
                         (long long)VTAG_ONNX_MAX_ELEMENTS);
            return -1;
        }
    }
    return 0;
}

int onnx_is_float(const vtag_onnx_tensor *t) { return t->dtype == VTAG_ONNX_FLOAT; }

int64_t onnx_axis(int64_t axis, int r)
{
    if (axis < -r || axis >= r) return -1;
    return axis < 0 ? axis + r : axis;
}

int onnx_broadcast_shape(const vtag_onnx_tensor *a, const vtag_onnx_tensor *b, int *ndim, int64_t *shape)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < r; d++) {
        int da = d - (r - a->ndim), db = d - (r - b->ndim);
        int64_t x = da >= 0 ? a->shape[da] : 1, y = db >= 0 ? b->shape[db] : 1;
        if (x != y && x != 1 && y != 1) return -1;
        shape[d] = x == 1 ? y : x;
    }
    *ndim = r;
    return 0;
}

int64_t onnx_int_at(const vtag_onnx_tensor *t, int64_t i)
{
    return t->dtype == VTAG_ONNX_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

float onnx_float_at(const vtag_onnx_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case VTAG_ONNX_FLOAT: return ((const float *)t->data)[i];
    case VTAG_ONNX_INT64: return (float)((const int64_t *)t->data)[i];
    case VTAG_ONNX_INT32: return (float)((const int32_t *)t->data)[i];
    case VTAG_ONNX_INT8: return ((const int8_t *)t->data)[i];
    case VTAG_ONNX_DOUBLE: return (float)((const double *)t->data)[i];
    case VTAG_ONNX_UINT8: return ((const uint8_t *)t->data)[i];
    }
    return 0.0f;
}

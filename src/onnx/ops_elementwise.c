/* Element-wise operators: Relu, Clip, Sigmoid, HardSigmoid, HardSwish, and
 * Add / Mul with numpy broadcasting (float, and int64 / int32 for the shape
 * arithmetic exporters write). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "vtag/nn.h"

/* ---- unary ------------------------------------------------------------------- */

static int infer_unary_float(const vtag_onnx_model_t *m, const onnx_node *nd,
                             const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, vtag_error *err)
{
    if (!onnx_is_float(in[0]))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "input of type %s (only float is supported)",
                              vtag_onnx_dtype_name(in[0]->dtype));
    out[0] = *in[0];
    out[0].data = NULL;
    return VTAG_OK;
}

static void run_relu(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                     const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)nd, (void)act, (void)ws;
    vtag_relu_forward(out[0].data, in[0]->data, vtag_onnx_tensor_numel(in[0]), ctx->threads);
}

static void run_sigmoid(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                        const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)nd, (void)act, (void)ws;
    vtag_sigmoid_forward(out[0].data, in[0]->data, vtag_onnx_tensor_numel(in[0]), ctx->threads);
}

static void run_hardswish(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                          const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)nd, (void)act, (void)ws;
    vtag_act_forward(out[0].data, in[0]->data, vtag_onnx_tensor_numel(in[0]), VTAG_ACT_HARDSWISH,
                     ctx->threads);
}

static int parse_hardsigmoid(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    int rc = onnx_attr_float(m, nd, "alpha", 0.2f, &nd->alpha, err);
    if (!rc) rc = onnx_attr_float(m, nd, "beta", 0.5f, &nd->beta, err);
    return rc;
}

static void run_hardsigmoid(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                            const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)act, (void)ws;
    vtag_hardsigmoid_forward(out[0].data, in[0]->data, vtag_onnx_tensor_numel(in[0]), nd->alpha, nd->beta,
                             ctx->threads);
}

/* Clip: bounds are attributes before opset 11, optional inputs from 11 on. */
static int parse_clip(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    int rc = onnx_attr_float(m, nd, "min", -FLT_MAX, &nd->clip_min, err);
    if (!rc) rc = onnx_attr_float(m, nd, "max", FLT_MAX, &nd->clip_max, err);
    if (!rc && m->opset < 11 && nd->n_in > 1)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "min/max inputs need opset 11 (model: %lld)",
                              (long long)m->opset);
    return rc;
}

static int infer_clip(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                      vtag_onnx_tensor *out, vtag_error *err)
{
    for (int k = 1; k < nd->n_in; k++)
        if (in[k] && (vtag_onnx_tensor_numel(in[k]) != 1 || in[k]->dtype != in[0]->dtype))
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "%s must be a scalar of the input's type",
                                  k == 1 ? "min" : "max");
    if (in[0]->dtype == VTAG_ONNX_BOOL || !vtag_onnx_dtype_size(in[0]->dtype))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "input of type %s",
                              vtag_onnx_dtype_name(in[0]->dtype));
    out[0] = *in[0];
    out[0].data = NULL;
    return VTAG_OK;
}

/* Bounds of a Clip node: attributes or (opset >= 11) scalar inputs; data NULL → unknown. */
int onnx_clip_bounds(const onnx_node *nd, const vtag_onnx_tensor *const *in, float *lo, float *hi)
{
    *lo = nd->clip_min;
    *hi = nd->clip_max;
    if (nd->n_in > 1 && in[1]) {
        if (!in[1]->data) return -1;
        *lo = onnx_float_at(in[1], 0);
    }
    if (nd->n_in > 2 && in[2]) {
        if (!in[2]->data) return -1;
        *hi = onnx_float_at(in[2], 0);
    }
    return 0;
}

#define CLIP_LOOP(T)                                                                                         \
    do {                                                                                                     \
        const T *x = in[0]->data;                                                                            \
        T *y = out[0].data;                                                                                  \
        for (int64_t i = 0; i < n; i++) y[i] = (double)x[i] < lo ? (T)lo : (double)x[i] > hi ? (T)hi : x[i]; \
    } while (0)

static void run_clip(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                     vtag_onnx_tensor *out, float *ws)
{
    (void)act, (void)ws;
    int64_t n = vtag_onnx_tensor_numel(in[0]);
    if (in[0]->dtype != VTAG_ONNX_FLOAT) { /* integer or double inputs: bounds in the input's type */
        double lo = -1e300, hi = 1e300;
        if (nd->n_in > 1 && in[1]) lo = onnx_float_at(in[1], 0);
        if (nd->n_in > 2 && in[2]) hi = onnx_float_at(in[2], 0);
        switch (in[0]->dtype) {
        case VTAG_ONNX_INT64: CLIP_LOOP(int64_t); break;
        case VTAG_ONNX_INT32: CLIP_LOOP(int32_t); break;
        case VTAG_ONNX_INT8: CLIP_LOOP(int8_t); break;
        case VTAG_ONNX_DOUBLE: CLIP_LOOP(double); break;
        default: CLIP_LOOP(uint8_t); break;
        }
        return;
    }
    float lo, hi;
    onnx_clip_bounds(nd, in, &lo, &hi);
    const float *x = in[0]->data;
    float *y = out[0].data;
#pragma omp parallel for num_threads(ctx->threads) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        y[i] = v > hi ? hi : v;
    }
}

/* ---- binary with broadcasting ------------------------------------------------ */

enum { BIN_ADD, BIN_MUL };

/* Before opset 7, Add and Mul broadcast only with broadcast = 1, B aligned to
 * A at `axis` (default: B's dims are A's last ones). */
static int parse_binary(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    if (m->opset >= 7) return VTAG_OK;
    int64_t bc = 0, axis = -1;
    int rc = onnx_attr_int(m, nd, "broadcast", 0, &bc, err);
    if (!rc) rc = onnx_attr_int(m, nd, "axis", -1, &axis, err);
    const Onnx__AttributeProto *ci = onnx_attr_get(nd, "consumed_inputs"); /* opset 1 bookkeeping, no effect */
    (void)ci;
    nd->legacy_bcast = bc != 0;
    nd->bcast_axis = axis;
    return rc;
}

/* B as the legacy rule places it: [1]*axis + B + [1]*(rank A - axis - rank B). */
static int legacy_b(const onnx_node *nd, const vtag_onnx_tensor *a, const vtag_onnx_tensor *b, vtag_onnx_tensor *out)
{
    *out = *b;
    if (!nd->legacy_bcast) return 0;
    int64_t axis = nd->bcast_axis < 0 ? a->ndim - b->ndim : nd->bcast_axis;
    if (axis < 0 || axis > a->ndim - b->ndim) return -1; /* not axis + b->ndim: a hostile axis would overflow */
    out->ndim = a->ndim;
    for (int d = 0; d < a->ndim; d++)
        out->shape[d] = d >= axis && d < axis + b->ndim ? b->shape[d - axis] : 1;
    return 0;
}

static int infer_binary(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                        vtag_onnx_tensor *out, vtag_error *err)
{
    vtag_onnx_tensor bl;
    if (legacy_b(nd, in[0], in[1], &bl))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "axis %lld does not place B inside A",
                              (long long)nd->bcast_axis);
    const vtag_onnx_tensor *a = in[0], *b = &bl;
    if (a->dtype != b->dtype)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "inputs of types %s and %s",
                              vtag_onnx_dtype_name(a->dtype), vtag_onnx_dtype_name(b->dtype));
    if (a->dtype == VTAG_ONNX_BOOL || !vtag_onnx_dtype_size(a->dtype))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "inputs of type %s", vtag_onnx_dtype_name(a->dtype));
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = a->dtype;
    if (onnx_broadcast_shape(a, b, &out[0].ndim, out[0].shape))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "shapes of '%s' and '%s' do not broadcast",
                              nd->p->input[0], nd->p->input[1]);
    return VTAG_OK;
}

/* Collapses the broadcast to at most 4 dims of (len, stride_a, stride_b):
 * adjacent dims merge when each operand is broadcast in both or in neither. */
typedef struct bcast {
    int nd;
    int64_t len[VTAG_ONNX_MAX_DIMS], sa[VTAG_ONNX_MAX_DIMS], sb[VTAG_ONNX_MAX_DIMS];
} bcast;

static void bcast_make(bcast *bc, const vtag_onnx_tensor *a, const vtag_onnx_tensor *b,
                       const vtag_onnx_tensor *o)
{
    int r = o->ndim;
    int64_t ea[VTAG_ONNX_MAX_DIMS], eb[VTAG_ONNX_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        int da = d - (r - a->ndim), db = d - (r - b->ndim);
        ea[d] = da >= 0 ? a->shape[da] : 1;
        eb[d] = db >= 0 ? b->shape[db] : 1;
    }
    bc->nd = 0;
    for (int d = 0; d < r; d++) {
        if (o->shape[d] == 1) continue;
        int ba = ea[d] == 1, bb = eb[d] == 1;
        if (bc->nd > 0) {
            int k = bc->nd - 1;
            if ((bc->sa[k] == 0) == ba && (bc->sb[k] == 0) == bb) {
                bc->len[k] *= o->shape[d];
                continue;
            }
        }
        bc->len[bc->nd] = o->shape[d];
        bc->sa[bc->nd] = ba ? 0 : 1;
        bc->sb[bc->nd] = bb ? 0 : 1;
        bc->nd++;
    }
    /* strides from the innermost dim outwards: a broadcast dim has stride 0 */
    int64_t pa = 1, pb = 1;
    for (int k = bc->nd - 1; k >= 0; k--) {
        if (bc->sa[k]) {
            bc->sa[k] = pa;
            pa *= bc->len[k];
        }
        if (bc->sb[k]) {
            bc->sb[k] = pb;
            pb *= bc->len[k];
        }
    }
    if (bc->nd == 0) {
        bc->nd = 1;
        bc->len[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
    }
}

#define BINARY_LOOP(T, EXPR)                                                                                 \
    do {                                                                                                     \
        const T *A = a->data, *B = b->data;                                                                  \
        T *Y = o->data;                                                                                      \
        int64_t inner = bc.len[bc.nd - 1], ia = bc.sa[bc.nd - 1], ib = bc.sb[bc.nd - 1];                     \
        int64_t rows = n / (inner ? inner : 1);                                                              \
        _Pragma("omp parallel for num_threads(threads) if (n > 65536)")                                     \
        for (int64_t r = 0; r < rows; r++) {                                                                 \
            int64_t rem = r, oa = 0, ob = 0;                                                                 \
            for (int k = bc.nd - 2; k >= 0; k--) {                                                           \
                int64_t c = rem % bc.len[k];                                                                 \
                rem /= bc.len[k];                                                                            \
                oa += c * bc.sa[k];                                                                          \
                ob += c * bc.sb[k];                                                                          \
            }                                                                                                \
            const T *x = A + oa, *yb = B + ob;                                                               \
            T *y = Y + r * inner;                                                                            \
            if (ia == 1 && ib == 1)                                                                          \
                for (int64_t i = 0; i < inner; i++) {                                                        \
                    T p = x[i], q = yb[i];                                                                   \
                    y[i] = EXPR;                                                                             \
                }                                                                                            \
            else if (ia == 1)                                                                                \
                for (int64_t i = 0; i < inner; i++) {                                                        \
                    T p = x[i], q = yb[0];                                                                   \
                    y[i] = EXPR;                                                                             \
                }                                                                                            \
            else if (ib == 1)                                                                                \
                for (int64_t i = 0; i < inner; i++) {                                                        \
                    T p = x[0], q = yb[i];                                                                   \
                    y[i] = EXPR;                                                                             \
                }                                                                                            \
            else                                                                                             \
                for (int64_t i = 0; i < inner; i++) {                                                        \
                    T p = x[0], q = yb[0];                                                                   \
                    y[i] = EXPR;                                                                             \
                }                                                                                            \
        }                                                                                                    \
    } while (0)

static void run_binary(int op, int threads, const vtag_onnx_tensor *a, const vtag_onnx_tensor *b,
                       vtag_onnx_tensor *o, vtag_act act)
{
    int64_t n = vtag_onnx_tensor_numel(o);
    if (n == 0) return;
    bcast bc;
    bcast_make(&bc, a, b, o);
    int add = op == BIN_ADD;
    switch (o->dtype) {
    case VTAG_ONNX_FLOAT:
        if (add && act == VTAG_ACT_RELU) BINARY_LOOP(float, p + q > 0.0f ? p + q : 0.0f);
        else if (add) BINARY_LOOP(float, p + q);
        else BINARY_LOOP(float, p * q);
        break;
    case VTAG_ONNX_DOUBLE:
        if (add) BINARY_LOOP(double, p + q);
        else BINARY_LOOP(double, p * q);
        break;
    /* integers wrap, as numpy's do */
    case VTAG_ONNX_INT64:
        if (add) BINARY_LOOP(int64_t, (int64_t)((uint64_t)p + (uint64_t)q));
        else BINARY_LOOP(int64_t, (int64_t)((uint64_t)p * (uint64_t)q));
        break;
    case VTAG_ONNX_INT32:
        if (add) BINARY_LOOP(int32_t, (int32_t)((uint32_t)p + (uint32_t)q));
        else BINARY_LOOP(int32_t, (int32_t)((uint32_t)p * (uint32_t)q));
        break;
    case VTAG_ONNX_UINT8:
        if (add) BINARY_LOOP(uint8_t, (uint8_t)(p + q));
        else BINARY_LOOP(uint8_t, (uint8_t)(p * q));
        break;
    case VTAG_ONNX_INT8:
        if (add) BINARY_LOOP(int8_t, (int8_t)(uint8_t)(p + q));
        else BINARY_LOOP(int8_t, (int8_t)(uint8_t)(p * q));
        break;
    }
}

static void run_add(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                    vtag_onnx_tensor *out, float *ws)
{
    (void)ws;
    /* a ReLU after a residual add is fused (plan.c); other activations take a second pass */
    vtag_onnx_tensor b;
    legacy_b(nd, in[0], in[1], &b);
    run_binary(BIN_ADD, ctx->threads, in[0], &b, &out[0], act);
    if (act != VTAG_ACT_NONE && act != VTAG_ACT_RELU)
        vtag_act_forward(out[0].data, out[0].data, vtag_onnx_tensor_numel(&out[0]), act, ctx->threads);
}

static void run_mul(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                    vtag_onnx_tensor *out, float *ws)
{
    (void)nd, (void)act, (void)ws;
    vtag_onnx_tensor b;
    legacy_b(nd, in[0], in[1], &b);
    run_binary(BIN_MUL, ctx->threads, in[0], &b, &out[0], VTAG_ACT_NONE);
}

const onnx_opdef onnx_op_relu = {.name = "Relu", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
                                 .infer = infer_unary_float, .run = run_relu, .inplace = 1};
const onnx_opdef onnx_op_sigmoid = {.name = "Sigmoid", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
                                    .infer = infer_unary_float, .run = run_sigmoid, .inplace = 1};
const onnx_opdef onnx_op_hardswish = {.name = "HardSwish", .min_in = 1, .max_in = 1, .min_out = 1,
                                      .max_out = 1, .infer = infer_unary_float, .run = run_hardswish,
                                      .inplace = 1};
const onnx_opdef onnx_op_hardsigmoid = {.name = "HardSigmoid", .min_in = 1, .max_in = 1, .min_out = 1,
                                        .max_out = 1, .parse = parse_hardsigmoid, .infer = infer_unary_float,
                                        .run = run_hardsigmoid, .inplace = 1};
const onnx_opdef onnx_op_clip = {.name = "Clip", .min_in = 1, .max_in = 3, .min_out = 1, .max_out = 1, .optional_in = 3u << 1,
                                 .parse = parse_clip, .infer = infer_clip, .run = run_clip, .inplace = 1};
const onnx_opdef onnx_op_add = {.name = "Add", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
                                .parse = parse_binary, .infer = infer_binary, .run = run_add, .inplace = 1,
                                .fuses_act = 1};
const onnx_opdef onnx_op_mul = {.name = "Mul", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
                                .parse = parse_binary, .infer = infer_binary, .run = run_mul, .inplace = 1};

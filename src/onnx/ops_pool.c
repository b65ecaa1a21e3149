/* MaxPool, AveragePool and GlobalAveragePool. 1-D and 2-D pooling runs on
 * the CNN module's kernels (1-D: H = 1); 3-D on the naive path of conv_nd.c. */
#include <string.h>

#include "onnx/onnx_internal.h"
#include "onnx/onnx_nd.h"

static int parse_pool(vtag_onnx_model_t *m, onnx_node *nd, int is_max, vtag_error *err)
{
    int rc = onnx_parse_spatial(m, nd, 1, err);
    int64_t ceil_mode = 0, cip = 0, storage = 0;
    if (!rc) rc = onnx_attr_int(m, nd, "ceil_mode", 0, &ceil_mode, err);
    if (!rc && is_max) rc = onnx_attr_int(m, nd, "storage_order", 0, &storage, err);
    if (!rc && !is_max) rc = onnx_attr_int(m, nd, "count_include_pad", 0, &cip, err);
    if (rc) return rc;
    if (storage != 0 && storage != 1)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "unsupported value %lld of attribute 'storage_order'", (long long)storage);
    if (!is_max)
        for (int d = 0; d < nd->sp.nsp; d++)
            if (nd->sp.dil[d] != 1)
                return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "dilations in AveragePool");
    nd->sp.storage_order = (int)storage; /* only read by the Indices output */
    nd->sp.ceil_mode = ceil_mode != 0;
    nd->sp.count_include_pad = cip != 0;
    return VTAG_OK;
}

static int parse_maxpool(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    return parse_pool(m, nd, 1, err);
}
static int parse_avgpool(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    return parse_pool(m, nd, 0, err);
}

/* -1 when auto_pad overflows at spatial dim *bad (infer reports it; run and
 * workspace see only shapes that infer accepted). */
static int pool_resolved(const onnx_node *nd, const vtag_onnx_tensor *x, onnx_spatial *sp, int *bad)
{
    *sp = nd->sp;
    return onnx_spatial_resolve(sp, x->shape + 2, nd->sp.kernel, nd->sp.nsp, bad);
}

static void pool2d_dims(const onnx_spatial *sp, const vtag_onnx_tensor *x, vtag_pool2d_dims *d)
{
    memset(d, 0, sizeof *d);
    int two = sp->nsp == 2;
    d->n = x->shape[0];
    d->c = x->shape[1];
    d->h = two ? x->shape[2] : 1;
    d->w = x->shape[two ? 3 : 2];
    d->kh = two ? sp->kernel[0] : 1;
    d->kw = sp->kernel[two ? 1 : 0];
    d->stride_h = two ? sp->stride[0] : 1;
    d->stride_w = sp->stride[two ? 1 : 0];
    d->dil_h = two ? sp->dil[0] : 1;
    d->dil_w = sp->dil[two ? 1 : 0];
    d->pad_top = two ? sp->pad_begin[0] : 0;
    d->pad_bottom = two ? sp->pad_end[0] : 0;
    d->pad_left = sp->pad_begin[two ? 1 : 0];
    d->pad_right = sp->pad_end[two ? 1 : 0];
    d->ceil_mode = sp->ceil_mode;
    d->count_include_pad = sp->count_include_pad;
}

/* Output size along one dim, PyTorch's ceil rule (the last window must start
 * inside the input or the left padding) — what ONNX's reference follows too.
 * -1 when the kernel does not fit, -2 when a size overflows int64. */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t dil, int64_t pb, int64_t pe, int ceil_mode)
{
    int64_t span, padded;
    if (vtag_mul_i64(dil, k - 1, &span) || vtag_add_i64(span, 1, &span) || vtag_add_i64(in, pb, &padded) ||
        vtag_add_i64(padded, pe, &padded))
        return -2;
    const int64_t full = padded - span;
    if (full < 0) return -1;
    int64_t o = full / s + 1;
    if (ceil_mode && full % s) o++;
    if (ceil_mode && o - 1 > (in + pb - 1) / s) o--; /* (o − 1)·s >= in + pb */
    return o;
}

static void run_maxpool(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                        vtag_onnx_tensor *out, float *ws);

static int infer_pool(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                      vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0];
    int is_max = nd->op->run == run_maxpool;
    if (!onnx_is_float(x) && !(is_max && (x->dtype == VTAG_ONNX_UINT8 || x->dtype == VTAG_ONNX_INT8)))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "input of type %s (float%s)",
                              vtag_onnx_dtype_name(x->dtype), is_max ? ", uint8, int8" : "");
    int nsp = x->ndim - 2;
    if (nsp != nd->sp.nsp)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "input of rank %d for a %d-d kernel", x->ndim,
                              nd->sp.nsp);
    onnx_spatial sp;
    int bad;
    if (pool_resolved(nd, x, &sp, &bad))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                              "auto_pad at spatial dim %d: kernel %lld, stride %lld, dilation %lld overflow int64", bad,
                              (long long)nd->sp.kernel[bad], (long long)nd->sp.stride[bad], (long long)nd->sp.dil[bad]);
    out[0] = *x;
    out[0].data = NULL;
    if (nd->n_out > 1 && (nsp > 2 || !onnx_is_float(x)))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "the Indices output needs a float input with 1 or 2 spatial dims");
    if (nsp <= 2) {
        vtag_pool2d_dims d;
        pool2d_dims(&sp, x, &d);
        vtag_error e2 = {0};
        if (vtag_pool2d_plan(&d, &e2)) return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "%s", e2.msg);
        if (nsp == 2) out[0].shape[2] = d.h_out;
        out[0].shape[nsp == 2 ? 3 : 2] = d.w_out;
        if (nd->n_out > 1) {
            out[1] = out[0];
            out[1].dtype = VTAG_ONNX_INT64;
        }
        return VTAG_OK;
    }
    for (int d = 0; d < nsp; d++) {
        int64_t o = pool_out(x->shape[2 + d], sp.kernel[d], sp.stride[d], sp.dil[d], sp.pad_begin[d],
                             sp.pad_end[d], sp.ceil_mode);
        if (o == -2)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "kernel %lld with dilation %lld and pads (%lld, %lld) overflow int64 at spatial dim %d",
                                  (long long)sp.kernel[d], (long long)sp.dil[d], (long long)sp.pad_begin[d],
                                  (long long)sp.pad_end[d], d);
        if (o < 1)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "kernel larger than the padded input at spatial dim %d", d);
        out[0].shape[2 + d] = o;
    }
    return VTAG_OK;
}

static void run_pool(const vtag_ctx *ctx, const onnx_node *nd, const vtag_onnx_tensor *x, vtag_onnx_tensor *y,
                     int is_max)
{
    onnx_spatial sp;
    int bad;
    pool_resolved(nd, x, &sp, &bad);
    if (x->ndim - 2 <= 2) {
        vtag_pool2d_dims d;
        pool2d_dims(&sp, x, &d);
        vtag_error e = {0};
        vtag_pool2d_plan(&d, &e);
        if (is_max)
            vtag_maxpool2d_forward(ctx, y->data, NULL, x->data, &d);
        else
            vtag_avgpool2d_forward(ctx, y->data, x->data, &d);
        return;
    }
    onnx_pool_nd_forward(y->data, x->data, x->shape, y->shape, x->ndim - 2, &sp, is_max);
}

static void run_maxpool(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                        vtag_onnx_tensor *out, float *ws)
{
    (void)act;
    const vtag_onnx_tensor *x = in[0];
    if (nd->n_out > 1) { /* Indices: flat positions in the whole input, row- or column-major planes */
        onnx_spatial sp;
        int bad;
        pool_resolved(nd, x, &sp, &bad);
        vtag_pool2d_dims d;
        pool2d_dims(&sp, x, &d);
        vtag_error e = {0};
        vtag_pool2d_plan(&d, &e);
        int32_t *arg = (int32_t *)ws;
        vtag_maxpool2d_forward(ctx, out[0].data, arg, x->data, &d);
        int64_t plane_out = d.h_out * d.w_out, n = d.n * d.c * plane_out;
        for (int64_t i = 0; i < n; i++) {
            int64_t a = arg[i], base = i / plane_out * d.h * d.w;
            ((int64_t *)out[1].data)[i] = base + (sp.storage_order ? a % d.w * d.h + a / d.w : a);
        }
        return;
    }
    if (x->dtype == VTAG_ONNX_FLOAT) {
        run_pool(ctx, nd, x, &out[0], 1);
        return;
    }
    /* 8-bit integers are exact in float: pool a float copy (in the workspace) */
    int64_t n_in = vtag_onnx_tensor_numel(x), n_out = vtag_onnx_tensor_numel(&out[0]);
    vtag_onnx_tensor xf = *x, yf = out[0];
    xf.dtype = yf.dtype = VTAG_ONNX_FLOAT;
    xf.data = ws;
    yf.data = ws + n_in;
    int sign = x->dtype == VTAG_ONNX_INT8;
    for (int64_t i = 0; i < n_in; i++) ws[i] = sign ? ((const int8_t *)x->data)[i] : ((const uint8_t *)x->data)[i];
    run_pool(ctx, nd, &xf, &yf, 1);
    for (int64_t i = 0; i < n_out; i++) {
        if (sign) ((int8_t *)out[0].data)[i] = (int8_t)ws[n_in + i];
        else ((uint8_t *)out[0].data)[i] = (uint8_t)ws[n_in + i];
    }
}

static int64_t workspace_maxpool(const onnx_node *nd, const vtag_onnx_tensor *const *in, int threads)
{
    (void)threads;
    if (in[0]->dtype == VTAG_ONNX_FLOAT && nd->n_out == 1) return 0;
    onnx_spatial sp;
    int bad;
    if (pool_resolved(nd, in[0], &sp, &bad)) return 0;
    /* the output's size: infer accepted it, so each factor is >= 1 and the product within limits */
    int64_t out = in[0]->shape[0] * in[0]->shape[1];
    for (int d = 0; d < sp.nsp; d++)
        out *= pool_out(in[0]->shape[2 + d], sp.kernel[d], sp.stride[d], sp.dil[d], sp.pad_begin[d], sp.pad_end[d],
                        sp.ceil_mode);
    return vtag_onnx_tensor_numel(in[0]) + out;
}

static void run_avgpool(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                        const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)act, (void)ws;
    run_pool(ctx, nd, in[0], &out[0], 0);
}

static int infer_global_avgpool(const vtag_onnx_model_t *m, const onnx_node *nd,
                                const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0];
    if (!onnx_is_float(x) || x->ndim < 2)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "input of type %s and rank %d (float, rank >= 2)",
                              vtag_onnx_dtype_name(x->dtype), x->ndim);
    out[0] = *x;
    out[0].data = NULL;
    for (int d = 2; d < x->ndim; d++) out[0].shape[d] = 1;
    return VTAG_OK;
}

static void run_global_avgpool(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                               const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)nd, (void)act, (void)ws;
    const vtag_onnx_tensor *x = in[0];
    vtag_global_avgpool_forward(ctx, out[0].data, x->data, x->shape[0], x->shape[1],
                                onnx_numel(x->ndim - 2, x->shape + 2));
}

const onnx_opdef onnx_op_maxpool = {.name = "MaxPool", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 2,
                                    .parse = parse_maxpool, .infer = infer_pool, .run = run_maxpool,
                                    .workspace = workspace_maxpool};
const onnx_opdef onnx_op_avgpool = {.name = "AveragePool", .min_in = 1, .max_in = 1, .min_out = 1,
                                    .max_out = 1, .parse = parse_avgpool, .infer = infer_pool,
                                    .run = run_avgpool};
const onnx_opdef onnx_op_global_avgpool = {.name = "GlobalAveragePool", .min_in = 1, .max_in = 1,
                                           .min_out = 1, .max_out = 1, .infer = infer_global_avgpool,
                                           .run = run_global_avgpool};

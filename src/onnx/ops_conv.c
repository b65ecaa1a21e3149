/* Conv and BatchNormalization (inference). 1-D and 2-D convs run on the CNN
 * module's kernels (a 1-D conv is a 2-D one with H = 1); 3-D convs, which only
 * the ONNX test data uses, take the naive N-d path of conv_nd.c. */
#include <stdio.h>
#include <string.h>

#include "onnx/onnx_internal.h"
#include "onnx/onnx_nd.h"

/* kernel_shape, strides, pads, dilations, auto_pad (shared with pooling). */
int onnx_parse_spatial(vtag_onnx_model_t *m, onnx_node *nd, int is_pool, vtag_error *err)
{
    onnx_spatial *sp = &nd->sp;
    int64_t v[6];
    int n, rc;
    memset(sp, 0, sizeof *sp);
    for (int d = 0; d < 3; d++) sp->stride[d] = sp->dil[d] = 1;
    if ((rc = onnx_attr_ints(m, nd, "kernel_shape", v, 3, &n, err))) return rc;
    if (n == 0) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "empty kernel_shape");
    if (n < 0 && is_pool)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "missing attribute 'kernel_shape'");
    if (n > 0) {
        sp->nsp = n;
        for (int d = 0; d < n; d++) {
            if (v[d] < 1)
                return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "attribute 'kernel_shape' value %lld < 1",
                                      (long long)v[d]);
            sp->kernel[d] = v[d];
        }
    }
    const char *names[2] = {"strides", "dilations"};
    int64_t *dst[2] = {sp->stride, sp->dil};
    for (int k = 0; k < 2; k++) {
        if ((rc = onnx_attr_ints(m, nd, names[k], v, 3, &n, err))) return rc;
        if (n < 0) continue;
        if (sp->nsp && n != sp->nsp)
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT,
                                  "attribute '%s' has %d values for %d spatial dims", names[k], n, sp->nsp);
        if (!sp->nsp) sp->nsp = n;
        for (int d = 0; d < n; d++) {
            if (v[d] < 1)
                return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "attribute '%s' value %lld < 1", names[k],
                                      (long long)v[d]);
            dst[k][d] = v[d];
        }
    }
    if ((rc = onnx_attr_ints(m, nd, "pads", v, 6, &n, err))) return rc;
    if (n >= 0) {
        if (n % 2 || (sp->nsp && n != 2 * sp->nsp))
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT,
                                  "attribute 'pads' has %d values for %d spatial dims", n, sp->nsp);
        if (!sp->nsp) sp->nsp = n / 2;
        for (int d = 0; d < n / 2; d++) {
            if (v[d] < 0 || v[d + n / 2] < 0)
                return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "negative pads");
            sp->pad_begin[d] = v[d];
            sp->pad_end[d] = v[d + n / 2];
        }
    }
    char ap[32];
    if ((rc = onnx_attr_string(m, nd, "auto_pad", "NOTSET", ap, sizeof ap, err))) return rc;
    if (strcmp(ap, "NOTSET") == 0)
        sp->auto_pad = ONNX_AUTOPAD_NOTSET;
    else if (strcmp(ap, "VALID") == 0)
        sp->auto_pad = ONNX_AUTOPAD_VALID;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        sp->auto_pad = ONNX_AUTOPAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        sp->auto_pad = ONNX_AUTOPAD_SAME_LOWER;
    else
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "unsupported value '%s' of attribute 'auto_pad'", ap);
    if (sp->auto_pad != ONNX_AUTOPAD_NOTSET && onnx_attr_get(nd, "pads") && n > 0) {
        for (int d = 0; d < n / 2; d++)
            if (sp->pad_begin[d] || sp->pad_end[d])
                return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "both pads and auto_pad %s", ap);
    }
    return VTAG_OK;
}

/* The attributes made concrete for an input of spatial sizes in[0..nsp):
 * auto_pad resolved into pads. -1 (with the dim in *bad_dim) when a size
 * overflows int64. */
int onnx_spatial_resolve(onnx_spatial *sp, const int64_t *in_sp, const int64_t *kernel, int nsp, int *bad_dim)
{
    sp->nsp = nsp;
    for (int d = 0; d < nsp; d++) {
        sp->kernel[d] = kernel[d];
        if (sp->auto_pad == ONNX_AUTOPAD_VALID) {
            sp->pad_begin[d] = sp->pad_end[d] = 0;
        } else if (sp->auto_pad != ONNX_AUTOPAD_NOTSET) {
            /* out = ceil(in / stride); total = (out − 1)·stride + span − in, clamped at 0 */
            const int64_t s = sp->stride[d], out = in_sp[d] / s + (in_sp[d] % s != 0);
            int64_t span, reach, total = 0;
            if (kernel[d] < 1 || vtag_mul_i64(kernel[d] - 1, sp->dil[d], &span) || vtag_add_i64(span, 1, &span))
                return *bad_dim = d, -1;
            if (out == 0)
                reach = span - s;
            else if (vtag_mul_i64(out - 1, s, &reach) || vtag_add_i64(reach, span, &reach))
                return *bad_dim = d, -1;
            if (reach > in_sp[d]) total = reach - in_sp[d];
            int64_t small = total / 2, big = total - small;
            sp->pad_begin[d] = sp->auto_pad == ONNX_AUTOPAD_SAME_UPPER ? small : big;
            sp->pad_end[d] = sp->auto_pad == ONNX_AUTOPAD_SAME_UPPER ? big : small;
        }
    }
    return 0;
}

/* ---- Conv --------------------------------------------------------------------------- */

static int parse_conv(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    int rc = onnx_parse_spatial(m, nd, 0, err);
    if (!rc) rc = onnx_attr_int(m, nd, "group", 1, &nd->sp.group, err);
    if (!rc && nd->sp.group < 1)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "group %lld < 1", (long long)nd->sp.group);
    return rc;
}

/* The 2-D problem for 1-D and 2-D convs (1-D: H = 1). */
static void conv2d_dims(const onnx_spatial *sp, const vtag_onnx_tensor *x, const vtag_onnx_tensor *w,
                        vtag_conv2d_dims *d)
{
    memset(d, 0, sizeof *d);
    int two = sp->nsp == 2;
    d->n = x->shape[0];
    d->c_in = x->shape[1];
    d->h = two ? x->shape[2] : 1;
    d->w = x->shape[two ? 3 : 2];
    d->c_out = w->shape[0];
    d->kh = two ? w->shape[2] : 1;
    d->kw = w->shape[two ? 3 : 2];
    d->stride_h = two ? sp->stride[0] : 1;
    d->stride_w = sp->stride[two ? 1 : 0];
    d->dil_h = two ? sp->dil[0] : 1;
    d->dil_w = sp->dil[two ? 1 : 0];
    d->pad_top = two ? sp->pad_begin[0] : 0;
    d->pad_bottom = two ? sp->pad_end[0] : 0;
    d->pad_left = sp->pad_begin[two ? 1 : 0];
    d->pad_right = sp->pad_end[two ? 1 : 0];
    d->groups = sp->group;
}

/* -1 when auto_pad overflows at spatial dim *bad (infer reports it; run and
 * workspace see only shapes that infer accepted). */
static int conv_resolved(const onnx_node *nd, const vtag_onnx_tensor *x, const vtag_onnx_tensor *w,
                         onnx_spatial *sp, int *bad)
{
    *sp = nd->sp;
    return onnx_spatial_resolve(sp, x->shape + 2, w->shape + 2, x->ndim - 2, bad);
}

static int infer_conv(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                      vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0], *w = in[1], *b = nd->n_in > 2 ? in[2] : NULL;
    for (int k = 0; k < nd->n_in; k++)
        if (in[k] && !onnx_is_float(in[k]))
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "input '%s' of type %s (only float)",
                                  nd->p->input[k], vtag_onnx_dtype_name(in[k]->dtype));
    int nsp = x->ndim - 2;
    if (nsp < 1 || nsp > 3)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "input of rank %d (1 to 3 spatial dims supported)", x->ndim);
    if (w->ndim != x->ndim)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "weight '%s' has rank %d, the input %d",
                              nd->p->input[1], w->ndim, x->ndim);
    if (nd->sp.nsp && nd->sp.nsp != nsp)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "attributes for %d spatial dims, input has %d",
                              nd->sp.nsp, nsp);
    for (int d = 0; d < nsp; d++)
        if (w->shape[2 + d] < 1)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "weight '%s' has an empty kernel (dim %d is 0)",
                                  nd->p->input[1], 2 + d);
    for (int d = 0; d < nsp && nd->sp.kernel[0]; d++)
        if (nd->sp.kernel[d] != w->shape[2 + d])
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "kernel_shape[%d] = %lld but weight '%s' has %lld", d,
                                  (long long)nd->sp.kernel[d], nd->p->input[1], (long long)w->shape[2 + d]);
    int64_t g = nd->sp.group, cin;
    if (vtag_mul_i64(w->shape[1], g, &cin) || cin != x->shape[1] || w->shape[0] % g)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                              "weight '%s' [%lld, %lld, ...] does not fit %lld input channels in %lld groups",
                              nd->p->input[1], (long long)w->shape[0], (long long)w->shape[1],
                              (long long)x->shape[1], (long long)g);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "bias '%s' does not have %lld values",
                              nd->p->input[2], (long long)w->shape[0]);
    onnx_spatial sp;
    int bad;
    if (conv_resolved(nd, x, w, &sp, &bad))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                              "auto_pad at spatial dim %d: kernel %lld, stride %lld, dilation %lld overflow int64", bad,
                              (long long)w->shape[2 + bad], (long long)nd->sp.stride[bad], (long long)nd->sp.dil[bad]);
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = VTAG_ONNX_FLOAT;
    out[0].ndim = x->ndim;
    out[0].shape[0] = x->shape[0];
    out[0].shape[1] = w->shape[0];
    if (nsp <= 2) {
        vtag_conv2d_dims d;
        conv2d_dims(&sp, x, w, &d);
        vtag_error e2 = {0};
        if (vtag_conv2d_plan(&d, &e2)) return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "%s", e2.msg);
        if (nsp == 2) out[0].shape[2] = d.h_out;
        out[0].shape[nsp == 2 ? 3 : 2] = d.w_out;
        return VTAG_OK;
    }
    for (int d = 0; d < nsp; d++) {
        int64_t span, full;
        if (vtag_mul_i64(sp.dil[d], sp.kernel[d] - 1, &span) || vtag_add_i64(span, 1, &span) ||
            vtag_add_i64(x->shape[2 + d], sp.pad_begin[d], &full) || vtag_add_i64(full, sp.pad_end[d], &full))
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "kernel %lld with dilation %lld and pads (%lld, %lld) overflow int64 at spatial dim %d",
                                  (long long)sp.kernel[d], (long long)sp.dil[d], (long long)sp.pad_begin[d],
                                  (long long)sp.pad_end[d], d);
        if (full < span)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "kernel span %lld exceeds padded input %lld at spatial dim %d",
                                  (long long)span, (long long)full, d);
        out[0].shape[2 + d] = (full - span) / sp.stride[d] + 1;
    }
    return VTAG_OK;
}

static int64_t workspace_conv(const onnx_node *nd, const vtag_onnx_tensor *const *in, int threads)
{
    if (in[0]->ndim - 2 > 2) return 0;
    onnx_spatial sp;
    int bad;
    if (conv_resolved(nd, in[0], in[1], &sp, &bad)) return 0;
    vtag_conv2d_dims d;
    conv2d_dims(&sp, in[0], in[1], &d);
    vtag_error e = {0};
    if (vtag_conv2d_plan(&d, &e)) return 0;
    return vtag_conv2d_workspace(&d, threads);
}

static void run_conv(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                     const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    const vtag_onnx_tensor *x = in[0], *w = in[1], *b = nd->n_in > 2 ? in[2] : NULL;
    onnx_spatial sp;
    int bad;
    conv_resolved(nd, x, w, &sp, &bad);
    if (x->ndim - 2 <= 2) {
        vtag_conv2d_dims d;
        conv2d_dims(&sp, x, w, &d);
        vtag_error e = {0};
        vtag_conv2d_plan(&d, &e);
        vtag_conv2d_forward(ctx, out[0].data, x->data, w->data, b ? b->data : NULL, &d, act, ws);
        return;
    }
    onnx_conv_nd_forward(out[0].data, x->data, w->data, b ? b->data : NULL, x->shape, w->shape, out[0].shape,
                         x->ndim - 2, &sp);
    if (act) vtag_act_forward(out[0].data, out[0].data, vtag_onnx_tensor_numel(&out[0]), act, ctx->threads);
}

/* ---- BatchNormalization (inference) ------------------------------------------------------ */

static int parse_batchnorm(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    float momentum;
    int64_t training, spatial, is_test;
    int rc = onnx_attr_float(m, nd, "epsilon", 1e-5f, &nd->eps, err);
    if (!rc) rc = onnx_attr_float(m, nd, "momentum", 0.9f, &momentum, err); /* training only */
    if (!rc) rc = onnx_attr_int(m, nd, "training_mode", 0, &training, err);
    if (!rc) rc = onnx_attr_int(m, nd, "spatial", 1, &spatial, err);
    if (!rc) rc = onnx_attr_int(m, nd, "is_test", 1, &is_test, err);
    if (rc) return rc;
    const Onnx__AttributeProto *ci =
        onnx_attr_get(nd, "consumed_inputs"); /* opset 1 bookkeeping, no effect */
    (void)ci;
    if (training)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "unsupported value 1 of attribute 'training_mode' (inference only)");
    if (!spatial)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported value 0 of attribute 'spatial'");
    if (!is_test)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported value 0 of attribute 'is_test'");
    if (nd->n_out > 1)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "%d outputs (training statistics are not supported)", nd->n_out);
    return VTAG_OK;
}

static int infer_batchnorm(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                           vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0];
    if (x->ndim < 2) return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "input of rank %d", x->ndim);
    static const char *const what[] = {"X", "scale", "B", "mean", "var"};
    for (int k = 0; k < 5; k++) {
        if (!in[k] || !onnx_is_float(in[k]))
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "%s is missing or not float", what[k]);
        if (k && (in[k]->ndim != 1 || in[k]->shape[0] != x->shape[1]))
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "%s '%s' does not have %lld values (channels)",
                                  what[k], nd->p->input[k], (long long)x->shape[1]);
    }
    out[0] = *x;
    out[0].data = NULL;
    return VTAG_OK;
}

static void run_batchnorm(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                          const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)ws;
    const vtag_onnx_tensor *x = in[0];
    vtag_batchnorm_dims d = {x->shape[0], x->shape[1], onnx_numel(x->ndim - 2, x->shape + 2), nd->eps, 0.1f};
    vtag_batchnorm_forward_infer(ctx, out[0].data, x->data, in[1]->data, in[2]->data, in[3]->data,
                                 in[4]->data, &d, act);
}

const onnx_opdef onnx_op_conv = {.name = "Conv", .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1, .optional_in = 1u << 2,
                                 .parse = parse_conv, .infer = infer_conv, .run = run_conv,
                                 .workspace = workspace_conv, .fuses_act = 1};
const onnx_opdef onnx_op_batchnorm = {.name = "BatchNormalization", .min_in = 5, .max_in = 5, .min_out = 1,
                                      .max_out = 5, .parse = parse_batchnorm, .infer = infer_batchnorm,
                                      .run = run_batchnorm, .inplace = 1, .fuses_act = 1};

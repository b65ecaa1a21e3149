/* Operators that move data without arithmetic: Flatten, Reshape, Identity,
 * Unsqueeze (views of their input), Concat, Constant, Shape, Gather, Pad —
 * including the Shape → Gather → Unsqueeze → Concat chains torch's exporter
 * writes before a Reshape, which the plan folds into constants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

static size_t bytes_of(const vtag_onnx_tensor *t)
{
    return (size_t)vtag_onnx_tensor_numel(t) * vtag_onnx_dtype_size(t->dtype);
}

static void run_view(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                     const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)nd, (void)act, (void)ws;
    if (out[0].data != in[0]->data) memcpy(out[0].data, in[0]->data, bytes_of(in[0]));
}

static int known_dtype(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *t,
                       vtag_error *err)
{
    if (!vtag_onnx_dtype_size(t->dtype))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "type %s is not supported",
                              vtag_onnx_dtype_name(t->dtype));
    return VTAG_OK;
}

/* ---- Identity, Flatten ------------------------------------------------------------ */

static int infer_identity(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                          vtag_onnx_tensor *out, vtag_error *err)
{
    out[0] = *in[0];
    out[0].data = NULL;
    return known_dtype(m, nd, in[0], err);
}

static int parse_flatten(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    return onnx_attr_int(m, nd, "axis", 1, &nd->axis, err);
}

static int infer_flatten(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                         vtag_onnx_tensor *out, vtag_error *err)
{
    int r = in[0]->ndim;
    int64_t axis = nd->axis < 0 ? nd->axis + r : nd->axis;
    if (axis < 0 || axis > r)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "axis %lld out of range for rank %d",
                              (long long)nd->axis, r);
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = in[0]->dtype;
    out[0].ndim = 2;
    if (vtag_shape_numel(in[0]->shape, (int)axis, &out[0].shape[0]) ||
        vtag_shape_numel(in[0]->shape + axis, r - (int)axis, &out[0].shape[1]))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "the flattened dims overflow int64");
    return known_dtype(m, nd, in[0], err);
}

/* ---- Reshape ------------------------------------------------------------------------ */

static int parse_reshape(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    return onnx_attr_int(m, nd, "allowzero", 0, &nd->allowzero, err);
}

static int infer_reshape(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                         vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0], *s = in[1];
    if (s->dtype != VTAG_ONNX_INT64 || s->ndim != 1)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "shape must be a 1-D int64 tensor");
    if (!s->data)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "shape '%s' is not known before the run (computed from data, not from shapes)",
                              nd->p->input[1]);
    if (s->shape[0] > VTAG_ONNX_MAX_DIMS)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "rank %lld", (long long)s->shape[0]);
    int r = (int)s->shape[0];
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = x->dtype;
    out[0].ndim = r;
    int infer_at = -1;
    int64_t known = 1, total = vtag_onnx_tensor_numel(x);
    for (int d = 0; d < r; d++) {
        int64_t v = onnx_int_at(s, d);
        if (v == 0 && !nd->allowzero) {
            if (d >= x->ndim)
                return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "0 at dim %d copies a dim the input lacks",
                                      d);
            v = x->shape[d];
        }
        if (v == -1) {
            if (infer_at >= 0)
                return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "more than one -1 in the shape");
            infer_at = d;
            continue;
        }
        if (v < 0) return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "negative dim %lld", (long long)v);
        out[0].shape[d] = v;
        /* checked: a product that wraps round to the input's count must not pass */
        if (vtag_mul_i64(known, v, &known))
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "the shape's element count overflows int64 at dim %d", d);
    }
    if (infer_at >= 0) {
        if (known == 0 || total % known)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "cannot infer the -1 dim: %lld elements into blocks of %lld",
                                  (long long)total, (long long)known);
        out[0].shape[infer_at] = total / known;
    } else if (known != total) {
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "%lld elements cannot take a shape of %lld",
                              (long long)total, (long long)known);
    }
    return known_dtype(m, nd, x, err);
}

/* ---- Unsqueeze ------------------------------------------------------------------------ */

static int parse_unsqueeze(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    int rc = onnx_attr_ints(m, nd, "axes", nd->ints, VTAG_ONNX_MAX_DIMS, &nd->n_ints, err);
    if (rc) return rc;
    if (m->opset >= 13 && nd->n_ints >= 0)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT,
                              "opset %lld takes axes as an input, not an attribute", (long long)m->opset);
    if (m->opset < 13 && (nd->n_ints < 0 || nd->n_in != 1))
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "opset %lld needs the axes attribute",
                              (long long)m->opset);
    if (m->opset >= 13 && nd->n_in != 2)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "opset %lld needs the axes input",
                              (long long)m->opset);
    return VTAG_OK;
}

static int infer_unsqueeze(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                           vtag_onnx_tensor *out, vtag_error *err)
{
    int64_t axes[VTAG_ONNX_MAX_DIMS];
    int k = nd->n_ints;
    if (nd->n_in > 1) {
        const vtag_onnx_tensor *a = in[1];
        if (a->dtype != VTAG_ONNX_INT64 || a->ndim > 1)
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "axes must be a 1-D int64 tensor");
        if (!a->data)
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "axes not known before the run");
        const int64_t na = vtag_onnx_tensor_numel(a);
        if (na > VTAG_ONNX_MAX_DIMS) return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "%lld axes", (long long)na);
        k = (int)na;
        for (int i = 0; i < k; i++) axes[i] = onnx_int_at(a, i);
    } else {
        for (int i = 0; i < k; i++) axes[i] = nd->ints[i];
    }
    int r = in[0]->ndim + k;
    if (r > VTAG_ONNX_MAX_DIMS) return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "rank %d", r);
    int is_new[VTAG_ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < k; i++) {
        int64_t a = onnx_axis(axes[i], r);
        if (a < 0 || is_new[a])
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "axis %lld out of range or repeated",
                                  (long long)axes[i]);
        is_new[a] = 1;
    }
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = in[0]->dtype;
    out[0].ndim = r;
    for (int d = 0, j = 0; d < r; d++) out[0].shape[d] = is_new[d] ? 1 : in[0]->shape[j++];
    return known_dtype(m, nd, in[0], err);
}

/* ---- Concat ------------------------------------------------------------------------------ */

static int parse_concat(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    const Onnx__AttributeProto *a = onnx_attr_get(nd, "axis");
    if (!a && m->opset >= 4) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "missing attribute 'axis'");
    nd->axis = a ? a->i : 1;
    return VTAG_OK;
}

static int infer_concat(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                        vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0];
    int r = x->ndim;
    int64_t axis = onnx_axis(nd->axis, r);
    if (axis < 0)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "axis %lld out of range for rank %d",
                              (long long)nd->axis, r);
    out[0] = *x;
    out[0].data = NULL;
    out[0].shape[axis] = 0;
    for (int k = 0; k < nd->n_in; k++) {
        if (!in[k]) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "empty input name");
        if (in[k]->dtype != x->dtype || in[k]->ndim != r)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "input %d differs in type or rank", k);
        for (int d = 0; d < r; d++)
            if (d != axis && in[k]->shape[d] != x->shape[d])
                return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                      "input %d ('%s') has %lld at dim %d, input 0 has %lld", k,
                                      nd->p->input[k], (long long)in[k]->shape[d], d, (long long)x->shape[d]);
        if (vtag_add_i64(out[0].shape[axis], in[k]->shape[axis], &out[0].shape[axis]))
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "the concatenated dim %lld overflows int64",
                                  (long long)axis);
    }
    return known_dtype(m, nd, x, err);
}

static void run_concat(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                       const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)act, (void)ws;
    int r = out[0].ndim;
    int64_t axis = onnx_axis(nd->axis, r);
    size_t es = vtag_onnx_dtype_size(out[0].dtype);
    int64_t outer = onnx_numel((int)axis, out[0].shape);
    int64_t inner = onnx_numel(r - (int)axis - 1, out[0].shape + axis + 1);
    char *y = out[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < nd->n_in; k++) {
            size_t chunk = (size_t)(in[k]->shape[axis] * inner) * es;
            if (chunk) memcpy(y, (const char *)in[k]->data + (size_t)o * chunk, chunk);
            y += chunk;
        }
}

/* ---- Constant -------------------------------------------------------------------------------- */

static int parse_constant(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    const Onnx__AttributeProto *a;
    vtag_onnx_tensor *t = &nd->value;
    memset(t, 0, sizeof *t);
    if ((a = onnx_attr_get(nd, "value"))) {
        if (!a->t) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "attribute 'value' holds no tensor");
        char what[300];
        snprintf(what, sizeof what, "%s: node '%s' (Constant) value", m->path, nd->name);
        return onnx_tensor_from_proto(t, &nd->value_owned, a->t, what, err);
    }
    int is_float = 1;
    size_t n = 0;
    int scalar = 0;
    const float *fv = NULL;
    const int64_t *iv = NULL;
    if ((a = onnx_attr_get(nd, "value_float")))
        fv = &a->f, n = 1, scalar = 1;
    else if ((a = onnx_attr_get(nd, "value_floats")))
        fv = a->floats, n = a->n_floats;
    else if ((a = onnx_attr_get(nd, "value_int")))
        iv = &a->i, n = 1, scalar = 1, is_float = 0;
    else if ((a = onnx_attr_get(nd, "value_ints")))
        iv = a->ints, n = a->n_ints, is_float = 0;
    else if (nd->p->n_attribute)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported attribute '%s'",
                              nd->p->attribute[0]->name);
    else
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "no value attribute");
    t->dtype = is_float ? VTAG_ONNX_FLOAT : VTAG_ONNX_INT64;
    t->ndim = scalar ? 0 : 1;
    t->shape[0] = (int64_t)n;
    size_t bytes = n * vtag_onnx_dtype_size(t->dtype);
    t->data = malloc(bytes ? bytes : 1);
    if (!t->data) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
    if (bytes) memcpy(t->data, is_float ? (const void *)fv : (const void *)iv, bytes);
    nd->value_owned = 1;
    return VTAG_OK;
}

static int infer_constant(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                          vtag_onnx_tensor *out, vtag_error *err)
{
    (void)in;
    out[0] = nd->value;
    out[0].data = NULL;
    return known_dtype(m, nd, &nd->value, err);
}

static void run_constant(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                         const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)act, (void)in, (void)ws;
    size_t b = bytes_of(&nd->value);
    if (b) memcpy(out[0].data, nd->value.data, b);
}

/* ---- Shape ------------------------------------------------------------------------------------- */

static int parse_shape(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    const Onnx__AttributeProto *e = onnx_attr_get(nd, "end");
    nd->has_end = e != NULL;
    nd->end = e ? e->i : 0;
    return onnx_attr_int(m, nd, "start", 0, &nd->start, err);
}

static void shape_range(const onnx_node *nd, int r, int64_t *s, int64_t *e)
{
    int64_t a = nd->start < 0 ? nd->start + r : nd->start,
            b = nd->has_end ? (nd->end < 0 ? nd->end + r : nd->end) : r;
    a = a < 0 ? 0 : a > r ? r : a;
    b = b < 0 ? 0 : b > r ? r : b;
    *s = a;
    *e = b < a ? a : b;
}

static int infer_shape(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                       vtag_onnx_tensor *out, vtag_error *err)
{
    (void)m, (void)err;
    int64_t s, e;
    shape_range(nd, in[0]->ndim, &s, &e);
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = VTAG_ONNX_INT64;
    out[0].ndim = 1;
    out[0].shape[0] = e - s;
    return VTAG_OK;
}

static void run_shape(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                      const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)act, (void)ws;
    int64_t s, e;
    shape_range(nd, in[0]->ndim, &s, &e);
    for (int64_t d = s; d < e; d++) ((int64_t *)out[0].data)[d - s] = in[0]->shape[d];
}

/* ---- Gather ---------------------------------------------------------------------------------------- */

static int parse_gather(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    return onnx_attr_int(m, nd, "axis", 0, &nd->axis, err);
}

static int infer_gather(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                        vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0], *idx = in[1];
    int r = x->ndim;
    int64_t axis = onnx_axis(nd->axis, r);
    if (axis < 0)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "axis %lld out of range for rank %d",
                              (long long)nd->axis, r);
    if (idx->dtype != VTAG_ONNX_INT64 && idx->dtype != VTAG_ONNX_INT32)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "indices of type %s",
                              vtag_onnx_dtype_name(idx->dtype));
    int ro = r - 1 + idx->ndim;
    if (ro > VTAG_ONNX_MAX_DIMS) return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "rank %d", ro);
    if (idx->data) {
        int64_t n = vtag_onnx_tensor_numel(idx), len = x->shape[axis];
        for (int64_t i = 0; i < n; i++) {
            int64_t v = onnx_int_at(idx, i);
            if (v < -len || v >= len)
                return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "index %lld out of range [-%lld, %lld)",
                                      (long long)v, (long long)len, (long long)len);
        }
    }
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = x->dtype;
    out[0].ndim = ro;
    int d = 0;
    for (int i = 0; i < axis; i++) out[0].shape[d++] = x->shape[i];
    for (int i = 0; i < idx->ndim; i++) out[0].shape[d++] = idx->shape[i];
    for (int i = (int)axis + 1; i < r; i++) out[0].shape[d++] = x->shape[i];
    return known_dtype(m, nd, x, err);
}

static void run_gather(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                       const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)act, (void)ws;
    const vtag_onnx_tensor *x = in[0], *idx = in[1];
    int r = x->ndim;
    int64_t axis = onnx_axis(nd->axis, r);
    size_t es = vtag_onnx_dtype_size(x->dtype);
    int64_t outer = onnx_numel((int)axis, x->shape), len = x->shape[axis];
    int64_t inner = onnx_numel(r - (int)axis - 1, x->shape + axis + 1), n = vtag_onnx_tensor_numel(idx);
    size_t chunk = (size_t)inner * es;
    char *y = out[0].data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < n; i++) {
            int64_t v = onnx_int_at(idx, i);
            if (v < 0) v += len;
            if (v < 0 || v >= len)
                memset(y, 0, chunk); /* data-dependent index out of range: zeros */
            else
                memcpy(y, (const char *)x->data + ((size_t)(o * len + v)) * chunk, chunk);
            y += chunk;
        }
}

/* ---- Pad ------------------------------------------------------------------------------------------- */

static int parse_pad(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    char mode[32];
    int rc = onnx_attr_string(m, nd, "mode", "constant", mode, sizeof mode, err);
    if (rc) return rc;
    if (strcmp(mode, "constant") == 0)
        nd->pad_mode = ONNX_PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        nd->pad_mode = ONNX_PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        nd->pad_mode = ONNX_PAD_EDGE;
    else
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported value '%s' of attribute 'mode'",
                              mode);
    if (m->opset < 11) {
        rc = onnx_attr_ints(m, nd, "pads", nd->ints, 2 * VTAG_ONNX_MAX_DIMS, &nd->n_ints, err);
        if (!rc && nd->n_ints < 0)
            rc = onnx_attr_ints(m, nd, "paddings", nd->ints, 2 * VTAG_ONNX_MAX_DIMS, &nd->n_ints, err);
        if (!rc) rc = onnx_attr_float(m, nd, "value", 0.0f, &nd->pad_value, err);
        if (!rc && nd->n_ints < 0)
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "missing attribute 'pads'");
        if (!rc && nd->n_in != 1)
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "opset %lld takes one input",
                                  (long long)m->opset);
        return rc;
    }
    nd->n_ints = -1;
    if (nd->n_in < 2) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "missing the pads input");
    if (nd->n_in > 3)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "the axes input (opset 18) is not supported");
    return VTAG_OK;
}

static int pad_amounts(const onnx_node *nd, const vtag_onnx_tensor *const *in, int64_t *pads)
{
    int r = in[0]->ndim;
    if (nd->n_ints >= 0) {
        for (int i = 0; i < 2 * r; i++) pads[i] = nd->ints[i];
        return nd->n_ints == 2 * r ? 0 : -1;
    }
    if (vtag_onnx_tensor_numel(in[1]) != 2 * r) return -1;
    for (int i = 0; i < 2 * r; i++) pads[i] = onnx_int_at(in[1], i);
    return 0;
}

static int infer_pad(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                     vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *x = in[0];
    int r = x->ndim;
    int rc = known_dtype(m, nd, x, err);
    if (rc) return rc;
    if (nd->n_ints >= 0 && x->dtype != VTAG_ONNX_FLOAT && nd->pad_value != 0.0f)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "a non-zero pad value for a %s input",
                              vtag_onnx_dtype_name(x->dtype));
    if (nd->n_ints < 0) {
        if (in[1]->dtype != VTAG_ONNX_INT64)
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "pads must be int64");
        if (!in[1]->data)
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "pads not known before the run");
        if (nd->n_in > 2 && in[2] && (in[2]->dtype != x->dtype || vtag_onnx_tensor_numel(in[2]) != 1))
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT,
                                  "constant_value must be a scalar of the input's type");
    }
    int64_t pads[2 * VTAG_ONNX_MAX_DIMS];
    if (pad_amounts(nd, in, pads))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "pads must hold 2 x rank = %d values", 2 * r);
    out[0] = *x;
    out[0].data = NULL;
    for (int d = 0; d < r; d++) {
        /* pads may be negative (a crop): bounded first, the sum then cannot overflow */
        if (pads[d] < -VTAG_ONNX_MAX_ELEMENTS || pads[d] > VTAG_ONNX_MAX_ELEMENTS ||
            pads[r + d] < -VTAG_ONNX_MAX_ELEMENTS || pads[r + d] > VTAG_ONNX_MAX_ELEMENTS)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "pads (%lld, %lld) of dim %d past +-%lld",
                                  (long long)pads[d], (long long)pads[r + d], d, (long long)VTAG_ONNX_MAX_ELEMENTS);
        out[0].shape[d] = x->shape[d] + pads[d] + pads[r + d];
        if (out[0].shape[d] < 0)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "pads crop dim %d below zero", d);
        int64_t p = pads[d] > pads[r + d] ? pads[d] : pads[r + d];
        if (nd->pad_mode == ONNX_PAD_REFLECT && p > 0 && p >= x->shape[d])
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                                  "reflect pad %lld of dim %d needs more than %lld values", (long long)p, d,
                                  (long long)x->shape[d]);
        if (nd->pad_mode != ONNX_PAD_CONSTANT && p > 0 && x->shape[d] == 0)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "cannot %s-pad an empty dim",
                                  nd->pad_mode == ONNX_PAD_EDGE ? "edge" : "reflect");
    }
    return VTAG_OK;
}

/* Source index of output position o along a dim of length n with `before` padding; -1: constant. */
static int64_t pad_src(int mode, int64_t o, int64_t before, int64_t n)
{
    int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    if (mode == ONNX_PAD_CONSTANT) return -1;
    if (mode == ONNX_PAD_EDGE) return i < 0 ? 0 : n - 1;
    if (n == 1) return 0;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

static void run_pad(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                    vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)act, (void)ws;
    const vtag_onnx_tensor *x = in[0];
    int r = x->ndim;
    size_t es = vtag_onnx_dtype_size(x->dtype);
    int64_t pads[2 * VTAG_ONNX_MAX_DIMS];
    pad_amounts(nd, in, pads);
    char value[8] = {0}; /* the pad value in the input's type */
    if (nd->n_ints < 0 && nd->n_in > 2 && in[2])
        memcpy(value, in[2]->data, es);
    else if (x->dtype == VTAG_ONNX_FLOAT)
        memcpy(value, &nd->pad_value, sizeof(float));
    const char *src = x->data;
    char *y = out[0].data;
    if (r == 0) {
        memcpy(y, src, es);
        return;
    }
    int64_t inner_out = out[0].shape[r - 1], inner_in = x->shape[r - 1];
    int64_t rows = inner_out ? vtag_onnx_tensor_numel(&out[0]) / inner_out : 0;
    for (int64_t row = 0; row < rows; row++) {
        int64_t rem = row, off = 0, stride = inner_in, ok = 1;
        for (int d = r - 2; d >= 0; d--) {
            int64_t o = rem % out[0].shape[d];
            rem /= out[0].shape[d];
            int64_t s = pad_src(nd->pad_mode, o, pads[d], x->shape[d]);
            if (s < 0)
                ok = 0;
            else
                off += s * stride;
            stride *= x->shape[d];
        }
        char *yr = y + (size_t)(row * inner_out) * es;
        for (int64_t j = 0; j < inner_out; j++) {
            int64_t s = ok ? pad_src(nd->pad_mode, j, pads[r - 1], inner_in) : -1;
            memcpy(yr + (size_t)j * es, s < 0 ? value : src + (size_t)(off + s) * es, es);
        }
    }
}

const onnx_opdef onnx_op_identity = {.name = "Identity", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
                                     .infer = infer_identity, .run = run_view, .view = 1};
const onnx_opdef onnx_op_flatten = {.name = "Flatten", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
                                    .parse = parse_flatten, .infer = infer_flatten, .run = run_view,
                                    .view = 1};
const onnx_opdef onnx_op_reshape = {.name = "Reshape", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
                                    .parse = parse_reshape, .infer = infer_reshape, .run = run_view,
                                    .view = 1};
const onnx_opdef onnx_op_unsqueeze = {.name = "Unsqueeze", .min_in = 1, .max_in = 2, .min_out = 1,
                                      .max_out = 1, .parse = parse_unsqueeze, .infer = infer_unsqueeze,
                                      .run = run_view, .view = 1};
const onnx_opdef onnx_op_concat = {.name = "Concat", .min_in = 1, .max_in = 64, .min_out = 1, .max_out = 1,
                                   .parse = parse_concat, .infer = infer_concat, .run = run_concat};
const onnx_opdef onnx_op_constant = {.name = "Constant", .min_in = 0, .max_in = 0, .min_out = 1, .max_out = 1,
                                     .parse = parse_constant, .infer = infer_constant, .run = run_constant};
const onnx_opdef onnx_op_shape = {.name = "Shape", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
                                  .parse = parse_shape, .infer = infer_shape, .run = run_shape,
                                  .shape_only = 1};
const onnx_opdef onnx_op_gather = {.name = "Gather", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
                                   .parse = parse_gather, .infer = infer_gather, .run = run_gather};
const onnx_opdef onnx_op_pad = {.name = "Pad", .min_in = 1, .max_in = 3, .min_out = 1, .max_out = 1, .optional_in = 1u << 2,
                                .parse = parse_pad, .infer = infer_pad, .run = run_pad};

/* ---- Cast (torch writes it around Clip bounds and shape arithmetic) -------------------------------- */

static int parse_cast(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    const Onnx__AttributeProto *a = onnx_attr_get(nd, "to");
    if (!a) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "missing attribute 'to'");
    if (!vtag_onnx_dtype_size((int)a->i))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported value %s of attribute 'to'",
                              vtag_onnx_dtype_name((int)a->i));
    nd->axis = a->i; /* the target type */
    return VTAG_OK;
}

static int infer_cast(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                      vtag_onnx_tensor *out, vtag_error *err)
{
    out[0] = *in[0];
    out[0].data = NULL;
    out[0].dtype = (int)nd->axis;
    return known_dtype(m, nd, in[0], err);
}

static double cast_get(const vtag_onnx_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case VTAG_ONNX_FLOAT: return ((const float *)t->data)[i];
    case VTAG_ONNX_DOUBLE: return ((const double *)t->data)[i];
    case VTAG_ONNX_INT64: return (double)((const int64_t *)t->data)[i];
    case VTAG_ONNX_INT32: return ((const int32_t *)t->data)[i];
    case VTAG_ONNX_INT8: return ((const int8_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i]; /* uint8, bool */
    }
}

static void run_cast(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act, const vtag_onnx_tensor *const *in,
                     vtag_onnx_tensor *out, float *ws)
{
    (void)ctx, (void)nd, (void)act, (void)ws;
    int64_t n = vtag_onnx_tensor_numel(in[0]);
    if (in[0]->dtype == out[0].dtype) {
        if (out[0].data != in[0]->data && n)
            memcpy(out[0].data, in[0]->data, (size_t)n * vtag_onnx_dtype_size(in[0]->dtype));
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = cast_get(in[0], i);
        switch (out[0].dtype) {
        case VTAG_ONNX_FLOAT: ((float *)out[0].data)[i] = (float)v; break;
        case VTAG_ONNX_DOUBLE: ((double *)out[0].data)[i] = v; break;
        case VTAG_ONNX_INT64: ((int64_t *)out[0].data)[i] = (int64_t)v; break;
        case VTAG_ONNX_INT32: ((int32_t *)out[0].data)[i] = (int32_t)v; break;
        case VTAG_ONNX_INT8: ((int8_t *)out[0].data)[i] = (int8_t)v; break;
        case VTAG_ONNX_BOOL: ((uint8_t *)out[0].data)[i] = v != 0; break;
        default: ((uint8_t *)out[0].data)[i] = (uint8_t)v; break;
        }
    }
}

const onnx_opdef onnx_op_cast = {.name = "Cast", .min_in = 1, .max_in = 1, .min_out = 1, .max_out = 1,
                                 .parse = parse_cast, .infer = infer_cast, .run = run_cast};

/* Node attributes: typed readers that remember what they read, so that an
 * attribute no op reads is reported by name instead of being ignored. */
#include <stdio.h>
#include <string.h>

#include "onnx/onnx_internal.h"

typedef Onnx__AttributeProto__AttributeType atype;

static const char *type_name(atype t)
{
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "float";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "int";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "string";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "tensor";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "floats";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "ints";
    default: return "other";
    }
}

const Onnx__AttributeProto *onnx_attr_get(onnx_node *nd, const char *name)
{
    for (size_t i = 0; i < nd->p->n_attribute; i++) {
        const Onnx__AttributeProto *a = nd->p->attribute[i];
        if (a->name && strcmp(a->name, name) == 0) {
            nd->used[i] = 1;
            return a;
        }
    }
    return NULL;
}

static int want(const vtag_onnx_model_t *m, const onnx_node *nd, const Onnx__AttributeProto *a, atype t,
                vtag_error *err)
{
    if (a->ref_attr_name && a->ref_attr_name[0])
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "attribute '%s' refers to a function attribute", a->name);
    if (a->has_type && a->type != t)
        return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "attribute '%s' is a %s, expected a %s", a->name,
                              type_name(a->type), type_name(t));
    return VTAG_OK;
}

int onnx_attr_int(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, int64_t def, int64_t *out,
                  vtag_error *err)
{
    const Onnx__AttributeProto *a = onnx_attr_get(nd, name);
    *out = def;
    if (!a) return VTAG_OK;
    int rc = want(m, nd, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, err);
    if (rc) return rc;
    *out = a->i;
    return VTAG_OK;
}

int onnx_attr_float(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, float def, float *out,
                    vtag_error *err)
{
    const Onnx__AttributeProto *a = onnx_attr_get(nd, name);
    *out = def;
    if (!a) return VTAG_OK;
    int rc = want(m, nd, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, err);
    if (rc) return rc;
    *out = a->f;
    return VTAG_OK;
}

int onnx_attr_ints(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, int64_t *out, int max, int *n,
                   vtag_error *err)
{
    const Onnx__AttributeProto *a = onnx_attr_get(nd, name);
    *n = -1;
    if (!a) return VTAG_OK;
    int rc = want(m, nd, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, err);
    if (rc) return rc;
    if (a->n_ints > (size_t)max)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED,
                              "attribute '%s' has %zu values (at most %d supported)", name, a->n_ints, max);
    for (size_t i = 0; i < a->n_ints; i++) out[i] = a->ints[i];
    *n = (int)a->n_ints;
    return VTAG_OK;
}

int onnx_attr_string(const vtag_onnx_model_t *m, onnx_node *nd, const char *name, const char *def, char *out,
                     size_t size, vtag_error *err)
{
    const Onnx__AttributeProto *a = onnx_attr_get(nd, name);
    snprintf(out, size, "%s", def);
    if (!a) return VTAG_OK;
    int rc = want(m, nd, a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, err);
    if (rc) return rc;
    size_t len = a->has_s ? a->s.len : 0;
    if (len >= size) len = size - 1;
    if (len) memcpy(out, a->s.data, len);
    out[len] = '\0';
    return VTAG_OK;
}

int onnx_attrs_check(const vtag_onnx_model_t *m, const onnx_node *nd, vtag_error *err)
{
    for (size_t i = 0; i < nd->p->n_attribute; i++)
        if (!nd->used[i])
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported attribute '%s'",
                                  nd->p->attribute[i]->name ? nd->p->attribute[i]->name : "");
    return VTAG_OK;
}

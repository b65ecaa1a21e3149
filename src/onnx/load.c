/* Loading an ONNX file: map and unpack the protobuf (protobuf-c code
 * generated from Debian's onnx.proto), decode initializers, and build the
 * value and node tables with every op and attribute checked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx/onnx_internal.h"

size_t vtag_onnx_dtype_size(int dtype)
{
    switch (dtype) {
    case VTAG_ONNX_FLOAT: return 4;
    case VTAG_ONNX_UINT8: return 1;
    case VTAG_ONNX_INT8: return 1;
    case VTAG_ONNX_INT32: return 4;
    case VTAG_ONNX_INT64: return 8;
    case VTAG_ONNX_BOOL: return 1;
    case VTAG_ONNX_DOUBLE: return 8;
    }
    return 0;
}

const char *vtag_onnx_dtype_name(int dtype)
{
    static const char *const names[] = {"undefined", "float",  "uint8",     "int8",       "uint16",  "int16",
                                        "int32",     "int64",  "string",    "bool",       "float16", "double",
                                        "uint32",    "uint64", "complex64", "complex128", "bfloat16"};
    if (dtype >= 0 && dtype < (int)(sizeof names / sizeof names[0])) return names[dtype];
    return "unknown";
}

int64_t vtag_onnx_tensor_numel(const vtag_onnx_tensor *t) { return onnx_numel(t->ndim, t->shape); }

void vtag_onnx_tensor_free(vtag_onnx_tensor *t)
{
    if (!t) return;
    free(t->data);
    t->data = NULL;
}

int onnx_node_fail(const vtag_onnx_model_t *m, const onnx_node *nd, vtag_error *err, int code,
                   const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return vtag_fail(err, code, "%s: node '%s' (%s): %s", m->path, nd->name, nd->p->op_type, detail);
}

/* The whole file mapped read-only: protobuf-c unpacks straight from the
 * page cache (its unpacked message copies every field, so the mapping is
 * let go right after: unmap_file), where reading it first cost a copy of the
 * file and the page faults of a buffer as large. An empty file maps
 * nothing (*data NULL, *size 0). VTAG_ERR_IO naming the file when it cannot. */
static int map_file(const char *path, const uint8_t **data, size_t *size, vtag_error *err)
{
    *data = NULL;
    *size = 0;
    int fd;
    int rc = vtag_file_open_fd(&fd, path, err);
    if (rc) return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (st.st_size <= 0) {
        close(fd);
        return VTAG_OK;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %lld bytes is too large to map", path, (long long)st.st_size);
    }
    int flags = MAP_PRIVATE;
#ifdef MAP_POPULATE
    flags |= MAP_POPULATE; /* the pages are all read: one call maps them, not a fault each */
#endif
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, flags, fd, 0);
    const int e = errno;
    close(fd);
    if (m == MAP_FAILED) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    *data = m;
    *size = (size_t)st.st_size;
    return VTAG_OK;
}

static void unmap_file(const uint8_t *data, size_t size)
{
    if (data) munmap((void *)data, size);
}

int onnx_tensor_from_proto(vtag_onnx_tensor *t, int *owned, const Onnx__TensorProto *p, const char *what,
                           vtag_error *err)
{
    memset(t, 0, sizeof *t);
    *owned = 0;
    if ((p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        p->n_external_data)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED,
                         "%s: data stored in an external file is not supported (save the model "
                         "with its weights inside the .onnx)",
                         what);
    if (p->segment)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    int dt = p->has_data_type ? p->data_type : 0;
    size_t es = vtag_onnx_dtype_size(dt);
    if (!es)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: element type %s (%d) is not supported", what,
                         vtag_onnx_dtype_name(dt), dt);
    if (p->n_dims > VTAG_ONNX_MAX_DIMS)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: %zu dimensions (at most %d)", what, p->n_dims,
                         VTAG_ONNX_MAX_DIMS);
    t->dtype = dt;
    t->ndim = (int)p->n_dims;
    /* the shape is checked (and its data length below) before anything is allocated */
    char why[200];
    if (onnx_shape_check((int)p->n_dims, p->dims, why, sizeof why))
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s", what, why);
    for (size_t d = 0; d < p->n_dims; d++) t->shape[d] = p->dims[d];
    const int64_t n = onnx_numel(t->ndim, t->shape);
    size_t bytes = (size_t)n * es;
    if (bytes == 0) { /* an empty tensor: a valid pointer all the same */
        if (p->has_raw_data && p->raw_data.len)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: raw_data holds %zu bytes for an empty tensor", what,
                             p->raw_data.len);
        if (!(t->data = malloc(1))) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", what);
        *owned = 1;
        return VTAG_OK;
    }
    if (p->has_raw_data) {
        if (p->raw_data.len != bytes)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: raw_data holds %zu bytes, its shape needs %zu", what,
                             p->raw_data.len, bytes);
        t->data = p->raw_data.data; /* malloc'd by protobuf-c: aligned for any element type */
        return VTAG_OK;
    }
    size_t have = 0;
    if (dt == VTAG_ONNX_FLOAT)
        have = p->n_float_data;
    else if (dt == VTAG_ONNX_INT64)
        have = p->n_int64_data;
    else
        have = p->n_int32_data; /* int32, int8, uint8, bool are stored widened to int32 */
    if (have != (size_t)n)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: holds %zu values, its shape needs %lld", what, have,
                         (long long)n);
    void *buf = malloc(bytes ? bytes : 1);
    if (!buf) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", what);
    if (dt == VTAG_ONNX_FLOAT)
        memcpy(buf, p->float_data, bytes);
    else if (dt == VTAG_ONNX_INT64)
        memcpy(buf, p->int64_data, bytes);
    else if (dt == VTAG_ONNX_INT32)
        memcpy(buf, p->int32_data, bytes);
    else
        for (int64_t i = 0; i < n; i++) ((uint8_t *)buf)[i] = (uint8_t)p->int32_data[i];
    t->data = buf;
    *owned = 1;
    return VTAG_OK;
}

int vtag_onnx_tensor_read(vtag_onnx_tensor *t, const char *path, vtag_error *err)
{
    memset(t, 0, sizeof *t);
    const uint8_t *buf;
    size_t size;
    int rc = map_file(path, &buf, &size, err);
    if (rc) return rc;
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, size, buf);
    unmap_file(buf, size);
    if (!p)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: not a valid TensorProto (protobuf decoding failed)",
                         path);
    char what[300];
    snprintf(what, sizeof what, "%s", path);
    int owned;
    rc = onnx_tensor_from_proto(t, &owned, p, what, err);
    if (!rc && !owned) {
        size_t bytes = (size_t)vtag_onnx_tensor_numel(t) * vtag_onnx_dtype_size(t->dtype);
        void *copy = malloc(bytes ? bytes : 1);
        if (!copy)
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        else if (bytes)
            memcpy(copy, t->data, bytes);
        t->data = copy;
    }
    onnx__tensor_proto__free_unpacked(p, NULL);
    if (rc) memset(t, 0, sizeof *t);
    return rc;
}

static int value_add(vtag_onnx_model_t *m, const char *name, int kind, vtag_error *err)
{
    if (m->n_values == m->cap_values) {
        int cap = m->cap_values ? 2 * m->cap_values : 256;
        onnx_value *v = realloc(m->values, (size_t)cap * sizeof *v);
        if (!v) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
        m->values = v;
        m->cap_values = cap;
    }
    onnx_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->kind = kind;
    v->producer = -1;
    v->folded_into = -1;
    return m->n_values++;
}

/* Declared dtype and shape of a graph input (symbolic dims → -1). */
static void declared_type(vtag_onnx_tensor *t, const Onnx__ValueInfoProto *vi)
{
    memset(t, 0, sizeof *t);
    t->ndim = -1;
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) return;
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type) t->dtype = tt->elem_type;
    if (!tt->shape || tt->shape->n_dim > VTAG_ONNX_MAX_DIMS) return;
    t->ndim = (int)tt->shape->n_dim;
    for (size_t d = 0; d < tt->shape->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
        t->shape[d] =
            dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? dim->dim_value : -1;
    }
}

int onnx_model_load(vtag_onnx_model_t *m, vtag_error *err)
{
    const uint8_t *buf;
    size_t size;
    int rc = map_file(m->path, &buf, &size, err);
    if (rc) return rc;
    if (size == 0) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: empty file, not an ONNX model", m->path);
    m->proto = onnx__model_proto__unpack(NULL, size, buf);
    unmap_file(buf, size);
    if (!m->proto)
        return vtag_fail(err, VTAG_ERR_FORMAT,
                         "%s: not an ONNX model (protobuf decoding failed: damaged or truncated file?)",
                         m->path);
    const Onnx__ModelProto *mp = m->proto;
    if (!mp->graph || !mp->has_ir_version)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: not an ONNX model (no graph or no ir_version)", m->path);
    m->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
            m->opset = o->has_version ? o->version : 1;
    }
    if (m->opset < 0) {
        if (mp->n_opset_import)
            return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: no default-domain (ai.onnx) opset", m->path);
        m->opset = 1;
    }
    const Onnx__GraphProto *g = mp->graph;
    if (g->n_sparse_initializer)
        return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "%s: sparse initializers are not supported", m->path);

    /* initializers */
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *tp = g->initializer[i];
        if (!tp->name || !tp->name[0])
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: initializer %zu has no name", m->path, i);
        if (onnx_value_find(m, tp->name) >= 0)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: initializer '%s' defined twice", m->path, tp->name);
        int v = value_add(m, tp->name, ONNX_VAL_CONST, err);
        if (v < 0) return v;
        char what[400];
        snprintf(what, sizeof what, "%s: initializer '%s'", m->path, tp->name);
        rc = onnx_tensor_from_proto(&m->values[v].t, &m->values[v].owned, tp, what, err);
        if (rc) return rc;
    }
    /* graph inputs (older exporters list the initializers again: those stay constants) */
    m->inputs = calloc(g->n_input + 1, sizeof *m->inputs);
    m->outputs = calloc(g->n_output + 1, sizeof *m->outputs);
    if (!m->inputs || !m->outputs) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = g->input[i]->name;
        if (!name || !name[0])
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: graph input %zu has no name", m->path, i);
        int v = onnx_value_find(m, name);
        if (v >= 0) {
            if (m->values[v].kind == ONNX_VAL_CONST) continue;
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: graph input '%s' listed twice", m->path, name);
        }
        if (g->input[i]->type && g->input[i]->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
            return vtag_fail(
                err, VTAG_ERR_UNSUPPORTED,
                "%s: graph input '%s' is not a tensor (sequence/map/optional types are not supported)",
                m->path, name);
        v = value_add(m, name, ONNX_VAL_INPUT, err);
        if (v < 0) return v;
        declared_type(&m->values[v].t, g->input[i]);
        m->inputs[m->n_inputs++] = v;
    }
    /* nodes */
    m->nodes = calloc(g->n_node + 1, sizeof *m->nodes);
    if (!m->nodes) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
    m->n_nodes = (int)g->n_node;
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *nd = &m->nodes[i];
        nd->p = g->node[i];
        snprintf(nd->anon, sizeof nd->anon, "#%d", i);
        nd->name = nd->p->name && nd->p->name[0] ? nd->p->name : nd->anon;
        if (!nd->p->op_type)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: node '%s' has no op_type", m->path, nd->name);
        if (nd->p->domain && nd->p->domain[0] && strcmp(nd->p->domain, "ai.onnx") != 0)
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "operator domain '%s' is not supported",
                                  nd->p->domain);
        nd->op = onnx_op_find(nd->p->op_type);
        if (!nd->op)
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "unsupported operator '%s'",
                                  nd->p->op_type);
        if ((int)nd->p->n_input < nd->op->min_in || (int)nd->p->n_input > nd->op->max_in)
            return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "%zu inputs (expects %d to %d)",
                                  nd->p->n_input, nd->op->min_in, nd->op->max_in);
        /* An empty name is ONNX's "absent optional input": only the inputs
         * the operator lets go (optional_in) may be absent; any other would
         * reach it as NULL (Concat's, Unsqueeze's axes, Pad's pads). */
        for (int k = 0; k < (int)nd->p->n_input; k++)
            if ((!nd->p->input[k] || !nd->p->input[k][0]) && !(k < 32 && (nd->op->optional_in >> k & 1u)))
                return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "input %d is required but has no name", k);
        if ((int)nd->p->n_output < nd->op->min_out || (int)nd->p->n_output > nd->op->max_out)
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "%zu outputs (supported: %d to %d)",
                                  nd->p->n_output, nd->op->min_out, nd->op->max_out);
        if (nd->p->n_attribute > ONNX_MAX_ATTRS)
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "%zu attributes", nd->p->n_attribute);
        nd->n_in = (int)nd->p->n_input;
        nd->n_out = (int)nd->p->n_output;
        nd->in = calloc((size_t)nd->n_in + 1, sizeof *nd->in);
        nd->out = calloc((size_t)nd->n_out + 1, sizeof *nd->out);
        if (!nd->in || !nd->out) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
        for (int k = 0; k < nd->n_out; k++) {
            const char *name = nd->p->output[k];
            if (!name || !name[0]) {
                if (k == 0) return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "output 0 has no name");
                return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "optional output %d is not supported",
                                      k);
            }
            if (onnx_value_find(m, name) >= 0)
                return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT, "output '%s' is defined twice", name);
            int v = value_add(m, name, ONNX_VAL_NODE, err);
            if (v < 0) return v;
            m->values[v].producer = i;
            nd->out[k] = v;
        }
    }
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_in; k++) {
            const char *name = nd->p->input[k];
            if (!name || !name[0]) {
                nd->in[k] = -1;
                continue;
            }
            int v = onnx_value_find(m, name);
            if (v < 0)
                return onnx_node_fail(m, nd, err, VTAG_ERR_FORMAT,
                                      "input '%s' is not a graph input, an initializer or a node's output",
                                      name);
            nd->in[k] = v;
        }
    }
    for (size_t i = 0; i < g->n_output; i++) {
        const char *name = g->output[i]->name;
        int v = name ? onnx_value_find(m, name) : -1;
        if (v < 0)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: graph output '%s' is produced by no node", m->path,
                             name ? name : "");
        m->outputs[m->n_outputs++] = v;
    }
    rc = onnx_graph_sort(m, err);
    if (rc) return rc;
    /* op attributes, in execution order so that Constant values exist before their readers */
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *nd = &m->nodes[i];
        if (nd->op->parse && (rc = nd->op->parse(m, nd, err))) return rc;
        if ((rc = onnx_attrs_check(m, nd, err))) return rc;
    }
    return onnx_graph_fold_batchnorm(m, err);
}

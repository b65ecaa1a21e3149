/* Hostile ONNX models: attributes, shapes and initializers whose sizes
 * overflow int64 or go negative (dilations, pads, strides and group of 2^62,
 * a Reshape whose element count wraps to the input's, an empty initializer
 * with 2^62-long dims, a huge initializer with no data, a Pad, a Concat and
 * a MaxPool past int64, a backbone input with a 2^40 fixed batch). Each must
 * give one error line naming the file and the node (or initializer) at open
 * or at planning, never a UBSan report, a negative size or an allocation.
 * The models are built here from nothing with the generated protobuf-c code
 * and left in ./hostile/ for tests/onnx/hostile_cli.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "onnx.pb-c.h"
#include "vtag/backbone.h"
#include "vtag/onnx.h"

#define BIG ((int64_t)1 << 62)

static char *dupstr(const char *s) { return strcpy(malloc(strlen(s) + 1), s); }

static void *grow(void *arr, size_t n, size_t size) { return realloc(arr, (n + 1) * size); }

static Onnx__ModelProto *model_new(int64_t opset)
{
    Onnx__ModelProto *m = calloc(1, sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    Onnx__OperatorSetIdProto *o = calloc(1, sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = dupstr("");
    o->has_version = 1;
    o->version = opset;
    m->opset_import = calloc(1, sizeof *m->opset_import);
    m->opset_import[0] = o;
    m->n_opset_import = 1;
    m->graph = calloc(1, sizeof *m->graph);
    onnx__graph_proto__init(m->graph);
    m->graph->name = dupstr("hostile");
    return m;
}

/* A graph input of float type; dims < 0 are symbolic ("N"). */
static void add_input(Onnx__GraphProto *g, const char *name, int ndim, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = calloc(1, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = dupstr(name);
    vi->type = calloc(1, sizeof *vi->type);
    onnx__type_proto__init(vi->type);
    vi->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    Onnx__TypeProto__Tensor *tt = calloc(1, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = VTAG_ONNX_FLOAT;
    tt->shape = calloc(1, sizeof *tt->shape);
    onnx__tensor_shape_proto__init(tt->shape);
    tt->shape->dim = calloc((size_t)ndim, sizeof *tt->shape->dim);
    tt->shape->n_dim = (size_t)ndim;
    for (int d = 0; d < ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dim = calloc(1, sizeof *dim);
        onnx__tensor_shape_proto__dimension__init(dim);
        if (dims[d] < 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = dupstr("N");
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = dims[d];
        }
        tt->shape->dim[d] = dim;
    }
    vi->type->tensor_type = tt;
    g->input = grow(g->input, g->n_input, sizeof *g->input);
    g->input[g->n_input++] = vi;
}

static void add_output(Onnx__GraphProto *g, const char *name)
{
    Onnx__ValueInfoProto *vi = calloc(1, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = dupstr(name);
    g->output = grow(g->output, g->n_output, sizeof *g->output);
    g->output[g->n_output++] = vi;
}

/* An initializer: float (values from `f`, n of them, as raw data; NULL: no
 * data at all) or int64 (`i`). */
static void add_init(Onnx__GraphProto *g, const char *name, int ndim, const int64_t *dims, const float *f,
                     const int64_t *i, size_t n)
{
    Onnx__TensorProto *t = calloc(1, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = dupstr(name);
    t->n_dims = (size_t)ndim;
    t->dims = calloc((size_t)ndim + 1, sizeof *t->dims);
    memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->has_data_type = 1;
    t->data_type = i ? VTAG_ONNX_INT64 : VTAG_ONNX_FLOAT;
    if (i) {
        t->int64_data = calloc(n + 1, sizeof *t->int64_data);
        memcpy(t->int64_data, i, n * sizeof *i);
        t->n_int64_data = n;
    } else if (f) {
        t->has_raw_data = 1;
        t->raw_data.len = n * sizeof(float);
        t->raw_data.data = malloc(n * sizeof(float) + 1);
        memcpy(t->raw_data.data, f, n * sizeof(float));
    }
    g->initializer = grow(g->initializer, g->n_initializer, sizeof *g->initializer);
    g->initializer[g->n_initializer++] = t;
}

static Onnx__NodeProto *add_node(Onnx__GraphProto *g, const char *op, const char *name, const char *in0,
                                 const char *in1, const char *in2, const char *out)
{
    Onnx__NodeProto *nd = calloc(1, sizeof *nd);
    onnx__node_proto__init(nd);
    nd->op_type = dupstr(op);
    nd->name = dupstr(name);
    const char *ins[3] = {in0, in1, in2};
    nd->input = calloc(3, sizeof *nd->input);
    for (int k = 0; k < 3 && ins[k]; k++) nd->input[nd->n_input++] = dupstr(ins[k]);
    nd->output = calloc(1, sizeof *nd->output);
    nd->output[nd->n_output++] = dupstr(out);
    g->node = grow(g->node, g->n_node, sizeof *g->node);
    g->node[g->n_node++] = nd;
    return nd;
}

static Onnx__AttributeProto *attr_new(Onnx__NodeProto *nd, const char *name, Onnx__AttributeProto__AttributeType t)
{
    Onnx__AttributeProto *a = calloc(1, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = dupstr(name);
    a->has_type = 1;
    a->type = t;
    nd->attribute = grow(nd->attribute, nd->n_attribute, sizeof *nd->attribute);
    nd->attribute[nd->n_attribute++] = a;
    return a;
}

static void attr_ints(Onnx__NodeProto *nd, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = attr_new(nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = calloc((size_t)n, sizeof *a->ints);
    memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n_ints = (size_t)n;
}

static void attr_int(Onnx__NodeProto *nd, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr_new(nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void attr_string(Onnx__NodeProto *nd, const char *name, const char *s)
{
    Onnx__AttributeProto *a = attr_new(nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)dupstr(s);
}

/* Writes hostile/<name>.onnx and frees the model; returns the path. */
static const char *save(Onnx__ModelProto *m, const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "hostile/%s.onnx", name);
    size_t len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(len);
    onnx__model_proto__pack(m, buf);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) fprintf(stderr, "cannot write %s\n", path);
    if (f) fclose(f);
    free(buf);
    onnx__model_proto__free_unpacked(m, NULL);
    return path;
}

/* input [N, 3, 8, 8] → Conv 'hostile_conv' (W [4, 3, 3, 3]) → GlobalAveragePool 'gap' → pool_out:
 * the backbone's default taps (fc: the pool, att: the conv map). */
static Onnx__ModelProto *conv_model(Onnx__NodeProto **conv)
{
    static float w[4 * 3 * 3 * 3];
    for (int i = 0; i < 4 * 27; i++) w[i] = (float)((i * 7) % 11 - 5) / 10.0f;
    Onnx__ModelProto *m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    add_init(m->graph, "W", 4, (const int64_t[]){4, 3, 3, 3}, w, NULL, 4 * 27);
    *conv = add_node(m->graph, "Conv", "hostile_conv", "input", "W", NULL, "conv_out");
    add_node(m->graph, "GlobalAveragePool", "gap", "conv_out", NULL, NULL, "pool_out");
    add_output(m->graph, "pool_out");
    return m;
}

/* Opens and plans path for an input [1, 3, 8, 8] (or `in_shape`); returns the status, err holds the message. */
static int open_and_plan(const char *path, const char *out_name, const int64_t *in_shape, vtag_error *err)
{
    vtag_onnx_model_t *m = NULL;
    int rc = vtag_onnx_open(&m, path, err);
    if (rc) return rc;
    vtag_ctx ctx;
    if ((rc = vtag_ctx_init(&ctx, 1, 0, err))) {
        vtag_onnx_close(&m);
        return rc;
    }
    vtag_onnx_tensor in = {VTAG_ONNX_FLOAT, 4, {1, 3, 8, 8}, NULL}, shape;
    if (in_shape) memcpy(in.shape, in_shape, 4 * sizeof *in_shape);
    const char *in_name = "input";
    rc = vtag_onnx_infer(m, &ctx, 1, &in_name, &in, 1, &out_name, &shape, err);
    if (!rc)
        for (int d = 0; d < shape.ndim; d++)
            CHECK(shape.shape[d] >= 0, "%s: planned shape has dim %d = %lld", path, d, (long long)shape.shape[d]);
    vtag_ctx_free(&ctx);
    vtag_onnx_close(&m);
    return rc;
}

/* A clear error: not OK, one line, naming the file, and the needles (the node's name and op). */
static void expect_error(const char *path, const char *out_name, const char *n1, const char *n2)
{
    vtag_error err = {0};
    int rc = open_and_plan(path, out_name, NULL, &err);
    printf("%s -> [%s] %s\n", path, vtag_status_name(rc), err.msg);
    CHECK(rc != VTAG_OK, "%s: accepted (should be refused)", path);
    CHECK(strstr(err.msg, path) != NULL, "message names the file: %s", err.msg);
    CHECK(!strchr(err.msg, '\n'), "one line: %s", err.msg);
    CHECK(!n1 || strstr(err.msg, n1), "message mentions '%s': %s", n1, err.msg);
    CHECK(!n2 || strstr(err.msg, n2), "message mentions '%s': %s", n2, err.msg);
}

/* A legal but extreme model (a stride past the input: one output position): planned to a sane
 * shape, or refused with one line naming the node. */
static void expect_sane(const char *path, const char *out_name, const char *node)
{
    vtag_error err = {0};
    int rc = open_and_plan(path, out_name, NULL, &err);
    printf("%s -> [%s] %s\n", path, vtag_status_name(rc), err.msg);
    CHECK(rc == VTAG_OK || (strstr(err.msg, node) && !strchr(err.msg, '\n')), "%s: %s", path, err.msg);
}

int main(void)
{
    mkdir("hostile", 0777);
    Onnx__NodeProto *c;
    Onnx__ModelProto *m;
    const char *path;

    /* names that would drive a terminal: onnx-info prints them escaped (hostile_cli.sh) */
    {
        static float w[4 * 3 * 3 * 3];
        m = model_new(13);
        add_input(m->graph, "in\x1b[2Jput", 4, (const int64_t[]){-1, 3, 8, 8});
        add_init(m->graph, "W", 4, (const int64_t[]){4, 3, 3, 3}, w, NULL, 4 * 27);
        add_node(m->graph, "Conv", "conv", "in\x1b[2Jput", "W", NULL, "conv\x1b[31mout");
        add_node(m->graph, "GlobalAveragePool", "gap", "conv\x1b[31mout", NULL, NULL, "pool\nout");
        add_output(m->graph, "pool\nout");
        path = save(m, "escape_names");
        vtag_error err = {0};
        CHECK(open_and_plan(path, "pool\nout", (const int64_t[]){1, 3, 8, 8}, &err) == VTAG_OK ||
                  strstr(err.msg, "input") != NULL,
              "escape_names: %s", err.msg);
    }

    /* the well-formed model first: it must plan, or every check below is vacuous */
    m = conv_model(&c);
    attr_ints(c, "pads", 4, (const int64_t[]){1, 1, 1, 1});
    path = save(m, "good_conv");
    {
        vtag_error err = {0};
        int rc = open_and_plan(path, "conv_out", NULL, &err);
        CHECK(rc == VTAG_OK, "good model: %s", err.msg);
    }

    /* Conv: dilations, pads, group and strides of 2^62 */
    m = conv_model(&c);
    attr_ints(c, "dilations", 2, (const int64_t[]){BIG, 1});
    expect_error(save(m, "conv_dilation"), "pool_out", "node 'hostile_conv' (Conv)", "dilation");
    m = conv_model(&c);
    attr_ints(c, "pads", 4, (const int64_t[]){BIG, 0, BIG, 0});
    expect_error(save(m, "conv_pads"), "pool_out", "node 'hostile_conv' (Conv)", NULL);
    m = conv_model(&c);
    attr_ints(c, "pads", 4, (const int64_t[]){1, BIG, 1, 1});
    expect_error(save(m, "conv_pads_left"), "pool_out", "node 'hostile_conv' (Conv)", NULL);
    m = conv_model(&c);
    attr_int(c, "group", BIG);
    expect_error(save(m, "conv_group"), "pool_out", "node 'hostile_conv' (Conv)", "group");
    m = conv_model(&c);
    attr_int(c, "group", 3 * (BIG / 3 + 1)); /* 3·g wraps past int64 */
    expect_error(save(m, "conv_group_wrap"), "pool_out", "node 'hostile_conv' (Conv)", "group");
    m = conv_model(&c);
    attr_ints(c, "strides", 2, (const int64_t[]){INT64_MAX, INT64_MAX}); /* in + stride − 1 overflowed */
    attr_string(c, "auto_pad", "SAME_UPPER");
    expect_sane(save(m, "conv_same_stride"), "conv_out", "node 'hostile_conv' (Conv)");
    m = conv_model(&c);
    attr_ints(c, "dilations", 2, (const int64_t[]){BIG, BIG});
    attr_string(c, "auto_pad", "SAME_LOWER");
    expect_error(save(m, "conv_same_dilation"), "pool_out", "node 'hostile_conv' (Conv)", NULL);
    /* a stride past the input is legal (one output position) and must plan to a sane shape */
    m = conv_model(&c);
    attr_ints(c, "strides", 2, (const int64_t[]){BIG, 1});
    expect_sane(save(m, "conv_stride"), "conv_out", "node 'hostile_conv' (Conv)");

    /* 3-D Conv (the naive N-d path): dilation 2^62 */
    {
        static float w3[2 * 3 * 8];
        m = model_new(13);
        add_input(m->graph, "input", 5, (const int64_t[]){1, 3, 4, 4, 4});
        add_init(m->graph, "W", 5, (const int64_t[]){2, 3, 2, 2, 2}, w3, NULL, 48);
        c = add_node(m->graph, "Conv", "conv3d", "input", "W", NULL, "y");
        attr_ints(c, "dilations", 3, (const int64_t[]){1, BIG, 1});
        add_output(m->graph, "y");
        path = save(m, "conv3d_dilation");
        vtag_onnx_model_t *mm = NULL;
        vtag_error err = {0};
        int rc = vtag_onnx_open(&mm, path, &err);
        vtag_ctx ctx;
        if (!rc) rc = vtag_ctx_init(&ctx, 1, 0, &err);
        if (!rc) {
            vtag_onnx_tensor in = {VTAG_ONNX_FLOAT, 5, {1, 3, 4, 4, 4}, NULL}, sh;
            const char *iname = "input", *oname = "y";
            rc = vtag_onnx_infer(mm, &ctx, 1, &iname, &in, 1, &oname, &sh, &err);
            vtag_ctx_free(&ctx);
        }
        vtag_onnx_close(&mm);
        printf("%s -> [%s] %s\n", path, vtag_status_name(rc), err.msg);
        CHECK(rc != VTAG_OK && strstr(err.msg, "node 'conv3d' (Conv)"), "3-d conv dilation: %s", err.msg);
    }

    /* MaxPool with a dilation of 2^62 and with pads past int64 */
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    c = add_node(m->graph, "MaxPool", "hostile_pool", "input", NULL, NULL, "y");
    attr_ints(c, "kernel_shape", 2, (const int64_t[]){3, 3});
    attr_ints(c, "dilations", 2, (const int64_t[]){BIG, 1});
    add_output(m->graph, "y");
    expect_error(save(m, "maxpool_dilation"), "y", "node 'hostile_pool' (MaxPool)", NULL);
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    c = add_node(m->graph, "MaxPool", "hostile_pool", "input", NULL, NULL, "y");
    attr_ints(c, "kernel_shape", 2, (const int64_t[]){3, 3});
    attr_ints(c, "strides", 2, (const int64_t[]){INT64_MAX, INT64_MAX}); /* + stride − 1 overflowed */
    attr_int(c, "ceil_mode", 1);
    add_output(m->graph, "y");
    expect_sane(save(m, "maxpool_ceil_stride"), "y", "node 'hostile_pool' (MaxPool)");

    /* Reshape of 48 elements to [4611686018427387916, 4]: 4·(2^62 + 12) wraps to 48 */
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){1, 3, 4, 4});
    add_init(m->graph, "shape", 1, (const int64_t[]){2}, NULL, (const int64_t[]){BIG + 12, 4}, 2);
    add_node(m->graph, "Reshape", "hostile_reshape", "input", "shape", NULL, "y");
    add_output(m->graph, "y");
    {
        vtag_error err = {0};
        path = save(m, "reshape_wrap");
        int rc = open_and_plan(path, "y", (const int64_t[]){1, 3, 4, 4}, &err);
        printf("%s -> [%s] %s\n", path, vtag_status_name(rc), err.msg);
        CHECK(rc != VTAG_OK, "the wrapped Reshape is accepted");
        CHECK(strstr(err.msg, "node 'hostile_reshape' (Reshape)") && !strchr(err.msg, '\n'), "reshape: %s", err.msg);
    }
    /* ... and with a -1: [-1, 2^62, 4] (the known part wraps to 0) */
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){1, 3, 4, 4});
    add_init(m->graph, "shape", 1, (const int64_t[]){3}, NULL, (const int64_t[]){-1, BIG, 4}, 3);
    add_node(m->graph, "Reshape", "hostile_reshape", "input", "shape", NULL, "y");
    add_output(m->graph, "y");
    {
        vtag_error err = {0};
        path = save(m, "reshape_infer_wrap");
        int rc = open_and_plan(path, "y", (const int64_t[]){1, 3, 4, 4}, &err);
        printf("%s -> [%s] %s\n", path, vtag_status_name(rc), err.msg);
        CHECK(rc != VTAG_OK && strstr(err.msg, "node 'hostile_reshape' (Reshape)"), "reshape -1: %s", err.msg);
    }

    /* Pad by 2^62 on both sides of a dim */
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    add_init(m->graph, "pads", 1, (const int64_t[]){8}, NULL, (const int64_t[]){0, 0, BIG, 0, 0, 0, BIG, 0}, 8);
    add_node(m->graph, "Pad", "hostile_pad", "input", "pads", NULL, "y");
    add_output(m->graph, "y");
    expect_error(save(m, "pad_huge"), "y", "node 'hostile_pad' (Pad)", NULL);

    /* initializers: [0, 2^62, 4] (empty, so no data, but its dims multiply past int64) fed to a
     * Flatten and a Concat; [2^40, 2^20] floats declared without data */
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    add_init(m->graph, "E", 3, (const int64_t[]){0, BIG, 4}, NULL, NULL, 0);
    add_node(m->graph, "Flatten", "hostile_flatten", "E", NULL, NULL, "y");
    add_output(m->graph, "y");
    expect_error(save(m, "init_empty_huge"), "y", "initializer 'E'", NULL);
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    add_init(m->graph, "H", 2, (const int64_t[]){(int64_t)1 << 40, (int64_t)1 << 20}, NULL, NULL, 0);
    add_node(m->graph, "Flatten", "f", "H", NULL, NULL, "y");
    add_output(m->graph, "y");
    expect_error(save(m, "init_no_data"), "y", "initializer 'H'", NULL);
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){-1, 3, 8, 8});
    add_init(m->graph, "S", 1, (const int64_t[]){2}, NULL, (const int64_t[]){BIG, BIG}, 2);
    add_init(m->graph, "Z", 1, (const int64_t[]){0}, NULL, (const int64_t[]){0}, 0);
    add_node(m->graph, "Reshape", "r", "Z", "S", NULL, "e"); /* allowzero 0: a 0 dim would copy; these are 2^62 */
    c = add_node(m->graph, "Concat", "hostile_concat", "e", "e", NULL, "y");
    attr_int(c, "axis", 0);
    add_output(m->graph, "y");
    expect_error(save(m, "concat_huge"), "y", "node '", NULL);

    /* an ONNX backbone whose input declares a fixed batch of 2^40 at 2^40 px */
    m = model_new(13);
    add_input(m->graph, "input", 4, (const int64_t[]){(int64_t)1 << 40, 3, (int64_t)1 << 40, (int64_t)1 << 40});
    add_node(m->graph, "GlobalAveragePool", "gap", "input", NULL, NULL, "pool_out");
    add_output(m->graph, "pool_out");
    path = save(m, "backbone_fixed_batch");
    {
        vtag_backbone_t *b = NULL;
        vtag_error err = {0};
        vtag_backbone_options o;
        vtag_backbone_options_default(&o);
        int rc = vtag_backbone_open(&b, path, &o, &err);
        printf("%s -> [%s] %s\n", path, vtag_status_name(rc), err.msg);
        CHECK(rc != VTAG_OK && strstr(err.msg, path) && !strchr(err.msg, '\n'), "backbone fixed batch: %s", err.msg);
        vtag_backbone_close(&b);
    }
    return check_summary("onnx hostile models");
}

/* Broken ONNX files must give one clear line naming the file (and the node
 * or tensor), never a crash: truncated, random bytes, empty, missing; an
 * unknown op, attribute or attribute value; a weight of the wrong shape;
 * raw data of the wrong size; external data; an undefined input. The broken
 * models are made here from tiny.onnx (reference/export_backbones.py --tiny)
 * with the generated protobuf-c code. usage: onnx_bad_models DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "onnx.pb-c.h"
#include "vtag/backbone.h"
#include "vtag/onnx.h"

static char dir[512];

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) fprintf(stderr, "cannot write %s\n", path);
    if (f) fclose(f);
}

/* Opens path (as a model, then as a backbone) and checks the error: code,
 * one line, and every needle in the message. */
static void expect_error(const char *path, int code, const char *n1, const char *n2)
{
    vtag_onnx_model_t *m = NULL;
    vtag_backbone_t *b = NULL;
    vtag_error err = {0};
    int rc = vtag_onnx_open(&m, path, &err);
    if (rc == 0) { /* shape errors surface when the graph is planned: the backbone does that at open */
        vtag_onnx_close(&m);
        vtag_backbone_options o;
        vtag_backbone_options_default(&o);
        rc = vtag_backbone_open(&b, path, &o, &err);
        vtag_backbone_close(&b);
    }
    printf("%s -> [%s] %s\n", strrchr(path, '/') + 1, vtag_status_name(rc), err.msg);
    CHECK(rc == code, "%s: status %s, expected %s (%s)", path, vtag_status_name(rc), vtag_status_name(code), err.msg);
    CHECK(strstr(err.msg, path) != NULL, "message names the file: %s", err.msg);
    CHECK(!strchr(err.msg, '\n'), "one line: %s", err.msg);
    CHECK(!n1 || strstr(err.msg, n1), "message mentions '%s': %s", n1, err.msg);
    CHECK(!n2 || strstr(err.msg, n2), "message mentions '%s': %s", n2, err.msg);
    CHECK(m == NULL && b == NULL, "no handle on failure");
}

typedef void (*mutation)(Onnx__ModelProto *mp);

static Onnx__NodeProto *node_of(Onnx__ModelProto *mp, const char *op, int nth)
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        if (strcmp(mp->graph->node[i]->op_type, op) == 0 && nth-- == 0) return mp->graph->node[i];
    return NULL;
}

static Onnx__TensorProto *init_of(Onnx__ModelProto *mp, const char *name)
{
    for (size_t i = 0; i < mp->graph->n_initializer; i++)
        if (strcmp(mp->graph->initializer[i]->name, name) == 0) return mp->graph->initializer[i];
    return NULL;
}

/* Writes tiny.onnx changed by f into DIR/<name>.onnx; returns the path. */
static const char *mutated(const char *name, mutation f)
{
    static char out[1024];
    char src[700];
    snprintf(src, sizeof src, "%s/tiny.onnx", dir);
    size_t n;
    uint8_t *b = slurp(src, &n);
    Onnx__ModelProto *mp = b ? onnx__model_proto__unpack(NULL, n, b) : NULL;
    free(b);
    if (!mp) {
        fprintf(stderr, "cannot read %s\n", src);
        exit(1);
    }
    f(mp);
    size_t len = onnx__model_proto__get_packed_size(mp);
    uint8_t *buf = malloc(len);
    onnx__model_proto__pack(mp, buf);
    snprintf(out, sizeof out, "%s/%s.onnx", dir, name);
    spit(out, buf, len);
    free(buf);
    /* restore what the mutations pointed at static storage before freeing */
    onnx__model_proto__free_unpacked(mp, NULL);
    return out;
}

static char fancy[] = "FancyConv", foo[] = "foo", weird[] = "WEIRD", nowhere[] = "nowhere", ext_key[] = "location",
            ext_val[] = "weights.bin";

/* The mutations allocate with malloc, so that free_unpacked can free them. */
static char *dupstr(const char *s) { return strcpy(malloc(strlen(s) + 1), s); }

static void op_unknown(Onnx__ModelProto *mp)
{
    Onnx__NodeProto *c = node_of(mp, "Conv", 1);
    free(c->op_type);
    c->op_type = dupstr(fancy);
}

static void attr_unknown(Onnx__ModelProto *mp)
{
    Onnx__NodeProto *c = node_of(mp, "Conv", 0);
    Onnx__AttributeProto *a = malloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = dupstr(foo);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = 3;
    c->attribute = realloc(c->attribute, (c->n_attribute + 1) * sizeof *c->attribute);
    c->attribute[c->n_attribute++] = a;
}

static void attr_bad_value(Onnx__ModelProto *mp)
{
    Onnx__NodeProto *c = node_of(mp, "MaxPool", 0);
    Onnx__AttributeProto *a = malloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = dupstr("auto_pad");
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    a->has_s = 1;
    a->s.len = strlen(weird);
    a->s.data = (uint8_t *)dupstr(weird);
    c->attribute = realloc(c->attribute, (c->n_attribute + 1) * sizeof *c->attribute);
    c->attribute[c->n_attribute++] = a;
}

/* The second conv's weight [16, 8, 3, 3] relabelled [32, 4, 3, 3]: same bytes, wrong shape. */
static void weight_shape(Onnx__ModelProto *mp)
{
    Onnx__TensorProto *w = init_of(mp, node_of(mp, "Conv", 1)->input[1]);
    w->dims[0] = 32;
    w->dims[1] = 4;
}

static void raw_size(Onnx__ModelProto *mp)
{
    Onnx__TensorProto *w = init_of(mp, node_of(mp, "Conv", 1)->input[1]);
    w->raw_data.len -= 4;
}

static void external(Onnx__ModelProto *mp)
{
    Onnx__TensorProto *w = init_of(mp, node_of(mp, "Conv", 1)->input[1]);
    w->has_data_location = 1;
    w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    Onnx__StringStringEntryProto *e = malloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = dupstr(ext_key);
    e->value = dupstr(ext_val);
    w->external_data = malloc(sizeof *w->external_data);
    w->external_data[0] = e;
    w->n_external_data = 1;
}

static void dangling(Onnx__ModelProto *mp)
{
    Onnx__NodeProto *c = node_of(mp, "Conv", 1);
    free(c->input[0]);
    c->input[0] = dupstr(nowhere);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    char src[700], path[800];
    snprintf(src, sizeof src, "%s/tiny.onnx", dir);
    size_t n;
    uint8_t *good = slurp(src, &n);
    CHECK(good != NULL, "read %s", src);
    if (!good) return check_summary("onnx bad models");

    /* damaged files */
    snprintf(path, sizeof path, "%s/bad_truncated.onnx", dir);
    spit(path, good, n / 2);
    expect_error(path, VTAG_ERR_FORMAT, "protobuf", NULL);
    snprintf(path, sizeof path, "%s/bad_truncated_head.onnx", dir);
    spit(path, good, 40);
    expect_error(path, VTAG_ERR_FORMAT, NULL, NULL);
    uint8_t noise[4096];
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof noise; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        noise[i] = (uint8_t)s;
    }
    snprintf(path, sizeof path, "%s/bad_random.onnx", dir);
    spit(path, noise, sizeof noise);
    expect_error(path, VTAG_ERR_FORMAT, NULL, NULL);
    snprintf(path, sizeof path, "%s/bad_empty.onnx", dir);
    spit(path, "", 0);
    expect_error(path, VTAG_ERR_FORMAT, "empty", NULL);
    snprintf(path, sizeof path, "%s/bad_missing.onnx", dir);
    remove(path);
    expect_error(path, VTAG_ERR_IO, "cannot open", NULL);
    /* every prefix of the file: an error or (never, here) a model, but no crash */
    int prefixes_failed = 0;
    for (size_t cut = 0; cut < n; cut += n / 97 + 1) {
        snprintf(path, sizeof path, "%s/bad_prefix.onnx", dir);
        spit(path, good, cut);
        vtag_onnx_model_t *m = NULL;
        vtag_error err = {0};
        prefixes_failed += vtag_onnx_open(&m, path, &err) != 0;
        vtag_onnx_close(&m);
    }
    CHECK(prefixes_failed > 90, "truncated prefixes: %d refused", prefixes_failed);
    free(good);

    /* well-formed protobuf, wrong model */
    expect_error(mutated("bad_op", op_unknown), VTAG_ERR_UNSUPPORTED, "FancyConv", "node '");
    expect_error(mutated("bad_attr", attr_unknown), VTAG_ERR_UNSUPPORTED, "'foo'", "(Conv)");
    expect_error(mutated("bad_attr_value", attr_bad_value), VTAG_ERR_UNSUPPORTED, "WEIRD", "(MaxPool)");
    expect_error(mutated("bad_weight_shape", weight_shape), VTAG_ERR_ARG, "(Conv)", "input channels");
    expect_error(mutated("bad_raw_size", raw_size), VTAG_ERR_FORMAT, "raw_data", "initializer");
    expect_error(mutated("bad_external", external), VTAG_ERR_UNSUPPORTED, "external", "initializer");
    expect_error(mutated("bad_dangling", dangling), VTAG_ERR_FORMAT, "nowhere", "(Conv)");
    return check_summary("onnx bad models");
}

/* One tagger, several threads: three workers (each with its own vtag_ctx)
 * tag the same and different videos at the same time over one shared
 * tagger, and every result equals the single-threaded vtag_tagger_tag one
 * (the JSON of vtag_tag_to_json), for a built-in backbone and an ONNX one
 * with a fixed batch (made here: input [3, 3, 16, 16] → Conv → Relu → Conv
 * → GlobalAveragePool, so the last frames are padded in each worker's own
 * buffer). Below the tagger, the same for backbone workers on features, bit
 * for bit, each thread on images of its own. Prints the bytes a worker adds
 * next to the shared models. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "onnx.pb-c.h"
#include "vtag/backbone.h"
#include "vtag/builtin.h"
#include "vtag/caption.h"
#include "vtag/onnx.h"
#include "vtag/synth.h"
#include "vtag/tag.h"
#include "vtag/tagger.h"

enum { N_THREADS = 3, N_VIDEOS = 2, ROUNDS = 3 };

static const char VOCAB[] = "[\"red\",\"green\",\"blue\",\"shirt\",\"UNK\"]";
static const char *const VIDEOS[N_VIDEOS] = {"v0.mp4", "v1.mp4"};
static char dir[] = "/tmp/vtag-test-tagger-workers-XXXXXX";

/* A built-in backbone of 16 px, 2 stages of 4 and 8 channels: fc 8, att 8 (K = 4). */
static int make_builtin(const char *path, vtag_error *err)
{
    vtag_builtin_config cfg;
    vtag_builtin_config_default(&cfg);
    cfg.size = 16, cfg.n_stages = 2;
    cfg.widths[0] = 4, cfg.widths[1] = 8;
    cfg.blocks[0] = 1, cfg.blocks[1] = 1;
    cfg.n_labels = 3;
    vtag_builtin m;
    int rc = vtag_builtin_init(&m, &cfg, NULL, err);
    if (rc) return rc;
    vtag_rng rng;
    vtag_rng_seed(&rng, 7);
    vtag_builtin_init_weights(&m, &rng);
    rc = vtag_builtin_save(&m, path, err);
    vtag_builtin_free(&m);
    return rc;
}

/* A topdown model with random weights; fc 8, att 8. */
static int make_checkpoint(const char *path, vtag_error *err)
{
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    cfg.type = VTAG_MODEL_TOPDOWN;
    cfg.vocab_size = 5, cfg.input_encoding_size = 6, cfg.rnn_size = 8, cfg.att_hid_size = 4;
    cfg.fc_feat_size = 8, cfg.att_feat_size = 8, cfg.max_length = 4;
    vtag_model m;
    int rc = vtag_model_init(&m, &cfg, err);
    if (rc) return rc;
    vtag_rng rng;
    vtag_rng_seed(&rng, 5);
    vtag_model_init_weights(&m, &rng);
    /* larger weights, so that the captions follow the features; the labels
     * favoured over EOS (id 0), so that captions are not empty */
    for (int64_t i = 0; i < m.params.total; i++) m.params.value[i] *= 4.0f;
    int b = vtag_params_find(&m.params, "logit.bias");
    if (b >= 0)
        for (int64_t i = 1; i < m.params.items[b].numel; i++) m.params.value[m.params.items[b].offset + i] += 1.0f;
    rc = vtag_checkpoint_save(&m, VOCAB, path, err);
    vtag_model_free(&m);
    return rc;
}

/* ---- a tiny ONNX backbone, written with the generated protobuf code ---- */

static char *dupstr(const char *s) { return strcpy(malloc(strlen(s) + 1), s); }

static void *grow(void *arr, size_t n, size_t size) { return realloc(arr, (n + 1) * size); }

static void add_value(Onnx__ValueInfoProto ***list, size_t *n, const char *name, int ndim, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = calloc(1, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = dupstr(name);
    if (ndim > 0) {
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
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = dims[d];
            tt->shape->dim[d] = dim;
        }
        vi->type->tensor_type = tt;
    }
    *list = grow(*list, *n, sizeof **list);
    (*list)[(*n)++] = vi;
}

/* A float initializer with values drawn from rng in [-0.5, 0.5). */
static void add_init(Onnx__GraphProto *g, const char *name, int ndim, const int64_t *dims, vtag_rng *rng)
{
    Onnx__TensorProto *t = calloc(1, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = dupstr(name);
    t->n_dims = (size_t)ndim;
    t->dims = calloc((size_t)ndim, sizeof *t->dims);
    size_t n = 1;
    for (int d = 0; d < ndim; d++) t->dims[d] = dims[d], n *= (size_t)dims[d];
    t->has_data_type = 1;
    t->data_type = VTAG_ONNX_FLOAT;
    float *f = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) f[i] = vtag_rng_uniform(rng) - 0.5f;
    t->has_raw_data = 1;
    t->raw_data.len = n * sizeof(float);
    t->raw_data.data = (uint8_t *)f;
    g->initializer = grow(g->initializer, g->n_initializer, sizeof *g->initializer);
    g->initializer[g->n_initializer++] = t;
}

static Onnx__NodeProto *add_node(Onnx__GraphProto *g, const char *op, const char *in0, const char *in1,
                                 const char *in2, const char *out)
{
    Onnx__NodeProto *nd = calloc(1, sizeof *nd);
    onnx__node_proto__init(nd);
    nd->op_type = dupstr(op);
    nd->name = dupstr(out);
    const char *ins[3] = {in0, in1, in2};
    nd->input = calloc(3, sizeof *nd->input);
    for (int k = 0; k < 3 && ins[k]; k++) nd->input[nd->n_input++] = dupstr(ins[k]);
    nd->output = calloc(1, sizeof *nd->output);
    nd->output[nd->n_output++] = dupstr(out);
    g->node = grow(g->node, g->n_node, sizeof *g->node);
    g->node[g->n_node++] = nd;
    return nd;
}

static void attr_ints(Onnx__NodeProto *nd, const char *name, int64_t v0, int64_t v1, int n)
{
    Onnx__AttributeProto *a = calloc(1, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = dupstr(name);
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a->ints = calloc(4, sizeof *a->ints);
    for (int i = 0; i < n; i++) a->ints[i] = i % 2 ? v1 : v0;
    a->n_ints = (size_t)n;
    nd->attribute = grow(nd->attribute, nd->n_attribute, sizeof *nd->attribute);
    nd->attribute[nd->n_attribute++] = a;
}

/* A 3×3 conv, stride 2, padding 1. */
static void add_conv(Onnx__GraphProto *g, const char *in, const char *w, const char *b, const char *out)
{
    Onnx__NodeProto *c = add_node(g, "Conv", in, w, b, out);
    attr_ints(c, "kernel_shape", 3, 3, 2);
    attr_ints(c, "strides", 2, 2, 2);
    attr_ints(c, "pads", 1, 1, 4);
}

/* image [3, 3, 16, 16] → conv 3→8 → Relu → conv 8→8 ("map", [3, 8, 4, 4]) → GlobalAveragePool:
 * the default taps give fc 8 and att 8 at K = 16. */
static int make_onnx(const char *path)
{
    Onnx__ModelProto *m = calloc(1, sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    Onnx__OperatorSetIdProto *o = calloc(1, sizeof *o);
    onnx__operator_set_id_proto__init(o);
    o->domain = dupstr("");
    o->has_version = 1;
    o->version = 13;
    m->opset_import = calloc(1, sizeof *m->opset_import);
    m->opset_import[0] = o;
    m->n_opset_import = 1;
    Onnx__GraphProto *g = m->graph = calloc(1, sizeof *m->graph);
    onnx__graph_proto__init(g);
    g->name = dupstr("tiny");
    vtag_rng rng;
    vtag_rng_seed(&rng, 11);
    add_value(&g->input, &g->n_input, "image", 4, (const int64_t[]){3, 3, 16, 16});
    add_init(g, "w1", 4, (const int64_t[]){8, 3, 3, 3}, &rng);
    add_init(g, "b1", 1, (const int64_t[]){8}, &rng);
    add_init(g, "w2", 4, (const int64_t[]){8, 8, 3, 3}, &rng);
    add_init(g, "b2", 1, (const int64_t[]){8}, &rng);
    add_conv(g, "image", "w1", "b1", "c1");
    add_node(g, "Relu", "c1", NULL, NULL, "r1");
    add_conv(g, "r1", "w2", "b2", "map");
    add_node(g, "GlobalAveragePool", "map", NULL, NULL, "pool");
    add_value(&g->output, &g->n_output, "pool", 0, NULL);
    size_t len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(len);
    onnx__model_proto__pack(m, buf);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(buf, 1, len, f) != len;
    if (f) bad |= fclose(f) != 0;
    free(buf);
    onnx__model_proto__free_unpacked(m, NULL);
    return bad ? -1 : 0;
}

/* ---- the threads ---- */

typedef struct job {
    const vtag_tagger_t *t;
    int id;
    char *json[ROUNDS * N_VIDEOS]; /* in the order tagged */
    int video[ROUNDS * N_VIDEOS];
    int rc;
    char msg[600];
    size_t bytes; /* the worker's, after its runs */
} job;

static char *json_of(const vtag_tag_result *r)
{
    vtag_error err = {0};
    char *line = NULL;
    if (vtag_tag_to_json(r, &line, &err)) fprintf(stderr, "to_json: %s\n", err.msg);
    return line;
}

/* Tags every video ROUNDS times, starting at a video of its own so that the
 * threads run the same video and different ones at once. */
static void *work(void *arg)
{
    job *j = arg;
    vtag_error err = {0};
    vtag_ctx ctx;
    vtag_tagger_worker *w = NULL;
    j->rc = vtag_ctx_init(&ctx, 1, 42, &err);
    if (j->rc) {
        snprintf(j->msg, sizeof j->msg, "ctx: %s", err.msg);
        return NULL;
    }
    j->rc = vtag_tagger_worker_open(&w, j->t, &err);
    for (int k = 0; !j->rc && k < ROUNDS * N_VIDEOS; k++) {
        int v = (j->id + k) % N_VIDEOS;
        vtag_tag_result r = {0};
        j->rc = vtag_tagger_worker_tag(w, &ctx, VIDEOS[v], NULL, &r, NULL, &err);
        if (!j->rc) j->json[k] = json_of(&r), j->video[k] = v;
        vtag_tag_result_free(&r);
    }
    if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", err.msg);
    if (w) j->bytes = vtag_tagger_worker_bytes(w);
    vtag_tagger_worker_close(&w);
    vtag_ctx_free(&ctx);
    return NULL;
}

/* ---- backbone workers: features bit for bit ---- */

/* many short runs, started together: overlapping runs of a shared scratch would show */
enum { BB_FRAMES = 3, BB_RUNS = 300 };

typedef struct bb_job {
    const vtag_backbone_t *b;
    const float *images; /* [BB_FRAMES, 3, S, S], the thread's own */
    const float *fc, *att; /* what vtag_backbone_run gave for them */
    int64_t n_fc, n_att;
    pthread_barrier_t *start;
    int rc, differ;
    char msg[600];
} bb_job;

static void *bb_work(void *arg)
{
    bb_job *j = arg;
    vtag_error err = {0};
    vtag_ctx ctx;
    vtag_backbone_worker *w = NULL;
    float *fc = malloc((size_t)j->n_fc * sizeof(float)), *att = malloc((size_t)j->n_att * sizeof(float));
    j->rc = !fc || !att ? VTAG_ERR_NOMEM : vtag_ctx_init(&ctx, 1, 42, &err);
    if (j->rc) pthread_barrier_wait(j->start);
    if (!j->rc) {
        j->rc = vtag_backbone_worker_open(&w, j->b, &err);
        pthread_barrier_wait(j->start);
        for (int k = 0; !j->rc && k < BB_RUNS; k++) {
            j->rc = vtag_backbone_worker_run(w, &ctx, j->images, BB_FRAMES, fc, att, &err);
            if (!j->rc)
                j->differ += memcmp(fc, j->fc, (size_t)j->n_fc * sizeof(float)) != 0 ||
                             memcmp(att, j->att, (size_t)j->n_att * sizeof(float)) != 0;
        }
        vtag_backbone_worker_close(&w);
        vtag_ctx_free(&ctx);
    }
    if (j->rc) snprintf(j->msg, sizeof j->msg, "%s", err.msg);
    free(fc);
    free(att);
    return NULL;
}

static void test_backbone_workers(const char *path)
{
    vtag_error err = {0};
    vtag_backbone_t *b = NULL;
    if (vtag_backbone_open(&b, path, NULL, &err)) {
        CHECK(0, "%s: open: %s", path, err.msg);
        return;
    }
    const vtag_backbone_info *in = vtag_backbone_get_info(b);
    const int64_t per = 3 * in->size * in->size, n_fc = BB_FRAMES * in->d_fc,
                  n_att = BB_FRAMES * in->k_att * in->d_att;
    float *images = malloc((size_t)(N_THREADS * BB_FRAMES * per) * sizeof(float));
    float *fc = malloc((size_t)(N_THREADS * n_fc) * sizeof(float));
    float *att = malloc((size_t)(N_THREADS * n_att) * sizeof(float));
    vtag_ctx ctx;
    CHECK(images && fc && att && vtag_ctx_init(&ctx, 1, 42, &err) == 0, "memory, ctx");
    vtag_rng rng;
    vtag_rng_seed(&rng, 3);
    for (int64_t i = 0; i < N_THREADS * BB_FRAMES * per; i++) images[i] = vtag_rng_normal(&rng);
    for (int t = 0; t < N_THREADS; t++)
        CHECK(vtag_backbone_run(b, &ctx, images + t * BB_FRAMES * per, BB_FRAMES, fc + t * n_fc, att + t * n_att,
                                &err) == 0,
              "%s: run: %s", path, err.msg);
    CHECK(memcmp(fc, fc + n_fc, (size_t)n_fc * sizeof(float)) != 0, "%s: other images, other features", path);
    bb_job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N_THREADS);
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (bb_job){b, images + t * BB_FRAMES * per, fc + t * n_fc, att + t * n_att, n_fc, n_att, &start,
                           0, 0, ""};
        if (pthread_create(&th[t], NULL, bb_work, &jobs[t])) {
            fprintf(stderr, "cannot start a thread\n"); /* the barrier would wait for ever */
            exit(1);
        }
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        CHECK(jobs[t].rc == 0 && jobs[t].differ == 0, "%s: thread %d: %d of %d runs differ from vtag_backbone_run %s",
              path, t, jobs[t].differ, BB_RUNS, jobs[t].msg);
    }
    pthread_barrier_destroy(&start);
    vtag_ctx_free(&ctx);
    free(images);
    free(fc);
    free(att);
    vtag_backbone_close(&b);
}

static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void test_workers(const char *backbone, int beam)
{
    vtag_error err = {0};
    vtag_video_sampler s;
    vtag_video_sampler_default(&s);
    CHECK(vtag_video_sampler_parse(&s, "uniform:4", &err) == 0, "sampler: %s", err.msg);
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    o.sampler = &s;
    o.checkpoint = "model.safetensors";
    o.backbone = backbone;
    o.beam = beam;
    vtag_ctx ctx;
    CHECK(vtag_ctx_init(&ctx, 1, 42, &err) == 0, "ctx: %s", err.msg);
    vtag_tagger_t *t = NULL;
    if (vtag_tagger_open(&t, &ctx, &o, &err)) {
        CHECK(0, "%s: open: %s", backbone, err.msg);
        vtag_ctx_free(&ctx);
        return;
    }
    /* the single-threaded results, through the tagger's own worker */
    char *want[N_VIDEOS] = {NULL};
    for (int v = 0; v < N_VIDEOS; v++) {
        vtag_tag_result r = {0};
        CHECK(vtag_tagger_tag(t, &ctx, VIDEOS[v], NULL, &r, NULL, &err) == 0, "%s: tag %s: %s", backbone, VIDEOS[v],
              err.msg);
        CHECK(r.n_frames == 4 && r.n_labels > 0, "%s: %s: 4 frames (%lld), labels (%lld)", backbone, VIDEOS[v],
              (long long)r.n_frames, (long long)r.n_labels);
        want[v] = json_of(&r);
        vtag_tag_result_free(&r);
    }
    CHECK(want[0] && want[1] && strcmp(strchr(want[0], ','), strchr(want[1], ',')) != 0,
          "%s: the two videos are tagged differently (else the test could not tell them apart):\n  %s\n  %s",
          backbone, want[0] ? want[0] : "?", want[1] ? want[1] : "?");

    job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    int started[N_THREADS] = {0};
    for (int i = 0; i < N_THREADS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].t = t, jobs[i].id = i;
        started[i] = pthread_create(&th[i], NULL, work, &jobs[i]) == 0;
        CHECK(started[i], "%s: thread %d started", backbone, i);
    }
    for (int i = 0; i < N_THREADS; i++)
        if (started[i]) pthread_join(th[i], NULL);
    int same = 0;
    for (int i = 0; i < N_THREADS; i++) {
        if (!started[i]) continue;
        CHECK(jobs[i].rc == 0, "%s: thread %d: %s", backbone, i, jobs[i].msg);
        for (int k = 0; k < ROUNDS * N_VIDEOS; k++) {
            const char *got = jobs[i].json[k], *w = want[jobs[i].video[k]];
            if (!jobs[i].rc && got && w && strcmp(got, w) == 0) {
                same++;
            } else if (!jobs[i].rc) {
                CHECK(0, "%s: thread %d, call %d (%s):\n  got  %s\n  want %s", backbone, i, k,
                      VIDEOS[jobs[i].video[k]], got ? got : "?", w ? w : "?");
            }
            free(jobs[i].json[k]);
        }
    }
    CHECK(same == N_THREADS * ROUNDS * N_VIDEOS, "%s: %d of %d concurrent results equal the single-threaded ones",
          backbone, same, N_THREADS * ROUNDS * N_VIDEOS);
    CHECK(jobs[0].bytes > 0 && jobs[1].bytes == jobs[0].bytes && jobs[2].bytes == jobs[0].bytes,
          "%s: every worker holds the same scratch: %zu %zu %zu bytes", backbone, jobs[0].bytes, jobs[1].bytes,
          jobs[2].bytes);
    printf("%s: a worker adds %zu bytes (frame batch and backbone scratch; decoding uses the caller's ctx), "
           "shared: backbone file %lld bytes, checkpoint %lld bytes\n",
           backbone, jobs[0].bytes, file_bytes(backbone), file_bytes(o.checkpoint));

    /* the tagger's own worker is unchanged by the others: the same results after them */
    for (int v = 0; v < N_VIDEOS; v++) {
        vtag_tag_result r = {0};
        CHECK(vtag_tagger_tag(t, &ctx, VIDEOS[v], NULL, &r, NULL, &err) == 0, "%s: tag again: %s", backbone,
              err.msg);
        char *again = json_of(&r);
        CHECK(again && want[v] && strcmp(again, want[v]) == 0, "%s: %s after the threads: the same", backbone,
              VIDEOS[v]);
        free(again);
        vtag_tag_result_free(&r);
    }
    for (int v = 0; v < N_VIDEOS; v++) free(want[v]);
    vtag_tagger_close(&t);
    vtag_ctx_free(&ctx);
}

int main(void)
{
    if (!mkdtemp(dir) || chdir(dir)) {
        perror(dir);
        return 1;
    }
    vtag_error err = {0};
    vtag_synth_source *src = NULL;
    CHECK(vtag_synth_source_open_shapes(&src, &err) == 0, "shapes: %s", err.msg);
    for (int v = 0; v < N_VIDEOS; v++) {
        vtag_synth_video sv;
        vtag_synth_plan(1, v, &sv);
        sv.frames = 12;
        CHECK(vtag_synth_write_video(VIDEOS[v], &sv, src, VTAG_SYNTH_CODEC_AUTO, NULL, NULL, &err) == 0,
              "video %d: %s", v, err.msg);
    }
    vtag_synth_source_close(&src);
    CHECK(make_builtin("backbone.safetensors", &err) == 0, "backbone: %s", err.msg);
    CHECK(make_onnx("tiny.onnx") == 0, "tiny.onnx written");
    CHECK(make_checkpoint("model.safetensors", &err) == 0, "checkpoint: %s", err.msg);

    test_backbone_workers("backbone.safetensors");
    test_backbone_workers("tiny.onnx");
    test_workers("backbone.safetensors", 1); /* greedy */
    test_workers("tiny.onnx", 3);            /* beam search, a fixed batch of 3: 3 frames + 1 padded */

    const char *files[] = {"v0.mp4", "v1.mp4", "backbone.safetensors", "tiny.onnx", "model.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    if (chdir("/") == 0) rmdir(dir);
    return check_summary("run/test_tagger_workers");
}

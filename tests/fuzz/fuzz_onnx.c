/* Fuzz target: ONNX import (src/onnx/): loading and checking a model, shape
 * inference and planning for small concrete inputs (as vtag onnx-info and
 * vtag features do), and a run when the plan is small. */
#include <string.h>

#include "fuzz.h"
#include "vtag/onnx.h"

/* The harness's caps on the work one input may ask for (the library's limits
 * are under test; these keep an input cheap): elements of any one input, and
 * the activation bytes of a plan that is run. */
#define MAX_INPUT_NUMEL (1 << 16)
#define MAX_RUN_BYTES ((size_t)1 << 20)
#define MAX_RUN_INPUT_NUMEL 4096

/* A concrete shape for a declared one: unknown dims become small (a batch of
 * 1; 3 channels and 8×8 pixels for an image batch, 4 otherwise). 0 when the
 * input is too large for the harness. */
static int concrete_input(vtag_onnx_tensor *t, int64_t *numel)
{
    if (!t->dtype) t->dtype = VTAG_ONNX_FLOAT;
    if (t->ndim < 0 || t->ndim > VTAG_ONNX_MAX_DIMS) return 0;
    int64_t n = 1;
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape[k] < 0) t->shape[k] = k == 0 ? 1 : t->ndim == 4 ? (k == 1 ? 3 : 8) : 4;
        if (t->shape[k] > MAX_INPUT_NUMEL || n * t->shape[k] > MAX_INPUT_NUMEL) return 0;
        n *= t->shape[k];
    }
    *numel = n;
    return 1;
}

/* Input data: a small repeating pattern (small positive integers where an
 * integer input may be a shape or an index). 0 when out of memory. */
static int fill(vtag_onnx_tensor *t, int64_t numel)
{
    size_t es = vtag_onnx_dtype_size(t->dtype);
    t->data = calloc((size_t)(numel ? numel : 1), es ? es : 1);
    if (!t->data) return 0;
    for (int64_t i = 0; i < numel; i++) {
        if (t->dtype == VTAG_ONNX_FLOAT) ((float *)t->data)[i] = (float)(i % 7 - 3) / 3.0f;
        else if (t->dtype == VTAG_ONNX_INT64) ((int64_t *)t->data)[i] = i % 3 + 1;
        else if (t->dtype == VTAG_ONNX_INT32) ((int32_t *)t->data)[i] = (int32_t)(i % 3 + 1);
    }
    return 1;
}

static void plan_and_run(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char **in_names, vtag_onnx_tensor *in,
                         int runnable, int n_out, const char **out_names)
{
    vtag_error err = {0};
    vtag_onnx_tensor *shapes = calloc((size_t)n_out + 1, sizeof *shapes);
    if (!shapes) return;
    int rc = vtag_onnx_infer(m, ctx, n_in, in_names, in, n_out, out_names, shapes, &err);
    free(shapes);
    if (rc) return;
    vtag_onnx_plan_stats st;
    if (vtag_onnx_plan_stats_get(m, ctx, n_in, in_names, in, n_out, out_names, &st, &err)) return;
    if (!runnable || st.naive_bytes > MAX_RUN_BYTES) return;
    vtag_onnx_tensor *out = calloc((size_t)n_out + 1, sizeof *out);
    if (!out) return;
    if (!vtag_onnx_run(m, ctx, n_in, in_names, in, n_out, out_names, out, &err))
        for (int i = 0; i < n_out; i++) vtag_onnx_tensor_free(&out[i]);
    free(out);
}

static void exercise(vtag_onnx_model_t *m)
{
    size_t sink = 0;
    (void)vtag_onnx_opset(m);
    for (int i = 0; i < vtag_onnx_node_count(m); i++)
        sink += strlen(vtag_onnx_node_op(m, i)) + strlen(vtag_onnx_node_name(m, i)) + (size_t)vtag_onnx_node_folded(m, i);
    for (int i = 0; i < vtag_onnx_value_count(m); i++) sink += strlen(vtag_onnx_value_name(m, i));
    fuzz_keep(sink);

    int n_in = vtag_onnx_input_count(m), n_out = vtag_onnx_output_count(m);
    const char **in_names = calloc((size_t)n_in + 1, sizeof *in_names);
    const char **out_names = calloc((size_t)n_out + 2, sizeof *out_names);
    vtag_onnx_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
    vtag_ctx ctx;
    vtag_error err = {0};
    int ok = in_names && out_names && in && !vtag_ctx_init(&ctx, 1, 1, &err);
    if (!ok) goto done_alloc;
    int small = 1, runnable = 1;
    for (int i = 0; i < n_in; i++) {
        in_names[i] = vtag_onnx_input(m, i, &in[i]);
        int64_t numel = 0;
        if (!concrete_input(&in[i], &numel)) small = 0;
        else if (numel > MAX_RUN_INPUT_NUMEL || !fill(&in[i], numel)) runnable = 0;
    }
    for (int i = 0; i < n_out; i++) out_names[i] = vtag_onnx_output_name(m, i);
    if (small) {
        plan_and_run(m, &ctx, n_in, in_names, in, runnable, n_out, out_names);
        /* the taps vtag features reads by default */
        const char *taps[2];
        if (!vtag_onnx_default_taps(m, &taps[0], &taps[1], &err))
            plan_and_run(m, &ctx, n_in, in_names, in, runnable, 2, taps);
    }
    for (int i = 0; i < n_in; i++) free(in[i].data);
    vtag_ctx_free(&ctx);
done_alloc:
    free(in);
    free(in_names);
    free(out_names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_path(path, sizeof path, ".onnx");
    fuzz_write(path, data, size);
    vtag_onnx_model_t *m = NULL;
    vtag_error err = {0};
    if (!vtag_onnx_open(&m, path, &err)) {
        exercise(m);
        vtag_onnx_close(&m);
    }
    unlink(path);
    return 0;
}

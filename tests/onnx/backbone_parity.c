/* torchvision CNNs exported by reference/export_backbones.py (fixed random
 * weights, random BatchNorm statistics) against PyTorch, through the backbone
 * API: fc must equal PyTorch's pooled features and att its last conv map
 * (read as [N, H·W, C]) with max|vtag − torch| / max|torch| <= 1e-4.
 * usage: onnx_backbone_parity DIR MODEL... ("tiny" also checks the logits
 * through vtag_onnx_run and the fixed-batch export with a smaller batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/backbone.h"
#include "vtag/onnx.h"

static float *read_f32(const char *dir, const char *name, const char *what, int64_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.f32", dir, name, what);
    FILE *f = fopen(path, "rb");
    float *x = malloc((size_t)n * sizeof *x);
    size_t got = f && x ? fread(x, sizeof *x, (size_t)n, f) : 0;
    int extra = f ? fgetc(f) != EOF : 1;
    if (f) fclose(f);
    if (got != (size_t)n || extra) {
        fprintf(stderr, "%s: expected %lld floats\n", path, (long long)n);
        free(x);
        return NULL;
    }
    return x;
}

/* max |a − b| / max |b| */
static double rel_err(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= num)) num = d; /* NaN counts as the largest */
        if (fabs((double)b[i]) > den) den = fabs((double)b[i]);
    }
    return den > 0 ? num / den : num;
}

static void check_model(vtag_ctx *ctx, const char *dir, const char *name, const char *file, int64_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, file);
    vtag_backbone_options o;
    vtag_backbone_options_default(&o);
    o.max_batch = n;
    vtag_backbone_t *b = NULL;
    vtag_error err = {0};
    int rc = vtag_backbone_open(&b, path, &o, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    const vtag_backbone_info *in = vtag_backbone_get_info(b);
    int64_t s = in->size, k = in->k_att, d = in->d_att;
    float *x = read_f32(dir, name, "images", n * 3 * s * s);
    float *fc_ref = read_f32(dir, name, "fc", n * in->d_fc);
    float *map = read_f32(dir, name, "att", n * k * d);
    CHECK(x && fc_ref && map, "%s: fixtures", name);
    float *fc = malloc((size_t)(n * in->d_fc) * sizeof *fc), *att = malloc((size_t)(n * k * d) * sizeof *att);
    float *att_ref = malloc((size_t)(n * k * d) * sizeof *att_ref);
    if (x && fc_ref && map) {
        for (int64_t i = 0; i < n; i++) /* [n, d, k] → [n, k, d] */
            for (int64_t c = 0; c < d; c++)
                for (int64_t p = 0; p < k; p++) att_ref[(i * k + p) * d + c] = map[(i * d + c) * k + p];
        rc = vtag_backbone_run(b, ctx, x, n, fc, att, &err);
        CHECK(rc == 0, "%s: run: %s", name, err.msg);
        double efc = rel_err(fc, fc_ref, n * in->d_fc), eatt = rel_err(att, att_ref, n * k * d);
        printf("%s (%s): fc [%lld, %lld] rel err %.3g, att [%lld, %lld, %lld] rel err %.3g"
               "  (max|x - torch| / max|torch|)\n",
               name, file, (long long)n, (long long)in->d_fc, efc, (long long)n, (long long)k, (long long)d, eatt);
        CHECK(efc <= 1e-4, "%s: fc rel err %.3g", name, efc);
        CHECK(eatt <= 1e-4, "%s: att rel err %.3g", name, eatt);
        /* one image alone gives the same features as inside the batch */
        rc = vtag_backbone_run(b, ctx, x + 3 * s * s, 1, fc, NULL, &err);
        CHECK(rc == 0, "%s: run 1: %s", name, err.msg);
        double e1 = rel_err(fc, fc_ref + in->d_fc, in->d_fc);
        CHECK(e1 <= 1e-4, "%s: fc of image 1 alone: rel err %.3g", name, e1);
    }
    free(x), free(fc_ref), free(map), free(fc), free(att), free(att_ref);
    vtag_backbone_close(&b);
    CHECK(b == NULL, "close sets NULL");
}

/* tiny: the logits (Gemm after Flatten) through the plain ONNX API. */
static void check_tiny_logits(vtag_ctx *ctx, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny.onnx", dir);
    vtag_onnx_model_t *m = NULL;
    vtag_error err = {0};
    int rc = vtag_onnx_open(&m, path, &err);
    CHECK(rc == 0, "%s", err.msg);
    if (rc) return;
    float *x = read_f32(dir, "tiny", "images", 4 * 3 * 32 * 32), *ref = read_f32(dir, "tiny", "logits", 4 * 5);
    const char *in_name = vtag_onnx_input(m, 0, NULL), *out_name = vtag_onnx_output_name(m, 0);
    vtag_onnx_tensor in = {VTAG_ONNX_FLOAT, 4, {4, 3, 32, 32}, x}, out;
    rc = x && ref ? vtag_onnx_run(m, ctx, 1, &in_name, &in, 1, &out_name, &out, &err) : -1;
    CHECK(rc == 0, "tiny logits: %s", err.msg);
    if (!rc) {
        CHECK(out.ndim == 2 && out.shape[0] == 4 && out.shape[1] == 5, "logits shape");
        double e = rel_err(out.data, ref, 20);
        printf("tiny logits rel err %.3g\n", e);
        CHECK(e <= 1e-5, "tiny logits rel err %.3g", e);
        vtag_onnx_tensor_free(&out);
    }
    /* what the plan made of it: Shape -> Gather -> Unsqueeze -> Concat folded, the Reshape a view, both ReLUs
     * fused into their (BN-folded) convs: conv, maxpool, conv, clip, pool, reshape, gemm */
    vtag_onnx_plan_stats st;
    rc = vtag_onnx_plan_stats_get(m, ctx, 1, &in_name, &in, 1, &out_name, &st, &err);
    CHECK(rc == 0, "plan stats: %s", err.msg);
    CHECK(st.steps == 7 && st.views == 1 && st.act_fused == 2 && st.bn_folded == 2 && st.const_folded >= 5,
          "tiny plan: %d steps, %d views, %d fused, %d bn folded, %d const folded", st.steps, st.views, st.act_fused,
          st.bn_folded, st.const_folded);
    CHECK(st.buffers <= 3, "tiny plan: %d buffers", st.buffers);
    /* the folded conv output cannot be asked for, and says why */
    int n_folded = 0;
    for (int i = 0; i < vtag_onnx_node_count(m); i++) n_folded += vtag_onnx_node_folded(m, i);
    CHECK(n_folded == 2, "tiny: %d BatchNormalizations folded, expected 2", n_folded);
    const char *gone = "/c1/Conv_output_0";
    vtag_onnx_tensor sh;
    rc = vtag_onnx_infer(m, ctx, 1, &in_name, &in, 1, &gone, &sh, &err);
    CHECK(rc == VTAG_ERR_NOTFOUND && strstr(err.msg, "folded"), "asking for a folded value: %s", err.msg);
    free(x), free(ref);
    vtag_onnx_close(&m);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR MODEL...\n", argv[0]);
        return 2;
    }
    vtag_ctx ctx;
    vtag_error err = {0};
    if (vtag_ctx_init(&ctx, 2, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("kernel path: %s\n", vtag_isa_name(ctx.isa));
    for (int a = 2; a < argc; a++) {
        if (strcmp(argv[a], "tiny") == 0) {
            check_model(&ctx, argv[1], "tiny", "tiny", 4);
            check_model(&ctx, argv[1], "tiny", "tiny_fixed", 4);
            check_tiny_logits(&ctx, argv[1]);
        } else {
            check_model(&ctx, argv[1], argv[a], argv[a], 2);
        }
    }
    vtag_ctx_free(&ctx);
    return check_summary("onnx backbone parity");
}

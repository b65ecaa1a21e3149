/* Parity of every include/vtag/cnn.h layer with PyTorch: reference/cnn_layers.py writes inputs,
 * weights, outputs and all gradients (float64 math on float32 data) to cnn_layers.safetensors.
 * Metric, per tensor: rel = max_i |got_i − ref_i| / max(max_i |ref_i|, 1e-6) ≤ 1e-4. Every layer
 * runs with 1 and with 2 threads; both must match the reference and each other (same metric).
 * Usage: cnn_test_parity [cnn_layers.safetensors]   (default: ./cnn_layers.safetensors) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/cnn.h"
#include "vtag/core.h"
#include "vtag/safetensors.h"

#define TOL 1e-4
#define MAX_RESULTS 16

typedef struct result {
    char ref[96]; /* fixture tensor the result must equal */
    float *data;
    int64_t n;
} result;

typedef struct run {
    const vtag_st_file *st;
    const char *layer;
    vtag_ctx *ctx;
    result res[MAX_RESULTS];
    int count, broken;
    void *bufs[2 * MAX_RESULTS];
    int nbufs;
} run;

static int passed, failed;
static double worst;

static const vtag_st_tensor *get(run *r, const char *key, vtag_dtype dt)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", r->layer, key);
    const vtag_st_tensor *t = vtag_st_find(r->st, name);
    if (!t || t->dtype != dt) {
        printf("  FAIL fixture: '%s' missing or not %s\n", name, vtag_dtype_name(dt));
        r->broken = 1;
        return NULL;
    }
    return t;
}

static const float *f32(run *r, const char *key, int64_t *numel)
{
    const vtag_st_tensor *t = get(r, key, VTAG_DTYPE_F32);
    if (numel) *numel = t ? t->numel : 0;
    return t ? t->data : NULL;
}

static int64_t axis(run *r, const char *key, int a)
{
    const vtag_st_tensor *t = get(r, key, VTAG_DTYPE_F32);
    return t && a < t->ndim ? t->shape[a] : (r->broken = 1, 1);
}

static void *buf(run *r, int64_t bytes)
{
    void *p = calloc(1, (size_t)(bytes > 0 ? bytes : 1));
    if (!p || r->nbufs == 2 * MAX_RESULTS) {
        free(p);
        r->broken = 1;
        return NULL;
    }
    r->bufs[r->nbufs++] = p;
    return p;
}

/* A zeroed buffer whose contents must end up equal to fixture tensor "<layer>.<key>". */
static float *expect(run *r, const char *key, int64_t n)
{
    float *p = buf(r, n * (int64_t)sizeof(float));
    if (!p || r->count == MAX_RESULTS) {
        r->broken = 1;
        return NULL;
    }
    result *res = &r->res[r->count++];
    snprintf(res->ref, sizeof res->ref, "%s.%s", r->layer, key);
    res->data = p;
    res->n = n;
    return p;
}

static double rel_err(const float *got, const float *want, int64_t n, double *scale_out)
{
    double diff = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        diff = isnan(d) ? INFINITY : fmax(diff, d);
        scale = fmax(scale, fabs((double)want[i]));
    }
    if (scale_out) *scale_out = scale;
    return diff / fmax(scale, 1e-6);
}

static void compare(const char *layer, const char *what, const char *against, double rel, double scale)
{
    int ok = rel <= TOL;
    ok ? passed++ : failed++;
    if (rel > worst) worst = rel;
    printf("  %-4s %-20s %-16s %-6s max|ref| %9.3e  rel %9.3e\n", ok ? "ok" : "FAIL", layer, what, against, scale,
           rel);
}

/* ---- the layers ---------------------------------------------------------------------------- */

static void layer_conv(run *r)
{
    const vtag_st_tensor *dt = get(r, "dims", VTAG_DTYPE_I32);
    if (!dt || dt->numel != 12) return (void)(r->broken = 1);
    const int32_t *k = dt->data;
    vtag_conv2d_dims d = {axis(r, "x", 0), axis(r, "x", 1), axis(r, "x", 2), axis(r, "x", 3), axis(r, "w", 0),
                          k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], 0, 0};
    vtag_error err = {0};
    if (r->broken || vtag_conv2d_plan(&d, &err) != 0) {
        printf("  FAIL %s: plan: %s\n", r->layer, err.msg);
        r->broken = 1;
        return;
    }
    int64_t nx, nw, nout;
    const float *x = f32(r, "x", &nx), *w = f32(r, "w", &nw), *g = f32(r, "G", &nout);
    const float *b = k[11] ? f32(r, "b", NULL) : NULL;
    float *out = expect(r, "out", nout), *dx = expect(r, "dx", nx), *dw = expect(r, "dw", nw);
    float *db = k[11] ? expect(r, "db", d.c_out) : NULL;
    float *ws = buf(r, vtag_conv2d_workspace(&d, r->ctx->threads) * (int64_t)sizeof(float));
    if (r->broken || nout != d.n * d.c_out * d.h_out * d.w_out) return (void)(r->broken = 1);
    vtag_conv2d_forward(r->ctx, out, x, w, b, &d, VTAG_ACT_NONE, ws);
    vtag_conv2d_backward(r->ctx, dx, dw, db, g, x, w, &d, ws);
}

static void layer_batchnorm(run *r)
{
    int64_t nx, c;
    const float *x = f32(r, "x", &nx), *g = f32(r, "G", NULL), *gamma = f32(r, "gamma", &c);
    const float *beta = f32(r, "beta", NULL), *rm0 = f32(r, "running_mean_in", NULL);
    const float *rv0 = f32(r, "running_var_in", NULL);
    vtag_batchnorm_dims d = {axis(r, "x", 0), axis(r, "x", 1), axis(r, "x", 2) * axis(r, "x", 3), 1e-5f, 0.1f};
    if (!strcmp(r->layer, "batchnorm_big")) d.momentum = 0.2f;
    float *out = expect(r, "out", nx), *dx = expect(r, "dx", nx), *dgamma = expect(r, "dgamma", c);
    float *dbeta = expect(r, "dbeta", c), *rm = expect(r, "running_mean", c), *rv = expect(r, "running_var", c);
    float *inf = expect(r, "infer_out", nx);
    float *mean = buf(r, c * 4), *invstd = buf(r, c * 4);
    if (r->broken) return;
    memcpy(rm, rm0, (size_t)c * 4);
    memcpy(rv, rv0, (size_t)c * 4);
    vtag_batchnorm_forward_train(r->ctx, out, mean, invstd, rm, rv, x, gamma, beta, &d);
    vtag_batchnorm_backward(r->ctx, dx, dgamma, dbeta, g, x, gamma, mean, invstd, &d);
    vtag_batchnorm_forward_infer(r->ctx, inf, x, gamma, beta, rm, rv, &d, VTAG_ACT_NONE);
}

static void layer_pool(run *r)
{
    const vtag_st_tensor *dt = get(r, "dims", VTAG_DTYPE_I32);
    if (!dt || dt->numel != 12) return (void)(r->broken = 1);
    const int32_t *k = dt->data;
    vtag_pool2d_dims d = {axis(r, "x", 0), axis(r, "x", 1), axis(r, "x", 2), axis(r, "x", 3), k[0], k[1], k[2],
                          k[3], k[4], k[5], k[6], k[7], k[8], k[9], k[10], k[11], 0, 0};
    vtag_error err = {0};
    if (r->broken || vtag_pool2d_plan(&d, &err) != 0) {
        printf("  FAIL %s: plan: %s\n", r->layer, err.msg);
        r->broken = 1;
        return;
    }
    int64_t nx, nout;
    const float *x = f32(r, "x", &nx), *g = f32(r, "G", &nout);
    float *out = expect(r, "out", nout), *dx = expect(r, "dx", nx);
    int32_t *arg = buf(r, nout * 4);
    if (r->broken || nout != d.n * d.c * d.h_out * d.w_out) return (void)(r->broken = 1);
    if (!strncmp(r->layer, "max", 3)) {
        vtag_maxpool2d_forward(r->ctx, out, arg, x, &d);
        vtag_maxpool2d_backward(dx, g, arg, &d);
    } else {
        vtag_avgpool2d_forward(r->ctx, out, x, &d);
        vtag_avgpool2d_backward(dx, g, &d);
    }
}

static void layer_global_avgpool(run *r)
{
    int64_t nx, nout;
    const float *x = f32(r, "x", &nx), *g = f32(r, "G", &nout);
    int64_t n = axis(r, "x", 0), c = axis(r, "x", 1), hw = axis(r, "x", 2) * axis(r, "x", 3);
    float *out = expect(r, "out", nout), *dx = expect(r, "dx", nx);
    if (r->broken) return;
    vtag_global_avgpool_forward(r->ctx, out, x, n, c, hw);
    vtag_global_avgpool_backward(dx, g, n, c, hw);
}

static void layer_elementwise(run *r)
{
    int64_t n;
    const float *x = f32(r, "x", &n), *g = f32(r, "G", NULL);
    float *out = expect(r, "out", n), *dx = expect(r, "dx", n);
    if (r->broken) return;
    int t = r->ctx->threads;
    if (!strcmp(r->layer, "relu6") || !strcmp(r->layer, "hardswish")) {
        vtag_act act = r->layer[0] == 'r' ? VTAG_ACT_RELU6 : VTAG_ACT_HARDSWISH;
        vtag_act_forward(out, x, n, act, t);
        vtag_act_backward(dx, g, x, n, act, t);
    } else if (!strcmp(r->layer, "hardsigmoid")) {
        vtag_hardsigmoid_forward(out, x, n, 1.0f / 6.0f, 0.5f, t);
        vtag_hardsigmoid_backward(dx, g, x, n, 1.0f / 6.0f, 0.5f, t);
    } else {
        vtag_sigmoid_forward(out, x, n, t);
        vtag_sigmoid_backward(dx, g, out, n, t);
    }
}

typedef struct layer {
    const char *name;
    void (*fn)(run *r);
} layer;

static const layer layers[] = {
    {"conv_g2_s2_dil2", layer_conv},     {"conv_depthwise", layer_conv},
    {"conv_depthwise_s2", layer_conv},   {"conv_1x1_nobias", layer_conv},
    {"conv_asym", layer_conv},           {"conv_stem", layer_conv},
    {"conv_big", layer_conv},            {"conv_big_s2", layer_conv},
    {"conv_big_1x1", layer_conv},        {"batchnorm", layer_batchnorm},
    {"batchnorm_big", layer_batchnorm},  {"maxpool_ceil", layer_pool},
    {"maxpool_dil", layer_pool},         {"maxpool_stem", layer_pool},
    {"avgpool_ceil_cip1", layer_pool},   {"avgpool_ceil_cip0", layer_pool},
    {"avgpool_rect", layer_pool},        {"global_avgpool", layer_global_avgpool},
    {"global_avgpool_big", layer_global_avgpool}, {"relu6", layer_elementwise},
    {"hardswish", layer_elementwise},    {"hardsigmoid", layer_elementwise},
    {"sigmoid", layer_elementwise},
};

static void run_free(run *r)
{
    for (int i = 0; i < r->nbufs; i++) free(r->bufs[i]);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "cnn_layers.safetensors";
    vtag_st_file st;
    vtag_error err = {0};
    if (vtag_st_open(&st, path, &err) != 0) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        run runs[2];
        memset(runs, 0, sizeof runs);
        printf("%s\n", layers[l].name);
        for (int t = 0; t < 2; t++) {
            vtag_ctx ctx;
            vtag_ctx_init(&ctx, t + 1, 1, &err);
            runs[t].st = &st, runs[t].layer = layers[l].name, runs[t].ctx = &ctx;
            layers[l].fn(&runs[t]);
            vtag_ctx_free(&ctx);
            if (runs[t].broken) {
                printf("  FAIL %s t=%d: could not run\n", layers[l].name, t + 1);
                failed++;
                continue;
            }
            for (int i = 0; i < runs[t].count; i++) {
                const result *res = &runs[t].res[i];
                const vtag_st_tensor *ref = vtag_st_find(&st, res->ref);
                if (!ref || ref->dtype != VTAG_DTYPE_F32 || ref->numel != res->n) {
                    printf("  FAIL %s: reference '%s' missing or misshapen\n", layers[l].name, res->ref);
                    failed++;
                    continue;
                }
                double scale, rel = rel_err(res->data, ref->data, res->n, &scale);
                compare(layers[l].name, strchr(res->ref, '.') + 1, t ? "t=2" : "t=1", rel, scale);
            }
        }
        if (!runs[0].broken && !runs[1].broken)
            for (int i = 0; i < runs[0].count; i++) {
                double scale, rel = rel_err(runs[1].res[i].data, runs[0].res[i].data, runs[0].res[i].n, &scale);
                compare(layers[l].name, strchr(runs[0].res[i].ref, '.') + 1, "t1~t2", rel, scale);
            }
        run_free(&runs[0]);
        run_free(&runs[1]);
    }
    vtag_st_close(&st);
    printf("cnn/test_parity: %d passed, %d failed (worst rel %.3g, tolerance %.0e)\n", passed, failed, worst, TOL);
    return failed ? 1 : 0;
}

/* ONNX backbone speed: images/s of vtag_backbone_run (fc and att taps) on
 * in-memory random images, then one profiled pass per model through the
 * ONNX API (time per op type, what the plan folded and fused). Reported as
 * impl=vtag_passive when run under OMP_WAIT_POLICY=passive.
 * usage: bench_backbone THREADS BATCH SECONDS MODEL.onnx... */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "vtag/backbone.h"
#include "vtag/onnx.h"

/* VTAG_BENCH_CLOCK=cpu: process CPU time / threads instead of wall time — steadier on a loaded
 * machine under OMP_WAIT_POLICY=passive (threads then burn no CPU waiting); a tuning aid. */
static double now(int threads)
{
    const char *clk = getenv("VTAG_BENCH_CLOCK");
    if (!clk || strcmp(clk, "cpu") != 0) return omp_get_wtime();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (ts.tv_sec + ts.tv_nsec * 1e-9) / threads;
}

static int bench(const char *path, int threads, int64_t batch, double secs)
{
    vtag_ctx ctx;
    vtag_error err = {0};
    if (vtag_ctx_init(&ctx, threads, 1, &err)) return 1;
    vtag_backbone_options o;
    vtag_backbone_options_default(&o);
    o.max_batch = batch;
    vtag_backbone_t *b = NULL;
    if (vtag_backbone_open(&b, path, &o, &err)) {
        fprintf(stderr, "bench_backbone: %s\n", err.msg);
        return 1;
    }
    const vtag_backbone_info *in = vtag_backbone_get_info(b);
    int64_t s = in->size, n_img = batch * 3 * s * s;
    float *x = malloc((size_t)n_img * sizeof *x), *fc = malloc((size_t)(batch * in->d_fc) * sizeof *fc);
    float *att = malloc((size_t)(batch * in->k_att * in->d_att) * sizeof *att);
    for (int64_t i = 0; i < n_img; i++) x[i] = vtag_rng_normal(&ctx.rng);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *policy = getenv("OMP_WAIT_POLICY"); /* libgomp reads it at start-up */
    int passive = policy && (strcmp(policy, "PASSIVE") == 0 || strcmp(policy, "passive") == 0);
    int rc = vtag_backbone_run(b, &ctx, x, batch, fc, att, &err); /* warm-up: builds the plan */
    double t0 = now(threads), t = 0;
    int runs = 0;
    while (!rc && (runs < 3 || t < secs)) {
        rc = vtag_backbone_run(b, &ctx, x, batch, fc, att, &err);
        runs++;
        t = now(threads) - t0;
    }
    if (rc) fprintf(stderr, "bench_backbone: %s\n", err.msg);
    else
        printf("backbone model=%.*s impl=%s threads=%d batch=%lld runs=%d images_per_s=%.2f\n",
               (int)(strlen(name) - 5), name, passive ? "vtag_passive" : "vtag", threads, (long long)batch, runs,
               runs * batch / t);
    vtag_backbone_close(&b);

    /* profile: the same taps through the ONNX API */
    vtag_onnx_model_t *m = NULL;
    if (!rc && !passive && !(rc = vtag_onnx_open(&m, path, &err))) {
        const char *taps[2], *in_name = vtag_onnx_input(m, 0, NULL);
        vtag_onnx_default_taps(m, &taps[0], &taps[1], &err);
        vtag_onnx_tensor xin = {VTAG_ONNX_FLOAT, 4, {batch, 3, s, s}, x}, out[2];
        vtag_onnx_plan_stats st;
        rc = vtag_onnx_plan_stats_get(m, &ctx, 1, &in_name, &xin, 2, taps, &st, &err);
        if (!rc) {
            printf("  plan: %d nodes, %d BN folded into convs, %d folded as constants, %d not needed, %d steps "
                   "(%d with a fused activation, %d views), %d buffers %.1f MB (one per value: %.1f MB)\n",
                   st.nodes, st.bn_folded, st.const_folded, st.dead, st.steps, st.act_fused, st.views, st.buffers,
                   st.buffer_bytes / 1e6, st.naive_bytes / 1e6);
            vtag_onnx_profile_enable(m, 1);
            double p0 = omp_get_wtime();
            for (int r = 0; r < 2 && !rc; r++) rc = vtag_onnx_run_view(m, &ctx, 1, &in_name, &xin, 2, taps, out, &err);
            double total = omp_get_wtime() - p0;
            const char *ops[32];
            double sec[32];
            int calls[32], k = vtag_onnx_profile(m, ops, sec, calls, 32);
            double sum = 0;
            printf("  profile (2 runs, %.3f s):", total);
            for (int i = 0; i < k; i++) {
                printf(" %s %.1f%%", ops[i], 100 * sec[i] / total);
                sum += sec[i];
            }
            printf(", outside ops %.2f%%\n", 100 * (total - sum) / total);
        }
        vtag_onnx_close(&m);
    }
    free(x), free(fc), free(att);
    vtag_ctx_free(&ctx);
    return rc != 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s THREADS BATCH SECONDS MODEL.onnx...\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]), status = 0;
    int64_t batch = atoll(argv[2]);
    double secs = atof(argv[3]);
    for (int a = 4; a < argc; a++) status |= bench(argv[a], threads, batch, secs);
    return status;
}

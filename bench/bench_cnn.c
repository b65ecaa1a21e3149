/* Conv2d forward speed (bench/bench_cnn.sh): every layer shape of bench/cnn_shapes.txt at batch N
 * through vtag_conv2d_forward (bias + fused activation, as after vtag_batchnorm_fold), median ms
 * and GFLOP/s per shape, one key=value line each.
 * Usage: bench_cnn SHAPES_FILE THREADS [BATCH] [MIN_SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vtag/cnn.h"

/* VTAG_BENCH_CLOCK=cpu: process CPU time / threads, steadier than wall time on a loaded machine
 * (for comparisons while tuning, not for the reported figures). */
static clockid_t bench_clock = CLOCK_MONOTONIC;
static double clock_div = 1.0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(bench_clock, &ts);
    return ((double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec) / clock_div;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_cnn SHAPES_FILE THREADS [BATCH] [MIN_SECONDS]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    int threads = atoi(argv[2]);
    const char *only = getenv("VTAG_BENCH_ONLY"); /* a name prefix: run only those shapes */
    long batch = argc > 3 ? atol(argv[3]) : 8;
    double min_s = argc > 4 ? atof(argv[4]) : 0.3;
    const char *clk = getenv("VTAG_BENCH_CLOCK");
    if (clk && !strcmp(clk, "cpu")) bench_clock = CLOCK_PROCESS_CPUTIME_ID, clock_div = threads > 0 ? threads : 1;
    vtag_ctx ctx;
    vtag_error err = {0};
    if (vtag_ctx_init(&ctx, threads, 1, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char name[64], act_s[16];
        long count, cin, h, w, cout, k, s, p, g;
        if (line[0] == '#' ||
            sscanf(line, "%63s %ld %ld %ld %ld %ld %ld %ld %ld %ld %15s", name, &count, &cin, &h, &w, &cout, &k, &s,
                   &p, &g, act_s) != 11)
            continue;
        if (only && strncmp(name, only, strlen(only))) continue;
        vtag_act act = !strcmp(act_s, "relu") ? VTAG_ACT_RELU : !strcmp(act_s, "relu6") ? VTAG_ACT_RELU6 : VTAG_ACT_NONE;
        vtag_conv2d_dims d = {batch, cin, h, w, cout, k, k, s, s, p, p, p, p, 1, 1, g, 0, 0};
        if (vtag_conv2d_plan(&d, &err) != 0) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            return 1;
        }
        int64_t nin = d.n * cin * h * w, nw = cout * (cin / g) * k * k, nout = d.n * cout * d.h_out * d.w_out;
        float *in = malloc((size_t)nin * 4), *wt = malloc((size_t)nw * 4), *b = malloc((size_t)cout * 4);
        float *out = malloc((size_t)nout * 4);
        float *ws = malloc((size_t)(vtag_conv2d_workspace(&d, threads) + 1) * 4);
        for (int64_t i = 0; i < nin; i++) in[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (int64_t i = 0; i < nw; i++) wt[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        for (long i = 0; i < cout; i++) b[i] = 0.01f * (float)(i % 7);
        double flop = 2.0 * (double)nout * (double)(cin / g) * (double)(k * k);
        vtag_conv2d_forward(&ctx, out, in, wt, b, &d, act, ws); /* warm-up */
        double times[1000];
        int reps = 0;
        double start = now();
        const char *fixed = getenv("VTAG_BENCH_REPS"); /* a fixed count, for `perf stat` */
        int want = fixed ? atoi(fixed) : 0;
        while (reps < 1000 && (want ? reps < want : reps < 5 || now() - start < min_s)) {
            double t0 = now();
            vtag_conv2d_forward(&ctx, out, in, wt, b, &d, act, ws);
            times[reps++] = now() - t0;
        }
        qsort(times, (size_t)reps, sizeof times[0], cmp);
        double ms = 1e3 * times[reps / 2];
        printf("conv impl=vtag name=%s count=%ld threads=%d batch=%ld ms=%.3f gflops=%.1f reps=%d ms_min=%.3f\n", name,
               count, threads, batch, ms, flop / (ms * 1e6), reps, 1e3 * times[0]);
        fflush(stdout);
        free(in), free(wt), free(b), free(out), free(ws);
    }
    fclose(f);
    vtag_ctx_free(&ctx);
    return 0;
}

/* The ONNX operator tests that Debian's libonnx-testdata ships (data/node,
 * data/pytorch-converted, data/pytorch-operator): every case whose graph uses
 * only operators vtag supports runs against its stored outputs (rtol 1e-3,
 * atol 1e-7, as ONNX's backend tests); a case is skipped only when the
 * importer reports something unsupported inside it (an element type, an
 * attribute value), and the skip is listed with that reason. Prints how many
 * cases ran per operator. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "check.h"
#include "onnx.pb-c.h"
#include "vtag/onnx.h"

#ifndef ONNX_TESTDATA
#define ONNX_TESTDATA "/usr/share/libonnx-testdata/data"
#endif

#define MAX_OPS 64

static int n_supported;
static const char *supported[MAX_OPS];

static int ran_per_op[MAX_OPS];
static int n_ran, n_skipped, n_foreign, n_failed;

static int op_index(const char *op)
{
    for (int i = 0; i < n_supported; i++)
        if (strcmp(supported[i], op) == 0) return i;
    return -1;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir starting with prefix; returns count. */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    DIR *d = opendir(dir);
    *out = NULL;
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            *out = realloc(*out, (size_t)cap * sizeof **out);
        }
        (*out)[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(*out, (size_t)n, sizeof **out, cmp_str);
    return n;
}

static void free_list(char **l, int n)
{
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

/* The op types of a model (distinct), read with the generated protobuf code;
 * -1 when the file does not decode. */
static int model_ops(const char *path, int *ops_used, char *foreign, size_t fsize)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    Onnx__ModelProto *m = got == (size_t)n ? onnx__model_proto__unpack(NULL, (size_t)n, buf) : NULL;
    free(buf);
    if (!m || !m->graph) return -1;
    foreign[0] = '\0';
    memset(ops_used, 0, MAX_OPS * sizeof *ops_used);
    for (size_t i = 0; i < m->graph->n_node; i++) {
        int k = op_index(m->graph->node[i]->op_type);
        if (k >= 0)
            ops_used[k] = 1;
        else if (!foreign[0])
            snprintf(foreign, fsize, "%s", m->graph->node[i]->op_type);
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return 0;
}

static int compare(const char *where, const char *name, const vtag_onnx_tensor *got,
                   const vtag_onnx_tensor *want)
{
    if (got->dtype != want->dtype || got->ndim != want->ndim) {
        fprintf(stderr, "FAIL %s: output '%s': %s rank %d, expected %s rank %d\n", where, name,
                vtag_onnx_dtype_name(got->dtype), got->ndim, vtag_onnx_dtype_name(want->dtype), want->ndim);
        return 1;
    }
    for (int d = 0; d < got->ndim; d++)
        if (got->shape[d] != want->shape[d]) {
            fprintf(stderr, "FAIL %s: output '%s': dim %d is %lld, expected %lld\n", where, name, d,
                    (long long)got->shape[d], (long long)want->shape[d]);
            return 1;
        }
    int64_t n = vtag_onnx_tensor_numel(got);
    if (got->dtype == VTAG_ONNX_FLOAT) {
        const float *a = got->data, *b = want->data;
        for (int64_t i = 0; i < n; i++) {
            double diff = fabs((double)a[i] - (double)b[i]);
            if (!(diff <= 1e-7 + 1e-3 * fabs((double)b[i])) && !(isnan(a[i]) && isnan(b[i]))) {
                fprintf(stderr, "FAIL %s: output '%s'[%lld] = %.9g, expected %.9g\n", where, name,
                        (long long)i, a[i], b[i]);
                return 1;
            }
        }
        return 0;
    }
    if (got->dtype == VTAG_ONNX_DOUBLE) {
        const double *a = got->data, *b = want->data;
        for (int64_t i = 0; i < n; i++)
            if (!(fabs(a[i] - b[i]) <= 1e-7 + 1e-3 * fabs(b[i]))) {
                fprintf(stderr, "FAIL %s: output '%s'[%lld] = %.12g, expected %.12g\n", where, name, (long long)i, a[i],
                        b[i]);
                return 1;
            }
        return 0;
    }
    size_t bytes = (size_t)n * vtag_onnx_dtype_size(got->dtype);
    if (bytes && memcmp(got->data, want->data, bytes) != 0) {
        fprintf(stderr, "FAIL %s: output '%s' differs\n", where, name);
        return 1;
    }
    return 0;
}

/* snprintf into a path buffer; a too-long path is reported, not cut. */
#define PATHF(buf, ...)                                                                                      \
    do {                                                                                                     \
        if (snprintf(buf, sizeof buf, __VA_ARGS__) >= (int)sizeof buf) {                                     \
            fprintf(stderr, "path too long: %s\n", buf);                                                     \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

typedef enum { CASE_RAN, CASE_SKIPPED, CASE_FAILED } case_result;

/* Runs every test_data_set_* of one case directory. */
static case_result run_case(vtag_ctx *ctx, const char *dir, const char *label)
{
    char path[1024];
    PATHF(path, "%s/model.onnx", dir);
    vtag_error err = {0};
    vtag_onnx_model_t *m = NULL;
    int rc = vtag_onnx_open(&m, path, &err);
    if (rc == VTAG_ERR_UNSUPPORTED) {
        printf("skip %s: %s\n", label, err.msg);
        return CASE_SKIPPED;
    }
    if (rc) {
        fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
        return CASE_FAILED;
    }
    char **sets;
    int n_sets = list_dir(dir, "test_data_set_", &sets);
    case_result res = n_sets ? CASE_RAN : CASE_FAILED;
    if (!n_sets) fprintf(stderr, "FAIL %s: no test_data_set_*\n", label);
    for (int s = 0; s < n_sets && res == CASE_RAN; s++) { /* CASE_RAN so far */
        char sd[1024];
        PATHF(sd, "%s/%s", dir, sets[s]);
        int n_in = vtag_onnx_input_count(m), n_out = vtag_onnx_output_count(m);
        vtag_onnx_tensor *in = calloc((size_t)n_in + 1, sizeof *in),
                         *want = calloc((size_t)n_out + 1, sizeof *want);
        vtag_onnx_tensor *got = calloc((size_t)n_out + 1, sizeof *got);
        const char **in_names = calloc((size_t)n_in + 1, sizeof *in_names);
        const char **out_names = calloc((size_t)n_out + 1, sizeof *out_names);
        for (int i = 0; i < n_in && res == CASE_RAN; i++) {
            in_names[i] = vtag_onnx_input(m, i, NULL);
            PATHF(path, "%s/input_%d.pb", sd, i);
            if ((rc = vtag_onnx_tensor_read(&in[i], path, &err))) {
                if (rc == VTAG_ERR_UNSUPPORTED) printf("skip %s: %s\n", label, err.msg);
                else fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
                res = rc == VTAG_ERR_UNSUPPORTED ? CASE_SKIPPED : CASE_FAILED;
            }
        }
        for (int i = 0; i < n_out && res == CASE_RAN; i++) {
            out_names[i] = vtag_onnx_output_name(m, i);
            PATHF(path, "%s/output_%d.pb", sd, i);
            if ((rc = vtag_onnx_tensor_read(&want[i], path, &err))) {
                if (rc == VTAG_ERR_UNSUPPORTED) printf("skip %s: %s\n", label, err.msg);
                else fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
                res = rc == VTAG_ERR_UNSUPPORTED ? CASE_SKIPPED : CASE_FAILED;
            }
        }
        if (res == CASE_RAN) {
            rc = vtag_onnx_run(m, ctx, n_in, in_names, in, n_out, out_names, got, &err);
            if (rc == VTAG_ERR_UNSUPPORTED) {
                printf("skip %s: %s\n", label, err.msg);
                res = CASE_SKIPPED;
            } else if (rc) {
                fprintf(stderr, "FAIL %s: %s\n", label, err.msg);
                res = CASE_FAILED;
            } else {
                for (int i = 0; i < n_out && res == CASE_RAN; i++) {
                    char where[512];
                    PATHF(where, "%s/%s", label, sets[s]);
                    if (compare(where, out_names[i], &got[i], &want[i])) res = CASE_FAILED;
                }
                for (int i = 0; i < n_out; i++) vtag_onnx_tensor_free(&got[i]);
            }
        }
        for (int i = 0; i < n_in; i++) vtag_onnx_tensor_free(&in[i]);
        for (int i = 0; i < n_out; i++) vtag_onnx_tensor_free(&want[i]);
        free(in);
        free(want);
        free(got);
        free(in_names);
        free(out_names);
    }
    free_list(sets, n_sets);
    vtag_onnx_close(&m);
    return res;
}

static void run_root(vtag_ctx *ctx, const char *sub)
{
    char root[512];
    PATHF(root, "%s/%s", ONNX_TESTDATA, sub);
    char **cases;
    int n = list_dir(root, "test_", &cases);
    CHECK(n > 0, "no test cases under %s", root);
    for (int i = 0; i < n; i++) {
        char dir[1024], path[1100], label[600], foreign[128];
        PATHF(dir, "%s/%s", root, cases[i]);
        PATHF(path, "%s/model.onnx", dir);
        PATHF(label, "%s/%s", sub, cases[i]);
        int used[MAX_OPS];
        if (model_ops(path, used, foreign, sizeof foreign)) continue; /* not a case directory */
        if (foreign[0]) {
            /* named after a supported op but using another: say so, the others stay quiet */
            for (int k = 0; k < n_supported; k++)
                if (strncasecmp(cases[i] + 5, supported[k], strlen(supported[k])) == 0) {
                    printf("not run %s: uses %s\n", label, foreign);
                    break;
                }
            n_foreign++;
            continue;
        }
        case_result r = run_case(ctx, dir, label);
        if (r == CASE_RAN) {
            n_ran++;
            for (int k = 0; k < MAX_OPS; k++) ran_per_op[k] += used[k];
        } else if (r == CASE_SKIPPED) {
            n_skipped++;
        } else {
            n_failed++;
        }
        CHECK(r != CASE_FAILED, "%s", label);
    }
    free_list(cases, n);
}

int main(void)
{
    vtag_ctx ctx;
    vtag_error err = {0};
    if (vtag_ctx_init(&ctx, 2, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    while (n_supported < MAX_OPS && (supported[n_supported] = vtag_onnx_supported_op(n_supported))) n_supported++;
    CHECK(n_supported >= 24, "%d supported operators", n_supported);
    run_root(&ctx, "node");
    run_root(&ctx, "pytorch-converted");
    run_root(&ctx, "pytorch-operator");
    printf("cases: %d ran, %d skipped (listed above), %d failed; %d use operators vtag does not support\n",
           n_ran, n_skipped, n_failed, n_foreign);
    printf("cases run per operator:");
    for (int k = 0; k < n_supported; k++)
        printf(" %s %d%s", supported[k], ran_per_op[k], k + 1 < n_supported ? "," : "\n");
    for (int k = 0; k < n_supported; k++) CHECK(ran_per_op[k] > 0, "no case ran for %s", supported[k]);
    vtag_ctx_free(&ctx);
    return check_summary("onnx testdata");
}

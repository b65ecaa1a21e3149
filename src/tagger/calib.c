/* Per-label Platt scaling of the label scores (vtag/calib.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/calib.h"
#include "vtag/safetensors.h"

#define MAX_ITER 100
#define GLOBAL_RIDGE 1e-3 /* keeps the shared map finite when the pairs are separable */

static double logit(double s)
{
    if (s < VTAG_CALIB_EPS) s = VTAG_CALIB_EPS;
    if (s > 1 - VTAG_CALIB_EPS) s = 1 - VTAG_CALIB_EPS;
    return log(s / (1 - s));
}

static double sigmoid(double z)
{
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

/* log(1 + e^z), without overflow */
static double softplus(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* The pairs of one label (v >= 1) or of every label (v = 0). */
typedef struct pairs {
    const double *scores;
    const unsigned char *truth;
    int64_t n, stride, v;
} pairs;

/* Objective (negative log-likelihood + ridge/2 |(a, b) - prior|^2), and
 * optionally its gradient and Hessian at (a, b). */
static double objective(const pairs *p, double a, double b, const double prior[2], double ridge, double g[2],
                        double h[3])
{
    double f = 0.5 * ridge * ((a - prior[0]) * (a - prior[0]) + (b - prior[1]) * (b - prior[1]));
    if (g) g[0] = ridge * (a - prior[0]), g[1] = ridge * (b - prior[1]), h[0] = h[2] = ridge, h[1] = 0;
    const int64_t v0 = p->v ? p->v : 1, v1 = p->v ? p->v + 1 : p->stride;
    for (int64_t i = 0; i < p->n; i++)
        for (int64_t v = v0; v < v1; v++) {
            const double x = logit(p->scores[i * p->stride + v]), y = p->truth[i * p->stride + v] ? 1 : 0;
            const double z = a * x + b;
            f += softplus(z) - y * z;
            if (g) {
                const double q = sigmoid(z), w = q * (1 - q);
                g[0] += (q - y) * x, g[1] += q - y;
                h[0] += w * x * x, h[1] += w * x, h[2] += w;
            }
        }
    return f;
}

/* Newton's method from the prior, halving a step that does not lower the
 * objective (the objective is convex; ridge > 0 makes it strictly so). */
static void fit_one(const pairs *p, const double prior[2], double ridge, double *a, double *b)
{
    double x[2] = {prior[0], prior[1]};
    double g[2], h[3];
    double f = objective(p, x[0], x[1], prior, ridge, g, h);
    for (int it = 0; it < MAX_ITER; it++) {
        const double det = h[0] * h[2] - h[1] * h[1];
        if (!(det > 0) || !isfinite(det)) break;
        const double d0 = (h[2] * g[0] - h[1] * g[1]) / det, d1 = (h[0] * g[1] - h[1] * g[0]) / det;
        double t = 1;
        int k = 0;
        while (k < 40 && objective(p, x[0] - t * d0, x[1] - t * d1, prior, ridge, NULL, NULL) > f) t *= 0.5, k++;
        if (k == 40) break;
        x[0] -= t * d0, x[1] -= t * d1;
        const double moved = fabs(t * d0) + fabs(t * d1);
        f = objective(p, x[0], x[1], prior, ridge, g, h);
        if (moved < 1e-10) break;
    }
    *a = x[0] > 0 ? x[0] : 0; /* never reverse a label's ranking */
    *b = x[1];
}

static int alloc(vtag_calib *c, int64_t n_labels, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    c->a = malloc((size_t)(n_labels + 1) * sizeof *c->a);
    c->b = malloc((size_t)(n_labels + 1) * sizeof *c->b);
    if (!c->a || !c->b) {
        vtag_calib_free(c);
        return vtag_fail(err, VTAG_ERR_NOMEM, "calibration: out of memory");
    }
    c->n_labels = n_labels;
    c->a[0] = 1, c->b[0] = 0;
    return VTAG_OK;
}

int vtag_calib_fit(vtag_calib *c, const double *scores, const unsigned char *truth, int64_t n_videos, int64_t n_labels,
                   double shrink, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    size_t cells;
    if (n_videos < 1 || n_labels < 1 || n_labels > VTAG_CALIB_MAX_LABELS ||
        vtag_mul_size((size_t)n_videos, (size_t)n_labels + 1, &cells))
        return vtag_fail(err, VTAG_ERR_ARG, "calibration: %lld videos, %lld labels: needs at least one of each (at most %d labels)",
                         (long long)n_videos, (long long)n_labels, VTAG_CALIB_MAX_LABELS);
    if (!(shrink > 0) || !isfinite(shrink))
        return vtag_fail(err, VTAG_ERR_ARG, "calibration: shrink %g must be > 0", shrink);
    for (size_t k = 0; k < cells; k++)
        if (k % (size_t)(n_labels + 1) && !(scores[k] >= 0 && scores[k] <= 1))
            return vtag_fail(err, VTAG_ERR_ARG, "calibration: video %lld, label %lld: score %g is not in [0, 1]",
                             (long long)(k / (size_t)(n_labels + 1)), (long long)(k % (size_t)(n_labels + 1)), scores[k]);
    int rc = alloc(c, n_labels, err);
    if (rc) return rc;
    const double identity[2] = {1, 0};
    pairs all = {scores, truth, n_videos, n_labels + 1, 0};
    fit_one(&all, identity, GLOBAL_RIDGE, &c->a0, &c->b0);
    const double shared[2] = {c->a0, c->b0};
    for (int64_t v = 1; v <= n_labels; v++) {
        pairs one = {scores, truth, n_videos, n_labels + 1, v};
        fit_one(&one, shared, shrink, &c->a[v], &c->b[v]);
    }
    c->shrink = shrink;
    c->videos = n_videos;
    return VTAG_OK;
}

void vtag_calib_apply(const vtag_calib *c, double *scores)
{
    for (int64_t v = 1; v <= c->n_labels; v++) scores[v] = sigmoid(c->a[v] * logit(scores[v]) + c->b[v]);
}

char *vtag_calib_path(const char *checkpoint)
{
    static const char ext[] = ".safetensors", tail[] = ".calib.safetensors";
    size_t n = strlen(checkpoint), e = sizeof ext - 1;
    if (n > e && strcmp(checkpoint + n - e, ext) == 0) n -= e;
    char *p = malloc(n + sizeof tail);
    if (p) snprintf(p, n + sizeof tail, "%.*s%s", (int)n, checkpoint, tail);
    return p;
}

int vtag_calib_save(const vtag_calib *c, const char *path, vtag_error *err)
{
    const int64_t n = c->n_labels + 1;
    float *buf = malloc((size_t)(2 * n) * sizeof *buf);
    if (!buf) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t v = 0; v < n; v++) buf[v] = (float)c->a[v], buf[n + v] = (float)c->b[v];
    char meta[256];
    snprintf(meta, sizeof meta, "{\"a0\": %.9g, \"b0\": %.9g, \"shrink\": %.9g, \"videos\": %lld}", c->a0, c->b0,
             c->shrink, (long long)c->videos);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t shape[1] = {n};
    int rc = vtag_st_writer_add(&w, "a", VTAG_DTYPE_F32, 1, shape, buf, err);
    if (!rc) rc = vtag_st_writer_add(&w, "b", VTAG_DTYPE_F32, 1, shape, buf + n, err);
    if (!rc) rc = vtag_st_writer_meta(&w, "vtag.calib", meta, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    free(buf);
    return rc;
}

int vtag_calib_load(vtag_calib *c, const char *path, int64_t n_labels, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    const vtag_st_tensor *a = vtag_st_find(&f, "a"), *b = vtag_st_find(&f, "b");
    const char *meta = vtag_st_meta(&f, "vtag.calib");
    double a0 = 0, b0 = 0, shrink = 0;
    long long videos = 0;
    if (!a || !b || !meta || a->dtype != VTAG_DTYPE_F32 || b->dtype != VTAG_DTYPE_F32 || a->ndim != 1 || b->ndim != 1 ||
        a->shape[0] != b->shape[0] || a->shape[0] < 2 || a->shape[0] > VTAG_CALIB_MAX_LABELS + 1)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: not a calibration file (F32 a, b [labels + 1], vtag.calib)", path);
    else if (sscanf(meta, "{\"a0\": %lf, \"b0\": %lf, \"shrink\": %lf, \"videos\": %lld}", &a0, &b0, &shrink, &videos) != 4 ||
             !isfinite(a0) || !isfinite(b0) || !(shrink > 0) || !isfinite(shrink) || videos < 1)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.calib: a0, b0, shrink > 0 and videos >= 1 are required", path);
    else if (n_labels > 0 && a->shape[0] != n_labels + 1)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: calibrates %lld labels, the checkpoint has %lld", path,
                       (long long)(a->shape[0] - 1), (long long)n_labels);
    if (!rc) rc = alloc(c, a->shape[0] - 1, err);
    for (int64_t v = 0; !rc && v <= c->n_labels; v++) {
        const float av = ((const float *)a->data)[v], bv = ((const float *)b->data)[v];
        if (!isfinite(av) || !isfinite(bv) || av < 0)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: label %lld: a = %g, b = %g (finite, a >= 0 required)", path,
                           (long long)v, (double)av, (double)bv);
        else c->a[v] = av, c->b[v] = bv;
    }
    if (!rc) c->a0 = a0, c->b0 = b0, c->shrink = shrink, c->videos = videos;
    else vtag_calib_free(c);
    vtag_st_close(&f);
    return rc;
}

int vtag_calib_load_beside(vtag_calib *c, const char *checkpoint, int64_t n_labels, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    char *path = vtag_calib_path(checkpoint);
    if (!path) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", checkpoint);
    int rc = vtag_is_file(path) ? vtag_calib_load(c, path, n_labels, err) : VTAG_OK;
    free(path);
    return rc;
}

void vtag_calib_free(vtag_calib *c)
{
    free(c->a);
    free(c->b);
    memset(c, 0, sizeof *c);
}

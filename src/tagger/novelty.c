/* Novelty of a video in the backbone's feature space: a Gaussian of the
 * training frames (shrunk covariance, inverted once through LAPACK's
 * Cholesky routines in OpenBLAS), a video's mean squared Mahalanobis
 * distance, and the largest one among the validation videos as the
 * threshold (include/vtag/novelty.h). */
#include "vtag/novelty.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/safetensors.h"

/* LAPACK (in OpenBLAS), through its Fortran interface. */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#define NOVELTY_DIM_MAX 16384 /* fc sizes of real backbones: 512 (resnet18), 2048 (resnet50) */
#define CHUNK 1024

void vtag_novelty_free(vtag_novelty *nv)
{
    free(nv->mean);
    free(nv->precision);
    memset(nv, 0, sizeof *nv);
}

static int alloc(vtag_novelty *nv, int64_t d, vtag_error *err)
{
    memset(nv, 0, sizeof *nv);
    if (d < 1 || d > NOVELTY_DIM_MAX)
        return vtag_fail(err, VTAG_ERR_ARG, "novelty: %lld features: outside [1, %d]", (long long)d, NOVELTY_DIM_MAX);
    nv->dim = d;
    nv->mean = calloc((size_t)d, sizeof *nv->mean);
    nv->precision = calloc((size_t)(d * d), sizeof *nv->precision);
    if (!nv->mean || !nv->precision) {
        vtag_novelty_free(nv);
        return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory for %lld features", (long long)d);
    }
    return VTAG_OK;
}

/* Squared Mahalanobis distance of one row; z and y are scratch of d. */
static double distance(const vtag_novelty *nv, const float *x, double *z, double *y)
{
    const int64_t d = nv->dim;
    for (int64_t j = 0; j < d; j++) z[j] = (double)x[j] - nv->mean[j];
    cblas_dsymv(CblasRowMajor, CblasUpper, (int)d, 1.0, nv->precision, (int)d, z, 1, 0.0, y, 1);
    return cblas_ddot((int)d, z, 1, y, 1);
}

/* Mean distance of rows idx[0..n) (idx NULL: 0..n-1) of fc [*, d]. */
static int statistic(const vtag_novelty *nv, const float *fc, const int64_t *idx, int64_t n, double *out,
                     vtag_error *err)
{
    double *z = malloc(2 * (size_t)nv->dim * sizeof *z);
    if (!z) return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory");
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += distance(nv, fc + (idx ? idx[i] : i) * nv->dim, z, z + nv->dim);
    free(z);
    *out = s / (double)n;
    return isfinite(*out) ? VTAG_OK : vtag_fail(err, VTAG_ERR_FORMAT, "novelty: a distance is not finite");
}

typedef struct item_row {
    const char *item;
    int64_t row;
} item_row;

static int by_item(const void *pa, const void *pb)
{
    const item_row *a = pa, *b = pb;
    int c = strcmp(a->item, b->item);
    return c ? c : (a->row > b->row) - (a->row < b->row);
}

/* The largest video statistic of f (rows grouped by item) into *max, its video count into *videos. */
static int max_video(const vtag_novelty *nv, const vtag_data_features *f, double *max, int64_t *videos,
                     vtag_error *err)
{
    item_row *ir = malloc((size_t)f->n * sizeof *ir);
    int64_t *idx = malloc((size_t)f->n * sizeof *idx);
    if (!ir || !idx) {
        free(ir);
        free(idx);
        return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory");
    }
    for (int64_t i = 0; i < f->n; i++) ir[i] = (item_row){f->items[i], i};
    qsort(ir, (size_t)f->n, sizeof *ir, by_item);
    int rc = VTAG_OK;
    *max = 0;
    *videos = 0;
    for (int64_t a = 0, b; !rc && a < f->n; a = b) {
        for (b = a; b < f->n && strcmp(ir[b].item, ir[a].item) == 0; b++) idx[b - a] = ir[b].row;
        double s;
        rc = statistic(nv, f->fc, idx, b - a, &s, err);
        if (!rc && s > *max) *max = s;
        (*videos)++;
    }
    free(ir);
    free(idx);
    return rc;
}

int vtag_novelty_fit(vtag_novelty *nv, const vtag_data_features *train, const vtag_data_features *val, double shrink,
                     vtag_error *err)
{
    memset(nv, 0, sizeof *nv);
    if (!train->fc || train->n < 2)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: novelty needs fc features of at least 2 frames", train->path ? train->path : "features");
    if (val && (!val->fc || val->fc_dim != train->fc_dim || val->n < 1))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: novelty needs fc features of %lld values", val->path ? val->path : "features",
                         (long long)train->fc_dim);
    if (!(shrink > 0 && shrink <= 1)) return vtag_fail(err, VTAG_ERR_ARG, "novelty: shrinkage %g outside (0, 1]", shrink);
    const int64_t d = train->fc_dim, n = train->n;
    int rc = alloc(nv, d, err);
    if (rc) return rc;
    double *z = malloc((size_t)(CHUNK * d) * sizeof *z);
    if (!z) {
        vtag_novelty_free(nv);
        return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) nv->mean[j] += train->fc[i * d + j];
    for (int64_t j = 0; j < d; j++) nv->mean[j] /= (double)n;
    double *c = nv->precision; /* the covariance first, inverted in place */
    for (int64_t a = 0; a < n; a += CHUNK) {
        const int64_t m = n - a < CHUNK ? n - a : CHUNK;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < d; j++) z[i * d + j] = (double)train->fc[(a + i) * d + j] - nv->mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)m, 1.0, z, (int)d, 1.0, c, (int)d);
    }
    free(z);
    double trace = 0;
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) c[j * d + i] = c[i * d + j] /= (double)(n - 1);
    for (int64_t i = 0; i < d; i++) trace += c[i * d + i];
    const double lambda = shrink * (trace > 0 ? trace / (double)d : 1.0);
    for (int64_t i = 0; i < d; i++) c[i * d + i] += lambda;
    /* Symmetric, so row- and column-major agree: Cholesky, then the inverse. */
    int dn = (int)d, info = 0;
    dpotrf_("L", &dn, c, &dn, &info);
    if (info == 0) dpotri_("L", &dn, c, &dn, &info);
    if (info != 0) {
        vtag_novelty_free(nv);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: the features' covariance cannot be inverted (LAPACK info %d)",
                         train->path ? train->path : "features", info);
    }
    for (int64_t j = 0; j < d; j++) /* column-major lower (row i >= col j at [i + j d]) to both halves */
        for (int64_t i = j + 1; i < d; i++) c[i * d + j] = c[i + j * d];
    nv->shrink = shrink;
    nv->train_rows = n;
    int64_t videos = 0;
    rc = max_video(nv, val ? val : train, &nv->threshold, &videos, err);
    nv->val_videos = val ? videos : 0;
    if (!rc && !(nv->threshold > 0))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: every frame is the same: no novelty threshold",
                       train->path ? train->path : "features");
    if (rc) vtag_novelty_free(nv);
    return rc;
}

int vtag_novelty_video(const vtag_novelty *nv, const float *fc, int64_t n, double *novelty, vtag_error *err)
{
    if (n < 1 || !fc) return vtag_fail(err, VTAG_ERR_ARG, "novelty: no frame");
    double s;
    int rc = statistic(nv, fc, NULL, n, &s, err);
    if (!rc) *novelty = s / nv->threshold;
    return rc;
}

int vtag_novelty_rows(const vtag_novelty *nv, const vtag_data_features *f, const int64_t *idx, int64_t n,
                      double *novelty, vtag_error *err)
{
    if (!f->fc || f->fc_dim != nv->dim)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: novelty needs fc features of %lld values", f->path ? f->path : "features",
                         (long long)nv->dim);
    if (n < 1) return vtag_fail(err, VTAG_ERR_ARG, "novelty: no frame");
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= f->n) return vtag_fail(err, VTAG_ERR_ARG, "novelty: row %lld out of range", (long long)idx[i]);
    double s;
    int rc = statistic(nv, f->fc, idx, n, &s, err);
    if (!rc) *novelty = s / nv->threshold;
    return rc;
}

char *vtag_novelty_path(const char *checkpoint)
{
    static const char ext[] = ".safetensors";
    size_t n = strlen(checkpoint), e = sizeof ext - 1;
    if (n > e && strcmp(checkpoint + n - e, ext) == 0) n -= e;
    char *p = malloc(n + sizeof ".novelty.safetensors");
    if (p) snprintf(p, n + sizeof ".novelty.safetensors", "%.*s.novelty.safetensors", (int)n, checkpoint);
    return p;
}

int vtag_novelty_save(const vtag_novelty *nv, const char *path, vtag_error *err)
{
    const int64_t d = nv->dim;
    float *buf = malloc((size_t)(d + d * d) * sizeof *buf);
    if (!buf) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; i < d; i++) buf[i] = (float)nv->mean[i];
    for (int64_t i = 0; i < d * d; i++) buf[d + i] = (float)nv->precision[i];
    char meta[256];
    snprintf(meta, sizeof meta, "{\"threshold\": %.17g, \"shrink\": %.17g, \"train_rows\": %lld, \"val_videos\": %lld}",
             nv->threshold, nv->shrink, (long long)nv->train_rows, (long long)nv->val_videos);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t s1[1] = {d}, s2[2] = {d, d};
    int rc = vtag_st_writer_add(&w, "mean", VTAG_DTYPE_F32, 1, s1, buf, err);
    if (!rc) rc = vtag_st_writer_add(&w, "precision", VTAG_DTYPE_F32, 2, s2, buf + d, err);
    if (!rc) rc = vtag_st_writer_meta(&w, "vtag.novelty", meta, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    free(buf);
    return rc;
}

int vtag_novelty_load_beside(vtag_novelty *nv, const char *checkpoint, vtag_error *err)
{
    memset(nv, 0, sizeof *nv);
    char *path = vtag_novelty_path(checkpoint);
    if (!path) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", checkpoint);
    int rc = vtag_is_file(path) ? vtag_novelty_load(nv, path, err) : VTAG_OK;
    free(path);
    return rc;
}

int vtag_novelty_load(vtag_novelty *nv, const char *path, vtag_error *err)
{
    memset(nv, 0, sizeof *nv);
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    const vtag_st_tensor *m = vtag_st_find(&f, "mean"), *p = vtag_st_find(&f, "precision");
    const char *meta = vtag_st_meta(&f, "vtag.novelty");
    double threshold = 0, shrink = 0;
    long long rows = 0, videos = 0;
    if (!m || !p || !meta || m->dtype != VTAG_DTYPE_F32 || p->dtype != VTAG_DTYPE_F32 || m->ndim != 1 || p->ndim != 2 ||
        p->shape[0] != m->shape[0] || p->shape[1] != m->shape[0])
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: not a novelty file (F32 mean [d], precision [d, d], vtag.novelty)", path);
    else if (sscanf(meta, "{\"threshold\": %lf, \"shrink\": %lf, \"train_rows\": %lld, \"val_videos\": %lld}", &threshold,
                    &shrink, &rows, &videos) != 4 || !(threshold > 0) || !isfinite(threshold))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.novelty: a threshold > 0 is required", path);
    if (!rc) rc = alloc(nv, m->shape[0], err);
    const int64_t d = nv->dim;
    for (int64_t i = 0; !rc && i < d + d * d; i++) {
        float v = i < d ? ((const float *)m->data)[i] : ((const float *)p->data)[i - d];
        if (!isfinite(v)) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: a value is not finite", path);
        else if (i < d) nv->mean[i] = v;
        else nv->precision[i - d] = v;
    }
    if (!rc) {
        nv->threshold = threshold, nv->shrink = shrink;
        nv->train_rows = rows, nv->val_videos = videos;
    } else {
        vtag_novelty_free(nv);
    }
    vtag_st_close(&f);
    return rc;
}

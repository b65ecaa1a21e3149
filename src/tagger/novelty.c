/* Novelty of a video in the backbone's feature space (and, where the
 * features carry them, in 14 pixel statistics of its frames): a Gaussian of the
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
#define PIX VTAG_NOVELTY_PIX

void vtag_novelty_free(vtag_novelty *nv)
{
    free(nv->mean);
    free(nv->precision);
    free(nv->pix_mean);
    free(nv->pix_precision);
    memset(nv, 0, sizeof *nv);
}

static int alloc(vtag_novelty *nv, int64_t d, int pix, vtag_error *err)
{
    memset(nv, 0, sizeof *nv);
    if (d < 1 || d > NOVELTY_DIM_MAX)
        return vtag_fail(err, VTAG_ERR_ARG, "novelty: %lld features: outside [1, %d]", (long long)d, NOVELTY_DIM_MAX);
    nv->dim = d;
    nv->mean = calloc((size_t)d, sizeof *nv->mean);
    nv->precision = calloc((size_t)(d * d), sizeof *nv->precision);
    if (pix) {
        nv->pix_mean = calloc(PIX, sizeof *nv->pix_mean);
        nv->pix_precision = calloc(PIX * PIX, sizeof *nv->pix_precision);
    }
    if (!nv->mean || !nv->precision || (pix && (!nv->pix_mean || !nv->pix_precision))) {
        vtag_novelty_free(nv);
        return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory for %lld features", (long long)d);
    }
    return VTAG_OK;
}

void vtag_novelty_pixel_stats(const uint8_t *rgb, int64_t side, float out[VTAG_NOVELTY_PIX])
{
    memset(out, 0, VTAG_NOVELTY_PIX * sizeof *out);
    const int64_t s = side;
    if (s < 1) return;
    /* Integer sums (side <= VTAG_VIDEO_MAX_SIDE: no overflow), exact whatever the order. */
    int64_t sum[3] = {0}, sq[3] = {0}, dh[3] = {0}, dv[3] = {0}, spread = 0, lap = 0;
    for (int64_t i = 0; i < s; i++)
        for (int64_t j = 0; j < s; j++) {
            const uint8_t *p = rgb + (i * s + j) * 3;
            int lo = p[0], hi = p[0];
            for (int c = 0; c < 3; c++) {
                const int v = p[c];
                sum[c] += v, sq[c] += v * v;
                if (j + 1 < s) dh[c] += abs(p[3 + c] - v);
                if (i + 1 < s) dv[c] += abs(p[3 * s + c] - v);
                lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            }
            spread += hi - lo;
        }
    /* 3 g of a pixel: the channel sum */
#define G3(i, j) ((int64_t)rgb[((i) * s + (j)) * 3] + rgb[((i) * s + (j)) * 3 + 1] + rgb[((i) * s + (j)) * 3 + 2])
    for (int64_t i = 1; i + 1 < s; i++)
        for (int64_t j = 1; j + 1 < s; j++) {
            const int64_t v = 4 * G3(i, j) - G3(i - 1, j) - G3(i + 1, j) - G3(i, j - 1) - G3(i, j + 1);
            lap += v < 0 ? -v : v;
        }
#undef G3
    const double n = (double)(s * s), u = 255.0;
    for (int c = 0; c < 3; c++) {
        const double var = ((double)s * s * (double)sq[c] - (double)sum[c] * (double)sum[c]) / (n * n);
        out[c] = (float)((double)sum[c] / n / u);
        out[3 + c] = (float)(sqrt(var > 0 ? var : 0) / u);
        if (s > 1) {
            out[6 + c] = (float)((double)dh[c] / (double)(s * (s - 1)) / u);
            out[9 + c] = (float)((double)dv[c] / (double)(s * (s - 1)) / u);
        }
    }
    out[12] = (float)((double)spread / n / u);
    if (s > 2) out[13] = (float)((double)lap / 3.0 / (double)((s - 2) * (s - 2)) / u);
}

/* One Gaussian: d values, mean (d), precision (d, d) S^-1. */
typedef struct gauss {
    int64_t d;
    double *mean, *precision;
} gauss;

static gauss fc_gauss(const vtag_novelty *nv) { return (gauss){nv->dim, nv->mean, nv->precision}; }
static gauss pix_gauss(const vtag_novelty *nv) { return (gauss){PIX, nv->pix_mean, nv->pix_precision}; }

/* Squared Mahalanobis distance of one row; z and y are scratch of d. */
static double distance(gauss g, const float *x, double *z, double *y)
{
    const int64_t d = g.d;
    for (int64_t j = 0; j < d; j++) z[j] = (double)x[j] - g.mean[j];
    cblas_dsymv(CblasRowMajor, CblasUpper, (int)d, 1.0, g.precision, (int)d, z, 1, 0.0, y, 1);
    return cblas_ddot((int)d, z, 1, y, 1);
}

/* Mean distance of rows idx[0..n) (idx NULL: 0..n-1) of x [*, d]. */
static int statistic(gauss g, const float *x, const int64_t *idx, int64_t n, double *out, vtag_error *err)
{
    double *z = malloc(2 * (size_t)g.d * sizeof *z);
    if (!z) return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory");
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += distance(g, x + (idx ? idx[i] : i) * g.d, z, z + g.d);
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

/* The largest video statistic of the rows x [f->n, d] of f (grouped by item)
 * into *max, its video count into *videos. */
static int max_video(gauss g, const vtag_data_features *f, const float *x, double *max, int64_t *videos,
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
        rc = statistic(g, x, idx, b - a, &s, err);
        if (!rc && s > *max) *max = s;
        (*videos)++;
    }
    free(ir);
    free(idx);
    return rc;
}

/* The mean and the shrunk covariance's inverse of n rows x [n, d] into g. */
static int fit_gauss(gauss g, const float *x, int64_t n, double shrink, const char *path, vtag_error *err)
{
    const int64_t d = g.d;
    double *z = malloc((size_t)(CHUNK * d) * sizeof *z);
    if (!z) return vtag_fail(err, VTAG_ERR_NOMEM, "novelty: out of memory");
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) g.mean[j] += x[i * d + j];
    for (int64_t j = 0; j < d; j++) g.mean[j] /= (double)n;
    double *c = g.precision; /* the covariance first, inverted in place */
    for (int64_t a = 0; a < n; a += CHUNK) {
        const int64_t m = n - a < CHUNK ? n - a : CHUNK;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < d; j++) z[i * d + j] = (double)x[(a + i) * d + j] - g.mean[j];
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
    if (info != 0)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: the features' covariance cannot be inverted (LAPACK info %d)", path,
                         info);
    for (int64_t j = 0; j < d; j++) /* column-major lower (row i >= col j at [i + j d]) to both halves */
        for (int64_t i = j + 1; i < d; i++) c[i * d + j] = c[i + j * d];
    return VTAG_OK;
}

int vtag_novelty_fit(vtag_novelty *nv, const vtag_data_features *train, const vtag_data_features *val, double shrink,
                     vtag_error *err)
{
    memset(nv, 0, sizeof *nv);
    const char *path = train->path ? train->path : "features";
    if (!train->fc || train->n < 2)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: novelty needs fc features of at least 2 frames", path);
    if (val && (!val->fc || val->fc_dim != train->fc_dim || val->n < 1))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: novelty needs fc features of %lld values", val->path ? val->path : "features",
                         (long long)train->fc_dim);
    if (!(shrink > 0 && shrink <= 1)) return vtag_fail(err, VTAG_ERR_ARG, "novelty: shrinkage %g outside (0, 1]", shrink);
    const int pix = train->pix && (!val || val->pix);
    int rc = alloc(nv, train->fc_dim, pix, err);
    if (rc) return rc;
    const vtag_data_features *v = val ? val : train;
    int64_t videos = 0;
    rc = fit_gauss(fc_gauss(nv), train->fc, train->n, shrink, path, err);
    if (!rc) rc = max_video(fc_gauss(nv), v, v->fc, &nv->threshold, &videos, err);
    if (!rc && !(nv->threshold > 0))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: every frame is the same: no novelty threshold", path);
    nv->shrink = shrink;
    nv->train_rows = train->n;
    nv->val_videos = val ? videos : 0;
    if (!rc && pix) {
        rc = fit_gauss(pix_gauss(nv), train->pix, train->n, VTAG_NOVELTY_PIX_SHRINK, path, err);
        if (!rc) rc = max_video(pix_gauss(nv), v, v->pix, &nv->pix_threshold, &videos, err);
        nv->pix_shrink = VTAG_NOVELTY_PIX_SHRINK;
        if (!rc && !(nv->pix_threshold > 0)) { /* every validation video on the mean: no pixel model */
            free(nv->pix_mean), free(nv->pix_precision);
            nv->pix_mean = nv->pix_precision = NULL;
            nv->pix_shrink = nv->pix_threshold = 0;
        }
    }
    if (rc) vtag_novelty_free(nv);
    return rc;
}

/* The novelty of rows idx[0..n) (NULL: 0..n-1) of fc [*, dim] and pix [*, PIX] (NULL: fc only). */
static int novelty_of(const vtag_novelty *nv, const float *fc, const float *pix, const int64_t *idx, int64_t n,
                      double *novelty, vtag_error *err)
{
    double s;
    int rc = statistic(fc_gauss(nv), fc, idx, n, &s, err);
    if (rc) return rc;
    double out = s / nv->threshold;
    if (pix && nv->pix_mean) {
        if ((rc = statistic(pix_gauss(nv), pix, idx, n, &s, err))) return rc;
        if (s / nv->pix_threshold > out) out = s / nv->pix_threshold;
    }
    *novelty = out;
    return VTAG_OK;
}

int vtag_novelty_video(const vtag_novelty *nv, const float *fc, const float *pix, int64_t n, double *novelty,
                       vtag_error *err)
{
    if (n < 1 || !fc) return vtag_fail(err, VTAG_ERR_ARG, "novelty: no frame");
    return novelty_of(nv, fc, pix, NULL, n, novelty, err);
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
    return novelty_of(nv, f->fc, f->pix, idx, n, novelty, err);
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
    const int64_t d = nv->dim, np = PIX + PIX * PIX;
    float *buf = malloc((size_t)(d + d * d + np) * sizeof *buf), *pb = buf ? buf + d + d * d : NULL;
    if (!buf) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t i = 0; i < d; i++) buf[i] = (float)nv->mean[i];
    for (int64_t i = 0; i < d * d; i++) buf[d + i] = (float)nv->precision[i];
    for (int64_t i = 0; nv->pix_mean && i < np; i++)
        pb[i] = (float)(i < PIX ? nv->pix_mean[i] : nv->pix_precision[i - PIX]);
    char pmeta[128];
    snprintf(pmeta, sizeof pmeta, "{\"threshold\": %.17g, \"shrink\": %.17g}", nv->pix_threshold, nv->pix_shrink);
    char meta[256];
    snprintf(meta, sizeof meta, "{\"threshold\": %.17g, \"shrink\": %.17g, \"train_rows\": %lld, \"val_videos\": %lld}",
             nv->threshold, nv->shrink, (long long)nv->train_rows, (long long)nv->val_videos);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t s1[1] = {d}, s2[2] = {d, d}, p1[1] = {PIX}, p2[2] = {PIX, PIX};
    int rc = vtag_st_writer_add(&w, "mean", VTAG_DTYPE_F32, 1, s1, buf, err);
    if (!rc) rc = vtag_st_writer_add(&w, "precision", VTAG_DTYPE_F32, 2, s2, buf + d, err);
    if (!rc) rc = vtag_st_writer_meta(&w, "vtag.novelty", meta, err);
    if (!rc && nv->pix_mean) rc = vtag_st_writer_add(&w, "pix_mean", VTAG_DTYPE_F32, 1, p1, pb, err);
    if (!rc && nv->pix_mean) rc = vtag_st_writer_add(&w, "pix_precision", VTAG_DTYPE_F32, 2, p2, pb + PIX, err);
    if (!rc && nv->pix_mean) rc = vtag_st_writer_meta(&w, "vtag.novelty.pix", pmeta, err);
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
    /* the pixel Gaussian, optional (files before it have none) */
    const vtag_st_tensor *pm = vtag_st_find(&f, "pix_mean"), *pp = vtag_st_find(&f, "pix_precision");
    const char *pmeta = vtag_st_meta(&f, "vtag.novelty.pix");
    double pix_threshold = 0, pix_shrink = 0;
    const int pix = pm || pp || pmeta;
    if (!rc && pix &&
        (!pm || !pp || !pmeta || pm->dtype != VTAG_DTYPE_F32 || pp->dtype != VTAG_DTYPE_F32 || pm->ndim != 1 ||
         pp->ndim != 2 || pm->shape[0] != PIX || pp->shape[0] != PIX || pp->shape[1] != PIX))
        rc = vtag_fail(err, VTAG_ERR_FORMAT,
                       "%s: a pixel Gaussian needs F32 pix_mean [%d], pix_precision [%d, %d] and vtag.novelty.pix", path,
                       PIX, PIX, PIX);
    else if (!rc && pix &&
             (sscanf(pmeta, "{\"threshold\": %lf, \"shrink\": %lf}", &pix_threshold, &pix_shrink) != 2 ||
              !(pix_threshold > 0) || !isfinite(pix_threshold)))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.novelty.pix: a threshold > 0 is required", path);
    if (!rc) rc = alloc(nv, m->shape[0], pix, err);
    const int64_t d = nv->dim;
    for (int64_t i = 0; !rc && i < d + d * d; i++) {
        float v = i < d ? ((const float *)m->data)[i] : ((const float *)p->data)[i - d];
        if (!isfinite(v)) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: a value is not finite", path);
        else if (i < d) nv->mean[i] = v;
        else nv->precision[i - d] = v;
    }
    for (int64_t i = 0; !rc && pix && i < PIX + PIX * PIX; i++) {
        float v = i < PIX ? ((const float *)pm->data)[i] : ((const float *)pp->data)[i - PIX];
        if (!isfinite(v)) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: a value is not finite", path);
        else if (i < PIX) nv->pix_mean[i] = v;
        else nv->pix_precision[i - PIX] = v;
    }
    if (!rc) {
        nv->threshold = threshold, nv->shrink = shrink;
        nv->train_rows = rows, nv->val_videos = videos;
        nv->pix_threshold = pix_threshold, nv->pix_shrink = pix_shrink;
    } else {
        vtag_novelty_free(nv);
    }
    vtag_st_close(&f);
    return rc;
}

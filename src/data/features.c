/* Features files (SPEC §8): safetensors with fc [N, D_fc] and/or
 * att [N, K, D_att] (F32), the row's item ids (metadata vtag.items, or the
 * U8 tensor "items" when they are many), vtag.backbone and optionally
 * pix [N, 14] (the frames' pixel statistics, for the novelty); reading
 * validates shapes and item ids, writing is atomic. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "vtag/safetensors.h"
#include "vtag/provenance.h"

#define META_ITEMS "vtag.items"
#define TENSOR_ITEMS "items"
#define META_BACKBONE "vtag.backbone"
#define TENSOR_PIX "pix"
#define PIX_DIM 14 /* VTAG_NOVELTY_PIX (vtag/novelty.h) */

/* Item ids whose JSON is at most this long go into the metadata vtag.items,
 * readable by every reader of the format; longer lists (≈ 160 000 rows of
 * 100-byte ids) into the U8 tensor "items", which the safetensors header
 * limit does not bound and which is read in place, not parsed as JSON. */
#define ITEMS_META_MAX ((size_t)16 << 20)

void vtag_data_free_features(vtag_data_features *f)
{
    if (f->impl) {
        vtag_st_close(&f->impl->file);
        data_pool_free(&f->impl->pool);
        free(f->impl);
    }
    free(f->path);
    memset(f, 0, sizeof *f);
}

static void shape_text(const vtag_st_tensor *t, char *buf, size_t cap)
{
    int at = snprintf(buf, cap, "%s [", vtag_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && at > 0 && (size_t)at < cap; i++)
        at += snprintf(buf + at, cap - (size_t)at, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (at > 0 && (size_t)at < cap) snprintf(buf + at, cap - (size_t)at, "]");
}

static int check_tensor(const vtag_st_tensor *t, int ndim, const char *want, const char *path, vtag_error *err)
{
    int ok = t->dtype == VTAG_DTYPE_F32 && t->ndim == ndim;
    for (int i = 1; ok && i < ndim; i++) ok = t->shape[i] > 0;
    if (ok) return VTAG_OK;
    char got[128];
    shape_text(t, got, sizeof got);
    return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" must be F32 %s, got %s", path, t->name, want, got);
}

/* The tensor "items": U8 [bytes], the N ids in row order, each followed by a
 * NUL; each non-empty UTF-8. The ids point into the mapping; consecutive
 * equal ids share one pointer, as vtag_data_map_rows expects. */
static int read_items_tensor(vtag_data_features *f, const vtag_st_tensor *t, const char *path, vtag_error *err)
{
    if (t->dtype != VTAG_DTYPE_U8 || t->ndim != 1 || t->nbytes == 0)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" must be U8 [bytes]", path, TENSOR_ITEMS);
    const char *b = t->data;
    const size_t size = t->nbytes;
    if (b[size - 1] != '\0')
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" does not end with a NUL", path, TENSOR_ITEMS);
    const char **items = data_pool_alloc(&f->impl->pool, (size_t)(f->n ? f->n : 1) * sizeof *items, sizeof *items);
    if (!items) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    int64_t i = 0;
    for (size_t at = 0; at < size; i++) {
        const char *s = b + at;
        const size_t len = strlen(s); /* stops at the final NUL at the latest */
        if (i >= f->n)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s holds more than %lld ids", path, TENSOR_ITEMS, (long long)f->n);
        if (len == 0 || vtag_utf8_valid_prefix(s, len) != len)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s[%lld] is not a non-empty UTF-8 string", path, TENSOR_ITEMS,
                             (long long)i);
        items[i] = i > 0 && strcmp(items[i - 1], s) == 0 ? items[i - 1] : s;
        at += len + 1;
    }
    if (i != f->n)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s has %lld ids for %lld rows", path, TENSOR_ITEMS, (long long)i,
                         (long long)f->n);
    f->items = items;
    return VTAG_OK;
}

static int read_items(vtag_data_features *f, const vtag_st_tensor *tensor, const char *path, vtag_error *err)
{
    const char *meta = vtag_st_meta(&f->impl->file, META_ITEMS);
    if (meta && tensor)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: both the metadata \"%s\" and the tensor \"%s\" (one only)", path,
                         META_ITEMS, TENSOR_ITEMS);
    if (tensor) return read_items_tensor(f, tensor, path, err);
    if (!meta)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: missing metadata \"%s\" (or tensor \"%s\")", path, META_ITEMS,
                         TENSOR_ITEMS);
    json_error_t jerr;
    json_t *arr = json_loads(meta, 0, &jerr);
    if (!arr) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: invalid JSON: %s", path, META_ITEMS, jerr.text);
    int rc = VTAG_OK;
    if (!json_is_array(arr)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s must be a JSON array of item ids", path, META_ITEMS);
    } else if ((int64_t)json_array_size(arr) != f->n) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s has %lld ids for %lld rows", path, META_ITEMS,
                       (long long)json_array_size(arr), (long long)f->n);
    } else {
        const char **items = data_pool_alloc(&f->impl->pool, (size_t)(f->n ? f->n : 1) * sizeof *items, sizeof *items);
        if (!items) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        for (int64_t i = 0; !rc && i < f->n; i++) {
            json_t *s = json_array_get(arr, (size_t)i);
            if (!json_is_string(s) || json_string_length(s) == 0) {
                rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s[%lld] is not a non-empty string", path, META_ITEMS,
                               (long long)i);
                break;
            }
            /* Rows of one video usually follow each other: share the copy. */
            if (i > 0 && strcmp(items[i - 1], json_string_value(s)) == 0) {
                items[i] = items[i - 1];
                continue;
            }
            char *copy = data_pool_strndup(&f->impl->pool, json_string_value(s), json_string_length(s));
            if (!copy) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
            items[i] = copy;
        }
        f->items = items;
    }
    json_decref(arr);
    return rc;
}

/* The backbone's identity in vtag.backbone (vtag/provenance.h), checked
 * when it has one; its users parse it again where they compare it. */
static int read_identity(const vtag_data_features *f, const char *path, vtag_error *err)
{
    vtag_backbone_identity id;
    int known = 0;
    return vtag_provenance_backbone_parse(&id, &known, f->backbone, path, err);
}

int vtag_data_read_features(vtag_data_features *f, const char *path, vtag_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->impl = calloc(1, sizeof *f->impl);
    if (!f->path || !f->impl) {
        vtag_data_free_features(f);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    int rc = vtag_st_open(&f->impl->file, path, err);
    if (rc) goto fail;
    const vtag_st_file *st = &f->impl->file;
    const vtag_st_tensor *fc = NULL, *att = NULL, *items = NULL, *pix = NULL;
    for (int i = 0; i < st->count; i++) {
        const vtag_st_tensor *t = &st->tensors[i];
        if (strcmp(t->name, "fc") == 0) fc = t;
        else if (strcmp(t->name, "att") == 0) att = t;
        else if (strcmp(t->name, TENSOR_ITEMS) == 0) items = t;
        else if (strcmp(t->name, TENSOR_PIX) == 0) pix = t;
        else {
            rc = vtag_fail(err, VTAG_ERR_FORMAT,
                           "%s: unexpected tensor \"%.64s\" (a features file holds fc and/or att, pix and items)",
                           path, t->name);
            goto fail;
        }
    }
    if (!fc && !att) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no \"fc\" or \"att\" tensor", path);
        goto fail;
    }
    if (fc && (rc = check_tensor(fc, 2, "[N, D_fc]", path, err))) goto fail;
    if (att && (rc = check_tensor(att, 3, "[N, K, D_att]", path, err))) goto fail;
    if (fc && att && fc->shape[0] != att->shape[0]) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: fc has %lld rows but att has %lld", path, (long long)fc->shape[0],
                       (long long)att->shape[0]);
        goto fail;
    }
    f->n = fc ? fc->shape[0] : att->shape[0];
    if (pix && (rc = check_tensor(pix, 2, "[N, 14]", path, err))) goto fail;
    if (pix && (pix->shape[0] != f->n || pix->shape[1] != PIX_DIM)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: pix must be F32 [%lld, %d], got [%lld, %lld]", path, (long long)f->n,
                       PIX_DIM, (long long)pix->shape[0], (long long)pix->shape[1]);
        goto fail;
    }
    if (pix) {
        const float *v = pix->data;
        for (int64_t i = 0; i < f->n * PIX_DIM; i++)
            if (!isfinite(v[i])) {
                rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: pix[%lld][%lld] is not finite", path, (long long)(i / PIX_DIM),
                               (long long)(i % PIX_DIM));
                goto fail;
            }
        f->pix = v;
    }
    if (fc) {
        f->fc = fc->data;
        f->fc_dim = fc->shape[1];
    }
    if (att) {
        f->att = att->data;
        f->att_k = att->shape[1];
        f->att_dim = att->shape[2];
    }
    if ((rc = read_items(f, items, path, err))) goto fail;
    f->backbone = vtag_st_meta(st, META_BACKBONE);
    if ((rc = read_identity(f, path, err))) goto fail;
    return VTAG_OK;
fail:
    vtag_data_free_features(f);
    return rc;
}

/* The ids as the JSON of vtag.items (malloc'd), or NULL with *big set when
 * they would pass ITEMS_META_MAX. */
static char *items_json(const vtag_data_features *f, int64_t raw, int *big, const char *path, vtag_error *err)
{
    *big = (uint64_t)raw > ITEMS_META_MAX;
    if (*big) return NULL;
    json_t *arr = json_array();
    int ok = arr != NULL;
    for (int64_t i = 0; ok && i < f->n; i++) ok = json_array_append_new(arr, json_string(f->items[i])) == 0;
    char *text = ok ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!text) vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    else if (strlen(text) > ITEMS_META_MAX) { /* escapes made it longer */
        free(text);
        text = NULL;
        *big = 1;
    }
    return text;
}

int vtag_data_write_features(const vtag_data_features *f, const char *path, vtag_error *err)
{
    if (f->n < 1) return vtag_fail(err, VTAG_ERR_ARG, "%s: features need at least one row", path);
    if (!f->fc && !f->att) return vtag_fail(err, VTAG_ERR_ARG, "%s: features need fc or att", path);
    if ((f->fc && f->fc_dim < 1) || (f->att && (f->att_k < 1 || f->att_dim < 1)))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: feature sizes must be positive", path);
    if (!f->items) return vtag_fail(err, VTAG_ERR_ARG, "%s: features need item ids", path);
    /* What the reader refuses is not written: an empty or non-UTF-8 id. */
    int64_t raw = 0;
    for (int64_t i = 0; i < f->n; i++) {
        const size_t len = f->items[i] ? strlen(f->items[i]) : 0;
        if (len == 0) return vtag_fail(err, VTAG_ERR_ARG, "%s: item %lld is empty", path, (long long)i);
        if (vtag_utf8_valid_prefix(f->items[i], len) != len)
            return vtag_fail(err, VTAG_ERR_ARG, "%s: item %lld is not valid UTF-8", path, (long long)i);
        if (vtag_add_i64(raw, (int64_t)len + 1, &raw))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: the item ids are too large", path);
    }
    int big = 0;
    char *json = items_json(f, raw, &big, path, err), *blob = NULL;
    if (!json && !big) return err ? err->code : VTAG_ERR_NOMEM;
    if (big) {
        if (!(blob = malloc((size_t)raw)))
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)raw);
        size_t at = 0;
        for (int64_t i = 0; i < f->n; i++) {
            const size_t len = strlen(f->items[i]) + 1;
            memcpy(blob + at, f->items[i], len);
            at += len;
        }
    }
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t fc_shape[2] = {f->n, f->fc_dim}, att_shape[3] = {f->n, f->att_k, f->att_dim}, blob_shape[1] = {raw},
            pix_shape[2] = {f->n, PIX_DIM};
    int rc = VTAG_OK;
    if (f->fc) rc = vtag_st_writer_add(&w, "fc", VTAG_DTYPE_F32, 2, fc_shape, f->fc, err);
    if (!rc && f->att) rc = vtag_st_writer_add(&w, "att", VTAG_DTYPE_F32, 3, att_shape, f->att, err);
    if (!rc && f->pix) rc = vtag_st_writer_add(&w, TENSOR_PIX, VTAG_DTYPE_F32, 2, pix_shape, f->pix, err);
    if (!rc && blob) rc = vtag_st_writer_add(&w, TENSOR_ITEMS, VTAG_DTYPE_U8, 1, blob_shape, blob, err);
    if (!rc && json) rc = vtag_st_writer_meta(&w, META_ITEMS, json, err);
    if (!rc && f->backbone) rc = vtag_st_writer_meta(&w, META_BACKBONE, f->backbone, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    free(json);
    free(blob);
    return rc;
}

int vtag_data_map_rows(const vtag_data_features *f, const vtag_data_labels *l, int64_t *entry, vtag_error *err)
{
    for (int64_t r = 0; r < f->n; r++) {
        /* Consecutive rows of one video share the item pointer. */
        if (r > 0 && f->items[r] == f->items[r - 1]) {
            entry[r] = entry[r - 1];
            continue;
        }
        entry[r] = vtag_data_find_video(l, f->items[r]);
        if (entry[r] < 0)
            return vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: item \"%.200s\" (row %lld) is not in %s",
                             f->path ? f->path : "features", f->items[r], (long long)r, l->path);
    }
    return VTAG_OK;
}

/* Features files (SPEC §8): safetensors with fc [N, D_fc] and/or
 * att [N, K, D_att] (F32) and the metadata vtag.items / vtag.backbone;
 * reading validates shapes and item ids, writing is atomic. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "vtag/safetensors.h"

#define META_ITEMS "vtag.items"
#define META_BACKBONE "vtag.backbone"

struct vtag_data_features_impl {
    vtag_st_file file;
    data_pool pool; /* item ids */
};

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

static int read_items(vtag_data_features *f, const char *path, vtag_error *err)
{
    const char *meta = vtag_st_meta(&f->impl->file, META_ITEMS);
    if (!meta) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: missing metadata \"%s\"", path, META_ITEMS);
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
    const vtag_st_tensor *fc = NULL, *att = NULL;
    for (int i = 0; i < st->count; i++) {
        const vtag_st_tensor *t = &st->tensors[i];
        if (strcmp(t->name, "fc") == 0) fc = t;
        else if (strcmp(t->name, "att") == 0) att = t;
        else {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: unexpected tensor \"%.64s\" (a features file holds fc and/or att)",
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
    if (fc) {
        f->fc = fc->data;
        f->fc_dim = fc->shape[1];
    }
    if (att) {
        f->att = att->data;
        f->att_k = att->shape[1];
        f->att_dim = att->shape[2];
    }
    if ((rc = read_items(f, path, err))) goto fail;
    f->backbone = vtag_st_meta(st, META_BACKBONE);
    return VTAG_OK;
fail:
    vtag_data_free_features(f);
    return rc;
}

int vtag_data_write_features(const vtag_data_features *f, const char *path, vtag_error *err)
{
    if (f->n < 1) return vtag_fail(err, VTAG_ERR_ARG, "%s: features need at least one row", path);
    if (!f->fc && !f->att) return vtag_fail(err, VTAG_ERR_ARG, "%s: features need fc or att", path);
    if ((f->fc && f->fc_dim < 1) || (f->att && (f->att_k < 1 || f->att_dim < 1)))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: feature sizes must be positive", path);
    if (!f->items) return vtag_fail(err, VTAG_ERR_ARG, "%s: features need item ids", path);
    json_t *arr = json_array();
    if (!arr) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    int rc = VTAG_OK;
    char *items = NULL;
    for (int64_t i = 0; i < f->n; i++) {
        if (!f->items[i] || !f->items[i][0]) {
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: item %lld is empty", path, (long long)i);
            goto done;
        }
        json_t *s = json_string(f->items[i]);
        if (!s) {
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: item %lld is not valid UTF-8", path, (long long)i);
            goto done;
        }
        if (json_array_append_new(arr, s) != 0) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    items = json_dumps(arr, JSON_COMPACT);
    if (!items) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t fc_shape[2] = {f->n, f->fc_dim}, att_shape[3] = {f->n, f->att_k, f->att_dim};
    if (f->fc) rc = vtag_st_writer_add(&w, "fc", VTAG_DTYPE_F32, 2, fc_shape, f->fc, err);
    if (!rc && f->att) rc = vtag_st_writer_add(&w, "att", VTAG_DTYPE_F32, 3, att_shape, f->att, err);
    if (!rc) rc = vtag_st_writer_meta(&w, META_ITEMS, items, err);
    if (!rc && f->backbone) rc = vtag_st_writer_meta(&w, META_BACKBONE, f->backbone, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
done:
    free(items);
    json_decref(arr);
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

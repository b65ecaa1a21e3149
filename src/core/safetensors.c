/* safetensors: an 8-byte little-endian header length, a JSON header, then
 * the tensor bytes. Reading validates the whole header before anything is
 * returned; writing is atomic (vtag_atomic_*: temporary file, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtag/safetensors.h"

/* A header larger than this is refused, by the reader and the writer alike:
 * it guards against a hostile length (the JSON is parsed into memory). vtag's
 * own headers are a few KiB; bulk data (features' item ids) goes in tensors. */
#define MAX_HEADER_BYTES ((uint64_t)100 << 20)

size_t vtag_dtype_size(vtag_dtype dt) { return dt == VTAG_DTYPE_I64 ? 8 : dt == VTAG_DTYPE_U8 ? 1 : 4; }

const char *vtag_dtype_name(vtag_dtype dt)
{
    switch (dt) {
    case VTAG_DTYPE_F32: return "F32";
    case VTAG_DTYPE_I32: return "I32";
    case VTAG_DTYPE_I64: return "I64";
    case VTAG_DTYPE_U8: return "U8";
    }
    return "?";
}

static int dtype_parse(const char *s, vtag_dtype *dt)
{
    if (strcmp(s, "F32") == 0) *dt = VTAG_DTYPE_F32;
    else if (strcmp(s, "I32") == 0) *dt = VTAG_DTYPE_I32;
    else if (strcmp(s, "I64") == 0) *dt = VTAG_DTYPE_I64;
    else if (strcmp(s, "U8") == 0) *dt = VTAG_DTYPE_U8;
    else return -1;
    return 0;
}

/* ---- reading ---------------------------------------------------------------- */

static void file_reset(vtag_st_file *f)
{
    if (f->base) {
        if (f->mapped) munmap(f->base, f->size);
        else free(f->base);
    }
    for (int i = 0; i < f->count; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    memset(f, 0, sizeof *f);
}

void vtag_st_close(vtag_st_file *f) { file_reset(f); }

/* Maps the file and checks the header length against its size. When the
 * data section would be misaligned for 8-byte elements (a writer that did
 * not pad its header), reads a copy with the data moved to an aligned spot.
 * On success *data_off is where the data section starts in f->base. */
static int load_bytes(vtag_st_file *f, const char *path, uint64_t *hlen_out, size_t *data_off, vtag_error *err)
{
    int fd;
    int rc = vtag_file_open_fd(&fd, path, err);
    if (rc) return rc;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than the 8-byte header length",
                         path, size);
    }
    unsigned char len8[8];
    if (pread(fd, len8, 8, 0) != 8) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot read the header length", path);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | len8[i];
    if (hlen > size - 8) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: header length %llu is past the end of the file (%zu bytes)",
                         path, (unsigned long long)hlen, size);
    }
    if (hlen > MAX_HEADER_BYTES) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: header of %llu bytes is over vtag's limit of %llu MiB", path,
                         (unsigned long long)hlen, (unsigned long long)(MAX_HEADER_BYTES >> 20));
    }
    size_t off = 8 + (size_t)hlen;
    if (off % 8 == 0) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (m == MAP_FAILED) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        f->base = m;
        f->size = size;
        f->mapped = 1;
        *hlen_out = hlen;
        *data_off = off;
        return VTAG_OK;
    }
    size_t aligned = (off + 7) / 8 * 8, total = size + (aligned - off);
    unsigned char *buf = aligned_alloc(64, (total + 63) / 64 * 64);
    if (!buf) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, total);
    }
    for (size_t got = 0; got < size;) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r <= 0) {
            free(buf);
            close(fd);
            return vtag_fail(err, VTAG_ERR_IO, "%s: read failed", path);
        }
        got += (size_t)r;
    }
    close(fd);
    memmove(buf + aligned, buf + off, size - off);
    f->base = buf;
    f->size = total;
    f->mapped = 0;
    *hlen_out = hlen;
    *data_off = aligned;
    return VTAG_OK;
}

static int parse_shape(json_t *js, vtag_st_tensor *t, const char *path, const char *name, vtag_error *err)
{
    if (!json_is_array(js))
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, name);
    size_t nd = json_array_size(js);
    if (nd > VTAG_MAX_DIMS)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': %zu dimensions (at most %d)", path, name, nd,
                         VTAG_MAX_DIMS);
    t->ndim = (int)nd;
    t->numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer",
                             path, name, i);
        t->shape[i] = json_integer_value(d);
    }
    /* numel × 8 must fit: parse_header compares the byte count with the offsets */
    int64_t bytes;
    if (vtag_shape_numel(t->shape, t->ndim, &t->numel) || vtag_mul_i64(t->numel, 8, &bytes))
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': shape too large", path, name);
    return VTAG_OK;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const vtag_st_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py ? 1 : 0;
}

static int parse_metadata(vtag_st_file *f, json_t *meta, const char *path, vtag_error *err)
{
    if (!json_is_object(meta)) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: __metadata__ is not an object", path);
    size_t n = json_object_size(meta);
    f->meta_keys = calloc(n ? n : 1, sizeof(char *));
    f->meta_values = calloc(n ? n : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_values) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val)
    {
        if (!json_is_string(val))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: __metadata__ value of '%s' is not a string", path, key);
        f->meta_keys[f->meta_count] = strdup(key);
        f->meta_values[f->meta_count] = strdup(json_string_value(val));
        f->meta_count++;
        if (!f->meta_keys[f->meta_count - 1] || !f->meta_values[f->meta_count - 1])
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    return VTAG_OK;
}

static int parse_header(vtag_st_file *f, json_t *root, const unsigned char *data, size_t data_size,
                        const char *path, vtag_error *err)
{
    size_t n = json_object_size(root);
    f->tensors = calloc(n ? n : 1, sizeof *f->tensors);
    if (!f->tensors) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            int rc = parse_metadata(f, val, path, err);
            if (rc) return rc;
            continue;
        }
        if (!json_is_object(val))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, key);
        vtag_st_tensor *t = &f->tensors[f->count];
        t->name = strdup(key);
        if (!t->name) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        f->count++;
        const char *field;
        json_t *fv;
        json_object_foreach(val, field, fv)
        {
            if (strcmp(field, "dtype") && strcmp(field, "shape") && strcmp(field, "data_offsets"))
                return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': unknown field '%s'", path, key, field);
        }
        json_t *jd = json_object_get(val, "dtype");
        if (!json_is_string(jd)) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': missing dtype", path, key);
        if (dtype_parse(json_string_value(jd), &t->dtype))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s' (vtag reads F32, I32, I64, U8)",
                             path, key, json_string_value(jd));
        json_t *js = json_object_get(val, "shape");
        if (!js) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': missing shape", path, key);
        int rc = parse_shape(js, t, path, key, err);
        if (rc) return rc;
        json_t *jo = json_object_get(val, "data_offsets");
        if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
            !json_is_integer(json_array_get(jo, 1)))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': data_offsets is not [begin, end]", path, key);
        json_int_t b = json_integer_value(json_array_get(jo, 0));
        json_int_t e = json_integer_value(json_array_get(jo, 1));
        if (b < 0 || e < b)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': bad data_offsets [%lld, %lld]", path, key,
                             (long long)b, (long long)e);
        if ((uint64_t)e > data_size)
            return vtag_fail(err, VTAG_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets end %lld is past the end of the data (%zu bytes; file truncated?)",
                             path, key, (long long)e, data_size);
        t->nbytes = (size_t)(e - b);
        if ((uint64_t)t->numel * vtag_dtype_size(t->dtype) != t->nbytes)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': %zu bytes for %lld elements of %s", path, key,
                             t->nbytes, (long long)t->numel, vtag_dtype_name(t->dtype));
        if (b % (json_int_t)vtag_dtype_size(t->dtype) != 0)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s': offset %lld is not aligned to its dtype", path,
                             key, (long long)b);
        t->data = data + b;
    }
    /* The tensors must tile the data section: no overlap, no gap. */
    vtag_st_tensor *sorted = malloc((size_t)(f->count ? f->count : 1) * sizeof *sorted);
    if (!sorted) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    memcpy(sorted, f->tensors, (size_t)f->count * sizeof *sorted);
    qsort(sorted, (size_t)f->count, sizeof *sorted, cmp_by_offset);
    size_t pos = 0;
    int rc = VTAG_OK;
    for (int i = 0; i < f->count && rc == VTAG_OK; i++) {
        size_t b = (size_t)((const unsigned char *)sorted[i].data - data);
        if (b < pos)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s' overlaps tensor '%s'", path, sorted[i].name,
                           sorted[i - 1].name);
        else if (b > pos)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: gap of %zu bytes before tensor '%s'", path, b - pos,
                           sorted[i].name);
        pos = b + sorted[i].nbytes;
    }
    if (rc == VTAG_OK && pos != data_size)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %zu bytes after the last tensor", path, data_size - pos);
    free(sorted);
    return rc;
}

int vtag_st_open(vtag_st_file *f, const char *path, vtag_error *err)
{
    memset(f, 0, sizeof *f);
    uint64_t hlen = 0;
    size_t data_off = 0;
    int rc = load_bytes(f, path, &hlen, &data_off, err);
    if (rc) {
        file_reset(f);
        return rc;
    }
    const unsigned char *bytes = f->base;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: header is not a JSON object: %s", path,
                       root ? "wrong type" : jerr.text);
        json_decref(root);
        file_reset(f);
        return rc;
    }
    rc = parse_header(f, root, bytes + data_off, f->size - data_off, path, err);
    json_decref(root);
    if (rc) file_reset(f);
    return rc;
}

const vtag_st_tensor *vtag_st_find(const vtag_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *vtag_st_meta(const vtag_st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

/* ---- writing ------------------------------------------------------------------ */

void vtag_st_writer_init(vtag_st_writer *w) { memset(w, 0, sizeof *w); }

/* The header is JSON: names and metadata must be UTF-8 (the reader's parser refuses anything else). */
static int valid_utf8(const char *s)
{
    size_t n = strlen(s);
    return vtag_utf8_valid_prefix(s, n) == n;
}

void vtag_st_writer_free(vtag_st_writer *w)
{
    for (int i = 0; i < w->count; i++) free(w->entries[i].name);
    free(w->entries);
    for (int i = 0; i < w->meta_count; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

int vtag_st_writer_add(vtag_st_writer *w, const char *name, vtag_dtype dtype, int ndim, const int64_t *shape,
                       const void *data, vtag_error *err)
{
    if (strcmp(name, "__metadata__") == 0 || name[0] == '\0' || !valid_utf8(name))
        return vtag_fail(err, VTAG_ERR_ARG, "safetensors: invalid tensor name '%s'", name);
    if (ndim < 0 || ndim > VTAG_MAX_DIMS)
        return vtag_fail(err, VTAG_ERR_ARG, "safetensors: tensor '%s' has %d dimensions", name, ndim);
    /* What the reader would refuse is not written: negative or overflowing shapes. */
    int64_t numel, bytes;
    if (vtag_shape_numel(shape, ndim, &numel) || vtag_mul_i64(numel, 8, &bytes))
        return vtag_fail(err, VTAG_ERR_ARG, "safetensors: tensor '%s' has a negative or too large shape", name);
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return vtag_fail(err, VTAG_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        vtag_st_entry *e = realloc(w->entries, (size_t)cap * sizeof *e);
        if (!e) return vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
        w->entries = e;
        w->cap = cap;
    }
    vtag_st_entry *e = &w->entries[w->count];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name) return vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    w->count++;
    return VTAG_OK;
}

int vtag_st_writer_meta(vtag_st_writer *w, const char *key, const char *value, vtag_error *err)
{
    if (!valid_utf8(key) || !valid_utf8(value))
        return vtag_fail(err, VTAG_ERR_ARG, "safetensors: metadata '%s' is not valid UTF-8", key);
    for (int i = 0; i < w->meta_count; i++) {
        if (strcmp(w->meta_keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
            free(w->meta_values[i]);
            w->meta_values[i] = v;
            return VTAG_OK;
        }
    }
    if (w->meta_count == w->meta_cap) {
        int cap = w->meta_cap ? 2 * w->meta_cap : 8;
        char **k = realloc(w->meta_keys, (size_t)cap * sizeof *k);
        if (!k) return vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
        w->meta_keys = k;
        char **v = realloc(w->meta_values, (size_t)cap * sizeof *v);
        if (!v) return vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
        w->meta_values = v;
        w->meta_cap = cap;
    }
    w->meta_keys[w->meta_count] = strdup(key);
    w->meta_values[w->meta_count] = strdup(value);
    w->meta_count++;
    if (!w->meta_keys[w->meta_count - 1] || !w->meta_values[w->meta_count - 1])
        return vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
    return VTAG_OK;
}

/* Data layout order: wider elements first (stable), so that with no gaps
 * between tensors every tensor is aligned to its element size, as the
 * reference safetensors library lays files out. */
static void layout_order(const vtag_st_writer *w, int *order)
{
    static const size_t sizes[3] = {8, 4, 1};
    int k = 0;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < w->count; i++)
            if (vtag_dtype_size(w->entries[i].dtype) == sizes[s]) order[k++] = i;
}

/* A tensor's byte count; writer_add checked that it fits. */
static size_t entry_bytes(const vtag_st_entry *e)
{
    int64_t numel;
    vtag_shape_numel(e->shape, e->ndim, &numel);
    return (size_t)numel * vtag_dtype_size(e->dtype);
}

static char *build_header(const vtag_st_writer *w, const int *order, const char *path, size_t *len, vtag_error *err)
{
    /* The metadata alone passing the limit is refused before any JSON is built. */
    uint64_t meta_bytes = 0;
    for (int i = 0; i < w->meta_count; i++) meta_bytes += strlen(w->meta_keys[i]) + strlen(w->meta_values[i]);
    if (meta_bytes > MAX_HEADER_BYTES) {
        vtag_fail(err, VTAG_ERR_ARG, "%s: header of more than %llu bytes (metadata) is over vtag's limit of %llu MiB",
                  path, (unsigned long long)meta_bytes, (unsigned long long)(MAX_HEADER_BYTES >> 20));
        return NULL;
    }
    json_t *root = json_object();
    int ok = root != NULL;
    if (ok && w->meta_count) {
        json_t *meta = json_object();
        ok = meta && json_object_set_new(root, "__metadata__", meta) == 0;
        for (int i = 0; ok && i < w->meta_count; i++)
            ok = json_object_set_new(meta, w->meta_keys[i], json_string(w->meta_values[i])) == 0;
    }
    int64_t off = 0, end = 0;
    for (int k = 0; ok && k < w->count; k++) {
        const vtag_st_entry *e = &w->entries[order[k]];
        if (vtag_add_i64(off, (int64_t)entry_bytes(e), &end)) {
            json_decref(root);
            vtag_fail(err, VTAG_ERR_ARG, "%s: the tensors are too large", path);
            return NULL;
        }
        json_t *shape = json_array();
        for (int d = 0; shape && d < e->ndim; d++) json_array_append_new(shape, json_integer(e->shape[d]));
        json_t *t = json_pack("{s:s, s:o, s:[I,I]}", "dtype", vtag_dtype_name(e->dtype), "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)end);
        ok = t && json_object_set_new(root, e->name, t) == 0;
        off = end;
    }
    char *s = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!s) {
        vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot build the header", path);
        return NULL;
    }
    /* The reader's limit: a file vtag could not read back is not written. */
    if ((strlen(s) + 7) / 8 * 8 > MAX_HEADER_BYTES) { /* the padded length */
        vtag_fail(err, VTAG_ERR_ARG, "%s: header of %zu bytes (metadata and tensor list) is over vtag's limit of %llu MiB",
                  path, strlen(s), (unsigned long long)(MAX_HEADER_BYTES >> 20));
        free(s);
        return NULL;
    }
    /* Pad with spaces so that the data section starts 8-byte aligned. */
    size_t n = strlen(s), padded = (n + 8 + 7) / 8 * 8 - 8;
    char *p = realloc(s, padded + 1);
    if (!p) {
        free(s);
        vtag_fail(err, VTAG_ERR_NOMEM, "safetensors: out of memory");
        return NULL;
    }
    memset(p + n, ' ', padded - n);
    p[padded] = '\0';
    *len = padded;
    return p;
}

int vtag_st_writer_save(const vtag_st_writer *w, const char *path, vtag_error *err)
{
    size_t hlen;
    int *order = malloc((size_t)(w->count ? w->count : 1) * sizeof *order);
    if (!order) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    layout_order(w, order);
    char *header = build_header(w, order, path, &hlen, err);
    if (!header) {
        free(order);
        return err ? err->code : VTAG_ERR_NOMEM;
    }
    vtag_atomic a;
    int rc = vtag_atomic_open(&a, path, err);
    if (rc) {
        free(header);
        free(order);
        return rc;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    int ok = fwrite(len8, 1, 8, a.f) == 8 && fwrite(header, 1, hlen, a.f) == hlen;
    for (int k = 0; ok && k < w->count; k++) {
        const vtag_st_entry *e = &w->entries[order[k]];
        size_t nbytes = entry_bytes(e);
        ok = nbytes == 0 || fwrite(e->data, 1, nbytes, a.f) == nbytes;
    }
    if (!ok) {
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        vtag_atomic_abort(&a);
    } else {
        rc = vtag_atomic_commit(&a, err);
    }
    free(header);
    free(order);
    return rc;
}

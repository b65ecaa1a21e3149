/* Product pictures: Fashion-MNIST's IDX files (gzipped or plain, read with
 * zlib) split into picture pools per video split, or procedural shapes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "synth/synth_internal.h"

#define PIX (VTAG_SYNTH_PICTURE * VTAG_SYNTH_PICTURE)

/* Pools: train videos take Fashion-MNIST train pictures whose index is not a
 * multiple of 10, val videos those that are (disjoint from train), test
 * videos the test split. */
enum { POOL_TRAIN, POOL_VAL, POOL_TEST, POOL_COUNT };

struct vtag_synth_source {
    int fmnist;
    uint8_t *images[2];               /* train, test: [n, 28, 28] */
    int64_t n[2];
    int32_t *pool[POOL_COUNT][OBJ_COUNT]; /* picture indices into images[pool == TEST] */
    int64_t pool_n[POOL_COUNT][OBJ_COUNT];
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* dir/name.gz or dir/name; NOTFOUND when neither exists. */
static int find_file(const char *dir, const char *name, char *path, size_t cap, vtag_error *err)
{
    snprintf(path, cap, "%s/%s.gz", dir, name);
    if (access(path, F_OK) == 0) return VTAG_OK;
    snprintf(path, cap, "%s/%s", dir, name);
    if (access(path, F_OK) == 0) return VTAG_OK;
    return vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: no Fashion-MNIST file %s[.gz]", dir, name);
}

/* Exactly `bytes` bytes from f, or an error naming path. */
static int read_exact(gzFile f, const char *path, void *buf, size_t bytes, vtag_error *err)
{
    size_t got = 0;
    while (got < bytes) {
        unsigned chunk = bytes - got > (1u << 30) ? (1u << 30) : (unsigned)(bytes - got);
        int r = gzread(f, (uint8_t *)buf + got, chunk);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: truncated (%zu of %zu bytes)", path, got, bytes);
        got += (size_t)r;
    }
    return VTAG_OK;
}

/* An IDX file: magic 0x0000080N (unsigned bytes, N dims), big-endian sizes,
 * then the data, and nothing after it. dims[0] is the item count. */
static int read_idx(const char *path, int ndim, const uint32_t *want, uint32_t *count, uint8_t **data,
                    vtag_error *err)
{
    *data = NULL;
    int fd;
    int rc = vtag_file_open_fd(&fd, path, err); /* gzopen would block on a FIFO */
    if (rc) return rc;
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    gzbuffer(f, 1 << 18);
    uint8_t head[16];
    rc = read_exact(f, path, head, 4 + 4 * (size_t)ndim, err);
    if (rc == VTAG_OK && be32(head) != 0x800u + (uint32_t)ndim)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: not an IDX file of unsigned bytes with %d dimensions (magic %08x)",
                       path, ndim, be32(head));
    size_t bytes = 1;
    if (rc == VTAG_OK) {
        *count = be32(head + 4);
        if (*count == 0 || *count > 10000000u)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: bad item count %u", path, *count);
        bytes = *count;
        for (int d = 1; d < ndim && rc == VTAG_OK; d++) {
            uint32_t s = be32(head + 4 + 4 * d);
            if (s != want[d - 1])
                rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: dimension %d is %u, expected %u", path, d, s,
                               want[d - 1]);
            bytes *= s;
        }
    }
    if (rc == VTAG_OK && !(*data = malloc(bytes))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    if (rc == VTAG_OK) rc = read_exact(f, path, *data, bytes, err);
    if (rc == VTAG_OK) {
        uint8_t extra;
        int r = gzread(f, &extra, 1);
        if (r != 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s", path, r > 0 ? "trailing bytes" : "read error");
    }
    gzclose(f);
    if (rc != VTAG_OK) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

static int load_split(vtag_synth_source *s, const char *dir, int which, vtag_error *err)
{
    const char *prefix = which ? "t10k" : "train";
    char name[64], ipath[4096], lpath[4096];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    int rc = find_file(dir, name, ipath, sizeof ipath, err);
    if (rc) return rc;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if ((rc = find_file(dir, name, lpath, sizeof lpath, err))) return rc;
    const uint32_t side[2] = {VTAG_SYNTH_PICTURE, VTAG_SYNTH_PICTURE};
    uint32_t n_img = 0, n_lab = 0;
    uint8_t *labels = NULL;
    if ((rc = read_idx(ipath, 3, side, &n_img, &s->images[which], err))) return rc;
    if ((rc = read_idx(lpath, 1, side, &n_lab, &labels, err))) return rc;
    if (n_img != n_lab) {
        free(labels);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %u labels for %u images in %s", lpath, n_lab, n_img, ipath);
    }
    s->n[which] = n_img;
    /* Count, then fill, the pools of this split. */
    int pools[2] = {which ? POOL_TEST : POOL_TRAIN, which ? POOL_TEST : POOL_VAL};
    for (uint32_t i = 0; i < n_img; i++) {
        if (labels[i] >= OBJ_COUNT) {
            int r = vtag_fail(err, VTAG_ERR_FORMAT, "%s: label %u of item %u is not a Fashion-MNIST class", lpath,
                              labels[i], i);
            free(labels);
            return r;
        }
        s->pool_n[pools[i % 10 == 0]][labels[i]]++;
    }
    for (int p = 0; p < 2; p++)
        for (int c = 0; c < OBJ_COUNT; c++) {
            if (which && p == 1) break; /* the test split is one pool */
            if (!(s->pool[pools[p]][c] = malloc((size_t)(s->pool_n[pools[p]][c] + 1) * sizeof(int32_t)))) {
                free(labels);
                return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", ipath);
            }
            s->pool_n[pools[p]][c] = 0;
        }
    for (uint32_t i = 0; i < n_img; i++) {
        int p = pools[i % 10 == 0];
        s->pool[p][labels[i]][s->pool_n[p][labels[i]]++] = (int32_t)i;
    }
    free(labels);
    for (int c = 0; c < OBJ_COUNT; c++)
        for (int p = 0; p < 2; p++)
            if (s->pool_n[pools[p]][c] == 0)
                return vtag_fail(err, VTAG_ERR_FORMAT, "%s: no picture of class %d (%s) for the %s videos", ipath,
                                 c, vtag_synth_get_catalog()->objects[c],
                                 pools[p] == POOL_TEST ? "test" : pools[p] == POOL_VAL ? "val" : "train");
    return VTAG_OK;
}

int vtag_synth_source_open_fmnist(vtag_synth_source **out, const char *dir, vtag_error *err)
{
    *out = NULL;
    if (!dir) return vtag_fail(err, VTAG_ERR_ARG, "no Fashion-MNIST folder given");
    vtag_synth_source *s = calloc(1, sizeof *s);
    if (!s) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    s->fmnist = 1;
    int rc = load_split(s, dir, 0, err);
    if (rc == VTAG_OK) rc = load_split(s, dir, 1, err);
    if (rc != VTAG_OK) {
        vtag_synth_source_close(&s);
        return rc;
    }
    *out = s;
    return VTAG_OK;
}

int vtag_synth_source_open_shapes(vtag_synth_source **out, vtag_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? VTAG_OK : vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
}

const char *vtag_synth_source_kind(const vtag_synth_source *s) { return s->fmnist ? "fashion-mnist" : "shapes"; }

int synth_source_pick(const vtag_synth_source *s, int object, vtag_data_split split, uint64_t key, int *set,
                      int64_t *index)
{
    if (!s->fmnist || object < 0 || object >= OBJ_COUNT) return -1;
    int p = split == VTAG_DATA_SPLIT_TEST ? POOL_TEST : split == VTAG_DATA_SPLIT_VAL ? POOL_VAL : POOL_TRAIN;
    *set = p == POOL_TEST;
    *index = s->pool[p][object][key % (uint64_t)s->pool_n[p][object]];
    return 0;
}

void vtag_synth_source_picture(const vtag_synth_source *s, int object, vtag_data_split split, uint64_t key,
                               uint8_t *out)
{
    if (object < 0 || object >= OBJ_COUNT) object = 0;
    int set;
    int64_t i;
    if (synth_source_pick(s, object, split, key, &set, &i) != 0) {
        synth_shape_draw(object, key, out);
        return;
    }
    memcpy(out, s->images[set] + i * PIX, PIX);
}

void vtag_synth_source_close(vtag_synth_source **s)
{
    if (!s || !*s) return;
    for (int i = 0; i < 2; i++) free((*s)->images[i]);
    for (int p = 0; p < POOL_COUNT; p++)
        for (int c = 0; c < OBJ_COUNT; c++) free((*s)->pool[p][c]);
    free(*s);
    *s = NULL;
}

/* safetensors read and write (F32, I32, I64, U8 and the __metadata__ string map).
 * Reading maps the file and checks the header against the file size before
 * any tensor is handed out; writing goes to a temporary name in the same
 * folder, is flushed and fsynced, then renamed over the target. */
#ifndef VTAG_SAFETENSORS_H
#define VTAG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vtag_dtype {
    VTAG_DTYPE_F32 = 0,
    VTAG_DTYPE_I32 = 1,
    VTAG_DTYPE_I64 = 2,
    VTAG_DTYPE_U8 = 3, /* bytes (e.g. a features file's item ids) */
} vtag_dtype;

size_t vtag_dtype_size(vtag_dtype dt);
const char *vtag_dtype_name(vtag_dtype dt); /* "F32", "I32", "I64", "U8" */

typedef struct vtag_st_tensor {
    char *name;
    vtag_dtype dtype;
    int ndim;
    int64_t shape[VTAG_MAX_DIMS];
    int64_t numel;
    const void *data; /* into the file's mapping; valid until vtag_st_close */
    size_t nbytes;
} vtag_st_tensor;

typedef struct vtag_st_file {
    void *base;      /* mapping (or aligned copy) of the whole file */
    size_t size;
    int mapped;      /* 1: munmap base, 0: free base */
    vtag_st_tensor *tensors;
    int count;
    char **meta_keys, **meta_values;
    int meta_count;
} vtag_st_file;

/* Opens and validates a file. On failure *f is left empty and err names the
 * file and the problem. */
int vtag_st_open(vtag_st_file *f, const char *path, vtag_error *err);
const vtag_st_tensor *vtag_st_find(const vtag_st_file *f, const char *name);
const char *vtag_st_meta(const vtag_st_file *f, const char *key); /* NULL if absent */
void vtag_st_close(vtag_st_file *f);

/* Writer: tensors are referenced, not copied, until save returns. */
typedef struct vtag_st_entry {
    char *name;
    vtag_dtype dtype;
    int ndim;
    int64_t shape[VTAG_MAX_DIMS];
    const void *data;
} vtag_st_entry;

typedef struct vtag_st_writer {
    vtag_st_entry *entries;
    int count, cap;
    char **meta_keys, **meta_values;
    int meta_count, meta_cap;
} vtag_st_writer;

void vtag_st_writer_init(vtag_st_writer *w);
int vtag_st_writer_add(vtag_st_writer *w, const char *name, vtag_dtype dtype, int ndim,
                       const int64_t *shape, const void *data, vtag_error *err);
int vtag_st_writer_meta(vtag_st_writer *w, const char *key, const char *value, vtag_error *err);
/* Atomic: the target is either the old file or the complete new one. */
int vtag_st_writer_save(const vtag_st_writer *w, const char *path, vtag_error *err);
void vtag_st_writer_free(vtag_st_writer *w);

#ifdef __cplusplus
}
#endif
#endif

/* Private helpers of src/data: a string pool, a string → int64 hash map,
 * UTF-8 checks, and the state shared by the two labels-file parsers. */
#ifndef VTAG_DATA_INTERNAL_H
#define VTAG_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vtag/data.h"
#include "vtag/safetensors.h"

/* ---- pool: chunked bump allocator; what it hands out never moves ---- */
typedef struct data_pool_block data_pool_block;
typedef struct data_pool {
    data_pool_block *head;
} data_pool;

void *data_pool_alloc(data_pool *p, size_t bytes, size_t align); /* NULL: out of memory */
char *data_pool_strndup(data_pool *p, const char *s, size_t len);
void data_pool_free(data_pool *p);

/* ---- a features file's storage: the mapping (read) or the pool alone
 * (vtag_data_features_by_video: rows, item ids and backbone in the pool) ---- */
struct vtag_data_features_impl {
    vtag_st_file file;
    data_pool pool; /* item ids */
};

/* ---- map: NUL-terminated keys (borrowed, must outlive the map) → int64 ---- */
typedef struct data_map {
    const char **keys; /* (mask + 1), NULL = empty slot */
    int64_t *vals;     /* (mask + 1) */
    uint64_t mask;
    int64_t count;
} data_map;

/* Value of s[0..len), or -1. */
int64_t data_map_find(const data_map *m, const char *s, size_t len);
/* Inserts key → val unless present; *old receives the existing value or -1.
 * Returns 0, or -1 when out of memory. */
int data_map_put(data_map *m, const char *key, int64_t val, int64_t *old);
void data_map_free(data_map *m);

/* ---- labels loading (labels.c, labels_jsonl.c, labels_csv.c) ---- */
struct vtag_data_labels_impl {
    data_pool pool;
    data_map video_map; /* video id → entry index */
    data_map name_map;  /* label → names index */
    const char **names;
    int64_t names_cap;
    int64_t entries_cap;
};

typedef struct data_loader {
    vtag_data_labels *labels;
    const vtag_data_labels_opts *opts;
    const char *dir;   /* labels file's folder prefix with its '/', or "" */
    vtag_error *err;
} data_loader;

/* One parsed record. Strings are NUL-terminated with lengths; split may be
 * NULL (absent). Validates, resolves, interns and appends it. */
typedef struct data_record {
    const char *video, *class1, *class2, *split;
    size_t video_len, class1_len, class2_len, split_len;
    const char *const *tags;
    const size_t *tag_lens;
    int64_t n_tags;
} data_record;

int data_loader_add(data_loader *ld, const data_record *r, int64_t line);
int data_loader_fail(data_loader *ld, int64_t line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The next line of f into ln (vtag_line_read, at most VTAG_LINE_MAX bytes).
 * Checks UTF-8 and drops a leading byte-order mark on line 1.
 * Returns 1 for a line, 0 at the end, or −status on error. */
int data_loader_next_line(data_loader *ld, FILE *f, vtag_line *ln);

/* Each consumes the open file from its first line on. */
int data_labels_parse_jsonl(data_loader *ld, FILE *f);
int data_labels_parse_csv(data_loader *ld, FILE *f);

#endif

/* Labels files (SPEC §8): format detection, line reading with UTF-8 checks,
 * and the checks shared by the JSON Lines and CSV parsers — fields, splits,
 * duplicate videos, relative paths — with every error naming file and line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/data_internal.h"

const char *vtag_data_split_name(vtag_data_split s)
{
    switch (s) {
    case VTAG_DATA_SPLIT_TRAIN: return "train";
    case VTAG_DATA_SPLIT_VAL: return "val";
    case VTAG_DATA_SPLIT_TEST: return "test";
    case VTAG_DATA_SPLIT_ALL: return "all";
    }
    return "?";
}

int vtag_data_split_parse(const char *s, vtag_data_split *out)
{
    if (strcmp(s, "train") == 0) *out = VTAG_DATA_SPLIT_TRAIN;
    else if (strcmp(s, "val") == 0) *out = VTAG_DATA_SPLIT_VAL;
    else if (strcmp(s, "test") == 0) *out = VTAG_DATA_SPLIT_TEST;
    else return VTAG_ERR_ARG;
    return VTAG_OK;
}

void vtag_data_labels_opts_default(vtag_data_labels_opts *o)
{
    o->format = VTAG_DATA_FORMAT_AUTO;
    o->default_split = VTAG_DATA_SPLIT_TRAIN;
}

int data_loader_fail(data_loader *ld, int64_t line, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vtag_fail(ld->err, code, "%s:%lld: %s", ld->labels->path, (long long)line, msg);
}

int data_loader_next_line(data_loader *ld, FILE *f, vtag_line *ln)
{
    int rc = vtag_line_read(ln, f, ld->labels->path, VTAG_LINE_MAX, ld->err);
    if (rc) return -rc;
    if (ln->len == 0) return 0;
    if (ln->number == 1 && ln->len >= 3 && memcmp(ln->data, "\xEF\xBB\xBF", 3) == 0) {
        memmove(ln->data, ln->data + 3, ln->len - 2); /* with the NUL */
        ln->len -= 3;
    }
    size_t ok = vtag_utf8_valid_prefix(ln->data, ln->len);
    if (ok != ln->len)
        return -data_loader_fail(ld, ln->number, VTAG_ERR_FORMAT, "invalid UTF-8 (byte %zu of the line)", ok + 1);
    return 1;
}

/* ---- entries ---------------------------------------------------------------------- */

/* A label or id must be non-empty text: no control characters (which would
 * break line-based outputs), no NUL. */
static int check_text(data_loader *ld, int64_t line, const char *what, const char *s, size_t len)
{
    if (len == 0) return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "empty %s", what);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "%s contains a control character (0x%02x)", what,
                                    (unsigned)(unsigned char)s[i]);
    return VTAG_OK;
}

static int nomem(data_loader *ld) { return vtag_fail(ld->err, VTAG_ERR_NOMEM, "%s: out of memory", ld->labels->path); }

/* The interned copy of a label, added to labels->names when new. */
static const char *intern_name(data_loader *ld, const char *s, size_t len)
{
    vtag_data_labels *l = ld->labels;
    vtag_data_labels_impl *im = l->impl;
    int64_t idx = data_map_find(&im->name_map, s, len);
    if (idx >= 0) return im->names[idx];
    if (l->n_names == im->names_cap) {
        int64_t cap = im->names_cap ? 2 * im->names_cap : 256;
        const char **names = realloc(im->names, (size_t)cap * sizeof *names);
        if (!names) return NULL;
        im->names = names;
        im->names_cap = cap;
        l->names = names;
    }
    char *copy = data_pool_strndup(&im->pool, s, len);
    if (!copy || data_map_put(&im->name_map, copy, l->n_names, NULL) != 0) return NULL;
    im->names[l->n_names++] = copy;
    return copy;
}

/* A relative id is a path relative to the labels file's folder; absolute
 * paths and URLs ("scheme://…") are kept. */
static int is_relative(const char *s)
{
    if (s[0] == '/') return 0;
    const char *colon = strstr(s, "://");
    if (colon) {
        const char *p = s;
        while (p < colon && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                             *p == '+' || *p == '-' || *p == '.'))
            p++;
        if (p == colon && p > s) return 0;
    }
    return 1;
}

int data_loader_add(data_loader *ld, const data_record *r, int64_t line)
{
    vtag_data_labels *l = ld->labels;
    vtag_data_labels_impl *im = l->impl;
    int rc;
    if ((rc = check_text(ld, line, "video", r->video, r->video_len)) ||
        (rc = check_text(ld, line, "class1", r->class1, r->class1_len)) ||
        (rc = check_text(ld, line, "class2", r->class2, r->class2_len)))
        return rc;
    for (int64_t i = 0; i < r->n_tags; i++)
        if ((rc = check_text(ld, line, "tag", r->tags[i], r->tag_lens[i]))) return rc;

    vtag_data_split split = ld->opts->default_split;
    if (r->split) {
        if (r->split_len > 0 && (rc = check_text(ld, line, "split", r->split, r->split_len))) return rc;
        if (memchr(r->split, '\0', r->split_len) || vtag_data_split_parse(r->split, &split) != VTAG_OK)
            return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "unknown split \"%.*s\" (train, val or test)",
                                    (int)(r->split_len > 64 ? 64 : r->split_len), r->split);
    }

    int64_t first = data_map_find(&im->video_map, r->video, r->video_len);
    if (first >= 0)
        return data_loader_fail(ld, line, VTAG_ERR_FORMAT, "duplicate video \"%s\" (first on line %lld)",
                                l->entries[first].video, (long long)l->entries[first].line);

    if (l->count == im->entries_cap) {
        int64_t cap = im->entries_cap ? 2 * im->entries_cap : 256;
        vtag_data_entry *e = realloc(l->entries, (size_t)cap * sizeof *e);
        if (!e) return nomem(ld);
        l->entries = e;
        im->entries_cap = cap;
    }
    vtag_data_entry *e = &l->entries[l->count];
    memset(e, 0, sizeof *e);
    e->line = line;
    e->split = split;
    char *video = data_pool_strndup(&im->pool, r->video, r->video_len);
    if (!video) return nomem(ld);
    e->video = video;
    if (is_relative(video) && ld->dir[0]) {
        size_t dl = strlen(ld->dir);
        char *path = data_pool_alloc(&im->pool, dl + r->video_len + 1, 1);
        if (!path) return nomem(ld);
        memcpy(path, ld->dir, dl);
        memcpy(path + dl, video, r->video_len + 1);
        e->path = path;
    } else {
        e->path = video;
    }
    e->class1 = intern_name(ld, r->class1, r->class1_len);
    e->class2 = intern_name(ld, r->class2, r->class2_len);
    if (!e->class1 || !e->class2) return nomem(ld);
    if (r->n_tags > 0) {
        const char **tags = data_pool_alloc(&im->pool, (size_t)r->n_tags * sizeof *tags, sizeof *tags);
        if (!tags) return nomem(ld);
        for (int64_t i = 0; i < r->n_tags; i++)
            if (!(tags[i] = intern_name(ld, r->tags[i], r->tag_lens[i]))) return nomem(ld);
        e->tags = tags;
    }
    e->n_tags = r->n_tags;
    if (data_map_put(&im->video_map, video, l->count, NULL) != 0) return nomem(ld);
    l->count++;
    return VTAG_OK;
}

/* ---- the file ---------------------------------------------------------------------------- */

static vtag_data_format format_from_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot) return VTAG_DATA_FORMAT_AUTO;
    if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".json") == 0 || strcasecmp(dot, ".ndjson") == 0)
        return VTAG_DATA_FORMAT_JSONL;
    if (strcasecmp(dot, ".csv") == 0) return VTAG_DATA_FORMAT_CSV;
    return VTAG_DATA_FORMAT_AUTO;
}

/* JSON Lines when the first character that is not white space (after a
 * byte-order mark) is '{', CSV otherwise. */
static vtag_data_format format_sniff(FILE *f)
{
    unsigned char bom[3];
    if (fread(bom, 1, 3, f) != 3 || memcmp(bom, "\xEF\xBB\xBF", 3) != 0) rewind(f);
    vtag_data_format fmt = VTAG_DATA_FORMAT_CSV;
    int c;
    while ((c = getc(f)) != EOF) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '{') fmt = VTAG_DATA_FORMAT_JSONL;
        break;
    }
    rewind(f);
    return fmt;
}

void vtag_data_free_labels(vtag_data_labels *l)
{
    if (l->impl) {
        data_pool_free(&l->impl->pool);
        data_map_free(&l->impl->video_map);
        data_map_free(&l->impl->name_map);
        free(l->impl->names);
        free(l->impl);
    }
    free(l->path);
    free(l->entries);
    memset(l, 0, sizeof *l);
}

int vtag_data_read_labels(vtag_data_labels *l, const char *path, const vtag_data_labels_opts *opts,
                          vtag_error *err)
{
    vtag_data_labels_opts defaults;
    if (!opts) {
        vtag_data_labels_opts_default(&defaults);
        opts = &defaults;
    }
    memset(l, 0, sizeof *l);
    if (opts->default_split < VTAG_DATA_SPLIT_TRAIN || opts->default_split > VTAG_DATA_SPLIT_TEST)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: invalid default split", path);
    l->path = strdup(path);
    l->impl = calloc(1, sizeof *l->impl);
    size_t slash = 0;
    const char *last = strrchr(path, '/');
    if (last) slash = (size_t)(last - path) + 1;
    char *dir = malloc(slash + 1);
    if (!l->path || !l->impl || !dir) {
        free(dir);
        vtag_data_free_labels(l);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(dir, path, slash);
    dir[slash] = '\0';

    int rc = VTAG_OK;
    FILE *f;
    if ((rc = vtag_file_open(&f, path, err))) goto done;
    data_loader ld = {.labels = l, .opts = opts, .dir = dir, .err = err};
    l->format = opts->format != VTAG_DATA_FORMAT_AUTO ? opts->format : format_from_name(path);
    if (l->format == VTAG_DATA_FORMAT_AUTO) l->format = format_sniff(f);
    rc = l->format == VTAG_DATA_FORMAT_JSONL ? data_labels_parse_jsonl(&ld, f) : data_labels_parse_csv(&ld, f);
    fclose(f);

done:
    free(dir);
    if (rc) vtag_data_free_labels(l);
    return rc;
}

int64_t vtag_data_find_video(const vtag_data_labels *l, const char *video)
{
    return l->impl ? data_map_find(&l->impl->video_map, video, strlen(video)) : -1;
}

int64_t vtag_data_find_name(const vtag_data_labels *l, const char *label)
{
    return l->impl ? data_map_find(&l->impl->name_map, label, strlen(label)) : -1;
}

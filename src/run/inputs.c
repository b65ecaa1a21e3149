/* vtag_inputs_expand: the videos of a command line, directories walked in a
 * fixed order (include/vtag/inputs.h). Every limit is checked before memory
 * grows, so a hostile tree (deep, wide, looping) ends in one error line. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "vtag/inputs.h"
#include "vtag/video.h"

void vtag_inputs_opts_defaults(vtag_inputs_opts *o)
{
    memset(o, 0, sizeof *o);
}

void vtag_inputs_list_free(vtag_inputs_list *l)
{
    if (!l) return;
    for (int64_t i = 0; i < l->n; i++) free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

int vtag_inputs_extensions_check(const char *list, vtag_error *err)
{
    if (!list || !*list) return vtag_fail(err, VTAG_ERR_ARG, "extensions: the list is empty");
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        size_t ok = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        if (k == 0 || k > 16 || ok < k)
            return vtag_fail(err, VTAG_ERR_ARG, "extensions: '%.*s' is not an extension (letters and digits, no dot, "
                             "separated by commas)", (int)(k > 32 ? 32 : k), p);
        p += k;
        if (*p == ',' && !*++p) return vtag_fail(err, VTAG_ERR_ARG, "extensions: the list ends with a comma");
    }
    return VTAG_OK;
}

/* Whether name ends in ".EXT" for an EXT of the list (case-insensitive). */
static int wanted(const char *name, const char *exts)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    size_t n = strlen(dot + 1);
    for (const char *p = exts; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncasecmp(p, dot + 1, n) == 0) return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

typedef struct walk {
    const vtag_inputs_opts *o;
    const char *exts;
    vtag_inputs_list *out;
    int64_t entries;
    dev_t dev[101]; /* the folders being walked, for loops (depth <= max_depth <= 100) */
    ino_t ino[101];
} walk;

/* Appends path (taken: freed on failure). */
static int add(walk *w, char *path, const char *top, vtag_error *err)
{
    vtag_inputs_list *l = w->out;
    if (!path) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for the list of videos", top);
    if (l->n >= w->o->max_videos) {
        free(path);
        return vtag_fail(err, VTAG_ERR_ARG, "%s: more than %lld videos, the limit of one list: tag the folders in parts",
                         top, (long long)w->o->max_videos);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? (size_t)l->cap * 2 : 64, bytes;
        char **p = vtag_mul_size(cap, sizeof *p, &bytes) ? NULL : realloc(l->paths, bytes);
        if (!p) {
            free(path);
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for a list of %lld videos", top, (long long)l->n);
        }
        l->paths = p;
        l->cap = (int64_t)cap;
    }
    l->paths[l->n++] = path;
    return VTAG_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir, but '.'-names, sorted in byte order (*names malloc'd, each too). */
static int read_names(walk *w, const char *dir, const char *top, char ***names, int64_t *n, vtag_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    int64_t cap = 0;
    int rc = VTAG_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
            break;
        }
        if (e->d_name[0] == '.') continue;
        if (++w->entries > w->o->max_entries) {
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: more than %lld entries under it: tag the folders in parts", top,
                           (long long)w->o->max_entries);
            break;
        }
        if (*n == cap) {
            size_t c = cap ? (size_t)cap * 2 : 64, bytes;
            char **p = vtag_mul_size(c, sizeof *p, &bytes) ? NULL : realloc(*names, bytes);
            if (!p) {
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for its entries", dir);
                break;
            }
            *names = p, cap = (int64_t)c;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for its entries", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (!rc && *n > 1) qsort(*names, (size_t)*n, sizeof **names, by_name);
    return rc;
}

/* "DIR/NAME", without a second '/' when DIR ends with one. */
static char *join(const char *dir, const char *name)
{
    size_t nd = strlen(dir);
    while (nd > 1 && dir[nd - 1] == '/') nd--;
    size_t nn = strlen(name);
    char *p = malloc(nd + nn + 2);
    if (!p) return NULL;
    memcpy(p, dir, nd);
    size_t k = nd;
    if (!(nd == 1 && dir[0] == '/')) p[k++] = '/';
    memcpy(p + k, name, nn + 1);
    return p;
}

static int walk_dir(walk *w, const char *dir, const struct stat *sb, int64_t depth, const char *top, vtag_error *err)
{
    if (depth > w->o->max_depth)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: folders nested more than %lld deep under %s", dir,
                         (long long)w->o->max_depth, top);
    for (int64_t i = 0; i < depth; i++)
        if (w->dev[i] == sb->st_dev && w->ino[i] == sb->st_ino) return VTAG_OK; /* a loop: walked already */
    w->dev[depth] = sb->st_dev;
    w->ino[depth] = sb->st_ino;
    char **names;
    int64_t n;
    int rc = read_names(w, dir, top, &names, &n, err);
    for (int64_t i = 0; i < n && !rc; i++) {
        char *path = join(dir, names[i]);
        if (!path) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
            break;
        }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc = walk_dir(w, path, &st, depth + 1, top, err);
            free(path);
        } else if (wanted(names[i], w->exts)) {
            rc = add(w, path, top, err); /* a dangling link or a FIFO too: its video line says why */
        } else {
            free(path);
        }
    }
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int vtag_inputs_expand(const char *const *args, int64_t n_args, const vtag_inputs_opts *o, vtag_inputs_list *out,
                       vtag_error *err)
{
    memset(out, 0, sizeof *out);
    vtag_inputs_opts lim;
    if (o) lim = *o;
    else vtag_inputs_opts_defaults(&lim);
    if (!lim.max_depth) lim.max_depth = 64;
    if (!lim.max_videos) lim.max_videos = 10000000;
    if (!lim.max_entries) lim.max_entries = 100000000;
    walk w;
    memset(&w, 0, sizeof w);
    w.o = &lim;
    w.out = out;
    w.exts = lim.extensions ? lim.extensions : VTAG_INPUTS_EXT_DEFAULT;
    const char *allowed = lim.protocols ? lim.protocols : VTAG_VIDEO_PROTOCOLS_DEFAULT;
    int rc = vtag_inputs_extensions_check(w.exts, err);
    if (!rc) rc = vtag_video_protocols_check(allowed, err);
    if (rc) return rc;
    if (lim.max_depth < 0 || lim.max_depth > 100 || lim.max_videos < 0 || lim.max_entries < 0)
        return vtag_fail(err, VTAG_ERR_ARG, "inputs: max_depth must lie in [0, 100], the counts be >= 0");
    for (int64_t i = 0; i < n_args && !rc; i++) {
        const char *a = args[i];
        char proto[32];
        vtag_video_input_protocol(a, proto, sizeof proto);
        if (!vtag_video_protocol_allowed(allowed, proto))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: protocol '%s' is not allowed (--allow-protocols)", a, proto);
        struct stat sb;
        /* a URL, "-" and "file:" names go to FFmpeg as they are; so does a path that is
           no folder (a missing file gets its own error line) */
        if (strcmp(proto, "file") != 0 || strncmp(a, "file:", 5) == 0 || stat(a, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            rc = add(&w, strdup(a), a, err);
            continue;
        }
        if (!o->recursive) return vtag_fail(err, VTAG_ERR_ARG, "%s is a directory: add --recursive", a);
        rc = walk_dir(&w, a, &sb, 0, a, err);
    }
    return rc;
}

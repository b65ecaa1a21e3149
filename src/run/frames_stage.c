/* The staging folder of vtag_frames_extract: everything a run writes goes to
 * DIR/.frames.XXXXXX (the same file system, so files move by rename) and
 * replaces the previous run's files at the end, or is dropped: a run that
 * fails leaves DIR as it was. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "frames_stage.h"

/* mkdir -p */
static int make_dir(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(buf, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int frames_stage_open(const char *out_dir, char **stage, vtag_error *err)
{
    *stage = NULL;
    if (make_dir(out_dir) != 0)
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot create the folder: %s", out_dir, strerror(errno));
    char *s = vtag_path_join(out_dir, ".frames.XXXXXX");
    if (!s) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", out_dir);
    if (!mkdtemp(s)) {
        int rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot create a staging folder: %s", out_dir, strerror(errno));
        free(s);
        return rc;
    }
    *stage = s;
    return VTAG_OK;
}

/* The entries of a folder, without "." and ".."; NULL on error (errno set). */
static char **list_dir(const char *dir, int64_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    int64_t cap = 16;
    char **names = malloc((size_t)cap * sizeof *names);
    struct dirent *e = NULL;
    while (names && (errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (*n == cap) {
            char **more = realloc(names, (size_t)(cap *= 2) * sizeof *names);
            if (!more) break;
            names = more;
        }
        if (!(names[*n] = strdup(e->d_name))) break;
        ++*n;
    }
    const int bad = !names || errno != 0 || e != NULL;
    const int saved = bad ? (errno ? errno : ENOMEM) : 0;
    closedir(d);
    if (bad) {
        for (int64_t i = 0; names && i < *n; i++) free(names[i]);
        free(names);
        *n = 0;
        errno = saved;
        return NULL;
    }
    return names;
}

static void free_names(char **names, int64_t n)
{
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

void frames_stage_drop(char **stage)
{
    if (!*stage) return;
    int64_t n;
    char **names = list_dir(*stage, &n);
    for (int64_t i = 0; i < n; i++) {
        char *path = vtag_path_join(*stage, names[i]);
        if (path) unlink(path);
        free(path);
    }
    free_names(names, n);
    rmdir(*stage);
    free(*stage);
    *stage = NULL;
}

/* A PNG a previous index named, if it is one of ours: a plain name in DIR. */
static int is_frame_name(const char *file)
{
    const size_t n = strlen(file);
    return n > 4 && file[0] != '.' && !strchr(file, '/') && strcmp(file + n - 4, ".png") == 0;
}

/* The PNGs the index at path names (an empty array when there is none). */
static json_t *indexed_files(const char *path)
{
    json_t *old = json_array();
    FILE *f = vtag_is_file(path) ? fopen(path, "r") : NULL;
    char line[16384]; /* ours are a few hundred bytes; a longer line is not ours and is skipped */
    int skipping = 0;
    while (f && old && fgets(line, sizeof line, f)) {
        const int ends = strchr(line, '\n') != NULL || feof(f), skip = skipping;
        skipping = !ends;
        if (skip || !ends) continue;
        json_t *o = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        const char *file = json_string_value(json_object_get(o, "file"));
        if (file && is_frame_name(file)) json_array_append_new(old, json_string(file));
        json_decref(o);
    }
    if (f) fclose(f);
    return old;
}

/* The folder's entries reach the disk (best effort: the files are in place either way). */
/* At every moment DIR holds either an index and exactly the PNGs it was
 * written with, or no index. */
int frames_stage_commit(const char *out_dir, const char *stage, vtag_error *err)
{
    int64_t n_new;
    char **fresh = list_dir(stage, &n_new);
    if (!fresh) return vtag_fail(err, VTAG_ERR_IO, "%s: %s", stage, strerror(errno));
    char *index = vtag_path_join(out_dir, "frames.jsonl"), *staged_index = vtag_path_join(stage, "frames.jsonl");
    json_t *old = index ? indexed_files(index) : NULL; /* read before it goes */
    int rc = VTAG_OK;
    if (!index || !staged_index || !old) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", out_dir);
    if (!rc && unlink(index) != 0 && errno != ENOENT)
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot replace it: %s", index, strerror(errno));
    for (int64_t i = 0; i < n_new && !rc; i++) {
        if (strcmp(fresh[i], "frames.jsonl") == 0) continue;
        char *staged = vtag_path_join(stage, fresh[i]), *target = vtag_path_join(out_dir, fresh[i]);
        if (!staged || !target) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", out_dir);
        else if (rename(staged, target) != 0) rc = vtag_fail(err, VTAG_ERR_IO, "%s: %s", target, strerror(errno));
        free(staged);
        free(target);
    }
    if (!rc && rename(staged_index, index) != 0)
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: %s", index, strerror(errno));
    size_t i;
    json_t *v;
    json_array_foreach(old, i, v) {
        if (rc) break;
        const char *file = json_string_value(v);
        int kept = 0;
        for (int64_t j = 0; j < n_new && !kept; j++) kept = strcmp(fresh[j], file) == 0;
        char *target = kept ? NULL : vtag_path_join(out_dir, file);
        if (target) unlink(target);
        free(target);
    }
    if (!rc) vtag_fsync_dir(out_dir);
    json_decref(old);
    free(index);
    free(staged_index);
    free_names(fresh, n_new);
    return rc;
}

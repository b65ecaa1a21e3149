/* Files: atomic writes (temporary name, fsync, rename, folder fsync), path
 * join, the regular-file test and the monotonic clock — the one copy of each
 * that every writer in src/ and tools/ uses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vtag/core.h"

char *vtag_path_join(const char *dir, const char *name)
{
    size_t nd = strlen(dir), nn = strlen(name);
    char *p = malloc(nd + nn + 2);
    if (!p) return NULL;
    memcpy(p, dir, nd);
    p[nd] = '/';
    memcpy(p + nd + 1, name, nn + 1);
    return p;
}

int vtag_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

double vtag_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The folder part of path ("." when it has none), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static void atomic_clear(vtag_atomic *a)
{
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

int vtag_atomic_open(vtag_atomic *a, const char *path, vtag_error *err)
{
    memset(a, 0, sizeof *a);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) return vtag_fail(err, VTAG_ERR_ARG, "%s: not a file name", path);
    size_t nd = slash ? (size_t)(slash - path) + 1 : 0, nb = strlen(base);
    a->path = strdup(path);
    a->tmp = malloc(nd + nb + 9);
    if (!a->path || !a->tmp) {
        atomic_clear(a);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(a->tmp, path, nd);
    a->tmp[nd] = '.';
    memcpy(a->tmp + nd + 1, base, nb);
    memcpy(a->tmp + nd + 1 + nb, ".XXXXXX", 8);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                           strerror(errno));
        atomic_clear(a);
        return rc;
    }
    (void)fchmod(fd, 0644);
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        close(fd);
        unlink(a->tmp);
        atomic_clear(a);
        return rc;
    }
    return VTAG_OK;
}

void vtag_atomic_abort(vtag_atomic *a)
{
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    atomic_clear(a);
}

int vtag_atomic_commit(vtag_atomic *a, vtag_error *err)
{
    int e = 0;
    if (a->f) {
        if (fflush(a->f) != 0 || ferror(a->f)) e = errno ? errno : EIO;
        if (!e && fsync(fileno(a->f)) != 0) e = errno;
        if (fclose(a->f) != 0 && !e) e = errno;
        a->f = NULL;
    } else {
        /* written by name (FFmpeg): its data reaches the disk through a new descriptor */
        int fd = open(a->tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0) e = errno;
        if (fd >= 0) close(fd);
    }
    if (!e && rename(a->tmp, a->path) != 0) e = errno;
    if (e) {
        int rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", a->path, strerror(e));
        unlink(a->tmp);
        atomic_clear(a);
        return rc;
    }
    /* the rename itself reaches the disk with the folder */
    char *dir = dir_of(a->path);
    int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dir);
    atomic_clear(a);
    return VTAG_OK;
}

int vtag_atomic_write(const char *path, const void *data, size_t n, vtag_error *err)
{
    vtag_atomic a;
    int rc = vtag_atomic_open(&a, path, err);
    if (rc) return rc;
    if (n && fwrite(data, 1, n, a.f) != n) {
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: write failed: %s", path, strerror(errno ? errno : EIO));
        vtag_atomic_abort(&a);
        return rc;
    }
    return vtag_atomic_commit(&a, err);
}

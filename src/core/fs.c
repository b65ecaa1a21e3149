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

void vtag_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
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

/* The temporary file is ".NAME.tmp.XXXXXX": hidden from globs such as
 * "*.png", and with ".tmp." in it, the mark every leftover check looks for. */
#define TMP_SUFFIX ".tmp.XXXXXX"

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
    a->tmp = malloc(nd + nb + sizeof TMP_SUFFIX + 1);
    if (!a->path || !a->tmp) {
        atomic_clear(a);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(a->tmp, path, nd);
    a->tmp[nd] = '.';
    memcpy(a->tmp + nd + 1, base, nb);
    memcpy(a->tmp + nd + 1 + nb, TMP_SUFFIX, sizeof TMP_SUFFIX);
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

#ifdef VTAG_TEST_HOOKS
/* Test builds only (cmake -DVTAG_TEST_HOOKS=ON, the ASan build of make test):
 * with VTAG_TEST_ATOMIC_PAUSE=TEXT in the environment, a commit of a target
 * whose path contains TEXT stops before its last flush, the temporary file
 * partly written and the target untouched, and names the temporary file in
 * "TARGET.paused" (written whole, then renamed into place), then sleeps 30 s
 * so that tests/faults/atomic_kill.py can kill it there with SIGKILL. */
static void test_pause(const vtag_atomic *a)
{
    const char *want = getenv("VTAG_TEST_ATOMIC_PAUSE");
    if (!want || !*want || !strstr(a->path, want)) return;
    size_t n = strlen(a->path);
    char *marker = malloc(n + 16), *staged = malloc(n + 16);
    if (marker && staged) {
        snprintf(marker, n + 16, "%s.paused", a->path);
        snprintf(staged, n + 16, "%s.pausing", a->path);
        FILE *f = fopen(staged, "w");
        if (f) {
            fprintf(f, "%s\n", a->tmp);
            if (fclose(f) == 0) (void)rename(staged, marker);
        }
    }
    free(marker);
    free(staged);
    struct timespec left = {30, 0};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}
#endif

int vtag_atomic_commit(vtag_atomic *a, vtag_error *err)
{
    /* a writer that ignored a failed fwrite: errno still holds its reason */
    int e = 0, failed = a->f && ferror(a->f) ? (errno ? errno : EIO) : 0;
#ifdef VTAG_TEST_HOOKS
    test_pause(a);
#endif
    if (a->f) {
        errno = 0;
        if (fflush(a->f) != 0) e = errno ? errno : EIO;
        if (!e) e = failed;
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
    if (dir) vtag_fsync_dir(dir);
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

int vtag_log_open(vtag_log *l, const char *path, vtag_error *err)
{
    l->f = NULL;
    l->path = path;
    if (path && !(l->f = fopen(path, "a"))) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open the log", path);
    return VTAG_OK;
}

int vtag_log_line(vtag_log *l, const char *line, vtag_error *err)
{
    if (!l->f) return VTAG_OK;
    errno = 0;
    if (fputs(line, l->f) >= 0 && fputc('\n', l->f) != EOF && fflush(l->f) == 0) return VTAG_OK;
    return vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", l->path, errno ? strerror(errno) : "write error");
}

int vtag_log_close(vtag_log *l, vtag_error *err)
{
    if (!l->f) return VTAG_OK;
    errno = 0;
    int bad = ferror(l->f) != 0;
    int closed = fclose(l->f);
    l->f = NULL;
    if (closed != 0 || bad)
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot write: %s", l->path, errno ? strerror(errno) : "write error");
    return VTAG_OK;
}

void vtag_diverged_at(vtag_error *err, const char *phase, int epoch, const char *out)
{
    if (!err) return;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (vtag_is_file(out))
        vtag_fail(err, VTAG_ERR_DIVERGED, "%s %d %s; kept the last good checkpoint %s", phase, epoch + 1, msg, out);
    else
        vtag_fail(err, VTAG_ERR_DIVERGED, "%s %d %s; no checkpoint was written", phase, epoch + 1, msg);
}

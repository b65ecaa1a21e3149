/* Exclusive locks on run folders (vtag pipeline): flock(2) on a lock file,
 * which the kernel drops when the last descriptor of it closes, however the
 * processes holding it died. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtag/core.h"

/* The pid written in a lock file, or -1 when it holds none (yet). */
static long read_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && (*end == '\n' || *end == '\0') && pid > 0 ? pid : -1;
}

int vtag_lock_file(const char *path, int *fd, long *holder, vtag_error *err)
{
    *fd = -1;
    *holder = 0;
    /* no O_CLOEXEC: children inherit the lock, so that a child which outlives
     * its parent still holds it; no symlink and no second name: the pid is
     * written into this file, not into another one a folder points at */
    int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (f < 0) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open the lock file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        close(f);
        return vtag_fail(err, VTAG_ERR_IO, "%s: not a lock file (a regular file with one name)", path);
    }
    int rc;
    while ((rc = flock(f, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            *holder = read_holder(f);
            close(f);
            if (*holder > 0) return vtag_fail(err, VTAG_ERR_IO, "%s: locked by pid %ld", path, *holder);
            return vtag_fail(err, VTAG_ERR_IO, "%s: locked by another process", path);
        }
        close(f);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
        int e = errno;
        close(f);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot write the lock file: %s", path, strerror(e));
    }
    *fd = f;
    return VTAG_OK;
}

void vtag_lock_release(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

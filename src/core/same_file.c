/* File identity: whether two names (or an open descriptor and a name) are one
 * file, so that a command can refuse an output that would overwrite one of its
 * inputs. One file = one (device, inode) pair after following symlinks. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "vtag/core.h"

/* *exists = 0 when path names nothing (ENOENT, ENOTDIR: also a dangling
 * symlink); any other stat failure is an error. */
static int stat_path(const char *path, struct stat *st, int *exists, vtag_error *err)
{
    *exists = 0;
    if (stat(path, st) == 0) {
        *exists = 1;
        return VTAG_OK;
    }
    if (errno == ENOENT || errno == ENOTDIR) return VTAG_OK;
    return vtag_fail(err, VTAG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
}

int vtag_path_same_file(const char *a, const char *b, int *same, vtag_error *err)
{
    *same = 0;
    struct stat sa, sb;
    int ea, eb, rc = stat_path(a, &sa, &ea, err);
    if (!rc && ea) rc = stat_path(b, &sb, &eb, err);
    if (!rc && ea && eb) *same = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return rc;
}

int vtag_fd_same_file(int fd, const char *path, int *same, vtag_error *err)
{
    *same = 0;
    struct stat sf, sp;
    int exists;
    if (fstat(fd, &sf) != 0)
        return vtag_fail(err, VTAG_ERR_IO, "file descriptor %d: cannot stat: %s", fd, strerror(errno));
    int rc = stat_path(path, &sp, &exists, err);
    if (!rc && exists) *same = sf.st_dev == sp.st_dev && sf.st_ino == sp.st_ino;
    return rc;
}

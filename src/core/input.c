/* Opening input files so that no path can hang vtag (a FIFO without a
 * writer blocks in open(), a terminal in read()), and reading lines with a
 * length cap so that no file can make a line buffer grow without end. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vtag/core.h"

static const char *kind_of(mode_t m)
{
    return S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
           : S_ISSOCK(m) ? "a socket" : S_ISDIR(m) ? "a directory" : "not a file";
}

static int refuse(const char *path, mode_t m, vtag_error *err)
{
    return vtag_fail(err, VTAG_ERR_IO, "%s: not a regular file (%s)", path, kind_of(m));
}

int vtag_file_open_fd(int *fd, const char *path, vtag_error *err)
{
    /* O_NONBLOCK: open() returns at once on a FIFO, then fstat refuses it. */
    int d = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    *fd = -1;
    if (d < 0) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(d, &st) != 0) {
        int e = errno;
        close(d);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(d);
        return refuse(path, st.st_mode, err);
    }
    int flags = fcntl(d, F_GETFL);
    if (flags < 0 || fcntl(d, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(d);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    *fd = d;
    return VTAG_OK;
}

int vtag_file_open(FILE **f, const char *path, vtag_error *err)
{
    int fd;
    *f = NULL;
    int rc = vtag_file_open_fd(&fd, path, err);
    if (rc) return rc;
    if (!(*f = fdopen(fd, "rb"))) {
        int e = errno;
        close(fd);
        return vtag_fail(err, e == ENOMEM ? VTAG_ERR_NOMEM : VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    return VTAG_OK;
}

int vtag_file_check_regular(const char *path, vtag_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return S_ISREG(st.st_mode) ? VTAG_OK : refuse(path, st.st_mode, err);
}

/* "1 MiB" for the caps in use, the byte count otherwise. */
static void size_words(char *buf, size_t cap, size_t bytes)
{
    if (bytes >= 1024 && bytes % ((size_t)1 << 20) == 0) snprintf(buf, cap, "%zu MiB", bytes >> 20);
    else if (bytes >= 1024 && bytes % 1024 == 0) snprintf(buf, cap, "%zu KiB", bytes >> 10);
    else snprintf(buf, cap, "%zu bytes", bytes);
}

int vtag_line_read(vtag_line *ln, FILE *f, const char *path, size_t max_len, vtag_error *err)
{
    ln->len = 0;
    errno = 0;
    for (;;) {
        int c = getc_unlocked(f);
        if (c == EOF) break;
        /* room for c and the NUL; at most max_len + 2 bytes in all */
        if (ln->len + 2 > ln->cap) {
            size_t cap = ln->cap ? 2 * ln->cap : 256;
            if (cap > max_len + 2) cap = max_len + 2;
            char *d = realloc(ln->data, cap);
            if (!d) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory reading line %lld", path,
                                     (long long)ln->number + 1);
            ln->data = d;
            ln->cap = cap;
        }
        ln->data[ln->len++] = (char)c;
        if (c == '\n') break;
        if (ln->len > max_len) {
            char words[32];
            size_words(words, sizeof words, max_len);
            ln->len = 0;
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: line %lld is longer than %s", path,
                             (long long)ln->number + 1, words);
        }
    }
    if (ln->len == 0) {
        if (ferror(f))
            return vtag_fail(err, VTAG_ERR_IO, "%s: read error after line %lld: %s", path, (long long)ln->number,
                             strerror(errno ? errno : EIO));
        return VTAG_OK;
    }
    if (ferror(f))
        return vtag_fail(err, VTAG_ERR_IO, "%s: read error in line %lld: %s", path, (long long)ln->number + 1,
                         strerror(errno ? errno : EIO));
    ln->data[ln->len] = '\0';
    ln->number++;
    return VTAG_OK;
}

void vtag_line_free(vtag_line *ln)
{
    free(ln->data);
    memset(ln, 0, sizeof *ln);
}

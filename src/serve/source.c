/* Where a request's video comes from besides its body: a file inside --root, or an http(s)
 * URL fetched (with FFmpeg's avio, already a dependency) into the private upload folder. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avio.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>

#include "serve/serve_impl.h"

int vtag_serve_upload_file(const vtag_server *s, char **out)
{
    *out = vtag_path_join(s->tmpdir, "upload.XXXXXX");
    if (!*out) return -1;
    int fd = mkstemp(*out); /* mode 0600 */
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (fd < 0) {
        free(*out);
        *out = NULL;
    }
    return fd;
}

/* True when some '/'-separated component of p is "..". */
static int has_dotdot(const char *p)
{
    for (const char *c = p; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 2 && c[0] == '.' && c[1] == '.') return 1;
        if (!e) break;
        c = e + 1;
    }
    return 0;
}

int vtag_serve_resolve_path(const vtag_server *s, const char *path, char **out, char *msg, size_t cap)
{
    *out = NULL;
    if (!s->root_real) return snprintf(msg, cap, "path requests are off (the server has no root folder)"), 403;
    if (!*path) return snprintf(msg, cap, "path is empty"), 400;
    if (has_dotdot(path)) return snprintf(msg, cap, "path may not contain '..'"), 403;
    /* Relative to root; an absolute path must lie inside root as well. */
    char *joined = path[0] == '/' ? strdup(path) : vtag_path_join(s->root_real, path);
    if (!joined) return snprintf(msg, cap, "out of memory"), 500;
    char *real = realpath(joined, NULL); /* follows every symlink */
    free(joined);
    if (!real) return snprintf(msg, cap, "path not found under the root folder"), 404;
    size_t n = strlen(s->root_real);
    int inside = strncmp(real, s->root_real, n) == 0 && (real[n] == '/' || (n == 1 && s->root_real[0] == '/'));
    if (!inside) {
        free(real);
        return snprintf(msg, cap, "path leaves the root folder"), 403;
    }
    if (!vtag_is_file(real)) {
        free(real);
        return snprintf(msg, cap, "path is not a regular file"), 404;
    }
    *out = real;
    return 0;
}

int vtag_serve_fetch_url(const vtag_server *s, const char *url, char **out, char *msg, size_t cap)
{
    *out = NULL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return snprintf(msg, cap, "url must start with http:// or https://"), 400;
    AVDictionary *o = NULL;
    char us[32];
    snprintf(us, sizeof us, "%lld", (long long)(s->opts.timeout_s * 1e6));
    av_dict_set(&o, "protocol_whitelist", "http,https,tcp,tls", 0);
    av_dict_set(&o, "rw_timeout", us, 0);
    AVIOContext *in = NULL;
    int r = avio_open2(&in, url, AVIO_FLAG_READ, NULL, &o);
    av_dict_free(&o);
    if (r < 0) return snprintf(msg, cap, "url: cannot fetch"), 422;
    char *file = NULL;
    int fd = vtag_serve_upload_file(s, &file);
    int status = 0;
    if (fd < 0) {
        snprintf(msg, cap, "cannot make an upload file");
        status = 500;
    }
    int64_t total = 0;
    unsigned char buf[65536];
    while (!status) {
        int n = avio_read(in, buf, (int)sizeof buf);
        if (n == AVERROR_EOF || n == 0) break;
        if (n < 0) {
            snprintf(msg, cap, "url: fetch failed");
            status = 422;
            break;
        }
        total += n;
        if (total > s->opts.max_body) {
            snprintf(msg, cap, "url: body over %lld bytes", (long long)s->opts.max_body);
            status = 413;
            break;
        }
        for (int off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                snprintf(msg, cap, "cannot write the upload file");
                status = 500;
                break;
            }
            off += (int)w;
        }
    }
    avio_closep(&in);
    if (fd >= 0) close(fd);
    if (status) {
        if (file) unlink(file);
        free(file);
        return status;
    }
    *out = file;
    return 0;
}

/* Status codes and the one-line error messages the library hands back. Every
 * message is escaped (vtag_text_escape): it quotes file names and fields read
 * from files, and those must not reach a terminal raw. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vtag/core.h"

/* The code point of a valid n-byte UTF-8 sequence. */
static unsigned utf8_code(const unsigned char *s, size_t n)
{
    if (n == 1) return s[0];
    unsigned c = s[0] & (0x7Fu >> n);
    for (size_t k = 1; k < n; k++) c = c << 6 | (s[k] & 0x3Fu);
    return c;
}

/* Code points that act on a terminal or a line without being ASCII control
 * bytes: C1 controls (0x9B is CSI), the line and paragraph separators, and
 * the bidirectional marks, embeddings, overrides and isolates. */
static int is_invisible_control(unsigned c)
{
    return (c >= 0x80 && c <= 0x9F) || c == 0x200E || c == 0x200F || (c >= 0x2028 && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0x061C;
}

size_t vtag_text_escape(char *dst, size_t cap, const char *src)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t len = strlen(src), o = 0;
    for (size_t i = 0; i < len;) {
        char esc[16];
        size_t n = 1, e;
        unsigned c = s[i];
        if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\', esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't', e = 2;
        } else if (c < 0x20 || c == 0x7F) {
            e = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
        } else if (c < 0x80) {
            esc[0] = (char)c, e = 1;
        } else {
            n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (n > len - i || vtag_utf8_valid_prefix((const char *)s + i, n) != n) {
                n = 1;
                e = (size_t)snprintf(esc, sizeof esc, "\\x%02x", c);
            } else if (is_invisible_control(utf8_code(s + i, n))) {
                e = (size_t)snprintf(esc, sizeof esc, "\\u%04x", utf8_code(s + i, n));
            } else {
                memcpy(esc, s + i, n), e = n;
            }
        }
        if (o + e >= cap) break; /* whole characters and escapes only */
        memcpy(dst + o, esc, e);
        o += e;
        i += n;
    }
    if (cap) dst[o] = '\0';
    return o;
}

int vtag_fail(vtag_error *err, int code, const char *fmt, ...)
{
    if (err) {
        char raw[2 * sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        vtag_text_escape(err->msg, sizeof err->msg, raw);
        err->code = code;
    }
    return code;
}

const char *vtag_status_name(int code)
{
    switch (code) {
    case VTAG_OK: return "ok";
    case VTAG_ERR_ARG: return "invalid argument";
    case VTAG_ERR_NOMEM: return "out of memory";
    case VTAG_ERR_IO: return "i/o error";
    case VTAG_ERR_FORMAT: return "malformed file";
    case VTAG_ERR_NOTFOUND: return "not found";
    case VTAG_ERR_UNSUPPORTED: return "unsupported";
    case VTAG_ERR_DIVERGED: return "training diverged";
    default: return "unknown error";
    }
}

/* Small text helpers for the HTML report: a growable string with printf and
 * HTML escaping, base64 for embedded PNGs, and the report's atomic write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static int sb_reserve(eval_sb *b, size_t more)
{
    if (b->failed) return -1;
    if (b->len + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void eval_sb_putn(eval_sb *b, const char *s, size_t n)
{
    if (sb_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void eval_sb_puts(eval_sb *b, const char *s) { eval_sb_putn(b, s, strlen(s)); }

void eval_sb_printf(eval_sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void eval_sb_esc(eval_sb *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': eval_sb_puts(b, "&amp;"); break;
        case '<': eval_sb_puts(b, "&lt;"); break;
        case '>': eval_sb_puts(b, "&gt;"); break;
        case '"': eval_sb_puts(b, "&quot;"); break;
        case '\'': eval_sb_puts(b, "&#39;"); break;
        default: eval_sb_putn(b, p, 1);
        }
    }
}

void eval_sb_base64(eval_sb *b, const unsigned char *d, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (sb_reserve(b, (n + 2) / 3 * 4)) return;
    char *o = b->s + b->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (unsigned)d[i + 1] << 8 | d[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->s);
    b->s[b->len] = 0;
}

void eval_sb_free(eval_sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

int eval_write_atomic(const char *path, const eval_sb *b, vtag_error *err)
{
    if (b->failed) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory while building the report", path);
    return vtag_atomic_write(path, b->s, b->len, err);
}

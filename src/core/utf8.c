/* Strict UTF-8 validation (RFC 3629): labels files must be UTF-8 (an invalid
 * byte is reported with its line), file names written into JSON must be, and
 * messages escape whatever is not. */
#include "vtag/core.h"

size_t vtag_utf8_valid_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) n = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
            else if (c == 0xED) hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0) lo = 0x90;      /* no overlong forms */
            else if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
        } else {
            return i;
        }
        if (len - i < n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += n;
    }
    return len;
}

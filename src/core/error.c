/* Status codes and the one-line error messages the library hands back. */
#include <stdarg.h>
#include <stdio.h>

#include "vtag/core.h"

int vtag_fail(vtag_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
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
    default: return "unknown error";
    }
}

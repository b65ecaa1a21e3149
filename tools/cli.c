/* Helpers shared by the vtag commands. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "vtag/core.h"

/* One line on stderr, escaped: messages quote paths and fields of input
 * files, which must not reach the terminal raw or add a line. */
static void print_line(const char *cmd, const char *fmt, va_list ap)
{
    char raw[2048], msg[4 * sizeof raw];
    vsnprintf(raw, sizeof raw, fmt, ap);
    vtag_text_escape(msg, sizeof msg, raw);
    if (cmd) fprintf(stderr, "vtag %s: %s\n", cmd, msg);
    else fprintf(stderr, "vtag: %s\n", msg);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line(cmd, fmt, ap);
    va_end(ap);
}

void cli_note(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_line(cmd, fmt, ap);
    va_end(ap);
}

int cli_parse_int(const char *cmd, const char *opt, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        cli_error(cmd, "%s expects an integer in [%ld, %ld], got '%s'", opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        cli_error(cmd, "%s expects a number, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

double cli_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *cli_path(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

int cli_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Helpers shared by the vtag commands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    if (errno || end == s || *end || !isfinite(v)) {
        cli_error(cmd, "%s expects a finite number, got '%s'", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* "a finite number > 0", "a finite number in [0, 1)" ... */
static void describe_range(char *buf, size_t cap, double lo, double hi, int flags)
{
    const int no_lo = lo <= -CLI_FLOAT_MAX, no_hi = hi >= CLI_FLOAT_MAX;
    if (no_lo && no_hi) snprintf(buf, cap, "a finite number");
    else if (no_hi) snprintf(buf, cap, "a finite number %s %g", flags & CLI_OPEN_LO ? ">" : ">=", lo);
    else if (no_lo) snprintf(buf, cap, "a finite number %s %g", flags & CLI_OPEN_HI ? "<" : "<=", hi);
    else
        snprintf(buf, cap, "a number in %c%g, %g%c", flags & CLI_OPEN_LO ? '(' : '[', lo, hi,
                 flags & CLI_OPEN_HI ? ')' : ']');
}

static int in_range(double v, double lo, double hi, int flags)
{
    if (flags & CLI_AS_FLOAT) v = (float)v; /* a finite double past FLT_MAX becomes inf: refused */
    return isfinite(v) && ((flags & CLI_OPEN_LO) ? v > lo : v >= lo) && ((flags & CLI_OPEN_HI) ? v < hi : v <= hi);
}

int cli_parse_real(const char *cmd, const char *opt, const char *s, double lo, double hi, int flags, double *out)
{
    return cli_parse_reals(cmd, opt, s, 1, lo, hi, flags, out);
}

int cli_parse_reals(const char *cmd, const char *opt, const char *s, int n, double lo, double hi, int flags,
                    double *out)
{
    const char *p = s;
    int ok = 1;
    for (int k = 0; k < n && ok; k++) {
        char *end;
        const char want = k + 1 < n ? ',' : '\0';
        errno = 0;
        out[k] = strtod(p, &end);
        ok = !errno && end != p && *end == want && in_range(out[k], lo, hi, flags);
        p = end + (want == ',');
    }
    if (ok) return 0;
    char range[96];
    describe_range(range, sizeof range, lo, hi, flags);
    if (n == 1) cli_error(cmd, "%s expects %s, got '%s'", opt, range, s);
    else cli_error(cmd, "%s expects %d comma-separated numbers, each %s, got '%s'", opt, n, range, s);
    return -1;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    }
    return 0;
}

/* "--out X", or "stdout" when path is NULL. */
static void name_file(char *buf, size_t cap, const char *opt, const char *path)
{
    if (path) snprintf(buf, cap, "%s %s", opt, path);
    else snprintf(buf, cap, "stdout");
}

/* Whether the output out (path NULL: stdout) is the input in: CLI_EXIT_OK,
 * or the exit status after the message. */
static int clash(const char *cmd, const cli_file *out, const cli_file *in)
{
    if (!in->path) return CLI_EXIT_OK;
    vtag_error err = {0};
    int same = 0;
    int rc = out->path ? vtag_path_same_file(out->path, in->path, &same, &err)
                       : vtag_fd_same_file(1, in->path, &same, &err);
    if (rc) {
        cli_error(cmd, "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (!same) return CLI_EXIT_OK;
    char a[1200], b[1200];
    name_file(a, sizeof a, out->opt, out->path);
    name_file(b, sizeof b, in->opt, in->path);
    cli_error(cmd, "%s is the same file as %s", a, b);
    return CLI_EXIT_USAGE;
}

/* The outputs given (and stdout with check_stdout) against one input. */
static int clash_any(const char *cmd, const cli_file *outs, int n_outs, const cli_file *in, int check_stdout)
{
    const cli_file std = {"stdout", NULL};
    int rc = check_stdout ? clash(cmd, &std, in) : CLI_EXIT_OK;
    for (int o = 0; o < n_outs && !rc; o++)
        if (outs[o].path) rc = clash(cmd, &outs[o], in);
    return rc;
}

int cli_check_outputs(const char *cmd, const cli_file *outs, int n_outs, const cli_file *ins, int n_ins,
                      int check_stdout)
{
    int rc = CLI_EXIT_OK;
    for (int j = 0; j < n_ins && !rc; j++) rc = clash_any(cmd, outs, n_outs, &ins[j], check_stdout);
    /* two outputs on one file: the later write would undo the earlier */
    for (int o = 1; o < n_outs && !rc; o++)
        for (int j = 0; j < o && !rc && outs[o].path; j++) rc = clash(cmd, &outs[o], &outs[j]);
    return rc;
}

int cli_check_outputs_paths(const char *cmd, const cli_file *outs, int n_outs, const char *opt,
                            const char *const *paths, int64_t n_paths, int check_stdout)
{
    int rc = CLI_EXIT_OK;
    for (int64_t i = 0; i < n_paths && !rc; i++) {
        const cli_file in = {opt, paths[i]};
        rc = clash_any(cmd, outs, n_outs, &in, check_stdout);
    }
    return rc;
}

int cli_check_outputs_videos(const char *cmd, const cli_file *outs, int n_outs, const vtag_data_labels *labels,
                             int check_stdout)
{
    int rc = CLI_EXIT_OK;
    for (int64_t e = 0; e < labels->count && !rc; e++) {
        const cli_file in = {"video", labels->entries[e].path};
        rc = clash_any(cmd, outs, n_outs, &in, check_stdout);
    }
    return rc;
}

static void stdout_failed(const char *cmd, int errno_at)
{
    if (errno_at) cli_error(cmd, "cannot write to stdout: %s", strerror(errno_at));
    else cli_error(cmd, "cannot write to stdout");
}

int cli_stdout_error(const char *cmd, int errno_at)
{
    stdout_failed(cmd, errno_at);
    clearerr(stdout); /* reported: the check at exit must not report it again */
    return -1;
}

int cli_put_line(const char *cmd, const char *line)
{
    errno = 0;
    if (fputs(line, stdout) >= 0 && putchar('\n') != EOF) return 0;
    return cli_stdout_error(cmd, errno);
}

int cli_flush_stdout(const char *cmd)
{
    errno = 0;
    if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
    return cli_stdout_error(cmd, errno);
}

int cli_close_stdout(const char *cmd, int status)
{
    errno = 0;
    int bad = fflush(stdout) != 0, e = errno;
    bad |= ferror(stdout) != 0;
    /* fclose is where a file system that reports errors late (NFS) says so */
    errno = 0;
    if (fclose(stdout) != 0) {
        bad = 1;
        if (!e) e = errno;
    }
    if (!bad) return status;
    stdout_failed(cmd, e);
    return status == CLI_EXIT_USAGE ? status : CLI_EXIT_FAIL;
}

int cli_agreed(const char *cmd, vtag_cluster *c, int status, const vtag_error *e)
{
    vtag_error m = {0};
    if (e) m = *e;
    int all = status;
    if (vtag_cluster_agree(c, status, &m, &all)) {
        cli_error(cmd, "rank %d: %s", vtag_cluster_rank(c), m.msg);
        vtag_cluster_abort(c, CLI_EXIT_FAIL);
        return CLI_EXIT_FAIL;
    }
    if (all && vtag_cluster_rank(c) == 0 && (e || !status)) cli_error(cmd, "%s", m.msg);
    return all;
}

void cli_where_set(cli_where *w, int epoch, int scst, long long done, long long total)
{
    w->epoch = epoch; /* stores to _Atomic members: atomic */
    w->scst = scst;
    w->done = done;
    w->total = total;
}

typedef struct stop_watch {
    const char *cmd;
    const cli_where *w;
} stop_watch;

static void report_stop(void *user, int sig)
{
    const stop_watch *s = user;
    const cli_where *w = s->w;
    char rank[64] = "";
    if (w->ranks > 1) snprintf(rank, sizeof rank, "rank %d of %d: ", w->rank, w->ranks);
    const int epoch = w->epoch;
    if (epoch > 0)
        fprintf(stderr, "vtag %s: %sstopped by signal %d (%s) in epoch %d/%d (%s), row %lld of %lld; the state of the "
                        "last finished epoch is saved: rerun with --resume to continue\n", s->cmd, rank, sig,
                strsignal(sig), epoch, (int)w->epochs, w->scst ? "SCST" : "XE", (long long)w->done,
                (long long)w->total);
    else
        fprintf(stderr, "vtag %s: %sstopped by signal %d (%s) before the first epoch\n", s->cmd, rank, sig,
                strsignal(sig));
    _exit(128 + sig);
}

int cli_stop_message(const char *cmd, const cli_where *w)
{
    stop_watch *s = malloc(sizeof *s); /* the watcher's for the rest of the process */
    if (!s) return cli_error(cmd, "out of memory"), -1;
    *s = (stop_watch){cmd, w};
    vtag_error err = {0};
    if (vtag_on_stop_signal(report_stop, s, &err)) {
        free(s);
        cli_error(cmd, "%s", err.msg);
        return -1;
    }
    return 0;
}

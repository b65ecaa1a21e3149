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

int cli_cluster_failed(const char *cmd, vtag_cluster *c, const vtag_error *err, int said)
{
    const int rank = vtag_cluster_rank(c);
    const int together = vtag_cluster_size(c) == 1 || vtag_cluster_failed_together(c);
    if (!together && rank > 0) cli_error(cmd, "rank %d: %s", rank, err->msg);
    else if (rank == 0 && !said) cli_error(cmd, "%s", err->msg);
    if (!together) vtag_cluster_abort(c, CLI_EXIT_FAIL);
    return CLI_EXIT_FAIL;
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

/* Edit distance with a swap of two neighbours counted as one edit ("tga" is
 * one from "tag"), the measure of the "did you mean" suggestions. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    if (na > 64 || nb > 64) return (size_t)-1; /* no name is this long: no suggestion */
    size_t d[65][65];
    for (size_t i = 0; i <= na; i++) d[i][0] = i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[na][nb];
}

const char *cli_closest(const char *typed, size_t len, const char *const *names, int n)
{
    const char *best = NULL, *prefix = NULL;
    size_t best_d = 3; /* at most 2 edits, and fewer than the typed name has letters */
    int n_prefix = 0, ties = 0;
    for (int i = 0; i < n; i++) {
        const size_t nl = strlen(names[i]);
        if (nl < len ? strncmp(typed, names[i], nl) == 0 : strncmp(typed, names[i], len) == 0) {
            prefix = names[i]; /* one is the start of the other: --thread, --outputs */
            n_prefix++;
        }
        const size_t d = edit_distance(typed, len, names[i], nl);
        if (d < best_d && d < len) best = names[i], best_d = d, ties = 0;
        else if (d == best_d && best) ties++;
    }
    if (best && !ties) return best;
    return n_prefix == 1 ? prefix : NULL;
}

/* The long option that "--name" or "--name=value" names exactly, or NULL. */
static const struct option *long_named(const struct option *longopts, const char *arg)
{
    const char *name = arg + 2, *eq = strchr(name, '=');
    const size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (const struct option *o = longopts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

/* Under mpirun/srun every rank parses the same options and fails the same
 * way: the ranks other than 0 keep their option errors to themselves, so the
 * user reads each once (the options are parsed before the job is joined). */
static int another_rank(void) { return vtag_cluster_launch_rank() != 0; }

void cli_unknown_option(const char *cmd, const char *arg, const struct option *longopts)
{
    if (another_rank()) return;
    char sub[128] = "";
    if (cmd) snprintf(sub, sizeof sub, "%s ", cmd);
    if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
        cli_error(cmd, "unknown option '%.64s' (vtag %s--help lists the options)", arg, sub);
        return;
    }
    const char *names[128];
    int n = 0;
    for (const struct option *o = longopts; o && o->name && n < 128; o++) names[n++] = o->name;
    const char *name = arg + 2, *eq = strchr(name, '=');
    const size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int matches = 0;
    char could[256] = "";
    for (int i = 0; i < n; i++)
        if (strncmp(names[i], name, len) == 0 && strlen(names[i]) != len) { /* getopt takes a unique prefix */
            const size_t at = strlen(could);
            snprintf(could + at, sizeof could - at, "%s'--%s'", matches++ ? ", " : "", names[i]);
        }
    if (matches > 1) {
        cli_error(cmd, "ambiguous option '--%.*s' (could be %s; vtag %s--help lists the options)", (int)len, name,
                  could, sub);
        return;
    }
    const char *near = cli_closest(name, len, names, n);
    if (near)
        cli_error(cmd, "unknown option '--%.*s' (did you mean '--%s'?; vtag %s--help lists the options)", (int)len,
                  name, near, sub);
    else cli_error(cmd, "unknown option '--%.*s' (vtag %s--help lists the options)", (int)len, name, sub);
}

void cli_missing_value(const char *cmd, const char *opt)
{
    if (another_rank()) return;
    const char *eq = strchr(opt, '=');
    const int len = eq ? (int)(eq - opt) : (int)strlen(opt);
    cli_error(cmd, "option '%.*s' needs a value", len, opt);
}

/* The short options: one letter, one meaning, in every command that has the long option. */
static const struct { char letter; const char *name; } shorts[] = {
    {'h', "help"},    {'o', "out"},     {'o', "output"}, {'j', "threads"},  {'q', "quiet"},
    {'v', "verbose"}, {'l', "labels"},  {'m', "model"},  {'b', "backbone"},
};
enum { N_SHORTS = sizeof shorts / sizeof shorts[0] };

/* The long option named name, or NULL. */
static const struct option *long_option(const struct option *longopts, const char *name)
{
    for (const struct option *o = longopts; o && o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

/* The option a short letter stands for in this table: NULL when the command
 * has no such long option, or when another option returns the letter as its
 * code (the letter would be ambiguous; tests/cli/options.py finds it). */
static const struct option *short_option(const struct option *longopts, int k)
{
    const struct option *o = long_option(longopts, shorts[k].name);
    if (!o || (k > 0 && shorts[k - 1].letter == shorts[k].letter && long_option(longopts, shorts[k - 1].name)))
        return NULL; /* --out before --output */
    for (const struct option *p = longopts; p->name; p++)
        if (p != o && !p->flag && p->val == shorts[k].letter) return NULL;
    return o;
}

int cli_getopt(const char *cmd, int argc, char **argv, const struct option *longopts)
{
    /* ':' first: getopt returns ':' for a missing value; the letters from the table of shorts */
    char spec[4 * N_SHORTS + 2] = ":";
    size_t n = 1;
    for (int k = 0; k < N_SHORTS; k++) {
        const struct option *o = short_option(longopts, k);
        if (!o) continue;
        spec[n++] = shorts[k].letter;
        if (o->has_arg != no_argument) spec[n++] = ':';
        if (o->has_arg == optional_argument) spec[n++] = ':';
    }
    spec[n] = '\0';
    opterr = 0;
    optopt = 0;
    int c = getopt_long(argc, argv, spec, longopts, NULL);
    for (int k = 0; k < N_SHORTS && c > 0; k++) {
        const struct option *o = shorts[k].letter == c ? short_option(longopts, k) : NULL;
        if (!o || (!o->flag && o->val == c)) continue;
        if (!o->flag) return o->val; /* -j: what --threads returns */
        *o->flag = o->val;
        return 0;
    }
    if (c != '?' && c != ':') return c;
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    const int is_long = strncmp(arg, "--", 2) == 0 && arg[2];
    char shortname[3] = {'-', (char)optopt, '\0'};
    const struct option *named = is_long ? long_named(longopts, arg) : NULL;
    if (c == ':') cli_missing_value(cmd, is_long ? arg : shortname);
    else if (optopt && named && strchr(arg, '=') && named->has_arg == no_argument && named->val == optopt) {
        if (!another_rank()) cli_error(cmd, "option '%.*s' takes no value", (int)(strchr(arg, '=') - arg), arg);
    } else {
        cli_unknown_option(cmd, optopt ? shortname : arg, longopts);
    }
    return '?';
}

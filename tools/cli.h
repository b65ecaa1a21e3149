/* Shared pieces of the vtag command-line tool: the command table and the
 * helpers every command uses. Only the CLI prints and exits. */
#ifndef VTAG_CLI_H
#define VTAG_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "vtag/cluster.h"
#include "vtag/core.h"
#include "vtag/data.h"

/* Exit codes, documented in `vtag --help` and the README. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,  /* the command ran and failed (bad input, I/O) */
    CLI_EXIT_USAGE = 2, /* wrong options or arguments */
};

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* Prints "vtag <cmd>: <message>" ("vtag: <message>" when cmd is NULL) as one
 * line to stderr, with control characters and invalid UTF-8 escaped
 * (vtag_text_escape). cli_note is the same for progress and notices. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_note(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses an integer option value in [min, max]; on error prints and returns -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
/* Parses a finite number (nan and inf are refused); on error prints one line
 * naming the option and returns -1. */
int cli_parse_float(const char *cmd, const char *opt, const char *s, double *out);

/* Range flags of cli_parse_real: an open end excludes lo or hi; CLI_AS_FLOAT
 * checks the value after rounding to float (the option is stored as one, so
 * 1e-60 is not taken as a "positive" learning rate that rounds to 0). */
enum { CLI_CLOSED = 0, CLI_OPEN_LO = 1, CLI_OPEN_HI = 2, CLI_AS_FLOAT = 4 };
/* Upper bound meaning "any finite value" for an option stored as a float. */
#define CLI_FLOAT_MAX 3.4028234663852886e38
/* Parses a finite number within lo..hi (ends per `flags`), the one parser of
 * every number option: "--lr expects a finite number > 0, got 'nan'". */
int cli_parse_real(const char *cmd, const char *opt, const char *s, double lo, double hi, int flags, double *out);
/* Exactly n comma-separated numbers ("0.485,0.456,0.406"), each as cli_parse_real. */
int cli_parse_reals(const char *cmd, const char *opt, const char *s, int n, double lo, double hi, int flags,
                    double *out);

/* A file a command reads or writes: the option that named it ("--feats",
 * "video") and its path (NULL: the option was not given, skipped). */
typedef struct cli_file {
    const char *opt, *path;
} cli_file;
/* Refuses an output that is the same file as an input or as an earlier
 * output (vtag_path_same_file: symlinks followed, hard links are the same
 * file; an output that does not exist yet clashes with nothing), and with
 * check_stdout, a standard output that is one of the inputs (vtag x >> IN).
 * Prints "vtag CMD: --out X is the same file as --feats Y" and returns
 * CLI_EXIT_USAGE; CLI_EXIT_FAIL after a message when a file cannot be
 * examined; CLI_EXIT_OK when nothing clashes. */
int cli_check_outputs(const char *cmd, const cli_file *outs, int n_outs, const cli_file *ins, int n_ins,
                      int check_stdout);
/* The outputs (and stdout) against a list of inputs named by one option: the
 * videos of a command line, and every video of a labels file ("video"). */
int cli_check_outputs_paths(const char *cmd, const cli_file *outs, int n_outs, const char *opt,
                            const char *const *paths, int64_t n_paths, int check_stdout);
int cli_check_outputs_videos(const char *cmd, const cli_file *outs, int n_outs, const vtag_data_labels *labels,
                             int check_stdout);

/* Writes of results. The standard output is checked once for every command
 * at exit (cli_close_stdout in main); a command that streams results calls
 * cli_flush_stdout after each, to stop at the first failed write. Either
 * prints "vtag CMD: cannot write to stdout: REASON" once. */
int cli_flush_stdout(const char *cmd);          /* 0, or -1 after the message */
int cli_close_stdout(const char *cmd, int status); /* status, or CLI_EXIT_FAIL after the message */
/* line + '\n' to stdout (buffered), or -1 after the message: a write that fails
 * mid-output is reported with its errno, which a later flush no longer knows. */
int cli_put_line(const char *cmd, const char *line);
/* Reports a failed write to stdout (errno_at: its errno, 0 if unknown); returns -1. */
int cli_stdout_error(const char *cmd, int errno_at);
/* True when argv holds --help or -h. */
int cli_wants_help(int argc, char **argv);

/* The one option parser of every command: getopt_long (abbreviations of long
 * options, "--opt=VALUE", options after the operands, "--" ends them) with
 * vtag's messages. Returns the next option's code (its val in longopts), -1
 * after the last option (operands from optind), or '?' after one line:
 *   vtag CMD: unknown option '--form' (did you mean '--format'?; vtag CMD --help lists the options)
 *   vtag CMD: option '--out' needs a value
 *   vtag CMD: option '--verbose' takes no value
 * and the caller exits CLI_EXIT_USAGE. Set optind = 0 before the first call.
 * The short options come from the long ones and mean the same in every
 * command that has them: -h --help, -o --out (or --output), -j --threads,
 * -q --quiet, -v --verbose, -l --labels, -m --model, -b --backbone; a short
 * option returns its long option's code. */
int cli_getopt(const char *cmd, int argc, char **argv, const struct option *longopts);
/* The messages of cli_getopt for a command that parses by hand: arg as typed
 * ("--form", "--form=x", "-x"), suggestions from longopts (may be NULL). */
void cli_unknown_option(const char *cmd, const char *arg, const struct option *longopts);
void cli_missing_value(const char *cmd, const char *opt);
/* The one of names[0..n) closest to typed[0..len): at most 2 edits (a swap of
 * neighbours is one) and fewer than len, no tie; else the only one that
 * starts with typed or that typed starts with; else NULL. */
const char *cli_closest(const char *typed, size_t len, const char *const *names, int n);

/* Where a long command is, for the message of a stop by a signal: the
 * command updates it as it goes (any thread), cli_stop_message reads it. */
typedef struct cli_where {
    _Atomic int epoch, epochs; /* 1-based; 0: before the first */
    _Atomic int scst;          /* the epoch is SCST, else XE */
    _Atomic long long done, total; /* rows of the epoch */
    int rank, ranks;           /* this process of how many (MPI) */
} cli_where;
/* Every rank's status (its message in e, or NULL when this rank printed it)
 * → the first failure in rank order, printed once, by rank 0; a rank that can
 * no longer meet the others ends the job (vtag_cluster_abort). */
int cli_agreed(const char *cmd, vtag_cluster *c, int status, const vtag_error *e);
/* A run that failed on some rank: ranks that failed together have rank 0 say
 * why (unless said: it printed already); a rank out of step says it and ends
 * the job (vtag_cluster_abort). CLI_EXIT_FAIL. */
int cli_cluster_failed(const char *cmd, vtag_cluster *c, const vtag_error *err, int said);
void cli_where_set(cli_where *w, int epoch, int scst, long long done, long long total);
/* From now on SIGTERM, SIGINT and SIGHUP (mpirun sends SIGTERM to the other
 * ranks when one dies) end the process through a thread that prints
 * "vtag CMD: rank R of N: stopped by signal S (NAME) in epoch E/EE (XE), row
 * D of T; the state of the last finished epoch is saved: rerun with
 * --resume" and exits 128 + S. Call it before any other thread starts: the
 * signals are blocked in every thread started after it. 0, or -1 after the
 * message. */
int cli_stop_message(const char *cmd, const cli_where *w);

int cmd_inspect(int argc, char **argv);
int cmd_onnx_info(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_frames(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_caption(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_backbone(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_info(int argc, char **argv);
/* The option checks of the commands vtag pipeline runs as its stages: each
 * parses argv (argv[0] the command name) as the command does, without running
 * it; 0 when the command would accept it, else -1 with the error printed. */
int cmd_backbone_check(int argc, char **argv);
int cmd_features_check(int argc, char **argv);
int cmd_train_check(int argc, char **argv);

/* Progress of a long command, one style for all (tools/progress.c): on a
 * terminal one self-rewriting bar "vtag CMD: STAGE [####    ] 120/400 videos
 * 3.2/s  ETA 1:27"; otherwise one line "vtag CMD: STAGE 120/400 videos 3.2/s
 * ETA 1:27" at most every CLI_PROGRESS_SECONDS (VTAG_PROGRESS_SECONDS in the
 * environment changes it); nothing in the first 2 s of a run (or the first
 * VTAG_PROGRESS_SECONDS, if shorter). off: --quiet,
 * or not rank 0. The rate counts from the call before the stage changed. */
#define CLI_PROGRESS_SECONDS 5.0
typedef struct cli_progress {
    const char *cmd, *unit;
    int tty, off, shown;
    double every, start, stage_t0, last_call, last_line; /* vtag_seconds() */
    int64_t done;
    char stage[64];
} cli_progress;
void cli_progress_start(cli_progress *p, const char *cmd, const char *unit, int off);
/* stage: "epoch 3/25 (scst)", or NULL. Cheap: call it as often as there is news. */
void cli_progress_show(cli_progress *p, const char *stage, int64_t done, int64_t total);
/* Removes the bar from the terminal, before any other line is printed. */
void cli_progress_clear(cli_progress *p);

#endif

/* Shared pieces of the vtag command-line tool: the command table and the
 * helpers every command uses. Only the CLI prints and exits. */
#ifndef VTAG_CLI_H
#define VTAG_CLI_H

#include <stdio.h>

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
/* Parses a positive integer / float option value; on error prints and returns -1. */
int cli_parse_int(const char *cmd, const char *opt, const char *s, long min, long max, long *out);
int cli_parse_float(const char *cmd, const char *opt, const char *s, double *out);
/* True when argv holds --help or -h. */
int cli_wants_help(int argc, char **argv);
/* Monotonic wall clock in seconds (stage timings, throughput). */
double cli_seconds(void);
/* "DIR/NAME" + suffix (malloc'd; NULL when out of memory). */
char *cli_path(const char *dir, const char *name, const char *suffix);
/* True when path is an existing regular file. */
int cli_is_file(const char *path);

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
int cmd_eval(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_info(int argc, char **argv);
/* The option checks of the commands vtag pipeline runs as its stages: each
 * parses argv (argv[0] the command name) as the command does, without running
 * it; 0 when the command would accept it, else -1 with the error printed. */
int cmd_backbone_check(int argc, char **argv);
int cmd_features_check(int argc, char **argv);
int cmd_train_check(int argc, char **argv);

#endif

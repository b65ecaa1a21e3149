/* vtag pipeline: labelled videos to trained taggers, stage by stage —
 * backbone, features of each split, then XE and SCST for each model — each
 * stage a run of the vtag command that does it, recorded in DIR/pipeline.json
 * once it has finished, so that a rerun continues where the last one stopped.
 * Every stage's options are checked by that command's parser before the first
 * stage runs; DIR is locked for the whole run, and the stages die with it. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/data.h"

static const char *CMD = "pipeline";

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag pipeline --labels L --out DIR [options]\n"
            "\n"
            "Trains everything vtag needs to tag videos like the labelled ones in L:\n"
            "  1. the image backbone: the built-in CNN trained on frames of the training videos\n"
            "     (vtag backbone train), unless --backbone names an ONNX model;\n"
            "  2. features of the train, val and test videos (vtag features);\n"
            "  3. for each model: cross-entropy training, then SCST from the best XE checkpoint\n"
            "     (vtag train).\n"
            "DIR receives backbone.safetensors, features-<split>.safetensors, <model>-xe.safetensors,\n"
            "<model>.safetensors (the best after SCST), their training logs <model>-xe.log.jsonl and\n"
            "<model>.log.jsonl, and pipeline.json (the finished stages and the settings they were\n"
            "made with). Rerunning the same command skips finished stages and resumes an interrupted\n"
            "training; a setting a finished stage used cannot change (--restart starts again).\n"
            "Every stage's options are checked before the first stage starts. One pipeline at a time\n"
            "runs in DIR (it holds DIR/pipeline.lock; a second one is refused), and killing the\n"
            "pipeline ends the stage it runs.\n"
            "\n"
            "options:\n"
            "  --labels FILE        labels file (JSON Lines or CSV; docs/FORMATS.md)\n"
            "  --out DIR            output folder (created)\n"
            "  --model NAME         fc | att2in | topdown | all (all)\n"
            "  --backbone FILE      an ONNX image model to use instead of training the built-in CNN\n"
            "  --sample SPEC        frames per video for the features (uniform:16)\n"
            "  --size S             frame size for the backbone (the backbone's own by default)\n"
            "  --backbone-epochs N  built-in CNN training epochs (vtag backbone train's default)\n"
            "  --xe-epochs N        cross-entropy epochs (25)\n"
            "  --scst-epochs N      SCST epochs after XE (10; 0 skips SCST)\n"
            "  --baseline B         SCST reward baseline: mean (of the other samples; default) or\n"
            "                       greedy (the greedy caption's reward). With a small training set\n"
            "                       XE's greedy captions beat nearly every sample, every advantage is\n"
            "                       negative and greedy-baseline SCST collapses; the mean does not\n"
            "  --sample-n N         SCST samples per image (5)\n"
            "  --hidden N           E = R = A of the caption models (512)\n"
            "  --batch B            captions per XE step (50)\n"
            "  --threads T          (number of cores)\n"
            "  --seed S             (42)\n"
            "  --restart            forget what DIR holds and start again\n"
            "\n"
            "Exit codes: 0 done, 1 a stage failed (rerun to resume), 2 usage.\n");
}

typedef struct pipe_args {
    const char *labels, *out, *model, *backbone, *sample, *baseline;
    long sample_n, size, backbone_epochs, xe_epochs, scst_epochs, hidden, batch, threads, seed;
    int restart;
} pipe_args;

enum { OPT_BASELINE = 200, OPT_SAMPLE_N, OPT_BB_EPOCHS = 256, OPT_XE, OPT_SCST, OPT_HIDDEN, OPT_RESTART, OPT_HELP };

static int parse(int argc, char **argv, pipe_args *a)
{
    static const struct option opts[] = {
        {"labels", required_argument, 0, 'l'},      {"out", required_argument, 0, 'o'},
        {"model", required_argument, 0, 'm'},       {"backbone", required_argument, 0, 'b'},
        {"sample", required_argument, 0, 's'},      {"size", required_argument, 0, 'z'},
        {"backbone-epochs", required_argument, 0, OPT_BB_EPOCHS},
        {"xe-epochs", required_argument, 0, OPT_XE}, {"scst-epochs", required_argument, 0, OPT_SCST},
        {"hidden", required_argument, 0, OPT_HIDDEN}, {"batch", required_argument, 0, 'B'},
        {"threads", required_argument, 0, 't'},     {"seed", required_argument, 0, 'S'},
        {"baseline", required_argument, 0, OPT_BASELINE}, {"sample-n", required_argument, 0, OPT_SAMPLE_N},
        {"restart", no_argument, 0, OPT_RESTART},   {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->model = "all";
    a->sample = "uniform:16";
    a->xe_epochs = 25;
    a->scst_epochs = 10;
    a->baseline = "mean";
    a->sample_n = 5;
    a->backbone_epochs = -1;
    a->hidden = 512;
    a->batch = 50;
    a->seed = 42;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->labels = optarg; break;
        case 'o': a->out = optarg; break;
        case 'm': a->model = optarg; break;
        case 'b': a->backbone = optarg; break;
        case 's': a->sample = optarg; break;
        case 'z': if (cli_parse_int(CMD, "--size", optarg, 16, 4096, &a->size)) return -1; break;
        case OPT_BB_EPOCHS:
            if (cli_parse_int(CMD, "--backbone-epochs", optarg, 1, 100000, &a->backbone_epochs)) return -1;
            break;
        case OPT_XE: if (cli_parse_int(CMD, "--xe-epochs", optarg, 1, 100000, &a->xe_epochs)) return -1; break;
        case OPT_SCST: if (cli_parse_int(CMD, "--scst-epochs", optarg, 0, 100000, &a->scst_epochs)) return -1; break;
        case OPT_HIDDEN: if (cli_parse_int(CMD, "--hidden", optarg, 1, 65536, &a->hidden)) return -1; break;
        case 'B': if (cli_parse_int(CMD, "--batch", optarg, 1, 1000000, &a->batch)) return -1; break;
        case 't': if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &a->threads)) return -1; break;
        case 'S': if (cli_parse_int(CMD, "--seed", optarg, 0, LONG_MAX, &a->seed)) return -1; break;
        case OPT_RESTART: a->restart = 1; break;
        case OPT_BASELINE:
            if (strcmp(optarg, "mean") && strcmp(optarg, "greedy")) {
                cli_error(CMD, "--baseline must be mean or greedy, got '%s'", optarg);
                return -1;
            }
            a->baseline = optarg;
            break;
        case OPT_SAMPLE_N: if (cli_parse_int(CMD, "--sample-n", optarg, 1, 1000, &a->sample_n)) return -1; break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (strcmp(a->baseline, "mean") == 0 && a->sample_n < 2) {
        cli_error(CMD, "--baseline mean needs --sample-n >= 2 (the mean of the other samples)");
        return -1;
    }
    if (!a->labels || !a->out) {
        cli_error(CMD, "--labels and --out are required (vtag pipeline --help)");
        return -1;
    }
    if (strcmp(a->model, "all") != 0) {
        vtag_model_type t;
        if (vtag_model_type_parse(a->model, &t)) {
            cli_error(CMD, "--model must be fc, att2in, topdown or all, got '%s'", a->model);
            return -1;
        }
    }
    return 0;
}

/* ---- small helpers ---------------------------------------------------------- */

/* The manifest: the finished stages with their wall time, and the settings
 * they were made with, which must not change between resumed runs. A setting
 * is recorded when the first stage that used it finishes, so pipeline.json
 * never holds a value no stage accepted. */
typedef struct manifest {
    char *path;
    json_t *root; /* {"labels", "backbone", "sample", "size", "hidden", "stages": {name: seconds}} */
    json_t *want; /* this run's settings: {"labels", "backbone", "sample", "size", "hidden"} */
} manifest;

/* The settings, and which of them each stage's output depends on (through
 * its inputs too: features are made by the backbone). */
enum { KEY_LABELS = 1, KEY_BACKBONE = 2, KEY_SIZE = 4, KEY_SAMPLE = 8, KEY_HIDDEN = 16, KEY_ALL = 31 };
static const char *const KEY_NAMES[] = {"labels", "backbone", "size", "sample", "hidden"};
enum { N_KEYS = 5 };

static unsigned stage_keys(const char *stage)
{
    if (strcmp(stage, "backbone") == 0) return KEY_LABELS | KEY_BACKBONE | KEY_SIZE;
    if (strncmp(stage, "features-", 9) == 0) return KEY_LABELS | KEY_BACKBONE | KEY_SIZE | KEY_SAMPLE;
    return KEY_ALL; /* <model>-xe, <model>, and any other name a manifest may hold */
}

static int manifest_save(const manifest *m)
{
    size_t n = strlen(m->path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return -1;
    snprintf(tmp, n, "%s.tmp", m->path);
    int rc = json_dump_file(m->root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc == 0) rc = rename(tmp, m->path);
    if (rc) {
        cli_error(CMD, "%s: cannot write (%s)", m->path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc ? -1 : 0;
}

static int stage_done(const manifest *m, const char *stage)
{
    return json_object_get(json_object_get(m->root, "stages"), stage) != NULL;
}

/* Records a finished stage and the settings it used. */
static int stage_finish(manifest *m, const char *stage, double seconds)
{
    unsigned keys = stage_keys(stage);
    for (int i = 0; i < N_KEYS; i++)
        if (keys & (1u << i)) json_object_set(m->root, KEY_NAMES[i], json_object_get(m->want, KEY_NAMES[i]));
    json_object_set_new(json_object_get(m->root, "stages"), stage, json_real(seconds));
    return manifest_save(m);
}

/* Loads DIR/pipeline.json, or starts an empty one when there is none (or with
 * --restart). A setting that a finished stage used must equal this run's;
 * one no finished stage used is dropped (manifests before settings were
 * recorded per stage held every setting from the start). 0, or -1 after the
 * message. */
static int manifest_open(manifest *m, int restart)
{
    if (restart || !cli_is_file(m->path)) {
        m->root = json_pack("{s:o}", "stages", json_object());
        return m->root ? 0 : -1;
    }
    json_error_t je;
    m->root = json_load_file(m->path, 0, &je);
    json_t *stages = json_object_get(m->root, "stages");
    if (!m->root || !json_is_object(stages)) {
        cli_error(CMD, "%s:%d: not a pipeline manifest (%s); use --restart to start again", m->path, je.line,
                  m->root ? "no \"stages\" object" : je.text);
        return -1;
    }
    unsigned used = 0;
    const char *stage;
    json_t *v;
    json_object_foreach(stages, stage, v) used |= stage_keys(stage);
    for (int i = 0; i < N_KEYS; i++) {
        if (!(used & (1u << i))) {
            json_object_del(m->root, KEY_NAMES[i]);
        } else if (!json_equal(json_object_get(m->root, KEY_NAMES[i]), json_object_get(m->want, KEY_NAMES[i]))) {
            cli_error(CMD, "%s: was made with another %s; use --restart (or another --out)", m->path, KEY_NAMES[i]);
            return -1;
        }
    }
    return 0;
}

/* Runs `vtag ARGV…` (this executable) and waits; returns its exit status. */
static int run_vtag(char *const *argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        cli_error(CMD, "cannot find the vtag executable (/proc/self/exe)");
        return -1;
    }
    self[n] = 0;
    fflush(stdout);
    fflush(stderr);
    sigset_t none;
    sigemptyset(&none);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        cli_error(CMD, "cannot start %s: %s", self, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* The stage dies with the pipeline however the pipeline dies (a SIGKILL to its PID
         * alone included): the kernel sends it SIGTERM then, with SIGTERM's default action.
         * A pipeline that died before prctl took effect is no longer the parent. Only
         * async-signal-safe calls between fork and exec. */
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
        execv(self, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (WIFSIGNALED(status)) {
        cli_error(CMD, "'vtag %s' was killed by signal %d", argv[1], WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

/* argv builder */
typedef struct argl {
    char *v[64];
    char own[64][40];
    int n;
} argl;

static void arg(argl *a, const char *s) { a->v[a->n++] = (char *)s; a->v[a->n] = NULL; }
static void argn(argl *a, const char *opt, long value)
{
    arg(a, opt);
    char *s = a->own[a->n];
    snprintf(s, sizeof a->own[0], "%ld", value);
    arg(a, s);
}

/* Largest val_cider_d in a training log (JSON lines); -1 when none or the
 * log cannot be read (the summary then shows -1, the stages' own runs have
 * already reported). */
static double best_val(const char *log_path)
{
    FILE *f = NULL;
    if (vtag_file_open(&f, log_path, NULL)) return -1;
    vtag_line ln = {0};
    double best = -1;
    while (!vtag_line_read(&ln, f, log_path, VTAG_LINE_MAX, NULL) && ln.len) {
        json_t *o = json_loads(ln.data, 0, NULL);
        json_t *v = o ? json_object_get(o, "val_cider_d") : NULL;
        if (v && json_is_number(v) && json_number_value(v) > best) best = json_number_value(v);
        json_decref(o);
    }
    vtag_line_free(&ln);
    fclose(f);
    return best;
}

/* ---- the plan: every stage's command, built and checked before any runs ---- */

typedef struct plan_stage {
    char name[64];  /* its key in the manifest's "stages" */
    char what[128]; /* its banner */
    int (*check)(int argc, char **argv);
    argl cmd; /* "vtag", command, options… */
} plan_stage;

enum { MAX_STAGES = 1 + 3 + 3 * 2, MAX_PATHS = 3 + 3 * 4 + 1 };

typedef struct plan {
    plan_stage stage[MAX_STAGES];
    int n;
    char *path[MAX_PATHS]; /* the output paths the commands name (owned) */
    int n_path;
} plan;

static void plan_free(plan *p)
{
    for (int i = 0; i < p->n_path; i++) free(p->path[i]);
    free(p);
}

/* DIR/NAME, kept by the plan; NULL when out of memory. */
static const char *plan_path(plan *p, const char *dir, const char *name)
{
    char *s = cli_path(dir, name, "");
    if (s) p->path[p->n_path++] = s;
    return s;
}

static plan_stage *plan_add(plan *p, int (*check)(int, char **), const char *what, const char *name_fmt,
                            const char *name_arg)
{
    plan_stage *s = &p->stage[p->n++];
    snprintf(s->name, sizeof s->name, name_fmt, name_arg);
    snprintf(s->what, sizeof s->what, "%s", what);
    s->check = check;
    arg(&s->cmd, "vtag");
    return s;
}

/* Builds every stage's command line; 0, or -1 when out of memory. */
static int plan_build(plan *p, const pipe_args *a, const char *labels_abs, const char *bb_path,
                      const int64_t split_n[3], const char **models, int n_models)
{
    static const char *splits[] = {"train", "val", "test"};
    char what[128], name[64];
    if (!a->backbone) {
        plan_stage *s = plan_add(p, cmd_backbone_check, "backbone: train the built-in CNN", "%s", "backbone");
        argl *c = &s->cmd;
        arg(c, "backbone");
        arg(c, "train");
        arg(c, "--labels");
        arg(c, labels_abs);
        arg(c, "--out");
        arg(c, bb_path);
        if (a->size) argn(c, "--size", a->size);
        if (a->backbone_epochs > 0) argn(c, "--epochs", a->backbone_epochs);
        if (a->threads) argn(c, "--threads", a->threads);
        argn(c, "--seed", a->seed);
    }
    const char *feats[3];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "features-%s.safetensors", splits[i]);
        if (!(feats[i] = plan_path(p, a->out, name))) return -1;
        if (split_n[i] == 0) continue;
        snprintf(what, sizeof what, "features: %lld %s videos", (long long)split_n[i], splits[i]);
        plan_stage *s = plan_add(p, cmd_features_check, what, "features-%s", splits[i]);
        argl *c = &s->cmd;
        arg(c, "features");
        arg(c, "--backbone");
        arg(c, bb_path);
        arg(c, "--labels");
        arg(c, labels_abs);
        arg(c, "--split");
        arg(c, splits[i]);
        arg(c, "--sample");
        arg(c, a->sample);
        if (a->size) argn(c, "--size", a->size);
        if (a->threads) argn(c, "--threads", a->threads);
        arg(c, "--out");
        arg(c, feats[i]);
    }
    for (int k = 0; k < n_models; k++) {
        snprintf(name, sizeof name, "%s-xe.safetensors", models[k]);
        const char *xe_ckpt = plan_path(p, a->out, name);
        snprintf(name, sizeof name, "%s-xe.log.jsonl", models[k]);
        const char *xe_log = plan_path(p, a->out, name);
        snprintf(name, sizeof name, "%s.safetensors", models[k]);
        const char *ckpt = plan_path(p, a->out, name);
        snprintf(name, sizeof name, "%s.log.jsonl", models[k]);
        const char *log = plan_path(p, a->out, name);
        if (!xe_ckpt || !xe_log || !ckpt || !log) return -1;
        for (int scst = 0; scst < 1 + (a->scst_epochs > 0); scst++) {
            if (scst) snprintf(what, sizeof what, "%s: SCST, %ld epochs", models[k], a->scst_epochs);
            else snprintf(what, sizeof what, "%s: cross-entropy, %ld epochs", models[k], a->xe_epochs);
            plan_stage *s = plan_add(p, cmd_train_check, what, scst ? "%s" : "%s-xe", models[k]);
            argl *c = &s->cmd;
            arg(c, "train");
            arg(c, "--labels");
            arg(c, labels_abs);
            arg(c, "--feats");
            arg(c, feats[0]);
            if (split_n[1]) {
                arg(c, "--val-feats");
                arg(c, feats[1]);
            }
            if (!scst) {
                arg(c, "--model");
                arg(c, models[k]);
                argn(c, "--epochs", a->xe_epochs);
                argn(c, "--input-encoding-size", a->hidden);
                argn(c, "--rnn-size", a->hidden);
                argn(c, "--att-hid-size", a->hidden);
                argn(c, "--batch", a->batch);
            } else {
                arg(c, "--init");
                arg(c, xe_ckpt);
                arg(c, "--scst");
                arg(c, "--baseline");
                arg(c, a->baseline);
                argn(c, "--sample-n", a->sample_n);
                argn(c, "--epochs", a->scst_epochs);
            }
            if (a->threads) argn(c, "--threads", a->threads);
            argn(c, "--seed", a->seed);
            arg(c, "--out");
            arg(c, scst ? ckpt : xe_ckpt);
            arg(c, "--log");
            arg(c, scst ? log : xe_log);
            arg(c, "--resume");
        }
    }
    return 0;
}

/* --restart: the training stages run with --resume and append to their logs,
 * so a restarted run would continue the old run's training and mix its log
 * lines into the summary. Removes each training stage's checkpoint, its
 * training state (cli_state_path) and its
 * log. 0, or -1 after the message. */
static int plan_forget(const plan *p)
{
    for (int i = 0; i < p->n; i++) {
        const argl *c = &p->stage[i].cmd;
        if (c->n < 2 || strcmp(c->v[1], "train") != 0) continue;
        for (int k = 2; k + 1 < c->n; k++) {
            const char *opt = c->v[k], *path = c->v[k + 1];
            if (strcmp(opt, "--out") != 0 && strcmp(opt, "--log") != 0) continue;
            char *state = strcmp(opt, "--out") == 0 ? cli_state_path(path) : NULL;
            const char *gone[2] = {path, state};
            for (int g = 0; g < 2; g++)
                if (gone[g] && unlink(gone[g]) != 0 && errno != ENOENT) {
                    cli_error(CMD, "--restart: cannot remove %s: %s", gone[g], strerror(errno));
                    free(state);
                    return -1;
                }
            free(state);
        }
    }
    return 0;
}

/* Every stage's options through the parser of the command that runs it, so
 * that a value only a stage refuses fails now rather than after the stages
 * before it. 0, or -1 after the messages. */
static int plan_check(plan *p)
{
    for (int i = 0; i < p->n; i++) {
        plan_stage *s = &p->stage[i];
        if (s->check(s->cmd.n - 1, s->cmd.v + 1) != 0) {
            cli_error(CMD, "stage '%s' would refuse these options; nothing was run", s->name);
            return -1;
        }
    }
    return 0;
}

/* Prints the stage banner, runs it unless finished, records it. 0 ok. */
static int run_stage(manifest *m, const plan_stage *s, int index, int total, double t0)
{
    if (stage_done(m, s->name)) {
        fprintf(stderr, "[%d/%d] %s: done before, skipped\n", index, total, s->what);
        return 0;
    }
    fprintf(stderr, "[%d/%d] %s ...\n", index, total, s->what);
    double t = cli_seconds();
    int rc = run_vtag(s->cmd.v);
    if (rc != 0) {
        cli_error(CMD, "stage '%s' failed (exit %d); rerun the same command to resume", s->name, rc);
        return -1;
    }
    double dt = cli_seconds() - t;
    fprintf(stderr, "[%d/%d] %s: done in %.1f s (%.1f s in all)\n", index, total, s->what, dt, cli_seconds() - t0);
    return stage_finish(m, s->name, dt);
}

int cmd_pipeline(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    pipe_args a;
    int prc = parse(argc, argv, &a);
    if (prc) return prc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;

    /* Read the labels up front: a bad file fails before any work, and the
     * split sizes decide which feature stages exist. */
    vtag_error err = {0};
    vtag_data_labels labels;
    if (vtag_data_read_labels(&labels, a.labels, NULL, &err)) {
        cli_error(CMD, "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    int64_t split_n[3] = {0, 0, 0};
    for (int64_t i = 0; i < labels.count; i++) split_n[labels.entries[i].split]++;
    vtag_data_free_labels(&labels);
    if (split_n[VTAG_DATA_SPLIT_TRAIN] == 0) {
        cli_error(CMD, "%s: no training videos (split \"train\" or no split)", a.labels);
        return CLI_EXIT_FAIL;
    }
    if (a.backbone && !cli_is_file(a.backbone)) {
        cli_error(CMD, "%s: cannot open the backbone", a.backbone);
        return CLI_EXIT_FAIL;
    }
    char labels_abs[PATH_MAX], backbone_abs[PATH_MAX];
    if (!realpath(a.labels, labels_abs) || (a.backbone && !realpath(a.backbone, backbone_abs))) {
        cli_error(CMD, "cannot resolve the paths of --labels/--backbone (%s)", strerror(errno));
        return CLI_EXIT_FAIL;
    }

    const char *all_models[] = {"fc", "att2in", "topdown"};
    const char *models[3];
    int n_models = 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(a.model, "all") == 0 || strcmp(a.model, all_models[i]) == 0 ||
            (strcmp(a.model, "updown") == 0 && i == 2))
            models[n_models++] = all_models[i];

    int rc = CLI_EXIT_FAIL, lock = -1;
    char *bb_path = a.backbone ? strdup(backbone_abs) : cli_path(a.out, "backbone.safetensors", "");
    char *lock_path = cli_path(a.out, "pipeline.lock", "");
    manifest m = {cli_path(a.out, "pipeline.json", ""), NULL, NULL};
    plan *p = calloc(1, sizeof *p);
    m.want = json_pack("{s:s, s:s, s:s, s:I, s:I}", "labels", labels_abs, "backbone",
                       a.backbone ? backbone_abs : "built-in", "sample", a.sample, "size", (json_int_t)a.size,
                       "hidden", (json_int_t)a.hidden);
    if (!bb_path || !lock_path || !m.path || !p || !m.want ||
        plan_build(p, &a, labels_abs, bb_path, split_n, models, n_models)) {
        cli_error(CMD, "out of memory");
        goto done;
    }
    /* Nothing is written before every stage's options are known good. */
    if (plan_check(p)) {
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (mkdir(a.out, 0777) && errno != EEXIST) {
        cli_error(CMD, "%s: cannot create the folder (%s)", a.out, strerror(errno));
        goto done;
    }
    /* Held to the end, and by each stage (inherited): a second pipeline on DIR,
     * or one started while a stage of a killed pipeline still ran, is refused. */
    long holder;
    if (vtag_lock_file(lock_path, &lock, &holder, &err)) {
        if (holder > 0) cli_error(CMD, "%s is in use by another vtag pipeline (pid %ld)", a.out, holder);
        else if (holder < 0) cli_error(CMD, "%s is in use by another vtag pipeline", a.out);
        else cli_error(CMD, "%s", err.msg);
        goto done;
    }
    if ((a.restart && plan_forget(p)) || manifest_open(&m, a.restart) || manifest_save(&m)) goto done;

    double t0 = cli_seconds();
    for (int i = 0; i < p->n; i++)
        if (run_stage(&m, &p->stage[i], i + 1, p->n, t0)) goto done;

    /* Summary: validation CIDEr-D of each model after XE and after SCST. */
    if (split_n[1]) {
        json_t *summary = json_object();
        printf("%-8s %12s %12s\n", "model", "val XE", "val SCST");
        for (int k = 0; k < n_models; k++) {
            char name[64];
            snprintf(name, sizeof name, "%s-xe.log.jsonl", models[k]);
            char *path = cli_path(a.out, name, "");
            double xe = path ? best_val(path) : -1;
            free(path);
            snprintf(name, sizeof name, "%s.log.jsonl", models[k]);
            path = cli_path(a.out, name, "");
            double sc = path && a.scst_epochs > 0 ? best_val(path) : -1;
            free(path);
            printf("%-8s %12.4f %12.4f\n", models[k], xe, sc);
            json_object_set_new(summary, models[k], json_pack("{s:f, s:f}", "val_cider_d_xe", xe,
                                                              "val_cider_d_scst", sc));
        }
        json_object_set_new(m.root, "summary", summary);
        if (manifest_save(&m)) goto done;
    }
    cli_note(CMD, "finished in %.1f s; tag videos with: vtag tag --from %s VIDEO...", cli_seconds() - t0, a.out);
    rc = CLI_EXIT_OK;
done:
    vtag_lock_release(&lock);
    if (p) plan_free(p);
    json_decref(m.root);
    json_decref(m.want);
    free(m.path);
    free(lock_path);
    free(bb_path);
    return rc;
}

/* vtag pipeline: labelled videos to trained taggers, stage by stage (backbone,
 * features of each split, XE and SCST for each model), each a run of the vtag
 * command that does it, recorded in DIR/pipeline.json so that a rerun continues
 * where the last one stopped. The run folder and its stages are vtag/run.h's. */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/run.h"

static const char *CMD = "pipeline";

static int help(FILE *out)
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
            "  --launcher CMD       run the features and training stages under CMD (\"mpirun -np 4 -H a,b\")\n"
            "  --micro-batches M    vtag train's: a step's gradient from M micro-batches (same M, same results)\n"
            "  --restart            forget what DIR holds and start again\n"
            "\n"
            "Example: vtag pipeline --labels l.jsonl --out run --launcher \"mpirun -np 2\" --micro-batches 2\n"
            "Exit codes: 0 done, 1 a stage failed (rerun to resume), 2 usage.\n");
    return CLI_EXIT_OK;
}

typedef struct pipe_args {
    const char *labels, *out, *model, *backbone, *sample, *baseline, *launcher;
    long size, backbone_epochs, xe_epochs, scst_epochs, hidden, batch, threads, seed, sample_n, micro_batches;
    int restart;
    char **words; /* the launcher's; NULL: none */
} pipe_args;

enum { OPT_STR = 100, OPT_NUM = 200, OPT_RESTART = 300, OPT_HELP };

static int parse(int argc, char **argv, pipe_args *a)
{
    static const struct option opts[] = {
        {"labels", required_argument, 0, OPT_STR},      {"out", required_argument, 0, OPT_STR + 1},
        {"model", required_argument, 0, OPT_STR + 2},   {"backbone", required_argument, 0, OPT_STR + 3},
        {"sample", required_argument, 0, OPT_STR + 4},  {"size", required_argument, 0, OPT_NUM},
        {"backbone-epochs", required_argument, 0, OPT_NUM + 1}, {"micro-batches", required_argument, 0, OPT_NUM + 9},
        {"xe-epochs", required_argument, 0, OPT_NUM + 2}, {"scst-epochs", required_argument, 0, OPT_NUM + 3},
        {"hidden", required_argument, 0, OPT_NUM + 4},  {"batch", required_argument, 0, OPT_NUM + 5},
        {"threads", required_argument, 0, OPT_NUM + 6}, {"seed", required_argument, 0, OPT_NUM + 7},
        {"baseline", required_argument, 0, OPT_STR + 5}, {"sample-n", required_argument, 0, OPT_NUM + 8},
        {"launcher", required_argument, 0, OPT_STR + 6}, {"restart", no_argument, 0, OPT_RESTART},
        {"help", no_argument, 0, OPT_HELP}, {0, 0, 0, 0},
    };
    *a = (pipe_args){.model = "all", .sample = "uniform:16", .xe_epochs = 25, .scst_epochs = 10, .baseline = "mean",
                     .sample_n = 5, .backbone_epochs = -1, .hidden = 512, .batch = 50, .seed = 42};
    const char **str[] = {&a->labels, &a->out, &a->model, &a->backbone, &a->sample, &a->baseline, &a->launcher};
    const struct { const char *opt; long lo, hi, *v; } num[] = {
        {"--size", 16, 4096, &a->size}, {"--backbone-epochs", 1, 100000, &a->backbone_epochs},
        {"--xe-epochs", 1, 100000, &a->xe_epochs}, {"--scst-epochs", 0, 100000, &a->scst_epochs},
        {"--hidden", 1, 65536, &a->hidden}, {"--batch", 1, 1000000, &a->batch}, {"--threads", 1, 1024, &a->threads},
        {"--seed", 0, LONG_MAX, &a->seed}, {"--sample-n", 1, 1000, &a->sample_n},
        {"--micro-batches", 1, 65536, &a->micro_batches}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const int k = c - OPT_NUM;
        if (c >= OPT_STR && c <= OPT_STR + 6) *str[c - OPT_STR] = optarg;
        else if (k >= 0 && k <= 9 && cli_parse_int(CMD, num[k].opt, optarg, num[k].lo, num[k].hi, num[k].v))
            return -1;
        else if (c == OPT_RESTART) a->restart = 1;
        else if (c == OPT_HELP) return help(stdout) + 1;
        else if (k < 0 || k > 9) return -1;
    }
    vtag_model_type t;
    vtag_error err = {0};
    if (optind < argc) cli_error(CMD, "unexpected argument '%s'", argv[optind]);
    else if (strcmp(a->baseline, "mean") && strcmp(a->baseline, "greedy"))
        cli_error(CMD, "--baseline must be mean or greedy, got '%s'", a->baseline);
    else if (strcmp(a->baseline, "mean") == 0 && a->sample_n < 2)
        cli_error(CMD, "--baseline mean needs --sample-n >= 2 (the mean of the other samples)");
    else if (!a->labels || !a->out) cli_error(CMD, "--labels and --out are required (vtag pipeline --help)");
    else if (strcmp(a->model, "all") != 0 && vtag_model_type_parse(a->model, &t))
        cli_error(CMD, "--model must be fc, att2in, topdown or all, got '%s'", a->model);
    else if (a->launcher && vtag_run_launcher_split(a->launcher, &a->words, &err))
        cli_error(CMD, "--launcher %s", err.msg);
    else return 0;
    return -1;
}

/* ---- each stage as the command line that runs it ------------------------------ */

typedef struct argl { char *v[64]; char own[64][40]; int n; } argl;

static void args(argl *a, ...) /* the strings up to a NULL */
{
    va_list ap;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *));) a->v[a->n++] = (char *)s;
    va_end(ap);
    a->v[a->n] = NULL;
}

static void argn(argl *a, const char *opt, long value)
{
    snprintf(a->own[a->n + 1], sizeof a->own[0], "%ld", value);
    args(a, opt, a->own[a->n + 1], NULL);
}

/* "vtag", the command, its options. */
static void stage_argv(argl *c, const vtag_run_stage *s, const pipe_args *a)
{
    const int train = s->kind == VTAG_RUN_STAGE_XE || s->kind == VTAG_RUN_STAGE_SCST;
    if (s->kind == VTAG_RUN_STAGE_BACKBONE)
        args(c, "vtag", "backbone", "train", "--labels", s->labels, "--out", s->out, NULL);
    if (s->kind == VTAG_RUN_STAGE_FEATURES)
        args(c, "vtag", "features", "--backbone", s->backbone, "--labels", s->labels, "--split", s->split,
             "--sample", a->sample, NULL);
    if (!train && a->size) argn(c, "--size", a->size);
    if (s->kind == VTAG_RUN_STAGE_BACKBONE && a->backbone_epochs > 0) argn(c, "--epochs", a->backbone_epochs);
    if (train) args(c, "vtag", "train", "--labels", s->labels, "--feats", s->feats, NULL);
    if (train && s->val_feats) args(c, "--val-feats", s->val_feats, NULL);
    if (s->kind == VTAG_RUN_STAGE_XE) {
        args(c, "--model", s->model, NULL);
        argn(c, "--epochs", a->xe_epochs);
        argn(c, "--input-encoding-size", a->hidden);
        argn(c, "--rnn-size", a->hidden);
        argn(c, "--att-hid-size", a->hidden);
        argn(c, "--batch", a->batch);
    } else if (s->kind == VTAG_RUN_STAGE_SCST) {
        args(c, "--init", s->init, "--scst", "--baseline", a->baseline, NULL);
        argn(c, "--sample-n", a->sample_n);
        argn(c, "--epochs", a->scst_epochs);
    }
    if (a->threads) argn(c, "--threads", a->threads);
    if (s->kind != VTAG_RUN_STAGE_FEATURES) argn(c, "--seed", a->seed);
    if (s->kind != VTAG_RUN_STAGE_BACKBONE) args(c, "--out", s->out, NULL);
    if (train && a->micro_batches) argn(c, "--micro-batches", a->micro_batches);
    if (train) args(c, "--log", s->log, "--resume", NULL);
}

/* Prints the stage's banner, runs it unless finished, records it. 0, or -1 after the message. */
static int run_stage(vtag_run *r, const vtag_run_stage *s, char **argv, char **launcher, int i, int n, double t0)
{
    const int done = vtag_run_stage_done(r, s->name, NULL);
    fprintf(stderr, "[%d/%d] %s%s\n", i, n, s->what, done ? ": done before, skipped" : " ...");
    if (done) return 0;
    vtag_error err = {0};
    double t = vtag_seconds();
    int status, rc = vtag_run_exec(s->sharded ? launcher : NULL, argv, &status, &err);
    if (rc) cli_error(CMD, "stage '%s': %s", s->name, err.msg); /* could not start, or killed */
    else if (status) cli_error(CMD, "stage '%s' failed (exit %d); rerun the same command to resume", s->name, status);
    if (rc || status) return -1;
    double dt = vtag_seconds() - t;
    fprintf(stderr, "[%d/%d] %s: done in %.1f s (%.1f s in all)\n", i, n, s->what, dt, vtag_seconds() - t0);
    if (!vtag_run_stage_finish(r, s->name, dt, &err)) return 0;
    cli_error(CMD, "%s", err.msg);
    return -1;
}

int cmd_pipeline(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return help(stdout);
    pipe_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    vtag_error err = {0};
    vtag_run *r = NULL;
    vtag_run_plan p;
    vtag_run_plan_opts po = {a.out, a.labels, a.backbone, a.model, a.sample, a.size, a.hidden, a.xe_epochs,
                             a.scst_epochs};
    argl cmd[VTAG_RUN_MAX_STAGES];
    memset(cmd, 0, sizeof cmd);
    rc = vtag_run_plan_build(&p, &po, &err) ? CLI_EXIT_FAIL : CLI_EXIT_USAGE; /* usage: a stage refuses */
    if (rc == CLI_EXIT_FAIL) goto fail;
    /* Every stage's options through the parser of the command that runs it: a value only a stage
     * refuses fails now, not after the stages before it; nothing is written before all are good. */
    for (int i = 0; i < p.n; i++) {
        stage_argv(&cmd[i], &p.stage[i], &a);
        const vtag_run_stage_kind k = p.stage[i].kind;
        if ((k == VTAG_RUN_STAGE_BACKBONE   ? cmd_backbone_check
             : k == VTAG_RUN_STAGE_FEATURES ? cmd_features_check
                                            : cmd_train_check)(cmd[i].n - 1, cmd[i].v + 1) != 0) {
            cli_error(CMD, "stage '%s' would refuse these options; nothing was run", p.stage[i].name);
            goto done;
        }
    }
    rc = CLI_EXIT_FAIL;
    const vtag_run_launch launch = {a.launcher, a.micro_batches};
    if (vtag_run_open_pipeline(&r, a.out, &p.settings, a.restart, &err) || vtag_run_set_launch(r, &launch, &err) ||
        (a.restart && vtag_run_plan_forget(&p, &err)) || vtag_run_save(r, &err))
        goto fail;
    double t0 = vtag_seconds();
    for (int i = 0; i < p.n; i++)
        if (run_stage(r, &p.stage[i], cmd[i].v, a.words, i + 1, p.n, t0)) goto done;
    /* Summary: validation CIDEr-D of each model after XE and after SCST. */
    vtag_run_figures f[VTAG_RUN_N_MODELS];
    int n;
    if (vtag_run_summarize(r, &p, f, &n, &err)) goto fail;
    if (n) printf("%-8s %12s %12s\n", "model", "val XE", "val SCST");
    for (int k = 0; k < n; k++)
        printf("%-8s %12.4f %12.4f\n", f[k].model, f[k].val_cider_d_xe, f[k].val_cider_d_scst);
    if (n && vtag_run_save(r, &err)) goto fail;
    cli_note(CMD, "finished in %.1f s; tag videos with: vtag tag --from %s VIDEO...", vtag_seconds() - t0, a.out);
    rc = CLI_EXIT_OK;
    goto done;
fail:
    cli_error(CMD, "%s", err.msg);
done:
    vtag_run_close(&r);
    vtag_run_plan_free(&p);
    free(a.words);
    return rc;
}

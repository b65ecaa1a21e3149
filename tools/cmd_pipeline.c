/* vtag pipeline: labelled videos to trained taggers, stage by stage (backbone,
 * features of each split, XE and SCST for each model), each a run of the vtag
 * command that does it, recorded in DIR/pipeline.json so that a rerun continues
 * where the last one stopped. The run folder and its stages are vtag/run.h's. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/run.h"
#include "vtag/video.h"

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
            "  -l, --labels FILE    labels file (JSON Lines or CSV; docs/FORMATS.md)\n"
            "  -o, --out DIR        output folder (created)\n"
            "  -m, --model NAME     fc | att2in | topdown | video (a caption per video) | all (all)\n"
            "  -b, --backbone FILE  an ONNX image model to use instead of training the built-in CNN\n"
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
            "  -j, --threads T      (number of cores)\n"
            "  --seed S             (42)\n"
            "  --launcher CMD       run the features and training stages under CMD (\"mpirun -np 4 -H a,b\")\n"
            "  --micro-batches M    vtag train's: a step's gradient from M micro-batches (same M, same results)\n"
            "  --keep-tag-order     train on each video's tags in the labels' order (default: by frequency)\n"
            "  --restart            forget what DIR holds and start again    (-h, --help: this help)\n"
            "  --dry-run            print each stage's time on this machine (timed on a few videos, two epochs\n"
            "                       each, in a temporary folder) and the total; writes nothing in DIR\n"
            "  --skip-bad           leave out the labelled videos that cannot be opened (checked before\n"
            "                       the first stage; without it they are named and nothing runs)\n"
            "\n"
            "Example: vtag pipeline --labels l.jsonl --out run --launcher \"mpirun -np 2\" --micro-batches 2\n"
            "Exit codes: 0 done, 1 a stage failed (rerun to resume), 2 usage.\n");
    return CLI_EXIT_OK;
}

typedef struct pipe_args {
    const char *labels, *out, *model, *backbone, *sample, *baseline, *launcher;
    long size, backbone_epochs, xe_epochs, scst_epochs, hidden, batch, threads, seed, sample_n, micro_batches;
    int restart, dry_run, skip_bad, keep_tag_order;
    char **words; /* the launcher's; NULL: none */
} pipe_args;

enum { OPT_STR = 1000, OPT_NUM = 1100, OPT_RESTART = 1200, OPT_HELP, OPT_DRY }; /* past the short options' letters */

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
        {"dry-run", no_argument, 0, OPT_DRY}, {"skip-bad", no_argument, 0, OPT_DRY + 1},
        {"help", no_argument, 0, OPT_HELP}, {"keep-tag-order", no_argument, 0, OPT_DRY + 2}, {0, 0, 0, 0},
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
    optind = 0;
    for (int c; (c = cli_getopt(CMD, argc, argv, opts)) != -1;) {
        const int k = c - OPT_NUM;
        if (c >= OPT_STR && c <= OPT_STR + 6) *str[c - OPT_STR] = optarg;
        else if (k >= 0 && k <= 9 && cli_parse_int(CMD, num[k].opt, optarg, num[k].lo, num[k].hi, num[k].v))
            return -1;
        else if (c == OPT_RESTART) a->restart = 1;
        else if (c >= OPT_DRY && c <= OPT_DRY + 2) *(int *[]){&a->dry_run, &a->skip_bad, &a->keep_tag_order}[c - OPT_DRY] = 1;
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
    else if (strcmp(a->model, "all") && strcmp(a->model, "video") && vtag_model_type_parse(a->model, &t))
        cli_error(CMD, "--model must be fc, att2in, topdown, video or all, got '%s'", a->model);
    else if (a->launcher && vtag_run_launcher_split(a->launcher, &a->words, &err))
        cli_error(CMD, "--launcher %s", err.msg);
    else return 0;
    return -1;
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

static void bad_video(void *user, const char *line) { (void)user, cli_error(CMD, "%s", line); }
static void timing(void *user, const vtag_run_stage *s) { (void)user, cli_note(CMD, "--dry-run: timing %s ...", s->name); }

/* --dry-run: every stage with its estimate; the finished ones (a rerun skips them) are not counted. */
static int dry_run(const vtag_run_plan *p, const vtag_run_stage_opts *so, const pipe_args *a, vtag_error *err)
{
    vtag_run *r = NULL;
    double est[VTAG_RUN_MAX_STAGES], total = 0;
    vtag_run_estimate_opts eo;
    vtag_run_estimate_opts_defaults(&eo);
    eo.note = timing;
    if (!a->restart && vtag_run_open(&r, a->out, &(vtag_error){0})) r = NULL; /* nothing finished */
    int done[VTAG_RUN_MAX_STAGES], pending = 0;
    for (int i = 0; i < p->n; i++) pending += !(done[i] = r && vtag_run_stage_done(r, p->stage[i].name, NULL));
    if (pending && vtag_run_estimate(p, so, &eo, est, err)) return vtag_run_close(&r), -1;
    printf("%-14s %-42s %12s\n", "stage", "what", "estimate");
    for (int i = 0; i < p->n; i++) {
        if (done[i]) printf("%-14s %-42s %12s\n", p->stage[i].name, p->stage[i].what, "done before");
        else printf("%-14s %-42s %10.1f s\n", p->stage[i].name, p->stage[i].what, est[i]);
        total += done[i] ? 0 : est[i];
    }
    printf("%-14s %-42s %10.1f s (%.1f min)\n", "total", "", total, total / 60);
    vtag_run_close(&r);
    return 0;
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
    const vtag_run_stage_opts so = {a.sample, a.baseline, a.size, a.backbone_epochs, a.xe_epochs, a.scst_epochs,
                                    a.hidden, a.batch, a.threads, a.seed, a.sample_n, a.micro_batches,
                                    a.keep_tag_order};
    vtag_run_argv cmd[VTAG_RUN_MAX_STAGES];
    rc = vtag_run_plan_build(&p, &po, &err) ? CLI_EXIT_FAIL : CLI_EXIT_USAGE; /* usage: a stage refuses */
    if (rc == CLI_EXIT_FAIL) goto fail;
    p.settings.keep_tag_order = a.keep_tag_order; /* a setting of the training stages, recorded as tag_order */
    /* Every stage's options through the parser of the command that runs it: a value only a stage
     * refuses fails now, not after the stages before it; nothing is written before all are good. */
    for (int i = 0; i < p.n; i++) {
        vtag_run_stage_argv(&cmd[i], &p.stage[i], &so);
        const vtag_run_stage_kind k = p.stage[i].kind;
        if ((k == VTAG_RUN_STAGE_BACKBONE   ? cmd_backbone_check
             : k == VTAG_RUN_STAGE_FEATURES ? cmd_features_check
                                            : cmd_train_check)(cmd[i].n - 1, cmd[i].v + 1) != 0) {
            cli_error(CMD, "stage '%s' would refuse these options; nothing was run", p.stage[i].name);
            goto done;
        }
    }
    /* Every labelled video opens, before any stage: each bad one named, or left out with --skip-bad. */
    rc = CLI_EXIT_FAIL;
    int64_t n_bad;
    if (vtag_run_plan_check_videos(&p, bad_video, NULL, &n_bad, &err)) goto fail;
    if (n_bad && !a.skip_bad) {
        cli_error(CMD, "%lld of %lld labelled videos cannot be read; nothing was run (--skip-bad leaves them out)",
                  (long long)n_bad, (long long)p.n_entries);
        goto done;
    }
    if (n_bad) cli_note(CMD, "--skip-bad: skipping %lld bad videos of %lld", (long long)n_bad, (long long)p.n_entries);
    if (a.dry_run) {
        rc = dry_run(&p, &so, &a, &err) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
        if (rc) goto fail;
        goto done;
    }
    const vtag_run_launch launch = {a.launcher, a.micro_batches};
    if (vtag_run_open_pipeline(&r, a.out, &p.settings, a.restart, &err) || vtag_run_set_launch(r, &launch, &err) ||
        (a.restart && vtag_run_plan_forget(&p, &err)) || vtag_run_plan_skip_bad(&p, &err) || vtag_run_save(r, &err))
        goto fail;
    double t0 = vtag_seconds();
    for (int i = 0; i < p.n; i++) {
        vtag_run_stage_argv(&cmd[i], &p.stage[i], &so); /* --skip-bad changes some */
        if (run_stage(r, &p.stage[i], cmd[i].v, a.words, i + 1, p.n, t0)) goto done;
    }
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

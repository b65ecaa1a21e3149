/* vtag backbone: train the built-in CNN on the labelled training videos and predict label scores
 * with it (the CNN baseline), both library calls (vtag/backbone_run.h): options in, lines out. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/backbone_run.h"
#include "vtag/caption.h"

#define CMD "backbone"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag backbone train --labels L --out B.safetensors [options]\n"
            "       vtag backbone predict --backbone B.safetensors [--sample SPEC] [--top K] VIDEO...\n"
            "\n"
            "train: trains the built-in residual CNN as a multi-label classifier (one sigmoid per\n"
            "label of the training videos: class1, class2 and tags; binary cross-entropy) on frames\n"
            "sampled from the training videos of L, decoded once and kept in memory. With a val\n"
            "split, the video-level mAP (mean of the frames' scores) is measured after every epoch\n"
            "and B is the best epoch's model; otherwise the last. B.state.safetensors holds what\n"
            "--resume continues from. One JSON line per epoch on stderr. A loss or gradient that\n"
            "turns nan or inf stops training (exit 1), B and its state left at the last good epoch.\n"
            "  -l, --labels FILE  labels file (JSON Lines or CSV; docs/FORMATS.md)\n"
            "  -o, --out FILE     backbone file to write (safetensors, vtag.backbone metadata)\n"
            "  --sample SPEC      frames per training video (uniform:8)\n"
            "  --size S           input side in pixels (64)\n"
            "  --widths LIST      channels per stage (16,32,64,128); --blocks LIST (1,1,1,1)\n"
            "  --epochs N         (10)    --batch B  frames per step (32)\n"
            "  --lr X             Adam, cosine-decayed to X/20 (0.002)   --weight-decay X (1e-4)\n"
            "  --no-augment       no random flips and shifts\n"
            "  -j, --threads T    (number of cores)   --seed S  (1)\n"
            "  --log FILE         append the epoch lines here too   --resume\n"
            "\n"
            "predict: one JSON line per video on stdout, as each finishes:\n"
            "  {\"video\": V, \"labels\": [{\"label\": L, \"score\": s}, ...every label, descending],\n"
            "   \"frames\": [{\"pts_seconds\": t, \"labels\": [top K of the frame]}, ...]}\n"
            "where a video's score is the mean of its frames' sigmoids. A video that fails gets\n"
            "{\"video\": V, \"error\": \"...\"} and the others go on.\n"
            "  -b, --backbone FILE  a file written by vtag backbone train\n"
            "  --sample SPEC      frames per video (uniform:16)   --top K  labels per frame (5)\n"
            "  -j, --threads T    -o, --output FILE  the lines to FILE (FILE.partial until done)   --resume\n"
            "  --format F         jsonl, or csv: video,labels,scores,frames,error (docs/FORMATS.md)\n"
            "\n"
            "-h, --help: this help. exit codes: 0 done, 1 bad input / I/O error (train writes nothing) or a video failed\n"
            "(predict), 2 usage.\n");
}

typedef struct args {
    const char *labels, *backbone;
    vtag_builtin_run_opts o; /* train's options; o.sample is predict's too */
    vtag_output_opts out;    /* predict's --output, --format (--resume: o.resume) */
    int threads, nw, nb;     /* nw, nb: the stages --widths and --blocks gave (-1: none) */
    long top;
    uint64_t seed;
} args;

enum { OPT_SAMPLE = 256, OPT_SIZE, OPT_WIDTHS, OPT_BLOCKS, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_WD, OPT_NOAUG,
       OPT_THREADS, OPT_SEED, OPT_LOG, OPT_RESUME, OPT_BACKBONE, OPT_TOP, OPT_HELP, OPT_OUTPUT, OPT_FORMAT };

/* The options of either subcommand, as its table allows: 0, 1 after --help, -1 after the message. */
static int parse(int argc, char **argv, const struct option *table, args *a)
{
    vtag_builtin_config *cfg = &a->o.cfg;
    vtag_builtin_train_opts *to = &a->o.train;
    int c, bad = 0;
    long v = 0;
    double d = 0;
    vtag_error e = {0};
    optind = 0;
    /* each case parses its value (bad: the message is out) and stores it */
    while (!bad && (c = cli_getopt(CMD, argc, argv, table)) != -1) {
        switch (c) {
        case 'l': a->labels = optarg; break;
        case 'o': a->o.out = optarg; break;
        case OPT_BACKBONE: a->backbone = optarg; break;
        case OPT_OUTPUT: a->out.path = optarg; break;
        case OPT_FORMAT: if ((bad = vtag_output_format_parse(optarg, &a->out.format, &e))) cli_error(CMD, "%s", e.msg); break;
        case OPT_LOG: a->o.log = optarg; break;
        case OPT_RESUME: a->o.resume = 1; break;
        case OPT_NOAUG: to->flip = 0, to->shift = 0; break;
        case OPT_SAMPLE:
            if ((bad = vtag_video_sampler_parse(&a->o.sample, optarg, &e))) cli_error(CMD, "--sample: %s", e.msg);
            break;
        case OPT_SIZE: bad = cli_parse_int(CMD, "--size", optarg, 16, 1024, &v), cfg->size = v; break;
        case OPT_WIDTHS:
            if ((bad = (a->nw = vtag_builtin_parse_stages(optarg, cfg->widths, VTAG_BUILTIN_MAX_WIDTH)) < 0))
                cli_error(CMD, "--widths expects 1 to %d comma-separated channel counts, got '%s'", VTAG_BUILTIN_MAX_STAGES, optarg);
            break;
        case OPT_BLOCKS:
            if ((bad = (a->nb = vtag_builtin_parse_stages(optarg, cfg->blocks, VTAG_BUILTIN_MAX_BLOCKS)) < 0))
                cli_error(CMD, "--blocks expects 1 to %d comma-separated block counts, got '%s'", VTAG_BUILTIN_MAX_STAGES, optarg);
            break;
        case OPT_EPOCHS: bad = cli_parse_int(CMD, "--epochs", optarg, 1, VTAG_BUILTIN_MAX_EPOCHS, &v), to->epochs = (int)v; break;
        case OPT_BATCH: bad = cli_parse_int(CMD, "--batch", optarg, 2, 4096, &v), to->batch = v; break;
        /* lr > 0 with no upper bound: a run that diverges is stopped (and says so) */
        case OPT_LR: bad = cli_parse_real(CMD, "--lr", optarg, 0, CLI_FLOAT_MAX, CLI_OPEN_LO | CLI_AS_FLOAT, &d), to->lr = (float)d; break;
        case OPT_WD: bad = cli_parse_real(CMD, "--weight-decay", optarg, 0, 10, CLI_AS_FLOAT, &d), to->weight_decay = (float)d; break;
        case OPT_THREADS: bad = cli_parse_int(CMD, "--threads", optarg, 1, 1024, &v), a->threads = (int)v; break;
        case OPT_SEED: bad = cli_parse_int(CMD, "--seed", optarg, 0, 0x7fffffffL, &v), a->seed = (uint64_t)v; break;
        case OPT_TOP: bad = cli_parse_int(CMD, "--top", optarg, 1, 1000000, &a->top); break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    return bad ? -1 : 0;
}

static int parse_train(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"labels", required_argument, 0, 'l'},        {"out", required_argument, 0, 'o'},
        {"sample", required_argument, 0, OPT_SAMPLE}, {"size", required_argument, 0, OPT_SIZE},
        {"widths", required_argument, 0, OPT_WIDTHS}, {"blocks", required_argument, 0, OPT_BLOCKS},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"batch", required_argument, 0, OPT_BATCH},
        {"lr", required_argument, 0, OPT_LR},         {"weight-decay", required_argument, 0, OPT_WD},
        {"no-augment", no_argument, 0, OPT_NOAUG},    {"threads", required_argument, 0, OPT_THREADS},
        {"seed", required_argument, 0, OPT_SEED},     {"log", required_argument, 0, OPT_LOG},
        {"resume", no_argument, 0, OPT_RESUME},       {"help", no_argument, 0, OPT_HELP}, {0, 0, 0, 0}};
    *a = (args){.seed = 1, .nw = -1, .nb = -1};
    vtag_builtin_run_defaults(&a->o);
    vtag_builtin_config *cfg = &a->o.cfg;
    int rc = parse(argc, argv, opts, a);
    if (rc) return rc;
    if (a->nw > 0 && a->nb < 0) /* --widths alone: one block per stage */
        for (a->nb = 0; a->nb < a->nw; a->nb++) cfg->blocks[a->nb] = 1;
    if (a->nb > 0 && a->nw < 0) a->nw = cfg->n_stages;
    if (a->nw > 0) cfg->n_stages = a->nw;
    vtag_error e = {0};
    if (optind < argc) cli_error(CMD, "train: unexpected argument '%s'", argv[optind]);
    else if (!a->labels || !a->o.out) cli_error(CMD, "train: --labels and --out are required (vtag backbone --help)");
    else if (a->nw != a->nb) cli_error(CMD, "--widths has %d stages but --blocks %d", a->nw, a->nb);
    else if (vtag_builtin_config_check(cfg, &e)) cli_error(CMD, "%s", e.msg);
    else return 0;
    return -1;
}

/* vtag pipeline checks its backbone stage's options before the first stage runs,
 * with this command's own parser. argv as cmd_backbone's: "backbone", "train", ... */
int cmd_backbone_check(int argc, char **argv)
{
    args a;
    return argc >= 2 && strcmp(argv[1], "train") == 0 && parse_train(argc - 1, argv + 1, &a) == 0 ? 0 : -1;
}

/* user: the progress of the run (frames decoded, then the epochs' steps) */
static void show_frames(void *user, vtag_data_split split, int64_t done, int64_t total)
{
    ((cli_progress *)user)->unit = "videos";
    cli_progress_show(user, split == VTAG_DATA_SPLIT_TRAIN ? "decoding training frames" : "decoding validation frames",
                      done, total);
}

static void show_step(void *user, int epoch, int epochs, int64_t done, int64_t total)
{
    char stage[64];
    snprintf(stage, sizeof stage, "epoch %d/%d", epoch, epochs);
    ((cli_progress *)user)->unit = "frames";
    cli_progress_show(user, stage, done, total);
}

static void show_note(void *user, const char *text)
{
    cli_progress_clear(user);
    cli_note(CMD, "%s", text);
}

static void show_epoch(void *user, const vtag_builtin_run_epoch *r, const char *line)
{
    (void)r, cli_progress_clear(user);
    fprintf(stderr, "%s\n", line);
}

static int cmd_train_backbone(int argc, char **argv)
{
    args a;
    int pr = parse_train(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    char *spath = vtag_train_state_path(a.o.out);
    /* an output (the backbone, its state, the log) on an input would destroy it */
    const cli_file ins[] = {{"--labels", a.labels}};
    const cli_file outs[] = {{"--out", a.o.out}, {"the state file", spath}, {"--log", a.o.log}};
    int status = cli_check_outputs(CMD, outs, 3, ins, 1, 0);
    vtag_error err = {0};
    vtag_ctx ctx = {0};
    vtag_data_labels labels = {0};
    if (!status && spath && !vtag_ctx_init(&ctx, a.threads, a.seed, &err) &&
        !vtag_data_read_labels(&labels, a.labels, NULL, &err) &&
        !(status = cli_check_outputs_videos(CMD, outs, 3, &labels, 0))) {
        cli_progress bar;
        cli_progress_start(&bar, "backbone", "frames", 0);
        const vtag_builtin_run_hooks hooks = {show_frames, show_note, show_epoch, &bar, show_step};
        if (vtag_builtin_run(&ctx, &labels, &a.o, &hooks, &err)) status = CLI_EXIT_FAIL;
        cli_progress_clear(&bar);
    } else if (!status) status = CLI_EXIT_FAIL;
    if (status == CLI_EXIT_FAIL && err.msg[0]) cli_error(CMD, "%s", err.msg);
    free(spath);
    vtag_data_free_labels(&labels);
    vtag_ctx_free(&ctx);
    return status;
}

static void say_failed(void *user, const vtag_error *e) { (void)user, cli_error(CMD, "%s", e->msg); }

static int cmd_predict_backbone(int argc, char **argv)
{
    static const struct option opts[] = {
        {"backbone", required_argument, 0, OPT_BACKBONE}, {"sample", required_argument, 0, OPT_SAMPLE},
        {"top", required_argument, 0, OPT_TOP},           {"threads", required_argument, 0, OPT_THREADS},
        {"output", required_argument, 0, OPT_OUTPUT},     {"format", required_argument, 0, OPT_FORMAT},
        {"resume", no_argument, 0, OPT_RESUME},           {"help", no_argument, 0, OPT_HELP}, {0, 0, 0, 0}};
    args a = {.top = 5};
    vtag_video_sampler_default(&a.o.sample);
    int rc = parse(argc, argv, opts, &a);
    if (!rc && (!a.backbone || optind >= argc || (a.o.resume && !a.out.path)))
        rc = -1, cli_error(CMD, "predict: --backbone B.safetensors and at least one VIDEO are required (--resume: and --output)");
    if (rc) return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    /* vtag backbone predict ... >> B appends to an input; so would --output B */
    const cli_file outs[] = {{"--output", a.out.path}};
    int clash = cli_check_outputs(CMD, outs, 1, &(cli_file){"--backbone", a.backbone}, 1, !a.out.path);
    if (!clash) clash = cli_check_outputs_paths(CMD, outs, 1, "video", (const char *const *)argv + optind, argc - optind, !a.out.path);
    if (clash) return clash;
    vtag_error err = {0};
    int64_t failed = 0;
    a.out.stream = stdout, a.out.resume = a.o.resume;
    const vtag_builtin_predict_opts po = {a.backbone, a.threads, a.o.sample, a.top, a.out, say_failed, NULL};
    if (vtag_builtin_predict_run(&po, (const char *const *)argv + optind, argc - optind, &failed, &err))
        return cli_error(CMD, "%s", err.msg), CLI_EXIT_FAIL;
    return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_backbone(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "train") == 0) return cmd_train_backbone(argc - 1, argv + 1);
    if (strcmp(argv[1], "predict") == 0) return cmd_predict_backbone(argc - 1, argv + 1);
    if (argv[1][0] == '-') return cli_unknown_option(CMD, argv[1], NULL), CLI_EXIT_USAGE;
    return cli_error(CMD, "unknown subcommand '%s' (train or predict)", argv[1]), CLI_EXIT_USAGE;
}

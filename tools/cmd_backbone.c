/* vtag backbone: train the built-in CNN on frames of the labelled training
 * videos (multi-label BCE over the label vocabulary), and predict label
 * scores per frame and per video with it — the CNN baseline. */
#include <getopt.h>
#include <jansson.h>
#include <libavutil/log.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/builtin.h"
#include "vtag/safetensors.h"
#include "vtag/tag.h"

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
            "  --labels FILE      labels file (JSON Lines or CSV; docs/FORMATS.md)\n"
            "  --out FILE         backbone file to write (safetensors, vtag.backbone metadata)\n"
            "  --sample SPEC      frames per training video (uniform:8)\n"
            "  --size S           input side in pixels (64)\n"
            "  --widths LIST      channels per stage (16,32,64,128); --blocks LIST (1,1,1,1)\n"
            "  --epochs N         (10)    --batch B  frames per step (32)\n"
            "  --lr X             Adam, cosine-decayed to X/20 (0.002)   --weight-decay X (1e-4)\n"
            "  --no-augment       no random flips and shifts\n"
            "  --threads T        (number of cores)   --seed S  (1)\n"
            "  --log FILE         append the epoch lines here too   --resume\n"
            "\n"
            "predict: one JSON line per video on stdout, as each finishes:\n"
            "  {\"video\": V, \"labels\": [{\"label\": L, \"score\": s}, ...every label, descending],\n"
            "   \"frames\": [{\"pts_seconds\": t, \"labels\": [top K of the frame]}, ...]}\n"
            "where a video's score is the mean of its frames' sigmoids. A video that fails gets\n"
            "{\"video\": V, \"error\": \"...\"} and the others go on.\n"
            "  --backbone FILE    a file written by vtag backbone train\n"
            "  --sample SPEC      frames per video (uniform:16)   --top K  labels per frame (5)\n"
            "  --threads T\n"
            "\n"
            "exit codes: 0 done, 1 bad input / I/O error (train writes nothing) or a video failed\n"
            "(predict), 2 usage.\n");
}

/* "32,64,128" → values; returns the count or -1. */
static int parse_list(const char *s, int64_t *out, int max, long lo, long hi)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < lo || v > hi || n == max) return -1;
        out[n++] = v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n;
}

/* ---- train ---------------------------------------------------------------------------- */

typedef struct train_args {
    const char *labels, *out, *log;
    vtag_video_sampler smp;
    vtag_builtin_config cfg;
    vtag_builtin_train_opts to;
    int epochs, threads, resume;
    uint64_t seed;
} train_args;

enum { OPT_SAMPLE = 256, OPT_SIZE, OPT_WIDTHS, OPT_BLOCKS, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_WD, OPT_NOAUG, OPT_THREADS, OPT_SEED, OPT_LOG, OPT_RESUME, OPT_BACKBONE, OPT_TOP, OPT_HELP };

static int parse_train(int argc, char **argv, train_args *a)
{
    static const struct option opts[] = {
        {"labels", required_argument, 0, 'l'},   {"out", required_argument, 0, 'o'},
        {"sample", required_argument, 0, OPT_SAMPLE}, {"size", required_argument, 0, OPT_SIZE},
        {"widths", required_argument, 0, OPT_WIDTHS}, {"blocks", required_argument, 0, OPT_BLOCKS},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"batch", required_argument, 0, OPT_BATCH},
        {"lr", required_argument, 0, OPT_LR},    {"weight-decay", required_argument, 0, OPT_WD},
        {"no-augment", no_argument, 0, OPT_NOAUG}, {"threads", required_argument, 0, OPT_THREADS},
        {"seed", required_argument, 0, OPT_SEED}, {"log", required_argument, 0, OPT_LOG},
        {"resume", no_argument, 0, OPT_RESUME},  {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    vtag_video_sampler_default(&a->smp);
    a->smp.count = 8;
    vtag_builtin_config_default(&a->cfg);
    vtag_builtin_train_opts_default(&a->to);
    a->epochs = 10;
    a->seed = 1;
    int c, nw = -1, nb = -1;
    long v;
    double d;
    vtag_error e = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->labels = optarg; break;
        case 'o': a->out = optarg; break;
        case OPT_LOG: a->log = optarg; break;
        case OPT_RESUME: a->resume = 1; break;
        case OPT_NOAUG: a->to.flip = 0, a->to.shift = 0; break;
        case OPT_SAMPLE:
            if (vtag_video_sampler_parse(&a->smp, optarg, &e)) {
                cli_error(CMD, "--sample: %s", e.msg);
                return -1;
            }
            break;
        case OPT_SIZE:
            if (cli_parse_int(CMD, "--size", optarg, 16, 1024, &v)) return -1;
            a->cfg.size = v;
            break;
        case OPT_WIDTHS:
            if ((nw = parse_list(optarg, a->cfg.widths, VTAG_BUILTIN_MAX_STAGES, 1, VTAG_BUILTIN_MAX_WIDTH)) < 1) {
                cli_error(CMD, "--widths expects 1 to %d comma-separated channel counts, got '%s'", VTAG_BUILTIN_MAX_STAGES, optarg);
                return -1;
            }
            break;
        case OPT_BLOCKS:
            if ((nb = parse_list(optarg, a->cfg.blocks, VTAG_BUILTIN_MAX_STAGES, 1, VTAG_BUILTIN_MAX_BLOCKS)) < 1) {
                cli_error(CMD, "--blocks expects 1 to %d comma-separated block counts, got '%s'", VTAG_BUILTIN_MAX_STAGES, optarg);
                return -1;
            }
            break;
        case OPT_EPOCHS:
            if (cli_parse_int(CMD, "--epochs", optarg, 1, VTAG_BUILTIN_MAX_EPOCHS, &v)) return -1;
            a->epochs = (int)v;
            break;
        case OPT_BATCH:
            if (cli_parse_int(CMD, "--batch", optarg, 2, 4096, &v)) return -1;
            a->to.batch = v;
            break;
        /* lr > 0 with no upper bound: a run that diverges is stopped (and says so) */
        case OPT_LR:
            if (cli_parse_real(CMD, "--lr", optarg, 0, CLI_FLOAT_MAX, CLI_OPEN_LO | CLI_AS_FLOAT, &d)) return -1;
            a->to.lr = (float)d;
            break;
        case OPT_WD:
            if (cli_parse_real(CMD, "--weight-decay", optarg, 0, 10, CLI_AS_FLOAT, &d)) return -1;
            a->to.weight_decay = (float)d;
            break;
        case OPT_THREADS:
            if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &v)) return -1;
            a->threads = (int)v;
            break;
        case OPT_SEED:
            if (cli_parse_int(CMD, "--seed", optarg, 0, 0x7fffffffL, &v)) return -1;
            a->seed = (uint64_t)v;
            break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        cli_error(CMD, "train: unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->labels || !a->out) {
        cli_error(CMD, "train: --labels and --out are required (vtag backbone --help)");
        return -1;
    }
    if (nw > 0 || nb > 0) {
        if (nw < 0) nw = 4;
        if (nb < 0) {
            nb = nw;
            for (int s = 0; s < nb; s++) a->cfg.blocks[s] = 1;
        }
        if (nw != nb) {
            cli_error(CMD, "--widths has %d stages but --blocks %d", nw, nb);
            return -1;
        }
        a->cfg.n_stages = nw;
    }
    a->cfg.n_labels = 1;
    if (vtag_builtin_config_check(&a->cfg, &e)) {
        cli_error(CMD, "%s", e.msg);
        return -1;
    }
    a->to.epochs = a->epochs;
    return 0;
}

/* vtag pipeline checks its backbone stage's options before the first stage runs,
 * with this command's own parser. argv as cmd_backbone's: "backbone", "train", ... */
int cmd_backbone_check(int argc, char **argv)
{
    train_args a;
    return argc >= 2 && strcmp(argv[1], "train") == 0 && parse_train(argc - 1, argv + 1, &a) == 0 ? 0 : -1;
}

typedef struct frames_progress {
    int tty;
    const char *what;
    double t0, last;
} frames_progress;

static void show_frames(void *user, int64_t done, int64_t total)
{
    frames_progress *p = user;
    double t = cli_seconds();
    if (p->tty) {
        int width = 30, fill = (int)(width * done / (total ? total : 1));
        fprintf(stderr, "\r%s [%.*s%*s] %lld/%lld videos ", p->what, fill, "##############################",
                width - fill, "", (long long)done, (long long)total);
        if (done == total) fputs("\r\033[K", stderr);
        fflush(stderr);
    } else if (t - p->last >= 10.0 && done < total) {
        fprintf(stderr, "vtag backbone: %s: %lld/%lld videos\n", p->what, (long long)done, (long long)total);
        p->last = t;
    }
}

static int cmd_train_backbone(int argc, char **argv)
{
    train_args a;
    int pr = parse_train(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    av_log_set_level(AV_LOG_QUIET);
    vtag_error err = {0};
    vtag_ctx ctx;
    vtag_data_labels labels;
    memset(&labels, 0, sizeof labels);
    vtag_builtin m;
    memset(&m, 0, sizeof m);
    vtag_builtin_frames train, val;
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    vtag_builtin_infer inf;
    memset(&inf, 0, sizeof inf);
    const char **names = NULL;
    int64_t *index = NULL, V = 0;
    float *probs = NULL;
    FILE *log = NULL;
    char *spath = cli_state_path(a.out);
    int status = CLI_EXIT_FAIL, rc;
    /* an output (the backbone, its state, the log) on an input would destroy it */
    const cli_file ins[] = {{"--labels", a.labels}};
    const cli_file outs[] = {{"--out", a.out}, {"the state file", spath}, {"--log", a.log}};
    int clash = cli_check_outputs(CMD, outs, 3, ins, 1, 0);
    if (clash) {
        free(spath);
        return clash;
    }
    if (!spath || (rc = vtag_ctx_init(&ctx, a.threads, a.seed, &err))) goto fail;
    if ((rc = vtag_data_read_labels(&labels, a.labels, NULL, &err))) goto fail;
    if ((clash = cli_check_outputs_videos(CMD, outs, 3, &labels, 0))) {
        status = clash; /* reported */
        goto fail;
    }
    index = malloc((size_t)(labels.n_names + 1) * sizeof *index);
    if (!index) {
        vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((rc = vtag_builtin_vocab(&labels, &names, &V, index, &err))) goto fail;
    if (V == 0) {
        vtag_fail(&err, VTAG_ERR_FORMAT, "%s: no training videos (split \"train\")", a.labels);
        goto fail;
    }
    a.cfg.n_labels = V;
    if ((rc = vtag_builtin_init(&m, &a.cfg, names, &err))) goto fail;
    vtag_builtin_init_weights(&m, &ctx.rng);
    int64_t n_val = 0;
    for (int64_t e = 0; e < labels.count; e++) n_val += labels.entries[e].split == VTAG_DATA_SPLIT_VAL;
    double t0 = cli_seconds();
    frames_progress fp = {isatty(2), "decoding training frames", t0, t0};
    if ((rc = vtag_builtin_load_frames(&train, &labels, VTAG_DATA_SPLIT_TRAIN, &a.smp, a.cfg.size, ctx.threads, show_frames, &fp, &err)))
        goto fail;
    if (n_val) {
        fp.what = "decoding validation frames";
        if ((rc = vtag_builtin_load_frames(&val, &labels, VTAG_DATA_SPLIT_VAL, &a.smp, a.cfg.size, ctx.threads, show_frames, &fp, &err)))
            goto fail;
        probs = malloc((size_t)(val.n * V) * sizeof *probs);
        if (!probs) {
            vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    fprintf(stderr, "vtag backbone: %lld training frames of %lld videos, %lld validation frames, %lld labels, %lldx%lld px (%.1f s)\n",
            (long long)train.n, (long long)train.n_videos, (long long)val.n, (long long)V, (long long)a.cfg.size,
            (long long)a.cfg.size, cli_seconds() - t0);
    vtag_adam adam;
    vtag_adam_init(&adam);
    int start = 0;
    double best = -1;
    if (a.resume && access(spath, F_OK) == 0) {
        if ((rc = vtag_builtin_state_load(&m, &adam, &ctx.rng, &start, &best, spath, &err))) goto fail;
        if (start > a.epochs) { /* a state past this run's end belongs to another run */
            vtag_fail(&err, VTAG_ERR_FORMAT, "%s: vtag.backbone_state: \"epoch\" %d is past --epochs %d", spath, start,
                      a.epochs);
            goto fail;
        }
        cli_note("backbone", "resuming from %s after epoch %d", spath, start);
    }
    if (a.log && !(log = fopen(a.log, "a"))) {
        vtag_fail(&err, VTAG_ERR_IO, "%s: cannot open the log", a.log);
        goto fail;
    }
    for (int epoch = start; epoch < a.epochs; epoch++) {
        vtag_builtin_epoch_stats st;
        if ((rc = vtag_builtin_train_epoch(&ctx, &m, &adam, &train, &labels, index, &a.to, epoch, &st, &err))) {
            /* nothing of this epoch is saved or logged: the checkpoint and the state are the last good ones */
            if (rc == VTAG_ERR_DIVERGED) cli_diverged(&err, "epoch", epoch, a.out);
            goto fail;
        }
        double map = NAN;
        int is_best = 1;
        if (n_val) {
            if ((rc = vtag_builtin_infer_build(&inf, &m, &err)) ||
                (rc = vtag_builtin_predict_frames(&ctx, &inf, &val, 32, probs, &err)) ||
                (rc = vtag_builtin_video_map(&val, probs, V, &labels, index, &map, &err)))
                goto fail;
            vtag_builtin_infer_free(&inf);
            is_best = map > best;
            if (is_best) best = map;
        }
        if (is_best && (rc = vtag_builtin_save(&m, a.out, &err))) goto fail;
        if ((rc = vtag_builtin_state_save(&m, &adam, &ctx.rng, epoch + 1, best, spath, &err))) goto fail;
        char line[512], mapbuf[32];
        if (isnan(map)) snprintf(mapbuf, sizeof mapbuf, "null");
        else snprintf(mapbuf, sizeof mapbuf, "%.6f", map);
        snprintf(line, sizeof line,
                 "{\"epoch\": %d, \"loss\": %.6f, \"val_map\": %s, \"frames\": %lld, \"frames_per_s\": %.1f, "
                 "\"seconds\": %.3f, \"best\": %s}",
                 epoch + 1, st.loss, mapbuf, (long long)st.frames, st.seconds > 0 ? (double)st.frames / st.seconds : 0.0,
                 st.seconds, is_best ? "true" : "false");
        fprintf(stderr, "%s\n", line);
        if (log && (rc = cli_write_line(log, a.log, line, &err))) goto fail;
    }
    status = CLI_EXIT_OK;
fail:
    /* the log's last lines may only reach the disk at fclose */
    if (cli_close_file(log, a.log, status == CLI_EXIT_OK ? &err : NULL) && status == CLI_EXIT_OK) status = CLI_EXIT_FAIL;
    if (status != CLI_EXIT_OK && err.msg[0]) cli_error(CMD, "%s", err.msg);
    free(spath);
    free(probs);
    free(index);
    free(names);
    vtag_builtin_infer_free(&inf);
    vtag_builtin_free_frames(&train);
    vtag_builtin_free_frames(&val);
    vtag_builtin_free(&m);
    vtag_data_free_labels(&labels);
    vtag_ctx_free(&ctx);
    return status;
}

/* ---- predict ---------------------------------------------------------------------------- */

typedef struct scored {
    int64_t label;
    double score;
} scored;

static int by_score(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return a->label < b->label ? -1 : a->label > b->label;
}

static json_t *label_list(const vtag_builtin *m, scored *s, int64_t v, int64_t top)
{
    qsort(s, (size_t)v, sizeof *s, by_score);
    json_t *arr = json_array();
    int bad = !arr; /* an element json_pack refuses (invalid UTF-8) fails the list, never drops out */
    for (int64_t k = 0; !bad && k < v && k < top; k++)
        bad = json_array_append_new(arr, json_pack("{s:s, s:f}", "label", m->labels[s[k].label], "score",
                                                   round(s[k].score * 1e6) / 1e6)) != 0;
    if (bad) json_decref(arr);
    return bad ? NULL : arr;
}

/* Decodes, runs and prints one video; a failure is returned for its error line,
 * -1 when stdout failed (reported: no use going on). */
static int predict_video(vtag_ctx *ctx, const vtag_builtin *m, const vtag_builtin_infer *inf, const char *path,
                         const vtag_video_sampler *smp, int64_t top, vtag_error *err)
{
    const int64_t S = m->cfg.size, V = m->cfg.n_labels;
    vtag_builtin_frames f;
    memset(&f, 0, sizeof f);
    vtag_data_labels one;
    memset(&one, 0, sizeof one);
    /* A one-entry labels set so the frame loader can be reused. */
    vtag_data_entry entry = {0};
    entry.video = path, entry.path = path, entry.split = VTAG_DATA_SPLIT_TRAIN;
    one.entries = &entry, one.count = 1, one.path = (char *)"(command line)";
    float *probs = NULL;
    scored *s = malloc((size_t)V * sizeof *s);
    json_t *root = NULL;
    int rc = s ? vtag_builtin_load_frames(&f, &one, VTAG_DATA_SPLIT_ALL, smp, S, 1, NULL, NULL, err)
               : vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    if (rc) {
        /* the loader's message ends with " ((command line):0)" */
        char *p = strstr(err->msg, " ((command line)");
        if (p) *p = 0;
        goto done;
    }
    probs = malloc((size_t)(f.n * V) * sizeof *probs);
    if (!probs) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = vtag_builtin_predict_frames(ctx, inf, &f, 16, probs, err))) goto done;
    json_t *frames = json_array();
    int bad = !frames;
    for (int64_t i = 0; !bad && i < f.n; i++) {
        for (int64_t k = 0; k < V; k++) s[k] = (scored){k, probs[i * V + k]};
        bad = json_array_append_new(frames, json_pack("{s:f, s:o}", "pts_seconds", round(f.pts[i] * 1e6) / 1e6,
                                                      "labels", label_list(m, s, V, top))) != 0;
    }
    if (bad) { /* then root is NULL: "cannot format the result" */
        json_decref(frames);
        frames = NULL;
    }
    for (int64_t k = 0; k < V; k++) {
        double sum = 0;
        for (int64_t i = 0; i < f.n; i++) sum += probs[i * V + k];
        s[k] = (scored){k, sum / (double)f.n};
    }
    root = json_pack("{s:s, s:o, s:o}", "video", path, "labels", label_list(m, s, V, V), "frames", frames);
    char *line = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    if (!line) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot format the result", path);
        goto done;
    }
    if (strlen(line) > VTAG_TAG_LINE_MAX) { /* eval --baseline would refuse it */
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: the prediction line would be %zu bytes, past the %zu MiB eval --baseline "
                       "reads (%lld frames: sample fewer)", path, strlen(line), VTAG_TAG_LINE_MAX >> 20, (long long)f.n);
        free(line);
        goto done;
    }
    if (cli_put_line(CMD, line) || cli_flush_stdout(CMD)) rc = -1;
    free(line);
done:
    json_decref(root);
    free(probs);
    free(s);
    vtag_builtin_free_frames(&f);
    return rc;
}

static int cmd_predict_backbone(int argc, char **argv)
{
    static const struct option opts[] = {
        {"backbone", required_argument, 0, OPT_BACKBONE}, {"sample", required_argument, 0, OPT_SAMPLE},
        {"top", required_argument, 0, OPT_TOP},           {"threads", required_argument, 0, OPT_THREADS},
        {"help", no_argument, 0, OPT_HELP},               {0, 0, 0, 0},
    };
    const char *bpath = NULL;
    vtag_video_sampler smp;
    vtag_video_sampler_default(&smp);
    long top = 5, threads = 0;
    int c;
    vtag_error err = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BACKBONE: bpath = optarg; break;
        case OPT_SAMPLE:
            if (vtag_video_sampler_parse(&smp, optarg, &err)) {
                cli_error(CMD, "--sample: %s", err.msg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_TOP:
            if (cli_parse_int(CMD, "--top", optarg, 1, 1000000, &top)) return CLI_EXIT_USAGE;
            break;
        case OPT_THREADS:
            if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case OPT_HELP: help(stdout); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!bpath || optind >= argc) {
        cli_error(CMD, "predict: --backbone B.safetensors and at least one VIDEO are required");
        return CLI_EXIT_USAGE;
    }
    /* vtag backbone predict ... >> B appends to an input */
    const cli_file ins[] = {{"--backbone", bpath}};
    int clash = cli_check_outputs(CMD, NULL, 0, ins, 1, 1);
    if (!clash) clash = cli_check_outputs_paths(CMD, NULL, 0, "video", (const char *const *)argv + optind, argc - optind, 1);
    if (clash) return clash;
    av_log_set_level(AV_LOG_QUIET);
    vtag_builtin m;
    vtag_builtin_infer inf;
    vtag_ctx ctx;
    if (vtag_builtin_load(&m, bpath, &err)) {
        cli_error(CMD, "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (vtag_ctx_init(&ctx, (int)threads, 1, &err) || vtag_builtin_infer_build(&inf, &m, &err)) {
        cli_error(CMD, "%s", err.msg);
        vtag_builtin_free(&m);
        return CLI_EXIT_FAIL;
    }
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        vtag_error e = {0};
        int rc = predict_video(&ctx, &m, &inf, argv[i], &smp, top, &e);
        if (rc < 0) {
            failed = 1;
            break;
        }
        if (rc) {
            failed = 1;
            json_t *o = json_pack("{s:s, s:s}", "video", argv[i], "error", e.msg);
            char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
            int out_failed = line && (cli_put_line(CMD, line) || cli_flush_stdout(CMD));
            free(line);
            json_decref(o);
            cli_error(CMD, "%s", e.msg);
            if (out_failed) break;
        }
    }
    vtag_builtin_infer_free(&inf);
    vtag_builtin_free(&m);
    vtag_ctx_free(&ctx);
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
    cli_error(CMD, "unknown subcommand '%s' (train or predict)", argv[1]);
    return CLI_EXIT_USAGE;
}

/* vtag eval: video tags (vtag tag output, one file per run) and the CNN
 * baseline against a labels file — a table on stdout, --json, and the HTML
 * report (--report). Definitions: docs/ARCHITECTURE.md ("eval"). The runs of
 * a pipeline folder (--from) are made by vtag_run_eval (vtag/run_eval.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/eval.h"
#include "vtag/run_eval.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag eval --labels L --tags [NAME=]T.jsonl [--tags [NAME=]T2.jsonl ...] [options]\n"
            "       vtag eval --labels L --from DIR [--model fc|att2in|topdown|video|all] [options]\n"
            "\n"
            "Scores video tags (vtag tag output) against the labels file's videos of one\n"
            "split: the video caption \"class1 class2 tags...\" by CIDEr-D and BLEU-1..4, the\n"
            "tags as a predicted label set (OP/OR/OF1, CP/CR/CF1), each video's top K labels\n"
            "by score (OF1@K...), GAP@20, class1 and class2 accuracy, the calibration of the\n"
            "label scores (ECE; how often labels scored >= 0.9 are right, as P@0.9 = fraction\n"
            "right/count); overall, for head and tail classes and per class1. Several runs\n"
            "(e.g. fc-xe=..., fc=...) are compared side by side; NAME defaults to the file\n"
            "name without its extension.\n"
            "\n"
            "  -l, --labels L         labels file (JSON Lines or CSV; required)\n"
            "  --tags [NAME=]FILE     tag output of one run (repeatable)\n"
            "  --from DIR             a vtag pipeline folder: each model's XE and SCST checkpoints\n"
            "                         (runs M-xe and M) tag the split's videos from the features the\n"
            "                         pipeline extracted; the built-in backbone's classifier is the\n"
            "                         baseline (written to DIR/baseline-<split>.jsonl); the training\n"
            "                         logs give the curves\n"
            "  -m, --model NAME       with --from: one model only (all)\n"
            "  --top-n N | --min-frames C   with --from: the tag rule (vtag tag's; top 10)\n"
            "  --min-score P          tags score at least P, for the runs and the baseline (0.25)\n"
            "  -j, --threads T        with --from: (number of cores)   -h, --help: this help\n"
            "  --baseline FILE        vtag backbone predict output: the CNN multi-label baseline\n"
            "  --baseline-top-n N     tags of the baseline: its N best labels (10)\n"
            "  --split S              train, val or test (test)\n"
            "  --df split|train       CIDEr-D document frequencies from the evaluated split's\n"
            "                         references (default) or the training split's\n"
            "  --keep-tag-order       references' tags in the labels' order, for models trained with\n"
            "                         vtag train --keep-tag-order (--from: as its pipeline.json says)\n"
            "  --k K                  top-K figures (3)        --gap-k K   GAP@K (20)\n"
            "  --high-score P         calibration: how often labels scored >= P are right (0.9)\n"
            "  --json                 print one JSON object instead of the tables\n"
            "  --per-video            also print every video's output next to its reference\n"
            "  --report FILE.html     write the HTML report (self-contained)\n"
            "  --train-log [NAME=]F   vtag train --log file: training curves in the report (repeatable)\n"
            "  --title T              the report's title\n"
            "  --sample-videos N      videos with sample frames in the report (6; 0: none)\n"
            "  --sample-frames N      frames per sample video (4)\n"
            "\n"
            "A video of the split that a run lacks, or has an error line for, counts as a\n"
            "video with no prediction and is listed on stderr. Exit codes: 0 done, 1 bad\n"
            "input or I/O error, 2 usage.\n");
}

static void note_captioning(void *user, const char *checkpoint, int64_t rows)
{
    (void)user;
    cli_note("eval", "captioning %lld rows with %s", (long long)rows, checkpoint);
}

enum { OPT_LABELS = 256, OPT_TAGS, OPT_BASELINE, OPT_BASE_N, OPT_SPLIT, OPT_DF, OPT_K, OPT_GAP_K, OPT_JSON, OPT_PER_VIDEO,
       OPT_REPORT, OPT_LOG, OPT_TITLE, OPT_SVIDEOS, OPT_SFRAMES, OPT_FROM, OPT_MODEL, OPT_TOPN, OPT_MINF, OPT_THREADS, OPT_HIGH, OPT_MINS, OPT_ORDER, OPT_HELP };

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {
        {"labels", required_argument, NULL, OPT_LABELS},     {"tags", required_argument, NULL, OPT_TAGS},
        {"baseline", required_argument, NULL, OPT_BASELINE}, {"baseline-top-n", required_argument, NULL, OPT_BASE_N},
        {"split", required_argument, NULL, OPT_SPLIT},       {"df", required_argument, NULL, OPT_DF},
        {"k", required_argument, NULL, OPT_K},               {"gap-k", required_argument, NULL, OPT_GAP_K},
        {"json", no_argument, NULL, OPT_JSON},               {"per-video", no_argument, NULL, OPT_PER_VIDEO},
        {"report", required_argument, NULL, OPT_REPORT},     {"train-log", required_argument, NULL, OPT_LOG},
        {"title", required_argument, NULL, OPT_TITLE},       {"sample-videos", required_argument, NULL, OPT_SVIDEOS},
        {"sample-frames", required_argument, NULL, OPT_SFRAMES}, {"help", no_argument, NULL, OPT_HELP},
        {"from", required_argument, NULL, OPT_FROM},         {"model", required_argument, NULL, OPT_MODEL},
        {"top-n", required_argument, NULL, OPT_TOPN},        {"min-frames", required_argument, NULL, OPT_MINF},
        {"threads", required_argument, NULL, OPT_THREADS},   {"high-score", required_argument, NULL, OPT_HIGH},
        {"min-score", required_argument, NULL, OPT_MINS},    {"keep-tag-order", no_argument, NULL, OPT_ORDER},
        {NULL, 0, NULL, 0}};
    /* the integer options: name and range */
    static const struct { const char *name; long min, max; } ints[OPT_HELP - OPT_LABELS + 1] = {
        [OPT_BASE_N - OPT_LABELS] = {"--baseline-top-n", 0, 1000000}, [OPT_K - OPT_LABELS] = {"--k", 1, 1000000},
        [OPT_GAP_K - OPT_LABELS] = {"--gap-k", 1, 1000000},           [OPT_TOPN - OPT_LABELS] = {"--top-n", 0, 1000000},
        [OPT_MINF - OPT_LABELS] = {"--min-frames", 0, 1000000},       [OPT_THREADS - OPT_LABELS] = {"--threads", 1, 1024},
        [OPT_SVIDEOS - OPT_LABELS] = {"--sample-videos", 0, 1000},    [OPT_SFRAMES - OPT_LABELS] = {"--sample-frames", 1, 64}};
    const char *labels_path = NULL, *baseline = NULL, *report = NULL, *from = NULL;
    const char *bad = NULL, *arg = NULL; /* a refusal: its message (a format) and the value it names */
    long threads = 0, base_n = VTAG_TAG_TOP_N_DEFAULT, v = 0;
    int json = 0, per_video = 0, n_tags = 0, n_logs = 0, have_rule = 0, status = CLI_EXIT_USAGE, c;
    char **names = calloc((size_t)argc + 1, sizeof *names); /* --tags from the front, --train-log from the back */
    const char **tag_paths = calloc((size_t)argc + 1, sizeof *tag_paths);
    vtag_eval_log *logs = calloc((size_t)argc + 1, sizeof *logs);
    vtag_eval_opts eo;
    vtag_eval_opts_default(&eo);
    vtag_eval_report_opts ro;
    vtag_eval_report_opts_default(&ro);
    vtag_run_eval_opts fo;
    vtag_run_eval_opts_defaults(&fo);
    fo.progress = note_captioning;
    if (!names || !tag_paths || !logs) {
        cli_error("eval", "out of memory");
        status = CLI_EXIT_FAIL;
        goto out;
    }
    optind = 0;
    while (!bad && (c = cli_getopt("eval", argc, argv, opts)) != -1) {
        const int i = c >= OPT_LABELS && c <= OPT_HELP ? c - OPT_LABELS : OPT_HELP - OPT_LABELS;
        if (ints[i].name && cli_parse_int("eval", ints[i].name, optarg, ints[i].min, ints[i].max, &v)) goto out;
        arg = optarg;
        switch (c) {
        case OPT_LABELS: labels_path = optarg; break;
        case OPT_TAGS: vtag_eval_parse_named(optarg, &names[n_tags], &tag_paths[n_tags]), n_tags++; break;
        case OPT_BASELINE: baseline = optarg; break;
        case OPT_BASE_N: base_n = v; break;
        case OPT_SPLIT:
            if (vtag_data_split_parse(optarg, &eo.split)) bad = "--split must be train, val or test, not \"%s\"";
            break;
        case OPT_DF:
            if (strcmp(optarg, "split") && strcmp(optarg, "train")) bad = "--df must be split or train";
            eo.df_train = strcmp(optarg, "train") == 0;
            break;
        case OPT_K: eo.top_k = v; break;
        case OPT_GAP_K: eo.gap_k = v; break;
        case OPT_HIGH: if (cli_parse_real("eval", "--high-score", optarg, 0, 1, CLI_CLOSED, &eo.high_score)) goto out; break;
        case OPT_MINS: if (cli_parse_real("eval", "--min-score", optarg, 0, 1, CLI_CLOSED, &fo.tag.min_score)) goto out; break;
        case OPT_JSON: json = 1; break;
        case OPT_ORDER: eo.keep_tag_order = 1; break;
        case OPT_PER_VIDEO: per_video = 1; break;
        case OPT_REPORT: report = optarg; break;
        case OPT_LOG:
            vtag_eval_parse_named(optarg, &names[argc - 1 - n_logs], &logs[n_logs].path);
            logs[n_logs].name = names[argc - 1 - n_logs], n_logs++;
            break;
        case OPT_TITLE: ro.title = optarg; break;
        case OPT_FROM: from = optarg; break;
        case OPT_MODEL: fo.model = optarg; break;
        case OPT_TOPN: fo.tag.rule = VTAG_TAG_RULE_TOP_N, fo.tag.top_n = v, have_rule++; break;
        case OPT_MINF: fo.tag.rule = VTAG_TAG_RULE_MIN_FRAMES, fo.tag.min_frames = v, have_rule++; break;
        case OPT_THREADS: threads = v; break;
        case OPT_SVIDEOS: ro.sample_videos = v; break;
        case OPT_SFRAMES: ro.sample_frames = v; break;
        case OPT_HELP:
            help(stdout);
            status = CLI_EXIT_OK;
            goto out;
        default: goto out; /* cli_getopt said why */
        }
    }
    /* refused combinations, the first one reported */
    const struct { int refused; const char *msg, *arg; } rules[] = {
        {optind < argc, "unexpected argument \"%s\"", argv[optind < argc ? optind : 0]},
        {have_rule > 1, "--top-n and --min-frames exclude each other", NULL},
        {(fo.model || have_rule || threads) && !from, "--model, --top-n, --min-frames and --threads go with --from", NULL},
        {from && (n_tags || baseline), "--from makes its own runs: no --tags or --baseline with it", NULL},
        {!labels_path || (n_tags == 0 && !baseline && !from),
         "--labels and at least one --tags or --baseline are required (vtag eval --help)", NULL}};
    for (size_t i = 0; !bad && i < sizeof rules / sizeof *rules; i++)
        if (rules[i].refused) bad = rules[i].msg, arg = rules[i].arg;
    if (bad) {
        cli_error("eval", bad, arg);
        goto out;
    }

    status = CLI_EXIT_FAIL;
    vtag_error err = {0};
    vtag_data_labels labels = {0};
    vtag_tag_results *res = calloc((size_t)n_tags + 1, sizeof *res); /* the tag files, then the baseline */
    vtag_eval_run *runs = calloc((size_t)n_tags + VTAG_RUN_EVAL_MAX + 1, sizeof *runs);
    vtag_eval e = {0};
    vtag_run_eval_result fr = {0};
    vtag_ctx ctx = {0};
    int n_runs = n_tags, rc = !res || !runs ? vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory") : VTAG_OK;
    if (!rc) rc = vtag_data_read_labels(&labels, labels_path, NULL, &err);
    if (!rc && from && !(rc = vtag_ctx_init(&ctx, (int)threads, 42, &err))) {
        fo.split = eo.split, fo.labels = &labels;
        rc = vtag_run_eval(&ctx, from, &fo, &fr, &err);
        eo.keep_tag_order |= fr.keep_tag_order; /* the references in the order the folder's models learnt */
        for (int i = 0; i < fr.n_runs; i++) runs[n_runs++] = (vtag_eval_run){fr.names[i], &fr.results[i], 0};
        if (!rc && fr.has_baseline) rc = vtag_eval_baseline_results(&res[n_tags], &fr.baseline, &labels, base_n, fo.tag.min_score, &err);
        baseline = fr.baseline_path; /* an input the report must not overwrite */
    }
    for (int i = 0; i < n_tags && !rc; i++) {
        rc = vtag_tag_read(&res[i], tag_paths[i], &err);
        runs[i] = (vtag_eval_run){names[i], &res[i], 0};
        for (int j = 0; j < i && !rc; j++)
            if (strcmp(names[i], names[j]) == 0)
                rc = vtag_fail(&err, VTAG_ERR_ARG, "two runs are named \"%s\" (use --tags NAME=FILE)", names[i]);
    }
    if (!rc && baseline && !from) rc = vtag_eval_read_baseline(&res[n_tags], baseline, &labels, base_n, fo.tag.min_score, &err);
    if (!rc && (baseline || fr.has_baseline)) runs[n_runs++] = (vtag_eval_run){"baseline", &res[n_tags], 1};
    const vtag_eval_log *lg = from && !n_logs ? fr.logs : logs; /* --train-log, else the folder's */
    const int n_lg = from && !n_logs ? fr.n_logs : n_logs;
    /* The report, or stdout (vtag eval ... >> L), on an input would destroy it: the labels, tag files,
     * baseline, training logs and the videos the report takes frames from. */
    const cli_file outs[] = {{"--report", report}}, ins[] = {{"--labels", labels_path}, {"--baseline", baseline}};
    int clash = rc ? CLI_EXIT_OK : cli_check_outputs("eval", outs, 1, ins, 2, 1);
    if (!rc && !clash) clash = cli_check_outputs_paths("eval", outs, 1, "--tags", tag_paths, n_tags, 1);
    for (int i = 0; i < n_lg && !rc && !clash; i++)
        clash = cli_check_outputs("eval", outs, 1, &(cli_file){"--train-log", lg[i].path}, 1, 1);
    if (!rc && !clash) clash = cli_check_outputs_videos("eval", outs, 1, &labels, 1);
    if (clash) rc = clash; /* reported */
    tag_paths[n_tags] = baseline, eo.sources = from ? NULL : tag_paths; /* the files, for messages */
    if (!rc) rc = vtag_eval_compute(&e, &labels, runs, n_runs, &eo, &err);
    char line[1536], *s = NULL;
    for (int r = 0; !rc && r < e.n_runs; r++)
        if (vtag_eval_gaps(&e, r, line, sizeof line)) cli_note("eval", "%s", line); /* escaped: the labels file's names */
    int put = 0; /* a failed write of the JSON: said (with its errno) by cli_put_line */
    if (!rc && json && !(rc = vtag_eval_to_json(&e, &s, &err))) put = cli_put_line("eval", s);
    if (!rc && !json) vtag_eval_write_tables(stdout, &e, labels_path, per_video);
    free(s);
    if (!rc && report) {
        ro.logs = lg, ro.n_logs = n_lg;
        if (!(rc = vtag_eval_write_report(&e, report, &ro, &err))) cli_note("eval", "report written to %s", report);
    }
    if (clash) status = clash;
    else if (rc) cli_error("eval", "%s", err.msg);
    else if (!put && !cli_flush_stdout("eval")) status = CLI_EXIT_OK;
    vtag_eval_free(&e);
    for (int i = 0; i <= n_tags && res; i++) vtag_tag_results_free(&res[i]);
    free(res);
    free(runs);
    vtag_data_free_labels(&labels);
    vtag_run_eval_result_free(&fr);
    vtag_ctx_free(&ctx);
out:
    for (int i = 0; names && i < argc; i++) free(names[i]);
    free(names);
    free(tag_paths);
    free(logs);
    return status;
}

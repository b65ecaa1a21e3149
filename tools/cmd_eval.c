/* vtag eval: video tags (vtag tag output, one file per run) and the CNN
 * baseline against a labels file — a table on stdout, --json, and the HTML
 * report (--report). Definitions: docs/ARCHITECTURE.md ("eval"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval_from.h"
#include "vtag/eval.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag eval --labels L --tags [NAME=]T.jsonl [--tags [NAME=]T2.jsonl ...] [options]\n"
            "       vtag eval --labels L --from DIR [--model fc|att2in|topdown|all] [options]\n"
            "\n"
            "Scores video tags (vtag tag output) against the labels file's videos of one\n"
            "split: the video caption \"class1 class2 tags...\" by CIDEr-D and BLEU-1..4, the\n"
            "tags as a predicted label set (OP/OR/OF1, CP/CR/CF1), each video's top K labels\n"
            "by score (OF1@K...), GAP@20, class1 and class2 accuracy; overall, for head and\n"
            "tail classes and per class1. Several runs (e.g. fc-xe=..., fc=...) are compared\n"
            "side by side; NAME defaults to the file name without its extension.\n"
            "\n"
            "  --labels L             labels file (JSON Lines or CSV; required)\n"
            "  --tags [NAME=]FILE     tag output of one run (repeatable)\n"
            "  --from DIR             a vtag pipeline folder: each model's XE and SCST checkpoints\n"
            "                         (runs M-xe and M) tag the split's videos from the features the\n"
            "                         pipeline extracted; the built-in backbone's classifier is the\n"
            "                         baseline (written to DIR/baseline-<split>.jsonl); the training\n"
            "                         logs give the curves\n"
            "  --model NAME           with --from: one model only (all)\n"
            "  --top-n N | --min-frames C   with --from: the tag rule (vtag tag's; top 5)\n"
            "  --threads T            with --from: (number of cores)\n"
            "  --baseline FILE        vtag backbone predict output: the CNN multi-label baseline\n"
            "  --baseline-top-n N     tags of the baseline: its N best labels (5)\n"
            "  --split S              train, val or test (test)\n"
            "  --df split|train       CIDEr-D document frequencies from the evaluated split's\n"
            "                         references (default) or the training split's\n"
            "  --k K                  top-K figures (3)        --gap-k K   GAP@K (20)\n"
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

/* "NAME=FILE" or "FILE" (name: the file name without its folder and its
 * extensions .jsonl, .json, .ndjson, .log: "fc.log.jsonl" → "fc"). */
static void split_named(const char *arg, char **name, const char **path)
{
    const char *eq = strchr(arg, '=');
    if (eq && eq != arg) {
        *name = strndup(arg, (size_t)(eq - arg));
        *path = eq + 1;
        return;
    }
    *path = arg;
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    size_t len = strlen(base);
    static const char *const ext[] = {".jsonl", ".json", ".ndjson", ".log"};
    for (int again = 1; again;) {
        again = 0;
        for (int i = 0; i < 4; i++) {
            size_t n = strlen(ext[i]);
            if (len > n && strncmp(base + len - n, ext[i], n) == 0) {
                len -= n;
                again = 1;
            }
        }
    }
    *name = strndup(base, len);
}

/* Terminal columns of a UTF-8 string: East Asian wide characters count 2. */
static int display_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp = *p;
        int n = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
        if (n > 1) {
            cp &= 0xFF >> (n + 1);
            for (int i = 1; i < n && p[i]; i++) cp = cp << 6 | (p[i] & 0x3F);
        }
        for (int i = 0; i < n && *p; i++) p++;
        int wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                   (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                   (cp >= 0xFFE0 && cp <= 0xFFE6) || cp >= 0x20000;
        w += wide ? 2 : 1;
    }
    return w;
}

static void cell(const char *s, int width)
{
    fputs(s, stdout);
    for (int w = display_width(s); w < width; w++) putchar(' ');
}

static int name_width(const vtag_eval *e, int min)
{
    int w = min;
    for (int r = 0; r < e->n_runs; r++)
        if (display_width(e->runs[r].name) > w) w = display_width(e->runs[r].name);
    return w;
}

static void print_scores_row(const char *name, int w, const vtag_eval_scores *s)
{
    cell(name, w);
    printf("  %7.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f  %6.3f %6.3f  %5lld %5lld\n", s->cider_d,
           s->bleu[3], s->tags.overall_p, s->tags.overall_r, s->tags.overall_f1, s->tags.class_p, s->tags.class_r,
           s->tags.class_f1, s->top_k.overall_f1, s->gap, s->class1_acc, s->class2_acc, (long long)s->missing,
           (long long)s->failed);
}

static void print_tables(const vtag_eval *e, const char *labels_path, int per_video)
{
    int w = name_width(e, 10);
    printf("%lld %s videos of %s; CIDEr-D document frequencies from the %s references\n\n", (long long)e->n_videos,
           vtag_data_split_name(e->opts.split), labels_path,
           e->opts.df_train ? "training" : vtag_data_split_name(e->opts.split));
    cell("run", w);
    printf("  %7s %6s  %6s %6s %6s  %6s %6s %6s  %6s %6s  %6s %6s  %5s %5s\n", "CIDEr-D", "BLEU-4", "OP", "OR", "OF1", "CP",
           "CR", "CF1", "OF1@k", "GAP", "class1", "class2", "miss", "fail");
    for (int r = 0; r < e->n_runs; r++) print_scores_row(e->runs[r].name, w, &e->overall[r]);
    printf("(k = %lld; GAP@%lld; class1/class2 = accuracy)\n\n", (long long)e->opts.top_k, (long long)e->opts.gap_k);

    /* by class1: OF1 and the two accuracies per run */
    int cw = 12;
    for (int64_t k = 0; k < e->n_classes; k++)
        if (display_width(e->classes[k].class1) > cw) cw = display_width(e->classes[k].class1);
    cell("class1", cw);
    printf("  %4s %5s %5s", "", "train", e->opts.split == VTAG_DATA_SPLIT_TEST ? "test" : "eval");
    for (int r = 0; r < e->n_runs; r++) {
        printf("  | ");
        cell(e->runs[r].name, 20);
    }
    printf("\n");
    cell("", cw);
    printf("  %4s %5s %5s", "", "", "");
    for (int r = 0; r < e->n_runs; r++) printf("  | %6s %6s %6s ", "OF1", "class1", "class2");
    printf("\n");
    for (int64_t k = 0; k <= e->n_classes + 1; k++) {
        const char *name;
        const vtag_eval_scores *s;
        int64_t train = 0, n;
        const char *mark = "";
        if (k < e->n_classes) {
            name = e->classes[k].class1;
            s = e->classes[k].scores;
            train = e->classes[k].train_videos;
            n = e->classes[k].videos;
            mark = e->classes[k].head ? "head" : "tail";
        } else {
            if (k == e->n_classes) printf("\n");
            name = k == e->n_classes ? "(head)" : "(tail)";
            s = k == e->n_classes ? e->head : e->tail;
            n = s[0].videos;
            for (int64_t j = 0; j < e->n_classes; j++)
                if (e->classes[j].head == (k == e->n_classes)) train += e->classes[j].train_videos;
        }
        cell(name, cw);
        printf("  %4s %5lld %5lld", mark, (long long)train, (long long)n);
        for (int r = 0; r < e->n_runs; r++)
            printf("  | %6.3f %6.3f %6.3f ", s[r].tags.overall_f1, s[r].class1_acc, s[r].class2_acc);
        printf("\n");
    }
    if (!per_video) return;
    printf("\n");
    for (int64_t v = 0; v < e->n_videos; v++) {
        const vtag_eval_video *ev = &e->videos[v];
        printf("%s\n  ", ev->ref->video);
        cell("reference", w);
        printf("  %s / %s /", ev->ref->class1, ev->ref->class2);
        for (int64_t t = 0; t < ev->ref->n_tags; t++) printf(" %s", ev->ref->tags[t]);
        printf("\n");
        for (int r = 0; r < e->n_runs; r++) {
            const vtag_tag_result *p = ev->pred[r];
            printf("  ");
            cell(e->runs[r].name, w);
            if (!p) {
                printf("  (missing)\n");
                continue;
            }
            if (p->error) {
                printf("  (error: %s)\n", p->error);
                continue;
            }
            printf("  %s / %s /", p->class1 ? p->class1 : "-", p->class2 ? p->class2 : "-");
            for (int64_t t = 0; t < p->n_tags; t++) printf(" %s", p->tags[t].label);
            printf("   CIDEr-D %.3f\n", ev->cider_d[r]);
        }
    }
}

/* Lists, on stderr, the videos a run lacks or failed on (the first few). */
static void report_gaps(const vtag_eval *e)
{
    for (int r = 0; r < e->n_runs; r++) {
        const vtag_eval_scores *s = &e->overall[r];
        if (!s->missing && !s->failed) continue;
        char line[1536];
        size_t n = (size_t)snprintf(line, sizeof line, "%s: %lld of %lld videos missing, %lld failed:", e->runs[r].name,
                                    (long long)s->missing, (long long)s->videos, (long long)s->failed);
        int shown = 0;
        for (int64_t v = 0; v < e->n_videos && shown < 5 && n < sizeof line; v++) {
            const vtag_tag_result *p = e->videos[v].pred[r];
            if (p && !p->error) continue;
            n += (size_t)snprintf(line + n, sizeof line - n, "%s %s (%s)", shown ? "," : "", e->videos[v].ref->video,
                                  p ? "error" : "missing");
            shown++;
        }
        int64_t more = s->missing + s->failed - shown;
        if (more > 0 && n < sizeof line) snprintf(line + n, sizeof line - n, " and %lld more", (long long)more);
        cli_note("eval", "%s", line); /* escaped: the names come from the labels file */
    }
}

/* --report and stdout against every input: the labels, tag files, baseline,
 * training logs and the videos the report takes frames from. */
static int check_files(const char *report, const char *labels_path, const char *const *tag_paths, int n_tags,
                       const char *baseline, const vtag_eval_log *logs, int n_logs, const vtag_data_labels *labels)
{
    const cli_file outs[] = {{"--report", report}}, ins[] = {{"--labels", labels_path}, {"--baseline", baseline}};
    int rc = cli_check_outputs("eval", outs, 1, ins, 2, 1);
    if (!rc) rc = cli_check_outputs_paths("eval", outs, 1, "--tags", tag_paths, n_tags, 1);
    for (int i = 0; i < n_logs && !rc; i++) {
        const cli_file log = {"--train-log", logs[i].path};
        rc = cli_check_outputs("eval", outs, 1, &log, 1, 1);
    }
    if (!rc) rc = cli_check_outputs_videos("eval", outs, 1, labels, 1);
    return rc;
}

enum { OPT_LABELS = 256, OPT_TAGS, OPT_BASELINE, OPT_BASE_N, OPT_SPLIT, OPT_DF, OPT_K, OPT_GAP_K, OPT_JSON, OPT_PER_VIDEO,
       OPT_REPORT, OPT_LOG, OPT_TITLE, OPT_SVIDEOS, OPT_SFRAMES, OPT_FROM, OPT_MODEL, OPT_TOPN, OPT_MINF, OPT_THREADS, OPT_HELP };

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
        {"threads", required_argument, NULL, OPT_THREADS},
        {NULL, 0, NULL, 0}};
    const char *labels_path = NULL, *baseline = NULL, *report = NULL, *from = NULL, *model = NULL;
    vtag_tag_opts topt;
    vtag_tag_opts_default(&topt);
    long threads = 0;
    int have_rule = 0;
    int json = 0, per_video = 0, n_tags = 0, n_logs = 0;
    long base_n = 5, v;
    char **tag_names = calloc((size_t)argc + 1, sizeof *tag_names), **log_names = calloc((size_t)argc + 1, sizeof *log_names);
    const char **tag_paths = calloc((size_t)argc + 1, sizeof *tag_paths);
    vtag_eval_log *logs = calloc((size_t)argc + 1, sizeof *logs);
    vtag_eval_opts eo;
    vtag_eval_opts_default(&eo);
    vtag_eval_report_opts ro;
    vtag_eval_report_opts_default(&ro);
    int status = CLI_EXIT_USAGE, c;
    if (!tag_names || !log_names || !tag_paths || !logs) {
        cli_error("eval", "out of memory");
        status = CLI_EXIT_FAIL;
        goto out;
    }
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_LABELS: labels_path = optarg; break;
        case OPT_TAGS:
            split_named(optarg, &tag_names[n_tags], &tag_paths[n_tags]);
            n_tags++;
            break;
        case OPT_BASELINE: baseline = optarg; break;
        case OPT_BASE_N:
            if (cli_parse_int("eval", "--baseline-top-n", optarg, 0, 1000000, &base_n)) goto out;
            break;
        case OPT_SPLIT:
            if (vtag_data_split_parse(optarg, &eo.split)) {
                cli_error("eval", "--split must be train, val or test, not \"%s\"", optarg);
                goto out;
            }
            break;
        case OPT_DF:
            if (strcmp(optarg, "split") && strcmp(optarg, "train")) {
                cli_error("eval", "--df must be split or train");
                goto out;
            }
            eo.df_train = strcmp(optarg, "train") == 0;
            break;
        case OPT_K:
            if (cli_parse_int("eval", "--k", optarg, 1, 1000000, &v)) goto out;
            eo.top_k = v;
            break;
        case OPT_GAP_K:
            if (cli_parse_int("eval", "--gap-k", optarg, 1, 1000000, &v)) goto out;
            eo.gap_k = v;
            break;
        case OPT_JSON: json = 1; break;
        case OPT_PER_VIDEO: per_video = 1; break;
        case OPT_REPORT: report = optarg; break;
        case OPT_LOG:
            split_named(optarg, &log_names[n_logs], &logs[n_logs].path);
            logs[n_logs].name = log_names[n_logs];
            n_logs++;
            break;
        case OPT_TITLE: ro.title = optarg; break;
        case OPT_FROM: from = optarg; break;
        case OPT_MODEL: model = optarg; break;
        case OPT_TOPN:
            if (cli_parse_int("eval", "--top-n", optarg, 0, 1000000, &v)) goto out;
            topt.rule = VTAG_TAG_RULE_TOP_N, topt.top_n = v, have_rule++;
            break;
        case OPT_MINF:
            if (cli_parse_int("eval", "--min-frames", optarg, 0, 1000000, &v)) goto out;
            topt.rule = VTAG_TAG_RULE_MIN_FRAMES, topt.min_frames = v, have_rule++;
            break;
        case OPT_THREADS:
            if (cli_parse_int("eval", "--threads", optarg, 1, 1024, &threads)) goto out;
            break;
        case OPT_SVIDEOS:
            if (cli_parse_int("eval", "--sample-videos", optarg, 0, 1000, &v)) goto out;
            ro.sample_videos = v;
            break;
        case OPT_SFRAMES:
            if (cli_parse_int("eval", "--sample-frames", optarg, 1, 64, &v)) goto out;
            ro.sample_frames = v;
            break;
        case OPT_HELP:
            help(stdout);
            status = CLI_EXIT_OK;
            goto out;
        default:
            cli_error("eval", "unknown option or missing value: %s (vtag eval --help)", argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        cli_error("eval", "unexpected argument \"%s\"", argv[optind]);
        goto out;
    }
    if (have_rule > 1) {
        cli_error("eval", "--top-n and --min-frames exclude each other");
        goto out;
    }
    if ((model || have_rule || threads) && !from) {
        cli_error("eval", "--model, --top-n, --min-frames and --threads go with --from");
        goto out;
    }
    if (from && (n_tags || baseline)) {
        cli_error("eval", "--from makes its own runs: no --tags or --baseline with it");
        goto out;
    }
    if (!labels_path || (n_tags == 0 && !baseline && !from)) {
        cli_error("eval", "--labels and at least one --tags or --baseline are required (vtag eval --help)");
        goto out;
    }

    status = CLI_EXIT_FAIL;
    vtag_error err = {0};
    vtag_data_labels labels = {0};
    vtag_tag_results *res = calloc((size_t)n_tags + 1, sizeof *res);
    vtag_eval_run *runs = calloc((size_t)n_tags + 1, sizeof *runs);
    vtag_eval e = {0};
    eval_from ef = {0};
    vtag_ctx ctx;
    int have_ctx = 0;
    int rc = !res || !runs ? vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory") : VTAG_OK;
    if (!rc) rc = vtag_data_read_labels(&labels, labels_path, NULL, &err);
    int n_runs = n_tags;
    if (!rc && from) {
        rc = vtag_ctx_init(&ctx, (int)threads, 42, &err);
        have_ctx = !rc;
        if (!rc) rc = eval_from_dir(&ef, &ctx, from, model, eo.split, &topt, &err);
        if (!rc) {
            free(runs);
            runs = calloc((size_t)ef.n_runs + 1, sizeof *runs);
            if (!runs) rc = vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; !rc && i < ef.n_runs; i++) runs[n_runs++] = (vtag_eval_run){ef.names[i], &ef.results[i], 0};
        baseline = ef.baseline;
        if (!rc && n_logs == 0) {
            for (int i = 0; i < ef.n_logs; i++) logs[i] = ef.logs[i];
            n_logs = ef.n_logs;
        }
    }
    for (int i = 0; i < n_tags && !rc; i++) {
        rc = vtag_tag_read(&res[i], tag_paths[i], &err);
        runs[i] = (vtag_eval_run){tag_names[i], &res[i], 0};
        for (int j = 0; j < i && !rc; j++)
            if (strcmp(tag_names[i], tag_names[j]) == 0)
                rc = vtag_fail(&err, VTAG_ERR_ARG, "two runs are named \"%s\" (use --tags NAME=FILE)", tag_names[i]);
    }
    if (!rc && baseline) {
        rc = vtag_eval_read_baseline(&res[n_tags], baseline, &labels, base_n, &err);
        runs[n_runs++] = (vtag_eval_run){"baseline", &res[n_tags], 1};
    }
    /* The report, or stdout (vtag eval ... >> L), on an input would destroy it. */
    int clash = rc ? CLI_EXIT_OK : check_files(report, labels_path, tag_paths, n_tags, baseline, logs, n_logs, &labels);
    if (clash) rc = clash; /* reported */
    if (!rc) rc = vtag_eval_compute(&e, &labels, runs, n_runs, &eo, &err);
    if (!rc) {
        report_gaps(&e);
        if (json) {
            char *s = NULL;
            rc = vtag_eval_to_json(&e, &s, &err);
            if (!rc) printf("%s\n", s);
            free(s);
        } else {
            print_tables(&e, labels_path, per_video);
        }
    }
    if (!rc && report) {
        ro.logs = logs;
        ro.n_logs = n_logs;
        rc = vtag_eval_write_report(&e, report, &ro, &err);
        if (!rc) cli_note("eval", "report written to %s", report);
    }
    if (clash) status = clash;
    else if (rc) cli_error("eval", "%s", err.msg);
    else if (!cli_flush_stdout("eval")) status = CLI_EXIT_OK;
    vtag_eval_free(&e);
    for (int i = 0; i <= n_tags && res; i++) vtag_tag_results_free(&res[i]);
    free(res);
    free(runs);
    vtag_data_free_labels(&labels);
    if (from) {
        eval_from_free(&ef);
    }
    if (have_ctx) vtag_ctx_free(&ctx);
out:
    for (int i = 0; i < n_tags; i++) free(tag_names[i]);
    for (int i = 0; i < n_logs; i++) free(log_names[i]);
    free(tag_names);
    free(log_names);
    free(tag_paths);
    free(logs);
    return status;
}

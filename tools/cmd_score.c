/* vtag score: CIDEr-D and BLEU of captions, or multi-label scores, from a
 * JSON Lines file; prints one JSON object (docs/FORMATS.md "Score"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/metrics.h"
#include "vtag/output.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag score --in FILE.jsonl [--df-from FILE2.jsonl] [--per-item]\n"
            "       vtag score --multilabel --in FILE.jsonl [--k K] [--threshold X]\n"
            "       vtag score -h, --help\n"
            "\n"
            "Captions: each line {\"id\": ..., \"cand\": \"tok tok ...\", \"refs\": [\"tok tok ...\", ...]}\n"
            "(tokens separated by ASCII whitespace, or given as an array of token strings).\n"
            "Prints {\"n\", \"CIDEr-D\", \"BLEU-1\", ..., \"BLEU-4\"} as coco-caption computes them;\n"
            "CIDEr-D document frequencies come from the file's own references, or from\n"
            "the \"refs\" of FILE2 with --df-from. --per-item adds \"per_item\": the CIDEr-D of\n"
            "each line, in input order.\n"
            "  -o, --output FILE  the result to FILE (written as FILE.partial, then renamed)\n"
            "  --format F      jsonl (default), or csv with --per-item: one row per line, item,CIDEr-D\n"
            "                  (item: the line's 0-based position among the scored lines)\n"
            "\n"
            "Multi-label: each line {\"id\": ..., \"pred\": [[label, score], ...], \"true\": [label, ...]}.\n"
            "Prints OP, OR, OF1, CP, CR, CF1 at score >= X (default 0.5), the same for each\n"
            "item's top K (keys \"OP@k\", ...), mAP, GAP@k and Hit@1; K defaults to 20.\n"
            "\n"
            "A bad line is reported as FILE:LINE: message, with exit code 1.\n");
}

/* The result to stdout or --output's FILE (through FILE.partial): the JSON
 * object as one line, or with --format csv one row per item (item,CIDEr-D).
 * json is the object's text from a memory stream (NULL: out of memory). */
static int emit(const vtag_output_opts *oo, const char *json, const double *items, int64_t n)
{
    vtag_output *out = NULL;
    vtag_error err = {0}, cerr = {0};
    int rc = json ? vtag_output_open(&out, oo, &err) : vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
    if (!rc && oo->format == VTAG_OUTPUT_JSONL) rc = vtag_output_write(out, json, &err);
    for (int64_t i = 0; !rc && oo->format == VTAG_OUTPUT_CSV && i < n; i++) {
        char item[32], cider[40];
        snprintf(item, sizeof item, "%lld", (long long)i);
        snprintf(cider, sizeof cider, "%.17g", items[i]); /* as in "per_item" */
        rc = vtag_output_write_row(out, (const char *const[]){item, cider}, 2, &err);
    }
    if (vtag_output_close(&out, !rc, &cerr) && !rc) rc = -1, err = cerr;
    if (rc) cli_error("score", "%s", err.msg);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static void print_num(FILE *f, const char *key, double v, int last)
{
    fprintf(f, "\"%s\": %.17g%s", key, v, last ? "" : ", ");
}

static int score_captions(const char *in, const char *df_from, int per_item, const vtag_output_opts *oo)
{
    int status = CLI_EXIT_FAIL;
    vtag_metrics_vocab vocab;
    vtag_metrics_vocab_init(&vocab);
    vtag_metrics_captions caps = {0}, dfc = {0};
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    vtag_error err = {0};
    double *items = NULL;
    int rc = vtag_metrics_read_captions(in, 1, &vocab, &caps, &err);
    if (!rc && df_from) rc = vtag_metrics_read_captions(df_from, 0, &vocab, &dfc, &err);
    const vtag_metrics_captions *src = df_from ? &dfc : &caps;
    for (int64_t i = 0; !rc && i < src->n_items; i++)
        rc = vtag_metrics_df_add(&df, src->items[i].refs, src->items[i].n_refs, &err);
    if (!rc) rc = vtag_metrics_df_finish(&df, &err);
    vtag_metrics_caption_scores sc;
    if (!rc) {
        items = malloc((size_t)caps.n_items * sizeof *items);
        if (!items) rc = vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
    }
    if (!rc) rc = vtag_metrics_score_captions(&df, caps.items, caps.n_items, items, &sc, &err);
    if (rc) {
        cli_error("score", "%s", err.msg);
    } else {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            fprintf(f, "{\"n\": %lld, ", (long long)sc.n);
            print_num(f, "CIDEr-D", sc.cider_d, 0);
            print_num(f, "BLEU-1", sc.bleu[0], 0);
            print_num(f, "BLEU-2", sc.bleu[1], 0);
            print_num(f, "BLEU-3", sc.bleu[2], 0);
            print_num(f, "BLEU-4", sc.bleu[3], !per_item);
            if (per_item) {
                fprintf(f, "\"per_item\": [");
                for (int64_t i = 0; i < sc.n; i++) fprintf(f, "%s%.17g", i ? ", " : "", items[i]);
                fprintf(f, "]");
            }
            fprintf(f, "}");
        }
        status = emit(oo, f && fclose(f) == 0 ? text : NULL, items, sc.n);
        free(text);
    }
    free(items);
    vtag_metrics_df_free(&df);
    vtag_metrics_captions_free(&dfc);
    vtag_metrics_captions_free(&caps);
    vtag_metrics_vocab_free(&vocab);
    return status;
}

static int score_multilabel(const char *in, long k, double threshold, const vtag_output_opts *oo)
{
    int status = CLI_EXIT_FAIL;
    vtag_metrics_vocab vocab;
    vtag_metrics_vocab_init(&vocab);
    vtag_metrics_ml_set set = {0};
    vtag_error err = {0};
    vtag_metrics_prf at_t, at_k;
    double map = 0, gap = 0, hit1 = 0;
    int rc = vtag_metrics_read_multilabel(in, &vocab, &set, &err);
    int32_t L = vocab.count;
    if (!rc) rc = vtag_metrics_ml_prf_threshold(set.items, set.n_items, L, threshold, &at_t, &err);
    if (!rc) rc = vtag_metrics_ml_prf_top_k(set.items, set.n_items, L, k, &at_k, &err);
    if (!rc) rc = vtag_metrics_ml_map(set.items, set.n_items, L, &map, &err);
    if (!rc) rc = vtag_metrics_ml_gap(set.items, set.n_items, L, k, &gap, &err);
    if (!rc) rc = vtag_metrics_ml_hit(set.items, set.n_items, L, 1, &hit1, &err);
    if (rc) {
        cli_error("score", "%s", err.msg);
    } else {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f) {
            fprintf(f, "{\"n\": %lld, \"labels\": %d, \"threshold\": %.17g, \"k\": %ld, ", (long long)set.n_items,
                    (int)L, threshold, k);
            print_num(f, "OP", at_t.overall_p, 0);
            print_num(f, "OR", at_t.overall_r, 0);
            print_num(f, "OF1", at_t.overall_f1, 0);
            print_num(f, "CP", at_t.class_p, 0);
            print_num(f, "CR", at_t.class_r, 0);
            print_num(f, "CF1", at_t.class_f1, 0);
            print_num(f, "OP@k", at_k.overall_p, 0);
            print_num(f, "OR@k", at_k.overall_r, 0);
            print_num(f, "OF1@k", at_k.overall_f1, 0);
            print_num(f, "CP@k", at_k.class_p, 0);
            print_num(f, "CR@k", at_k.class_r, 0);
            print_num(f, "CF1@k", at_k.class_f1, 0);
            print_num(f, "mAP", map, 0);
            print_num(f, "GAP@k", gap, 0);
            print_num(f, "Hit@1", hit1, 1);
            fprintf(f, "}");
        }
        status = emit(oo, f && fclose(f) == 0 ? text : NULL, NULL, 0);
        free(text);
    }
    vtag_metrics_ml_set_free(&set);
    vtag_metrics_vocab_free(&vocab);
    return status;
}

int cmd_score(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    const char *in = NULL, *df_from = NULL;
    int per_item = 0, multilabel = 0, have_k = 0, have_t = 0;
    long k = 20;
    double threshold = 0.5;
    static const struct option opts[] = {
        {"in", required_argument, 0, 'i'},        {"df-from", required_argument, 0, 'd'},
        {"k", required_argument, 0, 'k'},         {"threshold", required_argument, 0, 't'},
        {"per-item", no_argument, 0, 'p'},        {"multilabel", no_argument, 0, 'M'},
        {"output", required_argument, 0, 'o'},    {"format", required_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    static const vtag_output_column items[] = {{"item", "item", NULL, 0}, {"CIDEr-D", "CIDEr-D", NULL, 0}};
    vtag_output_opts oo;
    vtag_output_opts_defaults(&oo);
    oo.stream = stdout, oo.columns = items, oo.n_columns = 2, oo.key = "item";
    vtag_error err = {0};
    optind = 0;
    for (int c; (c = cli_getopt("score", argc, argv, opts)) != -1;) {
        if (c == '?') return CLI_EXIT_USAGE;
        if (c == 'i') in = optarg;
        else if (c == 'd') df_from = optarg;
        else if (c == 'k') {
            if (cli_parse_int("score", "--k", optarg, 1, 1000000000L, &k)) return CLI_EXIT_USAGE;
            have_k = 1;
        } else if (c == 't') {
            if (cli_parse_float("score", "--threshold", optarg, &threshold)) return CLI_EXIT_USAGE;
            have_t = 1;
        } else if (c == 'p') per_item = 1;
        else if (c == 'M') multilabel = 1;
        else if (c == 'o') oo.path = optarg;
        else if (c == 'F' && vtag_output_format_parse(optarg, &oo.format, &err)) {
            cli_error("score", "%s", err.msg);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("score", "unexpected argument '%s' (vtag score --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!in) {
        cli_error("score", "--in FILE.jsonl is required (vtag score --help)");
        return CLI_EXIT_USAGE;
    }
    if (multilabel && (df_from || per_item)) {
        cli_error("score", "--df-from and --per-item are for captions, not --multilabel");
        return CLI_EXIT_USAGE;
    }
    if (oo.format == VTAG_OUTPUT_CSV && !per_item) {
        cli_error("score", "--format csv writes the rows of --per-item (item,CIDEr-D): give --per-item");
        return CLI_EXIT_USAGE;
    }
    if (!multilabel && (have_k || have_t)) {
        cli_error("score", "--k and --threshold need --multilabel");
        return CLI_EXIT_USAGE;
    }
    const cli_file ins[] = {{"--in", in}, {"--df-from", df_from}};
    const cli_file outs[] = {{"--output", oo.path}};
    int clash = cli_check_outputs("score", outs, 1, ins, 2, !oo.path); /* vtag score --in X >> X */
    if (clash) return clash;
    return multilabel ? score_multilabel(in, k, threshold, &oo) : score_captions(in, df_from, per_item, &oo);
}

/* vtag onnx-info: what an ONNX model holds and what vtag would tap from it —
 * inputs, outputs, op counts, the default fc/att taps with their shapes and
 * what the execution plan folds and fuses; --values lists every value a
 * --fc-node / --att-node may name, with its shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/onnx.h"

static void help(FILE *out)
{
    fprintf(out, "usage: vtag onnx-info MODEL.onnx [--size S] [--batch N] [--fc-node NAME] [--att-node NAME]\n"
                 "                      [--values] [-j, --threads T] [-h, --help]\n"
                 "\n"
                 "Prints the model's inputs and outputs, how many nodes of each operator it has, the\n"
                 "feature taps vtag uses (default: fc = the last GlobalAveragePool's output, att = its\n"
                 "input [N, C, H, W] read as [N, H*W, C]) with their shapes for an N x 3 x S x S input\n"
                 "(defaults N = 1, S = 224 or the model's own), and what the execution plan does.\n"
                 "--values lists every value with its shape (the names --fc-node/--att-node take).\n");
}

/* A name from the model, printed escaped (control bytes, invalid UTF-8): a
 * model's names must not drive the terminal. */
static const char *shown(char *buf, size_t cap, const char *name)
{
    vtag_text_escape(buf, cap, name ? name : "");
    return buf;
}

static void print_shape(const vtag_onnx_tensor *t)
{
    printf("%s [", vtag_onnx_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0) printf("%s?", d ? ", " : "");
        else printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
    }
    printf("]");
}

int cmd_onnx_info(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    const char *path = NULL, *fc_node = NULL, *att_node = NULL;
    long size = 0, batch = 1, threads = 1;
    int values = 0;
    static const struct option opts[] = {
        {"size", required_argument, 0, 's'},    {"batch", required_argument, 0, 'n'},
        {"threads", required_argument, 0, 'j'}, {"fc-node", required_argument, 0, 'f'},
        {"att-node", required_argument, 0, 'a'}, {"values", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    optind = 0;
    for (int c; (c = cli_getopt("onnx-info", argc, argv, opts)) != -1;) {
        const char *o = c == 'j' ? "--threads" : c == 's' ? "--size" : "--batch";
        if (c == '?') return CLI_EXIT_USAGE;
        if (c == 's' && cli_parse_int("onnx-info", o, optarg, 1, 100000, &size)) return CLI_EXIT_USAGE;
        if (c == 'n' && cli_parse_int("onnx-info", o, optarg, 1, 100000, &batch)) return CLI_EXIT_USAGE;
        if (c == 'j' && cli_parse_int("onnx-info", o, optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
        if (c == 'f') fc_node = optarg;
        if (c == 'a') att_node = optarg;
        if (c == 'V') values = 1;
    }
    if (optind + 1 < argc) {
        cli_error("onnx-info", "unexpected argument '%s' (vtag onnx-info --help)", argv[optind + 1]);
        return CLI_EXIT_USAGE;
    }
    if (optind < argc) path = argv[optind];
    if (!path) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    const cli_file ins[] = {{"model", path}};
    int clash = cli_check_outputs("onnx-info", NULL, 0, ins, 1, 1); /* vtag onnx-info M >> M */
    if (clash) return clash;
    vtag_error err = {0};
    vtag_onnx_model_t *m = NULL;
    vtag_ctx ctx;
    if (vtag_ctx_init(&ctx, (int)threads, 1, &err)) {
        cli_error("onnx-info", "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (vtag_onnx_open(&m, path, &err)) {
        cli_error("onnx-info", "%s", err.msg);
        vtag_ctx_free(&ctx);
        return CLI_EXIT_FAIL;
    }
    int status = CLI_EXIT_OK;
    char esc[1024];
    printf("%s: opset %lld, %d nodes\n", shown(esc, sizeof esc, path), (long long)vtag_onnx_opset(m), vtag_onnx_node_count(m));
    /* inputs, and the concrete input the shapes below are for */
    int n_in = vtag_onnx_input_count(m);
    const char **in_names = calloc((size_t)n_in + 1, sizeof *in_names);
    vtag_onnx_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
    int concrete = 1;
    for (int i = 0; i < n_in; i++) {
        vtag_onnx_tensor d;
        in_names[i] = vtag_onnx_input(m, i, &d);
        printf("input  %-30s ", shown(esc, sizeof esc, in_names[i]));
        print_shape(&d);
        printf("\n");
        in[i] = d;
        in[i].data = NULL;
        if (d.ndim == 4 && (d.dtype == VTAG_ONNX_FLOAT || !d.dtype)) { /* an image batch */
            in[i].dtype = VTAG_ONNX_FLOAT;
            if (d.shape[0] < 0) in[i].shape[0] = batch;
            if (d.shape[1] < 0) in[i].shape[1] = 3;
            for (int k = 2; k < 4; k++)
                if (d.shape[k] < 0 || size) in[i].shape[k] = size ? size : 224;
        }
        for (int k = 0; k < in[i].ndim; k++) concrete &= in[i].shape[k] >= 0;
        concrete &= in[i].ndim >= 0 && in[i].dtype != 0;
    }
    int n_out = vtag_onnx_output_count(m);
    for (int i = 0; i < n_out; i++) {
        const char *name = vtag_onnx_output_name(m, i);
        vtag_onnx_tensor s;
        printf("output %-30s ", shown(esc, sizeof esc, name));
        if (concrete && !vtag_onnx_infer(m, &ctx, n_in, in_names, in, 1, &name, &s, &err)) print_shape(&s);
        else printf("(shape unknown%s%s)", concrete ? ": " : "", concrete ? err.msg : "");
        printf("\n");
    }
    /* op counts, in first-seen order */
    const char *ops[128];
    int counts[128], n_ops = 0, folded = 0;
    for (int i = 0; i < vtag_onnx_node_count(m); i++) {
        const char *op = vtag_onnx_node_op(m, i);
        folded += vtag_onnx_node_folded(m, i);
        int k = 0;
        while (k < n_ops && strcmp(ops[k], op) != 0) k++;
        if (k == n_ops && n_ops < 128) ops[n_ops] = op, counts[n_ops++] = 0;
        if (k < 128) counts[k]++;
    }
    printf("ops   ");
    for (int k = 0; k < n_ops; k++) printf(" %s %d%s", ops[k], counts[k], k + 1 < n_ops ? "," : "\n");
    if (folded) printf("       (%d BatchNormalization folded into the Conv before them at load)\n", folded);
    /* taps */
    const char *taps[2] = {fc_node, att_node}, *dfc = NULL, *datt = NULL;
    if (!fc_node || !att_node) {
        if (vtag_onnx_default_taps(m, &dfc, &datt, &err)) printf("taps   %s\n", err.msg);
        if (!taps[0]) taps[0] = dfc;
        if (!taps[1]) taps[1] = datt;
    }
    if (taps[0] && taps[1] && concrete) {
        vtag_onnx_tensor s[2];
        if (vtag_onnx_infer(m, &ctx, n_in, in_names, in, 2, taps, s, &err)) {
            cli_error("onnx-info", "%s", err.msg);
            status = CLI_EXIT_FAIL;
        } else {
            printf("fc     %-30s ", shown(esc, sizeof esc, taps[0]));
            print_shape(&s[0]);
            printf(" -> [%lld, %lld]%s\n", (long long)s[0].shape[0],
                   (long long)(vtag_onnx_tensor_numel(&s[0]) / (s[0].shape[0] ? s[0].shape[0] : 1)),
                   fc_node ? "" : "  (default: last GlobalAveragePool output)");
            printf("att    %-30s ", shown(esc, sizeof esc, taps[1]));
            print_shape(&s[1]);
            if (s[1].ndim == 4)
                printf(" -> [%lld, %lld, %lld]", (long long)s[1].shape[0], (long long)(s[1].shape[2] * s[1].shape[3]),
                       (long long)s[1].shape[1]);
            printf("%s\n", att_node ? "" : "  (default: its input)");
            vtag_onnx_plan_stats st;
            if (!vtag_onnx_plan_stats_get(m, &ctx, n_in, in_names, in, 2, taps, &st, &err))
                printf("plan   for the taps: %d steps (%d with a fused activation, %d views without a copy), "
                       "%d nodes folded as constants, %d not needed; %d buffers, %.1f MB (one per value: %.1f MB)\n",
                       st.steps, st.act_fused, st.views, st.const_folded, st.dead, st.buffers, st.buffer_bytes / 1e6,
                       st.naive_bytes / 1e6);
        }
    }
    if (values && concrete) {
        int n = vtag_onnx_value_count(m);
        const char **names = calloc((size_t)n + 1, sizeof *names);
        vtag_onnx_tensor *s = calloc((size_t)n + 1, sizeof *s);
        for (int i = 0; i < n; i++) names[i] = vtag_onnx_value_name(m, i);
        if (vtag_onnx_infer(m, &ctx, n_in, in_names, in, n, names, s, &err)) {
            cli_error("onnx-info", "%s", err.msg);
            status = CLI_EXIT_FAIL;
        } else {
            for (int i = 0; i < n; i++) {
                printf("value  %-40s ", names[i]);
                print_shape(&s[i]);
                printf("\n");
            }
        }
        free(names);
        free(s);
    }
    free(in_names);
    free(in);
    vtag_onnx_close(&m);
    vtag_ctx_free(&ctx);
    return status;
}

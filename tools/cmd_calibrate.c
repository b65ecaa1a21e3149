/* vtag calibrate: the per-label calibration of checkpoints' label scores on
 * the validation videos (vtag_run_calibrate), for checkpoints trained before
 * vtag train wrote it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/calib.h"
#include "vtag/data.h"
#include "vtag/run_eval.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag calibrate --labels L --val-feats F M.safetensors...\n"
            "\n"
            "Fits, for each checkpoint M, a map per label of its label scores onto how often the\n"
            "label is right (Platt scaling: sigmoid(a logit(s) + b), a >= 0, pulled towards one map\n"
            "for all labels) on the videos of F, the validation split's features, against their\n"
            "labels in L, and writes it beside M as M.calib.safetensors; vtag tag and vtag eval\n"
            "apply it from there (docs/FORMATS.md). vtag train does this itself after its last\n"
            "epoch when given --val-feats; this command is for checkpoints trained before.\n"
            "\n"
            "  -l, --labels FILE    labels file (JSON Lines or CSV)\n"
            "  --val-feats FILE     features of the validation videos, from the checkpoints' backbone\n"
            "  -j, --threads T      (number of cores)\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit codes: 0 done, 1 bad input or I/O error, 2 usage.\n");
}

int cmd_calibrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"labels", required_argument, 0, 'l'}, {"val-feats", required_argument, 0, 'f'},
        {"threads", required_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *labels_path = NULL, *feats = NULL;
    long threads = 0;
    int c;
    optind = 0;
    while ((c = cli_getopt("calibrate", argc, argv, opts)) != -1) {
        switch (c) {
        case 'l': labels_path = optarg; break;
        case 'f': feats = optarg; break;
        case 'j':
            if (cli_parse_int("calibrate", "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!labels_path || !feats || optind >= argc) {
        cli_error("calibrate", "--labels, --val-feats and at least one checkpoint are required (vtag calibrate --help)");
        return CLI_EXIT_USAGE;
    }
    vtag_error err = {0};
    vtag_ctx ctx = {0};
    vtag_data_labels labels = {0};
    int status = CLI_EXIT_OK, rc = vtag_ctx_init(&ctx, (int)threads, 42, &err);
    if (!rc) rc = vtag_data_read_labels(&labels, labels_path, NULL, &err);
    if (rc) {
        cli_error("calibrate", "%s", err.msg);
        vtag_data_free_labels(&labels);
        vtag_ctx_free(&ctx);
        return CLI_EXIT_FAIL;
    }
    for (int a = optind; a < argc; a++) {
        vtag_run_calibrate_info info;
        if (vtag_run_calibrate(&ctx, argv[a], feats, &labels, &info, &err)) {
            cli_error("calibrate", "%s", err.msg);
            status = CLI_EXIT_FAIL;
            continue;
        }
        char *path = vtag_calib_path(argv[a]);
        cli_note("calibrate", "%s: %lld labels on %lld videos (shared map a %.3f, b %.3f)", path ? path : argv[a],
                 (long long)info.labels, (long long)info.videos, info.a0, info.b0);
        free(path);
    }
    vtag_data_free_labels(&labels);
    vtag_ctx_free(&ctx);
    return status;
}

/* vtag features: frames of every video of a labels file → a backbone (built-in
 * or ONNX) → the features file of SPEC §8 (fc, att, vtag.items), through
 * vtag_features_extract; this file parses the options and shows progress.
 * Under mpirun the ranks share the videos out and rank 0 prints everything. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/cluster.h"
#include "vtag/data.h"
#include "vtag/extract.h"
#include "vtag/video.h"

#define CMD "features"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag features --backbone B.safetensors|MODEL.onnx --labels L --out F.safetensors [options]\n"
            "\n"
            "Samples frames from every video of the labels file L (relative paths are relative to\n"
            "L's folder), runs the backbone on them in batches and writes F (docs/FORMATS.md):\n"
            "fc F32 [N, D_fc], att F32 [N, K, D_att], the item ids (the labels' \"video\" of each\n"
            "row: one row per frame, videos in file order; metadata vtag.items, or the tensor items\n"
            "when long), pix F32 [N, 14] (each frame's pixel statistics, for the novelty model)\n"
            "and vtag.backbone. F is written atomically, only when every video succeeded\n"
            "(or with --skip-bad).\n"
            "\n"
            "  -b, --backbone FILE  built-in backbone (vtag backbone train) or an ONNX model\n"
            "  -l, --labels FILE  labels file (JSON Lines or CSV)\n"
            "  --split S          train, val, test or all (default all)\n"
            "  --sample SPEC      frames per video (uniform:16; fps:F, keyframes, keyframes:N, scene:T)\n"
            "  --size S           input side (default: the backbone's own; ONNX 224)\n"
            "  --mean R,G,B       normalisation (default: the backbone's own; ONNX ImageNet)\n"
            "  --std R,G,B\n"
            "  --fc-node NAME     ONNX: the output tapped for fc (default: the last GlobalAveragePool's)\n"
            "  --att-node NAME    ONNX: the output tapped for att (default: that pool's input)\n"
            "  --no-att           write fc only (att2in/topdown then cannot use the file)\n"
            "  --batch B          frames per backbone call (8)\n"
            "  -j, --threads T    threads for the backbone (number of cores - 1: the decoder\n"
            "                     thread has the other)\n"
            "  --skip-bad         a video that cannot be decoded is reported and left out\n"
            "                     (default: it is an error and nothing is written)\n"
            "  -q, --quiet        no progress on stderr\n"
            "  -o, --out FILE     features file to write      -h, --help  this help\n"
            "\n"
            "Under mpirun -np N, video i is done by rank i mod N and rank 0 writes F and prints:\n"
            "the same file, messages and exit code as one process; threads per rank: its cores - 1.\n"
            "Progress on stderr: a bar when stderr is a terminal, else a line every 5 s (VTAG_PROGRESS_SECONDS).\n"
            "exit codes: 0 written, 1 bad input / a video failed / I/O error (nothing written), 2 usage.\n");
}

typedef struct progress {
    cli_progress bar;
    const char *labels;
} progress;

static void show(void *user, const vtag_features_progress *p)
{
    progress *pg = user;
    if (p->skipped || p->final) cli_progress_clear(&pg->bar);
    if (p->skipped) cli_error(CMD, "skipped: %s (%s:%lld)", p->skipped->msg, pg->labels, (long long)p->line);
    if (!p->final) cli_progress_show(&pg->bar, NULL, p->done, p->total);
}

typedef struct feat_args {
    const char *backbone, *labels, *out;
    vtag_features_opts o;
    int quiet;
} feat_args;

enum { OPT_SPLIT = 256, OPT_SAMPLE, OPT_SIZE, OPT_MEAN, OPT_STD, OPT_FCN, OPT_ATTN, OPT_NOATT, OPT_BATCH, OPT_SKIP,
       OPT_THREADS = 'j', OPT_QUIET = 'q', OPT_HELP = 'h' };

static int parse(int argc, char **argv, feat_args *a)
{
    static const struct option opts[] = {
        {"backbone", required_argument, 0, 'b'}, {"labels", required_argument, 0, 'l'},
        {"out", required_argument, 0, 'o'},      {"split", required_argument, 0, OPT_SPLIT},
        {"sample", required_argument, 0, OPT_SAMPLE}, {"size", required_argument, 0, OPT_SIZE},
        {"mean", required_argument, 0, OPT_MEAN}, {"std", required_argument, 0, OPT_STD},
        {"fc-node", required_argument, 0, OPT_FCN}, {"att-node", required_argument, 0, OPT_ATTN},
        {"no-att", no_argument, 0, OPT_NOATT},   {"batch", required_argument, 0, OPT_BATCH},
        {"threads", required_argument, 0, OPT_THREADS}, {"skip-bad", no_argument, 0, OPT_SKIP},
        {"quiet", no_argument, 0, OPT_QUIET},    {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    vtag_features_opts_defaults(&a->o);
    int c, have_mean = 0, have_std = 0;
    long v;
    vtag_error e = {0};
    optind = 0;
    while ((c = cli_getopt(CMD, argc, argv, opts)) != -1) {
        switch (c) {
        case 'b': a->backbone = optarg; break;
        case 'l': a->labels = optarg; break;
        case 'o': a->out = optarg; break;
        case OPT_SPLIT:
            if (strcmp(optarg, "all") == 0) a->o.split = VTAG_DATA_SPLIT_ALL;
            else if (vtag_data_split_parse(optarg, &a->o.split)) {
                cli_error(CMD, "--split must be train, val, test or all, not '%s'", optarg);
                return -1;
            }
            break;
        case OPT_SAMPLE:
            if (vtag_video_sampler_parse(&a->o.sampler, optarg, &e)) {
                cli_error(CMD, "--sample: %s", e.msg);
                return -1;
            }
            break;
        case OPT_SIZE:
            if (cli_parse_int(CMD, "--size", optarg, 16, 2048, &v)) return -1;
            a->o.backbone.size = v;
            break;
        case OPT_MEAN:
        case OPT_STD: {
            /* R,G,B: a mean is any finite value, a std a finite value > 0 */
            double rgb[3];
            float *dst = c == OPT_MEAN ? a->o.backbone.mean : a->o.backbone.std;
            if (cli_parse_reals(CMD, c == OPT_MEAN ? "--mean" : "--std", optarg, 3, c == OPT_MEAN ? -CLI_FLOAT_MAX : 0,
                                CLI_FLOAT_MAX, (c == OPT_MEAN ? CLI_CLOSED : CLI_OPEN_LO) | CLI_AS_FLOAT, rgb))
                return -1;
            for (int i = 0; i < 3; i++) dst[i] = (float)rgb[i];
            *(c == OPT_MEAN ? &have_mean : &have_std) = 1;
            break;
        }
        case OPT_FCN: a->o.backbone.fc_node = optarg; break;
        case OPT_ATTN: a->o.backbone.att_node = optarg; break;
        case OPT_NOATT: a->o.no_att = 1; break;
        case OPT_BATCH:
            if (cli_parse_int(CMD, "--batch", optarg, 1, 4096, &v)) return -1;
            a->o.backbone.max_batch = v;
            break;
        case OPT_THREADS:
            if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &v)) return -1;
            a->o.threads = (int)v;
            break;
        case OPT_SKIP: a->o.skip_bad = 1; break;
        case OPT_QUIET: a->quiet = 1; break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->backbone || !a->labels || !a->out) {
        cli_error(CMD, "--backbone, --labels and --out are required (vtag features --help)");
        return -1;
    }
    if (have_mean != have_std) {
        cli_error(CMD, "--mean and --std go together");
        return -1;
    }
    a->o.backbone.have_norm = have_mean;
    return 0;
}

/* vtag pipeline checks its feature stages' options before the first stage runs,
 * with this command's own parser. */
int cmd_features_check(int argc, char **argv)
{
    feat_args a;
    return parse(argc, argv, &a) == 0 ? 0 : -1;
}

int cmd_features(int argc, char **argv)
{
    feat_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    vtag_error err = {0};
    vtag_cluster *c = NULL;
    if (vtag_cluster_open(&c, &err)) {
        cli_error(CMD, "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    const int rank = vtag_cluster_rank(c);
    /* --out on an input would destroy it: the options now, the videos once the labels are read */
    const cli_file ins[] = {{"--backbone", a.backbone}, {"--labels", a.labels}}, outs[] = {{"--out", a.out}};
    int status = cli_agreed(CMD, c, rank == 0 ? cli_check_outputs(CMD, outs, 1, ins, 2, 0) : 0, NULL);
    vtag_data_labels labels = {0};
    if (!status)
        status = cli_agreed(CMD, c, vtag_data_read_labels(&labels, a.labels, NULL, &err) ? CLI_EXIT_FAIL : 0, &err);
    if (!status) status = cli_agreed(CMD, c, rank == 0 ? cli_check_outputs_videos(CMD, outs, 1, &labels, 0) : 0, NULL);
    progress pg = {.labels = a.labels};
    cli_progress_start(&pg.bar, CMD, "videos", a.quiet || rank != 0);
    a.o.progress = show;
    a.o.user = &pg;
    a.o.cluster = c;
    vtag_features_result res;
    if (status) {
        /* reported */
    } else if (vtag_features_extract(a.backbone, &labels, a.out, &a.o, &res, &err)) {
        /* Ranks that failed together: rank 0 says why. Out of step: each, and the job ends. */
        const int together = vtag_cluster_size(c) == 1 || vtag_cluster_failed_together(c);
        if (!together && rank > 0) cli_error(CMD, "rank %d: %s", rank, err.msg);
        else if (rank == 0) cli_error(CMD, "%s", err.msg);
        if (!together) vtag_cluster_abort(c, CLI_EXIT_FAIL);
        status = CLI_EXIT_FAIL;
    } else if (!a.quiet && rank == 0) {
        cli_note("features", "%lld rows of %lld videos%s (%lld skipped) -> %s in %.1f s (%.1f frames/s)",
                 (long long)res.rows, (long long)res.videos, "", (long long)res.skipped, a.out, res.seconds,
                 res.seconds > 0 ? (double)res.rows / res.seconds : 0.0);
    }
    vtag_data_free_labels(&labels);
    vtag_cluster_close(&c);
    return status;
}

/* vtag tag: videos in, one JSON line of tags per video out, streamed as each
 * video finishes; a video that fails gets an error line and the rest go on.
 * The list is tagged by vtag_tags_extract; under mpirun the ranks share the
 * videos out and rank 0 prints everything. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/cluster.h"
#include "vtag/extract.h"
#include "vtag/inputs.h"
#include "vtag/output.h"
#include "vtag/tag.h"
#include "vtag/tagger.h"

static const char *CMD = "tag";

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag tag --from DIR [--model fc|att2in|topdown|video] [options] VIDEO...\n"
            "       vtag tag --checkpoint M.safetensors --backbone B [options] VIDEO...\n"
            "\n"
            "Samples frames from each video, captions every frame with a trained model and scores\n"
            "each label: the model's probability that a frame's caption holds it (from sampled\n"
            "captions), averaged over the frames. Prints one JSON line per video when it is done:\n"
            "  {\"video\", \"model\", \"backbone\", \"class1\", \"class2\", \"unknown\", \"novelty\", \"tags\":\n"
            "   [{\"label\", \"frames\": k, \"score\"}...], \"labels\": [every label, by score], \"frames\": [...]}\n"
            "class1 is the most frequent first label over the frames, class2 the most frequent\n"
            "second label among the frames that start with class1. A video that cannot be read\n"
            "gets {\"video\", \"error\"} and the others go on. Under mpirun -np N, video i is tagged by\n"
            "rank i mod N and rank 0 prints every line in order: the same output as one process.\n"
            "\n"
            "model:\n"
            "  --from DIR           a folder made by vtag pipeline (its backbone, sampler and size)\n"
            "  -m, --model NAME     which of DIR's models (default: the best on validation; video: a caption per video)\n"
            "  --checkpoint FILE    a caption model checkpoint (with --backbone)\n"
            "  -b, --backbone FILE  built-in backbone (.safetensors) or ONNX model (.onnx)\n"
            "frames and decoding:\n"
            "  --sample SPEC        uniform:N | fps:F | keyframes[:N] | scene:T (the pipeline's, else uniform:16)\n"
            "  --size S             frame size (the backbone's)\n"
            "  --beam K             beam search of width K (default greedy)\n"
            "tags (one rule, then --min-score):\n"
            "  --top-n N            the N best-scoring labels (default 10)\n"
            "  --min-frames C       every label seen in more than C frames (k > C)\n"
            "  --min-score P        a tag scores at least P (0.25). A video whose best label scores less, or\n"
            "                       whose frames are unlike the training videos (novelty > 1), has no tag\n"
            "                       and \"unknown\": true\n"
            "  --samples N          captions sampled per video for the scores (128)\n"
            "other:\n"
            "  --list FILE          read video paths from FILE too (one per line; - for stdin)\n"
            "  --recursive          a folder given walks its tree for videos (--ext LIST: mp4,mkv,webm,mov,avi,m4v)\n"
            "  --allow-protocols L  what a video may be read through (file,pipe,http,https; - is stdin)\n"
            "  -j, --threads T      (number of cores; under mpirun, this rank's share of them)\n"
            "  --timing             per video, the seconds of each stage on stderr\n"
            "  -o, --output FILE    the lines to FILE (written to FILE.partial, one synced line at a time)\n"
            "  --resume             keep FILE.partial's (or FILE's) lines and tag only the other videos\n"
            "  --format jsonl|csv   csv: video,class1,class2,tags,scores,frames,damaged_packets,error\n"
            "  -h, --help           this help\n"
            "\n"
            "Exit codes: 0 every video tagged, 1 some failed (their lines say why), 2 usage.\n");
}

typedef struct printer {
    int timing;
    int stopped; /* the output failed, said */
    vtag_output *out; /* rank 0's */
    cli_progress bar;
    int64_t done, total; /* total 0: not known (a --list) */
} printer;

/* Rank 0: a video's line to the output (and its timing on stderr); -1 stops
 * the run when the line cannot be made or written. */
static int print_video(void *user, const vtag_tags_video *v)
{
    printer *pr = user;
    vtag_error e = {0};
    cli_progress_clear(&pr->bar);
    if (!v->line || vtag_output_write(pr->out, v->line, &e)) {
        cli_error(CMD, "%s", v->line ? e.msg : v->err.msg);
        pr->stopped = 1;
        return -1;
    }
    if (pr->timing && !v->failed)
        cli_note(CMD, "%s: %lld frames, decode %.3f s, backbone %.3f s, caption %.3f s, total %.3f s", v->video,
                 (long long)v->stats.n_frames, v->stats.seconds_decode, v->stats.seconds_backbone,
                 v->stats.seconds_caption, v->seconds);
    cli_progress_show(&pr->bar, NULL, ++pr->done, pr->total);
    return 0;
}

static int skip_video(void *user, const char *video) { return vtag_output_skip(((printer *)user)->out, video); }

int cmd_tag(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, 0, 'f'},       {"model", required_argument, 0, 'm'},
        {"checkpoint", required_argument, 0, 'c'}, {"backbone", required_argument, 0, 'b'},
        {"sample", required_argument, 0, 's'},     {"size", required_argument, 0, 'z'},
        {"beam", required_argument, 0, 'k'},       {"top-n", required_argument, 0, 'n'},
        {"min-frames", required_argument, 0, 'C'}, {"list", required_argument, 0, 'l'},
        {"threads", required_argument, 0, 'j'},    {"timing", no_argument, 0, 'T'},
        {"output", required_argument, 0, 'o'},     {"resume", no_argument, 0, 'R'},
        {"format", required_argument, 0, 'F'},     {"recursive", no_argument, 0, 'r'},
        {"ext", required_argument, 0, 'e'},        {"allow-protocols", required_argument, 0, 'P'},
        {"min-score", required_argument, 0, 'S'},  {"samples", required_argument, 0, 'N'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0},
    };
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    vtag_tagger_options o;
    vtag_tagger_options_default(&o);
    vtag_tag_opts topt;
    vtag_tag_opts_default(&topt);
    vtag_video_sampler sampler;
    vtag_video_sampler_default(&sampler);
    const char *list = NULL;
    vtag_inputs_opts io = {0}; vtag_inputs_list in = {0}; /* the videos given → in, folders walked */
    vtag_output_opts oo;
    vtag_output_opts_defaults(&oo);
    vtag_output_opts_records(&oo, VTAG_OUTPUT_TAGS);
    oo.stream = stdout;
    long v, threads = 0;
    int timing = 0, have_top = 0, have_min = 0;
    int c;
    optind = 0;
    while ((c = cli_getopt(CMD, argc, argv, opts)) != -1) {
        vtag_error err = {0};
        switch (c) {
        case 'f': o.dir = optarg; break;
        case 'm': o.model = optarg; break;
        case 'c': o.checkpoint = optarg; break;
        case 'b': o.backbone = optarg; break;
        case 's':
            if (vtag_video_sampler_parse(&sampler, optarg, &err)) {
                cli_error(CMD, "--sample: %s", err.msg);
                return CLI_EXIT_USAGE;
            }
            o.sampler = &sampler;
            break;
        case 'z': if (cli_parse_int(CMD, "--size", optarg, 16, 4096, &v)) return CLI_EXIT_USAGE; o.size = v; break;
        case 'k': if (cli_parse_int(CMD, "--beam", optarg, 1, 64, &v)) return CLI_EXIT_USAGE; o.beam = (int)v; break;
        case 'n': if (cli_parse_int(CMD, "--top-n", optarg, 0, 1000000, &v)) return CLI_EXIT_USAGE;
            topt.rule = VTAG_TAG_RULE_TOP_N, topt.top_n = v, have_top = 1; break;
        case 'C': if (cli_parse_int(CMD, "--min-frames", optarg, 0, 1000000, &v)) return CLI_EXIT_USAGE;
            topt.rule = VTAG_TAG_RULE_MIN_FRAMES, topt.min_frames = v, have_min = 1; break;
        case 'S': if (cli_parse_real(CMD, "--min-score", optarg, 0, 1, CLI_CLOSED, &topt.min_score)) return CLI_EXIT_USAGE;
            break;
        case 'N': if (cli_parse_int(CMD, "--samples", optarg, 1, VTAG_CAPTION_SCORE_SAMPLES_MAX, &v)) return CLI_EXIT_USAGE;
            o.samples = v; break;
        case 'l': list = optarg; break;
        case 'r': io.recursive = 1; break;          case 'e': io.extensions = optarg; break;
        case 'P': o.protocols = io.protocols = optarg; break;
        case 'j': if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE; break;
        case 'T': timing = 1; break;
        case 'o': oo.path = optarg; break;
        case 'R': oo.resume = 1; break;
        case 'F':
            if (vtag_output_format_parse(optarg, &oo.format, &err)) return cli_error(CMD, "%s", err.msg), CLI_EXIT_USAGE;
            break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (have_top && have_min) {
        cli_error(CMD, "--top-n and --min-frames exclude each other");
        return CLI_EXIT_USAGE;
    }
    if (o.dir ? (o.checkpoint || o.backbone) : (!o.checkpoint || !o.backbone))
        return cli_error(CMD, "give --from DIR, or --checkpoint and --backbone (vtag tag --help)"), CLI_EXIT_USAGE;
    if (o.model && !o.dir) return cli_error(CMD, "--model picks one of a pipeline's models: it needs --from"), CLI_EXIT_USAGE;
    if (oo.resume && !oo.path) {
        cli_error(CMD, "--resume continues an --output FILE: give it");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc && !list) {
        cli_error(CMD, "no videos given (vtag tag --help)");
        return CLI_EXIT_USAGE;
    }
    vtag_error err = {0};
    if (vtag_inputs_expand((const char *const *)argv + optind, argc - optind, &io, &in, &err))
        return cli_error(CMD, "%s", err.msg), vtag_inputs_list_free(&in), err.code == VTAG_ERR_ARG ? CLI_EXIT_USAGE : 1;
    vtag_cluster *cl = NULL;
    if (vtag_cluster_open(&cl, &err)) {
        cli_error(CMD, "%s", err.msg);
        return vtag_inputs_list_free(&in), CLI_EXIT_FAIL;
    }
    const int rank = vtag_cluster_rank(cl);
    /* FFmpeg's own diagnostics stay off, as in every vtag command: a video's error line says
     * why (and under mpirun, several ranks' lines would mix on stderr in no set order). */
    if (vtag_cluster_launched()) /* this rank's share of the machine's cores */
        o.decode_threads = (int)(threads = vtag_cluster_threads(cl, (int)threads));
    /* vtag tag ... >> F appends to F: refused for the files named here (--from's are the pipeline's) */
    const cli_file ins[] = {{"--checkpoint", o.checkpoint}, {"--backbone", o.backbone},
                            {"--list", list && strcmp(list, "-") ? list : NULL}};
    const char *const *videos = (const char *const *)in.paths;
    const cli_file outs[] = {{"--output", oo.path}};
    int status = rank > 0 ? 0 : cli_check_outputs(CMD, outs, 1, ins, 3, !oo.path);
    if (!status && rank == 0) status = cli_check_outputs_paths(CMD, outs, 1, "video", videos, in.n, !oo.path);
    status = cli_agreed(CMD, cl, status, NULL);
    FILE *lf = NULL; /* rank 0's: vtag_tags_extract shares the list out */
    if (!status) {
        int rc = 0;
        if (rank == 0 && list && strcmp(list, "-") == 0) lf = stdin;
        else if (rank == 0 && list) rc = vtag_file_open(&lf, list, &err);
        status = cli_agreed(CMD, cl, rc ? CLI_EXIT_FAIL : 0, &err);
    }
    vtag_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    vtag_tagger_t *t = NULL;
    printer pr = {.timing = timing, .total = lf ? 0 : in.n};
    cli_progress_start(&pr.bar, CMD, "videos", rank != 0);
    if (!status) {
        int rc = vtag_ctx_init(&ctx, (int)threads, 42, &err);
        if (!rc) rc = vtag_tagger_open(&t, &ctx, &o, &err);
        if (!rc && rank == 0) rc = vtag_output_open(&pr.out, &oo, &err); /* rank 0 alone writes */
        status = cli_agreed(CMD, cl, rc ? CLI_EXIT_FAIL : 0, &err);
    }
    if (vtag_output_kept(pr.out))
        cli_note(CMD, "%s: %lld videos done before, skipped", oo.path, (long long)vtag_output_kept(pr.out));
    vtag_tags_opts to;
    vtag_tags_opts_defaults(&to);
    to.tag = topt, to.paths = videos, to.n_paths = in.n;
    to.list = lf, to.list_name = lf == stdin ? "stdin" : list, to.cluster = cl;
    to.video_done = print_video, to.skip = oo.resume ? skip_video : NULL, to.user = &pr;
    vtag_tags_result res = {0, 0};
    const int xrc = status ? -1 : vtag_tags_extract(t, &ctx, &to, &res, &err);
    if (!status && xrc) {
        status = cli_cluster_failed(CMD, cl, &err, pr.stopped);
    } else if (!status && res.failed) {
        if (rank == 0)
            cli_error(CMD, "%lld of %lld videos failed (see their error lines)", (long long)res.failed,
                      (long long)res.videos);
        status = CLI_EXIT_FAIL;
    }
    /* Every video has its line (a run with failed videos too): FILE.partial becomes FILE. */
    if (vtag_output_close(&pr.out, !xrc, &err)) cli_error(CMD, "%s", err.msg), status = CLI_EXIT_FAIL;
    if (lf && lf != stdin) fclose(lf);
    vtag_tagger_close(&t);
    vtag_ctx_free(&ctx);
    vtag_cluster_close(&cl);
    vtag_inputs_list_free(&in);
    return status;
}

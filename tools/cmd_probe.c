/* vtag probe: one JSON line per video with what the sampler will work from
 * (duration, frame rate, size, rotation, codec, keyframe count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/inputs.h"
#include "vtag/output.h"
#include "vtag/video.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag probe [-v, --verbose] VIDEO...   (-h, --help: this help)\n"
            "\n"
            "Prints one JSON line per video (docs/FORMATS.md, \"probe output\"):\n"
            "  {\"video\", \"container\", \"codec\", \"duration_seconds\", \"frame_rate\",\n"
            "   \"width\", \"height\", \"rotation\", \"display_width\", \"display_height\",\n"
            "   \"frames\", \"keyframes\", \"index\"}\n"
            "Sizes are the coded picture's; rotation is the clockwise turn applied for\n"
            "display (0, 90, 180, 270) and display_* the size after it. keyframes comes\n"
            "from the container index when it lists every packet (\"index\": \"full\"),\n"
            "otherwise from reading every packet once without decoding (\"scan\").\n"
            "\n"
            "  -v, --verbose   let FFmpeg print its own warnings (silent by default)\n"
            "  -o, --output FILE  the lines to FILE (written to FILE.partial, renamed at the end)\n"
            "  --resume        keep FILE.partial's (or FILE's) lines and probe only the other videos\n"
            "  --format F      jsonl (default) or csv: one column per field above, a header row\n"
            "  --recursive     walk the folders given for videos (--ext LIST, default mp4,mkv,webm,mov,avi,m4v)\n"
            "  --allow-protocols LIST  what a video may be read through (default file,pipe,http,https;\n"
            "                  a VIDEO may be a URL, or - for the standard input)\n"
            "\n"
            "exit codes: 0 all probed, 1 some file is not a readable video (one line\n"
            "each on stderr; the other files are still probed), 2 usage error\n");
}

int cmd_probe(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    /* Options may come before or after the videos; "--" ends them. */
    static const struct option opts[] = {
        {"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
        {"output", required_argument, 0, 'o'}, {"resume", no_argument, 0, 'R'},
        {"format", required_argument, 0, 'F'}, {"recursive", no_argument, 0, 'r'},
        {"ext", required_argument, 0, 'e'},    {"allow-protocols", required_argument, 0, 'P'}, {0, 0, 0, 0}};
    vtag_inputs_opts io = {0};
    vtag_video_options vo;
    vtag_video_options_default(&vo);
    int verbose = 0;
    vtag_output_opts oo;
    vtag_output_opts_defaults(&oo);
    vtag_output_opts_records(&oo, VTAG_OUTPUT_PROBES);
    oo.stream = stdout;
    vtag_error err = {0};
    optind = 0;
    for (int c; (c = cli_getopt("probe", argc, argv, opts)) != -1;) {
        if (c == '?') return CLI_EXIT_USAGE;
        verbose |= c == 'v';
        oo.resume |= c == 'R';
        if (c == 'o') oo.path = optarg;
        io.recursive |= c == 'r';
        if (c == 'e') io.extensions = optarg;
        if (c == 'P') io.protocols = vo.protocols = optarg;
        if (c == 'F' && vtag_output_format_parse(optarg, &oo.format, &err)) {
            cli_error("probe", "%s", err.msg);
            return CLI_EXIT_USAGE;
        }
    }
    if (oo.resume && !oo.path) {
        cli_error("probe", "--resume continues an --output FILE: give it");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    const cli_file outs[] = {{"--output", oo.path}};
    int clash = cli_check_outputs_paths("probe", outs, 1, "video", (const char **)argv + optind, argc - optind,
                                        !oo.path); /* vtag probe V >> V */
    if (clash) return clash;
    vtag_inputs_list in = {0}; /* the videos, folders walked */
    vtag_output *out = NULL;
    int erc = vtag_inputs_expand((const char *const *)argv + optind, argc - optind, &io, &in, &err);
    if (erc || vtag_output_open(&out, &oo, &err)) {
        cli_error("probe", "%s", err.msg);
        vtag_inputs_list_free(&in);
        return erc == VTAG_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    const char *const *videos = (const char *const *)in.paths;
    const int64_t n = in.n;
    vtag_video_set_log(verbose ? VTAG_VIDEO_LOG_WARNING : VTAG_VIDEO_LOG_QUIET);
    int status = CLI_EXIT_OK;
    for (int64_t i = 0; i < n; i++) {
        vtag_video_info info;
        if (vtag_output_skip(out, videos[i])) continue; /* probed before (--resume) */
        if (vtag_video_probe_with(videos[i], &vo, &info, &err)) {
            cli_error("probe", "%s", err.msg);
            status = CLI_EXIT_FAIL;
            continue;
        }
        char *line;
        if (vtag_video_info_json(videos[i], &info, &line, &err)) {
            cli_error("probe", "%s", err.msg);
            status = CLI_EXIT_FAIL;
        } else if (vtag_output_write(out, line, &err)) {
            cli_error("probe", "%s", err.msg);
            free(line);
            vtag_output_close(&out, 0, NULL);
            vtag_inputs_list_free(&in);
            return CLI_EXIT_FAIL;
        }
        free(line);
    }
    if (vtag_output_close(&out, 1, &err)) {
        cli_error("probe", "%s", err.msg);
        status = CLI_EXIT_FAIL;
    }
    vtag_inputs_list_free(&in);
    return status;
}

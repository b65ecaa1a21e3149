/* vtag: the command-line entry point; dispatches to one function per command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/cluster.h"
#include "vtag/core.h"
#include "vtag/video.h"

static const cli_command commands[] = {
    {"inspect", "list the tensors and metadata of a safetensors file", cmd_inspect},
    {"onnx-info", "inputs, outputs, op counts and the fc/att feature taps of an ONNX model", cmd_onnx_info},
    {"probe", "print duration, frame rate, size, rotation, codec, keyframes of videos", cmd_probe},
    {"frames", "sample frames from videos into PNG files and frames.jsonl", cmd_frames},
    {"score", "CIDEr-D/BLEU of captions or multi-label scores from JSON Lines", cmd_score},
    {"train", "train a caption model (fc, att2in, topdown; --video: a caption per video) on labelled features", cmd_train},
    {"caption", "caption every row of a features file with a trained model", cmd_caption},
    {"synth", "render a labelled demo corpus (videos + labels.jsonl)", cmd_synth},
    {"backbone", "train the built-in CNN on labelled frames, or predict label scores with it", cmd_backbone},
    {"features", "fc/att features of the sampled frames of labelled videos (built-in or ONNX backbone)", cmd_features},
    {"calibrate", "fit the per-label calibration of checkpoints' label scores on validation videos", cmd_calibrate},
    {"eval", "score video tags against a labels file, by class; the HTML report", cmd_eval},
    {"tag", "tag videos: frames, backbone, a caption per frame, labels counted over the frames", cmd_tag},
    {"serve", "an HTTP tagging service: the models loaded once, POST /v1/tag a video", cmd_serve},
    {"pipeline", "train backbone, features and caption models from labelled videos, resumably", cmd_pipeline},
    {"info", "the kernel path, BLAS, threads, FFmpeg and build in use (for bug reports)", cmd_info},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *out)
{
    fprintf(out,
            "vtag %s - tag videos with CNN->LSTM label captioners\n"
            "\n"
            "usage: vtag <command> [options]   (vtag <command> --help for its options)\n"
            "       vtag --help | --version   (--version: vtag info, the kernel path and libraries in use)\n"
            "\n"
            "commands:\n",
            VTAG_VERSION);
    for (int i = 0; i < n_commands; i++) fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "short options, the same in every command that has the long one: -h --help, -o --out/--output,\n"
            "-j --threads, -q --quiet, -v --verbose, -l --labels, -m --model, -b --backbone\n"
            "exit codes: 0 success, 1 the command failed (bad input, I/O), 2 usage error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return cli_close_stdout(NULL, CLI_EXIT_OK);
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)
        return cli_close_stdout("info", cmd_info(1, argv + 1));
    /* A VTAG_CPU this CPU cannot run is refused before any command starts. */
    vtag_isa isa;
    vtag_error err = {0};
    if (vtag_isa_select(&isa, &err)) {
        cli_error(NULL, "%s", err.msg);
        return CLI_EXIT_USAGE;
    }
    /* Under mpirun/srun with several ranks only the commands that share their
     * work out over the ranks may run: the others would each do the whole job
     * and write the same files. */
    static const char *const sharded[] = {"train", "features", "tag"};
    int is_sharded = 0;
    for (size_t i = 0; i < sizeof sharded / sizeof sharded[0]; i++) is_sharded |= strcmp(argv[1], sharded[i]) == 0;
    const char *ranks = getenv("OMPI_COMM_WORLD_SIZE");
    if (!is_sharded && vtag_cluster_launched() && !(ranks && strcmp(ranks, "1") == 0)) {
        cli_error(argv[1], "runs as one process: start it without mpirun/srun (train, features and tag share "
                           "their work out over MPI ranks)");
        return CLI_EXIT_USAGE;
    }
    /* FFmpeg's own log stays silent in every command; --verbose raises it. */
    vtag_video_set_log(VTAG_VIDEO_LOG_QUIET);
    for (int i = 0; i < n_commands; i++)
        /* Every write to stdout is checked here, once for all commands: a full disk or a
         * closed pipe is a failure with a message, never a silent exit 0. */
        if (strcmp(argv[1], commands[i].name) == 0)
            return cli_close_stdout(commands[i].name, commands[i].run(argc - 1, argv + 1));
    const char *names[sizeof commands / sizeof commands[0]];
    for (int i = 0; i < n_commands; i++) names[i] = commands[i].name;
    const char *near = argv[1][0] == '-' ? NULL : cli_closest(argv[1], strlen(argv[1]), names, n_commands);
    if (argv[1][0] == '-') cli_error(NULL, "unknown option '%s' (vtag --help lists the options)", argv[1]);
    else if (near)
        cli_error(NULL, "unknown command '%s' (did you mean '%s'?; vtag --help lists the commands)", argv[1], near);
    else cli_error(NULL, "unknown command '%s' (vtag --help lists the commands)", argv[1]);
    return CLI_EXIT_USAGE;
}

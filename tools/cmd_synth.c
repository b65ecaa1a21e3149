/* vtag synth: render a labelled demo corpus (videos/NNNNNN.mp4 + labels.jsonl)
 * from Fashion-MNIST's product photos or procedural shapes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/synth.h"
#include "vtag/video.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag synth --out DIR [--videos N] [--seed S] [options]\n"
            "\n"
            "Renders a labelled demo corpus shaped like a video platform's catalogue:\n"
            "short videos of fashion products (8 class1, 24 class2, 50 tags, with a long\n"
            "tail), written as DIR/videos/NNNNNN.mp4 (H.264) and DIR/labels.jsonl, one\n"
            "line per video with class1, class2, tags and split (docs/FORMATS.md). The\n"
            "products are Fashion-MNIST's photos when it is installed (Debian's\n"
            "dataset-fashion-mnist; train split for train/val videos, test split for\n"
            "test videos), procedural shapes otherwise. The same seed gives the same\n"
            "labels file byte for byte and the same videos.\n"
            "\n"
            "  -o, --out DIR         output folder (created if missing; files are replaced)\n"
            "  --videos N            number of videos (default 500)\n"
            "  --seed S              corpus seed, 0..2^64-1 (default 1); video i depends only\n"
            "                        on S and i, so fewer videos give a prefix of the corpus\n"
            "  -j, --threads N       videos rendered at once (default: one per core)\n"
            "  --codec C             auto (default: H.264 through libx264, MPEG-4 part 2 if\n"
            "                        libx264 is missing), h264 or mpeg4\n"
            "  --fashion-mnist DIR   Fashion-MNIST's IDX files (.gz or plain); default\n"
            "                        " VTAG_SYNTH_FMNIST_DIR ", and shapes if that is missing\n"
            "  --shapes              procedural shapes even when Fashion-MNIST is installed\n"
            "  -q, --quiet           no progress on stderr\n"
            "  -v, --verbose         FFmpeg's own warnings too\n"
            "  -h, --help            this help\n"
            "\n"
            "exit codes: 0 corpus written; 1 failed (I/O, bad dataset files, no encoder);\n"
            "2 usage error.\n");
}

static void on_progress(void *user, int64_t done, int64_t total, const vtag_synth_video *v)
{
    (void)v;
    cli_progress_show(user, NULL, done, total);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    vtag_synth_options o;
    vtag_synth_options_default(&o);
    const char *out_dir = NULL, *fmnist = NULL;
    int shapes = 0, quiet = 0, verbose = 0;
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},   {"videos", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},  {"threads", required_argument, 0, 'j'},
        {"codec", required_argument, 0, 'c'}, {"fashion-mnist", required_argument, 0, 'f'},
        {"shapes", no_argument, 0, 'S'},      {"quiet", no_argument, 0, 'q'},
        {"verbose", no_argument, 0, 'v'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 0;
    for (int c; (c = cli_getopt("synth", argc, argv, opts)) != -1;) {
        const char *val = optarg;
        long l;
        vtag_error err = {0};
        if (c == '?') return CLI_EXIT_USAGE;
        if (c == 'S') shapes = 1;
        else if (c == 'q') quiet = 1;
        else if (c == 'v') verbose = 1;
        else if (c == 'f') fmnist = val;
        else if (c == 'o') {
            if (!*val) {
                cli_error("synth", "--out needs a folder name");
                return CLI_EXIT_USAGE;
            }
            out_dir = val;
        } else if (c == 'n') {
            if (cli_parse_int("synth", "--videos", val, 1, 1000000, &l)) return CLI_EXIT_USAGE;
            o.videos = l;
        } else if (c == 's') {
            if (parse_u64(val, &o.seed)) {
                cli_error("synth", "--seed expects an integer in [0, 2^64-1], got '%s'", val);
                return CLI_EXIT_USAGE;
            }
        } else if (c == 'j') {
            if (cli_parse_int("synth", "--threads", val, 1, 256, &l)) return CLI_EXIT_USAGE;
            o.threads = (int)l;
        } else if (c == 'c' && vtag_synth_codec_parse(val, &o.codec, &err)) {
            cli_error("synth", "--codec: %s", err.msg);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("synth", "unexpected argument '%s' (vtag synth --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!out_dir) {
        cli_error("synth", "--out DIR is required (vtag synth --help)");
        return CLI_EXIT_USAGE;
    }
    if (shapes && fmnist) {
        cli_error("synth", "--shapes and --fashion-mnist exclude each other");
        return CLI_EXIT_USAGE;
    }
    vtag_video_set_log(verbose ? VTAG_VIDEO_LOG_WARNING : VTAG_VIDEO_LOG_QUIET);

    vtag_error err = {0};
    vtag_synth_source *src = NULL;
    if (!shapes) {
        int rc = vtag_synth_source_open_fmnist(&src, fmnist ? fmnist : VTAG_SYNTH_FMNIST_DIR, &err);
        if (rc == VTAG_ERR_NOTFOUND && !fmnist) {
            if (!quiet)
                fprintf(stderr,
                        "vtag synth: Fashion-MNIST not found in %s (Debian package dataset-fashion-mnist); "
                        "drawing procedural shapes instead\n",
                        VTAG_SYNTH_FMNIST_DIR);
        } else if (rc != VTAG_OK) {
            cli_error("synth", "%s", err.msg);
            return CLI_EXIT_FAIL;
        }
    }
    if (!src && vtag_synth_source_open_shapes(&src, &err)) {
        cli_error("synth", "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    cli_progress p;
    cli_progress_start(&p, "synth", "videos", quiet);
    if (!quiet) {
        o.progress = on_progress;
        o.user = &p;
        cli_note("synth", "rendering %lld videos (seed %llu, products from %s) into %s", (long long)o.videos,
                 (unsigned long long)o.seed, vtag_synth_source_kind(src), out_dir);
    }
    vtag_synth_report rep;
    int rc = vtag_synth_corpus(out_dir, &o, src, &rep, &err);
    vtag_synth_source_close(&src);
    cli_progress_clear(&p);
    if (rc) {
        cli_error("synth", "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (!quiet)
        cli_note("synth", "%lld videos, %lld frames, %.1f MB (%s) in %.1f s; labels in %s/labels.jsonl",
                 (long long)rep.videos, (long long)rep.frames, (double)rep.bytes / 1e6, rep.encoder, vtag_seconds() - p.start,
                 out_dir);
    return CLI_EXIT_OK;
}

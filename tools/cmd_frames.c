/* vtag frames: sample frames from videos into PNG files and a frames.jsonl
 * index (docs/FORMATS.md) through vtag_frames_extract, which stages a run and
 * moves its files into place only when it has written them all, so that the
 * index always names the PNGs beside it. This file parses and prints. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/extract.h"
#include "vtag/inputs.h"
#include "vtag/video.h"

/* A damaged stream: some sampled frames could not be decoded, or packets
 * were rejected on the way (documented in --help and the README). */
#define FRAMES_EXIT_DAMAGED 3

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag frames VIDEO... --out DIR [options]\n"
            "\n"
            "Samples frames from each video, scales the shorter side to S, crops the\n"
            "centre S×S (rotation metadata applied), and writes DIR/<name>_<index>.png\n"
            "plus DIR/frames.jsonl, one line per frame:\n"
            "  {\"video\": …, \"index\": i, \"pts_seconds\": t, \"file\": …, \"target_seconds\": …}\n"
            "pts_seconds is the frame's own presentation time; target_seconds the time\n"
            "the sampler asked for (the frame returned is the one on screen then).\n"
            "\n"
            "  -o, --out DIR        output folder (created if missing)\n"
            "  --sample SPEC        uniform:N (default uniform:16, centres of N equal\n"
            "                       segments), fps:F, keyframes, keyframes:N (the keyframe\n"
            "                       nearest each of uniform:N's times, each once; only\n"
            "                       those are decoded), or scene:T (0 < T <= 1)\n"
            "  --size S             output side in pixels (default 224)\n"
            "  --start T, --end T   seconds: sample only [T_start, T_end)\n"
            "  --max-frames K       at most K frames per video\n"
            "  -j, --threads N      decoder threads (default 0: one per core)\n"
            "  --recursive          walk the folders given for videos (--ext LIST, default mp4,mkv,webm,mov,avi,m4v)\n"
            "  --allow-protocols L  what a video may be read through (default file,pipe,http,https; - is stdin)\n"
            "  --strategy MODE      auto (default): per target, seek or decode on,\n"
            "                       whichever decodes fewer frames by the container\n"
            "                       index; seek; linear (decode straight through)\n"
            "  -v, --verbose        one summary line per video on stderr, and FFmpeg's\n"
            "                       own warnings (silent by default)\n"
            "  -h, --help           this help\n"
            "\n"
            "exit codes: 0 every video sampled in full; 1 a video could not be read (not\n"
            "a video, no video stream, I/O error: one line on stderr, the other videos\n"
            "are still done); 2 usage error; 3 a damaged stream: the frames that could\n"
            "be decoded were written and stderr says how many packets were damaged.\n"
            "With several videos the exit code is 1 if any failed, else 3 if any was\n"
            "damaged.\n");
}

typedef struct frames_args {
    const char **videos;
    int n_videos;
    const char *out_dir;
    vtag_frames_opts o;
    vtag_inputs_opts io; /* how videos expands (folders, protocols) */
    int verbose;
} frames_args;

/* Returns 0, or -1 after printing the usage error. */
static int parse_args(int argc, char **argv, frames_args *a)
{
    vtag_frames_opts_defaults(&a->o);
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},     {"sample", required_argument, 0, 'S'},
        {"size", required_argument, 0, 's'},    {"start", required_argument, 0, 'a'},
        {"end", required_argument, 0, 'e'},     {"max-frames", required_argument, 0, 'k'},
        {"threads", required_argument, 0, 'j'}, {"strategy", required_argument, 0, 'g'},
        {"verbose", no_argument, 0, 'v'},       {"help", no_argument, 0, 'h'},
        {"recursive", no_argument, 0, 'r'},     {"ext", required_argument, 0, 'x'},
        {"allow-protocols", required_argument, 0, 'P'}, {0, 0, 0, 0},
    };
    optind = 0;
    for (int c; (c = cli_getopt("frames", argc, argv, opts)) != -1;) {
        const char *val = optarg;
        long l;
        double d;
        vtag_error err = {0};
        if (c == '?') return -1;
        if (c == 'v') a->verbose = 1;
        else if (c == 'r') a->io.recursive = 1;
        else if (c == 'x') a->io.extensions = val;
        else if (c == 'P') a->io.protocols = a->o.video.protocols = val;
        else if (c == 'o') a->out_dir = val;
        else if (c == 'S') {
            if (vtag_video_sampler_parse(&a->o.sampler, val, &err)) {
                cli_error("frames", "%s", err.msg);
                return -1;
            }
        } else if (c == 's') {
            if (cli_parse_int("frames", "--size", val, 1, 4096, &l)) return -1;
            a->o.video.size = l;
        } else if (c == 'a' || c == 'e') {
            const char *name = c == 'a' ? "--start" : "--end";
            if (cli_parse_float("frames", name, val, &d)) return -1;
            if (!(d >= 0) || !isfinite(d)) {
                cli_error("frames", "%s expects seconds >= 0, got '%s'", name, val);
                return -1;
            }
            if (c == 'a') a->o.sampler.start = d;
            else a->o.sampler.end = d;
        } else if (c == 'k') {
            if (cli_parse_int("frames", "--max-frames", val, 1, 100000000, &l)) return -1;
            a->o.sampler.max_frames = l;
        } else if (c == 'j') {
            if (cli_parse_int("frames", "--threads", val, 0, 64, &l)) return -1;
            a->o.video.threads = (int)l;
        } else if (c == 'g') {
            if (strcmp(val, "auto") == 0) a->o.video.strategy = VTAG_VIDEO_STRATEGY_AUTO;
            else if (strcmp(val, "seek") == 0) a->o.video.strategy = VTAG_VIDEO_STRATEGY_SEEK;
            else if (strcmp(val, "linear") == 0) a->o.video.strategy = VTAG_VIDEO_STRATEGY_LINEAR;
            else {
                cli_error("frames", "--strategy expects auto, seek or linear, got '%s'", val);
                return -1;
            }
        }
    }
    while (optind < argc) a->videos[a->n_videos++] = argv[optind++];
    if (a->n_videos == 0 || !a->out_dir) {
        cli_error("frames", "%s (vtag frames --help)", a->n_videos ? "--out DIR is required" : "no video given");
        return -1;
    }
    if (a->o.sampler.end >= 0 && a->o.sampler.end <= a->o.sampler.start) {
        cli_error("frames", "--end must be after --start");
        return -1;
    }
    return 0;
}

static const char *strategy_name(vtag_video_strategy s)
{
    return s == VTAG_VIDEO_STRATEGY_SEEK ? "seek" : s == VTAG_VIDEO_STRATEGY_LINEAR ? "linear" : "mixed";
}

/* After each video: its error, or how damaged it was, or with --verbose what
 * reading it took. */
typedef struct shown {
    int verbose;
    int fatal; /* the run's error was printed with its video */
    int64_t n; /* videos */
    cli_progress bar;
} shown;

static void report(shown *sh, const vtag_frames_video *v)
{
    const vtag_video_stats *st = &v->stats;
    if (v->status) cli_error("frames", "%s", v->err.msg);
    sh->fatal |= v->fatal;
    if (!v->opened) return;
    if (v->damaged) {
        char of[64] = "", cut[96] = "";
        if (st->targets >= 0) snprintf(of, sizeof of, " of %lld", (long long)st->targets);
        if (st->missing_seconds > 0)
            snprintf(cut, sizeof cut, ", file cut short (the last %.2f s are missing)", st->missing_seconds);
        cli_error("frames", "%s: damaged stream: %lld%s frames decoded, %lld damaged packets%s", v->video,
                  (long long)st->frames_out, of, (long long)st->damaged_packets, cut);
    } else if (sh->verbose) {
        cli_note("frames",
                 "%s: %lld frames; %s plan, %lld seeks, %lld packets read, %lld decoded, "
                 "%lld converted (index predicted %lld decodes; seek %lld, linear %lld)",
                 v->video, (long long)st->frames_out, strategy_name(st->strategy), (long long)st->seeks,
                 (long long)st->packets_read, (long long)st->frames_decoded, (long long)st->frames_converted,
                 (long long)st->cost_plan, (long long)st->cost_seek, (long long)st->cost_linear);
    }
}

static void video_done(void *user, const vtag_frames_video *v)
{
    shown *sh = user;
    cli_progress_clear(&sh->bar);
    report(sh, v);
    cli_progress_show(&sh->bar, NULL, v->index + 1, sh->n);
}

int cmd_frames(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    frames_args a = {0};
    a.videos = calloc((size_t)argc, sizeof *a.videos);
    if (!a.videos) {
        cli_error("frames", "out of memory");
        return CLI_EXIT_FAIL;
    }
    if (parse_args(argc, argv, &a)) {
        free(a.videos);
        return CLI_EXIT_USAGE;
    }
    vtag_inputs_list in = {0}; /* the videos, folders walked */
    vtag_error ierr = {0};
    int erc = vtag_inputs_expand(a.videos, a.n_videos, &a.io, &in, &ierr);
    free(a.videos);
    a.videos = (const char **)in.paths, a.n_videos = (int)in.n;
    if (erc) {
        cli_error("frames", "%s", ierr.msg);
        vtag_inputs_list_free(&in);
        return erc == VTAG_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    vtag_video_set_log(a.verbose ? VTAG_VIDEO_LOG_WARNING : VTAG_VIDEO_LOG_QUIET);
    /* A run replaces DIR's PNGs and index, and removes the PNGs only the old
     * index named: a video inside DIR could be one of them. */
    const int64_t inside = vtag_frames_find_inside(a.videos, a.n_videos, a.out_dir);
    if (inside >= 0) {
        cli_error("frames", "%s is inside --out %s, whose files a run replaces; write the frames elsewhere",
                  a.videos[inside], a.out_dir);
        vtag_inputs_list_free(&in);
        return CLI_EXIT_USAGE;
    }
    shown sh = {.verbose = a.verbose, .n = a.n_videos};
    cli_progress_start(&sh.bar, "frames", "videos", 0);
    a.o.video_done = video_done;
    a.o.user = &sh;
    vtag_frames_result res;
    vtag_error err = {0};
    int rc = vtag_frames_extract(a.videos, a.n_videos, a.out_dir, &a.o, &res, &err);
    cli_progress_clear(&sh.bar);
    if (rc && !sh.fatal) cli_error("frames", "%s", err.msg);
    vtag_inputs_list_free(&in);
    if (rc) return rc == VTAG_ERR_ARG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    return res.failed ? CLI_EXIT_FAIL : res.damaged ? FRAMES_EXIT_DAMAGED : CLI_EXIT_OK;
}

/* vtag tag: videos in, one JSON line of tags per video out, streamed as each
 * video finishes; a video that fails gets an error line and the rest go on. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/tag.h"
#include "vtag/tagger.h"

static const char *CMD = "tag";

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag tag --from DIR [--model fc|att2in|topdown] [options] VIDEO...\n"
            "       vtag tag --checkpoint M.safetensors --backbone B [options] VIDEO...\n"
            "\n"
            "Samples frames from each video, captions every frame with a trained model and counts\n"
            "the labels over the frames. Prints one JSON line per video as soon as it is done:\n"
            "  {\"video\", \"class1\", \"class2\", \"tags\": [{\"label\", \"frames\": k, \"score\": k/F}...],\n"
            "   \"labels\": [every label with its frame count, ranked], \"frames\": [{\"pts_seconds\", \"tokens\"}...]}\n"
            "class1 is the most frequent first label over the frames, class2 the most frequent\n"
            "second label among the frames that start with class1. A video that cannot be read\n"
            "gets {\"video\", \"error\"} and the others go on.\n"
            "\n"
            "model:\n"
            "  --from DIR           a folder made by vtag pipeline (its backbone, sampler and size)\n"
            "  --model NAME         which of DIR's models (default: the best on validation)\n"
            "  --checkpoint FILE    a caption model checkpoint (with --backbone)\n"
            "  --backbone FILE      built-in backbone (.safetensors) or ONNX model (.onnx)\n"
            "frames and decoding:\n"
            "  --sample SPEC        uniform:N | fps:F | keyframes | scene:T (the pipeline's, else uniform:16)\n"
            "  --size S             frame size (the backbone's)\n"
            "  --beam K             beam search of width K (default greedy)\n"
            "tags (one rule):\n"
            "  --top-n N            the N most frequent labels (default 5)\n"
            "  --min-frames C       every label seen in more than C frames\n"
            "other:\n"
            "  --list FILE          read video paths from FILE too (one per line; - for stdin)\n"
            "  --threads T          (number of cores)\n"
            "  --timing             per video, the seconds of each stage on stderr\n"
            "\n"
            "Exit codes: 0 every video tagged, 1 some failed (their lines say why), 2 usage.\n");
}

/* Tags one video and writes its line; returns 0 if tagged, 1 if it failed,
 * -1 if the output could not be written. */
static int tag_one(vtag_tagger_t *t, vtag_ctx *ctx, const char *path, const vtag_tag_opts *topt, int timing)
{
    vtag_error err = {0};
    vtag_tagger_stats st;
    vtag_tag_result out = {0};
    double t0 = vtag_seconds();
    int failed = 0;
    if (vtag_tagger_tag(t, ctx, path, topt, &out, &st, &err)) {
        failed = 1;
        vtag_error e2 = {0};
        if (vtag_tag_fail_result(&out, path, err.msg, &e2)) {
            cli_error(CMD, "%s", e2.msg);
            return -1;
        }
    }
    vtag_error werr = {0};
    int wrc = vtag_tag_write(stdout, &out, &werr);
    if (wrc) {
        cli_error(CMD, "stdout: %s", werr.msg);
        clearerr(stdout); /* reported (with its reason): the check at exit must not repeat it */
    }
    if (timing && !failed)
        cli_note(CMD, "%s: %lld frames, decode %.3f s, backbone %.3f s, caption %.3f s, total %.3f s", path,
                 (long long)st.n_frames, st.seconds_decode, st.seconds_backbone, st.seconds_caption,
                 vtag_seconds() - t0);
    vtag_tag_result_free(&out);
    return wrc ? -1 : failed;
}

int cmd_tag(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, 0, 'f'},       {"model", required_argument, 0, 'm'},
        {"checkpoint", required_argument, 0, 'c'}, {"backbone", required_argument, 0, 'b'},
        {"sample", required_argument, 0, 's'},     {"size", required_argument, 0, 'z'},
        {"beam", required_argument, 0, 'k'},       {"top-n", required_argument, 0, 'n'},
        {"min-frames", required_argument, 0, 'C'}, {"list", required_argument, 0, 'l'},
        {"threads", required_argument, 0, 't'},    {"timing", no_argument, 0, 'T'},
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
    long v, threads = 0;
    int timing = 0, have_top = 0, have_min = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
        case 'n':
            if (cli_parse_int(CMD, "--top-n", optarg, 0, 1000000, &v)) return CLI_EXIT_USAGE;
            topt.rule = VTAG_TAG_RULE_TOP_N, topt.top_n = v, have_top = 1;
            break;
        case 'C':
            if (cli_parse_int(CMD, "--min-frames", optarg, 0, 1000000, &v)) return CLI_EXIT_USAGE;
            topt.rule = VTAG_TAG_RULE_MIN_FRAMES, topt.min_frames = v, have_min = 1;
            break;
        case 'l': list = optarg; break;
        case 't': if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE; break;
        case 'T': timing = 1; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (have_top && have_min) {
        cli_error(CMD, "--top-n and --min-frames exclude each other");
        return CLI_EXIT_USAGE;
    }
    if (o.dir ? (o.checkpoint || o.backbone) : (!o.checkpoint || !o.backbone)) {
        cli_error(CMD, "give --from DIR, or --checkpoint and --backbone (vtag tag --help)");
        return CLI_EXIT_USAGE;
    }
    if (o.model && !o.dir) {
        cli_error(CMD, "--model picks one of a pipeline's models: it needs --from");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc && !list) {
        cli_error(CMD, "no videos given (vtag tag --help)");
        return CLI_EXIT_USAGE;
    }
    /* vtag tag ... >> F appends to F: refused for the files named here (--from's are the pipeline's) */
    const cli_file ins[] = {{"--checkpoint", o.checkpoint}, {"--backbone", o.backbone},
                            {"--list", list && strcmp(list, "-") ? list : NULL}};
    int clash = cli_check_outputs(CMD, NULL, 0, ins, 3, 1);
    if (!clash) clash = cli_check_outputs_paths(CMD, NULL, 0, "video", (const char *const *)argv + optind, argc - optind, 1);
    if (clash) return clash;
    FILE *lf = NULL;
    vtag_error err = {0};
    if (list && strcmp(list, "-") == 0) lf = stdin;
    else if (list && vtag_file_open(&lf, list, &err)) {
        cli_error(CMD, "%s", err.msg);
        return CLI_EXIT_FAIL;
    }

    vtag_ctx ctx;
    vtag_tagger_t *t = NULL;
    if (vtag_ctx_init(&ctx, (int)threads, 42, &err)) {
        cli_error(CMD, "%s", err.msg);
        if (lf && lf != stdin) fclose(lf);
        return CLI_EXIT_FAIL;
    }
    int status = CLI_EXIT_OK;
    int64_t n_done = 0, n_failed = 0;
    if (vtag_tagger_open(&t, &ctx, &o, &err)) {
        cli_error(CMD, "%s", err.msg);
        status = CLI_EXIT_FAIL;
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        int r = tag_one(t, &ctx, argv[i], &topt, timing);
        if (r < 0) {
            status = CLI_EXIT_FAIL;
            goto out;
        }
        n_done++, n_failed += r;
    }
    if (lf) {
        const char *lname = lf == stdin ? "stdin" : list;
        vtag_line ln = {0};
        int rc, r = 0;
        while (!(rc = vtag_line_read(&ln, lf, lname, VTAG_LINE_MAX, &err)) && ln.len > 0) {
            size_t n = strcspn(ln.data, "\r\n");
            ln.data[n] = 0;
            if (n == 0) continue;
            if ((r = tag_one(t, &ctx, ln.data, &topt, timing)) < 0) break; /* the output failed */
            n_done++, n_failed += r;
        }
        vtag_line_free(&ln);
        if (rc) cli_error(CMD, "%s", err.msg);
        if (rc || r < 0) {
            status = CLI_EXIT_FAIL;
            goto out;
        }
    }
    if (n_failed) {
        cli_error(CMD, "%lld of %lld videos failed (see their error lines)", (long long)n_failed, (long long)n_done);
        status = CLI_EXIT_FAIL;
    }
out:
    if (lf && lf != stdin) fclose(lf);
    vtag_tagger_close(&t);
    vtag_ctx_free(&ctx);
    return status;
}

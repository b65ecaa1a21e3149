/* vtag caption: a caption (labels) for every row of a features file, by
 * greedy decoding, beam search or sampling. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/caption.h"
#include "vtag/caption_out.h"
#include "vtag/captioner.h"
#include "vtag/data.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag caption --model M.safetensors --feats F.safetensors [options]\n"
            "\n"
            "Writes one line per feature row (per video for a video model): with --json\n"
            "  {\"item\": id, \"row\": i, \"tokens\": [labels...], \"logprobs\": [log p of each label, then of EOS]}\n"
            "else \"item<TAB>row<TAB>label label ...\". A label is never emitted twice in one caption.\n"
            "\n"
            "  -m, --model FILE    checkpoint written by vtag train\n"
            "  --feats FILE        features (fc / att as the model needs, vtag.items)\n"
            "  --beam K            beam search with K beams (the result is never below greedy's\n"
            "                      sequence log-probability)\n"
            "  --sample            sample from the model instead of greedy decoding\n"
            "  --temperature T     sampling temperature (1)\n"
            "  --seed S            sampling seed (42)\n"
            "  --batch B           rows decoded at once (50)\n"
            "  -j, --threads T     (number of cores)\n"
            "  --json              JSON lines (default: tab-separated text)\n"
            "  -h, --help          this help\n"
            "\n"
            "Exit codes: 0 done, 1 bad input or I/O error, 2 usage.\n");
}

int cmd_caption(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"feats", required_argument, 0, 'f'},
        {"beam", required_argument, 0, 'K'},  {"sample", no_argument, 0, 's'},
        {"temperature", required_argument, 0, 't'}, {"seed", required_argument, 0, 'S'},
        {"batch", required_argument, 0, 'B'}, {"threads", required_argument, 0, 'j'},
        {"json", no_argument, 0, 'J'},        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model_path = NULL, *feats_path = NULL;
    vtag_decode_opts dopt = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
    long beam = 0, seed = 42, batch = 50, threads = 0;
    int json = 0, sample = 0, c;
    double temp = 1.0;
    optind = 0;
    while ((c = cli_getopt("caption", argc, argv, opts)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'f': feats_path = optarg; break;
        case 'K':
            if (cli_parse_int("caption", "--beam", optarg, 1, 64, &beam)) return CLI_EXIT_USAGE;
            break;
        case 's': sample = 1; break;
        case 't':
            if (cli_parse_real("caption", "--temperature", optarg, 0, CLI_FLOAT_MAX, CLI_OPEN_LO | CLI_AS_FLOAT, &temp))
                return CLI_EXIT_USAGE;
            break;
        case 'S':
            if (cli_parse_int("caption", "--seed", optarg, 0, 0x7fffffffL, &seed)) return CLI_EXIT_USAGE;
            break;
        case 'B':
            if (cli_parse_int("caption", "--batch", optarg, 1, 1 << 20, &batch)) return CLI_EXIT_USAGE;
            break;
        case 'j':
            if (cli_parse_int("caption", "--threads", optarg, 1, 1024, &threads)) return CLI_EXIT_USAGE;
            break;
        case 'J': json = 1; break;
        case 'h': help(stdout); return CLI_EXIT_OK;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!model_path || !feats_path || optind < argc) {
        cli_error("caption", "--model and --feats are required (vtag caption --help)");
        return CLI_EXIT_USAGE;
    }
    if (beam && sample) {
        cli_error("caption", "--beam and --sample exclude each other");
        return CLI_EXIT_USAGE;
    }
    /* vtag caption ... >> F appends to the features file */
    const cli_file ins[] = {{"--model", model_path}, {"--feats", feats_path}};
    int clash = cli_check_outputs("caption", NULL, 0, ins, 2, 1);
    if (clash) return clash;
    if (beam) dopt = (vtag_decode_opts){VTAG_DECODE_BEAM, (int)beam, 1.0f, 0};
    if (sample) dopt = (vtag_decode_opts){VTAG_DECODE_SAMPLE, 1, (float)temp, 0};

    vtag_error err = {0};
    vtag_ctx ctx;
    vtag_captioner cap = {0};
    vtag_model *m = &cap.model;
    const vtag_data_vocab *vocab = &cap.vocab;
    vtag_data_features f;
    memset(&f, 0, sizeof f);
    int32_t *seq = NULL, *len = NULL;
    float *lp = NULL;
    int status = CLI_EXIT_FAIL, rc = vtag_ctx_init(&ctx, (int)threads, (uint64_t)seed, &err);
    if (!rc) rc = vtag_captioner_load(&cap, model_path, &err);
    if (!rc) rc = vtag_caption_out_read(&cap, feats_path, &f, &err); /* a row per video for a video-level model */
    if (!rc) rc = vtag_caption_out_check(&cap, &f, &err);
    if (!rc) rc = vtag_captioner_check_backbone_of(&cap, &f, "caption", &err); /* features of its own backbone */
    const int64_t L = m->cfg.max_length;
    if (!rc) {
        seq = malloc((size_t)(f.n * L) * sizeof(int32_t));
        len = malloc((size_t)f.n * sizeof(int32_t));
        lp = malloc((size_t)(f.n * (L + 1)) * sizeof(float));
        if (!seq || !len || !lp) rc = vtag_fail(&err, VTAG_ERR_NOMEM, "caption: out of memory");
    }
    /* In chunks of whole batches (the same captions as one call): progress between them. */
    cli_progress bar;
    cli_progress_start(&bar, "caption", "rows", 0);
    for (int64_t i = 0, chunk = batch * 8; !rc && i < f.n; i += chunk) {
        const int64_t n = f.n - i < chunk ? f.n - i : chunk;
        vtag_rows rows = {n, f.att_k, m->cfg.type == VTAG_MODEL_ATT2IN || !f.fc ? NULL : f.fc + i * f.fc_dim,
                          m->cfg.type == VTAG_MODEL_FC || !f.att ? NULL : f.att + i * f.att_k * f.att_dim, NULL};
        rc = vtag_caption_rows(&ctx, m, &rows, &dopt, (int)batch, seq + i * L, lp + i * (L + 1), len + i, &err);
        cli_progress_show(&bar, NULL, i + n, f.n);
    }
    cli_progress_clear(&bar);
    if (!rc) {
        /* every write checked: the first that fails stops the output, with its errno */
        int out_failed = 0;
        for (int64_t i = 0; i < f.n && !out_failed && !rc; i++) {
            const int32_t *s = seq + i * L;
            if (json) {
                char *line = NULL;
                rc = vtag_caption_out_json(&line, &cap, f.items[i], i, s, len[i], lp + i * (L + 1), feats_path, &err);
                if (!rc) out_failed = cli_put_line("caption", line);
                free(line);
            } else {
                errno = 0;
                int bad = printf("%s\t%lld\t", f.items[i], (long long)i) < 0;
                for (int32_t t = 0; t < len[i] && !bad; t++) bad = printf("%s%s", t ? " " : "", vocab->tokens[s[t]]) < 0;
                if (bad || putchar('\n') == EOF) out_failed = cli_stdout_error("caption", errno);
            }
        }
        if (!rc) status = out_failed || cli_flush_stdout("caption") ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    if (rc) cli_error("caption", "%s", err.msg);
    free(seq), free(len), free(lp);
    vtag_data_free_features(&f);
    vtag_captioner_free(&cap);
    vtag_ctx_free(&ctx);
    return status;
}

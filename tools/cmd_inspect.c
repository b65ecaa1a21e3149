/* vtag inspect: list a safetensors file's tensors and metadata. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vtag/core.h"
#include "vtag/provenance.h"
#include "vtag/safetensors.h"

/* Bytes of a metadata value shown (vtag.items runs to megabytes). */
#define META_SHOWN 200

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag inspect FILE.safetensors...\n"
            "       vtag inspect -h, --help\n"
            "\n"
            "Lists every tensor (name, dtype, shape) and every __metadata__ entry of\n"
            "checkpoints, feature files or any safetensors file, after checking its header.\n");
}

/* The backbone identity of a features file (vtag.backbone) or a checkpoint
 * (vtag.provenance) in full: the metadata lines above are cut. */
static int print_provenance(const vtag_st_file *f, const char *path)
{
    const char *prov = vtag_st_meta(f, VTAG_PROVENANCE_META), *bb = vtag_st_meta(f, VTAG_PROVENANCE_BACKBONE_META);
    vtag_backbone_identity id;
    char vocab[65] = "", esc[512];
    int known = 0;
    vtag_error err = {0};
    if (prov) known = vtag_provenance_parse(&id, vocab, prov, path, &err) == 0;
    else if (bb && vtag_provenance_backbone_parse(&id, &known, bb, path, &err)) known = 0;
    if (err.msg[0]) {
        cli_error("inspect", "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    if (!known) return CLI_EXIT_OK;
    vtag_text_escape(esc, sizeof esc, id.file);
    printf("  %s: backbone %s sha256 %s (fc %lld, att %lld x %lld)\n", prov ? "provenance" : "identity", esc, id.sha256,
           (long long)id.fc, (long long)id.att_k, (long long)id.att);
    if (prov) printf("  provenance: vocabulary sha256 %s\n", vocab);
    return CLI_EXIT_OK;
}

int cmd_inspect(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    if (cli_getopt("inspect", argc, argv, opts) != -1) return CLI_EXIT_USAGE;
    if (optind >= argc) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    int status = cli_check_outputs_paths("inspect", NULL, 0, "file", (const char *const *)argv + optind,
                                         argc - optind, 1);
    if (status) return status; /* vtag inspect F >> F */
    for (int a = optind; a < argc; a++) {
        vtag_st_file f;
        vtag_error err = {0};
        if (vtag_st_open(&f, argv[a], &err)) {
            cli_error("inspect", "%s", err.msg);
            status = CLI_EXIT_FAIL;
            continue;
        }
        /* names and values come from the file: escaped, as messages are */
        char esc[1024], cut[META_SHOWN + 1];
        vtag_text_escape(esc, sizeof esc, argv[a]);
        printf("%s: %d tensors\n", esc, f.count);
        for (int i = 0; i < f.count; i++) {
            const vtag_st_tensor *t = &f.tensors[i];
            vtag_text_escape(esc, sizeof esc, t->name);
            printf("  %-40s %s [", esc, vtag_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
            printf("]\n");
        }
        for (int i = 0; i < f.meta_count; i++) {
            const char *v = f.meta_values[i];
            size_t n = strlen(v), shown = n;
            if (shown > META_SHOWN) { /* cut at a character boundary */
                shown = META_SHOWN;
                while (shown > 0 && ((unsigned char)v[shown] & 0xC0) == 0x80) shown--;
            }
            memcpy(cut, v, shown);
            cut[shown] = '\0';
            vtag_text_escape(esc, sizeof esc, f.meta_keys[i]);
            printf("  meta %s = ", esc);
            vtag_text_escape(esc, sizeof esc, cut);
            printf("%s%s\n", esc, shown < n ? "..." : "");
        }
        if (print_provenance(&f, argv[a])) status = CLI_EXIT_FAIL;
        vtag_st_close(&f);
    }
    return status;
}

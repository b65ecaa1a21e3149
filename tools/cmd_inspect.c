/* vtag inspect: list a safetensors file's tensors and metadata. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vtag/core.h"
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
        vtag_st_close(&f);
    }
    return status;
}

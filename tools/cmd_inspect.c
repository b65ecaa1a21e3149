/* vtag inspect: list a safetensors file's tensors and metadata. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vtag/safetensors.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag inspect FILE.safetensors...\n"
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
    if (argc < 2) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    int status = CLI_EXIT_OK;
    for (int a = 1; a < argc; a++) {
        vtag_st_file f;
        vtag_error err = {0};
        if (vtag_st_open(&f, argv[a], &err)) {
            cli_error("inspect", "%s", err.msg);
            status = CLI_EXIT_FAIL;
            continue;
        }
        printf("%s: %d tensors\n", argv[a], f.count);
        for (int i = 0; i < f.count; i++) {
            const vtag_st_tensor *t = &f.tensors[i];
            printf("  %-40s %s [", t->name, vtag_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
            printf("]\n");
        }
        for (int i = 0; i < f.meta_count; i++) {
            const char *v = f.meta_values[i];
            printf("  meta %s = %.*s%s\n", f.meta_keys[i], 200, v, strlen(v) > 200 ? "..." : "");
        }
        vtag_st_close(&f);
    }
    return status;
}

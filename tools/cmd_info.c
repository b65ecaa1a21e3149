/* vtag info (also vtag --version): what a bug report needs — the kernel path, BLAS, threads,
 * FFmpeg and the build. */
#include <stdio.h>

#include "cli.h"
#include "vtag/info.h"
#include "vtag/video.h"

static void info_usage(FILE *out)
{
    fprintf(out,
            "usage: vtag info        (the same as vtag --version)\n"
            "       vtag info -h, --help\n"
            "\n"
            "Prints vtag's version, the SIMD kernel path in use and the paths this CPU runs, the BLAS\n"
            "library with the kernel set it chose and its thread model, the default thread count, the\n"
            "FFmpeg libraries loaded and how vtag was built. Put it in every bug report.\n"
            "\n"
            "environment:\n"
            "  VTAG_CPU=generic|avx2|avx512  force a kernel path (refused if this CPU cannot run it)\n"
            "  OPENBLAS_CORETYPE=NAME        force OpenBLAS's kernel set (e.g. Haswell, SkylakeX)\n"
            "  OMP_WAIT_POLICY=passive       OpenMP threads sleep at barriers (a busy machine)\n");
}

int cmd_info(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        info_usage(stdout);
        return CLI_EXIT_OK;
    }
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    if (cli_getopt("info", argc, argv, opts) != -1) return CLI_EXIT_USAGE;
    if (optind < argc) {
        cli_error("info", "unexpected argument '%s' (vtag info --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    vtag_info in;
    vtag_error err = {0};
    if (vtag_info_collect(&in, &err)) {
        cli_error("info", "%s", err.msg);
        return CLI_EXIT_USAGE;
    }
    char ffmpeg[256];
    vtag_video_versions(ffmpeg, sizeof ffmpeg);
    printf("vtag %s\n", VTAG_VERSION);
    printf("kernel path:  %s (%s; this CPU runs: %s)\n", vtag_isa_name(in.isa),
           in.isa_env[0] ? "forced by VTAG_CPU" : "the best this CPU runs; VTAG_CPU unset", in.isa_supported);
    printf("cpu:          %s, %d cores online\n", in.cpu, in.cores);
    printf("blas:         %s\n", in.blas);
    printf("blas kernels: %s (%s), threads: %s; vtag runs each GEMM as one-thread calls on pieces fixed by its "
           "shape\n",
           in.blas_core, in.blas_coretype_env[0] ? "forced by OPENBLAS_CORETYPE" : "chosen for this CPU",
           in.blas_threads);
    printf("threads:      %d by default (the cores online; --threads overrides)\n", in.cores);
    printf("openmp:       %d\n", in.openmp);
    printf("ffmpeg:       %s\n", ffmpeg);
    printf("build:        %s\n", in.build);
    return CLI_EXIT_OK;
}

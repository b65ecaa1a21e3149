/* What runs where: the kernel path, the BLAS library and its threading, the
 * default thread count and the build — what `vtag info` / `vtag --version`
 * print and a bug report needs. The FFmpeg libraries' versions come from
 * vtag_video_versions (vtag/video.h). */
#ifndef VTAG_INFO_H
#define VTAG_INFO_H

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_info {
    vtag_isa isa;             /* the path in use: VTAG_CPU, else the best */
    char isa_supported[64];   /* the paths this CPU runs (vtag_isa_list_supported) */
    char isa_env[16];         /* VTAG_CPU as set ("" when unset) */
    char cpu[128];            /* the CPU's model name (Linux: /proc/cpuinfo), or "unknown" */
    int cores;                /* online: the default --threads */
    char blas[256];           /* the BLAS library's own description (openblas_get_config) */
    char blas_core[32];       /* the kernel set it chose for this CPU (OPENBLAS_CORETYPE overrides) */
    char blas_coretype_env[32]; /* OPENBLAS_CORETYPE as set ("" when unset) */
    const char *blas_threads; /* its thread model: "sequential", "pthreads" or "OpenMP" */
    int openmp;               /* the OpenMP version vtag was built with (yyyymm) */
    char build[160];          /* build type, compiler, portable or native, sanitizers */
} vtag_info;

/* Fills info; fails (with VTAG_CPU named) only when VTAG_CPU asks for a path
 * this CPU cannot run or that does not exist. */
int vtag_info_collect(vtag_info *info, vtag_error *err);

#ifdef __cplusplus
}
#endif

#endif

/* vtag_info: the kernel path, BLAS, threads and build of this process. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/info.h"

#ifndef VTAG_BUILD_TYPE
#define VTAG_BUILD_TYPE "unknown"
#endif

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static void cpu_model(char *dst, size_t cap)
{
    copy(dst, cap, "unknown");
    FILE *f;
    if (vtag_file_open(&f, "/proc/cpuinfo", NULL)) return;
    vtag_line ln = {0};
    while (!vtag_line_read(&ln, f, "/proc/cpuinfo", VTAG_LINE_MAX, NULL) && ln.len > 0) {
        if (strncmp(ln.data, "model name", 10) != 0) continue;
        const char *v = strchr(ln.data, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        copy(dst, cap, v);
        dst[strcspn(dst, "\n")] = '\0';
        break;
    }
    vtag_line_free(&ln);
    fclose(f);
}

int vtag_info_collect(vtag_info *info, vtag_error *err)
{
    memset(info, 0, sizeof *info);
    vtag_isa_list_supported(info->isa_supported, sizeof info->isa_supported);
    copy(info->isa_env, sizeof info->isa_env, getenv("VTAG_CPU"));
    int rc = vtag_isa_select(&info->isa, err);
    if (rc) return rc;
    cpu_model(info->cpu, sizeof info->cpu);
    info->cores = vtag_default_threads();
    copy(info->blas, sizeof info->blas, openblas_get_config());
    info->blas[strcspn(info->blas, "\n")] = '\0';
    copy(info->blas_core, sizeof info->blas_core, openblas_get_corename());
    copy(info->blas_coretype_env, sizeof info->blas_coretype_env, getenv("OPENBLAS_CORETYPE"));
    switch (openblas_get_parallel()) {
    case 0: info->blas_threads = "sequential"; break;
    case 1: info->blas_threads = "pthreads"; break;
    default: info->blas_threads = "OpenMP"; break;
    }
#ifdef _OPENMP
    info->openmp = _OPENMP;
#endif
    const char *native =
#ifdef VTAG_BUILD_NATIVE
        "native (-march=native outside the per-path kernels)";
#else
        "portable";
#endif
    const char *san =
#if defined(__SANITIZE_ADDRESS__)
        ", ASan+UBSan";
#else
        "";
#endif
#if defined(__clang__)
    const char *cc = "clang ";
#elif defined(__GNUC__)
    const char *cc = "gcc ";
#else
    const char *cc = "";
#endif
    snprintf(info->build, sizeof info->build, "%s, %s%s, %s%s", VTAG_BUILD_TYPE, cc, __VERSION__, native, san);
    return VTAG_OK;
}

/* Kernels compiled once per path. CMake builds each file listed in
 * VTAG_ISA_SOURCES three times — as x86-64 baseline, x86-64-v3 (AVX2, FMA)
 * and x86-64-v4 (AVX-512) — defining VTAG_ISA_BUILD_GENERIC, _AVX2 or
 * _AVX512, so one source gives three sets of symbols: a kernel `f` is
 * defined as VTAG_ISA_FN(f) (f_generic, f_avx2, f_avx512), its intrinsics sit
 * under #if defined(__AVX512F__) / defined(__AVX2__) with a portable #else,
 * and callers pick a variant with VTAG_ISA_CALL(ctx->isa, f)(args...).
 * The rest of the library is built for the baseline only. */
#ifndef VTAG_CORE_ISA_H
#define VTAG_CORE_ISA_H

#include "vtag/core.h"

#if defined(VTAG_ISA_BUILD_AVX512)
#define VTAG_ISA_FN(name) name##_avx512
#elif defined(VTAG_ISA_BUILD_AVX2)
#define VTAG_ISA_FN(name) name##_avx2
#else
#define VTAG_ISA_FN(name) name##_generic
#endif

/* Declares the three variants of a kernel: VTAG_ISA_DECLARE(void, f, (int a, float *b)); */
#define VTAG_ISA_DECLARE(ret, name, params) \
    ret name##_generic params;              \
    ret name##_avx2 params;                 \
    ret name##_avx512 params

/* The variant of `name` for path `isa`. */
#define VTAG_ISA_CALL(isa, name) \
    ((isa) == VTAG_ISA_AVX512 ? name##_avx512 : (isa) == VTAG_ISA_AVX2 ? name##_avx2 : name##_generic)

#endif

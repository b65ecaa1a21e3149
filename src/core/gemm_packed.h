/* The per-path kernel behind vtag_gemm_packed (gemm_packed.c, built once per kernel path). */
#ifndef VTAG_CORE_GEMM_PACKED_H
#define VTAG_CORE_GEMM_PACKED_H

#include "core/isa.h"

/* C[m, panels p0..p1 of 16 columns] = alpha · A[m, k] · B + beta · C, B packed by vtag_gemm_pack. */
VTAG_ISA_DECLARE(void, vtag_gemm_packed_panels,
                 (int64_t m, int64_t p0, int64_t p1, int64_t k, int64_t n, float alpha, const float *a, int64_t lda,
                  const float *bp, float beta, float *c, int64_t ldc));

#endif

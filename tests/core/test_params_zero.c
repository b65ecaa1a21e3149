/* vtag_params_alloc hands out zeroed buffers even when the allocator
 * recycles memory that held values before: its large blocks are zeroed by
 * giving their pages back to the kernel (MADV_DONTNEED), the block's
 * unaligned head and tail by memset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/core.h"

/* 1 when the n floats at p are all +0.0 (bit for bit). */
static int all_zero(const float *p, int64_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < (size_t)n * sizeof *p; i++)
        if (b[i]) return 0;
    return 1;
}

/* A store of tensors with numel[0..n) floats each, allocated, checked zero,
 * then filled with garbage before it is freed (so that the next round may
 * get the dirty memory back). */
static void round_trip(const int64_t *numel, int n, const char *what)
{
    vtag_params p;
    vtag_params_init(&p);
    vtag_error err = {0};
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        CHECK(vtag_params_add(&p, name, 1, &numel[i], &err) == i, "%s: add: %s", what, err.msg);
    }
    CHECK(vtag_params_alloc(&p, &err) == VTAG_OK, "%s: alloc: %s", what, err.msg);
    if (!p.value) return;
    float *bufs[4] = {p.value, p.grad, p.adam_m, p.adam_v};
    for (int k = 0; k < 4; k++) {
        CHECK(((uintptr_t)bufs[k] & 63) == 0, "%s: buffer %d not 64-byte aligned", what, k);
        CHECK(all_zero(bufs[k], p.total), "%s: buffer %d of %lld floats not zero", what, k, (long long)p.total);
        for (int64_t i = 0; i < p.total; i++) bufs[k][i] = (float)(i % 97) + 0.5f;
    }
    vtag_params_free(&p);
}

int main(void)
{
    /* small (memset), just over a page, and large blocks (pages given back) of
     * odd sizes so that heads and tails are partial pages */
    const int64_t small[] = {3, 17};
    const int64_t page[] = {1025, 7};
    const int64_t large[] = {1 << 20, 12345, 3};
    const int64_t larger[] = {(1 << 21) + 11, 1};
    for (int r = 0; r < 3; r++) {
        round_trip(small, 2, "small");
        round_trip(page, 2, "page");
        round_trip(large, 3, "large");
        round_trip(larger, 2, "larger");
        round_trip(large, 3, "large again");
    }
    /* dirty heap memory of the same size freed just before */
    for (int r = 0; r < 3; r++) {
        size_t bytes = ((size_t)(1 << 20) + 16) * sizeof(float);
        float *junk = malloc(bytes);
        CHECK(junk != NULL, "malloc");
        if (junk) memset(junk, 0x5a, bytes);
        free(junk);
        round_trip(large, 1, "after junk");
    }
    return check_summary("params_zero");
}

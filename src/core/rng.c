/* splitmix64: a counter-based generator, so that a parallel fill of n draws
 * gives the same numbers as a sequential one, whatever the thread count. */
#include <math.h>

#include "vtag/core.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void vtag_rng_seed(vtag_rng *rng, uint64_t seed) { rng->state = mix(seed + GOLDEN); }

uint64_t vtag_rng_at(uint64_t base, uint64_t index) { return mix(base + (index + 1) * GOLDEN); }

void vtag_rng_skip(vtag_rng *rng, uint64_t n) { rng->state += n * GOLDEN; }

uint64_t vtag_rng_next(vtag_rng *rng)
{
    rng->state += GOLDEN;
    return mix(rng->state);
}

/* 24 high bits: every value is exactly representable and < 1. */
float vtag_rng_uniform_at(uint64_t base, uint64_t index)
{
    return (float)(vtag_rng_at(base, index) >> 40) * (1.0f / 16777216.0f);
}

float vtag_rng_uniform(vtag_rng *rng) { return (float)(vtag_rng_next(rng) >> 40) * (1.0f / 16777216.0f); }

float vtag_rng_normal(vtag_rng *rng)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    double u1 = ((double)(vtag_rng_next(rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(vtag_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

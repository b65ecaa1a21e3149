/* The execution context: thread count, RNG, arena and GEMM backend. */
#include <string.h>
#include <unistd.h>

#include "vtag/core.h"

int vtag_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int vtag_ctx_init(vtag_ctx *ctx, int threads, uint64_t seed, vtag_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->threads = threads > 0 ? threads : vtag_default_threads();
    ctx->backend = &vtag_backend_cblas;
    vtag_rng_seed(&ctx->rng, seed);
    int rc = vtag_isa_select(&ctx->isa, err);
    if (rc) return rc;
    return vtag_arena_init(&ctx->arena, (size_t)1 << 20, err);
}

void vtag_ctx_free(vtag_ctx *ctx) { vtag_arena_free(&ctx->arena); }

int64_t vtag_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

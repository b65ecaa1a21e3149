/* Kernel paths: what this CPU runs, and VTAG_CPU, which forces one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/core.h"

static const char *const isa_names[VTAG_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *vtag_isa_name(vtag_isa isa)
{
    return (unsigned)isa < VTAG_ISA_COUNT ? isa_names[isa] : "unknown";
}

int vtag_isa_supported(vtag_isa isa)
{
    switch (isa) {
    case VTAG_ISA_GENERIC: return 1;
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc's cpuid reading also checks that the OS saves the AVX / AVX-512
     * registers (XCR0), so a feature the kernel disabled is reported absent. */
    case VTAG_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
    case VTAG_ISA_AVX512:
        return vtag_isa_supported(VTAG_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd");
#endif
    default: return 0;
    }
}

vtag_isa vtag_isa_best(void)
{
    for (int i = VTAG_ISA_COUNT - 1; i > 0; i--)
        if (vtag_isa_supported((vtag_isa)i)) return (vtag_isa)i;
    return VTAG_ISA_GENERIC;
}

void vtag_isa_list_supported(char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < VTAG_ISA_COUNT; i++)
        if (vtag_isa_supported((vtag_isa)i) && len < cap) {
            int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", isa_names[i]);
            if (w > 0) len += (size_t)w;
        }
}

int vtag_isa_select(vtag_isa *isa, vtag_error *err)
{
    *isa = vtag_isa_best();
    const char *want = getenv("VTAG_CPU");
    if (!want || !*want) return VTAG_OK;
    char have[64];
    vtag_isa_list_supported(have, sizeof have);
    for (int i = 0; i < VTAG_ISA_COUNT; i++) {
        if (strcmp(want, isa_names[i]) != 0) continue;
        if (!vtag_isa_supported((vtag_isa)i))
            return vtag_fail(err, VTAG_ERR_UNSUPPORTED, "VTAG_CPU=%s: this CPU cannot run the %s path (it runs: %s)",
                             want, want, have);
        *isa = (vtag_isa)i;
        return VTAG_OK;
    }
    return vtag_fail(err, VTAG_ERR_ARG, "VTAG_CPU=%.32s: unknown path (use generic, avx2 or avx512; this CPU runs: %s)",
                     want, have);
}

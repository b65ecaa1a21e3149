/* Shared by the fuzz targets of tests/fuzz: the scratch file a target hands
 * to the path-taking readers, and the entry points libFuzzer calls. */
#ifndef VTAG_FUZZ_H
#define VTAG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Optional, as in libFuzzer: a target defines it only when it has something to set up. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* This process's scratch file: in $VTAG_FUZZ_TMP (run.sh gives each run a
 * folder of its own), else /dev/shm (memory, not disk), named by the PID so
 * that fuzzers running side by side never share one. The suffix is there for
 * readers that choose a format by extension. */
static inline void fuzz_path(char *buf, size_t cap, const char *suffix)
{
    const char *dir = getenv("VTAG_FUZZ_TMP");
    if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, cap, "%s/vtag-fuzz-%ld%s", dir, (long)getpid(), suffix);
}

/* Writes the scratch file with the input; each target removes it when the
 * input is done (after a crash run.sh's folder goes with the run). A harness
 * that cannot write its own file has nothing to test: it stops loudly
 * instead of passing silently. */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    size_t n = f && size ? fwrite(data, 1, size, f) : 0;
    if (!f || fclose(f) != 0 || n != size) {
        fprintf(stderr, "fuzz: cannot write the scratch file %s\n", path);
        abort();
    }
}

/* Keeps a value computed from what the library handed out, so that the
 * reads behind it (checked by ASan) are not optimised away. */
static inline void fuzz_keep(size_t v) { __asm__ volatile("" : : "r"(v)); }

#endif

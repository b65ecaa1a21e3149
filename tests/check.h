/* A minimal test harness: CHECK records a failure and goes on; a test's
 * main ends with `return check_summary("name");`, which prints
 * "N passed, N failed" and returns non-zero on any failure. */
#ifndef VTAG_TEST_CHECK_H
#define VTAG_TEST_CHECK_H

#include <math.h>
#include <stdio.h>

typedef struct check_state {
    int passed, failed;
} check_state;

static check_state check_counts;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (cond) {                                                              \
            check_counts.passed++;                                               \
        } else {                                                                 \
            check_counts.failed++;                                               \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

#define CHECK_NEAR(a, b, tol, what)                                                                     \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %.3g)", (what), (double)(a), \
          (double)(b), (double)(tol))

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_counts.passed, check_counts.failed);
    return check_counts.failed ? 1 : 0;
}

#endif

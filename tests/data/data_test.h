/* Helpers for the data tests: write small files under the fixtures folder
 * and check that a call fails with a given one-line message. */
#ifndef VTAG_TEST_DATA_H
#define VTAG_TEST_DATA_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "vtag/data.h"

static void data_test_mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
    mkdir(buf, 0755);
}

/* Writes exactly len bytes (len < 0: strlen) to path. */
static void data_test_write(const char *path, const char *text, long len)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fwrite(text, 1, len < 0 ? strlen(text) : (size_t)len, f);
    fclose(f);
}

/* Reads a labels file that must fail with a message containing `want`. */
#define EXPECT_LABELS_ERROR(path, text, want)                                                      \
    do {                                                                                           \
        data_test_write((path), (text), -1);                                                       \
        vtag_data_labels l_;                                                                       \
        vtag_error e_ = {0};                                                                       \
        int rc_ = vtag_data_read_labels(&l_, (path), NULL, &e_);                                   \
        CHECK(rc_ != 0, "%s: expected an error", (path));                                          \
        CHECK(strstr(e_.msg, (want)) != NULL, "message \"%s\" lacks \"%s\"", e_.msg, (want));      \
        CHECK(strchr(e_.msg, '\n') == NULL, "message \"%s\" is not one line", e_.msg);             \
        CHECK(l_.entries == NULL && l_.count == 0, "failed read leaves an empty object");          \
        vtag_data_free_labels(&l_);                                                                \
    } while (0)

#endif

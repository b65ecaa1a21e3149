/* Issue 14, point 5: a features file whose item ids pass the safetensors
 * header limit (100 MiB) — 1.1 M rows of 100-byte ids, 4 rows per video —
 * is written and read back, ids intact; the ids are then not in the header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/data.h"
#include "vtag/safetensors.h"

#define TDIR "data_features_large"
#define PATH TDIR "/large.safetensors"

enum { ROWS = 1100000, FRAMES = 4, ID_LEN = 99 }; /* 100 bytes with the NUL: 110 MB of ids */

int main(void)
{
    mkdir(TDIR, 0755);
    char *text = malloc((size_t)ROWS / FRAMES * (ID_LEN + 1));
    const char **items = malloc((size_t)ROWS * sizeof *items);
    float *fc = calloc(ROWS, sizeof *fc);
    if (!text || !items || !fc) return 1;
    for (int64_t v = 0; v < ROWS / FRAMES; v++) {
        char *id = text + v * (ID_LEN + 1);
        /* a long path, padded to ID_LEN characters; non-ASCII on purpose */
        int n = snprintf(id, ID_LEN + 1, "archive/2026/渠道-%07lld/clips/", (long long)v);
        memset(id + n, 'x', (size_t)(ID_LEN - n - 4));
        memcpy(id + ID_LEN - 4, ".mp4", 5);
        for (int k = 0; k < FRAMES; k++) {
            items[v * FRAMES + k] = id;
            fc[v * FRAMES + k] = (float)v;
        }
    }
    vtag_data_features w = {.n = ROWS, .fc_dim = 1, .fc = fc, .items = items, .backbone = "test"};
    vtag_error err = {0};
    int rc = vtag_data_write_features(&w, PATH, &err);
    CHECK(rc == 0, "write: %s", err.msg);

    /* The ids are not in the header: the file stays readable by any reader. */
    vtag_st_file st;
    rc = vtag_st_open(&st, PATH, &err);
    CHECK(rc == 0, "safetensors open: %s", err.msg);
    if (!rc) {
        CHECK(vtag_st_meta(&st, "vtag.items") == NULL, "vtag.items in the header");
        const vtag_st_tensor *t = vtag_st_find(&st, "items");
        CHECK(t && t->nbytes == (size_t)ROWS * (ID_LEN + 1), "tensor items: %zu bytes", t ? t->nbytes : 0);
        vtag_st_close(&st);
    }

    vtag_data_features f;
    rc = vtag_data_read_features(&f, PATH, &err);
    CHECK(rc == 0, "read back: %s", err.msg);
    if (!rc) {
        CHECK(f.n == ROWS && f.fc_dim == 1, "%lld rows", (long long)f.n);
        int64_t bad = -1, unshared = -1;
        for (int64_t r = 0; r < f.n && bad < 0; r++) {
            if (strcmp(f.items[r], items[r]) != 0 || f.fc[r] != fc[r]) bad = r;
            /* a video's rows share one id (vtag_data_map_rows relies on it) */
            if (r % FRAMES && f.items[r] != f.items[r - 1] && unshared < 0) unshared = r;
        }
        CHECK(bad < 0, "row %lld: id or fc differs", (long long)bad);
        CHECK(unshared < 0, "row %lld does not share its video's id", (long long)unshared);
        CHECK(f.backbone && strcmp(f.backbone, "test") == 0, "backbone");
        vtag_data_free_features(&f);
    }
    unlink(PATH);
    rmdir(TDIR);
    free(text);
    free(items);
    free(fc);
    return check_summary("data/test_features_large");
}

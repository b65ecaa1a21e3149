/* vtag_data_video_row and vtag_data_features_by_video against hand-computed
 * rows: fewer frames than positions, as many, more, a video's rows apart, and
 * features without fc refused. */
#include <string.h>

#include "check.h"
#include "vtag/data.h"

/* Row r of a [n, 2] matrix is {r, 10 r}: the picked rows are readable. */
static void fill(float *rows, int64_t n)
{
    for (int64_t r = 0; r < n; r++) rows[2 * r] = (float)r, rows[2 * r + 1] = 10.0f * (float)r;
}

static void check_row(int64_t n, int64_t T, const int64_t *want_rows)
{
    float rows[2 * 16], fc[2], att[2 * 16];
    vtag_error err = {0};
    fill(rows, n);
    CHECK(vtag_data_video_row(rows, n, 2, T, fc, att, &err) == VTAG_OK, "n %lld T %lld: %s", (long long)n,
          (long long)T, err.msg);
    for (int64_t j = 0; j < T; j++) {
        CHECK(att[2 * j] == (float)want_rows[j], "n %lld T %lld: position %lld holds row %g, not %lld",
              (long long)n, (long long)T, (long long)j, att[2 * j], (long long)want_rows[j]);
        CHECK(att[2 * j + 1] == 10.0f * (float)want_rows[j], "second column of position %lld", (long long)j);
    }
    /* mean of 0..n-1 */
    CHECK_NEAR(fc[0], (double)(n - 1) / 2.0, 1e-6, "fc mean");
    CHECK_NEAR(fc[1], 10.0 * (double)(n - 1) / 2.0, 1e-5, "fc mean, second column");
}

static void test_video_row(void)
{
    /* n < T: row floor((j + 0.5) * 2 / 5) = 0 0 1 1 1 */
    check_row(2, 5, (const int64_t[]){0, 0, 1, 1, 1});
    /* n = T: every row once, in order */
    check_row(4, 4, (const int64_t[]){0, 1, 2, 3});
    /* n > T: floor((j + 0.5) * 10 / 3) = 1 5 8 */
    check_row(10, 3, (const int64_t[]){1, 5, 8});
    /* one frame fills every position */
    check_row(1, 3, (const int64_t[]){0, 0, 0});
    float rows[2] = {1, 2}, fc[2], att[2];
    vtag_error err = {0};
    CHECK(vtag_data_video_row(rows, 0, 2, 1, fc, att, &err) == VTAG_ERR_ARG, "no frames is refused");
    CHECK(vtag_data_video_row(rows, 1, 2, 0, fc, att, &err) == VTAG_ERR_ARG, "no positions is refused");
}

static void test_by_video(void)
{
    /* Rows of videos a, b, c interleaved: a = rows 0 2 5, b = rows 1 4, c = row 3. */
    const char *items[6] = {"a", "b", "a", "c", "b", "a"};
    float fc_in[6 * 2];
    fill(fc_in, 6);
    vtag_data_features in = {0};
    in.n = 6;
    in.fc_dim = 2;
    in.fc = fc_in;
    in.items = items;
    in.backbone = "bb";
    in.path = "mem.safetensors";
    vtag_data_features out;
    vtag_error err = {0};
    CHECK(vtag_data_features_by_video(&in, 0, &out, &err) == VTAG_OK, "%s", err.msg);
    CHECK(out.n == 3, "3 videos, got %lld", (long long)out.n);
    CHECK(out.att_k == 3 && out.att_dim == 2 && out.fc_dim == 2, "T = the most rows (3), d = 2: %lld %lld %lld",
          (long long)out.att_k, (long long)out.att_dim, (long long)out.fc_dim);
    if (out.n == 3 && out.att_k == 3) {
        CHECK(strcmp(out.items[0], "a") == 0 && strcmp(out.items[1], "b") == 0 && strcmp(out.items[2], "c") == 0,
              "videos in order of first row");
        CHECK(out.backbone && strcmp(out.backbone, "bb") == 0, "backbone copied");
        /* a: rows 0 2 5 (n = T = 3): positions hold 0 2 5, mean 7/3 */
        const float want_a[3] = {0, 2, 5}, want_c[3] = {3, 3, 3};
        for (int j = 0; j < 3; j++) {
            CHECK(out.att[(0 * 3 + j) * 2] == want_a[j], "a position %d: %g", j, out.att[(0 * 3 + j) * 2]);
            CHECK(out.att[(2 * 3 + j) * 2] == want_c[j], "c position %d: %g", j, out.att[(2 * 3 + j) * 2]);
        }
        /* b: 2 rows into 3 positions: floor((j + 0.5) * 2 / 3) = 0 1 1 → rows 1 4 4 */
        CHECK(out.att[(1 * 3 + 0) * 2] == 1 && out.att[(1 * 3 + 1) * 2] == 4 && out.att[(1 * 3 + 2) * 2] == 4,
              "b positions: %g %g %g", out.att[6], out.att[8], out.att[10]);
        CHECK_NEAR(out.fc[0], 7.0 / 3.0, 1e-6, "a fc mean");
        CHECK_NEAR(out.fc[2], 2.5, 1e-6, "b fc mean");
        CHECK_NEAR(out.fc[4], 3.0, 1e-6, "c fc mean");
        CHECK_NEAR(out.fc[5], 30.0, 1e-5, "c fc mean, second column");
    }
    vtag_data_free_features(&out);

    /* A given T: 2 positions, a = rows 0 2 5 → floor((j + 0.5) * 3 / 2) = 0 2 → rows 0 5 */
    CHECK(vtag_data_features_by_video(&in, 2, &out, &err) == VTAG_OK, "%s", err.msg);
    CHECK(out.att_k == 2 && out.n == 3, "T = 2 as given");
    if (out.att_k == 2) CHECK(out.att[0] == 0 && out.att[2] == 5, "a with T 2: rows %g %g", out.att[0], out.att[2]);
    vtag_data_free_features(&out);

    /* No fc: refused, naming the file. */
    float att_in[6 * 1 * 2];
    fill(att_in, 6);
    vtag_data_features no_fc = in;
    no_fc.fc = NULL;
    no_fc.fc_dim = 0;
    no_fc.att = att_in;
    no_fc.att_k = 1;
    no_fc.att_dim = 2;
    memset(&err, 0, sizeof err);
    CHECK(vtag_data_features_by_video(&no_fc, 0, &out, &err) == VTAG_ERR_ARG, "features without fc are refused");
    CHECK(strstr(err.msg, "mem.safetensors") && strstr(err.msg, "fc"), "the message names the file and fc: %s",
          err.msg);
    CHECK(out.n == 0 && out.fc == NULL && out.impl == NULL, "out is left empty");
}

int main(void)
{
    test_video_row();
    test_by_video();
    return check_summary("video_level/video_rows");
}

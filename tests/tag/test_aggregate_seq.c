/* vtag_tag_aggregate_seq, the glue from caption rows (seq, len) to a tag
 * result: the same result as vtag_tag_aggregate_ids on the frames spelled
 * out, with and without a row index, and bad rows refused. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/tag.h"

static const char *const vocab[] = {NULL, "A", "B", "X", "Y", "t1"};

static int same(const vtag_tag_result *a, const vtag_tag_result *b)
{
    vtag_error e1 = {0}, e2 = {0};
    char *la = NULL, *lb = NULL;
    int ok = !vtag_tag_to_json(a, &la, &e1) && !vtag_tag_to_json(b, &lb, &e2) && strcmp(la, lb) == 0;
    free(la);
    free(lb);
    return ok;
}

int main(void)
{
    enum { L = 4 };
    /* rows: 0 "A X t1", 1 "B Y", 2 "A X" then ids past len that must be ignored, 3 empty */
    const int32_t seq[4 * L] = {1, 3, 5, 0, 2, 4, 0, 0, 1, 3, 2, 2, 0, 0, 0, 0};
    const int32_t len[4] = {3, 2, 2, 0};
    const double pts[3] = {0.5, 1.5, 2.5};
    vtag_tag_opts o;
    vtag_tag_opts_default(&o);
    vtag_error err = {0};

    const vtag_tag_frame_ids ids[3] = {{0.5, seq, 3}, {1.5, seq + L, 2}, {2.5, seq + 2 * L, 2}};
    vtag_tag_result want, got;
    CHECK(vtag_tag_aggregate_ids(&want, "v.mp4", ids, 3, vocab, 5, &o, &err) == 0, "ids: %s", err.msg);
    CHECK(vtag_tag_aggregate_seq(&got, "v.mp4", pts, seq, len, NULL, 3, L, vocab, 5, &o, &err) == 0, "seq: %s",
          err.msg);
    CHECK(same(&want, &got), "seq gives the ids' result");
    CHECK(got.n_frames == 3 && got.frames[2].n_tokens == 2, "frame 2 stops at len (%lld tokens)",
          (long long)(got.n_frames == 3 ? got.frames[2].n_tokens : -1));
    CHECK(got.class1 && strcmp(got.class1, "A") == 0, "class1 A");
    vtag_tag_result_free(&got);
    vtag_tag_result_free(&want);

    /* a row index, no times: frame i at i seconds */
    const int64_t rows[3] = {1, 3, 0};
    const vtag_tag_frame_ids ids2[3] = {{0, seq + L, 2}, {1, seq + 3 * L, 0}, {2, seq, 3}};
    CHECK(vtag_tag_aggregate_ids(&want, "w.mp4", ids2, 3, vocab, 5, &o, &err) == 0, "ids: %s", err.msg);
    CHECK(vtag_tag_aggregate_seq(&got, "w.mp4", NULL, seq, len, rows, 3, L, vocab, 5, &o, &err) == 0, "rows: %s",
          err.msg);
    CHECK(same(&want, &got), "rows give the ids' result");
    CHECK(got.class1 && strcmp(got.class1, "B") == 0, "class1 B (frame order by rows)");
    CHECK(got.n_frames == 3 && got.frames[1].pts_seconds == 1.0, "pts NULL: the frame index");
    vtag_tag_result_free(&got);
    vtag_tag_result_free(&want);

    /* no frames: an empty result */
    CHECK(vtag_tag_aggregate_seq(&got, "e.mp4", NULL, NULL, NULL, NULL, 0, L, vocab, 5, &o, &err) == 0, "empty: %s",
          err.msg);
    CHECK(got.n_frames == 0 && !got.class1, "empty result");
    vtag_tag_result_free(&got);

    /* refused: a length beyond L, a negative row, an id outside the vocabulary */
    const int32_t bad_len[1] = {L + 1};
    CHECK(vtag_tag_aggregate_seq(&got, "b.mp4", NULL, seq, bad_len, NULL, 1, L, vocab, 5, &o, &err) == VTAG_ERR_ARG,
          "len > L refused");
    CHECK(strstr(err.msg, "b.mp4") != NULL, "the message names the video: %s", err.msg);
    const int64_t neg[1] = {-1};
    CHECK(vtag_tag_aggregate_seq(&got, "b.mp4", NULL, seq, len, neg, 1, L, vocab, 5, &o, &err) == VTAG_ERR_ARG,
          "negative row refused");
    CHECK(vtag_tag_aggregate_seq(&got, "b.mp4", NULL, seq, len, NULL, 1, L, vocab, 4, &o, &err) == VTAG_ERR_ARG,
          "id 5 outside a vocabulary of 4 refused");
    return check_summary("tag/aggregate_seq");
}

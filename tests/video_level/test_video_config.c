/* vtag_model_config.frames in the checkpoint's vtag.config: written only for a
 * video-level model, read back, absent = 0 (old checkpoints), bounded, and
 * refused for the fc model (a video model attends over its frames). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/caption.h"

static vtag_model_config small(vtag_model_type type, int64_t frames)
{
    vtag_model_config c;
    vtag_model_config_defaults(&c);
    c.type = type;
    c.vocab_size = 5;
    c.input_encoding_size = c.rnn_size = c.att_hid_size = 8;
    c.fc_feat_size = c.att_feat_size = 4;
    c.frames = frames;
    return c;
}

int main(void)
{
    vtag_error err = {0};
    vtag_model_config c = small(VTAG_MODEL_TOPDOWN, 12), back;
    char *json = vtag_model_config_to_json(&c);
    CHECK(json && strstr(json, "\"frames\":12"), "a video model's config holds frames: %s", json ? json : "NULL");
    CHECK(json && vtag_model_config_from_json(&back, json, &err) == VTAG_OK && back.frames == 12,
          "frames read back: %s", err.msg);
    free(json);

    c = small(VTAG_MODEL_TOPDOWN, 0);
    json = vtag_model_config_to_json(&c);
    CHECK(json && !strstr(json, "frames"), "a frame-level config is as before (no frames): %s", json ? json : "NULL");
    CHECK(json && vtag_model_config_from_json(&back, json, &err) == VTAG_OK && back.frames == 0,
          "absent frames read as 0: %s", err.msg);
    free(json);

    const char *big = "{\"model\":\"topdown\",\"vocab_size\":5,\"frames\":70000}";
    CHECK(vtag_model_config_from_json(&back, big, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "frames"),
          "frames past the limit refused: %s", err.msg);
    const char *neg = "{\"model\":\"topdown\",\"vocab_size\":5,\"frames\":-1}";
    CHECK(vtag_model_config_from_json(&back, neg, &err) == VTAG_ERR_FORMAT, "negative frames refused: %s", err.msg);

    vtag_model m;
    c = small(VTAG_MODEL_FC, 12);
    CHECK(vtag_model_init(&m, &c, &err) == VTAG_ERR_ARG && strstr(err.msg, "video-level"),
          "an fc model cannot be video-level: %s", err.msg);
    c = small(VTAG_MODEL_TOPDOWN, 12);
    int rc = vtag_model_init(&m, &c, &err);
    CHECK(rc == VTAG_OK && m.cfg.frames == 12, "a video-level topdown model: %s", err.msg);
    if (rc == VTAG_OK) vtag_model_free(&m);
    return check_summary("video_level/video_config");
}

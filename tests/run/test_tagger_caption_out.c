/* vtag caption's output module (caption_out.h): a features file whose sizes
 * do not fit the model is refused with vtag caption's messages, and a
 * caption's JSON line is exact (labels, min(len, L) + 1 log-probabilities,
 * 9 significant digits); a label that is not UTF-8 fails the line. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/caption_out.h"

static void init(vtag_captioner *c, vtag_model_type type, const char *const *tokens)
{
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    cfg.type = type;
    cfg.vocab_size = 3, cfg.input_encoding_size = 4, cfg.rnn_size = 4, cfg.att_hid_size = 4;
    cfg.fc_feat_size = type == VTAG_MODEL_ATT2IN ? 0 : 8;
    cfg.att_feat_size = type == VTAG_MODEL_FC ? 0 : 6;
    cfg.max_length = 3;
    memset(c, 0, sizeof *c);
    vtag_error err = {0};
    CHECK(vtag_model_init(&c->model, &cfg, &err) == 0, "model: %s", err.msg);
    c->vocab.size = 3;
    c->vocab.tokens = tokens;
    c->path = "m.safetensors";
}

int main(void)
{
    static const char *const tokens[] = {NULL, "red", "gr\xff\xfe", "blue \"x\""};
    vtag_captioner c;
    vtag_error err = {0};
    vtag_data_features f = {.n = 1, .fc_dim = 8, .att_k = 2, .att_dim = 6, .path = "f.safetensors"};

    init(&c, VTAG_MODEL_TOPDOWN, tokens);
    CHECK(vtag_caption_out_check(&c, &f, &err) == 0, "sizes fit: %s", err.msg);
    f.fc_dim = 7;
    CHECK(vtag_caption_out_check(&c, &f, &err) == VTAG_ERR_FORMAT, "fc 7 refused");
    CHECK(strcmp(err.msg, "f.safetensors: fc has 7 features per row, the model m.safetensors expects 8") == 0,
          "fc message: %s", err.msg);
    f.fc_dim = 8, f.att_dim = 5;
    CHECK(vtag_caption_out_check(&c, &f, &err) == VTAG_ERR_FORMAT, "att 5 refused");
    CHECK(strcmp(err.msg, "f.safetensors: att has 5 features per position, the model m.safetensors expects 6") == 0,
          "att message: %s", err.msg);

    /* L = 3: a caption of 2 labels has 3 log-probabilities, one of 3 has 4 (the EOS's past L is not written) */
    const int32_t ids[3] = {1, 3, 1};
    const float lp[4] = {-0.5f, -0.25f, -1.0f / 3.0f, -2.0f};
    char *line = NULL;
    CHECK(vtag_caption_out_json(&line, &c, "v.mp4", 4, ids, 2, lp, "f.safetensors", &err) == 0, "json: %s", err.msg);
    const char *want = "{\"item\":\"v.mp4\",\"row\":4,\"tokens\":[\"red\",\"blue \\\"x\\\"\"],"
                       "\"logprobs\":[-0.5,-0.25,-0.333333343]}";
    CHECK(line && strcmp(line, want) == 0, "line:\n  %s\nwant\n  %s", line ? line : "(null)", want);
    free(line);
    CHECK(vtag_caption_out_json(&line, &c, "v.mp4", 0, ids, 3, lp, "f.safetensors", &err) == 0, "json: %s", err.msg);
    CHECK(line && strstr(line, "\"logprobs\":[-0.5,-0.25,-0.333333343,-2.0]}") != NULL, "full length: %s",
          line ? line : "(null)");
    free(line);
    CHECK(vtag_caption_out_json(&line, &c, "v.mp4", 0, ids, 0, lp, "f.safetensors", &err) == 0, "json: %s", err.msg);
    CHECK(line && strcmp(line, "{\"item\":\"v.mp4\",\"row\":0,\"tokens\":[],\"logprobs\":[-0.5]}") == 0,
          "empty caption: %s", line ? line : "(null)");
    free(line);

    /* a label that is not UTF-8, an id outside the vocabulary */
    const int32_t bad[2] = {1, 2}, out[1] = {4};
    line = (char *)"x";
    CHECK(vtag_caption_out_json(&line, &c, "v.mp4", 7, bad, 2, lp, "f.safetensors", &err) == VTAG_ERR_FORMAT &&
              line == NULL, "invalid UTF-8 refused");
    CHECK(strcmp(err.msg, "f.safetensors: row 7: cannot encode its line (invalid UTF-8 or out of memory)") == 0,
          "message: %s", err.msg);
    CHECK(vtag_caption_out_json(&line, &c, "v.mp4", 1, out, 1, lp, "f.safetensors", &err) == VTAG_ERR_FORMAT,
          "id 4 of 3 refused");
    vtag_model_free(&c.model);

    /* fc model: att sizes are not its business; att2in: fc is not */
    init(&c, VTAG_MODEL_FC, tokens);
    f.att_dim = 99;
    CHECK(vtag_caption_out_check(&c, &f, &err) == 0, "fc model ignores att: %s", err.msg);
    vtag_model_free(&c.model);
    init(&c, VTAG_MODEL_ATT2IN, tokens);
    f.fc_dim = 99, f.att_dim = 6;
    CHECK(vtag_caption_out_check(&c, &f, &err) == 0, "att2in model ignores fc: %s", err.msg);
    vtag_model_free(&c.model);
    return check_summary("run/tagger_caption_out");
}

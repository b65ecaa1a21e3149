/* vtag caption's output: a features file checked against a model, a caption
 * as a JSON line (docs/FORMATS.md, "Captions"). */
#include "vtag/caption_out.h"

#include <jansson.h>
#include <stdlib.h>

int vtag_caption_out_read(const vtag_captioner *c, const char *path, vtag_data_features *f, vtag_error *err)
{
    if (c->model.cfg.frames == 0) return vtag_data_read_features(f, path, err);
    vtag_data_features raw;
    int rc = vtag_data_read_features(&raw, path, err);
    if (!rc) rc = vtag_data_features_by_video(&raw, c->model.cfg.frames, f, err);
    vtag_data_free_features(&raw);
    return rc;
}

int vtag_caption_out_check(const vtag_captioner *c, const vtag_data_features *f, vtag_error *err)
{
    const vtag_model_config *m = &c->model.cfg;
    const char *model = c->path ? c->path : "model";
    if (m->type != VTAG_MODEL_ATT2IN && f->fc_dim != m->fc_feat_size)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: fc has %lld features per row, the model %s expects %lld",
                         f->path, (long long)f->fc_dim, model, (long long)m->fc_feat_size);
    if (m->type != VTAG_MODEL_FC && f->att_dim != m->att_feat_size)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: att has %lld features per position, the model %s expects %lld",
                         f->path, (long long)f->att_dim, model, (long long)m->att_feat_size);
    return VTAG_OK;
}

int vtag_caption_out_json(char **line, const vtag_captioner *c, const char *item, int64_t row, const int32_t *ids,
                          int32_t len, const float *logprobs, const char *source, vtag_error *err)
{
    *line = NULL;
    const int64_t L = c->model.cfg.max_length;
    json_t *toks = json_array(), *lps = json_array();
    int bad = !toks || !lps; /* a label json_string refuses fails the line, never drops out */
    for (int32_t t = 0; !bad && t < len; t++) {
        int32_t id = ids[t];
        const char *label = id >= 1 && id <= c->vocab.size ? c->vocab.tokens[id] : NULL;
        bad = !label || json_array_append_new(toks, json_string(label)) != 0;
    }
    if (bad) json_decref(toks), toks = NULL;
    for (int32_t t = 0; lps && t <= len && t <= L; t++) json_array_append_new(lps, json_real(logprobs[t]));
    json_t *o = json_pack("{s:s, s:I, s:o, s:o}", "item", item, "row", (json_int_t)row, "tokens", toks, "logprobs",
                          lps);
    *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    if (!*line)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: row %lld: cannot encode its line (invalid UTF-8 or out of memory)",
                         source, (long long)row);
    return VTAG_OK;
}

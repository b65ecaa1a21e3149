/* A checkpoint and its vocabulary, loaded and checked once. */
#include "vtag/captioner.h"

#include <stdlib.h>
#include <string.h>

int vtag_captioner_load(vtag_captioner *c, const char *path, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = vtag_checkpoint_load(&c->model, &c->vocab_json, path, err);
    if (!rc) rc = vtag_data_decode_vocab(&c->vocab, c->vocab_json, path, err);
    if (!rc && c->vocab.size != c->model.cfg.vocab_size)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.vocab has %lld labels, the model %lld", path,
                       (long long)c->vocab.size, (long long)c->model.cfg.vocab_size);
    if (!rc && !(c->path = strdup(path))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    if (rc) vtag_captioner_free(c);
    return rc;
}

int vtag_captioner_check_features(const vtag_captioner *c, int64_t d_fc, int64_t d_att, const char *what,
                                  vtag_error *err)
{
    const vtag_model_config *m = &c->model.cfg;
    if (m->type != VTAG_MODEL_ATT2IN && m->fc_feat_size != d_fc)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: the model expects fc of %lld features, %s gives %lld",
                         c->path ? c->path : "model", (long long)m->fc_feat_size, what, (long long)d_fc);
    if (m->type != VTAG_MODEL_FC && m->att_feat_size != d_att)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: the model expects att of %lld features, %s gives %lld",
                         c->path ? c->path : "model", (long long)m->att_feat_size, what, (long long)d_att);
    return VTAG_OK;
}

void vtag_captioner_free(vtag_captioner *c)
{
    vtag_model_free(&c->model);
    vtag_data_free_vocab(&c->vocab);
    free(c->vocab_json);
    free(c->path);
    memset(c, 0, sizeof *c);
}

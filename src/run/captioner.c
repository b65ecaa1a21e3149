/* A checkpoint and its vocabulary, loaded and checked once. */
#include "vtag/captioner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* vtag.provenance: its shape, and the hash of the vocabulary it names. */
static int load_provenance(vtag_captioner *c, const char *path, vtag_error *err)
{
    char want[65], got[65];
    int rc = vtag_provenance_parse(&c->backbone, want, c->provenance_json, path, err);
    if (!rc) rc = vtag_sha256_hex(c->vocab_json, strlen(c->vocab_json), got, err);
    if (!rc && strcmp(want, got) != 0)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.vocab is not the vocabulary vtag.provenance names (sha256 %.8s…)",
                       path, want);
    if (!rc && (!(c->backbone_sha256 = strdup(c->backbone.sha256)) || !(c->backbone_file = strdup(c->backbone.file))))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    return rc;
}

int vtag_captioner_load(vtag_captioner *c, const char *path, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    int rc = vtag_checkpoint_load_with_provenance(&c->model, &c->vocab_json, &c->provenance_json, path, err);
    if (!rc) rc = vtag_data_decode_vocab(&c->vocab, c->vocab_json, path, err);
    if (!rc && c->provenance_json) rc = load_provenance(c, path, err);
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

int vtag_captioner_check_backbone_of(const vtag_captioner *c, const vtag_data_features *f, const char *verb,
                                     vtag_error *err)
{
    if (!c->backbone_sha256) return VTAG_OK;
    vtag_backbone_identity got;
    int known = 0;
    int rc = vtag_provenance_backbone_parse(&got, &known, f->backbone, f->path ? f->path : "features", err);
    if (rc || !known) return rc;
    return vtag_provenance_check_features(c->path ? c->path : "model", &c->backbone, f->path ? f->path : "features",
                                          &got, verb, err);
}

int vtag_captioner_check_labels(const vtag_captioner *c, int (*has)(void *user, const char *label), void *user,
                                const char *where, vtag_error *err)
{
    char list[200] = "";
    int missing = 0;
    for (int64_t id = 1; id <= c->vocab.size; id++) {
        const char *tok = c->vocab.tokens[id];
        if (has(user, tok) || (id == c->vocab.unk && strcmp(tok, VTAG_DATA_UNK) == 0)) continue;
        if (missing < 5) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%.30s", missing ? ", " : "", tok);
        }
        missing++;
    }
    if (!missing) return VTAG_OK;
    return vtag_fail(err, VTAG_ERR_FORMAT, "%s: its label%s %s%s %s not in %s (a renamed label set?)",
                     c->path ? c->path : "model", missing > 1 ? "s" : "", list, missing > 5 ? "…" : "",
                     missing > 1 ? "are" : "is", where);
}

void vtag_captioner_free(vtag_captioner *c)
{
    free(c->provenance_json);
    free(c->backbone_sha256);
    free(c->backbone_file);
    vtag_model_free(&c->model);
    vtag_data_free_vocab(&c->vocab);
    free(c->vocab_json);
    free(c->path);
    memset(c, 0, sizeof *c);
}

/* Checkpoints (weights + vtag.model/config/vocab) and the training state
 * file that --resume reads (weights, Adam moments, epoch, RNG, best score). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_internal.h"
#include "vtag/safetensors.h"

static int add_meta(vtag_st_writer *w, const vtag_model *m, const char *vocab_json, vtag_error *err)
{
    char *cfg = vtag_model_config_to_json(&m->cfg);
    if (!cfg) return vtag_fail(err, VTAG_ERR_NOMEM, "checkpoint: out of memory");
    int rc = vtag_st_writer_meta(w, "vtag.model", vtag_model_type_name(m->cfg.type), err);
    if (!rc) rc = vtag_st_writer_meta(w, "vtag.config", cfg, err);
    if (!rc && vocab_json) rc = vtag_st_writer_meta(w, "vtag.vocab", vocab_json, err);
    free(cfg);
    return rc;
}

static int add_params(vtag_st_writer *w, const vtag_params *p, const float *base, const char *prefix, vtag_error *err)
{
    char name[256];
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        int rc = vtag_st_writer_add(w, name, VTAG_DTYPE_F32, t->ndim, t->shape, base + t->offset, err);
        if (rc) return rc;
    }
    return VTAG_OK;
}

int vtag_checkpoint_save(const vtag_model *m, const char *vocab_json, const char *path, vtag_error *err)
{
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int rc = add_meta(&w, m, vocab_json, err);
    if (!rc) rc = add_params(&w, &m->params, m->params.value, "", err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    return rc;
}

/* Copies the tensors named prefix+param into `base`, checking each exists
 * with the parameter's shape. */
static int read_params(const vtag_st_file *f, vtag_params *p, float *base, const char *prefix, const char *path,
                       vtag_error *err)
{
    char name[256];
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        const vtag_st_tensor *s = vtag_st_find(f, name);
        if (!s) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
        int same = s->dtype == VTAG_DTYPE_F32 && s->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = s->shape[d] == t->shape[d];
        if (!same) {
            char want[96] = "", got[96] = "";
            for (int d = 0; d < t->ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%" PRId64, d ? "," : "", t->shape[d]);
            for (int d = 0; d < s->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%" PRId64, d ? "," : "", s->shape[d]);
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s' is %s [%s], the model needs F32 [%s]", path, name,
                             vtag_dtype_name(s->dtype), got, want);
        }
        memcpy(base + t->offset, s->data, s->nbytes);
    }
    return VTAG_OK;
}

static int config_of(const vtag_st_file *f, vtag_model_config *cfg, const char *path, vtag_error *err)
{
    const char *model = vtag_st_meta(f, "vtag.model"), *cj = vtag_st_meta(f, "vtag.config");
    if (!model || !cj) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: not a vtag checkpoint (no vtag.model / vtag.config)", path);
    vtag_error e2 = {0};
    if (vtag_model_config_from_json(cfg, cj, &e2)) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s", path, e2.msg);
    vtag_model_type t;
    if (vtag_model_type_parse(model, &t) || t != cfg->type)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.model '%s' disagrees with vtag.config", path, model);
    return VTAG_OK;
}

int vtag_checkpoint_load(vtag_model *m, char **vocab_json, const char *path, vtag_error *err)
{
    memset(m, 0, sizeof *m);
    if (vocab_json) *vocab_json = NULL;
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    vtag_model_config cfg;
    vtag_error e2 = {0};
    rc = config_of(&f, &cfg, path, err);
    if (!rc && (rc = vtag_model_init(m, &cfg, &e2))) vtag_fail(err, rc, "%s: %s", path, e2.msg);
    if (!rc) rc = read_params(&f, &m->params, m->params.value, "", path, err);
    /* Every tensor must be a parameter of this model. */
    for (int i = 0; !rc && i < f.count; i++)
        if (vtag_params_find(&m->params, f.tensors[i].name) < 0)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s' is not a parameter of a %s model", path,
                           f.tensors[i].name, vtag_model_type_name(cfg.type));
    if (!rc && vocab_json) {
        const char *v = vtag_st_meta(&f, "vtag.vocab");
        if (!v) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no vtag.vocab", path);
        else if (!(*vocab_json = strdup(v))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    vtag_st_close(&f);
    if (rc) vtag_model_free(m);
    return rc;
}

int vtag_train_state_save(const vtag_model *m, const vtag_train_state *s, const char *vocab_json, const char *path,
                          vtag_error *err)
{
    char state[512];
    snprintf(state, sizeof state,
             "{\"epoch\":%d,\"adam_step\":%" PRId64 ",\"rng\":\"%016" PRIx64 "\",\"best_score\":%.17g,\"best_epoch\":%d,"
             "\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g}",
             s->epoch, s->adam.step, s->rng_state, s->best_score, s->best_epoch, (double)s->adam.beta1,
             (double)s->adam.beta2, (double)s->adam.eps);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int rc = add_meta(&w, m, vocab_json, err);
    if (!rc) rc = vtag_st_writer_meta(&w, "vtag.train_state", state, err);
    if (!rc) rc = add_params(&w, &m->params, m->params.value, "", err);
    if (!rc) rc = add_params(&w, &m->params, m->params.adam_m, "adam_m.", err);
    if (!rc) rc = add_params(&w, &m->params, m->params.adam_v, "adam_v.", err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    return rc;
}

static int same_config(const vtag_model_config *a, const vtag_model_config *b)
{
    return a->type == b->type && a->vocab_size == b->vocab_size && a->input_encoding_size == b->input_encoding_size &&
           a->rnn_size == b->rnn_size && a->att_hid_size == b->att_hid_size && a->fc_feat_size == b->fc_feat_size &&
           a->att_feat_size == b->att_feat_size && a->max_length == b->max_length && a->drop_prob_lm == b->drop_prob_lm;
}

int vtag_train_state_load(vtag_model *m, vtag_train_state *s, const char *path, vtag_error *err)
{
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    vtag_model_config cfg;
    rc = config_of(&f, &cfg, path, err);
    if (!rc && !same_config(&cfg, &m->cfg))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: training state of another model or size than this run", path);
    const char *st = rc ? NULL : vtag_st_meta(&f, "vtag.train_state");
    if (!rc && !st) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no vtag.train_state", path);
    if (!rc) {
        json_error_t je;
        json_t *o = json_loads(st, 0, &je);
        const char *rng = json_string_value(json_object_get(o, "rng"));
        json_t *e = json_object_get(o, "epoch"), *a = json_object_get(o, "adam_step");
        if (!json_is_object(o) || !rng || !json_is_integer(e) || !json_is_integer(a)) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: malformed vtag.train_state", path);
        } else {
            vtag_adam_init(&s->adam);
            s->epoch = (int)json_integer_value(e);
            s->adam.step = json_integer_value(a);
            s->rng_state = strtoull(rng, NULL, 16);
            s->best_score = json_number_value(json_object_get(o, "best_score"));
            s->best_epoch = (int)json_integer_value(json_object_get(o, "best_epoch"));
            if (json_object_get(o, "beta1")) s->adam.beta1 = (float)json_number_value(json_object_get(o, "beta1"));
            if (json_object_get(o, "beta2")) s->adam.beta2 = (float)json_number_value(json_object_get(o, "beta2"));
            if (json_object_get(o, "eps")) s->adam.eps = (float)json_number_value(json_object_get(o, "eps"));
        }
        json_decref(o);
    }
    if (!rc) rc = read_params(&f, &m->params, m->params.value, "", path, err);
    if (!rc) rc = read_params(&f, &m->params, m->params.adam_m, "adam_m.", path, err);
    if (!rc) rc = read_params(&f, &m->params, m->params.adam_v, "adam_v.", path, err);
    vtag_st_close(&f);
    return rc;
}

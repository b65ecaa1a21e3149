/* Checkpoints (weights + vtag.model/config/vocab/provenance) and the training state
 * file that --resume reads (weights, Adam moments, epoch, RNG, best score). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_internal.h"
#include "vtag/provenance.h"
#include "vtag/safetensors.h"

static int add_meta(vtag_st_writer *w, const vtag_model *m, const char *vocab_json, const char *provenance_json,
                    vtag_error *err)
{
    char *cfg = vtag_model_config_to_json(&m->cfg);
    if (!cfg) return vtag_fail(err, VTAG_ERR_NOMEM, "checkpoint: out of memory");
    int rc = vtag_st_writer_meta(w, "vtag.model", vtag_model_type_name(m->cfg.type), err);
    if (!rc) rc = vtag_st_writer_meta(w, "vtag.config", cfg, err);
    if (!rc && vocab_json) rc = vtag_st_writer_meta(w, "vtag.vocab", vocab_json, err);
    if (!rc && provenance_json) rc = vtag_st_writer_meta(w, "vtag.provenance", provenance_json, err);
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
    return vtag_checkpoint_save_with_provenance(m, vocab_json, NULL, path, err);
}

int vtag_checkpoint_save_with_provenance(const vtag_model *m, const char *vocab_json, const char *provenance_json,
                                         const char *path, vtag_error *err)
{
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int rc = add_meta(&w, m, vocab_json, provenance_json, err);
    if (!rc) rc = add_params(&w, &m->params, m->params.value, "", err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    return rc;
}

/* Checks that every parameter has its tensor prefix+name in f, F32 with the
 * parameter's shape and finite values (with nonneg also >= 0: Adam's second
 * moments): run against the declared model before anything is allocated, so
 * a small file cannot make vtag allocate a large model. */
static int check_params(const vtag_st_file *f, const vtag_params *p, const char *prefix, int nonneg,
                        const char *path, vtag_error *err)
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
        const float *v = s->data; /* F32 data is 4-byte aligned in the mapping */
        for (int64_t j = 0; j < t->numel; j++)
            if (!isfinite(v[j]) || (nonneg && v[j] < 0.0f))
                return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s' holds %s (element %" PRId64 ")", path, name,
                                 isfinite(v[j]) ? "a negative second moment" : "a NaN or infinite value", j);
    }
    return VTAG_OK;
}

/* Every tensor of f must be prefix+param for one of the n prefixes. The
 * expected ones are all present (check_params) and names are unique in a
 * safetensors file, so only a count above theirs needs the search. */
static int check_no_other(const vtag_st_file *f, const vtag_params *p, const char *const *prefix, int n,
                          const char *path, const char *what, vtag_error *err)
{
    if (f->count == (int64_t)p->count * n) return VTAG_OK;
    for (int i = 0; i < f->count; i++) {
        const char *name = f->tensors[i].name;
        int known = 0;
        for (int k = 0; !known && k < n; k++) {
            size_t len = strlen(prefix[k]);
            known = strncmp(name, prefix[k], len) == 0 && vtag_params_find(p, name + len) >= 0;
        }
        if (!known) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor '%s' is not a parameter of %s", path, name, what);
    }
    return vtag_fail(err, VTAG_ERR_FORMAT, "%s: unexpected tensors", path);
}

/* Copies the (checked) tensors prefix+param into `base`. */
static void copy_params(const vtag_st_file *f, const vtag_params *p, float *base, const char *prefix)
{
    char name[256];
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        const vtag_st_tensor *s = vtag_st_find(f, name);
        memcpy(base + t->offset, s->data, s->nbytes);
    }
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
    return vtag_checkpoint_load_with_provenance(m, vocab_json, NULL, path, err);
}

int vtag_checkpoint_load_with_provenance(vtag_model *m, char **vocab_json, char **provenance_json, const char *path,
                                         vtag_error *err)
{
    memset(m, 0, sizeof *m);
    if (vocab_json) *vocab_json = NULL;
    if (provenance_json) *provenance_json = NULL;
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    vtag_model_config cfg;
    vtag_error e2 = {0};
    static const char *const plain[1] = {""};
    rc = config_of(&f, &cfg, path, err);
    /* The file's tensors are checked against the declared model before the
     * parameters are allocated. */
    if (!rc && (rc = caption_model_declare(m, &cfg, &e2))) vtag_fail(err, rc, "%s: %s", path, e2.msg);
    if (!rc) rc = check_params(&f, &m->params, "", 0, path, err);
    if (!rc) {
        char what[32];
        snprintf(what, sizeof what, "the %s model", vtag_model_type_name(cfg.type));
        rc = check_no_other(&f, &m->params, plain, 1, path, what, err);
    }
    if (!rc && vocab_json) {
        const char *v = vtag_st_meta(&f, "vtag.vocab");
        if (!v) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no vtag.vocab", path);
        else if (!(*vocab_json = strdup(v))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!rc && provenance_json) {
        const char *p = vtag_st_meta(&f, "vtag.provenance");
        if (p && !(*provenance_json = strdup(p))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!rc && (rc = vtag_params_alloc(&m->params, &e2))) vtag_fail(err, rc, "%s: %s", path, e2.msg);
    if (!rc) copy_params(&f, &m->params, m->params.value, "");
    vtag_st_close(&f);
    if (rc) {
        vtag_model_free(m);
        if (vocab_json) {
            free(*vocab_json);
            *vocab_json = NULL;
        }
        if (provenance_json) {
            free(*provenance_json);
            *provenance_json = NULL;
        }
    }
    return rc;
}

int vtag_train_state_save(const vtag_model *m, const vtag_train_state *s, const char *vocab_json, const char *path,
                          vtag_error *err)
{
    return vtag_train_state_save_with_provenance(m, s, vocab_json, NULL, path, err);
}

int vtag_train_state_save_with_provenance(const vtag_model *m, const vtag_train_state *s, const char *vocab_json,
                                          const char *provenance_json, const char *path, vtag_error *err)
{
    char state[512];
    snprintf(state, sizeof state,
             "{\"epoch\":%d,\"adam_step\":%" PRId64 ",\"rng\":\"%016" PRIx64 "\",\"best_score\":%.17g,\"best_epoch\":%d,"
             "\"beta1\":%.9g,\"beta2\":%.9g,\"eps\":%.9g}",
             s->epoch, s->adam.step, s->rng_state, s->best_score, s->best_epoch, (double)s->adam.beta1,
             (double)s->adam.beta2, (double)s->adam.eps);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int rc = add_meta(&w, m, vocab_json, provenance_json, err);
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

/* Limits of a training state (vtag.train_state): vtag train's --epochs
 * limit, and Adam steps exact in a double (a real run takes millions). */
#define STATE_MAX_EPOCH 1000000
#define STATE_MAX_ADAM_STEP ((int64_t)1 << 53)

static int state_integer(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, const char *path,
                         vtag_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: missing %s", path, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: %s is not an integer in %lld..%lld", path, key,
                         (long long)lo, (long long)hi);
    *out = json_integer_value(v);
    return VTAG_OK;
}

/* An Adam constant: absent keeps the default; beta in [0, 1), eps > 0, both
 * as the float the optimizer uses. */
static int state_adam(json_t *o, const char *key, float *dst, const char *path, vtag_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) return VTAG_OK;
    float x = json_is_number(v) ? (float)json_number_value(v) : NAN;
    int eps = strcmp(key, "eps") == 0;
    int ok = isfinite(x) && (eps ? x > 0.0f : x >= 0.0f && x < 1.0f);
    if (!ok)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: %s is not a number %s", path, key,
                         eps ? "above 0" : "in [0, 1)");
    *dst = x;
    return VTAG_OK;
}

/* vtag.train_state: every field typed and in range, no other field. */
static int parse_state(const char *text, vtag_train_state *s, const char *path, vtag_error *err)
{
    static const char *const known[] = {"epoch", "adam_step", "rng", "best_score", "best_epoch", "beta1", "beta2",
                                         "eps"};
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state is not a JSON object", path);
    }
    int rc = VTAG_OK;
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        int ok = 0;
        for (size_t k = 0; !ok && k < sizeof known / sizeof known[0]; k++) ok = strcmp(key, known[k]) == 0;
        if (!ok && !rc) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: unknown field \"%s\"", path, key);
    }
    int64_t epoch = 0, step = 0, best_epoch = -1;
    vtag_adam_init(&s->adam);
    if (!rc) rc = state_integer(o, "epoch", 0, STATE_MAX_EPOCH, &epoch, path, err);
    if (!rc) rc = state_integer(o, "adam_step", 0, STATE_MAX_ADAM_STEP, &step, path, err);
    /* best_epoch is the 0-based index of an epoch done, or -1 */
    if (!rc) rc = state_integer(o, "best_epoch", -1, epoch - 1, &best_epoch, path, err);
    if (!rc) {
        const char *rng = json_string_value(json_object_get(o, "rng"));
        size_t n = rng ? strspn(rng, "0123456789abcdefABCDEF") : 0;
        if (!rng || n != 16 || rng[n] != '\0')
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: rng is not 16 hexadecimal digits", path);
        else s->rng_state = strtoull(rng, NULL, 16);
    }
    if (!rc) {
        /* the best validation CIDEr-D (>= 0), or -1 for none yet */
        json_t *b = json_object_get(o, "best_score");
        double x = json_is_number(b) ? json_number_value(b) : NAN;
        if (!isfinite(x) || (x < 0 && x != -1))
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: best_score is not a number >= 0 or -1", path);
        else s->best_score = x;
    }
    if (!rc) rc = state_adam(o, "beta1", &s->adam.beta1, path, err);
    if (!rc) rc = state_adam(o, "beta2", &s->adam.beta2, path, err);
    if (!rc) rc = state_adam(o, "eps", &s->adam.eps, path, err);
    if (!rc) {
        s->epoch = (int)epoch;
        s->adam.step = step;
        s->best_epoch = (int)best_epoch;
    }
    json_decref(o);
    return rc;
}

int vtag_train_state_load(vtag_model *m, vtag_train_state *s, const char *path, vtag_error *err)
{
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    vtag_model_config cfg;
    vtag_train_state in = *s;
    static const char *const prefixes[3] = {"", "adam_m.", "adam_v."};
    rc = config_of(&f, &cfg, path, err);
    if (!rc && !same_config(&cfg, &m->cfg))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: training state of another model or size than this run", path);
    const char *st = rc ? NULL : vtag_st_meta(&f, "vtag.train_state");
    if (!rc && !st) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no vtag.train_state", path);
    if (!rc) rc = parse_state(st, &in, path, err);
    for (int k = 0; !rc && k < 3; k++) rc = check_params(&f, &m->params, prefixes[k], k == 2, path, err);
    if (!rc) rc = check_no_other(&f, &m->params, prefixes, 3, path, "the model or its Adam moments", err);
    /* Nothing of the run changes unless the whole state is good. */
    if (!rc) {
        float *bufs[3] = {m->params.value, m->params.adam_m, m->params.adam_v};
        for (int k = 0; k < 3; k++) copy_params(&f, &m->params, bufs[k], prefixes[k]);
        *s = in;
    }
    vtag_st_close(&f);
    return rc;
}

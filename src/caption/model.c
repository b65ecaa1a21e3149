/* Caption model configuration, parameter declaration under the SPEC §3 names,
 * and PyTorch-like initialisation. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "caption_internal.h"

const char *vtag_model_type_name(vtag_model_type t)
{
    switch (t) {
    case VTAG_MODEL_FC: return "fc";
    case VTAG_MODEL_ATT2IN: return "att2in";
    case VTAG_MODEL_TOPDOWN: return "topdown";
    }
    return "?";
}

int vtag_model_type_parse(const char *s, vtag_model_type *t)
{
    if (strcmp(s, "fc") == 0) *t = VTAG_MODEL_FC;
    else if (strcmp(s, "att2in") == 0) *t = VTAG_MODEL_ATT2IN;
    else if (strcmp(s, "topdown") == 0 || strcmp(s, "updown") == 0) *t = VTAG_MODEL_TOPDOWN;
    else return VTAG_ERR_ARG;
    return VTAG_OK;
}

void vtag_model_config_defaults(vtag_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->type = VTAG_MODEL_FC;
    cfg->input_encoding_size = 512;
    cfg->rnn_size = 512;
    cfg->att_hid_size = 512;
    cfg->max_length = 16;
    cfg->drop_prob_lm = 0.5f;
}

char *vtag_model_config_to_json(const vtag_model_config *cfg)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "model", vtag_model_type_name(cfg->type),
                          "vocab_size", (json_int_t)cfg->vocab_size, "input_encoding_size",
                          (json_int_t)cfg->input_encoding_size, "rnn_size", (json_int_t)cfg->rnn_size, "att_hid_size",
                          (json_int_t)cfg->att_hid_size, "fc_feat_size", (json_int_t)cfg->fc_feat_size,
                          "att_feat_size", (json_int_t)cfg->att_feat_size, "max_length", (json_int_t)cfg->max_length,
                          "drop_prob_lm", (double)cfg->drop_prob_lm);
    /* Written only for video-level models, so frame-level checkpoints stay as before. */
    if (o && cfg->frames > 0 && json_object_set_new(o, "frames", json_integer((json_int_t)cfg->frames))) {
        json_decref(o);
        return NULL;
    }
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

/* Limits on a configuration, far above any real captioning model (sizes of
 * 512-2048, vocabularies of thousands, captions of 16 tokens, 10-50 M
 * parameters): a hostile vtag.config is refused before anything is sized
 * from it, and no size computed from an accepted one can overflow. */
#define MODEL_MAX_VOCAB ((int64_t)1 << 20)  /* labels V */
#define MODEL_MAX_WIDTH ((int64_t)1 << 16)  /* E, R, A: vtag train's --*-size limit */
#define MODEL_MAX_FEAT ((int64_t)1 << 16)   /* D_fc, D_att */
#define MODEL_MAX_LENGTH ((int64_t)1000)    /* max_length: vtag train's --max-length limit */
#define MODEL_MAX_PARAMS ((int64_t)1 << 32) /* parameters in all (16 GiB of F32 per buffer) */
#define MODEL_MAX_FRAMES ((int64_t)1 << 16) /* frames: a video model's attention positions */

int vtag_model_config_from_json(vtag_model_config *cfg, const char *text, vtag_error *err)
{
    vtag_model_config_defaults(cfg);
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config is not a JSON object");
    }
    int rc = VTAG_OK;
    json_t *m = json_object_get(o, "model");
    if (m && (!json_is_string(m) || vtag_model_type_parse(json_string_value(m), &cfg->type)))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config: unknown model");
    struct {
        const char *key;
        int64_t *dst;
        int required;
        int64_t max;
    } ints[] = {{"vocab_size", &cfg->vocab_size, 1, MODEL_MAX_VOCAB},
                {"input_encoding_size", &cfg->input_encoding_size, 0, MODEL_MAX_WIDTH},
                {"rnn_size", &cfg->rnn_size, 0, MODEL_MAX_WIDTH},
                {"att_hid_size", &cfg->att_hid_size, 0, MODEL_MAX_WIDTH},
                {"fc_feat_size", &cfg->fc_feat_size, 0, MODEL_MAX_FEAT},
                {"att_feat_size", &cfg->att_feat_size, 0, MODEL_MAX_FEAT},
                {"max_length", &cfg->max_length, 0, MODEL_MAX_LENGTH},
                {"frames", &cfg->frames, 0, MODEL_MAX_FRAMES}};
    const size_t n_ints = sizeof ints / sizeof ints[0];
    for (size_t i = 0; rc == VTAG_OK && i < n_ints; i++) {
        json_t *v = json_object_get(o, ints[i].key);
        if (!v) {
            if (ints[i].required) rc = vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config: missing %s", ints[i].key);
            continue;
        }
        if (!json_is_integer(v))
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config: %s is not an integer", ints[i].key);
        else if (json_integer_value(v) < 0 || json_integer_value(v) > ints[i].max)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config: %s %lld is outside 0..%lld", ints[i].key,
                           (long long)json_integer_value(v), (long long)ints[i].max);
        else *ints[i].dst = json_integer_value(v);
    }
    json_t *d = json_object_get(o, "drop_prob_lm");
    if (rc == VTAG_OK && d) {
        if (!json_is_number(d)) rc = vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config: drop_prob_lm is not a number");
        else cfg->drop_prob_lm = (float)json_number_value(d);
    }
    /* Every field is known: a misspelt size must not fall back to a default. */
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        int known = strcmp(key, "model") == 0 || strcmp(key, "drop_prob_lm") == 0;
        for (size_t i = 0; !known && i < n_ints; i++) known = strcmp(key, ints[i].key) == 0;
        if (rc == VTAG_OK && !known) rc = vtag_fail(err, VTAG_ERR_FORMAT, "vtag.config: unknown field \"%s\"", key);
    }
    json_decref(o);
    return rc;
}

static int check_config(const vtag_model_config *c, vtag_error *err)
{
    if (c->type != VTAG_MODEL_FC && c->type != VTAG_MODEL_ATT2IN && c->type != VTAG_MODEL_TOPDOWN)
        return vtag_fail(err, VTAG_ERR_ARG, "model: unknown type %d", (int)c->type);
    if (c->vocab_size < 1 || c->input_encoding_size < 1 || c->rnn_size < 1 || c->max_length < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "model: vocab_size, input_encoding_size, rnn_size and max_length must be positive");
    if (c->vocab_size > MODEL_MAX_VOCAB)
        return vtag_fail(err, VTAG_ERR_ARG, "model: vocab_size %lld is over the limit of %lld", (long long)c->vocab_size,
                         (long long)MODEL_MAX_VOCAB);
    const int64_t width[3] = {c->input_encoding_size, c->rnn_size, c->att_hid_size};
    for (int i = 0; i < 3; i++)
        if (width[i] < 0 || width[i] > MODEL_MAX_WIDTH)
            return vtag_fail(err, VTAG_ERR_ARG, "model: %s %lld is outside 0..%lld",
                             i == 0 ? "input_encoding_size" : i == 1 ? "rnn_size" : "att_hid_size",
                             (long long)width[i], (long long)MODEL_MAX_WIDTH);
    if (c->fc_feat_size < 0 || c->fc_feat_size > MODEL_MAX_FEAT || c->att_feat_size < 0 ||
        c->att_feat_size > MODEL_MAX_FEAT)
        return vtag_fail(err, VTAG_ERR_ARG, "model: feature sizes %lld / %lld are outside 0..%lld",
                         (long long)c->fc_feat_size, (long long)c->att_feat_size, (long long)MODEL_MAX_FEAT);
    if (c->max_length > MODEL_MAX_LENGTH)
        return vtag_fail(err, VTAG_ERR_ARG, "model: max_length %lld is over the limit of %lld", (long long)c->max_length,
                         (long long)MODEL_MAX_LENGTH);
    if (!(c->drop_prob_lm >= 0.0f && c->drop_prob_lm < 1.0f))
        return vtag_fail(err, VTAG_ERR_ARG, "model: drop_prob_lm %g is outside [0, 1)", c->drop_prob_lm);
    if (c->frames < 0 || c->frames > MODEL_MAX_FRAMES)
        return vtag_fail(err, VTAG_ERR_ARG, "model: frames %lld is outside 0..%lld", (long long)c->frames,
                         (long long)MODEL_MAX_FRAMES);
    if (c->frames > 0 && c->type == VTAG_MODEL_FC)
        return vtag_fail(err, VTAG_ERR_ARG, "model: a video-level model (frames %lld) attends over frames: att2in or topdown, not fc",
                         (long long)c->frames);
    if (c->type != VTAG_MODEL_ATT2IN && c->fc_feat_size < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "model %s needs fc features (fc_feat_size = 0)", vtag_model_type_name(c->type));
    if (c->type != VTAG_MODEL_FC && (c->att_feat_size < 1 || c->att_hid_size < 1))
        return vtag_fail(err, VTAG_ERR_ARG, "model %s needs att features (att_feat_size = 0)", vtag_model_type_name(c->type));
    return VTAG_OK;
}

/* The declaration keeps a checked count of the elements declared so far, so
 * that a configuration too large to allocate is refused before any buffer is. */
typedef struct declaration {
    vtag_params *p;
    int64_t total; /* elements declared */
} declaration;

static int add2(declaration *dc, const char *name, int64_t d0, int64_t d1, vtag_error *err)
{
    int64_t s[2] = {d0, d1}, numel;
    const int ndim = d1 ? 2 : 1;
    if (vtag_shape_numel(s, ndim, &numel) || vtag_add_i64(dc->total, numel, &dc->total) || dc->total > MODEL_MAX_PARAMS)
        return vtag_fail(err, VTAG_ERR_ARG, "model: more than %lld parameters (at '%s')", (long long)MODEL_MAX_PARAMS,
                         name);
    int rc = vtag_params_add(dc->p, name, ndim, s, err);
    return rc < 0 ? rc : VTAG_OK;
}

/* A Linear(in → out) as "<prefix>.weight" [out, in] and "<prefix>.bias" [out]. */
static int add_linear(declaration *dc, const char *prefix, int64_t in, int64_t out, vtag_error *err)
{
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int rc = add2(dc, name, out, in, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    return rc ? rc : add2(dc, name, out, 0, err);
}

static int add_lstm(declaration *dc, const char *prefix, int64_t in, int64_t r, vtag_error *err)
{
    char name[96];
    int rc;
    snprintf(name, sizeof name, "%s.weight_ih", prefix);
    if ((rc = add2(dc, name, 4 * r, in, err))) return rc;
    snprintf(name, sizeof name, "%s.weight_hh", prefix);
    if ((rc = add2(dc, name, 4 * r, r, err))) return rc;
    snprintf(name, sizeof name, "%s.bias_ih", prefix);
    if ((rc = add2(dc, name, 4 * r, 0, err))) return rc;
    snprintf(name, sizeof name, "%s.bias_hh", prefix);
    return add2(dc, name, 4 * r, 0, err);
}

static const char *const SLOT_NAMES[CP_COUNT] = {
    [CP_EMBED] = "embed.weight", /* topdown: "embed.0.weight" */
    [CP_IMG_EMBED_W] = "img_embed.weight", [CP_IMG_EMBED_B] = "img_embed.bias",
    [CP_FC_EMBED_W] = "fc_embed.0.weight", [CP_FC_EMBED_B] = "fc_embed.0.bias",
    [CP_ATT_EMBED_W] = "att_embed.0.weight", [CP_ATT_EMBED_B] = "att_embed.0.bias",
    [CP_CTX2ATT_W] = "ctx2att.weight", [CP_CTX2ATT_B] = "ctx2att.bias",
    [CP_I2H_W] = "core.i2h.weight", [CP_I2H_B] = "core.i2h.bias",
    [CP_H2H_W] = "core.h2h.weight", [CP_H2H_B] = "core.h2h.bias",
    [CP_A2C_W] = "core.a2c.weight", [CP_A2C_B] = "core.a2c.bias",
    [CP_H2ATT_W] = "core.attention.h2att.weight", [CP_H2ATT_B] = "core.attention.h2att.bias",
    [CP_ALPHA_W] = "core.attention.alpha_net.weight", [CP_ALPHA_B] = "core.attention.alpha_net.bias",
    [CP_ATT_LSTM_W_IH] = "core.att_lstm.weight_ih", [CP_ATT_LSTM_W_HH] = "core.att_lstm.weight_hh",
    [CP_ATT_LSTM_B_IH] = "core.att_lstm.bias_ih", [CP_ATT_LSTM_B_HH] = "core.att_lstm.bias_hh",
    [CP_LANG_LSTM_W_IH] = "core.lang_lstm.weight_ih", [CP_LANG_LSTM_W_HH] = "core.lang_lstm.weight_hh",
    [CP_LANG_LSTM_B_IH] = "core.lang_lstm.bias_ih", [CP_LANG_LSTM_B_HH] = "core.lang_lstm.bias_hh",
    [CP_LOGIT_W] = "logit.weight", [CP_LOGIT_B] = "logit.bias",
};

_Static_assert(CP_COUNT <= VTAG_MODEL_SLOTS, "vtag_model.slot is too small");

const char *caption_slot_name(vtag_model_type type, caption_slot s)
{
    if (s == CP_EMBED && type == VTAG_MODEL_TOPDOWN) return "embed.0.weight";
    return s >= 0 && s < CP_COUNT ? SLOT_NAMES[s] : NULL;
}

/* Fills m->slot from the declared tensors: the one lookup by name. */
static void resolve_slots(vtag_model *m)
{
    for (int s = 0; s < VTAG_MODEL_SLOTS; s++)
        m->slot[s] = s < CP_COUNT ? vtag_params_find(&m->params, caption_slot_name(m->cfg.type, (caption_slot)s)) : -1;
}

/* check_config bounds every size by 2^20, so the products and sums below
 * (5R, 2R+E, V+1, …) stay far from overflow; add2 checks each tensor's
 * element count and the running total. */
static int declare(vtag_model *m, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    declaration dc = {&m->params, 0}, *p = &dc;
    const int64_t V1 = c->vocab_size + 1, E = c->input_encoding_size, R = c->rnn_size, A = c->att_hid_size;
    int rc = VTAG_OK;
    switch (c->type) {
    case VTAG_MODEL_FC:
        if (!rc) rc = add_linear(p, "img_embed", c->fc_feat_size, E, err);
        if (!rc) rc = add_linear(p, "core.i2h", E, 5 * R, err);
        if (!rc) rc = add_linear(p, "core.h2h", R, 5 * R, err);
        if (!rc) rc = add2(p, "embed.weight", V1, E, err);
        break;
    case VTAG_MODEL_ATT2IN:
        if (!rc) rc = add2(p, "embed.weight", V1, E, err);
        if (!rc) rc = add_linear(p, "ctx2att", c->att_feat_size, A, err);
        if (!rc) rc = add_linear(p, "core.i2h", E, 5 * R, err);
        if (!rc) rc = add_linear(p, "core.h2h", R, 5 * R, err);
        if (!rc) rc = add_linear(p, "core.a2c", c->att_feat_size, 2 * R, err);
        if (!rc) rc = add_linear(p, "core.attention.h2att", R, A, err);
        if (!rc) rc = add_linear(p, "core.attention.alpha_net", A, 1, err);
        break;
    case VTAG_MODEL_TOPDOWN:
        if (!rc) rc = add2(p, "embed.0.weight", V1, E, err);
        if (!rc) rc = add_linear(p, "fc_embed.0", c->fc_feat_size, R, err);
        if (!rc) rc = add_linear(p, "att_embed.0", c->att_feat_size, R, err);
        if (!rc) rc = add_linear(p, "ctx2att", R, A, err);
        if (!rc) rc = add_lstm(p, "core.att_lstm", 2 * R + E, R, err);
        if (!rc) rc = add_lstm(p, "core.lang_lstm", 2 * R, R, err);
        if (!rc) rc = add_linear(p, "core.attention.h2att", R, A, err);
        if (!rc) rc = add_linear(p, "core.attention.alpha_net", A, 1, err);
        break;
    }
    if (!rc) rc = add_linear(p, "logit", R, V1, err);
    return rc;
}

int caption_model_declare(vtag_model *m, const vtag_model_config *cfg, vtag_error *err)
{
    memset(m, 0, sizeof *m);
    vtag_params_init(&m->params);
    int rc = check_config(cfg, err);
    if (rc) return rc;
    m->cfg = *cfg;
    rc = declare(m, err);
    if (rc) vtag_model_free(m);
    else resolve_slots(m);
    return rc;
}

int vtag_model_init(vtag_model *m, const vtag_model_config *cfg, vtag_error *err)
{
    int rc = caption_model_declare(m, cfg, err);
    if (!rc && (rc = vtag_params_alloc(&m->params, err))) vtag_model_free(m);
    return rc;
}

void vtag_model_free(vtag_model *m) { vtag_params_free(&m->params); }

void vtag_model_init_weights(vtag_model *m, vtag_rng *rng)
{
    vtag_params *p = &m->params;
    const float lstm_bound = 1.0f / sqrtf((float)m->cfg.rnn_size);
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        float *v = vtag_params_value(p, i);
        float bound;
        const char *dot = strrchr(t->name, '.');
        const char *leaf = dot ? dot + 1 : t->name;
        if (strstr(t->name, "embed.weight") || strcmp(t->name, "embed.0.weight") == 0 || strcmp(t->name, "logit.weight") == 0)
            bound = 0.1f; /* as FCModel.init_weights */
        else if (strcmp(t->name, "logit.bias") == 0)
            bound = 0.0f;
        else if (strstr(t->name, "_lstm."))
            bound = lstm_bound; /* nn.LSTMCell: U(±1/sqrt(hidden)) */
        else {
            /* nn.Linear: U(±1/sqrt(fan_in)) for weight and bias; fan_in is
             * the weight's second dimension. */
            char wname[128];
            snprintf(wname, sizeof wname, "%.*s.weight", (int)(leaf - t->name - 1), t->name);
            int wi = strcmp(leaf, "bias") == 0 ? vtag_params_find(p, wname) : i;
            int64_t fan_in = wi >= 0 && p->items[wi].ndim == 2 ? p->items[wi].shape[1] : 1;
            bound = 1.0f / sqrtf((float)fan_in);
        }
        for (int64_t j = 0; j < t->numel; j++) v[j] = bound * (2.0f * vtag_rng_uniform(rng) - 1.0f);
    }
}

/* The built-in backbone's file: safetensors with every parameter and BN
 * buffer under its PyTorch name and the metadata vtag.backbone (JSON: arch,
 * size, widths, blocks, mean, std, bn_eps, labels). docs/FORMATS.md. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/builtin_internal.h"
#include "vtag/builtin.h"
#include "vtag/safetensors.h"

#define META "vtag.backbone"

char *vtag_builtin_describe(const vtag_builtin *m)
{
    const vtag_builtin_config *c = &m->cfg;
    json_t *widths = json_array(), *blocks = json_array(), *mean = json_array(), *std = json_array(),
           *labels = json_array();
    for (int s = 0; s < c->n_stages; s++) {
        json_array_append_new(widths, json_integer(c->widths[s]));
        json_array_append_new(blocks, json_integer(c->blocks[s]));
    }
    for (int i = 0; i < 3; i++) {
        json_array_append_new(mean, json_real(c->mean[i]));
        json_array_append_new(std, json_real(c->std[i]));
    }
    /* a label json_string refuses (invalid UTF-8) fails the description, never drops out */
    int bad = !labels;
    for (int64_t i = 0; !bad && i < c->n_labels; i++) bad = json_array_append_new(labels, json_string(m->labels[i])) != 0;
    if (bad) json_decref(labels), labels = NULL;
    json_t *root = json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:f, s:o}", "arch", VTAG_BUILTIN_ARCH, "size",
                             (json_int_t)c->size, "widths", widths, "blocks", blocks, "mean", mean, "std", std,
                             "bn_eps", (double)c->bn_eps, "labels", labels);
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(root);
    return s;
}

static int add_params(vtag_st_writer *w, const vtag_params *p, vtag_error *err)
{
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        int rc = vtag_st_writer_add(w, t->name, VTAG_DTYPE_F32, t->ndim, t->shape, vtag_params_value(p, i), err);
        if (rc) return rc;
    }
    return VTAG_OK;
}

int vtag_builtin_save(const vtag_builtin *m, const char *path, vtag_error *err)
{
    char *desc = vtag_builtin_describe(m);
    if (!desc) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int rc = add_params(&w, &m->params, err);
    if (!rc) rc = add_params(&w, &m->buffers, err);
    if (!rc) rc = vtag_st_writer_meta(&w, META, desc, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    free(desc);
    return rc;
}

/* Reads an array of 1..max integers (or floats) from the description. */
static int int_array(json_t *root, const char *key, int64_t *out, int max, int *n, const char *path, vtag_error *err)
{
    json_t *a = json_object_get(root, key);
    if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > (size_t)max)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"%s\" must be an array of 1..%d integers", path, META, key, max);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"%s\"[%zu] is not an integer", path, META, key, i);
        out[i] = json_integer_value(v);
    }
    *n = (int)json_array_size(a);
    return VTAG_OK;
}

static int float3(json_t *root, const char *key, float *out, const char *path, vtag_error *err)
{
    json_t *a = json_object_get(root, key);
    if (!json_is_array(a) || json_array_size(a) != 3)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"%s\" must be an array of 3 numbers", path, META, key);
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"%s\"[%zu] is not a number", path, META, key, i);
        out[i] = (float)json_number_value(v);
    }
    return VTAG_OK;
}

/* Parses the description into cfg and a malloc'd label list (borrowing json strings is avoided). */
static int parse_desc(const char *desc, vtag_builtin_config *cfg, char ***labels, const char *path, vtag_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(desc, 0, &jerr);
    if (!root) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: invalid JSON: %s", path, META, jerr.text);
    int rc = VTAG_OK, nw = 0, nb = 0;
    *labels = NULL;
    vtag_builtin_config_default(cfg);
    json_t *arch = json_object_get(root, "arch"), *size = json_object_get(root, "size"),
           *eps = json_object_get(root, "bn_eps"), *lab = json_object_get(root, "labels");
    if (!json_is_object(root) || !json_is_string(arch) || strcmp(json_string_value(arch), VTAG_BUILTIN_ARCH) != 0) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"arch\" must be \"%s\"", path, META, VTAG_BUILTIN_ARCH);
        goto done;
    }
    if (!json_is_integer(size)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"size\" must be an integer", path, META);
        goto done;
    }
    cfg->size = json_integer_value(size);
    if ((rc = int_array(root, "widths", cfg->widths, VTAG_BUILTIN_MAX_STAGES, &nw, path, err)) ||
        (rc = int_array(root, "blocks", cfg->blocks, VTAG_BUILTIN_MAX_STAGES, &nb, path, err)))
        goto done;
    if (nw != nb) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: %d widths but %d block counts", path, META, nw, nb);
        goto done;
    }
    cfg->n_stages = nw;
    if ((rc = float3(root, "mean", cfg->mean, path, err)) || (rc = float3(root, "std", cfg->std, path, err))) goto done;
    if (eps) {
        if (!json_is_number(eps)) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"bn_eps\" is not a number", path, META);
            goto done;
        }
        cfg->bn_eps = (float)json_number_value(eps);
    }
    if (!json_is_array(lab) || json_array_size(lab) < 1 || json_array_size(lab) > VTAG_BUILTIN_MAX_LABELS) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"labels\" must be an array of 1..%d strings", path, META,
                       VTAG_BUILTIN_MAX_LABELS);
        goto done;
    }
    cfg->n_labels = (int64_t)json_array_size(lab);
    *labels = calloc((size_t)cfg->n_labels, sizeof **labels);
    if (!*labels) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int64_t i = 0; i < cfg->n_labels; i++) {
        json_t *s = json_array_get(lab, (size_t)i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: labels[%lld] is not a non-empty string", path, META, (long long)i);
            goto done;
        }
        if (!((*labels)[i] = strdup(json_string_value(s)))) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    vtag_error e2 = {0};
    if (vtag_builtin_config_check(cfg, &e2)) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s", path, e2.msg);
done:
    if (rc && *labels) {
        for (int64_t i = 0; i < cfg->n_labels; i++) free((*labels)[i]);
        free(*labels);
        *labels = NULL;
    }
    json_decref(root);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* No label twice: sorted copy, neighbours compared (n log n: a file may hold 10^5 labels). */
static int unique_labels(char **labels, int64_t n, const char *path, vtag_error *err)
{
    char **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    memcpy(sorted, labels, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    int rc = VTAG_OK;
    for (int64_t i = 1; i < n && !rc; i++)
        if (strcmp(sorted[i], sorted[i - 1]) == 0)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: label \"%.100s\" listed twice", path, META, sorted[i]);
    free(sorted);
    return rc;
}

/* Every declared tensor is in the file as F32 of its declared shape: checked before the
 * tensors' memory is allocated, so that a few bytes of header cannot ask for gigabytes. */
static int check_params(const vtag_params *p, const vtag_st_file *f, const char *path, vtag_error *err)
{
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        const vtag_st_tensor *s = vtag_st_find(f, t->name);
        if (!s) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: missing tensor \"%s\"", path, t->name);
        int ok = s->dtype == VTAG_DTYPE_F32 && s->ndim == t->ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = s->shape[d] == t->shape[d];
        if (!ok) {
            char want[96] = "", got[96] = "";
            for (int d = 0; d < t->ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            for (int d = 0; d < s->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)s->shape[d]);
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" is %s [%s], expected F32 [%s]", path, t->name,
                             vtag_dtype_name(s->dtype), got, want);
        }
    }
    return VTAG_OK;
}

static int load_params(vtag_params *p, const vtag_st_file *f, const char *path, vtag_error *err)
{
    for (int i = 0; i < p->count; i++) {
        const vtag_param *t = &p->items[i];
        const float *src = vtag_st_find(f, t->name)->data;
        for (int64_t j = 0; j < t->numel; j++)
            if (!isfinite(src[j])) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" holds a non-finite value", path, t->name);
        memcpy(vtag_params_value(p, i), src, (size_t)t->numel * sizeof(float));
    }
    return VTAG_OK;
}

int vtag_builtin_load(vtag_builtin *m, const char *path, vtag_error *err)
{
    memset(m, 0, sizeof *m);
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    const char *desc = vtag_st_meta(&f, META);
    vtag_builtin_config cfg;
    char **labels = NULL;
    if (!desc) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no \"%s\" metadata (not a vtag backbone file)", path, META);
        goto done;
    }
    if ((rc = parse_desc(desc, &cfg, &labels, path, err))) goto done;
    if ((rc = unique_labels(labels, cfg.n_labels, path, err))) goto done;
    /* declared (names and shapes), checked against the file, and only then allocated */
    vtag_error e2 = {0};
    if ((rc = builtin_declare(m, &cfg, (const char *const *)labels, &e2))) {
        rc = vtag_fail(err, rc, "%s: %s", path, e2.msg);
        goto done;
    }
    if ((rc = check_params(&m->params, &f, path, err)) || (rc = check_params(&m->buffers, &f, path, err))) goto done;
    int known = m->params.count + m->buffers.count;
    if (f.count != known) {
        for (int i = 0; i < f.count; i++)
            if (vtag_params_find(&m->params, f.tensors[i].name) < 0 && vtag_params_find(&m->buffers, f.tensors[i].name) < 0) {
                rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: unexpected tensor \"%.100s\"", path, f.tensors[i].name);
                goto done;
            }
    }
    if ((rc = vtag_params_alloc(&m->params, err)) || (rc = vtag_params_alloc(&m->buffers, err))) goto done;
    if ((rc = load_params(&m->params, &f, path, err)) || (rc = load_params(&m->buffers, &f, path, err))) goto done;
done:
    if (labels) {
        for (int64_t i = 0; i < cfg.n_labels; i++) free(labels[i]);
        free(labels);
    }
    if (rc) vtag_builtin_free(m);
    vtag_st_close(&f);
    return rc;
}

/* ---- training state ------------------------------------------------------------------------ */
#define STATE_META "vtag.backbone_state"

int vtag_builtin_state_save(const vtag_builtin *m, const vtag_adam *adam, const vtag_rng *rng, int epoch, double best,
                            const char *path, vtag_error *err)
{
    char *desc = vtag_builtin_describe(m), state[256];
    if (!desc) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    snprintf(state, sizeof state, "{\"epoch\": %d, \"adam_step\": %lld, \"rng\": \"%016llx\", \"best\": %.17g}", epoch,
             (long long)adam->step, (unsigned long long)rng->state, best);
    vtag_st_writer w;
    vtag_st_writer_init(&w);
    int64_t pt[1] = {m->params.total}, bt[1] = {m->buffers.total};
    int rc = vtag_st_writer_add(&w, "params", VTAG_DTYPE_F32, 1, pt, m->params.value, err);
    if (!rc) rc = vtag_st_writer_add(&w, "adam_m", VTAG_DTYPE_F32, 1, pt, m->params.adam_m, err);
    if (!rc) rc = vtag_st_writer_add(&w, "adam_v", VTAG_DTYPE_F32, 1, pt, m->params.adam_v, err);
    if (!rc) rc = vtag_st_writer_add(&w, "buffers", VTAG_DTYPE_F32, 1, bt, m->buffers.value, err);
    if (!rc) rc = vtag_st_writer_meta(&w, META, desc, err);
    if (!rc) rc = vtag_st_writer_meta(&w, STATE_META, state, err);
    if (!rc) rc = vtag_st_writer_save(&w, path, err);
    vtag_st_writer_free(&w);
    free(desc);
    return rc;
}

/* The state's JSON fields, each checked (see vtag/builtin.h). */
static int state_fields(const char *state, int *epoch, int64_t *step, uint64_t *rng, double *best,
                        const char *path, vtag_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(state, 0, &jerr);
    int rc = VTAG_OK;
    if (!json_is_object(root)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s is not a JSON object", path, STATE_META);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "epoch") != 0 && strcmp(key, "adam_step") != 0 && strcmp(key, "rng") != 0 &&
            strcmp(key, "best") != 0) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: unknown field \"%.60s\"", path, STATE_META, key);
            goto done;
        }
    }
    json_t *je = json_object_get(root, "epoch"), *js = json_object_get(root, "adam_step"),
           *jr = json_object_get(root, "rng"), *jb = json_object_get(root, "best");
    if (!json_is_integer(je) || json_integer_value(je) < 0 || json_integer_value(je) > VTAG_BUILTIN_MAX_EPOCHS) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"epoch\" must be an integer in 0..%d", path, STATE_META,
                       VTAG_BUILTIN_MAX_EPOCHS);
        goto done;
    }
    *epoch = (int)json_integer_value(je);
    if (!json_is_integer(js) || json_integer_value(js) < *epoch || (*epoch == 0 && json_integer_value(js) != 0)) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT,
                       "%s: %s: \"adam_step\" must be an integer >= the epochs done (%d), 0 before the first", path,
                       STATE_META, *epoch);
        goto done;
    }
    *step = json_integer_value(js);
    const char *hex = json_is_string(jr) ? json_string_value(jr) : NULL;
    int ok = hex && json_string_length(jr) == 16;
    uint64_t r = 0;
    for (int i = 0; ok && i < 16; i++) {
        const char c = hex[i];
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        ok = d >= 0;
        r = r << 4 | (uint64_t)(ok ? d : 0);
    }
    if (!ok) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"rng\" must be a string of exactly 16 hex digits", path, STATE_META);
        goto done;
    }
    *rng = r;
    const double b = json_is_number(jb) ? json_number_value(jb) : NAN;
    if (!(b == -1.0 || (b >= 0.0 && b <= 1.0))) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"best\" must be -1 (no validation yet) or a mAP in [0, 1]", path,
                       STATE_META);
        goto done;
    }
    *best = b;
done:
    json_decref(root);
    return rc;
}

/* Every value finite (and >= 0 where nonneg): a NaN moment would poison every later step. */
static int state_values(const vtag_st_tensor *t, const char *name, int nonneg, const char *path, vtag_error *err)
{
    const float *x = t->data;
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(x[i]) || (nonneg && x[i] < 0.0f))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" holds %s at %lld", path, name,
                             isfinite(x[i]) ? "a negative value" : "a non-finite value", (long long)i);
    return VTAG_OK;
}

int vtag_builtin_state_load(vtag_builtin *m, vtag_adam *adam, vtag_rng *rng, int *epoch, double *best, const char *path,
                            vtag_error *err)
{
    vtag_st_file f;
    int rc = vtag_st_open(&f, path, err);
    if (rc) return rc;
    char *desc = vtag_builtin_describe(m);
    const char *fdesc = vtag_st_meta(&f, META), *state = vtag_st_meta(&f, STATE_META);
    static const char *const names[4] = {"params", "adam_m", "adam_v", "buffers"};
    const vtag_st_tensor *t[4];
    for (int i = 0; i < 4; i++) t[i] = vtag_st_find(&f, names[i]);
    float *dst[4] = {m->params.value, m->params.adam_m, m->params.adam_v, m->buffers.value};
    const int64_t want[4] = {m->params.total, m->params.total, m->params.total, m->buffers.total};
    int e = 0;
    int64_t step = 0;
    uint64_t r = 0;
    double b = -1;
    if (!desc) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (!fdesc || !state) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: not a backbone training state (no %s)", path, STATE_META);
        goto done;
    }
    if (strcmp(fdesc, desc) != 0) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: written for another configuration or label set; remove it to start over", path);
        goto done;
    }
    if (f.count != 4) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %d tensors (a state holds params, adam_m, adam_v, buffers)", path,
                       f.count);
        goto done;
    }
    for (int i = 0; i < 4; i++)
        if (!t[i] || t[i]->dtype != VTAG_DTYPE_F32 || t[i]->numel != want[i]) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: tensor \"%s\" missing, not F32 or not of %lld values", path,
                           names[i], (long long)want[i]);
            goto done;
        }
    if ((rc = state_fields(state, &e, &step, &r, &b, path, err))) goto done;
    for (int i = 0; i < 4; i++)
        if ((rc = state_values(t[i], names[i], i == 2, path, err))) goto done;
    /* all checked: only now is anything changed */
    for (int i = 0; i < 4; i++) memcpy(dst[i], t[i]->data, (size_t)want[i] * sizeof(float));
    *epoch = e;
    adam->step = step;
    rng->state = r;
    *best = b;
done:
    free(desc);
    vtag_st_close(&f);
    return rc;
}

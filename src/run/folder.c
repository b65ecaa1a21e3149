/* The run folder: artefact names, the manifest DIR/pipeline.json (read and
 * written), the trained checkpoints present and the best-model choice. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/run.h"

struct vtag_run {
    char *dir;
    char *path;     /* DIR/pipeline.json */
    json_t *root;   /* the manifest */
    json_t *want;   /* the pipeline's settings for this run (NULL when read-only) */
    char *backbone; /* resolved (read-only) */
};

/* ---- names ------------------------------------------------------------------ */

static const char *const MODELS[VTAG_RUN_N_MODELS] = {"fc", "att2in", "topdown"};

const char *vtag_run_model(int i)
{
    return i >= 0 && i < VTAG_RUN_N_MODELS ? MODELS[i] : NULL;
}

char *vtag_run_path(const char *dir, vtag_run_file what, const char *name)
{
    static const struct {
        const char *prefix, *suffix;
        int named;
    } files[] = {
        [VTAG_RUN_FILE_MANIFEST] = {"pipeline.json", "", 0},
        [VTAG_RUN_FILE_LOCK] = {"pipeline.lock", "", 0},
        [VTAG_RUN_FILE_BACKBONE] = {"backbone.safetensors", "", 0},
        [VTAG_RUN_FILE_FEATURES] = {"features-", ".safetensors", 1},
        [VTAG_RUN_FILE_BASELINE] = {"baseline-", ".jsonl", 1},
        [VTAG_RUN_FILE_XE] = {"", "-xe.safetensors", 1},
        [VTAG_RUN_FILE_XE_LOG] = {"", "-xe.log.jsonl", 1},
        [VTAG_RUN_FILE_SCST] = {"", ".safetensors", 1},
        [VTAG_RUN_FILE_SCST_LOG] = {"", ".log.jsonl", 1},
    };
    if ((unsigned)what >= sizeof files / sizeof files[0] || (files[what].named && !name)) return NULL;
    if (!files[what].named) name = "";
    size_t n = strlen(dir) + strlen(files[what].prefix) + strlen(name) + strlen(files[what].suffix) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s%s%s", dir, files[what].prefix, name, files[what].suffix);
    return p;
}

char *vtag_run_state_path(const char *checkpoint)
{
    static const char ext[] = ".safetensors";
    size_t n = strlen(checkpoint), e = sizeof ext - 1;
    size_t stem = n > e && strcmp(checkpoint + n - e, ext) == 0 ? n - e : n;
    char *p = malloc(stem + 32);
    if (p) snprintf(p, stem + 32, "%.*s.state.safetensors", (int)stem, checkpoint);
    return p;
}

/* ---- trained checkpoints ------------------------------------------------------ */

void vtag_run_trained_free(vtag_run_trained **list, int n)
{
    if (!*list) return;
    for (int i = 0; i < n; i++) {
        free((*list)[i].name);
        free((*list)[i].checkpoint);
        free((*list)[i].log);
    }
    free(*list);
    *list = NULL;
}

int vtag_run_list_trained(const char *dir, const char *model, vtag_run_trained **list, int *n, vtag_error *err)
{
    *list = NULL;
    *n = 0;
    vtag_run_trained *l = calloc(2 * VTAG_RUN_N_MODELS, sizeof *l);
    if (!l) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
    int k = 0, rc = 0;
    for (int i = 0; i < VTAG_RUN_N_MODELS && !rc; i++) {
        if (model && strcmp(model, "all") != 0 && strcmp(model, MODELS[i]) != 0) continue;
        for (int scst = 0; scst < 2 && !rc; scst++) {
            vtag_run_trained *t = &l[k];
            t->model = MODELS[i];
            t->scst = scst;
            t->checkpoint = vtag_run_path(dir, scst ? VTAG_RUN_FILE_SCST : VTAG_RUN_FILE_XE, MODELS[i]);
            t->log = vtag_run_path(dir, scst ? VTAG_RUN_FILE_SCST_LOG : VTAG_RUN_FILE_XE_LOG, MODELS[i]);
            size_t nn = strlen(MODELS[i]) + 4;
            t->name = malloc(nn);
            if (!t->checkpoint || !t->log || !t->name) {
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
                k++;
                break;
            }
            snprintf(t->name, nn, "%s%s", MODELS[i], scst ? "" : "-xe");
            if (!vtag_is_file(t->log)) {
                free(t->log);
                t->log = NULL;
            }
            if (vtag_is_file(t->checkpoint)) {
                k++;
            } else {
                free(t->name);
                free(t->checkpoint);
                free(t->log);
                memset(t, 0, sizeof *t);
            }
        }
    }
    if (rc || k == 0) {
        vtag_run_trained_free(&l, k);
        return rc;
    }
    *list = l;
    *n = k;
    return VTAG_OK;
}

/* ---- the manifest --------------------------------------------------------------- */

void vtag_run_close(vtag_run **r)
{
    if (!*r) return;
    json_decref((*r)->root);
    json_decref((*r)->want);
    free((*r)->dir);
    free((*r)->path);
    free((*r)->backbone);
    free(*r);
    *r = NULL;
}

/* A run with its names and no manifest yet. */
static int run_new(vtag_run **out, const char *dir, vtag_error *err)
{
    vtag_run *r = calloc(1, sizeof *r);
    if (r) r->dir = strdup(dir);
    if (r && r->dir) r->path = vtag_run_path(dir, VTAG_RUN_FILE_MANIFEST, NULL);
    if (!r || !r->dir || !r->path) {
        vtag_run_close(&r);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
    }
    *out = r;
    return VTAG_OK;
}

int vtag_run_open(vtag_run **out, const char *dir, vtag_error *err)
{
    *out = NULL;
    vtag_run *r = NULL;
    int rc = run_new(&r, dir, err);
    if (rc) return rc;
    json_error_t je;
    /* vtag_is_file first: jansson's open would block on a FIFO */
    int is_file = vtag_is_file(r->path);
    r->root = is_file ? json_load_file(r->path, 0, &je) : NULL;
    if (!r->root) {
        rc = is_file ? vtag_fail(err, VTAG_ERR_FORMAT, "%s:%d: %s", r->path, je.line, je.text)
                     : vtag_fail(err, VTAG_ERR_IO, "%s: no pipeline here (run vtag pipeline --out %s first)",
                                 r->path, dir);
        vtag_run_close(&r);
        return rc;
    }
    const char *bb = json_string_value(json_object_get(r->root, "backbone"));
    const char *sample = json_string_value(json_object_get(r->root, "sample"));
    if (!bb || !sample) {
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: backbone or sample missing", r->path);
        vtag_run_close(&r);
        return rc;
    }
    r->backbone = strcmp(bb, "built-in") == 0 ? vtag_run_path(dir, VTAG_RUN_FILE_BACKBONE, NULL) : strdup(bb);
    if (!r->backbone) {
        vtag_run_close(&r);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
    }
    *out = r;
    return VTAG_OK;
}

const char *vtag_run_dir(const vtag_run *r)
{
    return r->dir;
}

const char *vtag_run_backbone(const vtag_run *r)
{
    return r->backbone;
}

const char *vtag_run_sample(const vtag_run *r)
{
    return json_string_value(json_object_get(r->root, "sample"));
}

int64_t vtag_run_size(const vtag_run *r)
{
    json_int_t size = json_integer_value(json_object_get(r->root, "size"));
    return size > 0 ? (int64_t)size : 0;
}

/* ---- the best model ------------------------------------------------------------ */

void vtag_run_choice_free(vtag_run_choice *c)
{
    free(c->model);
    free(c->checkpoint);
    memset(c, 0, sizeof *c);
}

/* The summary's figure, -1 when it has none. */
static double figure(const json_t *entry, const char *key)
{
    const json_t *v = json_object_get(entry, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

int vtag_run_best(const vtag_run *r, const char *model, vtag_run_choice *c, vtag_error *err)
{
    memset(c, 0, sizeof *c);
    json_t *summary = json_object_get(r->root, "summary");
    const char *pick = model;
    if (!pick) {
        /* >= in training order: a tie goes to the later model */
        double best = -2;
        for (int i = 0; i < VTAG_RUN_N_MODELS; i++) {
            json_t *s = json_object_get(summary, MODELS[i]);
            if (!s) continue;
            double xe = figure(s, "val_cider_d_xe"), sc = figure(s, "val_cider_d_scst");
            double v = xe > sc ? xe : sc;
            if (v >= best) best = v, pick = MODELS[i];
        }
    }
    for (int i = VTAG_RUN_N_MODELS - 1; i >= 0 && !c->checkpoint; i--) {
        const char *name = pick ? pick : MODELS[i];
        json_t *s = json_object_get(summary, name);
        double fig[2] = {figure(s, "val_cider_d_xe"), figure(s, "val_cider_d_scst")};
        int first = fig[0] > fig[1] ? 0 : 1; /* SCST on a tie */
        for (int k = 0; k < 2 && !c->checkpoint; k++) {
            int scst = k == 0 ? first : !first;
            char *p = vtag_run_path(r->dir, scst ? VTAG_RUN_FILE_SCST : VTAG_RUN_FILE_XE, name);
            if (!p) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->dir);
            if (!vtag_is_file(p)) {
                free(p);
                continue;
            }
            c->checkpoint = p;
            c->scst = scst;
            c->val_cider_d = fig[scst];
            if (!(c->model = strdup(name))) {
                vtag_run_choice_free(c);
                return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->dir);
            }
        }
        if (pick) break;
    }
    if (!c->checkpoint)
        return vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: no trained %s model (vtag pipeline has not finished it)",
                         r->dir, pick ? pick : "caption");
    return VTAG_OK;
}

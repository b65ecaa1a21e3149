/* The run folder: artefact names, the manifest DIR/pipeline.json (read and
 * written), the trained checkpoints present and the best-model choice. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vtag/run.h"
#include "vtag/caption.h"
#include "vtag/trainer.h"

struct vtag_run {
    char *dir;
    char *path;     /* DIR/pipeline.json */
    json_t *root;   /* the manifest */
    json_t *want;   /* the pipeline's settings for this run (NULL when read-only) */
    char *backbone; /* resolved (read-only) */
    int lock;       /* DIR/pipeline.lock's descriptor (pipeline), else -1 */
};

/* ---- names ------------------------------------------------------------------ */

/* "video": topdown over each video's frames (vtag train --video), one caption per video. */
static const char *const MODELS[VTAG_RUN_N_MODELS] = {"fc", "att2in", "topdown", "video"};

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
    vtag_lock_release(&(*r)->lock);
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
    if (r) r->lock = -1;
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

/* ---- the pipeline's side ------------------------------------------------------ */

/* The settings, and which of them each stage's output depends on (through its
 * inputs too: features are made by the backbone). micro_batches is absent from
 * r->want when not given, and is checked by vtag_run_set_launch. tag_order is
 * "labels" or "frequency"; a manifest whose training stages finished before it
 * was recorded has none, and means "frequency". */
enum {
    KEY_LABELS = 1, KEY_BACKBONE = 2, KEY_SIZE = 4, KEY_SAMPLE = 8, KEY_HIDDEN = 16, KEY_MICRO = 32, KEY_ORDER = 64,
    KEY_ALL = 127
};
static const char *const KEY_NAMES[] = {"labels", "backbone", "size", "sample", "hidden", "micro_batches", "tag_order"};
enum { N_KEYS = 7, I_MICRO = 5, I_ORDER = 6 };

/* A recorded tag_order: 1 "labels", 0 "frequency" or none, -1 anything else. */
static int keeps_tag_order(const json_t *order)
{
    const char *v = json_string_value(order);
    if (!order || (v && strcmp(v, "frequency") == 0)) return 0;
    return v && strcmp(v, "labels") == 0 ? 1 : -1;
}

static unsigned stage_keys(const char *stage)
{
    if (strcmp(stage, "backbone") == 0) return KEY_LABELS | KEY_BACKBONE | KEY_SIZE;
    if (strncmp(stage, "features-", 9) == 0) return KEY_LABELS | KEY_BACKBONE | KEY_SIZE | KEY_SAMPLE;
    return KEY_ALL; /* <model>-xe, <model>, and any other name a manifest may hold */
}

/* The settings the finished stages used. */
static unsigned used_keys(const vtag_run *r)
{
    unsigned used = 0;
    const char *stage;
    json_t *v;
    json_object_foreach(json_object_get(r->root, "stages"), stage, v) used |= stage_keys(stage);
    return used;
}

static int mismatch(const vtag_run *r, int key, vtag_error *err)
{
    return vtag_fail(err, VTAG_ERR_ARG, "%s: was made with another %s; use --restart (or another --out)", r->path,
                     KEY_NAMES[key]);
}

/* Loads the manifest, or starts an empty one when there is none (or with
 * restart), and checks the recorded settings against r->want. A setting is
 * recorded when the first stage that used it finishes, so pipeline.json never
 * holds a value no stage accepted; one no finished stage used is dropped
 * (manifests before settings were recorded per stage held every setting from
 * the start). */
static int manifest_load(vtag_run *r, int restart, vtag_error *err)
{
    if (restart || !vtag_is_file(r->path)) {
        r->root = json_pack("{s:o}", "stages", json_object());
        return r->root ? VTAG_OK : vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    }
    json_error_t je;
    r->root = json_load_file(r->path, 0, &je);
    json_t *stages = json_object_get(r->root, "stages");
    if (!r->root || !json_is_object(stages))
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s:%d: not a pipeline manifest (%s); use --restart to start again",
                         r->path, je.line, r->root ? "no \"stages\" object" : je.text);
    unsigned used = used_keys(r);
    if ((used & KEY_ORDER) && !json_object_get(r->root, KEY_NAMES[I_ORDER]) &&
        json_object_set_new(r->root, KEY_NAMES[I_ORDER], json_string("frequency")))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    for (int i = 0; i < N_KEYS; i++) {
        const json_t *had = json_object_get(r->root, KEY_NAMES[i]), *want = json_object_get(r->want, KEY_NAMES[i]);
        if (!(used & (1u << i))) json_object_del(r->root, KEY_NAMES[i]);
        else if (i != I_MICRO && !json_equal(had, want)) return mismatch(r, i, err);
    }
    return VTAG_OK;
}

/* Held to the close, and by each stage (inherited): a second pipeline on DIR,
 * or one started while a stage of a killed pipeline still ran, is refused. */
static int lock_dir(vtag_run *r, vtag_error *err)
{
    char *path = vtag_run_path(r->dir, VTAG_RUN_FILE_LOCK, NULL);
    if (!path) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->dir);
    long holder;
    int rc = vtag_lock_file(path, &r->lock, &holder, err);
    free(path);
    if (rc && holder > 0) vtag_fail(err, rc, "%s is in use by another vtag pipeline (pid %ld)", r->dir, holder);
    else if (rc && holder < 0) vtag_fail(err, rc, "%s is in use by another vtag pipeline", r->dir);
    return rc;
}

int vtag_run_open_pipeline(vtag_run **out, const char *dir, const vtag_run_settings *s, int restart,
                           vtag_error *err)
{
    *out = NULL;
    vtag_run *r = NULL;
    int rc = run_new(&r, dir, err);
    if (rc) return rc;
    r->want = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "labels", s->labels, "backbone", s->backbone, "sample",
                        s->sample, "size", (json_int_t)s->size, "hidden", (json_int_t)s->hidden,
                        KEY_NAMES[I_ORDER], s->keep_tag_order ? "labels" : "frequency");
    if (!r->want) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
    if (!rc && mkdir(dir, 0777) && errno != EEXIST)
        rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot create the folder (%s)", dir, strerror(errno));
    if (!rc) rc = lock_dir(r, err);
    if (!rc) rc = manifest_load(r, restart, err);
    if (rc) {
        vtag_run_close(&r);
        return rc;
    }
    *out = r;
    return VTAG_OK;
}

int vtag_run_save(vtag_run *r, vtag_error *err)
{
    char *text = json_dumps(r->root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    int rc = vtag_atomic_write(r->path, text, strlen(text), err);
    free(text);
    return rc;
}

int vtag_run_stage_done(const vtag_run *r, const char *stage, double *seconds)
{
    json_t *v = json_object_get(json_object_get(r->root, "stages"), stage);
    if (seconds) *seconds = v ? json_number_value(v) : 0;
    return v != NULL;
}

int vtag_run_stage_finish(vtag_run *r, const char *stage, double seconds, vtag_error *err)
{
    unsigned keys = stage_keys(stage);
    for (int i = 0; i < N_KEYS; i++) {
        json_t *v = json_object_get(r->want, KEY_NAMES[i]);
        if (!(keys & (1u << i))) continue;
        if (!v) json_object_del(r->root, KEY_NAMES[i]); /* micro_batches not given */
        else if (json_object_set(r->root, KEY_NAMES[i], v))
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    }
    if (json_object_set_new(json_object_get(r->root, "stages"), stage, json_real(seconds)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    return vtag_run_save(r, err);
}

void vtag_run_recorded(const vtag_run *r, vtag_run_settings *s)
{
    s->labels = json_string_value(json_object_get(r->root, "labels"));
    s->backbone = json_string_value(json_object_get(r->root, "backbone"));
    s->sample = json_string_value(json_object_get(r->root, "sample"));
    s->size = (int64_t)json_integer_value(json_object_get(r->root, "size"));
    s->hidden = (int64_t)json_integer_value(json_object_get(r->root, "hidden"));
    s->keep_tag_order = keeps_tag_order(json_object_get(r->root, KEY_NAMES[I_ORDER])) == 1;
}

int vtag_run_read_tag_order(const char *dir, int *keep, vtag_error *err)
{
    *keep = 0;
    char *path = vtag_run_path(dir, VTAG_RUN_FILE_MANIFEST, NULL);
    if (!path) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", dir);
    json_error_t je;
    const int is_file = vtag_is_file(path); /* first: jansson's open would block on a FIFO */
    json_t *root = is_file ? json_load_file(path, 0, &je) : NULL;
    const int k = keeps_tag_order(json_object_get(root, KEY_NAMES[I_ORDER]));
    int rc = VTAG_OK;
    if (is_file && !root) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s:%d: %s", path, je.line, je.text);
    else if (k < 0)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: tag_order is neither \"frequency\" nor \"labels\"", path);
    else *keep = k;
    json_decref(root);
    free(path);
    return rc;
}

int vtag_run_set_launch(vtag_run *r, const vtag_run_launch *l, vtag_error *err)
{
    if (l->launcher && vtag_utf8_valid_prefix(l->launcher, strlen(l->launcher)) != strlen(l->launcher))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: the launcher is not UTF-8", r->path);
    /* set_new takes a NULL value (out of memory) as a failure */
    json_object_del(r->want, KEY_NAMES[I_MICRO]);
    if (json_object_set_new(r->root, "launcher", l->launcher ? json_string(l->launcher) : json_null()) ||
        (l->micro_batches > 0 &&
         json_object_set_new(r->want, KEY_NAMES[I_MICRO], json_integer((json_int_t)l->micro_batches))))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    /* absent on both sides: made without micro-batches, run without */
    json_t *had = json_object_get(r->root, KEY_NAMES[I_MICRO]), *want = json_object_get(r->want, KEY_NAMES[I_MICRO]);
    if ((used_keys(r) & KEY_MICRO) && (had || want) && !json_equal(had, want)) return mismatch(r, I_MICRO, err);
    return VTAG_OK;
}

/* Largest val_cider_d in a training log; -1 when none or the log cannot be
 * read (the summary then shows -1; the stages' own runs have already
 * reported). */
static double best_val(const char *log_path)
{
    vtag_trainer_record *rec = NULL;
    int64_t n = 0;
    double best = -1;
    if (vtag_trainer_read_log(log_path, &rec, &n, NULL)) return -1;
    for (int64_t i = 0; i < n; i++)
        if (rec[i].val_cider_d > best) best = rec[i].val_cider_d; /* NaN: no validation */
    free(rec);
    return best;
}

int vtag_run_summarize(vtag_run *r, const vtag_run_plan *p, vtag_run_figures f[VTAG_RUN_N_MODELS], int *n,
                       vtag_error *err)
{
    *n = 0;
    if (p->videos[VTAG_DATA_SPLIT_VAL] == 0) return VTAG_OK;
    int scst = 0;
    for (int i = 0; i < p->n; i++) scst |= p->stage[i].kind == VTAG_RUN_STAGE_SCST;
    /* Models this plan does not train keep their figures (a --model video run
     * in a folder whose other models were trained before). */
    json_t *old = json_object_get(r->root, "summary");
    json_t *summary = json_is_object(old) ? json_deep_copy(old) : json_object();
    if (!summary) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", r->path);
    for (int k = 0; k < p->n_models; k++) {
        char *xe = vtag_run_path(r->dir, VTAG_RUN_FILE_XE_LOG, p->models[k]);
        char *sc = vtag_run_path(r->dir, VTAG_RUN_FILE_SCST_LOG, p->models[k]);
        f[k].model = p->models[k];
        f[k].val_cider_d_xe = xe ? best_val(xe) : -1;
        f[k].val_cider_d_scst = sc && scst ? best_val(sc) : -1;
        free(xe);
        free(sc);
        json_object_set_new(summary, p->models[k], json_pack("{s:f, s:f}", "val_cider_d_xe", f[k].val_cider_d_xe,
                                                             "val_cider_d_scst", f[k].val_cider_d_scst));
    }
    *n = p->n_models;
    json_object_set_new(r->root, "summary", summary);
    return VTAG_OK;
}

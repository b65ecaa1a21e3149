/* vtag pipeline --dry-run: each stage's time on this machine, measured by
 * running the plan's own stage commands, two epochs each, on a few of the
 * labelled videos in a temporary folder, and scaled to the whole run. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtag/backbone_run.h"
#include "vtag/run.h"
#include "vtag/trainer.h"
#include "run_internal.h"

/* Epochs of each calibration stage: the fastest is the one scaled. */
enum { CALIBRATION_EPOCHS = 2 };

void vtag_run_estimate_opts_defaults(vtag_run_estimate_opts *o)
{
    *o = (vtag_run_estimate_opts){.videos = 24};
}

/* What a calibration stage took: wall seconds; its fastest epoch's training
 * (the epoch lines' "seconds": the first epoch also warms up; 0 for features);
 * and the rest, the wall time less its epochs' training. */
typedef struct measure {
    double wall, epoch, rest;
} measure;

/* Removes the calibration folder and what the stages wrote in it (files only). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *p = vtag_path_join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* Takes k of the n good entries of each split, spread evenly over the file. */
static unsigned char *pick(const vtag_run_plan *p, const vtag_data_labels *l, int64_t want, int64_t k[3])
{
    int64_t n[3] = {0, 0, 0}, good = 0, seen[3] = {0, 0, 0};
    unsigned char *take = calloc((size_t)l->count + 1, 1);
    if (!take) return NULL;
    for (int64_t i = 0; i < l->count; i++)
        if (!p->bad || !p->bad[i]) n[l->entries[i].split]++, good++;
    for (int s = 0; s < 3; s++) {
        k[s] = n[s] ? (want * n[s] + good / 2) / (good ? good : 1) : 0;
        const int64_t least = s == VTAG_DATA_SPLIT_TRAIN ? 2 : 1;
        if (n[s] && k[s] < least) k[s] = least;
        if (k[s] > n[s]) k[s] = n[s];
    }
    int64_t taken[3] = {0, 0, 0};
    for (int64_t i = 0; i < l->count; i++) {
        const int s = l->entries[i].split;
        if (p->bad && p->bad[i]) continue;
        /* entry j of the split is taken when it starts a new k/n-th */
        if (taken[s] < k[s] && seen[s] * k[s] >= taken[s] * n[s]) take[i] = 1, taken[s]++;
        seen[s]++;
    }
    return take;
}

/* The fastest and the sum of the "seconds" of a log of JSON lines (0 without). */
static void epoch_seconds(const char *path, double *fastest, double *sum)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[4096];
    *fastest = *sum = 0;
    while (f && fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        const double s = json_number_value(json_object_get(o, "seconds"));
        if (json_is_number(json_object_get(o, "seconds")) && (*fastest == 0 || s < *fastest)) *fastest = s;
        *sum += s;
        json_decref(o);
    }
    if (f) fclose(f);
}

/* The last line of a child's output, for a calibration that failed. */
static void last_line(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    out[0] = 0;
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n') {
            size_t n = strnlen(line, cap - 1);
            memcpy(out, line, n);
            out[n] = 0;
        }
    if (f) fclose(f);
    out[strcspn(out, "\n")] = 0;
}

/* Runs calibration stage s; its time in *m. */
static int run_one(const vtag_run_stage *s, const vtag_run_stage_opts *so, const char *dir,
                   const vtag_run_estimate_opts *o, measure *m, vtag_error *err)
{
    vtag_run_argv c;
    vtag_run_stage_argv(&c, s, so);
    char *out = vtag_path_join(dir, "stage.out"), *bb_log = vtag_path_join(dir, "backbone.log.jsonl");
    if (!out || !bb_log) {
        free(out);
        free(bb_log);
        return vtag_fail(err, VTAG_ERR_NOMEM, "calibration: out of memory");
    }
    if (s->kind == VTAG_RUN_STAGE_BACKBONE) { /* its epoch line, for the epoch's share */
        c.v[c.n++] = "--log";
        c.v[c.n++] = bb_log;
        c.v[c.n] = NULL;
    }
    if (o->note) o->note(o->user, s);
    int status;
    const double t = vtag_seconds();
    int rc = vtag_run_exec_log(NULL, c.v, out, &status, err);
    m->wall = vtag_seconds() - t;
    if (!rc && status) {
        char tail[512];
        last_line(out, tail, sizeof tail);
        rc = vtag_fail(err, VTAG_ERR_IO, "calibration: 'vtag %s' failed (exit %d): %s", c.v[1], status, tail);
    }
    double sum;
    epoch_seconds(s->kind == VTAG_RUN_STAGE_BACKBONE ? bb_log : s->log, &m->epoch, &sum);
    m->rest = sum < m->wall ? m->wall - sum : 0;
    free(out);
    free(bb_log);
    return rc;
}

/* A features stage costs F + c per video (F: the process, the backbone's load, the
 * threads), fitted on the calibration's features stages of the most and the fewest
 * videos; with one, or a fit that makes no sense, c = its time per video. */
typedef struct per_video {
    double fixed, each;
} per_video;

static per_video fit_features(const vtag_run_plan *cp, const measure *m, const int64_t k[3])
{
    int lo = -1, hi = -1;
    for (int i = 0; i < cp->n; i++) {
        vtag_data_split s;
        if (cp->stage[i].kind != VTAG_RUN_STAGE_FEATURES || vtag_data_split_parse(cp->stage[i].split, &s)) continue;
        if (lo < 0 || k[s] < k[lo]) lo = s;
        if (hi < 0 || k[s] > k[hi]) hi = s;
    }
    per_video f = {0, 0};
    double t[3] = {0, 0, 0};
    for (int i = 0; i < cp->n; i++) {
        vtag_data_split s;
        if (cp->stage[i].kind == VTAG_RUN_STAGE_FEATURES && !vtag_data_split_parse(cp->stage[i].split, &s))
            t[s] = m[i].wall;
    }
    if (hi < 0) return f;
    if (k[hi] > k[lo]) {
        f.each = (t[hi] - t[lo]) / (double)(k[hi] - k[lo]);
        f.fixed = t[hi] - f.each * (double)k[hi];
    }
    if (f.each <= 0 || f.fixed < 0) f = (per_video){0, t[hi] / (double)k[hi]};
    return f;
}

/* Scales the calibration's measure of stage s's kind to the plan's sizes: what
 * is done once (the process, loading, decoding the backbone's frames) stays, the
 * epochs' training grows with the training videos and the epochs. A training
 * stage's validation is counted once: it is small next to its epochs. */
static double scale(const vtag_run_stage *s, const measure *m, const int64_t n[3], const int64_t k[3],
                    const vtag_run_stage_opts *so, per_video feats)
{
    const double tr = (double)n[0] / (double)k[0], rest = m->rest;
    if (s->kind == VTAG_RUN_STAGE_FEATURES) {
        vtag_data_split split;
        if (vtag_data_split_parse(s->split, &split)) return m->wall;
        return feats.fixed + feats.each * (double)n[split];
    }
    if (s->kind == VTAG_RUN_STAGE_BACKBONE) {
        vtag_builtin_run_opts d;
        vtag_builtin_run_defaults(&d);
        const double epochs = so->backbone_epochs > 0 ? (double)so->backbone_epochs : (double)d.train.epochs;
        /* its frames decoded once (train and val videos), its epochs on the training frames */
        const double both = (double)(n[0] + n[1]) / (double)(k[0] + k[1]);
        return m->epoch * tr * epochs + rest * both;
    }
    const double epochs = (double)(s->kind == VTAG_RUN_STAGE_XE ? so->xe_epochs : so->scst_epochs);
    return rest + epochs * m->epoch * tr;
}

/* The model option of a plan: "all" for every model, else the one. */
static const char *plan_model(const vtag_run_plan *p)
{
    return p->n_models == VTAG_RUN_N_MODELS ? "all" : p->models[0];
}

int vtag_run_estimate(const vtag_run_plan *p, const vtag_run_stage_opts *so, const vtag_run_estimate_opts *o,
                      double seconds[VTAG_RUN_MAX_STAGES], vtag_error *err)
{
    for (int i = 0; i < VTAG_RUN_MAX_STAGES; i++) seconds[i] = 0;
    const char *tmp = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/vtag-dry-run.XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)sizeof dir)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: too long for a temporary folder", tmp);
    if (!mkdtemp(dir)) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot create a temporary folder (%s)", dir, strerror(errno));
    vtag_data_labels l;
    int rc = vtag_data_read_labels(&l, p->settings.labels, NULL, err);
    if (rc) {
        remove_dir(dir);
        return rc;
    }
    int64_t k[3], n[3] = {0, 0, 0};
    for (int64_t i = 0; i < l.count; i++) n[l.entries[i].split] += !p->bad || !p->bad[i];
    unsigned char *take = pick(p, &l, o->videos > 0 ? o->videos : 24, k);
    char *labels = vtag_path_join(dir, "labels.jsonl");
    int64_t got[3] = {0, 0, 0};
    if (!take || !labels) rc = vtag_fail(err, VTAG_ERR_NOMEM, "calibration: out of memory");
    if (!rc) rc = vtag_run_labels_write(labels, &l, take, got, err);
    vtag_data_free_labels(&l);
    free(take);
    /* The same stages on the calibration videos, CALIBRATION_EPOCHS epochs each. */
    vtag_run_plan cp;
    memset(&cp, 0, sizeof cp);
    const int builtin = strcmp(p->settings.backbone, "built-in") == 0;
    int scst = 0;
    for (int i = 0; i < p->n; i++) scst |= p->stage[i].kind == VTAG_RUN_STAGE_SCST;
    vtag_run_plan_opts po = {dir, labels, builtin ? NULL : p->settings.backbone, plan_model(p), p->settings.sample,
                             p->settings.size, p->settings.hidden, CALIBRATION_EPOCHS, scst};
    if (!rc) rc = vtag_run_plan_build(&cp, &po, err);
    vtag_run_stage_opts one = *so;
    one.backbone_epochs = CALIBRATION_EPOCHS, one.xe_epochs = CALIBRATION_EPOCHS, one.scst_epochs = CALIBRATION_EPOCHS;
    measure m[VTAG_RUN_MAX_STAGES];
    for (int i = 0; !rc && i < cp.n; i++) rc = run_one(&cp.stage[i], &one, dir, o, &m[i], err);
    const per_video feats = rc ? (per_video){0, 0} : fit_features(&cp, m, k);
    for (int i = 0; !rc && i < p->n; i++)
        for (int j = 0; j < cp.n; j++)
            if (strcmp(cp.stage[j].name, p->stage[i].name) == 0)
                seconds[i] = scale(&p->stage[i], &m[j], n, k, so, feats);
    vtag_run_plan_free(&cp);
    free(labels);
    remove_dir(dir);
    return rc;
}

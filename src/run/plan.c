/* The pipeline's plan: every stage with its files, built before any runs,
 * what --restart removes, and the child process that runs a stage. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vtag/caption.h"
#include "vtag/run.h"

enum { MAX_STAGES = VTAG_RUN_MAX_STAGES, MAX_OWNED = 3 + 3 + 4 * VTAG_RUN_N_MODELS };

void vtag_run_plan_free(vtag_run_plan *p)
{
    for (int i = 0; i < p->n_owned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->stage);
    memset(p, 0, sizeof *p);
}

/* s, kept by the plan (NULL when s is). */
static const char *keep(vtag_run_plan *p, char *s)
{
    if (s) p->owned[p->n_owned++] = s;
    return s;
}

static vtag_run_stage *add(vtag_run_plan *p, vtag_run_stage_kind kind, const char *name_fmt, const char *name_arg)
{
    vtag_run_stage *s = &p->stage[p->n++];
    s->kind = kind;
    snprintf(s->name, sizeof s->name, name_fmt, name_arg);
    s->labels = p->settings.labels;
    return s;
}

/* Reads the labels: a bad file fails before any work, and the split sizes
 * decide which feature stages exist. */
static int count_videos(vtag_run_plan *p, const char *labels, vtag_error *err)
{
    vtag_data_labels l;
    int rc = vtag_data_read_labels(&l, labels, NULL, err);
    if (rc) return rc;
    for (int64_t i = 0; i < l.count; i++) p->videos[l.entries[i].split]++;
    vtag_data_free_labels(&l);
    if (p->videos[VTAG_DATA_SPLIT_TRAIN] == 0)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: no training videos (split \"train\" or no split)", labels);
    return VTAG_OK;
}

/* The settings, with the labels' and backbone's absolute paths. */
static int settings(vtag_run_plan *p, const vtag_run_plan_opts *o, vtag_error *err)
{
    if (o->backbone && !vtag_is_file(o->backbone))
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open the backbone", o->backbone);
    const char *labels = keep(p, realpath(o->labels, NULL));
    const char *bb = labels && o->backbone ? keep(p, realpath(o->backbone, NULL)) : NULL;
    if (!labels || (o->backbone && !bb))
        return vtag_fail(err, VTAG_ERR_IO, "cannot resolve the paths of --labels/--backbone (%s)", strerror(errno));
    p->settings = (vtag_run_settings){labels, bb ? bb : "built-in", o->sample, o->size, o->hidden};
    return VTAG_OK;
}

static int models(vtag_run_plan *p, const char *model)
{
    for (int i = 0; i < VTAG_RUN_N_MODELS; i++)
        if (strcmp(model, "all") == 0 || strcmp(model, vtag_run_model(i)) == 0 ||
            (strcmp(model, "updown") == 0 && i == 2))
            p->models[p->n_models++] = vtag_run_model(i);
    return p->n_models ? 0 : -1;
}

int vtag_run_plan_build(vtag_run_plan *p, const vtag_run_plan_opts *o, vtag_error *err)
{
    memset(p, 0, sizeof *p);
    p->stage = calloc(MAX_STAGES, sizeof *p->stage);
    p->owned = calloc(MAX_OWNED, sizeof *p->owned);
    if (!p->stage || !p->owned) {
        vtag_run_plan_free(p);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", o->dir);
    }
    int rc = count_videos(p, o->labels, err);
    if (!rc) rc = settings(p, o, err);
    if (!rc && models(p, o->model)) rc = vtag_fail(err, VTAG_ERR_ARG, "%s: no model named %s", o->dir, o->model);
    if (rc) {
        vtag_run_plan_free(p);
        return rc;
    }
    int nomem = 0;
    const char *bb = o->backbone ? p->settings.backbone : keep(p, vtag_run_path(o->dir, VTAG_RUN_FILE_BACKBONE, NULL));
    nomem |= !bb;
    if (!o->backbone) {
        vtag_run_stage *s = add(p, VTAG_RUN_STAGE_BACKBONE, "%s", "backbone");
        snprintf(s->what, sizeof s->what, "backbone: train the built-in CNN");
        s->out = bb;
    }
    const char *feats[3];
    for (int i = 0; i < 3; i++) {
        const char *split = vtag_data_split_name((vtag_data_split)i);
        nomem |= !(feats[i] = keep(p, vtag_run_path(o->dir, VTAG_RUN_FILE_FEATURES, split)));
        if (p->videos[i] == 0) continue;
        vtag_run_stage *s = add(p, VTAG_RUN_STAGE_FEATURES, "features-%s", split);
        snprintf(s->what, sizeof s->what, "features: %lld %s videos", (long long)p->videos[i], split);
        s->split = split;
        s->backbone = bb;
        s->out = feats[i];
    }
    for (int k = 0; k < p->n_models; k++) {
        const char *m = p->models[k];
        const char *xe = keep(p, vtag_run_path(o->dir, VTAG_RUN_FILE_XE, m));
        const char *xe_log = keep(p, vtag_run_path(o->dir, VTAG_RUN_FILE_XE_LOG, m));
        const char *sc = keep(p, vtag_run_path(o->dir, VTAG_RUN_FILE_SCST, m));
        const char *sc_log = keep(p, vtag_run_path(o->dir, VTAG_RUN_FILE_SCST_LOG, m));
        nomem |= !xe || !xe_log || !sc || !sc_log;
        for (int scst = 0; scst < 1 + (o->scst_epochs > 0); scst++) {
            vtag_run_stage *s = add(p, scst ? VTAG_RUN_STAGE_SCST : VTAG_RUN_STAGE_XE, scst ? "%s" : "%s-xe", m);
            if (scst) snprintf(s->what, sizeof s->what, "%s: SCST, %lld epochs", m, (long long)o->scst_epochs);
            else snprintf(s->what, sizeof s->what, "%s: cross-entropy, %lld epochs", m, (long long)o->xe_epochs);
            s->model = m;
            s->feats = feats[0];
            s->val_feats = p->videos[VTAG_DATA_SPLIT_VAL] ? feats[1] : NULL;
            s->init = scst ? xe : NULL;
            s->out = scst ? sc : xe;
            s->log = scst ? sc_log : xe_log;
        }
    }
    if (nomem) {
        vtag_run_plan_free(p);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", o->dir);
    }
    return VTAG_OK;
}

int vtag_run_plan_forget(const vtag_run_plan *p, vtag_error *err)
{
    for (int i = 0; i < p->n; i++) {
        const vtag_run_stage *s = &p->stage[i];
        if (s->kind != VTAG_RUN_STAGE_XE && s->kind != VTAG_RUN_STAGE_SCST) continue;
        char *state = vtag_train_state_path(s->out);
        if (!state) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", s->out);
        const char *gone[3] = {s->out, state, s->log};
        for (int g = 0; g < 3; g++)
            if (unlink(gone[g]) != 0 && errno != ENOENT) {
                int rc = vtag_fail(err, VTAG_ERR_IO, "--restart: cannot remove %s: %s", gone[g], strerror(errno));
                free(state);
                return rc;
            }
        free(state);
    }
    return VTAG_OK;
}

int vtag_run_exec(char *const *argv, int *status, vtag_error *err)
{
    *status = -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return vtag_fail(err, VTAG_ERR_IO, "cannot find the vtag executable (/proc/self/exe)");
    self[n] = 0;
    fflush(stdout);
    fflush(stderr);
    sigset_t none;
    sigemptyset(&none);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return vtag_fail(err, VTAG_ERR_IO, "cannot start %s: %s", self, strerror(errno));
    if (pid == 0) {
        /* The stage dies with the pipeline however the pipeline dies (a SIGKILL to its PID
         * alone included): the kernel sends it SIGTERM then, with SIGTERM's default action.
         * A pipeline that died before prctl took effect is no longer the parent. Only
         * async-signal-safe calls between fork and exec. */
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
        execv(self, argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return vtag_fail(err, VTAG_ERR_IO, "cannot wait for %s: %s", self, strerror(errno));
    if (WIFSIGNALED(st))
        return vtag_fail(err, VTAG_ERR_IO, "'vtag %s' was killed by signal %d", argv[1], WTERMSIG(st));
    *status = WEXITSTATUS(st);
    return VTAG_OK;
}

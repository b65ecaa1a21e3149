/* The pipeline's plan: every stage with its files, built before any runs,
 * what --restart removes, and the child process that runs a stage (under a
 * launcher such as mpirun for the stages that share work out over ranks). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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
        s->sharded = 1;
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
            s->sharded = 1;
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

int vtag_run_launcher_split(const char *text, char ***words, vtag_error *err)
{
    *words = NULL;
    /* A word takes at least one byte and a blank after it ('' two bytes): at
     * most len/2 + 1 words, their bytes and terminators within len + 1. */
    const size_t len = strlen(text);
    size_t n_ptr = len / 2 + 2, bytes;
    if (vtag_mul_size(n_ptr, sizeof(char *), &bytes) || bytes > SIZE_MAX - len - 1)
        return vtag_fail(err, VTAG_ERR_ARG, "'%.40s...': too long", text);
    char **w = malloc(bytes + len + 1);
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "'%.40s': out of memory", text);
    char *out = (char *)(w + n_ptr);
    int n = 0, in_word = 0;
    char quote = 0;
    for (const char *c = text; *c; c++) {
        if (quote && *c == quote) {
            quote = 0;
        } else if (quote) {
            *out++ = *c;
        } else if (*c == ' ' || *c == '\t' || *c == '\n') {
            if (in_word) *out++ = 0;
            in_word = 0;
        } else {
            if (!in_word) w[n++] = out;
            in_word = 1;
            if (*c == '\'' || *c == '"') quote = *c;
            else *out++ = *c;
        }
    }
    if (in_word) *out = 0;
    w[n] = NULL;
    int rc = VTAG_OK;
    if (quote) rc = vtag_fail(err, VTAG_ERR_ARG, "'%s': unbalanced %c quote", text, quote);
    else if (n == 0) rc = vtag_fail(err, VTAG_ERR_ARG, "'%s': no command", text);
    else if (vtag_utf8_valid_prefix(text, len) != len) rc = vtag_fail(err, VTAG_ERR_ARG, "'%s': not UTF-8", text);
    if (rc) free(w);
    else *words = w;
    return rc;
}

/* Child side of vtag_run_exec: async-signal-safe calls only, and glibc's
 * execvp, which takes no lock (its path buffer is on the stack). full: the
 * launcher's command line, NULL without one. An exec that fails writes its
 * errno to fd (closed by a successful exec) for the parent's message. */
static void exec_child(char *const *full, char *const *argv, const char *self, pid_t parent, int fd)
{
    /* The stage dies with the pipeline however the pipeline dies (a SIGKILL to its PID
     * alone included): the kernel sends it SIGTERM then, with SIGTERM's default action.
     * A launcher passes it on to its job (mpirun: SIGTERM to every rank). A pipeline
     * that died before prctl took effect is no longer the parent. */
    sigset_t none;
    sigemptyset(&none);
    signal(SIGTERM, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
    if (full) execvp(full[0], full);
    else execv(self, argv);
    int e = errno;
    if (write(fd, &e, sizeof e) < 0) _exit(127);
    _exit(127);
}

int vtag_run_exec(char *const *launcher, char *const *argv, int *status, vtag_error *err)
{
    *status = -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return vtag_fail(err, VTAG_ERR_IO, "cannot find the vtag executable (/proc/self/exe)");
    self[n] = 0;
    /* The launcher's command line: its words, this executable's absolute path, the stage's arguments. */
    size_t n_l = 0, n_a = 0;
    while (launcher && launcher[n_l]) n_l++;
    while (argv[n_a]) n_a++;
    char **full = NULL;
    if (launcher && !(full = calloc(n_l + n_a + 1, sizeof *full)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", launcher[0]);
    for (size_t i = 0; full && i < n_l + n_a; i++)
        full[i] = i < n_l ? launcher[i] : i == n_l ? self : argv[i - n_l];
    const char *what = launcher ? launcher[0] : self;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(full);
        return vtag_fail(err, VTAG_ERR_IO, "cannot start %s: %s", what, strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        exec_child(full, argv, self, parent, fds[1]);
    }
    int fork_errno = errno;
    close(fds[1]);
    free(full);
    if (pid < 0) {
        close(fds[0]);
        return vtag_fail(err, VTAG_ERR_IO, "cannot start %s: %s", what, strerror(fork_errno));
    }
    int exec_errno = 0;
    ssize_t got;
    while ((got = read(fds[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {}
    close(fds[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return vtag_fail(err, VTAG_ERR_IO, "cannot wait for %s: %s", what, strerror(errno));
    if (got == (ssize_t)sizeof exec_errno && launcher)
        return vtag_fail(err, VTAG_ERR_IO, "cannot start the launcher '%s': %s", what, strerror(exec_errno));
    if (got == (ssize_t)sizeof exec_errno)
        return vtag_fail(err, VTAG_ERR_IO, "cannot start %s: %s", what, strerror(exec_errno));
    if (WIFSIGNALED(st))
        return vtag_fail(err, VTAG_ERR_IO, "'%s%svtag %s' was killed by signal %d", launcher ? what : "",
                         launcher ? " ... " : "", argv[1], WTERMSIG(st));
    *status = WEXITSTATUS(st);
    return VTAG_OK;
}

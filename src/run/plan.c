/* The pipeline's plan: every stage with its files, built before any runs,
 * the videos checked before the first stage (and --skip-bad), each stage's
 * command line, what --restart removes, and the child process that runs a
 * stage (under a launcher such as mpirun for the stages that share work out
 * over ranks). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
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
#include "vtag/video.h"
#include "run_internal.h"

enum { MAX_STAGES = VTAG_RUN_MAX_STAGES, MAX_OWNED = 3 + 3 + 4 * VTAG_RUN_N_MODELS + 2 };

void vtag_run_plan_free(vtag_run_plan *p)
{
    for (int i = 0; i < p->n_owned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->stage);
    free(p->bad);
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
    p->settings = (vtag_run_settings){labels, bb ? bb : "built-in", o->sample, o->size, o->hidden, 0};
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
    if (!rc && !(p->dir = keep(p, strdup(o->dir)))) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", o->dir);
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
            s->train_videos = p->videos[VTAG_DATA_SPLIT_TRAIN];
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

/* ---- the videos, before the first stage ---------------------------------------------- */

int vtag_run_plan_check_videos(vtag_run_plan *p, void (*bad)(void *user, const char *line), void *user,
                               int64_t *n_bad, vtag_error *err)
{
    *n_bad = 0;
    vtag_data_labels l;
    int rc = vtag_data_read_labels(&l, p->settings.labels, NULL, err);
    if (rc) return rc;
    free(p->bad);
    p->n_bad = 0;
    p->n_entries = l.count;
    if (!(p->bad = calloc((size_t)l.count + 1, 1))) {
        vtag_data_free_labels(&l);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", p->settings.labels);
    }
    for (int64_t i = 0; i < l.count; i++) {
        vtag_video_info info;
        vtag_error e = {0};
        if (vtag_video_probe(l.entries[i].path, &info, &e) == VTAG_OK) continue;
        p->bad[i] = 1;
        p->n_bad++;
        char line[sizeof e.msg + PATH_MAX + 64];
        snprintf(line, sizeof line, "%s (%s:%lld)", e.msg, l.path, (long long)l.entries[i].line);
        if (bad) bad(user, line);
    }
    vtag_data_free_labels(&l);
    *n_bad = p->n_bad;
    return VTAG_OK;
}

int vtag_run_labels_write(const char *path, const vtag_data_labels *l, const unsigned char *take, int64_t videos[3],
                          vtag_error *err)
{
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    int nomem = !text;
    for (int64_t i = 0; !nomem && i < l->count; i++) {
        const vtag_data_entry *e = &l->entries[i];
        if (!take[i]) continue;
        videos[e->split]++;
        json_t *tags = json_array();
        for (int64_t t = 0; tags && t < e->n_tags; t++) json_array_append_new(tags, json_string(e->tags[t]));
        json_t *o = tags ? json_pack("{s:s, s:s, s:s, s:o, s:s}", "video", e->path, "class1", e->class1, "class2",
                                     e->class2, "tags", tags, "split", vtag_data_split_name(e->split))
                         : NULL;
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        size_t n = line ? strlen(line) : 0;
        while (line && len + n + 2 > cap && !nomem) {
            char *t = cap < SIZE_MAX / 2 ? realloc(text, cap * 2) : NULL;
            if (t) text = t, cap *= 2;
            else nomem = 1;
        }
        if (line && !nomem) {
            memcpy(text + len, line, n);
            len += n;
            text[len++] = '\n';
        }
        nomem |= !line;
        free(line);
    }
    int rc = nomem ? vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path) : vtag_atomic_write(path, text, len, err);
    free(text);
    return rc;
}

int vtag_run_plan_skip_bad(vtag_run_plan *p, vtag_error *err)
{
    if (!p->bad || !p->n_bad) return VTAG_OK;
    vtag_data_labels l;
    int rc = vtag_data_read_labels(&l, p->settings.labels, NULL, err);
    if (rc) return rc;
    const char *used = keep(p, vtag_path_join(p->dir, "labels-used.jsonl"));
    unsigned char *take = l.count == p->n_entries ? malloc((size_t)l.count + 1) : NULL;
    for (int64_t i = 0; take && i < l.count; i++) take[i] = !p->bad[i];
    int64_t videos[3] = {0, 0, 0};
    if (!used || !take) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory (or the labels changed)", p->dir);
    for (int64_t i = 0; !rc && i < l.count; i++) videos[l.entries[i].split] += take[i];
    if (!rc && videos[VTAG_DATA_SPLIT_TRAIN] == 0)
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: every training video is bad", p->settings.labels);
    for (int i = 1; i < 3 && !rc; i++)
        if (p->videos[i] && !videos[i])
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: every %s video is bad", p->settings.labels,
                           vtag_data_split_name((vtag_data_split)i));
    memset(videos, 0, sizeof videos);
    if (!rc) rc = vtag_run_labels_write(used, &l, take, videos, err);
    free(take);
    vtag_data_free_labels(&l);
    if (rc) return rc;
    memcpy(p->videos, videos, sizeof videos);
    for (int i = 0; i < p->n; i++) {
        vtag_run_stage *s = &p->stage[i];
        if (s->kind == VTAG_RUN_STAGE_BACKBONE) s->labels = used;
        if (s->kind != VTAG_RUN_STAGE_FEATURES) continue;
        vtag_data_split split;
        vtag_data_split_parse(s->split, &split);
        s->skip_bad = 1;
        snprintf(s->what, sizeof s->what, "features: %lld %s videos", (long long)videos[split], s->split);
    }
    return VTAG_OK;
}

/* ---- each stage as the command line that runs it ------------------------------------ */

void vtag_run_stage_opts_defaults(vtag_run_stage_opts *o)
{
    *o = (vtag_run_stage_opts){.sample = "uniform:16", .baseline = "mean", .backbone_epochs = -1, .xe_epochs = 25,
                               .scst_epochs = 10, .hidden = 512, .batch = 50, .seed = 42, .sample_n = 5};
}

static void args(vtag_run_argv *a, ...) /* the strings up to a NULL */
{
    va_list ap;
    va_start(ap, a);
    for (const char *s; (s = va_arg(ap, const char *)) && a->n < 62;) a->v[a->n++] = (char *)s;
    va_end(ap);
    a->v[a->n] = NULL;
}

static void argn(vtag_run_argv *a, const char *opt, int64_t value)
{
    snprintf(a->own[a->n + 1], sizeof a->own[0], "%lld", (long long)value);
    args(a, opt, a->own[a->n + 1], NULL);
}

void vtag_run_stage_argv(vtag_run_argv *c, const vtag_run_stage *s, const vtag_run_stage_opts *a)
{
    memset(c, 0, sizeof *c);
    const int train = s->kind == VTAG_RUN_STAGE_XE || s->kind == VTAG_RUN_STAGE_SCST;
    if (s->kind == VTAG_RUN_STAGE_BACKBONE)
        args(c, "vtag", "backbone", "train", "--labels", s->labels, "--out", s->out, NULL);
    if (s->kind == VTAG_RUN_STAGE_FEATURES)
        args(c, "vtag", "features", "--backbone", s->backbone, "--labels", s->labels, "--split", s->split,
             "--sample", a->sample, NULL);
    if (s->kind == VTAG_RUN_STAGE_FEATURES && s->skip_bad) args(c, "--skip-bad", NULL);
    if (!train && a->size) argn(c, "--size", a->size);
    if (s->kind == VTAG_RUN_STAGE_BACKBONE && a->backbone_epochs > 0) argn(c, "--epochs", a->backbone_epochs);
    if (train) args(c, "vtag", "train", "--labels", s->labels, "--feats", s->feats, NULL);
    if (train && s->val_feats) args(c, "--val-feats", s->val_feats, NULL);
    const int video = s->model && strcmp(s->model, "video") == 0;
    if (s->kind == VTAG_RUN_STAGE_XE) {
        args(c, "--model", video ? "topdown" : s->model, NULL);
        if (video) args(c, "--video", NULL);
        argn(c, "--epochs", a->xe_epochs);
        argn(c, "--input-encoding-size", a->hidden);
        argn(c, "--rnn-size", a->hidden);
        argn(c, "--att-hid-size", a->hidden);
        int64_t b = s->train_videos / 100 > 2 ? s->train_videos / 100 : 2;
        argn(c, "--batch", video && b < a->batch ? b : a->batch);
    } else if (s->kind == VTAG_RUN_STAGE_SCST) {
        args(c, "--init", s->init, "--scst", "--baseline", a->baseline, NULL);
        argn(c, "--sample-n", a->sample_n);
        argn(c, "--epochs", a->scst_epochs);
    }
    if (a->threads) argn(c, "--threads", a->threads);
    if (s->kind != VTAG_RUN_STAGE_FEATURES) argn(c, "--seed", a->seed);
    if (s->kind != VTAG_RUN_STAGE_BACKBONE) args(c, "--out", s->out, NULL);
    if (train && a->micro_batches) argn(c, "--micro-batches", a->micro_batches);
    if (train && a->keep_tag_order) args(c, "--keep-tag-order", NULL);
    if (train) args(c, "--log", s->log, "--resume", NULL);
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
static void exec_child(char *const *full, char *const *argv, const char *self, pid_t parent, int fd, int log)
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
    if (log >= 0 && (dup2(log, 1) < 0 || dup2(log, 2) < 0)) _exit(127);
    if (full) execvp(full[0], full);
    else execv(self, argv);
    int e = errno;
    if (write(fd, &e, sizeof e) < 0) _exit(127);
    _exit(127);
}

int vtag_run_exec(char *const *launcher, char *const *argv, int *status, vtag_error *err)
{
    return vtag_run_exec_log(launcher, argv, NULL, status, err);
}

int vtag_run_exec_log(char *const *launcher, char *const *argv, const char *log_path, int *status, vtag_error *err)
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
    int fds[2], log = -1;
    if (log_path && (log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
        free(full);
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot create: %s", log_path, strerror(errno));
    }
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(full);
        if (log >= 0) close(log);
        return vtag_fail(err, VTAG_ERR_IO, "cannot start %s: %s", what, strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        exec_child(full, argv, self, parent, fds[1], log);
    }
    int fork_errno = errno;
    close(fds[1]);
    if (log >= 0) close(log);
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

/* The built-in backbone's training run: the vocabulary of the train split,
 * frames decoded once, epochs with the video-level validation mAP, the best
 * checkpoint, the training state after every epoch (what a resume continues
 * from) and the epoch log. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtag/backbone_run.h"
#include "vtag/caption.h"

void vtag_builtin_run_defaults(vtag_builtin_run_opts *o)
{
    memset(o, 0, sizeof *o);
    vtag_video_sampler_default(&o->sample);
    o->sample.count = 8;
    vtag_builtin_config_default(&o->cfg);
    vtag_builtin_train_opts_default(&o->train);
    o->train.epochs = 10;
}

int vtag_builtin_parse_stages(const char *spec, int64_t *out, int64_t hi)
{
    int n = 0;
    for (const char *p = spec; *p;) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 1 || v > hi || n == VTAG_BUILTIN_MAX_STAGES) return -1;
        out[n++] = v;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return n > 0 ? n : -1;
}

int vtag_builtin_run_epoch_format(const vtag_builtin_run_epoch *r, char *buf, size_t cap)
{
    char map[32];
    if (isnan(r->val_map)) snprintf(map, sizeof map, "null");
    else snprintf(map, sizeof map, "%.6f", r->val_map);
    return snprintf(buf, cap,
                    "{\"epoch\": %d, \"loss\": %.6f, \"val_map\": %s, \"frames\": %lld, \"frames_per_s\": %.1f, "
                    "\"seconds\": %.3f, \"best\": %s}",
                    r->epoch, r->loss, map, (long long)r->frames, r->frames_per_s, r->seconds,
                    r->best ? "true" : "false");
}

/* A note for the caller, formatted as printf; long lines are cut at 2047 bytes. */
static void note(const vtag_builtin_run_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const vtag_builtin_run_hooks *h, const char *fmt, ...)
{
    if (!h || !h->note) return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    h->note(h->user, text);
}

typedef struct progress_relay {
    const vtag_builtin_run_hooks *hooks;
    vtag_data_split split;
} progress_relay;

static void relay_progress(void *user, int64_t done, int64_t total)
{
    const progress_relay *r = user;
    r->hooks->progress(r->hooks->user, r->split, done, total);
}

typedef struct step_relay {
    const vtag_builtin_run_hooks *hooks;
    int epoch, epochs;
} step_relay;

static void relay_step(void *user, int64_t done, int64_t total)
{
    const step_relay *r = user;
    r->hooks->step(r->hooks->user, r->epoch, r->epochs, done, total);
}

/* Everything the run holds, freed in one place. */
typedef struct run_state {
    vtag_builtin m;
    vtag_builtin_frames train, val;
    vtag_builtin_infer inf;
    const char **names;
    int64_t *index; /* (labels->n_names) labels name → output, -1 outside the vocabulary */
    float *probs;   /* [val.n, V] */
    char *spath;
    vtag_log log;
} run_state;

static int load_frames(vtag_ctx *ctx, const vtag_data_labels *labels, const vtag_builtin_run_opts *o,
                       const vtag_builtin_run_hooks *h, vtag_data_split split, vtag_builtin_frames *f, vtag_error *err)
{
    progress_relay relay = {h, split};
    const int show = h && h->progress;
    return vtag_builtin_load_frames(f, labels, split, &o->sample, o->cfg.size, ctx->threads,
                                    show ? relay_progress : NULL, show ? &relay : NULL, err);
}

/* Vocabulary, model, frames, optimizer state: everything before the first epoch. */
static int prepare(vtag_ctx *ctx, const vtag_data_labels *labels, const vtag_builtin_run_opts *o,
                   const vtag_builtin_run_hooks *h, run_state *s, int64_t *n_val, vtag_error *err)
{
    int rc;
    size_t bytes;
    if (vtag_mul_size((size_t)labels->n_names + 1, sizeof *s->index, &bytes) || !(s->index = malloc(bytes)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    int64_t V = 0;
    if ((rc = vtag_builtin_vocab(labels, &s->names, &V, s->index, err))) return rc;
    if (V == 0) return vtag_fail(err, VTAG_ERR_FORMAT, "%s: no training videos (split \"train\")", labels->path);
    vtag_builtin_config cfg = o->cfg;
    cfg.n_labels = V;
    if ((rc = vtag_builtin_init(&s->m, &cfg, s->names, err))) return rc;
    vtag_builtin_init_weights(&s->m, &ctx->rng);
    *n_val = 0;
    for (int64_t e = 0; e < labels->count; e++) *n_val += labels->entries[e].split == VTAG_DATA_SPLIT_VAL;
    const double t0 = vtag_seconds();
    if ((rc = load_frames(ctx, labels, o, h, VTAG_DATA_SPLIT_TRAIN, &s->train, err))) return rc;
    if (*n_val) {
        if ((rc = load_frames(ctx, labels, o, h, VTAG_DATA_SPLIT_VAL, &s->val, err))) return rc;
        if (vtag_mul_size((size_t)s->val.n, (size_t)V, &bytes) || vtag_mul_size(bytes, sizeof *s->probs, &bytes) ||
            !(s->probs = malloc(bytes)))
            return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    }
    note(h, "%lld training frames of %lld videos, %lld validation frames, %lld labels, %lldx%lld px (%.1f s)",
         (long long)s->train.n, (long long)s->train.n_videos, (long long)s->val.n, (long long)V, (long long)cfg.size,
         (long long)cfg.size, vtag_seconds() - t0);
    return VTAG_OK;
}

/* One epoch: train, validate, keep the best model, write the state, report. */
static int epoch_run(vtag_ctx *ctx, const vtag_data_labels *labels, const vtag_builtin_run_opts *o,
                     const vtag_builtin_run_hooks *h, run_state *s, vtag_adam *adam, int epoch, int64_t n_val,
                     double *best, vtag_error *err)
{
    vtag_builtin_epoch_stats st;
    step_relay relay = {h, epoch + 1, o->train.epochs};
    vtag_builtin_train_opts to = o->train;
    if (h && h->step) to.progress = relay_step, to.user = &relay;
    int rc = vtag_builtin_train_epoch(ctx, &s->m, adam, &s->train, labels, s->index, &to, epoch, &st, err);
    if (rc) {
        /* nothing of this epoch is saved or logged: the checkpoint and the state are the last good ones */
        if (rc == VTAG_ERR_DIVERGED) vtag_diverged_at(err, "epoch", epoch, o->out);
        return rc;
    }
    double map = NAN;
    int is_best = 1;
    if (n_val) {
        if ((rc = vtag_builtin_infer_build(&s->inf, &s->m, err)) ||
            (rc = vtag_builtin_predict_frames(ctx, &s->inf, &s->val, 32, s->probs, err)) ||
            (rc = vtag_builtin_video_map(&s->val, s->probs, s->m.cfg.n_labels, labels, s->index, &map, err)))
            return rc;
        vtag_builtin_infer_free(&s->inf);
        is_best = map > *best;
        if (is_best) *best = map;
    }
    if (is_best && (rc = vtag_builtin_save(&s->m, o->out, err))) return rc;
    if ((rc = vtag_builtin_state_save(&s->m, adam, &ctx->rng, epoch + 1, *best, s->spath, err))) return rc;
    const vtag_builtin_run_epoch r = {epoch + 1, st.loss, map, st.frames,
                                      st.seconds > 0 ? (double)st.frames / st.seconds : 0.0, st.seconds, is_best};
    char line[512];
    vtag_builtin_run_epoch_format(&r, line, sizeof line);
    if (h && h->epoch) h->epoch(h->user, &r, line);
    return vtag_log_line(&s->log, line, err);
}

int vtag_builtin_run(vtag_ctx *ctx, const vtag_data_labels *labels, const vtag_builtin_run_opts *o,
                     const vtag_builtin_run_hooks *h, vtag_error *err)
{
    run_state s;
    memset(&s, 0, sizeof s);
    const int epochs = o->train.epochs;
    int64_t n_val = 0;
    int rc;
    if (!(s.spath = vtag_train_state_path(o->out))) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = prepare(ctx, labels, o, h, &s, &n_val, err))) goto done;
    vtag_adam adam;
    vtag_adam_init(&adam);
    int start = 0;
    double best = -1;
    if (o->resume && access(s.spath, F_OK) == 0) {
        if ((rc = vtag_builtin_state_load(&s.m, &adam, &ctx->rng, &start, &best, s.spath, err))) goto done;
        if (start > epochs) { /* a state past this run's end belongs to another run */
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.backbone_state: \"epoch\" %d is past --epochs %d", s.spath,
                           start, epochs);
            goto done;
        }
        note(h, "resuming from %s after epoch %d", s.spath, start);
    }
    if ((rc = vtag_log_open(&s.log, o->log, err))) goto done;
    for (int epoch = start; epoch < epochs && !rc; epoch++)
        rc = epoch_run(ctx, labels, o, h, &s, &adam, epoch, n_val, &best, err);
done:
    /* the log's last lines may only reach the disk at close */
    if (vtag_log_close(&s.log, rc ? NULL : err) && !rc) rc = VTAG_ERR_IO;
    free(s.spath);
    free(s.probs);
    free(s.index);
    free(s.names);
    vtag_builtin_infer_free(&s.inf);
    vtag_builtin_free_frames(&s.train);
    vtag_builtin_free_frames(&s.val);
    vtag_builtin_free(&s.m);
    return rc;
}

/* The trainer (include/vtag/trainer.h) on a tiny labelled feature set made here: a resume gives the
 * bytes of an uninterrupted run (XE, and XE then SCST); the gradient hook runs once per step on the flat
 * gradient; a hook that zeroes the gradient leaves every weight as it was while Adam counts the steps;
 * the epoch records survive the log line and its reader; the state file's name; the one shuffle. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "eval/eval_internal.h"
#include "vtag/trainer.h"

static char dir[] = "/tmp/vtag_test_trainer.XXXXXX";
static char labels[256], train_feats[256], val_feats[256];

enum { N_VIDEOS = 12, ROWS = 2, D_FC = 6, K = 2, D_ATT = 4 };

/* 12 videos (every 4th a validation video), 2 feature rows each whose values carry the video's labels. */
static int make_data(void)
{
    static const char *c1[3] = {"games", "food", "pets"}, *c2[3] = {"moba", "cake", "cat"},
                      *tags[4] = {"night", "fast", "cute", "red"};
    snprintf(labels, sizeof labels, "%s/labels.jsonl", dir);
    FILE *f = fopen(labels, "w");
    if (!f) return -1;
    for (int v = 0; v < N_VIDEOS; v++)
        fprintf(f, "{\"video\": \"v%02d.mp4\", \"class1\": \"%s\", \"class2\": \"%s\", \"tags\": [\"%s\"], \"split\": \"%s\"}\n",
                v, c1[v % 3], c2[v % 3], tags[v % 4], v % 4 == 3 ? "val" : "train");
    if (fclose(f)) return -1;
    vtag_rng rng = {0x1234};
    for (int split = 0; split < 2; split++) {
        float fc[N_VIDEOS * ROWS * D_FC], att[N_VIDEOS * ROWS * K * D_ATT];
        char names[N_VIDEOS * ROWS][16];
        const char *items[N_VIDEOS * ROWS];
        int64_t n = 0;
        for (int v = 0; v < N_VIDEOS; v++) {
            if ((v % 4 == 3) != (split == 1)) continue;
            for (int r = 0; r < ROWS; r++, n++) {
                snprintf(names[n], sizeof names[n], "v%02d.mp4", v);
                items[n] = names[n];
                for (int d = 0; d < D_FC; d++)
                    fc[n * D_FC + d] = (d == v % 3) + 0.5f * (d == 3 + v % 3) + 0.1f * (float)(vtag_rng_next(&rng) % 100) / 100;
                for (int d = 0; d < K * D_ATT; d++)
                    att[n * K * D_ATT + d] = (d % D_ATT == v % 4) + 0.1f * (float)(vtag_rng_next(&rng) % 100) / 100;
            }
        }
        vtag_data_features feats = {n, D_FC, K, D_ATT, fc, att, items, "test", NULL, NULL, NULL};
        char *path = split ? val_feats : train_feats;
        snprintf(path, 256, "%s/%s.safetensors", dir, split ? "val" : "train");
        vtag_error err = {0};
        if (vtag_data_write_features(&feats, path, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

static void tiny_opts(vtag_trainer_opts *o, const char *out, vtag_model_type type)
{
    vtag_trainer_opts_defaults(o);
    o->labels = labels;
    o->feats = train_feats;
    o->val_feats = val_feats;
    o->out = out;
    o->cfg.type = type;
    o->cfg.input_encoding_size = o->cfg.rnn_size = o->cfg.att_hid_size = 8;
    o->cfg.max_length = o->cap.max_length = 4;
    o->xe.batch_size = 5;
    o->xe.lr = 5e-3f;
    o->scst.sample_n = 2;
    o->scst.batch_size = 4;
    o->scst.lr = 1e-3f;
    o->threads = 1;
    o->seed = 3;
}

static int run(const vtag_trainer_opts *o, const vtag_trainer_callbacks *cb, vtag_trainer **keep)
{
    vtag_error err = {0};
    vtag_trainer *t;
    int rc = vtag_trainer_open(&t, o, &err);
    CHECK(rc == 0, "open %s: %s", o->out, err.msg);
    if (rc) return rc;
    rc = vtag_trainer_run(t, cb, &err);
    CHECK(rc == 0, "run %s: %s", o->out, err.msg);
    if (keep) *keep = t;
    else vtag_trainer_free(&t);
    return rc;
}

static int same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    for (int ca = 0, cb = 0; same && ca != EOF; ) {
        ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* ---- (1) resume: N epochs straight = k epochs, then a resume to N ---------------------------------------- */

static void resume_case(const char *name, vtag_model_type type, int scst_after, int epochs, int first)
{
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/%s-a.safetensors", dir, name);
    snprintf(b, sizeof b, "%s/%s-b.safetensors", dir, name);
    vtag_trainer_opts o;
    tiny_opts(&o, a, type);
    o.scst_after = scst_after;
    o.epochs = epochs;
    if (run(&o, NULL, NULL)) return;
    o.out = b;
    o.epochs = first;
    if (run(&o, NULL, NULL)) return;
    o.epochs = epochs;
    o.resume = 1;
    vtag_trainer *t = NULL;
    if (run(&o, NULL, &t)) return;
    CHECK(vtag_trainer_resumed(t) && vtag_trainer_state(t)->epoch == epochs, "%s: resumed %d, at epoch %d", name,
          vtag_trainer_resumed(t), vtag_trainer_state(t)->epoch);
    char *sa = vtag_train_state_path(a), *sb = vtag_train_state_path(b);
    CHECK(strcmp(vtag_trainer_state_file(t), sb) == 0, "%s: state file %s, want %s", name, vtag_trainer_state_file(t), sb);
    CHECK(same_bytes(a, b), "%s: the checkpoint after %d + %d epochs differs from %d straight", name, first,
          epochs - first, epochs);
    CHECK(same_bytes(sa, sb), "%s: the state after %d + %d epochs differs from %d straight", name, first,
          epochs - first, epochs);
    free(sa), free(sb);
    vtag_trainer_free(&t);
    CHECK(t == NULL, "vtag_trainer_free NULLs the handle");
}

/* ---- (2) the hook: once per step, the flat gradient ------------------------------------------------------ */

typedef struct counts {
    vtag_trainer *t;
    float *grad; /* expected buffer (low-level runs) */
    int64_t n, hooks, progress, bad, last_step;
    int zero;    /* scale the gradient by 0 */
} counts;

static int hook(void *user, float *grad, int64_t n, int64_t step, vtag_error *err)
{
    (void)err;
    counts *c = user;
    const vtag_model *m = c->t ? vtag_trainer_model(c->t) : NULL;
    float *want = m ? m->params.grad : c->grad;
    const int64_t want_n = m ? m->params.total : c->n;
    c->bad += grad != want || n != want_n || step != c->last_step + 1;
    c->last_step = step;
    c->hooks++;
    if (c->zero)
        for (int64_t i = 0; i < n; i++) grad[i] *= 0.0f;
    return 0;
}

static void progress(void *user, int epoch, int64_t done, int64_t total, double loss)
{
    (void)epoch, (void)done, (void)total, (void)loss;
    ((counts *)user)->progress++;
}

static int record_resets(void *user, const vtag_trainer_record *r, vtag_error *err)
{
    (void)r, (void)err;
    ((counts *)user)->last_step = 0; /* steps count from 1 in every epoch */
    return 0;
}

static void test_hook_per_step(void)
{
    char out[300];
    snprintf(out, sizeof out, "%s/hook.safetensors", dir);
    vtag_trainer_opts o;
    tiny_opts(&o, out, VTAG_MODEL_TOPDOWN);
    o.epochs = 3;
    o.scst_after = 2;
    vtag_error err = {0};
    counts c = {0};
    CHECK(vtag_trainer_open(&c.t, &o, &err) == 0, "open: %s", err.msg);
    if (!c.t) return;
    const vtag_trainer_callbacks cb = {progress, hook, record_resets, &c};
    CHECK(vtag_trainer_run(c.t, &cb, &err) == 0, "run: %s", err.msg);
    /* 18 training rows: XE batches of 5 give 4 steps an epoch, SCST batches of 4 give 5 */
    CHECK(c.hooks == 4 + 4 + 5 && c.progress == c.hooks && c.bad == 0,
          "hook called %lld times (%lld wrong), progress %lld, want 13 each", (long long)c.hooks, (long long)c.bad,
          (long long)c.progress);
    CHECK(vtag_trainer_state(c.t)->adam.step == c.hooks, "Adam took %lld steps, the hook saw %lld",
          (long long)vtag_trainer_state(c.t)->adam.step, (long long)c.hooks);
    vtag_model *m = vtag_trainer_model(c.t);

    /* The epoch functions themselves: the hook count is the steps their stats report. */
    vtag_ctx ctx;
    CHECK(vtag_ctx_init(&ctx, 1, 9, &err) == 0, "ctx: %s", err.msg);
    vtag_data_features f;
    CHECK(vtag_data_read_features(&f, train_feats, &err) == 0, "features: %s", err.msg);
    int32_t caps[N_VIDEOS * ROWS * 4] = {0};
    for (int64_t r = 0; r < f.n; r++) caps[r * 4] = 1 + (int32_t)(r % 3), caps[r * 4 + 1] = 4;
    const vtag_rows rows = {f.n, K, f.fc, f.att, caps};
    vtag_adam adam;
    vtag_adam_init(&adam);
    counts low = {NULL, m->params.grad, m->params.total, 0, 0, 0, 0, 0};
    vtag_train_hooks hooks = {.grad = hook, .user = &low};
    vtag_epoch_stats es;
    CHECK(vtag_train_xe_epoch_hooks(&ctx, m, &adam, &rows, &o.xe, 0, &hooks, &es, &err) == 0, "XE epoch: %s", err.msg);
    CHECK(low.hooks == es.steps && es.steps == 4 && low.bad == 0, "XE: %lld hooks (%lld wrong) for %lld steps",
          (long long)low.hooks, (long long)low.bad, (long long)es.steps);
    vtag_metrics_seq ref = {caps, 2};
    const vtag_metrics_seq *refs[N_VIDEOS * ROWS];
    int64_t nrefs[N_VIDEOS * ROWS];
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    CHECK(vtag_metrics_df_add(&df, &ref, 1, &err) == 0 && vtag_metrics_df_finish(&df, &err) == 0, "df: %s", err.msg);
    for (int64_t r = 0; r < f.n; r++) refs[r] = &ref, nrefs[r] = 1;
    low.hooks = low.last_step = 0;
    vtag_scst_stats ss;
    CHECK(vtag_train_scst_epoch_hooks(&ctx, m, &adam, &rows, refs, nrefs, &df, &o.scst, &hooks, &ss, &err) == 0,
          "SCST epoch: %s", err.msg);
    CHECK(low.hooks == ss.steps && ss.steps == 5 && low.bad == 0, "SCST: %lld hooks (%lld wrong) for %lld steps",
          (long long)low.hooks, (long long)low.bad, (long long)ss.steps);
    vtag_metrics_df_free(&df);
    vtag_data_free_features(&f);
    vtag_ctx_free(&ctx);
    vtag_trainer_free(&c.t);
}

/* A hook that fails stops the run before the update, with its status and message. */
static int refuse(void *user, float *grad, int64_t n, int64_t step, vtag_error *err)
{
    (void)user, (void)grad, (void)n;
    return vtag_fail(err, VTAG_ERR_IO, "all-reduce: peer lost at step %lld", (long long)step);
}

static void test_hook_failure(void)
{
    char out[300];
    snprintf(out, sizeof out, "%s/refused.safetensors", dir);
    vtag_trainer_opts o;
    tiny_opts(&o, out, VTAG_MODEL_FC);
    o.epochs = 1;
    vtag_error err = {0};
    vtag_trainer *t;
    CHECK(vtag_trainer_open(&t, &o, &err) == 0, "open: %s", err.msg);
    if (!t) return;
    vtag_model *m = vtag_trainer_model(t);
    float *before = malloc((size_t)m->params.total * sizeof(float));
    memcpy(before, m->params.value, (size_t)m->params.total * sizeof(float));
    const vtag_trainer_callbacks cb = {NULL, refuse, NULL, NULL};
    int rc = vtag_trainer_run(t, &cb, &err);
    CHECK(rc == VTAG_ERR_IO && strcmp(err.msg, "all-reduce: peer lost at step 1") == 0, "rc %d: %s", rc, err.msg);
    CHECK(memcmp(before, m->params.value, (size_t)m->params.total * sizeof(float)) == 0 &&
              vtag_trainer_state(t)->adam.step == 0 && access(out, F_OK) != 0,
          "a refused step changed the weights, Adam or wrote a checkpoint");
    free(before);
    vtag_trainer_free(&t);
}

/* ---- (3) a zero gradient: Adam's moments stay 0, so each update is lr * 0 / (0 + eps) = 0 ---------------- */

/* Adam with a zero gradient from zero moments: m = b1*0 + (1-b1)*0 = 0 and v = 0, so the step
 * lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) is exactly 0 and no weight moves; the step count t
 * still advances (the bias corrections of later steps use it). From non-zero moments a zero
 * gradient would still move the weights (momentum): the zero is exact only from a fresh start. */
static void zero_case(const char *name, int scst_after)
{
    char out[300];
    snprintf(out, sizeof out, "%s/zero-%s.safetensors", dir, name);
    vtag_trainer_opts o;
    tiny_opts(&o, out, VTAG_MODEL_ATT2IN);
    o.val_feats = NULL;
    o.epochs = 2;
    o.scst_after = scst_after;
    vtag_error err = {0};
    counts c = {0};
    c.zero = 1;
    CHECK(vtag_trainer_open(&c.t, &o, &err) == 0, "open: %s", err.msg);
    if (!c.t) return;
    const vtag_model *m = vtag_trainer_model(c.t);
    const int64_t n = m->params.total;
    float *before = malloc((size_t)n * sizeof(float));
    memcpy(before, m->params.value, (size_t)n * sizeof(float));
    const vtag_trainer_callbacks cb = {NULL, hook, record_resets, &c};
    CHECK(vtag_trainer_run(c.t, &cb, &err) == 0, "run: %s", err.msg);
    int64_t moved = 0, moments = 0;
    for (int64_t i = 0; i < n; i++) {
        moved += memcmp(&before[i], &m->params.value[i], sizeof(float)) != 0;
        moments += m->params.adam_m[i] != 0 || m->params.adam_v[i] != 0;
    }
    const int64_t steps = vtag_trainer_state(c.t)->adam.step;
    CHECK(moved == 0, "%s: %lld of %lld weights moved under a zero gradient", name, (long long)moved, (long long)n);
    CHECK(moments == 0, "%s: %lld Adam moments are not 0", name, (long long)moments);
    CHECK(steps == c.hooks && steps >= 2 * 4, "%s: Adam's step %lld, hook calls %lld", name, (long long)steps,
          (long long)c.hooks);
    free(before);
    vtag_trainer_free(&c.t);
}

/* ---- (4) records: run -> log line -> reader ------------------------------------------------------------- */

typedef struct logged {
    FILE *f;
    vtag_trainer_record r[8];
    int n;
} logged;

static int keep_record(void *user, const vtag_trainer_record *r, vtag_error *err)
{
    (void)err;
    logged *l = user;
    char line[VTAG_TRAINER_LINE_MAX];
    if (l->n < 8) l->r[l->n++] = *r;
    fprintf(l->f, "%s\n", vtag_trainer_format_record(r, line));
    return 0;
}

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void test_records(void)
{
    char out[300], log[300];
    snprintf(out, sizeof out, "%s/log.safetensors", dir);
    snprintf(log, sizeof log, "%s/log.jsonl", dir);
    vtag_trainer_opts o;
    tiny_opts(&o, out, VTAG_MODEL_FC);
    o.epochs = 3;
    o.scst_after = 1;
    logged l = {fopen(log, "w"), {{0}}, 0};
    CHECK(l.f != NULL, "cannot write %s", log);
    if (!l.f) return;
    const vtag_trainer_callbacks cb = {NULL, NULL, keep_record, &l};
    run(&o, &cb, NULL);
    fputs("\n  \n", l.f); /* blank lines are skipped */
    /* the mean baseline's null greedy CIDEr-D, without validation */
    l.r[l.n] = (vtag_trainer_record){4, 1, -0.25, 1e-4, NAN, 1.5, 12.5, 0, 0.5, -0.125, NAN};
    keep_record(&l, &l.r[l.n], NULL);
    fclose(l.f);
    vtag_trainer_record *r = NULL;
    int64_t n = 0;
    vtag_error err = {0};
    CHECK(vtag_trainer_read_log(log, &r, &n, &err) == 0, "read: %s", err.msg);
    CHECK(n == 4 && l.n == 4, "%lld records read, %d written", (long long)n, l.n);
    for (int64_t i = 0; i < n && i < l.n; i++) {
        const vtag_trainer_record *w = &l.r[i], *g = &r[i];
        char a[VTAG_TRAINER_LINE_MAX], b[VTAG_TRAINER_LINE_MAX];
        vtag_trainer_format_record(w, a);
        vtag_trainer_format_record(g, b);
        CHECK(strcmp(a, b) == 0, "record %lld: written %s, read back as %s", (long long)i, a, b);
        CHECK(g->epoch == w->epoch && g->scst == w->scst && g->best == w->best && g->epoch == (int)i + 1 &&
                  g->scst == (i >= 1) && fabs(g->loss - w->loss) <= 5e-7 &&
                  (isnan(w->val_cider_d) ? isnan(g->val_cider_d) : fabs(g->val_cider_d - w->val_cider_d) <= 5e-7) &&
                  (isnan(w->greedy_cider_d) ? isnan(g->greedy_cider_d)
                                            : fabs(g->greedy_cider_d - w->greedy_cider_d) <= 5e-7) &&
                  (g->scst ? fabs(g->reward - w->reward) <= 5e-7 && fabs(g->advantage - w->advantage) <= 5e-7
                           : isnan(g->reward) && isnan(g->advantage) && isnan(w->reward)),
              "record %lld: fields differ (%s)", (long long)i, a);
        if (i < 3) CHECK(!isnan(w->val_cider_d) && w->seconds >= 0 && w->per_s >= 0, "record %lld: %s", (long long)i, a);
    }
    CHECK(!l.r[0].scst && l.r[1].scst && l.r[0].lr == (double)o.xe.lr && l.r[1].lr == (double)o.scst.lr &&
              !isnan(l.r[1].greedy_cider_d),
          "the records' phases, learning rates and greedy scores");
    /* the report's reader sees the same epochs, phases, losses and scores */
    eval_trainlog t;
    CHECK(eval_read_trainlog(&t, log, &err) == 0, "eval_read_trainlog: %s", err.msg);
    CHECK(t.n == n, "eval_read_trainlog: %lld lines", (long long)t.n);
    for (int64_t i = 0; i < t.n && i < n; i++)
        CHECK(t.epoch[i] == r[i].epoch && t.loss[i] == r[i].loss && same_double(t.val[i], r[i].val_cider_d) &&
                  t.scst[i] == r[i].scst,
              "eval_read_trainlog line %lld differs", (long long)i);
    eval_trainlog_free(&t);
    free(r);

    /* a line that is no log line, a fractional epoch: refused with the file and the line */
    const char *bad[] = {"{\"epoch\": 1, \"phase\": \"xe\", \"loss\": 1}\n{\"epoch\": 2, \"phase\": \"xe\"}\n",
                         "\n{\"epoch\": 1.5, \"phase\": \"xe\", \"loss\": 1}\n", "not json\n"};
    const int line[] = {2, 2, 1};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(log, "w");
        fputs(bad[k], f);
        fclose(f);
        char want[400];
        snprintf(want, sizeof want, "%s:%d: not a vtag train log line (epoch, phase, loss, val_cider_d)", log, line[k]);
        memset(&err, 0, sizeof err);
        int rc = vtag_trainer_read_log(log, &r, &n, &err);
        CHECK(rc == VTAG_ERR_FORMAT && strcmp(err.msg, want) == 0 && r == NULL, "bad log %d: rc %d \"%s\"", k, rc,
              err.msg);
    }
    /* keys of other versions are ignored, absent ones read as NaN */
    FILE *f = fopen(log, "w");
    fputs("{\"epoch\": 7, \"phase\": \"xe\", \"loss\": 2.5, \"extra\": [1]}\n", f);
    fclose(f);
    CHECK(vtag_trainer_read_log(log, &r, &n, &err) == 0 && n == 1 && r[0].epoch == 7 && r[0].loss == 2.5 &&
              isnan(r[0].val_cider_d) && isnan(r[0].lr) && isnan(r[0].per_s) && !r[0].best && !r[0].scst,
          "a minimal line: %s", err.msg);
    free(r);
}

/* ---- the state path, the shuffle ---------------------------------------------------------------------- */

static void test_small(void)
{
    const char *in[] = {"run/M.safetensors", "M", ".safetensors", "a.safetensors.bak"};
    const char *want[] = {"run/M.state.safetensors", "M.state.safetensors", ".safetensors.state.safetensors",
                          "a.safetensors.bak.state.safetensors"};
    for (int i = 0; i < 4; i++) {
        char *p = vtag_train_state_path(in[i]);
        CHECK(p && strcmp(p, want[i]) == 0, "state path of %s: %s, want %s", in[i], p ? p : "NULL", want[i]);
        free(p);
    }
    int64_t perm[50], seen[50] = {0};
    vtag_rng a = {77}, b = {77};
    vtag_train_shuffle(&a, perm, 50);
    int fixed = 0;
    for (int i = 0; i < 50; i++) seen[perm[i]]++, fixed += perm[i] == i;
    int once = 1;
    for (int i = 0; i < 50; i++) once &= seen[i] == 1;
    for (int i = 0; i < 49; i++) vtag_rng_next(&b);
    CHECK(once && fixed < 10 && a.state == b.state, "shuffle: a permutation (%d), %d fixed points, 49 draws", once,
          fixed);
}

int main(void)
{
    if (!mkdtemp(dir) || make_data()) {
        fprintf(stderr, "cannot make the data in %s\n", dir);
        return 1;
    }
    test_small();
    resume_case("xe", VTAG_MODEL_TOPDOWN, -1, 2, 1);
    resume_case("scst", VTAG_MODEL_FC, 1, 3, 2);
    resume_case("into-scst", VTAG_MODEL_ATT2IN, 1, 2, 1);
    test_hook_per_step();
    test_hook_failure();
    zero_case("xe", -1);
    zero_case("scst", 0);
    test_records();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return check_summary("run/test_trainer");
}

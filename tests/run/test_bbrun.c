/* The built-in backbone's workflow as library calls (vtag/backbone_run.h) on
 * six tiny synth videos (64 px, 8 frames; four train, two val): a two-epoch
 * run writes the backbone, its state and the log, and reports its progress,
 * notes and epoch records; its files after the first epoch resumed end
 * bit-identical to the two straight epochs; a state past the run's end is refused; predict's line for
 * a video and for a missing one is byte for byte `vtag backbone predict`'s. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "vtag/backbone_run.h"
#include "vtag/run.h"
#include "vtag/synth.h"

#define N_VIDEOS 6
#define N_TRAIN 4

static char dir[] = "bbrun.XXXXXX";
static char labels_path[512];

static char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int make_corpus(void)
{
    vtag_error err = {0};
    vtag_synth_source *src = NULL;
    vtag_synth_video v[N_VIDEOS];
    int rc = vtag_synth_source_open_shapes(&src, &err);
    CHECK(rc == 0, "shapes: %s", err.msg);
    if (rc) return rc;
    mkdir(at("videos"), 0755);
    for (int i = 0; i < N_VIDEOS && !rc; i++) {
        /* the plan's labels, a short small picture: decoding and training take no time */
        vtag_synth_plan(3, i, &v[i]);
        v[i].split = i < N_TRAIN ? VTAG_DATA_SPLIT_TRAIN : VTAG_DATA_SPLIT_VAL;
        v[i].width = v[i].height = 64, v[i].fps = 10, v[i].frames = 8;
        char name[64];
        vtag_synth_video_name(i, name, sizeof name);
        rc = vtag_synth_write_video(at(name), &v[i], src, VTAG_SYNTH_CODEC_AUTO, NULL, NULL, &err);
        CHECK(rc == 0, "video %d: %s", i, err.msg);
    }
    snprintf(labels_path, sizeof labels_path, "%s", at("labels.jsonl"));
    if (!rc) rc = vtag_synth_write_labels(labels_path, v, N_VIDEOS, &err);
    CHECK(rc == 0, "labels: %s", err.msg);
    vtag_synth_source_close(&src);
    return rc;
}

/* What the hooks saw. */
typedef struct seen {
    int snapshot; /* after epoch 1: the backbone and state copied to b.* (a run killed there) */
    int64_t progress[2], last_done[2], last_total[2]; /* train, val */
    int notes;
    char note[4][2048];
    int epochs;
    vtag_builtin_run_epoch rec[4];
    char line[4][512];
} seen;

static void on_progress(void *user, vtag_data_split split, int64_t done, int64_t total)
{
    seen *s = user;
    int k = split == VTAG_DATA_SPLIT_VAL;
    s->progress[k]++, s->last_done[k] = done, s->last_total[k] = total;
}

static void on_note(void *user, const char *text)
{
    seen *s = user;
    if (s->notes < 4) snprintf(s->note[s->notes], sizeof s->note[0], "%s", text);
    s->notes++;
}

static char *slurp(const char *path, size_t *n);

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = slurp(from, &n);
    FILE *f = data ? fopen(to, "wb") : NULL;
    CHECK(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "copy %s to %s", from, to);
    free(data);
}

static void on_epoch(void *user, const vtag_builtin_run_epoch *r, const char *line)
{
    seen *s = user;
    if (s->snapshot && r->epoch == 1) {
        copy_file(at("a.safetensors"), at("b.safetensors"));
        copy_file(at("a.state.safetensors"), at("b.state.safetensors"));
    }
    if (s->epochs < 4) s->rec[s->epochs] = *r, snprintf(s->line[s->epochs], sizeof s->line[0], "%s", line);
    s->epochs++;
}

static int train(const char *out, int epochs, int resume, int snapshot, seen *s, vtag_error *err)
{
    vtag_builtin_run_opts o;
    vtag_builtin_run_defaults(&o);
    o.out = out;
    o.log = at("log.jsonl");
    o.resume = resume;
    o.sample.count = 2;
    o.cfg.size = 16, o.cfg.n_stages = 1, o.cfg.widths[0] = 4, o.cfg.blocks[0] = 1;
    o.train.batch = 4, o.train.epochs = epochs;
    vtag_ctx ctx;
    vtag_data_labels labels;
    memset(&labels, 0, sizeof labels);
    memset(s, 0, sizeof *s);
    s->snapshot = snapshot;
    const vtag_builtin_run_hooks hooks = {on_progress, on_note, on_epoch, s, NULL};
    int rc = vtag_ctx_init(&ctx, 1, 5, err);
    if (!rc) rc = vtag_data_read_labels(&labels, labels_path, NULL, err);
    if (!rc) rc = vtag_builtin_run(&ctx, &labels, &o, &hooks, err);
    vtag_data_free_labels(&labels);
    vtag_ctx_free(&ctx);
    return rc;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    *n = 0;
    if (!f) return NULL;
    for (size_t cap = 0;;) {
        if (*n == cap && !(buf = realloc(buf, (cap = cap ? 2 * cap : 4096) + 1))) break;
        size_t got = fread(buf + *n, 1, cap - *n, f);
        if (!got) break;
        *n += got;
    }
    fclose(f);
    if (buf) buf[*n] = 0;
    return buf;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x), free(y);
    return same;
}

static vtag_builtin_run_epoch a_epoch2; /* the straight run's second epoch */

static void test_run(void)
{
    vtag_error err = {0};
    seen s;
    int rc = train(at("a.safetensors"), 2, 0, 1, &s, &err);
    CHECK(rc == 0, "two epochs: %s", err.msg);
    CHECK(vtag_is_file(at("a.safetensors")) && vtag_is_file(at("a.state.safetensors")), "the backbone and its state");
    CHECK(s.progress[0] == N_TRAIN && s.last_done[0] == N_TRAIN && s.last_total[0] == N_TRAIN,
          "train progress: %lld calls, last %lld/%lld", (long long)s.progress[0], (long long)s.last_done[0],
          (long long)s.last_total[0]);
    CHECK(s.progress[1] == N_VIDEOS - N_TRAIN && s.last_done[1] == s.last_total[1], "val progress: %lld calls",
          (long long)s.progress[1]);
    const char *head = "8 training frames of 4 videos, 4 validation frames, ";
    CHECK(s.notes == 1 && strncmp(s.note[0], head, strlen(head)) == 0 &&
              strstr(s.note[0], " labels, 16x16 px ("),
          "%d notes: %s", s.notes, s.note[0]);
    CHECK(s.epochs == 2, "%d epoch records", s.epochs);
    double best = -1;
    for (int e = 0; e < 2 && e < s.epochs; e++) {
        const vtag_builtin_run_epoch *r = &s.rec[e];
        char line[512];
        vtag_builtin_run_epoch_format(r, line, sizeof line);
        CHECK(r->epoch == e + 1 && r->frames == 8 && isfinite(r->loss) && r->loss > 0, "epoch %d: loss %g, %lld frames",
              r->epoch, r->loss, (long long)r->frames);
        CHECK(r->val_map >= 0 && r->val_map <= 1, "epoch %d: val mAP %g", r->epoch, r->val_map);
        CHECK(r->best == (r->val_map > best), "epoch %d: best %d", r->epoch, r->best);
        if (r->val_map > best) best = r->val_map;
        CHECK(strcmp(line, s.line[e]) == 0, "the line handed over is the record's: %s", s.line[e]);
    }
    a_epoch2 = s.rec[1];
    size_t n;
    char *log = slurp(at("log.jsonl"), &n), want[1100];
    snprintf(want, sizeof want, "%s\n%s\n", s.line[0], s.line[1]);
    CHECK(log && strcmp(log, want) == 0, "the log holds the two lines:\n%s", log ? log : "(none)");
    free(log);
    unlink(at("log.jsonl"));
}

static void test_resume(void)
{
    vtag_error err = {0};
    seen s;
    /* b.* are a's files after its first epoch (test_run) */
    int rc = train(at("b.safetensors"), 2, 1, 0, &s, &err);
    CHECK(rc == 0, "resumed: %s", err.msg);
    char want[600];
    snprintf(want, sizeof want, "resuming from %s after epoch 1", at("b.state.safetensors"));
    CHECK(s.notes == 2 && strcmp(s.note[1], want) == 0, "%d notes, the second: %s", s.notes, s.note[1]);
    CHECK(s.epochs == 1 && s.rec[0].loss == a_epoch2.loss && s.rec[0].val_map == a_epoch2.val_map &&
              s.rec[0].best == a_epoch2.best,
          "the resumed epoch's record is the straight run's second");
    CHECK(s.epochs == 1 && s.rec[0].epoch == 2, "the one missing epoch: %d records", s.epochs);
    CHECK(same_file(at("a.state.safetensors"), at("b.state.safetensors")), "1 + 1 resumed epochs: the state of 2");
    CHECK(same_file(at("a.safetensors"), at("b.safetensors")), "1 + 1 resumed epochs: the backbone of 2");
    /* that state is past a one-epoch run: refused, the state kept */
    size_t n0, n1;
    char *before = slurp(at("b.state.safetensors"), &n0);
    rc = train(at("b.safetensors"), 1, 1, 0, &s, &err);
    CHECK(rc == VTAG_ERR_FORMAT && strstr(err.msg, "\"epoch\" 2 is past --epochs 1") &&
              strstr(err.msg, "b.state.safetensors"),
          "a state past the run's end: %d %s", rc, err.msg);
    char *after = slurp(at("b.state.safetensors"), &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0 && s.epochs == 0, "the state kept");
    free(before), free(after);
    unlink(at("log.jsonl"));
}

/* `vtag backbone predict` (the CLI beside the tests: build/vtag) on the same videos. */
static char *cli_lines(const char *videos)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "../vtag backbone predict --backbone %s --sample uniform:3 --top 2 --threads 1 %s 2>/dev/null",
             at("a.safetensors"), videos);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "cannot run %s", cmd);
    if (!p) return NULL;
    char *out = calloc(1, 1 << 16);
    size_t n = out ? fread(out, 1, (1 << 16) - 1, p) : 0;
    int status = pclose(p);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "vtag backbone predict (one video missing): status %d", status);
    if (out) out[n] = 0;
    return out;
}

static void test_predict(void)
{
    vtag_error err = {0};
    vtag_builtin_predictor pr;
    int rc = vtag_builtin_predictor_open(&pr, at("a.safetensors"), 1, &err);
    CHECK(rc == 0, "predictor: %s", err.msg);
    if (rc) return;
    vtag_video_sampler smp;
    vtag_video_sampler_default(&smp);
    smp.count = 3;
    char video[512], missing[512];
    snprintf(video, sizeof video, "%s", at("videos/000001.mp4"));
    snprintf(missing, sizeof missing, "%s", at("videos/nope.mp4"));
    vtag_builtin_prediction p;
    rc = vtag_builtin_predict_video(&pr, video, &smp, 2, &p, &err);
    const int64_t V = pr.model.cfg.n_labels;
    CHECK(rc == 0 && p.n_frames == 3 && p.top == 2 && p.n_labels == V && V > 2, "prediction: %s", err.msg);
    for (int64_t k = 1; !rc && k < p.n_labels; k++)
        CHECK(p.labels[k - 1].score >= p.labels[k].score, "labels descending at %lld", (long long)k);
    for (int64_t i = 0; !rc && i < p.n_frames; i++)
        CHECK(p.frames[i * 2].score >= p.frames[i * 2 + 1].score && p.frames[i * 2].score <= 1 &&
                  strcmp(p.frames[i * 2].name, pr.model.labels[p.frames[i * 2].label]) == 0,
              "frame %lld's top labels", (long long)i);
    vtag_builtin_prediction_free(&p);
    char *ok = NULL, *bad = NULL;
    rc = vtag_builtin_predict_line(&pr, video, &smp, 2, &ok, &err);
    CHECK(rc == 0 && ok, "the line: %s", err.msg);
    rc = vtag_builtin_predict_line(&pr, missing, &smp, 2, &bad, &err);
    CHECK(rc != 0 && bad && strstr(bad, "\"error\"") && strstr(err.msg, "nope.mp4"), "a missing video: %s", err.msg);
    char both[1100], *cli = NULL;
    snprintf(both, sizeof both, "%s %s", video, missing);
    if (ok && bad && (cli = cli_lines(both))) {
        char *want = malloc(strlen(ok) + strlen(bad) + 3);
        sprintf(want, "%s\n%s\n", ok, bad);
        CHECK(strcmp(cli, want) == 0, "the CLI's lines:\n%s\nthe library's:\n%s", cli, want);
        free(want);
    }
    free(cli), free(ok), free(bad);
    vtag_builtin_predictor_close(&pr);
}

static void test_formats(void)
{
    int64_t st[VTAG_BUILTIN_MAX_STAGES];
    CHECK(vtag_builtin_parse_stages("16,32,64", st, 2048) == 3 && st[0] == 16 && st[2] == 64, "16,32,64");
    CHECK(vtag_builtin_parse_stages("8,", st, 2048) == 1 && st[0] == 8, "8, (as the CLI always took it)");
    const char *refused[] = {"", "0", "1,2,3,4,5", "4x", "3000", ",8", "-4"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        CHECK(vtag_builtin_parse_stages(refused[i], st, 2048) == -1, "'%s' refused", refused[i]);
    vtag_builtin_run_epoch r = {3, 0.5, NAN, 64, 1234.56, 0.052, 1};
    char line[512];
    vtag_builtin_run_epoch_format(&r, line, sizeof line);
    CHECK(strcmp(line, "{\"epoch\": 3, \"loss\": 0.500000, \"val_map\": null, \"frames\": 64, \"frames_per_s\": 1234.6, "
                       "\"seconds\": 0.052, \"best\": true}") == 0,
          "%s", line);
    r.val_map = 0.25, r.best = 0;
    vtag_builtin_run_epoch_format(&r, line, sizeof line);
    CHECK(strstr(line, "\"val_map\": 0.250000,") && strstr(line, "\"best\": false}"), "%s", line);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    vtag_video_set_log(VTAG_VIDEO_LOG_QUIET);
    test_formats();
    if (make_corpus() == 0) {
        test_run();
        test_resume();
        test_predict();
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary("run/test_bbrun");
}

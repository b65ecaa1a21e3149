/* The run folder (vtag/run.h): artefact names, the manifest's round trip, a
 * settings mismatch refused, the lock, the plan of stages and --restart's
 * removal, and the best-model choice — a folder where XE beat SCST names the
 * -xe checkpoint. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/run.h"

static char root[] = "/tmp/vtag_run_folder_XXXXXX";

/* root/name (a static buffer per call slot). */
static const char *at(const char *name)
{
    static char buf[4][512];
    static int slot;
    char *p = buf[slot++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", root, name);
    return p;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    CHECK(f != NULL, "cannot write %s", path);
}

/* Files in path whose name starts with prefix. */
static int count(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    if (d) closedir(d);
    return n;
}

static void rm_dir(const char *path)
{
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(path);
}

static void test_names(void)
{
    const char *want[] = {"fc", "att2in", "topdown", "video"};
    for (int i = 0; i < VTAG_RUN_N_MODELS; i++)
        CHECK(vtag_run_model(i) && strcmp(vtag_run_model(i), want[i]) == 0, "model %d", i);
    CHECK(vtag_run_model(4) == NULL && vtag_run_model(-1) == NULL, "no model past the end");
    struct {
        vtag_run_file f;
        const char *name, *path;
    } cases[] = {
        {VTAG_RUN_FILE_MANIFEST, NULL, "D/pipeline.json"},
        {VTAG_RUN_FILE_LOCK, NULL, "D/pipeline.lock"},
        {VTAG_RUN_FILE_BACKBONE, NULL, "D/backbone.safetensors"},
        {VTAG_RUN_FILE_FEATURES, "val", "D/features-val.safetensors"},
        {VTAG_RUN_FILE_BASELINE, "test", "D/baseline-test.jsonl"},
        {VTAG_RUN_FILE_XE, "fc", "D/fc-xe.safetensors"},
        {VTAG_RUN_FILE_XE_LOG, "fc", "D/fc-xe.log.jsonl"},
        {VTAG_RUN_FILE_SCST, "topdown", "D/topdown.safetensors"},
        {VTAG_RUN_FILE_SCST_LOG, "att2in", "D/att2in.log.jsonl"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = vtag_run_path("D", cases[i].f, cases[i].name);
        CHECK(p && strcmp(p, cases[i].path) == 0, "path %zu: %s, want %s", i, p ? p : "NULL", cases[i].path);
        free(p);
    }
    CHECK(vtag_run_path("D", VTAG_RUN_FILE_XE, NULL) == NULL, "a model file needs a model");
    char *s = vtag_train_state_path("D/fc-xe.safetensors"), *s2 = vtag_train_state_path("D/x.bin");
    CHECK(s && strcmp(s, "D/fc-xe.state.safetensors") == 0, "state path %s", s ? s : "NULL");
    CHECK(s2 && strcmp(s2, "D/x.bin.state.safetensors") == 0, "state path %s", s2 ? s2 : "NULL");
    free(s);
    free(s2);
}

static void test_manifest(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", at("m"));
    vtag_run_settings s = {"/data/labels.jsonl", "built-in", "uniform:4", 32, 16, 0};
    vtag_run *r = NULL;
    vtag_error err = {0};
    CHECK(vtag_run_open_pipeline(&r, dir, &s, 0, &err) == 0, "open a new folder: %s", err.msg);
    if (!r) return;
    CHECK(vtag_run_save(r, &err) == 0, "save: %s", err.msg);
    CHECK(count(dir, ".pipeline.json") == 0, "no temporary file left beside the manifest");

    /* A second pipeline on the same folder is refused while r holds the lock. */
    vtag_run *r2 = NULL;
    char want[1200];
    snprintf(want, sizeof want, "%s is in use by another vtag pipeline (pid %ld)", dir, (long)getpid());
    CHECK(vtag_run_open_pipeline(&r2, dir, &s, 0, &err) != 0 && r2 == NULL, "a second open is refused");
    CHECK(strcmp(err.msg, want) == 0, "lock message: %s", err.msg);

    CHECK(vtag_run_stage_finish(r, "backbone", 1.5, &err) == 0, "finish backbone: %s", err.msg);
    vtag_run_settings got;
    vtag_run_recorded(r, &got);
    CHECK(got.labels && strcmp(got.labels, s.labels) == 0 && got.backbone && got.size == 32,
          "the backbone records labels, backbone and size");
    CHECK(got.sample == NULL && got.hidden == 0, "but not sample or hidden");
    vtag_run_close(&r);
    CHECK(r == NULL, "close NULLs the handle");

    /* A setting no finished stage used may change; one used may not. */
    vtag_run_settings s2 = s;
    s2.sample = "uniform:8";
    CHECK(vtag_run_open_pipeline(&r, dir, &s2, 0, &err) == 0, "another sample before features: %s", err.msg);
    vtag_run_close(&r);
    s2 = s;
    s2.size = 64;
    CHECK(vtag_run_open_pipeline(&r, dir, &s2, 0, &err) == VTAG_ERR_ARG && r == NULL, "another size refused");
    snprintf(want, sizeof want, "%s/pipeline.json: was made with another size; use --restart (or another --out)",
             dir);
    CHECK(strcmp(err.msg, want) == 0, "mismatch message: %s", err.msg);

    /* Round trip: finished stages and their settings as recorded. */
    CHECK(vtag_run_open_pipeline(&r, dir, &s, 0, &err) == 0, "reopen: %s", err.msg);
    if (!r) return;
    CHECK(vtag_run_stage_finish(r, "features-train", 2.25, &err) == 0, "finish features: %s", err.msg);
    CHECK(vtag_run_stage_finish(r, "fc-xe", 3.5, &err) == 0, "finish fc-xe: %s", err.msg);
    vtag_run_close(&r);
    s2 = s;
    s2.hidden = 17;
    CHECK(vtag_run_open_pipeline(&r, dir, &s2, 0, &err) != 0, "another hidden after a training is refused");
    CHECK(strstr(err.msg, "was made with another hidden; use --restart (or another --out)") != NULL, "%s",
          err.msg);
    CHECK(vtag_run_open_pipeline(&r, dir, &s, 0, &err) == 0, "reopen: %s", err.msg);
    if (!r) return;
    const char *stages[] = {"backbone", "features-train", "fc-xe"};
    const double secs[] = {1.5, 2.25, 3.5};
    for (int i = 0; i < 3; i++) {
        double t = -1;
        CHECK(vtag_run_stage_done(r, stages[i], &t) && t == secs[i], "%s done in %g s", stages[i], t);
    }
    CHECK(!vtag_run_stage_done(r, "fc", NULL) && !vtag_run_stage_done(r, "features-val", NULL), "not done");
    vtag_run_recorded(r, &got);
    CHECK(got.labels && !strcmp(got.labels, s.labels) && got.backbone && !strcmp(got.backbone, "built-in") &&
              got.sample && !strcmp(got.sample, "uniform:4") && got.size == 32 && got.hidden == 16,
          "every setting recorded after a training stage");
    vtag_run_close(&r);

    /* The reader's side of the same folder. */
    CHECK(vtag_run_open(&r, dir, &err) == 0, "open to read: %s", err.msg);
    if (r) {
        snprintf(want, sizeof want, "%s/backbone.safetensors", dir);
        CHECK(strcmp(vtag_run_backbone(r), want) == 0, "built-in backbone: %s", vtag_run_backbone(r));
        CHECK(strcmp(vtag_run_sample(r), "uniform:4") == 0 && vtag_run_size(r) == 32, "sample and size");
        CHECK(strcmp(vtag_run_dir(r), dir) == 0, "dir");
        vtag_run_close(&r);
    }

    /* --restart forgets the stages (and so the settings). */
    s2 = s;
    s2.hidden = 17;
    CHECK(vtag_run_open_pipeline(&r, dir, &s2, 1, &err) == 0, "restart with another hidden: %s", err.msg);
    if (r) {
        CHECK(!vtag_run_stage_done(r, "backbone", NULL), "a restart starts with no stage done");
        vtag_run_close(&r);
    }
    rm_dir(dir);
}

static void test_bad_manifests(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", at("bad"));
    mkdir(dir, 0777);
    vtag_run *r = NULL;
    vtag_error err = {0};
    char want[1200];
    snprintf(want, sizeof want, "%s/pipeline.json: no pipeline here (run vtag pipeline --out %s first)", dir, dir);
    CHECK(vtag_run_open(&r, dir, &err) == VTAG_ERR_IO && r == NULL, "no manifest");
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);
    put(at("bad/pipeline.json"), "{\"stages\": {}");
    CHECK(vtag_run_open(&r, dir, &err) == VTAG_ERR_FORMAT && r == NULL, "a torn manifest: %s", err.msg);
    put(at("bad/pipeline.json"), "{\"stages\": {}, \"sample\": \"uniform:2\"}");
    CHECK(vtag_run_open(&r, dir, &err) == VTAG_ERR_FORMAT && strstr(err.msg, "backbone or sample missing"),
          "no backbone: %s", err.msg);
    put(at("bad/pipeline.json"), "[1]");
    vtag_run_settings s = {"/l", "built-in", "uniform:2", 0, 8, 0};
    CHECK(vtag_run_open_pipeline(&r, dir, &s, 0, &err) == VTAG_ERR_FORMAT, "not a manifest for the pipeline");
    CHECK(strstr(err.msg, "not a pipeline manifest (no \"stages\" object); use --restart to start again") != NULL,
          "message: %s", err.msg);
    rm_dir(dir);
}

/* A folder with a manifest (summary given, or none) and the named files. */
static vtag_run *folder(const char *summary, const char *const *files)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", at("best"));
    rm_dir(dir);
    mkdir(dir, 0777);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"backbone\": \"/abs/b.onnx\", \"sample\": \"uniform:2\", \"size\": 0, \"stages\": {}%s%s}",
             summary ? ", \"summary\": " : "", summary ? summary : "");
    put(at("best/pipeline.json"), text);
    for (int i = 0; files[i]; i++) {
        char name[128];
        snprintf(name, sizeof name, "best/%s", files[i]);
        put(at(name), "x");
    }
    vtag_run *r = NULL;
    vtag_error err = {0};
    CHECK(vtag_run_open(&r, dir, &err) == 0, "open: %s", err.msg);
    return r;
}

/* The choice for model (NULL: the best): file and score, or with file NULL
 * the message naming `missing` (the model asked, else the best one). */
static void expect_named(vtag_run *r, const char *model, const char *file, double score, const char *missing)
{
    vtag_run_choice c;
    vtag_error err = {0};
    int rc = vtag_run_best(r, model, &c, &err);
    if (!file) {
        char want[1200];
        snprintf(want, sizeof want, "%s: no trained %s model (vtag pipeline has not finished it)", at("best"),
                 missing);
        CHECK(rc == VTAG_ERR_NOTFOUND && strcmp(err.msg, want) == 0, "no model: %s", err.msg);
        CHECK(c.checkpoint == NULL && c.model == NULL, "nothing chosen");
        return;
    }
    CHECK(rc == 0, "best %s: %s", model ? model : "(any)", err.msg);
    if (rc) return;
    const char *base = strrchr(c.checkpoint, '/');
    CHECK(base && strcmp(base + 1, file) == 0, "best %s: %s, want %s", model ? model : "(any)", c.checkpoint, file);
    CHECK(c.val_cider_d == score, "score %g, want %g", c.val_cider_d, score);
    CHECK(c.scst == (strstr(file, "-xe.") == NULL), "scst flag of %s", file);
    CHECK(!strncmp(file, c.model, strlen(c.model)) && file[strlen(c.model)] != 0, "model %s of %s", c.model, file);
    vtag_run_choice_free(&c);
}

static void expect(vtag_run *r, const char *model, const char *file, double score)
{
    expect_named(r, model, file, score, model ? model : "caption");
}

static void test_best(void)
{
    const char *all[] = {"fc-xe.safetensors", "fc.safetensors", "att2in-xe.safetensors", "att2in.safetensors",
                         "topdown-xe.safetensors", "topdown.safetensors", NULL};
    /* XE beat SCST: the tagger used to open fc.safetensors here. */
    vtag_run *r = folder("{\"fc\": {\"val_cider_d_xe\": 0.9, \"val_cider_d_scst\": 0.4},"
                         " \"att2in\": {\"val_cider_d_xe\": 0.3, \"val_cider_d_scst\": 0.8},"
                         " \"topdown\": {\"val_cider_d_xe\": 0.5, \"val_cider_d_scst\": 0.5}}",
                         all);
    if (!r) return;
    CHECK(strcmp(vtag_run_backbone(r), "/abs/b.onnx") == 0 && vtag_run_size(r) == 0, "an ONNX backbone as recorded");
    expect(r, NULL, "fc-xe.safetensors", 0.9);
    expect(r, "att2in", "att2in.safetensors", 0.8);
    expect(r, "topdown", "topdown.safetensors", 0.5); /* a tie: SCST */
    expect(r, "fc", "fc-xe.safetensors", 0.9);
    expect(r, "updown", NULL, 0); /* the name of a file, as given */
    vtag_run_close(&r);

    /* The winner's file missing: the other one of the same model. */
    const char *no_fc_xe[] = {"fc.safetensors", "att2in.safetensors", NULL};
    r = folder("{\"fc\": {\"val_cider_d_xe\": 0.9, \"val_cider_d_scst\": 0.4},"
               " \"att2in\": {\"val_cider_d_xe\": 0.3, \"val_cider_d_scst\": 0.8}}",
               no_fc_xe);
    expect(r, NULL, "fc.safetensors", 0.4);
    expect(r, "topdown", NULL, 0);
    vtag_run_close(&r);

    /* A tie between models: the later one in training order; the SCST figure
     * of -1 (SCST skipped) loses to XE. */
    r = folder("{\"fc\": {\"val_cider_d_xe\": 0.7, \"val_cider_d_scst\": -1},"
               " \"att2in\": {\"val_cider_d_xe\": 0.7, \"val_cider_d_scst\": -1}}",
               all);
    expect(r, NULL, "att2in-xe.safetensors", 0.7);
    vtag_run_close(&r);

    /* The best model by the summary has no file: no fallback to another model. */
    const char *only_fc[] = {"fc-xe.safetensors", NULL};
    r = folder("{\"topdown\": {\"val_cider_d_xe\": 0.2, \"val_cider_d_scst\": 0.3}}", only_fc);
    expect_named(r, NULL, NULL, 0, "topdown");
    vtag_run_close(&r);

    /* No summary: the last model in training order with a checkpoint, SCST first. */
    const char *fc_att_xe[] = {"fc-xe.safetensors", "fc.safetensors", "att2in-xe.safetensors", NULL};
    r = folder(NULL, fc_att_xe);
    expect(r, NULL, "att2in-xe.safetensors", -1);
    expect(r, "fc", "fc.safetensors", -1);
    vtag_run_close(&r);
    const char *none[] = {NULL};
    r = folder(NULL, none);
    expect(r, NULL, NULL, 0);
    expect(r, "fc", NULL, 0);
    vtag_run_close(&r);

    /* The trained checkpoints present, in training order, with their logs. */
    const char *some[] = {"topdown.safetensors", "fc-xe.safetensors", "fc-xe.log.jsonl", "att2in.log.jsonl", NULL};
    r = folder(NULL, some);
    vtag_run_close(&r);
    vtag_run_trained *l = NULL;
    int n = -1;
    vtag_error err = {0};
    CHECK(vtag_run_list_trained(at("best"), NULL, &l, &n, &err) == 0 && n == 2 && l, "two trained: %d", n);
    if (l && n == 2) {
        CHECK(!strcmp(l[0].name, "fc-xe") && !l[0].scst && !strcmp(l[0].model, "fc") && l[0].log &&
                  strstr(l[0].log, "fc-xe.log.jsonl"),
              "fc-xe first, with its log");
        CHECK(!strcmp(l[1].name, "topdown") && l[1].scst && l[1].log == NULL &&
                  strstr(l[1].checkpoint, "/topdown.safetensors"),
              "topdown then, no log");
    }
    vtag_run_trained_free(&l, n);
    CHECK(l == NULL, "free NULLs the list");
    CHECK(vtag_run_list_trained(at("best"), "att2in", &l, &n, &err) == 0 && n == 0 && l == NULL, "no att2in");
    CHECK(vtag_run_list_trained(at("best"), "topdown", &l, &n, &err) == 0 && n == 1, "one topdown");
    vtag_run_trained_free(&l, n);
    rm_dir(at("best"));
}

/* The summary: the best val_cider_d of each log, -1 without one, written as
 * the pipeline always wrote it (2-space indent, sorted keys). */
static void test_summary(const vtag_run_plan *p, const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/fc-xe.log.jsonl", dir);
    put(path, "{\"epoch\": 1, \"phase\": \"xe\", \"loss\": 2.0, \"lr\": 0.0005, \"val_cider_d\": 0.5}\n"
              "{\"epoch\": 2, \"phase\": \"xe\", \"loss\": 1.5, \"lr\": 0.0005, \"val_cider_d\": 0.75}\n"
              "{\"epoch\": 3, \"phase\": \"xe\", \"loss\": 1.2, \"lr\": 0.0005, \"val_cider_d\": 0.625}\n");
    snprintf(path, sizeof path, "%s/fc.log.jsonl", dir);
    put(path, "{\"epoch\": 1, \"phase\": \"scst\", \"loss\": 0.5, \"lr\": 5e-05, \"val_cider_d\": 0.25}\n");
    vtag_run *r = NULL;
    vtag_error err = {0};
    CHECK(vtag_run_open_pipeline(&r, dir, &p->settings, 1, &err) == 0, "open: %s", err.msg);
    if (!r) return;
    vtag_run_figures f[VTAG_RUN_N_MODELS];
    int n = 0;
    CHECK(vtag_run_summarize(r, p, f, &n, &err) == 0 && n == 4, "summary of 4 models: %d (%s)", n, err.msg);
    CHECK(n == 4 && !strcmp(f[0].model, "fc") && f[0].val_cider_d_xe == 0.75 && f[0].val_cider_d_scst == 0.25,
          "fc: best XE and SCST figures");
    CHECK(n == 4 && !strcmp(f[2].model, "topdown") && f[2].val_cider_d_xe == -1 && f[2].val_cider_d_scst == -1,
          "topdown: no logs");
    CHECK(vtag_run_save(r, &err) == 0, "save: %s", err.msg);
    vtag_run_close(&r);
    snprintf(path, sizeof path, "%s/pipeline.json", dir);
    char text[2048] = {0};
    FILE *fp = fopen(path, "r");
    size_t got = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
    if (fp) fclose(fp);
    CHECK(got > 0 && text[got - 1] == '}', "the manifest ends with its closing brace, no newline");
    CHECK(strstr(text, "  \"summary\": {\n    \"att2in\": {\n      \"val_cider_d_scst\": -1.0,\n"
                       "      \"val_cider_d_xe\": -1.0\n    },\n    \"fc\": {\n      \"val_cider_d_scst\": 0.25,\n"
                       "      \"val_cider_d_xe\": 0.75\n    },\n") != NULL,
          "the summary's text:\n%s", text);
}

static void test_plan(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", at("plan"));
    put(at("labels.jsonl"), "{\"video\": \"v/0.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"red\"], \"split\": \"train\"}\n"
                            "{\"video\": \"v/1.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"blue\"], \"split\": \"train\"}\n"
                            "{\"video\": \"v/2.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"blue\"], \"split\": \"val\"}\n");
    char labels[256];
    snprintf(labels, sizeof labels, "%s", at("labels.jsonl"));
    vtag_run_plan_opts o = {dir, labels, NULL, "all", "uniform:2", 16, 8, 3, 2};
    vtag_run_plan p;
    vtag_error err = {0};
    CHECK(vtag_run_plan_build(&p, &o, &err) == 0, "plan: %s", err.msg);
    if (err.code) return;
    const char *names[] = {"backbone", "features-train", "features-val", "fc-xe", "fc", "att2in-xe", "att2in",
                           "topdown-xe", "topdown", "video-xe", "video"};
    CHECK(p.n == 11 && p.n_models == 4, "11 stages: %d", p.n);
    for (int i = 0; i < p.n && i < 11; i++) CHECK(strcmp(p.stage[i].name, names[i]) == 0, "stage %d", i);
    if (p.n == 11) {
        /* the video model: topdown with --video, its batch sized by the 2 training videos (2, not 50) */
        vtag_run_stage_opts so;
        vtag_run_stage_opts_defaults(&so);
        vtag_run_argv c;
        vtag_run_stage_argv(&c, &p.stage[9], &so);
        char line[2048] = "";
        for (int i = 0; i < c.n; i++) snprintf(line + strlen(line), sizeof line - strlen(line), " %s", c.v[i]);
        CHECK(strstr(line, " --model topdown --video ") && strstr(line, " --batch 2 "), "video-xe:%s", line);
        vtag_run_stage_argv(&c, &p.stage[7], &so);
        line[0] = 0;
        for (int i = 0; i < c.n; i++) snprintf(line + strlen(line), sizeof line - strlen(line), " %s", c.v[i]);
        CHECK(!strstr(line, "--video") && strstr(line, " --batch 50 "), "topdown-xe:%s", line);
        CHECK(!strcmp(p.stage[2].what, "features: 1 val videos") && p.stage[2].kind == VTAG_RUN_STAGE_FEATURES,
              "%s", p.stage[2].what);
        CHECK(!strcmp(p.stage[5].what, "att2in: cross-entropy, 3 epochs") && !strcmp(p.stage[6].what,
                                                                                      "att2in: SCST, 2 epochs"),
              "%s / %s", p.stage[5].what, p.stage[6].what);
        CHECK(p.stage[6].kind == VTAG_RUN_STAGE_SCST && !strcmp(p.stage[6].init, p.stage[5].out) &&
                  strstr(p.stage[6].out, "/att2in.safetensors") && strstr(p.stage[6].log, "/att2in.log.jsonl") &&
                  p.stage[6].val_feats && strstr(p.stage[6].val_feats, "features-val"),
              "SCST from the XE checkpoint");
        CHECK(!strcmp(p.stage[1].backbone, p.stage[0].out) && strstr(p.stage[0].out, "/backbone.safetensors"),
              "features of the trained backbone");
        CHECK(p.settings.labels[0] == '/' && !strcmp(p.settings.backbone, "built-in") && p.settings.hidden == 8,
              "settings: %s", p.settings.labels);
        /* --restart removes the training outputs, their states and logs, nothing else. */
        mkdir(dir, 0777);
        const char *files[] = {"fc-xe.safetensors", "fc-xe.state.safetensors", "fc.log.jsonl",
                               "topdown.safetensors", "features-train.safetensors", "pipeline.json"};
        for (int i = 0; i < 6; i++) {
            char name[64];
            snprintf(name, sizeof name, "plan/%s", files[i]);
            put(at(name), "x");
        }
        CHECK(vtag_run_plan_forget(&p, &err) == 0, "forget: %s", err.msg);
        CHECK(count(dir, "fc") == 0 && count(dir, "topdown") == 0, "training files removed");
        CHECK(count(dir, "features-train") == 1 && count(dir, "pipeline.json") == 1, "the rest kept");
        test_summary(&p, dir);
        rm_dir(dir);
    }
    vtag_run_plan_free(&p);

    o.model = "updown";
    o.scst_epochs = 0;
    CHECK(vtag_run_plan_build(&p, &o, &err) == 0, "plan: %s", err.msg);
    CHECK(p.n == 4 && p.n_models == 1 && !strcmp(p.models[0], "topdown") && !strcmp(p.stage[3].name, "topdown-xe"),
          "updown is topdown, no SCST: %d stages", p.n);
    vtag_run_plan_free(&p);

    o.backbone = at("nope.onnx");
    CHECK(vtag_run_plan_build(&p, &o, &err) != 0 && strstr(err.msg, "nope.onnx: cannot open the backbone"), "%s",
          err.msg);
    put(at("labels.jsonl"), "{\"video\": \"v/2.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"blue\"], \"split\": \"val\"}\n");
    o.backbone = NULL;
    CHECK(vtag_run_plan_build(&p, &o, &err) != 0 && strstr(err.msg, "no training videos"), "%s", err.msg);
    unlink(at("labels.jsonl"));
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_names();
    test_manifest();
    test_bad_manifests();
    test_best();
    test_plan();
    rmdir(root);
    CHECK(access(root, F_OK) != 0, "the temporary folder is empty at the end");
    return check_summary("run/test_folder");
}

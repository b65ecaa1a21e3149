/* vtag pipeline --keep-tag-order through the run folder (vtag/run.h): the XE
 * and SCST stages' command lines carry --keep-tag-order exactly when it is
 * set, a finished training stage records "tag_order", a rerun with the other
 * order is refused, a manifest made before the key (frequency order) resumes
 * without the flag and refuses it, and vtag_run_read_tag_order (what vtag
 * eval --from reads) on each kind of manifest. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/run.h"

static char root[] = "/tmp/vtag_tag_order_XXXXXX";

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

/* The file's text (a static buffer; "" when it cannot be read). */
static const char *slurp(const char *path)
{
    static char text[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    return text;
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

/* Every stage of a plan with XE and SCST: --keep-tag-order on the training stages' argv exactly when set. */
static void test_argv(void)
{
    put(at("labels.jsonl"), "{\"video\": \"v/0.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"red\"]}\n"
                            "{\"video\": \"v/1.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"b\"], "
                            "\"split\": \"val\"}\n");
    char dir[256], labels[256];
    snprintf(dir, sizeof dir, "%s", at("plan"));
    snprintf(labels, sizeof labels, "%s", at("labels.jsonl"));
    vtag_run_plan_opts o = {dir, labels, NULL, "all", "uniform:2", 16, 8, 1, 1};
    vtag_run_plan p;
    vtag_error err = {0};
    CHECK(vtag_run_plan_build(&p, &o, &err) == 0, "plan: %s", err.msg);
    if (err.code) return;
    CHECK(p.n == 11 && p.settings.keep_tag_order == 0, "11 stages (%d), the plan's settings leave the order", p.n);
    int training = 0;
    for (int keep = 0; keep < 2; keep++) {
        vtag_run_stage_opts so;
        vtag_run_stage_opts_defaults(&so);
        CHECK(so.keep_tag_order == 0, "the default is the frequency order");
        so.keep_tag_order = keep;
        for (int i = 0; i < p.n; i++) {
            const vtag_run_stage *s = &p.stage[i];
            const int train = s->kind == VTAG_RUN_STAGE_XE || s->kind == VTAG_RUN_STAGE_SCST;
            training += train && keep;
            vtag_run_argv c;
            vtag_run_stage_argv(&c, s, &so);
            int n = 0;
            for (int k = 0; k < c.n; k++) n += strcmp(c.v[k], "--keep-tag-order") == 0;
            CHECK(n == (train && keep), "%s with keep_tag_order %d: --keep-tag-order %d times", s->name, keep, n);
            CHECK(c.v[c.n] == NULL, "%s: argv ends with NULL", s->name);
        }
    }
    CHECK(training == 8, "XE and SCST of four models: %d", training);
    vtag_run_plan_free(&p);
    unlink(at("labels.jsonl"));
}

/* Opens root/m with the order keep; the status of open + save. */
static int open_with(vtag_run **r, int keep, int restart, vtag_error *err)
{
    vtag_run_settings s = {"/l.jsonl", "built-in", "uniform:2", 0, 8, keep};
    int rc = vtag_run_open_pipeline(r, at("m"), &s, restart, err);
    if (!rc) rc = vtag_run_save(*r, err);
    if (rc) vtag_run_close(r);
    return rc;
}

/* vtag_run_read_tag_order of root/m: its status, the order in *keep. */
static int read_order(int *keep, vtag_error *err)
{
    *keep = -1;
    return vtag_run_read_tag_order(at("m"), keep, err);
}

static void test_manifest(void)
{
    vtag_run *r = NULL;
    vtag_error err = {0};
    vtag_run_settings got;
    int keep;
    char json[512], want[700];
    snprintf(json, sizeof json, "%s", at("m/pipeline.json"));
    snprintf(want, sizeof want, "%s: was made with another tag_order; use --restart (or another --out)", json);
    CHECK(read_order(&keep, &err) == 0 && keep == 0, "no folder: the frequency order (%d) %s", keep, err.msg);

    /* Features do not depend on the order: not recorded, and any order may follow. */
    CHECK(open_with(&r, 1, 0, &err) == 0, "open: %s", err.msg);
    CHECK(r && vtag_run_stage_finish(r, "features-train", 1, &err) == 0, "finish features: %s", err.msg);
    CHECK(!strstr(slurp(json), "tag_order"), "no tag_order before a training stage:\n%s", slurp(json));
    if (r) vtag_run_recorded(r, &got);
    CHECK(r && got.keep_tag_order == 0, "none recorded");
    vtag_run_close(&r);
    CHECK(read_order(&keep, &err) == 0 && keep == 0, "features only: %d %s", keep, err.msg);
    CHECK(open_with(&r, 0, 0, &err) == 0, "the other order before training: %s", err.msg);
    vtag_run_close(&r);

    /* A training stage made with the labels' order records it; a rerun must keep it. */
    CHECK(open_with(&r, 1, 0, &err) == 0, "open: %s", err.msg);
    CHECK(r && vtag_run_stage_finish(r, "fc-xe", 1, &err) == 0, "finish fc-xe: %s", err.msg);
    CHECK(strstr(slurp(json), "\"tag_order\": \"labels\""), "tag_order recorded:\n%s", slurp(json));
    if (r) vtag_run_recorded(r, &got);
    CHECK(r && got.keep_tag_order == 1 && got.hidden == 8, "recorded: keep_tag_order %d", r ? got.keep_tag_order : -1);
    vtag_run_close(&r);
    CHECK(read_order(&keep, &err) == 0 && keep == 1, "the labels' order read back: %d %s", keep, err.msg);
    CHECK(open_with(&r, 0, 0, &err) == VTAG_ERR_ARG && r == NULL, "the frequency order after a labels' one refused");
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);
    CHECK(open_with(&r, 1, 0, &err) == 0, "the same order resumes: %s", err.msg);
    vtag_run_close(&r);
    CHECK(open_with(&r, 0, 1, &err) == 0, "--restart with the other order: %s", err.msg);
    CHECK(r && vtag_run_stage_finish(r, "fc-xe", 1, &err) == 0, "finish fc-xe: %s", err.msg);
    CHECK(strstr(slurp(json), "\"tag_order\": \"frequency\""), "the frequency order recorded:\n%s", slurp(json));
    vtag_run_close(&r);
    CHECK(read_order(&keep, &err) == 0 && keep == 0, "frequency read back: %d %s", keep, err.msg);
    CHECK(open_with(&r, 1, 0, &err) == VTAG_ERR_ARG && r == NULL, "the labels' order after frequency refused");
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);

    /* A manifest made before tag_order: its training used the frequency order. */
    const char *old = "{\"stages\": {\"features-train\": 1.0, \"fc-xe\": 1.0}, \"labels\": \"/l.jsonl\", "
                      "\"backbone\": \"built-in\", \"sample\": \"uniform:2\", \"size\": 0, \"hidden\": 8}";
    put(json, old);
    CHECK(read_order(&keep, &err) == 0 && keep == 0, "an old manifest reads as frequency: %d %s", keep, err.msg);
    CHECK(open_with(&r, 1, 0, &err) == VTAG_ERR_ARG && r == NULL, "--keep-tag-order on an old manifest refused");
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);
    CHECK(open_with(&r, 0, 0, &err) == 0, "an old manifest resumes without it: %s", err.msg);
    if (r) vtag_run_recorded(r, &got);
    CHECK(r && got.keep_tag_order == 0, "recorded as frequency");
    CHECK(r && vtag_run_stage_finish(r, "fc", 1, &err) == 0, "finish fc: %s", err.msg);
    CHECK(strstr(slurp(json), "\"tag_order\": \"frequency\""), "saved with the order it meant:\n%s", slurp(json));
    vtag_run_close(&r);
    /* ... and one with only features finished takes either order. */
    put(json, "{\"stages\": {\"features-train\": 1.0}, \"labels\": \"/l.jsonl\", \"backbone\": \"built-in\", "
              "\"sample\": \"uniform:2\", \"size\": 0}");
    CHECK(open_with(&r, 1, 0, &err) == 0, "an old manifest without training takes the labels' order: %s", err.msg);
    vtag_run_close(&r);

    /* An order that is neither, and manifests that do not parse. */
    put(json, "{\"stages\": {\"fc-xe\": 1.0}, \"labels\": \"/l.jsonl\", \"backbone\": \"built-in\", "
              "\"sample\": \"uniform:2\", \"size\": 0, \"hidden\": 8, \"tag_order\": \"alphabetical\"}");
    CHECK(open_with(&r, 0, 0, &err) == VTAG_ERR_ARG && strcmp(err.msg, want) == 0, "an unknown order: %s", err.msg);
    CHECK(open_with(&r, 1, 0, &err) == VTAG_ERR_ARG && strcmp(err.msg, want) == 0, "either way: %s", err.msg);
    snprintf(want, sizeof want, "%s: tag_order is neither \"frequency\" nor \"labels\"", json);
    CHECK(read_order(&keep, &err) == VTAG_ERR_FORMAT && keep == 0, "an unknown order is an error: %d", keep);
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);
    put(json, "{\"stages\": {}, \"tag_order\": 1}");
    CHECK(read_order(&keep, &err) == VTAG_ERR_FORMAT && strcmp(err.msg, want) == 0, "a number: %s", err.msg);
    put(json, "{\"stages\": {}, \"tag_order\": \"labels\"");
    CHECK(read_order(&keep, &err) == VTAG_ERR_FORMAT && keep == 0, "a torn manifest");
    CHECK(!strncmp(err.msg, json, strlen(json)) && err.msg[strlen(json)] == ':', "names the file: %s", err.msg);
    rm_dir(at("m"));
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_argv();
    test_manifest();
    rmdir(root);
    CHECK(access(root, F_OK) != 0, "the temporary folder is empty at the end");
    return check_summary("run/test_tag_order");
}

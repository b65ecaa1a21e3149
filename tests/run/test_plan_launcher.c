/* vtag pipeline --launcher and --micro-batches in the library: the launcher's
 * command line split into words (quotes, blanks, the errors), a stage run
 * under a launcher (its words, this executable's absolute path, the stage's
 * arguments; its exit status; a launcher that is not found or is killed),
 * which stages of a plan run under it, and pipeline.json's "launcher" and
 * "micro_batches" (recorded, checked on a rerun like the settings). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "vtag/run.h"

static char root[] = "/tmp/vtag_plan_launcher_XXXXXX";

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

/* The whole of a small file ("" when it cannot be read). */
static const char *slurp(const char *path)
{
    static char text[4096];
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = 0;
    return text;
}

/* Splits text and checks the words (want: NULL-terminated). */
static void split_is(const char *text, const char *const *want)
{
    char **w = NULL;
    vtag_error err = {0};
    CHECK(vtag_run_launcher_split(text, &w, &err) == 0 && w, "split [%s]: %s", text, err.msg);
    if (!w) return;
    int n = 0;
    while (want[n] && w[n] && strcmp(want[n], w[n]) == 0) n++;
    CHECK(want[n] == NULL && w[n] == NULL, "split [%s]: word %d is [%s], want [%s]", text, n, w[n] ? w[n] : "(end)",
          want[n] ? want[n] : "(end)");
    free(w);
}

static void split_fails(const char *text, const char *msg)
{
    char **w = (char **)1;
    vtag_error err = {0};
    CHECK(vtag_run_launcher_split(text, &w, &err) == VTAG_ERR_ARG && w == NULL, "split [%s] must fail", text);
    CHECK(strcmp(err.msg, msg) == 0, "split [%s]: message [%s], want [%s]", text, err.msg, msg);
}

static void test_split(void)
{
    split_is("mpirun -np 4 --hostfile hosts", (const char *[]){"mpirun", "-np", "4", "--hostfile", "hosts", NULL});
    split_is("  srun\t-N 2\n", (const char *[]){"srun", "-N", "2", NULL});
    split_is("a 'b c' \"d e\"f''g '' x", (const char *[]){"a", "b c", "d efg", "", "x", NULL});
    split_is("sh -c 'echo \"$@\"' x", (const char *[]){"sh", "-c", "echo \"$@\"", "x", NULL});
    split_is("\"it's\" '\"q\"' a\\ b $HOME", (const char *[]){"it's", "\"q\"", "a\\", "b", "$HOME", NULL});
    split_is("x", (const char *[]){"x", NULL});
    split_fails("", "'': no command");
    split_fails(" \t ", "' \\t ': no command"); /* the message escapes control characters */
    split_fails("mpirun \"-np 2", "'mpirun \"-np 2': unbalanced \" quote");
    split_fails("mpirun 'a\"b", "'mpirun 'a\"b': unbalanced ' quote");
    split_fails("mpirun \xff", "'mpirun \\xff': not UTF-8");
}

/* A launcher that records what it was given in root/argv.txt, one word per
 * line, and exits with `code`: sh -c SCRIPT sh, then vtag_run_exec adds this
 * executable and the stage's arguments (sh's $0 is the "sh" word). */
static void test_exec(void)
{
    char script[700];
    snprintf(script, sizeof script, "for a in \"$@\"; do echo \"$a\"; done > '%s'; exit 7", at("argv.txt"));
    char *launcher[] = {"sh", "-c", script, "sh", NULL};
    char *argv[] = {"vtag", "features", "--out", "a b", NULL};
    int status = 0;
    vtag_error err = {0};
    CHECK(vtag_run_exec(launcher, argv, &status, &err) == 0, "exec under a launcher: %s", err.msg);
    CHECK(status == 7, "the launcher's exit status: %d", status);
    char self[PATH_MAX], want[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(want, sizeof want, "%s\nfeatures\n--out\na b\n", self);
    CHECK(self[0] == '/' && strcmp(slurp(at("argv.txt")), want) == 0, "the launcher ran [%s], want [%s]",
          slurp(at("argv.txt")), want);

    char *missing[] = {"vtag-no-such-launcher", "-np", "2", NULL};
    status = 0;
    CHECK(vtag_run_exec(missing, argv, &status, &err) == VTAG_ERR_IO && status == -1, "a launcher not on PATH fails");
    CHECK(strcmp(err.msg, "cannot start the launcher 'vtag-no-such-launcher': No such file or directory") == 0,
          "message: %s", err.msg);

    char *killed[] = {"sh", "-c", "kill -9 $$", "sh", NULL};
    CHECK(vtag_run_exec(killed, argv, &status, &err) == VTAG_ERR_IO && status == -1, "a killed launcher fails");
    CHECK(strcmp(err.msg, "'sh ... vtag features' was killed by signal 9") == 0, "message: %s", err.msg);

    /* Without a launcher: this executable itself (main answers "child" with exit 5). */
    char *child[] = {"x", "child", NULL};
    CHECK(vtag_run_exec(NULL, child, &status, &err) == 0 && status == 5, "without a launcher: %d %s", status,
          err.msg);
}

static void test_plan(void)
{
    put(at("labels.jsonl"), "{\"video\": \"v/0.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"red\"]}\n"
                            "{\"video\": \"v/1.mp4\", \"class1\": \"a\", \"class2\": \"x\", \"tags\": [\"b\"], "
                            "\"split\": \"val\"}\n");
    char dir[256], labels[256];
    snprintf(dir, sizeof dir, "%s", at("plan"));
    snprintf(labels, sizeof labels, "%s", at("labels.jsonl"));
    vtag_run_plan_opts o = {dir, labels, NULL, "fc", "uniform:2", 16, 8, 1, 1};
    vtag_run_plan p;
    vtag_error err = {0};
    CHECK(vtag_run_plan_build(&p, &o, &err) == 0, "plan: %s", err.msg);
    if (err.code) return;
    const char *names[] = {"backbone", "features-train", "features-val", "fc-xe", "fc"};
    const int sharded[] = {0, 1, 1, 1, 1};
    CHECK(p.n == 5, "5 stages: %d", p.n);
    for (int i = 0; i < p.n && i < 5; i++)
        CHECK(strcmp(p.stage[i].name, names[i]) == 0 && p.stage[i].sharded == sharded[i],
              "stage %d (%s) sharded %d: the backbone's training is one process, features and training run under "
              "the launcher", i, p.stage[i].name, p.stage[i].sharded);
    vtag_run_plan_free(&p);
}

/* Opens root/m with the launch l; the status of open + set_launch + save. */
static int open_with(vtag_run **r, const char *launcher, int64_t micro, vtag_error *err)
{
    vtag_run_settings s = {"/l.jsonl", "built-in", "uniform:2", 0, 8, 0};
    vtag_run_launch l = {launcher, micro};
    int rc = vtag_run_open_pipeline(r, at("m"), &s, 0, err);
    if (!rc) rc = vtag_run_set_launch(*r, &l, err);
    if (!rc) rc = vtag_run_save(*r, err);
    if (rc) vtag_run_close(r);
    return rc;
}

static void test_manifest(void)
{
    vtag_run *r = NULL;
    vtag_error err = {0};
    char json[512];
    snprintf(json, sizeof json, "%s", at("m/pipeline.json"));
    CHECK(open_with(&r, NULL, 0, &err) == 0, "open: %s", err.msg);
    CHECK(strstr(slurp(json), "\"launcher\": null") && !strstr(slurp(json), "micro_batches"),
          "no launcher: null, no micro_batches:\n%s", slurp(json));
    vtag_run_close(&r);

    /* Features only: micro_batches is no setting of theirs, so any value may follow. */
    CHECK(open_with(&r, "mpirun -np 2", 2, &err) == 0, "open: %s", err.msg);
    CHECK(r && vtag_run_stage_finish(r, "features-train", 1, &err) == 0, "finish features: %s", err.msg);
    CHECK(strstr(slurp(json), "\"launcher\": \"mpirun -np 2\"") && !strstr(slurp(json), "micro_batches"),
          "the launcher as given; no micro_batches before a training stage:\n%s", slurp(json));
    vtag_run_close(&r);
    CHECK(open_with(&r, NULL, 4, &err) == 0, "another micro-batches before training: %s", err.msg);
    vtag_run_close(&r);

    /* A training stage made with micro-batches 2 records it; a rerun must repeat it, under any launcher. */
    CHECK(open_with(&r, "mpirun -np 2", 2, &err) == 0, "open: %s", err.msg);
    CHECK(r && vtag_run_stage_finish(r, "fc-xe", 1, &err) == 0, "finish fc-xe: %s", err.msg);
    CHECK(strstr(slurp(json), "\"micro_batches\": 2"), "micro_batches recorded:\n%s", slurp(json));
    vtag_run_close(&r);
    CHECK(open_with(&r, "srun -N 4", 2, &err) == 0, "the same micro-batches under another launcher: %s", err.msg);
    CHECK(strstr(slurp(json), "\"launcher\": \"srun -N 4\"") && strstr(slurp(json), "\"micro_batches\": 2"),
          "this run's launcher, the micro-batches kept:\n%s", slurp(json));
    vtag_run_close(&r);
    CHECK(open_with(&r, NULL, 2, &err) == 0, "the same micro-batches without a launcher: %s", err.msg);
    vtag_run_close(&r);
    char want[700];
    snprintf(want, sizeof want, "%s: was made with another micro_batches; use --restart (or another --out)", json);
    CHECK(open_with(&r, NULL, 4, &err) == VTAG_ERR_ARG && r == NULL, "another micro-batches refused");
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);
    CHECK(open_with(&r, "mpirun -np 2", 0, &err) == VTAG_ERR_ARG && r == NULL, "micro-batches left out refused");
    CHECK(strcmp(err.msg, want) == 0, "message: %s", err.msg);

    /* A manifest of a training made without micro-batches (older ones too) refuses them later. */
    put(json, "{\"stages\": {\"fc-xe\": 1.0}, \"labels\": \"/l.jsonl\", \"backbone\": \"built-in\", "
              "\"sample\": \"uniform:2\", \"size\": 0, \"hidden\": 8}");
    CHECK(open_with(&r, NULL, 2, &err) == VTAG_ERR_ARG && r == NULL, "micro-batches after a training without");
    CHECK(open_with(&r, "mpirun -np 2", 0, &err) == 0, "none again, under a launcher: %s", err.msg);
    CHECK(r && vtag_run_stage_finish(r, "fc", 1, &err) == 0, "finish fc: %s", err.msg);
    CHECK(!strstr(slurp(json), "micro_batches"), "still none:\n%s", slurp(json));
    vtag_run_close(&r);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) return 5;
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_split();
    test_exec();
    test_plan();
    test_manifest();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", root);
    return check_summary("run/test_plan_launcher");
}

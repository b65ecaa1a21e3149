/* The file-system helpers of core (fs.c): atomic writes (a new file, an
 * overwrite, a streamed write, a write by name, abort, failures that must
 * leave the old file and no temporary one), path join, the regular-file test
 * and the monotonic clock. Everything happens in a private folder under /tmp. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "vtag/core.h"

static char dir[] = "/tmp/vtag_atomic_fs_XXXXXX";

/* DIR/name in one of four rotating buffers: keep a copy of a path used across calls */
static char *at(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* The file's bytes (malloc'd, NUL-terminated) or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    size_t n = s ? fread(s, 1, (1 << 16) - 1, f) : 0;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static int holds(const char *path, const char *want)
{
    char *s = slurp(path);
    int ok = s && strcmp(s, want) == 0;
    free(s);
    return ok;
}

/* Entries of the folder (".", ".." aside); with name, the first one whose name
 * contains it is copied there. */
static int entries(const char *path, const char *contains, char *name, size_t cap)
{
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        n++;
        if (contains && name && strstr(e->d_name, contains)) snprintf(name, cap, "%s", e->d_name);
    }
    if (d) closedir(d);
    return n;
}

static void test_write(void)
{
    vtag_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s", at("a.txt"));
    CHECK(vtag_atomic_write(p, "first\n", 6, &err) == VTAG_OK, "new file: %s", err.msg);
    CHECK(holds(p, "first\n"), "new file's bytes");
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644: %o", (unsigned)(st.st_mode & 0777));
    ino_t before = st.st_ino;
    CHECK(vtag_atomic_write(p, "second, longer\n", 15, &err) == VTAG_OK, "overwrite: %s", err.msg);
    CHECK(holds(p, "second, longer\n"), "overwritten bytes");
    CHECK(stat(p, &st) == 0 && st.st_ino != before, "an overwrite is a new file renamed over the old one");
    CHECK(vtag_atomic_write(p, "", 0, &err) == VTAG_OK && stat(p, &st) == 0 && st.st_size == 0, "empty file");
    CHECK(entries(dir, NULL, NULL, 0) == 1, "one file in the folder, no temporary one: %d", entries(dir, NULL, NULL, 0));

    /* a name without a folder goes to the working directory (the folder fsync'd is ".") */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0, "chdir");
    CHECK(vtag_atomic_write("rel.txt", "rel", 3, &err) == VTAG_OK, "relative name: %s", err.msg);
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK(holds(at("rel.txt"), "rel"), "relative name's bytes");
    unlink(at("rel.txt"));
}

static void test_streamed(void)
{
    vtag_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s", at("a.txt"));
    CHECK(vtag_atomic_write(p, "old", 3, &err) == VTAG_OK, "old: %s", err.msg);
    vtag_atomic a;
    CHECK(vtag_atomic_open(&a, p, &err) == VTAG_OK, "open: %s", err.msg);
    /* until the commit the target is the old file; the temporary one is ".a.txt.tmp.XXXXXX" beside it */
    char tmpname[256] = "";
    CHECK(a.f && a.tmp && entries(dir, ".tmp.", tmpname, sizeof tmpname) == 2, "a temporary file beside the target");
    CHECK(strncmp(tmpname, ".a.txt.tmp.", 11) == 0 && strlen(tmpname) == 17, "temporary name: %s", tmpname);
    CHECK(strcmp(a.tmp, at(tmpname)) == 0, "a.tmp is %s", a.tmp);
    for (int i = 0; i < 1000; i++) fprintf(a.f, "line %d\n", i);
    CHECK(holds(p, "old"), "the target is the old file before the commit");
    CHECK(vtag_atomic_commit(&a, &err) == VTAG_OK, "commit: %s", err.msg);
    CHECK(!a.f && !a.tmp && !a.path, "commit frees the names");
    char *s = slurp(p);
    CHECK(s && strncmp(s, "line 0\nline 1\n", 14) == 0 && strstr(s, "line 999\n") && strlen(s) == 8890,
          "streamed bytes (%zu)", s ? strlen(s) : 0);
    free(s);
    CHECK(entries(dir, NULL, NULL, 0) == 1, "no temporary file after the commit");

    /* written by name (as FFmpeg does): f closed, the data reaches tmp through another descriptor */
    CHECK(vtag_atomic_open(&a, p, &err) == VTAG_OK, "open: %s", err.msg);
    fclose(a.f);
    a.f = NULL;
    FILE *f = fopen(a.tmp, "wb");
    CHECK(f && fputs("by name", f) >= 0 && fclose(f) == 0, "write by name");
    CHECK(vtag_atomic_commit(&a, &err) == VTAG_OK, "commit by name: %s", err.msg);
    CHECK(holds(p, "by name"), "bytes written by name");
    CHECK(entries(dir, NULL, NULL, 0) == 1, "no temporary file after a commit by name");
}

static void test_abort(void)
{
    vtag_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s", at("a.txt"));
    CHECK(vtag_atomic_write(p, "kept", 4, &err) == VTAG_OK, "old: %s", err.msg);
    vtag_atomic a;
    CHECK(vtag_atomic_open(&a, p, &err) == VTAG_OK, "open: %s", err.msg);
    fputs("dropped", a.f);
    vtag_atomic_abort(&a);
    CHECK(holds(p, "kept"), "abort keeps the old file");
    CHECK(entries(dir, NULL, NULL, 0) == 1, "abort removes the temporary file");
    vtag_atomic_abort(&a); /* twice: a zeroed a is a no-op */
    vtag_atomic z = {0};
    vtag_atomic_abort(&z);
    CHECK(!a.f && !a.tmp && !a.path, "abort zeroes a");

    /* a new file that is aborted never appears */
    CHECK(vtag_atomic_open(&a, at("never.txt"), &err) == VTAG_OK, "open: %s", err.msg);
    vtag_atomic_abort(&a);
    CHECK(access(at("never.txt"), F_OK) != 0 && entries(dir, NULL, NULL, 0) == 1, "an aborted new file");
}

static void test_failures(void)
{
    vtag_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s", at("a.txt"));
    CHECK(vtag_atomic_write(p, "kept", 4, &err) == VTAG_OK, "old: %s", err.msg);

    /* into a folder that does not exist: an error naming the file, nothing created */
    char missing[512];
    snprintf(missing, sizeof missing, "%s", at("missing/x.txt"));
    CHECK(vtag_atomic_write(missing, "x", 1, &err) == VTAG_ERR_IO, "write into a missing folder");
    CHECK(strstr(err.msg, missing) && strstr(err.msg, strerror(ENOENT)), "message: %s", err.msg);
    CHECK(access(at("missing"), F_OK) != 0 && entries(dir, NULL, NULL, 0) == 1, "nothing created");

    /* no file name */
    CHECK(vtag_atomic_write(at(""), "x", 1, &err) == VTAG_ERR_ARG, "a folder name (trailing /) is refused");
    CHECK(strstr(err.msg, "not a file name"), "message: %s", err.msg);

    /* the rename fails (the target is a non-empty folder): the folder stays, the temporary file goes */
    CHECK(mkdir(at("sub"), 0755) == 0 && vtag_atomic_write(at("sub/x"), "x", 1, &err) == VTAG_OK, "sub/x");
    CHECK(vtag_atomic_write(at("sub"), "y", 1, &err) == VTAG_ERR_IO, "a folder as the target");
    CHECK(strstr(err.msg, at("sub")) && strstr(err.msg, "write failed"), "message: %s", err.msg);
    CHECK(holds(at("sub/x"), "x") && entries(dir, NULL, NULL, 0) == 2, "the folder kept, no temporary file");
    unlink(at("sub/x"));
    rmdir(at("sub"));

    /* the data does not fit (a 1 KiB file size limit: write(2) fails with EFBIG) */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {1024, old.rlim_max};
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0, "setrlimit");
    static char big[16384];
    memset(big, 'b', sizeof big);
    int rc = vtag_atomic_write(p, big, sizeof big, &err);
    vtag_atomic a;
    int rc_stream = vtag_atomic_open(&a, p, &err);
    if (rc_stream == VTAG_OK) {
        fwrite(big, 1, sizeof big, a.f); /* unchecked, as a careless writer would: the commit reports it */
        rc_stream = vtag_atomic_commit(&a, &err);
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc == VTAG_ERR_IO, "a write over the size limit fails");
    CHECK(rc_stream == VTAG_ERR_IO && strstr(err.msg, strerror(EFBIG)), "the commit names EFBIG: %s", err.msg);
    CHECK(holds(p, "kept") && entries(dir, NULL, NULL, 0) == 1, "the old file kept, no temporary file");
}

static void test_paths(void)
{
    char *j = vtag_path_join("run/dir", "pipeline.json");
    CHECK(j && strcmp(j, "run/dir/pipeline.json") == 0, "join: %s", j ? j : "NULL");
    free(j);
    j = vtag_path_join("", "x");
    CHECK(j && strcmp(j, "/x") == 0, "join with an empty folder: %s", j ? j : "NULL");
    free(j);

    vtag_error err = {0};
    CHECK(vtag_atomic_write(at("f"), "f", 1, &err) == VTAG_OK, "f: %s", err.msg);
    CHECK(vtag_is_file(at("f")), "a regular file");
    CHECK(!vtag_is_file(dir), "a folder is not a file");
    CHECK(!vtag_is_file(at("nothing")), "a missing name is not a file");
    CHECK(mkfifo(at("fifo"), 0644) == 0 && !vtag_is_file(at("fifo")), "a FIFO is not a file");
    CHECK(symlink(at("f"), at("link")) == 0 && vtag_is_file(at("link")), "a symlink to a file is one");
    CHECK(symlink(at("nothing"), at("dangling")) == 0 && !vtag_is_file(at("dangling")), "a dangling symlink is not");
    unlink(at("f"));
    unlink(at("fifo"));
    unlink(at("link"));
    unlink(at("dangling"));
}

static void test_seconds(void)
{
    double t0 = vtag_seconds(), prev = t0;
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        double t = vtag_seconds();
        backwards += t < prev;
        prev = t;
    }
    CHECK(backwards == 0, "the clock went back %d times", backwards);
    struct timespec ms20 = {0, 20000000};
    double a = vtag_seconds();
    nanosleep(&ms20, NULL);
    double b = vtag_seconds();
    CHECK(b - a >= 0.019 && b - a < 10, "20 ms of sleep measured as %.4f s", b - a);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_write();
    unlink(at("a.txt"));
    test_streamed();
    test_abort();
    test_failures();
    unlink(at("a.txt"));
    test_paths();
    test_seconds();
    CHECK(entries(dir, NULL, NULL, 0) == 0, "the folder is empty at the end: %d left", entries(dir, NULL, NULL, 0));
    rmdir(dir);
    return check_summary("core/test_atomic_fs");
}

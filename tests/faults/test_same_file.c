/* vtag_path_same_file / vtag_fd_same_file (issue 14, point 4): one file is
 * one (device, inode) after following symlinks; names that do not exist are
 * no file; a stat failure other than "does not exist" is an error. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/core.h"

static int same(const char *a, const char *b)
{
    vtag_error err = {0};
    int s = -1, rc = vtag_path_same_file(a, b, &s, &err);
    CHECK(rc == VTAG_OK, "%s vs %s: %s", a, b, err.msg);
    return s;
}

int main(void)
{
    char dir[] = "/tmp/vtag_same_file_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char a[256], b[256], hard[256], sym[256], dangling[256], missing[256], sub[256], below_file[256], loop[256];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(hard, sizeof hard, "%s/hard", dir);
    snprintf(sym, sizeof sym, "%s/sym", dir);
    snprintf(dangling, sizeof dangling, "%s/dangling", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(below_file, sizeof below_file, "%s/a/x", dir);
    snprintf(loop, sizeof loop, "%s/loop", dir);
    FILE *f = fopen(a, "w");
    fputs("a", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("a", f); /* same bytes, another file */
    fclose(f);
    CHECK(link(a, hard) == 0, "link");
    CHECK(symlink("a", sym) == 0, "symlink");
    CHECK(symlink("nowhere", dangling) == 0, "dangling symlink");
    CHECK(symlink("loop", loop) == 0, "symlink loop");
    CHECK(mkdir(sub, 0755) == 0, "mkdir");
    char via_dir[300];
    snprintf(via_dir, sizeof via_dir, "%s/sub/../a", dir);

    CHECK(same(a, a) == 1, "a file is itself");
    CHECK(same(a, via_dir) == 1, "another spelling of the path");
    CHECK(same(a, hard) == 1 && same(hard, a) == 1, "a hard link is the same file");
    CHECK(same(sym, a) == 1 && same(a, sym) == 1, "a symlink is its target");
    CHECK(same(sym, hard) == 1, "a symlink and a hard link of one file");
    CHECK(same(a, b) == 0, "equal contents, two files");
    CHECK(same(a, missing) == 0 && same(missing, a) == 0, "a missing name is no file");
    CHECK(same(missing, missing) == 0, "a missing name is not even itself");
    CHECK(same(dangling, a) == 0 && same(a, dangling) == 0, "a dangling symlink is no file");
    CHECK(same(below_file, a) == 0, "a name below a file (ENOTDIR) is no file");
    CHECK(same(sub, dir) == 0 && same(sub, sub) == 1, "folders");

    vtag_error err = {0};
    int s = -1;
    CHECK(vtag_path_same_file(a, loop, &s, &err) == VTAG_ERR_IO && strstr(err.msg, "loop") && s == 0,
          "a symlink loop is an error naming it: %s", err.msg);

    int fd = open(hard, O_WRONLY | O_APPEND);
    CHECK(vtag_fd_same_file(fd, a, &s, &err) == VTAG_OK && s == 1, "a descriptor open on a hard link of a");
    CHECK(vtag_fd_same_file(fd, b, &s, &err) == VTAG_OK && s == 0, "that descriptor is not b");
    CHECK(vtag_fd_same_file(fd, missing, &s, &err) == VTAG_OK && s == 0, "nor a missing name");
    close(fd);
    CHECK(vtag_fd_same_file(fd, a, &s, &err) == VTAG_ERR_IO, "a closed descriptor is an error");

    unlink(a), unlink(b), unlink(hard), unlink(sym), unlink(dangling), unlink(loop), rmdir(sub), rmdir(dir);
    return check_summary("faults/test_same_file");
}

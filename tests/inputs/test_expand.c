/* vtag_inputs_expand on a tree made here: byte order of names, depth first,
 * the extension filter (case-insensitive), '.'-names skipped, a symlink loop
 * walked once, a dangling link kept, URLs and "-" passed through, a
 * directory without recursive refused with its hint, a protocol not allowed
 * refused, and the depth and count limits as one-line errors. Also
 * vtag_video_input_protocol's reading of names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "vtag/inputs.h"
#include "vtag/video.h"

static void touch(const char *path)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create %s", path);
    if (f) fclose(f);
}

static void make_tree(void)
{
    /* rm -rf of a leftover tree from an earlier run */
    CHECK(system("rm -rf inputs_tree") == 0, "clean");
    const char *dirs[] = {"inputs_tree", "inputs_tree/a", "inputs_tree/a/b", "inputs_tree/B", "inputs_tree/.hidden",
                          "inputs_tree/deep"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) CHECK(mkdir(dirs[i], 0755) == 0, "mkdir %s", dirs[i]);
    const char *files[] = {"inputs_tree/z.mp4", "inputs_tree/a.MKV", "inputs_tree/a/2.webm", "inputs_tree/a/10.mp4",
                           "inputs_tree/a/b/x.mov", "inputs_tree/a/notes.txt", "inputs_tree/B/y.AVI",
                           "inputs_tree/.hidden/h.mp4", "inputs_tree/.dot.mp4", "inputs_tree/a/b/noext",
                           "inputs_tree/a/b/clip.mp4.part"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) touch(files[i]);
    CHECK(symlink("..", "inputs_tree/a/b/up") == 0, "symlink loop");
    CHECK(symlink("missing.mp4", "inputs_tree/a/b/dangling.mp4") == 0, "dangling symlink");
}

static void test_order_and_filter(void)
{
    make_tree();
    const char *args[] = {"inputs_tree", "-", "https://example.com/v.mp4", "file:x.mp4", "missing.mp4"};
    vtag_inputs_opts o;
    vtag_inputs_opts_defaults(&o);
    o.recursive = 1;
    vtag_inputs_list l;
    vtag_error err = {0};
    int rc = vtag_inputs_expand(args, 5, &o, &l, &err);
    CHECK(rc == 0, "expand: %s", err.msg);
    /* byte order: 'B' < 'a' < 'z'; "10.mp4" < "2.webm"; a/b before a's later entries */
    const char *want[] = {"inputs_tree/B/y.AVI",    "inputs_tree/a/10.mp4", "inputs_tree/a/2.webm",
                          "inputs_tree/a/b/dangling.mp4", "inputs_tree/a/b/x.mov", "inputs_tree/a.MKV",
                          "inputs_tree/z.mp4", "-", "https://example.com/v.mp4", "file:x.mp4", "missing.mp4"};
    const int64_t n = (int64_t)(sizeof want / sizeof want[0]);
    CHECK(l.n == n, "%lld paths, want %lld", (long long)l.n, (long long)n);
    for (int64_t i = 0; i < l.n && i < n; i++)
        CHECK(strcmp(l.paths[i], want[i]) == 0, "path %lld: %s, want %s", (long long)i, l.paths[i], want[i]);
    vtag_inputs_list_free(&l);

    /* the same list a second time (no order from the file system) */
    CHECK(vtag_inputs_expand(args, 1, &o, &l, &err) == 0 && l.n == 7, "again: %s", err.msg);
    vtag_inputs_list_free(&l);

    /* a trailing slash gives no double slash; from a/b, the link up to a is walked
       (a is not being walked), and a's b is then skipped (it is) */
    const char *slash[] = {"inputs_tree/a/b/"};
    CHECK(vtag_inputs_expand(slash, 1, &o, &l, &err) == 0 && l.n == 4 &&
              strcmp(l.paths[1], "inputs_tree/a/b/up/10.mp4") == 0 && strcmp(l.paths[3], "inputs_tree/a/b/x.mov") == 0,
          "trailing slash: %lld paths, %s", (long long)l.n, l.n > 3 ? l.paths[3] : err.msg);
    vtag_inputs_list_free(&l);

    /* --ext */
    o.extensions = "txt";
    CHECK(vtag_inputs_expand(args, 1, &o, &l, &err) == 0 && l.n == 1 && strcmp(l.paths[0], "inputs_tree/a/notes.txt") == 0,
          "--ext txt: %lld paths", (long long)l.n);
    vtag_inputs_list_free(&l);
    o.extensions = ".mp4";
    CHECK(vtag_inputs_expand(args, 1, &o, &l, &err) == VTAG_ERR_ARG && strstr(err.msg, "'.mp4'"), "bad ext: %s", err.msg);
    vtag_inputs_list_free(&l);
    o.extensions = NULL;
}

static void test_errors(void)
{
    vtag_inputs_opts o;
    vtag_inputs_opts_defaults(&o);
    vtag_inputs_list l;
    vtag_error err = {0};
    const char *dir[] = {"clip.mp4", "inputs_tree"};
    CHECK(vtag_inputs_expand(dir, 2, &o, &l, &err) == VTAG_ERR_ARG &&
              strcmp(err.msg, "inputs_tree is a directory: add --recursive") == 0,
          "directory without recursive: %s", err.msg);
    vtag_inputs_list_free(&l);

    const char *rtmp[] = {"rtmp://127.0.0.1/live/x"};
    CHECK(vtag_inputs_expand(rtmp, 1, &o, &l, &err) == VTAG_ERR_ARG &&
              strcmp(err.msg, "rtmp://127.0.0.1/live/x: protocol 'rtmp' is not allowed (--allow-protocols)") == 0,
          "rtmp: %s", err.msg);
    vtag_inputs_list_free(&l);
    o.protocols = "rtmp,http";
    CHECK(vtag_inputs_expand(rtmp, 1, &o, &l, &err) == 0 && l.n == 1, "rtmp allowed: %s", err.msg);
    vtag_inputs_list_free(&l);
    const char *local[] = {"clip.mp4"};
    CHECK(vtag_inputs_expand(local, 1, &o, &l, &err) == VTAG_ERR_ARG && strstr(err.msg, "protocol 'file'"),
          "a local file without 'file': %s", err.msg);
    vtag_inputs_list_free(&l);
    o.protocols = "http,,https";
    CHECK(vtag_inputs_expand(local, 1, &o, &l, &err) == VTAG_ERR_ARG, "bad protocol list");
    vtag_inputs_list_free(&l);
    o.protocols = NULL;

    /* limits: depth, videos */
    o.recursive = 1;
    CHECK(system("mkdir -p inputs_tree/deep/1/2/3/4/5 && touch inputs_tree/deep/1/2/3/4/5/v.mp4") == 0, "deep");
    const char *deep[] = {"inputs_tree/deep"};
    o.max_depth = 4;
    CHECK(vtag_inputs_expand(deep, 1, &o, &l, &err) == VTAG_ERR_ARG && strstr(err.msg, "nested more than 4 deep"),
          "depth: %s", err.msg);
    vtag_inputs_list_free(&l);
    o.max_depth = 5;
    CHECK(vtag_inputs_expand(deep, 1, &o, &l, &err) == 0 && l.n == 1, "depth 5 is fine: %s", err.msg);
    vtag_inputs_list_free(&l);
    o.max_depth = 0;
    o.max_videos = 3;
    const char *tree[] = {"inputs_tree"};
    CHECK(vtag_inputs_expand(tree, 1, &o, &l, &err) == VTAG_ERR_ARG && strstr(err.msg, "more than 3 videos"),
          "count: %s", err.msg);
    vtag_inputs_list_free(&l);
    o.max_videos = 0;
    o.max_entries = 5;
    CHECK(vtag_inputs_expand(tree, 1, &o, &l, &err) == VTAG_ERR_ARG && strstr(err.msg, "more than 5 entries"),
          "entries: %s", err.msg);
    vtag_inputs_list_free(&l);
}

static void test_protocol_names(void)
{
    struct {
        const char *name, *proto;
    } cases[] = {
        {"clip.mp4", "file"},       {"-", "pipe"},          {"pipe:0", "pipe"},   {"HTTPS://x/y.mp4", "https"},
        {"file:a.mp4", "file"},     {"a:b.mp4", "file"},    {"http:x.mp4", "file"},  {"pipe:3", "pipe"},
        {"rtmp://h/app", "rtmp"},   {"nosuch://h/x", "nosuch"}, {"/abs/path.mp4", "file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p[32];
        vtag_video_input_protocol(cases[i].name, p, sizeof p);
        CHECK(strcmp(p, cases[i].proto) == 0, "%s: %s, want %s", cases[i].name, p, cases[i].proto);
    }
    vtag_error err = {0};
    CHECK(vtag_video_protocols_check("file,pipe,http,https", &err) == 0, "default list: %s", err.msg);
    CHECK(vtag_video_protocols_check("http,", &err) == VTAG_ERR_ARG, "trailing comma");
    CHECK(vtag_video_protocols_check("HTTP", &err) == VTAG_ERR_ARG, "upper case");
    CHECK(vtag_video_protocols_check("", &err) == VTAG_ERR_ARG, "empty");
    CHECK(vtag_video_protocol_allowed("file,pipe", "pipe") && !vtag_video_protocol_allowed("file,pipe", "pip"),
          "allowed");

    /* a video refused by protocol when opened directly (the list in the options) */
    vtag_video_options vo;
    vtag_video_options_default(&vo);
    vo.protocols = "http";
    vtag_video_t *v = NULL;
    CHECK(vtag_video_open(&v, "inputs_tree/z.mp4", NULL, &vo, &err) == VTAG_ERR_ARG && !v &&
              strcmp(err.msg, "inputs_tree/z.mp4: protocol 'file' is not allowed (--allow-protocols)") == 0,
          "open refused: %s", err.msg);
    vtag_video_info info;
    CHECK(vtag_video_probe_with("ftp://127.0.0.1/x.mp4", NULL, &info, &err) == VTAG_ERR_ARG &&
              strstr(err.msg, "protocol 'ftp' is not allowed"),
          "probe refused: %s", err.msg);
}

int main(void)
{
    test_order_and_filter();
    test_errors();
    test_protocol_names();
    CHECK(system("rm -rf inputs_tree") == 0, "clean up");
    return check_summary("inputs/expand");
}

/* vtag frames: sample frames from videos into PNG files and a frames.jsonl
 * index (docs/FORMATS.md). A run writes into a staging folder inside DIR and
 * moves its files into place only when it has written them all, so that the
 * index always names the PNGs beside it. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libavutil/log.h>

#include "cli.h"
#include "vtag/video.h"

/* A damaged stream: some sampled frames could not be decoded, or packets
 * were rejected on the way (documented in --help and the README). */
#define FRAMES_EXIT_DAMAGED 3

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag frames VIDEO... --out DIR [options]\n"
            "\n"
            "Samples frames from each video, scales the shorter side to S, crops the\n"
            "centre S×S (rotation metadata applied), and writes DIR/<name>_<index>.png\n"
            "plus DIR/frames.jsonl, one line per frame:\n"
            "  {\"video\": …, \"index\": i, \"pts_seconds\": t, \"file\": …, \"target_seconds\": …}\n"
            "pts_seconds is the frame's own presentation time; target_seconds the time\n"
            "the sampler asked for (the frame returned is the one on screen then).\n"
            "\n"
            "  --out DIR            output folder (created if missing)\n"
            "  --sample SPEC        uniform:N (default uniform:16, centres of N equal\n"
            "                       segments), fps:F, keyframes, or scene:T (0 < T <= 1)\n"
            "  --size S             output side in pixels (default 224)\n"
            "  --start T, --end T   seconds: sample only [T_start, T_end)\n"
            "  --max-frames K       at most K frames per video\n"
            "  --threads N          decoder threads (default 0: one per core)\n"
            "  --strategy MODE      auto (default): per target, seek or decode on,\n"
            "                       whichever decodes fewer frames by the container\n"
            "                       index; seek; linear (decode straight through)\n"
            "  --verbose            one summary line per video on stderr, and FFmpeg's\n"
            "                       own warnings (silent by default)\n"
            "\n"
            "exit codes: 0 every video sampled in full; 1 a video could not be read (not\n"
            "a video, no video stream, I/O error: one line on stderr, the other videos\n"
            "are still done); 2 usage error; 3 a damaged stream: the frames that could\n"
            "be decoded were written and stderr says how many packets were damaged.\n"
            "With several videos the exit code is 1 if any failed, else 3 if any was\n"
            "damaged.\n");
}

typedef struct frames_args {
    const char **videos;
    int n_videos;
    const char *out_dir;
    vtag_video_sampler smp;
    vtag_video_options opt;
    int verbose;
} frames_args;

/* Returns 0, or -1 after printing the usage error. */
static int parse_args(int argc, char **argv, frames_args *a)
{
    vtag_video_sampler_default(&a->smp);
    vtag_video_options_default(&a->opt);
    int options = 1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options && strcmp(arg, "--") == 0) {
            options = 0;
            continue;
        }
        if (!options || arg[0] != '-' || !arg[1]) {
            a->videos[a->n_videos++] = arg;
            continue;
        }
        if (strcmp(arg, "--verbose") == 0) {
            a->verbose = 1;
            continue;
        }
        /* Every other option takes a value: "--opt VALUE" or "--opt=VALUE". */
        char name[32];
        const char *val = NULL, *eq = strchr(arg, '=');
        if (eq && (size_t)(eq - arg) < sizeof name) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
            if (i + 1 < argc) val = argv[++i];
        }
        if (!val) {
            cli_error("frames", "%s needs a value", name);
            return -1;
        }
        long l;
        double d;
        vtag_error err = {0};
        if (strcmp(name, "--out") == 0) a->out_dir = val;
        else if (strcmp(name, "--sample") == 0) {
            if (vtag_video_sampler_parse(&a->smp, val, &err)) {
                cli_error("frames", "%s", err.msg);
                return -1;
            }
        } else if (strcmp(name, "--size") == 0) {
            if (cli_parse_int("frames", name, val, 1, 4096, &l)) return -1;
            a->opt.size = l;
        } else if (strcmp(name, "--start") == 0 || strcmp(name, "--end") == 0) {
            if (cli_parse_float("frames", name, val, &d)) return -1;
            if (!(d >= 0) || !isfinite(d)) {
                cli_error("frames", "%s expects seconds >= 0, got '%s'", name, val);
                return -1;
            }
            if (name[2] == 's') a->smp.start = d;
            else a->smp.end = d;
        } else if (strcmp(name, "--max-frames") == 0) {
            if (cli_parse_int("frames", name, val, 1, 100000000, &l)) return -1;
            a->smp.max_frames = l;
        } else if (strcmp(name, "--threads") == 0) {
            if (cli_parse_int("frames", name, val, 0, 64, &l)) return -1;
            a->opt.threads = (int)l;
        } else if (strcmp(name, "--strategy") == 0) {
            if (strcmp(val, "auto") == 0) a->opt.strategy = VTAG_VIDEO_STRATEGY_AUTO;
            else if (strcmp(val, "seek") == 0) a->opt.strategy = VTAG_VIDEO_STRATEGY_SEEK;
            else if (strcmp(val, "linear") == 0) a->opt.strategy = VTAG_VIDEO_STRATEGY_LINEAR;
            else {
                cli_error("frames", "--strategy expects auto, seek or linear, got '%s'", val);
                return -1;
            }
        } else {
            cli_error("frames", "unknown option '%s' (vtag frames --help)", name);
            return -1;
        }
    }
    if (a->n_videos == 0 || !a->out_dir) {
        cli_error("frames", "%s (vtag frames --help)", a->n_videos ? "--out DIR is required" : "no video given");
        return -1;
    }
    if (a->smp.end >= 0 && a->smp.end <= a->smp.start) {
        cli_error("frames", "--end must be after --start");
        return -1;
    }
    return 0;
}

/* mkdir -p */
static int make_dir(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(buf, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* "dir/clip.final.mp4" → "clip.final"; k-th video with a stem seen before
 * gets "-k" so that names never collide within one run. */
static void file_stem(const char *video, int k, const char **videos, char *out, size_t cap)
{
    const char *base = strrchr(video, '/');
    base = base ? base + 1 : video;
    const char *dot = strrchr(base, '.');
    size_t len = (dot && dot != base) ? (size_t)(dot - base) : strlen(base);
    if (len == 0) {
        base = "video";
        len = 5;
    }
    int same = 0;
    for (int j = 0; j < k; j++) {
        const char *b = strrchr(videos[j], '/');
        b = b ? b + 1 : videos[j];
        const char *d = strrchr(b, '.');
        size_t l = (d && d != b) ? (size_t)(d - b) : strlen(b);
        if (l == len && strncmp(b, base, len) == 0) same++;
    }
    if (same) snprintf(out, cap, "%.*s-%d", (int)len, base, same + 1);
    else snprintf(out, cap, "%.*s", (int)len, base);
}

static const char *strategy_name(vtag_video_strategy s)
{
    return s == VTAG_VIDEO_STRATEGY_SEEK ? "seek" : s == VTAG_VIDEO_STRATEGY_LINEAR ? "linear" : "mixed";
}

/* Samples one video. Returns CLI_EXIT_OK, CLI_EXIT_FAIL (could not read;
 * *fatal set when the output itself failed) or FRAMES_EXIT_DAMAGED. */
static int sample_video(const frames_args *a, int k, const char *stage_dir, FILE *jsonl, int *fatal)
{
    const char *video = a->videos[k];
    vtag_error err = {0};
    vtag_video_t *v = NULL;
    if (vtag_video_open(&v, video, &a->smp, &a->opt, &err)) {
        cli_error("frames", "%s", err.msg);
        return CLI_EXIT_FAIL;
    }
    char stem[256], name[300], path[4200 + 300];
    file_stem(video, k, a->videos, stem, sizeof stem);
    int status = CLI_EXIT_OK;
    for (;;) {
        vtag_video_frame fr;
        int got;
        if (vtag_video_next(v, &fr, &got, &err)) {
            cli_error("frames", "%s", err.msg);
            status = CLI_EXIT_FAIL;
            break;
        }
        if (!got) break;
        snprintf(name, sizeof name, "%s_%05lld.png", stem, (long long)fr.index);
        snprintf(path, sizeof path, "%s/%s", stage_dir, name);
        if (vtag_video_write_png(path, fr.rgb, fr.size, fr.size, &err)) {
            cli_error("frames", "%s", err.msg);
            status = CLI_EXIT_FAIL;
            *fatal = 1;
            break;
        }
        /* a field json_string refuses (invalid UTF-8) fails the run, never drops out */
        json_t *o = json_object();
        int bad = !o || json_object_set_new(o, "video", json_string(video));
        bad = bad || json_object_set_new(o, "index", json_integer(fr.index));
        bad = bad || json_object_set_new(o, "pts_seconds", json_real(round(fr.pts_seconds * 1e6) / 1e6));
        bad = bad || json_object_set_new(o, "file", json_string(name));
        bad = bad || json_object_set_new(o, "target_seconds", json_real(round(fr.target_seconds * 1e6) / 1e6));
        char *line = bad ? NULL : json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        json_decref(o);
        if (!line) {
            cli_error("frames", "%s: cannot encode its frames.jsonl line (invalid UTF-8 or out of memory)", name);
            status = CLI_EXIT_FAIL;
            *fatal = 1;
            break;
        }
        if (fprintf(jsonl, "%s\n", line) < 0) {
            int e = errno;
            free(line);
            cli_error("frames", "%s/frames.jsonl: write failed: %s", a->out_dir, strerror(e));
            status = CLI_EXIT_FAIL;
            *fatal = 1;
            break;
        }
        free(line);
    }
    vtag_video_stats st;
    vtag_video_get_stats(v, &st);
    if (status == CLI_EXIT_OK && (st.damaged_packets > 0 || st.missing_seconds > 0 ||
                                  (st.targets >= 0 && st.frames_out < st.targets))) {
        status = FRAMES_EXIT_DAMAGED;
        char of[64] = "", cut[96] = "";
        if (st.targets >= 0) snprintf(of, sizeof of, " of %lld", (long long)st.targets);
        if (st.missing_seconds > 0)
            snprintf(cut, sizeof cut, ", file cut short (the last %.2f s are missing)", st.missing_seconds);
        cli_error("frames", "%s: damaged stream: %lld%s frames decoded, %lld damaged packets%s", video,
                  (long long)st.frames_out, of, (long long)st.damaged_packets, cut);
    } else if (a->verbose) {
        cli_note("frames",
                 "%s: %lld frames; %s plan, %lld seeks, %lld packets read, %lld decoded, "
                 "%lld converted (index predicted %lld decodes; seek %lld, linear %lld)",
                 video, (long long)st.frames_out, strategy_name(st.strategy), (long long)st.seeks,
                 (long long)st.packets_read, (long long)st.frames_decoded, (long long)st.frames_converted,
                 (long long)st.cost_plan, (long long)st.cost_seek, (long long)st.cost_linear);
    }
    vtag_video_close(&v);
    return status;
}

/* The entries of a folder, without "." and ".."; NULL on error (errno set). */
static char **list_dir(const char *dir, int *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    int cap = 16;
    char **names = malloc((size_t)cap * sizeof *names);
    struct dirent *e = NULL;
    while (names && (errno = 0, e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (*n == cap) {
            char **more = realloc(names, (size_t)(cap *= 2) * sizeof *names);
            if (!more) break;
            names = more;
        }
        if (!(names[*n] = strdup(e->d_name))) break;
        ++*n;
    }
    int bad = !names || errno != 0 || e != NULL;
    int saved = bad ? (errno ? errno : ENOMEM) : 0;
    closedir(d);
    if (bad) {
        for (int i = 0; names && i < *n; i++) free(names[i]);
        free(names);
        *n = 0;
        errno = saved;
        return NULL;
    }
    return names;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Empties and removes the staging folder (nothing of it is kept). */
static void drop_stage(const char *stage)
{
    int n;
    char **names = list_dir(stage, &n);
    char path[4400];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", stage, names[i]);
        unlink(path);
    }
    free_names(names, n);
    rmdir(stage);
}

/* A PNG a previous index named, if it is one of ours: a plain name in DIR. */
static int is_frame_name(const char *file)
{
    size_t n = strlen(file);
    return n > 4 && file[0] != '.' && !strchr(file, '/') && strcmp(file + n - 4, ".png") == 0;
}

/* Moves the staged PNGs and index into DIR, replacing the previous run's:
 * first the old index goes, then the new PNGs come in, then the new index,
 * then the PNGs the old index named and the new one does not are removed. At
 * every moment DIR holds either an index and exactly the PNGs it was written
 * with, or no index. 0, or -1 after the message. */
static int commit_stage(const char *out_dir, const char *stage)
{
    char index[4200], staged[4400], target[4400];
    snprintf(index, sizeof index, "%s/frames.jsonl", out_dir);
    int n_new, rc = 0;
    char **fresh = list_dir(stage, &n_new);
    if (!fresh) {
        cli_error("frames", "%s: %s", stage, strerror(errno));
        return -1;
    }
    /* the old index's PNGs, read before it goes */
    json_t *old = json_array();
    FILE *f = cli_is_file(index) ? fopen(index, "r") : NULL;
    char line[16384]; /* ours are a few hundred bytes; a longer line is not ours and is skipped */
    int skipping = 0;
    while (f && old && fgets(line, sizeof line, f)) {
        int ends = strchr(line, '\n') != NULL || feof(f), skip = skipping;
        skipping = !ends;
        if (skip || !ends) continue;
        json_t *o = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        const char *file = json_string_value(json_object_get(o, "file"));
        if (file && is_frame_name(file)) json_array_append_new(old, json_string(file));
        json_decref(o);
    }
    if (f) fclose(f);
    if (unlink(index) != 0 && errno != ENOENT) {
        cli_error("frames", "%s: cannot replace it: %s", index, strerror(errno));
        rc = -1;
    }
    for (int i = 0; i < n_new && rc == 0; i++) {
        if (strcmp(fresh[i], "frames.jsonl") == 0) continue;
        snprintf(staged, sizeof staged, "%s/%s", stage, fresh[i]);
        snprintf(target, sizeof target, "%s/%s", out_dir, fresh[i]);
        if (rename(staged, target) != 0) {
            cli_error("frames", "%s: %s", target, strerror(errno));
            rc = -1;
        }
    }
    snprintf(staged, sizeof staged, "%s/frames.jsonl", stage);
    if (rc == 0 && rename(staged, index) != 0) {
        cli_error("frames", "%s: %s", index, strerror(errno));
        rc = -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(old, i, v) {
        const char *file = json_string_value(v);
        int kept = 0;
        for (int j = 0; j < n_new && !kept; j++) kept = strcmp(fresh[j], file) == 0;
        snprintf(target, sizeof target, "%s/%s", out_dir, file);
        if (rc == 0 && !kept) unlink(target);
    }
    json_decref(old);
    free_names(fresh, n_new);
    return rc;
}

int cmd_frames(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    frames_args a = {0};
    a.videos = calloc((size_t)argc, sizeof *a.videos);
    if (!a.videos) {
        cli_error("frames", "out of memory");
        return CLI_EXIT_FAIL;
    }
    if (parse_args(argc, argv, &a)) {
        free(a.videos);
        return CLI_EXIT_USAGE;
    }
    av_log_set_level(a.verbose ? AV_LOG_WARNING : AV_LOG_QUIET);
    /* A run replaces DIR's PNGs and index, and removes the PNGs only the old
     * index named: a video inside DIR could be one of them. */
    for (int k = 0; k < a.n_videos; k++) {
        char parent[4200];
        const char *slash = strrchr(a.videos[k], '/');
        if (!slash) snprintf(parent, sizeof parent, ".");
        else if (slash == a.videos[k]) snprintf(parent, sizeof parent, "/");
        else snprintf(parent, sizeof parent, "%.*s", (int)(slash - a.videos[k]), a.videos[k]);
        vtag_error err = {0};
        int same = 0;
        if (vtag_path_same_file(parent, a.out_dir, &same, &err) == VTAG_OK && same) {
            cli_error("frames", "%s is inside --out %s, whose files a run replaces; write the frames elsewhere",
                      a.videos[k], a.out_dir);
            free(a.videos);
            return CLI_EXIT_USAGE;
        }
    }
    if (make_dir(a.out_dir) != 0) {
        cli_error("frames", "%s: cannot create the folder: %s", a.out_dir, strerror(errno));
        free(a.videos);
        return CLI_EXIT_FAIL;
    }
    /* Everything goes to a staging folder inside DIR (same file system: the
     * files move by rename) and replaces the previous run's at the end, or is
     * dropped: a run that fails leaves DIR as it was. */
    char stage[4200], tmp_path[4300];
    if (snprintf(stage, sizeof stage, "%s/.frames.XXXXXX", a.out_dir) >= (int)sizeof stage || !mkdtemp(stage)) {
        cli_error("frames", "%s: cannot create a staging folder: %s", a.out_dir,
                  strlen(a.out_dir) > 4096 ? strerror(ENAMETOOLONG) : strerror(errno));
        free(a.videos);
        return CLI_EXIT_FAIL;
    }
    snprintf(tmp_path, sizeof tmp_path, "%s/frames.jsonl", stage);
    FILE *jsonl = fopen(tmp_path, "w");
    if (!jsonl) {
        cli_error("frames", "%s: %s", tmp_path, strerror(errno));
        drop_stage(stage);
        free(a.videos);
        return CLI_EXIT_FAIL;
    }
    int failed = 0, damaged = 0, fatal = 0;
    for (int k = 0; k < a.n_videos && !fatal; k++) {
        int s = sample_video(&a, k, stage, jsonl, &fatal);
        failed |= s == CLI_EXIT_FAIL;
        damaged |= s == FRAMES_EXIT_DAMAGED;
    }
    int bad = fflush(jsonl) != 0;
    int saved = errno;
    bad = fclose(jsonl) != 0 || bad;
    if (bad || fatal) {
        /* a fatal error was reported where it happened */
        if (bad)
            cli_error("frames", "%s/frames.jsonl: write failed: %s (the folder is left as it was)", a.out_dir,
                      strerror(saved ? saved : errno));
        failed = 1;
    } else if (commit_stage(a.out_dir, stage) != 0) {
        failed = 1;
    }
    drop_stage(stage);
    free(a.videos);
    return failed ? CLI_EXIT_FAIL : damaged ? FRAMES_EXIT_DAMAGED : CLI_EXIT_OK;
}

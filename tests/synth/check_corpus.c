/* Checks a corpus written by `vtag synth --out DIR --videos N --seed S`:
 * labels.jsonl read by the data module equals the plans; the label
 * statistics (hierarchy, counts, long tail, partly visible tags); and every
 * video probes to its plan and decodes with vtag's video module.
 * usage: synth_check_corpus DIR SEED N */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "check.h"
#include "synth_test.h"
#include "vtag/data.h"
#include "vtag/synth.h"

#define MAXL 256

/* Index of s in names (appending it). */
static int intern(const char **names, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(names[i], s) == 0) return i;
    if (*n >= MAXL) return MAXL - 1;
    names[*n] = s;
    return (*n)++;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: synth_check_corpus DIR SEED N\n");
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    const char *dir = argv[1];
    uint64_t seed = strtoull(argv[2], NULL, 10);
    int64_t n = strtoll(argv[3], NULL, 10);
    const vtag_synth_catalog *cat = vtag_synth_get_catalog();
    char path[4096];
    snprintf(path, sizeof path, "%s/labels.jsonl", dir);
    vtag_data_labels l;
    vtag_error err = {0};
    if (vtag_data_read_labels(&l, path, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    CHECK(l.count == n, "%lld entries, expected %lld", (long long)l.count, (long long)n);
    if (l.count < n) n = l.count;

    /* Labels vs plans, and the statistics from the file's own strings. */
    const char *c1n[MAXL], *c2n[MAXL], *tn[MAXL];
    int n1 = 0, n2 = 0, nt = 0, c1c[MAXL] = {0}, c2c[MAXL] = {0}, c2parent[MAXL], tc[MAXL] = {0};
    for (int i = 0; i < MAXL; i++) c2parent[i] = -1;
    int mismatch = 0, two_parents = 0, with_partial = 0, bad_share = 0;
    int64_t frames = 0;
    vtag_synth_video *plans = calloc((size_t)n, sizeof *plans);
    for (int64_t i = 0; i < n; i++) {
        const vtag_data_entry *e = &l.entries[i];
        vtag_synth_video *v = &plans[i];
        vtag_synth_plan(seed, i, v);
        frames += v->frames;
        char name[64];
        vtag_synth_video_name(i, name, sizeof name);
        int same = strcmp(e->video, name) == 0 && strcmp(e->class1, cat->class1[v->class1]) == 0 &&
                   strcmp(e->class2, cat->class2[v->class2]) == 0 && e->n_tags == v->n_tags && e->split == v->split;
        for (int t = 0; same && t < v->n_tags; t++) same = strcmp(e->tags[t], cat->tags[v->tags[t].id]) == 0;
        mismatch += !same;
        int a = intern(c1n, &n1, e->class1), b = intern(c2n, &n2, e->class2);
        c1c[a]++;
        c2c[b]++;
        if (c2parent[b] >= 0 && c2parent[b] != a) two_parents++;
        c2parent[b] = a;
        for (int64_t t = 0; t < e->n_tags; t++) tc[intern(tn, &nt, e->tags[t])]++;
        int partial = 0;
        for (int t = 0; t < v->n_tags; t++) {
            if (!cat->partial[v->tags[t].id]) continue;
            partial = 1;
            double share = (double)v->tags[t].visible_frames / (double)v->frames;
            bad_share += share < VTAG_SYNTH_PARTIAL_MIN || share > VTAG_SYNTH_PARTIAL_MAX;
        }
        with_partial += partial;
    }
    int max1 = 0, min2 = 1 << 30;
    for (int i = 0; i < n1; i++)
        if (c1c[i] > max1) max1 = c1c[i];
    for (int i = 0; i < n2; i++)
        if (c2c[i] < min2) min2 = c2c[i];
    int tmax = 0, tmin = 1 << 30;
    for (int i = 0; i < nt; i++) {
        if (tc[i] > tmax) tmax = tc[i];
        if (tc[i] < tmin) tmin = tc[i];
    }
    printf("%s: %lld videos, %lld frames; %d class1, %d class2, %d tags; biggest class1 %d videos, rarest class2 %d "
           "(ratio %.1f); tags from %d to %d videos; %d videos with partly visible tags\n",
           dir, (long long)n, (long long)frames, n1, n2, nt, max1, min2, (double)max1 / min2, tmax, tmin, with_partial);
    CHECK(mismatch == 0, "%d labels lines differ from the plans", mismatch);
    CHECK(two_parents == 0, "%d class2 under two class1", two_parents);
    CHECK(n1 >= 5 && n2 >= 20 && nt >= 40, "%d class1, %d class2, %d tags", n1, n2, nt);
    CHECK(max1 >= 10 * min2, "long tail: biggest class1 %d, rarest class2 %d", max1, min2);
    CHECK(with_partial >= n / 3 && bad_share == 0, "%d videos with partial tags, %d shares outside [0.2, 0.6]",
          with_partial, bad_share);

    /* Every video: the plan's format, and sampled frames from the video module. */
    int64_t decoded = 0, bad = 0, damaged = 0;
    for (int64_t i = 0; i < n; i++) {
        const vtag_synth_video *v = &plans[i];
        snprintf(path, sizeof path, "%s/%s", dir, l.entries[i].video);
        vtag_video_info info;
        if (vtag_video_probe(path, &info, &err)) {
            bad++;
            fprintf(stderr, "%s: %s\n", path, err.msg);
            continue;
        }
        if (info.width != v->width || info.height != v->height || info.frames != v->frames ||
            (int)(info.frame_rate + 0.5) != v->fps || info.rotation != 0) {
            bad++;
            fprintf(stderr, "%s: %lldx%lld, %lld frames at %.3f fps; plan %lldx%lld, %lld at %d\n", path,
                    (long long)info.width, (long long)info.height, (long long)info.frames, info.frame_rate,
                    (long long)v->width, (long long)v->height, (long long)v->frames, v->fps);
        }
        vtag_video_sampler s;
        vtag_video_sampler_default(&s);
        s.count = 8;
        vtag_video_options o;
        vtag_video_options_default(&o);
        o.size = v->width < v->height ? v->width : v->height;
        o.threads = 1;
        vtag_video_t *vid = NULL;
        if (vtag_video_open(&vid, path, &s, &o, &err)) {
            bad++;
            fprintf(stderr, "%s: %s\n", path, err.msg);
            continue;
        }
        int got = 0, more = 1;
        while (more) {
            vtag_video_frame f;
            if (vtag_video_next(vid, &f, &more, &err)) {
                fprintf(stderr, "%s: %s\n", path, err.msg);
                break;
            }
            got += more;
        }
        vtag_video_stats st;
        vtag_video_get_stats(vid, &st);
        vtag_video_close(&vid);
        damaged += st.damaged_packets;
        if (got == 8 && st.damaged_packets == 0) decoded++;
        else {
            bad++;
            fprintf(stderr, "%s: %d of 8 frames, %lld damaged packets\n", path, got, (long long)st.damaged_packets);
        }
    }
    printf("%lld of %lld videos probe to their plan and decode 8 frames each (%lld damaged packets)\n",
           (long long)decoded, (long long)n, (long long)damaged);
    CHECK(bad == 0 && decoded == n, "%lld videos failed", (long long)bad);

    /* Nothing else in videos/: no temporary files, one MP4 per line. */
    snprintf(path, sizeof path, "%s/videos", dir);
    DIR *d = opendir(path);
    int files = 0, tmp = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        files++;
        tmp += strstr(e->d_name, ".tmp.") != NULL;
    }
    if (d) closedir(d);
    CHECK(files == n && tmp == 0, "%d files in videos/ (%d temporary)", files, tmp);
    free(plans);
    vtag_data_free_labels(&l);
    return check_summary("synth/check_corpus");
}

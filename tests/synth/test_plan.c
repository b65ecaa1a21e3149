/* The label generator alone, on 500-video corpora of three seeds: the
 * catalogue, hierarchy, long tail, tag/class correlation, partly visible
 * tags, formats, determinism, and labels.jsonl read back by the data module. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "synth/synth_internal.h"
#include "vtag/data.h"
#include "vtag/synth.h"

#define N 500

static void test_catalog(void)
{
    const vtag_synth_catalog *c = vtag_synth_get_catalog();
    CHECK(c->n_class1 >= 5 && c->n_class2 >= 20 && c->n_tags >= 40, "catalogue %d/%d/%d", c->n_class1,
          c->n_class2, c->n_tags);
    /* Every label is one caption token: all names distinct, or captions
     * would drop a tag equal to a class. */
    const char *all[256];
    int n = 0;
    for (int i = 0; i < c->n_class1; i++) all[n++] = c->class1[i];
    for (int i = 0; i < c->n_class2; i++) all[n++] = c->class2[i];
    for (int i = 0; i < c->n_tags; i++) all[n++] = c->tags[i];
    int dup = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) dup += strcmp(all[i], all[j]) == 0;
    CHECK(dup == 0, "%d duplicate label names", dup);
    int partial = 0;
    for (int i = 0; i < c->n_tags; i++) partial += c->partial[i];
    CHECK(partial >= 5, "%d partial tags", partial);
    for (int i = 0; i < c->n_class2; i++)
        CHECK(c->class2_parent[i] >= 0 && c->class2_parent[i] < c->n_class1 && c->class2_object[i] >= 0 &&
                  c->class2_object[i] < 10,
              "class2 %d parent/object", i);
    /* Deliberately confusable: one product under several departments, told
     * apart only by the background (sneakers: footwear, street, sale, unboxing). */
    int max_share = 0;
    for (int o = 0; o < 10; o++) {
        int k = 0;
        for (int i = 0; i < c->n_class2; i++) k += c->class2_object[i] == o;
        if (k > max_share) max_share = k;
    }
    CHECK(max_share >= 4, "a product shared by %d class2", max_share);
}

static void check_corpus(uint64_t seed)
{
    const vtag_synth_catalog *c = vtag_synth_get_catalog();
    static vtag_synth_video v[N];
    int c1[64] = {0}, c2[64] = {0}, tag[128] = {0}, tag_c1[128][16], splits[3] = {0};
    memset(tag_c1, 0, sizeof tag_c1);
    int with_partial = 0, bad_fmt = 0, bad_hier = 0, bad_span = 0, bad_groups = 0, long_caption = 0;
    int64_t frames = 0;
    double part_min = 1, part_max = 0;
    for (int i = 0; i < N; i++) {
        vtag_synth_plan(seed, i, &v[i]);
        const vtag_synth_video *p = &v[i];
        double secs = (double)p->frames / p->fps;
        bad_fmt += p->width < VTAG_SYNTH_MIN_SIDE || p->width > VTAG_SYNTH_MAX_SIDE ||
                   p->height < VTAG_SYNTH_MIN_SIDE || p->height > VTAG_SYNTH_MAX_SIDE || (p->width & 15) ||
                   (p->height & 15) || p->fps < VTAG_SYNTH_MIN_FPS || p->fps > VTAG_SYNTH_MAX_FPS ||
                   secs < VTAG_SYNTH_MIN_SECONDS - 0.05 || secs > VTAG_SYNTH_MAX_SECONDS + 0.05;
        frames += p->frames;
        bad_hier += c->class2_parent[p->class2] != p->class1;
        c1[p->class1]++;
        c2[p->class2]++;
        splits[p->split]++;
        long_caption += 2 + p->n_tags > 16;
        int colours = 0, patterns = 0, presentation = 0, any_partial = 0;
        for (int t = 0; t < p->n_tags; t++) {
            const vtag_synth_tag *g = &p->tags[t];
            if (t > 0 && g->id <= p->tags[t - 1].id) bad_span++; /* catalogue order, no repeats */
            tag[g->id]++;
            tag_c1[g->id][p->class1]++;
            colours += g->id < T_COLOUR_COUNT;
            patterns += g->id >= T_STRIPED && g->id <= T_TWOTONE;
            presentation += g->id >= T_PAIR && g->id <= T_COLLAGE;
            if (!c->partial[g->id]) {
                bad_span += g->n_spans != 0 || g->visible_frames != p->frames;
                continue;
            }
            any_partial = 1;
            double share = (double)g->visible_frames / (double)p->frames;
            if (share < part_min) part_min = share;
            if (share > part_max) part_max = share;
            int64_t sum = 0, counted = 0;
            for (int s = 0; s < g->n_spans; s++) {
                bad_span += g->spans[s].begin >= g->spans[s].end || g->spans[s].begin < 0 ||
                            g->spans[s].end > p->frames || (s > 0 && g->spans[s].begin <= g->spans[s - 1].end);
                sum += g->spans[s].end - g->spans[s].begin;
            }
            for (int64_t f = 0; f < p->frames; f++) counted += vtag_synth_tag_visible(g, f);
            bad_span += g->n_spans < 1 || sum != g->visible_frames || counted != sum;
        }
        bad_groups += colours != 1 || patterns > 1 || presentation > 1;
        with_partial += any_partial;
    }
    CHECK(bad_fmt == 0, "seed %llu: %d videos out of the format ranges", (unsigned long long)seed, bad_fmt);
    CHECK(bad_hier == 0, "seed %llu: %d class2 not under their class1", (unsigned long long)seed, bad_hier);
    CHECK(bad_span == 0, "seed %llu: %d bad tag spans", (unsigned long long)seed, bad_span);
    CHECK(bad_groups == 0, "seed %llu: %d videos without exactly one colour / with two patterns",
          (unsigned long long)seed, bad_groups);
    CHECK(long_caption == 0, "seed %llu: %d captions longer than 16", (unsigned long long)seed, long_caption);
    int n1 = 0, n2 = 0, nt = 0, max1 = 0, min2 = N;
    for (int i = 0; i < c->n_class1; i++) {
        n1 += c1[i] > 0;
        if (c1[i] > max1) max1 = c1[i];
    }
    for (int i = 0; i < c->n_class2; i++)
        if (c2[i] > 0) {
            n2++;
            if (c2[i] < min2) min2 = c2[i];
        }
    for (int i = 0; i < c->n_tags; i++) nt += tag[i] > 0;
    printf("seed %llu: %d class1, %d class2, %d tags used; biggest class1 %d videos, rarest class2 %d; "
           "partial tags in %d videos (share %.2f..%.2f); %lld frames; splits %d/%d/%d\n",
           (unsigned long long)seed, n1, n2, nt, max1, min2, with_partial, part_min, part_max, (long long)frames,
           splits[0], splits[1], splits[2]);
    CHECK(n1 >= 5 && n2 >= 20 && nt >= 40, "seed %llu: %d class1, %d class2, %d tags", (unsigned long long)seed, n1,
          n2, nt);
    CHECK(max1 >= 10 * min2, "long tail: biggest class1 %d < 10 x rarest class2 %d", max1, min2);
    CHECK(with_partial >= N / 3, "only %d videos with a partly visible tag", with_partial);
    CHECK(part_min >= VTAG_SYNTH_PARTIAL_MIN && part_max <= VTAG_SYNTH_PARTIAL_MAX && part_max - part_min > 0.3,
          "partial shares %.3f..%.3f", part_min, part_max);
    CHECK(splits[0] > N * 6 / 10 && splits[1] > N / 12 && splits[2] > N / 12, "splits %d/%d/%d", splits[0],
          splits[1], splits[2]);
    /* Tags follow classes: many tags are at least 3x as frequent in some
     * class1 as overall, and the flash-sale graphics are almost only there. */
    int correlated = 0;
    for (int t = T_COLOUR_COUNT; t < c->n_tags; t++) {
        if (tag[t] < 10) continue;
        double overall = (double)tag[t] / N, best = 0;
        for (int k = 0; k < c->n_class1; k++)
            if (c1[k] >= 15 && (double)tag_c1[t][k] / c1[k] > best) best = (double)tag_c1[t][k] / c1[k];
        correlated += best >= 3 * overall;
    }
    CHECK(correlated >= 10, "only %d tags correlated with a class1", correlated);
    int sale = 4; /* "flash sale" */
    CHECK(strcmp(c->class1[sale], "flash sale") == 0, "class1 order");
    double in_sale = (double)tag_c1[T_DISCOUNT][sale] / (c1[sale] ? c1[sale] : 1);
    double elsewhere = (double)(tag[T_DISCOUNT] - tag_c1[T_DISCOUNT][sale]) / (N - c1[sale]);
    CHECK(in_sale > 0.6 && elsewhere < 0.1, "discount badge: %.2f in flash sale, %.2f elsewhere", in_sale, elsewhere);
    /* Average cost: short and small, so that 500 videos render quickly. */
    CHECK(frames / N < 200, "mean length %lld frames", (long long)(frames / N));
}

static void test_determinism(void)
{
    vtag_synth_video a, b;
    int same = 1, differ = 0;
    for (int i = 0; i < 50; i++) {
        vtag_synth_plan(11, i, &a);
        vtag_synth_plan(11, i, &b);
        same &= memcmp(&a, &b, sizeof a) == 0;
        vtag_synth_plan(12, i, &b);
        differ += a.seed != b.seed && (a.class2 != b.class2 || a.frames != b.frames || a.width != b.width);
    }
    CHECK(same, "the same seed and index give the same plan");
    CHECK(differ >= 40, "another seed gives other videos (%d of 50 differ)", differ);
    char name[64];
    vtag_synth_video_name(42, name, sizeof name);
    CHECK(strcmp(name, "videos/000042.mp4") == 0, "video name %s", name);
}

static int read_file(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc((size_t)n + 1);
    *len = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return *len == (size_t)n ? 0 : -1;
}

static void test_labels_file(void)
{
    const vtag_synth_catalog *c = vtag_synth_get_catalog();
    static vtag_synth_video v[N];
    for (int i = 0; i < N; i++) vtag_synth_plan(5, i, &v[i]);
    vtag_error err = {0};
    int rc = vtag_synth_write_labels("synth_plan_a.jsonl", v, N, &err);
    CHECK(rc == 0, "write labels: %s", err.msg);
    rc = vtag_synth_write_labels("synth_plan_b.jsonl", v, N, &err);
    CHECK(rc == 0, "write labels again: %s", err.msg);
    char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    CHECK(read_file("synth_plan_a.jsonl", &a, &la) == 0 && read_file("synth_plan_b.jsonl", &b, &lb) == 0, "read back");
    CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "byte-identical labels files");
    free(a);
    free(b);
    vtag_data_labels l;
    rc = vtag_data_read_labels(&l, "synth_plan_a.jsonl", NULL, &err);
    CHECK(rc == 0, "the data module reads the labels file: %s", err.msg);
    if (rc) return;
    CHECK(l.count == N, "%lld entries", (long long)l.count);
    int bad = 0;
    for (int i = 0; i < N && i < l.count; i++) {
        const vtag_data_entry *e = &l.entries[i];
        char name[64];
        vtag_synth_video_name(i, name, sizeof name);
        bad += strcmp(e->video, name) != 0 || strcmp(e->class1, c->class1[v[i].class1]) != 0 ||
               strcmp(e->class2, c->class2[v[i].class2]) != 0 || e->n_tags != v[i].n_tags ||
               e->split != v[i].split;
        for (int t = 0; t < e->n_tags && t < v[i].n_tags; t++) bad += strcmp(e->tags[t], c->tags[v[i].tags[t].id]) != 0;
    }
    CHECK(bad == 0, "%d entries differ from their plans", bad);
    vtag_data_free_labels(&l);
    /* A folder that does not exist: an error, not a crash. */
    rc = vtag_synth_write_labels("no/such/folder/labels.jsonl", v, 1, &err);
    CHECK(rc == VTAG_ERR_IO && strstr(err.msg, "no/such/folder"), "missing folder: %d %s", rc, err.msg);
}

int main(void)
{
    test_catalog();
    check_corpus(1);
    check_corpus(2);
    check_corpus(7);
    test_determinism();
    test_labels_file();
    return check_summary("synth/test_plan");
}

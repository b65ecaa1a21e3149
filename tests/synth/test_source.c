/* Product pictures: procedural shapes (both code paths must work), IDX files
 * written here (gzipped and plain) with their error cases, and the installed
 * Fashion-MNIST when present: the right class, train pictures for train and
 * val videos (disjoint), test pictures for test videos. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "synth/synth_internal.h"
#include "vtag/synth.h"

#define PIX (VTAG_SYNTH_PICTURE * VTAG_SYNTH_PICTURE)

static void test_shapes(void)
{
    vtag_synth_source *s = NULL;
    vtag_error err = {0};
    CHECK(vtag_synth_source_open_shapes(&s, &err) == 0, "open shapes: %s", err.msg);
    if (!s) return;
    CHECK(strcmp(vtag_synth_source_kind(s), "shapes") == 0, "kind %s", vtag_synth_source_kind(s));
    uint8_t pic[10][PIX], again[PIX], other[PIX];
    for (int o = 0; o < 10; o++) {
        vtag_synth_source_picture(s, o, VTAG_DATA_SPLIT_TRAIN, 1234, pic[o]);
        vtag_synth_source_picture(s, o, VTAG_DATA_SPLIT_TRAIN, 1234, again);
        vtag_synth_source_picture(s, o, VTAG_DATA_SPLIT_TRAIN, 99, other);
        CHECK(memcmp(pic[o], again, PIX) == 0, "class %d: same key, same picture", o);
        CHECK(memcmp(pic[o], other, PIX) != 0, "class %d: another key, another picture", o);
        int on = 0;
        for (int i = 0; i < PIX; i++) on += pic[o][i] > 20;
        CHECK(on > PIX / 10 && on < PIX * 8 / 10, "class %d covers %d of %d pixels", o, on, PIX);
    }
    /* Every pair of classes is told apart by the picture (shirts and
     * pullovers only by collar, buttons and pocket, as in Fashion-MNIST). */
    int close = 0;
    for (int a = 0; a < 10; a++)
        for (int b = a + 1; b < 10; b++) {
            int differ = 0;
            for (int i = 0; i < PIX; i++) differ += abs((int)pic[a][i] - (int)pic[b][i]) > 40;
            if (differ < PIX / 12) {
                close++;
                fprintf(stderr, "classes %d and %d differ in %d pixels\n", a, b, differ);
            }
        }
    CHECK(close == 0, "%d pairs of classes with near-identical silhouettes", close);
    int set;
    int64_t index;
    CHECK(synth_source_pick(s, 0, VTAG_DATA_SPLIT_TRAIN, 1, &set, &index) < 0, "shapes pick no dataset item");
    vtag_synth_source_close(&s);
    CHECK(s == NULL, "close sets NULL");
    vtag_synth_source_close(&s);
}

/* Writes an IDX file, gzipped or plain; extra > 0 appends bytes, cut > 0 drops them. */
static int write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int nd, const uint8_t *data,
                     size_t n, int extra, size_t cut)
{
    uint8_t head[16];
    head[0] = (uint8_t)(magic >> 24), head[1] = (uint8_t)(magic >> 16), head[2] = (uint8_t)(magic >> 8),
    head[3] = (uint8_t)magic;
    for (int d = 0; d < nd; d++)
        for (int k = 0; k < 4; k++) head[4 + 4 * d + k] = (uint8_t)(dims[d] >> (24 - 8 * k));
    size_t hl = 4 + 4 * (size_t)nd, body = n - cut;
    uint8_t pad[3] = {1, 2, 3};
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) return -1;
        int ok = gzwrite(f, head, (unsigned)hl) == (int)hl && gzwrite(f, data, (unsigned)body) == (int)body;
        if (extra) ok = ok && gzwrite(f, pad, 3) == 3;
        return gzclose(f) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(head, 1, hl, f) == hl && fwrite(data, 1, body, f) == body;
    if (extra) ok = ok && fwrite(pad, 1, 3, f) == 3;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A tiny dataset: 200 train pictures (label (i/10)%10, picture value = label+1
 * in pixel 0, the index in pixel 1) and 10 test pictures. */
static void make_dataset(const char *dir, int gz)
{
    mkdir(dir, 0777);
    static uint8_t img[200 * PIX];
    uint8_t lab[200];
    for (int i = 0; i < 200; i++) {
        lab[i] = (uint8_t)((i / 10) % 10);
        memset(img + i * PIX, 100, PIX);
        img[i * PIX] = (uint8_t)(lab[i] + 1);
        img[i * PIX + 1] = (uint8_t)i;
    }
    char p[256];
    const char *ext = gz ? ".gz" : "";
    uint32_t d3[3] = {200, 28, 28}, d1[1] = {200};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", dir, ext);
    CHECK(write_idx(p, gz, 0x803, d3, 3, img, 200 * PIX, 0, 0) == 0, "write %s", p);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte%s", dir, ext);
    CHECK(write_idx(p, gz, 0x801, d1, 1, lab, 200, 0, 0) == 0, "write %s", p);
    d3[0] = d1[0] = 10;
    for (int i = 0; i < 10; i++) {
        lab[i] = (uint8_t)i;
        img[i * PIX] = (uint8_t)(i + 1);
        img[i * PIX + 1] = (uint8_t)i;
    }
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte%s", dir, ext);
    CHECK(write_idx(p, gz, 0x803, d3, 3, img, 10 * PIX, 0, 0) == 0, "write %s", p);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte%s", dir, ext);
    CHECK(write_idx(p, gz, 0x801, d1, 1, lab, 10, 0, 0) == 0, "write %s", p);
}

static void test_idx_files(int gz)
{
    const char *dir = gz ? "synth_idx_gz" : "synth_idx_plain";
    make_dataset(dir, gz);
    vtag_synth_source *s = NULL;
    vtag_error err = {0};
    int rc = vtag_synth_source_open_fmnist(&s, dir, &err);
    CHECK(rc == 0, "%s: open: %s", dir, err.msg);
    if (rc) return;
    CHECK(strcmp(vtag_synth_source_kind(s), "fashion-mnist") == 0, "kind");
    int wrong = 0, val_from_train = 0, train_from_val = 0, test_from_train = 0;
    for (uint64_t key = 0; key < 300; key++)
        for (int o = 0; o < 10; o++) {
            uint8_t pic[PIX];
            for (int sp = 0; sp < 3; sp++) {
                vtag_synth_source_picture(s, o, (vtag_data_split)sp, key * 7919, pic);
                wrong += pic[0] != o + 1;
                int index = pic[1];
                if (sp == VTAG_DATA_SPLIT_TRAIN) train_from_val += index % 10 == 0;
                if (sp == VTAG_DATA_SPLIT_VAL) val_from_train += index % 10 != 0;
                if (sp == VTAG_DATA_SPLIT_TEST) test_from_train += index >= 10;
            }
        }
    CHECK(wrong == 0, "%s: %d pictures of the wrong class", dir, wrong);
    CHECK(train_from_val == 0 && val_from_train == 0, "%s: train and val pools overlap (%d, %d)", dir,
          train_from_val, val_from_train);
    CHECK(test_from_train == 0, "%s: test videos took %d train pictures", dir, test_from_train);
    vtag_synth_source_close(&s);
}

static void expect_error(const char *dir, int code, const char *needle)
{
    vtag_synth_source *s = NULL;
    vtag_error err = {0};
    int rc = vtag_synth_source_open_fmnist(&s, dir, &err);
    CHECK(rc == code && s == NULL && strstr(err.msg, needle), "%s: expected %d '%s', got %d '%s'", dir, code, needle,
          rc, err.msg);
    vtag_synth_source_close(&s);
}

static void test_bad_files(void)
{
    expect_error("synth_no_such_folder", VTAG_ERR_NOTFOUND, "train-images-idx3-ubyte");
    static uint8_t img[200 * PIX];
    uint8_t lab[200] = {0};
    uint32_t d3[3] = {200, 28, 28}, d1[1] = {200};
    /* Bad magic, wrong picture size, truncated, trailing bytes, a label > 9,
     * counts that disagree: each names the file. */
    make_dataset("synth_bad", 1);
    CHECK(write_idx("synth_bad/train-images-idx3-ubyte.gz", 1, 0x802, d1, 1, img, 200, 0, 0) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "magic");
    uint32_t d3b[3] = {200, 32, 28};
    CHECK(write_idx("synth_bad/train-images-idx3-ubyte.gz", 1, 0x803, d3b, 3, img, 200 * PIX, 0, 0) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "dimension 1 is 32");
    CHECK(write_idx("synth_bad/train-images-idx3-ubyte.gz", 1, 0x803, d3, 3, img, 200 * PIX, 0, 5) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "truncated");
    CHECK(write_idx("synth_bad/train-images-idx3-ubyte.gz", 1, 0x803, d3, 3, img, 200 * PIX, 1, 0) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "trailing bytes");
    CHECK(write_idx("synth_bad/train-images-idx3-ubyte.gz", 1, 0x803, d3, 3, img, 200 * PIX, 0, 0) == 0, "write");
    for (int i = 0; i < 200; i++) lab[i] = (uint8_t)(i % 10);
    lab[7] = 12;
    CHECK(write_idx("synth_bad/train-labels-idx1-ubyte.gz", 1, 0x801, d1, 1, lab, 200, 0, 0) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "label 12 of item 7");
    lab[7] = 7;
    uint32_t d1b[1] = {199};
    CHECK(write_idx("synth_bad/train-labels-idx1-ubyte.gz", 1, 0x801, d1b, 1, lab, 199, 0, 0) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "199 labels for 200 images");
    /* Every label the same: the other classes have no picture. */
    memset(lab, 3, sizeof lab);
    CHECK(write_idx("synth_bad/train-labels-idx1-ubyte.gz", 1, 0x801, d1, 1, lab, 200, 0, 0) == 0, "write");
    expect_error("synth_bad", VTAG_ERR_FORMAT, "no picture of class 0");
    /* Not gzip and not IDX. */
    FILE *f = fopen("synth_bad/train-labels-idx1-ubyte.gz", "wb");
    if (f) {
        fputs("hello", f);
        fclose(f);
    }
    expect_error("synth_bad", VTAG_ERR_FORMAT, "synth_bad/train-labels-idx1-ubyte.gz");
}

static void test_installed(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", VTAG_SYNTH_FMNIST_DIR);
    if (access(p, R_OK) != 0) {
        printf("Fashion-MNIST is not installed in %s: skipping its checks\n", VTAG_SYNTH_FMNIST_DIR);
        return;
    }
    vtag_synth_source *s = NULL;
    vtag_error err = {0};
    int rc = vtag_synth_source_open_fmnist(&s, VTAG_SYNTH_FMNIST_DIR, &err);
    CHECK(rc == 0, "open %s: %s", VTAG_SYNTH_FMNIST_DIR, err.msg);
    if (rc) return;
    /* Labels read independently, to check the class of every pick. */
    uint8_t *labels[2] = {NULL, NULL};
    const char *names[2] = {"train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    int counts[2] = {60000, 10000};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s", VTAG_SYNTH_FMNIST_DIR, names[k]);
        gzFile g = gzopen(p, "rb");
        labels[k] = malloc((size_t)counts[k] + 8);
        int n = g ? gzread(g, labels[k], (unsigned)counts[k] + 8) : -1;
        CHECK(n == counts[k] + 8, "%s: %d bytes", p, n);
        if (g) gzclose(g);
    }
    int wrong = 0, leaks = 0, picks = 0, blank = 0;
    for (uint64_t key = 0; key < 2000; key++)
        for (int o = 0; o < 10; o++)
            for (int sp = 0; sp < 3; sp++) {
                int set;
                int64_t index;
                if (synth_source_pick(s, o, (vtag_data_split)sp, synth_hash(key, 5), &set, &index)) continue;
                picks++;
                wrong += index < 0 || index >= counts[set] || labels[set][8 + index] != o;
                leaks += (sp == VTAG_DATA_SPLIT_TEST) != (set == 1) ||
                         (sp == VTAG_DATA_SPLIT_VAL && index % 10 != 0) || (sp == VTAG_DATA_SPLIT_TRAIN && index % 10 == 0);
                uint8_t pic[PIX];
                vtag_synth_source_picture(s, o, (vtag_data_split)sp, synth_hash(key, 5), pic);
                int on = 0;
                for (int i = 0; i < PIX; i++) on += pic[i] > 20;
                blank += on < 20;
            }
    CHECK(picks == 60000, "%d picks", picks);
    CHECK(wrong == 0, "%d picks of the wrong class", wrong);
    CHECK(leaks == 0, "%d picks from the wrong split", leaks);
    CHECK(blank == 0, "%d blank pictures", blank);
    free(labels[0]);
    free(labels[1]);
    vtag_synth_source_close(&s);
}

int main(void)
{
    test_shapes();
    test_idx_files(1);
    test_idx_files(0);
    test_bad_files();
    test_installed();
    return check_summary("synth/test_source");
}

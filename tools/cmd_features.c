/* vtag features: frames of every video of a labels file → a backbone (built-in
 * or ONNX) → the features file of SPEC §8 (fc, att, vtag.items). One thread
 * decodes the next videos while the backbone runs on the current one. */
#include <getopt.h>
#include <libavutil/log.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/backbone.h"
#include "vtag/data.h"
#include "vtag/video.h"

#define CMD "features"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag features --backbone B.safetensors|MODEL.onnx --labels L --out F.safetensors [options]\n"
            "\n"
            "Samples frames from every video of the labels file L (relative paths are relative to\n"
            "L's folder), runs the backbone on them in batches and writes F (docs/FORMATS.md):\n"
            "fc F32 [N, D_fc], att F32 [N, K, D_att], the item ids (the labels' \"video\" of each\n"
            "row: one row per frame, videos in file order; metadata vtag.items, or the tensor items\n"
            "when long) and vtag.backbone. F is written atomically, only when every video\n"
            "succeeded (or with --skip-bad).\n"
            "\n"
            "  --backbone FILE    built-in backbone (vtag backbone train) or an ONNX model\n"
            "  --labels FILE      labels file (JSON Lines or CSV)\n"
            "  --split S          train, val, test or all (default all)\n"
            "  --sample SPEC      frames per video (uniform:16; fps:F, keyframes, scene:T)\n"
            "  --size S           input side (default: the backbone's own; ONNX 224)\n"
            "  --mean R,G,B       normalisation (default: the backbone's own; ONNX ImageNet)\n"
            "  --std R,G,B\n"
            "  --fc-node NAME     ONNX: the output tapped for fc (default: the last GlobalAveragePool's)\n"
            "  --att-node NAME    ONNX: the output tapped for att (default: that pool's input)\n"
            "  --no-att           write fc only (att2in/topdown then cannot use the file)\n"
            "  --batch B          frames per backbone call (8)\n"
            "  --threads T        threads for the backbone (number of cores - 1: the decoder\n"
            "                     thread has the other)\n"
            "  --skip-bad         a video that cannot be decoded is reported and left out\n"
            "                     (default: it is an error and nothing is written)\n"
            "  --quiet            no progress on stderr\n"
            "  --out FILE         features file to write\n"
            "\n"
            "Progress on stderr: a bar when stderr is a terminal, else a line every 10 s.\n"
            "exit codes: 0 written, 1 bad input / a video failed / I/O error (nothing written), 2 usage.\n");
}

/* ---- the decoder thread: videos in order into a ring of decoded videos --------------------- */

#define RING 3

typedef struct decoded {
    int64_t entry;
    uint8_t *rgb; /* [n, S, S, 3] */
    int64_t n, cap;
    int rc;
    vtag_error err;
} decoded;

typedef struct pipe_state {
    const vtag_data_labels *labels;
    const int64_t *entries;
    int64_t n_entries;
    const vtag_video_sampler *smp;
    int64_t size;
    decoded ring[RING];
    int64_t produced, consumed; /* videos put into / taken from the ring */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} pipe_state;

static void decode_one(decoded *d, const char *path, const vtag_video_sampler *smp, int64_t size)
{
    vtag_video_options o;
    vtag_video_options_default(&o);
    o.size = size;
    o.threads = 1;
    vtag_video_t *v = NULL;
    d->n = 0;
    d->rc = vtag_video_open(&v, path, smp, &o, &d->err);
    const size_t fb = (size_t)(size * size * 3);
    while (!d->rc) {
        vtag_video_frame fr;
        int got = 0;
        if ((d->rc = vtag_video_next(v, &fr, &got, &d->err)) || !got) break;
        if (d->n == d->cap) {
            int64_t cap = d->cap ? d->cap * 2 : 16;
            uint8_t *p = realloc(d->rgb, (size_t)cap * fb);
            if (!p) {
                d->rc = vtag_fail(&d->err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            d->rgb = p, d->cap = cap;
        }
        memcpy(d->rgb + (size_t)d->n * fb, fr.rgb, fb);
        d->n++;
    }
    if (!d->rc && d->n == 0) d->rc = vtag_fail(&d->err, VTAG_ERR_FORMAT, "%s: no frame could be decoded", path);
    vtag_video_close(&v);
}

static void *decoder_main(void *arg)
{
    pipe_state *p = arg;
    for (int64_t i = 0; i < p->n_entries; i++) {
        pthread_mutex_lock(&p->mu);
        while (p->produced - p->consumed >= RING && !p->stop) pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        decoded *d = &p->ring[i % RING];
        d->entry = p->entries[i];
        decode_one(d, p->labels->entries[d->entry].path, p->smp, p->size);
        pthread_mutex_lock(&p->mu);
        p->produced++;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* ---- output rows --------------------------------------------------------------------------- */

typedef struct rows {
    int64_t n, cap, d_fc, katt; /* katt = K·D_att, 0 without att */
    float *fc, *att;
    const char **items;
} rows;

static int rows_reserve(rows *r, int64_t more)
{
    if (r->n + more <= r->cap) return 0;
    int64_t cap = r->cap ? r->cap : 256;
    while (cap < r->n + more) cap *= 2;
    float *fc = realloc(r->fc, (size_t)(cap * r->d_fc) * sizeof(float));
    if (fc) r->fc = fc;
    float *att = r->katt ? realloc(r->att, (size_t)(cap * r->katt) * sizeof(float)) : NULL;
    if (att) r->att = att;
    const char **items = realloc(r->items, (size_t)cap * sizeof *items);
    if (items) r->items = items;
    if (!fc || (r->katt && !att) || !items) return -1;
    r->cap = cap;
    return 0;
}

typedef struct progress {
    int tty, quiet;
    double t0, last;
} progress;

static void show(progress *p, int64_t done, int64_t total, int64_t frames, int final)
{
    if (p->quiet) return;
    const double t = cli_seconds(), dt = t - p->t0;
    const double fps = dt > 0 ? (double)frames / dt : 0, eta = done ? dt * (double)(total - done) / (double)done : 0;
    if (p->tty) {
        int width = 30, fill = (int)(width * done / (total ? total : 1));
        fprintf(stderr, "\rfeatures [%.*s%*s] %lld/%lld videos  %.1f frames/s  ETA %.0f s ", fill,
                "##############################", width - fill, "", (long long)done, (long long)total, fps, eta);
        if (final) fputs("\r\033[K", stderr);
        fflush(stderr);
    } else if (!final && t - p->last >= 10.0) {
        fprintf(stderr, "vtag features: %lld/%lld videos, %.1f frames/s, ETA %.0f s\n", (long long)done,
                (long long)total, fps, eta);
        p->last = t;
    }
}

typedef struct feat_args {
    const char *backbone, *labels, *out;
    vtag_data_split split;
    vtag_video_sampler smp;
    vtag_backbone_options bo;
    int threads, skip_bad, quiet, no_att;
} feat_args;

enum { OPT_SPLIT = 256, OPT_SAMPLE, OPT_SIZE, OPT_MEAN, OPT_STD, OPT_FCN, OPT_ATTN, OPT_NOATT, OPT_BATCH, OPT_THREADS, OPT_SKIP, OPT_QUIET, OPT_HELP };

static int parse(int argc, char **argv, feat_args *a)
{
    static const struct option opts[] = {
        {"backbone", required_argument, 0, 'b'}, {"labels", required_argument, 0, 'l'},
        {"out", required_argument, 0, 'o'},      {"split", required_argument, 0, OPT_SPLIT},
        {"sample", required_argument, 0, OPT_SAMPLE}, {"size", required_argument, 0, OPT_SIZE},
        {"mean", required_argument, 0, OPT_MEAN}, {"std", required_argument, 0, OPT_STD},
        {"fc-node", required_argument, 0, OPT_FCN}, {"att-node", required_argument, 0, OPT_ATTN},
        {"no-att", no_argument, 0, OPT_NOATT},   {"batch", required_argument, 0, OPT_BATCH},
        {"threads", required_argument, 0, OPT_THREADS}, {"skip-bad", no_argument, 0, OPT_SKIP},
        {"quiet", no_argument, 0, OPT_QUIET},    {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->split = VTAG_DATA_SPLIT_ALL;
    vtag_video_sampler_default(&a->smp);
    vtag_backbone_options_default(&a->bo);
    int c, have_mean = 0, have_std = 0;
    long v;
    vtag_error e = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->backbone = optarg; break;
        case 'l': a->labels = optarg; break;
        case 'o': a->out = optarg; break;
        case OPT_SPLIT:
            if (strcmp(optarg, "all") == 0) a->split = VTAG_DATA_SPLIT_ALL;
            else if (vtag_data_split_parse(optarg, &a->split)) {
                cli_error(CMD, "--split must be train, val, test or all, not '%s'", optarg);
                return -1;
            }
            break;
        case OPT_SAMPLE:
            if (vtag_video_sampler_parse(&a->smp, optarg, &e)) {
                cli_error(CMD, "--sample: %s", e.msg);
                return -1;
            }
            break;
        case OPT_SIZE:
            if (cli_parse_int(CMD, "--size", optarg, 16, 2048, &v)) return -1;
            a->bo.size = v;
            break;
        case OPT_MEAN:
        case OPT_STD: {
            /* R,G,B: a mean is any finite value, a std a finite value > 0 */
            double rgb[3];
            float *dst = c == OPT_MEAN ? a->bo.mean : a->bo.std;
            if (cli_parse_reals(CMD, c == OPT_MEAN ? "--mean" : "--std", optarg, 3, c == OPT_MEAN ? -CLI_FLOAT_MAX : 0,
                                CLI_FLOAT_MAX, (c == OPT_MEAN ? CLI_CLOSED : CLI_OPEN_LO) | CLI_AS_FLOAT, rgb))
                return -1;
            for (int i = 0; i < 3; i++) dst[i] = (float)rgb[i];
            *(c == OPT_MEAN ? &have_mean : &have_std) = 1;
            break;
        }
        case OPT_FCN: a->bo.fc_node = optarg; break;
        case OPT_ATTN: a->bo.att_node = optarg; break;
        case OPT_NOATT: a->no_att = 1; break;
        case OPT_BATCH:
            if (cli_parse_int(CMD, "--batch", optarg, 1, 4096, &v)) return -1;
            a->bo.max_batch = v;
            break;
        case OPT_THREADS:
            if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &v)) return -1;
            a->threads = (int)v;
            break;
        case OPT_SKIP: a->skip_bad = 1; break;
        case OPT_QUIET: a->quiet = 1; break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->backbone || !a->labels || !a->out) {
        cli_error(CMD, "--backbone, --labels and --out are required (vtag features --help)");
        return -1;
    }
    if (have_mean != have_std) {
        cli_error(CMD, "--mean and --std go together");
        return -1;
    }
    a->bo.have_norm = have_mean;
    return 0;
}

/* vtag pipeline checks its feature stages' options before the first stage runs,
 * with this command's own parser. */
int cmd_features_check(int argc, char **argv)
{
    feat_args a;
    return parse(argc, argv, &a) == 0 ? 0 : -1;
}

int cmd_features(int argc, char **argv)
{
    feat_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    /* --out on an input would destroy it: the options now, the videos once the labels are read */
    const cli_file ins[] = {{"--backbone", a.backbone}, {"--labels", a.labels}}, outs[] = {{"--out", a.out}};
    int clash = cli_check_outputs(CMD, outs, 1, ins, 2, 0);
    if (clash) return clash;
    av_log_set_level(AV_LOG_QUIET);
    vtag_error err = {0};
    vtag_data_labels labels;
    memset(&labels, 0, sizeof labels);
    vtag_backbone_t *bb = NULL;
    vtag_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    rows r = {0};
    int64_t *entries = NULL, n_entries = 0, bad = 0;
    float *images = NULL;
    pipe_state p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t tid;
    int started = 0, status = CLI_EXIT_FAIL, rc;
    /* The decoder thread takes a core: by default the backbone gets the others. With OpenMP's
     * spinning barriers, one thread more than there are free cores costs far more than it gives
     * (bench/README.md, "Built-in backbone"). */
    const int threads = a.threads ? a.threads : (vtag_default_threads() > 1 ? vtag_default_threads() - 1 : 1);
    if ((rc = vtag_ctx_init(&ctx, threads, 1, &err))) goto done;
    if ((rc = vtag_data_read_labels(&labels, a.labels, NULL, &err))) goto done;
    if ((clash = cli_check_outputs_videos(CMD, outs, 1, &labels, 0))) {
        status = clash; /* reported */
        goto done;
    }
    entries = malloc((size_t)(labels.count ? labels.count : 1) * sizeof *entries);
    if (!entries) {
        vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t e = 0; e < labels.count; e++)
        if (a.split == VTAG_DATA_SPLIT_ALL || labels.entries[e].split == a.split) entries[n_entries++] = e;
    if (n_entries == 0) {
        vtag_fail(&err, VTAG_ERR_FORMAT, "%s: no video in split \"%s\"", a.labels, vtag_data_split_name(a.split));
        goto done;
    }
    if ((rc = vtag_backbone_open(&bb, a.backbone, &a.bo, &err))) goto done;
    const vtag_backbone_info *info = vtag_backbone_get_info(bb);
    const int64_t S = info->size, B = info->max_batch, img = 3 * S * S;
    r.d_fc = info->d_fc;
    r.katt = a.no_att ? 0 : info->k_att * info->d_att;
    images = malloc((size_t)(B * img) * sizeof(float));
    if (!images) {
        vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory for a batch of %lld frames", (long long)B);
        goto done;
    }
    p.labels = &labels, p.entries = entries, p.n_entries = n_entries, p.smp = &a.smp, p.size = S;
    if (pthread_create(&tid, NULL, decoder_main, &p) != 0) {
        vtag_fail(&err, VTAG_ERR_NOMEM, "cannot start the decoder thread");
        goto done;
    }
    started = 1;
    progress pg = {isatty(2), a.quiet, cli_seconds(), cli_seconds()};
    for (int64_t i = 0; i < n_entries; i++) {
        pthread_mutex_lock(&p.mu);
        while (p.produced <= i) pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        decoded *d = &p.ring[i % RING];
        const vtag_data_entry *en = &labels.entries[d->entry];
        if (d->rc) {
            if (!a.skip_bad) {
                vtag_fail(&err, d->rc, "%s (%s:%lld)", d->err.msg, a.labels, (long long)en->line);
                goto done;
            }
            cli_error(CMD, "skipped: %s (%s:%lld)", d->err.msg, a.labels, (long long)en->line);
            bad++;
        } else if (rows_reserve(&r, d->n)) {
            vtag_fail(&err, VTAG_ERR_NOMEM, "out of memory for %lld feature rows", (long long)(r.n + d->n));
            goto done;
        } else {
            for (int64_t b0 = 0; b0 < d->n; b0 += B) {
                const int64_t nb = b0 + B <= d->n ? B : d->n - b0;
                for (int64_t j = 0; j < nb; j++)
                    vtag_video_normalize(d->rgb + (size_t)(b0 + j) * (size_t)(S * S * 3), S, info->mean, info->std,
                                         images + j * img);
                if ((rc = vtag_backbone_run(bb, &ctx, images, nb, r.fc + (r.n + b0) * r.d_fc,
                                            r.katt ? r.att + (r.n + b0) * r.katt : NULL, &err))) {
                    vtag_fail(&err, rc, "%s: %s", en->video, err.msg);
                    goto done;
                }
            }
            for (int64_t j = 0; j < d->n; j++) r.items[r.n + j] = en->video;
            r.n += d->n;
        }
        pthread_mutex_lock(&p.mu);
        p.consumed++;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        show(&pg, i + 1, n_entries, r.n, 0);
    }
    show(&pg, n_entries, n_entries, r.n, 1);
    if (r.n == 0) {
        vtag_fail(&err, VTAG_ERR_FORMAT, "%s: no frame of any video could be decoded", a.labels);
        goto done;
    }
    vtag_data_features f = {0};
    f.n = r.n;
    f.fc_dim = r.d_fc;
    f.fc = r.fc;
    if (r.katt) f.att_k = info->k_att, f.att_dim = info->d_att, f.att = r.att;
    f.items = r.items;
    f.backbone = info->description;
    if ((rc = vtag_data_write_features(&f, a.out, &err))) goto done;
    const double dt = cli_seconds() - pg.t0;
    if (!a.quiet)
        cli_note("features", "%lld rows of %lld videos%s (%lld skipped) -> %s in %.1f s (%.1f frames/s)", (long long)r.n,
                 (long long)(n_entries - bad), "", (long long)bad, a.out, dt, dt > 0 ? (double)r.n / dt : 0.0);
    status = CLI_EXIT_OK;
done:
    if (started) {
        /* Stop the decoder (it may be waiting for a free slot) and wait until it has left the ring. */
        pthread_mutex_lock(&p.mu);
        p.stop = 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        pthread_join(tid, NULL);
    }
    for (int i = 0; i < RING; i++) free(p.ring[i].rgb);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (status != CLI_EXIT_OK && err.msg[0]) cli_error(CMD, "%s", err.msg);
    free(images);
    free(entries);
    free(r.fc), free(r.att), free(r.items);
    vtag_backbone_close(&bb);
    vtag_data_free_labels(&labels);
    vtag_ctx_free(&ctx);
    return status;
}

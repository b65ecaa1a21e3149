/* vtag train: cross-entropy training of a caption model on precomputed
 * features, with validation CIDEr-D, the best checkpoint kept, a JSON line
 * per epoch, and --resume from the state saved after every epoch. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vtag/caption.h"
#include "vtag/data.h"
#include "vtag/scst.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag train --labels L --feats F --model fc|att2in|topdown --out M.safetensors [options]\n"
            "\n"
            "Trains a caption model with cross-entropy (teacher forcing) on the feature rows of\n"
            "F whose video is in the training split of L; each row's target is its video's\n"
            "caption (class1 class2 tags...). Writes M.safetensors (the best checkpoint by\n"
            "validation CIDEr-D when --val-feats is given, else the last) and M.state.safetensors\n"
            "(weights, Adam moments, RNG, epoch: what --resume continues from).\n"
            "\n"
            "data:\n"
            "  --labels FILE          labels file (JSON Lines or CSV, docs/FORMATS.md)\n"
            "  --feats FILE           training features (safetensors: fc, att, vtag.items)\n"
            "  --val-feats FILE       validation features (rows of 'val' videos): greedy captions\n"
            "                         and their CIDEr-D after every epoch\n"
            "  --max-length N         caption length cut (16)\n"
            "  --keep-tag-order       keep each video's tag order (default: by frequency)\n"
            "model:\n"
            "  --model NAME           fc | att2in | topdown\n"
            "  --input-encoding-size E, --rnn-size R, --att-hid-size A   (512 each)\n"
            "  --dropout P            drop_prob_lm (0.5)\n"
            "optimisation:\n"
            "  --epochs N             (30)       --batch B        captions per step (50)\n"
            "  --lr X                 (5e-4)     --lr-decay X     factor (0.8)\n"
            "  --lr-decay-every N     epochs (3) --lr-decay-start N  first decayed epoch (0; -1 off)\n"
            "  --grad-clip X          clip gradient elements to +-X (0.1; 0 off)\n"
            "  --seed S               (42)       --threads T      (number of cores)\n"
            "output:\n"
            "  --out FILE             checkpoint to write (required)\n"
            "  --log FILE             append the per-epoch JSON lines here too\n"
            "  --resume               continue from FILE's .state.safetensors if present\n"
            "self-critical sequence training (SCST, reward CIDEr-D):\n"
            "  --scst-after E         E epochs of XE, then SCST up to --epochs\n"
            "  --init M --scst        start from checkpoint M (its sizes and vocabulary), SCST only\n"
            "  --sample-n N           samples per image (5)\n"
            "  --baseline greedy|mean greedy caption's reward (default), or the mean of the other\n"
            "                         samples (\"new self-critical\", needs --sample-n >= 2)\n"
            "  --cider-weight X       reward = X * CIDEr-D ... (1)\n"
            "  --bleu-weight Y        ... + Y * sentence BLEU-4 (0)\n"
            "  --scst-lr X            SCST learning rate, no decay (5e-5; with --scst, --lr sets it)\n"
            "  --scst-batch B         images per SCST step (10)\n"
            "\n"
            "Every epoch prints one JSON line to stderr: epoch, phase (xe|scst), loss, lr,\n"
            "val_cider_d, seconds, tokens_per_s, best; SCST epochs add reward, advantage and\n"
            "greedy_cider_d (the mean over the training batches). A loss or gradient that turns\n"
            "nan or inf stops training (\"diverged\"): the epoch is not saved or logged, M and its\n"
            "state stay those of the last good epoch. An output that is one of the inputs is\n"
            "refused. Exit codes: 0 done, 1 bad input, I/O error or divergence, 2 usage.\n");
}

typedef struct train_args {
    const char *labels, *feats, *val_feats, *out, *log;
    vtag_model_config cfg;
    vtag_data_caption_opts cap;
    vtag_xe_opts xe;
    int epochs, threads, resume;
    uint64_t seed;
    /* SCST */
    const char *init;
    int scst, scst_after, lr_given, scst_lr_given;
    vtag_scst_opts so;
} train_args;

enum {
    OPT_VAL = 256, OPT_MAXLEN, OPT_KEEP, OPT_E, OPT_R, OPT_A, OPT_DROP, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_DECAY,
    OPT_EVERY, OPT_START, OPT_CLIP, OPT_SEED, OPT_THREADS, OPT_LOG, OPT_RESUME, OPT_HELP, OPT_SCST_AFTER, OPT_INIT,
    OPT_SCST, OPT_SAMPLE_N, OPT_BASELINE, OPT_CIDER_W, OPT_BLEU_W, OPT_SCST_LR, OPT_SCST_BATCH,
};

static int parse(int argc, char **argv, train_args *a)
{
    static const struct option opts[] = {
        {"labels", required_argument, 0, 'l'},
        {"feats", required_argument, 0, 'f'},
        {"val-feats", required_argument, 0, OPT_VAL},
        {"model", required_argument, 0, 'm'},
        {"out", required_argument, 0, 'o'},
        {"max-length", required_argument, 0, OPT_MAXLEN},
        {"keep-tag-order", no_argument, 0, OPT_KEEP},
        {"input-encoding-size", required_argument, 0, OPT_E},
        {"rnn-size", required_argument, 0, OPT_R},
        {"att-hid-size", required_argument, 0, OPT_A},
        {"dropout", required_argument, 0, OPT_DROP},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"batch", required_argument, 0, OPT_BATCH},
        {"lr", required_argument, 0, OPT_LR},
        {"lr-decay", required_argument, 0, OPT_DECAY},
        {"lr-decay-every", required_argument, 0, OPT_EVERY},
        {"lr-decay-start", required_argument, 0, OPT_START},
        {"grad-clip", required_argument, 0, OPT_CLIP},
        {"seed", required_argument, 0, OPT_SEED},
        {"threads", required_argument, 0, OPT_THREADS},
        {"log", required_argument, 0, OPT_LOG},
        {"resume", no_argument, 0, OPT_RESUME},
        {"scst-after", required_argument, 0, OPT_SCST_AFTER},
        {"init", required_argument, 0, OPT_INIT},
        {"scst", no_argument, 0, OPT_SCST},
        {"sample-n", required_argument, 0, OPT_SAMPLE_N},
        {"baseline", required_argument, 0, OPT_BASELINE},
        {"cider-weight", required_argument, 0, OPT_CIDER_W},
        {"bleu-weight", required_argument, 0, OPT_BLEU_W},
        {"scst-lr", required_argument, 0, OPT_SCST_LR},
        {"scst-batch", required_argument, 0, OPT_SCST_BATCH},
        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    vtag_model_config_defaults(&a->cfg);
    vtag_data_caption_opts_default(&a->cap);
    vtag_xe_opts_defaults(&a->xe);
    a->epochs = 30;
    a->seed = 42;
    a->scst_after = -1;
    vtag_scst_opts_defaults(&a->so);
    int have_model = 0, c;
    long v;
    double d;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->labels = optarg; break;
        case 'f': a->feats = optarg; break;
        case OPT_VAL: a->val_feats = optarg; break;
        case 'o': a->out = optarg; break;
        case OPT_LOG: a->log = optarg; break;
        case OPT_RESUME: a->resume = 1; break;
        case OPT_KEEP: a->cap.keep_tag_order = 1; break;
        case 'm':
            if (vtag_model_type_parse(optarg, &a->cfg.type)) {
                cli_error("train", "--model must be fc, att2in or topdown, not '%s'", optarg);
                return -1;
            }
            have_model = 1;
            break;
        case OPT_MAXLEN:
            if (cli_parse_int("train", "--max-length", optarg, 1, 1000, &v)) return -1;
            a->cfg.max_length = a->cap.max_length = v;
            break;
        case OPT_E:
        case OPT_R:
        case OPT_A:
            if (cli_parse_int("train", "--*-size", optarg, 1, 1 << 16, &v)) return -1;
            *(c == OPT_E ? &a->cfg.input_encoding_size : c == OPT_R ? &a->cfg.rnn_size : &a->cfg.att_hid_size) = v;
            break;
        case OPT_DROP:
            if (cli_parse_real("train", "--dropout", optarg, 0, 1, CLI_OPEN_HI | CLI_AS_FLOAT, &d)) return -1;
            a->cfg.drop_prob_lm = (float)d;
            break;
        case OPT_EPOCHS:
            if (cli_parse_int("train", "--epochs", optarg, 0, 1000000, &v)) return -1;
            a->epochs = (int)v;
            break;
        case OPT_BATCH:
            if (cli_parse_int("train", "--batch", optarg, 1, 1 << 20, &v)) return -1;
            a->xe.batch_size = (int)v;
            break;
        /* lr > 0 with no upper bound: a run that diverges is stopped (and says so), and a
         * learning rate of 0 trains nothing; the decay factor is in (0, 1]; clip >= 0 (0: off). */
        case OPT_LR:
            if (cli_parse_real("train", "--lr", optarg, 0, CLI_FLOAT_MAX, CLI_OPEN_LO | CLI_AS_FLOAT, &d)) return -1;
            a->xe.lr = (float)d;
            a->lr_given = 1;
            break;
        case OPT_DECAY:
            if (cli_parse_real("train", "--lr-decay", optarg, 0, 1, CLI_OPEN_LO | CLI_AS_FLOAT, &d)) return -1;
            a->xe.lr_decay = (float)d;
            break;
        case OPT_CLIP:
            if (cli_parse_real("train", "--grad-clip", optarg, 0, CLI_FLOAT_MAX, CLI_AS_FLOAT, &d)) return -1;
            a->xe.grad_clip = (float)d;
            break;
        case OPT_EVERY:
        case OPT_START:
            if (cli_parse_int("train", c == OPT_EVERY ? "--lr-decay-every" : "--lr-decay-start", optarg, -1, 1000000, &v))
                return -1;
            *(c == OPT_EVERY ? &a->xe.lr_decay_every : &a->xe.lr_decay_start) = (int)v;
            break;
        case OPT_SEED:
            if (cli_parse_int("train", "--seed", optarg, 0, 0x7fffffffL, &v)) return -1;
            a->seed = (uint64_t)v;
            break;
        case OPT_THREADS:
            if (cli_parse_int("train", "--threads", optarg, 1, 1024, &v)) return -1;
            a->threads = (int)v;
            break;
        case OPT_SCST_AFTER:
            if (cli_parse_int("train", "--scst-after", optarg, 0, 1000000, &v)) return -1;
            a->scst_after = (int)v;
            break;
        case OPT_INIT: a->init = optarg; break;
        case OPT_SCST: a->scst = 1; break;
        case OPT_SAMPLE_N:
            if (cli_parse_int("train", "--sample-n", optarg, 1, 1000, &v)) return -1;
            a->so.sample_n = (int)v;
            break;
        case OPT_SCST_BATCH:
            if (cli_parse_int("train", "--scst-batch", optarg, 1, 1 << 20, &v)) return -1;
            a->so.batch_size = (int)v;
            break;
        case OPT_BASELINE:
            if (strcmp(optarg, "greedy") == 0) a->so.baseline = VTAG_SCST_BASELINE_GREEDY;
            else if (strcmp(optarg, "mean") == 0) a->so.baseline = VTAG_SCST_BASELINE_MEAN;
            else {
                cli_error("train", "--baseline must be greedy or mean, not '%s'", optarg);
                return -1;
            }
            break;
        case OPT_CIDER_W:
        case OPT_BLEU_W:
            if (cli_parse_real("train", c == OPT_CIDER_W ? "--cider-weight" : "--bleu-weight", optarg, 0, CLI_FLOAT_MAX,
                               CLI_CLOSED, &d))
                return -1;
            *(c == OPT_CIDER_W ? &a->so.cider_weight : &a->so.bleu_weight) = d;
            break;
        case OPT_SCST_LR:
            if (cli_parse_real("train", "--scst-lr", optarg, 0, CLI_FLOAT_MAX, CLI_OPEN_LO | CLI_AS_FLOAT, &d)) return -1;
            a->so.lr = (float)d;
            a->scst_lr_given = 1;
            break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        cli_error("train", "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (a->init && !a->scst) {
        cli_error("train", "--init starts SCST from a checkpoint: add --scst");
        return -1;
    }
    if (a->scst && !a->init) {
        cli_error("train", "--scst needs --init M.safetensors (an XE checkpoint); or use --scst-after E");
        return -1;
    }
    if (a->scst && a->scst_after >= 0) {
        cli_error("train", "--scst and --scst-after exclude each other");
        return -1;
    }
    if (a->scst) {
        a->scst_after = 0;
        if (a->lr_given && !a->scst_lr_given) a->so.lr = a->xe.lr;
    }
    a->so.grad_clip = a->xe.grad_clip;
    if (!a->labels || !a->feats || !a->out || (!have_model && !a->init)) {
        cli_error("train", "--labels, --feats, --model (or --init) and --out are required (vtag train --help)");
        return -1;
    }
    if (a->scst_after >= 0) {
        vtag_error e = {0};
        if (vtag_scst_check_opts(&a->so, &e)) {
            cli_error("train", "%s", e.msg);
            return -1;
        }
    }
    return 0;
}

/* Everything loaded before training starts; freed by data_free. */
typedef struct train_data {
    vtag_data_labels labels;
    vtag_data_captions caps;
    vtag_data_vocab vocab;
    vtag_data_features feats, val_feats;
    vtag_data_set train, val;
    int have_val;
    char *vocab_json;
    vtag_rows rows, val_rows; /* every row of each set, contiguous (owned) */
    /* SCST: each training video's reference with EOS, and the df over them */
    int32_t *ref_ids;
    vtag_metrics_seq *refs;
    const vtag_metrics_seq **row_refs;
    int64_t *row_nrefs;
    vtag_metrics_df df;
    vtag_metrics_df val_df; /* validation CIDEr-D: df of the training references */
} train_data;

static void data_free(train_data *d)
{
    vtag_data_free_set(&d->val);
    vtag_data_free_set(&d->train);
    vtag_data_free_features(&d->val_feats);
    vtag_data_free_features(&d->feats);
    vtag_data_free_vocab(&d->vocab);
    vtag_data_free_captions(&d->caps);
    vtag_data_free_labels(&d->labels);
    free(d->vocab_json);
    free((float *)d->rows.fc);
    free((float *)d->rows.att);
    free((int32_t *)d->rows.labels);
    free((float *)d->val_rows.fc);
    free((float *)d->val_rows.att);
    free(d->ref_ids);
    free(d->refs);
    free(d->row_refs);
    free(d->row_nrefs);
    vtag_metrics_df_free(&d->df);
    vtag_metrics_df_free(&d->val_df);
}

/* SCST references: every training video's caption followed by EOS (id 0,
 * unless the caption is max_length long), and their document frequencies. */
static int build_scst_refs(train_data *d, int64_t L, vtag_error *err)
{
    const vtag_data_set *s = &d->train;
    d->ref_ids = malloc((size_t)(s->n_videos * (L + 1)) * sizeof(int32_t));
    d->refs = malloc((size_t)s->n_videos * sizeof *d->refs);
    d->row_refs = malloc((size_t)s->n_rows * sizeof *d->row_refs);
    d->row_nrefs = malloc((size_t)s->n_rows * sizeof *d->row_nrefs);
    if (!d->ref_ids || !d->refs || !d->row_refs || !d->row_nrefs) return vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory");
    int rc = VTAG_OK;
    for (int64_t v = 0; v < s->n_videos && !rc; v++) {
        int32_t *dst = d->ref_ids + v * (L + 1);
        int64_t n = s->refs[v].len;
        memcpy(dst, s->refs[v].ids, (size_t)n * sizeof(int32_t));
        if (n < L) dst[n++] = 0;
        d->refs[v] = (vtag_metrics_seq){dst, n};
        rc = vtag_metrics_df_add(&d->df, &d->refs[v], 1, err);
    }
    if (!rc) rc = vtag_metrics_df_finish(&d->df, err);
    for (int64_t r = 0; r < s->n_rows; r++) {
        d->row_refs[r] = &d->refs[s->row_video[r]];
        d->row_nrefs[r] = 1;
    }
    return rc;
}

/* Every row of a set, gathered into new contiguous arrays (captions too if
 * `labels`); the caller frees them. */
static int gather_all(const vtag_data_set *s, const vtag_data_features *f, int64_t L, int labels, vtag_rows *out,
                      vtag_error *err)
{
    const int64_t n = s->n_rows;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *fc = f->fc ? malloc((size_t)(n * f->fc_dim) * sizeof(float)) : NULL;
    float *att = f->att ? malloc((size_t)(n * f->att_k * f->att_dim) * sizeof(float)) : NULL;
    int32_t *cap = labels ? malloc((size_t)(n * L) * sizeof(int32_t)) : NULL;
    *out = (vtag_rows){n, f->att_k, fc, att, cap};
    if (!idx || (f->fc && !fc) || (f->att && !att) || (labels && !cap)) {
        free(idx);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for %lld rows", f->path, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    vtag_batch bt;
    int rc = vtag_data_gather_batch(s, idx, n, fc, att, cap, &bt, err);
    free(idx);
    return rc;
}

/* init_vocab: the vocabulary of the --init checkpoint (NULL: built from the labels). */
static int load_data(const train_args *a, const char *init_vocab, train_data *d, vtag_rows *rows, vtag_error *err)
{
    vtag_metrics_df_init(&d->df);
    vtag_metrics_df_init(&d->val_df);
    int rc = vtag_data_read_labels(&d->labels, a->labels, NULL, err);
    if (!rc) rc = vtag_data_make_captions(&d->caps, &d->labels, &a->cap, err);
    if (!rc && init_vocab) rc = vtag_data_decode_vocab(&d->vocab, init_vocab, a->init, err);
    else if (!rc) rc = vtag_data_build_vocab(&d->vocab, &d->labels, &d->caps, &a->cap, err);
    if (!rc && d->vocab.size == 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no training videos (split \"train\")", a->labels);
    if (!rc) rc = vtag_data_encode_vocab(&d->vocab, &d->vocab_json, err);
    if (!rc) rc = vtag_data_read_features(&d->feats, a->feats, err);
    if (!rc) rc = vtag_data_build_set(&d->train, &d->labels, &d->caps, &d->vocab, &d->feats, VTAG_DATA_SPLIT_TRAIN, &a->cap, err);
    if (!rc && d->train.n_rows == 0)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no row belongs to a training video of %s", a->feats, a->labels);
    if (!rc && a->val_feats) {
        rc = vtag_data_read_features(&d->val_feats, a->val_feats, err);
        if (!rc) rc = vtag_data_build_set(&d->val, &d->labels, &d->caps, &d->vocab, &d->val_feats, VTAG_DATA_SPLIT_VAL, &a->cap, err);
        if (!rc && d->val.n_rows == 0)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no row belongs to a validation video of %s", a->val_feats, a->labels);
        if (!rc && (d->val_feats.fc_dim != d->feats.fc_dim || d->val_feats.att_dim != d->feats.att_dim ||
                    d->val_feats.att_k != d->feats.att_k))
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: feature sizes differ from %s", a->val_feats, a->feats);
        d->have_val = rc == 0;
    }
    if (rc) return rc;
    /* Gather each set's rows once into contiguous arrays. */
    const vtag_data_set *s = &d->train;
    const int64_t L = a->cfg.max_length;
    rc = gather_all(s, &d->feats, L, 1, &d->rows, err);
    if (!rc && d->have_val) rc = gather_all(&d->val, &d->val_feats, L, 0, &d->val_rows, err);
    *rows = d->rows;
    if (!rc && a->scst_after >= 0 && a->scst_after < a->epochs) rc = build_scst_refs(d, L, err);
    for (int64_t v = 0; v < s->n_videos && !rc && d->have_val; v++) rc = vtag_metrics_df_add(&d->val_df, &s->refs[v], 1, err);
    if (!rc && d->have_val) rc = vtag_metrics_df_finish(&d->val_df, err);
    return rc;
}

/* Greedy captions of every validation row, scored with CIDEr-D against the
 * row's video caption. Document frequencies come from the training
 * references (computed once): a validation set of a few videos gives idf
 * values too coarse to rank epochs, and SCST's reward uses the same corpus. */
static int validate(vtag_ctx *ctx, vtag_model *m, const train_data *d, int batch, double *score, vtag_error *err)
{
    const vtag_data_set *s = &d->val;
    const int64_t n = s->n_rows, L = m->cfg.max_length;
    int32_t *seq = malloc((size_t)(n * L) * sizeof(int32_t)), *len = malloc((size_t)n * sizeof(int32_t));
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    int rc = VTAG_OK;
    if (!seq || !len) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "validation: out of memory");
        goto done;
    }
    vtag_decode_opts greedy = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
    if ((rc = vtag_caption_rows(ctx, m, &d->val_rows, &greedy, batch, seq, NULL, len, err))) goto done;
    double sum = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        double c = 0;
        vtag_metrics_seq cand = {seq + i * L, len[i]};
        rc = vtag_metrics_cider_d(&d->val_df, &w, cand, &s->refs[s->row_video[i]], 1, &c, err);
        sum += c;
    }
    *score = n ? sum / (double)n : 0.0;
done:
    vtag_metrics_work_free(&w);
    free(seq), free(len);
    return rc;
}

typedef struct progress {
    int tty, epoch, epochs;
} progress;

static void show_progress(void *user, int64_t done, int64_t total, double loss)
{
    const progress *p = user;
    if (!p->tty) return;
    int width = 30, fill = (int)(width * done / (total ? total : 1));
    fprintf(stderr, "\repoch %d/%d [%.*s%*s] %lld/%lld rows  loss %.4f ", p->epoch + 1, p->epochs, fill,
            "##############################", width - fill, "", (long long)done, (long long)total, loss);
    fflush(stderr);
}

/* vtag pipeline checks its training stages' options before the first stage runs,
 * with this command's own parser. */
int cmd_train_check(int argc, char **argv)
{
    train_args a;
    return parse(argc, argv, &a) == 0 ? 0 : -1;
}

/* An output (the checkpoint, its state, the log) that is one of the inputs
 * would destroy it: refused before anything is read. */
static int check_files(const train_args *a, const char *spath)
{
    const cli_file ins[] = {{"--labels", a->labels}, {"--feats", a->feats}, {"--val-feats", a->val_feats},
                            {"--init", a->init}};
    const cli_file outs[] = {{"--out", a->out}, {"the state file", spath}, {"--log", a->log}};
    return cli_check_outputs("train", outs, 3, ins, 4, 0);
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    vtag_error err = {0};
    train_data d;
    memset(&d, 0, sizeof d);
    vtag_rows rows;
    vtag_ctx ctx;
    vtag_model m;
    memset(&m, 0, sizeof m);
    char *spath = cli_state_path(a.out);
    int clash = check_files(&a, spath);
    if (clash) {
        free(spath);
        return clash;
    }
    FILE *log = NULL;
    int status = CLI_EXIT_FAIL, rc;
    char *init_vocab = NULL;
    if ((rc = vtag_ctx_init(&ctx, a.threads, a.seed, &err))) goto fail;
    if (a.init) {
        /* SCST from an XE checkpoint: its sizes and vocabulary rule. */
        if ((rc = vtag_checkpoint_load(&m, &init_vocab, a.init, &err))) goto fail;
        a.cfg = m.cfg;
        a.cap.max_length = m.cfg.max_length;
    }
    rc = load_data(&a, init_vocab, &d, &rows, &err);
    free(init_vocab);
    if (rc) goto fail;
    if (a.init) {
        if ((m.cfg.type != VTAG_MODEL_ATT2IN && d.feats.fc_dim != m.cfg.fc_feat_size) ||
            (m.cfg.type != VTAG_MODEL_FC && d.feats.att_dim != m.cfg.att_feat_size)) {
            vtag_fail(&err, VTAG_ERR_FORMAT, "%s: feature sizes differ from those %s was trained on", a.feats, a.init);
            goto fail;
        }
    } else {
        a.cfg.vocab_size = d.vocab.size;
        a.cfg.fc_feat_size = d.feats.fc_dim;
        a.cfg.att_feat_size = d.feats.att_dim;
        vtag_error e2 = {0};
        if ((rc = vtag_model_init(&m, &a.cfg, &e2))) {
            vtag_fail(&err, rc, "%s: %s", a.feats, e2.msg);
            goto fail;
        }
        vtag_model_init_weights(&m, &ctx.rng);
    }
    vtag_train_state st = {0};
    vtag_adam_init(&st.adam);
    st.best_score = -1;
    st.best_epoch = -1;
    if (a.resume && access(spath, F_OK) == 0) {
        if ((rc = vtag_train_state_load(&m, &st, spath, &err))) goto fail;
        if (st.epoch > a.epochs) {
            vtag_fail(&err, VTAG_ERR_FORMAT, "%s: vtag.train_state: epoch %d is past this run's --epochs %d", spath,
                      st.epoch, a.epochs);
            goto fail;
        }
        ctx.rng.state = st.rng_state;
        cli_note("train", "resuming from %s after epoch %d", spath, st.epoch);
    } else if (a.resume) {
        cli_note("train", "%s not found, starting from scratch", spath);
    }
    if (a.log && !(log = fopen(a.log, "a"))) {
        vtag_fail(&err, VTAG_ERR_IO, "%s: cannot open the log", a.log);
        goto fail;
    }
    progress prog = {isatty(2), 0, a.epochs};
    for (int epoch = st.epoch; epoch < a.epochs; epoch++) {
        prog.epoch = epoch;
        double t0 = cli_seconds();
        vtag_epoch_stats es = {0};
        vtag_scst_stats ss = {0};
        const int scst = a.scst_after >= 0 && epoch >= a.scst_after;
        if (scst) {
            es.tokens = 0;
            rc = vtag_train_scst_epoch(&ctx, &m, &st.adam, &rows, d.row_refs, d.row_nrefs, &d.df, &a.so, &ss,
                                       show_progress, &prog, &err);
            es.loss = ss.loss;
            es.tokens = rows.n * a.so.sample_n; /* captions sampled */
        } else {
            rc = vtag_train_xe_epoch(&ctx, &m, &st.adam, &rows, &a.xe, epoch, &es, show_progress, &prog, &err);
        }
        if (rc) {
            if (prog.tty) fputs("\r\033[K", stderr);
            /* nothing of this epoch is saved or logged: the checkpoint and the state are the last good ones */
            if (rc == VTAG_ERR_DIVERGED) cli_diverged(&err, scst ? "SCST epoch" : "XE epoch", epoch, a.out);
            goto fail;
        }
        double dt = cli_seconds() - t0;
        if (prog.tty) fputs("\r\033[K", stderr);
        double score = NAN;
        int best = 0;
        if (d.have_val) {
            /* Validation must not disturb the training RNG stream. */
            vtag_rng saved = ctx.rng;
            if ((rc = validate(&ctx, &m, &d, a.xe.batch_size, &score, &err))) goto fail;
            ctx.rng = saved;
            best = score > st.best_score;
        } else {
            best = 1;
        }
        st.epoch = epoch + 1;
        if (best) {
            st.best_score = d.have_val ? score : st.best_score;
            st.best_epoch = epoch;
            if ((rc = vtag_checkpoint_save(&m, d.vocab_json, a.out, &err))) goto fail;
        }
        st.rng_state = ctx.rng.state;
        if ((rc = vtag_train_state_save(&m, &st, d.vocab_json, spath, &err))) goto fail;
        float lr = scst ? a.so.lr : vtag_lr_step_decay(a.xe.lr, epoch, a.xe.lr_decay_start, a.xe.lr_decay_every, a.xe.lr_decay);
        char line[768], val[64], extra[256] = "", greedy[64];
        if (isnan(score)) snprintf(val, sizeof val, "null");
        else snprintf(val, sizeof val, "%.6f", score);
        if (scst) {
            if (isnan(ss.greedy)) snprintf(greedy, sizeof greedy, "null");
            else snprintf(greedy, sizeof greedy, "%.6f", ss.greedy);
            snprintf(extra, sizeof extra, ", \"reward\": %.6f, \"advantage\": %.6f, \"greedy_cider_d\": %s", ss.reward,
                     ss.advantage, greedy);
        }
        snprintf(line, sizeof line,
                 "{\"epoch\": %d, \"phase\": \"%s\", \"loss\": %.6f, \"lr\": %.3g, \"val_cider_d\": %s, \"seconds\": %.3f, "
                 "\"%s\": %.1f, \"best\": %s%s}",
                 epoch + 1, scst ? "scst" : "xe", es.loss, (double)lr, val, dt, scst ? "captions_per_s" : "tokens_per_s",
                 dt > 0 ? (double)es.tokens / dt : 0.0, best ? "true" : "false", extra);
        fprintf(stderr, "%s\n", line);
        if (log && (rc = cli_write_line(log, a.log, line, &err))) goto fail;
    }
    status = CLI_EXIT_OK;
fail:
    /* the log's last lines may only reach the disk at fclose */
    if (cli_close_file(log, a.log, status == CLI_EXIT_OK ? &err : NULL) && status == CLI_EXIT_OK) status = CLI_EXIT_FAIL;
    if (status != CLI_EXIT_OK) cli_error("train", "%s", err.msg);
    free(spath);
    vtag_model_free(&m);
    data_free(&d);
    vtag_ctx_free(&ctx);
    return status;
}

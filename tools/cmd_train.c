/* vtag train: the options into vtag_trainer_opts, the trainer run
 * (include/vtag/trainer.h), its progress, epoch records and errors printed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/trainer.h"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag train --labels L --feats F --model fc|att2in|topdown [--video] --out M [options]\n"
            "\n"
            "Trains a caption model with cross-entropy (teacher forcing) on the feature rows of\n"
            "F whose video is in the training split of L; each row's target is its video's\n"
            "caption (class1 class2 tags...). Writes M.safetensors (the best checkpoint by\n"
            "validation CIDEr-D when --val-feats is given, else the last) and M.state.safetensors\n"
            "(weights, Adam moments, RNG, epoch: what --resume continues from).\n"
            "\n"
            "data:\n"
            "  -l, --labels FILE      labels file (JSON Lines or CSV, docs/FORMATS.md)\n"
            "  --feats FILE           training features (safetensors: fc, att, vtag.items)\n"
            "  --val-feats FILE       validation features (rows of 'val' videos): greedy captions\n"
            "                         and their CIDEr-D after every epoch\n"
            "  --max-length N         caption length cut (16)\n"
            "  --keep-tag-order       keep each video's tag order (default: by frequency)\n"
            "model:\n"
            "  -m, --model NAME       fc | att2in | topdown              --dropout P  drop_prob_lm (0.5)\n"
            "  --video                one caption per video: att2in/topdown over its frames' fc vectors\n"
            "  --input-encoding-size E, --rnn-size R, --att-hid-size A   (512 each)\n"
            "optimisation:\n"
            "  --epochs N             (30)       --batch B        captions per step (50)\n"
            "  --lr X                 (5e-4)     --lr-decay X     factor (0.8)\n"
            "  --lr-decay-every N     epochs (3) --lr-decay-start N  first decayed epoch (0; -1 off)\n"
            "  --grad-clip X          clip gradient elements to +-X (0.1; 0 off)\n"
            "  --seed S               (42)       -j, --threads T  (cores; under mpirun: shared out)\n"
            "  --micro-batches M      sum each step over M micro-batches in a fixed order (a power of\n"
            "                         two; 1, or the ranks under mpirun): the same weights for any -np\n"
            "output:\n"
            "  -o, --out FILE         checkpoint to write (required)   (-h, --help: this help)\n"
            "  --log FILE             append the per-epoch JSON lines here too (--step-log FILE: per step)\n"
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
            "refused. Under mpirun -np N each rank takes M/N micro-batches of every step; rank 0\n"
            "validates and writes. Exit codes: 0 done, 1 bad input, I/O error or divergence, 2 usage.\n");
}

typedef struct train_args {
    vtag_trainer_opts o;
    int scst, have_model, lr_given, scst_lr_given;
} train_args;

/* An option: its kind (s string, b flag, i int, l int64, u seed, r real: a float
 * with CLI_AS_FLOAT, else a double; m model, B baseline, h help), range, flags,
 * where it goes and what it sets to 1 when given. */
typedef struct spec {
    const char *name;
    char kind;
    double lo, hi;
    int flags;
    void *dst;
    int *given;
} spec;

/* One given option; 0, 1 for --help, -1 after the message. */
static int take(const spec *s, const char *arg)
{
    char name[64]; /* the three sizes share one name in messages */
    snprintf(name, sizeof name, "--%s", strstr(s->name, "-size") ? "*-size" : s->name);
    long v = 0;
    double d = 0;
    if (s->given) *s->given = 1;
    switch (s->kind) {
    case 's': *(const char **)s->dst = arg; return 0;
    case 'b': *(int *)s->dst = 1; return 0;
    case 'h': help(stdout); return 1;
    case 'm':
        if (!vtag_model_type_parse(arg, s->dst)) return 0;
        return cli_error("train", "--model must be fc, att2in or topdown, not '%s'", arg), -1;
    case 'B':
        if (strcmp(arg, "greedy") && strcmp(arg, "mean"))
            return cli_error("train", "--baseline must be greedy or mean, not '%s'", arg), -1;
        *(vtag_scst_baseline *)s->dst = strcmp(arg, "greedy") ? VTAG_SCST_BASELINE_MEAN : VTAG_SCST_BASELINE_GREEDY;
        return 0;
    case 'r':
        if (cli_parse_real("train", name, arg, s->lo, s->hi, s->flags, &d)) return -1;
        if (s->flags & CLI_AS_FLOAT) *(float *)s->dst = (float)d;
        else *(double *)s->dst = d;
        return 0;
    }
    if (cli_parse_int("train", name, arg, (long)s->lo, (long)s->hi, &v)) return -1;
    if (s->kind == 'i') *(int *)s->dst = (int)v;
    else if (s->kind == 'l') *(int64_t *)s->dst = v;
    else *(uint64_t *)s->dst = (uint64_t)v;
    return 0;
}

static int parse(int argc, char **argv, train_args *a)
{
    memset(a, 0, sizeof *a);
    vtag_trainer_opts_defaults(&a->o);
    vtag_trainer_opts *o = &a->o;
    const double F = CLI_FLOAT_MAX, M = 1000000, S = 1 << 16, B = 1 << 20;
    /* In the original table's order (getopt lists ambiguous prefixes in it). lr > 0, unbounded: a run that
     * diverges is stopped (and says so), lr 0 trains nothing; the decay factor is in (0, 1]; clip >= 0 (0: off). */
    const spec s[] = {
        {"labels", 's', .dst = &o->labels}, {"feats", 's', .dst = &o->feats}, {"val-feats", 's', .dst = &o->val_feats},
        {"model", 'm', .dst = &o->cfg.type, .given = &a->have_model}, {"out", 's', .dst = &o->out},
        {"max-length", 'l', 1, 1000, 0, &o->cfg.max_length, 0}, {"keep-tag-order", 'b', .dst = &o->cap.keep_tag_order},
        {"input-encoding-size", 'l', 1, S, 0, &o->cfg.input_encoding_size, 0},
        {"rnn-size", 'l', 1, S, 0, &o->cfg.rnn_size, 0}, {"att-hid-size", 'l', 1, S, 0, &o->cfg.att_hid_size, 0},
        {"dropout", 'r', 0, 1, CLI_OPEN_HI | CLI_AS_FLOAT, &o->cfg.drop_prob_lm, 0},
        {"epochs", 'i', 0, M, 0, &o->epochs, 0}, {"batch", 'i', 1, B, 0, &o->xe.batch_size, 0},
        {"lr", 'r', 0, F, CLI_OPEN_LO | CLI_AS_FLOAT, &o->xe.lr, .given = &a->lr_given},
        {"lr-decay", 'r', 0, 1, CLI_OPEN_LO | CLI_AS_FLOAT, &o->xe.lr_decay, 0},
        {"lr-decay-every", 'i', -1, M, 0, &o->xe.lr_decay_every, 0},
        {"lr-decay-start", 'i', -1, M, 0, &o->xe.lr_decay_start, 0},
        {"grad-clip", 'r', 0, F, CLI_AS_FLOAT, &o->xe.grad_clip, 0}, {"seed", 'u', 0, 0x7fffffffL, 0, &o->seed, 0},
        {"threads", 'i', 1, 1024, 0, &o->threads, 0}, {"log", 's', .dst = &o->log}, {"resume", 'b', .dst = &o->resume},
        {"scst-after", 'i', 0, M, 0, &o->scst_after, 0}, {"init", 's', .dst = &o->init}, {"scst", 'b', .dst = &a->scst},
        {"sample-n", 'i', 1, 1000, 0, &o->scst.sample_n, 0}, {"baseline", 'B', .dst = &o->scst.baseline},
        {"cider-weight", 'r', 0, F, CLI_CLOSED, &o->scst.cider_weight, 0},
        {"bleu-weight", 'r', 0, F, CLI_CLOSED, &o->scst.bleu_weight, 0},
        {"scst-lr", 'r', 0, F, CLI_OPEN_LO | CLI_AS_FLOAT, &o->scst.lr, .given = &a->scst_lr_given},
        {"scst-batch", 'i', 1, B, 0, &o->scst.batch_size, 0}, {"help", 'h', .dst = NULL}, {"video", 'b', .dst = &o->video},
        {"micro-batches", 'i', 1, 1024, 0, &o->micro_batches, 0}, {"step-log", 's', .dst = &o->step_log},
    };
    const int n = (int)(sizeof s / sizeof s[0]);
    struct option opts[sizeof s / sizeof s[0] + 1];
    for (int i = 0; i < n; i++)
        opts[i] = (struct option){s[i].name, strchr("bh", s[i].kind) ? no_argument : required_argument, 0, 256 + i};
    opts[n] = (struct option){0, 0, 0, 0};
    int c, r;
    optind = 0;
    while ((c = cli_getopt("train", argc, argv, opts)) != -1)
        if (c < 256 || (r = take(&s[c - 256], optarg))) return c < 256 ? -1 : r;
    o->cap.max_length = o->cfg.max_length;
    if (optind < argc) return cli_error("train", "unexpected argument '%s'", argv[optind]), -1;
    const char *why = NULL;
    if (o->init && !a->scst) why = "--init starts SCST from a checkpoint: add --scst";
    else if (a->scst && !o->init) why = "--scst needs --init M.safetensors (an XE checkpoint); or use --scst-after E";
    else if (a->scst && o->scst_after >= 0) why = "--scst and --scst-after exclude each other";
    if (why) return cli_error("train", "%s", why), -1;
    if (a->scst) o->scst_after = 0;
    if (a->scst && a->lr_given && !a->scst_lr_given) o->scst.lr = o->xe.lr;
    o->scst.grad_clip = o->xe.grad_clip;
    if (!o->labels || !o->feats || !o->out || (!a->have_model && !o->init))
        why = "--labels, --feats, --model (or --init) and --out are required (vtag train --help)";
    vtag_error e = {0};
    if (!why && o->scst_after >= 0 && vtag_scst_check_opts(&o->scst, &e)) why = e.msg;
    if (!why && vtag_train_shard_check(&(vtag_train_shard){o->micro_batches, 0, 1}, &e)) why = e.msg;
    return why ? cli_error("train", "%s", why), -1 : 0;
}

/* vtag pipeline checks its training stages' options with this parser before the first stage runs. */
int cmd_train_check(int argc, char **argv)
{
    train_args a;
    return parse(argc, argv, &a) == 0 ? 0 : -1;
}

/* What the callbacks print to: the progress; where the run is. */
typedef struct shown {
    int epochs;
    const vtag_trainer_opts *o;
    cli_progress bar;
    cli_where where;
} shown;

static void show_progress(void *user, int epoch, int64_t done, int64_t total, double loss)
{
    shown *p = user;
    (void)loss;
    const int scst = vtag_trainer_is_scst(p->o, epoch);
    cli_where_set(&p->where, epoch + 1, scst, done, total);
    char stage[64];
    snprintf(stage, sizeof stage, "epoch %d/%d (%s)", epoch + 1, p->epochs, scst ? "scst" : "xe");
    cli_progress_show(&p->bar, stage, done, total);
}

/* An epoch's record: one line to stderr (the trainer appends it to --log). */
static int show_record(void *user, const vtag_trainer_record *r, vtag_error *err)
{
    (void)err;
    shown *p = user;
    char line[VTAG_TRAINER_LINE_MAX];
    cli_progress_clear(&p->bar);
    fprintf(stderr, "%s\n", vtag_trainer_format_record(r, line));
    return 0;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    /* An output that is one of the inputs would destroy it: refused before anything is read. */
    char *spath = vtag_train_state_path(a.o.out);
    const cli_file ins[] = {{"--labels", a.o.labels}, {"--feats", a.o.feats}, {"--val-feats", a.o.val_feats},
                            {"--init", a.o.init}};
    const cli_file outs[] = {{"--out", a.o.out}, {"the state file", spath}, {"--log", a.o.log},
                             {"--step-log", a.o.step_log}};
    int status = cli_check_outputs("train", outs, 4, ins, 4, 0);
    free(spath);
    if (status) return status;
    vtag_error err = {0};
    vtag_trainer *t = NULL;
    shown p = {.epochs = a.o.epochs, .o = &a.o, .where.epochs = a.o.epochs};
    if (cli_stop_message("train", &p.where)) return CLI_EXIT_FAIL;
    int rc = vtag_cluster_open(&a.o.cluster, &err);
    const int rank0 = (p.where.rank = vtag_cluster_rank(a.o.cluster)) == 0;
    p.where.ranks = vtag_cluster_size(a.o.cluster);
    cli_progress_start(&p.bar, "train", "rows", !rank0);
    if (!rc) rc = vtag_trainer_open(&t, &a.o, &err);
    if (!rc) {
        if (rank0 && vtag_trainer_resumed(t))
            cli_note("train", "resuming from %s after epoch %d", vtag_trainer_state_file(t),
                     vtag_trainer_state(t)->epoch);
        else if (rank0 && a.o.resume)
            cli_note("train", "%s not found, starting from scratch", vtag_trainer_state_file(t));
        const vtag_trainer_callbacks cb = {show_progress, NULL, show_record, &p};
        rc = vtag_trainer_run(t, &cb, &err);
        cli_progress_clear(&p.bar);
    }
    /* Under mpirun rank 0 prints; a failure all ranks agreed on is its to report, one rank's own ends the job. */
    const int together = vtag_cluster_failed_together(a.o.cluster);
    if (rc && (rank0 || !together)) cli_error("train", "%s", err.msg);
    if (rc && !together) vtag_cluster_abort(a.o.cluster, CLI_EXIT_FAIL);
    vtag_trainer_free(&t);
    vtag_cluster_close(&a.o.cluster);
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

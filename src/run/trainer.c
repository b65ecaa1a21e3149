/* The trainer (include/vtag/trainer.h): the data of a run loaded once, then
 * epochs of XE or SCST, validation, the best checkpoint, the state for a
 * resume and one record per epoch. */
#include "vtag/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtag/captioner.h"
#include "vtag/novelty.h"
#include "vtag/run_eval.h"

struct vtag_trainer {
    vtag_trainer_opts o;      /* cfg and cap as the run uses them (init's sizes) */
    char *state_path;
    vtag_ctx ctx;
    int have_ctx;
    vtag_captioner init;      /* o.init's model and vocabulary */
    vtag_model own;           /* the model without init */
    vtag_model *m;            /* &init.model or &own */
    vtag_data_labels labels;
    vtag_data_captions caps;
    vtag_data_vocab own_vocab;
    const vtag_data_vocab *vocab; /* &init.vocab or &own_vocab */
    char *vocab_json;         /* what the checkpoints hold */
    char *provenance_json;    /* their vtag.provenance, NULL from features without a backbone identity */
    vtag_data_features feats, val_feats;
    vtag_data_set train, val;
    int have_val;
    vtag_rows rows, val_rows; /* every row of each set, contiguous (owned) */
    /* SCST: each training video's reference with EOS, and the df over them */
    int32_t *ref_ids;
    vtag_metrics_seq *refs;
    const vtag_metrics_seq **row_refs;
    int64_t *row_nrefs;
    vtag_metrics_df df;
    vtag_metrics_df val_df;   /* validation CIDEr-D: df of the training references */
    vtag_train_state st;
    int resumed;
    vtag_train_shard shard;   /* micro-batches, this rank of how many */
};

void vtag_trainer_opts_defaults(vtag_trainer_opts *o)
{
    memset(o, 0, sizeof *o);
    vtag_model_config_defaults(&o->cfg);
    vtag_data_caption_opts_default(&o->cap);
    vtag_xe_opts_defaults(&o->xe);
    vtag_scst_opts_defaults(&o->scst);
    o->epochs = 30;
    o->scst_after = -1;
    o->seed = 42;
}

int vtag_trainer_is_scst(const vtag_trainer_opts *o, int epoch)
{
    return o->scst_after >= 0 && epoch >= o->scst_after;
}

/* SCST references: every training video's caption followed by EOS (id 0,
 * unless the caption is max_length long), and their document frequencies. */
static int build_scst_refs(vtag_trainer *t, int64_t L, vtag_error *err)
{
    const vtag_data_set *s = &t->train;
    size_t n_ids;
    if (vtag_mul_size((size_t)s->n_videos, (size_t)(L + 1) * sizeof(int32_t), &n_ids))
        return vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory");
    t->ref_ids = malloc(n_ids);
    t->refs = malloc((size_t)s->n_videos * sizeof *t->refs);
    t->row_refs = malloc((size_t)s->n_rows * sizeof *t->row_refs);
    t->row_nrefs = malloc((size_t)s->n_rows * sizeof *t->row_nrefs);
    if (!t->ref_ids || !t->refs || !t->row_refs || !t->row_nrefs)
        return vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory");
    int rc = VTAG_OK;
    for (int64_t v = 0; v < s->n_videos && !rc; v++) {
        int32_t *dst = t->ref_ids + v * (L + 1);
        int64_t n = s->refs[v].len;
        memcpy(dst, s->refs[v].ids, (size_t)n * sizeof(int32_t));
        if (n < L) dst[n++] = 0;
        t->refs[v] = (vtag_metrics_seq){dst, n};
        rc = vtag_metrics_df_add(&t->df, &t->refs[v], 1, err);
    }
    if (!rc) rc = vtag_metrics_df_finish(&t->df, err);
    for (int64_t r = 0; r < s->n_rows; r++) {
        t->row_refs[r] = &t->refs[s->row_video[r]];
        t->row_nrefs[r] = 1;
    }
    return rc;
}

/* Every row of a set, gathered into new contiguous arrays (captions too if
 * `labels`). */
static int gather_all(const vtag_data_set *s, const vtag_data_features *f, int64_t L, int labels, vtag_rows *out,
                      vtag_error *err)
{
    const int64_t n = s->n_rows;
    size_t nfc = 0, natt = 0, ncap = 0;
    if (vtag_mul_size((size_t)n, (size_t)f->fc_dim * sizeof(float), &nfc) ||
        vtag_mul_size((size_t)n, (size_t)(f->att_k * f->att_dim) * sizeof(float), &natt) ||
        vtag_mul_size((size_t)n, (size_t)L * sizeof(int32_t), &ncap))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for %lld rows", f->path, (long long)n);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *fc = f->fc ? malloc(nfc) : NULL;
    float *att = f->att ? malloc(natt) : NULL;
    int32_t *cap = labels ? malloc(ncap) : NULL;
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

/* A features file, as one row per video for a video-level model (T = *frames,
 * 0: the most rows a video has; *frames gets the T used). */
static int read_features(vtag_trainer *t, const char *path, vtag_data_features *f, vtag_error *err)
{
    if (!t->o.video && t->o.cfg.frames == 0) return vtag_data_read_features(f, path, err);
    vtag_data_features raw;
    int rc = vtag_data_read_features(&raw, path, err);
    if (!rc) rc = vtag_data_features_by_video(&raw, t->o.cfg.frames, f, err);
    if (!rc) t->o.cfg.frames = f->att_k;
    vtag_data_free_features(&raw);
    return rc;
}

static int load_data(vtag_trainer *t, vtag_error *err)
{
    const vtag_trainer_opts *o = &t->o;
    vtag_metrics_df_init(&t->df);
    vtag_metrics_df_init(&t->val_df);
    int rc = vtag_data_read_labels(&t->labels, o->labels, NULL, err);
    if (!rc) rc = vtag_data_make_captions(&t->caps, &t->labels, &o->cap, err);
    if (!rc && !o->init) rc = vtag_data_build_vocab(&t->own_vocab, &t->labels, &t->caps, &o->cap, err);
    if (!rc && t->vocab->size == 0)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no training videos (split \"train\")", o->labels);
    if (!rc) rc = vtag_data_encode_vocab(t->vocab, &t->vocab_json, err);
    if (!rc) rc = read_features(t, o->feats, &t->feats, err);
    if (!rc)
        rc = vtag_data_build_set(&t->train, &t->labels, &t->caps, t->vocab, &t->feats, VTAG_DATA_SPLIT_TRAIN, &o->cap, err);
    if (!rc && t->train.n_rows == 0)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no row belongs to a training video of %s", o->feats, o->labels);
    if (!rc && o->val_feats) {
        rc = read_features(t, o->val_feats, &t->val_feats, err);
        if (!rc)
            rc = vtag_data_build_set(&t->val, &t->labels, &t->caps, t->vocab, &t->val_feats, VTAG_DATA_SPLIT_VAL, &o->cap,
                                     err);
        if (!rc && t->val.n_rows == 0)
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no row belongs to a validation video of %s", o->val_feats,
                           o->labels);
        if (!rc && (t->val_feats.fc_dim != t->feats.fc_dim || t->val_feats.att_dim != t->feats.att_dim ||
                    t->val_feats.att_k != t->feats.att_k))
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: feature sizes differ from %s", o->val_feats, o->feats);
        t->have_val = rc == 0;
    }
    if (rc) return rc;
    /* Each set's rows gathered once into contiguous arrays. */
    const vtag_data_set *s = &t->train;
    const int64_t L = o->cfg.max_length;
    rc = gather_all(s, &t->feats, L, 1, &t->rows, err);
    if (!rc && t->have_val) rc = gather_all(&t->val, &t->val_feats, L, 0, &t->val_rows, err);
    if (!rc && o->scst_after >= 0 && o->scst_after < o->epochs) rc = build_scst_refs(t, L, err);
    for (int64_t v = 0; v < s->n_videos && !rc && t->have_val; v++)
        rc = vtag_metrics_df_add(&t->val_df, &s->refs[v], 1, err);
    if (!rc && t->have_val) rc = vtag_metrics_df_finish(&t->val_df, err);
    return rc;
}

/* The model: init's, whose feature sizes must be the data's, or a new one
 * drawn from the context's RNG. */
static int make_model(vtag_trainer *t, vtag_error *err)
{
    const vtag_trainer_opts *o = &t->o;
    if (o->init) {
        const vtag_model_config *c = &t->m->cfg;
        if ((c->type != VTAG_MODEL_ATT2IN && t->feats.fc_dim != c->fc_feat_size) ||
            (c->type != VTAG_MODEL_FC && t->feats.att_dim != c->att_feat_size))
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: feature sizes differ from those %s was trained on", o->feats,
                             o->init);
        return VTAG_OK;
    }
    t->o.cfg.vocab_size = t->vocab->size;
    t->o.cfg.fc_feat_size = t->feats.fc_dim;
    t->o.cfg.att_feat_size = t->feats.att_dim;
    vtag_error e2 = {0};
    int rc = vtag_model_init(&t->own, &t->o.cfg, &e2);
    if (rc) return vtag_fail(err, rc, "%s: %s", o->feats, e2.msg);
    vtag_model_init_weights(&t->own, &t->ctx.rng);
    return VTAG_OK;
}

/* The state of a new run, or the state file's with resume. */
static int load_state(vtag_trainer *t, vtag_error *err)
{
    vtag_train_state *st = &t->st;
    memset(st, 0, sizeof *st);
    vtag_adam_init(&st->adam);
    st->best_score = -1;
    st->best_epoch = -1;
    if (t->shard.rank != 0 || !t->o.resume || access(t->state_path, F_OK) != 0) return VTAG_OK;
    int rc = vtag_train_state_load(t->m, st, t->state_path, err);
    if (rc) return rc;
    if (st->epoch > t->o.epochs)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: vtag.train_state: epoch %d is past this run's --epochs %d",
                         t->state_path, st->epoch, t->o.epochs);
    t->ctx.rng.state = st->rng_state;
    t->resumed = 1;
    return VTAG_OK;
}

/* Every rank starts from rank 0's weights, moments and state (its resumed
 * state file, or the same draw from the same seed). Collective. */
static int share_state(vtag_trainer *t, vtag_error *err)
{
    vtag_cluster *c = t->o.cluster;
    if (vtag_cluster_size(c) == 1) return VTAG_OK;
    vtag_params *p = &t->m->params;
    const size_t bytes = (size_t)p->total * sizeof(float);
    int rc = vtag_cluster_bcast(c, &t->resumed, sizeof t->resumed, 0, err);
    if (!rc) rc = vtag_cluster_bcast(c, &t->st, sizeof t->st, 0, err);
    if (!rc) rc = vtag_cluster_bcast(c, p->value, bytes, 0, err);
    if (!rc) rc = vtag_cluster_bcast(c, p->adam_m, bytes, 0, err);
    if (!rc) rc = vtag_cluster_bcast(c, p->adam_v, bytes, 0, err);
    if (!rc && t->resumed) t->ctx.rng.state = t->st.rng_state;
    return rc;
}

/* vtag.provenance of the checkpoints: the training features' backbone (or,
 * from features without an identity, init's) and the vocabulary. Features of
 * another backbone than init's, or validation features of another backbone
 * than the training ones, are refused. */
static int make_provenance(vtag_trainer *t, vtag_error *err)
{
    const vtag_trainer_opts *o = &t->o;
    vtag_backbone_identity train, val;
    int known = 0, val_known = 0;
    int rc = vtag_provenance_backbone_parse(&train, &known, t->feats.backbone, o->feats, err);
    if (!rc && o->init) rc = vtag_captioner_check_backbone_of(&t->init, &t->feats, "train", err);
    if (!rc && t->have_val && o->init) rc = vtag_captioner_check_backbone_of(&t->init, &t->val_feats, "train", err);
    if (!rc && t->have_val)
        rc = vtag_provenance_backbone_parse(&val, &val_known, t->val_feats.backbone, o->val_feats, err);
    if (!rc && known && val_known && strcmp(train.sha256, val.sha256) != 0)
        rc = vtag_fail(err, VTAG_ERR_FORMAT,
                       "%s: from backbone %s (sha256 %.8s…), but %s from backbone %s (sha256 %.8s…): validate on "
                       "features of the training backbone",
                       o->val_feats, val.file, val.sha256, o->feats, train.file, train.sha256);
    if (rc) return rc;
    char *own = NULL;
    const char *bb = known ? t->feats.backbone : NULL;
    if (!bb && o->init && t->init.provenance_json) bb = own = vtag_provenance_backbone_of(t->init.provenance_json);
    if (bb) rc = vtag_provenance_json(&t->provenance_json, bb, t->vocab_json, err);
    free(own);
    return rc;
}

/* The novelty model of the training frames (novelty.h), threshold from the
 * validation videos, beside the checkpoint; features without fc have none. A
 * frame-level run fits it on the features it loaded; a video-level one holds
 * video rows, so it maps the frame rows again. */
static int write_novelty(const vtag_trainer *t, vtag_error *err)
{
    const vtag_trainer_opts *o = &t->o;
    vtag_data_features tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    const vtag_data_features *train = &t->feats, *val = t->have_val ? &t->val_feats : NULL;
    int rc = VTAG_OK;
    if (o->cfg.frames > 0) {
        rc = vtag_data_read_features(&tr, o->feats, err);
        if (!rc && val) rc = vtag_data_read_features(&va, o->val_feats, err);
        train = &tr, val = val ? &va : NULL;
    }
    char *path = rc ? NULL : vtag_novelty_path(o->out);
    if (!rc && !path) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", o->out);
    vtag_novelty nv;
    if (!rc && train->fc && !(rc = vtag_novelty_fit(&nv, train, val, VTAG_NOVELTY_SHRINK, err))) {
        rc = vtag_novelty_save(&nv, path, err);
        vtag_novelty_free(&nv);
    }
    vtag_data_free_features(&va);
    vtag_data_free_features(&tr);
    free(path);
    return rc;
}

static int reduce_grad(void *user, float *grad, int64_t n, double *sums, int n_sums, vtag_error *err)
{
    return vtag_cluster_tree_sum(user, grad, n, sums, n_sums, err);
}

int vtag_trainer_open(vtag_trainer **out, const vtag_trainer_opts *o, vtag_error *err)
{
    *out = NULL;
    if (!o->labels || !o->feats || !o->out)
        return vtag_fail(err, VTAG_ERR_ARG, "trainer: the labels, features and output files are required");
    vtag_trainer *t = calloc(1, sizeof *t);
    if (!t) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", o->out);
    t->o = *o;
    const int ranks = vtag_cluster_size(o->cluster);
    t->shard = (vtag_train_shard){o->micro_batches > 0 ? o->micro_batches : ranks, vtag_cluster_rank(o->cluster), ranks};
    t->m = &t->own;
    t->vocab = &t->own_vocab;
    int rc = (t->state_path = vtag_train_state_path(o->out)) ? VTAG_OK
                                                              : vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", o->out);
    if (!rc) rc = vtag_train_shard_check(&t->shard, err);
    if (!rc && !(rc = vtag_ctx_init(&t->ctx, vtag_cluster_threads(o->cluster, o->threads), o->seed, err))) t->have_ctx = 1;
    if (!rc && o->init && !(rc = vtag_captioner_load(&t->init, o->init, err))) {
        /* SCST from an XE checkpoint: its sizes and vocabulary rule. */
        t->m = &t->init.model;
        t->vocab = &t->init.vocab;
        t->o.cfg = t->m->cfg;
        t->o.cap.max_length = t->m->cfg.max_length;
        if (o->video && t->o.cfg.frames == 0)
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: a frame-level checkpoint cannot go on as a video-level model (--video)",
                           o->init);
    }
    if (!rc) rc = load_data(t, err);
    if (!rc) rc = make_provenance(t, err);
    if (!rc && t->shard.rank == 0) rc = write_novelty(t, err);
    if (!rc) rc = make_model(t, err);
    if (!rc) rc = load_state(t, err);
    /* every rank goes on or none: a rank that failed to load would leave the others waiting */
    int all = rc;
    if (vtag_cluster_size(o->cluster) > 1 && !vtag_cluster_agree(o->cluster, rc, err, &all) && all) rc = all;
    if (!rc) rc = share_state(t, err);
    if (rc) vtag_trainer_free(&t);
    *out = t;
    return rc;
}

/* Greedy captions of every validation row, scored with CIDEr-D against the
 * row's video caption. Document frequencies come from the training
 * references (computed once): a validation set of a few videos gives idf
 * values too coarse to rank epochs, and SCST's reward uses the same corpus. */
static int validate(vtag_trainer *t, double *score, vtag_error *err)
{
    const vtag_data_set *s = &t->val;
    const int64_t n = s->n_rows, L = t->m->cfg.max_length;
    int32_t *seq = malloc((size_t)(n * L) * sizeof(int32_t)), *len = malloc((size_t)n * sizeof(int32_t));
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    int rc = VTAG_OK;
    if (!seq || !len) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "validation: out of memory");
        goto done;
    }
    vtag_decode_opts greedy = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
    if ((rc = vtag_caption_rows(&t->ctx, t->m, &t->val_rows, &greedy, t->o.xe.batch_size, seq, NULL, len, err))) goto done;
    double sum = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        double c = 0;
        vtag_metrics_seq cand = {seq + i * L, len[i]};
        rc = vtag_metrics_cider_d(&t->val_df, &w, cand, &s->refs[s->row_video[i]], 1, &c, err);
        sum += c;
    }
    *score = n ? sum / (double)n : 0.0;
done:
    vtag_metrics_work_free(&w);
    free(seq), free(len);
    return rc;
}

/* The epoch functions' hooks: the caller's, with the epoch added to progress. */
typedef struct epoch_user {
    const vtag_trainer_callbacks *cb;
    int epoch;
    int scst;
    vtag_log *steps; /* per-step lines (rank 0 with opts.step_log) */
    int failed;      /* a step line could not be written: *err holds why */
    vtag_error err;
} epoch_user;

static void epoch_progress(void *user, int64_t done, int64_t total, double loss)
{
    const epoch_user *u = user;
    u->cb->progress(u->cb->user, u->epoch, done, total, loss);
}

static void epoch_step(void *user, int64_t step, double loss)
{
    epoch_user *u = user;
    if (u->failed) return;
    char line[256];
    snprintf(line, sizeof line, "{\"epoch\": %d, \"phase\": \"%s\", \"step\": %lld, \"loss\": %.17g}", u->epoch + 1,
             u->scst ? "scst" : "xe", (long long)step, loss);
    u->failed = vtag_log_line(u->steps, line, &u->err);
}

static int epoch_grad(void *user, float *grad, int64_t n, int64_t step, vtag_error *err)
{
    const epoch_user *u = user;
    return u->cb->grad_hook(u->cb->user, grad, n, step, err);
}

/* One epoch's training; *r gets its phase, loss, SCST means and throughput. */
static int train_epoch(vtag_trainer *t, const vtag_trainer_callbacks *cb, vtag_log *steps, int epoch,
                       vtag_trainer_record *r, vtag_error *err)
{
    const vtag_trainer_opts *o = &t->o;
    const int scst = vtag_trainer_is_scst(o, epoch);
    epoch_user u = {cb, epoch, scst, steps, 0, {0}};
    const vtag_train_hooks hooks = {.progress = cb && cb->progress ? epoch_progress : NULL,
                                    .grad = cb && cb->grad_hook ? epoch_grad : NULL,
                                    .user = &u,
                                    .shard = t->shard,
                                    .reduce = t->shard.ranks > 1 ? reduce_grad : NULL,
                                    .reduce_user = o->cluster,
                                    .step = steps ? epoch_step : NULL};
    *r = (vtag_trainer_record){epoch + 1, scst, 0, 0, NAN, 0, 0, 0, NAN, NAN, NAN};
    const double t0 = vtag_seconds();
    int64_t done;
    int rc;
    if (scst) {
        vtag_scst_stats ss = {0};
        rc = vtag_train_scst_epoch_hooks(&t->ctx, t->m, &t->st.adam, &t->rows, t->row_refs, t->row_nrefs, &t->df,
                                         &o->scst, &hooks, &ss, err);
        r->loss = ss.loss;
        r->reward = ss.reward, r->advantage = ss.advantage, r->greedy_cider_d = ss.greedy;
        r->lr = o->scst.lr;
        done = t->rows.n * o->scst.sample_n; /* captions sampled */
    } else {
        vtag_epoch_stats es = {0};
        rc = vtag_train_xe_epoch_hooks(&t->ctx, t->m, &t->st.adam, &t->rows, &o->xe, epoch, &hooks, &es, err);
        r->loss = es.loss;
        r->lr = vtag_lr_step_decay(o->xe.lr, epoch, o->xe.lr_decay_start, o->xe.lr_decay_every, o->xe.lr_decay);
        done = es.tokens;
    }
    r->seconds = vtag_seconds() - t0;
    r->per_s = r->seconds > 0 ? (double)done / r->seconds : 0.0;
    if (!rc && u.failed) {
        *err = u.err;
        rc = u.failed;
    }
    return rc;
}

/* The epochs; the caller's run() closes the logs. Rank 0 alone validates,
 * saves and reports; every rank agrees on each epoch's status, so that none
 * is left waiting for a rank that stopped. */
static int run_epochs(vtag_trainer *t, const vtag_trainer_callbacks *cb, vtag_log *log, vtag_log *steps,
                      vtag_error *err)
{
    vtag_train_state *st = &t->st;
    const int writer = t->shard.rank == 0, ranks = t->shard.ranks;
    for (int epoch = st->epoch; epoch < t->o.epochs; epoch++) {
        vtag_trainer_record r;
        /* A failed epoch saves nothing and logs nothing: the checkpoint and the state are the last good ones. */
        int rc = train_epoch(t, cb, writer ? steps : NULL, epoch, &r, err);
        if (rc == VTAG_ERR_DIVERGED)
            vtag_diverged_at(err, vtag_trainer_is_scst(&t->o, epoch) ? "SCST epoch" : "XE epoch", epoch, t->o.out);
        int best = 1;
        if (!rc && writer && t->have_val) {
            /* Validation must not disturb the training RNG stream. */
            vtag_rng saved = t->ctx.rng;
            rc = validate(t, &r.val_cider_d, err);
            t->ctx.rng = saved;
            best = r.val_cider_d > st->best_score;
        }
        if (!rc) {
            st->epoch = epoch + 1;
            st->rng_state = t->ctx.rng.state;
        }
        if (!rc && writer) {
            if (best) {
                st->best_score = t->have_val ? r.val_cider_d : st->best_score;
                st->best_epoch = epoch;
                rc = vtag_checkpoint_save_with_provenance(t->m, t->vocab_json, t->provenance_json, t->o.out, err);
            }
            if (!rc)
                rc = vtag_train_state_save_with_provenance(t->m, st, t->vocab_json, t->provenance_json, t->state_path,
                                                           err);
            r.best = best;
            if (!rc && cb && cb->record) rc = cb->record(cb->user, &r, err);
            char line[VTAG_TRAINER_LINE_MAX];
            if (!rc) rc = vtag_log_line(log, vtag_trainer_format_record(&r, line), err);
        }
        int all = rc;
        if (ranks > 1 && vtag_cluster_agree(t->o.cluster, rc, err, &all) == VTAG_OK) rc = all;
        if (rc) return rc;
    }
    return VTAG_OK;
}

int vtag_trainer_run(vtag_trainer *t, const vtag_trainer_callbacks *cb, vtag_error *err)
{
    const int writer = t->shard.rank == 0;
    vtag_log log, steps;
    int rc = vtag_log_open(&log, writer ? t->o.log : NULL, err);
    if (rc) return rc;
    if ((rc = vtag_log_open(&steps, writer ? t->o.step_log : NULL, err))) {
        vtag_log_close(&log, NULL);
        return rc;
    }
    rc = run_epochs(t, cb, &log, t->o.step_log && writer ? &steps : NULL, err);
    /* The label scores' calibration of the checkpoint written (the best),
     * on the validation videos; rank 0 alone, the others have nothing to do. */
    if (!rc && writer && t->have_val && vtag_is_file(t->o.out))
        rc = vtag_run_calibrate(&t->ctx, t->o.out, t->o.val_feats, &t->labels, NULL, err);
    /* the logs' last lines may only reach the disk at close */
    int closed = vtag_log_close(&steps, rc ? NULL : err);
    int closed_log = vtag_log_close(&log, rc || closed ? NULL : err);
    return rc ? rc : closed ? closed : closed_log;
}

void vtag_trainer_free(vtag_trainer **tp)
{
    vtag_trainer *t = *tp;
    if (!t) return;
    vtag_data_free_set(&t->val);
    vtag_data_free_set(&t->train);
    vtag_data_free_features(&t->val_feats);
    vtag_data_free_features(&t->feats);
    vtag_data_free_vocab(&t->own_vocab);
    vtag_data_free_captions(&t->caps);
    vtag_data_free_labels(&t->labels);
    free(t->vocab_json);
    free(t->provenance_json);
    free((float *)t->rows.fc);
    free((float *)t->rows.att);
    free((int32_t *)t->rows.labels);
    free((float *)t->val_rows.fc);
    free((float *)t->val_rows.att);
    free(t->ref_ids);
    free(t->refs);
    free(t->row_refs);
    free(t->row_nrefs);
    vtag_metrics_df_free(&t->df);
    vtag_metrics_df_free(&t->val_df);
    vtag_model_free(&t->own);
    vtag_captioner_free(&t->init);
    if (t->have_ctx) vtag_ctx_free(&t->ctx);
    free(t->state_path);
    free(t);
    *tp = NULL;
}

vtag_model *vtag_trainer_model(vtag_trainer *t) { return t->m; }
const vtag_train_state *vtag_trainer_state(const vtag_trainer *t) { return &t->st; }
int vtag_trainer_resumed(const vtag_trainer *t) { return t->resumed; }
const char *vtag_trainer_state_file(const vtag_trainer *t) { return t->state_path; }

/* vtag_eval_compute: every run's tags against the labels file's split —
 * CIDEr-D/BLEU of the video captions, multi-label scores, class accuracy —
 * overall, for head and tail classes and per class1. Definitions:
 * docs/ARCHITECTURE.md ("eval"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

void vtag_eval_opts_default(vtag_eval_opts *o)
{
    o->split = VTAG_DATA_SPLIT_TEST;
    o->df_train = 0;
    o->top_k = 3;
    o->gap_k = 20;
    o->max_length = 16;
    o->keep_tag_order = 0;
    o->high_score = 0.9;
    o->sources = NULL;
}

int vtag_eval_parse_named(const char *arg, char **name, const char **path)
{
    static const char *const ext[] = {".jsonl", ".json", ".ndjson", ".log"};
    const char *eq = strchr(arg, '='), *base = strrchr(arg, '/');
    if (eq && eq != arg) {
        *name = strndup(arg, (size_t)(eq - arg));
        *path = eq + 1;
        return *name ? VTAG_OK : -1;
    }
    *path = arg;
    base = base ? base + 1 : arg;
    size_t len = strlen(base), n;
    for (int again = 1; again;) {
        again = 0;
        for (int i = 0; i < 4; i++)
            if (len > (n = strlen(ext[i])) && strncmp(base + len - n, ext[i], n) == 0) len -= n, again = 1;
    }
    *name = strndup(base, len);
    return *name ? VTAG_OK : -1;
}

static int push(vtag_eval_impl *m, int32_t id, double s)
{
    if (m->n_ids == m->cap_ids) {
        int64_t cap = m->cap_ids ? 2 * m->cap_ids : 1024;
        int32_t *ids = realloc(m->ids, (size_t)cap * sizeof *ids);
        if (!ids) return -1;
        m->ids = ids;
        double *sc = realloc(m->sc, (size_t)cap * sizeof *sc);
        if (!sc) return -1;
        m->sc = sc;
        m->cap_ids = cap;
    }
    m->ids[m->n_ids] = id;
    m->sc[m->n_ids++] = s;
    return 0;
}

/* Appends id to the span being built at the end of the pool unless it is
 * already in it (captions and label sets never repeat a label). */
static int push_unique(vtag_eval_impl *m, eval_span *s, int32_t id, double score)
{
    for (int64_t i = 0; i < s->n; i++)
        if (m->ids[s->off + i] == id) return 0;
    if (push(m, id, score)) return -1;
    s->n++;
    return 0;
}

static int intern(vtag_eval_impl *m, const char *s, int32_t *id, vtag_error *err)
{
    return vtag_metrics_vocab_intern(&m->vocab, s, strlen(s), id, err);
}

static vtag_metrics_seq seq_of(const vtag_eval_impl *m, eval_span s)
{
    return (vtag_metrics_seq){m->ids + s.off, s.n};
}

/* ---- classes -------------------------------------------------------------- */

typedef struct cls {
    int64_t name;  /* labels->names index of the class1 */
    int64_t train; /* training videos */
    int64_t evald; /* evaluated videos */
} cls;

static int by_train(const void *pa, const void *pb)
{
    const cls *a = pa, *b = pb;
    if (a->train != b->train) return a->train > b->train ? -1 : 1;
    return (a->name > b->name) - (a->name < b->name); /* first appearance in the file */
}

/* ---- scoring a set of videos ------------------------------------------------------ */

static int score_set(const vtag_eval *e, int run, const int64_t *vids, int64_t n, vtag_eval_scores *out,
                     vtag_metrics_work *w, vtag_error *err)
{
    const vtag_eval_impl *m = e->impl;
    memset(out, 0, sizeof *out);
    out->videos = n;
    int rc = eval_calibrate(e, run, vids, n, out, err);
    if (rc || n == 0) return rc;
    vtag_metrics_ml_item *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    int32_t *p1 = malloc((size_t)n * sizeof *p1), *p2 = malloc((size_t)n * sizeof *p2);
    int32_t *t1 = malloc((size_t)n * sizeof *t1), *t2 = malloc((size_t)n * sizeof *t2);
    if (!a || !b || !p1 || !p2 || !t1 || !t2) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
        goto done;
    }
    vtag_metrics_bleu bleu;
    vtag_metrics_bleu_init(&bleu);
    double cider = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t v = vids[i];
        const eval_pred *p = &m->pred[(int64_t)run * e->n_videos + v];
        out->missing += p->state == EVAL_MISSING;
        out->failed += p->state == EVAL_FAILED;
        out->unknown += e->videos[v].pred[run] && e->videos[v].pred[run]->unknown;
        cider += e->videos[v].cider_d[run];
        vtag_metrics_seq ref = seq_of(m, m->ref[v]);
        rc = vtag_metrics_bleu_add(&bleu, w, seq_of(m, p->cap), &ref, 1, err);
        const int32_t *tr = m->ids + m->truth[v].off;
        a[i] = (vtag_metrics_ml_item){m->ids + p->tags.off, m->sc + p->tags.off, p->tags.n, tr, m->truth[v].n};
        b[i] = (vtag_metrics_ml_item){m->ids + p->labels.off, m->sc + p->labels.off, p->labels.n, tr, m->truth[v].n};
        p1[i] = p->c1;
        p2[i] = p->c2;
        t1[i] = m->true_c1[v];
        t2[i] = m->true_c2[v];
    }
    if (rc) goto done;
    out->cider_d = cider / (double)n;
    vtag_metrics_bleu_score(&bleu, out->bleu);
    int32_t L = m->vocab.count;
    rc = vtag_metrics_ml_prf_threshold(a, n, L, -INFINITY, &out->tags, err);
    if (!rc) rc = vtag_metrics_ml_prf_top_k(b, n, L, e->opts.top_k, &out->top_k, err);
    if (!rc) rc = vtag_metrics_ml_gap(b, n, L, e->opts.gap_k, &out->gap, err);
    if (!rc) rc = vtag_metrics_ml_map(b, n, L, &out->map, err);
    out->class1_acc = vtag_metrics_class_accuracy(p1, t1, n);
    out->class2_acc = vtag_metrics_class_accuracy(p2, t2, n);
done:
    free(a);
    free(b);
    free(p1);
    free(p2);
    free(t1);
    free(t2);
    return rc;
}

/* ---- building ------------------------------------------------------------------------ */

/* The reference caption of entry i (ids = names indices), cut at max_length. */
static int push_reference(vtag_eval_impl *m, int64_t i, int64_t max_length, eval_span *s)
{
    s->off = m->n_ids;
    s->n = 0;
    for (int64_t k = m->caps.start[i]; k < m->caps.start[i + 1] && s->n < max_length; k++) {
        if (push(m, m->caps.names[k], 0)) return -1;
        s->n++;
    }
    return 0;
}

/* Results by the real path of their video, for tag files written with
 * another spelling of the path than the labels file's (vtag tag was given
 * corpus/videos/1.mp4, the labels say videos/1.mp4 next to them). */
typedef struct real_entry {
    char *path;
    int64_t idx;
} real_entry;

typedef struct real_index {
    real_entry *e; /* (n) sorted by path */
    int64_t n;
} real_index;

static int by_path(const void *a, const void *b)
{
    return strcmp(((const real_entry *)a)->path, ((const real_entry *)b)->path);
}

static int real_index_build(real_index *ri, const vtag_tag_results *res)
{
    ri->n = 0;
    ri->e = malloc(((size_t)res->count + 1) * sizeof *ri->e);
    if (!ri->e) return -1;
    for (int64_t i = 0; i < res->count; i++) {
        char *rp = realpath(res->items[i].video, NULL);
        if (rp) ri->e[ri->n++] = (real_entry){rp, i};
    }
    qsort(ri->e, (size_t)ri->n, sizeof *ri->e, by_path);
    return 0;
}

static void real_index_free(real_index *ri)
{
    for (int64_t i = 0; ri->e && i < ri->n; i++) free(ri->e[i].path);
    free(ri->e);
    ri->e = NULL;
    ri->n = 0;
}

/* The result for a labels entry: by its video id as written, by the id
 * resolved against the labels file's folder, then by real path. */
static int64_t find_result(const vtag_tag_results *res, real_index *ri, int *ri_built, const vtag_data_entry *en)
{
    int64_t idx = vtag_tag_find(res, en->video);
    if (idx < 0 && en->path) idx = vtag_tag_find(res, en->path);
    if (idx >= 0) return idx;
    if (!*ri_built) {
        if (real_index_build(ri, res)) return -1;
        *ri_built = 1;
    }
    char *rp = en->path ? realpath(en->path, NULL) : NULL;
    if (!rp) return -1;
    real_entry key = {rp, 0};
    const real_entry *hit = bsearch(&key, ri->e, (size_t)ri->n, sizeof *ri->e, by_path);
    free(rp);
    return hit ? hit->idx : -1;
}

static int build_pred(vtag_eval *e, int run, int64_t v, real_index *ri, int *ri_built, vtag_error *err)
{
    vtag_eval_impl *m = e->impl;
    eval_pred *p = &m->pred[(int64_t)run * e->n_videos + v];
    *p = (eval_pred){.c1 = -1, .c2 = -1};
    p->cap.off = p->tags.off = p->labels.off = m->n_ids;
    const vtag_tag_results *res = e->runs[run].results;
    int64_t idx = find_result(res, ri, ri_built, e->videos[v].ref);
    const vtag_tag_result *r = idx >= 0 ? &res->items[idx] : NULL;
    e->videos[v].pred[run] = r;
    if (!r) {
        p->state = EVAL_MISSING;
        return VTAG_OK;
    }
    if (r->error) {
        p->state = EVAL_FAILED;
        return VTAG_OK;
    }
    int32_t id;
    int rc = VTAG_OK;
    if (r->class1 && !(rc = intern(m, r->class1, &id, err))) p->c1 = id;
    if (!rc && r->class2 && !(rc = intern(m, r->class2, &id, err))) p->c2 = id;
    if (rc) return rc;
    /* caption: class1, class2, tags, repeats removed */
    if (p->c1 >= 0 && push_unique(m, &p->cap, p->c1, 0)) goto nomem;
    if (p->c2 >= 0 && push_unique(m, &p->cap, p->c2, 0)) goto nomem;
    for (int64_t t = 0; t < r->n_tags; t++) {
        if ((rc = intern(m, r->tags[t].label, &id, err))) return rc;
        if (push_unique(m, &p->cap, id, 0)) goto nomem;
    }
    p->tags.off = m->n_ids;
    for (int64_t t = 0; t < r->n_tags; t++) {
        if ((rc = intern(m, r->tags[t].label, &id, err))) return rc;
        if (push_unique(m, &p->tags, id, r->tags[t].score)) goto nomem;
    }
    p->labels.off = m->n_ids;
    for (int64_t t = 0; t < r->n_labels; t++) {
        if ((rc = intern(m, r->labels[t].label, &id, err))) return rc;
        if (push_unique(m, &p->labels, id, r->labels[t].score)) goto nomem;
    }
    return VTAG_OK;
nomem:
    return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
}

int vtag_eval_compute(vtag_eval *e, const vtag_data_labels *labels, const vtag_eval_run *runs, int n_runs,
                      const vtag_eval_opts *o, vtag_error *err)
{
    memset(e, 0, sizeof *e);
    vtag_eval_opts def;
    if (!o) {
        vtag_eval_opts_default(&def);
        o = &def;
    }
    if (n_runs < 1 || !runs) return vtag_fail(err, VTAG_ERR_ARG, "eval: no results to evaluate");
    if (o->top_k < 1 || o->gap_k < 1 || o->max_length < 1)
        return vtag_fail(err, VTAG_ERR_ARG, "eval: top_k, gap_k and max_length must be >= 1");
    if (!(o->high_score >= 0 && o->high_score <= 1)) return vtag_fail(err, VTAG_ERR_ARG, "eval: high_score must be in [0, 1]");
    for (int r = 0; r < n_runs; r++)
        if (!runs[r].name || !runs[r].name[0] || !runs[r].results)
            return vtag_fail(err, VTAG_ERR_ARG, "eval: run %d has no name or no results", r + 1);
    for (int r = 0; r < n_runs; r++)
        for (int q = 0; q < r; q++)
            if (strcmp(runs[r].name, runs[q].name) == 0)
                return vtag_fail(err, VTAG_ERR_ARG, "eval: two runs are named \"%s\"", runs[r].name);
    e->labels = labels;
    e->opts = *o;
    e->n_runs = n_runs;
    vtag_eval_impl *m = calloc(1, sizeof *m);
    if (!m) return vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
    e->impl = m;
    vtag_metrics_vocab_init(&m->vocab);
    vtag_metrics_work w;
    vtag_metrics_work_init(&w);
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    cls *cl = NULL;
    int64_t *vids = NULL, *class_of_name = NULL;
    int rc = VTAG_OK;

    /* run names */
    size_t nchars = 0;
    for (int r = 0; r < n_runs; r++) nchars += strlen(runs[r].name) + 1;
    e->runs = malloc((size_t)n_runs * sizeof *e->runs);
    m->names = malloc(nchars);
    if (!e->runs || !m->names) goto nomem;
    char *c = m->names;
    for (int r = 0; r < n_runs; r++) {
        e->runs[r] = runs[r];
        e->runs[r].name = strcpy(c, runs[r].name);
        c += strlen(runs[r].name) + 1;
    }

    /* label ids: names index i is vocabulary id i */
    for (int64_t i = 0; i < labels->n_names && !rc; i++) {
        int32_t id;
        rc = intern(m, labels->names[i], &id, err);
        if (!rc && id != i) rc = vtag_fail(err, VTAG_ERR_ARG, "eval: labels file names are not distinct");
    }
    vtag_data_caption_opts copts;
    vtag_data_caption_opts_default(&copts);
    copts.max_length = o->max_length;
    copts.keep_tag_order = o->keep_tag_order;
    if (!rc) rc = vtag_data_make_captions(&m->caps, labels, &copts, err);
    if (rc) goto fail;

    /* the evaluated videos */
    for (int64_t i = 0; i < labels->count; i++) {
        e->n_videos += labels->entries[i].split == o->split;
        e->train_videos += labels->entries[i].split == VTAG_DATA_SPLIT_TRAIN;
    }
    if (e->n_videos == 0) {
        rc = vtag_fail(err, VTAG_ERR_ARG, "%s: no %s video to evaluate", labels->path ? labels->path : "labels",
                       vtag_data_split_name(o->split));
        goto fail;
    }
    int64_t nv = e->n_videos;
    e->videos = calloc((size_t)nv, sizeof *e->videos);
    m->ref = calloc((size_t)nv, sizeof *m->ref);
    m->truth = calloc((size_t)nv, sizeof *m->truth);
    m->true_c1 = malloc((size_t)nv * sizeof *m->true_c1);
    m->true_c2 = malloc((size_t)nv * sizeof *m->true_c2);
    m->pred = calloc((size_t)nv * (size_t)n_runs, sizeof *m->pred);
    m->preds = calloc((size_t)nv * (size_t)n_runs, sizeof *m->preds);
    m->ciders = calloc((size_t)nv * (size_t)n_runs, sizeof *m->ciders);
    vids = malloc((size_t)nv * sizeof *vids);
    class_of_name = malloc(((size_t)labels->n_names + 1) * sizeof *class_of_name);
    cl = calloc((size_t)labels->n_names + 1, sizeof *cl);
    if (!e->videos || !m->ref || !m->truth || !m->true_c1 || !m->true_c2 || !m->pred || !m->preds || !m->ciders ||
        !vids || !class_of_name || !cl)
        goto nomem;
    for (int64_t i = 0, v = 0; i < labels->count; i++) {
        const vtag_data_entry *en = &labels->entries[i];
        if (en->split != o->split) continue;
        e->videos[v].ref = en;
        e->videos[v].pred = m->preds + v * n_runs;
        e->videos[v].cider_d = m->ciders + v * n_runs;
        if (push_reference(m, i, o->max_length, &m->ref[v])) goto nomem;
        m->truth[v].off = m->n_ids;
        for (int64_t k = m->caps.start[i]; k < m->caps.start[i + 1]; k++)
            if (push_unique(m, &m->truth[v], m->caps.names[k], 0)) goto nomem;
        m->true_c1[v] = (int32_t)vtag_data_find_name(labels, en->class1);
        m->true_c2[v] = (int32_t)vtag_data_find_name(labels, en->class2);
        v++;
    }

    /* classes: training videos per class1, head = the most frequent classes
     * that together hold at least half of the (training) videos */
    int use_train = e->train_videos > 0;
    for (int64_t i = 0; i < labels->n_names; i++) class_of_name[i] = -1;
    int64_t n_cls = 0, total = 0;
    for (int64_t i = 0; i < labels->count; i++) {
        const vtag_data_entry *en = &labels->entries[i];
        int64_t nm = vtag_data_find_name(labels, en->class1);
        if (class_of_name[nm] < 0) {
            class_of_name[nm] = n_cls;
            cl[n_cls++] = (cls){nm, 0, 0};
        }
        cls *k = &cl[class_of_name[nm]];
        if (en->split == (use_train ? VTAG_DATA_SPLIT_TRAIN : o->split)) {
            k->train++;
            total++;
        }
        k->evald += en->split == o->split;
    }
    qsort(cl, (size_t)n_cls, sizeof *cl, by_train);
    int64_t covered = 0, n_head = 0;
    while (n_head < n_cls && 2 * covered < total) covered += cl[n_head++].train;
    for (int64_t i = 0; i < n_cls; i++) e->n_classes += cl[i].evald > 0;
    e->classes = calloc((size_t)e->n_classes, sizeof *e->classes);
    /* overall, head, tail, then one per class */
    m->scores = calloc((size_t)(3 + e->n_classes) * (size_t)n_runs, sizeof *m->scores);
    if (!e->classes || !m->scores) goto nomem;
    e->overall = m->scores;
    e->head = m->scores + n_runs;
    e->tail = m->scores + 2 * n_runs;
    for (int64_t i = 0, k = 0; i < n_cls; i++) {
        if (!cl[i].evald) continue;
        vtag_eval_class *ec = &e->classes[k];
        ec->class1 = labels->names[cl[i].name];
        ec->train_videos = use_train ? cl[i].train : 0;
        ec->videos = cl[i].evald;
        ec->head = i < n_head;
        ec->scores = m->scores + (3 + k) * n_runs;
        class_of_name[cl[i].name] = k++;
    }
    for (int64_t v = 0; v < nv; v++)
        e->videos[v].class_index = class_of_name[vtag_data_find_name(labels, e->videos[v].ref->class1)];

    /* predictions */
    for (int r = 0; r < n_runs && !rc; r++) {
        real_index ri = {0};
        int ri_built = 0;
        int64_t found = 0;
        for (int64_t v = 0; v < nv && !rc; v++) {
            rc = build_pred(e, r, v, &ri, &ri_built, err);
            found += m->pred[(int64_t)r * nv + v].state != EVAL_MISSING;
        }
        real_index_free(&ri);
        const char *src = o->sources && o->sources[r] ? o->sources[r] : runs[r].name;
        const char *lp = labels->path ? labels->path : "the labels file";
        if (!rc && !found && runs[r].results->count == 0)
            rc = vtag_fail(err, VTAG_ERR_ARG, "eval: %s holds no video (%lld %s videos in %s)", src, (long long)nv,
                           vtag_data_split_name(o->split), lp);
        else if (!rc && !found) /* the wrong file or the wrong split: every figure would be 0 */
            rc = vtag_fail(err, VTAG_ERR_ARG, "eval: none of the %lld videos in %s is a %s video of %s",
                           (long long)runs[r].results->count, src, vtag_data_split_name(o->split), lp);
    }
    if (!rc) rc = eval_label_counts(e, err);
    if (rc) goto fail;

    /* CIDEr-D: document frequencies from one reference set per video */
    if (o->df_train) {
        for (int64_t i = 0; i < labels->count && !rc; i++) {
            if (labels->entries[i].split != VTAG_DATA_SPLIT_TRAIN) continue;
            eval_span s;
            if (push_reference(m, i, o->max_length, &s)) goto nomem;
            vtag_metrics_seq q = seq_of(m, s);
            rc = vtag_metrics_df_add(&df, &q, 1, err);
        }
        if (!rc && e->train_videos == 0) rc = vtag_fail(err, VTAG_ERR_ARG, "eval: no training video for the document frequencies");
    } else {
        for (int64_t v = 0; v < nv && !rc; v++) {
            vtag_metrics_seq q = seq_of(m, m->ref[v]);
            rc = vtag_metrics_df_add(&df, &q, 1, err);
        }
    }
    if (!rc) rc = vtag_metrics_df_finish(&df, err);
    for (int r = 0; r < n_runs && !rc; r++)
        for (int64_t v = 0; v < nv && !rc; v++) {
            vtag_metrics_seq ref = seq_of(m, m->ref[v]);
            rc = vtag_metrics_cider_d(&df, &w, seq_of(m, m->pred[(int64_t)r * nv + v].cap), &ref, 1,
                                      &e->videos[v].cider_d[r], err);
        }
    if (rc) goto fail;

    /* scores: overall, head, tail, per class */
    for (int r = 0; r < n_runs && !rc; r++) {
        for (int64_t v = 0; v < nv; v++) vids[v] = v;
        rc = score_set(e, r, vids, nv, &e->overall[r], &w, err);
        for (int pass = 0; pass < 2 && !rc; pass++) {
            int64_t n = 0;
            for (int64_t v = 0; v < nv; v++)
                if (e->classes[e->videos[v].class_index].head == (pass == 0)) vids[n++] = v;
            rc = score_set(e, r, vids, n, pass == 0 ? &e->head[r] : &e->tail[r], &w, err);
        }
        for (int64_t k = 0; k < e->n_classes && !rc; k++) {
            int64_t n = 0;
            for (int64_t v = 0; v < nv; v++)
                if (e->videos[v].class_index == k) vids[n++] = v;
            rc = score_set(e, r, vids, n, &e->classes[k].scores[r], &w, err);
        }
    }
    if (rc) goto fail;
    goto done;
nomem:
    rc = vtag_fail(err, VTAG_ERR_NOMEM, "eval: out of memory");
fail:
    vtag_eval_free(e);
done:
    free(cl);
    free(vids);
    free(class_of_name);
    vtag_metrics_df_free(&df);
    vtag_metrics_work_free(&w);
    return rc;
}

void vtag_eval_free(vtag_eval *e)
{
    if (!e) return;
    vtag_eval_impl *m = e->impl;
    if (m) {
        vtag_metrics_vocab_free(&m->vocab);
        vtag_data_free_captions(&m->caps);
        free(m->ids);
        free(m->sc);
        free(m->ref);
        free(m->truth);
        free(m->true_c1);
        free(m->true_c2);
        free(m->pred);
        free(m->scores);
        free(m->preds);
        free(m->ciders);
        free(m->names);
        free(m->label_train);
        free(m);
    }
    free(e->runs);
    free(e->classes);
    free(e->videos);
    memset(e, 0, sizeof *e);
}

/* Frame captions → video tags: count each label once per frame, rank by
 * count (ties: first appearance), pick class1/class2 and apply the top-n or
 * more-than-C-frames rule. Rules: include/vtag/tag.h, docs/ARCHITECTURE.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/tag.h"

void vtag_tag_opts_default(vtag_tag_opts *o)
{
    o->rule = VTAG_TAG_RULE_TOP_N;
    o->top_n = VTAG_TAG_TOP_N_DEFAULT;
    o->min_frames = 0;
    o->min_score = VTAG_TAG_MIN_SCORE_DEFAULT;
}

static int check_opts(const vtag_tag_opts *o, const char *video, vtag_error *err)
{
    if (o->rule != VTAG_TAG_RULE_TOP_N && o->rule != VTAG_TAG_RULE_MIN_FRAMES)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: unknown tag rule %d", video, (int)o->rule);
    if (o->top_n < 0 || o->min_frames < 0)
        return vtag_fail(err, VTAG_ERR_ARG, "%s: top_n and min_frames must be >= 0", video);
    if (!(o->min_score >= 0 && o->min_score <= 1))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: min_score must be in [0, 1]", video);
    return VTAG_OK;
}

int64_t vtag_tag_select(const vtag_tag_label *labels, int64_t n, const vtag_tag_opts *o, vtag_tag_label *tags,
                        int *unknown)
{
    double best = 0;
    for (int64_t i = 0; i < n; i++) best = labels[i].score > best ? labels[i].score : best;
    *unknown = n == 0 || best < o->min_score;
    int64_t k = 0;
    for (int64_t i = 0; !*unknown && i < n; i++) {
        if (o->rule == VTAG_TAG_RULE_TOP_N ? i >= o->top_n : labels[i].frames <= o->min_frames) continue;
        if (labels[i].score >= o->min_score) tags[k++] = labels[i];
    }
    return k;
}

/* A distinct label and its counters; labels are kept in order of first
 * appearance (frame order, then caption position). */
typedef struct counter {
    const char *label;
    int64_t frames;      /* frames holding it */
    int64_t last_frame;  /* last frame counted, so a frame counts once */
    int64_t as_first;    /* frames where it is the first token */
    int64_t first_at;    /* first frame where it is the first token */
    int64_t as_second;   /* class1 frames where it is the second token */
    int64_t second_at;
} counter;

typedef struct table {
    counter *c;    /* (n) */
    int64_t n;
    int64_t *slot; /* (mask + 1) index into c, or -1 */
    uint64_t mask;
} table;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* Index of label in t, added if new (capacity is sized up front). */
static int64_t table_get(table *t, const char *label)
{
    uint64_t i = hash_str(label) & t->mask;
    while (t->slot[i] >= 0) {
        if (strcmp(t->c[t->slot[i]].label, label) == 0) return t->slot[i];
        i = (i + 1) & t->mask;
    }
    t->slot[i] = t->n;
    t->c[t->n] = (counter){label, 0, -1, 0, -1, 0, -1};
    return t->n++;
}

/* Stable ranking: counters are in first-appearance order, and qsort is not
 * stable, so the order index breaks ties. */
typedef struct ranked {
    int64_t frames, order;
} ranked;

static int by_ranked(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->frames != b->frames) return a->frames > b->frames ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

int vtag_tag_aggregate(vtag_tag_result *r, const char *video, const vtag_tag_frame *frames, int64_t n_frames,
                       const vtag_tag_opts *o, vtag_error *err)
{
    memset(r, 0, sizeof *r);
    vtag_tag_opts def;
    if (!o) {
        vtag_tag_opts_default(&def);
        o = &def;
    }
    if (!video || !video[0]) return vtag_fail(err, VTAG_ERR_ARG, "tag: empty video name");
    int rc = check_opts(o, video, err);
    if (rc) return rc;
    if (n_frames < 0 || (n_frames > 0 && !frames)) return vtag_fail(err, VTAG_ERR_ARG, "%s: bad frame list", video);
    int64_t n_tok = 0;
    for (int64_t f = 0; f < n_frames; f++) {
        if (frames[f].n_tokens < 0 || (frames[f].n_tokens > 0 && !frames[f].tokens))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: bad token list", video, (long long)f);
        for (int64_t t = 0; t < frames[f].n_tokens; t++)
            if (!frames[f].tokens[t] || !frames[f].tokens[t][0])
                return vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: empty label", video, (long long)f);
        n_tok += frames[f].n_tokens;
    }
    table t = {0};
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n_tok) cap <<= 1;
    t.mask = cap - 1;
    t.c = malloc(((size_t)n_tok + 1) * sizeof *t.c);
    t.slot = malloc(cap * sizeof *t.slot);
    ranked *rk = malloc(((size_t)n_tok + 1) * sizeof *rk);
    vtag_tag_label *labels = malloc(((size_t)n_tok + 1) * sizeof *labels);
    vtag_tag_label *tags = malloc(((size_t)n_tok + 1) * sizeof *tags);
    if (!t.c || !t.slot || !rk || !labels || !tags) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", video);
        goto done;
    }
    memset(t.slot, 0xff, cap * sizeof *t.slot);
    for (int64_t f = 0; f < n_frames; f++) {
        for (int64_t i = 0; i < frames[f].n_tokens; i++) {
            counter *c = &t.c[table_get(&t, frames[f].tokens[i])];
            if (c->last_frame != f) {
                c->last_frame = f;
                c->frames++;
            }
            if (i == 0 && c->as_first++ == 0) c->first_at = f;
        }
    }
    /* class1: most frames as first token; ties: the earliest to be first. */
    int64_t c1 = -1;
    for (int64_t i = 0; i < t.n; i++) {
        const counter *c = &t.c[i];
        if (c->as_first == 0) continue;
        if (c1 < 0 || c->as_first > t.c[c1].as_first ||
            (c->as_first == t.c[c1].as_first && c->first_at < t.c[c1].first_at))
            c1 = i;
    }
    int64_t c2 = -1;
    if (c1 >= 0) {
        for (int64_t f = 0; f < n_frames; f++) {
            if (frames[f].n_tokens < 2 || strcmp(frames[f].tokens[0], t.c[c1].label) != 0) continue;
            counter *c = &t.c[table_get(&t, frames[f].tokens[1])];
            if (c->as_second++ == 0) c->second_at = f;
        }
        for (int64_t i = 0; i < t.n; i++) {
            const counter *c = &t.c[i];
            if (c->as_second == 0) continue;
            if (c2 < 0 || c->as_second > t.c[c2].as_second ||
                (c->as_second == t.c[c2].as_second && c->second_at < t.c[c2].second_at))
                c2 = i;
        }
    }
    for (int64_t i = 0; i < t.n; i++) rk[i] = (ranked){t.c[i].frames, i};
    qsort(rk, (size_t)t.n, sizeof *rk, by_ranked);
    for (int64_t i = 0; i < t.n; i++) {
        const counter *c = &t.c[rk[i].order];
        labels[i] = (vtag_tag_label){c->label, c->frames, (double)c->frames / (double)n_frames};
    }
    int unknown;
    int64_t n_tags = vtag_tag_select(labels, t.n, o, tags, &unknown);
    rc = vtag_tag_result_make(r, video, c1 >= 0 ? t.c[c1].label : NULL, c2 >= 0 ? t.c[c2].label : NULL, labels,
                              t.n, tags, n_tags, frames, n_frames, err);
    if (!rc) r->unknown = unknown;
done:
    free(tags);
    free(labels);
    free(rk);
    free(t.slot);
    free(t.c);
    return rc;
}

int vtag_tag_aggregate_ids(vtag_tag_result *r, const char *video, const vtag_tag_frame_ids *frames,
                           int64_t n_frames, const char *const *vocab, int64_t vocab_size, const vtag_tag_opts *o,
                           vtag_error *err)
{
    memset(r, 0, sizeof *r);
    if (n_frames < 0 || (n_frames > 0 && !frames) || vocab_size < 0 || (vocab_size > 0 && !vocab))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: bad frames or vocabulary", video ? video : "?");
    int64_t n_tok = 0;
    for (int64_t f = 0; f < n_frames; f++) {
        if (frames[f].n_ids < 0 || (frames[f].n_ids > 0 && !frames[f].ids))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: bad id list", video ? video : "?", (long long)f);
        n_tok += frames[f].n_ids;
    }
    vtag_tag_frame *fr = malloc(((size_t)n_frames + 1) * sizeof *fr);
    const char **tok = malloc(((size_t)n_tok + 1) * sizeof *tok);
    int rc = VTAG_OK;
    if (!fr || !tok) rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    const char **next = tok;
    for (int64_t f = 0; f < n_frames && !rc; f++) {
        fr[f] = (vtag_tag_frame){frames[f].pts_seconds, next, 0};
        for (int64_t i = 0; i < frames[f].n_ids && frames[f].ids[i] != 0; i++) {
            int32_t id = frames[f].ids[i];
            if (id < 0 || id > vocab_size || !vocab[id]) {
                rc = vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: token id %d outside the vocabulary (1..%lld)",
                               video ? video : "?", (long long)f, (int)id, (long long)vocab_size);
                break;
            }
            *next++ = vocab[id];
            fr[f].n_tokens++;
        }
    }
    if (!rc) rc = vtag_tag_aggregate(r, video, fr, n_frames, o, err);
    free(tok);
    free(fr);
    return rc;
}

int vtag_tag_aggregate_seq(vtag_tag_result *r, const char *video, const double *pts, const int32_t *seq,
                           const int32_t *len, const int64_t *rows, int64_t n_frames, int64_t max_length,
                           const char *const *vocab, int64_t vocab_size, const vtag_tag_opts *o, vtag_error *err)
{
    memset(r, 0, sizeof *r);
    if (n_frames < 0 || max_length < 0 || (n_frames > 0 && (!seq || !len)))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: bad caption rows", video ? video : "?");
    size_t bytes;
    if (vtag_mul_size((size_t)n_frames + 1, sizeof(vtag_tag_frame_ids), &bytes))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: %lld frames: too many", video ? video : "?", (long long)n_frames);
    vtag_tag_frame_ids *fr = malloc(bytes);
    if (!fr) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    int rc = VTAG_OK;
    for (int64_t i = 0; i < n_frames && !rc; i++) {
        int64_t k = rows ? rows[i] : i;
        if (k < 0 || len[k] < 0 || len[k] > max_length)
            rc = vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: bad caption row", video ? video : "?", (long long)i);
        else
            fr[i] = (vtag_tag_frame_ids){pts ? pts[i] : (double)i, seq + k * max_length, len[k]};
    }
    if (!rc) rc = vtag_tag_aggregate_ids(r, video, fr, n_frames, vocab, vocab_size, o, err);
    free(fr);
    return rc;
}

/* A label of the score ranking: its entry and where it stood before. */
typedef struct scored {
    vtag_tag_label l;
    int64_t before; /* index in the frame-count ranking, or n_labels + id */
} scored;

static int by_scored(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->l.score != b->l.score) return a->l.score > b->l.score ? -1 : 1;
    if (a->l.frames != b->l.frames) return a->l.frames > b->l.frames ? -1 : 1;
    return (a->before > b->before) - (a->before < b->before);
}

int vtag_tag_apply_scores(vtag_tag_result *r, const double *scores, const char *const *vocab, int64_t vocab_size,
                          const vtag_tag_opts *o, vtag_error *err)
{
    vtag_tag_opts def;
    if (!o) {
        vtag_tag_opts_default(&def);
        o = &def;
    }
    const char *video = r->video ? r->video : "?";
    if (r->error) return VTAG_OK;
    int rc = check_opts(o, video, err);
    if (rc) return rc;
    if (vocab_size < 0 || (vocab_size > 0 && (!vocab || !scores)))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: bad scores or vocabulary", video);
    for (int64_t id = 1; id <= vocab_size; id++)
        if (!vocab[id] || !(scores[id] >= 0 && scores[id] <= 1))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: label id %lld: no label or a score outside [0, 1]", video,
                             (long long)id);
    scored *s = malloc(((size_t)vocab_size + 1) * sizeof *s);
    vtag_tag_label *out = malloc(2 * ((size_t)vocab_size + 1) * sizeof *out);
    if (!s || !out) {
        free(s);
        free(out);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", video);
    }
    int64_t n = 0;
    for (int64_t id = 1; id <= vocab_size; id++) {
        int64_t frames = 0, before = r->n_labels + id;
        for (int64_t i = 0; i < r->n_labels; i++)
            if (strcmp(r->labels[i].label, vocab[id]) == 0) frames = r->labels[i].frames, before = i;
        double sc = round(scores[id] * 1e4) / 1e4;
        if (sc > 0 || frames > 0) s[n++] = (scored){{vocab[id], frames, sc}, before};
    }
    qsort(s, (size_t)n, sizeof *s, by_scored);
    for (int64_t i = 0; i < n; i++) out[i] = s[i].l;
    int unknown;
    vtag_tag_label *tags = out + vocab_size + 1;
    int64_t n_tags = vtag_tag_select(out, n, o, tags, &unknown);
    rc = vtag_tag_result_relabel(r, out, n, tags, n_tags, unknown, err);
    free(s);
    free(out);
    return rc;
}

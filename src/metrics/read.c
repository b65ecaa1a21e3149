/* JSON Lines input of `vtag score` (docs/FORMATS.md "Score input"): caption
 * items {"id", "cand", "refs"} and multi-label items {"id", "pred", "true"}.
 * Every error names the file and the line; unknown fields are errors. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/metrics.h"

/* A growable array of fixed-size elements. */
typedef struct buf {
    void *data;
    int64_t len, cap;
} buf;

static int buf_push(buf *b, const void *elem, size_t size)
{
    if (b->len == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 256;
        void *d = realloc(b->data, (size_t)cap * size);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy((char *)b->data + (size_t)b->len * size, elem, size);
    b->len++;
    return 0;
}

typedef struct reader {
    const char *path;
    FILE *f;
    vtag_line line;
    int64_t lineno;
    vtag_error *err;
} reader;

static int rd_fail(reader *rd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rd_fail(reader *rd, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vtag_fail(rd->err, code, "%s:%lld: %s", rd->path, (long long)rd->lineno, msg);
}

static int rd_open(reader *rd, const char *path, vtag_error *err)
{
    memset(rd, 0, sizeof *rd);
    rd->path = path;
    rd->err = err;
    return vtag_file_open(&rd->f, path, err);
}

static void rd_close(reader *rd)
{
    if (rd->f) fclose(rd->f);
    vtag_line_free(&rd->line);
}

/* The next non-blank line as a JSON object in *obj (NULL at the end). */
static int rd_next(reader *rd, json_t **obj)
{
    *obj = NULL;
    for (;;) {
        int rc = vtag_line_read(&rd->line, rd->f, rd->path, VTAG_LINE_MAX, rd->err);
        if (rc) return rc;
        size_t n = rd->line.len;
        if (n == 0) return VTAG_OK;
        rd->lineno = rd->line.number;
        size_t i = 0;
        while (i < n && rd->line.data[i] && strchr(" \t\r\n", rd->line.data[i])) i++;
        if (i == n) continue;
        json_error_t jerr;
        const size_t flags = JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY;
        json_t *v = json_loadb(rd->line.data, n, flags, &jerr);
        if (!v) return rd_fail(rd, VTAG_ERR_FORMAT, "malformed JSON: %s (column %d)", jerr.text, jerr.column);
        if (!json_is_object(v)) {
            json_decref(v);
            return rd_fail(rd, VTAG_ERR_FORMAT, "expected a JSON object");
        }
        *obj = v;
        return VTAG_OK;
    }
}

/* Fails on a field not in `known` (NULL-terminated). */
static int rd_known_fields(reader *rd, json_t *obj, const char *const *known)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) return rd_fail(rd, VTAG_ERR_FORMAT, "unknown field \"%.80s\"", key);
    }
    return VTAG_OK;
}

/* ---- captions ------------------------------------------------------------ */

typedef struct cap_item {
    int64_t cand;      /* sentence index or -1 */
    int64_t first_ref; /* sentence index */
    int64_t n_refs;
} cap_item;

typedef struct cap_state {
    reader rd;
    vtag_metrics_vocab *vocab;
    buf tokens;   /* int32_t */
    buf sent_off; /* int64_t: start of each sentence in tokens; one more at the end */
} cap_state;

static int cap_token(cap_state *s, const char *tok, size_t len)
{
    int32_t id;
    vtag_error e = {0};
    int rc = vtag_metrics_vocab_intern(s->vocab, tok, len, &id, &e);
    if (rc) return rd_fail(&s->rd, rc, "%s", e.msg);
    if (buf_push(&s->tokens, &id, sizeof id)) return rd_fail(&s->rd, VTAG_ERR_NOMEM, "out of memory");
    return VTAG_OK;
}

/* A sentence: a string of tokens separated by ASCII whitespace, or an array
 * of token strings (each one token, spaces and all). */
static int cap_sentence(cap_state *s, json_t *v, const char *what)
{
    int64_t start = s->tokens.len;
    if (buf_push(&s->sent_off, &start, sizeof start))
        return rd_fail(&s->rd, VTAG_ERR_NOMEM, "out of memory");
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        size_t n = json_string_length(v), i = 0;
        const char *ws = " \t\n\r\f\v";
        while (i < n) {
            while (i < n && strchr(ws, t[i])) i++;
            size_t j = i;
            while (j < n && !strchr(ws, t[j])) j++;
            if (j > i) {
                int rc = cap_token(s, t + i, j - i);
                if (rc) return rc;
            }
            i = j;
        }
        return VTAG_OK;
    }
    if (!json_is_array(v))
        return rd_fail(&s->rd, VTAG_ERR_FORMAT, "%s must be a string or an array of token strings", what);
    size_t i;
    json_t *tok;
    json_array_foreach(v, i, tok) {
        if (!json_is_string(tok))
            return rd_fail(&s->rd, VTAG_ERR_FORMAT, "%s: token %zu is not a string", what, i);
        if (json_string_length(tok) == 0)
            return rd_fail(&s->rd, VTAG_ERR_FORMAT, "%s: token %zu is empty", what, i);
        int rc = cap_token(s, json_string_value(tok), json_string_length(tok));
        if (rc) return rc;
    }
    return VTAG_OK;
}

static int cap_line(cap_state *s, json_t *obj, int need_cand, buf *items)
{
    static const char *const known[] = {"id", "cand", "refs", NULL};
    int rc = rd_known_fields(&s->rd, obj, known);
    if (rc) return rc;
    cap_item it = {.cand = -1};
    json_t *cand = json_object_get(obj, "cand");
    if (!cand && need_cand) return rd_fail(&s->rd, VTAG_ERR_FORMAT, "missing field \"cand\"");
    if (cand) {
        it.cand = s->sent_off.len;
        rc = cap_sentence(s, cand, "\"cand\"");
        if (rc) return rc;
    }
    json_t *refs = json_object_get(obj, "refs");
    if (!refs) return rd_fail(&s->rd, VTAG_ERR_FORMAT, "missing field \"refs\"");
    if (!json_is_array(refs) || json_array_size(refs) == 0)
        return rd_fail(&s->rd, VTAG_ERR_FORMAT, "\"refs\" must be a non-empty array of sentences");
    it.first_ref = s->sent_off.len;
    it.n_refs = (int64_t)json_array_size(refs);
    size_t i;
    json_t *ref;
    json_array_foreach(refs, i, ref) {
        char what[32];
        snprintf(what, sizeof what, "\"refs\"[%zu]", i);
        rc = cap_sentence(s, ref, what);
        if (rc) return rc;
    }
    if (buf_push(items, &it, sizeof it)) return rd_fail(&s->rd, VTAG_ERR_NOMEM, "out of memory");
    return VTAG_OK;
}

void vtag_metrics_captions_free(vtag_metrics_captions *c)
{
    free(c->items);
    free(c->seqs);
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

int vtag_metrics_read_captions(const char *path, int need_cand, vtag_metrics_vocab *vocab,
                               vtag_metrics_captions *out, vtag_error *err)
{
    memset(out, 0, sizeof *out);
    cap_state s = {.vocab = vocab};
    buf items = {0};
    int rc = rd_open(&s.rd, path, err);
    while (!rc) {
        json_t *obj;
        rc = rd_next(&s.rd, &obj);
        if (rc || !obj) break;
        rc = cap_line(&s, obj, need_cand, &items);
        json_decref(obj);
    }
    if (!rc && items.len == 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no items", path);
    rd_close(&s.rd);
    int64_t n_sent = s.sent_off.len;
    int64_t end = s.tokens.len;
    if (!rc && buf_push(&s.sent_off, &end, sizeof end))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    if (!rc) {
        out->tokens = s.tokens.data;
        s.tokens.data = NULL;
        out->seqs = malloc(((size_t)n_sent + 1) * sizeof *out->seqs);
        out->items = malloc((size_t)items.len * sizeof *out->items);
        if (!out->seqs || !out->items) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!rc) {
        const int64_t *off = s.sent_off.data;
        for (int64_t i = 0; i < n_sent; i++)
            out->seqs[i] = (vtag_metrics_seq){out->tokens ? out->tokens + off[i] : NULL, off[i + 1] - off[i]};
        const cap_item *ci = items.data;
        for (int64_t i = 0; i < items.len; i++) {
            vtag_metrics_item *it = &out->items[i];
            it->cand = ci[i].cand >= 0 ? out->seqs[ci[i].cand] : (vtag_metrics_seq){NULL, 0};
            it->refs = out->seqs + ci[i].first_ref;
            it->n_refs = ci[i].n_refs;
        }
        out->n_items = items.len;
    }
    free(s.tokens.data);
    free(s.sent_off.data);
    free(items.data);
    if (rc) vtag_metrics_captions_free(out);
    return rc;
}

/* ---- multi-label -------------------------------------------------------------- */

typedef struct ml_raw {
    int64_t pred_off, n_pred, true_off, n_true; /* into labels */
} ml_raw;

typedef struct ml_state {
    reader rd;
    vtag_metrics_vocab *vocab;
    buf labels; /* int32_t: pred labels and true labels */
    buf scores; /* double: parallel to labels (0 for true labels) */
    buf mark;   /* int64_t per vocabulary id: last line that used it */
} ml_state;

static int ml_label(ml_state *s, json_t *v, const char *what, size_t index, double score, int64_t stamp)
{
    if (!json_is_string(v))
        return rd_fail(&s->rd, VTAG_ERR_FORMAT, "%s[%zu]: label is not a string", what, index);
    int32_t id;
    vtag_error e = {0};
    int rc = vtag_metrics_vocab_intern(s->vocab, json_string_value(v), json_string_length(v), &id, &e);
    if (rc) return rd_fail(&s->rd, rc, "%s", e.msg);
    int64_t none = -1;
    while (s->mark.len <= id)
        if (buf_push(&s->mark, &none, sizeof none)) return rd_fail(&s->rd, VTAG_ERR_NOMEM, "out of memory");
    int64_t *mark = s->mark.data;
    if (mark[id] == stamp)
        return rd_fail(&s->rd, VTAG_ERR_FORMAT, "%s: label \"%.80s\" appears twice", what, json_string_value(v));
    mark[id] = stamp;
    if (buf_push(&s->labels, &id, sizeof id) || buf_push(&s->scores, &score, sizeof score))
        return rd_fail(&s->rd, VTAG_ERR_NOMEM, "out of memory");
    return VTAG_OK;
}

static int ml_line(ml_state *s, json_t *obj, buf *items)
{
    static const char *const known[] = {"id", "pred", "true", NULL};
    int rc = rd_known_fields(&s->rd, obj, known);
    if (rc) return rc;
    json_t *pred = json_object_get(obj, "pred"), *truth = json_object_get(obj, "true");
    if (!pred) return rd_fail(&s->rd, VTAG_ERR_FORMAT, "missing field \"pred\"");
    if (!truth) return rd_fail(&s->rd, VTAG_ERR_FORMAT, "missing field \"true\"");
    if (!json_is_array(pred))
        return rd_fail(&s->rd, VTAG_ERR_FORMAT, "\"pred\" must be an array of [label, score] pairs");
    if (!json_is_array(truth)) return rd_fail(&s->rd, VTAG_ERR_FORMAT, "\"true\" must be an array of labels");
    ml_raw it = {.pred_off = s->labels.len, .n_pred = (int64_t)json_array_size(pred)};
    size_t i;
    json_t *pair;
    json_array_foreach(pred, i, pair) {
        if (!json_is_array(pair) || json_array_size(pair) != 2)
            return rd_fail(&s->rd, VTAG_ERR_FORMAT, "\"pred\"[%zu] must be a [label, score] pair", i);
        json_t *score = json_array_get(pair, 1);
        if (!json_is_number(score))
            return rd_fail(&s->rd, VTAG_ERR_FORMAT, "\"pred\"[%zu]: score is not a number", i);
        double sc = json_number_value(score);
        if (!isfinite(sc)) return rd_fail(&s->rd, VTAG_ERR_FORMAT, "\"pred\"[%zu]: score is not finite", i);
        /* a label's stamp: 2·line for predictions, 2·line + 1 for truth */
        rc = ml_label(s, json_array_get(pair, 0), "\"pred\"", i, sc, 2 * s->rd.lineno);
        if (rc) return rc;
    }
    it.true_off = s->labels.len;
    it.n_true = (int64_t)json_array_size(truth);
    json_t *lab;
    json_array_foreach(truth, i, lab) {
        rc = ml_label(s, lab, "\"true\"", i, 0.0, 2 * s->rd.lineno + 1);
        if (rc) return rc;
    }
    if (buf_push(items, &it, sizeof it)) return rd_fail(&s->rd, VTAG_ERR_NOMEM, "out of memory");
    return VTAG_OK;
}

void vtag_metrics_ml_set_free(vtag_metrics_ml_set *s)
{
    free(s->items);
    free(s->labels);
    free(s->scores);
    memset(s, 0, sizeof *s);
}

int vtag_metrics_read_multilabel(const char *path, vtag_metrics_vocab *vocab,
                                 vtag_metrics_ml_set *out, vtag_error *err)
{
    memset(out, 0, sizeof *out);
    ml_state s = {.vocab = vocab};
    buf items = {0};
    int rc = rd_open(&s.rd, path, err);
    while (!rc) {
        json_t *obj;
        rc = rd_next(&s.rd, &obj);
        if (rc || !obj) break;
        rc = ml_line(&s, obj, &items);
        json_decref(obj);
    }
    if (!rc && items.len == 0) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: no items", path);
    rd_close(&s.rd);
    if (!rc) {
        out->items = malloc((size_t)items.len * sizeof *out->items);
        if (!out->items) rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    if (!rc) {
        out->labels = s.labels.data;
        out->scores = s.scores.data;
        s.labels.data = s.scores.data = NULL;
        const ml_raw *r = items.data;
        for (int64_t i = 0; i < items.len; i++) {
            out->items[i] = (vtag_metrics_ml_item){
                .pred_labels = out->labels ? out->labels + r[i].pred_off : NULL,
                .pred_scores = out->scores ? out->scores + r[i].pred_off : NULL,
                .n_pred = r[i].n_pred,
                .true_labels = out->labels ? out->labels + r[i].true_off : NULL,
                .n_true = r[i].n_true,
            };
        }
        out->n_items = items.len;
    }
    free(s.labels.data);
    free(s.scores.data);
    free(s.mark.data);
    free(items.data);
    if (rc) vtag_metrics_ml_set_free(out);
    return rc;
}

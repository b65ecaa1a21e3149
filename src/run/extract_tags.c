/* vtag_tags_extract: a list of videos → the tagger → one JSON line each, in
 * list order. In a cluster every rank tags its own videos (i mod N) and sends
 * their lines to rank 0, which hands every line on in order (shard.h). */
#include <stdlib.h>
#include <string.h>

#include "shard.h"
#include "vtag/extract.h"

void vtag_tags_opts_defaults(vtag_tags_opts *o)
{
    memset(o, 0, sizeof *o);
    vtag_tag_opts_default(&o->tag);
}

/* ---- the list: the paths, then the list file's lines --------------------------------------- */

typedef struct source {
    const vtag_tags_opts *o;
    vtag_line ln;
    int end;        /* the list file is read to its end or to its error */
    int rc;         /* the list file's error (err), after the videos before it */
    int64_t next_path; /* o->paths[next_path] is listed next */
    vtag_error err;
    /* In a cluster: the whole list, rank 0's, on every rank. */
    char *blob;       /* the paths, each NUL-terminated */
    const char **all; /* (n_all) into blob */
    int64_t n_all;
    size_t blob_len;
} source;

/* The path of the next listed video, before the caller's skip. */
static const char *source_listed(source *s)
{
    if (s->next_path < s->o->n_paths) return s->o->paths[s->next_path++];
    if (!s->o->list || s->end) return NULL;
    const char *name = s->o->list_name ? s->o->list_name : "list";
    for (;;) {
        s->rc = vtag_line_read(&s->ln, s->o->list, name, VTAG_LINE_MAX, &s->err);
        if (s->rc || s->ln.len == 0) {
            s->end = 1;
            return NULL;
        }
        size_t n = strcspn(s->ln.data, "\r\n");
        s->ln.data[n] = 0;
        if (n) return s->ln.data;
    }
}

/* The path of video i, i one more than the last call's; NULL at the end.
 * Videos the caller skips (o->skip, rank 0) are not in the list. */
static const char *source_next(source *s, int64_t i)
{
    if (s->all) return i < s->n_all ? s->all[i] : NULL;
    const char *path;
    while ((path = source_listed(s)) && s->o->skip && s->o->skip(s->o->user, path)) {
    }
    return path;
}

/* s->all over blob's n paths. */
static int index_blob(source *s, int64_t n, vtag_error *err)
{
    size_t bytes;
    if (vtag_mul_size((size_t)(n ? n : 1), sizeof *s->all, &bytes) || !(s->all = malloc(bytes)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a list of %lld videos", (long long)n);
    const char *p = s->blob;
    for (int64_t i = 0; i < n; i++, p += strlen(p) + 1) s->all[i] = p;
    s->n_all = n;
    return VTAG_OK;
}

/* Rank 0: the whole list into blob (up to the list file's error, kept in s->rc). */
static int read_all(source *s, vtag_error *err)
{
    size_t cap = 0;
    int64_t n = 0;
    for (const char *path; (path = source_next(s, n)); n++) {
        const size_t len = strlen(path) + 1;
        if (s->blob_len + len > cap) {
            size_t want = cap ? cap : 4096;
            while (want < s->blob_len + len)
                if (vtag_mul_size(want, 2, &want)) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for the list");
            char *b = realloc(s->blob, want);
            if (!b) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a list of %lld videos", (long long)n);
            s->blob = b, cap = want;
        }
        memcpy(s->blob + s->blob_len, path, len);
        s->blob_len += len;
    }
    return index_blob(s, n, err);
}

/* Every rank: rank 0's whole list. */
static int share_list(source *s, shard *sh, vtag_error *err)
{
    int64_t head[2] = {0, 0}; /* paths, bytes */
    int rc = VTAG_OK;
    if (sh->rank == 0 && !(rc = read_all(s, err))) head[0] = s->n_all, head[1] = (int64_t)s->blob_len;
    int mrc = vtag_cluster_bcast(sh->c, head, sizeof head, 0, err);
    if (!mrc && !rc && sh->rank > 0 && !(s->blob = malloc((size_t)head[1] + 1)))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a list of %lld videos", (long long)head[0]);
    if (!mrc && (rc = shard_agree(sh, rc, err))) return rc;
    if (!mrc) mrc = vtag_cluster_bcast(sh->c, s->blob, (size_t)head[1], 0, err);
    if (mrc) {
        sh->broken = 1;
        return mrc;
    }
    return sh->rank > 0 ? index_blob(s, head[0], err) : VTAG_OK;
}

/* ---- one video ----------------------------------------------------------------------------- */

/* Tags path here: v's fields, and its line malloc'd in *line (v->line). */
static void tag_video(vtag_tagger_t *t, vtag_ctx *ctx, const vtag_tag_opts *topt, vtag_tags_video *v, char **line)
{
    const double t0 = vtag_seconds();
    vtag_tag_result out = {0};
    vtag_error lerr = {0};
    v->failed = vtag_tagger_tag(t, ctx, v->video, topt, &out, &v->stats, &v->err) != 0;
    int rc = v->failed ? vtag_tag_fail_result(&out, v->video, v->err.msg, &lerr) : VTAG_OK;
    if (!rc) rc = vtag_tag_to_json(&out, line, &lerr);
    if (rc) v->err = lerr; /* no line: why */
    vtag_tag_result_free(&out);
    v->line = *line;
    v->seconds = vtag_seconds() - t0;
}

/* A video's result from a rank to rank 0: this head, then the line's bytes
 * (has_line). The ranks of a job share one byte order. */
typedef struct line_head {
    int32_t failed, has_line, code;
    vtag_tagger_stats stats;
    double seconds;
    char msg[sizeof ((vtag_error *)0)->msg];
} line_head;

static int send_video(shard *sh, const vtag_tags_video *v, vtag_error *err)
{
    line_head h = {v->failed, v->line != NULL, v->err.code, v->stats, v->seconds, {0}};
    memcpy(h.msg, v->err.msg, sizeof h.msg);
    const size_t n = v->line ? strlen(v->line) : 0;
    char *msg = n <= SIZE_MAX - sizeof h ? malloc(sizeof h + n) : NULL;
    if (!msg) { /* the head alone: rank 0 has no line to give, and says why */
        h.has_line = 0, h.code = VTAG_ERR_NOMEM;
        snprintf(h.msg, sizeof h.msg, "%s: out of memory for its line", v->video);
        return shard_send(sh, &h, sizeof h, err);
    }
    memcpy(msg, &h, sizeof h);
    if (n) memcpy(msg + sizeof h, v->line, n);
    int rc = shard_send(sh, msg, sizeof h + n, err);
    free(msg);
    return rc;
}

/* Rank 0: video i from the rank that tagged it; v->line points into *buf. */
static int take_video(shard *sh, vtag_tags_video *v, void **buf, vtag_error *err)
{
    size_t len = 0;
    int rc = shard_recv(sh, v->index, buf, &len, err);
    if (rc) return rc;
    line_head h;
    if (len < sizeof h)
        return vtag_fail(err, VTAG_ERR_FORMAT, "rank %d sent a result of %zu bytes for %s", shard_owner(sh, v->index),
                         len, v->video);
    memcpy(&h, *buf, sizeof h);
    v->failed = h.failed != 0;
    v->stats = h.stats;
    v->seconds = h.seconds;
    v->err.code = h.code;
    memcpy(v->err.msg, h.msg, sizeof v->err.msg);
    v->err.msg[sizeof v->err.msg - 1] = 0;
    if (h.has_line) {
        char *b = realloc(*buf, len + 1); /* room for the line's NUL */
        if (!b) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for its line", v->video);
        *buf = b;
        b[len] = 0;
        v->line = b + sizeof h;
    }
    return VTAG_OK;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* Rank 0 (or one process): every video in list order, handed to video_done. */
static int gather(vtag_tagger_t *t, vtag_ctx *ctx, const vtag_tags_opts *o, shard *sh, source *src,
                  vtag_tags_result *res, vtag_error *err)
{
    for (int64_t i = 0;; i++) {
        vtag_tags_video v = {0};
        if (!(v.video = source_next(src, i))) break;
        v.index = i;
        char *line = NULL;
        void *buf = NULL;
        int rc = VTAG_OK;
        if (shard_mine(sh, i)) tag_video(t, ctx, &o->tag, &v, &line);
        else rc = take_video(sh, &v, &buf, err);
        if (!rc) {
            res->videos++, res->failed += v.failed;
            const int drc = o->video_done ? o->video_done(o->user, &v) : 0;
            if (drc) rc = vtag_fail(err, drc, "%s: stopped by the caller", v.video);
        }
        free(line);
        free(buf);
        if (rc) return rc;
    }
    if (src->rc && err) *err = src->err;
    return src->rc;
}

/* A rank other than 0: its videos, each line sent to rank 0 as soon as it is
 * made, until rank 0 says stop. */
static int serve(vtag_tagger_t *t, vtag_ctx *ctx, const vtag_tags_opts *o, shard *sh, const source *src,
                 vtag_error *err)
{
    int rc = VTAG_OK, stop = 0;
    for (int64_t i = sh->rank; i < src->n_all && !rc; i += sh->size) {
        if ((rc = shard_should_stop(sh, &stop, err)) || stop) break;
        vtag_tags_video v = {src->all[i], i, 0, {0}, NULL, {0}, 0};
        char *line = NULL;
        tag_video(t, ctx, &o->tag, &v, &line);
        rc = send_video(sh, &v, err);
        free(line);
    }
    return rc;
}

int vtag_tags_extract(vtag_tagger_t *t, vtag_ctx *ctx, const vtag_tags_opts *o, vtag_tags_result *res,
                      vtag_error *err)
{
    vtag_tags_result mine = {0, 0};
    shard sh;
    shard_init(&sh, o->cluster);
    source src;
    memset(&src, 0, sizeof src);
    src.o = o;
    int rc = sh.size > 1 ? share_list(&src, &sh, err) : VTAG_OK;
    if (rc) goto done;
    rc = sh.rank == 0 ? gather(t, ctx, o, &sh, &src, &mine, err) : serve(t, ctx, o, &sh, &src, err);
    vtag_error ferr = {0};
    int mrc = sh.broken ? VTAG_OK : shard_finish(&sh, &ferr);
    if (!mrc && !sh.broken) mrc = vtag_cluster_bcast(sh.c, &mine, sizeof mine, 0, &ferr); /* rank 0's counts */
    if (mrc || sh.broken) { /* the ranks no longer meet: the caller ends the job */
        sh.broken = 1;
        if (mrc && err) *err = ferr;
        rc = mrc ? mrc : rc;
        goto done;
    }
    rc = shard_agree(&sh, rc, err);
done:
    if (res) *res = mine;
    vtag_line_free(&src.ln);
    free(src.blob);
    free(src.all);
    return rc;
}

/* The string API (api.h): vtag tag's and vtag score's work behind calls that
 * take paths and give back the CLI's JSON, for ctypes and small programs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/api.h"
#include "vtag/extract.h"
#include "vtag/metrics.h"
#include "vtag/tagger.h"
#include "vtag/video.h"

const char *vtag_api_version(void) { return VTAG_VERSION; }

void vtag_api_set_video_log(int verbose)
{
    vtag_video_set_log(verbose ? VTAG_VIDEO_LOG_WARNING : VTAG_VIDEO_LOG_QUIET);
}

void vtag_api_free(void *p) { free(p); }

struct vtag_api_tagger {
    vtag_ctx ctx;
    vtag_tagger_t *tagger;
    vtag_tag_opts tag;
};

void vtag_api_tagger_opts_defaults(vtag_api_tagger_opts *o)
{
    memset(o, 0, sizeof *o);
    o->top_n = -1, o->min_frames = -1, o->min_score = -1;
}

/* The checks of vtag tag's options, with its messages. */
static int check_opts(const vtag_api_tagger_opts *o, vtag_error *err)
{
    if (o->dir ? (o->checkpoint || o->backbone) : (!o->checkpoint || !o->backbone))
        return vtag_fail(err, VTAG_ERR_ARG, "give a run folder (dir), or a checkpoint and a backbone");
    if (o->model && !o->dir)
        return vtag_fail(err, VTAG_ERR_ARG, "model picks one of a pipeline's models: it needs dir");
    if (o->top_n >= 0 && o->min_frames >= 0)
        return vtag_fail(err, VTAG_ERR_ARG, "top_n and min_frames exclude each other");
    if (o->size != 0 && (o->size < 16 || o->size > 4096))
        return vtag_fail(err, VTAG_ERR_ARG, "size %lld is outside 16..4096", (long long)o->size);
    if (o->beam < 0 || o->beam > 64) return vtag_fail(err, VTAG_ERR_ARG, "beam %d is outside 1..64", o->beam);
    if (o->min_score != -1 && !(o->min_score >= 0 && o->min_score <= 1))
        return vtag_fail(err, VTAG_ERR_ARG, "min_score %g is outside [0, 1]", o->min_score);
    if (o->threads < 0 || o->threads > 1024)
        return vtag_fail(err, VTAG_ERR_ARG, "threads %d is outside 1..1024", o->threads);
    return VTAG_OK;
}

int vtag_api_tagger_open(vtag_api_tagger **out, const vtag_api_tagger_opts *o, vtag_error *err)
{
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc) return rc;
    vtag_tagger_options to;
    vtag_tagger_options_default(&to);
    to.dir = o->dir, to.model = o->model, to.checkpoint = o->checkpoint, to.backbone = o->backbone;
    to.size = o->size, to.beam = o->beam;
    vtag_video_sampler sampler;
    vtag_video_sampler_default(&sampler);
    if (o->sample) {
        vtag_error serr = {0};
        if (vtag_video_sampler_parse(&sampler, o->sample, &serr))
            return vtag_fail(err, VTAG_ERR_ARG, "sample: %s", serr.msg);
        to.sampler = &sampler;
    }
    vtag_api_tagger *t = calloc(1, sizeof *t);
    if (!t) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a tagger");
    vtag_tag_opts_default(&t->tag);
    if (o->top_n >= 0) t->tag.rule = VTAG_TAG_RULE_TOP_N, t->tag.top_n = o->top_n;
    if (o->min_frames >= 0) t->tag.rule = VTAG_TAG_RULE_MIN_FRAMES, t->tag.min_frames = o->min_frames;
    if (o->min_score >= 0) t->tag.min_score = o->min_score;
    rc = vtag_ctx_init(&t->ctx, o->threads, 42, err); /* vtag tag's seed */
    if (!rc) rc = vtag_tagger_open(&t->tagger, &t->ctx, &to, err);
    if (rc) {
        vtag_api_tagger_close(&t);
        return rc;
    }
    *out = t;
    return VTAG_OK;
}

typedef struct one_line {
    char *line;
    int failed;
    vtag_error err;
} one_line;

static int take_line(void *user, const vtag_tags_video *v)
{
    one_line *o = user;
    o->failed = v->failed || !v->line;
    o->err = v->err;
    if (v->line && !(o->line = strdup(v->line)))
        return vtag_fail(&o->err, VTAG_ERR_NOMEM, "%s: out of memory for its line", v->video);
    return VTAG_OK;
}

/* The video goes through vtag_tags_extract, as in vtag tag, so that the line is the CLI's. */
int vtag_api_tagger_tag(vtag_api_tagger *t, const char *path, char **line, vtag_error *err)
{
    *line = NULL;
    if (!t || !path) return vtag_fail(err, VTAG_ERR_ARG, "no tagger or no video path");
    one_line got = {NULL, 0, {0}};
    vtag_tags_opts o;
    vtag_tags_opts_defaults(&o);
    o.tag = t->tag, o.paths = &path, o.n_paths = 1;
    o.video_done = take_line, o.user = &got;
    int rc = vtag_tags_extract(t->tagger, &t->ctx, &o, NULL, err);
    if (rc) {
        if (got.err.code) *err = got.err; /* take_line's own failure says more than "stopped" */
        free(got.line);
        return rc;
    }
    *line = got.line;
    if (got.failed) {
        *err = got.err;
        return got.err.code ? got.err.code : VTAG_ERR_FORMAT;
    }
    return VTAG_OK;
}

void vtag_api_tagger_close(vtag_api_tagger **t)
{
    if (!t || !*t) return;
    vtag_tagger_close(&(*t)->tagger);
    vtag_ctx_free(&(*t)->ctx);
    free(*t);
    *t = NULL;
}

/* ---- scores ------------------------------------------------------------------------------ */

/* The object vtag score prints, from its numbers (the same "%.17g"). */
static int score_json(const vtag_metrics_caption_scores *sc, const double *per_item, char **json, vtag_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for the scores");
    fprintf(f, "{\"n\": %lld, \"CIDEr-D\": %.17g, \"BLEU-1\": %.17g, \"BLEU-2\": %.17g, \"BLEU-3\": %.17g, "
               "\"BLEU-4\": %.17g",
            (long long)sc->n, sc->cider_d, sc->bleu[0], sc->bleu[1], sc->bleu[2], sc->bleu[3]);
    if (per_item) {
        fputs(", \"per_item\": [", f);
        for (int64_t i = 0; i < sc->n; i++) fprintf(f, "%s%.17g", i ? ", " : "", per_item[i]);
        fputc(']', f);
    }
    fputc('}', f);
    const int bad = ferror(f);
    if (fclose(f) || bad) {
        free(buf);
        return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for the scores");
    }
    *json = buf;
    return VTAG_OK;
}

int vtag_api_score_captions(const char *in_path, const char *df_path, int per_item, char **json,
                            vtag_error *err)
{
    *json = NULL;
    if (!in_path) return vtag_fail(err, VTAG_ERR_ARG, "no score input file");
    vtag_metrics_vocab vocab;
    vtag_metrics_vocab_init(&vocab);
    vtag_metrics_captions caps = {0}, dfc = {0};
    vtag_metrics_df df;
    vtag_metrics_df_init(&df);
    double *items = NULL;
    int rc = vtag_metrics_read_captions(in_path, 1, &vocab, &caps, err);
    if (!rc && df_path) rc = vtag_metrics_read_captions(df_path, 0, &vocab, &dfc, err);
    const vtag_metrics_captions *src = df_path ? &dfc : &caps;
    for (int64_t i = 0; !rc && i < src->n_items; i++)
        rc = vtag_metrics_df_add(&df, src->items[i].refs, src->items[i].n_refs, err);
    if (!rc) rc = vtag_metrics_df_finish(&df, err);
    size_t bytes = 0;
    if (!rc && (vtag_mul_size((size_t)(caps.n_items ? caps.n_items : 1), sizeof *items, &bytes) ||
                !(items = malloc(bytes))))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for %lld scores", in_path, (long long)caps.n_items);
    vtag_metrics_caption_scores sc;
    if (!rc) rc = vtag_metrics_score_captions(&df, caps.items, caps.n_items, items, &sc, err);
    if (!rc) rc = score_json(&sc, per_item ? items : NULL, json, err);
    free(items);
    vtag_metrics_df_free(&df);
    vtag_metrics_captions_free(&dfc);
    vtag_metrics_captions_free(&caps);
    vtag_metrics_vocab_free(&vocab);
    return rc;
}

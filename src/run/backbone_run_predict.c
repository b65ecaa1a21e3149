/* One video through the built-in backbone: its frames' label probabilities,
 * the video's scores (the mean of its frames' sigmoids), and the JSON line of
 * `vtag backbone predict`; the list of videos to its output (--output, --format). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/backbone_run.h"
#include "vtag/tag.h"

/* Descending score, ties by output: a total order, so qsort's result is the same everywhere. */
static int by_score(const void *pa, const void *pb)
{
    const vtag_builtin_score *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return a->label < b->label ? -1 : a->label > b->label;
}

void vtag_builtin_prediction_free(vtag_builtin_prediction *p)
{
    free(p->labels);
    free(p->pts);
    free(p->frames);
    memset(p, 0, sizeof *p);
}

int vtag_builtin_predictor_open(vtag_builtin_predictor *pr, const char *path, int threads, vtag_error *err)
{
    memset(pr, 0, sizeof *pr);
    int rc = vtag_builtin_load(&pr->model, path, err);
    if (rc) return rc;
    if ((rc = vtag_ctx_init(&pr->ctx, threads, 1, err))) {
        vtag_builtin_free(&pr->model);
        return rc;
    }
    if ((rc = vtag_builtin_infer_build(&pr->inf, &pr->model, err))) vtag_builtin_predictor_close(pr);
    return rc;
}

void vtag_builtin_predictor_close(vtag_builtin_predictor *pr)
{
    vtag_builtin_infer_free(&pr->inf);
    vtag_builtin_free(&pr->model);
    vtag_ctx_free(&pr->ctx);
    memset(pr, 0, sizeof *pr);
}

int vtag_builtin_predict_video(vtag_builtin_predictor *pr, const char *path, const vtag_video_sampler *smp,
                               int64_t top, vtag_builtin_prediction *p, vtag_error *err)
{
    memset(p, 0, sizeof *p);
    const vtag_builtin *m = &pr->model;
    const int64_t V = m->cfg.n_labels;
    vtag_builtin_frames f;
    float *probs = NULL;
    vtag_builtin_score *s = NULL;
    size_t cells = 0, bytes = 0;
    int rc = vtag_builtin_load_video(&f, path, smp, m->cfg.size, err);
    if (rc) return rc;
    p->n_labels = V;
    p->n_frames = f.n;
    p->top = top < V ? top : V;
    if (vtag_mul_size((size_t)f.n, (size_t)V, &cells) || vtag_mul_size(cells, sizeof *probs, &bytes) ||
        !(probs = malloc(bytes)) || !(s = malloc((size_t)V * sizeof *s)) ||
        !(p->labels = malloc((size_t)V * sizeof *p->labels)) || !(p->pts = malloc((size_t)f.n * sizeof *p->pts)) ||
        vtag_mul_size((size_t)f.n, (size_t)p->top, &cells) || vtag_mul_size(cells, sizeof *p->frames, &bytes) ||
        !(p->frames = malloc(bytes ? bytes : 1))) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = vtag_builtin_predict_frames(&pr->ctx, &pr->inf, &f, 16, probs, err))) goto done;
    for (int64_t i = 0; i < f.n; i++) {
        for (int64_t k = 0; k < V; k++) s[k] = (vtag_builtin_score){k, m->labels[k], probs[i * V + k]};
        qsort(s, (size_t)V, sizeof *s, by_score);
        memcpy(p->frames + i * p->top, s, (size_t)p->top * sizeof *s);
        p->pts[i] = f.pts[i];
    }
    for (int64_t k = 0; k < V; k++) {
        double sum = 0;
        for (int64_t i = 0; i < f.n; i++) sum += probs[i * V + k];
        p->labels[k] = (vtag_builtin_score){k, m->labels[k], sum / (double)f.n};
    }
    qsort(p->labels, (size_t)V, sizeof *p->labels, by_score);
done:
    if (rc) vtag_builtin_prediction_free(p);
    free(s);
    free(probs);
    vtag_builtin_free_frames(&f);
    return rc;
}

/* [{"label": L, "score": s}, ...]; NULL when a label is not UTF-8 (the list
 * fails, never drops it). */
static json_t *label_list(const vtag_builtin_score *s, int64_t n)
{
    json_t *arr = json_array();
    int bad = !arr;
    for (int64_t k = 0; !bad && k < n; k++)
        bad = json_array_append_new(arr, json_pack("{s:s, s:f}", "label", s[k].name, "score",
                                                   round(s[k].score * 1e6) / 1e6)) != 0;
    if (bad) json_decref(arr);
    return bad ? NULL : arr;
}

int vtag_builtin_prediction_format(const vtag_builtin_prediction *p, const char *video, char **line, vtag_error *err)
{
    *line = NULL;
    json_t *frames = json_array();
    int bad = !frames;
    for (int64_t i = 0; !bad && i < p->n_frames; i++)
        bad = json_array_append_new(frames, json_pack("{s:f, s:o}", "pts_seconds", round(p->pts[i] * 1e6) / 1e6,
                                                      "labels", label_list(p->frames + i * p->top, p->top))) != 0;
    if (bad) { /* then root is NULL: "cannot format the result" */
        json_decref(frames);
        frames = NULL;
    }
    json_t *root = json_pack("{s:s, s:o, s:o}", "video", video, "labels", label_list(p->labels, p->n_labels), "frames",
                             frames);
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(root);
    if (!s) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot format the result", video);
    const size_t n = strlen(s);
    if (n > VTAG_TAG_LINE_MAX) { /* eval --baseline would refuse it */
        free(s);
        return vtag_fail(err, VTAG_ERR_ARG,
                         "%s: the prediction line would be %zu bytes, past the %zu MiB eval --baseline reads "
                         "(%lld frames: sample fewer)", video, n, VTAG_TAG_LINE_MAX >> 20, (long long)p->n_frames);
    }
    *line = s;
    return VTAG_OK;
}

char *vtag_builtin_prediction_error_format(const char *video, const char *msg)
{
    json_t *o = json_pack("{s:s, s:s}", "video", video, "error", msg);
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return line;
}

int vtag_builtin_predict_line(vtag_builtin_predictor *pr, const char *video, const vtag_video_sampler *smp, int64_t top,
                              char **line, vtag_error *err)
{
    vtag_builtin_prediction p;
    *line = NULL;
    int rc = vtag_builtin_predict_video(pr, video, smp, top, &p, err);
    if (!rc) rc = vtag_builtin_prediction_format(&p, video, line, err);
    vtag_builtin_prediction_free(&p);
    if (rc) *line = vtag_builtin_prediction_error_format(video, err->msg);
    return rc;
}

int vtag_builtin_predict_run(const vtag_builtin_predict_opts *o, const char *const *videos, int64_t n,
                             int64_t *n_failed, vtag_error *err)
{
    *n_failed = 0;
    vtag_output_opts oo = o->output;
    vtag_output_opts_records(&oo, VTAG_OUTPUT_PREDICTIONS);
    vtag_builtin_predictor pr;
    int rc = vtag_builtin_predictor_open(&pr, o->backbone, o->threads, err);
    if (rc) return rc;
    vtag_output *out = NULL;
    rc = vtag_output_open(&out, &oo, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        if (vtag_output_skip(out, videos[i])) continue; /* its line is kept from before */
        char *line = NULL; /* the video's prediction, or its error line */
        vtag_error verr = {0};
        if (vtag_builtin_predict_line(&pr, videos[i], &o->sample, o->top, &line, &verr)) {
            ++*n_failed;
            if (o->failed) o->failed(o->user, &verr);
        }
        if (line) rc = vtag_output_write(out, line, err); /* none: failed (and said) without a line */
        free(line);
    }
    vtag_error cerr = {0};
    const int crc = vtag_output_close(&out, !rc, &cerr);
    if (!rc && crc) {
        if (err) *err = cerr;
        rc = crc;
    }
    vtag_builtin_predictor_close(&pr);
    return rc;
}

/* The tag output line (docs/FORMATS.md "Tag output"): one JSON object per
 * video, written through jansson so that every label is escaped correctly. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/tag.h"

/* Ten significant digits: scores k/F and times read back to well under a
 * frame, without coco-style 17-digit noise (0.1 → 0.10000000000000001). */
#define TAG_JSON_FLAGS (JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *label_list(const vtag_tag_label *l, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; a && i < n; i++) {
        json_t *o = json_object();
        if (!o) {
            json_decref(a);
            return NULL;
        }
        /* set_new and append_new take the reference even when they fail */
        int bad = json_object_set_new(o, "label", json_string(l[i].label)) |
                  json_object_set_new(o, "frames", json_integer(l[i].frames)) |
                  json_object_set_new(o, "score", json_real(l[i].score));
        if (json_array_append_new(a, o) || bad) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *frame_list(const vtag_tag_frame *f, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; a && i < n; i++) {
        json_t *o = json_object(), *t = json_array();
        int bad = !o || !t;
        for (int64_t k = 0; !bad && k < f[i].n_tokens; k++) bad = json_array_append_new(t, json_string(f[i].tokens[k]));
        if (bad) {
            json_decref(t);
            json_decref(o);
            json_decref(a);
            return NULL;
        }
        /* set_new and append_new take the reference even when they fail */
        bad = json_object_set_new(o, "pts_seconds", json_real(f[i].pts_seconds)) |
              json_object_set_new(o, "tokens", t);
        if (json_array_append_new(a, o) || bad) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int vtag_tag_to_json(const vtag_tag_result *r, char **line, vtag_error *err)
{
    *line = NULL;
    json_t *o = json_object();
    const char *video = r->video ? r->video : "";
    char shown[4096];
    /* A name that is not UTF-8 cannot be a JSON string: a video that failed for
     * that reason still gets its error line, its name escaped (\xNN). */
    if (r->error && vtag_utf8_valid_prefix(video, strlen(video)) != strlen(video)) {
        vtag_text_escape(shown, sizeof shown, video);
        video = shown;
    }
    int bad = !o || json_object_set_new(o, "video", json_string(video));
    if (r->error) {
        bad = bad || json_object_set_new(o, "error", json_string(r->error));
    } else {
        bad = bad || (r->model && json_object_set_new(o, "model", json_string(r->model))) ||
              (r->backbone && json_object_set_new(o, "backbone", json_string(r->backbone))) ||
              json_object_set_new(o, "class1", str_or_null(r->class1)) ||
              json_object_set_new(o, "class2", str_or_null(r->class2)) ||
              json_object_set_new(o, "unknown", json_boolean(r->unknown)) ||
              (r->novelty >= 0 && json_object_set_new(o, "novelty", json_real(round(r->novelty * 1e4) / 1e4))) ||
              json_object_set_new(o, "tags", label_list(r->tags, r->n_tags)) ||
              json_object_set_new(o, "labels", label_list(r->labels, r->n_labels)) ||
              json_object_set_new(o, "frames", frame_list(r->frames, r->n_frames)) ||
              (r->damaged_packets >= 0 && json_object_set_new(o, "damaged_packets", json_integer(r->damaged_packets)));
    }
    if (!bad) *line = json_dumps(o, TAG_JSON_FLAGS);
    json_decref(o);
    /* jansson refuses strings that are not UTF-8: say so rather than "memory". */
    if (!*line) return vtag_fail(err, VTAG_ERR_ARG, "%s: cannot encode the tag line (invalid UTF-8 or out of memory)",
                                 r->video ? r->video : "?");
    size_t len = strlen(*line);
    if (len > VTAG_TAG_LINE_MAX) { /* vtag_tag_read would refuse it */
        free(*line);
        *line = NULL;
        return vtag_fail(err, VTAG_ERR_ARG, "%s: the tag line would be %zu bytes, past the %zu MiB a tag file's line "
                         "may have (%lld frames: sample fewer)", r->video ? r->video : "?", len, VTAG_TAG_LINE_MAX >> 20,
                         (long long)r->n_frames);
    }
    return VTAG_OK;
}

int vtag_tag_write(FILE *f, const vtag_tag_result *r, vtag_error *err)
{
    char *line;
    int rc = vtag_tag_to_json(r, &line, err);
    if (rc) return rc;
    int bad = fputs(line, f) < 0 || fputc('\n', f) == EOF || fflush(f) != 0;
    free(line);
    if (bad) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot write the tag line: %s", r->video, strerror(errno));
    return VTAG_OK;
}

/* vtag_tag_result: one video's tagging held in a single allocation (arrays,
 * then every string), so a result is freed with one call and can be moved
 * by copying the struct. */
#include <stdlib.h>
#include <string.h>

#include "vtag/tag.h"

static size_t str_size(const char *s) { return s ? strlen(s) + 1 : 0; }

/* Copies s into *chars and advances it; NULL stays NULL. */
static const char *put_str(char **chars, const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*chars, s, n);
    const char *out = *chars;
    *chars += n;
    return out;
}

static int check_labels(const vtag_tag_label *l, int64_t n, const char *what, vtag_error *err)
{
    if (n < 0 || (n > 0 && !l)) return vtag_fail(err, VTAG_ERR_ARG, "tag result: bad %s list", what);
    for (int64_t i = 0; i < n; i++)
        if (!l[i].label || !l[i].label[0]) return vtag_fail(err, VTAG_ERR_ARG, "tag result: empty label in %s", what);
    return VTAG_OK;
}

/* The strings a result names besides its labels and frames. */
typedef struct names {
    const char *video, *error, *class1, *class2, *model, *backbone;
} names;

static int result_alloc(vtag_tag_result *r, const names *nm, const vtag_tag_label *labels, int64_t n_labels,
                        const vtag_tag_label *tags, int64_t n_tags, const vtag_tag_frame *frames,
                        int64_t n_frames, vtag_error *err)
{
    const char *video = nm->video;
    memset(r, 0, sizeof *r);
    r->damaged_packets = -1;
    r->novelty = -1;
    if (!video || !video[0]) return vtag_fail(err, VTAG_ERR_ARG, "tag result: empty video name");
    int rc = check_labels(labels, n_labels, "labels", err);
    if (!rc) rc = check_labels(tags, n_tags, "tags", err);
    if (rc) return rc;
    if (n_frames < 0 || (n_frames > 0 && !frames)) return vtag_fail(err, VTAG_ERR_ARG, "tag result: bad frame list");
    int64_t n_tok = 0;
    size_t chars = str_size(video) + str_size(nm->error) + str_size(nm->class1) + str_size(nm->class2) +
                   str_size(nm->model) + str_size(nm->backbone);
    for (int64_t i = 0; i < n_labels; i++) chars += str_size(labels[i].label);
    for (int64_t i = 0; i < n_tags; i++) chars += str_size(tags[i].label);
    for (int64_t f = 0; f < n_frames; f++) {
        if (frames[f].n_tokens < 0 || (frames[f].n_tokens > 0 && !frames[f].tokens))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: bad token list", video, (long long)f);
        for (int64_t t = 0; t < frames[f].n_tokens; t++) {
            if (!frames[f].tokens[t] || !frames[f].tokens[t][0])
                return vtag_fail(err, VTAG_ERR_ARG, "%s: frame %lld: empty label", video, (long long)f);
            chars += str_size(frames[f].tokens[t]);
        }
        n_tok += frames[f].n_tokens;
    }
    size_t head = (size_t)(n_labels + n_tags) * sizeof(vtag_tag_label) + (size_t)n_frames * sizeof(vtag_tag_frame) +
                  (size_t)n_tok * sizeof(const char *);
    char *mem = malloc(head + chars);
    if (!mem) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", video);
    r->storage = mem;
    vtag_tag_label *lab = (vtag_tag_label *)mem;
    vtag_tag_label *tg = lab + n_labels;
    vtag_tag_frame *fr = (vtag_tag_frame *)(tg + n_tags);
    const char **tok = (const char **)(fr + n_frames);
    char *c = mem + head;
    r->video = put_str(&c, video);
    r->error = put_str(&c, nm->error);
    r->class1 = put_str(&c, nm->class1);
    r->class2 = put_str(&c, nm->class2);
    r->model = put_str(&c, nm->model);
    r->backbone = put_str(&c, nm->backbone);
    for (int64_t i = 0; i < n_labels; i++) lab[i] = (vtag_tag_label){put_str(&c, labels[i].label), labels[i].frames, labels[i].score};
    for (int64_t i = 0; i < n_tags; i++) tg[i] = (vtag_tag_label){put_str(&c, tags[i].label), tags[i].frames, tags[i].score};
    for (int64_t f = 0; f < n_frames; f++) {
        fr[f] = (vtag_tag_frame){frames[f].pts_seconds, tok, frames[f].n_tokens};
        for (int64_t t = 0; t < frames[f].n_tokens; t++) *tok++ = put_str(&c, frames[f].tokens[t]);
    }
    r->labels = n_labels ? lab : NULL;
    r->n_labels = n_labels;
    r->tags = n_tags ? tg : NULL;
    r->n_tags = n_tags;
    r->frames = n_frames ? fr : NULL;
    r->n_frames = n_frames;
    return VTAG_OK;
}

int vtag_tag_result_make(vtag_tag_result *r, const char *video, const char *class1, const char *class2,
                         const vtag_tag_label *labels, int64_t n_labels, const vtag_tag_label *tags,
                         int64_t n_tags, const vtag_tag_frame *frames, int64_t n_frames, vtag_error *err)
{
    if ((class1 && !class1[0]) || (class2 && !class2[0]))
        return vtag_fail(err, VTAG_ERR_ARG, "%s: empty class label", video ? video : "?");
    names nm = {video, NULL, class1, class2, NULL, NULL};
    return result_alloc(r, &nm, labels, n_labels, tags, n_tags, frames, n_frames, err);
}

/* A copy of r with other labels, tags and source (everything else kept). */
static int remake(vtag_tag_result *r, const names *nm, const vtag_tag_label *labels, int64_t n_labels,
                  const vtag_tag_label *tags, int64_t n_tags, int unknown, vtag_error *err)
{
    vtag_tag_result out;
    int rc = result_alloc(&out, nm, labels, n_labels, tags, n_tags, r->frames, r->n_frames, err);
    if (rc) return rc;
    out.damaged_packets = r->damaged_packets;
    out.novelty = r->novelty;
    out.unknown = unknown;
    vtag_tag_result_free(r);
    *r = out;
    return VTAG_OK;
}

void vtag_tag_set_novelty(vtag_tag_result *r, double novelty)
{
    if (r->error) return;
    r->novelty = novelty;
    if (novelty > 1) { /* the tags stay in the labels, ranked */
        r->unknown = 1;
        r->tags = NULL;
        r->n_tags = 0;
    }
}

int vtag_tag_result_set_source(vtag_tag_result *r, const char *model, const char *backbone, vtag_error *err)
{
    if (r->error) return VTAG_OK; /* an error line names the video only */
    names nm = {r->video, NULL, r->class1, r->class2, model, backbone};
    return remake(r, &nm, r->labels, r->n_labels, r->tags, r->n_tags, r->unknown, err);
}

int vtag_tag_result_relabel(vtag_tag_result *r, const vtag_tag_label *labels, int64_t n_labels,
                            const vtag_tag_label *tags, int64_t n_tags, int unknown, vtag_error *err)
{
    names nm = {r->video, NULL, r->class1, r->class2, r->model, r->backbone};
    return remake(r, &nm, labels, n_labels, tags, n_tags, unknown, err);
}

int vtag_tag_fail_result(vtag_tag_result *r, const char *video, const char *error, vtag_error *err)
{
    names nm = {video, error && error[0] ? error : "failed", NULL, NULL, NULL, NULL};
    return result_alloc(r, &nm, NULL, 0, NULL, 0, NULL, 0, err);
}

void vtag_tag_result_free(vtag_tag_result *r)
{
    if (!r) return;
    free(r->storage);
    memset(r, 0, sizeof *r);
}

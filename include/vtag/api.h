/* The string API: a few calls that take paths and plain numbers and give
 * back JSON text, for bindings that call libvtag.so through a foreign-function
 * interface (python/vtag over ctypes) and for small programs
 * (docs/examples/tag_one.c). The JSON is the CLI's own: a tagger's line is
 * the line `vtag tag` prints, a score object the one `vtag score` prints.
 * Every string handed out is malloc'd; free it with vtag_api_free. */
#ifndef VTAG_API_H
#define VTAG_API_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0": the library's version (VTAG_VERSION), for a binding to check. */
const char *vtag_api_version(void);

/* FFmpeg's own log on stderr: 0 quiet (the CLI's default), 1 warnings and
 * errors. FFmpeg's setting is process-wide: set it before opening a tagger. */
void vtag_api_set_video_log(int verbose);

typedef struct vtag_api_tagger vtag_api_tagger;

/* What vtag tag's options choose. Strings may be NULL (unset). */
typedef struct vtag_api_tagger_opts {
    const char *dir;        /* a pipeline folder (vtag tag --from DIR) */
    const char *model;      /* which of its models (--model; NULL: the best on validation) */
    const char *checkpoint; /* or a checkpoint (--checkpoint) and a backbone file (--backbone) */
    const char *backbone;
    const char *sample;     /* --sample SPEC (NULL: the pipeline's, else uniform:16) */
    int64_t size;           /* --size (0: the backbone's) */
    int beam;               /* --beam K (0 or 1: greedy) */
    int threads;            /* --threads (0: every core) */
    int64_t top_n;          /* --top-n N (default 10); -1: unset */
    int64_t min_frames;     /* --min-frames C (instead of top_n); -1 (default): unset */
    double min_score;       /* --min-score P in [0, 1] (default 0.25); -1: unset */
} vtag_api_tagger_opts;

void vtag_api_tagger_opts_defaults(vtag_api_tagger_opts *o);

/* Loads the backbone, caption model and vocabulary once. The option
 * combinations vtag tag refuses are VTAG_ERR_ARG with its message. A tagger
 * serves one thread at a time (open one per thread to tag in parallel). */
int vtag_api_tagger_open(vtag_api_tagger **out, const vtag_api_tagger_opts *o, vtag_error *err);
/* Tags one video: *line is the JSON line (no newline) that vtag tag with the
 * same options prints for it. A video that cannot be tagged returns its error
 * (err) and still sets *line, to its {"video", "error"} line; *line is NULL
 * only when no line could be made. */
int vtag_api_tagger_tag(vtag_api_tagger *t, const char *path, char **line, vtag_error *err);
void vtag_api_tagger_close(vtag_api_tagger **t);

/* CIDEr-D and BLEU-1..4 of the captions of in_path (docs/FORMATS.md "Score
 * input": lines {"id", "cand", "refs"}), document frequencies from df_path's
 * "refs" (NULL: in_path's own), as `vtag score --in in_path [--df-from
 * df_path] [--per-item]`: *json is the object it prints, {"n", "CIDEr-D",
 * "BLEU-1", …, "BLEU-4"[, "per_item"]}, without the newline. */
int vtag_api_score_captions(const char *in_path, const char *df_path, int per_item, char **json,
                            vtag_error *err);

void vtag_api_free(void *p);

#ifdef __cplusplus
}
#endif
#endif

/* vtag caption's output (docs/FORMATS.md, "Captions"): a features file's rows
 * checked against a captioner, and one caption as a JSON line. */
#ifndef VTAG_CAPTION_OUT_H
#define VTAG_CAPTION_OUT_H

#include <stdint.h>

#include "vtag/captioner.h"
#include "vtag/core.h"
#include "vtag/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the features file at path as c's model captions it: as it is for a
 * frame-level model, one row per video (vtag_data_features_by_video with
 * T = frames) for a video-level one; the reader's errors. Free f with
 * vtag_data_free_features. */
int vtag_caption_out_read(const vtag_captioner *c, const char *path, vtag_data_features *f, vtag_error *err);

/* Checks that the rows of f fit c's model: "F: fc has N features per row,
 * the model M expects K" (att: "… per position …"). A part the model does
 * not use is not checked. */
int vtag_caption_out_check(const vtag_captioner *c, const vtag_data_features *f, vtag_error *err);

/* The JSON line (no newline) of row `row` of a features file, malloc'd:
 * {"item", "row", "tokens": [labels], "logprobs": [log p of each label, then
 * of EOS]}. ids (len of them) are c's label ids; logprobs holds
 * max_length + 1 values, the first min(len, max_length) + 1 written. A
 * label that is not valid UTF-8 (or no memory) is "SOURCE: row R: cannot
 * encode its line (invalid UTF-8 or out of memory)". */
int vtag_caption_out_json(char **line, const vtag_captioner *c, const char *item, int64_t row, const int32_t *ids,
                          int32_t len, const float *logprobs, const char *source, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

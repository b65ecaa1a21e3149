/* The staging folder of vtag_frames_extract (frames_stage.c): a run's PNGs
 * and index are written into DIR/.frames.XXXXXX and moved into DIR at the end. */
#ifndef FRAMES_STAGE_H
#define FRAMES_STAGE_H

#include "vtag/core.h"

/* mkdir -p out_dir, then a fresh staging folder inside it; *stage is malloc'd. */
int frames_stage_open(const char *out_dir, char **stage, vtag_error *err);
/* Moves the staged PNGs and frames.jsonl into out_dir, replacing the previous
 * run's: the old index goes, the new PNGs come in, then the new index, then
 * the PNGs only the old index named are removed. */
int frames_stage_commit(const char *out_dir, const char *stage, vtag_error *err);
/* Empties and removes the staging folder; frees *stage and NULLs it. */
void frames_stage_drop(char **stage);

#endif

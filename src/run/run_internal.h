/* Private to src/run: what the pipeline's plan (plan.c) and its dry run
 * (estimate.c) share. */
#ifndef VTAG_RUN_INTERNAL_H
#define VTAG_RUN_INTERNAL_H

#include <stdint.h>

#include "vtag/core.h"
#include "vtag/data.h"

/* Writes the entries i of l with take[i] set to path as JSON Lines (each
 * video as its resolved path, so the file may live in another folder), with
 * vtag_atomic_write; videos[split] counts them (added to). */
int vtag_run_labels_write(const char *path, const vtag_data_labels *l, const unsigned char *take, int64_t videos[3],
                          vtag_error *err);

#endif

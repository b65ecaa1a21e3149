/* vtag eval --from DIR: the runs of a pipeline folder (eval_from.c). */
#ifndef VTAG_EVAL_FROM_H
#define VTAG_EVAL_FROM_H

#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/eval.h"
#include "vtag/tag.h"

#define EVAL_FROM_MAX 6 /* three models, XE and SCST each */

typedef struct eval_from {
    int n_runs;
    char *names[EVAL_FROM_MAX];              /* "fc-xe", "fc", … */
    vtag_tag_results results[EVAL_FROM_MAX];
    int n_logs;
    vtag_eval_log logs[EVAL_FROM_MAX];       /* name and path malloc'd */
    char *baseline;                          /* DIR/baseline-<split>.jsonl, or NULL without a built-in backbone */
} eval_from;

/* model NULL or "all": every model of DIR. */
int eval_from_dir(eval_from *e, vtag_ctx *ctx, const char *dir, const char *model, vtag_data_split split,
                  const vtag_tag_opts *topt, vtag_error *err);
void eval_from_free(eval_from *e);

#endif

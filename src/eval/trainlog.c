/* vtag train's per-epoch JSON lines (docs/FORMATS.md "Training log") for the
 * report's training curves: epoch, phase, loss and val_cider_d, read by the
 * trainer's own log reader (vtag_trainer_read_log). */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "vtag/trainer.h"

void eval_trainlog_free(eval_trainlog *t)
{
    free(t->epoch);
    free(t->loss);
    free(t->val);
    free(t->scst);
    memset(t, 0, sizeof *t);
}

int eval_read_trainlog(eval_trainlog *t, const char *path, vtag_error *err)
{
    memset(t, 0, sizeof *t);
    vtag_trainer_record *r;
    int64_t n;
    int rc = vtag_trainer_read_log(path, &r, &n, err);
    if (rc) return rc;
    const size_t k = n > 0 ? (size_t)n : 1;
    t->epoch = malloc(k * sizeof *t->epoch);
    t->loss = malloc(k * sizeof *t->loss);
    t->val = malloc(k * sizeof *t->val);
    t->scst = malloc(k);
    if (!t->epoch || !t->loss || !t->val || !t->scst) {
        free(r);
        eval_trainlog_free(t);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < n; i++) {
        t->epoch[i] = r[i].epoch;
        t->loss[i] = r[i].loss;
        t->val[i] = r[i].val_cider_d;
        t->scst[i] = (char)r[i].scst;
    }
    t->n = n;
    free(r);
    return VTAG_OK;
}

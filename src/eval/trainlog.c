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

/* The last XE epoch of a log (0: none) and its first SCST epoch (0: none). */
static void phases(const eval_trainlog *t, double *xe_last, double *scst_first)
{
    *xe_last = 0;
    *scst_first = 0;
    for (int64_t k = 0; k < t->n; k++) {
        if (!t->scst[k] && t->epoch[k] > *xe_last) *xe_last = t->epoch[k];
        if (t->scst[k] && (*scst_first == 0 || t->epoch[k] < *scst_first)) *scst_first = t->epoch[k];
    }
}

void eval_trainlog_continue(eval_trainlog *logs, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        eval_trainlog *t = &logs[i];
        t->scst_from = 0;
        t->xe_log = -1;
        double xe_last, first;
        phases(t, &xe_last, &first);
        if (first == 0) continue;
        if (xe_last == 0) { /* SCST alone: its XE epochs are in the log named "<name>-xe" */
            size_t len = strlen(names[i]);
            for (int j = 0; j < n && t->xe_log < 0; j++) {
                double xj, fj;
                phases(&logs[j], &xj, &fj);
                if (j != i && xj > 0 && fj == 0 && strlen(names[j]) == len + 3 && strncmp(names[j], names[i], len) == 0 &&
                    strcmp(names[j] + len, "-xe") == 0) {
                    t->xe_log = j;
                    xe_last = xj;
                }
            }
            if (t->xe_log < 0) continue;
        }
        /* epochs counted from 1 again: shift them; epochs that already continue stay */
        const double shift = first <= xe_last ? xe_last : 0;
        for (int64_t k = 0; k < t->n; k++)
            if (t->scst[k]) t->epoch[k] += shift;
        t->scst_from = xe_last + 0.5;
    }
}

/* vtag train's per-epoch JSON lines (docs/FORMATS.md "Training log") for the
 * report's training curves: epoch, phase, loss and val_cider_d; other keys
 * are ignored, so logs of later versions still plot. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

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
    FILE *f;
    int rc = vtag_file_open(&f, path, err);
    if (rc) return rc;
    vtag_line ln = {0};
    int64_t cap = 0;
    while (!(rc = vtag_line_read(&ln, f, path, VTAG_LINE_MAX, err)) && ln.len > 0) {
        const int64_t lineno = ln.number;
        size_t i = 0;
        while (i < ln.len && ln.data[i] && strchr(" \t\r\n", ln.data[i])) i++;
        if (i == ln.len) continue;
        json_error_t jerr;
        json_t *o = json_loadb(ln.data, ln.len, 0, &jerr);
        json_t *ep = json_object_get(o, "epoch"), *ph = json_object_get(o, "phase"), *lo = json_object_get(o, "loss"),
               *va = json_object_get(o, "val_cider_d");
        if (!o || !json_is_number(ep) || !json_is_string(ph) || !json_is_number(lo) || (va && !json_is_null(va) && !json_is_number(va))) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: not a vtag train log line (epoch, phase, loss, val_cider_d)", path,
                           (long long)lineno);
            json_decref(o);
            break;
        }
        if (t->n == cap) {
            cap = cap ? 2 * cap : 64;
            double *a = realloc(t->epoch, (size_t)cap * sizeof *a);
            if (a) t->epoch = a;
            double *b = a ? realloc(t->loss, (size_t)cap * sizeof *b) : NULL;
            if (b) t->loss = b;
            double *c = b ? realloc(t->val, (size_t)cap * sizeof *c) : NULL;
            if (c) t->val = c;
            char *d = c ? realloc(t->scst, (size_t)cap) : NULL;
            if (d) t->scst = d;
            if (!d) {
                json_decref(o);
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
        }
        t->epoch[t->n] = json_number_value(ep);
        t->loss[t->n] = json_number_value(lo);
        t->val[t->n] = json_is_number(va) ? json_number_value(va) : NAN;
        t->scst[t->n] = strcmp(json_string_value(ph), "scst") == 0;
        t->n++;
        json_decref(o);
    }
    vtag_line_free(&ln);
    fclose(f);
    if (rc) eval_trainlog_free(t);
    return rc;
}

/* The training log (docs/FORMATS.md "Training log"): an epoch record as the
 * JSON line `vtag train` writes, and a log file read back into records (the
 * report's training curves read it so, not by parsing printed text). */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/trainer.h"

/* "%.6f", or "null" for NaN. */
static void score(char *buf, size_t size, double x)
{
    if (isnan(x)) snprintf(buf, size, "null");
    else snprintf(buf, size, "%.6f", x);
}

char *vtag_trainer_format_record(const vtag_trainer_record *r, char *buf)
{
    /* %.6f of the largest double is 316 characters: every field fits its buffer, the line fits LINE_MAX. */
    char val[400], greedy[400], extra[1400] = "";
    score(val, sizeof val, r->val_cider_d);
    if (r->scst) {
        score(greedy, sizeof greedy, r->greedy_cider_d);
        snprintf(extra, sizeof extra, ", \"reward\": %.6f, \"advantage\": %.6f, \"greedy_cider_d\": %s", r->reward,
                 r->advantage, greedy);
    }
    snprintf(buf, VTAG_TRAINER_LINE_MAX,
             "{\"epoch\": %d, \"phase\": \"%s\", \"loss\": %.6f, \"lr\": %.3g, \"val_cider_d\": %s, \"seconds\": %.3f, "
             "\"%s\": %.1f, \"best\": %s%s}",
             r->epoch, r->scst ? "scst" : "xe", r->loss, r->lr, val, r->seconds, r->scst ? "captions_per_s" : "tokens_per_s",
             r->per_s, r->best ? "true" : "false", extra);
    return buf;
}

/* A number of the object, NaN when absent, null or not a number. */
static double number(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One line into *r; -1 when it is no log line. */
static int parse_line(const char *text, size_t len, vtag_trainer_record *r)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    json_t *ep = json_object_get(o, "epoch"), *ph = json_object_get(o, "phase"), *lo = json_object_get(o, "loss"),
           *va = json_object_get(o, "val_cider_d");
    const double e = json_number_value(ep);
    if (!o || !json_is_number(ep) || !(e == floor(e) && fabs(e) <= INT_MAX) || !json_is_string(ph) ||
        !json_is_number(lo) || (va && !json_is_null(va) && !json_is_number(va))) {
        json_decref(o);
        return -1;
    }
    r->epoch = (int)e;
    r->scst = strcmp(json_string_value(ph), "scst") == 0;
    r->loss = json_number_value(lo);
    r->lr = number(o, "lr");
    r->val_cider_d = number(o, "val_cider_d");
    r->seconds = number(o, "seconds");
    r->per_s = number(o, r->scst ? "captions_per_s" : "tokens_per_s");
    r->best = json_is_true(json_object_get(o, "best"));
    r->reward = number(o, "reward");
    r->advantage = number(o, "advantage");
    r->greedy_cider_d = number(o, "greedy_cider_d");
    json_decref(o);
    return 0;
}

int vtag_trainer_read_log(const char *path, vtag_trainer_record **records, int64_t *n, vtag_error *err)
{
    *records = NULL;
    *n = 0;
    FILE *f;
    int rc = vtag_file_open(&f, path, err);
    if (rc) return rc;
    vtag_line ln = {0};
    vtag_trainer_record *recs = NULL;
    int64_t count = 0, cap = 0;
    while (!(rc = vtag_line_read(&ln, f, path, VTAG_LINE_MAX, err)) && ln.len > 0) {
        size_t i = 0;
        while (i < ln.len && ln.data[i] && strchr(" \t\r\n", ln.data[i])) i++;
        if (i == ln.len) continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            vtag_trainer_record *grown = realloc(recs, (size_t)cap * sizeof *recs);
            if (!grown) {
                rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            recs = grown;
        }
        if (parse_line(ln.data, ln.len, &recs[count])) {
            rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s:%lld: not a vtag train log line (epoch, phase, loss, val_cider_d)",
                           path, (long long)ln.number);
            break;
        }
        count++;
    }
    vtag_line_free(&ln);
    fclose(f);
    if (rc) {
        free(recs);
        return rc;
    }
    *records = recs;
    *n = count;
    return VTAG_OK;
}

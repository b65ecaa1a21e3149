/* The report's calibration section — every run's reliability chart, ECE and
 * how often its labels scored >= high_score are right — and the per-tag
 * precision/recall table (labels by training videos, each run's tags). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

/* A figure cell: "-" (sorted last) when v is NaN. */
static void fig(eval_sb *b, double v, const char *fmt)
{
    if (isnan(v)) {
        eval_sb_puts(b, "<td data-v=\"-1\">-</td>");
        return;
    }
    eval_sb_printf(b, "<td data-v=\"%.6g\">", v);
    eval_sb_printf(b, fmt, v);
    eval_sb_puts(b, "</td>");
}

void eval_section_calibration(eval_sb *b, const vtag_eval *e)
{
    const int nr = e->n_runs;
    const double hs = e->opts.high_score;
    eval_sb_printf(b, "<section id=\"calibration\"><h2>Calibration of the label scores</h2><p class=\"note\">Every pair of "
                      "an evaluated video and a label of the training videos, with the run's score of that label (0 when "
                      "the run does not list it). The pairs are put in ten bins by score; a point is a bin: its mean score "
                      "against the fraction of its pairs that are right (the label is one of the video's labels), its "
                      "area the number of pairs, also shown in the histogram under the plot. A calibrated score lies on "
                      "the diagonal: of the labels scored 0.8, 80%% are right. ECE (expected calibration error) is the "
                      "distance to the diagonal averaged over the pairs, 0 at best. P@%g: how often a label scored "
                      ">= %g is right, and how many there are.</p>", hs, hs);
    eval_sb_printf(b, "<div class=\"tw\"><table id=\"t-calibration\" class=\"sortable\"><thead><tr><th class=\"l\">run</th>"
                      "<th>pairs</th><th>ECE</th><th>P@%g</th><th>labels &gt;= %g</th><th>head ECE</th><th>tail ECE</th>"
                      "</tr></thead><tbody>", hs, hs);
    for (int r = 0; r < nr; r++) {
        const vtag_eval_scores *s = &e->overall[r];
        eval_sb_printf(b, "<tr%s><td class=\"l\">", e->runs[r].baseline ? " class=\"base\"" : "");
        eval_sb_esc(b, e->runs[r].name);
        eval_sb_printf(b, "</td><td data-v=\"%lld\">%lld</td>", (long long)s->pairs, (long long)s->pairs);
        fig(b, s->ece, "%.3f");
        fig(b, s->high_right, "%.3f");
        eval_sb_printf(b, "<td data-v=\"%lld\">%lld</td>", (long long)s->high_n, (long long)s->high_n);
        fig(b, e->head[r].ece, "%.3f");
        fig(b, e->tail[r].ece, "%.3f");
        eval_sb_puts(b, "</tr>");
    }
    eval_sb_puts(b, "</tbody></table></div><div class=\"charts\">");
    const char **names = calloc((size_t)nr + 1, sizeof *names);
    if (!names) {
        b->failed = 1;
        return;
    }
    for (int r = 0; r < nr; r++) names[r] = e->runs[r].name;
    eval_svg_reliability(b, "c-reliability", "Reliability of the label scores", names, e->overall, nr);
    free(names);
    eval_sb_puts(b, "</div></section>\n");
}

void eval_section_tags(eval_sb *b, const vtag_eval *e)
{
    const int nr = e->n_runs;
    const int64_t L = e->labels->n_names;
    const vtag_eval_impl *m = e->impl;
    int64_t *cnt = malloc(((size_t)nr * 3 + 1) * ((size_t)L + 1) * sizeof *cnt);
    int64_t *rows = malloc(((size_t)L + 1) * sizeof *rows);
    int64_t n = cnt && rows ? eval_label_order(e, rows) : -1;
    if (n < 0) {
        free(cnt);
        free(rows);
        b->failed = 1;
        return;
    }
    /* cnt: per run, support | predicted | hit, each L long */
    for (int r = 0; r < nr; r++) {
        int64_t *c = cnt + (size_t)r * 3 * (size_t)L;
        eval_label_tally(e, r, c, c + L, c + 2 * L);
    }
    eval_sb_printf(b, "<section id=\"tags\"><h2>Per tag: precision and recall</h2><p class=\"note\">Each label of the "
                      "training videos (class1, class2 and tags), by training videos. Support: the %s videos having it. "
                      "For each run, its tags (the predicted set): precision = right / tagged, recall = right / support, "
                      "F1 their harmonic mean; \"-\" where the run never tags the label or no video has it.</p>",
                   vtag_data_split_name(e->opts.split));
    eval_sb_puts(b, "<div class=\"tw\"><table id=\"t-tags\" class=\"sortable\"><thead><tr><th class=\"l\">label</th>"
                    "<th>train</th><th>support</th>");
    for (int r = 0; r < nr; r++) {
        const char *f[] = {"tagged", "P", "R", "F1"};
        for (int i = 0; i < 4; i++) {
            eval_sb_puts(b, "<th>");
            eval_sb_esc(b, e->runs[r].name);
            eval_sb_printf(b, " %s</th>", f[i]);
        }
    }
    eval_sb_puts(b, "</tr></thead><tbody>");
    for (int64_t k = 0; k < n; k++) {
        const int64_t id = rows[k], sup = cnt[id]; /* run 0's support: the same in every run */
        eval_sb_puts(b, "<tr><td class=\"l\">");
        eval_sb_esc(b, e->labels->names[id]);
        eval_sb_printf(b, "</td><td data-v=\"%lld\">%lld</td><td data-v=\"%lld\">%lld</td>", (long long)m->label_train[id],
                       (long long)m->label_train[id], (long long)sup, (long long)sup);
        for (int r = 0; r < nr; r++) {
            const int64_t *c = cnt + (size_t)r * 3 * (size_t)L;
            const int64_t pred = c[L + id], hit = c[2 * L + id];
            const double p = pred ? (double)hit / (double)pred : NAN, rc = sup ? (double)hit / (double)sup : NAN;
            const double f1 = isnan(p) || isnan(rc) ? NAN : p + rc > 0 ? 2 * p * rc / (p + rc) : 0;
            eval_sb_printf(b, "<td data-v=\"%lld\">%lld</td>", (long long)pred, (long long)pred);
            fig(b, p, "%.3f");
            fig(b, rc, "%.3f");
            fig(b, f1, "%.3f");
        }
        eval_sb_puts(b, "</tr>\n");
    }
    eval_sb_puts(b, "</tbody></table></div></section>\n");
    free(cnt);
    free(rows);
}

/* Inline SVG charts for the HTML report, drawn in C: line charts (training
 * curves) and grouped bar charts (runs, classes, XE against SCST). Sizes are
 * in SVG user units; the page scales the whole picture (viewBox). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

const char *const eval_palette[8] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                     "#b07aa1", "#76b7b2", "#edc948", "#9c755f"};

/* A "nice" axis: lo..hi covered by ticks at multiples of 1, 2 or 5 × 10^k. */
static void nice_axis(double lo, double hi, double *a, double *b, double *step)
{
    if (!(hi > lo)) hi = lo + 1;
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    *step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
    *a = floor(lo / *step + 1e-9) * *step;
    *b = ceil(hi / *step - 1e-9) * *step;
}

static void tick_label(char *buf, size_t cap, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    snprintf(buf, cap, "%.*f", dec, fabs(v) < step * 1e-6 ? 0.0 : v);
}

/* Rough text width for layout (no font metrics in C): wide characters count double. */
static double text_w(const char *s, double px)
{
    double w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xC0) == 0x80) continue;
        w += *p >= 0xE0 ? 1.0 : 0.58;
    }
    return w * px;
}

static void legend(eval_sb *b, double x0, double y, double maxw, const char *const *names, const int *colors,
                   const int *dashed, int n)
{
    double x = x0;
    for (int i = 0; i < n; i++) {
        double w = 22 + text_w(names[i], 12) + 16;
        if (x + w > x0 + maxw && x > x0) {
            x = x0;
            y += 18;
        }
        eval_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"%s/>", x,
                       y - 4, x + 16, y - 4, eval_palette[colors[i] & 7], dashed && dashed[i] ? " stroke-dasharray=\"4 3\"" : "");
        eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"lg\">", x + 21, y);
        eval_sb_esc(b, names[i]);
        eval_sb_puts(b, "</text>");
        x += w;
    }
}

static int legend_rows(const char *const *names, int n, double maxw)
{
    double x = 0;
    int rows = 1;
    for (int i = 0; i < n; i++) {
        double w = 22 + text_w(names[i], 12) + 16;
        if (x + w > maxw && x > 0) {
            x = 0;
            rows++;
        }
        x += w;
    }
    return rows;
}

void eval_svg_lines(eval_sb *b, const char *id, const char *title, const char *xlabel, const char *ylabel,
                    const eval_series *s, int n_series)
{
    const double W = 640, L = 58, R = 16, T = 34, PH = 220;
    const char *names[64];
    int colors[64], dashed[64];
    int ns = n_series < 64 ? n_series : 64;
    for (int i = 0; i < ns; i++) {
        names[i] = s[i].name;
        colors[i] = s[i].color;
        dashed[i] = s[i].dashed;
    }
    int rows = legend_rows(names, ns, W - L - R);
    double H = T + PH + 40 + 18.0 * rows + 6;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int64_t k = 0; k < s[i].n; k++) {
            if (isnan(s[i].y[k])) continue;
            xmin = fmin(xmin, s[i].x[k]);
            xmax = fmax(xmax, s[i].x[k]);
            ymin = fmin(ymin, s[i].y[k]);
            ymax = fmax(ymax, s[i].y[k]);
        }
    if (!isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    if (ymin > 0 && ymin < 0.5 * ymax) ymin = 0;
    double x0, x1, xs, y0, y1, ys;
    nice_axis(xmin, xmax, &x0, &x1, &xs);
    if (xs < 1) nice_axis(xmin, xmin + fmax(5, xmax - xmin), &x0, &x1, &xs); /* epochs: whole numbers */
    nice_axis(ymin, ymax, &y0, &y1, &ys);
    double PW = W - L - R;
#define SX(v) (L + ((v) - x0) / (x1 - x0) * PW)
#define SY(v) (T + PH - ((v) - y0) / (y1 - y0) * PH)
    eval_sb_printf(b, "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">", id, W, H);
    eval_sb_puts(b, "<text x=\"8\" y=\"20\" class=\"ct\">");
    eval_sb_esc(b, title);
    eval_sb_puts(b, "</text>");
    for (double v = y0; v <= y1 + ys * 1e-6; v += ys) {
        char lab[32];
        tick_label(lab, sizeof lab, v, ys);
        eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", L, L + PW, SY(v), SY(v));
        eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%s</text>", L - 6, SY(v) + 4, lab);
    }
    for (double v = x0; v <= x1 + xs * 1e-6; v += xs) {
        char lab[32];
        tick_label(lab, sizeof lab, v, xs);
        eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", SX(v), SX(v), T + PH, T + PH + 4);
        eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">%s</text>", SX(v), T + PH + 16, lab);
    }
    eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", L, L + PW, T + PH, T + PH);
    eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", L, L, T, T + PH);
    eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"al\" text-anchor=\"middle\">", L + PW / 2, T + PH + 32);
    eval_sb_esc(b, xlabel);
    eval_sb_printf(b, "</text><text transform=\"translate(14 %.1f) rotate(-90)\" class=\"al\" text-anchor=\"middle\">", T + PH / 2);
    eval_sb_esc(b, ylabel);
    eval_sb_puts(b, "</text>");
    for (int i = 0; i < ns; i++) { /* where SCST starts, once per x */
        int dup = !(s[i].mark > 0 && s[i].mark >= x0 && s[i].mark <= x1);
        for (int j = 0; j < i && !dup; j++) dup = s[j].mark == s[i].mark;
        if (dup) continue;
        eval_sb_printf(b, "<line class=\"scst-start\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#c9a27a\" "
                          "stroke-dasharray=\"3 3\"/><text x=\"%.1f\" y=\"%.1f\" class=\"gl\">SCST →</text>",
                       SX(s[i].mark), SX(s[i].mark), T, T + PH, SX(s[i].mark) + 3, T + 10);
    }
    for (int i = 0; i < ns; i++) {
        const char *col = eval_palette[s[i].color & 7];
        int open = 0;
        for (int64_t k = 0; k < s[i].n; k++) {
            if (isnan(s[i].y[k])) {
                if (open) eval_sb_puts(b, "\"/>");
                open = 0;
                continue;
            }
            if (!open)
                eval_sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                               s[i].dashed ? " stroke-dasharray=\"5 3\"" : "");
            eval_sb_printf(b, "%s%.1f,%.1f", open ? " " : "", SX(s[i].x[k]), SY(s[i].y[k]));
            open = 1;
        }
        if (open) eval_sb_puts(b, "\"/>");
        for (int64_t k = 0; k < s[i].n; k++) {
            if (isnan(s[i].y[k])) continue;
            eval_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"><title>", SX(s[i].x[k]), SY(s[i].y[k]), col);
            eval_sb_esc(b, s[i].name);
            eval_sb_printf(b, ": epoch %g, %.4g</title></circle>", s[i].x[k], s[i].y[k]);
        }
    }
    legend(b, L, T + PH + 54, PW, names, colors, dashed, ns);
    eval_sb_puts(b, "</svg>\n");
#undef SX
#undef SY
}

void eval_svg_bars(eval_sb *b, const char *id, const char *title, const char *const *cats, int64_t n_cats,
                   const char *const *series, int n_series, const double *values, double ymax, const int *group,
                   const char *const *group_names)
{
    int ns = n_series < 64 ? n_series : 64;
    double bw = ns <= 2 ? 22 : ns <= 4 ? 16 : 11, gw = ns * bw + 14;
    double L = 52, R = 12, T = group ? 50 : 34, PH = 200;
    double maxlab = 0;
    for (int64_t c = 0; c < n_cats; c++) maxlab = fmax(maxlab, text_w(cats[c], 12));
    int rotate = maxlab > gw - 4;
    double labh = rotate ? fmin(maxlab, 140) * 0.6 + 16 : 20;
    double PW = fmax(n_cats * gw, 200);
    double W = L + PW + R;
    if (W < 340) W = 340, PW = W - L - R;
    int colors[64];
    for (int i = 0; i < ns; i++) colors[i] = i;
    int rows = legend_rows(series, ns, PW);
    double H = T + PH + labh + 18.0 * rows + 12;
    double top = ymax;
    if (!(top > 0)) {
        top = 0;
        for (int64_t k = 0; k < n_cats * n_series; k++)
            if (isfinite(values[k])) top = fmax(top, values[k]);
        if (top <= 0) top = 1;
    }
    double y0, y1, ys;
    nice_axis(0, top, &y0, &y1, &ys);
    double off = (PW - n_cats * gw) / 2;
#define SY(v) (T + PH - (v) / y1 * PH)
    /* small charts stay small instead of stretching over the page */
    eval_sb_printf(b, "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" style=\"max-width:%.0fpx\" role=\"img\" "
                      "xmlns=\"http://www.w3.org/2000/svg\">", id, W, H, W);
    eval_sb_puts(b, "<text x=\"8\" y=\"20\" class=\"ct\">");
    eval_sb_esc(b, title);
    eval_sb_puts(b, "</text>");
    for (double v = 0; v <= y1 + ys * 1e-6; v += ys) {
        char lab[32];
        tick_label(lab, sizeof lab, v, ys);
        eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", L, L + PW, SY(v), SY(v));
        eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%s</text>", L - 6, SY(v) + 4, lab);
    }
    int labels_on = ns <= 2 && n_cats * n_series <= 40; /* beyond, the <title> tooltips and the tables carry the numbers */
    for (int64_t c = 0; c < n_cats; c++) {
        double gx = L + off + c * gw + 7;
        if (group && (c == 0 || group[c] != group[c - 1])) {
            if (c > 0)
                eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"sep\"/>", gx - 7, gx - 7,
                               T - 16, T + PH);
            eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"gl\">", gx, T - 6);
            eval_sb_esc(b, group_names[group[c]]);
            eval_sb_puts(b, "</text>");
        }
        for (int s = 0; s < ns; s++) {
            double v = values[c * n_series + s];
            if (!isfinite(v)) continue;
            double h = fmax(0, v) / y1 * PH, x = gx + s * bw;
            eval_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x, T + PH - h,
                           bw - 2, h, eval_palette[s & 7]);
            eval_sb_esc(b, cats[c]);
            eval_sb_puts(b, " · ");
            eval_sb_esc(b, series[s]);
            eval_sb_printf(b, ": %.3f</title></rect>", v);
            if (labels_on)
                eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"bv\" text-anchor=\"middle\">%.2f</text>", x + (bw - 2) / 2,
                               T + PH - h - 3, v);
        }
        double cx = gx + ns * bw / 2;
        if (rotate) {
            eval_sb_printf(b, "<text transform=\"translate(%.1f %.1f) rotate(-35)\" class=\"tk\" text-anchor=\"end\">", cx + 4,
                           T + PH + 12);
        } else {
            eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">", cx, T + PH + 15);
        }
        eval_sb_esc(b, cats[c]);
        eval_sb_puts(b, "</text>");
    }
    eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", L, L + PW, T + PH, T + PH);
    legend(b, L, T + PH + labh + 16, PW, series, colors, NULL, ns);
    eval_sb_puts(b, "</svg>\n");
#undef SY
}

void eval_svg_reliability(eval_sb *b, const char *id, const char *title, const char *const *names,
                          const vtag_eval_scores *s, int n_series)
{
    const double W = 520, L = 58, R = 16, T = 34, PH = 300, HH = 56; /* HH: the histogram under the plot */
    const double PW = W - L - R;
    int ns = n_series < 64 ? n_series : 64, colors[64];
    char (*leg)[160] = malloc(64 * sizeof *leg);
    const char *lnames[64];
    if (!leg) {
        b->failed = 1;
        return;
    }
    int64_t nmax = 1;
    for (int i = 0; i < ns; i++) {
        colors[i] = i;
        if (s[i].pairs) snprintf(leg[i], sizeof leg[i], "%s (ECE %.3f)", names[i], s[i].ece);
        else snprintf(leg[i], sizeof leg[i], "%s (no pair)", names[i]);
        lnames[i] = leg[i];
        for (int k = 0; k < VTAG_EVAL_BINS; k++) nmax = s[i].bins[k].n > nmax ? s[i].bins[k].n : nmax;
    }
    int rows = legend_rows(lnames, ns, PW);
    const double HT = T + PH + 56; /* top of the histogram, under the axis label */
    double H = HT + HH + 30 + 18.0 * rows + 6;
#define SX(v) (L + (v) * PW)
#define SY(v) (T + PH - (v) * PH)
    eval_sb_printf(b, "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" style=\"max-width:%.0fpx\" role=\"img\" "
                      "xmlns=\"http://www.w3.org/2000/svg\">", id, W, H, W);
    eval_sb_puts(b, "<text x=\"8\" y=\"20\" class=\"ct\">");
    eval_sb_esc(b, title);
    eval_sb_puts(b, "</text>");
    for (int k = 0; k <= 5; k++) {
        double v = k / 5.0;
        eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", L, L + PW, SY(v), SY(v));
        eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", SX(v), SX(v), T, T + PH);
        eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%.1f</text>", L - 6, SY(v) + 4, v);
        eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">%.1f</text>", SX(v), T + PH + 16, v);
    }
    eval_sb_printf(b, "<line class=\"diag\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9aa3b5\" "
                      "stroke-dasharray=\"6 4\"><title>perfect calibration</title></line>", SX(0), SY(0), SX(1), SY(1));
    eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", L, L + PW, T + PH, T + PH);
    eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", L, L, T, T + PH);
    eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"al\" text-anchor=\"middle\">mean score of the bin</text>",
                   L + PW / 2, T + PH + 32);
    eval_sb_printf(b, "<text transform=\"translate(14 %.1f) rotate(-90)\" class=\"al\" text-anchor=\"middle\">"
                      "fraction right</text>", T + PH / 2);
    for (int i = 0; i < ns; i++) {
        const char *col = eval_palette[i & 7];
        int open = 0;
        for (int k = 0; k < VTAG_EVAL_BINS; k++) {
            const vtag_eval_bin *bn = &s[i].bins[k];
            if (!bn->n) continue;
            if (!open) eval_sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
            eval_sb_printf(b, "%s%.1f,%.1f", open ? " " : "", SX(bn->score), SY(bn->right));
            open = 1;
        }
        if (open) eval_sb_puts(b, "\"/>");
        /* the point's area follows the bin's pairs */
        for (int k = 0; k < VTAG_EVAL_BINS; k++) {
            const vtag_eval_bin *bn = &s[i].bins[k];
            if (!bn->n) continue;
            double r = 2.5 + 9.5 * sqrt((double)bn->n / (double)nmax);
            eval_sb_printf(b, "<circle class=\"rb\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" fill-opacity=\"0.55\" "
                              "stroke=\"%s\"><title>", SX(bn->score), SY(bn->right), r, col, col);
            eval_sb_esc(b, names[i]);
            eval_sb_printf(b, ": scores %.1f–%.1f, %lld pairs, mean score %.3f, right %.3f</title></circle>",
                           k / (double)VTAG_EVAL_BINS, (k + 1) / (double)VTAG_EVAL_BINS, (long long)bn->n, bn->score,
                           bn->right);
        }
    }
    /* histogram: each bin's pairs, per run, on a log scale (the bin of 0 holds most pairs) */
    eval_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\">pairs per bin (log scale)</text>", L, HT - 4);
    const double bw = PW / VTAG_EVAL_BINS;
    for (int k = 0; k < VTAG_EVAL_BINS; k++)
        for (int i = 0; i < ns; i++) {
            const vtag_eval_bin *bn = &s[i].bins[k];
            double h = bn->n ? fmax(1, HH * log1p((double)bn->n) / log1p((double)nmax)) : 0, w = (bw - 4) / ns;
            eval_sb_printf(b, "<rect class=\"rh\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                           L + k * bw + 2 + i * w, HT + HH - h, w, h, eval_palette[i & 7]);
            eval_sb_esc(b, names[i]);
            eval_sb_printf(b, ": %lld pairs scored %.1f–%.1f</title></rect>", (long long)bn->n, k / (double)VTAG_EVAL_BINS,
                           (k + 1) / (double)VTAG_EVAL_BINS);
        }
    eval_sb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ax\"/>", L, L + PW, HT + HH, HT + HH);
    legend(b, L, HT + HH + 24, PW, lnames, colors, NULL, ns);
    eval_sb_puts(b, "</svg>\n");
    free(leg);
#undef SX
#undef SY
}

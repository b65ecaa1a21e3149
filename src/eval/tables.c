/* The evaluation as text tables (vtag eval's standard output): the runs
 * side by side overall, then by class1 with head and tail, and optionally
 * every video's output next to its reference. */
#include <math.h>
#include <stdio.h>

#include "vtag/eval.h"

/* Terminal columns of a UTF-8 string: East Asian wide characters count 2. */
static int display_width(const char *s)
{
    int w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp = *p;
        int n = cp < 0x80 ? 1 : cp < 0xE0 ? 2 : cp < 0xF0 ? 3 : 4;
        if (n > 1) {
            cp &= 0xFF >> (n + 1);
            for (int i = 1; i < n && p[i]; i++) cp = cp << 6 | (p[i] & 0x3F);
        }
        for (int i = 0; i < n && *p; i++) p++;
        int wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                   (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                   (cp >= 0xFFE0 && cp <= 0xFFE6) || cp >= 0x20000;
        w += wide ? 2 : 1;
    }
    return w;
}

static void cell(FILE *out, const char *s, int width)
{
    fputs(s, out);
    for (int w = display_width(s); w < width; w++) fputc(' ', out);
}

static int name_width(const vtag_eval *e, int min)
{
    int w = min;
    for (int r = 0; r < e->n_runs; r++)
        if (display_width(e->runs[r].name) > w) w = display_width(e->runs[r].name);
    return w;
}

/* n with thousands separators: 8,760 */
static const char *grouped(int64_t n, char *buf, size_t size)
{
    char d[32];
    int len = snprintf(d, sizeof d, "%lld", (long long)(n < 0 ? -n : n));
    size_t o = 0;
    if (n < 0 && o + 1 < size) buf[o++] = '-';
    for (int i = 0; i < len && o + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = d[i];
    }
    buf[o] = 0;
    return buf;
}

static void print_scores_row(FILE *out, const char *name, int w, const vtag_eval_scores *s)
{
    char ece[16], high[48];
    if (s->pairs) snprintf(ece, sizeof ece, "%.3f", s->ece);
    else snprintf(ece, sizeof ece, "-");
    if (s->high_n) snprintf(high, sizeof high, "%.2f/%lld", s->high_right, (long long)s->high_n);
    else snprintf(high, sizeof high, "-/0");
    cell(out, name, w);
    fprintf(out, "  %7.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f %6.3f  %6.3f %6.3f  %6s %10s  %5lld %5lld\n",
            s->cider_d, s->bleu[3], s->tags.overall_p, s->tags.overall_r, s->tags.overall_f1, s->tags.class_p,
            s->tags.class_r, s->tags.class_f1, s->top_k.overall_f1, s->gap, s->map, s->class1_acc, s->class2_acc, ece, high,
            (long long)s->missing, (long long)s->failed);
}

int vtag_eval_calibration_line(const vtag_eval *e, int r, char *line, size_t size)
{
    const vtag_eval_scores *s = &e->overall[r];
    char pairs[40];
    grouped(s->pairs, pairs, sizeof pairs);
    /* the threshold as given: 0.90, 0.95, 0.925 (two decimals at least) */
    const double h = e->opts.high_score;
    const int dec = fabs(h * 100 - round(h * 100)) < 1e-9 ? 2 : fabs(h * 1000 - round(h * 1000)) < 1e-9 ? 3 : 6;
    int n;
    if (s->high_n)
        n = snprintf(line, size, "%s: labels scored >= %.*f are right %.1f%% of the time (%lld of %s label-video pairs)",
                     e->runs[r].name, dec, h, 100 * s->high_right, (long long)s->high_n, pairs);
    else
        n = snprintf(line, size, "%s: no label scored >= %.*f (of %s label-video pairs)", e->runs[r].name, dec, h, pairs);
    if (n >= 0 && (size_t)n < size && s->pairs) n += snprintf(line + n, size - (size_t)n, "; ECE %.3f", s->ece);
    else if (n >= 0 && (size_t)n < size) n += snprintf(line + n, size - (size_t)n, "; ECE -");
    if (n >= 0 && (size_t)n < size)
        n += snprintf(line + n, size - (size_t)n, "; unknown %lld of %lld videos", (long long)s->unknown,
                      (long long)s->videos);
    return n;
}

void vtag_eval_write_tables(FILE *out, const vtag_eval *e, const char *labels_path, int per_video)
{
    int w = name_width(e, 10);
    fprintf(out, "%lld %s videos of %s; CIDEr-D document frequencies from the %s references\n\n",
            (long long)e->n_videos, vtag_data_split_name(e->opts.split), labels_path,
            e->opts.df_train ? "training" : vtag_data_split_name(e->opts.split));
    cell(out, "run", w);
    char high[32];
    snprintf(high, sizeof high, "P@%g", e->opts.high_score);
    fprintf(out, "  %7s %6s  %6s %6s %6s  %6s %6s %6s  %6s %6s %6s  %6s %6s  %6s %10s  %5s %5s\n", "CIDEr-D", "BLEU-4", "OP",
            "OR", "OF1", "CP", "CR", "CF1", "OF1@k", "GAP", "mAP", "class1", "class2", "ECE", high, "miss", "fail");
    for (int r = 0; r < e->n_runs; r++) print_scores_row(out, e->runs[r].name, w, &e->overall[r]);
    fprintf(out, "(k = %lld; GAP@%lld: one ranking of every video's labels; mAP: each label's ranking of the videos, "
                 "averaged; class1/class2 = accuracy; ECE = expected calibration error of the label "
                 "scores; %s = fraction right / number of label-video pairs scored >= %g)\n",
            (long long)e->opts.top_k, (long long)e->opts.gap_k, high, e->opts.high_score);
    for (int r = 0; r < e->n_runs; r++) {
        char line[512];
        vtag_eval_calibration_line(e, r, line, sizeof line);
        fprintf(out, "%s\n", line);
    }
    fprintf(out, "\n");

    /* by class1: OF1 and the two accuracies per run */
    int cw = 12;
    for (int64_t k = 0; k < e->n_classes; k++)
        if (display_width(e->classes[k].class1) > cw) cw = display_width(e->classes[k].class1);
    cell(out, "class1", cw);
    fprintf(out, "  %4s %5s %5s", "", "train", e->opts.split == VTAG_DATA_SPLIT_TEST ? "test" : "eval");
    for (int r = 0; r < e->n_runs; r++) {
        fprintf(out, "  | ");
        cell(out, e->runs[r].name, 20);
    }
    fprintf(out, "\n");
    cell(out, "", cw);
    fprintf(out, "  %4s %5s %5s", "", "", "");
    for (int r = 0; r < e->n_runs; r++) fprintf(out, "  | %6s %6s %6s ", "OF1", "class1", "class2");
    fprintf(out, "\n");
    for (int64_t k = 0; k <= e->n_classes + 1; k++) {
        const char *name;
        const vtag_eval_scores *s;
        int64_t train = 0, n;
        const char *mark = "";
        if (k < e->n_classes) {
            name = e->classes[k].class1;
            s = e->classes[k].scores;
            train = e->classes[k].train_videos;
            n = e->classes[k].videos;
            mark = e->classes[k].head ? "head" : "tail";
        } else {
            if (k == e->n_classes) fprintf(out, "\n");
            name = k == e->n_classes ? "(head)" : "(tail)";
            s = k == e->n_classes ? e->head : e->tail;
            n = s[0].videos;
            for (int64_t j = 0; j < e->n_classes; j++)
                if (e->classes[j].head == (k == e->n_classes)) train += e->classes[j].train_videos;
        }
        cell(out, name, cw);
        fprintf(out, "  %4s %5lld %5lld", mark, (long long)train, (long long)n);
        for (int r = 0; r < e->n_runs; r++)
            fprintf(out, "  | %6.3f %6.3f %6.3f ", s[r].tags.overall_f1, s[r].class1_acc, s[r].class2_acc);
        fprintf(out, "\n");
    }
    if (!per_video) return;
    fprintf(out, "\n");
    for (int64_t v = 0; v < e->n_videos; v++) {
        const vtag_eval_video *ev = &e->videos[v];
        fprintf(out, "%s\n  ", ev->ref->video);
        cell(out, "reference", w);
        fprintf(out, "  %s / %s /", ev->ref->class1, ev->ref->class2);
        for (int64_t t = 0; t < ev->ref->n_tags; t++) fprintf(out, " %s", ev->ref->tags[t]);
        fprintf(out, "\n");
        for (int r = 0; r < e->n_runs; r++) {
            const vtag_tag_result *p = ev->pred[r];
            fprintf(out, "  ");
            cell(out, e->runs[r].name, w);
            if (!p) {
                fprintf(out, "  (missing)\n");
                continue;
            }
            if (p->error) {
                fprintf(out, "  (error: %s)\n", p->error);
                continue;
            }
            fprintf(out, "  %s / %s /", p->class1 ? p->class1 : "-", p->class2 ? p->class2 : "-");
            for (int64_t t = 0; t < p->n_tags; t++) fprintf(out, " %s", p->tags[t].label);
            fprintf(out, "   CIDEr-D %.3f\n", ev->cider_d[r]);
        }
    }
}

int vtag_eval_gaps(const vtag_eval *e, int r, char *line, size_t size)
{
    const vtag_eval_scores *s = &e->overall[r];
    if (!s->missing && !s->failed) return 0;
    size_t n = (size_t)snprintf(line, size, "%s: %lld of %lld videos missing, %lld failed:", e->runs[r].name,
                                (long long)s->missing, (long long)s->videos, (long long)s->failed);
    int shown = 0;
    for (int64_t v = 0; v < e->n_videos && shown < 5 && n < size; v++) {
        const vtag_tag_result *p = e->videos[v].pred[r];
        if (p && !p->error) continue;
        n += (size_t)snprintf(line + n, size - n, "%s %s (%s)", shown ? "," : "", e->videos[v].ref->video,
                              p ? "error" : "missing");
        shown++;
    }
    int64_t more = s->missing + s->failed - shown;
    if (more > 0 && n < size) snprintf(line + n, size - n, " and %lld more", (long long)more);
    return 1;
}

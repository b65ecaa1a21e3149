/* The evaluation report: one self-contained HTML file — tables, inline SVG
 * charts drawn by svg.c, sample frames as base64 PNGs, and a little vanilla
 * JavaScript (sortable tables, a filter box). No external resource. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "vtag/video.h"

void vtag_eval_report_opts_default(vtag_eval_report_opts *o)
{
    o->title = "vtag evaluation";
    o->logs = NULL;
    o->n_logs = 0;
    o->sample_videos = 6;
    o->sample_frames = 4;
    o->frame_size = 128;
}

static const char CSS[] =
    ":root{--fg:#1d2330;--mut:#5b6475;--bg:#f6f7fb;--card:#fff;--line:#e3e6ee;--acc:#4e79a7;--ok:#2e7d32;--okb:#e6f4e7;"
    "--no:#b3261e;--nob:#fdecea}"
    "*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',"
    "'Noto Sans CJK SC',sans-serif;color:var(--fg);background:var(--bg)}"
    "header{background:linear-gradient(120deg,#2f4b6e,#4e79a7);color:#fff;padding:22px 32px}"
    "header h1{margin:0 0 4px;font-size:24px}header p{margin:0;opacity:.85}"
    "nav{position:sticky;top:0;z-index:5;background:#fff;border-bottom:1px solid var(--line);padding:8px 32px}"
    "nav a{margin-right:16px;color:var(--acc);text-decoration:none;font-weight:600}"
    "main{max-width:1240px;margin:0 auto;padding:8px 24px 40px}"
    "section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:18px 0;"
    "box-shadow:0 1px 2px rgba(0,0,0,.04)}"
    "h2{margin:0 0 10px;font-size:18px}h3{font-size:15px;margin:14px 0 6px}"
    ".note{color:var(--mut);font-size:13px}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0 14px}"
    ".card{flex:1 1 150px;border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fbfcfe}"
    ".card .v{font-size:24px;font-weight:700}.card .k{color:var(--mut);font-size:12px;text-transform:uppercase;"
    "letter-spacing:.04em}"
    ".tw{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}"
    "th{background:#f0f2f7;position:sticky;top:0;cursor:pointer;user-select:none}"
    "th.l,td.l{text-align:left}tbody tr:nth-child(even){background:#fafbfd}tbody tr:hover{background:#eef3fa}"
    "td.best{font-weight:700;color:#1b4f8a}tr.base td{color:#6b5a2e;background:#fff9ec}"
    "th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}"
    ".badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:11px;font-weight:700}"
    ".head{background:#e3edf8;color:#2f4b6e}.tail{background:#f6e9dc;color:#8a4b12}"
    ".chip{display:inline-block;margin:1px 2px;padding:0 6px;border-radius:6px;background:#eef0f5;font-size:12px}"
    ".chip.ok{background:var(--okb);color:var(--ok)}.chip.no{background:var(--nob);color:var(--no)}"
    "td.vid{white-space:normal;max-width:260px;word-break:break-all}td.pred{white-space:normal;text-align:left;min-width:180px}"
    ".miss{color:var(--no);font-style:italic}"
    ".charts{display:flex;flex-wrap:wrap;gap:16px}.charts>svg{flex:1 1 460px;max-width:100%;height:auto}"
    "svg.chart{background:#fff}svg .ct{font-size:14px;font-weight:700;fill:#1d2330}svg .tk{font-size:11px;fill:#5b6475}"
    "svg .al{font-size:12px;fill:#5b6475}svg .lg{font-size:12px;fill:#1d2330}svg .bv{font-size:9px;fill:#5b6475}"
    "svg .gl{font-size:11px;font-weight:700;fill:#8a4b12}svg .grid{stroke:#e8ebf2}svg .ax{stroke:#9aa3b5}"
    "svg .sep{stroke:#c9a27a;stroke-dasharray:4 3}"
    ".vcard{border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:10px 0}"
    ".vcard h3{margin:0 0 4px;word-break:break-all}.frames{display:flex;flex-wrap:wrap;gap:10px;margin-top:8px}"
    "figure{margin:0;width:min-content}figure img{display:block;border-radius:6px;image-rendering:auto}"
    "figcaption{font-size:11px;color:var(--mut);margin-top:3px}"
    "input#filter{padding:6px 10px;border:1px solid var(--line);border-radius:6px;width:320px;max-width:100%;margin:6px 0}"
    "details summary{cursor:pointer;font-weight:600;margin:4px 0}"
    "#js-errors{color:var(--no);font-weight:700}footer{color:var(--mut);font-size:12px;max-width:1240px;margin:0 auto;"
    "padding:0 24px 30px}";

/* Error hook first, so that --dump-dom shows any error of the scripts below. */
static const char JS_HOOK[] =
    "window.__errs=[];window.addEventListener('error',function(e){window.__errs.push(String(e.message))});";

static const char JS_MAIN[] =
    "(function(){"
    "function val(td){var v=td.getAttribute('data-v');if(v!==null)return parseFloat(v);return td.textContent.trim();}"
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('thead th').forEach(function(th,i){th.addEventListener('click',function(){"
    "var dir=th.getAttribute('data-dir')==='desc'?'asc':'desc';"
    "t.querySelectorAll('thead th').forEach(function(o){o.removeAttribute('data-dir');});th.setAttribute('data-dir',dir);"
    "var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows);"
    "rows.sort(function(a,b){var x=val(a.cells[i]),y=val(b.cells[i]);"
    "var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));return dir==='asc'?c:-c;});"
    "rows.forEach(function(r){tb.appendChild(r);});});});});"
    "var f=document.getElementById('filter');if(f){f.addEventListener('input',function(){"
    "var q=f.value.toLowerCase(),n=0,rows=document.querySelectorAll('#t-videos tbody tr');"
    "rows.forEach(function(r){var show=!q||r.textContent.toLowerCase().indexOf(q)>=0;r.style.display=show?'':'none';if(show)n++;});"
    "document.getElementById('filter-count').textContent=n+' of '+rows.length+' videos';});}"
    "document.body.setAttribute('data-js-ok','1');"
    "})();";

static const char JS_END[] =
    "(function(){var d=document.getElementById('js-errors');document.body.setAttribute('data-js-errors',"
    "String(window.__errs.length));if(window.__errs.length){d.hidden=false;d.textContent='JavaScript errors: '+"
    "window.__errs.join(' | ');}})();";

static void num(eval_sb *b, double v, int best)
{
    eval_sb_printf(b, "<td data-v=\"%.6g\"%s>%.3f</td>", v, best ? " class=\"best\"" : "", v);
}

static void label_chips(eval_sb *b, const vtag_tag_label *l, int64_t n, const vtag_data_entry *ref)
{
    for (int64_t i = 0; i < n; i++) {
        int ok = 0;
        if (ref) {
            ok = strcmp(l[i].label, ref->class1) == 0 || strcmp(l[i].label, ref->class2) == 0;
            for (int64_t t = 0; t < ref->n_tags && !ok; t++) ok = strcmp(l[i].label, ref->tags[t]) == 0;
        }
        eval_sb_printf(b, "<span class=\"chip%s\">", ref ? (ok ? " ok" : " no") : "");
        eval_sb_esc(b, l[i].label);
        eval_sb_puts(b, "</span>");
    }
}

static void ref_text(eval_sb *b, const vtag_data_entry *r)
{
    eval_sb_puts(b, "<b>");
    eval_sb_esc(b, r->class1);
    eval_sb_puts(b, "</b> / ");
    eval_sb_esc(b, r->class2);
    eval_sb_puts(b, " / ");
    for (int64_t t = 0; t < r->n_tags; t++) {
        eval_sb_puts(b, "<span class=\"chip\">");
        eval_sb_esc(b, r->tags[t]);
        eval_sb_puts(b, "</span>");
    }
}

static void pred_text(eval_sb *b, const vtag_tag_result *p, const vtag_data_entry *ref)
{
    if (!p) {
        eval_sb_puts(b, "<span class=\"miss\">missing</span>");
        return;
    }
    if (p->error) {
        eval_sb_puts(b, "<span class=\"miss\">error: ");
        eval_sb_esc(b, p->error);
        eval_sb_puts(b, "</span>");
        return;
    }
    const char *cls[2] = {p->class1, p->class2}, *want[2] = {ref->class1, ref->class2};
    for (int i = 0; i < 2; i++) {
        if (cls[i]) {
            eval_sb_printf(b, "<span class=\"chip %s\">", strcmp(cls[i], want[i]) == 0 ? "ok" : "no");
            eval_sb_esc(b, cls[i]);
            eval_sb_puts(b, "</span>");
        } else {
            eval_sb_puts(b, "<span class=\"chip no\">—</span>");
        }
        eval_sb_puts(b, i == 0 ? " / " : " / ");
    }
    label_chips(b, p->tags, p->n_tags, ref);
}

/* The run the cards and sample frames show: the best CIDEr-D among the
 * caption runs (the baseline only when there is nothing else). */
static int primary_run(const vtag_eval *e)
{
    int best = -1;
    for (int r = 0; r < e->n_runs; r++)
        if (!e->runs[r].baseline && (best < 0 || e->overall[r].cider_d > e->overall[best].cider_d)) best = r;
    return best < 0 ? 0 : best;
}

static const char *METRIC_NAMES[] = {"OF1", "CF1", "OF1@k", "GAP", "class1 acc", "class2 acc"};

static void metric_values(const vtag_eval_scores *s, double *v)
{
    v[0] = s->tags.overall_f1;
    v[1] = s->tags.class_f1;
    v[2] = s->top_k.overall_f1;
    v[3] = s->gap;
    v[4] = s->class1_acc;
    v[5] = s->class2_acc;
}

static void section_overall(eval_sb *b, const vtag_eval *e)
{
    int pr = primary_run(e);
    const vtag_eval_scores *p = &e->overall[pr];
    eval_sb_puts(b, "<section id=\"overall\"><h2>Overall</h2><div class=\"cards\">");
    char high_key[32];
    snprintf(high_key, sizeof high_key, "right at score >= %g", e->opts.high_score);
    const char *keys[] = {"videos", "CIDEr-D", "tag OF1", "class1 accuracy", "class2 accuracy", "GAP", "ECE", high_key};
    char vals[8][32];
    snprintf(vals[0], 32, "%lld", (long long)e->n_videos);
    snprintf(vals[1], 32, "%.3f", p->cider_d);
    snprintf(vals[2], 32, "%.3f", p->tags.overall_f1);
    snprintf(vals[3], 32, "%.1f%%", 100 * p->class1_acc);
    snprintf(vals[4], 32, "%.1f%%", 100 * p->class2_acc);
    snprintf(vals[5], 32, "%.3f", p->gap);
    if (p->pairs) snprintf(vals[6], 32, "%.3f", p->ece);
    else snprintf(vals[6], 32, "-");
    if (p->high_n) snprintf(vals[7], 32, "%.1f%% of %lld", 100 * p->high_right, (long long)p->high_n);
    else snprintf(vals[7], 32, "- (none)");
    for (int i = 0; i < 8; i++) eval_sb_printf(b, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">%s</div></div>", keys[i], vals[i]);
    eval_sb_puts(b, "</div><p class=\"note\">Cards: run <b>");
    eval_sb_esc(b, e->runs[pr].name);
    eval_sb_printf(b, "</b>. Best value of each column in bold. OP…CF1: the tags as the predicted label set; "
                      "@k: each video's %lld best labels by score; GAP@%lld over every label with its score.</p>",
                   (long long)e->opts.top_k, (long long)e->opts.gap_k);
    eval_sb_puts(b, "<div class=\"tw\"><table id=\"t-overall\" class=\"sortable\"><thead><tr><th class=\"l\">run</th>"
                    "<th>missing</th><th>failed</th><th>CIDEr-D</th><th>BLEU-1</th><th>BLEU-2</th><th>BLEU-3</th><th>BLEU-4</th>"
                    "<th>OP</th><th>OR</th><th>OF1</th><th>CP</th><th>CR</th><th>CF1</th><th>OP@k</th><th>OR@k</th>"
                    "<th>OF1@k</th><th>CF1@k</th><th>GAP</th><th>mAP</th><th>class1</th><th>class2</th></tr></thead><tbody>");
    enum { NC = 19 };
    double best[NC];
    for (int c = 0; c < NC; c++) best[c] = -INFINITY;
    double row[64][NC];
    int nr = e->n_runs < 64 ? e->n_runs : 64;
    for (int r = 0; r < nr; r++) {
        const vtag_eval_scores *s = &e->overall[r];
        double v[NC] = {s->cider_d, s->bleu[0], s->bleu[1], s->bleu[2], s->bleu[3], s->tags.overall_p, s->tags.overall_r,
                        s->tags.overall_f1, s->tags.class_p, s->tags.class_r, s->tags.class_f1, s->top_k.overall_p,
                        s->top_k.overall_r, s->top_k.overall_f1, s->top_k.class_f1, s->gap, s->map, s->class1_acc,
                        s->class2_acc};
        memcpy(row[r], v, sizeof v);
        for (int c = 0; c < NC; c++) best[c] = fmax(best[c], v[c]);
    }
    for (int r = 0; r < nr; r++) {
        const vtag_eval_scores *s = &e->overall[r];
        eval_sb_printf(b, "<tr%s><td class=\"l\">", e->runs[r].baseline ? " class=\"base\"" : "");
        eval_sb_esc(b, e->runs[r].name);
        eval_sb_printf(b, "%s</td><td data-v=\"%lld\">%lld</td><td data-v=\"%lld\">%lld</td>",
                       e->runs[r].baseline ? " <span class=\"badge tail\">CNN baseline</span>" : "", (long long)s->missing,
                       (long long)s->missing, (long long)s->failed, (long long)s->failed);
        for (int c = 0; c < NC; c++) num(b, row[r][c], nr > 1 && row[r][c] == best[c]);
        eval_sb_puts(b, "</tr>");
    }
    eval_sb_puts(b, "</tbody></table></div><div class=\"charts\">");
    /* runs compared: the 0..1 figures, and CIDEr-D on its own scale */
    double *vals2 = calloc((size_t)6 * (size_t)nr + 1, sizeof *vals2), *cid = calloc((size_t)nr + 1, sizeof *cid);
    const char **names = calloc((size_t)nr + 1, sizeof *names);
    if (vals2 && cid && names) {
        for (int r = 0; r < nr; r++) {
            double v[6];
            metric_values(&e->overall[r], v);
            for (int m = 0; m < 6; m++) vals2[m * nr + r] = v[m];
            cid[r] = e->overall[r].cider_d;
            names[r] = e->runs[r].name;
        }
        eval_svg_bars(b, "c-runs", "Runs compared", METRIC_NAMES, 6, names, nr, vals2, 1.0, NULL, NULL);
        const char *one[] = {"CIDEr-D"};
        eval_svg_bars(b, "c-cider", "CIDEr-D of the video captions", names, nr, one, 1, cid, 0, NULL, NULL);
    } else {
        b->failed = 1;
    }
    free(vals2);
    free(cid);
    free(names);
    eval_sb_puts(b, "</div></section>\n");
}

/* XE against SCST: runs "M-xe" and "M" side by side. */
static void section_scst(eval_sb *b, const vtag_eval *e)
{
    int pairs[64][2], np = 0;
    for (int r = 0; r < e->n_runs && np < 64; r++) {
        const char *n = e->runs[r].name;
        size_t len = strlen(n);
        if (len < 4 || strcmp(n + len - 3, "-xe") != 0) continue;
        for (int q = 0; q < e->n_runs; q++)
            if (q != r && strlen(e->runs[q].name) == len - 3 && strncmp(e->runs[q].name, n, len - 3) == 0) {
                pairs[np][0] = r;
                pairs[np++][1] = q;
            }
    }
    eval_sb_puts(b, "<section id=\"scst\"><h2>XE against SCST</h2>");
    if (!np) {
        eval_sb_puts(b, "<p class=\"note\">Give runs named <code>MODEL-xe</code> and <code>MODEL</code> (e.g. "
                        "<code>--tags fc-xe=… --tags fc=…</code>) to compare the cross-entropy checkpoint with the "
                        "self-critical one.</p></section>\n");
        return;
    }
    eval_sb_puts(b, "<div class=\"tw\"><table id=\"t-scst\" class=\"sortable\"><thead><tr><th class=\"l\">model</th>"
                    "<th>CIDEr-D XE</th><th>CIDEr-D SCST</th><th>gain</th><th>OF1 XE</th><th>OF1 SCST</th><th>gain</th>"
                    "<th>class1 XE</th><th>class1 SCST</th><th>class2 XE</th><th>class2 SCST</th></tr></thead><tbody>");
    const char *models[64];
    double cid[128], of1[128];
    for (int i = 0; i < np; i++) {
        const vtag_eval_scores *x = &e->overall[pairs[i][0]], *s = &e->overall[pairs[i][1]];
        models[i] = e->runs[pairs[i][1]].name;
        cid[2 * i] = x->cider_d;
        cid[2 * i + 1] = s->cider_d;
        of1[2 * i] = x->tags.overall_f1;
        of1[2 * i + 1] = s->tags.overall_f1;
        eval_sb_puts(b, "<tr><td class=\"l\">");
        eval_sb_esc(b, models[i]);
        eval_sb_puts(b, "</td>");
        num(b, x->cider_d, 0);
        num(b, s->cider_d, 0);
        eval_sb_printf(b, "<td data-v=\"%.6g\">%+.3f</td>", s->cider_d - x->cider_d, s->cider_d - x->cider_d);
        num(b, x->tags.overall_f1, 0);
        num(b, s->tags.overall_f1, 0);
        eval_sb_printf(b, "<td data-v=\"%.6g\">%+.3f</td>", s->tags.overall_f1 - x->tags.overall_f1,
                       s->tags.overall_f1 - x->tags.overall_f1);
        num(b, x->class1_acc, 0);
        num(b, s->class1_acc, 0);
        num(b, x->class2_acc, 0);
        num(b, s->class2_acc, 0);
        eval_sb_puts(b, "</tr>");
    }
    eval_sb_puts(b, "</tbody></table></div><div class=\"charts\">");
    const char *ser[] = {"XE", "SCST"};
    eval_svg_bars(b, "c-scst-cider", "CIDEr-D: XE → SCST", models, np, ser, 2, cid, 0, NULL, NULL);
    eval_svg_bars(b, "c-scst-of1", "Tag OF1: XE → SCST", models, np, ser, 2, of1, 1.0, NULL, NULL);
    eval_sb_puts(b, "</div></section>\n");
}

static void section_classes(eval_sb *b, const vtag_eval *e)
{
    int nr = e->n_runs;
    eval_sb_puts(b, "<section id=\"classes\"><h2>By class1: head classes against the long tail</h2>"
                    "<p class=\"note\">Classes in order of training videos. <span class=\"badge head\">head</span> = the most "
                    "frequent classes that together hold at least half of the training videos; the rest is the "
                    "<span class=\"badge tail\">tail</span>.</p>");
    eval_sb_puts(b, "<div class=\"tw\"><table id=\"t-headtail\"><thead><tr><th class=\"l\">run</th><th>head videos</th>"
                    "<th>head OF1</th><th>head class1</th><th>head class2</th><th>head CIDEr-D</th><th>tail videos</th>"
                    "<th>tail OF1</th><th>tail class1</th><th>tail class2</th><th>tail CIDEr-D</th></tr></thead><tbody>");
    for (int r = 0; r < nr; r++) {
        const vtag_eval_scores *h = &e->head[r], *t = &e->tail[r];
        eval_sb_printf(b, "<tr%s><td class=\"l\">", e->runs[r].baseline ? " class=\"base\"" : "");
        eval_sb_esc(b, e->runs[r].name);
        eval_sb_printf(b, "</td><td>%lld</td>", (long long)h->videos);
        num(b, h->tags.overall_f1, 0);
        num(b, h->class1_acc, 0);
        num(b, h->class2_acc, 0);
        num(b, h->cider_d, 0);
        eval_sb_printf(b, "<td>%lld</td>", (long long)t->videos);
        num(b, t->tags.overall_f1, 0);
        num(b, t->class1_acc, 0);
        num(b, t->class2_acc, 0);
        num(b, t->cider_d, 0);
        eval_sb_puts(b, "</tr>");
    }
    eval_sb_puts(b, "</tbody></table></div>");
    int64_t nc = e->n_classes;
    double *f1 = calloc((size_t)(nc * nr) + 1, sizeof *f1);
    const char **cats = calloc((size_t)nc + 1, sizeof *cats), **names = calloc((size_t)nr + 1, sizeof *names);
    int *grp = calloc((size_t)nc + 1, sizeof *grp);
    if (f1 && cats && names && grp) {
        for (int64_t k = 0; k < nc; k++) {
            cats[k] = e->classes[k].class1;
            grp[k] = e->classes[k].head ? 0 : 1;
            for (int r = 0; r < nr; r++) f1[k * nr + r] = e->classes[k].scores[r].tags.overall_f1;
        }
        for (int r = 0; r < nr; r++) names[r] = e->runs[r].name;
        static const char *const groups[] = {"head", "tail"};
        eval_sb_puts(b, "<div class=\"charts\">");
        eval_svg_bars(b, "c-classes", "Tag OF1 per class1", cats, nc, names, nr, f1, 1.0, grp, groups);
        for (int64_t k = 0; k < nc; k++)
            for (int r = 0; r < nr; r++) f1[k * nr + r] = e->classes[k].scores[r].class1_acc;
        eval_svg_bars(b, "c-classes-acc", "class1 accuracy per class1", cats, nc, names, nr, f1, 1.0, grp, groups);
        eval_sb_puts(b, "</div>");
    } else {
        b->failed = 1;
    }
    free(f1);
    free(cats);
    free(names);
    free(grp);
    eval_sb_puts(b, "<div class=\"tw\"><table id=\"t-classes\" class=\"sortable\"><thead><tr><th class=\"l\">class1</th>"
                    "<th class=\"l\">group</th><th>train</th><th>evaluated</th>");
    for (int r = 0; r < nr; r++) {
        const char *m[] = {"OF1", "class1", "class2", "CIDEr-D"};
        for (int i = 0; i < 4; i++) {
            eval_sb_puts(b, "<th>");
            eval_sb_esc(b, e->runs[r].name);
            eval_sb_printf(b, " %s</th>", m[i]);
        }
    }
    eval_sb_puts(b, "</tr></thead><tbody>");
    for (int64_t k = 0; k < nc; k++) {
        const vtag_eval_class *c = &e->classes[k];
        eval_sb_puts(b, "<tr><td class=\"l\">");
        eval_sb_esc(b, c->class1);
        eval_sb_printf(b, "</td><td class=\"l\"><span class=\"badge %s\">%s</span></td><td data-v=\"%lld\">%lld</td>"
                          "<td data-v=\"%lld\">%lld</td>",
                       c->head ? "head" : "tail", c->head ? "head" : "tail", (long long)c->train_videos,
                       (long long)c->train_videos, (long long)c->videos, (long long)c->videos);
        for (int r = 0; r < nr; r++) {
            num(b, c->scores[r].tags.overall_f1, 0);
            num(b, c->scores[r].class1_acc, 0);
            num(b, c->scores[r].class2_acc, 0);
            num(b, c->scores[r].cider_d, 0);
        }
        eval_sb_puts(b, "</tr>");
    }
    eval_sb_puts(b, "</tbody></table></div></section>\n");
}

static void section_curves(eval_sb *b, const vtag_eval_report_opts *o, vtag_error *err, int *rc)
{
    eval_sb_puts(b, "<section id=\"curves\"><h2>Training curves</h2>");
    if (o->n_logs == 0) {
        eval_sb_puts(b, "<p class=\"note\">No training log given (<code>--train-log NAME=FILE</code>, the file "
                        "<code>vtag train --log</code> writes).</p></section>\n");
        return;
    }
    int n = o->n_logs < 16 ? o->n_logs : 16;
    eval_trainlog logs[16];
    memset(logs, 0, sizeof logs);
    const char *lnames[16];
    for (int i = 0; i < n && !*rc; i++) {
        *rc = eval_read_trainlog(&logs[i], o->logs[i].path, err);
        lnames[i] = o->logs[i].name;
    }
    if (!*rc) {
        eval_trainlog_continue(logs, lnames, n); /* SCST's epochs after XE's, not over them */
        /* two series per log: XE epochs solid, SCST epochs dashed (NaN splits them) */
        eval_series s_val[32], s_loss[32];
        double *buf = NULL;
        int64_t total = 0;
        for (int i = 0; i < n; i++) total += logs[i].n;
        buf = malloc((size_t)(4 * total + 1) * sizeof *buf);
        char (*names)[160] = malloc(32 * sizeof *names);
        if (!buf || !names) {
            b->failed = 1;
        } else {
            double *p = buf;
            int ns = 0;
            for (int i = 0; i < n; i++) {
                for (int ph = 0; ph < 2; ph++) {
                    int64_t cnt = 0;
                    for (int64_t k = 0; k < logs[i].n; k++) cnt += logs[i].scst[k] == ph;
                    if (!cnt) continue;
                    double *yv = p, *yl = p + logs[i].n;
                    for (int64_t k = 0; k < logs[i].n; k++) {
                        /* an SCST series starts at the last XE epoch, so the two lines join */
                        int keep = logs[i].scst[k] == ph || (ph == 1 && k + 1 < logs[i].n && logs[i].scst[k + 1] && !logs[i].scst[k]);
                        yv[k] = keep ? logs[i].val[k] : NAN;
                        yl[k] = logs[i].scst[k] == ph ? logs[i].loss[k] : NAN;
                    }
                    p += 2 * logs[i].n;
                    snprintf(names[ns], sizeof names[ns], "%s · %s", o->logs[i].name, ph ? "SCST" : "XE");
                    const int col = logs[i].xe_log >= 0 ? logs[i].xe_log : i; /* M and M-xe: one colour */
                    const double mark = ph ? logs[i].scst_from : 0;
                    s_val[ns] = (eval_series){names[ns], logs[i].epoch, yv, logs[i].n, col, ph, mark};
                    s_loss[ns] = (eval_series){names[ns], logs[i].epoch, yl, logs[i].n, col, ph, mark};
                    ns++;
                }
            }
            eval_sb_puts(b, "<p class=\"note\">Solid: cross-entropy epochs; dashed: self-critical (SCST) epochs, whose "
                            "loss is the policy-gradient loss (not comparable with XE's). SCST continues from the XE "
                            "checkpoint, so its epoch e is drawn at (XE epochs) + e, after the line marked SCST.</p>"
                            "<div class=\"charts\">");
            eval_svg_lines(b, "c-curve-cider", "Validation CIDEr-D by epoch", "epoch", "CIDEr-D", s_val, ns);
            eval_svg_lines(b, "c-curve-loss", "Training loss by epoch", "epoch", "loss", s_loss, ns);
            eval_sb_puts(b, "</div>");
        }
        free(buf);
        free(names);
    }
    for (int i = 0; i < n; i++) eval_trainlog_free(&logs[i]);
    eval_sb_puts(b, "</section>\n");
}

/* Sample frames: videos taken round-robin over the classes (head first),
 * each decoded at sample_frames uniform times, with the caption of the
 * primary run's nearest frame. */
static void section_frames(eval_sb *b, const vtag_eval *e, const vtag_eval_report_opts *o)
{
    eval_sb_puts(b, "<section id=\"s-frames\"><h2>Sample frames with their tags</h2>");
    if (o->sample_videos <= 0) {
        eval_sb_puts(b, "<p class=\"note\">No sample frames (--sample-videos 0).</p></section>\n");
        return;
    }
    int pr = primary_run(e);
    int64_t want = o->sample_videos < e->n_videos ? o->sample_videos : e->n_videos, got = 0;
    char *used = calloc((size_t)e->n_videos + 1, 1);
    if (!used) {
        b->failed = 1;
        return;
    }
    eval_sb_puts(b, "<p class=\"note\">Under each frame: the caption the model wrote for the nearest sampled frame (run <b>");
    eval_sb_esc(b, e->runs[pr].name);
    eval_sb_puts(b, "</b>). Green: a label of the reference; red: not.</p>");
    for (int round = 0; got < want && round < 1000000; round++) {
        int64_t added = 0;
        for (int64_t k = 0; k < e->n_classes && got < want; k++) {
            int64_t seen = 0, pick = -1;
            for (int64_t v = 0; v < e->n_videos; v++)
                if (e->videos[v].class_index == k && seen++ == round) {
                    pick = v;
                    break;
                }
            if (pick < 0 || used[pick]) continue;
            used[pick] = 1;
            added++;
            got++;
            const vtag_eval_video *ev = &e->videos[pick];
            const vtag_tag_result *p = ev->pred[pr];
            eval_sb_puts(b, "<div class=\"vcard\"><h3>");
            eval_sb_esc(b, ev->ref->video);
            eval_sb_puts(b, "</h3><div>reference: ");
            ref_text(b, ev->ref);
            eval_sb_puts(b, "</div><div>");
            eval_sb_esc(b, e->runs[pr].name);
            eval_sb_puts(b, ": ");
            pred_text(b, p, ev->ref);
            eval_sb_puts(b, "</div><div class=\"frames\">");
            vtag_video_sampler smp;
            vtag_video_sampler_default(&smp);
            smp.count = o->sample_frames;
            vtag_video_options vo;
            vtag_video_options_default(&vo);
            vo.size = o->frame_size;
            vo.threads = 1;
            vtag_video_t *vid = NULL;
            vtag_error verr = {0};
            int vrc = vtag_video_open(&vid, ev->ref->path, &smp, &vo, &verr);
            int shown = 0;
            while (!vrc) {
                vtag_video_frame fr;
                int more = 0;
                vrc = vtag_video_next(vid, &fr, &more, &verr);
                if (vrc || !more) break;
                uint8_t *png = NULL;
                size_t len = 0;
                vrc = vtag_video_encode_png(fr.rgb, fr.size, fr.size, &png, &len, &verr);
                if (vrc) break;
                eval_sb_printf(b, "<figure><img alt=\"frame at %.2f s\" width=\"%lld\" height=\"%lld\" src=\"data:image/png;base64,",
                               fr.pts_seconds, (long long)fr.size, (long long)fr.size);
                eval_sb_base64(b, png, len);
                free(png);
                eval_sb_printf(b, "\"><figcaption>%.2f s", fr.pts_seconds);
                if (p && !p->error && p->n_frames > 0) {
                    int64_t best = 0;
                    for (int64_t f = 1; f < p->n_frames; f++)
                        if (fabs(p->frames[f].pts_seconds - fr.pts_seconds) < fabs(p->frames[best].pts_seconds - fr.pts_seconds))
                            best = f;
                    eval_sb_puts(b, "<br>");
                    for (int64_t t = 0; t < p->frames[best].n_tokens; t++) {
                        vtag_tag_label l = {p->frames[best].tokens[t], 0, 0};
                        label_chips(b, &l, 1, ev->ref);
                    }
                }
                eval_sb_puts(b, "</figcaption></figure>");
                shown++;
            }
            vtag_video_close(&vid);
            if (vrc) {
                eval_sb_puts(b, "<p class=\"note\">frames unavailable: ");
                eval_sb_esc(b, verr.msg);
                eval_sb_puts(b, "</p>");
            } else if (!shown) {
                eval_sb_puts(b, "<p class=\"note\">no frame could be decoded</p>");
            }
            eval_sb_puts(b, "</div></div>");
        }
        if (!added && round > 0) {
            int64_t left = 0;
            for (int64_t k = 0; k < e->n_classes; k++) left += e->classes[k].videos > round;
            if (!left) break;
        }
    }
    free(used);
    eval_sb_puts(b, "</section>\n");
}

static void section_videos(eval_sb *b, const vtag_eval *e)
{
    eval_sb_printf(b, "<section id=\"videos\"><h2>Every video: output next to reference</h2><details open><summary>%lld "
                      "videos</summary><input id=\"filter\" type=\"search\" placeholder=\"filter: video, label, error…\"> "
                      "<span id=\"filter-count\" class=\"note\"></span>",
                   (long long)e->n_videos);
    eval_sb_puts(b, "<div class=\"tw\"><table id=\"t-videos\" class=\"sortable\"><thead><tr><th class=\"l\">video</th>"
                    "<th class=\"l\">reference</th>");
    for (int r = 0; r < e->n_runs; r++) {
        eval_sb_puts(b, "<th class=\"l\">");
        eval_sb_esc(b, e->runs[r].name);
        eval_sb_puts(b, "</th><th>CIDEr-D</th>");
    }
    eval_sb_puts(b, "</tr></thead><tbody>");
    for (int64_t v = 0; v < e->n_videos; v++) {
        const vtag_eval_video *ev = &e->videos[v];
        eval_sb_puts(b, "<tr><td class=\"l vid\">");
        eval_sb_esc(b, ev->ref->video);
        eval_sb_puts(b, "</td><td class=\"pred\">");
        ref_text(b, ev->ref);
        eval_sb_puts(b, "</td>");
        for (int r = 0; r < e->n_runs; r++) {
            eval_sb_puts(b, "<td class=\"pred\">");
            pred_text(b, ev->pred[r], ev->ref);
            eval_sb_puts(b, "</td>");
            num(b, ev->cider_d[r], 0);
        }
        eval_sb_puts(b, "</tr>\n");
    }
    eval_sb_puts(b, "</tbody></table></div></details></section>\n");
}

int vtag_eval_write_report(const vtag_eval *e, const char *path, const vtag_eval_report_opts *o, vtag_error *err)
{
    vtag_eval_report_opts def;
    if (!o) {
        vtag_eval_report_opts_default(&def);
        o = &def;
    }
    if (o->sample_frames < 1 || o->frame_size < 16 || o->frame_size > 1024)
        return vtag_fail(err, VTAG_ERR_ARG, "report: sample_frames >= 1 and frame_size 16..1024");
    const char *title = o->title && o->title[0] ? o->title : "vtag evaluation";
    eval_sb b = {0};
    int rc = VTAG_OK;
    eval_sb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    eval_sb_esc(&b, title);
    eval_sb_printf(&b, "</title><style>%s</style><script>%s</script></head>\n<body>", CSS, JS_HOOK);
    eval_sb_puts(&b, "<header><h1>");
    eval_sb_esc(&b, title);
    eval_sb_printf(&b, "</h1><p>%lld %s videos of ", (long long)e->n_videos, vtag_data_split_name(e->opts.split));
    eval_sb_esc(&b, e->labels->path ? e->labels->path : "the labels file");
    eval_sb_printf(&b, " · %d run%s · %lld classes · CIDEr-D document frequencies from the %s references</p></header>\n",
                   e->n_runs, e->n_runs == 1 ? "" : "s", (long long)e->n_classes,
                   e->opts.df_train ? "training" : vtag_data_split_name(e->opts.split));
    eval_sb_puts(&b, "<nav><a href=\"#overall\">Overall</a><a href=\"#calibration\">Calibration</a><a href=\"#scst\">XE vs "
                     "SCST</a><a href=\"#classes\">By class</a><a href=\"#tags\">Per tag</a>"
                     "<a href=\"#curves\">Training</a><a href=\"#s-frames\">Frames</a><a href=\"#videos\">Videos</a></nav><main>"
                     "<div id=\"js-errors\" hidden></div>\n");
    section_overall(&b, e);
    eval_section_calibration(&b, e);
    section_scst(&b, e);
    section_classes(&b, e);
    eval_section_tags(&b, e);
    section_curves(&b, o, err, &rc);
    if (!rc) {
        section_frames(&b, e, o);
        section_videos(&b, e);
        eval_sb_printf(&b, "</main><footer>Made by vtag %s. Captions are class1 class2 tags (SPEC §2) scored with "
                           "coco-caption's CIDEr-D and BLEU; a video missing from a run, or failed, counts as a video with "
                           "no prediction. Definitions: docs/ARCHITECTURE.md, section \"eval\".</footer>"
                           "<script>%s</script><script>%s</script></body></html>\n",
                       VTAG_VERSION, JS_MAIN, JS_END);
        rc = eval_write_atomic(path, &b, err);
    }
    eval_sb_free(&b);
    return rc;
}

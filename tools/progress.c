/* The one progress style of the vtag CLI: a self-rewriting bar on a terminal,
 * a plain line every few seconds in a log, nothing for runs under 2 s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Nothing is shown before this many seconds of a run: short runs stay silent. */
#define PROGRESS_QUIET_START 2.0
/* The bar is redrawn at most this often. */
#define PROGRESS_REDRAW 0.1

void cli_progress_start(cli_progress *p, const char *cmd, const char *unit, int off)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd, p->unit = unit, p->off = off;
    p->tty = isatty(STDERR_FILENO);
    p->every = CLI_PROGRESS_SECONDS;
    const char *env = getenv("VTAG_PROGRESS_SECONDS");
    if (env && *env) {
        char *end;
        const double s = strtod(env, &end);
        if (*end == '\0' && isfinite(s) && s > 0) p->every = s;
    }
    p->start = p->stage_t0 = p->last_call = vtag_seconds();
    p->last_line = -1e30;
}

/* "1:27", "12:03:05"; "?" when the rate is not known yet */
static void fmt_eta(char *buf, size_t cap, double s)
{
    if (!isfinite(s) || s < 0 || s > 1e8) {
        snprintf(buf, cap, "?");
        return;
    }
    const long long t = (long long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%lld:%02lld", t / 60, t % 60);
}

void cli_progress_show(cli_progress *p, const char *stage, int64_t done, int64_t total)
{
    if (p->off) return;
    const double now = vtag_seconds();
    /* A new stage (epoch, split) restarts the rate: it counts from the previous call. */
    stage = stage ? stage : "";
    if (strncmp(stage, p->stage, sizeof p->stage - 1) != 0 || done < p->done) {
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->stage_t0 = p->last_call;
    }
    p->done = done, p->last_call = now;
    /* VTAG_PROGRESS_SECONDS below 2 s shortens the silence too (tests see short runs' lines) */
    if (now - p->start < (p->every < PROGRESS_QUIET_START ? p->every : PROGRESS_QUIET_START)) return;
    if (p->tty ? now - p->last_line < PROGRESS_REDRAW : now - p->last_line < p->every) return;
    p->last_line = now;
    const double dt = now - p->stage_t0, rate = dt > 0 ? (double)done / dt : 0;
    char eta[32];
    fmt_eta(eta, sizeof eta, rate > 0 ? (double)(total - done) / rate : NAN);
    const char *sp = stage[0] ? " " : "";
    if (p->tty) {
        enum { WIDTH = 24 };
        const int fill = total > 0 ? (int)(WIDTH * (done < total ? done : total) / total) : 0;
        fprintf(stderr, "\r\033[Kvtag %s: %s%s[%.*s%*s] %lld/%lld %s  %.1f/s  ETA %s", p->cmd, stage, sp, fill,
                "########################", WIDTH - fill, "", (long long)done, (long long)total, p->unit, rate, eta);
        p->shown = 1;
    } else {
        if (total > 0)
            fprintf(stderr, "vtag %s: %s%s%lld/%lld %s %.1f/s ETA %s\n", p->cmd, stage, sp, (long long)done,
                    (long long)total, p->unit, rate, eta);
        else /* the total is not known: a list read as it goes */
            fprintf(stderr, "vtag %s: %s%s%lld %s %.1f/s\n", p->cmd, stage, sp, (long long)done, p->unit, rate);
    }
    fflush(stderr);
}

void cli_progress_clear(cli_progress *p)
{
    p->last_call = vtag_seconds();
    if (!p->shown) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->shown = 0;
}

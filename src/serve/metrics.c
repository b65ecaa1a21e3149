/* GET /metrics: the server's counters in Prometheus text format (version 0.0.4). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_impl.h"

static const double bucket_le[VTAG_SERVE_N_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

void vtag_serve_metrics_request(vtag_serve_metrics *m, int status, double seconds)
{
    if (status >= 100 && status < 600) m->by_status[status]++;
    for (int b = 0; b < VTAG_SERVE_N_BUCKETS; b++)
        if (seconds <= bucket_le[b]) m->latency_le[b]++;
    m->latency_sum += seconds;
    m->latency_count++;
}

typedef struct text {
    char *p;
    size_t len, cap;
    int oom;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 + (size_t)n + 1;
        char *q = realloc(t->p, cap);
        if (!q) {
            t->oom = 1;
            return;
        }
        t->p = q;
        t->cap = cap;
    }
}

char *vtag_serve_metrics_text(vtag_server *s)
{
    text t = {.p = malloc(4096), .cap = 4096};
    if (!t.p) return NULL;
    t.p[0] = 0;
    pthread_mutex_lock(&s->mu);
    vtag_serve_metrics m = s->m;
    int waiting = s->waiting, running = s->running;
    pthread_mutex_unlock(&s->mu);

    put(&t, "# HELP vtag_requests_total HTTP requests answered, by status code.\n");
    put(&t, "# TYPE vtag_requests_total counter\n");
    for (int c = 100; c < 600; c++)
        if (m.by_status[c]) put(&t, "vtag_requests_total{code=\"%d\"} %lld\n", c, (long long)m.by_status[c]);
    put(&t, "# HELP vtag_request_seconds Time from a request's arrival to its answer.\n");
    put(&t, "# TYPE vtag_request_seconds histogram\n");
    for (int b = 0; b < VTAG_SERVE_N_BUCKETS; b++)
        put(&t, "vtag_request_seconds_bucket{le=\"%g\"} %lld\n", bucket_le[b], (long long)m.latency_le[b]);
    put(&t, "vtag_request_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)m.latency_count);
    put(&t, "vtag_request_seconds_sum %.6f\n", m.latency_sum);
    put(&t, "vtag_request_seconds_count %lld\n", (long long)m.latency_count);
    put(&t, "# HELP vtag_queue_depth Videos accepted and waiting for a worker.\n");
    put(&t, "# TYPE vtag_queue_depth gauge\nvtag_queue_depth %d\n", waiting);
    put(&t, "# HELP vtag_in_progress Videos a worker is tagging.\n");
    put(&t, "# TYPE vtag_in_progress gauge\nvtag_in_progress %d\n", running);
    put(&t, "# HELP vtag_videos_total Videos tagged.\n");
    put(&t, "# TYPE vtag_videos_total counter\nvtag_videos_total %lld\n", (long long)m.videos);
    put(&t, "# HELP vtag_frames_total Frames decoded by the videos tagged.\n");
    put(&t, "# TYPE vtag_frames_total counter\nvtag_frames_total %lld\n", (long long)m.frames);
    put(&t, "# HELP vtag_failures_total Videos that could not be tagged (bad video or error).\n");
    put(&t, "# TYPE vtag_failures_total counter\nvtag_failures_total %lld\n", (long long)m.failures);
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

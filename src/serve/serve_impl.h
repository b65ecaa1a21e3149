/* The server's private state, shared by server.c (lifecycle, queue, workers), request.c (the
 * MHD request handler), source.c (where a request's video comes from) and metrics.c. */
#ifndef VTAG_SERVE_IMPL_H
#define VTAG_SERVE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "vtag/serve.h"

struct MHD_Daemon;
struct MHD_Connection;

/* One video to tag: shared by the request that waits for it and the worker that runs it; the
 * last of the two to let go frees it (and unlinks its upload, when it owns one). */
typedef struct vtag_serve_job {
    struct vtag_serve_job *next;
    char *path;    /* the video */
    int unlink_it; /* path is a private upload (or fetched URL) */
    vtag_serve_query q;
    int refs;      /* 2 while queued: the request and the queue/worker */
    int done;      /* the worker finished: status, json, frames, err are set */
    int abandoned; /* the request timed out: the worker skips it if not started */
    int status;
    char *json;
    int64_t frames;
    vtag_error err;
} vtag_serve_job;

/* Prometheus counters (metrics.c), guarded by the server's mutex. */
#define VTAG_SERVE_N_BUCKETS 11
typedef struct vtag_serve_metrics {
    int64_t by_status[600];                         /* requests answered, by HTTP status */
    int64_t latency_le[VTAG_SERVE_N_BUCKETS];       /* cumulative at render time */
    double latency_sum;
    int64_t latency_count;
    int64_t videos;   /* tagged */
    int64_t frames;   /* decoded by the tagged videos */
    int64_t failures; /* tag callback failures (bad video or error) */
} vtag_serve_metrics;

struct vtag_server {
    vtag_server_opts opts; /* strings below are owned copies */
    char *host, *root_real, *tmpdir;
    vtag_serve_fns fns;
    struct MHD_Daemon *daemon;
    int port;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* a job was queued, or the workers must exit */
    pthread_cond_t done_cv; /* a job finished, or a request ended */
    vtag_serve_job *head, *tail;
    int waiting;  /* jobs queued, not started */
    int running;  /* jobs a worker is running */
    int active;   /* requests between their first call and their answer */
    int stopping; /* graceful stop begun: new requests get 503 */
    int workers_exit;
    vtag_serve_metrics m;

    void **states;       /* (workers) */
    pthread_t *threads;  /* (workers) */
    int n_states, n_threads;
    int mu_ok, cv_ok;

    atomic_int stop_flag;
    int pipe_rd, pipe_wr;
    int signal_fd; /* SIGTERM, SIGINT with opts.stop_on_signals; -1 without */
    int ran;
};

/* request.c: the MHD access handler and its completion callback. */
int vtag_serve_start_daemon(vtag_server *s, vtag_error *err);

/* server.c: queue a job (the caller holds no lock). Returns 0 and the job (refs 2), or 1
 * when the queue is full or the server is stopping (the caller answers 503). */
int vtag_serve_submit(vtag_server *s, vtag_serve_job *job);
/* Waits for the job until deadline (vtag_seconds() clock): 1 when done, 0 when it timed out
 * (then marked abandoned). */
int vtag_serve_wait(vtag_server *s, vtag_serve_job *job, double deadline);
/* Drops the caller's reference (frees the job and unlinks its upload on the last). */
void vtag_serve_job_release(vtag_server *s, vtag_serve_job *job);

/* source.c: a {"path"} inside root: *out is the resolved file (malloc'd) or the HTTP status
 * to answer (403 outside root or no root, 404 not a file, 400 malformed) with msg. */
int vtag_serve_resolve_path(const vtag_server *s, const char *path, char **out, char *msg, size_t cap);
/* source.c: fetches an http(s) URL into a new file of the upload folder: 0 and *out, or the
 * status to answer (400 scheme, 413 too large, 422 cannot fetch) with msg. */
int vtag_serve_fetch_url(const vtag_server *s, const char *url, char **out, char *msg, size_t cap);
/* source.c: a new empty file in the upload folder: fd and *out (malloc'd), or -1. */
int vtag_serve_upload_file(const vtag_server *s, char **out);

/* metrics.c: one answered request (status, seconds), under s->mu. */
void vtag_serve_metrics_request(vtag_serve_metrics *m, int status, double seconds);
/* metrics.c: the Prometheus text of /metrics (malloc'd, NULL when out of memory); takes s->mu. */
char *vtag_serve_metrics_text(vtag_server *s);

#endif

/* vtag serve: an HTTP service (libmicrohttpd) that answers POST /v1/tag with the work of a
 * callback, so that models loaded once serve many requests. Generic over the work: the server
 * knows nothing of taggers; a program (tools/cmd_serve.c or any other) gives it callbacks. */
#ifndef VTAG_SERVE_H
#define VTAG_SERVE_H

#include <stdint.h>

#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest video name a request may give (?name=, a form's file name, a path or URL). */
#define VTAG_SERVE_NAME_MAX 4096

/* Options of one POST /v1/tag request, from the query string (?top_n=3&min_frames=2) or the
 * JSON body ({"path": …, "top_n": 3}); has_X says whether X was given. */
typedef struct vtag_serve_query {
    int has_top_n;
    int64_t top_n; /* >= 1 */
    int has_min_frames;
    int64_t min_frames; /* >= 1 */
    int has_min_score;
    double min_score; /* in [0, 1] */
    /* The video's name for the answer's "video": the ?name= of a raw body (else "upload"), the
     * file name of a multipart upload, the "path" or "url" of a JSON body as given. */
    char name[VTAG_SERVE_NAME_MAX];
} vtag_serve_query;

/* What the tag callback returns. */
enum {
    VTAG_SERVE_OK = 0,        /* *json_line set: answered 200 */
    VTAG_SERVE_BAD_VIDEO = 1, /* the input is not a video it can read: 422 with err's message */
    VTAG_SERVE_FAILED = 2,    /* anything else (out of memory, I/O): 500 with err's message */
};

/* The work, and where it happens. One worker state per worker thread, made before the server
 * answers anything and freed after the last request; `tag` is only ever called with one state
 * from one thread at a time, so a state is the worker's own scratch memory. */
typedef struct vtag_serve_fns {
    void *user; /* shared, read-only while serving (the loaded models) */
    int (*make_worker)(void *user, void **worker, vtag_error *err); /* 0 or a VTAG_ERR_ code */
    void (*free_worker)(void *user, void *worker);                  /* may be NULL */
    /* Tags the video file video_path (a private upload, a file under root, or a fetched URL),
     * readable until tag returns. On VTAG_SERVE_OK sets *json_line to one JSON object without
     * a newline (malloc'd: the server frees it) and *frames to the frames it decoded (for
     * /metrics, 0 when unknown); otherwise fills err, and may set *json_line to the JSON
     * object to answer with (422 or 500) instead of {"error": err's message}. */
    int (*tag)(void *worker, const char *video_path, const vtag_serve_query *q, char **json_line,
               int64_t *frames, vtag_error *err);
    /* The body of GET /v1/models (a JSON object); borrowed for the server's lifetime; NULL
     * answers {}. */
    const char *models_json;
    /* The body of GET / (text/html: the upload page); borrowed; NULL answers 404. */
    const char *index_html;
    /* An access line per answered request ("POST /v1/tag 200 0.123s", the URL escaped), called
     * from the connection threads, several possibly at once (one fprintf per line is safe);
     * may be NULL. The library prints nothing itself. */
    void (*log)(void *user, const char *line);
} vtag_serve_fns;

typedef struct vtag_server_opts {
    const char *host;       /* numeric IPv4 or IPv6 address to bind ("127.0.0.1") */
    int port;               /* 0: any free port, see vtag_server_port (0) */
    int workers;            /* worker threads, each with its own state (1) */
    int queue;              /* accepted requests waiting for a worker (>= 1); beyond: 503 (8) */
    int64_t max_body;       /* request body limit in bytes; beyond: 413 (1 GiB) */
    double timeout_s;       /* from the request's arrival to its answer; beyond: 504 (300) */
    double client_timeout_s; /* an idle or slow client's connection is closed after (30) */
    const char *root;       /* {"path": …} requests resolve inside this folder; NULL: refused */
    int allow_urls;         /* {"url": "http(s)://…"} requests are fetched (0: 403) */
    const char *tmp_parent; /* uploads go to a private folder made here; NULL: $TMPDIR or /tmp */
    /* SIGTERM and SIGINT stop vtag_server_run gracefully (0: the caller stops it): start blocks
     * them in the calling thread before any thread starts, so every thread of the process that
     * start makes inherits the mask, and run takes them from a signalfd (a program that calls
     * this owns those two signals while the server lives). */
    int stop_on_signals;
} vtag_server_opts;

void vtag_server_defaults(vtag_server_opts *o);

typedef struct vtag_server vtag_server;

/* Makes the workers (make_worker once each, in this thread), the upload folder (mode 0700) and
 * starts listening: requests are answered from here on. fns is copied; the strings of opts
 * (host, root, tmp_parent) are copied too. */
int vtag_server_start(vtag_server **srv, const vtag_server_opts *opts, const vtag_serve_fns *fns,
                      vtag_error *err);
/* The port bound (the one picked when opts.port was 0). */
int vtag_server_port(const vtag_server *srv);
/* The private upload folder (empty whenever no request is in flight). */
const char *vtag_server_tmpdir(const vtag_server *srv);
/* Waits for vtag_server_stop, then stops gracefully: no new connections, requests already
 * accepted are answered, the workers finish and are joined. Returns 0; call it once. */
int vtag_server_run(vtag_server *srv, vtag_error *err);
/* Asks run to stop. Async-signal-safe (an atomic flag and a write to a pipe): a SIGTERM
 * handler may call it; any thread may. */
void vtag_server_stop(vtag_server *srv);
/* Stops (when run did not), frees the workers (free_worker), removes the upload folder,
 * frees *srv and sets it to NULL. */
void vtag_server_free(vtag_server **srv);

/* The body of GET /v1/models for a tagger's files: {"model", "backbone", "vocab_size",
 * "kernel_path"} (the SIMD path in use, vtag info's), malloc'd into *json. */
int vtag_serve_models_json(char **json, const char *model, const char *backbone, int64_t vocab_size,
                           vtag_error *err);
/* The upload page of GET / (self-contained HTML: a file input, the answer's tags, the frame
 * strip with each frame's caption); a static string. */
const char *vtag_serve_page_html(void);

#ifdef __cplusplus
}
#endif

#endif

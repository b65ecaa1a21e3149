/* The HTTP side of vtag serve: the MHD daemon and its request handler (routes, bodies,
 * limits, answers).
 *
 * MHD runs thread-per-connection (MHD_USE_THREAD_PER_CONNECTION with an internal polling
 * thread for accepts): a POST /v1/tag handler blocks in its own connection thread until a
 * worker has tagged its video or the request's deadline passes, and no other connection
 * waits for it, so suspend/resume is not needed. The number of threads is bounded by the
 * connection limit; the work itself is bounded by the queue. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "serve/serve_impl.h"

/* A JSON request body ({"path": …}) is small; anything larger is refused. */
#define JSON_BODY_MAX ((size_t)64 << 10)

typedef enum body_kind { BODY_NONE, BODY_RAW, BODY_MULTIPART, BODY_JSON } body_kind;

typedef struct req {
    double t0;
    char line[160]; /* "METHOD URL" for the access log, escaped */
    body_kind kind;
    int status; /* an error found while the body arrives (answered at its end) */
    char msg[256];
    int64_t bytes; /* body bytes received */
    int fd;        /* the upload file (raw or multipart) */
    char *file;
    struct MHD_PostProcessor *pp;
    char *file_key; /* the form field whose file is the video */
    char *json;     /* (json_len) bytes of a JSON body */
    size_t json_len;
    vtag_serve_query q;
} req;

static void fail_req(req *r, int status, const char *msg)
{
    if (r->status) return;
    r->status = status;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static enum MHD_Result answer(vtag_server *s, struct MHD_Connection *c, req *r, int status, const char *type,
                              char *body, int close_it)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == 503) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    if (close_it) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    double dt = vtag_seconds() - r->t0;
    pthread_mutex_lock(&s->mu);
    vtag_serve_metrics_request(&s->m, status, dt);
    pthread_mutex_unlock(&s->mu);
    if (s->fns.log) {
        char line[256];
        snprintf(line, sizeof line, "%s %d %.3fs", r->line, status, dt);
        s->fns.log(s->fns.user, line);
    }
    return ret;
}

static enum MHD_Result answer_json(vtag_server *s, struct MHD_Connection *c, req *r, int status, const char *json)
{
    size_t n = strlen(json);
    char *body = malloc(n + 2);
    if (!body) return MHD_NO;
    memcpy(body, json, n);
    memcpy(body + n, "\n", 2);
    return answer(s, c, r, status, "application/json", body, 0);
}

/* {"error": msg}; close_it when the body was not (fully) read. */
static enum MHD_Result answer_error(vtag_server *s, struct MHD_Connection *c, req *r, int status, const char *msg,
                                    int close_it)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *body = text ? malloc(strlen(text) + 2) : NULL;
    if (body) sprintf(body, "%s\n", text);
    free(text);
    if (!body) body = strdup("{\"error\":\"out of memory\"}\n");
    if (!body) return MHD_NO;
    return answer(s, c, r, status, "application/json", body, close_it);
}

/* A whole decimal integer in [1, 2^31): 0, or 1 when it is not. */
static int parse_count(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 1 || x > INT32_MAX) return 1;
    *out = x;
    return 0;
}

/* One option (top_n, min_frames, min_score) by name: 0 set, 1 bad value, -1 not an option. */
static int set_option(vtag_serve_query *q, const char *key, const char *v)
{
    if (!strcmp(key, "top_n")) return q->has_top_n = 1, parse_count(v, &q->top_n);
    if (!strcmp(key, "min_frames")) return q->has_min_frames = 1, parse_count(v, &q->min_frames);
    if (!strcmp(key, "min_score")) {
        char *end;
        errno = 0;
        q->has_min_score = 1;
        q->min_score = strtod(v, &end);
        return errno || end == v || *end || !(q->min_score >= 0 && q->min_score <= 1);
    }
    return -1;
}

/* The answer's name for the video; 1 when it is too long. */
static int set_name(vtag_serve_query *q, const char *name)
{
    size_t n = strlen(name);
    if (n >= sizeof q->name) return 1;
    memcpy(q->name, name, n + 1);
    return 0;
}

static int query_options(struct MHD_Connection *c, req *r)
{
    static const char *const names[] = {"top_n", "min_frames", "min_score"};
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    if (set_name(&r->q, name ? name : "upload")) {
        snprintf(r->msg, sizeof r->msg, "name: longer than %d bytes", VTAG_SERVE_NAME_MAX - 1);
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, names[i]);
        if (v && set_option(&r->q, names[i], v)) {
            snprintf(r->msg, sizeof r->msg, "%s: not a valid value", names[i]);
            return 1;
        }
    }
    return 0;
}

static void write_upload(req *r, const char *data, size_t n)
{
    while (n && !r->status) {
        ssize_t w = write(r->fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fail_req(r, 500, "cannot write the upload");
            return;
        }
        data += w;
        n -= (size_t)w;
    }
}

static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size)
{
    (void)kind, (void)content_type, (void)transfer_encoding;
    req *r = cls;
    if (!key) return MHD_YES;
    if (filename) {
        if (!r->file_key) {
            r->file_key = strdup(key);
            if (!r->file_key) return fail_req(r, 500, "out of memory"), MHD_NO;
            if (set_name(&r->q, filename)) return fail_req(r, 400, "the file name is too long"), MHD_NO;
        } else if (strcmp(r->file_key, key)) {
            return fail_req(r, 400, "one video per request"), MHD_NO;
        }
        write_upload(r, data, size);
        return r->status ? MHD_NO : MHD_YES;
    }
    if (off == 0 && size < 64) {
        char v[64];
        if (size) memcpy(v, data, size);
        v[size] = 0;
        if (set_option(&r->q, key, v) > 0) {
            char m[96];
            snprintf(m, sizeof m, "%.40s: not a valid value", key);
            return fail_req(r, 400, m), MHD_NO;
        }
    }
    return MHD_YES;
}

/* Headers arrived: route GETs, check a POST /v1/tag before its body comes. */
static enum MHD_Result first_call(vtag_server *s, struct MHD_Connection *c, req *r, const char *url,
                                  const char *method)
{
    int is_get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    int is_post = !strcmp(method, MHD_HTTP_METHOD_POST);
    pthread_mutex_lock(&s->mu);
    int stopping = s->stopping, full = s->waiting >= s->opts.queue;
    pthread_mutex_unlock(&s->mu);
    if (stopping) return answer_error(s, c, r, 503, "the server is stopping", 1);
    if (!strcmp(url, "/healthz") && is_get) return answer_json(s, c, r, 200, "{\"status\":\"ok\"}");
    if (!strcmp(url, "/v1/models") && is_get)
        return answer_json(s, c, r, 200, s->fns.models_json ? s->fns.models_json : "{}");
    if (!strcmp(url, "/") && is_get && s->fns.index_html) {
        char *page = strdup(s->fns.index_html);
        if (!page) return MHD_NO;
        return answer(s, c, r, 200, "text/html; charset=utf-8", page, 0);
    }
    if (!strcmp(url, "/metrics") && is_get) {
        char *text = vtag_serve_metrics_text(s);
        if (!text) return MHD_NO;
        return answer(s, c, r, 200, "text/plain; version=0.0.4", text, 0);
    }
    if (strcmp(url, "/v1/tag") != 0) return answer_error(s, c, r, 404, "no such endpoint", 1);
    if (!is_post) return answer_error(s, c, r, 405, "/v1/tag takes POST", 1);

    if (query_options(c, r)) return answer_error(s, c, r, 400, r->msg, 1);
    const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (len) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(len, &end, 10);
        if (errno || end == len || n > (unsigned long long)s->opts.max_body) {
            snprintf(r->msg, sizeof r->msg, "body over %lld bytes", (long long)s->opts.max_body);
            return answer_error(s, c, r, 413, r->msg, 1);
        }
    }
    if (full) return answer_error(s, c, r, 503, "the queue is full", 1);
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (type && !strncasecmp(type, "multipart/form-data", 19)) {
        r->kind = BODY_MULTIPART;
        r->pp = MHD_create_post_processor(c, 64 << 10, form_part, r);
        if (!r->pp) return answer_error(s, c, r, 400, "malformed multipart/form-data header", 1);
    } else if (type && !strncasecmp(type, "application/json", 16)) {
        r->kind = BODY_JSON;
        return MHD_YES;
    } else {
        r->kind = BODY_RAW;
    }
    r->fd = vtag_serve_upload_file(s, &r->file);
    if (r->fd < 0) return answer_error(s, c, r, 500, "cannot make an upload file", 1);
    return MHD_YES;
}

/* A body that outgrows max_body (chunked, or longer than announced) is read to its end and
 * dropped, then answered 413: MHD 0.9.75 cannot queue an answer while a body is arriving
 * (MHD_queue_response refuses it), and closing at once would leave the client no answer. */
static void body_chunk(vtag_server *s, req *r, const char *data, size_t n)
{
    if (r->status) return; /* discard the rest */
    r->bytes += (int64_t)n;
    if (r->bytes > s->opts.max_body) {
        char m[96];
        snprintf(m, sizeof m, "body over %lld bytes", (long long)s->opts.max_body);
        fail_req(r, 413, m);
        return;
    }
    if (r->kind == BODY_RAW) {
        write_upload(r, data, n);
    } else if (r->kind == BODY_MULTIPART) {
        if (MHD_post_process(r->pp, data, n) != MHD_YES) fail_req(r, 400, "malformed multipart/form-data body");
    } else if (r->kind == BODY_JSON) {
        if (r->json_len + n > JSON_BODY_MAX) return fail_req(r, 413, "JSON body over 64 KiB");
        char *p = realloc(r->json, r->json_len + n + 1);
        if (!p) return fail_req(r, 500, "out of memory");
        memcpy(p + r->json_len, data, n);
        r->json = p;
        r->json_len += n;
        r->json[r->json_len] = 0;
    }
}

/* The JSON body's video: *path resolved or fetched (owned, unlink_it for a fetched one).
 * Returns 0 or the status to answer, with r->msg. */
static int json_source(vtag_server *s, req *r, char **path, int *unlink_it)
{
    json_error_t je;
    json_t *o = r->json ? json_loadb(r->json, r->json_len, 0, &je) : NULL;
    int st = 0;
    if (!json_is_object(o)) {
        snprintf(r->msg, sizeof r->msg, "the body is not a JSON object");
        st = 400;
        goto done;
    }
    const char *keys[] = {"top_n", "min_frames", "min_score"};
    for (int i = 0; i < 3 && !st; i++) {
        json_t *v = json_object_get(o, keys[i]);
        if (!v) continue;
        char buf[64];
        if (json_is_integer(v)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        else buf[0] = 0;
        if (set_option(&r->q, keys[i], buf)) {
            snprintf(r->msg, sizeof r->msg, "%s: not a valid value", keys[i]);
            st = 400;
        }
    }
    if (st) goto done;
    json_t *jp = json_object_get(o, "path"), *ju = json_object_get(o, "url");
    if ((jp != NULL) == (ju != NULL) || (jp && !json_is_string(jp)) || (ju && !json_is_string(ju))) {
        snprintf(r->msg, sizeof r->msg, "the body needs one string \"path\" or \"url\"");
        st = 400;
    } else if (set_name(&r->q, json_string_value(jp ? jp : ju))) {
        snprintf(r->msg, sizeof r->msg, "%s: longer than %d bytes", jp ? "path" : "url", VTAG_SERVE_NAME_MAX - 1);
        st = 400;
    } else if (jp) {
        *unlink_it = 0;
        st = vtag_serve_resolve_path(s, json_string_value(jp), path, r->msg, sizeof r->msg);
    } else if (!s->opts.allow_urls) {
        snprintf(r->msg, sizeof r->msg, "url requests are off (the server does not allow URLs)");
        st = 403;
    } else {
        *unlink_it = 1;
        st = vtag_serve_fetch_url(s, json_string_value(ju), path, r->msg, sizeof r->msg);
    }
done:
    json_decref(o);
    return st;
}

/* The whole body arrived: make the job, queue it, wait, answer. */
static enum MHD_Result last_call(vtag_server *s, struct MHD_Connection *c, req *r)
{
    if (r->kind == BODY_MULTIPART && !r->status) {
        enum MHD_Result ok = MHD_destroy_post_processor(r->pp);
        r->pp = NULL;
        if (ok != MHD_YES) fail_req(r, 400, "malformed multipart/form-data body");
        else if (!r->file_key) fail_req(r, 400, "the form has no file");
    }
    if (r->kind == BODY_RAW && r->bytes == 0) fail_req(r, 400, "empty body: send a video");
    if (r->status) return answer_error(s, c, r, r->status, r->msg, 1);

    vtag_serve_job *job = calloc(1, sizeof *job);
    if (!job) return answer_error(s, c, r, 500, "out of memory", 1);
    if (r->kind == BODY_JSON) {
        int st = json_source(s, r, &job->path, &job->unlink_it);
        if (st) {
            free(job);
            return answer_error(s, c, r, st, r->msg, 0);
        }
    } else {
        close(r->fd);
        r->fd = -1;
        job->path = r->file;
        job->unlink_it = 1;
        r->file = NULL;
    }
    job->q = r->q;
    if (vtag_serve_submit(s, job)) {
        if (job->unlink_it) unlink(job->path);
        free(job->path);
        free(job);
        return answer_error(s, c, r, 503, "the queue is full", 1);
    }
    enum MHD_Result ret;
    if (!vtag_serve_wait(s, job, r->t0 + s->opts.timeout_s))
        ret = answer_error(s, c, r, 504, "the request took longer than the timeout", 0);
    else if (job->status == VTAG_SERVE_OK)
        ret = answer_json(s, c, r, 200, job->json);
    else if (job->json) /* the callback's own error object (vtag tag's error line) */
        ret = answer_json(s, c, r, job->status == VTAG_SERVE_BAD_VIDEO ? 422 : 500, job->json);
    else
        ret = answer_error(s, c, r, job->status == VTAG_SERVE_BAD_VIDEO ? 422 : 500, job->err.msg, 0);
    vtag_serve_job_release(s, job);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    (void)version;
    vtag_server *s = cls;
    req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->t0 = vtag_seconds();
        r->fd = -1;
        char u[128];
        vtag_text_escape(u, sizeof u, url);
        snprintf(r->line, sizeof r->line, "%.10s %s", method, u);
        *con_cls = r;
        pthread_mutex_lock(&s->mu);
        s->active++;
        pthread_mutex_unlock(&s->mu);
        return first_call(s, c, r, url, method);
    }
    if (*upload_data_size) {
        body_chunk(s, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return last_call(s, c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c, (void)toe;
    vtag_server *s = cls;
    req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    if (r->pp) MHD_destroy_post_processor(r->pp);
    if (r->fd >= 0) close(r->fd);
    if (r->file) unlink(r->file);
    free(r->file);
    free(r->file_key);
    free(r->json);
    free(r);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

int vtag_serve_start_daemon(vtag_server *s, vtag_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", s->opts.port);
    if (getaddrinfo(s->host, port, &hints, &ai) || !ai)
        return vtag_fail(err, VTAG_ERR_ARG, "serve: host %s is not a numeric IPv4 or IPv6 address", s->host);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned limit = 256u + (unsigned)s->opts.workers + (unsigned)s->opts.queue;
    if (limit > 1000) limit = 1000;
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->opts.port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.client_timeout_s,
                                 MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_CONNECTION_LIMIT, limit,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon)
        return vtag_fail(err, VTAG_ERR_IO, "serve: cannot listen on %s port %d (in use, or not allowed)", s->host,
                         s->opts.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info && info->port ? info->port : s->opts.port;
    return 0;
}

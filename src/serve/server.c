/* The server's lifecycle (start, run, stop, free), its bounded work queue and the worker
 * threads that call the tag callback. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "serve/serve_impl.h"

void vtag_server_defaults(vtag_server_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 0;
    o->workers = 1;
    o->queue = 8;
    o->max_body = (int64_t)1 << 30;
    o->timeout_s = 300;
    o->client_timeout_s = 30;
}

static void job_free(vtag_serve_job *j)
{
    if (j->unlink_it) unlink(j->path);
    free(j->path);
    free(j->json);
    free(j);
}

void vtag_serve_job_release(vtag_server *s, vtag_serve_job *job)
{
    pthread_mutex_lock(&s->mu);
    int last = --job->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) job_free(job);
}

int vtag_serve_submit(vtag_server *s, vtag_serve_job *job)
{
    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->waiting >= s->opts.queue) {
        pthread_mutex_unlock(&s->mu);
        return 1;
    }
    job->refs = 2;
    job->next = NULL;
    if (s->tail) s->tail->next = job;
    else s->head = job;
    s->tail = job;
    s->waiting++;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int vtag_serve_wait(vtag_server *s, vtag_serve_job *job, double deadline)
{
    /* done_cv waits on CLOCK_REALTIME; the deadline is monotonic, so wait in slices. */
    pthread_mutex_lock(&s->mu);
    while (!job->done) {
        double left = deadline - vtag_seconds();
        if (left <= 0) break;
        if (left > 0.2) left = 0.2;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(left * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
    }
    int done = job->done;
    if (!done) job->abandoned = 1;
    pthread_mutex_unlock(&s->mu);
    return done;
}

typedef struct worker_arg {
    vtag_server *s;
    int index;
} worker_arg;

static void *worker_main(void *p)
{
    worker_arg *a = p;
    vtag_server *s = a->s;
    void *state = s->states[a->index];
    free(a);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->workers_exit) pthread_cond_wait(&s->work_cv, &s->mu);
        if (!s->head) break;
        vtag_serve_job *j = s->head;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        s->waiting--;
        if (!j->abandoned) {
            s->running++;
            pthread_mutex_unlock(&s->mu);
            char *json = NULL;
            int64_t frames = 0;
            vtag_error err = {0};
            int st = s->fns.tag(state, j->path, &j->q, &json, &frames, &err);
            if (st == VTAG_SERVE_OK && !json) {
                st = VTAG_SERVE_FAILED;
                vtag_fail(&err, VTAG_ERR_ARG, "%s: the tag callback gave no answer", j->path);
            }
            if (st != VTAG_SERVE_OK && !err.msg[0]) vtag_fail(&err, VTAG_ERR_IO, "%s: tagging failed", j->path);
            pthread_mutex_lock(&s->mu);
            s->running--;
            j->status = st;
            j->json = json; /* a failure may come with its own JSON answer */
            j->frames = frames;
            j->err = err;
            if (st == VTAG_SERVE_OK) {
                s->m.videos++;
                if (frames > 0) s->m.frames += frames;
            } else {
                s->m.failures++;
            }
        }
        j->done = 1;
        pthread_cond_broadcast(&s->done_cv);
        if (--j->refs == 0) {
            pthread_mutex_unlock(&s->mu);
            job_free(j);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int make_tmpdir(vtag_server *s, vtag_error *err)
{
    const char *parent = s->opts.tmp_parent;
    if (!parent) parent = getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    s->tmpdir = vtag_path_join(parent, "vtag-serve.XXXXXX");
    if (!s->tmpdir) return vtag_fail(err, VTAG_ERR_NOMEM, "serve: out of memory");
    if (!mkdtemp(s->tmpdir)) {
        int e = errno;
        free(s->tmpdir);
        s->tmpdir = NULL;
        return vtag_fail(err, VTAG_ERR_IO, "%s: cannot make the upload folder: %s", parent, strerror(e));
    }
    return 0; /* mkdtemp makes it 0700 */
}

static int check_opts(const vtag_server_opts *o, vtag_error *err)
{
    if (!o->host || !*o->host) return vtag_fail(err, VTAG_ERR_ARG, "serve: no host to bind");
    if (o->port < 0 || o->port > 65535) return vtag_fail(err, VTAG_ERR_ARG, "serve: port %d is not 0-65535", o->port);
    if (o->workers < 1 || o->workers > 1024)
        return vtag_fail(err, VTAG_ERR_ARG, "serve: workers %d is not 1-1024", o->workers);
    if (o->queue < 1 || o->queue > 1000000) /* a job waits a moment even for a free worker */
        return vtag_fail(err, VTAG_ERR_ARG, "serve: queue %d is not 1-1000000", o->queue);
    if (o->max_body < 1) return vtag_fail(err, VTAG_ERR_ARG, "serve: max body %lld is not positive", (long long)o->max_body);
    if (!(o->timeout_s > 0 && o->timeout_s <= 1e6))
        return vtag_fail(err, VTAG_ERR_ARG, "serve: timeout %g s is not in (0, 1e6]", o->timeout_s);
    if (!(o->client_timeout_s >= 1 && o->client_timeout_s <= 1e6))
        return vtag_fail(err, VTAG_ERR_ARG, "serve: client timeout %g s is not in [1, 1e6]", o->client_timeout_s);
    return 0;
}

int vtag_server_start(vtag_server **out, const vtag_server_opts *opts, const vtag_serve_fns *fns, vtag_error *err)
{
    *out = NULL;
    int rc = check_opts(opts, err);
    if (rc) return rc;
    if (!fns || !fns->make_worker || !fns->tag)
        return vtag_fail(err, VTAG_ERR_ARG, "serve: make_worker and tag callbacks are required");
    vtag_server *s = calloc(1, sizeof *s);
    if (!s) return vtag_fail(err, VTAG_ERR_NOMEM, "serve: out of memory");
    s->opts = *opts;
    s->fns = *fns;
    s->pipe_rd = s->pipe_wr = s->signal_fd = -1;
    atomic_init(&s->stop_flag, 0);
    if (opts->stop_on_signals) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        /* before any thread: the workers and MHD's threads inherit the mask */
        if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 || (s->signal_fd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
            rc = vtag_fail(err, VTAG_ERR_IO, "serve: cannot take SIGTERM and SIGINT: %s", strerror(errno));
            free(s);
            return rc;
        }
    }
    s->opts.host = s->host = strdup(opts->host);
    s->opts.root = s->opts.tmp_parent = NULL;
    if (!s->host) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: out of memory");
        goto fail;
    }
    if (pthread_mutex_init(&s->mu, NULL)) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: cannot make a mutex");
        goto fail;
    }
    s->mu_ok = 1;
    if (pthread_cond_init(&s->work_cv, NULL)) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: cannot make a condition variable");
        goto fail;
    }
    if (pthread_cond_init(&s->done_cv, NULL)) {
        pthread_cond_destroy(&s->work_cv);
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: cannot make a condition variable");
        goto fail;
    }
    s->cv_ok = 1;
    if (opts->root) {
        s->root_real = realpath(opts->root, NULL);
        if (!s->root_real) {
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: cannot resolve the root folder: %s", opts->root, strerror(errno));
            goto fail;
        }
        s->opts.root = s->root_real;
    }
    s->opts.tmp_parent = opts->tmp_parent;
    if ((rc = make_tmpdir(s, err))) goto fail;
    s->opts.tmp_parent = NULL;
    int p[2];
    if (pipe(p)) {
        rc = vtag_fail(err, VTAG_ERR_IO, "serve: cannot make the stop pipe: %s", strerror(errno));
        goto fail;
    }
    s->pipe_rd = p[0];
    s->pipe_wr = p[1];
    for (int i = 0; i < 2; i++) { /* stop never blocks; run drains without blocking */
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
        fcntl(p[i], F_SETFL, O_NONBLOCK);
    }

    s->states = calloc((size_t)opts->workers, sizeof *s->states);
    s->threads = calloc((size_t)opts->workers, sizeof *s->threads);
    if (!s->states || !s->threads) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: out of memory");
        goto fail;
    }
    for (; s->n_states < opts->workers; s->n_states++)
        if ((rc = fns->make_worker(fns->user, &s->states[s->n_states], err))) goto fail;
    for (; s->n_threads < opts->workers; s->n_threads++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: out of memory");
            goto fail;
        }
        a->s = s;
        a->index = s->n_threads;
        if (pthread_create(&s->threads[s->n_threads], NULL, worker_main, a)) {
            free(a);
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "serve: cannot start worker thread %d", s->n_threads);
            goto fail;
        }
    }
    if ((rc = vtag_serve_start_daemon(s, err))) goto fail;
    *out = s;
    return 0;
fail:
    vtag_server_free(&s);
    return rc;
}

int vtag_server_port(const vtag_server *srv)
{
    return srv->port;
}

const char *vtag_server_tmpdir(const vtag_server *srv)
{
    return srv->tmpdir;
}

void vtag_server_stop(vtag_server *srv)
{
    atomic_store(&srv->stop_flag, 1);
    int saved = errno; /* a signal handler must leave errno as it found it */
    ssize_t n = write(srv->pipe_wr, "x", 1);
    (void)n; /* a full pipe already holds a wake-up */
    errno = saved;
}

/* Seconds a connection still sending its body when the stop begins may take to finish. */
enum { STOP_GRACE_S = 5 };

/* Stops accepting, answers what was accepted, joins the workers. Idempotent. */
static void shutdown_all(vtag_server *s)
{
    if (s->daemon) {
        /* No new connections; requests arriving on kept-alive ones get 503 (stopping). */
        MHD_socket ls = MHD_quiesce_daemon(s->daemon);
        if (ls != MHD_INVALID_SOCKET) close(ls);
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        /* Every accepted request (queued or running) gets its answer, however long it takes
         * (each has its own timeout); then connections still sending a body, which were never
         * accepted, get STOP_GRACE_S to finish before they are closed, so a stalled upload
         * cannot hold the stop for the whole client timeout. */
        while (s->waiting + s->running > 0) pthread_cond_wait(&s->done_cv, &s->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += STOP_GRACE_S;
        while (s->active > 0)
            if (pthread_cond_timedwait(&s->done_cv, &s->mu, &until) == ETIMEDOUT) break;
        pthread_mutex_unlock(&s->mu);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    if (s->mu_ok && s->cv_ok) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        s->workers_exit = 1;
        pthread_cond_broadcast(&s->work_cv);
        pthread_mutex_unlock(&s->mu);
    }
    for (int i = 0; i < s->n_threads; i++) pthread_join(s->threads[i], NULL);
    s->n_threads = 0;
}

int vtag_server_run(vtag_server *srv, vtag_error *err)
{
    (void)err;
    srv->ran = 1;
    while (!atomic_load(&srv->stop_flag)) {
        struct pollfd pfd[2] = {{.fd = srv->pipe_rd, .events = POLLIN}, {.fd = srv->signal_fd, .events = POLLIN}};
        int r = poll(pfd, srv->signal_fd >= 0 ? 2 : 1, 1000);
        if (r > 0 && pfd[0].revents) {
            char buf[64];
            while (read(srv->pipe_rd, buf, sizeof buf) > 0) {}
        }
        struct signalfd_siginfo si;
        if (r > 0 && srv->signal_fd >= 0 && pfd[1].revents && read(srv->signal_fd, &si, sizeof si) == sizeof si)
            atomic_store(&srv->stop_flag, 1);
    }
    shutdown_all(srv);
    return 0;
}

void vtag_server_free(vtag_server **srvp)
{
    vtag_server *s = *srvp;
    if (!s) return;
    shutdown_all(s);
    for (int i = 0; i < s->n_states; i++)
        if (s->fns.free_worker) s->fns.free_worker(s->fns.user, s->states[i]);
    /* Jobs left by a start that failed half-way: none can be queued without a daemon. */
    if (s->tmpdir) rmdir(s->tmpdir);
    if (s->pipe_rd >= 0) close(s->pipe_rd);
    if (s->pipe_wr >= 0) close(s->pipe_wr);
    if (s->signal_fd >= 0) close(s->signal_fd);
    if (s->cv_ok) {
        pthread_cond_destroy(&s->work_cv);
        pthread_cond_destroy(&s->done_cv);
    }
    if (s->mu_ok) pthread_mutex_destroy(&s->mu);
    free(s->states);
    free(s->threads);
    free(s->host);
    free(s->root_real);
    free(s->tmpdir);
    free(s);
    *srvp = NULL;
}

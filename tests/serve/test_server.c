/* The HTTP service core (vtag/serve.h) with a fake tag callback, over loopback sockets: raw and
 * multipart bodies reach the callback byte for byte, paths stay inside the root, URLs are off,
 * 413 / 422 / 503 + Retry-After / 504, /healthz, /v1/models, /metrics, and a graceful stop
 * with requests in flight (every accepted one answered, run returns 0, uploads removed). */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "vtag/serve.h"
#include "vtag/video.h"

/* ---- the fake work ---------------------------------------------------------------------- */

typedef struct fake {
    atomic_int sleep_ms; /* each tag call sleeps this long */
    atomic_int entered;  /* tag calls begun */
    atomic_int workers;  /* states alive */
    atomic_int log_lines;
} fake;

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int make_worker(void *user, void **worker, vtag_error *err)
{
    (void)err;
    fake *f = user;
    atomic_fetch_add(&f->workers, 1);
    *worker = f;
    return 0;
}

static void free_worker(void *user, void *worker)
{
    (void)worker;
    atomic_fetch_sub(&((fake *)user)->workers, 1);
}

static int fake_tag(void *worker, const char *path, const vtag_serve_query *q, char **json, int64_t *frames,
                    vtag_error *err)
{
    fake *f = worker;
    atomic_fetch_add(&f->entered, 1);
    int ms = atomic_load(&f->sleep_ms);
    if (ms) nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
    FILE *in = fopen(path, "rb");
    if (!in) return vtag_fail(err, VTAG_ERR_IO, "%s: cannot open", path), VTAG_SERVE_FAILED;
    unsigned char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, 1 << 20, in);
    fclose(in);
    if (n >= 3 && !memcmp(buf, "BAD", 3)) {
        free(buf);
        vtag_fail(err, VTAG_ERR_FORMAT, "video: no video stream");
        return VTAG_SERVE_BAD_VIDEO;
    }
    *json = malloc(256);
    snprintf(*json, 256, "{\"bytes\":%zu,\"hash\":\"%016llx\",\"top_n\":%lld}", n,
             (unsigned long long)fnv(buf, n), q->has_top_n ? (long long)q->top_n : -1LL);
    *frames = 10;
    free(buf);
    return VTAG_SERVE_OK;
}

static void fake_log(void *user, const char *line)
{
    (void)line;
    atomic_fetch_add(&((fake *)user)->log_lines, 1);
}

/* ---- a tiny HTTP client ------------------------------------------------------------------ */

typedef struct reply {
    int status;
    char head[2048];
    char *body; /* malloc'd */
} reply;

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends head (its own CRLFs, ending in a blank line) and n bytes of body; reads to EOF. */
static reply http(int port, const char *head, const void *body, size_t n)
{
    reply r = {0};
    int fd = connect_to(port);
    if (fd < 0) return r;
    size_t hl = strlen(head);
    if (send(fd, head, hl, MSG_NOSIGNAL) != (ssize_t)hl) goto out;
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, (const char *)body + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break; /* the server may answer and close early (413) */
        off += (size_t)w;
    }
    size_t cap = 1 << 16, len = 0;
    char *all = malloc(cap);
    for (;;) {
        if (len + 1 == cap) all = realloc(all, cap *= 2);
        ssize_t k = recv(fd, all + len, cap - 1 - len, 0);
        if (k <= 0) break;
        len += (size_t)k;
    }
    all[len] = 0;
    char *sep = strstr(all, "\r\n\r\n");
    if (sep && sscanf(all, "HTTP/1.%*d %d", &r.status) == 1) {
        size_t h = (size_t)(sep - all);
        snprintf(r.head, sizeof r.head, "%.*s", (int)(h < sizeof r.head - 1 ? h : sizeof r.head - 1), all);
        r.body = strdup(sep + 4);
    }
    free(all);
out:
    close(fd);
    if (!r.body) r.body = strdup("");
    return r;
}

static reply get(int port, const char *path)
{
    char head[256];
    snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    return http(port, head, NULL, 0);
}

static reply post(int port, const char *path, const char *type, const void *body, size_t n)
{
    char head[512];
    snprintf(head, sizeof head,
             "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
             path, type, n);
    return http(port, head, body, n);
}

static int has(const reply *r, const char *s)
{
    return strstr(r->body, s) != NULL;
}

static char *hash_of(const void *p, size_t n)
{
    static char s[64];
    snprintf(s, sizeof s, "\"bytes\":%zu,\"hash\":\"%016llx\"", n, (unsigned long long)fnv(p, n));
    return s;
}

/* The value of metric line "NAME VALUE" in text (-1 when absent). */
static long long metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; (p = strstr(p, name)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ') return atoll(p + n + 1);
    return -1;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

typedef struct runner {
    vtag_server *srv;
    pthread_t t;
    int rc;
} runner;

static void *run_main(void *p)
{
    runner *r = p;
    vtag_error err = {0};
    r->rc = vtag_server_run(r->srv, &err);
    return NULL;
}

typedef struct client {
    pthread_t t;
    int port;
    const char *body;
    reply r;
} client;

static void *client_main(void *p)
{
    client *c = p;
    c->r = post(c->port, "/v1/tag", "application/octet-stream", c->body, strlen(c->body));
    return NULL;
}

static void wait_entered(fake *f, int n)
{
    for (int i = 0; i < 2000 && atomic_load(&f->entered) < n; i++) usleep(5000);
}

static void wait_queue(int port, long long depth)
{
    for (int i = 0; i < 400; i++) {
        reply m = get(port, "/metrics");
        long long d = metric(m.body, "vtag_queue_depth");
        free(m.body);
        if (d == depth) return;
        usleep(10000);
    }
}

/* ---- the tests --------------------------------------------------------------------------- */

static void test_endpoints(const char *tmp)
{
    char root[512], outside[512], up[512], p[600];
    snprintf(root, sizeof root, "%s/root", tmp);
    snprintf(up, sizeof up, "%s/up", tmp);
    snprintf(outside, sizeof outside, "%s/outside.bin", tmp);
    mkdir(root, 0755);
    mkdir(up, 0755);
    mkdir((snprintf(p, sizeof p, "%s/sub", root), p), 0755);
    write_file((snprintf(p, sizeof p, "%s/sub/a.bin", root), p), "inside root");
    write_file(outside, "outside root");
    CHECK(symlink(outside, (snprintf(p, sizeof p, "%s/leak.bin", root), p)) == 0, "symlink");
    CHECK(symlink("sub/a.bin", (snprintf(p, sizeof p, "%s/ok.bin", root), p)) == 0, "symlink");

    fake f = {0};
    vtag_serve_fns fns = {.user = &f, .make_worker = make_worker, .free_worker = free_worker, .tag = fake_tag,
                          .models_json = "{\"model\":\"fake\"}", .index_html = "<p>upload</p>", .log = fake_log};
    vtag_server_opts o;
    vtag_server_defaults(&o);
    CHECK(!strcmp(o.host, "127.0.0.1") && o.port == 0, "defaults bind loopback, any port");
    o.workers = 1;
    o.queue = 1;
    o.max_body = 200000;
    o.root = root;
    o.tmp_parent = up;
    vtag_server *srv = NULL;
    vtag_error err = {0};
    int rc = vtag_server_start(&srv, &o, &fns, &err);
    CHECK(rc == 0, "start: %s", err.msg);
    if (rc) return;
    int port = vtag_server_port(srv);
    CHECK(port > 0, "port %d picked", port);
    CHECK(atomic_load(&f.workers) == 1, "one worker state");
    struct stat st;
    CHECK(stat(vtag_server_tmpdir(srv), &st) == 0 && (st.st_mode & 0777) == 0700, "upload folder is 0700");
    runner run = {.srv = srv};
    pthread_create(&run.t, NULL, run_main, &run);

    reply r = get(port, "/healthz");
    CHECK(r.status == 200 && has(&r, "ok"), "healthz: %d %s", r.status, r.body);
    CHECK(strstr(r.head, "Content-Type: application/json") != NULL, "healthz type: %s", r.head);
    free(r.body);
    r = get(port, "/v1/models");
    CHECK(r.status == 200 && has(&r, "\"model\":\"fake\""), "models: %d %s", r.status, r.body);
    free(r.body);
    r = get(port, "/");
    CHECK(r.status == 200 && !strcmp(r.body, "<p>upload</p>") && strstr(r.head, "Content-Type: text/html"),
          "index page: %d %s", r.status, r.head);
    free(r.body);
    r = get(port, "/nope");
    CHECK(r.status == 404, "unknown path: %d", r.status);
    free(r.body);

    /* Raw body, every byte value, with a query option. */
    size_t n = 150000;
    unsigned char *video = malloc(n);
    for (size_t i = 0; i < n; i++) video[i] = (unsigned char)(i * 7 + i / 251);
    r = post(port, "/v1/tag?top_n=3", "application/octet-stream", video, n);
    CHECK(r.status == 200 && has(&r, hash_of(video, n)) && has(&r, "\"top_n\":3"), "raw: %d %s", r.status,
          r.body);
    CHECK(strstr(r.head, "Content-Type: application/json") != NULL, "tag type: %s", r.head);
    free(r.body);
    r = post(port, "/v1/tag?top_n=zero", "application/octet-stream", video, 10);
    CHECK(r.status == 400, "bad top_n: %d", r.status);
    free(r.body);

    /* Multipart upload: the file part's exact bytes, a form field as an option. */
    const char *bd = "----vtagBOUNDARY42";
    size_t vn = 100000, cap = vn + 1024, len = 0;
    char *form = malloc(cap);
    len += (size_t)sprintf(form + len,
                           "--%s\r\nContent-Disposition: form-data; name=\"top_n\"\r\n\r\n5\r\n"
                           "--%s\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v.mp4\"\r\n"
                           "Content-Type: video/mp4\r\n\r\n",
                           bd, bd);
    memcpy(form + len, video, vn);
    len += vn;
    len += (size_t)sprintf(form + len, "\r\n--%s--\r\n", bd);
    char type[128];
    snprintf(type, sizeof type, "multipart/form-data; boundary=%s", bd);
    r = post(port, "/v1/tag", type, form, len);
    CHECK(r.status == 200 && has(&r, hash_of(video, vn)) && has(&r, "\"top_n\":5"), "multipart: %d %s",
          r.status, r.body);
    free(r.body);
    free(form);

    /* Paths under the root. */
    const char *ok_path = "{\"path\":\"sub/a.bin\",\"top_n\":2}";
    r = post(port, "/v1/tag", "application/json", ok_path, strlen(ok_path));
    CHECK(r.status == 200 && has(&r, hash_of("inside root", 11)) && has(&r, "\"top_n\":2"), "path: %d %s",
          r.status, r.body);
    free(r.body);
    const char *via_link = "{\"path\":\"ok.bin\"}";
    r = post(port, "/v1/tag", "application/json", via_link, strlen(via_link));
    CHECK(r.status == 200 && has(&r, hash_of("inside root", 11)), "symlink inside: %d %s", r.status, r.body);
    free(r.body);
    const char *bad_paths[] = {"{\"path\":\"../outside.bin\"}", "{\"path\":\"sub/../../outside.bin\"}",
                               "{\"path\":\"leak.bin\"}"};
    for (int i = 0; i < 3; i++) {
        r = post(port, "/v1/tag", "application/json", bad_paths[i], strlen(bad_paths[i]));
        CHECK(r.status == 403 && has(&r, "error"), "%s: %d %s", bad_paths[i], r.status, r.body);
        free(r.body);
    }
    snprintf(p, sizeof p, "{\"path\":\"%s\"}", outside);
    r = post(port, "/v1/tag", "application/json", p, strlen(p));
    CHECK(r.status == 403, "absolute path outside: %d %s", r.status, r.body);
    free(r.body);
    const char *missing = "{\"path\":\"sub/none.bin\"}";
    r = post(port, "/v1/tag", "application/json", missing, strlen(missing));
    CHECK(r.status == 404, "missing path: %d %s", r.status, r.body);
    free(r.body);
    const char *url = "{\"url\":\"http://127.0.0.1:1/v.mp4\"}";
    r = post(port, "/v1/tag", "application/json", url, strlen(url));
    CHECK(r.status == 403 && has(&r, "url"), "url without allow_urls: %d %s", r.status, r.body);
    free(r.body);
    r = post(port, "/v1/tag", "application/json", "[1]", 3);
    CHECK(r.status == 400, "not an object: %d", r.status);
    free(r.body);

    /* Limits: a body over max_body, a huge announced length with a small body. */
    unsigned char *big = calloc(1, 200001);
    r = post(port, "/v1/tag", "application/octet-stream", big, 200001);
    CHECK(r.status == 413, "body over max: %d %s", r.status, r.body);
    free(r.body);
    free(big);
    r = http(port,
             "POST /v1/tag HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2000000000\r\n\r\n",
             "tiny", 4);
    CHECK(r.status == 413, "huge Content-Length: %d %s", r.status, r.body);
    free(r.body);

    /* Chunked, no length announced: the limit holds as the body arrives. */
    size_t cn = 250000;
    char *chunked = malloc(cn + 64);
    size_t cl = (size_t)sprintf(chunked, "%zx\r\n", cn);
    memset(chunked + cl, 'v', cn);
    cl += cn;
    cl += (size_t)sprintf(chunked + cl, "\r\n0\r\n\r\n");
    r = http(port, "POST /v1/tag HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
             chunked, cl);
    CHECK(r.status == 413, "chunked body over max: %d %s", r.status, r.body);
    free(r.body);
    free(chunked);

    /* A video the callback cannot read: 422 with its error, and the service goes on. */
    r = post(port, "/v1/tag", "application/octet-stream", "BAD video", 9);
    CHECK(r.status == 422 && has(&r, "no video stream"), "bad video: %d %s", r.status, r.body);
    free(r.body);
    r = post(port, "/v1/tag", "application/octet-stream", "fine", 4);
    CHECK(r.status == 200 && has(&r, hash_of("fine", 4)), "after a bad video: %d %s", r.status, r.body);
    free(r.body);

    /* Queue full: one running, one waiting (queue 1), the third gets 503 + Retry-After. */
    atomic_store(&f.sleep_ms, 1200);
    int before = atomic_load(&f.entered);
    client c[2] = {{.port = port, .body = "slow one"}, {.port = port, .body = "slow two"}};
    pthread_create(&c[0].t, NULL, client_main, &c[0]);
    wait_entered(&f, before + 1);
    pthread_create(&c[1].t, NULL, client_main, &c[1]);
    wait_queue(port, 1);
    r = post(port, "/v1/tag", "application/octet-stream", "third", 5);
    CHECK(r.status == 503 && strstr(r.head, "Retry-After: ") != NULL, "queue full: %d %s", r.status, r.head);
    free(r.body);
    for (int i = 0; i < 2; i++) {
        pthread_join(c[i].t, NULL);
        CHECK(c[i].r.status == 200 && has(&c[i].r, hash_of(c[i].body, strlen(c[i].body))), "queued %d: %d %s", i,
              c[i].r.status, c[i].r.body);
        free(c[i].r.body);
    }
    atomic_store(&f.sleep_ms, 0);

    /* The counters moved. */
    r = get(port, "/metrics");
    CHECK(r.status == 200 && strstr(r.head, "text/plain") != NULL, "metrics: %d", r.status);
    CHECK(has(&r, "vtag_requests_total{code=\"200\"} "), "200s counted");
    CHECK(has(&r, "vtag_requests_total{code=\"413\"} 3\n"), "413s counted: %s", r.body);
    CHECK(has(&r, "vtag_requests_total{code=\"503\"} 1\n"), "503 counted");
    CHECK(has(&r, "vtag_requests_total{code=\"422\"} 1\n"), "422 counted");
    CHECK(metric(r.body, "vtag_videos_total") == 7, "videos: %lld", metric(r.body, "vtag_videos_total"));
    CHECK(metric(r.body, "vtag_frames_total") == 70, "frames: %lld", metric(r.body, "vtag_frames_total"));
    CHECK(metric(r.body, "vtag_failures_total") == 1, "failures: %lld", metric(r.body, "vtag_failures_total"));
    CHECK(metric(r.body, "vtag_queue_depth") == 0, "queue empty");
    CHECK(metric(r.body, "vtag_request_seconds_count") > 20, "latency histogram counts");
    free(r.body);

    vtag_server_stop(srv);
    pthread_join(run.t, NULL);
    CHECK(run.rc == 0, "run returns 0");
    CHECK(dir_entries(vtag_server_tmpdir(srv)) == 0, "uploads removed");
    CHECK(atomic_load(&f.log_lines) > 20, "access lines logged: %d", atomic_load(&f.log_lines));
    vtag_server_free(&srv);
    CHECK(srv == NULL && atomic_load(&f.workers) == 0, "freed, workers freed");
    CHECK(dir_entries(up) == 0, "upload folder removed");
    free(video);
}

/* A per-request timeout answers 504; its upload goes when the worker lets go of it. Then a
 * stop with requests in flight: all accepted ones answered, nothing left behind. */
static void test_timeout_and_stop(const char *tmp)
{
    char up[512];
    snprintf(up, sizeof up, "%s/up2", tmp);
    mkdir(up, 0755);
    fake f = {0};
    vtag_serve_fns fns = {.user = &f, .make_worker = make_worker, .free_worker = free_worker, .tag = fake_tag};
    vtag_server_opts o;
    vtag_server_defaults(&o);
    o.workers = 2;
    o.queue = 4;
    o.timeout_s = 0.5;
    o.tmp_parent = up;
    o.allow_urls = 1;
    vtag_server *srv = NULL;
    vtag_error err = {0};
    int rc = vtag_server_start(&srv, &o, &fns, &err);
    CHECK(rc == 0, "start: %s", err.msg);
    if (rc) return;
    int port = vtag_server_port(srv);
    runner run = {.srv = srv};
    pthread_create(&run.t, NULL, run_main, &run);

    /* With allow_urls: an http URL is fetched (here the server's own /healthz) and tagged. */
    char url[128];
    snprintf(url, sizeof url, "{\"url\":\"http://127.0.0.1:%d/healthz\"}", port);
    const char *health = "{\"status\":\"ok\"}\n";
    reply r = post(port, "/v1/tag", "application/json", url, strlen(url));
    CHECK(r.status == 200 && has(&r, hash_of(health, strlen(health))), "url fetched: %d %s", r.status, r.body);
    free(r.body);
    const char *file_url = "{\"url\":\"file:///etc/passwd\"}";
    r = post(port, "/v1/tag", "application/json", file_url, strlen(file_url));
    CHECK(r.status == 400, "file:// url: %d %s", r.status, r.body);
    free(r.body);
    const char *dead_url = "{\"url\":\"http://127.0.0.1:1/v.mp4\"}";
    r = post(port, "/v1/tag", "application/json", dead_url, strlen(dead_url));
    CHECK(r.status == 422, "unreachable url: %d %s", r.status, r.body);
    free(r.body);
    const char *path = "{\"path\":\"x\"}";
    r = post(port, "/v1/tag", "application/json", path, strlen(path));
    CHECK(r.status == 403, "path without a root: %d %s", r.status, r.body);
    free(r.body);

    atomic_store(&f.sleep_ms, 1000);
    r = post(port, "/v1/tag", "application/octet-stream", "too slow", 8);
    CHECK(r.status == 504, "timeout: %d %s", r.status, r.body);
    free(r.body);
    r = get(port, "/v1/models");
    CHECK(r.status == 200 && !strcmp(r.body, "{}\n"), "no models json: %s", r.body);
    free(r.body);
    r = get(port, "/");
    CHECK(r.status == 404, "no index page: %d", r.status);
    free(r.body);
    for (int i = 0; i < 300 && dir_entries(vtag_server_tmpdir(srv)) != 0; i++) usleep(10000);
    CHECK(dir_entries(vtag_server_tmpdir(srv)) == 0, "timed-out upload removed after the worker");

    /* Six in flight (2 running, 4 queued), then stop. */
    atomic_store(&f.sleep_ms, 150);
    int before = atomic_load(&f.entered);
    client c[6];
    char bodies[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(bodies[i], sizeof bodies[i], "video %d", i);
        c[i] = (client){.port = port, .body = bodies[i]};
        pthread_create(&c[i].t, NULL, client_main, &c[i]);
        if (i < 2) wait_entered(&f, before + i + 1); /* running before the queue fills */
        else wait_queue(port, i - 1);
    }
    vtag_server_stop(srv);
    pthread_join(run.t, NULL);
    CHECK(run.rc == 0, "run returns 0 after stop");
    for (int i = 0; i < 6; i++) {
        pthread_join(c[i].t, NULL);
        CHECK(c[i].r.status == 200 && has(&c[i].r, hash_of(bodies[i], strlen(bodies[i]))), "in flight %d: %d %s", i,
              c[i].r.status, c[i].r.body);
        free(c[i].r.body);
    }
    CHECK(atomic_load(&f.entered) == before + 6, "every accepted request tagged");
    int fd = connect_to(port);
    CHECK(fd < 0, "no longer listening");
    if (fd >= 0) close(fd);
    CHECK(dir_entries(vtag_server_tmpdir(srv)) == 0, "uploads removed after stop");
    vtag_server_free(&srv);
    CHECK(dir_entries(up) == 0, "upload folder removed");
}

/* The server a SIGUSR1 stops, as the CLI's SIGTERM handler will. */
static vtag_server *signal_target;
static void on_signal(int sig)
{
    (void)sig;
    vtag_server_stop(signal_target);
}

/* A slow client is cut off after client_timeout_s and the service goes on; a job that runs
 * longer than client_timeout_s (but within timeout_s) is still answered. */
static void test_slow(const char *tmp)
{
    char up[512];
    snprintf(up, sizeof up, "%s/up3", tmp);
    mkdir(up, 0755);
    fake f = {0};
    vtag_serve_fns fns = {.user = &f, .make_worker = make_worker, .free_worker = free_worker, .tag = fake_tag};
    vtag_server_opts o;
    vtag_server_defaults(&o);
    o.timeout_s = 10;
    o.client_timeout_s = 1;
    o.tmp_parent = up;
    vtag_server *srv = NULL;
    vtag_error err = {0};
    int rc = vtag_server_start(&srv, &o, &fns, &err);
    CHECK(rc == 0, "start: %s", err.msg);
    if (rc) return;
    int port = vtag_server_port(srv);
    runner run = {.srv = srv};
    pthread_create(&run.t, NULL, run_main, &run);

    int fd = connect_to(port);
    const char *part = "POST /v1/tag HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc";
    CHECK(send(fd, part, strlen(part), MSG_NOSIGNAL) == (ssize_t)strlen(part), "slow client sends a part");
    double t0 = vtag_seconds();
    char buf[256];
    ssize_t k;
    while ((k = recv(fd, buf, sizeof buf, 0)) > 0) {}
    double waited = vtag_seconds() - t0;
    CHECK(k == 0 && waited < 10, "slow client cut off after %.1f s", waited);
    close(fd);

    atomic_store(&f.sleep_ms, 2000);
    reply r = post(port, "/v1/tag", "application/octet-stream", "long job", 8);
    CHECK(r.status == 200 && has(&r, hash_of("long job", 8)), "job longer than the client timeout: %d %s",
          r.status, r.body);
    free(r.body);
    signal_target = srv;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    pthread_kill(run.t, SIGUSR1);
    pthread_join(run.t, NULL);
    CHECK(run.rc == 0, "run returns 0 after the signal");
    CHECK(dir_entries(vtag_server_tmpdir(srv)) == 0, "slow client's upload removed");
    vtag_server_free(&srv);
}

static void test_bad_opts(void)
{
    fake f = {0};
    vtag_serve_fns fns = {.user = &f, .make_worker = make_worker, .free_worker = free_worker, .tag = fake_tag};
    vtag_server_opts o;
    vtag_server_defaults(&o);
    vtag_server *srv = NULL;
    vtag_error err = {0};
    o.host = "localhost.example";
    CHECK(vtag_server_start(&srv, &o, &fns, &err) == VTAG_ERR_ARG && srv == NULL, "non-numeric host refused");
    CHECK(strstr(err.msg, "localhost.example") != NULL, "message names the host: %s", err.msg);
    vtag_server_defaults(&o);
    o.workers = 0;
    CHECK(vtag_server_start(&srv, &o, &fns, &err) == VTAG_ERR_ARG, "0 workers refused");
    vtag_server_defaults(&o);
    o.queue = 0;
    CHECK(vtag_server_start(&srv, &o, &fns, &err) == VTAG_ERR_ARG, "queue 0 refused");
    vtag_server_defaults(&o);
    o.port = 70000;
    CHECK(vtag_server_start(&srv, &o, &fns, &err) == VTAG_ERR_ARG, "port 70000 refused");
    vtag_server_defaults(&o);
    o.root = "/nonexistent/vtag/root";
    CHECK(vtag_server_start(&srv, &o, &fns, &err) == VTAG_ERR_IO && strstr(err.msg, "root"), "missing root: %s",
          err.msg);
    CHECK(atomic_load(&f.workers) == 0, "every worker made is freed by a refused start");
}

int main(void)
{
    char tmp[] = "/tmp/vtag-test-server.XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    vtag_video_set_log(VTAG_VIDEO_LOG_QUIET); /* the unreachable URL's FFmpeg message */
    test_bad_opts();
    test_endpoints(tmp);
    test_timeout_and_stop(tmp);
    test_slow(tmp);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) return 1;
    return check_summary("serve/test_server");
}

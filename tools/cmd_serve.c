/* vtag serve: the tagger behind an HTTP service (vtag/serve.h): the models are
 * loaded once, each worker thread tags with its own scratch (a tagger worker
 * and a context), and every answer is the line vtag tag writes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vtag/serve.h"
#include "vtag/tagger.h"

#define CMD "serve"

static void help(FILE *out)
{
    fprintf(out,
            "usage: vtag serve --from DIR [options]\n"
            "\n"
            "Tags videos over HTTP with the models of a vtag pipeline folder, loaded once:\n"
            "  POST /v1/tag      the video as the body (?name=NAME names it in the answer), a\n"
            "                    multipart form upload, or JSON {\"path\": P} (a file under --root)\n"
            "                    or {\"url\": U} (with --allow-urls); options ?top_n=N, ?min_frames=C, ?min_score=P.\n"
            "                    The answer is the JSON line vtag tag writes for the video (422 and\n"
            "                    its error line when it cannot be decoded).\n"
            "  GET /healthz, GET /v1/models, GET /metrics (Prometheus), GET / (an upload page).\n"
            "A full queue answers 503 (Retry-After), a body over --max-body 413, a request past\n"
            "--timeout 504. SIGTERM or SIGINT stops accepting, answers every accepted request and\n"
            "exits 0.\n"
            "\n"
            "options:\n"
            "  --from DIR         a folder made by vtag pipeline\n"
            "  -m, --model NAME   fc | att2in | topdown | video (the best on validation)\n"
            "  --host H           address to listen on (127.0.0.1)\n"
            "  --port P           port (8080; 0: any free one, printed)\n"
            "  --workers N        videos tagged at once (2)\n"
            "  --queue Q          requests waiting for a worker before 503 (8)\n"
            "  --max-body BYTES   largest upload (1073741824)\n"
            "  --timeout S        seconds a request may take, upload included (300)\n"
            "  --root DIR         {\"path\"} requests may name files under DIR (off)\n"
            "  --allow-urls       {\"url\"} requests are fetched (off)\n"
            "  --beam K           beam search of width K (greedy)\n"
            "  --top-n N          default tags per video (5)\n"
            "  -j, --threads T    threads per worker (1)\n"
            "  -h, --help         this help\n");
}

typedef struct serve_args {
    vtag_server_opts so;
    vtag_tagger_options to;
    vtag_tag_opts tag;
    long threads;
} serve_args;

enum { OPT_HOST = 256, OPT_PORT, OPT_WORKERS, OPT_QUEUE, OPT_MAXBODY, OPT_TIMEOUT, OPT_ROOT, OPT_URLS, OPT_BEAM,
       OPT_TOPN, OPT_FROM, OPT_THREADS = 'j', OPT_MODEL = 'm', OPT_HELP = 'h' };

static int parse(int argc, char **argv, serve_args *a)
{
    static const struct option opts[] = {
        {"from", required_argument, 0, OPT_FROM},       {"model", required_argument, 0, OPT_MODEL},
        {"host", required_argument, 0, OPT_HOST},       {"port", required_argument, 0, OPT_PORT},
        {"workers", required_argument, 0, OPT_WORKERS}, {"queue", required_argument, 0, OPT_QUEUE},
        {"max-body", required_argument, 0, OPT_MAXBODY}, {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"root", required_argument, 0, OPT_ROOT},       {"allow-urls", no_argument, 0, OPT_URLS},
        {"beam", required_argument, 0, OPT_BEAM},       {"top-n", required_argument, 0, OPT_TOPN},
        {"threads", required_argument, 0, OPT_THREADS}, {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0}};
    vtag_server_defaults(&a->so);
    a->so.port = 8080;
    a->so.workers = 2;
    a->so.stop_on_signals = 1;
    vtag_tagger_options_default(&a->to);
    vtag_tag_opts_default(&a->tag);
    a->threads = 1;
    long v;
    double d;
    int c;
    optind = 0;
    while ((c = cli_getopt(CMD, argc, argv, opts)) != -1) {
        switch (c) {
        case OPT_FROM: a->to.dir = optarg; break;
        case OPT_MODEL: a->to.model = optarg; break;
        case OPT_HOST: a->so.host = optarg; break;
        case OPT_ROOT: a->so.root = optarg; break;
        case OPT_URLS: a->so.allow_urls = 1; break;
        case OPT_PORT:
            if (cli_parse_int(CMD, "--port", optarg, 0, 65535, &v)) return -1;
            a->so.port = (int)v;
            break;
        case OPT_WORKERS:
            if (cli_parse_int(CMD, "--workers", optarg, 1, 256, &v)) return -1;
            a->so.workers = (int)v;
            break;
        case OPT_QUEUE:
            if (cli_parse_int(CMD, "--queue", optarg, 1, 100000, &v)) return -1;
            a->so.queue = (int)v;
            break;
        case OPT_MAXBODY:
            if (cli_parse_int(CMD, "--max-body", optarg, 1, 1L << 40, &v)) return -1;
            a->so.max_body = v;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_real(CMD, "--timeout", optarg, 0, 1e6, CLI_OPEN_LO, &d)) return -1;
            a->so.timeout_s = d;
            break;
        case OPT_BEAM:
            if (cli_parse_int(CMD, "--beam", optarg, 1, 64, &v)) return -1;
            a->to.beam = (int)v;
            break;
        case OPT_TOPN:
            if (cli_parse_int(CMD, "--top-n", optarg, 0, 1000000, &v)) return -1;
            a->tag.top_n = v;
            break;
        case OPT_THREADS:
            if (cli_parse_int(CMD, "--threads", optarg, 1, 1024, &a->threads)) return -1;
            break;
        case OPT_HELP: help(stdout); return 1;
        default: return -1;
        }
    }
    if (optind < argc) {
        cli_error(CMD, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->to.dir) {
        cli_error(CMD, "--from DIR is required (vtag serve --help)");
        return -1;
    }
    return 0;
}

/* The shared side: the tagger and the request defaults; a worker: its own tagger worker and context. */
typedef struct shared {
    vtag_tagger_t *tagger;
    vtag_tag_opts tag;
    int threads;
} shared;

typedef struct worker {
    const shared *sh;
    vtag_tagger_worker *w;
    vtag_ctx ctx;
} worker;

static int make_worker(void *user, void **out, vtag_error *err)
{
    const shared *sh = user;
    worker *w = calloc(1, sizeof *w);
    if (!w) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
    w->sh = sh;
    int rc = vtag_ctx_init(&w->ctx, sh->threads, 42, err);
    if (rc) {
        free(w);
        return rc;
    }
    if ((rc = vtag_tagger_worker_open(&w->w, sh->tagger, err))) {
        vtag_ctx_free(&w->ctx);
        free(w);
        return rc;
    }
    *out = w;
    return VTAG_OK;
}

static void free_worker(void *user, void *state)
{
    (void)user;
    worker *w = state;
    vtag_tagger_worker_close(&w->w);
    vtag_ctx_free(&w->ctx);
    free(w);
}

/* One request: the video tagged as vtag tag would, named as the client named it. */
static int tag_video(void *state, const char *path, const vtag_serve_query *q, char **line, int64_t *frames,
                     vtag_error *err)
{
    worker *w = state;
    const shared *sh = w->sh;
    vtag_tag_opts o = sh->tag;
    if (q->has_top_n) o.rule = VTAG_TAG_RULE_TOP_N, o.top_n = q->top_n;
    if (q->has_min_frames) o.rule = VTAG_TAG_RULE_MIN_FRAMES, o.min_frames = q->min_frames;
    if (q->has_min_score) o.min_score = q->min_score;
    vtag_tag_result r = {0};
    vtag_tagger_stats st = {0};
    int rc = vtag_tagger_worker_tag(w->w, &w->ctx, path, &o, &r, &st, err);
    *frames = st.n_frames;
    int status = VTAG_SERVE_OK;
    if (rc) {
        /* vtag tag's error line for the video, as its answer (422) */
        status = rc == VTAG_ERR_NOMEM ? VTAG_SERVE_FAILED : VTAG_SERVE_BAD_VIDEO;
        /* the message names the file vtag tag would have named: the client's name, not the upload's */
        char msg[sizeof err->msg];
        size_t n = strlen(path);
        if (strncmp(err->msg, path, n) == 0) snprintf(msg, sizeof msg, "%.300s%.200s", q->name, err->msg + n);
        else snprintf(msg, sizeof msg, "%s", err->msg);
        if (vtag_tag_fail_result(&r, q->name, msg, NULL)) return VTAG_SERVE_FAILED;
    } else {
        r.video = q->name;
    }
    if (vtag_tag_to_json(&r, line, rc ? NULL : err)) status = VTAG_SERVE_FAILED;
    vtag_tag_result_free(&r);
    return status;
}

static void access_line(void *user, const char *line)
{
    (void)user;
    cli_note(CMD, "%s", line);
}

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    int pr = parse(argc, argv, &a);
    if (pr) return pr > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    vtag_error err = {0};
    vtag_ctx ctx;
    shared sh = {NULL, a.tag, (int)a.threads};
    char *models = NULL;
    vtag_server *srv = NULL;
    int status = CLI_EXIT_FAIL;
    if (vtag_ctx_init(&ctx, 1, 42, &err)) goto done;
    int rc = vtag_tagger_open(&sh.tagger, &ctx, &a.to, &err);
    vtag_ctx_free(&ctx);
    if (rc || vtag_serve_models_json(&models, vtag_tagger_model_path(sh.tagger),
                                     vtag_tagger_backbone_path(sh.tagger), vtag_tagger_vocab_size(sh.tagger), &err))
        goto done;
    const vtag_serve_fns fns = {&sh, make_worker, free_worker, tag_video, models, vtag_serve_page_html(),
                                access_line};
    if (vtag_server_start(&srv, &a.so, &fns, &err)) goto done;
    cli_note(CMD, "listening on http://%s:%d/ (model %s, %d workers)", a.so.host, vtag_server_port(srv),
             vtag_tagger_model_path(sh.tagger), a.so.workers);
    fflush(stderr);
    if (!vtag_server_run(srv, &err)) status = CLI_EXIT_OK;
done:
    if (status != CLI_EXIT_OK) cli_error(CMD, "%s", err.msg);
    vtag_server_free(&srv);
    free(models);
    vtag_tagger_close(&sh.tagger);
    return status;
}

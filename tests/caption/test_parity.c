/* Parity of the caption models (fc, att2in, topdown) with reference/models.py on the fixtures of
 * reference/caption_fixtures.py. Usage: caption_test_parity [dir with caption_<model>.safetensors] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/safetensors.h"

/* Metric, per tensor: rel = max_i |got_i - ref_i| / max(max_i |ref_i|, floor), floor = 1e-6 unless the
 * fixture stores floor.<name> (a gradient that is 0 in exact arithmetic); pass when rel <= 1e-4.
 * Checked for each model with 1 and 2 threads: log-probabilities, loss, every gradient, greedy
 * tokens (equal) and their log-probabilities; the runs must also agree with each other, and the
 * parameter names of vtag and torch must be the same set with the same shapes. */
#define PARITY_TOL 1e-4
#define PARITY_FLOOR 1e-6
#define PARITY_SEED 4321u

typedef struct report {
    int passed, failed;
} report;

static void pass_fail(report *rep, int ok, const char *fmt, const char *a, const char *b)
{
    if (ok) {
        rep->passed++;
        return;
    }
    rep->failed++;
    printf("  FAIL ");
    printf(fmt, a, b);
    printf("\n");
}

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

/* rel of got against want (NaN anywhere: +inf); *first receives the first index off by more than
 * the tolerance (-1 if none). */
static double rel_err(const float *got, const float *want, int64_t n, double floor, int64_t *first)
{
    double scale = fmax(max_abs(want, n), floor), diff = 0.0;
    if (first) *first = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(d)) d = INFINITY;
        if (first && *first < 0 && d > PARITY_TOL * scale) *first = i;
        diff = fmax(diff, d);
    }
    return diff / scale;
}

/* Prints one comparison, counts it, and returns rel. */
static double compare(report *rep, const char *model, const char *what, const char *against, const float *got,
                      const float *want, int64_t n, double floor)
{
    int64_t first;
    double rel = rel_err(got, want, n, floor, &first);
    int ok = rel <= PARITY_TOL;
    ok ? rep->passed++ : rep->failed++;
    printf("  %-4s %-8s %-38s %-6s max|ref| %9.3e  rel %9.3e", ok ? "ok" : "FAIL", model, what, against,
           max_abs(want, n), rel);
    if (!ok && first >= 0) printf("  first at [%lld]: %.8g vs %.8g", (long long)first, got[first], want[first]);
    printf("\n");
    return rel;
}

static const vtag_st_tensor *fixture(const vtag_st_file *st, const char *name, vtag_dtype dt, int64_t numel)
{
    const vtag_st_tensor *t = vtag_st_find(st, name);
    if (!t)
        printf("  FAIL fixture: tensor '%s' is missing\n", name);
    else if (t->dtype != dt || (numel >= 0 && t->numel != numel)) {
        printf("  FAIL fixture: '%s' is %s with %lld elements, expected %s with %lld\n", name,
               vtag_dtype_name(t->dtype), (long long)t->numel, vtag_dtype_name(dt), (long long)numel);
        t = NULL;
    }
    return t;
}

static int same_shape(const vtag_param *p, const vtag_st_tensor *t)
{
    if (p->ndim != t->ndim) return 0;
    for (int d = 0; d < p->ndim; d++)
        if (p->shape[d] != t->shape[d]) return 0;
    return 1;
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

/* The name sets of vtag and of the fixture (every grad.<name> is a torch parameter) must be equal,
 * with equal shapes. */
static void check_names(report *rep, const char *model, const vtag_model *m, const vtag_st_file *st)
{
    int missing = 0, extra = 0, misshapen = 0;
    for (int i = 0; i < m->params.count; i++) {
        const vtag_param *p = &m->params.items[i];
        char gname[160];
        snprintf(gname, sizeof gname, "grad.%s", p->name);
        const vtag_st_tensor *t = vtag_st_find(st, p->name);
        if (!t || !vtag_st_find(st, gname)) {
            printf("  FAIL %s: vtag parameter '%s' is not in the torch model\n", model, p->name);
            extra++;
        } else if (!same_shape(p, t)) {
            char a[64], b[64];
            shape_str(a, sizeof a, p->ndim, p->shape);
            shape_str(b, sizeof b, t->ndim, t->shape);
            printf("  FAIL %s: '%s' is %s in vtag, %s in torch\n", model, p->name, a, b);
            misshapen++;
        }
    }
    int torch_count = 0;
    for (int i = 0; i < st->count; i++) {
        const char *name = st->tensors[i].name;
        if (strncmp(name, "grad.", 5) != 0) continue;
        torch_count++;
        if (vtag_params_find(&m->params, name + 5) < 0) {
            printf("  FAIL %s: torch parameter '%s' is not in vtag\n", model, name + 5);
            missing++;
        }
    }
    int ok = !missing && !extra && !misshapen;
    ok ? rep->passed++ : rep->failed++;
    printf("  %-4s %-8s parameter names and shapes: vtag %d, torch %d (%d only in vtag, %d only in torch, "
           "%d misshapen)\n",
           ok ? "ok" : "FAIL", model, m->params.count, torch_count, extra, missing, misshapen);
}

/* What one run produced, for the 1- vs 2-thread comparison. */
typedef struct outputs {
    float *logprobs;  /* [B, L+1, V+1] */
    float *grad;      /* [total] */
    int64_t total;    /* parameter floats */
    float loss;
    int32_t *seq;     /* [B, L] */
    float *seq_lp;    /* [B, L+1] */
    int32_t *len;     /* [B] */
    float *train_grad; /* [total] with dropout on */
    float train_loss;
    int ok;
} outputs;

static void outputs_free(outputs *o)
{
    free(o->logprobs);
    free(o->grad);
    free(o->seq);
    free(o->seq_lp);
    free(o->len);
    free(o->train_grad);
    memset(o, 0, sizeof *o);
}

typedef struct fixture_data {
    const float *fc, *att, *logprobs, *loss, *greedy_lp;
    const int32_t *labels, *greedy_seq, *greedy_len;
    int64_t b, k, l, v1;
} fixture_data;

static int run_model(report *rep, const char *model, const vtag_st_file *st, const vtag_model_config *cfg,
                     const fixture_data *fx, int threads, outputs *o)
{
    vtag_ctx ctx;
    vtag_model m;
    vtag_error err = {0};
    char against[8];
    snprintf(against, sizeof against, "t=%d", threads);
    memset(o, 0, sizeof *o);
    memset(&m, 0, sizeof m);
    if (vtag_ctx_init(&ctx, threads, PARITY_SEED, &err) != 0) {
        printf("  FAIL %s: vtag_ctx_init: %s\n", model, err.msg);
        rep->failed++;
        return -1;
    }
    int rc = -1;
    if (vtag_model_init(&m, cfg, &err) != 0) {
        printf("  FAIL %s: vtag_model_init: %s\n", model, err.msg);
        rep->failed++;
        goto done;
    }
    if (threads == 1) check_names(rep, model, &m, st);

    /* The torch weights, by name. */
    int copied = 0;
    for (int i = 0; i < m.params.count; i++) {
        const vtag_param *p = &m.params.items[i];
        const vtag_st_tensor *t = vtag_st_find(st, p->name);
        if (!t || t->dtype != VTAG_DTYPE_F32 || t->numel != p->numel) continue; /* reported by check_names */
        int idx = vtag_params_find(&m.params, p->name);
        memcpy(vtag_params_value(&m.params, idx), t->data, (size_t)p->numel * sizeof(float));
        copied++;
    }
    if (copied != m.params.count) {
        printf("  FAIL %s: only %d of %d parameters could be loaded\n", model, copied, m.params.count);
        rep->failed++;
        goto done;
    }
    vtag_params_zero_grad(&m.params);

    int64_t nlp = fx->b * (fx->l + 1) * fx->v1;
    o->logprobs = calloc((size_t)nlp, sizeof(float));
    o->grad = calloc((size_t)m.params.total, sizeof(float));
    o->total = m.params.total;
    o->seq = calloc((size_t)(fx->b * fx->l), sizeof(int32_t));
    o->seq_lp = calloc((size_t)(fx->b * (fx->l + 1)), sizeof(float));
    o->len = calloc((size_t)fx->b, sizeof(int32_t));
    float *lp2 = calloc((size_t)nlp, sizeof(float));
    float *grad2 = calloc((size_t)m.params.total, sizeof(float));
    if (!o->logprobs || !o->grad || !o->seq || !o->seq_lp || !o->len || !lp2 || !grad2) {
        printf("  FAIL %s: out of memory\n", model);
        rep->failed++;
        free(lp2);
        free(grad2);
        goto done;
    }
    /* The batch as the header documents it: fc only for fc/topdown, att only for att2in/topdown. */
    vtag_batch batch = {
        .b = fx->b,
        .k = cfg->type == VTAG_MODEL_FC ? 0 : fx->k,
        .fc = cfg->type == VTAG_MODEL_ATT2IN ? NULL : fx->fc,
        .att = cfg->type == VTAG_MODEL_FC ? NULL : fx->att,
        .labels = fx->labels,
    };
    double loss = NAN;
    if (vtag_model_xe(&ctx, &m, &batch, 0, 1, &loss, o->logprobs, &err) != 0) {
        printf("  FAIL %s %s: vtag_model_xe: %s\n", model, against, err.msg);
        rep->failed++;
        free(lp2);
        free(grad2);
        goto done;
    }
    o->loss = (float)loss;
    memcpy(o->grad, m.params.grad, (size_t)m.params.total * sizeof(float));

    compare(rep, model, "logprobs [B, L+1, V+1]", against, o->logprobs, fx->logprobs, nlp, PARITY_FLOOR);
    compare(rep, model, "loss", against, &o->loss, fx->loss, 1, PARITY_FLOOR);
    for (int i = 0; i < m.params.count; i++) {
        const vtag_param *p = &m.params.items[i];
        char name[160], label[160];
        snprintf(name, sizeof name, "grad.%s", p->name);
        const vtag_st_tensor *g = fixture(st, name, VTAG_DTYPE_F32, p->numel);
        if (!g) {
            rep->failed++;
            continue;
        }
        snprintf(name, sizeof name, "floor.%s", p->name);
        const vtag_st_tensor *fl = vtag_st_find(st, name);
        double floor = fl && fl->dtype == VTAG_DTYPE_F32 && fl->numel == 1 ? fmax(*(const float *)fl->data, PARITY_FLOOR)
                                                                          : PARITY_FLOOR;
        snprintf(label, sizeof label, "d %s%s", p->name, fl ? " (floor)" : "");
        compare(rep, model, label, against, o->grad + p->offset, g->data, p->numel, floor);
    }

    /* The contract of the header: backward ADDS into the gradients; backward = 0 leaves them alone;
     * the same call gives the same log-probabilities and loss. */
    double loss2 = NAN;
    int rc2 = vtag_model_xe(&ctx, &m, &batch, 0, 1, &loss2, lp2, &err);
    int same = rc2 == 0 && loss2 == loss && memcmp(lp2, o->logprobs, (size_t)nlp * sizeof(float)) == 0;
    pass_fail(rep, same, "%s %s: a second identical vtag_model_xe call gives other logprobs or loss", model, against);
    for (int64_t i = 0; i < m.params.total; i++) grad2[i] = 0.5f * m.params.grad[i];
    compare(rep, model, "all grads after 2 calls / 2", against, grad2, o->grad, m.params.total, PARITY_FLOOR);
    memcpy(grad2, m.params.grad, (size_t)m.params.total * sizeof(float));
    rc2 = vtag_model_xe(&ctx, &m, &batch, 0, 0, &loss2, NULL, &err);
    same = rc2 == 0 && loss2 == loss && memcmp(grad2, m.params.grad, (size_t)m.params.total * sizeof(float)) == 0;
    pass_fail(rep, same, "%s %s: backward = 0 must give the same loss and leave the gradients alone", model,
              against);
    free(lp2);
    free(grad2);

    /* Greedy decoding. */
    vtag_decode_opts opts = {.mode = VTAG_DECODE_GREEDY, .beam_size = 1, .temperature = 1.0f, .train = 0};
    if (vtag_model_decode(&ctx, &m, &batch, &opts, o->seq, o->seq_lp, o->len, &err) != 0) {
        printf("  FAIL %s %s: vtag_model_decode: %s\n", model, against, err.msg);
        rep->failed++;
        goto done;
    }
    int tokens_ok = 1;
    for (int64_t i = 0; i < fx->b; i++) {
        int row_ok = o->len[i] == fx->greedy_len[i];
        for (int64_t t = 0; t < fx->l; t++) row_ok &= o->seq[i * fx->l + t] == fx->greedy_seq[i * fx->l + t];
        if (!row_ok) {
            printf("  FAIL %s %s: greedy row %lld: vtag", model, against, (long long)i);
            for (int64_t t = 0; t < fx->l; t++) printf(" %d", o->seq[i * fx->l + t]);
            printf(" (len %d), torch", o->len[i]);
            for (int64_t t = 0; t < fx->l; t++) printf(" %d", fx->greedy_seq[i * fx->l + t]);
            printf(" (len %d)\n", fx->greedy_len[i]);
        }
        tokens_ok &= row_ok;
    }
    tokens_ok ? rep->passed++ : rep->failed++;
    printf("  %-4s %-8s %-38s %-6s\n", tokens_ok ? "ok" : "FAIL", model, "greedy tokens and lengths", against);
    compare(rep, model, "greedy logprobs [B, L+1]", against, o->seq_lp, fx->greedy_lp, fx->b * (fx->l + 1),
            PARITY_FLOOR);

    /* Dropout on cannot match torch (another RNG), but from the same seed it must give the same
     * result whatever the thread count (checked by the caller), and not the evaluation loss. */
    o->train_grad = calloc((size_t)m.params.total, sizeof(float));
    vtag_rng_seed(&ctx.rng, PARITY_SEED + 1);
    vtag_params_zero_grad(&m.params);
    double train_loss = NAN;
    if (!o->train_grad || vtag_model_xe(&ctx, &m, &batch, 1, 1, &train_loss, NULL, &err) != 0) {
        printf("  FAIL %s %s: vtag_model_xe with dropout: %s\n", model, against, o->train_grad ? err.msg : "no memory");
        rep->failed++;
        goto done;
    }
    o->train_loss = (float)train_loss;
    memcpy(o->train_grad, m.params.grad, (size_t)m.params.total * sizeof(float));
    pass_fail(rep, isfinite(train_loss) && fabs(train_loss - loss) > 1e-3 * fabs(loss),
              "%s %s: dropout on must change the loss", model, against);
    o->ok = 1;
    rc = 0;
done:
    vtag_model_free(&m);
    vtag_ctx_free(&ctx);
    return rc;
}

static void run_file(report *rep, const char *dir, const char *model)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/caption_%s.safetensors", dir, model);
    printf("%s\n", path);
    vtag_st_file st;
    vtag_error err = {0};
    if (vtag_st_open(&st, path, &err) != 0) {
        printf("  FAIL %s (run reference/caption_fixtures.py --out %s first)\n", err.msg, dir);
        rep->failed++;
        return;
    }
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    const char *json = vtag_st_meta(&st, "vtag.config"), *type = vtag_st_meta(&st, "vtag.model");
    vtag_model_type mt;
    if (!json || !type || vtag_model_type_parse(type, &mt) != 0 || vtag_model_config_from_json(&cfg, json, &err) != 0) {
        printf("  FAIL %s: vtag.model or vtag.config missing or unreadable (%s)\n", path, err.msg);
        rep->failed++;
        vtag_st_close(&st);
        return;
    }
    cfg.type = mt;
    pass_fail(rep, strcmp(vtag_model_type_name(mt), model) == 0, "%s: vtag.model is not %s", path, model);

    const vtag_st_tensor *labels = vtag_st_find(&st, "batch.labels"), *att = vtag_st_find(&st, "batch.att");
    fixture_data fx = {0};
    if (labels && labels->ndim == 2 && att && att->ndim == 3) {
        fx.b = labels->shape[0];
        fx.l = labels->shape[1];
        fx.k = att->shape[1];
    }
    fx.v1 = cfg.vocab_size + 1;
    pass_fail(rep, fx.l == cfg.max_length, "%s: batch.labels has %s columns, not max_length", path,
              labels ? "other" : "no");
    const vtag_st_tensor *t[8] = {
        fixture(&st, "batch.fc", VTAG_DTYPE_F32, fx.b * cfg.fc_feat_size),
        fixture(&st, "batch.att", VTAG_DTYPE_F32, fx.b * fx.k * cfg.att_feat_size),
        fixture(&st, "batch.labels", VTAG_DTYPE_I32, fx.b * fx.l),
        fixture(&st, "out.logprobs", VTAG_DTYPE_F32, fx.b * (fx.l + 1) * fx.v1),
        fixture(&st, "out.loss", VTAG_DTYPE_F32, 1),
        fixture(&st, "greedy.seq", VTAG_DTYPE_I32, fx.b * fx.l),
        fixture(&st, "greedy.logprobs", VTAG_DTYPE_F32, fx.b * (fx.l + 1)),
        fixture(&st, "greedy.len", VTAG_DTYPE_I32, fx.b),
    };
    for (int i = 0; i < 8; i++) {
        if (!t[i] || fx.b == 0) {
            rep->failed++;
            vtag_st_close(&st);
            return;
        }
    }
    fx.fc = t[0]->data;
    fx.att = t[1]->data;
    fx.labels = t[2]->data;
    fx.logprobs = t[3]->data;
    fx.loss = t[4]->data;
    fx.greedy_seq = t[5]->data;
    fx.greedy_lp = t[6]->data;
    fx.greedy_len = t[7]->data;

    outputs runs[2];
    run_model(rep, model, &st, &cfg, &fx, 1, &runs[0]);
    run_model(rep, model, &st, &cfg, &fx, 2, &runs[1]);
    if (runs[0].ok && runs[1].ok) {
        compare(rep, model, "logprobs", "t1~t2", runs[1].logprobs, runs[0].logprobs,
                fx.b * (fx.l + 1) * fx.v1, PARITY_FLOOR);
        compare(rep, model, "loss", "t1~t2", &runs[1].loss, &runs[0].loss, 1, PARITY_FLOOR);
        /* All gradients at once, scaled by the largest of them. */
        compare(rep, model, "all grads", "t1~t2", runs[1].grad, runs[0].grad, runs[0].total, PARITY_FLOOR);
        compare(rep, model, "loss with dropout", "t1~t2", &runs[1].train_loss, &runs[0].train_loss, 1, PARITY_FLOOR);
        compare(rep, model, "all grads with dropout", "t1~t2", runs[1].train_grad, runs[0].train_grad, runs[0].total,
                PARITY_FLOOR);
        int same = memcmp(runs[0].seq, runs[1].seq, (size_t)(fx.b * fx.l) * sizeof(int32_t)) == 0 &&
                   memcmp(runs[0].len, runs[1].len, (size_t)fx.b * sizeof(int32_t)) == 0;
        pass_fail(rep, same, "%s: greedy tokens differ between 1 and 2 threads%s", model, "");
    }
    outputs_free(&runs[0]);
    outputs_free(&runs[1]);
    vtag_st_close(&st);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    printf("caption models vs reference/models.py: rel = max|got-ref| / max(max|ref|, floor), floor %.0e "
           "unless stated, pass if rel <= %.0e\n",
           PARITY_FLOOR, PARITY_TOL);
    report rep = {0};
    static const char *const models[] = {"fc", "att2in", "topdown"};
    for (int i = 0; i < 3; i++) run_file(&rep, dir, models[i]);
    printf("caption_test_parity: %d passed, %d failed\n", rep.passed, rep.failed);
    return rep.failed ? 1 : 0;
}

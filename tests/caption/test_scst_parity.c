/* Parity of one SCST update (fixed samples, fixed rewards) with reference/scst.py on the fixtures of
 * reference/scst_fixtures.py. The loss and gradients are taken as vtag_scst_step takes them — the
 * sampling pass with a tape over the images, the fixture's samples forced, then vtag_scst_backward —
 * and also by vtag_model_xe_weighted over the rows; dropout off on both sides, so both use the same
 * (unit) masks. Usage: caption_test_scst_parity [dir with scst_<model>.safetensors] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/optim.h"
#include "vtag/safetensors.h"
#include "vtag/scst.h"

/* Loss and gradients, per tensor as in test_parity.c: rel = max_i |got_i − ref_i| / max(max_i |ref_i|,
 * floor), floor 1e-6 unless the fixture stores floor.<name> (alpha_net.bias, whose exact gradient is
 * 0; and the loss, whose signed terms cancel: its floor is the loss with |advantages|); pass when
 * rel <= 1e-4.
 *
 * Updated parameters: "rel ≤ 1e-4 of the parameter" would be no test at all — one step moves an
 * element by about lr = 5e-5, so a step in the wrong direction changes a parameter of size 1 by 1e-4.
 * The step itself is compared instead, element by element:
 *   |p_vtag − p_torch| <= ulp(p_torch) + 1e-4 · max|Δ_torch| + |u(clip(g_vtag)) − u(clip(g_torch))|
 * where Δ_torch = p_torch − p_before and u(g) is Adam's step for gradient g from the stored moments,
 * written out in double (torch.optim.Adam's formula; scst.py's self-test holds torch to it). The
 * terms: both sides round the result to float32 (one ulp apart at most); float32 Adam arithmetic (a
 * few ulps of the step, allowed 1e-4 of the tensor's largest step); and whatever the gradient
 * difference already accepted above implies — which matters where the step is decided by a
 * gradient near 0: from a fresh Adam u(g) = lr·g/(|g| + 1e-8), so alpha_net.bias (exact gradient 0,
 * float32 noise ~1e-9) legitimately moves by anything in ±lr. The table prints "bound", the worst
 * ratio of the difference to this allowance (pass <= 1), "step" = max|Δ_vtag − Δ_torch| / max|Δ_torch|
 * and "rel" = max|p_vtag − p_torch| / max|p_torch|, the plain relative error, for the record.
 * Two updates: from a fresh Adam (the first SCST step: every step ±lr, clipping invisible) and from
 * stored moments after 3 updates (where the ±0.1 clip changes the step). 1 and 2 threads. */
#define PARITY_TOL 1e-4
#define PARITY_FLOOR 1e-6
#define PARITY_SEED 4321u

typedef struct report {
    int passed, failed;
} report;

static void count(report *rep, int ok) { ok ? rep->passed++ : rep->failed++; }

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)x[i]));
    return m;
}

static double rel_err(const float *got, const float *want, int64_t n, double floor)
{
    double diff = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        diff = fmax(diff, isnan(d) ? INFINITY : d);
    }
    return diff / fmax(max_abs(want, n), floor);
}

static void compare(report *rep, const char *model, const char *what, const char *against, const float *got,
                    const float *want, int64_t n, double floor)
{
    double rel = rel_err(got, want, n, floor);
    int ok = rel <= PARITY_TOL;
    count(rep, ok);
    printf("  %-4s %-8s %-40s %-4s max|ref| %9.3e  rel %9.3e\n", ok ? "ok" : "FAIL", model, what, against,
           max_abs(want, n), rel);
}

static const vtag_st_tensor *fixture(report *rep, const vtag_st_file *st, const char *name, vtag_dtype dt,
                                     int64_t numel)
{
    const vtag_st_tensor *t = vtag_st_find(st, name);
    if (!t || t->dtype != dt || t->numel != numel) {
        printf("  FAIL fixture: tensor '%s' is missing or not %s with %lld elements\n", name, vtag_dtype_name(dt),
               (long long)numel);
        rep->failed++;
        return NULL;
    }
    return t;
}

static const float *fixture_f(report *rep, const vtag_st_file *st, const char *prefix, const vtag_param *p)
{
    char name[200];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    const vtag_st_tensor *t = fixture(rep, st, name, VTAG_DTYPE_F32, p->numel);
    return t ? t->data : NULL;
}

static double floor_of(const vtag_st_file *st, const char *name)
{
    char key[200];
    snprintf(key, sizeof key, "floor.%s", name);
    const vtag_st_tensor *t = vtag_st_find(st, key);
    return t && t->dtype == VTAG_DTYPE_F32 && t->numel == 1 ? fmax(*(const float *)t->data, PARITY_FLOOR) : PARITY_FLOOR;
}

/* Adam's step for one element (what is subtracted from the parameter), in double, with vtag's float
 * constants: m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², step = lr/(1−β1^t) · m' / (sqrt(v'/(1−β2^t)) + eps). */
static double adam_step(const vtag_adam *a, double lr, double clip, double g, double m, double v, int64_t t)
{
    g = g < -clip ? -clip : g > clip ? clip : g;
    double b1 = a->beta1, b2 = a->beta2;
    double m1 = b1 * m + (1.0 - b1) * g, v1 = b2 * v + (1.0 - b2) * g * g;
    return lr / (1.0 - pow(b1, (double)t)) * m1 / (sqrt(v1 / (1.0 - pow(b2, (double)t))) + (double)a->eps);
}

/* The element-wise comparison of one updated tensor (see the top of the file). */
static void compare_update(report *rep, const char *model, const char *what, const char *against, const vtag_adam *adam,
                           double lr, double clip, const float *got, const float *want, const float *before,
                           const float *g_vtag, const float *g_torch, const float *m0, const float *v0, int64_t n)
{
    double max_step = 0.0, max_p = 0.0;
    for (int64_t i = 0; i < n; i++) {
        max_step = fmax(max_step, fabs((double)want[i] - before[i]));
        max_p = fmax(max_p, fabs((double)want[i]));
    }
    double bound = 0.0, step_err = 0.0, p_err = 0.0;
    int64_t worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double m = m0 ? m0[i] : 0.0, v = v0 ? v0[i] : 0.0;
        double sens = fabs(adam_step(adam, lr, clip, g_vtag[i], m, v, adam->step) -
                           adam_step(adam, lr, clip, g_torch[i], m, v, adam->step));
        float big = fmaxf(fabsf(got[i]), fabsf(want[i])); /* the two may round in adjacent binades */
        double ulp = (double)nextafterf(big, INFINITY) - big;
        double allowed = ulp + PARITY_TOL * max_step + sens;
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(d)) d = INFINITY;
        if (d / allowed > bound) bound = d / allowed, worst = i;
        step_err = fmax(step_err, fabs(((double)got[i] - before[i]) - ((double)want[i] - before[i])));
        p_err = fmax(p_err, d);
    }
    int ok = bound <= 1.0;
    count(rep, ok);
    char step[32] = "     -   "; /* torch did not move the tensor (alpha_net.bias from a fresh Adam) */
    if (max_step > 0) snprintf(step, sizeof step, "%9.3e", step_err / max_step);
    printf("  %-4s %-8s %-40s %-4s max|Δ| %9.3e  bound %5.3f  step %s  rel %9.3e\n", ok ? "ok" : "FAIL", model,
           what, against, max_step, bound, step, p_err / fmax(max_p, PARITY_FLOOR));
    if (!ok && n > 0)
        printf("       worst at [%lld]: %.9g vs %.9g (before %.9g, grad %.6g vs %.6g)\n", (long long)worst, got[worst],
               want[worst], before[worst], g_vtag[worst], g_torch[worst]);
}

typedef struct fixture_data {
    const float *fc, *att, *rewards, *adv, *loss, *loss_floor;
    const int32_t *labels;
    int64_t b, k, l;
    int sample_n;
    int64_t warm_step;
    double lr, clip;
} fixture_data;

static int load_weights(report *rep, const char *model, vtag_model *m, const vtag_st_file *st)
{
    int ok = 1;
    for (int i = 0; i < m->params.count; i++) {
        const vtag_param *p = &m->params.items[i];
        const float *w = fixture_f(rep, st, "", p);
        if (!w || !fixture_f(rep, st, "grad.", p)) {
            ok = 0;
            continue;
        }
        memcpy(vtag_params_value(&m->params, i), w, (size_t)p->numel * sizeof(float));
    }
    /* The fixture holds no parameter vtag lacks. */
    int torch_count = 0;
    for (int i = 0; i < st->count; i++)
        if (strncmp(st->tensors[i].name, "grad.", 5) == 0) torch_count++;
    ok &= torch_count == m->params.count;
    count(rep, ok);
    printf("  %-4s %-8s parameters: vtag %d, torch %d, all loaded by name\n", ok ? "ok" : "FAIL", model,
           m->params.count, torch_count);
    return ok;
}

static void run_model(report *rep, const char *model, const vtag_st_file *st, const vtag_model_config *cfg,
                      const fixture_data *fx, int threads)
{
    vtag_ctx ctx;
    vtag_model m;
    vtag_error err = {0};
    char against[8];
    snprintf(against, sizeof against, "t=%d", threads);
    memset(&m, 0, sizeof m);
    if (vtag_ctx_init(&ctx, threads, PARITY_SEED, &err) != 0) {
        printf("  FAIL %s: vtag_ctx_init: %s\n", model, err.msg);
        rep->failed++;
        return;
    }
    float *before = NULL, *grad = NULL;
    if (vtag_model_init(&m, cfg, &err) != 0) {
        printf("  FAIL %s: vtag_model_init: %s\n", model, err.msg);
        rep->failed++;
        goto done;
    }
    if (!load_weights(rep, model, &m, st)) goto done;
    const int64_t total = m.params.total;
    before = malloc((size_t)total * sizeof(float));
    grad = malloc((size_t)total * sizeof(float));
    if (!before || !grad) {
        printf("  FAIL %s: out of memory\n", model);
        rep->failed++;
        goto done;
    }
    memcpy(before, m.params.value, (size_t)total * sizeof(float));

    /* The advantages of the stored rewards (mean baseline) are the stored advantages. */
    float adv[64];
    {
        double r[64];
        for (int64_t i = 0; i < fx->b; i++) r[i] = fx->rewards[i];
        vtag_scst_advantages(r, NULL, fx->b / fx->sample_n, fx->sample_n, VTAG_SCST_BASELINE_MEAN, adv);
        int same = memcmp(adv, fx->adv, (size_t)fx->b * sizeof(float)) == 0;
        count(rep, same);
        printf("  %-4s %-8s vtag_scst_advantages(stored rewards, mean) = stored advantages  %s\n", same ? "ok" : "FAIL",
               model, against);
    }

    /* The SCST loss and its gradient, dropout off, two ways: vtag_scst_step's — the sampling pass with
     * a tape over the images (each image's features once, the fixture's samples forced), then
     * vtag_scst_backward — and vtag_model_xe_weighted over the rows (images repeated). The update
     * below starts from the first. */
    const vtag_batch rows = {
        .b = fx->b,
        .k = cfg->type == VTAG_MODEL_FC ? 0 : fx->k,
        .fc = cfg->type == VTAG_MODEL_ATT2IN ? NULL : fx->fc,
        .att = cfg->type == VTAG_MODEL_FC ? NULL : fx->att,
        .labels = fx->labels,
    };
    const int64_t n_img = fx->b / fx->sample_n, dfc = cfg->fc_feat_size, datt = fx->k * cfg->att_feat_size;
    float *img_fc = rows.fc ? malloc((size_t)(n_img * dfc) * sizeof(float)) : NULL;
    float *img_att = rows.att ? malloc((size_t)(n_img * datt) * sizeof(float)) : NULL;
    int32_t *seq = malloc((size_t)(fx->b * fx->l) * sizeof(int32_t));
    int repeated = seq != NULL;
    for (int64_t b = 0; b < fx->b; b++) { /* the fixture's rows are its images repeated sample_n times */
        const int64_t i = b / fx->sample_n;
        if (rows.fc) {
            if (b % fx->sample_n == 0) memcpy(img_fc + i * dfc, rows.fc + b * dfc, (size_t)dfc * sizeof(float));
            repeated &= memcmp(img_fc + i * dfc, rows.fc + b * dfc, (size_t)dfc * sizeof(float)) == 0;
        }
        if (rows.att) {
            if (b % fx->sample_n == 0) memcpy(img_att + i * datt, rows.att + b * datt, (size_t)datt * sizeof(float));
            repeated &= memcmp(img_att + i * datt, rows.att + b * datt, (size_t)datt * sizeof(float)) == 0;
        }
    }
    count(rep, repeated);
    printf("  %-4s %-8s fixture rows are %lld images x %d samples  %s\n", repeated ? "ok" : "FAIL", model,
           (long long)n_img, fx->sample_n, against);
    const vtag_batch images = {n_img, rows.k, img_fc, img_att, NULL};
    const float *g_torch[128] = {0};
    int have_all = m.params.count <= 128 && repeated;
    if (m.params.count > 128) {
        printf("  FAIL %s: %d parameter tensors, the test handles 128\n", model, m.params.count);
        rep->failed++;
    }
    for (int i = 0; i < m.params.count && have_all; i++)
        if (!(g_torch[i] = fixture_f(rep, st, "grad.", m.params.items + i))) have_all = 0;
    for (int way = 1; way >= 0 && have_all; way--) {
        double loss = NAN;
        vtag_params_zero_grad(&m.params);
        vtag_arena_reset(&ctx.arena);
        int rc;
        if (way) {
            vtag_scst_tape *tape = NULL;
            rc = vtag_scst_sample(&ctx, &m, &images, fx->sample_n, 0 /* dropout off */, fx->labels, &tape, seq, NULL, &err);
            if (!rc) rc = memcmp(seq, fx->labels, (size_t)(fx->b * fx->l) * sizeof(int32_t)) == 0
                              ? vtag_scst_backward(&ctx, &m, tape, fx->adv, &loss, &err)
                              : vtag_fail(&err, VTAG_ERR_ARG, "the tape's captions are not the forced ones");
        } else {
            rc = vtag_model_xe_weighted(&ctx, &m, &rows, fx->adv, 0 /* dropout off */, 1, &loss, NULL, &err);
        }
        const char *how = way ? "tape" : "xe_w";
        if (rc != 0) {
            printf("  FAIL %s %s %s: %s\n", model, against, how, err.msg);
            rep->failed++;
            have_all = 0;
            break;
        }
        if (way) memcpy(grad, m.params.grad, (size_t)total * sizeof(float));
        float lossf = (float)loss;
        char label[200];
        snprintf(label, sizeof label, "%s loss (floor: loss with |adv|)", how);
        compare(rep, model, label, against, &lossf, fx->loss, 1, fmax(*fx->loss_floor, PARITY_FLOOR));
        for (int i = 0; i < m.params.count; i++) {
            const vtag_param *p = &m.params.items[i];
            double floor = floor_of(st, p->name);
            snprintf(label, sizeof label, "%s d %s%s", how, p->name, floor > PARITY_FLOOR ? " (floor)" : "");
            compare(rep, model, label, against, m.params.grad + p->offset, g_torch[i], p->numel, floor);
        }
    }
    free(img_fc), free(img_att), free(seq);
    if (!have_all) goto done;

    /* Clip then Adam, as vtag_scst_step: from a fresh optimiser, then from the stored moments. */
    for (int warm = 0; warm < 2; warm++) {
        vtag_adam adam;
        vtag_adam_init(&adam);
        memcpy(m.params.value, before, (size_t)total * sizeof(float));
        memcpy(m.params.grad, grad, (size_t)total * sizeof(float));
        memset(m.params.adam_m, 0, (size_t)total * sizeof(float));
        memset(m.params.adam_v, 0, (size_t)total * sizeof(float));
        if (warm) {
            adam.step = fx->warm_step;
            for (int i = 0; i < m.params.count; i++) {
                const vtag_param *p = &m.params.items[i];
                const float *m3 = fixture_f(rep, st, "m3.", p), *v3 = fixture_f(rep, st, "v3.", p);
                if (!m3 || !v3) goto done;
                memcpy(m.params.adam_m + p->offset, m3, (size_t)p->numel * sizeof(float));
                memcpy(m.params.adam_v + p->offset, v3, (size_t)p->numel * sizeof(float));
            }
        }
        vtag_clip_grad_value(m.params.grad, total, (float)fx->clip, ctx.threads);
        vtag_adam_update(&adam, &m.params, (float)fx->lr, ctx.threads);
        for (int i = 0; i < m.params.count; i++) {
            const vtag_param *p = &m.params.items[i];
            const float *want = fixture_f(rep, st, warm ? "adam3." : "adam0.", p);
            const float *m3 = warm ? fixture_f(rep, st, "m3.", p) : NULL, *v3 = warm ? fixture_f(rep, st, "v3.", p) : NULL;
            if (!want || (warm && (!m3 || !v3))) continue;
            char label[200];
            snprintf(label, sizeof label, "%s %s", warm ? "adam@3" : "adam@0", p->name);
            compare_update(rep, model, label, against, &adam, (float)fx->lr, (float)fx->clip, m.params.value + p->offset,
                           want, before + p->offset, grad + p->offset, g_torch[i], m3, v3, p->numel);
        }
    }
done:
    free(before);
    free(grad);
    vtag_model_free(&m);
    vtag_ctx_free(&ctx);
}

static void run_file(report *rep, const char *dir, const char *model)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/scst_%s.safetensors", dir, model);
    printf("%s\n", path);
    vtag_st_file st;
    vtag_error err = {0};
    if (vtag_st_open(&st, path, &err) != 0) {
        printf("  FAIL %s (run reference/scst_fixtures.py --out %s first)\n", err.msg, dir);
        rep->failed++;
        return;
    }
    vtag_model_config cfg;
    vtag_model_config_defaults(&cfg);
    const char *json = vtag_st_meta(&st, "vtag.config"), *type = vtag_st_meta(&st, "vtag.model");
    const char *lr = vtag_st_meta(&st, "scst.lr"), *clip = vtag_st_meta(&st, "scst.clip");
    const char *sn = vtag_st_meta(&st, "scst.sample_n"), *ws = vtag_st_meta(&st, "scst.warm_step");
    vtag_model_type mt;
    if (!json || !type || !lr || !clip || !sn || !ws || vtag_model_type_parse(type, &mt) != 0 ||
        vtag_model_config_from_json(&cfg, json, &err) != 0 || strcmp(vtag_model_type_name(mt), model) != 0) {
        printf("  FAIL %s: metadata missing or unreadable (%s)\n", path, err.msg);
        rep->failed++;
        vtag_st_close(&st);
        return;
    }
    cfg.type = mt;
    fixture_data fx = {0};
    fx.lr = atof(lr);
    fx.clip = atof(clip);
    fx.sample_n = atoi(sn);
    fx.warm_step = atoll(ws);
    const vtag_st_tensor *labels = vtag_st_find(&st, "batch.labels"), *att = vtag_st_find(&st, "batch.att");
    if (labels && labels->ndim == 2 && att && att->ndim == 3) {
        fx.b = labels->shape[0];
        fx.l = labels->shape[1];
        fx.k = att->shape[1];
    }
    /* What vtag_scst_step feeds: images repeated sample_n times; lr and clip of vtag_scst_opts_defaults. */
    vtag_scst_opts o;
    vtag_scst_opts_defaults(&o);
    int sane = fx.l == cfg.max_length && fx.b > 0 && fx.b <= 64 && fx.sample_n >= 2 && fx.b % fx.sample_n == 0 &&
               (float)fx.lr == o.lr && (float)fx.clip == o.grad_clip;
    count(rep, sane);
    printf("  %-4s %s: B %lld = %lld images x %d samples, L %lld, lr %g and clip %g are vtag's SCST defaults\n",
           sane ? "ok" : "FAIL", model, (long long)fx.b, (long long)(fx.sample_n ? fx.b / fx.sample_n : 0), fx.sample_n,
           (long long)fx.l, fx.lr, fx.clip);
    const vtag_st_tensor *t[7] = {
        fixture(rep, &st, "batch.fc", VTAG_DTYPE_F32, fx.b * cfg.fc_feat_size),
        fixture(rep, &st, "batch.att", VTAG_DTYPE_F32, fx.b * fx.k * cfg.att_feat_size),
        fixture(rep, &st, "batch.labels", VTAG_DTYPE_I32, fx.b * fx.l),
        fixture(rep, &st, "scst.rewards", VTAG_DTYPE_F32, fx.b),
        fixture(rep, &st, "scst.adv", VTAG_DTYPE_F32, fx.b),
        fixture(rep, &st, "out.loss", VTAG_DTYPE_F32, 1),
        fixture(rep, &st, "floor.loss", VTAG_DTYPE_F32, 1),
    };
    int ok = sane;
    for (int i = 0; i < 7; i++) ok &= t[i] != NULL;
    if (ok) {
        fx.fc = t[0]->data;
        fx.att = t[1]->data;
        fx.labels = t[2]->data;
        fx.rewards = t[3]->data;
        fx.adv = t[4]->data;
        fx.loss = t[5]->data;
        fx.loss_floor = t[6]->data;
        /* The samples cover an empty caption (EOS only) and one cut at max_length. */
        int empty = 0, full = 0;
        for (int64_t i = 0; i < fx.b; i++) {
            empty |= fx.labels[i * fx.l] == 0;
            full |= fx.labels[i * fx.l + fx.l - 1] != 0;
        }
        count(rep, empty && full);
        printf("  %-4s %s: the samples include an empty caption and a full-length one\n", empty && full ? "ok" : "FAIL",
               model);
        run_model(rep, model, &st, &cfg, &fx, 1);
        run_model(rep, model, &st, &cfg, &fx, 2);
    }
    vtag_st_close(&st);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    printf("one SCST update vs reference/scst.py: loss and grads rel = max|got-ref| / max(max|ref|, floor), "
           "pass if <= %.0e; updated parameters within the element-wise bound (see the source)\n",
           PARITY_TOL);
    report rep = {0};
    static const char *const models[] = {"fc", "att2in", "topdown"};
    for (int i = 0; i < 3; i++) run_file(&rep, dir, models[i]);
    printf("caption_test_scst_parity: %d passed, %d failed\n", rep.passed, rep.failed);
    return rep.failed ? 1 : 0;
}

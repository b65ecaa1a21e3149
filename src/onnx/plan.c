/* The execution plan, built once per (input shapes, requested outputs,
 * threads): shape inference over the sorted graph; constant folding (every
 * node whose inputs are all known before the run — the Shape → Gather →
 * Unsqueeze → Concat chains before a Reshape — runs here, once); dead-node
 * removal; Relu / Clip(0, 6) / HardSwish fused into the Conv or
 * BatchNormalization before them (and a Relu into a residual Add); and buffer
 * planning: views (Reshape, Flatten, ...) share their input's buffer,
 * element-wise ops write in place over an input that dies there, and every
 * other value takes a buffer freed by a value whose last reader has run. The
 * buffers are allocated at the first run; later runs allocate nothing. */
#include <float.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

typedef struct onnx_step {
    int node;
    vtag_act act; /* fused activation */
    int out0;     /* value written as output 0 (a fused activation's output) */
    int skip;     /* a view sharing its input's buffer: nothing to do */
} onnx_step;

struct onnx_plan {
    /* key */
    int n_bind;
    int *bind;                /* value bound to request input k */
    vtag_onnx_tensor *bind_t; /* its dtype and shape */
    int n_req;
    int *req;
    int threads;
    uint64_t last_used;
    /* values */
    int n_values;
    vtag_onnx_tensor *vt;
    unsigned char *is_const;
    void **own; /* plan-owned data of folded values */
    int *slot;  /* buffer of a value, -1: none (constant or graph input) */
    int *root;  /* the value whose memory a value uses (itself, or a view's source) */
    /* steps and buffers */
    onnx_step *steps;
    int n_steps;
    void **slot_mem;
    size_t *slot_cap;
    int n_slots;
    float *ws;
    int64_t ws_floats;
    size_t bytes;       /* total of the buffers */
    size_t naive_bytes; /* one buffer per value */
    int n_folded, n_dead;
};

void onnx_plan_free(onnx_plan *p)
{
    if (!p) return;
    if (p->own)
        for (int v = 0; v < p->n_values; v++) free(p->own[v]);
    if (p->slot_mem)
        for (int s = 0; s < p->n_slots; s++) free(p->slot_mem[s]);
    free(p->slot_mem);
    free(p->slot_cap);
    free(p->ws);
    free(p->bind);
    free(p->bind_t);
    free(p->req);
    free(p->vt);
    free(p->is_const);
    free(p->own);
    free(p->slot);
    free(p->root);
    free(p->steps);
    free(p);
}

static size_t tensor_bytes(const vtag_onnx_tensor *t)
{
    return (size_t)vtag_onnx_tensor_numel(t) * vtag_onnx_dtype_size(t->dtype);
}

static int same_shape(const vtag_onnx_tensor *a, const vtag_onnx_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* Integer inputs of up to 64 values are taken as the plan's constants. */
static int value_keyed(const vtag_onnx_tensor *x)
{
    return x->data && (x->dtype == VTAG_ONNX_INT64 || x->dtype == VTAG_ONNX_INT32) &&
           vtag_onnx_tensor_numel(x) <= 64;
}

static int plan_matches(const onnx_plan *p, const vtag_onnx_model_t *m, const vtag_ctx *ctx,
                        const onnx_request *rq)
{
    if (p->threads != ctx->threads || p->n_bind != rq->n_in || p->n_req != rq->n_out) return 0;
    for (int k = 0; k < rq->n_in; k++) {
        if (strcmp(m->values[p->bind[k]].name, rq->in_names[k]) != 0) return 0;
        vtag_onnx_tensor a = rq->in[k];
        a.data = NULL;
        if (!same_shape(&a, &p->bind_t[k])) return 0;
        if (value_keyed(&rq->in[k]) != (p->bind_t[k].data != NULL)) return 0;
        if (p->bind_t[k].data && memcmp(rq->in[k].data, p->bind_t[k].data, tensor_bytes(&a)) != 0) return 0;
    }
    for (int k = 0; k < rq->n_out; k++)
        if (strcmp(m->values[p->req[k]].name, rq->out_names[k]) != 0) return 0;
    return 1;
}

/* Runs node nd at plan time: its inputs are all constants. */
static int fold_node(const vtag_onnx_model_t *m, onnx_plan *p, const vtag_ctx *ctx, const onnx_node *nd,
                     const vtag_onnx_tensor *const *in, vtag_error *err)
{
    vtag_onnx_tensor out[ONNX_MAX_OUTS];
    for (int k = 0; k < nd->n_out; k++) {
        int v = nd->out[k];
        out[k] = p->vt[v];
        size_t b = tensor_bytes(&out[k]);
        if (!(p->own[v] = malloc(b ? b : 1)))
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory folding node '%s'", m->path, nd->name);
        out[k].data = p->vt[v].data = p->own[v];
        p->is_const[v] = 1;
    }
    int64_t wsn = nd->op->workspace ? nd->op->workspace(nd, in, ctx->threads) : 0;
    float *ws = wsn ? malloc((size_t)wsn * sizeof(float)) : NULL;
    if (wsn && !ws) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory folding node '%s'", m->path, nd->name);
    nd->op->run(ctx, nd, VTAG_ACT_NONE, in, out, ws);
    free(ws);
    return VTAG_OK;
}

static int bind_inputs(const vtag_onnx_model_t *m, onnx_plan *p, const onnx_request *rq, vtag_error *err)
{
    for (int k = 0; k < rq->n_in; k++) {
        int v = onnx_value_find(m, rq->in_names[k]);
        if (v < 0 || m->values[v].kind != ONNX_VAL_INPUT)
            return vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: '%s' is not an input of the model", m->path,
                             rq->in_names[k]);
        const vtag_onnx_tensor *d = &m->values[v].t, *x = &rq->in[k];
        if (d->dtype && d->dtype != x->dtype)
            return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' is %s, the model declares %s", m->path,
                             rq->in_names[k], vtag_onnx_dtype_name(x->dtype), vtag_onnx_dtype_name(d->dtype));
        if (x->ndim < 0 || x->ndim > VTAG_ONNX_MAX_DIMS || !vtag_onnx_dtype_size(x->dtype))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s': bad rank or type", m->path, rq->in_names[k]);
        char why[200];
        if (onnx_shape_check(x->ndim, x->shape, why, sizeof why))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s': %s", m->path, rq->in_names[k], why);
        int ok = d->ndim < 0 || d->ndim == x->ndim;
        for (int i = 0; ok && d->ndim >= 0 && i < d->ndim; i++)
            ok = d->shape[i] < 0 || d->shape[i] == x->shape[i];
        for (int i = 0; i < x->ndim; i++) ok &= x->shape[i] >= 0;
        if (!ok) {
            char want[160] = "", got[160] = "";
            for (int i = 0, o = 0; i < d->ndim && o < 150; i++)
                o += snprintf(want + o, sizeof want - (size_t)o, "%s%lld", i ? "," : "",
                              (long long)d->shape[i]);
            for (int i = 0, o = 0; i < x->ndim && o < 150; i++)
                o +=
                    snprintf(got + o, sizeof got - (size_t)o, "%s%lld", i ? "," : "", (long long)x->shape[i]);
            return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' has shape [%s], the model declares [%s]",
                             m->path, rq->in_names[k], got, want);
        }
        for (int j = 0; j < k; j++)
            if (p->bind[j] == v)
                return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' given twice", m->path, rq->in_names[k]);
        p->bind[k] = v;
        p->bind_t[k] = *x;
        p->bind_t[k].data = NULL;
        p->vt[v] = *x;
        p->vt[v].data = NULL;
        if (value_keyed(x)) {
            /* a small integer input (a shape, axes, pads) is part of the plan's
             * key: its values are constants to everything the plan folds */
            size_t b = tensor_bytes(x);
            if (!(p->own[v] = malloc(b ? b : 1)))
                return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
            if (b) memcpy(p->own[v], x->data, b);
            p->vt[v].data = p->own[v];
            p->bind_t[k].data = p->own[v];
            p->is_const[v] = 1;
        }
    }
    for (int i = 0; i < m->n_inputs; i++) {
        int found = 0;
        for (int k = 0; k < rq->n_in; k++) found |= p->bind[k] == m->inputs[i];
        if (!found)
            return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' was not given", m->path,
                             m->values[m->inputs[i]].name);
    }
    return VTAG_OK;
}

/* Which activation a step t can hand to the Conv / BatchNormalization before it. */
static vtag_act fusable_act(const onnx_plan *p, const onnx_node *t)
{
    const char *op = t->op->name;
    if (strcmp(op, "Relu") == 0) return VTAG_ACT_RELU;
    if (strcmp(op, "HardSwish") == 0) return VTAG_ACT_HARDSWISH;
    if (strcmp(op, "Clip") == 0) {
        const vtag_onnx_tensor *in[3] = {NULL, NULL, NULL};
        for (int k = 1; k < t->n_in; k++)
            if (t->in[k] >= 0) {
                if (!p->is_const[t->in[k]]) return VTAG_ACT_NONE;
                in[k] = &p->vt[t->in[k]];
            }
        float lo, hi;
        if (onnx_clip_bounds(t, in, &lo, &hi)) return VTAG_ACT_NONE;
        if (lo == 0.0f && hi == 6.0f) return VTAG_ACT_RELU6;
        if (lo == 0.0f && hi >= FLT_MAX) return VTAG_ACT_RELU;
    }
    return VTAG_ACT_NONE;
}

/* Buffer slots: a value takes the free slot that fits it best (or grows the
 * largest free one); a slot is free again when every value in it is dead. */
typedef struct slots {
    size_t *cap;
    int *live;
    int n, max;
} slots;

static int slot_take(slots *s, size_t bytes)
{
    int best = -1, largest = -1;
    for (int i = 0; i < s->n; i++) {
        if (s->live[i]) continue;
        if (s->cap[i] >= bytes && (best < 0 || s->cap[i] < s->cap[best])) best = i;
        if (largest < 0 || s->cap[i] > s->cap[largest]) largest = i;
    }
    if (best < 0 && largest >= 0) {
        best = largest;
        s->cap[best] = bytes;
    }
    if (best < 0) {
        best = s->n++;
        s->cap[best] = bytes;
    }
    s->live[best] = 1;
    return best;
}

static int plan_build(const vtag_onnx_model_t *m, const vtag_ctx *ctx, const onnx_request *rq, onnx_plan **out,
                      vtag_error *err)
{
    int nv = m->n_values, rc = VTAG_OK;
    onnx_plan *p = calloc(1, sizeof *p);
    int *uses = NULL, *last = NULL, *needed = NULL;
    slots sl = {0};
    if (!p) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
    p->n_values = nv;
    p->threads = ctx->threads;
    p->n_bind = rq->n_in;
    p->n_req = rq->n_out;
    p->bind = calloc((size_t)rq->n_in + 1, sizeof *p->bind);
    p->bind_t = calloc((size_t)rq->n_in + 1, sizeof *p->bind_t);
    p->req = calloc((size_t)rq->n_out + 1, sizeof *p->req);
    p->vt = calloc((size_t)nv, sizeof *p->vt);
    p->is_const = calloc((size_t)nv, 1);
    p->own = calloc((size_t)nv, sizeof *p->own);
    p->slot = malloc((size_t)nv * sizeof *p->slot);
    p->root = malloc((size_t)nv * sizeof *p->root);
    p->steps = calloc((size_t)m->n_nodes + 1, sizeof *p->steps);
    uses = calloc((size_t)nv, sizeof *uses);
    last = malloc((size_t)nv * sizeof *last);
    needed = calloc((size_t)nv, sizeof *needed);
    sl.cap = calloc((size_t)nv + 1, sizeof *sl.cap);
    sl.live = calloc((size_t)nv + 1, sizeof *sl.live);
    if (!p->bind || !p->bind_t || !p->req || !p->vt || !p->is_const || !p->own || !p->slot || !p->root ||
        !p->steps || !uses || !last || !needed || !sl.cap || !sl.live) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        p->slot[v] = -1;
        p->root[v] = v;
        last[v] = -1;
        if (m->values[v].kind == ONNX_VAL_CONST) {
            p->vt[v] = m->values[v].t;
            p->is_const[v] = 1;
        }
    }
    if ((rc = bind_inputs(m, p, rq, err))) goto done;

    /* shape inference and constant folding, in execution order */
    for (int i = 0; i < m->n_nodes; i++) {
        const onnx_node *nd = &m->nodes[i];
        if (nd->folded) continue;
        const vtag_onnx_tensor *in[64];
        int all_const = 1;
        for (int k = 0; k < nd->n_in; k++) {
            in[k] = nd->in[k] >= 0 ? &p->vt[nd->in[k]] : NULL;
            if (nd->in[k] >= 0 && !p->is_const[nd->in[k]]) all_const = 0;
        }
        vtag_onnx_tensor o[ONNX_MAX_OUTS];
        memset(o, 0, sizeof o);
        if ((rc = nd->op->infer(m, nd, in, o, err))) goto done;
        for (int k = 0; k < nd->n_out; k++) {
            /* every value within VTAG_ONNX_MAX_ELEMENTS: the later size arithmetic cannot overflow */
            char why[200];
            if (onnx_shape_check(o[k].ndim, o[k].shape, why, sizeof why)) {
                rc = onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "output '%s': %s", nd->p->output[k], why);
                goto done;
            }
            o[k].data = NULL;
            p->vt[nd->out[k]] = o[k];
        }
        if (all_const || nd->op->shape_only) {
            if ((rc = fold_node(m, p, ctx, nd, in, err))) goto done;
            p->n_folded++;
        } else {
            p->steps[p->n_steps].node = i;
            p->steps[p->n_steps].out0 = nd->out[0];
            p->n_steps++;
        }
    }

    /* requested values */
    for (int k = 0; k < rq->n_out; k++) {
        int v = onnx_value_find(m, rq->out_names[k]);
        if (v < 0) {
            rc = vtag_fail(err, VTAG_ERR_NOTFOUND, "%s: no value named '%s'", m->path, rq->out_names[k]);
            goto done;
        }
        if (m->values[v].folded_into >= 0) {
            rc = vtag_fail(err, VTAG_ERR_NOTFOUND,
                           "%s: value '%s' no longer exists: the BatchNormalization '%s' after it was folded "
                           "into its Conv "
                           "(tap '%s' instead)",
                           m->path, rq->out_names[k], m->nodes[m->values[v].folded_into].name,
                           m->values[m->nodes[m->values[v].folded_into].out[0]].name);
            goto done;
        }
        p->req[k] = v;
        needed[v] = 1;
    }

    /* dead nodes: keep only the steps a requested value depends on */
    int kept = 0;
    for (int s = p->n_steps - 1; s >= 0; s--) {
        const onnx_node *nd = &m->nodes[p->steps[s].node];
        int any = 0;
        for (int k = 0; k < nd->n_out; k++) any |= needed[nd->out[k]];
        if (!any) {
            p->steps[s].node = -1;
            continue;
        }
        kept++;
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] >= 0) needed[nd->in[k]] = 1;
    }
    for (int s = 0, d = 0; s < p->n_steps; s++)
        if (p->steps[s].node >= 0) p->steps[d++] = p->steps[s];
    p->n_dead = p->n_steps - kept;
    p->n_steps = kept;

    /* activation fusion */
    for (int s = 0; s < p->n_steps; s++)
        for (int k = 0; k < m->nodes[p->steps[s].node].n_in; k++)
            if (m->nodes[p->steps[s].node].in[k] >= 0) uses[m->nodes[p->steps[s].node].in[k]]++;
    for (int k = 0; k < rq->n_out; k++) uses[p->req[k]]++;
    for (int s = 0; s < p->n_steps; s++) {
        onnx_step *st = &p->steps[s];
        if (st->node < 0) continue;
        const onnx_node *nd = &m->nodes[st->node];
        if (!nd->op->fuses_act || nd->n_out != 1 || st->act || uses[st->out0] != 1) continue;
        for (int t = s + 1; t < p->n_steps; t++) {
            if (p->steps[t].node < 0) continue; /* fused already */
            const onnx_node *nt = &m->nodes[p->steps[t].node];
            if (nt->in[0] != st->out0) {
                int reads = 0;
                for (int k = 0; k < nt->n_in; k++) reads |= nt->in[k] == st->out0;
                if (reads) break;
                continue;
            }
            vtag_act a = fusable_act(p, nt);
            if (a == VTAG_ACT_NONE) break;
            st->act = a;
            st->out0 = nt->out[0];
            p->steps[t].node = -2; /* fused away */
            break;
        }
    }
    kept = 0;
    for (int s = 0; s < p->n_steps; s++)
        if (p->steps[s].node != -2) p->steps[kept++] = p->steps[s];
    p->n_steps = kept;

    /* liveness */
    for (int s = 0; s < p->n_steps; s++) {
        const onnx_node *nd = &m->nodes[p->steps[s].node];
        last[p->steps[s].out0] = s;
        for (int k = 1; k < nd->n_out; k++) last[nd->out[k]] = s;
        for (int k = 0; k < nd->n_in; k++)
            if (nd->in[k] >= 0) last[nd->in[k]] = s;
    }
    for (int k = 0; k < rq->n_out; k++) last[p->req[k]] = INT_MAX;

    /* buffers */
    for (int s = 0; s < p->n_steps; s++) {
        onnx_step *st = &p->steps[s];
        const onnx_node *nd = &m->nodes[st->node];
        int o = st->out0, handed = -1;
        size_t ob = tensor_bytes(&p->vt[o]);
        p->naive_bytes += ob;
        int x = nd->n_in ? nd->in[0] : -1;
        if (nd->op->view && x >= 0 && !p->is_const[x]) {
            p->root[o] = p->root[x];
            p->slot[o] = p->slot[x];
            if (p->slot[o] >= 0) sl.live[p->slot[o]]++;
            st->skip = 1;
        } else {
            if (nd->op->inplace)
                for (int k = 0; k < nd->n_in && handed < 0; k++) {
                    int v = nd->in[k];
                    if (v < 0 || p->slot[v] < 0 || last[v] != s || sl.live[p->slot[v]] != 1) continue;
                    if (tensor_bytes(&p->vt[v]) != ob || p->vt[v].dtype != p->vt[o].dtype) continue;
                    int twice = 0; /* the same value read twice (Add(x, x)) stays an input */
                    for (int j = 0; j < nd->n_in; j++) twice += nd->in[j] == v;
                    if (twice > 1) continue;
                    handed = v;
                    p->slot[o] = p->slot[v];
                }
            if (handed < 0) p->slot[o] = slot_take(&sl, ob);
        }
        for (int k = 1; k < nd->n_out; k++) { /* extra outputs (MaxPool's Indices): buffers of their own */
            int v = nd->out[k];
            p->slot[v] = slot_take(&sl, tensor_bytes(&p->vt[v]));
            p->naive_bytes += tensor_bytes(&p->vt[v]);
        }
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k], dup = 0;
            for (int j = 0; j < k; j++) dup |= nd->in[j] == v;
            if (v < 0 || dup || v == handed || last[v] != s || p->slot[v] < 0) continue;
            if (--sl.live[p->slot[v]] < 0) sl.live[p->slot[v]] = 0;
        }
        if (last[o] == s && p->slot[o] >= 0 && --sl.live[p->slot[o]] < 0) sl.live[p->slot[o]] = 0;
        for (int k = 1; k < nd->n_out; k++)
            if (last[nd->out[k]] == s) sl.live[p->slot[nd->out[k]]] = 0;
        if (nd->op->workspace) {
            const vtag_onnx_tensor *in[64];
            for (int k = 0; k < nd->n_in; k++) in[k] = nd->in[k] >= 0 ? &p->vt[nd->in[k]] : NULL;
            int64_t w = nd->op->workspace(nd, in, ctx->threads);
            if (w > p->ws_floats) p->ws_floats = w;
        }
    }
    p->n_slots = sl.n;
    p->slot_mem = calloc((size_t)sl.n + 1, sizeof *p->slot_mem);
    p->slot_cap = calloc((size_t)sl.n + 1, sizeof *p->slot_cap);
    if (!p->slot_mem || !p->slot_cap) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
        goto done;
    }
    for (int s = 0; s < sl.n; s++) {
        p->slot_cap[s] = (sl.cap[s] + 63) / 64 * 64;
        p->bytes += p->slot_cap[s];
    }
done:
    free(uses);
    free(last);
    free(needed);
    free(sl.cap);
    free(sl.live);
    if (rc) {
        onnx_plan_free(p);
        return rc;
    }
    *out = p;
    return VTAG_OK;
}

int onnx_plan_get(const vtag_onnx_model_t *m, onnx_plans *c, const vtag_ctx *ctx, const onnx_request *rq,
                  onnx_plan **out, vtag_error *err)
{
    c->clock++;
    for (int i = 0; i < c->n; i++)
        if (plan_matches(c->plans[i], m, ctx, rq)) {
            c->plans[i]->last_used = c->clock;
            *out = c->plans[i];
            return VTAG_OK;
        }
    onnx_plan *p;
    int rc = plan_build(m, ctx, rq, &p, err);
    if (rc) return rc;
    p->last_used = c->clock;
    if (c->n < ONNX_MAX_PLANS) {
        c->plans[c->n++] = p;
    } else {
        int old = 0;
        for (int i = 1; i < c->n; i++)
            if (c->plans[i]->last_used < c->plans[old]->last_used) old = i;
        onnx_plan_free(c->plans[old]);
        c->plans[old] = p;
    }
    *out = p;
    return VTAG_OK;
}

void onnx_plans_free(onnx_plans *c)
{
    for (int i = 0; i < c->n; i++) onnx_plan_free(c->plans[i]);
    memset(c, 0, sizeof *c);
}

size_t onnx_plans_bytes(const onnx_plans *c)
{
    size_t b = 0;
    for (int i = 0; i < c->n; i++) {
        const onnx_plan *p = c->plans[i];
        for (int s = 0; s < p->n_slots; s++)
            if (p->slot_mem[s]) b += p->slot_cap[s];
        if (p->ws) b += ((size_t)p->ws_floats * sizeof(float) + 63) / 64 * 64;
    }
    return b;
}

void onnx_plan_shapes(const onnx_plan *p, vtag_onnx_tensor *shapes)
{
    for (int k = 0; k < p->n_req; k++) {
        shapes[k] = p->vt[p->req[k]];
        shapes[k].data = NULL;
    }
}

/* The buffers and the conv workspace, allocated at the plan's first run (a
 * plan built only for shapes — vtag_onnx_infer — never takes the memory). */
static int plan_alloc(const vtag_onnx_model_t *m, onnx_plan *p, vtag_error *err)
{
    for (int s = 0; s < p->n_slots; s++)
        if (!p->slot_mem[s] && !(p->slot_mem[s] = aligned_alloc(64, p->slot_cap[s] ? p->slot_cap[s] : 64)))
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for %zu activation bytes", m->path,
                             p->slot_cap[s]);
    if (p->ws_floats && !p->ws &&
        !(p->ws = aligned_alloc(64, ((size_t)p->ws_floats * sizeof(float) + 63) / 64 * 64)))
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for the conv workspace", m->path);
    return VTAG_OK;
}

int onnx_plan_run(const vtag_onnx_model_t *m, onnx_plan *p, const vtag_ctx *ctx, const vtag_onnx_tensor *in,
                  vtag_onnx_tensor *out, double *prof_sec, int *prof_calls, vtag_error *err)
{
    int rc = plan_alloc(m, p, err);
    if (rc) return rc;
    for (int k = 0; k < p->n_bind; k++)
        if (!p->bind_t[k].data) p->vt[p->bind[k]].data = in[k].data;
    for (int v = 0; v < p->n_values; v++)
        if (p->slot[v] >= 0) p->vt[v].data = p->slot_mem[p->slot[v]];
    for (int v = 0; v < p->n_values; v++)
        if (p->root[v] != v) p->vt[v].data = p->vt[p->root[v]].data;
    for (int s = 0; s < p->n_steps; s++) {
        const onnx_step *st = &p->steps[s];
        if (st->skip) continue;
        const onnx_node *nd = &m->nodes[st->node];
        const vtag_onnx_tensor *x[64];
        for (int k = 0; k < nd->n_in; k++) x[k] = nd->in[k] >= 0 ? &p->vt[nd->in[k]] : NULL;
        vtag_onnx_tensor o[ONNX_MAX_OUTS];
        o[0] = p->vt[st->out0];
        for (int k = 1; k < nd->n_out; k++) o[k] = p->vt[nd->out[k]];
        double t0 = prof_sec ? omp_get_wtime() : 0.0;
        nd->op->run(ctx, nd, st->act, x, o, p->ws);
        if (prof_sec) {
            int i = onnx_op_index(nd->op);
            prof_sec[i] += omp_get_wtime() - t0;
            prof_calls[i]++;
        }
    }
    for (int k = 0; k < p->n_req; k++) out[k] = p->vt[p->req[k]];
    return VTAG_OK;
}

void onnx_plan_stats(const vtag_onnx_model_t *m, const onnx_plan *p, vtag_onnx_plan_stats *st)
{
    memset(st, 0, sizeof *st);
    st->nodes = m->n_nodes;
    for (int i = 0; i < m->n_nodes; i++) st->bn_folded += m->nodes[i].folded;
    st->const_folded = p->n_folded;
    st->dead = p->n_dead;
    st->steps = p->n_steps;
    for (int s = 0; s < p->n_steps; s++) {
        st->act_fused += p->steps[s].act != VTAG_ACT_NONE;
        st->views += p->steps[s].skip;
    }
    st->buffers = p->n_slots;
    st->buffer_bytes = p->bytes;
    st->naive_bytes = p->naive_bytes;
}

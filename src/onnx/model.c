/* The public ONNX API: open / close, what the graph holds, runs and the
 * default feature taps. */
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

void vtag_onnx_close(vtag_onnx_model_t **mp)
{
    if (!mp || !*mp) return;
    vtag_onnx_model_t *m = *mp;
    onnx_plans_free(&m->cache);
    for (int v = 0; v < m->n_values; v++) {
        if (m->values[v].owned) free(m->values[v].t.data);
        free(m->values[v].own_name);
    }
    if (m->nodes)
        for (int i = 0; i < m->n_nodes; i++) {
            free(m->nodes[i].in);
            free(m->nodes[i].out);
            if (m->nodes[i].value_owned) free(m->nodes[i].value.data);
        }
    free(m->nodes);
    free(m->values);
    free(m->inputs);
    free(m->outputs);
    if (m->proto) onnx__model_proto__free_unpacked(m->proto, NULL);
    free(m->path);
    free(m);
    *mp = NULL;
}

int vtag_onnx_open(vtag_onnx_model_t **out, const char *path, vtag_error *err)
{
    *out = NULL;
    vtag_onnx_model_t *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", path);
    }
    int rc = onnx_model_load(m, err);
    if (rc) {
        vtag_onnx_close(&m);
        return rc;
    }
    *out = m;
    return VTAG_OK;
}

int64_t vtag_onnx_opset(const vtag_onnx_model_t *m) { return m->opset; }
int vtag_onnx_input_count(const vtag_onnx_model_t *m) { return m->n_inputs; }
int vtag_onnx_output_count(const vtag_onnx_model_t *m) { return m->n_outputs; }
int vtag_onnx_node_count(const vtag_onnx_model_t *m) { return m->n_nodes; }
const char *vtag_onnx_node_op(const vtag_onnx_model_t *m, int i) { return m->nodes[i].p->op_type; }
const char *vtag_onnx_node_name(const vtag_onnx_model_t *m, int i) { return m->nodes[i].name; }
int vtag_onnx_node_folded(const vtag_onnx_model_t *m, int i) { return m->nodes[i].folded; }

const char *vtag_onnx_input(const vtag_onnx_model_t *m, int i, vtag_onnx_tensor *declared)
{
    const onnx_value *v = &m->values[m->inputs[i]];
    if (declared) {
        *declared = v->t;
        declared->data = NULL;
    }
    return v->name;
}

const char *vtag_onnx_output_name(const vtag_onnx_model_t *m, int i) { return m->values[m->outputs[i]].name; }

/* Runnable values: graph inputs and node outputs, skipping those a folding removed. */
static int runnable(const onnx_value *v) { return v->kind != ONNX_VAL_CONST && v->folded_into < 0; }

int vtag_onnx_value_count(const vtag_onnx_model_t *m)
{
    int n = 0;
    for (int v = 0; v < m->n_values; v++) n += runnable(&m->values[v]);
    return n;
}

const char *vtag_onnx_value_name(const vtag_onnx_model_t *m, int i)
{
    for (int v = 0; v < m->n_values; v++)
        if (runnable(&m->values[v]) && i-- == 0) return m->values[v].name;
    return NULL;
}

int vtag_onnx_infer(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                    const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                    vtag_onnx_tensor *shapes, vtag_error *err)
{
    onnx_request rq = {n_in, in_names, in, n_out, out_names};
    onnx_plan *p;
    int rc = onnx_plan_get(m, &m->cache, ctx, &rq, &p, err);
    if (rc) return rc;
    onnx_plan_shapes(p, shapes);
    return VTAG_OK;
}

/* A run of m with the plans (and their buffers) of c; m is only read. */
static int run_view(const vtag_onnx_model_t *m, onnx_plans *c, vtag_ctx *ctx, int n_in, const char *const *in_names,
                    const vtag_onnx_tensor *in, int n_out, const char *const *out_names, vtag_onnx_tensor *out,
                    double *prof_sec, int *prof_calls, vtag_error *err)
{
    for (int k = 0; k < n_in; k++)
        if (!in[k].data && vtag_onnx_tensor_numel(&in[k]))
            return vtag_fail(err, VTAG_ERR_ARG, "%s: input '%s' has no data", m->path, in_names[k]);
    onnx_request rq = {n_in, in_names, in, n_out, out_names};
    onnx_plan *p;
    int rc = onnx_plan_get(m, c, ctx, &rq, &p, err);
    if (rc) return rc;
    return onnx_plan_run(m, p, ctx, in, out, prof_sec, prof_calls, err);
}

int vtag_onnx_run_view(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                       const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                       vtag_onnx_tensor *out, vtag_error *err)
{
    return run_view(m, &m->cache, ctx, n_in, in_names, in, n_out, out_names, out, m->profile ? m->prof_sec : NULL,
                    m->prof_calls, err);
}

struct vtag_onnx_session {
    const vtag_onnx_model_t *m;
    onnx_plans cache;
};

int vtag_onnx_session_open(vtag_onnx_session **out, const vtag_onnx_model_t *m, vtag_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
    (*out)->m = m;
    return VTAG_OK;
}

int vtag_onnx_session_run_view(vtag_onnx_session *s, vtag_ctx *ctx, int n_in, const char *const *in_names,
                               const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                               vtag_onnx_tensor *out, vtag_error *err)
{
    return run_view(s->m, &s->cache, ctx, n_in, in_names, in, n_out, out_names, out, NULL, NULL, err);
}

size_t vtag_onnx_session_bytes(const vtag_onnx_session *s) { return onnx_plans_bytes(&s->cache); }

void vtag_onnx_session_close(vtag_onnx_session **s)
{
    if (!s || !*s) return;
    onnx_plans_free(&(*s)->cache);
    free(*s);
    *s = NULL;
}

int vtag_onnx_run(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                  const vtag_onnx_tensor *in, int n_out, const char *const *out_names, vtag_onnx_tensor *out,
                  vtag_error *err)
{
    int rc = vtag_onnx_run_view(m, ctx, n_in, in_names, in, n_out, out_names, out, err);
    if (rc) return rc;
    for (int k = 0; k < n_out; k++) {
        size_t b = (size_t)vtag_onnx_tensor_numel(&out[k]) * vtag_onnx_dtype_size(out[k].dtype);
        void *copy = malloc(b ? b : 1);
        if (!copy) {
            for (int j = 0; j < k; j++) vtag_onnx_tensor_free(&out[j]);
            for (int j = k; j < n_out; j++) out[j].data = NULL;
            return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory for output '%s'", m->path, out_names[k]);
        }
        if (b) memcpy(copy, out[k].data, b);
        out[k].data = copy;
    }
    return VTAG_OK;
}

int vtag_onnx_plan_stats_get(vtag_onnx_model_t *m, vtag_ctx *ctx, int n_in, const char *const *in_names,
                             const vtag_onnx_tensor *in, int n_out, const char *const *out_names,
                             vtag_onnx_plan_stats *st, vtag_error *err)
{
    onnx_request rq = {n_in, in_names, in, n_out, out_names};
    onnx_plan *p;
    int rc = onnx_plan_get(m, &m->cache, ctx, &rq, &p, err);
    if (rc) return rc;
    onnx_plan_stats(m, p, st);
    return VTAG_OK;
}

void vtag_onnx_profile_enable(vtag_onnx_model_t *m, int on)
{
    m->profile = on != 0;
    memset(m->prof_sec, 0, sizeof m->prof_sec);
    memset(m->prof_calls, 0, sizeof m->prof_calls);
}

int vtag_onnx_profile(const vtag_onnx_model_t *m, const char **ops, double *seconds, int *calls, int max)
{
    int n = 0;
    for (int i = 0; onnx_op_at(i) && n < max; i++) {
        if (!m->prof_calls[i]) continue;
        int j = n++; /* insertion, slowest first */
        while (j > 0 && seconds[j - 1] < m->prof_sec[i]) {
            ops[j] = ops[j - 1], seconds[j] = seconds[j - 1], calls[j] = calls[j - 1];
            j--;
        }
        ops[j] = onnx_op_at(i)->name, seconds[j] = m->prof_sec[i], calls[j] = m->prof_calls[i];
    }
    return n;
}

int vtag_onnx_default_taps(const vtag_onnx_model_t *m, const char **fc, const char **att, vtag_error *err)
{
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        const onnx_node *nd = &m->nodes[i];
        if (strcmp(nd->p->op_type, "GlobalAveragePool") != 0) continue;
        *fc = m->values[nd->out[0]].name;
        *att = m->values[nd->in[0]].name;
        return VTAG_OK;
    }
    return vtag_fail(err, VTAG_ERR_NOTFOUND,
                     "%s: no GlobalAveragePool node: name the feature taps (--fc-node, --att-node)", m->path);
}

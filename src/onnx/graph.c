/* Graph rewriting done once at load: topological order, and inference
 * BatchNormalization folded into the Conv that feeds it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/onnx_internal.h"

int onnx_value_find(const vtag_onnx_model_t *m, const char *name)
{
    for (int i = m->n_values - 1; i >= 0; i--)
        if (strcmp(m->values[i].name, name) == 0) return i;
    return -1;
}

int onnx_graph_sort(vtag_onnx_model_t *m, vtag_error *err)
{
    int n = m->n_nodes, rc = VTAG_OK;
    int *pending = calloc((size_t)n + 1, sizeof *pending); /* inputs not yet produced */
    int *order = calloc((size_t)n + 1, sizeof *order);
    onnx_node *sorted = calloc((size_t)n + 1, sizeof *sorted);
    if (!pending || !order || !sorted) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) {
            int v = m->nodes[i].in[k];
            if (v >= 0 && m->values[v].kind == ONNX_VAL_NODE) pending[i]++;
        }
    /* Kahn's algorithm, keeping the file's order among ready nodes; n is small
     * enough (a few thousand) for the quadratic scan. */
    int done_count = 0;
    char *placed = calloc((size_t)n + 1, 1);
    if (!placed) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
        goto done;
    }
    while (done_count < n) {
        int progressed = 0;
        for (int i = 0; i < n; i++) {
            if (placed[i] || pending[i]) continue;
            placed[i] = 1;
            order[done_count++] = i;
            progressed = 1;
            for (int k = 0; k < m->nodes[i].n_out; k++) {
                int v = m->nodes[i].out[k];
                for (int j = 0; j < n; j++)
                    for (int q = 0; q < m->nodes[j].n_in; q++)
                        if (m->nodes[j].in[q] == v) pending[j]--;
            }
        }
        if (!progressed) {
            for (int i = 0; i < n; i++)
                if (!placed[i]) {
                    rc = onnx_node_fail(m, &m->nodes[i], err, VTAG_ERR_FORMAT,
                                        "the graph has a cycle through this node");
                    break;
                }
            free(placed);
            goto done;
        }
    }
    free(placed);
    for (int j = 0; j < n; j++) {
        sorted[j] = m->nodes[order[j]];
        if (sorted[j].name == m->nodes[order[j]].anon) sorted[j].name = sorted[j].anon;
        for (int k = 0; k < sorted[j].n_out; k++) m->values[sorted[j].out[k]].producer = j;
    }
    free(m->nodes);
    m->nodes = sorted;
    sorted = NULL;
done:
    free(pending);
    free(order);
    free(sorted);
    return rc;
}

static int consumers(const vtag_onnx_model_t *m, int v)
{
    int c = 0;
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_in; k++) c += m->nodes[i].in[k] == v;
    for (int i = 0; i < m->n_outputs; i++) c += m->outputs[i] == v;
    return c;
}

static int is_const_f32_vec(const vtag_onnx_model_t *m, int v, int64_t c)
{
    if (v < 0) return 0;
    const onnx_value *x = &m->values[v];
    return x->kind == ONNX_VAL_CONST && x->t.dtype == VTAG_ONNX_FLOAT && x->t.ndim == 1 && x->t.shape[0] == c;
}

/* Gives value v its own malloc'd copy of its data (a weight shared by two nodes). */
static int value_own_copy(vtag_onnx_model_t *m, int v, vtag_error *err)
{
    onnx_value *x = &m->values[v];
    size_t bytes = (size_t)vtag_onnx_tensor_numel(&x->t) * vtag_onnx_dtype_size(x->t.dtype);
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
    memcpy(copy, x->t.data, bytes);
    if (x->owned) free(x->t.data);
    x->t.data = copy;
    x->owned = 1;
    return VTAG_OK;
}

int onnx_graph_fold_batchnorm(vtag_onnx_model_t *m, vtag_error *err)
{
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *bn = &m->nodes[i];
        if (strcmp(bn->p->op_type, "BatchNormalization") != 0 || bn->n_out != 1) continue;
        int x = bn->in[0];
        if (m->values[x].kind != ONNX_VAL_NODE) continue;
        int ci = m->values[x].producer;
        onnx_node *conv = &m->nodes[ci];
        if (strcmp(conv->p->op_type, "Conv") != 0 || consumers(m, x) != 1) continue;
        int w = conv->in[1];
        const onnx_value *wv = &m->values[w];
        if (wv->kind != ONNX_VAL_CONST || wv->t.dtype != VTAG_ONNX_FLOAT || wv->t.ndim < 3) continue;
        int64_t c = wv->t.shape[0];
        int b = conv->n_in > 2 ? conv->in[2] : -1;
        if (b >= 0 && !is_const_f32_vec(m, b, c)) continue;
        int ok = 1;
        for (int k = 1; k < 5; k++) ok &= is_const_f32_vec(m, bn->in[k], c);
        if (!ok) continue;
        int rc;
        if (consumers(m, w) != 1 && (rc = value_own_copy(m, w, err))) return rc;
        if (b >= 0 && consumers(m, b) != 1 && (rc = value_own_copy(m, b, err))) return rc;
        if (b < 0) {
            /* a zero bias for the folded shift */
            if (m->n_values == m->cap_values) {
                onnx_value *nv = realloc(m->values, (size_t)(m->cap_values + 64) * sizeof *nv);
                if (!nv) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
                m->values = nv;
                m->cap_values += 64;
            }
            onnx_value *nb = &m->values[m->n_values];
            memset(nb, 0, sizeof *nb);
            size_t len = strlen(conv->name) + 32;
            nb->own_name = malloc(len);
            if (!nb->own_name) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
            snprintf(nb->own_name, len, "%s.folded_bias", conv->name);
            nb->name = nb->own_name;
            nb->kind = ONNX_VAL_CONST;
            nb->producer = -1;
            nb->folded_into = i;
            nb->t.dtype = VTAG_ONNX_FLOAT;
            nb->t.ndim = 1;
            nb->t.shape[0] = c;
            nb->t.data = calloc((size_t)c + 1, sizeof(float));
            if (!nb->t.data) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: out of memory", m->path);
            nb->owned = 1;
            b = m->n_values++;
            conv->in[2] = b; /* in[] was allocated with room for one more */
            conv->n_in = 3;
        }
        const onnx_value *wv2 = &m->values[w];
        int64_t per_out = vtag_onnx_tensor_numel(&wv2->t) / (c ? c : 1);
        vtag_batchnorm_fold(wv2->t.data, m->values[b].t.data, c, per_out, m->values[bn->in[1]].t.data,
                            m->values[bn->in[2]].t.data, m->values[bn->in[3]].t.data,
                            m->values[bn->in[4]].t.data, bn->eps);
        conv->out[0] = bn->out[0];
        m->values[bn->out[0]].producer = ci;
        m->values[x].folded_into = i;
        bn->folded = 1;
    }
    return VTAG_OK;
}

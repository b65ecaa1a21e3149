/* Gemm and MatMul through vtag_gemm (OpenBLAS): Gemm with transA/transB,
 * alpha/beta and a broadcast C; MatMul with numpy's batching rules. */
#include <limits.h>
#include <string.h>

#include "onnx/onnx_internal.h"

static int parse_gemm(vtag_onnx_model_t *m, onnx_node *nd, vtag_error *err)
{
    int64_t ta = 0, tb = 0, bc = 1;
    int rc = onnx_attr_float(m, nd, "alpha", 1.0f, &nd->alpha, err);
    if (!rc) rc = onnx_attr_float(m, nd, "beta", 1.0f, &nd->beta, err);
    if (!rc) rc = onnx_attr_int(m, nd, "transA", 0, &ta, err);
    if (!rc) rc = onnx_attr_int(m, nd, "transB", 0, &tb, err);
    if (!rc) rc = onnx_attr_int(m, nd, "broadcast", 1, &bc, err); /* opset < 7; C broadcasts either way */
    nd->trans_a = ta != 0;
    nd->trans_b = tb != 0;
    return rc;
}

static int infer_gemm(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                      vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *a = in[0], *b = in[1], *c = nd->n_in > 2 ? in[2] : NULL;
    for (int k = 0; k < nd->n_in; k++)
        if (in[k] && !onnx_is_float(in[k]))
            return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "input %d of type %s (only float)", k,
                                  vtag_onnx_dtype_name(in[k]->dtype));
    if (a->ndim != 2 || b->ndim != 2)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "A and B must be matrices (ranks %d and %d)", a->ndim,
                              b->ndim);
    int64_t M = nd->trans_a ? a->shape[1] : a->shape[0], K = nd->trans_a ? a->shape[0] : a->shape[1];
    int64_t K2 = nd->trans_b ? b->shape[1] : b->shape[0], N = nd->trans_b ? b->shape[0] : b->shape[1];
    if (K != K2)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG,
                              "A is [%lld, %lld] and B [%lld, %lld]: inner sizes %lld and %lld differ",
                              (long long)a->shape[0], (long long)a->shape[1], (long long)b->shape[0],
                              (long long)b->shape[1], (long long)K, (long long)K2);
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || a->shape[1] > INT_MAX || b->shape[1] > INT_MAX)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "[%lld, %lld] x [%lld, %lld] is too large for BLAS (int sizes)",
                              (long long)M, (long long)K, (long long)K2, (long long)N);
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = VTAG_ONNX_FLOAT;
    out[0].ndim = 2;
    out[0].shape[0] = M;
    out[0].shape[1] = N;
    if (c) {
        int nd2;
        int64_t s[VTAG_ONNX_MAX_DIMS];
        if (c->ndim > 2 || onnx_broadcast_shape(&out[0], c, &nd2, s) || nd2 != 2 || s[0] != M || s[1] != N)
            return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "C of rank %d does not broadcast to [%lld, %lld]",
                                  c->ndim, (long long)M, (long long)N);
    }
    return VTAG_OK;
}

static void run_gemm(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                     const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)act, (void)ws;
    const vtag_onnx_tensor *a = in[0], *b = in[1], *c = nd->n_in > 2 ? in[2] : NULL;
    int64_t M = out[0].shape[0], N = out[0].shape[1];
    int64_t K = nd->trans_a ? a->shape[0] : a->shape[1];
    float *y = out[0].data;
    float beta = 0.0f;
    if (c && nd->beta != 0.0f) {
        const float *cv = c->data;
        int64_t cm = c->ndim == 2 ? c->shape[0] : 1, cn = c->ndim >= 1 ? c->shape[c->ndim - 1] : 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) y[i * N + j] = cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        beta = nd->beta;
    }
    if (M * N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M * N; i++) y[i] *= beta;
        return;
    }
    vtag_gemm(ctx, nd->trans_a, nd->trans_b, M, N, K, nd->alpha, a->data, a->shape[1], b->data, b->shape[1],
              beta, y, N);
}

/* MatMul: 1-D operands are promoted (a: [1, K], b: [K, 1]) and the added
 * dim dropped from the result; batch dims broadcast. */
static void matmul_dims(const vtag_onnx_tensor *a, const vtag_onnx_tensor *b, int64_t *M, int64_t *K,
                        int64_t *K2, int64_t *N)
{
    *M = a->ndim == 1 ? 1 : a->shape[a->ndim - 2];
    *K = a->shape[a->ndim - 1];
    *K2 = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    *N = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
}

static void batch_shape(const vtag_onnx_tensor *t, vtag_onnx_tensor *bs)
{
    memset(bs, 0, sizeof *bs);
    bs->ndim = t->ndim > 2 ? t->ndim - 2 : 0;
    for (int d = 0; d < bs->ndim; d++) bs->shape[d] = t->shape[d];
}

static int infer_matmul(const vtag_onnx_model_t *m, const onnx_node *nd, const vtag_onnx_tensor *const *in,
                        vtag_onnx_tensor *out, vtag_error *err)
{
    const vtag_onnx_tensor *a = in[0], *b = in[1];
    if (!onnx_is_float(a) || !onnx_is_float(b))
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "inputs of types %s and %s (only float)",
                              vtag_onnx_dtype_name(a->dtype), vtag_onnx_dtype_name(b->dtype));
    if (a->ndim < 1 || b->ndim < 1) return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "scalar operands");
    int64_t M, K, K2, N;
    matmul_dims(a, b, &M, &K, &K2, &N);
    if (K != K2)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "inner sizes %lld and %lld differ", (long long)K,
                              (long long)K2);
    vtag_onnx_tensor ba, bb;
    batch_shape(a, &ba);
    batch_shape(b, &bb);
    memset(&out[0], 0, sizeof out[0]);
    out[0].dtype = VTAG_ONNX_FLOAT;
    int r;
    if (onnx_broadcast_shape(&ba, &bb, &r, out[0].shape))
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "batch dims do not broadcast");
    /* BLAS takes int sizes; a shared B folds the batch into M */
    int64_t nb, folded;
    if (vtag_shape_numel(out[0].shape, r, &nb) || vtag_mul_i64(nb, M, &folded) || folded > INT_MAX || N > INT_MAX ||
        K > INT_MAX)
        return onnx_node_fail(m, nd, err, VTAG_ERR_ARG, "[%lld, %lld] x [%lld, %lld] is too large for BLAS (int sizes)",
                              (long long)M, (long long)K, (long long)K2, (long long)N);
    if (r + (a->ndim > 1) + (b->ndim > 1) > VTAG_ONNX_MAX_DIMS)
        return onnx_node_fail(m, nd, err, VTAG_ERR_UNSUPPORTED, "result of rank %d", r + 2);
    if (a->ndim > 1) out[0].shape[r++] = M;
    if (b->ndim > 1) out[0].shape[r++] = N;
    out[0].ndim = r;
    return VTAG_OK;
}

static void run_matmul(const vtag_ctx *ctx, const onnx_node *nd, vtag_act act,
                       const vtag_onnx_tensor *const *in, vtag_onnx_tensor *out, float *ws)
{
    (void)nd, (void)act, (void)ws;
    const vtag_onnx_tensor *a = in[0], *b = in[1];
    int64_t M, K, K2, N;
    matmul_dims(a, b, &M, &K, &K2, &N);
    float *y = out[0].data;
    vtag_onnx_tensor ba, bb, bo;
    batch_shape(a, &ba);
    batch_shape(b, &bb);
    int r;
    onnx_broadcast_shape(&ba, &bb, &r, bo.shape);
    bo.ndim = r;
    int64_t nb = onnx_numel(r, bo.shape);
    if (nb * M * N == 0) return;
    if (K == 0) {
        memset(y, 0, (size_t)(nb * M * N) * sizeof(float));
        return;
    }
    if (bb.ndim == 0 || onnx_numel(bb.ndim, bb.shape) == 1) {
        /* one shared B: the batch folds into M */
        int64_t na = onnx_numel(ba.ndim, ba.shape);
        if (na == nb) {
            vtag_gemm(ctx, 0, 0, nb * M, N, K, 1.0f, a->data, K, b->data, N, 0.0f, y, N);
            return;
        }
    }
    for (int64_t i = 0; i < nb; i++) {
        int64_t rem = i, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int d = r - 1; d >= 0; d--) {
            int64_t c = rem % bo.shape[d];
            rem /= bo.shape[d];
            int da = d - (r - ba.ndim), db = d - (r - bb.ndim);
            if (da >= 0) {
                if (ba.shape[da] != 1) oa += c * sa;
                sa *= ba.shape[da];
            }
            if (db >= 0) {
                if (bb.shape[db] != 1) ob += c * sb;
                sb *= bb.shape[db];
            }
        }
        vtag_gemm(ctx, 0, 0, M, N, K, 1.0f, (const float *)a->data + oa * M * K, K,
                  (const float *)b->data + ob * K * N, N, 0.0f, y + i * M * N, N);
    }
}

const onnx_opdef onnx_op_gemm = {.name = "Gemm", .min_in = 2, .max_in = 3, .min_out = 1, .max_out = 1, .optional_in = 1u << 2,
                                 .parse = parse_gemm, .infer = infer_gemm, .run = run_gemm};
const onnx_opdef onnx_op_matmul = {.name = "MatMul", .min_in = 2, .max_in = 2, .min_out = 1, .max_out = 1,
                                   .infer = infer_matmul, .run = run_matmul};

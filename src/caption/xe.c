/* Teacher-forced forward and backward of the three caption models (SPEC §3,
 * §4). Work that does not depend on the recurrence is batched over all time
 * steps: the input projections, the logits, and every weight gradient are one
 * GEMM each; only h2h (and attention) run step by step, on weights packed
 * once per pass (vtag_gemm_packed), since a BLAS call would repack the whole
 * weight for every 50-row product. Arrays are position-major, [T, B, …], so
 * one step is one contiguous block.
 *
 * The backward (caption_model_backward, caption_loss_backward) also serves
 * SCST's sampling pass (sample.c), which fills the same caption_fwd while it
 * samples; there the B rows are images × rep samples, and what is computed per
 * image (p_att, topdown's embeddings) is kept once per image. */
#include <string.h>

#include "caption_internal.h"

#define NEW(n) vtag_arena_floats(&ctx->arena, (n))
#define ZEROS(n) vtag_arena_zeros(&ctx->arena, (n))

static int oom(vtag_error *err) { return vtag_fail(err, VTAG_ERR_NOMEM, "caption: out of memory"); }

/* ---- fc and att2in: the maxout core ------------------------------------------------ */

static int maxout_forward(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, const caption_seqs *sq, int train,
                          float *out, caption_fwd *f, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int fc = c->type == VTAG_MODEL_FC;
    const int64_t B = sq->B, T = sq->T, E = c->input_encoding_size, R = c->rnn_size, G = 5 * R;
    const int64_t S = T + (fc ? 1 : 0), K = bt->k, D = c->att_feat_size, A = c->att_hid_size;
    f->x = NEW(S * B * E);
    f->a = NEW(S * B * G);
    f->cache = NEW(S * B * G);
    f->hs = NEW((S + 1) * B * R);
    f->cs = NEW((S + 1) * B * R);
    f->drop = NEW(T * B * R);
    if (!f->x || !f->a || !f->cache || !f->hs || !f->cs || !f->drop) return oom(err);
    memset(f->hs, 0, (size_t)(B * R) * sizeof(float));
    memset(f->cs, 0, (size_t)(B * R) * sizeof(float));

    /* Step inputs, then all input projections in one GEMM. */
    float *xw = f->x;
    if (fc) {
        vtag_linear_forward(ctx, xw, bt->fc, caption_param(m, CP_IMG_EMBED_W), caption_param(m, CP_IMG_EMBED_B), B,
                            c->fc_feat_size, E, 0);
        xw += B * E;
    }
    int rc = vtag_embedding_forward(xw, sq->in, caption_param(m, CP_EMBED), T * B, c->vocab_size + 1, E, err);
    if (rc) return rc;
    vtag_linear_forward(ctx, f->a, f->x, caption_param(m, CP_I2H_W), caption_param(m, CP_I2H_B), S * B,
                        E, G, 0);

    vtag_attention_weights aw = {0};
    const float *a2c_w = NULL, *a2c_b = NULL;
    if (!fc) {
        f->p_att = NEW(B * K * A);
        f->ctxs = NEW(S * B * D);
        f->att_cache = vtag_arena_alloc(&ctx->arena, (size_t)S * sizeof *f->att_cache);
        if (!f->p_att || !f->ctxs || !f->att_cache) return oom(err);
        vtag_linear_forward(ctx, f->p_att, bt->att, caption_param(m, CP_CTX2ATT_W), caption_param(m, CP_CTX2ATT_B),
                            B * K, D, A, 0);
        aw = (vtag_attention_weights){caption_param(m, CP_H2ATT_W),
                                      caption_param(m, CP_H2ATT_B),
                                      caption_param(m, CP_ALPHA_W),
                                      caption_param(m, CP_ALPHA_B)};
        a2c_w = caption_param(m, CP_A2C_W);
        a2c_b = caption_param(m, CP_A2C_B);
    }
    const float *h2h_b = caption_param(m, CP_H2H_B);
    vtag_packed_b pw_h2h, pw_a2c; /* op: W^T, [R, G] and [D, 2R] */
    if (caption_pack(ctx, &pw_h2h, 1, R, G, caption_param(m, CP_H2H_W), R) || (!fc && caption_pack(ctx, &pw_a2c, 1, D, 2 * R, a2c_w, D)))
        return oom(err);
    const vtag_attention_dims dims = {B, K, D, R, A, 1};
    for (int64_t s = 0; s < S; s++) {
        float *a = f->a + s * B * G, *h_prev = f->hs + s * B * R;
        caption_packed_linear(ctx, a, G, h_prev, R, &pw_h2h, h2h_b, B, 1);
        if (!fc) {
            float *cx = f->ctxs + s * B * D;
            rc = vtag_attention_forward(ctx, cx, &f->att_cache[s], h_prev, bt->att, f->p_att, &aw, dims, err);
            if (rc) return rc;
            caption_packed_linear(ctx, a + 3 * R, G, cx, D, &pw_a2c, a2c_b, B, 1);
        }
        vtag_maxout_lstm_forward(f->hs + (s + 1) * B * R, f->cs + (s + 1) * B * R, f->cache + s * B * G, a,
                                 f->cs + s * B * R, B, R, ctx->threads);
        if (fc && s == 0) continue; /* the image step's output is discarded */
        int64_t t = fc ? s - 1 : s;
        vtag_dropout_forward(out + t * B * R, f->drop + t * B * R, f->hs + (s + 1) * B * R, B * R, c->drop_prob_lm,
                             train, &ctx->rng, ctx->threads);
    }
    return VTAG_OK;
}

/* y[B/rep, w] = Σ over each image's rep consecutive rows of x[B, w] (arena). */
static float *sum_per_image(vtag_ctx *ctx, const float *x, int64_t B, int64_t rep, int64_t w)
{
    float *y = ZEROS(B / rep * w);
    if (!y) return NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < w; j++) y[b / rep * w + j] += x[b * w + j];
    return y;
}

static int maxout_backward(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, const caption_seqs *sq,
                           const caption_fwd *f, const float *dout, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int fc = c->type == VTAG_MODEL_FC;
    const int64_t B = sq->B, T = sq->T, E = c->input_encoding_size, R = c->rnn_size, G = 5 * R;
    const int64_t S = T + (fc ? 1 : 0), K = bt->k, D = c->att_feat_size, A = c->att_hid_size, NI = bt->b;
    float *da = ZEROS(S * B * G), *dh = ZEROS(B * R), *dh_next = NEW(B * R);
    float *dc = ZEROS(B * R), *dc_prev = NEW(B * R);
    float *dp_att = NULL, *dctx = NULL, *d_a2c_p = NULL;
    if (!da || !dh || !dh_next || !dc || !dc_prev) return oom(err);
    const float *h2h_w = caption_param(m, CP_H2H_W);
    /* att2in with f->a2c_p (sample.c): attention ran over P = att·W_a2c^T, its
     * output is a2c(ctx) − bias, and the gradient that reaches it is da[3R:5R]. */
    const float *att_of = f->a2c_p ? f->a2c_p : bt->att;
    const int64_t Dq = f->a2c_p ? 2 * R : D;
    vtag_attention_weights aw = {0};
    vtag_attention_grads ag = {0};
    const float *a2c_w = NULL;
    if (!fc) {
        dp_att = ZEROS(NI * K * A);
        dctx = NEW(B * Dq);
        if (f->a2c_p) d_a2c_p = ZEROS(NI * K * 2 * R);
        if (!dp_att || !dctx || (f->a2c_p && !d_a2c_p)) return oom(err);
        aw = (vtag_attention_weights){caption_param(m, CP_H2ATT_W),
                                      caption_param(m, CP_H2ATT_B),
                                      caption_param(m, CP_ALPHA_W),
                                      caption_param(m, CP_ALPHA_B)};
        ag = (vtag_attention_grads){caption_grad(m, CP_H2ATT_W),
                                    caption_grad(m, CP_H2ATT_B),
                                    caption_grad(m, CP_ALPHA_W),
                                    caption_grad(m, CP_ALPHA_B)};
        a2c_w = caption_param(m, CP_A2C_W);
    }
    vtag_packed_b pw_h2h, pw_a2c; /* op: W, [G, R] and [2R, D] */
    if (caption_pack(ctx, &pw_h2h, 0, G, R, h2h_w, R) || (!fc && !f->a2c_p && caption_pack(ctx, &pw_a2c, 0, 2 * R, D, a2c_w, D)))
        return oom(err);
    const vtag_attention_dims dims = {B, K, Dq, R, A, sq->rep};
    for (int64_t s = S - 1; s >= 0; s--) {
        /* dh holds what reaches h_s from step s+1; add the output's share. */
        if (!(fc && s == 0)) {
            int64_t t = fc ? s - 1 : s;
            vtag_dropout_backward(dh, dout + t * B * R, f->drop + t * B * R, B * R, ctx->threads);
        }
        float *das = da + s * B * G;
        memset(dc_prev, 0, (size_t)(B * R) * sizeof(float));
        vtag_maxout_lstm_backward(das, dc_prev, dh, dc, f->cache + s * B * G, f->a + s * B * G, f->cs + s * B * R, B,
                                  R, ctx->threads);
        memset(dh_next, 0, (size_t)(B * R) * sizeof(float));
        const float *h_prev = f->hs + s * B * R;
        if (!fc) {
            /* a2c: d ctx = da[3R:5R] · W_a2c, then back through attention (over P: d out = da[3R:5R]
             * itself, and dP gathers Σ alpha · da[3R:5R] per image). */
            if (f->a2c_p)
                for (int64_t b = 0; b < B; b++)
                    memcpy(dctx + b * Dq, das + b * G + 3 * R, (size_t)(2 * R) * sizeof(float));
            else
                vtag_gemm_packed(ctx, B, 1.0f, das + 3 * R, G, &pw_a2c, 0.0f, dctx, D);
            int rc = vtag_attention_backward(ctx, dh_next, d_a2c_p, dp_att, &ag, dctx, &f->att_cache[s], h_prev, att_of,
                                             &aw, dims, err);
            if (rc) return rc;
        }
        vtag_gemm_packed(ctx, B, 1.0f, das, G, &pw_h2h, 1.0f, dh_next, R); /* dh += da · W_h2h */
        float *tmp = dh;
        dh = dh_next;
        dh_next = tmp;
        tmp = dc;
        dc = dc_prev;
        dc_prev = tmp;
    }
    /* Weight gradients of everything that ran per step, one GEMM each. */
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_H2H_W), caption_grad(m, CP_H2H_B), da, f->hs,
                         h2h_w, S * B, R, G);
    float *dx = ZEROS(S * B * E);
    if (!dx) return oom(err);
    vtag_linear_backward(ctx, dx, caption_grad(m, CP_I2H_W), caption_grad(m, CP_I2H_B), da, f->x,
                         caption_param(m, CP_I2H_W), S * B, E, G);
    float *dxw = dx;
    if (fc) {
        /* The image step's inputs: one img_embed(fc) per image, shared by its rows. */
        const float *dx0 = sq->rep > 1 ? sum_per_image(ctx, dx, B, sq->rep, E) : dx;
        if (!dx0) return oom(err);
        vtag_linear_backward(ctx, NULL, caption_grad(m, CP_IMG_EMBED_W), caption_grad(m, CP_IMG_EMBED_B), dx0, bt->fc,
                             caption_param(m, CP_IMG_EMBED_W), NI, c->fc_feat_size, E);
        dxw += B * E;
    } else {
        /* a2c over all steps: dW += da[:, 3R:5R]^T · ctx (over P: dW += dP^T · att, one row per image
         * and position), db += Σ da[:, 3R:5R]. */
        float *gw = caption_grad(m, CP_A2C_W), *gb = caption_grad(m, CP_A2C_B);
        if (f->a2c_p)
            vtag_gemm(ctx, 1, 0, 2 * R, D, NI * K, 1.0f, d_a2c_p, 2 * R, bt->att, D, 1.0f, gw, D);
        else
            vtag_gemm(ctx, 1, 0, 2 * R, D, S * B, 1.0f, da + 3 * R, G, f->ctxs, D, 1.0f, gw, D);
        for (int64_t i = 0; i < S * B; i++)
            for (int64_t j = 0; j < 2 * R; j++) gb[j] += da[i * G + 3 * R + j];
        vtag_linear_backward(ctx, NULL, caption_grad(m, CP_CTX2ATT_W), caption_grad(m, CP_CTX2ATT_B), dp_att, bt->att,
                             caption_param(m, CP_CTX2ATT_W), NI * K, D, A);
    }
    vtag_embedding_backward(caption_grad(m, CP_EMBED), dxw, sq->in, T * B, E);
    return VTAG_OK;
}

/* ---- topdown: two LSTM cells with attention between them ------------------------------- */

/* y = dropout(relu(x · W^T + b)); keeps relu's output and the mask for backward. */
static void embed_relu_dropout(vtag_ctx *ctx, float *out, float *pre, float *mask, const float *in, const float *w,
                               const float *b, int64_t n, int64_t in_dim, int64_t out_dim, float p, int train)
{
    vtag_linear_forward(ctx, pre, in, w, b, n, in_dim, out_dim, 0);
    vtag_relu_forward(pre, pre, n * out_dim, ctx->threads);
    vtag_dropout_forward(out, mask, pre, n * out_dim, p, train, &ctx->rng, ctx->threads);
}

/* Gradient before ReLU+dropout, given the gradient after them (arena). */
static float *undo_relu_dropout(vtag_ctx *ctx, const float *dy, const float *mask, const float *relu_out, int64_t n)
{
    float *d_drop = ZEROS(n), *d_pre = ZEROS(n);
    if (!d_drop || !d_pre) return NULL;
    vtag_dropout_backward(d_drop, dy, mask, n, ctx->threads);
    vtag_relu_backward(d_pre, d_drop, relu_out, n, ctx->threads);
    return d_pre;
}

static int topdown_forward(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, const caption_seqs *sq, int train,
                           float *out, caption_fwd *f, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t B = sq->B, T = sq->T, E = c->input_encoding_size, R = c->rnn_size, K = bt->k, A = c->att_hid_size;
    const int64_t W1 = 2 * R + E, W2 = 2 * R;
    const float p = c->drop_prob_lm;
    f->fce = NEW(B * R), f->fce_mask = NEW(B * R), f->fce_pre = NEW(B * R);
    f->ate = NEW(B * K * R), f->ate_mask = NEW(B * K * R), f->ate_pre = NEW(B * K * R);
    f->x = NEW(T * B * E), f->x_pre = NEW(T * B * E), f->x_mask = NEW(T * B * E);
    f->p_att = NEW(B * K * A);
    f->att_in = NEW(T * B * W1), f->lang_in = NEW(T * B * W2);
    f->a = NEW(T * B * 4 * R), f->cache = NEW(T * B * 5 * R);
    f->a2 = NEW(T * B * 4 * R), f->cache2 = NEW(T * B * 5 * R);
    f->hs = ZEROS((T + 1) * B * R), f->cs = ZEROS((T + 1) * B * R);
    f->h2s = ZEROS((T + 1) * B * R), f->c2s = ZEROS((T + 1) * B * R);
    f->ctxs = NEW(T * B * R);
    f->drop = NEW(T * B * R);
    f->att_cache = vtag_arena_alloc(&ctx->arena, (size_t)T * sizeof *f->att_cache);
    if (!f->fce || !f->fce_mask || !f->fce_pre || !f->ate || !f->ate_mask || !f->ate_pre || !f->x || !f->x_pre ||
        !f->x_mask || !f->p_att || !f->att_in || !f->lang_in || !f->a || !f->cache || !f->a2 || !f->cache2 || !f->hs ||
        !f->cs || !f->h2s || !f->c2s || !f->ctxs || !f->drop || !f->att_cache)
        return oom(err);

    embed_relu_dropout(ctx, f->fce, f->fce_pre, f->fce_mask, bt->fc, caption_param(m, CP_FC_EMBED_W),
                       caption_param(m, CP_FC_EMBED_B), B, c->fc_feat_size, R, p, train);
    embed_relu_dropout(ctx, f->ate, f->ate_pre, f->ate_mask, bt->att, caption_param(m, CP_ATT_EMBED_W),
                       caption_param(m, CP_ATT_EMBED_B), B * K, c->att_feat_size, R, p, train);
    vtag_linear_forward(ctx, f->p_att, f->ate, caption_param(m, CP_CTX2ATT_W), caption_param(m, CP_CTX2ATT_B),
                        B * K, R, A, 0);
    int rc = vtag_embedding_forward(f->x_pre, sq->in, caption_param(m, CP_EMBED), T * B, c->vocab_size + 1, E, err);
    if (rc) return rc;
    vtag_relu_forward(f->x_pre, f->x_pre, T * B * E, ctx->threads);
    vtag_dropout_forward(f->x, f->x_mask, f->x_pre, T * B * E, p, train, &ctx->rng, ctx->threads);

    const float *wih1 = caption_param(m, CP_ATT_LSTM_W_IH), *bih1 = caption_param(m, CP_ATT_LSTM_B_IH);
    const float *whh1 = caption_param(m, CP_ATT_LSTM_W_HH), *bhh1 = caption_param(m, CP_ATT_LSTM_B_HH);
    const float *wih2 = caption_param(m, CP_LANG_LSTM_W_IH), *bih2 = caption_param(m, CP_LANG_LSTM_B_IH);
    const float *whh2 = caption_param(m, CP_LANG_LSTM_W_HH), *bhh2 = caption_param(m, CP_LANG_LSTM_B_HH);
    vtag_attention_weights aw = {caption_param(m, CP_H2ATT_W),
                                 caption_param(m, CP_H2ATT_B),
                                 caption_param(m, CP_ALPHA_W),
                                 caption_param(m, CP_ALPHA_B)};
    const vtag_attention_dims dims = {B, K, R, R, A, 1};
    const int64_t d1[3] = {R, R, E}, d2[2] = {R, R};
    vtag_packed_b pw_ih1h, pw_hh1, pw_ih2, pw_hh2; /* op: W^T; weight_ih1's h2_prev columns */
    if (caption_pack(ctx, &pw_ih1h, 1, R, 4 * R, wih1, W1) || caption_pack(ctx, &pw_hh1, 1, R, 4 * R, whh1, R) ||
        caption_pack(ctx, &pw_ih2, 1, W2, 4 * R, wih2, W2) || caption_pack(ctx, &pw_hh2, 1, R, 4 * R, whh2, R))
        return oom(err);
    /* att_lstm's inputs are [h2_prev | fc_emb | x]; only h2_prev is recurrent. x's share of the
     * gates for every step is one GEMM (T·B rows instead of B rows a step), fc_emb's (+ bias_ih)
     * one per image; each step adds h2_prev's. */
    float *g_fce = NEW(B * 4 * R);
    if (!g_fce) return oom(err);
    for (int64_t b = 0; b < B; b++) memcpy(g_fce + b * 4 * R, bih1, (size_t)(4 * R) * sizeof(float));
    vtag_gemm(ctx, 0, 1, B, 4 * R, R, 1.0f, f->fce, R, wih1 + R, W1, 1.0f, g_fce, 4 * R);
    vtag_gemm(ctx, 0, 1, T * B, 4 * R, E, 1.0f, f->x, E, wih1 + 2 * R, W1, 0.0f, f->a, 4 * R);
    for (int64_t s = 0; s < T; s++) {
        const float *h1p = f->hs + s * B * R, *h2p = f->h2s + s * B * R;
        float *h1 = f->hs + (s + 1) * B * R, *h2 = f->h2s + (s + 1) * B * R;
        float *ai = f->att_in + s * B * W1, *li = f->lang_in + s * B * W2;
        float *g1 = f->a + s * B * 4 * R, *g2 = f->a2 + s * B * 4 * R;
        const float *ins1[3] = {h2p, f->fce, f->x + s * B * E};
        vtag_concat_forward(ai, ins1, d1, 3, B); /* kept for weight_ih's gradient */
        for (int64_t i = 0; i < B * 4 * R; i++) g1[i] += g_fce[i];
        vtag_gemm_packed(ctx, B, 1.0f, h2p, R, &pw_ih1h, 1.0f, g1, 4 * R);
        caption_packed_linear(ctx, g1, 4 * R, h1p, R, &pw_hh1, bhh1, B, 1);
        vtag_lstm_forward(h1, f->cs + (s + 1) * B * R, f->cache + s * B * 5 * R, g1, f->cs + s * B * R, B, R,
                          ctx->threads);
        float *cx = f->ctxs + s * B * R;
        rc = vtag_attention_forward(ctx, cx, &f->att_cache[s], h1, f->ate, f->p_att, &aw, dims, err);
        if (rc) return rc;
        const float *ins2[2] = {cx, h1};
        vtag_concat_forward(li, ins2, d2, 2, B);
        caption_packed_linear(ctx, g2, 4 * R, li, W2, &pw_ih2, bih2, B, 0);
        caption_packed_linear(ctx, g2, 4 * R, h2p, R, &pw_hh2, bhh2, B, 1);
        vtag_lstm_forward(h2, f->c2s + (s + 1) * B * R, f->cache2 + s * B * 5 * R, g2, f->c2s + s * B * R, B, R,
                          ctx->threads);
        vtag_dropout_forward(out + s * B * R, f->drop + s * B * R, h2, B * R, p, train, &ctx->rng, ctx->threads);
    }
    return VTAG_OK;
}

static int topdown_backward(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, const caption_seqs *sq,
                            const caption_fwd *f, const float *dout, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t B = sq->B, T = sq->T, E = c->input_encoding_size, R = c->rnn_size, K = bt->k, A = c->att_hid_size;
    const int64_t NI = bt->b;
    const int64_t W1 = 2 * R + E, W2 = 2 * R;
    float *dg1 = ZEROS(T * B * 4 * R), *dg2 = ZEROS(T * B * 4 * R);
    float *dh1 = ZEROS(B * R), *dh1n = NEW(B * R), *dc1 = ZEROS(B * R), *dc1p = NEW(B * R);
    float *dh2 = ZEROS(B * R), *dh2n = NEW(B * R), *dc2 = ZEROS(B * R), *dc2p = NEW(B * R);
    float *dli = NEW(B * W2), *dctx = NEW(B * R);
    float *date = ZEROS(NI * K * R), *dp_att = ZEROS(NI * K * A), *dx = ZEROS(T * B * E);
    if (!dg1 || !dg2 || !dh1 || !dh1n || !dc1 || !dc1p || !dh2 || !dh2n || !dc2 || !dc2p || !dli || !dctx || !date ||
        !dp_att || !dx)
        return oom(err);
    const float *wih1 = caption_param(m, CP_ATT_LSTM_W_IH), *whh1 = caption_param(m, CP_ATT_LSTM_W_HH);
    const float *wih2 = caption_param(m, CP_LANG_LSTM_W_IH), *whh2 = caption_param(m, CP_LANG_LSTM_W_HH);
    vtag_attention_weights aw = {caption_param(m, CP_H2ATT_W),
                                 caption_param(m, CP_H2ATT_B),
                                 caption_param(m, CP_ALPHA_W),
                                 caption_param(m, CP_ALPHA_B)};
    vtag_attention_grads ag = {caption_grad(m, CP_H2ATT_W), caption_grad(m, CP_H2ATT_B),
                               caption_grad(m, CP_ALPHA_W),
                               caption_grad(m, CP_ALPHA_B)};
    const vtag_attention_dims dims = {B, K, R, R, A, sq->rep};
    vtag_packed_b pw_ih1h, pw_hh1, pw_ih2, pw_hh2; /* op: W; weight_ih1's h2_prev columns */
    if (caption_pack(ctx, &pw_ih1h, 0, 4 * R, R, wih1, W1) || caption_pack(ctx, &pw_hh1, 0, 4 * R, R, whh1, R) ||
        caption_pack(ctx, &pw_ih2, 0, 4 * R, W2, wih2, W2) || caption_pack(ctx, &pw_hh2, 0, 4 * R, R, whh2, R))
        return oom(err);
    const size_t row_bytes = (size_t)(B * R) * sizeof(float);
    for (int64_t s = T - 1; s >= 0; s--) {
        /* dh2, dh1, dc1, dc2 hold what reaches step s's outputs from step s+1. */
        vtag_dropout_backward(dh2, dout + s * B * R, f->drop + s * B * R, B * R, ctx->threads);
        float *g2 = dg2 + s * B * 4 * R, *g1 = dg1 + s * B * 4 * R;
        memset(dc2p, 0, row_bytes);
        vtag_lstm_backward(g2, dc2p, dh2, dc2, f->cache2 + s * B * 5 * R, f->c2s + s * B * R, B, R, ctx->threads);
        /* lang_lstm inputs: [ctx | h1], and h2_prev through weight_hh. */
        vtag_gemm_packed(ctx, B, 1.0f, g2, 4 * R, &pw_ih2, 0.0f, dli, W2);
        vtag_gemm_packed(ctx, B, 1.0f, g2, 4 * R, &pw_hh2, 0.0f, dh2n, R);
        memset(dctx, 0, row_bytes);
        float *douts2[2] = {dctx, dh1};
        const int64_t d2[2] = {R, R};
        vtag_concat_backward(douts2, dli, d2, 2, B);
        const float *h1 = f->hs + (s + 1) * B * R;
        int rc = vtag_attention_backward(ctx, dh1, date, dp_att, &ag, dctx, &f->att_cache[s], h1, f->ate, &aw, dims, err);
        if (rc) return rc;
        memset(dc1p, 0, row_bytes);
        vtag_lstm_backward(g1, dc1p, dh1, dc1, f->cache + s * B * 5 * R, f->cs + s * B * R, B, R, ctx->threads);
        /* att_lstm inputs: [h2_prev | fc_emb | x] — the columns of weight_ih for h2_prev here; x
         * and fc_emb do not feed the recurrence, their gradients are taken once after the loop —
         * and h1_prev through weight_hh. */
        vtag_gemm_packed(ctx, B, 1.0f, g1, 4 * R, &pw_ih1h, 1.0f, dh2n, R);
        vtag_gemm_packed(ctx, B, 1.0f, g1, 4 * R, &pw_hh1, 0.0f, dh1n, R);
        float *t;
        t = dh1, dh1 = dh1n, dh1n = t;
        t = dh2, dh2 = dh2n, dh2n = t;
        t = dc1, dc1 = dc1p, dc1p = t;
        t = dc2, dc2 = dc2p, dc2p = t;
    }
    /* x's share of att_lstm's inputs at every step: dx = dg1 · weight_ih[:, 2R:]. */
    vtag_gemm(ctx, 0, 0, T * B, E, 4 * R, 1.0f, dg1, 4 * R, wih1 + 2 * R, W1, 0.0f, dx, E);
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_ATT_LSTM_W_IH), caption_grad(m, CP_ATT_LSTM_B_IH),
                         dg1, f->att_in, wih1, T * B, W1, 4 * R);
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_ATT_LSTM_W_HH), caption_grad(m, CP_ATT_LSTM_B_HH),
                         dg1, f->hs, whh1, T * B, R, 4 * R);
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_LANG_LSTM_W_IH), caption_grad(m, CP_LANG_LSTM_B_IH),
                         dg2, f->lang_in, wih2, T * B, W2, 4 * R);
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_LANG_LSTM_W_HH), caption_grad(m, CP_LANG_LSTM_B_HH),
                         dg2, f->h2s, whh2, T * B, R, 4 * R);
    /* Embeddings: back through dropout and ReLU, then the table / Linear. */
    float *dxe = undo_relu_dropout(ctx, dx, f->x_mask, f->x_pre, T * B * E);
    if (!dxe) return oom(err);
    vtag_embedding_backward(caption_grad(m, CP_EMBED), dxe, sq->in, T * B, E);
    vtag_linear_backward(ctx, date, caption_grad(m, CP_CTX2ATT_W), caption_grad(m, CP_CTX2ATT_B), dp_att, f->ate,
                         caption_param(m, CP_CTX2ATT_W), NI * K, R, A);
    /* fc_emb entered att_lstm at every step of every row of its image: d fc_emb = (Σ over those
     * steps and rows of d gates) · weight_ih[:, R:2R]. */
    float *g1_img = ZEROS(NI * 4 * R), *dfce_img = ZEROS(NI * R);
    if (!g1_img || !dfce_img) return oom(err);
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < 4 * R; j++) g1_img[b / sq->rep * 4 * R + j] += dg1[(t * B + b) * 4 * R + j];
    vtag_gemm(ctx, 0, 0, NI, R, 4 * R, 1.0f, g1_img, 4 * R, wih1 + R, W1, 0.0f, dfce_img, R);
    float *date_pre = undo_relu_dropout(ctx, date, f->ate_mask, f->ate_pre, NI * K * R);
    float *dfce_pre = undo_relu_dropout(ctx, dfce_img, f->fce_mask, f->fce_pre, NI * R);
    if (!date_pre || !dfce_pre) return oom(err);
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_ATT_EMBED_W), caption_grad(m, CP_ATT_EMBED_B), date_pre,
                         bt->att, caption_param(m, CP_ATT_EMBED_W), NI * K, c->att_feat_size, R);
    vtag_linear_backward(ctx, NULL, caption_grad(m, CP_FC_EMBED_W), caption_grad(m, CP_FC_EMBED_B), dfce_pre,
                         bt->fc, caption_param(m, CP_FC_EMBED_W), NI, c->fc_feat_size, R);
    return VTAG_OK;
}

/* ---- the shared part: sequences, logits, loss ----------------------------------------------- */

static int check_batch(const vtag_model *m, const vtag_batch *bt, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    if (bt->b < 1) return vtag_fail(err, VTAG_ERR_ARG, "caption: empty batch");
    if (c->type != VTAG_MODEL_ATT2IN && !bt->fc)
        return vtag_fail(err, VTAG_ERR_ARG, "caption: model %s needs fc features", vtag_model_type_name(c->type));
    if (c->type != VTAG_MODEL_FC && (!bt->att || bt->k < 1))
        return vtag_fail(err, VTAG_ERR_ARG, "caption: model %s needs att features", vtag_model_type_name(c->type));
    return VTAG_OK;
}

static int make_seqs(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, int all_positions, caption_seqs *sq,
                     vtag_error *err)
{
    const int64_t B = bt->b, L = m->cfg.max_length, V = m->cfg.vocab_size;
    int64_t maxlen = 0;
    int32_t *len = vtag_arena_alloc(&ctx->arena, (size_t)B * sizeof(int32_t));
    if (!len) return oom(err);
    for (int64_t b = 0; b < B; b++) {
        int32_t n = 0;
        while (n < L && bt->labels[b * L + n] != 0) {
            int32_t id = bt->labels[b * L + n];
            if (id < 0 || id > V)
                return vtag_fail(err, VTAG_ERR_ARG, "caption: row %lld has label id %d outside [1, %lld]", (long long)b, id,
                                 (long long)V);
            n++;
        }
        len[b] = n;
        if (n > maxlen) maxlen = n;
    }
    sq->B = B;
    sq->rep = 1;
    sq->T = all_positions ? L + 1 : maxlen + 1;
    const int64_t T = sq->T;
    sq->in = vtag_arena_alloc(&ctx->arena, (size_t)(T * B) * sizeof(int32_t));
    sq->target = vtag_arena_alloc(&ctx->arena, (size_t)(T * B) * sizeof(int32_t));
    sq->mask = NEW(T * B);
    if (!sq->in || !sq->target || !sq->mask) return oom(err);
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) {
            /* Everything after a row's EOS is padding: id 0, masked out. */
            sq->in[t * B + b] = t == 0 || t - 1 >= len[b] ? 0 : bt->labels[b * L + t - 1];
            sq->target[t * B + b] = t < len[b] ? bt->labels[b * L + t] : 0;
            sq->mask[t * B + b] = t <= len[b] ? 1.0f : 0.0f;
        }
    return VTAG_OK;
}

int vtag_model_xe(vtag_ctx *ctx, vtag_model *m, const vtag_batch *bt, int train, int backward, double *loss,
                  float *logprobs, vtag_error *err)
{
    return vtag_model_xe_weighted(ctx, m, bt, NULL, train, backward, loss, logprobs, err);
}

int caption_model_backward(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, const caption_seqs *sq,
                           const caption_fwd *f, const float *dout, vtag_error *err)
{
    return m->cfg.type == VTAG_MODEL_TOPDOWN ? topdown_backward(ctx, m, bt, sq, f, dout, err)
                                             : maxout_backward(ctx, m, bt, sq, f, dout, err);
}

int caption_loss_backward(vtag_ctx *ctx, vtag_model *m, const vtag_batch *bt, const caption_seqs *sq,
                          const caption_fwd *f, const float *out, const float *lp, const float *row_weight,
                          int backward, double *loss, vtag_error *err)
{
    const int64_t B = sq->B, T = sq->T, R = m->cfg.rnn_size, V1 = m->cfg.vocab_size + 1;
    float *w = NEW(T * B);
    if (!w) return oom(err);
    /* loss = −Σ w_b · mask · log p(target) / Σ mask */
    double msum = 0, l = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) {
            int64_t i = t * B + b;
            w[i] = sq->mask[i] * (row_weight ? row_weight[b] : 1.0f);
            msum += sq->mask[i];
            if (w[i] != 0.0f) l -= (double)w[i] * lp[i * V1 + sq->target[i]];
        }
    *loss = msum > 0 ? l / msum : 0.0;
    if (!backward || msum <= 0) return VTAG_OK;

    float *dlogits = ZEROS(T * B * V1), *dout = ZEROS(T * B * R);
    if (!dlogits || !dout) return oom(err);
    vtag_logsoftmax_wnll_backward(dlogits, 1.0 / msum, lp, sq->target, w, T * B, V1, ctx->threads);
    vtag_linear_backward(ctx, dout, caption_grad(m, CP_LOGIT_W), caption_grad(m, CP_LOGIT_B), dlogits, out,
                         caption_param(m, CP_LOGIT_W), T * B, R, V1);
    return caption_model_backward(ctx, m, bt, sq, f, dout, err);
}

int vtag_model_xe_weighted(vtag_ctx *ctx, vtag_model *m, const vtag_batch *bt, const float *row_weight, int train,
                           int backward, double *loss, float *logprobs, vtag_error *err)
{
    int rc = check_batch(m, bt, err);
    if (rc) return rc;
    if (!bt->labels) return vtag_fail(err, VTAG_ERR_ARG, "caption: XE needs labels");
    caption_seqs sq = {0};
    if ((rc = make_seqs(ctx, m, bt, logprobs != NULL, &sq, err))) return rc;
    const int64_t B = sq.B, T = sq.T, R = m->cfg.rnn_size, V1 = m->cfg.vocab_size + 1;
    float *out = NEW(T * B * R), *lp = NEW(T * B * V1);
    if (!out || !lp) return oom(err);
    caption_fwd f;
    memset(&f, 0, sizeof f);
    rc = m->cfg.type == VTAG_MODEL_TOPDOWN ? topdown_forward(ctx, m, bt, &sq, train, out, &f, err)
                                           : maxout_forward(ctx, m, bt, &sq, train, out, &f, err);
    if (rc) return rc;
    vtag_linear_forward(ctx, lp, out, caption_param(m, CP_LOGIT_W), caption_param(m, CP_LOGIT_B), T * B, R, V1, 0);
    vtag_logsoftmax_forward(lp, lp, T * B, V1, ctx->threads);
    if (logprobs)
        for (int64_t t = 0; t < T; t++)
            for (int64_t b = 0; b < B; b++)
                memcpy(logprobs + (b * T + t) * V1, lp + (t * B + b) * V1, (size_t)V1 * sizeof(float));
    return caption_loss_backward(ctx, m, bt, &sq, &f, out, lp, row_weight, backward, loss, err);
}

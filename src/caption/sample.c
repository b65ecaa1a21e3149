/* SCST's sampling pass with a tape (SPEC §4): n captions per image are
 * sampled step by step, and every activation the backward pass needs is kept
 * (caption_fwd, the same layout as the teacher-forced pass of xe.c), so the
 * policy gradient is taken through the very forward pass — and dropout masks —
 * that produced the samples, with no second forward over them.
 *
 * What depends only on the image is computed once per image and shared by its
 * n rows: fc's image step input, att2in's ctx2att, topdown's fc_embed,
 * att_embed (with their dropout masks) and ctx2att; the backward sums the
 * rows' gradients back into the image (xe.c, attention.c with dims.rep). */
#include <math.h>
#include <string.h>

#include "caption_internal.h"
#include "vtag/scst.h"

#define NEW(n) vtag_arena_floats(&ctx->arena, (n))
#define ZEROS(n) vtag_arena_zeros(&ctx->arena, (n))

struct vtag_scst_tape {
    vtag_batch images; /* the B/n images (labels unused) */
    caption_seqs sq;   /* inputs, sampled targets, mask; T = steps run */
    caption_fwd f;
    float *out;        /* [L+1, B, R] dropped-out outputs */
    float *lp;         /* [L+1, B, V+1] log-probabilities */
    float *fce_rows;   /* topdown: [B, R] each image's fc_emb repeated for its rows */
    float *a2c_out;    /* att2in: [B, 2R] one step's Σ alpha·P */
    float *g_fce;      /* topdown: [B/n, 4R] fc_emb's share of att_lstm's gates, + bias_ih */
};

static int oom(vtag_error *err) { return vtag_fail(err, VTAG_ERR_NOMEM, "SCST: out of memory"); }

/* The rows still sampling at a step. Their products (the cells' GEMMs and the
 * logit layer) are taken on these rows only: gathered into scratch, multiplied,
 * scattered back into the tape's [B, …] rows, so the tape keeps the layout the
 * backward reads. A finished row's products are zeros: its later tape entries
 * stay finite and its gradient there is exactly zero (no loss after its EOS),
 * so skipping it changes nothing. The element-wise work — embedding, dropout,
 * the cells, attention — still runs on every row: cheap, and the dropout masks
 * draw the same random numbers as when every row was stepped. Gathering and
 * scattering a live row costs about a seventh of what a finished row's products
 * save (a [*, 1024] · [1024, 2048] product: 41 KB moved against 4.2 MFLOP), so
 * a step compacts only once a quarter of its rows have finished (compact_worth). */
typedef struct live_rows {
    int64_t B, n;    /* rows, live rows */
    int64_t *idx;    /* [B] the live rows, ascending */
    float *in, *out; /* scratch [B, max_in], [B, max_out] */
} live_rows;

/* Whether skipping `finished` of `rows` rows pays for moving the others. */
static int compact_worth(int64_t finished, int64_t rows) { return 4 * finished >= rows; }

/* dst[i, 0:w] = src[idx[i], 0:w] (row stride lds), i < n. */
static void gather_live(float *dst, const float *src, int64_t lds, const live_rows *lv, int64_t w)
{
    for (int64_t i = 0; i < lv->n; i++) memcpy(dst + i * w, src + lv->idx[i] * lds, (size_t)w * sizeof(float));
}

/* dst[idx[i], 0:w] (row stride ldd) = src[i, 0:w], i < n. */
static void scatter_live(float *dst, int64_t ldd, const float *src, const live_rows *lv, int64_t w)
{
    for (int64_t i = 0; i < lv->n; i++) memcpy(dst + lv->idx[i] * ldd, src + i * w, (size_t)w * sizeof(float));
}

/* A weight packed once per sampling pass (arena) for the products made at every step:
 * a BLAS call would repack the whole weight for each 50-row product (as xe.c); op(W) is
 * [k, n], trans: W is [n, k] (a Linear's, row stride ldw). */
int caption_pack(vtag_ctx *ctx, vtag_packed_b *p, int trans, int64_t k, int64_t n, const float *w, int64_t ldw)
{
    const int64_t size = vtag_gemm_pack_floats(k, n);
    float *buf = size < 0 ? NULL : NEW(size);
    if (!buf) return VTAG_ERR_NOMEM;
    vtag_gemm_pack(ctx, p, buf, trans, k, n, w, ldw);
    return VTAG_OK;
}

void caption_packed_linear(const vtag_ctx *ctx, float *out, int64_t ldo, const float *in, int64_t ldi,
                           const vtag_packed_b *w, const float *b, int64_t n, int accumulate)
{
    for (int64_t i = 0; b && i < n; i++)
        for (int64_t j = 0; j < w->n; j++) out[i * ldo + j] = (accumulate ? out[i * ldo + j] : 0.0f) + b[j];
    vtag_gemm_packed(ctx, n, 1.0f, in, ldi, w, b || accumulate ? 1.0f : 0.0f, out, ldo);
}

/* The per-step weights, packed (op: W^T). fc / att2in: i2h, h2h; topdown: weight_ih's
 * h2_prev and x columns, weight_hh, lang_lstm's weight_ih and weight_hh; all: the logits. */
typedef struct step_weights {
    vtag_packed_b i2h, h2h;
    vtag_packed_b ih1h, ih1x, hh1, ih2, hh2;
    vtag_packed_b logit;
} step_weights;

static int pack_step_weights(vtag_ctx *ctx, const vtag_model *m, step_weights *pw)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t E = c->input_encoding_size, R = c->rnn_size, V1 = c->vocab_size + 1, W1 = 2 * R + E;
    if (caption_pack(ctx, &pw->logit, 1, R, V1, caption_param(m, CP_LOGIT_W), R)) return VTAG_ERR_NOMEM;
    if (c->type != VTAG_MODEL_TOPDOWN)
        return caption_pack(ctx, &pw->i2h, 1, E, 5 * R, caption_param(m, CP_I2H_W), E) ||
                       caption_pack(ctx, &pw->h2h, 1, R, 5 * R, caption_param(m, CP_H2H_W), R)
                   ? VTAG_ERR_NOMEM
                   : VTAG_OK;
    const float *wih1 = caption_param(m, CP_ATT_LSTM_W_IH);
    return caption_pack(ctx, &pw->ih1h, 1, R, 4 * R, wih1, W1) ||
                   caption_pack(ctx, &pw->ih1x, 1, E, 4 * R, wih1 + 2 * R, W1) ||
                   caption_pack(ctx, &pw->hh1, 1, R, 4 * R, caption_param(m, CP_ATT_LSTM_W_HH), R) ||
                   caption_pack(ctx, &pw->ih2, 1, 2 * R, 4 * R, caption_param(m, CP_LANG_LSTM_W_IH), 2 * R) ||
                   caption_pack(ctx, &pw->hh2, 1, R, 4 * R, caption_param(m, CP_LANG_LSTM_W_HH), R)
               ? VTAG_ERR_NOMEM
               : VTAG_OK;
}

/* out[B, w->n] (+)= in[B, w->k] · W^T (+ b) over the live rows (packed W); without
 * accumulate, the finished rows of out are zeroed. */
static void live_linear(const vtag_ctx *ctx, const live_rows *lv, float *out, const float *in,
                        const vtag_packed_b *w, const float *b, int accumulate)
{
    const int64_t in_dim = w->k, out_dim = w->n;
    if (lv->n == lv->B) {
        caption_packed_linear(ctx, out, out_dim, in, in_dim, w, b, lv->B, accumulate);
        return;
    }
    gather_live(lv->in, in, in_dim, lv, in_dim);
    if (accumulate) gather_live(lv->out, out, out_dim, lv, out_dim);
    caption_packed_linear(ctx, lv->out, out_dim, lv->in, in_dim, w, b, lv->n, accumulate);
    if (!accumulate) memset(out, 0, (size_t)(lv->B * out_dim) * sizeof(float));
    scatter_live(out, out_dim, lv->out, lv, out_dim);
}

/* c[B, 0:w->n] (row stride ldc) += a[B, 0:w->k] (row stride lda) · op(W) over the live rows. */
static void live_gemm(const vtag_ctx *ctx, const live_rows *lv, const float *a, int64_t lda, const vtag_packed_b *w,
                      float *c, int64_t ldc)
{
    if (lv->n == lv->B) {
        vtag_gemm_packed(ctx, lv->B, 1.0f, a, lda, w, 1.0f, c, ldc);
        return;
    }
    gather_live(lv->in, a, lda, lv, w->k);
    gather_live(lv->out, c, ldc, lv, w->n);
    vtag_gemm_packed(ctx, lv->n, 1.0f, lv->in, w->k, w, 1.0f, lv->out, w->n);
    scatter_live(c, ldc, lv->out, lv, w->n);
}

/* Allocates the tape's arrays for up to Tm = L+1 positions. */
static int alloc_tape(vtag_ctx *ctx, const vtag_model *m, vtag_scst_tape *tp, int64_t NI, int64_t B, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t Tm = c->max_length + 1, E = c->input_encoding_size, R = c->rnn_size, A = c->att_hid_size;
    const int64_t K = tp->images.k, V1 = c->vocab_size + 1;
    caption_fwd *f = &tp->f;
    caption_seqs *sq = &tp->sq;
    sq->in = vtag_arena_alloc(&ctx->arena, (size_t)(Tm * B) * sizeof(int32_t));
    sq->target = vtag_arena_alloc(&ctx->arena, (size_t)(Tm * B) * sizeof(int32_t));
    sq->mask = ZEROS(Tm * B);
    tp->out = NEW(Tm * B * R);
    tp->lp = NEW(Tm * B * V1);
    if (!sq->in || !sq->target || !sq->mask || !tp->out || !tp->lp) return oom(err);
    memset(sq->in, 0, (size_t)(Tm * B) * sizeof(int32_t));
    memset(sq->target, 0, (size_t)(Tm * B) * sizeof(int32_t));
    f->drop = NEW(Tm * B * R);
    f->hs = ZEROS((Tm + 2) * B * R), f->cs = ZEROS((Tm + 2) * B * R);
    if (!f->drop || !f->hs || !f->cs) return oom(err);
    if (c->type != VTAG_MODEL_TOPDOWN) {
        const int64_t S = Tm + (c->type == VTAG_MODEL_FC);
        f->x = NEW(S * B * E), f->a = NEW(S * B * 5 * R), f->cache = NEW(S * B * 5 * R);
        if (!f->x || !f->a || !f->cache) return oom(err);
        if (c->type == VTAG_MODEL_ATT2IN) {
            f->p_att = NEW(NI * K * A), f->a2c_p = NEW(NI * K * 2 * R);
            f->att_cache = vtag_arena_alloc(&ctx->arena, (size_t)S * sizeof *f->att_cache);
            tp->a2c_out = NEW(B * 2 * R);
            if (!f->p_att || !f->a2c_p || !f->att_cache || !tp->a2c_out) return oom(err);
        }
        return VTAG_OK;
    }
    f->fce = NEW(NI * R), f->fce_mask = NEW(NI * R), f->fce_pre = NEW(NI * R);
    f->ate = NEW(NI * K * R), f->ate_mask = NEW(NI * K * R), f->ate_pre = NEW(NI * K * R);
    f->p_att = NEW(NI * K * A);
    f->x = NEW(Tm * B * E), f->x_pre = NEW(Tm * B * E), f->x_mask = NEW(Tm * B * E);
    f->att_in = NEW(Tm * B * (2 * R + E)), f->lang_in = NEW(Tm * B * 2 * R);
    f->a = NEW(Tm * B * 4 * R), f->cache = NEW(Tm * B * 5 * R);
    f->a2 = NEW(Tm * B * 4 * R), f->cache2 = NEW(Tm * B * 5 * R);
    f->h2s = ZEROS((Tm + 1) * B * R), f->c2s = ZEROS((Tm + 1) * B * R);
    f->ctxs = NEW(Tm * B * R);
    f->att_cache = vtag_arena_alloc(&ctx->arena, (size_t)Tm * sizeof *f->att_cache);
    tp->fce_rows = NEW(B * R);
    tp->g_fce = NEW(NI * 4 * R);
    if (!f->fce || !f->fce_mask || !f->fce_pre || !f->ate || !f->ate_mask || !f->ate_pre || !f->p_att || !f->x ||
        !f->x_pre || !f->x_mask || !f->att_in || !f->lang_in || !f->a || !f->cache || !f->a2 || !f->cache2 || !f->h2s ||
        !f->c2s || !f->ctxs || !f->att_cache || !tp->fce_rows || !tp->g_fce)
        return oom(err);
    return VTAG_OK;
}

/* y = dropout(relu(x · W^T + b)), keeping relu's output and the mask (as xe.c). */
static void embed_relu_dropout(vtag_ctx *ctx, float *out, float *pre, float *mask, const float *in, const float *w,
                               const float *b, int64_t n, int64_t in_dim, int64_t out_dim, float p, int train)
{
    vtag_linear_forward(ctx, pre, in, w, b, n, in_dim, out_dim, 0);
    vtag_relu_forward(pre, pre, n * out_dim, ctx->threads);
    vtag_dropout_forward(out, mask, pre, n * out_dim, p, train, &ctx->rng, ctx->threads);
}

/* Per-image work, once per image. fc: the image step from the zero state, on
 * all rows (its input repeated; the state it leaves differs per row only
 * through nothing, but every row needs it as h_0). */
static int prepare(vtag_ctx *ctx, const vtag_model *m, vtag_scst_tape *tp, int64_t NI, int64_t rep, int train,
                   vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const vtag_batch *im = &tp->images;
    const int64_t B = NI * rep, E = c->input_encoding_size, R = c->rnn_size, A = c->att_hid_size, K = im->k;
    caption_fwd *f = &tp->f;
    if (c->type == VTAG_MODEL_FC) {
        float *x0 = NEW(NI * E);
        if (!x0) return oom(err);
        vtag_linear_forward(ctx, x0, im->fc, caption_param(m, CP_IMG_EMBED_W), caption_param(m, CP_IMG_EMBED_B), NI,
                            c->fc_feat_size, E, 0);
        for (int64_t b = 0; b < B; b++) memcpy(f->x + b * E, x0 + b / rep * E, (size_t)E * sizeof(float));
        vtag_linear_forward(ctx, f->a, f->x, caption_param(m, CP_I2H_W), caption_param(m, CP_I2H_B), B, E,
                            5 * R, 0);
        vtag_linear_forward(ctx, f->a, f->hs, caption_param(m, CP_H2H_W), caption_param(m, CP_H2H_B), B, R,
                            5 * R, 1);
        vtag_maxout_lstm_forward(f->hs + B * R, f->cs + B * R, f->cache, f->a, f->cs, B, R, ctx->threads);
        return VTAG_OK;
    }
    if (c->type == VTAG_MODEL_ATT2IN) {
        vtag_linear_forward(ctx, f->p_att, im->att, caption_param(m, CP_CTX2ATT_W), caption_param(m, CP_CTX2ATT_B),
                            NI * K, c->att_feat_size, A, 0);
        /* a2c moved before the average over positions: once per image and position instead of once per
         * row and step (NI·K = 490 rows against B·T = 850 in the benchmark, and no per-step GEMM). */
        vtag_linear_forward(ctx, f->a2c_p, im->att, caption_param(m, CP_A2C_W), NULL, NI * K,
                            c->att_feat_size, 2 * R, 0);
        return VTAG_OK;
    }
    const float p = c->drop_prob_lm;
    embed_relu_dropout(ctx, f->fce, f->fce_pre, f->fce_mask, im->fc, caption_param(m, CP_FC_EMBED_W),
                       caption_param(m, CP_FC_EMBED_B), NI, c->fc_feat_size, R, p, train);
    embed_relu_dropout(ctx, f->ate, f->ate_pre, f->ate_mask, im->att, caption_param(m, CP_ATT_EMBED_W),
                       caption_param(m, CP_ATT_EMBED_B), NI * K, c->att_feat_size, R, p, train);
    vtag_linear_forward(ctx, f->p_att, f->ate, caption_param(m, CP_CTX2ATT_W), caption_param(m, CP_CTX2ATT_B),
                        NI * K, R, A, 0);
    for (int64_t b = 0; b < B; b++) memcpy(tp->fce_rows + b * R, f->fce + b / rep * R, (size_t)R * sizeof(float));
    /* fc_emb is att_lstm's input at every step: its product with weight_ih[:, R:2R] (and bias_ih) once
     * per image, not per row and step. */
    const int64_t W1 = 2 * R + c->input_encoding_size;
    const float *bih1 = caption_param(m, CP_ATT_LSTM_B_IH);
    for (int64_t i = 0; i < NI; i++) memcpy(tp->g_fce + i * 4 * R, bih1, (size_t)(4 * R) * sizeof(float));
    vtag_gemm(ctx, 0, 1, NI, 4 * R, R, 1.0f, f->fce, R, caption_param(m, CP_ATT_LSTM_W_IH) + R, W1, 1.0f,
              tp->g_fce, 4 * R);
    return VTAG_OK;
}

/* One step of fc / att2in for all rows: position t (step s = t, or t + 1 for
 * fc after its image step), inputs sq.in[t], outputs out[t]. */
static int maxout_step(vtag_ctx *ctx, const vtag_model *m, vtag_scst_tape *tp, const live_rows *lv,
                       const step_weights *pw, int64_t t, int train, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int fc = c->type == VTAG_MODEL_FC;
    const caption_seqs *sq = &tp->sq;
    caption_fwd *f = &tp->f;
    const int64_t B = sq->B, E = c->input_encoding_size, R = c->rnn_size, G = 5 * R, s = t + fc;
    float *x = f->x + s * B * E, *a = f->a + s * B * G, *h_prev = f->hs + s * B * R;
    int rc = vtag_embedding_forward(x, sq->in + t * B, caption_param(m, CP_EMBED), B, c->vocab_size + 1, E, err);
    if (rc) return rc;
    live_linear(ctx, lv, a, x, &pw->i2h, caption_param(m, CP_I2H_B), 0);
    live_linear(ctx, lv, a, h_prev, &pw->h2h, caption_param(m, CP_H2H_B), 1);
    if (!fc) {
        /* a2c(Σ alpha·att) = Σ alpha·P + bias: attention averages P [img, K, 2R] directly. */
        const vtag_attention_weights aw = {caption_param(m, CP_H2ATT_W),
                                           caption_param(m, CP_H2ATT_B),
                                           caption_param(m, CP_ALPHA_W),
                                           caption_param(m, CP_ALPHA_B)};
        const vtag_attention_dims dims = {B, tp->images.k, 2 * R, R, c->att_hid_size, sq->rep};
        float *ao = tp->a2c_out;
        if ((rc = vtag_attention_forward(ctx, ao, &f->att_cache[s], h_prev, f->a2c_p, f->p_att, &aw, dims, err)))
            return rc;
        const float *bias = caption_param(m, CP_A2C_B);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < 2 * R; j++) a[b * G + 3 * R + j] += ao[b * 2 * R + j] + bias[j];
    }
    vtag_maxout_lstm_forward(f->hs + (s + 1) * B * R, f->cs + (s + 1) * B * R, f->cache + s * B * G, a,
                             f->cs + s * B * R, B, R, ctx->threads);
    vtag_dropout_forward(tp->out + t * B * R, f->drop + t * B * R, f->hs + (s + 1) * B * R, B * R, c->drop_prob_lm,
                         train, &ctx->rng, ctx->threads);
    return VTAG_OK;
}

/* One step of topdown for all rows (the loop body of xe.c's topdown_forward,
 * with the input embedding of this step only). */
static int topdown_step(vtag_ctx *ctx, const vtag_model *m, vtag_scst_tape *tp, const live_rows *lv,
                        const step_weights *pw, int64_t t, int train, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const caption_seqs *sq = &tp->sq;
    caption_fwd *f = &tp->f;
    const int64_t B = sq->B, E = c->input_encoding_size, R = c->rnn_size, W1 = 2 * R + E, W2 = 2 * R;
    const float p = c->drop_prob_lm;
    float *xp = f->x_pre + t * B * E, *x = f->x + t * B * E;
    int rc = vtag_embedding_forward(xp, sq->in + t * B, caption_param(m, CP_EMBED), B, c->vocab_size + 1, E, err);
    if (rc) return rc;
    vtag_relu_forward(xp, xp, B * E, ctx->threads);
    vtag_dropout_forward(x, f->x_mask + t * B * E, xp, B * E, p, train, &ctx->rng, ctx->threads);
    const float *h1p = f->hs + t * B * R, *h2p = f->h2s + t * B * R;
    float *h1 = f->hs + (t + 1) * B * R, *h2 = f->h2s + (t + 1) * B * R;
    float *ai = f->att_in + t * B * W1, *li = f->lang_in + t * B * W2;
    float *g1 = f->a + t * B * 4 * R, *g2 = f->a2 + t * B * 4 * R;
    const float *ins1[3] = {h2p, tp->fce_rows, x};
    const int64_t d1[3] = {R, R, E}, d2[2] = {R, R};
    vtag_concat_forward(ai, ins1, d1, 3, B); /* kept for weight_ih's gradient */
    /* gates = g_fce (per image) + h2_prev · W_ih[:, 0:R]^T + x · W_ih[:, 2R:]^T + h1_prev · W_hh^T + b_hh */
    for (int64_t b = 0; b < B; b++) memcpy(g1 + b * 4 * R, tp->g_fce + b / sq->rep * 4 * R, (size_t)(4 * R) * sizeof(float));
    live_gemm(ctx, lv, h2p, R, &pw->ih1h, g1, 4 * R);
    live_gemm(ctx, lv, x, E, &pw->ih1x, g1, 4 * R);
    live_linear(ctx, lv, g1, h1p, &pw->hh1, caption_param(m, CP_ATT_LSTM_B_HH), 1);
    vtag_lstm_forward(h1, f->cs + (t + 1) * B * R, f->cache + t * B * 5 * R, g1, f->cs + t * B * R, B, R, ctx->threads);
    const vtag_attention_weights aw = {caption_param(m, CP_H2ATT_W),
                                       caption_param(m, CP_H2ATT_B),
                                       caption_param(m, CP_ALPHA_W),
                                       caption_param(m, CP_ALPHA_B)};
    const vtag_attention_dims dims = {B, tp->images.k, R, R, c->att_hid_size, sq->rep};
    float *cx = f->ctxs + t * B * R;
    if ((rc = vtag_attention_forward(ctx, cx, &f->att_cache[t], h1, f->ate, f->p_att, &aw, dims, err))) return rc;
    const float *ins2[2] = {cx, h1};
    vtag_concat_forward(li, ins2, d2, 2, B);
    live_linear(ctx, lv, g2, li, &pw->ih2, caption_param(m, CP_LANG_LSTM_B_IH), 0);
    live_linear(ctx, lv, g2, h2p, &pw->hh2, caption_param(m, CP_LANG_LSTM_B_HH), 1);
    vtag_lstm_forward(h2, f->c2s + (t + 1) * B * R, f->cache2 + t * B * 5 * R, g2, f->c2s + t * B * R, B, R,
                      ctx->threads);
    vtag_dropout_forward(tp->out + t * B * R, f->drop + t * B * R, h2, B * R, p, train, &ctx->rng, ctx->threads);
    return VTAG_OK;
}

int caption_scst_sample(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *images, int64_t n, int train,
                        const int32_t *forced, int every_row, vtag_scst_tape **tape, int32_t *seq, int32_t *len,
                        vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    *tape = NULL;
    if (images->b < 1 || n < 1) return vtag_fail(err, VTAG_ERR_ARG, "SCST: no images or no samples");
    if (c->type != VTAG_MODEL_ATT2IN && !images->fc)
        return vtag_fail(err, VTAG_ERR_ARG, "caption: model %s needs fc features", vtag_model_type_name(c->type));
    if (c->type != VTAG_MODEL_FC && (!images->att || images->k < 1))
        return vtag_fail(err, VTAG_ERR_ARG, "caption: model %s needs att features", vtag_model_type_name(c->type));
    const int64_t NI = images->b, B = NI * n, L = c->max_length, V1 = c->vocab_size + 1;
    if (forced)
        for (int64_t i = 0; i < B * L; i++)
            if (forced[i] < 0 || forced[i] >= V1)
                return vtag_fail(err, VTAG_ERR_ARG, "SCST: row %lld has label id %d outside [1, %lld]", (long long)(i / L),
                                 forced[i], (long long)(V1 - 1));
    vtag_scst_tape *tp = vtag_arena_alloc(&ctx->arena, sizeof *tp);
    unsigned char *done = vtag_arena_alloc(&ctx->arena, (size_t)B);
    float *row = NEW(V1), *p = NEW(V1);
    const int64_t E = c->input_encoding_size, R = c->rnn_size;
    const int64_t max_in = E > 2 * R ? E : 2 * R, max_out = V1 > 5 * R ? V1 : 5 * R;
    live_rows lv = {B, B, vtag_arena_alloc(&ctx->arena, (size_t)B * sizeof(int64_t)), NEW(B * max_in), NEW(B * max_out)};
    if (!tp || !done || !row || !p || !lv.idx || !lv.in || !lv.out) return oom(err);
    for (int64_t b = 0; b < B; b++) lv.idx[b] = b;
    memset(tp, 0, sizeof *tp);
    memset(done, 0, (size_t)B);
    tp->images = *images;
    tp->images.labels = NULL;
    if (c->type == VTAG_MODEL_FC) tp->images.k = 0;
    tp->sq.B = B;
    tp->sq.rep = n;
    int rc = alloc_tape(ctx, m, tp, NI, B, err);
    if (!rc) rc = prepare(ctx, m, tp, NI, n, train, err);
    if (rc) return rc;
    step_weights pw;
    if (pack_step_weights(ctx, m, &pw)) return oom(err);
    memset(seq, 0, (size_t)(B * L) * sizeof(int32_t));
    if (len) memset(len, 0, (size_t)B * sizeof(int32_t));
    caption_seqs *sq = &tp->sq;
    const float *lb = caption_param(m, CP_LOGIT_B);
    int64_t T = 0;
    for (int64_t t = 0; t <= L; t++) {
        rc = c->type == VTAG_MODEL_TOPDOWN ? topdown_step(ctx, m, tp, &lv, &pw, t, train, err)
                                           : maxout_step(ctx, m, tp, &lv, &pw, t, train, err);
        if (rc) return rc;
        float *lp = tp->lp + t * B * V1;
        live_linear(ctx, &lv, lp, tp->out + t * B * R, &pw.logit, lb, 0);
        vtag_logsoftmax_forward(lp, lp, B, V1, ctx->threads);
        T = t + 1;
        int all_done = 1;
        for (int64_t b = 0; b < B; b++) {
            if (done[b]) continue;
            int32_t pick;
            if (forced) {
                pick = t < L ? forced[b * L + t] : 0;
            } else {
                /* As vtag_model_decode samples: no label twice, only EOS after L labels. */
                memcpy(row, lp + b * V1, (size_t)V1 * sizeof(float));
                for (int64_t j = 0; j < t; j++) row[seq[b * L + j]] = -INFINITY;
                if (t == L)
                    for (int64_t v = 1; v < V1; v++) row[v] = -INFINITY;
                pick = caption_pick(row, p, V1, 1, 1.0f, &ctx->rng);
                if (pick < 0) return caption_nan_probs(err);
            }
            sq->mask[t * B + b] = 1.0f;
            sq->target[t * B + b] = pick;
            if (pick == 0) {
                done[b] = 1;
                continue;
            }
            seq[b * L + t] = pick;
            if (len) len[b] = (int32_t)(t + 1);
            if (t < L) sq->in[(t + 1) * B + b] = pick;
            all_done = 0;
        }
        if (all_done) break;
        int64_t live = 0;
        for (int64_t b = 0; b < B; b++) live += !done[b];
        if (every_row || !compact_worth(B - live, B)) continue;
        lv.n = 0;
        for (int64_t b = 0; b < B; b++)
            if (!done[b]) lv.idx[lv.n++] = b;
    }
    sq->T = T;
    *tape = tp;
    return VTAG_OK;
}

int vtag_scst_sample(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *images, int64_t n, int train,
                     const int32_t *forced, vtag_scst_tape **tape, int32_t *seq, int32_t *len, vtag_error *err)
{
    return caption_scst_sample(ctx, m, images, n, train, forced, 0, tape, seq, len, err);
}

int64_t caption_tape_tokens(const vtag_scst_tape *tape)
{
    int64_t n = 0;
    for (int64_t i = 0; i < tape->sq.T * tape->sq.B; i++) n += tape->sq.mask[i] != 0.0f;
    return n;
}

/* caption_loss_backward with the logit layer's backward on the weighted
 * (position, row) pairs only: a finished row's positions after its EOS, and
 * a sample whose advantage is 0, have zero gradient (once a quarter of the
 * pairs is skipped: a moved pair costs about an eighth of a skipped one). */
int caption_scst_backward(vtag_ctx *ctx, vtag_model *m, const vtag_scst_tape *tape, const float *adv, int every_row,
                          double *loss, vtag_error *err)
{
    const caption_seqs *sq = &tape->sq;
    const int64_t B = sq->B, T = sq->T, R = m->cfg.rnn_size, V1 = m->cfg.vocab_size + 1;
    if (every_row)
        return caption_loss_backward(ctx, m, &tape->images, sq, &tape->f, tape->out, tape->lp, adv, 1, loss, err);
    int64_t *pos = vtag_arena_alloc(&ctx->arena, (size_t)(T * B) * sizeof(int64_t)); /* [M] index t·B + b */
    float *w = NEW(T * B);
    if (!pos || !w) return oom(err);
    /* loss = −Σ adv_b · mask · log p(target) / Σ mask, as caption_loss_backward */
    double msum = 0, l = 0;
    int64_t M = 0;
    for (int64_t i = 0; i < T * B; i++) {
        const float wi = sq->mask[i] * (adv ? adv[i % B] : 1.0f);
        msum += sq->mask[i];
        if (wi != 0.0f) {
            l -= (double)wi * tape->lp[i * V1 + sq->target[i]];
            w[M] = wi, pos[M++] = i;
        }
    }
    *loss = msum > 0 ? l / msum : 0.0;
    if (msum <= 0 || M == 0) return VTAG_OK;
    if (!compact_worth(T * B - M, T * B))
        return caption_loss_backward(ctx, m, &tape->images, sq, &tape->f, tape->out, tape->lp, adv, 1, loss, err);
    int32_t *target = vtag_arena_alloc(&ctx->arena, (size_t)M * sizeof(int32_t));
    float *lp = NEW(M * V1), *out = NEW(M * R), *dlogits = ZEROS(M * V1), *dout_m = ZEROS(M * R);
    float *dout = ZEROS(T * B * R);
    if (!target || !lp || !out || !dlogits || !dout_m || !dout) return oom(err);
    for (int64_t j = 0; j < M; j++) {
        target[j] = sq->target[pos[j]];
        memcpy(lp + j * V1, tape->lp + pos[j] * V1, (size_t)V1 * sizeof(float));
        memcpy(out + j * R, tape->out + pos[j] * R, (size_t)R * sizeof(float));
    }
    vtag_logsoftmax_wnll_backward(dlogits, 1.0 / msum, lp, target, w, M, V1, ctx->threads);
    vtag_linear_backward(ctx, dout_m, caption_grad(m, CP_LOGIT_W), caption_grad(m, CP_LOGIT_B), dlogits, out,
                         caption_param(m, CP_LOGIT_W), M, R, V1);
    for (int64_t j = 0; j < M; j++) memcpy(dout + pos[j] * R, dout_m + j * R, (size_t)R * sizeof(float));
    return caption_model_backward(ctx, m, &tape->images, sq, &tape->f, dout, err);
}

int vtag_scst_backward(vtag_ctx *ctx, vtag_model *m, const vtag_scst_tape *tape, const float *adv, double *loss,
                       vtag_error *err)
{
    return caption_scst_backward(ctx, m, tape, adv, 0, loss, err);
}

/* Decoding one step at a time: greedy, sampling and beam search, with the
 * rule that a label is never emitted twice in one caption (SPEC §4). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption_internal.h"

/* The per-step weights packed once per decode (caption_pack): a BLAS call would repack
 * the whole weight for every few-row product. fc / att2in: i2h, h2h, a2c; topdown:
 * att_lstm's weight_ih whole (ih1), or only its h2 columns (ih1h) when the gates' other
 * inputs are precomputed (g_fce), weight_hh, lang_lstm's weight_ih and weight_hh; all: the logits. */
typedef struct decode_weights {
    vtag_packed_b i2h, h2h, a2c;
    vtag_packed_b ih1, ih1h, hh1, ih2, hh2;
    vtag_packed_b logit;
} decode_weights;

/* Recurrent state and per-row image data of n rows (B images × beams). */
typedef struct dstate {
    int64_t n;
    float *h, *c;      /* [n, R] (topdown: att_lstm) */
    float *h2, *c2;    /* [n, R] topdown lang_lstm */
    const float *att;  /* [n, K, D] att2in: raw att; topdown: embedded att */
    float *p_att;      /* [n, K, A] */
    float *fce;        /* [n, R] topdown */
    /* topdown, without dropout (label scores): att_lstm's gates from its two inputs that do not
     * depend on the state, precomputed; NULL: the gates are one GEMM over [h2 | fce | x]. */
    float *g_fce;      /* [n, 4R] fce · W_ih[:, R:2R]^T + b_ih */
    float *g_tok;      /* [V+1, 4R] relu(embed[v]) · W_ih[:, 2R:]^T */
    const decode_weights *pw; /* NULL: the products call vtag_linear_forward (one step) */
} dstate;

/* Repeats each of the b rows of x [b, w] `rep` times into a new arena array. */
static float *repeat_rows(vtag_arena *ar, const float *x, int64_t b, int64_t w, int64_t rep)
{
    float *y = vtag_arena_floats(ar, b * rep * w);
    if (!y) return NULL;
    for (int64_t i = 0; i < b; i++)
        for (int64_t r = 0; r < rep; r++) memcpy(y + (i * rep + r) * w, x + i * w, (size_t)w * sizeof(float));
    return y;
}

static int oom(vtag_error *err) { return vtag_fail(err, VTAG_ERR_NOMEM, "caption: out of memory"); }

/* Per-image work done once (embeddings, ctx2att), expanded to `rep` rows per
 * image; for fc, the image step from the zero state. */
static int prepare(vtag_ctx *ctx, const vtag_model *m, const vtag_batch *bt, int64_t rep, int train, dstate *st,
                   vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t B = bt->b, n = B * rep, R = c->rnn_size, K = bt->k, A = c->att_hid_size, E = c->input_encoding_size;
    vtag_arena *ar = &ctx->arena;
    memset(st, 0, sizeof *st);
    st->n = n;
    st->h = vtag_arena_zeros(ar, n * R);
    st->c = vtag_arena_zeros(ar, n * R);
    if (!st->h || !st->c) return oom(err);
    if (c->type == VTAG_MODEL_FC) {
        float *x0 = vtag_arena_floats(ar, B * E), *a = vtag_arena_floats(ar, B * 5 * R);
        float *cache = vtag_arena_floats(ar, B * 5 * R), *h = vtag_arena_floats(ar, B * R), *cc = vtag_arena_floats(ar, B * R);
        float *zero = vtag_arena_zeros(ar, B * R);
        if (!x0 || !a || !cache || !h || !cc || !zero) return oom(err);
        vtag_linear_forward(ctx, x0, bt->fc, caption_param(m, CP_IMG_EMBED_W), caption_param(m, CP_IMG_EMBED_B), B,
                            c->fc_feat_size, E, 0);
        vtag_linear_forward(ctx, a, x0, caption_param(m, CP_I2H_W), caption_param(m, CP_I2H_B), B, E,
                            5 * R, 0);
        vtag_linear_forward(ctx, a, zero, caption_param(m, CP_H2H_W), caption_param(m, CP_H2H_B), B, R,
                            5 * R, 1);
        vtag_maxout_lstm_forward(h, cc, cache, a, zero, B, R, ctx->threads);
        float *hr = repeat_rows(ar, h, B, R, rep), *cr = repeat_rows(ar, cc, B, R, rep);
        if (!hr || !cr) return oom(err);
        st->h = hr, st->c = cr;
        return VTAG_OK;
    }
    const int64_t D = c->type == VTAG_MODEL_ATT2IN ? c->att_feat_size : R;
    float *att = (float *)bt->att;
    if (c->type == VTAG_MODEL_TOPDOWN) {
        st->h2 = vtag_arena_zeros(ar, n * R);
        st->c2 = vtag_arena_zeros(ar, n * R);
        float *fce = vtag_arena_floats(ar, B * R), *ate = vtag_arena_floats(ar, B * K * R);
        if (!st->h2 || !st->c2 || !fce || !ate) return oom(err);
        vtag_linear_forward(ctx, fce, bt->fc, caption_param(m, CP_FC_EMBED_W), caption_param(m, CP_FC_EMBED_B), B,
                            c->fc_feat_size, R, 0);
        vtag_relu_forward(fce, fce, B * R, ctx->threads);
        vtag_linear_forward(ctx, ate, bt->att, caption_param(m, CP_ATT_EMBED_W),
                            caption_param(m, CP_ATT_EMBED_B), B * K, c->att_feat_size, R, 0);
        vtag_relu_forward(ate, ate, B * K * R, ctx->threads);
        if (train) {
            float *mask = vtag_arena_floats(ar, B * K * R);
            if (!mask) return oom(err);
            vtag_dropout_forward(fce, mask, fce, B * R, c->drop_prob_lm, 1, &ctx->rng, ctx->threads);
            vtag_dropout_forward(ate, mask, ate, B * K * R, c->drop_prob_lm, 1, &ctx->rng, ctx->threads);
        }
        st->fce = repeat_rows(ar, fce, B, R, rep);
        if (!st->fce) return oom(err);
        att = ate;
    }
    float *p_att = vtag_arena_floats(ar, B * K * A);
    if (!p_att) return oom(err);
    vtag_linear_forward(ctx, p_att, att, caption_param(m, CP_CTX2ATT_W), caption_param(m, CP_CTX2ATT_B), B * K, D, A,
                        0);
    st->att = rep == 1 ? att : repeat_rows(ar, att, B, K * D, rep);
    st->p_att = rep == 1 ? p_att : repeat_rows(ar, p_att, B, K * A, rep);
    if (!st->att || !st->p_att) return oom(err);
    return VTAG_OK;
}

/* Packs st's per-step weights (ctx's arena) when a decode runs `steps` ≥ 2 steps (a
 * single step packs nothing: its one product per weight reads the weight once either way).
 * Called after precompute_gates, whose g_fce decides which of att_lstm's columns step takes. */
static int pack_weights(vtag_ctx *ctx, const vtag_model *m, dstate *st, int64_t steps, vtag_error *err)
{
    st->pw = NULL;
    if (steps < 2) return VTAG_OK;
    const vtag_model_config *c = &m->cfg;
    const int64_t E = c->input_encoding_size, R = c->rnn_size, V1 = c->vocab_size + 1, W1 = 2 * R + E;
    decode_weights *pw = vtag_arena_alloc(&ctx->arena, sizeof *pw);
    if (!pw || caption_pack(ctx, &pw->logit, 1, R, V1, caption_param(m, CP_LOGIT_W), R)) return oom(err);
    int rc = VTAG_OK;
    if (c->type != VTAG_MODEL_TOPDOWN) {
        rc = caption_pack(ctx, &pw->i2h, 1, E, 5 * R, caption_param(m, CP_I2H_W), E) ||
             caption_pack(ctx, &pw->h2h, 1, R, 5 * R, caption_param(m, CP_H2H_W), R) ||
             (c->type == VTAG_MODEL_ATT2IN && caption_pack(ctx, &pw->a2c, 1, c->att_feat_size, 2 * R,
                                                           caption_param(m, CP_A2C_W), c->att_feat_size));
    } else {
        const float *wih1 = caption_param(m, CP_ATT_LSTM_W_IH);
        rc = (st->g_fce ? caption_pack(ctx, &pw->ih1h, 1, R, 4 * R, wih1, W1)
                        : caption_pack(ctx, &pw->ih1, 1, W1, 4 * R, wih1, W1)) ||
             caption_pack(ctx, &pw->hh1, 1, R, 4 * R, caption_param(m, CP_ATT_LSTM_W_HH), R) ||
             caption_pack(ctx, &pw->ih2, 1, 2 * R, 4 * R, caption_param(m, CP_LANG_LSTM_W_IH), 2 * R) ||
             caption_pack(ctx, &pw->hh2, 1, R, 4 * R, caption_param(m, CP_LANG_LSTM_W_HH), R);
    }
    if (rc) return oom(err);
    st->pw = pw;
    return VTAG_OK;
}

/* out[n, out_dim] (+)= in[n, in_dim] · W^T (+ b), on the packed W when there is one. */
static void step_linear(const vtag_ctx *ctx, float *out, const float *in, const vtag_packed_b *pw, const float *w,
                        const float *b, int64_t n, int64_t in_dim, int64_t out_dim, int accumulate)
{
    if (pw)
        caption_packed_linear(ctx, out, out_dim, in, in_dim, pw, b, n, accumulate);
    else
        vtag_linear_forward(ctx, out, in, w, b, n, in_dim, out_dim, accumulate);
}

/* One step for all rows: tokens[n] in, logprobs[n, V+1] out, state advanced.
 * Temporaries come from `scratch`, reset by the caller. */
static int step(vtag_ctx *ctx, vtag_arena *scratch, const vtag_model *m, int64_t k_pos, dstate *st,
                const int32_t *tokens, int train, float *logprobs, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t n = st->n, R = c->rnn_size, E = c->input_encoding_size, V1 = c->vocab_size + 1, A = c->att_hid_size;
    const decode_weights *pw = st->pw;
    vtag_ctx sctx = *ctx; /* same threads and backend; temporaries in scratch */
    sctx.arena = *scratch;
    float *x = vtag_arena_floats(&sctx.arena, n * E), *out = vtag_arena_floats(&sctx.arena, n * R);
    float *mask = vtag_arena_floats(&sctx.arena, n * (E > R ? E : R));
    float *hn = vtag_arena_floats(&sctx.arena, n * R), *cn = vtag_arena_floats(&sctx.arena, n * R);
    float *cache = vtag_arena_floats(&sctx.arena, n * 5 * R);
    int rc = VTAG_OK;
    if (!x || !out || !mask || !hn || !cn || !cache) {
        rc = oom(err);
        goto done;
    }
    if ((rc = vtag_embedding_forward(x, tokens, caption_param(m, CP_EMBED), n, V1, E, err))) goto done;
    if (c->type != VTAG_MODEL_TOPDOWN) {
        float *a = vtag_arena_floats(&sctx.arena, n * 5 * R);
        if (!a) {
            rc = oom(err);
            goto done;
        }
        step_linear(&sctx, a, x, pw ? &pw->i2h : NULL, caption_param(m, CP_I2H_W), caption_param(m, CP_I2H_B), n,
                    E, 5 * R, 0);
        step_linear(&sctx, a, st->h, pw ? &pw->h2h : NULL, caption_param(m, CP_H2H_W), caption_param(m, CP_H2H_B),
                    n, R, 5 * R, 1);
        if (c->type == VTAG_MODEL_ATT2IN) {
            const int64_t D = c->att_feat_size;
            float *cx = vtag_arena_floats(&sctx.arena, n * D);
            vtag_attention_cache ac;
            vtag_attention_weights aw = {caption_param(m, CP_H2ATT_W),
                                         caption_param(m, CP_H2ATT_B),
                                         caption_param(m, CP_ALPHA_W),
                                         caption_param(m, CP_ALPHA_B)};
            vtag_attention_dims dims = {n, k_pos, D, R, A, 1};
            if (!cx) {
                rc = oom(err);
                goto done;
            }
            if ((rc = vtag_attention_forward(&sctx, cx, &ac, st->h, st->att, st->p_att, &aw, dims, err))) goto done;
            if (pw)
                caption_packed_linear(&sctx, a + 3 * R, 5 * R, cx, D, &pw->a2c, caption_param(m, CP_A2C_B), n, 1);
            else
                caption_linear_slice(&sctx, a + 3 * R, 5 * R, cx, D, caption_param(m, CP_A2C_W),
                                     caption_param(m, CP_A2C_B), n, D, 2 * R);
        }
        vtag_maxout_lstm_forward(hn, cn, cache, a, st->c, n, R, ctx->threads);
        memcpy(st->h, hn, (size_t)(n * R) * sizeof(float));
        memcpy(st->c, cn, (size_t)(n * R) * sizeof(float));
        vtag_dropout_forward(out, mask, st->h, n * R, c->drop_prob_lm, train, &ctx->rng, ctx->threads);
    } else {
        vtag_relu_forward(x, x, n * E, ctx->threads);
        vtag_dropout_forward(x, mask, x, n * E, c->drop_prob_lm, train, &ctx->rng, ctx->threads);
        float *ai = vtag_arena_floats(&sctx.arena, n * (2 * R + E)), *g = vtag_arena_floats(&sctx.arena, n * 4 * R);
        float *li = vtag_arena_floats(&sctx.arena, n * 2 * R), *cx = vtag_arena_floats(&sctx.arena, n * R);
        if (!ai || !g || !li || !cx) {
            rc = oom(err);
            goto done;
        }
        const int64_t d1[3] = {R, R, E}, d2[2] = {R, R};
        if (st->g_fce) {
            /* gates = g_fce + g_tok[token] + h2 · W_ih[:, 0:R]^T: one third of the input GEMM */
            for (int64_t i = 0; i < n; i++) {
                const float *gf = st->g_fce + i * 4 * R, *gt = st->g_tok + (int64_t)tokens[i] * 4 * R;
                float *gi = g + i * 4 * R;
                for (int64_t j = 0; j < 4 * R; j++) gi[j] = gf[j] + gt[j];
            }
            if (pw)
                vtag_gemm_packed(&sctx, n, 1.0f, st->h2, R, &pw->ih1h, 1.0f, g, 4 * R);
            else
                vtag_gemm(&sctx, 0, 1, n, 4 * R, R, 1.0f, st->h2, R, caption_param(m, CP_ATT_LSTM_W_IH), 2 * R + E,
                          1.0f, g, 4 * R);
        } else {
            const float *ins1[3] = {st->h2, st->fce, x};
            vtag_concat_forward(ai, ins1, d1, 3, n);
            step_linear(&sctx, g, ai, pw ? &pw->ih1 : NULL, caption_param(m, CP_ATT_LSTM_W_IH),
                        caption_param(m, CP_ATT_LSTM_B_IH), n, 2 * R + E, 4 * R, 0);
        }
        step_linear(&sctx, g, st->h, pw ? &pw->hh1 : NULL, caption_param(m, CP_ATT_LSTM_W_HH),
                    caption_param(m, CP_ATT_LSTM_B_HH), n, R, 4 * R, 1);
        vtag_lstm_forward(hn, cn, cache, g, st->c, n, R, ctx->threads);
        memcpy(st->h, hn, (size_t)(n * R) * sizeof(float));
        memcpy(st->c, cn, (size_t)(n * R) * sizeof(float));
        vtag_attention_cache ac;
        vtag_attention_weights aw = {caption_param(m, CP_H2ATT_W),
                                     caption_param(m, CP_H2ATT_B),
                                     caption_param(m, CP_ALPHA_W),
                                     caption_param(m, CP_ALPHA_B)};
        vtag_attention_dims dims = {n, k_pos, R, R, A, 1};
        if ((rc = vtag_attention_forward(&sctx, cx, &ac, st->h, st->att, st->p_att, &aw, dims, err))) goto done;
        const float *ins2[2] = {cx, st->h};
        vtag_concat_forward(li, ins2, d2, 2, n);
        step_linear(&sctx, g, li, pw ? &pw->ih2 : NULL, caption_param(m, CP_LANG_LSTM_W_IH),
                    caption_param(m, CP_LANG_LSTM_B_IH), n, 2 * R, 4 * R, 0);
        step_linear(&sctx, g, st->h2, pw ? &pw->hh2 : NULL, caption_param(m, CP_LANG_LSTM_W_HH),
                    caption_param(m, CP_LANG_LSTM_B_HH), n, R, 4 * R, 1);
        vtag_lstm_forward(hn, cn, cache, g, st->c2, n, R, ctx->threads);
        memcpy(st->h2, hn, (size_t)(n * R) * sizeof(float));
        memcpy(st->c2, cn, (size_t)(n * R) * sizeof(float));
        vtag_dropout_forward(out, mask, st->h2, n * R, c->drop_prob_lm, train, &ctx->rng, ctx->threads);
    }
    step_linear(&sctx, logprobs, out, pw ? &pw->logit : NULL, caption_param(m, CP_LOGIT_W), caption_param(m, CP_LOGIT_B),
                n, R, V1, 0);
    vtag_logsoftmax_forward(logprobs, logprobs, n, V1, ctx->threads);
done:
    *scratch = sctx.arena; /* keep any blocks the scratch arena grew */
    return rc;
}

/* Gathers rows of a [n, w] array: y[i] = x[from[i]]. */
static void gather_rows(float *x, float *tmp, const int64_t *from, int64_t n, int64_t w)
{
    for (int64_t i = 0; i < n; i++) memcpy(tmp + i * w, x + from[i] * w, (size_t)w * sizeof(float));
    memcpy(x, tmp, (size_t)(n * w) * sizeof(float));
}

int32_t caption_pick(const float *row, float *p, int64_t V1, int sample, float temperature, vtag_rng *rng)
{
    int32_t pick = 0;
    if (sample) {
        float temp = temperature > 0 ? temperature : 1.0f, mx = -INFINITY;
        for (int64_t v = 0; v < V1; v++) mx = fmaxf(mx, row[v] / temp);
        double z = 0;
        for (int64_t v = 0; v < V1; v++) z += p[v] = expf(row[v] / temp - mx);
        double u = vtag_rng_uniform(rng) * z, acc = 0;
        pick = -1;
        for (int64_t v = 0; v < V1 && pick < 0; v++) {
            acc += p[v];
            if (u < acc && p[v] > 0) pick = (int32_t)v;
        }
        if (pick < 0) /* rounding at the top end: the last possible token */
            for (int64_t v = V1 - 1; v >= 0 && pick < 0; v--)
                if (p[v] > 0) pick = (int32_t)v;
    } else {
        for (int64_t v = 1; v < V1; v++)
            if (row[v] > row[pick]) pick = (int32_t)v;
    }
    return pick;
}

int caption_nan_probs(vtag_error *err)
{
    return vtag_fail(err, VTAG_ERR_DIVERGED, "the sampling probabilities are nan (diverged)");
}

/* Greedy or sampling: one caption per row. */
static int decode_simple(vtag_ctx *ctx, vtag_arena *scratch, vtag_model *m, const vtag_batch *bt,
                         const vtag_decode_opts *o, int32_t *seq, float *seq_lp, int32_t *len, vtag_error *err)
{
    const int64_t B = bt->b, L = m->cfg.max_length, V1 = m->cfg.vocab_size + 1;
    dstate st;
    int rc = prepare(ctx, m, bt, 1, o->train, &st, err);
    if (!rc) rc = pack_weights(ctx, m, &st, L + 1, err);
    if (rc) return rc;
    int32_t *tok = vtag_arena_alloc(&ctx->arena, (size_t)B * sizeof(int32_t));
    unsigned char *done = vtag_arena_alloc(&ctx->arena, (size_t)B);
    float *lp = vtag_arena_floats(&ctx->arena, B * V1), *p = vtag_arena_floats(&ctx->arena, V1);
    if (!tok || !done || !lp || !p) return oom(err);
    memset(tok, 0, (size_t)B * sizeof(int32_t));
    memset(done, 0, (size_t)B);
    memset(seq, 0, (size_t)(B * L) * sizeof(int32_t));
    if (seq_lp) memset(seq_lp, 0, (size_t)(B * (L + 1)) * sizeof(float));
    for (int64_t b = 0; b < B; b++)
        if (len) len[b] = 0;
    for (int64_t t = 0; t <= L; t++) {
        vtag_arena_reset(scratch);
        if ((rc = step(ctx, scratch, m, bt->k, &st, tok, o->train, lp, err))) return rc;
        int all_done = 1;
        for (int64_t b = 0; b < B; b++) {
            if (done[b]) continue;
            float *row = lp + b * V1;
            /* No label twice; after L labels only EOS remains. */
            for (int64_t j = 0; j < t; j++) row[seq[b * L + j]] = -INFINITY;
            if (t == L)
                for (int64_t v = 1; v < V1; v++) row[v] = -INFINITY;
            int32_t pick = caption_pick(row, p, V1, o->mode == VTAG_DECODE_SAMPLE, o->temperature, &ctx->rng);
            if (pick < 0) return caption_nan_probs(err);
            if (seq_lp) seq_lp[b * (L + 1) + t] = row[pick];
            if (pick == 0) {
                done[b] = 1;
            } else {
                seq[b * L + t] = pick;
                if (len) len[b] = (int32_t)(t + 1);
                all_done = 0;
            }
            tok[b] = pick;
        }
        if (all_done) break;
    }
    return VTAG_OK;
}

typedef struct cand {
    double score;
    int64_t beam; /* index within the image's beams */
    int32_t token;
} cand;

/* Keeps the k best candidates in c[0..k) sorted by score (ties: earlier beam, lower token). */
static void push_cand(cand *c, int *count, int k, cand x)
{
    int i = *count < k ? (*count)++ : k;
    if (i == k) {
        cand *last = &c[k - 1];
        if (!(x.score > last->score)) return;
        i = k - 1;
    }
    while (i > 0 && x.score > c[i - 1].score) {
        c[i] = c[i - 1];
        i--;
    }
    c[i] = x;
}

static int decode_beam(vtag_ctx *ctx, vtag_arena *scratch, vtag_model *m, const vtag_batch *bt, int k, int32_t *seq,
                       float *seq_lp, int32_t *len, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t B = bt->b, L = c->max_length, V1 = c->vocab_size + 1, R = c->rnn_size, n = B * k;
    dstate st;
    int rc = prepare(ctx, m, bt, k, 0, &st, err);
    if (!rc) rc = pack_weights(ctx, m, &st, L + 1, err);
    if (rc) return rc;
    vtag_arena *ar = &ctx->arena;
    int32_t *tok = vtag_arena_alloc(ar, (size_t)n * sizeof(int32_t));
    int32_t *bseq = vtag_arena_alloc(ar, (size_t)(n * L) * sizeof(int32_t)), *nseq = vtag_arena_alloc(ar, (size_t)(n * L) * sizeof(int32_t));
    float *blp = vtag_arena_zeros(ar, n * (L + 1)), *nlp = vtag_arena_floats(ar, n * (L + 1));
    double *score = vtag_arena_alloc(ar, (size_t)n * sizeof(double)), *nscore = vtag_arena_alloc(ar, (size_t)n * sizeof(double));
    int32_t *blen = vtag_arena_alloc(ar, (size_t)n * sizeof(int32_t)), *nlen = vtag_arena_alloc(ar, (size_t)n * sizeof(int32_t));
    unsigned char *bdone = vtag_arena_alloc(ar, (size_t)n), *ndone = vtag_arena_alloc(ar, (size_t)n);
    int64_t *from = vtag_arena_alloc(ar, (size_t)n * sizeof(int64_t));
    float *lp = vtag_arena_floats(ar, n * V1), *tmp = vtag_arena_floats(ar, n * R);
    cand *cs = vtag_arena_alloc(ar, (size_t)k * sizeof(cand));
    if (!tok || !bseq || !nseq || !blp || !nlp || !score || !nscore || !blen || !nlen || !bdone || !ndone || !from || !lp ||
        !tmp || !cs)
        return oom(err);
    memset(tok, 0, (size_t)n * sizeof(int32_t));
    memset(bseq, 0, (size_t)(n * L) * sizeof(int32_t));
    memset(blen, 0, (size_t)n * sizeof(int32_t));
    memset(bdone, 0, (size_t)n);
    /* Only the first beam of each image is alive at the start. */
    for (int64_t i = 0; i < n; i++) score[i] = i % k == 0 ? 0.0 : -INFINITY;
    for (int64_t t = 0; t <= L; t++) {
        vtag_arena_reset(scratch);
        if ((rc = step(ctx, scratch, m, bt->k, &st, tok, 0, lp, err))) return rc;
        int any_open = 0;
        for (int64_t b = 0; b < B; b++) {
            int count = 0;
            for (int64_t j = 0; j < k; j++) {
                int64_t r = b * k + j;
                if (score[r] == -INFINITY) continue;
                if (bdone[r]) {
                    push_cand(cs, &count, k, (cand){score[r], j, -1});
                    continue;
                }
                float *row = lp + r * V1;
                for (int64_t q = 0; q < blen[r]; q++) row[bseq[r * L + q]] = -INFINITY;
                int64_t vmax = t == L ? 1 : V1;
                for (int64_t v = 0; v < vmax; v++)
                    if (row[v] > -INFINITY) push_cand(cs, &count, k, (cand){score[r] + row[v], j, (int32_t)v});
            }
            for (int64_t j = 0; j < k; j++) {
                int64_t r = b * k + j;
                if (j >= count) { /* fewer candidates than beams: a dead beam */
                    nscore[r] = -INFINITY;
                    ndone[r] = 1;
                    nlen[r] = 0;
                    from[r] = b * k;
                    memset(nseq + r * L, 0, (size_t)L * sizeof(int32_t));
                    memset(nlp + r * (L + 1), 0, (size_t)(L + 1) * sizeof(float));
                    tok[r] = 0;
                    continue;
                }
                const cand *x = &cs[j];
                int64_t p = b * k + x->beam;
                from[r] = p;
                memcpy(nseq + r * L, bseq + p * L, (size_t)L * sizeof(int32_t));
                memcpy(nlp + r * (L + 1), blp + p * (L + 1), (size_t)(L + 1) * sizeof(float));
                nscore[r] = x->score;
                nlen[r] = blen[p];
                ndone[r] = bdone[p];
                tok[r] = 0;
                if (x->token >= 0) {
                    nlp[r * (L + 1) + t] = (float)(x->score - score[p]);
                    if (x->token == 0) {
                        ndone[r] = 1;
                    } else {
                        nseq[r * L + t] = x->token;
                        nlen[r] = (int32_t)(t + 1);
                        tok[r] = x->token;
                        any_open = 1;
                    }
                }
            }
        }
        int32_t *ti;
        float *tf;
        double *td;
        unsigned char *tu;
        ti = bseq, bseq = nseq, nseq = ti;
        tf = blp, blp = nlp, nlp = tf;
        td = score, score = nscore, nscore = td;
        ti = blen, blen = nlen, nlen = ti;
        tu = bdone, bdone = ndone, ndone = tu;
        gather_rows(st.h, tmp, from, n, R);
        gather_rows(st.c, tmp, from, n, R);
        if (st.h2) {
            gather_rows(st.h2, tmp, from, n, R);
            gather_rows(st.c2, tmp, from, n, R);
        }
        if (!any_open) break;
    }
    /* Beams are kept sorted: the first of each image is its best. */
    for (int64_t b = 0; b < B; b++) {
        int64_t r = b * k;
        memcpy(seq + b * L, bseq + r * L, (size_t)L * sizeof(int32_t));
        if (seq_lp) memcpy(seq_lp + b * (L + 1), blp + r * (L + 1), (size_t)(L + 1) * sizeof(float));
        if (len) len[b] = blen[r];
    }
    return VTAG_OK;
}

int vtag_model_decode(vtag_ctx *ctx, vtag_model *m, const vtag_batch *bt, const vtag_decode_opts *opts, int32_t *seq,
                      float *seq_logprobs, int32_t *len, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    if (bt->b < 1) return vtag_fail(err, VTAG_ERR_ARG, "caption: empty batch");
    if (c->type != VTAG_MODEL_ATT2IN && !bt->fc)
        return vtag_fail(err, VTAG_ERR_ARG, "caption: model %s needs fc features", vtag_model_type_name(c->type));
    if (c->type != VTAG_MODEL_FC && (!bt->att || bt->k < 1))
        return vtag_fail(err, VTAG_ERR_ARG, "caption: model %s needs att features", vtag_model_type_name(c->type));
    if (opts->mode == VTAG_DECODE_BEAM && (opts->beam_size < 1 || opts->beam_size > 64))
        return vtag_fail(err, VTAG_ERR_ARG, "caption: beam size %d is outside [1, 64]", opts->beam_size);
    vtag_arena scratch;
    int rc = vtag_arena_init(&scratch, (size_t)1 << 20, err);
    if (rc) return rc;
    if (opts->mode != VTAG_DECODE_BEAM) {
        rc = decode_simple(ctx, &scratch, m, bt, opts, seq, seq_logprobs, len, err);
        vtag_arena_free(&scratch);
        return rc;
    }
    const int64_t B = bt->b, L = c->max_length;
    float *blp = seq_logprobs ? seq_logprobs : malloc((size_t)(B * (L + 1)) * sizeof(float));
    rc = blp ? decode_beam(ctx, &scratch, m, bt, opts->beam_size, seq, blp, len, err) : oom(err);
    /* Beam search can prune the greedy path; the result is the better of the
     * best beam and the greedy caption, so it is never worse than greedy. */
    int32_t *gseq = NULL, *glen = NULL;
    float *glp = NULL;
    if (!rc && opts->beam_size > 1) {
        gseq = malloc((size_t)(B * L) * sizeof(int32_t));
        glen = malloc((size_t)B * sizeof(int32_t));
        glp = malloc((size_t)(B * (L + 1)) * sizeof(float));
        vtag_decode_opts g = {VTAG_DECODE_GREEDY, 1, 1.0f, 0};
        rc = gseq && glen && glp ? decode_simple(ctx, &scratch, m, bt, &g, gseq, glp, glen, err) : oom(err);
        for (int64_t b = 0; !rc && b < B; b++) {
            double sb = 0, sg = 0;
            for (int64_t t = 0; t <= L; t++) sb += blp[b * (L + 1) + t], sg += glp[b * (L + 1) + t];
            if (sg > sb) {
                memcpy(seq + b * L, gseq + b * L, (size_t)L * sizeof(int32_t));
                memcpy(blp + b * (L + 1), glp + b * (L + 1), (size_t)(L + 1) * sizeof(float));
                if (len) len[b] = glen[b];
            }
        }
    }
    if (!seq_logprobs) free(blp);
    free(gseq);
    free(glen);
    free(glp);
    vtag_arena_free(&scratch);
    return rc;
}

/* Moves rows keep[0..m) of x [*, w] to rows 0..m, in order: keep ascends, so
 * a row only moves down, onto a row already read. */
static void compact_rows(float *x, const int64_t *keep, int64_t m, int64_t w)
{
    for (int64_t i = 0; i < m; i++)
        if (keep[i] != i) memcpy(x + i * w, x + keep[i] * w, (size_t)w * sizeof(float));
}

/* dstate's g_fce and g_tok for topdown without dropout: the part of att_lstm's input GEMM that
 * does not depend on the state, once per image and once per token instead of once per row and
 * step. st->fce holds each image's fc_emb on rep consecutive rows. */
static int precompute_gates(vtag_ctx *ctx, const vtag_model *m, int64_t B, int64_t rep, dstate *st, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t R = c->rnn_size, E = c->input_encoding_size, V1 = c->vocab_size + 1, W1 = 2 * R + E;
    const float *wih = caption_param(m, CP_ATT_LSTM_W_IH), *bih = caption_param(m, CP_ATT_LSTM_B_IH);
    vtag_arena *ar = &ctx->arena;
    float *g_img = vtag_arena_floats(ar, B * 4 * R), *x = vtag_arena_floats(ar, V1 * E);
    st->g_tok = vtag_arena_floats(ar, V1 * 4 * R);
    if (!g_img || !x || !st->g_tok) return oom(err);
    for (int64_t i = 0; i < B; i++) memcpy(g_img + i * 4 * R, bih, (size_t)(4 * R) * sizeof(float));
    vtag_gemm(ctx, 0, 1, B, 4 * R, R, 1.0f, st->fce, rep * R, wih + R, W1, 1.0f, g_img, 4 * R);
    st->g_fce = repeat_rows(ar, g_img, B, 4 * R, rep);
    if (!st->g_fce) return oom(err);
    vtag_relu_forward(x, caption_param(m, CP_EMBED), V1 * E, ctx->threads);
    vtag_gemm(ctx, 0, 1, V1, 4 * R, E, 1.0f, x, E, wih + 2 * R, W1, 0.0f, st->g_tok, 4 * R);
    return VTAG_OK;
}

/* ---- per-label scores (vtag_caption_label_scores) ----------------------------------
 * P(v in caption) = E[ sum over steps t of 1{v not emitted before t, caption
 * still running} p_t(v | prefix) ]: the events "v emitted at step t" are
 * disjoint (no label twice) and each has probability p_t(v | prefix) given
 * the prefix. Averaging this sum over sampled captions is an unbiased
 * estimate with less variance than counting the samples holding v (a
 * Rao-Blackwellised count): the first step's class1 probabilities, for
 * example, enter exactly. */
/* Steps only the captions still running: after each step the finished rows
 * leave the state (compacted, order kept), so a step costs the live rows
 * alone. The rows draw from rng in the same order as when every row was
 * stepped, so the samples are the same (short of a draw within rounding of a
 * boundary); a row's values move in the last bits
 * only (OpenBLAS rounds a row by its place in a micro-tile, and topdown's
 * gates are summed in three parts), within 1e-6 of the scores before. */
static int label_probs(vtag_ctx *ctx, vtag_arena *scratch, const vtag_model *m, const vtag_batch *bt, int64_t rep,
                       vtag_rng *rng, double *acc, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t B = bt->b, L = c->max_length, V1 = c->vocab_size + 1, n = B * rep, R = c->rnn_size;
    const int64_t K = bt->k, A = c->att_hid_size, D = c->type == VTAG_MODEL_ATT2IN ? c->att_feat_size : R;
    dstate st;
    int rc = prepare(ctx, m, bt, rep, 0, &st, err);
    if (rc) return rc;
    /* The per-row image arrays are compacted too: with one row per image
     * prepare leaves att2in's pointing at the caller's features, so copy. */
    float *att = NULL;
    if (st.att) {
        att = st.att == bt->att ? repeat_rows(&ctx->arena, st.att, n, K * D, 1) : (float *)st.att;
        if (!att) return oom(err);
        st.att = att;
    }
    /* The token table costs V+1 rows of the GEMM it saves on every live row and step. */
    if (c->type == VTAG_MODEL_TOPDOWN && V1 <= n * (L + 1) / 2 && (rc = precompute_gates(ctx, m, B, rep, &st, err)))
        return rc;
    if ((rc = pack_weights(ctx, m, &st, L + 1, err))) return rc;
    int32_t *tok = vtag_arena_alloc(&ctx->arena, (size_t)n * sizeof(int32_t));
    int64_t *row_of = vtag_arena_alloc(&ctx->arena, (size_t)n * sizeof(int64_t)); /* live row → its row */
    int64_t *keep = vtag_arena_alloc(&ctx->arena, (size_t)n * sizeof(int64_t));
    unsigned char *emitted = vtag_arena_alloc(&ctx->arena, (size_t)(n * V1));
    float *lp = vtag_arena_floats(&ctx->arena, n * V1);
    double *p = vtag_arena_alloc(&ctx->arena, (size_t)V1 * sizeof(double));
    if (!tok || !row_of || !keep || !emitted || !lp || !p) return oom(err);
    memset(tok, 0, (size_t)n * sizeof(int32_t));
    memset(emitted, 0, (size_t)(n * V1));
    for (int64_t r = 0; r < n; r++) row_of[r] = r;
    int64_t live = n;
    for (int64_t t = 0; t <= L && live > 0; t++) {
        vtag_arena_reset(scratch);
        st.n = live;
        if ((rc = step(ctx, scratch, m, K, &st, tok, 0, lp, err))) return rc;
        int64_t kept = 0;
        for (int64_t i = 0; i < live; i++) {
            const int64_t r = row_of[i];
            const float *row = lp + i * V1;
            const unsigned char *em = emitted + r * V1;
            double mx = row[0], z = 0;
            const int64_t vmax = t == L ? 1 : V1; /* after L labels only EOS remains */
            for (int64_t v = 1; v < vmax; v++)
                if (!em[v] && row[v] > mx) mx = row[v];
            for (int64_t v = 0; v < V1; v++) z += p[v] = v < vmax && !em[v] ? exp((double)row[v] - mx) : 0.0;
            if (!(z > 0) || !isfinite(z)) return caption_nan_probs(err);
            double *a = acc + (r / rep) * V1;
            for (int64_t v = 1; v < vmax; v++) a[v] += p[v] / z;
            double u = (double)vtag_rng_uniform(rng) * z, cum = 0;
            int32_t pick = -1;
            for (int64_t v = 0; v < V1 && pick < 0; v++) {
                cum += p[v];
                if (u < cum && p[v] > 0) pick = (int32_t)v;
            }
            for (int64_t v = V1 - 1; v >= 0 && pick < 0; v--) /* rounding at the top end */
                if (p[v] > 0) pick = (int32_t)v;
            tok[i] = pick;
            if (pick != 0) {
                emitted[r * V1 + pick] = 1;
                keep[kept++] = i;
            }
        }
        if (kept < live && kept > 0) {
            float *per_row[5] = {st.h, st.c, st.h2, st.c2, st.fce};
            for (int j = 0; j < 5; j++)
                if (per_row[j]) compact_rows(per_row[j], keep, kept, R);
            if (att) compact_rows(att, keep, kept, K * D);
            if (st.p_att) compact_rows(st.p_att, keep, kept, K * A);
            if (st.g_fce) compact_rows(st.g_fce, keep, kept, 4 * R);
            for (int64_t i = 0; i < kept; i++) tok[i] = tok[keep[i]], row_of[i] = row_of[keep[i]];
        }
        live = kept;
    }
    return VTAG_OK;
}

int vtag_caption_label_scores(vtag_ctx *ctx, const vtag_model *m, const vtag_rows *rows, const int64_t *idx,
                              int64_t n, int64_t samples, uint64_t seed, double *scores, vtag_error *err)
{
    const vtag_model_config *c = &m->cfg;
    const int64_t V1 = c->vocab_size + 1, dfc = c->fc_feat_size, K = rows->k, datt = K * c->att_feat_size;
    const int need_fc = c->type != VTAG_MODEL_ATT2IN, need_att = c->type != VTAG_MODEL_FC;
    for (int64_t v = 0; v < V1; v++) scores[v] = 0;
    if (n < 1) return vtag_fail(err, VTAG_ERR_ARG, "caption scores: no row");
    if (samples < 1 || samples > VTAG_CAPTION_SCORE_SAMPLES_MAX)
        return vtag_fail(err, VTAG_ERR_ARG, "caption scores: %lld samples is outside [1, %d]", (long long)samples,
                         VTAG_CAPTION_SCORE_SAMPLES_MAX);
    if ((need_fc && !rows->fc) || (need_att && (!rows->att || K < 1)))
        return vtag_fail(err, VTAG_ERR_ARG, "caption scores: model %s lacks its features", vtag_model_type_name(c->type));
    for (int64_t i = 0; i < n; i++)
        if (idx && (idx[i] < 0 || idx[i] >= rows->n))
            return vtag_fail(err, VTAG_ERR_ARG, "caption scores: row %lld outside [0, %lld)", (long long)idx[i],
                             (long long)rows->n);
    /* Each row gets ceil(samples / n) samples; images in chunks of about 512 decoded rows. */
    const int64_t rep = (samples + n - 1) / n;
    int64_t chunk = 512 / rep;
    if (chunk < 1) chunk = 1;
    if (chunk > n) chunk = n;
    vtag_rng rng;
    vtag_rng_seed(&rng, seed);
    vtag_arena scratch;
    int rc = vtag_arena_init(&scratch, (size_t)1 << 20, err);
    if (rc) return rc;
    float *fc = need_fc ? malloc((size_t)(chunk * dfc) * sizeof(float)) : NULL;
    float *att = need_att ? malloc((size_t)(chunk * datt) * sizeof(float)) : NULL;
    double *acc = calloc((size_t)(chunk * V1), sizeof(double));
    if ((need_fc && !fc) || (need_att && !att) || !acc) rc = oom(err);
    for (int64_t start = 0; !rc && start < n; start += chunk) {
        const int64_t b = n - start < chunk ? n - start : chunk;
        for (int64_t i = 0; i < b; i++) {
            const int64_t row = idx ? idx[start + i] : start + i;
            if (fc) memcpy(fc + i * dfc, rows->fc + row * dfc, (size_t)dfc * sizeof(float));
            if (att) memcpy(att + i * datt, rows->att + row * datt, (size_t)datt * sizeof(float));
        }
        memset(acc, 0, (size_t)(b * V1) * sizeof(double));
        vtag_batch bt = {b, need_att ? K : 0, fc, att, NULL};
        vtag_arena_reset(&ctx->arena);
        rc = label_probs(ctx, &scratch, m, &bt, rep, &rng, acc, err);
        for (int64_t i = 0; !rc && i < b; i++)
            for (int64_t v = 1; v < V1; v++) scores[v] += acc[i * V1 + v];
    }
    for (int64_t v = 1; !rc && v < V1; v++) {
        scores[v] /= (double)(n * rep);
        if (scores[v] > 1) scores[v] = 1; /* rounding */
    }
    free(fc);
    free(att);
    free(acc);
    vtag_arena_free(&scratch);
    if (rc)
        for (int64_t v = 0; v < V1; v++) scores[v] = 0;
    return rc;
}

/* Training epochs of the built-in backbone (shuffled mini-batches of cached
 * frames, random flips and shifts, Adam with a cosine learning rate), frame
 * predictions with the folded inference model, and the video-level mAP. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtag/builtin.h"
#include "vtag/metrics.h"

void vtag_builtin_train_opts_default(vtag_builtin_train_opts *o)
{
    o->batch = 32;
    o->lr = 2e-3f;
    o->weight_decay = 1e-4f;
    o->flip = 1;
    o->shift = -1; /* S/16 */
    o->epochs = 1;
    o->progress = NULL, o->user = NULL;
}

/* rgb [S,S,3] → out [3,S,S] normalised, mirrored when flip, shifted by (dy, dx)
 * with the edge pixels repeated. */
static void frame_to_input(const uint8_t *rgb, int64_t S, const float mean[3], const float std[3], int flip, int64_t dy,
                           int64_t dx, float *out)
{
    float scale[3], bias[3];
    for (int c = 0; c < 3; c++) scale[c] = 1.0f / (255.0f * std[c]), bias[c] = -mean[c] / std[c];
    for (int64_t y = 0; y < S; y++) {
        int64_t sy = y + dy;
        sy = sy < 0 ? 0 : sy >= S ? S - 1 : sy;
        for (int64_t x = 0; x < S; x++) {
            int64_t sx = (flip ? S - 1 - x : x) + dx;
            sx = sx < 0 ? 0 : sx >= S ? S - 1 : sx;
            const uint8_t *p = rgb + (sy * S + sx) * 3;
            for (int c = 0; c < 3; c++) out[(c * S + y) * S + x] = (float)p[c] * scale[c] + bias[c];
        }
    }
}

int vtag_builtin_train_epoch(vtag_ctx *ctx, vtag_builtin *m, vtag_adam *adam, const vtag_builtin_frames *f,
                             const vtag_data_labels *l, const int64_t *index, const vtag_builtin_train_opts *o,
                             int epoch, vtag_builtin_epoch_stats *st, vtag_error *err)
{
    memset(st, 0, sizeof *st);
    const int64_t S = m->cfg.size, V = m->cfg.n_labels, n = f->n;
    if (f->size != S) return vtag_fail(err, VTAG_ERR_ARG, "frames are %lld px, the backbone takes %lld", (long long)f->size, (long long)S);
    if (n < 2) return vtag_fail(err, VTAG_ERR_ARG, "%lld training frames: need at least 2", (long long)n);
    const int64_t B = o->batch < n ? o->batch : n, shift = o->shift >= 0 ? o->shift : S / 16;
    int64_t *order = malloc((size_t)n * sizeof *order);
    float *images = malloc((size_t)(B * 3 * S * S) * sizeof(float)), *targets = malloc((size_t)(B * V) * sizeof(float));
    int rc = VTAG_OK;
    if (!order || !images || !targets) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a batch of %lld", (long long)B);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(vtag_rng_next(&ctx->rng) % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    const double t0 = vtag_seconds();
    /* A last batch of one frame would give BN a zero variance: it joins the next epoch's draw. */
    const int64_t steps = (n % B == 1) ? n / B : (n + B - 1) / B;
    const int64_t total_steps = steps * (o->epochs > 0 ? o->epochs : 1);
    double sum = 0;
    for (int64_t s = 0; s < steps && !rc; s++) {
        const int64_t b0 = s * B, nb = b0 + B <= n ? B : n - b0;
        for (int64_t i = 0; i < nb; i++) {
            const int64_t fr = order[b0 + i];
            const int flip = o->flip && vtag_rng_uniform(&ctx->rng) < 0.5f;
            int64_t dy = 0, dx = 0;
            if (shift > 0) {
                dy = (int64_t)(vtag_rng_next(&ctx->rng) % (uint64_t)(2 * shift + 1)) - shift;
                dx = (int64_t)(vtag_rng_next(&ctx->rng) % (uint64_t)(2 * shift + 1)) - shift;
            }
            frame_to_input(f->rgb + (size_t)fr * (size_t)(S * S * 3), S, m->cfg.mean, m->cfg.std, flip, dy, dx,
                           images + i * 3 * S * S);
            vtag_builtin_targets(l, f->entry[fr], index, V, targets + i * V);
        }
        vtag_params_zero_grad(&m->params);
        double loss = 0;
        rc = vtag_builtin_train_step(ctx, m, images, targets, nb, 1, 1, NULL, &loss, err);
        vtag_arena_reset(&ctx->arena);
        /* Stop before Adam writes nan into the weights: the caller keeps its last good checkpoint. */
        if (!rc) rc = vtag_check_diverged(loss, vtag_grad_norm(m->params.grad, m->params.total, ctx->threads), s + 1, err);
        if (rc) break;
        /* cosine from lr to lr/20 over all the epochs' steps */
        const double t = (double)(epoch * steps + s) / (double)total_steps;
        const float lr = o->lr * (float)(0.05 + 0.95 * 0.5 * (1.0 + cos(M_PI * (t < 1 ? t : 1))));
        adam->weight_decay = o->weight_decay;
        vtag_adam_update(adam, &m->params, lr, ctx->threads);
        sum += loss;
        st->frames += nb;
        if (o->progress) o->progress(o->user, st->frames, n % B == 1 ? n - 1 : n);
    }
    st->loss = steps ? sum / (double)steps : 0;
    st->seconds = vtag_seconds() - t0;
done:
    free(order), free(images), free(targets);
    return rc;
}

int vtag_builtin_predict_frames(vtag_ctx *ctx, const vtag_builtin_infer *inf, const vtag_builtin_frames *f,
                                int64_t batch, float *probs, vtag_error *err)
{
    const int64_t S = inf->cfg.size, V = inf->cfg.n_labels;
    if (f->size != S) return vtag_fail(err, VTAG_ERR_ARG, "frames are %lld px, the backbone takes %lld", (long long)f->size, (long long)S);
    if (batch < 1) batch = 32;
    float *images = malloc((size_t)(batch * 3 * S * S) * sizeof(float));
    if (!images) return vtag_fail(err, VTAG_ERR_NOMEM, "out of memory for a batch of %lld", (long long)batch);
    int rc = VTAG_OK;
    for (int64_t b0 = 0; b0 < f->n && !rc; b0 += batch) {
        const int64_t nb = b0 + batch <= f->n ? batch : f->n - b0;
        for (int64_t i = 0; i < nb; i++)
            frame_to_input(f->rgb + (size_t)(b0 + i) * (size_t)(S * S * 3), S, inf->cfg.mean, inf->cfg.std, 0, 0, 0,
                           images + i * 3 * S * S);
        rc = vtag_builtin_infer_run(ctx, inf, images, nb, NULL, NULL, probs + b0 * V, err);
        vtag_arena_reset(&ctx->arena);
    }
    free(images);
    return rc;
}

int vtag_builtin_video_map(const vtag_builtin_frames *f, const float *probs, int64_t v, const vtag_data_labels *l,
                           const int64_t *index, double *map, vtag_error *err)
{
    *map = 0;
    const int64_t nv = f->n_videos, cells = nv * v > 0 ? nv * v : 1;
    vtag_metrics_ml_item *items = calloc((size_t)(nv ? nv : 1), sizeof *items);
    double *scores = malloc((size_t)cells * sizeof *scores);
    int32_t *labels = malloc((size_t)(v ? v : 1) * sizeof *labels), *truth = malloc((size_t)cells * sizeof *truth);
    float *tg = malloc((size_t)(v ? v : 1) * sizeof *tg);
    int rc = VTAG_OK;
    if (!items || !scores || !labels || !truth || !tg) {
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int64_t k = 0; k < v; k++) labels[k] = (int32_t)k;
    int64_t vid = -1;
    for (int64_t i = 0, count = 0; i < f->n; i++) {
        if (i == 0 || f->entry[i] != f->entry[i - 1]) {
            vid++, count = 0;
            for (int64_t k = 0; k < v; k++) scores[vid * v + k] = 0;
            vtag_builtin_targets(l, f->entry[i], index, v, tg);
            int64_t nt = 0;
            for (int64_t k = 0; k < v; k++)
                if (tg[k] > 0) truth[vid * v + nt++] = (int32_t)k;
            items[vid] = (vtag_metrics_ml_item){labels, scores + vid * v, v, truth + vid * v, nt};
        }
        count++;
        for (int64_t k = 0; k < v; k++) /* running mean over the video's frames */
            scores[vid * v + k] += ((double)probs[i * v + k] - scores[vid * v + k]) / (double)count;
    }
    rc = vtag_metrics_ml_map(items, vid + 1, (int32_t)v, map, err);
done:
    free(items), free(scores), free(labels), free(truth), free(tg);
    return rc;
}

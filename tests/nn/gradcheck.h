/* Central finite-difference gradient checks for the nn layers.
 * A case supplies loss() = Σ_i out_i · G_i (accumulated in double) and
 * grads() = the layer's analytic backward with dout = G; every element of
 * every variable is perturbed by ±eps and compared with
 * |numeric − analytic| ≤ atol + rtol · max(|numeric|, |analytic|). */
#ifndef VTAG_TEST_GRADCHECK_H
#define VTAG_TEST_GRADCHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/core.h"

typedef struct gc_var {
    const char *name;
    float *x;    /* the variable, perturbed in place */
    float *grad; /* where grads() leaves its analytic gradient */
    int64_t n;
} gc_var;

typedef struct gc_case {
    const char *name;
    void *state;
    double (*loss)(void *state);
    void (*grads)(void *state); /* zeroes every grad, then runs forward and backward */
    gc_var *vars;
    int nvars;
    double eps, atol, rtol;
} gc_case;

/* Tolerances used by every layer test, unless a test states otherwise:
 * eps = 1e-2 on float32 inputs whose forward is computed in float32, so the
 * difference quotient carries ~1e-5 rounding noise and O(eps²) truncation. */
#define GC_EPS 1e-2
#define GC_ATOL 2e-4
#define GC_RTOL 2e-3

static inline void gc_run(const gc_case *c)
{
    c->grads(c->state);
    for (int v = 0; v < c->nvars; v++) {
        const gc_var *var = &c->vars[v];
        double *ana = malloc((size_t)var->n * sizeof(double));
        for (int64_t i = 0; i < var->n; i++) ana[i] = var->grad[i];
        double worst = 0.0, worst_num = 0.0, worst_ana = 0.0;
        int64_t bad = 0;
        for (int64_t i = 0; i < var->n; i++) {
            float x0 = var->x[i];
            float xp = (float)(x0 + c->eps), xm = (float)(x0 - c->eps);
            var->x[i] = xp;
            double lp = c->loss(c->state);
            var->x[i] = xm;
            double lm = c->loss(c->state);
            var->x[i] = x0;
            double num = (lp - lm) / ((double)xp - (double)xm);
            double diff = fabs(num - ana[i]);
            double allowed = c->atol + c->rtol * fmax(fabs(num), fabs(ana[i]));
            if (diff > allowed) bad++;
            if (diff > worst) {
                worst = diff;
                worst_num = num;
                worst_ana = ana[i];
            }
        }
        CHECK(bad == 0, "%s: d%s: %lld of %lld elements off; worst |num-ana| = %.3g (num %.6g, ana %.6g)",
              c->name, var->name, (long long)bad, (long long)var->n, worst, worst_num, worst_ana);
        printf("%-28s d%-10s n=%-5lld max|num-ana|=%.2e\n", c->name, var->name, (long long)var->n, worst);
        free(ana);
    }
}

/* Deterministic fill with values in [lo, hi). */
static inline void gc_fill(float *x, int64_t n, vtag_rng *rng, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * vtag_rng_uniform(rng);
}

static inline double gc_dot(const float *out, const float *g, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)out[i] * g[i];
    return s;
}

/* Shifts bias[j] of a Linear(in -> out) applied to rows x[n, in] until every
 * pre-activation is at least `margin` away from 0, so that no perturbation
 * of the check crosses the kink of the ReLU that follows. */
static inline void gc_clear_relu_kinks(const float *x, int64_t n, int64_t in, int64_t out, const float *w, float *b,
                                       float margin)
{
    for (int64_t j = 0; j < out; j++) {
        for (int k = 0; k < 60; k++) {
            float shift = (k % 2 ? 1.0f : -1.0f) * 0.05f * (float)((k + 1) / 2);
            int ok = 1;
            for (int64_t i = 0; i < n; i++) {
                double v = b[j] + shift;
                for (int64_t q = 0; q < in; q++) v += (double)x[i * in + q] * w[j * in + q];
                ok &= fabs(v) >= margin;
            }
            if (ok) {
                b[j] += shift;
                break;
            }
        }
    }
}

#endif

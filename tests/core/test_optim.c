/* Adam (against torch.optim.Adam's update written out in double), gradient
 * clipping by value and by global norm, and the step-decay schedule. */
#include <math.h>

#include "check.h"
#include "vtag/optim.h"

int main(void)
{
    /* Three Adam steps on 5 values with changing gradients, lr 0.01, decay 0.1. */
    float p[5] = {0.5f, -1.0f, 2.0f, 0.0f, 3.0f}, m[5] = {0}, v[5] = {0};
    double pd[5], md[5] = {0}, vd[5] = {0};
    for (int i = 0; i < 5; i++) pd[i] = p[i];
    for (int t = 1; t <= 3; t++) {
        float g[5];
        for (int i = 0; i < 5; i++) g[i] = (float)(0.3 * (i - 2) + 0.1 * t);
        vtag_adam_update_flat(p, g, m, v, 5, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f, t, 1);
        for (int i = 0; i < 5; i++) {
            double gd = g[i] + 0.1 * pd[i];
            md[i] = 0.9 * md[i] + 0.1 * gd;
            vd[i] = 0.999 * vd[i] + 0.001 * gd * gd;
            double mh = md[i] / (1 - pow(0.9, t)), vh = vd[i] / (1 - pow(0.999, t));
            pd[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < 5; i++) CHECK_NEAR(p[i], pd[i], 1e-6, "adam value");
    /* The first step moves every parameter with a non-zero gradient by ~lr. */
    vtag_params ps;
    vtag_params_init(&ps);
    int64_t shape[1] = {4};
    vtag_params_add(&ps, "w", 1, shape, NULL);
    vtag_params_alloc(&ps, NULL);
    float *w = vtag_params_value(&ps, 0), *gw = vtag_params_grad(&ps, 0);
    for (int i = 0; i < 4; i++) gw[i] = (float)(i - 1.5);
    vtag_adam opt;
    vtag_adam_init(&opt);
    vtag_adam_update(&opt, &ps, 0.001f, 2);
    CHECK(opt.step == 1, "step count");
    CHECK_NEAR(w[0], 0.001, 1e-7, "first adam step, negative gradient");
    CHECK_NEAR(w[3], -0.001, 1e-7, "first adam step, positive gradient");
    vtag_params_free(&ps);

    float g[4] = {0.5f, -0.05f, -3.0f, 0.1f};
    vtag_clip_grad_value(g, 4, 0.1f, 1);
    CHECK(g[0] == 0.1f && g[1] == -0.05f && g[2] == -0.1f && g[3] == 0.1f, "clip by value");
    float h[2] = {3.0f, 4.0f};
    double norm = vtag_clip_grad_norm(h, 2, 1.0f, 1);
    CHECK_NEAR(norm, 5.0, 1e-9, "norm before clipping");
    CHECK_NEAR(h[0], 0.6, 1e-5, "clip by norm x");
    CHECK_NEAR(h[1], 0.8, 1e-5, "clip by norm y");
    float k[2] = {0.3f, 0.4f};
    vtag_clip_grad_norm(k, 2, 1.0f, 1);
    CHECK(k[0] == 0.3f && k[1] == 0.4f, "norm below the limit is untouched");

    /* lr 5e-4, x0.8 every 3 epochs from epoch 0 (SPEC §4). */
    CHECK_NEAR(vtag_lr_step_decay(5e-4f, 0, 0, 3, 0.8f), 5e-4, 1e-10, "epoch 0");
    CHECK_NEAR(vtag_lr_step_decay(5e-4f, 2, 0, 3, 0.8f), 5e-4, 1e-10, "epoch 2");
    CHECK_NEAR(vtag_lr_step_decay(5e-4f, 3, 0, 3, 0.8f), 4e-4, 1e-10, "epoch 3");
    CHECK_NEAR(vtag_lr_step_decay(5e-4f, 7, 0, 3, 0.8f), 3.2e-4, 1e-10, "epoch 7");
    CHECK_NEAR(vtag_lr_step_decay(5e-4f, 7, 5, 3, 0.8f), 5e-4, 1e-10, "decay starts at epoch 5");
    CHECK_NEAR(vtag_lr_step_decay(5e-4f, 9, 0, 0, 0.8f), 5e-4, 1e-10, "decay off");
    return check_summary("optim");
}

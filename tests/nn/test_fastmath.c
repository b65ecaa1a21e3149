/* The call-free exp / tanh / sigmoid of nn.h against libm in double. */
#include <math.h>

#include "check.h"
#include "vtag/nn.h"

int main(void)
{
    double worst_exp = 0, worst_tanh = 0, worst_sig = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.001953125f) {
        double e = exp((double)x);
        worst_exp = fmax(worst_exp, fabs(vtag_expf(x) - e) / e);
    }
    for (float x = -20.0f; x <= 20.0f; x += 0.0009765625f) {
        worst_tanh = fmax(worst_tanh, fabs(vtag_tanhf(x) - tanh((double)x)));
        worst_sig = fmax(worst_sig, fabs(vtag_sigmoidf(x) - 1.0 / (1.0 + exp(-(double)x))));
    }
    printf("max relative error of exp %.2e, absolute error of tanh %.2e, sigmoid %.2e\n", worst_exp, worst_tanh, worst_sig);
    CHECK(worst_exp < 5e-7, "exp relative error %g", worst_exp);
    CHECK(worst_tanh < 3e-7, "tanh absolute error %g", worst_tanh);
    CHECK(worst_sig < 2e-7, "sigmoid absolute error %g", worst_sig);
    CHECK(vtag_expf(-200.0f) >= 0.0f && vtag_expf(-200.0f) < 1e-37f, "exp underflow");
    CHECK(isfinite(vtag_expf(200.0f)), "exp of a large argument must stay finite");
    CHECK(vtag_tanhf(100.0f) == 1.0f && vtag_tanhf(-100.0f) == -1.0f, "tanh saturation");
    CHECK(!isnan(vtag_tanhf(1e30f)), "tanh of a huge value");
    /* A NaN (a diverged model, a damaged checkpoint found by tests/fuzz) stays NaN, with no
     * undefined float-to-int conversion on the way (the sanitizer build checks for one). */
    CHECK(isnan(vtag_expf(NAN)) && isnan(vtag_tanhf(NAN)) && isnan(vtag_sigmoidf(NAN)), "NaN in, NaN out");
    CHECK(vtag_expf(INFINITY) == vtag_expf(200.0f) && vtag_expf(-INFINITY) == vtag_expf(-200.0f), "exp of inf");
    return check_summary("fastmath");
}

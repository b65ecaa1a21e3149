/* The fused bias + activation row pass that follows every conv (and inference BatchNorm), compiled
 * once per kernel path (core/isa.h): it streams each conv output once more, and the baseline
 * build's 4-wide loops cost mobilenet_v2, whose 1×1 convs with 16–32 input channels are mostly
 * this pass, a few percent against the 8-wide ones. */
#include "cnn/cnn_internal.h"

static inline float relu6(float x) { return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x); }

/* x · relu6(x + 3) / 6, as PyTorch writes it. */
static inline float hardswish(float x) { return x * relu6(x + 3.0f) / 6.0f; }

/* One loop per activation, so that each vectorises. */
void VTAG_ISA_FN(cnn_bias_act_row)(float *dst, const float *src, int64_t n, float bias, vtag_act act)
{
    switch (act) {
    case VTAG_ACT_RELU:
        for (int64_t i = 0; i < n; i++) {
            float x = src[i] + bias;
            dst[i] = x > 0.0f ? x : 0.0f;
        }
        break;
    case VTAG_ACT_RELU6:
        for (int64_t i = 0; i < n; i++) dst[i] = relu6(src[i] + bias);
        break;
    case VTAG_ACT_HARDSWISH:
        for (int64_t i = 0; i < n; i++) dst[i] = hardswish(src[i] + bias);
        break;
    default:
        if (bias != 0.0f || dst != src)
            for (int64_t i = 0; i < n; i++) dst[i] = src[i] + bias;
        break;
    }
}

/* Private kernels of the nn layers, compiled once per kernel path (core/isa.h). */
#ifndef VTAG_NN_INTERNAL_H
#define VTAG_NN_INTERNAL_H

#include "core/isa.h"
#include "vtag/nn.h"

/* One query row of additive attention (attention_row.c), fused into one pass
 * over the row's K positions:
 *   dot[k, :] = tanh(p_att[k, :] + ha)              dot [K, A], p_att [K, A], ha [A]
 *   alpha = softmax_k(aw · dot[k, :] + ab)           alpha [K], aw [A]
 *   out = Σ_k alpha[k] · att[k, :]                   out [D], att [K, D] */
VTAG_ISA_DECLARE(void, nn_attention_row,
                 (float *out, float *dot, float *alpha, const float *ha, const float *p_att, const float *att,
                  const float *aw, float ab, int64_t K, int64_t A, int64_t D));

#endif

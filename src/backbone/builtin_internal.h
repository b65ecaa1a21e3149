/* Private helpers shared by the built-in backbone's files. */
#ifndef VTAG_BUILTIN_INTERNAL_H
#define VTAG_BUILTIN_INTERNAL_H

#include "vtag/builtin.h"
#include "vtag/cnn.h"

/* vtag_builtin_init without the allocation of the tensors' memory: every
 * tensor declared (name, shape) and the total checked against
 * VTAG_BUILTIN_MAX_PARAMS, so that a file's tensors can be checked against
 * the config before anything large is allocated (vtag_builtin_load). */
int builtin_declare(vtag_builtin *m, const vtag_builtin_config *cfg, const char *const *labels, vtag_error *err);
/* Output side of a k×k conv with padding k/2 and the given stride. */
int64_t builtin_conv_side(int64_t side, int64_t k, int64_t stride);
/* The conv of unit u on a batch of n side×side inputs (h_out/w_out not yet planned). */
void builtin_unit_dims(const vtag_builtin_unit *u, int64_t n, int64_t side, vtag_conv2d_dims *d);
/* Largest conv workspace (floats) of the network for a batch of n, walking
 * it as the forward pass does; -1 for an impossible shape. */
int64_t builtin_max_workspace(const vtag_builtin_unit *units, const vtag_builtin_block *blocks, int n_blocks,
                              int64_t size, int64_t n, int threads);

#endif

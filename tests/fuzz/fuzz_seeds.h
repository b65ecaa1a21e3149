/* The small models the fuzz targets and their seed maker (make_seeds.c)
 * share: the built-in backbone whose training state fuzz_backbone loads, and
 * the caption model sizes of the checkpoint seeds. */
#ifndef VTAG_FUZZ_SEEDS_H
#define VTAG_FUZZ_SEEDS_H

#include "vtag/builtin.h"
#include "vtag/caption.h"

#define FUZZ_BUILTIN_LABELS 3

static inline void fuzz_builtin_config(vtag_builtin_config *c)
{
    vtag_builtin_config_default(c);
    c->size = 16;
    c->n_stages = 2;
    c->widths[0] = 4, c->widths[1] = 8;
    c->blocks[0] = 1, c->blocks[1] = 1;
    c->n_labels = FUZZ_BUILTIN_LABELS;
}

static inline const char *const *fuzz_builtin_labels(void)
{
    static const char *const labels[FUZZ_BUILTIN_LABELS] = {"red", "green", "blue"};
    return labels;
}

static inline void fuzz_caption_config(vtag_model_config *c, vtag_model_type type)
{
    vtag_model_config_defaults(c);
    c->type = type;
    c->vocab_size = 5;
    c->input_encoding_size = 6;
    c->rnn_size = 8;
    c->att_hid_size = 4;
    c->fc_feat_size = type == VTAG_MODEL_ATT2IN ? 0 : 6;
    c->att_feat_size = type == VTAG_MODEL_FC ? 0 : 6;
    c->max_length = 4;
}

#endif

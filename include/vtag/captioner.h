/* The captioner: a caption model with its vocabulary, loaded and checked in
 * one place (the checkpoint's tensors and vtag.config, then its vtag.vocab
 * decoded and its size checked against the model's). The tagger, vtag caption,
 * SCST from an XE checkpoint and the evaluation of a run folder all load a
 * checkpoint through it. */
#ifndef VTAG_CAPTIONER_H
#define VTAG_CAPTIONER_H

#include <stdint.h>

#include "vtag/caption.h"
#include "vtag/core.h"
#include "vtag/data.h"
#include "vtag/provenance.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vtag_captioner {
    vtag_model model;
    vtag_data_vocab vocab; /* vocab.size == model.cfg.vocab_size */
    char *vocab_json;      /* the checkpoint's vtag.vocab, as written */
    char *path;            /* the checkpoint it came from */
    /* vtag.provenance (vtag/provenance.h): the pointers NULL, and
     * backbone.sha256 "", for checkpoints written before provenance */
    char *provenance_json;           /* as written */
    char *backbone_sha256;           /* copy of backbone.sha256 (64 hex digits) */
    char *backbone_file;             /* copy of backbone.file (base name) */
    vtag_backbone_identity backbone; /* the backbone its features came from */
} vtag_captioner;

/* Loads the checkpoint at path (vtag_checkpoint_load's checks), decodes its
 * vocabulary and checks that it has as many labels as the model's output
 * layer: "PATH: vtag.vocab has N labels, the model M", and its vtag.provenance
 * when it has one (its shape, and vocab_sha256 against vtag.vocab). On
 * failure c is zeroed. */
int vtag_captioner_load(vtag_captioner *c, const char *path, vtag_error *err);
/* Checks that features of d_fc (fc) and d_att (att) values per row fit the
 * model; `what` names their source in the message ("the backbone B",
 * "F"). A size the model does not use is not checked. */
int vtag_captioner_check_features(const vtag_captioner *c, int64_t d_fc, int64_t d_att, const char *what,
                                  vtag_error *err);
/* Features (f: their vtag.backbone) against the backbone c was trained with:
 * refused when both have an identity and the SHA-256s differ
 * (vtag_provenance_check_features); verb: "evaluate", "train". */
int vtag_captioner_check_backbone_of(const vtag_captioner *c, const vtag_data_features *f, const char *verb,
                                     vtag_error *err);
/* The labels of c's vocabulary (UNK aside when has(user, "UNK") is 0) that
 * has(user, label) does not know: VTAG_ERR_FORMAT, "CKPT: its labels red,
 * blue… are not in WHERE (a renamed label set?)", up to five named. */
int vtag_captioner_check_labels(const vtag_captioner *c, int (*has)(void *user, const char *label), void *user,
                                const char *where, vtag_error *err);
void vtag_captioner_free(vtag_captioner *c);

#ifdef __cplusplus
}
#endif
#endif

/* Provenance: which backbone file a model's features came from, and which
 * vocabulary it writes. A features file's vtag.backbone holds the backbone's
 * identity (its file's SHA-256 and feature sizes); a checkpoint's
 * vtag.provenance holds that object and the SHA-256 of its vtag.vocab. The
 * tagger, vtag eval and vtag train --init compare them and refuse a model
 * with another backbone than its own. Files written before provenance have
 * neither and are accepted as before. */
#ifndef VTAG_PROVENANCE_H
#define VTAG_PROVENANCE_H

#include <stdint.h>

#include "vtag/caption.h"
#include "vtag/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTAG_PROVENANCE_BACKBONE_META "vtag.backbone"
#define VTAG_PROVENANCE_META "vtag.provenance"

typedef struct vtag_backbone_identity {
    char file[128];   /* base name of the backbone file */
    char sha256[65];  /* 64 lowercase hex digits of the file's SHA-256 */
    int64_t fc;       /* d_fc */
    int64_t att_k;    /* K */
    int64_t att;      /* d_att */
} vtag_backbone_identity;

/* The backbone's description (vtag_backbone_info.description: a JSON object,
 * or free text, then kept under "description") with its identity added:
 * "file" (base name of path), "sha256" (of the file at path), "fc", "att_k",
 * "att". *json is malloc'd. */
int vtag_provenance_backbone_json(char **json, const char *description, const char *path, int64_t fc, int64_t att_k,
                                  int64_t att, vtag_error *err);
/* The identity in a vtag.backbone text. A text without an identity (free
 * text, or an object without "sha256": files written before provenance)
 * gives VTAG_OK and *known 0. An object with "sha256" must hold "file" (a
 * non-empty string), "sha256" (64 lowercase hex digits) and "fc", "att_k",
 * "att" (integers >= 0): otherwise VTAG_ERR_FORMAT, "SOURCE: vtag.backbone:
 * PROBLEM". */
int vtag_provenance_backbone_parse(vtag_backbone_identity *id, int *known, const char *text, const char *source,
                                   vtag_error *err);

/* A checkpoint's vtag.provenance: {"backbone": the vtag.backbone object
 * (backbone_json, which must hold an identity), "vocab_sha256": SHA-256 of
 * the vtag.vocab text vocab_json}. *json is malloc'd. */
int vtag_provenance_json(char **json, const char *backbone_json, const char *vocab_json, vtag_error *err);
/* Parses vtag.provenance (the shape above) into the backbone's identity and
 * the vocabulary's hash; errors start with "SOURCE: vtag.provenance: ". */
int vtag_provenance_parse(vtag_backbone_identity *id, char vocab_sha256[65], const char *text, const char *source,
                          vtag_error *err);
/* The "backbone" object of a vtag.provenance text, malloc'd (NULL on
 * failure): what a checkpoint saved from another keeps. */
char *vtag_provenance_backbone_of(const char *provenance_json);

/* A backbone file against the one a checkpoint was trained with: hashes the
 * file at path and compares. Another file: VTAG_ERR_FORMAT, "CKPT: trained on
 * features of backbone NAME (sha256 1234abcd…), but PATH is another file
 * (sha256 …): VERB with the backbone it was trained with" (verb: "tag",
 * "evaluate"). */
int vtag_provenance_check_backbone(const char *ckpt, const vtag_backbone_identity *trained, const char *path,
                                   const char *verb, vtag_error *err);
/* Features (their identity `got`, from the file `feats`) against the backbone
 * `trained` of the file `what` (a checkpoint, or features): another SHA-256
 * is VTAG_ERR_FORMAT, "WHAT: trained on features of backbone NAME (sha256
 * …), but FEATS come from backbone NAME (sha256 …): VERB with features of the
 * backbone it was trained with". */
int vtag_provenance_check_features(const char *what, const vtag_backbone_identity *trained, const char *feats,
                                   const vtag_backbone_identity *got, const char *verb, vtag_error *err);

/* Checkpoints and training states (src/caption/checkpoint.c) with their
 * vtag.provenance: vtag_checkpoint_save / vtag_train_state_save writing it
 * when provenance_json is non-NULL; vtag_checkpoint_load reading it into
 * *provenance_json (malloc'd, NULL when the checkpoint has none: written
 * before provenance). */
int vtag_checkpoint_save_with_provenance(const vtag_model *m, const char *vocab_json, const char *provenance_json,
                                         const char *path, vtag_error *err);
int vtag_checkpoint_load_with_provenance(vtag_model *m, char **vocab_json, char **provenance_json, const char *path,
                                         vtag_error *err);
int vtag_train_state_save_with_provenance(const vtag_model *m, const vtag_train_state *s, const char *vocab_json,
                                          const char *provenance_json, const char *path, vtag_error *err);

#ifdef __cplusplus
}
#endif
#endif

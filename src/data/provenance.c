/* vtag.backbone identities and vtag.provenance: built, parsed and compared
 * (include/vtag/provenance.h). */
#include "vtag/provenance.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int vtag_provenance_backbone_json(char **json, const char *description, const char *path, int64_t fc, int64_t att_k,
                                  int64_t att, vtag_error *err)
{
    *json = NULL;
    char hex[65];
    int rc = vtag_file_sha256(path, hex, err);
    if (rc) return rc;
    json_t *o = description ? json_loads(description, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (o && !json_is_object(o)) json_decref(o), o = NULL;
    if (!o && (o = json_object()) && description) json_object_set_new(o, "description", json_string(description));
    const char *base = base_name(path);
    int bad = !o || json_object_set_new(o, "file", json_stringn(base, strlen(base) < 127 ? strlen(base) : 127)) ||
              json_object_set_new(o, "sha256", json_string(hex)) ||
              json_object_set_new(o, "fc", json_integer((json_int_t)fc)) ||
              json_object_set_new(o, "att_k", json_integer((json_int_t)att_k)) ||
              json_object_set_new(o, "att", json_integer((json_int_t)att));
    if (!bad) bad = !(*json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
    json_decref(o);
    if (bad) return vtag_fail(err, VTAG_ERR_NOMEM, "%s: cannot encode the backbone's identity", path);
    return VTAG_OK;
}

/* The identity fields of the object o; `what` starts each message. */
static int identity_of(json_t *o, vtag_backbone_identity *id, const char *source, const char *what, vtag_error *err)
{
    memset(id, 0, sizeof *id);
    const char *file = json_string_value(json_object_get(o, "file"));
    const char *sha = json_string_value(json_object_get(o, "sha256"));
    if (!file || !*file || strlen(file) >= sizeof id->file)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"file\" is not a non-empty string of at most 127 bytes", source,
                         what);
    if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
        return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"sha256\" is not 64 lowercase hexadecimal digits", source,
                         what);
    static const char *const keys[3] = {"fc", "att_k", "att"};
    int64_t *dst[3] = {&id->fc, &id->att_k, &id->att};
    for (int k = 0; k < 3; k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"%s\" is not an integer >= 0", source, what, keys[k]);
        *dst[k] = (int64_t)json_integer_value(v);
    }
    snprintf(id->file, sizeof id->file, "%s", file);
    memcpy(id->sha256, sha, 65);
    return VTAG_OK;
}

int vtag_provenance_backbone_parse(vtag_backbone_identity *id, int *known, const char *text, const char *source,
                                   vtag_error *err)
{
    memset(id, 0, sizeof *id);
    *known = 0;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    int rc = VTAG_OK;
    if (json_is_object(o) && json_object_get(o, "sha256")) {
        rc = identity_of(o, id, source, VTAG_PROVENANCE_BACKBONE_META, err);
        *known = rc == VTAG_OK;
    }
    json_decref(o);
    return rc;
}

int vtag_provenance_json(char **json, const char *backbone_json, const char *vocab_json, vtag_error *err)
{
    *json = NULL;
    char hex[65];
    int rc = vtag_sha256_hex(vocab_json, strlen(vocab_json), hex, err);
    if (rc) return rc;
    vtag_backbone_identity id;
    int known = 0;
    rc = vtag_provenance_backbone_parse(&id, &known, backbone_json, "features", err);
    if (!rc && !known) rc = vtag_fail(err, VTAG_ERR_ARG, "provenance: the backbone has no identity");
    if (rc) return rc;
    json_t *o = json_object(), *b = json_loads(backbone_json, 0, NULL);
    int bad = !o || !b || json_object_set_new(o, "backbone", b) || json_object_set_new(o, "vocab_sha256", json_string(hex));
    if (!o) json_decref(b);
    if (!bad) bad = !(*json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER));
    json_decref(o);
    return bad ? vtag_fail(err, VTAG_ERR_NOMEM, "provenance: out of memory") : VTAG_OK;
}

int vtag_provenance_parse(vtag_backbone_identity *id, char vocab_sha256[65], const char *text, const char *source,
                          vtag_error *err)
{
    memset(id, 0, sizeof *id);
    vocab_sha256[0] = '\0';
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int rc = VTAG_OK;
    json_t *b = json_object_get(o, "backbone");
    const char *v = json_string_value(json_object_get(o, "vocab_sha256"));
    if (!json_is_object(o)) rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s is not a JSON object", source, VTAG_PROVENANCE_META);
    else if (!json_is_object(b))
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"backbone\" is not an object", source, VTAG_PROVENANCE_META);
    else if (!v || strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
        rc = vtag_fail(err, VTAG_ERR_FORMAT, "%s: %s: \"vocab_sha256\" is not 64 lowercase hexadecimal digits", source,
                       VTAG_PROVENANCE_META);
    else rc = identity_of(b, id, source, VTAG_PROVENANCE_META ".backbone", err);
    if (!rc) memcpy(vocab_sha256, v, 65);
    json_decref(o);
    return rc;
}

char *vtag_provenance_backbone_of(const char *provenance_json)
{
    json_t *o = json_loads(provenance_json, 0, NULL);
    json_t *b = json_object_get(o, "backbone");
    char *text = json_is_object(b) ? json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}

int vtag_provenance_check_backbone(const char *ckpt, const vtag_backbone_identity *trained, const char *path,
                                   const char *verb, vtag_error *err)
{
    char hex[65];
    int rc = vtag_file_sha256(path, hex, err);
    if (rc) return rc;
    if (strcmp(hex, trained->sha256) == 0) return VTAG_OK;
    return vtag_fail(err, VTAG_ERR_FORMAT,
                     "%s: trained on features of backbone %s (sha256 %.8s…), but %s is another file (sha256 %.8s…): %s "
                     "with the backbone it was trained with",
                     ckpt, trained->file, trained->sha256, path, hex, verb);
}

int vtag_provenance_check_features(const char *what, const vtag_backbone_identity *trained, const char *feats,
                                   const vtag_backbone_identity *got, const char *verb, vtag_error *err)
{
    if (strcmp(got->sha256, trained->sha256) == 0) return VTAG_OK;
    return vtag_fail(err, VTAG_ERR_FORMAT,
                     "%s: trained on features of backbone %s (sha256 %.8s…), but %s come from backbone %s (sha256 "
                     "%.8s…): %s with features of the backbone it was trained with",
                     what, trained->file, trained->sha256, feats, got->file, got->sha256, verb);
}

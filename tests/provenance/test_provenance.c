/* SHA-256 (core) and the provenance JSON: known digests, a file streamed in
 * blocks against the one-shot digest of its bytes, identities built, parsed
 * and refused, and the messages of a mismatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vtag/provenance.h"

#define FILE_BYTES 200003 /* more than three 64 KiB blocks, not a multiple of one */

static void test_known_digests(void)
{
    char hex[65];
    vtag_error err = {0};
    CHECK(vtag_sha256_hex("", 0, hex, &err) == 0 &&
              strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
          "sha256(\"\"): %s", hex);
    CHECK(vtag_sha256_hex("abc", 3, hex, &err) == 0 &&
              strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "sha256(abc): %s", hex);
}

static void test_file(void)
{
    const char *path = "provenance_sha.bin";
    unsigned char *buf = malloc(FILE_BYTES);
    for (size_t i = 0; i < FILE_BYTES; i++) buf[i] = (unsigned char)(i * 2654435761u >> 13);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, FILE_BYTES, f) == FILE_BYTES && fclose(f) == 0, "write %s", path);
    char a[65], b[65];
    vtag_error err = {0};
    CHECK(vtag_file_sha256(path, a, &err) == 0, "file: %s", err.msg);
    CHECK(vtag_sha256_hex(buf, FILE_BYTES, b, &err) == 0 && strcmp(a, b) == 0, "streamed %s vs one-shot %s", a, b);
    CHECK(vtag_file_sha256("provenance_absent.bin", a, &err) == VTAG_ERR_IO && a[0] == '\0' &&
              strstr(err.msg, "provenance_absent.bin"),
          "absent: %s", err.msg);
    CHECK(vtag_file_sha256(".", a, &err) != 0, "a folder is refused");

    /* an identity built from a description, parsed back, and compared */
    char *json = NULL;
    CHECK(vtag_provenance_backbone_json(&json, "{\"kind\":\"builtin\",\"file\":\"x\"}", path, 128, 4, 64, &err) == 0,
          "identity: %s", err.msg);
    vtag_backbone_identity id;
    int known = 0;
    CHECK(json && vtag_provenance_backbone_parse(&id, &known, json, "f", &err) == 0 && known, "parse: %s", err.msg);
    CHECK(strcmp(id.sha256, b) == 0 && strcmp(id.file, path) == 0 && id.fc == 128 && id.att_k == 4 && id.att == 64,
          "identity fields: %s %s", id.file, id.sha256);
    CHECK(json && strstr(json, "\"kind\":\"builtin\""), "the description is kept: %s", json);
    CHECK(vtag_provenance_check_backbone("m.safetensors", &id, path, "tag", &err) == 0, "same file: %s", err.msg);

    char *prov = NULL, vsha[65];
    const char *vocab = "[\"red\",\"blue\"]";
    CHECK(vtag_provenance_json(&prov, json, vocab, &err) == 0, "provenance: %s", err.msg);
    vtag_backbone_identity back;
    CHECK(prov && vtag_provenance_parse(&back, vsha, prov, "m", &err) == 0 && strcmp(back.sha256, id.sha256) == 0,
          "provenance parsed: %s", err.msg);
    char want[65];
    vtag_sha256_hex(vocab, strlen(vocab), want, &err);
    CHECK(strcmp(vsha, want) == 0, "vocab_sha256 %s", vsha);
    char *bb = prov ? vtag_provenance_backbone_of(prov) : NULL;
    CHECK(bb && strcmp(bb, json) == 0, "the backbone object kept: %s", bb);
    free(bb);
    free(prov);

    /* another file of the same sizes */
    buf[7] ^= 1;
    f = fopen("provenance_other.bin", "wb");
    CHECK(f && fwrite(buf, 1, FILE_BYTES, f) == FILE_BYTES && fclose(f) == 0, "write other");
    CHECK(vtag_provenance_check_backbone("m.safetensors", &id, "provenance_other.bin", "tag", &err) == VTAG_ERR_FORMAT,
          "another file refused");
    char head[96];
    snprintf(head, sizeof head, "m.safetensors: trained on features of backbone %s (sha256 %.8s", path, id.sha256);
    CHECK(strncmp(err.msg, head, strlen(head)) == 0 && strstr(err.msg, "but provenance_other.bin is another file") &&
              strstr(err.msg, ": tag with the backbone it was trained with"),
          "message: %s", err.msg);
    vtag_backbone_identity other = id;
    other.sha256[0] = other.sha256[0] == 'a' ? 'b' : 'a';
    CHECK(vtag_provenance_check_features("m", &id, "f.safetensors", &id, "evaluate", &err) == 0, "same features");
    CHECK(vtag_provenance_check_features("m", &id, "f.safetensors", &other, "evaluate", &err) == VTAG_ERR_FORMAT &&
              strstr(err.msg, "but f.safetensors come from backbone") && strstr(err.msg, "evaluate with features"),
          "other features: %s", err.msg);
    free(json);
    free(buf);
    remove(path);
    remove("provenance_other.bin");
}

static void test_parse(void)
{
    vtag_backbone_identity id;
    int known = 1;
    vtag_error err = {0};
    /* without an identity: free text, a description alone, nothing */
    CHECK(vtag_provenance_backbone_parse(&id, &known, "resnet18 (torchvision), 224 px", "f", &err) == 0 && !known,
          "free text");
    CHECK(vtag_provenance_backbone_parse(&id, &known, "{\"kind\":\"onnx\"}", "f", &err) == 0 && !known, "description");
    CHECK(vtag_provenance_backbone_parse(&id, &known, NULL, "f", &err) == 0 && !known, "absent");
    static const char *const bad[][2] = {
        {"{\"sha256\":\"ab\",\"file\":\"b\",\"fc\":1,\"att_k\":1,\"att\":1}", "\"sha256\" is not 64"},
        {"{\"sha256\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\",\"file\":\"b\",\"fc\":1,"
         "\"att_k\":1,\"att\":1}",
         "\"sha256\" is not 64"},
        {"{\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"fc\":1,\"att_k\":1,"
         "\"att\":1}",
         "\"file\" is not"},
        {"{\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"file\":\"b\",\"fc\":-1,"
         "\"att_k\":1,\"att\":1}",
         "\"fc\" is not an integer"},
        {"{\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"file\":\"b\",\"fc\":1,"
         "\"att\":1}",
         "\"att_k\" is not an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = vtag_provenance_backbone_parse(&id, &known, bad[i][0], "f.safetensors", &err);
        CHECK(rc == VTAG_ERR_FORMAT && !known && strstr(err.msg, "f.safetensors: vtag.backbone: ") &&
                  strstr(err.msg, bad[i][1]),
              "bad %zu: %s", i, err.msg);
    }
    char v[65];
    CHECK(vtag_provenance_parse(&id, v, "[]", "m", &err) == VTAG_ERR_FORMAT && strstr(err.msg, "not a JSON object"),
          "provenance not an object: %s", err.msg);
    CHECK(vtag_provenance_parse(&id, v, "{\"backbone\":{},\"vocab_sha256\":\"x\"}", "m", &err) == VTAG_ERR_FORMAT &&
              strstr(err.msg, "vocab_sha256"),
          "provenance vocab hash: %s", err.msg);
    char *json = NULL;
    CHECK(vtag_provenance_json(&json, "{\"kind\":\"onnx\"}", "[]", &err) != 0 && !json,
          "no provenance from a backbone without an identity");
}

int main(void)
{
    test_known_digests();
    test_file();
    test_parse();
    return check_summary("provenance");
}

/* SHA-256 through OpenSSL's libcrypto (EVP): the identity of a backbone file
 * that features and checkpoints record, and the hash of a vocabulary. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vtag/core.h"

static void to_hex(const unsigned char *md, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

int vtag_sha256_hex(const void *data, size_t n, char hex[65], vtag_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    hex[0] = '\0';
    if (!EVP_Digest(data, n, md, &len, EVP_sha256(), NULL) || len != 32)
        return vtag_fail(err, VTAG_ERR_NOMEM, "sha256: the digest failed");
    to_hex(md, hex);
    return VTAG_OK;
}

int vtag_file_sha256(const char *path, char hex[65], vtag_error *err)
{
    hex[0] = '\0';
    int fd;
    int rc = vtag_file_open_fd(&fd, path, err);
    if (rc) return rc;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        close(fd);
        return vtag_fail(err, VTAG_ERR_NOMEM, "%s: sha256: the digest failed", path);
    }
    unsigned char buf[1 << 16];
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc = vtag_fail(err, VTAG_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        if (got == 0) break;
        if (!EVP_DigestUpdate(md, buf, (size_t)got)) {
            rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: sha256: the digest failed", path);
            break;
        }
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!rc && (!EVP_DigestFinal_ex(md, out, &len) || len != 32))
        rc = vtag_fail(err, VTAG_ERR_NOMEM, "%s: sha256: the digest failed", path);
    if (!rc) to_hex(out, hex);
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

// The system OpenSSL's libcrypto, for what the Swift stack lacks: password-based encryption of PKCS#8 keys
// (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC), readable by `openssl pkey -passin`.
#ifndef MESHCA_CLIBCRYPTO_SHIM_H
#define MESHCA_CLIBCRYPTO_SHIM_H

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

/// Re-encodes a PEM private key (any type) as PEM PKCS#8: encrypted with `pass` when `pass_len` > 0
/// (EVP_aes_256_cbc, OpenSSL's default PBKDF2 parameters), plain otherwise. `in_pass` opens an encrypted
/// input. Returns a malloc'ed NUL-terminated string (free with free()), or NULL: the input is not a key, or
/// the input passphrase is wrong.
static inline char *meshca_pkcs8_pem(const char *in_pem, size_t in_len, const char *in_pass,
                                     const char *pass, size_t pass_len) {
    ERR_clear_error();
    BIO *in = BIO_new_mem_buf(in_pem, (int)in_len);
    if (!in) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(in, NULL, NULL, (void *)(in_pass ? in_pass : ""));
    BIO_free(in);
    if (!key) return NULL;
    BIO *out = BIO_new(BIO_s_mem());
    int ok = out && PEM_write_bio_PKCS8PrivateKey(out, key, pass_len > 0 ? EVP_aes_256_cbc() : NULL,
                                                  (const char *)pass, (int)pass_len, NULL, NULL);
    EVP_PKEY_free(key);
    char *result = NULL;
    if (ok) {
        char *data = NULL;
        long length = BIO_get_mem_data(out, &data);
        result = malloc((size_t)length + 1);
        if (result) {
            memcpy(result, data, (size_t)length);
            result[length] = 0;
        }
    }
    BIO_free(out);
    return result;
}

/// Overwrites memory that held a passphrase or key (not optimized away).
static inline void meshca_cleanse(void *pointer, size_t length) { OPENSSL_cleanse(pointer, length); }

#endif

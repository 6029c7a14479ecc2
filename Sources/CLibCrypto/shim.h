// The system OpenSSL's libcrypto, for what the Swift stack lacks: password-based encryption of PKCS#8 keys
// (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC), readable by `openssl pkey -passin`.
//
// Loaded with dlopen on first use rather than linked: only commands that meet an encrypted key need it, and
// linking it made every start of certtool and scrape-sidecar bind its ~3,400 symbols and map 1.4 MB more
// (certtool --help: 3.2 → 2.4 ms without it). The headers (libssl-dev) still type-check every call.
#ifndef MESHCA_CLIBCRYPTO_SHIM_H
#define MESHCA_CLIBCRYPTO_SHIM_H

#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct meshca_libcrypto {
    int loaded;
    __typeof__(&ERR_clear_error) ERR_clear_error;
    __typeof__(&BIO_new_mem_buf) BIO_new_mem_buf;
    __typeof__(&BIO_new) BIO_new;
    __typeof__(&BIO_s_mem) BIO_s_mem;
    __typeof__(&BIO_ctrl) BIO_ctrl;
    __typeof__(&BIO_free) BIO_free;
    __typeof__(&PEM_read_bio_PrivateKey) PEM_read_bio_PrivateKey;
    __typeof__(&PEM_write_bio_PKCS8PrivateKey) PEM_write_bio_PKCS8PrivateKey;
    __typeof__(&EVP_aes_256_cbc) EVP_aes_256_cbc;
    __typeof__(&EVP_PKEY_free) EVP_PKEY_free;
};

// Function-local statics: Swift emits a header's inline functions, not its file-level variables.
static inline struct meshca_libcrypto *meshca_crypto(void) {
    static struct meshca_libcrypto table;
    return &table;
}

static inline pthread_once_t *meshca_crypto_once(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    return &once;
}

static inline void meshca_load_libcrypto(void) {
    // libcrypto.so.3 is the runtime package (libssl3); libcrypto.so the development symlink (libssl-dev).
    void *library = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) return;
    struct meshca_libcrypto c = {0};
#define MESHCA_RESOLVE(name) if (!(*(void **)&c.name = dlsym(library, #name))) return;
    MESHCA_RESOLVE(ERR_clear_error)
    MESHCA_RESOLVE(BIO_new_mem_buf)
    MESHCA_RESOLVE(BIO_new)
    MESHCA_RESOLVE(BIO_s_mem)
    MESHCA_RESOLVE(BIO_ctrl)
    MESHCA_RESOLVE(BIO_free)
    MESHCA_RESOLVE(PEM_read_bio_PrivateKey)
    MESHCA_RESOLVE(PEM_write_bio_PKCS8PrivateKey)
    MESHCA_RESOLVE(EVP_aes_256_cbc)
    MESHCA_RESOLVE(EVP_PKEY_free)
#undef MESHCA_RESOLVE
    c.loaded = 1;
    *meshca_crypto() = c;
}

/// Whether libcrypto could be loaded (it is looked up once).
static inline int meshca_libcrypto_available(void) {
    pthread_once(meshca_crypto_once(), meshca_load_libcrypto);
    return meshca_crypto()->loaded;
}

/// Re-encodes a PEM private key (any type) as PEM PKCS#8: encrypted with `pass` when `pass_len` > 0
/// (EVP_aes_256_cbc, OpenSSL's default PBKDF2 parameters), plain otherwise. `in_pass` opens an encrypted
/// input. Returns a malloc'ed NUL-terminated string (free with free()), or NULL: the input is not a key, the
/// input passphrase is wrong, or libcrypto is missing (`meshca_libcrypto_available`).
static inline char *meshca_pkcs8_pem(const char *in_pem, size_t in_len, const char *in_pass,
                                     const char *pass, size_t pass_len) {
    if (!meshca_libcrypto_available()) return NULL;
    const struct meshca_libcrypto *c = meshca_crypto();
    c->ERR_clear_error();
    BIO *in = c->BIO_new_mem_buf(in_pem, (int)in_len);
    if (!in) return NULL;
    EVP_PKEY *key = c->PEM_read_bio_PrivateKey(in, NULL, NULL, (void *)(in_pass ? in_pass : ""));
    c->BIO_free(in);
    if (!key) return NULL;
    BIO *out = c->BIO_new(c->BIO_s_mem());
    int ok = out && c->PEM_write_bio_PKCS8PrivateKey(out, key, pass_len > 0 ? c->EVP_aes_256_cbc() : NULL,
                                                     (const char *)pass, (int)pass_len, NULL, NULL);
    c->EVP_PKEY_free(key);
    char *result = NULL;
    if (ok) {
        char *data = NULL;
        long length = c->BIO_ctrl(out, BIO_CTRL_INFO, 0, (char *)&data);  // BIO_get_mem_data
        result = malloc((size_t)length + 1);
        if (result) {
            memcpy(result, data, (size_t)length);
            result[length] = 0;
        }
    }
    if (out) c->BIO_free(out);
    return result;
}

/// Overwrites memory that held a passphrase or key (not optimized away).
static inline void meshca_cleanse(void *pointer, size_t length) {
    volatile unsigned char *bytes = (volatile unsigned char *)pointer;
    while (length--) *bytes++ = 0;
}

#endif

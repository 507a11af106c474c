/* Keys and certificates: the SP key pair, IdP signing keys, xmlsec setup. */
#ifndef QSSO_KEYS_H
#define QSSO_KEYS_H

#include "qsso.h"

/* Initialises libxml2 and xmlsec (OpenSSL) once; shuts xmlsec down when
 * pool (the config pool) is cleared. Returns NULL or what failed. */
const char *qsso_keys_init_crypto(apr_pool_t *pool);

/* NULL when an EVP_PKEY is strong enough to trust (RSA of 2048 bits or
 * more, EC of 256 or more, other types left to xmlsec), else what it is,
 * e.g. "a 1024-bit RSA key; at least 2048 bits are required". */
const char *qsso_keys_check_strength(apr_pool_t *p, const void *evp_key);

/* Reads a PEM certificate. Objects live as long as p; NULL or an error
 * message naming the file. Refuses a weak key (qsso_keys_check_strength). */
const char *qsso_keys_load_cert(apr_pool_t *p, const char *file,
                                qsso_cert_t **out);
/* Reads an unencrypted PEM RSA private key (AuthnRequests are signed with
 * RSA-SHA256, assertions decrypted with RSA); other key types, and RSA
 * keys under 2048 bits, are refused with a message naming the file. */
const char *qsso_keys_load_key(apr_pool_t *p, const char *file,
                               qsso_key_t **out);
/* NULL when key belongs to cert, else a message naming both files. */
const char *qsso_keys_check_pair(apr_pool_t *p, const qsso_cert_t *cert,
                                 const qsso_key_t *key);

/* Builds the xmlsec handles: the SP key (if any) and one key per IdP
 * certificate. Needs qsso_keys_init_crypto(). Keys are freed with p. */
const char *qsso_keys_prepare_idp(apr_pool_t *p, qsso_idp_t *idp);
const char *qsso_keys_prepare_sp(apr_pool_t *p, qsso_key_t *key);

/* RSA-SHA256 signature of data with the SP key, base64-encoded in p;
 * NULL on failure. */
char *qsso_keys_sign_rsa_sha256(apr_pool_t *p, const qsso_key_t *key,
                                const char *data, apr_size_t len);

#endif

/*
 * Key material. Certificates and keys are read with OpenSSL while the
 * configuration is parsed (so errors name the file); the xmlsec handles
 * are built at startup, after xmlsec is initialised. Only keys from the
 * configuration are ever trusted: nothing here reads a key from a message.
 */
#include <string.h>
#include <libxml/globals.h>
#include <libxml/xmlerror.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <libxml/parser.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/keys.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_keys.h"

#define QSSO_KEYS_MAX_FILE (1024 * 1024)
#define QSSO_KEYS_MIN_RSA_BITS 2048
#define QSSO_KEYS_MIN_EC_BITS 256

static int qsso_keys_crypto_ready = 0;

static apr_status_t qsso_keys_shutdown_crypto(void *unused)
{
    (void)unused;
    xmlSecCryptoShutdown();
    xmlSecCryptoAppShutdown();
    xmlSecShutdown();
    qsso_keys_crypto_ready = 0;
    return APR_SUCCESS;
}

/* libxml2's global error handlers print to stderr (httpd's error log,
 * unprefixed, whatever the LogLevel): a POSTed response could write lines
 * there (C14N namespace errors, encoding errors). Refusals are logged by
 * qsso_refuse; these are silenced for every thread. */
static void qsso_keys_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void qsso_keys_silent_structured(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    (void)err;
}

const char *qsso_keys_init_crypto(apr_pool_t *pool)
{
    if (qsso_keys_crypto_ready)
        return NULL;
    xmlInitParser();
    xmlThrDefSetGenericErrorFunc(NULL, qsso_keys_silent);
    xmlThrDefSetStructuredErrorFunc(NULL, qsso_keys_silent_structured);
    xmlSetGenericErrorFunc(NULL, qsso_keys_silent);
    xmlSetStructuredErrorFunc(NULL, qsso_keys_silent_structured);
    if (xmlSecInit() < 0)
        return "xmlSecInit failed";
    if (xmlSecCheckVersion() != 1)
        return "the loaded xmlsec library does not match the headers";
    if (xmlSecCryptoAppInit(NULL) < 0)
        return "xmlSecCryptoAppInit (OpenSSL) failed";
    if (xmlSecCryptoInit() < 0)
        return "xmlSecCryptoInit (OpenSSL) failed";
    /* Verification failures are reported by our own refusal codes; keep
     * xmlsec's stderr chatter (and any hostile values in it) out of the
     * error log. */
    xmlSecErrorsDefaultCallbackEnableOutput(0);
    qsso_keys_crypto_ready = 1;
    apr_pool_cleanup_register(pool, NULL, qsso_keys_shutdown_crypto,
                              apr_pool_cleanup_null);
    return NULL;
}

static const char *qsso_keys_read_file(apr_pool_t *p, const char *file,
                                       char **data, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char buf[256];

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot open '%s': %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) != APR_SUCCESS
        || fi.size > QSSO_KEYS_MAX_FILE) {
        apr_file_close(f);
        return apr_psprintf(p, "'%s' is unreadable or larger than 1 MiB",
                            file);
    }
    *data = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, *data, (apr_size_t)fi.size, len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read '%s': %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    (*data)[*len] = '\0';
    return NULL;
}

static apr_status_t qsso_keys_free_x509(void *x)
{
    X509_free(x);
    return APR_SUCCESS;
}

static apr_status_t qsso_keys_free_evp(void *k)
{
    EVP_PKEY_free(k);
    return APR_SUCCESS;
}

static apr_status_t qsso_keys_free_xmlsec(void *k)
{
    xmlSecKeyDestroy(k);
    return APR_SUCCESS;
}

/* NIST SP 800-131A: RSA under 2048 bits (and EC under 256) is too weak
 * to sign logins with; DSA is not used by any current IdP. */
const char *qsso_keys_check_strength(apr_pool_t *p, const void *evp_key)
{
    const EVP_PKEY *k = evp_key;
    int bits = EVP_PKEY_bits(k);

    switch (EVP_PKEY_base_id(k)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        return bits < QSSO_KEYS_MIN_RSA_BITS
                   ? apr_psprintf(p, "a %d-bit RSA key; at least %d bits are "
                                  "required", bits, QSSO_KEYS_MIN_RSA_BITS)
                   : NULL;
    case EVP_PKEY_EC:
        return bits < QSSO_KEYS_MIN_EC_BITS
                   ? apr_psprintf(p, "a %d-bit EC key; at least %d bits are "
                                  "required", bits, QSSO_KEYS_MIN_EC_BITS)
                   : NULL;
    case EVP_PKEY_DSA:
        return apr_psprintf(p, "a %d-bit DSA key; use RSA (%d bits or more) "
                            "or EC", bits, QSSO_KEYS_MIN_RSA_BITS);
    default:
        return NULL;
    }
}

const char *qsso_keys_load_cert(apr_pool_t *p, const char *file,
                                qsso_cert_t **out)
{
    char *data;
    apr_size_t len;
    const char *err;
    BIO *bio;
    X509 *x;
    unsigned char *der = NULL;
    int derlen;
    qsso_cert_t *c;
    EVP_PKEY *pub;

    if ((err = qsso_keys_read_file(p, file, &data, &len)) != NULL)
        return err;
    bio = BIO_new_mem_buf(data, (int)len);
    x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (x == NULL)
        return apr_psprintf(p, "'%s' holds no PEM certificate "
                            "(-----BEGIN CERTIFICATE-----)", file);
    apr_pool_cleanup_register(p, x, qsso_keys_free_x509,
                              apr_pool_cleanup_null);
    pub = X509_get0_pubkey(x);
    if (pub == NULL)
        return apr_psprintf(p, "the certificate in '%s' has no usable public "
                            "key", file);
    if ((err = qsso_keys_check_strength(p, pub)) != NULL)
        return apr_psprintf(p, "the certificate in '%s' has %s", file, err);
    if ((derlen = i2d_X509(x, &der)) <= 0)
        return apr_psprintf(p, "cannot encode the certificate in '%s'", file);
    c = apr_pcalloc(p, sizeof(*c));
    c->file = apr_pstrdup(p, file);
    c->der_b64 = qsso_codec_base64_encode(p, der, (apr_size_t)derlen);
    c->x509 = x;
    OPENSSL_free(der);
    *out = c;
    return NULL;
}

const char *qsso_keys_load_key(apr_pool_t *p, const char *file,
                               qsso_key_t **out)
{
    char *data;
    apr_size_t len;
    const char *err;
    BIO *bio;
    EVP_PKEY *k;
    qsso_key_t *key;

    if ((err = qsso_keys_read_file(p, file, &data, &len)) != NULL)
        return err;
    bio = BIO_new_mem_buf(data, (int)len);
    /* No passphrase callback: an encrypted key fails here, not at login. */
    k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (k == NULL)
        return apr_psprintf(p, "'%s' holds no unencrypted PEM private key",
                            file);
    apr_pool_cleanup_register(p, k, qsso_keys_free_evp,
                              apr_pool_cleanup_null);
    if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA)
        return apr_psprintf(p, "'%s' is not an RSA key (AuthnRequests are "
                            "signed with RSA-SHA256)", file);
    if ((err = qsso_keys_check_strength(p, k)) != NULL)
        return apr_psprintf(p, "'%s' is %s", file, err);
    key = apr_pcalloc(p, sizeof(*key));
    key->file = apr_pstrdup(p, file);
    key->pem = data;
    key->pem_len = len;
    key->evp_key = k;
    *out = key;
    return NULL;
}

const char *qsso_keys_check_pair(apr_pool_t *p, const qsso_cert_t *cert,
                                 const qsso_key_t *key)
{
    int ok = X509_check_private_key(cert->x509, key->evp_key);

    ERR_clear_error();
    if (ok != 1)
        return apr_psprintf(p, "QSSOSPPrivateKeyFile '%s' does not belong to "
                            "QSSOSPCertFile '%s'", key->file, cert->file);
    return NULL;
}

const char *qsso_keys_prepare_idp(apr_pool_t *p, qsso_idp_t *idp)
{
    int i;

    if (idp->keys)
        return NULL;        /* shared by several sections */
    idp->keys = apr_array_make(p, idp->certs_der->nelts, sizeof(xmlSecKeyPtr));
    for (i = 0; i < idp->certs_der->nelts; i++) {
        qsso_blob_t *b = &APR_ARRAY_IDX(idp->certs_der, i, qsso_blob_t);
        xmlSecKeyPtr k = xmlSecCryptoAppKeyLoadMemory(
            b->data, (xmlSecSize)b->len, xmlSecKeyDataFormatCertDer, NULL,
            NULL, NULL);
        if (k == NULL)
            return apr_psprintf(p, "signing certificate %d in '%s' has no "
                                "usable public key", i + 1, idp->file);
        apr_pool_cleanup_register(p, k, qsso_keys_free_xmlsec,
                                  apr_pool_cleanup_null);
        APR_ARRAY_PUSH(idp->keys, xmlSecKeyPtr) = k;
    }
    return NULL;
}

const char *qsso_keys_prepare_sp(apr_pool_t *p, qsso_key_t *key)
{
    xmlSecKeyPtr k;

    if (key->xmlsec_key)
        return NULL;
    k = xmlSecCryptoAppKeyLoadMemory((const xmlSecByte *)key->pem,
                                     (xmlSecSize)key->pem_len,
                                     xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    if (k == NULL)
        return apr_psprintf(p, "xmlsec cannot use the key in '%s'",
                            key->file);
    apr_pool_cleanup_register(p, k, qsso_keys_free_xmlsec,
                              apr_pool_cleanup_null);
    key->xmlsec_key = k;
    return NULL;
}

char *qsso_keys_sign_rsa_sha256(apr_pool_t *p, const qsso_key_t *key,
                                const char *data, apr_size_t len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig;
    size_t siglen = 0;
    char *out = NULL;

    if (md == NULL)
        return NULL;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->evp_key) == 1
        && EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)data,
                          len) == 1) {
        sig = apr_palloc(p, siglen);
        if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data,
                           len) == 1)
            out = qsso_codec_base64_encode(p, sig, siglen);
    }
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return out;
}

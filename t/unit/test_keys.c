/*
 * qsso_keys.c: the SP key pair read from PEM files, the checks that name
 * the file when something is wrong, and the RSA-SHA256 query signature.
 */
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "qsso_test.h"
#include "qsso_codec.h"
#include "qsso_keys.h"

/* A temporary file holding the PEM of key (encrypted with pass when set),
 * deleted when the test's pool goes. */
static const char *qsso_test_key_file(apr_pool_t *p, EVP_PKEY *key,
                                      const char *pass)
{
    char *path = apr_pstrdup(p, "/tmp/qsso-unit-XXXXXX");
    BIO *bio = BIO_new(BIO_s_mem());
    apr_file_t *f;
    char *pem;
    long len;
    apr_size_t n;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, key,
                         pass ? EVP_aes_128_cbc() : NULL,
                         (unsigned char *)pass, pass ? (int)strlen(pass) : 0,
                         NULL, NULL), 1);
    len = BIO_get_mem_data(bio, &pem);
    assert_int_equal(apr_file_mktemp(&f, path, APR_FOPEN_CREATE
                                     | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                                     | APR_FOPEN_DELONCLOSE, p),
                     APR_SUCCESS);
    n = (apr_size_t)len;
    assert_int_equal(apr_file_write_full(f, pem, n, NULL), APR_SUCCESS);
    apr_file_flush(f);
    BIO_free(bio);
    return path;
}

static qsso_key_t *qsso_test_load_key(apr_pool_t *p, const char *file)
{
    qsso_key_t *key = NULL;
    const char *err = qsso_keys_load_key(p, file, &key);

    if (err)
        fail_msg("%s", err);
    return key;
}

static qsso_cert_t *qsso_test_load_cert(apr_pool_t *p, const char *file)
{
    qsso_cert_t *cert = NULL;
    const char *err = qsso_keys_load_cert(p, file, &cert);

    if (err)
        fail_msg("%s", err);
    return cert;
}

static void test_keys_loads_the_sp_certificate(void **state)
{
    qsso_cert_t *cert = qsso_test_load_cert(*state, QSSO_TEST_KEY("sp.crt"));
    const char *pem = qsso_test_read(*state, QSSO_TEST_KEY("sp.crt"), NULL);
    char *body = apr_pstrdup(*state, strchr(pem, '\n') + 1), *o = body;
    const char *s;

    /* der_b64 is the PEM body without its lines and armour */
    *strstr(body, "-----END") = '\0';
    for (s = body; *s; s++)
        if (*s != '\n')
            *o++ = *s;
    *o = '\0';
    qsso_assert_str(cert->der_b64, body);
    qsso_assert_str(cert->file, QSSO_TEST_KEY("sp.crt"));
    assert_non_null(cert->x509);
}

static void test_keys_loads_the_sp_key(void **state)
{
    qsso_key_t *key = qsso_test_load_key(*state, QSSO_TEST_KEY("sp.key"));

    assert_non_null(key->evp_key);
    assert_int_equal(EVP_PKEY_base_id(key->evp_key), EVP_PKEY_RSA);
    assert_null(key->xmlsec_key);
    assert_true(key->pem_len > 0);
    assert_null(qsso_keys_prepare_sp(*state, key));
    assert_non_null(key->xmlsec_key);
}

static void test_keys_pair_check_accepts_matching_files(void **state)
{
    assert_null(qsso_keys_check_pair(*state,
        qsso_test_load_cert(*state, QSSO_TEST_KEY("sp.crt")),
        qsso_test_load_key(*state, QSSO_TEST_KEY("sp.key"))));
}

static void test_keys_pair_check_names_both_files_of_a_mismatch(
    void **state)
{
    const char *err = qsso_keys_check_pair(*state,
        qsso_test_load_cert(*state, QSSO_TEST_KEY("idp1.crt")),
        qsso_test_load_key(*state, QSSO_TEST_KEY("sp.key")));

    qsso_assert_contains(err, "sp.key");
    qsso_assert_contains(err, "idp1.crt");
    qsso_assert_contains(err, "does not belong to");
}

static void test_keys_refuses_a_missing_file_naming_it(void **state)
{
    qsso_cert_t *cert;
    qsso_key_t *key;

    qsso_assert_contains(qsso_keys_load_cert(*state, "/nonexistent/sp.crt",
                                             &cert),
                         "cannot open '/nonexistent/sp.crt'");
    qsso_assert_contains(qsso_keys_load_key(*state, "/nonexistent/sp.key",
                                            &key),
                         "cannot open '/nonexistent/sp.key'");
}

static void test_keys_refuses_a_key_given_as_certificate(void **state)
{
    qsso_cert_t *cert;
    qsso_key_t *key;

    qsso_assert_contains(qsso_keys_load_cert(*state, QSSO_TEST_KEY("sp.key"),
                                             &cert),
                         "holds no PEM certificate");
    qsso_assert_contains(qsso_keys_load_key(*state, QSSO_TEST_KEY("sp.crt"),
                                            &key),
                         "holds no unencrypted PEM private key");
}

static void test_keys_refuses_an_encrypted_key(void **state)
{
    qsso_key_t *sp = qsso_test_load_key(*state, QSSO_TEST_KEY("sp.key"));
    qsso_key_t *key;
    const char *file = qsso_test_key_file(*state, sp->evp_key, "secret");

    qsso_assert_contains(qsso_keys_load_key(*state, file, &key),
                         "holds no unencrypted PEM private key");
}

static void test_keys_refuses_a_key_that_is_not_rsa(void **state)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    qsso_key_t *key;
    const char *file;

    assert_non_null(ec);
    file = qsso_test_key_file(*state, ec, NULL);
    EVP_PKEY_free(ec);
    qsso_assert_contains(qsso_keys_load_key(*state, file, &key),
                         "is not an RSA key");
}

static void test_keys_refuses_a_short_rsa_key_naming_file_and_size(
    void **state)
{
    qsso_key_t *key;
    const char *err = qsso_keys_load_key(*state, QSSO_TEST_KEY("weak.key"),
                                         &key);

    qsso_assert_contains(err, "weak.key");
    qsso_assert_contains(err, "a 1024-bit RSA key; at least 2048 bits are "
                              "required");
}

static void test_keys_refuses_a_certificate_with_a_short_rsa_key(
    void **state)
{
    qsso_cert_t *cert;
    const char *err = qsso_keys_load_cert(*state, QSSO_TEST_KEY("weak.crt"),
                                          &cert);

    qsso_assert_contains(err, "weak.crt");
    qsso_assert_contains(err, "1024-bit RSA key");
}

static void test_keys_strength_accepts_2048_rsa_and_p256(void **state)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    qsso_key_t *key = qsso_test_load_key(*state, QSSO_TEST_KEY("sp.key"));

    assert_non_null(ec);
    assert_null(qsso_keys_check_strength(*state, key->evp_key));
    assert_null(qsso_keys_check_strength(*state, ec));
    EVP_PKEY_free(ec);
}

static void test_keys_signature_verifies_with_the_certificate(void **state)
{
    qsso_key_t *key = qsso_test_load_key(*state, QSSO_TEST_KEY("sp.key"));
    qsso_cert_t *cert = qsso_test_load_cert(*state, QSSO_TEST_KEY("sp.crt"));
    const char *data = "SAMLRequest=abc&RelayState=def&SigAlg=ghi";
    char *sig = qsso_keys_sign_rsa_sha256(*state, key, data, strlen(data));
    EVP_PKEY *pub = X509_get_pubkey(cert->x509);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *raw;
    apr_size_t len;
    int ok, other;

    assert_non_null(sig);
    raw = (unsigned char *)qsso_codec_base64_decode(*state, sig, &len);
    assert_non_null(raw);
    assert_int_equal(len, 256);     /* RSA-2048 */
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
         && EVP_DigestVerify(md, raw, len, (const unsigned char *)data,
                             strlen(data)) == 1;
    other = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
            && EVP_DigestVerify(md, raw, len, (const unsigned char *)"x",
                                1) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    ERR_clear_error();
    assert_true(ok);
    assert_false(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_keys_loads_the_sp_certificate),
        QSSO_TEST(test_keys_loads_the_sp_key),
        QSSO_TEST(test_keys_pair_check_accepts_matching_files),
        QSSO_TEST(test_keys_pair_check_names_both_files_of_a_mismatch),
        QSSO_TEST(test_keys_refuses_a_missing_file_naming_it),
        QSSO_TEST(test_keys_refuses_a_key_given_as_certificate),
        QSSO_TEST(test_keys_refuses_an_encrypted_key),
        QSSO_TEST(test_keys_refuses_a_key_that_is_not_rsa),
        QSSO_TEST(test_keys_refuses_a_short_rsa_key_naming_file_and_size),
        QSSO_TEST(test_keys_refuses_a_certificate_with_a_short_rsa_key),
        QSSO_TEST(test_keys_strength_accepts_2048_rsa_and_p256),
        QSSO_TEST(test_keys_signature_verifies_with_the_certificate),
    };

    return QSSO_TEST_RUN("keys", tests);
}

/*
 * qsso_decrypt.c, through qsso_response_verify as the ACS calls it:
 * EncryptedAssertions written by the xmlsec1 tool and by pysaml2 (made by
 * fixtures/make.py over assertions pysaml2 signed), decrypted with
 * t/keys/sp.key; and the ways they are refused, each next to the
 * untampered response it came from. Also the depth limit on a whole
 * signed response.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_algs.h"
#include "qsso_codec.h"
#include "qsso_decrypt.h"
#include "qsso_errors.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_response.h"
#include "qsso_xml.h"
#include "fixtures/fixtures.h"

#define SKEW 90
#define CIPHER_VALUE "<xenc:CipherValue>"
#define ENC_OPEN "<ns1:EncryptedAssertion"
#define ENC_CLOSE "</ns1:EncryptedAssertion>"
#define ASSERTION_OPEN "<ns1:Assertion "
#define ASSERTION_CLOSE "</ns1:Assertion>"

typedef struct {
    int with_key;               /* QSSOSPPrivateKeyFile set */
    int enc_algs;
    int require_encrypted;
} qsso_test_sp_t;

static const qsso_test_sp_t qsso_test_sp = {1, 0, 0};

static const char *qsso_test_fixture(apr_pool_t *p, const char *name)
{
    const char *xml = qsso_test_read(
        p, apr_pstrcat(p, QSSO_UNIT_DIR "/fixtures/", name, NULL), NULL);

    qsso_assert_contains(xml, "IssueInstant=\"" QSSO_FIX_NOW "\"");
    return xml;
}

static qsso_key_t *qsso_test_sp_key(apr_pool_t *p)
{
    qsso_key_t *key = NULL;
    const char *err = qsso_keys_load_key(p, QSSO_TEST_KEY("sp.key"), &key);

    if (err == NULL)
        err = qsso_keys_prepare_sp(p, key);
    if (err)
        fail_msg("%s", err);
    return key;
}

static int qsso_test_verify(apr_pool_t *p, const char *xml,
                            const qsso_test_sp_t *sp, qsso_assertion_t *a,
                            qsso_err_t *err)
{
    qsso_idp_t *idp = NULL;
    qsso_response_input_t in;
    const char *msg = qsso_metadata_load_idp(
        p, QSSO_TEST_FIXTURE("idp-metadata.xml"), &idp);

    if (msg == NULL)
        msg = qsso_keys_prepare_idp(p, idp);
    if (msg)
        fail_msg("%s", msg);
    memset(&in, 0, sizeof(in));
    in.saml_response = qsso_codec_base64_encode(p, xml, strlen(xml));
    in.idp = idp;
    in.sp_entity_id = QSSO_FIX_SP;
    in.acs_url = QSSO_FIX_ACS;
    in.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC);
    in.clock_skew = SKEW;
    in.sp_key = sp->with_key ? qsso_test_sp_key(p) : NULL;
    in.enc_algs = sp->enc_algs;
    in.require_encrypted = sp->require_encrypted;
    return qsso_response_verify(p, &in, a, err);
}

static void qsso_test_accepts_with(apr_pool_t *p, const char *xml,
                                   const qsso_test_sp_t *sp)
{
    qsso_assertion_t a;
    qsso_err_t err;
    const apr_array_header_t *v;

    if (qsso_test_verify(p, xml, sp, &a, &err) != QSSO_OK)
        fail_msg("refused with %d: %s", err.code, err.detail);
    qsso_assert_str(a.name_id, QSSO_FIX_NAME_ID);
    qsso_assert_str(a.issuer, QSSO_FIX_IDP);
    qsso_assert_str(a.in_response_to, QSSO_FIX_REQUEST_ID);
    v = qsso_response_attr_values(&a, QSSO_FIX_GROUP_ATTR);
    assert_non_null(v);
    assert_int_equal(v->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(v, 1, const char *), "survey-admins");
}

static void qsso_test_accepts(apr_pool_t *p, const char *name)
{
    qsso_test_accepts_with(p, qsso_test_fixture(p, name), &qsso_test_sp);
}

static const char *qsso_test_refuses_with(apr_pool_t *p, const char *xml,
                                          const qsso_test_sp_t *sp, int code)
{
    qsso_assertion_t a;
    qsso_err_t err;
    int rc = qsso_test_verify(p, xml, sp, &a, &err);

    if (rc != code)
        fail_msg("expected %d, got %d: %s", code, rc,
                 err.detail ? err.detail : "(accepted)");
    assert_int_equal(err.status, qsso_err_status(code));
    assert_non_null(err.detail);
    return err.detail;
}

static const char *qsso_test_refuses(apr_pool_t *p, const char *xml,
                                     int code)
{
    return qsso_test_refuses_with(p, xml, &qsso_test_sp, code);
}

/* xml with one character of the base64 after the n-th (0-based)
 * CipherValue opening changed: a ciphertext damaged in transit or by
 * an attacker. */
static const char *qsso_test_flip_cipher(apr_pool_t *p, const char *xml,
                                         int n, int offset)
{
    char *copy = apr_pstrdup(p, xml), *s = copy;
    int i;

    for (i = 0; i <= n; i++) {
        s = strstr(s, CIPHER_VALUE);
        assert_non_null(s);
        s += strlen(CIPHER_VALUE);
    }
    s += offset;
    *s = *s == 'A' ? 'B' : 'A';
    return copy;
}

/* ---- accepted */

static void test_decrypt_accepts_oaep_aes128_cbc_signed_inside(void **state)
{
    qsso_test_accepts(*state, "response-encrypted.xml");
}

static void test_decrypt_accepts_oaep_aes256_gcm(void **state)
{
    qsso_test_accepts(*state, "response-encrypted-aes256-gcm.xml");
}

static void test_decrypt_accepts_response_signed_over_the_ciphertext(
    void **state)
{
    /* the assertion inside carries no signature of its own */
    const char *xml = qsso_test_fixture(*state,
                                        "response-encrypted-response-"
                                        "signed.xml");

    qsso_test_accepts_with(*state, xml, &qsso_test_sp);
}

static void test_decrypt_accepts_key_next_to_the_data(void **state)
{
    /* EncryptedKey as a sibling, reached by a same-document
     * RetrievalMethod (the Shibboleth IdP's shape) */
    qsso_test_accepts(*state, "response-encrypted-sibling-key.xml");
}

static void test_decrypt_accepts_pysaml2_plaintext_using_outer_prefixes(
    void **state)
{
    /* pysaml2 encrypts an Assertion whose prefixes the Response declares */
    const char *xml = qsso_test_fixture(*state,
                                        "response-encrypted-pysaml2.xml");

    qsso_assert_contains(xml, "xmlenc#aes256-cbc");
    qsso_test_accepts_with(*state, xml, &qsso_test_sp);
}

static void test_decrypt_accepts_rsa_1_5_only_when_listed(void **state)
{
    const char *xml = qsso_test_fixture(*state,
                                        "response-encrypted-rsa15.xml");
    qsso_test_sp_t sp = qsso_test_sp;

    qsso_assert_contains(qsso_test_refuses(*state, xml, 2128),
                         "RSA 1.5 is off by default");
    sp.enc_algs = QSSO_ALG_RSA_1_5 | QSSO_ALG_RSA_OAEP_MGF1P;
    qsso_test_accepts_with(*state, xml, &sp);
}

/* ---- the policy */

static void test_decrypt_refuses_3des_content(void **state)
{
    /* pysaml2's default content encryption */
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-encrypted-3des.xml"), 2128),
                         "tripledes-cbc\", which is not accepted");
}

static void test_decrypt_refuses_content_left_out_of_the_list(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-encrypted.xml");
    qsso_test_sp_t sp = qsso_test_sp;

    sp.enc_algs = QSSO_ALG_AES128_GCM | QSSO_ALG_AES256_GCM;
    qsso_assert_contains(qsso_test_refuses_with(*state, xml, &sp, 2128),
                         "content: aes128-gcm aes256-gcm");
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state, "response-encrypted-aes256-gcm.xml"),
                           &sp);
}

static void test_decrypt_refuses_without_a_key(void **state)
{
    qsso_test_sp_t sp = qsso_test_sp;

    sp.with_key = 0;
    qsso_assert_contains(qsso_test_refuses_with(*state, qsso_test_fixture(
                             *state, "response-encrypted.xml"), &sp, 2109),
                         "no QSSOSPPrivateKeyFile");
}

static void test_decrypt_refuses_a_key_info_that_fetches(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-encrypted.xml");

    xml = qsso_test_replace(*state, xml, "<xenc:EncryptedKey Id=\"EK1\">",
                            "<ns2:RetrievalMethod URI=\"http://evil.example/"
                            "k\"/><xenc:EncryptedKey Id=\"EK1\">");
    qsso_assert_contains(qsso_test_refuses(*state, xml, 2128),
                         "RetrievalMethod URI=http://evil.example/k");
}

static void test_decrypt_refuses_a_key_value_for_the_data(void **state)
{
    /* a key carried by the message is never used, and not accepted */
    const char *xml = qsso_test_fixture(*state, "response-encrypted.xml");

    xml = qsso_test_replace(*state, xml, "<xenc:EncryptedKey Id=\"EK1\">",
                            "<ns2:KeyValue><ns2:RSAKeyValue/></ns2:KeyValue>"
                            "<xenc:EncryptedKey Id=\"EK1\">");
    qsso_assert_contains(qsso_test_refuses(*state, xml, 2128),
                         "KeyInfo of EncryptedData carries <KeyValue");
}

static void test_decrypt_refuses_a_cipher_reference(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-encrypted.xml");
    const char *s = strstr(strstr(xml, "</xenc:EncryptedKey>"),
                           "<xenc:CipherData>");
    const char *e = strstr(s, "</xenc:CipherData>");

    xml = qsso_test_replace(*state, xml,
                            apr_pstrmemdup(*state, s, (apr_size_t)(e - s)),
                            "<xenc:CipherData><xenc:CipherReference URI="
                            "\"http://evil.example/c\"/>");
    qsso_assert_contains(qsso_test_refuses(*state, xml, 2128),
                         "CipherReference is not followed");
}

static void test_decrypt_refuses_encrypted_content_type(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-encrypted.xml");

    xml = qsso_test_replace(*state, xml, "xmlenc#Element\"",
                            "xmlenc#Content\"");
    qsso_assert_contains(qsso_test_refuses(*state, xml, 2128),
                         "not an encrypted element");
}

static void test_decrypt_skips_a_key_for_another_recipient(void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-encrypted-for-other-sp.xml"),
                             2128),
                         "no EncryptedKey is addressed to this SP");
}

/* ---- failures of the decryption: one answer */

static void test_decrypt_gives_one_answer_for_every_failure(void **state)
{
    const char *ok = qsso_test_fixture(*state, "response-encrypted.xml");
    const char *other_key = qsso_test_refuses(*state, qsso_test_fixture(
                                *state, "response-encrypted-attacker.xml"),
                                2128);
    /* CipherValue 0 is the session key, 1 the assertion */
    const char *bad_key = qsso_test_refuses(
        *state, qsso_test_flip_cipher(*state, ok, 0, 10), 2128);
    const char *bad_data = qsso_test_refuses(
        *state, qsso_test_flip_cipher(*state, ok, 1, 40), 2128);
    const char *bad_tail = qsso_test_refuses(
        *state, qsso_test_flip_cipher(*state, ok, 1, 4), 2128);

    qsso_assert_contains(other_key, "the causes are not told apart");
    qsso_assert_str(bad_key, other_key);
    qsso_assert_str(bad_data, other_key);
    qsso_assert_str(bad_tail, other_key);
    qsso_test_accepts_with(*state, ok, &qsso_test_sp);
}

static void test_decrypt_gcm_refuses_any_changed_byte(void **state)
{
    const char *ok = qsso_test_fixture(*state,
                                       "response-encrypted-aes256-gcm.xml");

    qsso_test_refuses(*state, qsso_test_flip_cipher(*state, ok, 1, 30), 2128);
}

static void test_decrypt_checks_the_response_signature_first(void **state)
{
    /* The Response is signed over the ciphertext: a changed byte breaks
     * that signature, and the key is never used. */
    const char *ok = qsso_test_fixture(*state,
                                       "response-encrypted-response-"
                                       "signed.xml");

    qsso_test_refuses(*state, qsso_test_flip_cipher(*state, ok, 1, 40),
                      2111);
}

/* ---- signatures after decryption */

static void test_decrypt_refuses_unsigned_encrypted_assertion(void **state)
{
    qsso_test_refuses(*state, qsso_test_fixture(
                          *state, "response-encrypted-unsigned.xml"), 2110);
}

/* ---- wrapping with encrypted and plain assertions */

static void test_decrypt_refuses_plain_assertion_beside_encrypted(
    void **state)
{
    const char *enc = qsso_test_fixture(*state, "response-encrypted.xml");
    const char *plain = qsso_test_fixture(*state,
                                          "response-assertion-signed.xml");
    const char *as = qsso_test_between(*state, plain, ASSERTION_OPEN,
                                       ASSERTION_CLOSE);
    const char *ea = qsso_test_between(*state, enc, ENC_OPEN, ENC_CLOSE);

    /* a signed plain assertion (another user's, say) next to ours */
    qsso_test_refuses(*state, qsso_test_replace(*state, enc, ea,
                          apr_pstrcat(*state, as, ea, NULL)), 2109);
    qsso_test_refuses(*state, qsso_test_replace(*state, enc, ea,
                          apr_pstrcat(*state, ea, as, NULL)), 2109);
}

static void test_decrypt_refuses_two_encrypted_assertions(void **state)
{
    const char *enc = qsso_test_fixture(*state, "response-encrypted.xml");
    const char *ea = qsso_test_between(*state, enc, ENC_OPEN, ENC_CLOSE);

    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_replace(
                             *state, enc, ea, apr_pstrcat(*state, ea, ea,
                                                          NULL)), 2109),
                         "0 Assertion elements and 2 EncryptedAssertion");
}

static void test_decrypt_refuses_encrypted_assertion_in_extensions(
    void **state)
{
    const char *enc = qsso_test_fixture(*state, "response-encrypted.xml");
    const char *plain = qsso_test_fixture(*state,
                                          "response-assertion-signed.xml");
    const char *as = qsso_test_between(*state, plain, ASSERTION_OPEN,
                                       ASSERTION_CLOSE);
    const char *ea = qsso_test_between(*state, enc, ENC_OPEN, ENC_CLOSE);
    const char *moved = apr_pstrcat(*state, "<ns0:Extensions>", ea,
                                    "</ns0:Extensions>", NULL);

    /* alone in Extensions: not a direct child */
    qsso_test_refuses(*state, qsso_test_replace(*state, enc, ea, moved),
                      2109);
    /* in Extensions, with a plain one where it was */
    qsso_test_refuses(*state, qsso_test_replace(*state, enc, ea,
                          apr_pstrcat(*state, moved, as, NULL)), 2109);
}

/* ---- QSSORequireEncryptedAssertion */

static void test_decrypt_required_refuses_plain_assertion(void **state)
{
    qsso_test_sp_t sp = qsso_test_sp;

    sp.require_encrypted = 1;
    qsso_assert_contains(qsso_test_refuses_with(*state, qsso_test_fixture(
                             *state, "response-assertion-signed.xml"), &sp,
                             2129),
                         "QSSORequireEncryptedAssertion");
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state, "response-encrypted.xml"), &sp);
}

/* ---- qsso_decrypt_assertion itself */

static void test_decrypt_replaces_the_element_in_its_document(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-encrypted.xml");
    qsso_decrypt_input_t in = {qsso_test_sp_key(*state),
                               QSSO_ALGS_ENC_DEFAULT, QSSO_FIX_SP};
    xmlDocPtr doc;
    xmlNodePtr root, enc, a = NULL;
    const char *why = NULL;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_OK);
    root = xmlDocGetRootElement(doc);
    enc = qsso_xml_child(root, QSSO_NS_SAML, "EncryptedAssertion");
    assert_non_null(enc);
    assert_int_equal(qsso_decrypt_assertion(*state, &in, enc, &a, &why),
                     QSSO_OK);
    assert_true(a->parent == root);
    assert_true(a->doc == doc);
    assert_true(qsso_xml_child(root, QSSO_NS_SAML, "Assertion") == a);
    assert_null(qsso_xml_child(root, QSSO_NS_SAML, "EncryptedAssertion"));
}

static void test_decrypt_leaves_the_document_alone_on_failure(void **state)
{
    const char *xml = qsso_test_fixture(*state,
                                        "response-encrypted-attacker.xml");
    qsso_decrypt_input_t in = {qsso_test_sp_key(*state),
                               QSSO_ALGS_ENC_DEFAULT, QSSO_FIX_SP};
    xmlDocPtr doc;
    xmlNodePtr root, enc, a = NULL;
    const char *why = NULL;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_OK);
    root = xmlDocGetRootElement(doc);
    enc = qsso_xml_child(root, QSSO_NS_SAML, "EncryptedAssertion");
    assert_int_equal(qsso_decrypt_assertion(*state, &in, enc, &a, &why), -1);
    assert_non_null(why);
    assert_null(a);
    assert_true(qsso_xml_child(root, QSSO_NS_SAML, "EncryptedAssertion")
                == enc);
}

/* ---- depth */

static void test_decrypt_depth_accepts_64_levels_and_refuses_65(
    void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-depth-64.xml");
    const char *inner = "<ns3:e/>";
    qsso_test_sp_t sp = qsso_test_sp;
    qsso_assertion_t a;
    qsso_err_t err;

    if (strstr(xml, inner) == NULL)
        inner = "<ns4:e/>";
    if (qsso_test_verify(*state, xml, &sp, &a, &err) != QSSO_OK)
        fail_msg("refused with %d: %s", err.code, err.detail);
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_replace(
                             *state, xml, inner,
                             apr_pstrcat(*state, "<e xmlns=\"urn:x\">",
                                         inner, "</e>", NULL)),
                             2130),
                         "more than 64 levels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_decrypt_accepts_oaep_aes128_cbc_signed_inside),
        QSSO_TEST(test_decrypt_accepts_oaep_aes256_gcm),
        QSSO_TEST(test_decrypt_accepts_response_signed_over_the_ciphertext),
        QSSO_TEST(test_decrypt_accepts_key_next_to_the_data),
        QSSO_TEST(
            test_decrypt_accepts_pysaml2_plaintext_using_outer_prefixes),
        QSSO_TEST(test_decrypt_accepts_rsa_1_5_only_when_listed),
        QSSO_TEST(test_decrypt_refuses_3des_content),
        QSSO_TEST(test_decrypt_refuses_content_left_out_of_the_list),
        QSSO_TEST(test_decrypt_refuses_without_a_key),
        QSSO_TEST(test_decrypt_refuses_a_key_info_that_fetches),
        QSSO_TEST(test_decrypt_refuses_a_key_value_for_the_data),
        QSSO_TEST(test_decrypt_refuses_a_cipher_reference),
        QSSO_TEST(test_decrypt_refuses_encrypted_content_type),
        QSSO_TEST(test_decrypt_skips_a_key_for_another_recipient),
        QSSO_TEST(test_decrypt_gives_one_answer_for_every_failure),
        QSSO_TEST(test_decrypt_gcm_refuses_any_changed_byte),
        QSSO_TEST(test_decrypt_checks_the_response_signature_first),
        QSSO_TEST(test_decrypt_refuses_unsigned_encrypted_assertion),
        QSSO_TEST(test_decrypt_refuses_plain_assertion_beside_encrypted),
        QSSO_TEST(test_decrypt_refuses_two_encrypted_assertions),
        QSSO_TEST(test_decrypt_refuses_encrypted_assertion_in_extensions),
        QSSO_TEST(test_decrypt_required_refuses_plain_assertion),
        QSSO_TEST(test_decrypt_replaces_the_element_in_its_document),
        QSSO_TEST(test_decrypt_leaves_the_document_alone_on_failure),
        QSSO_TEST(test_decrypt_depth_accepts_64_levels_and_refuses_65),
    };

    return QSSO_TEST_RUN("decrypt", tests);
}

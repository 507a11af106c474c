/*
 * qsso_response.c: qsso_response_verify on responses signed by pysaml2
 * (t/unit/fixtures, made by make.py with a frozen clock), and on tampered
 * copies made here, each next to the untampered response it came from.
 * `now` is the fixtures' IssueInstant unless a test moves it.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_codec.h"
#include "qsso_errors.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_response.h"
#include "fixtures/fixtures.h"

#define SKEW 90
#define EMAIL_FMT "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
#define ASSERTION_OPEN "<ns1:Assertion "
#define ASSERTION_CLOSE "</ns1:Assertion>"
#define SIGNATURE_OPEN "<ns2:Signature "
#define SIGNATURE_CLOSE "</ns2:Signature>"

typedef struct {
    const char *metadata;       /* fixture name */
    apr_time_t now;
    int skew;
    const char *sp_entity_id;
    const char *acs_url;
} qsso_test_verify_t;

static qsso_test_verify_t qsso_test_defaults(void)
{
    qsso_test_verify_t v = {"idp-metadata.xml",
                            QSSO_TEST_TIME(QSSO_FIX_NOW_SEC), SKEW,
                            QSSO_FIX_SP, QSSO_FIX_ACS};
    return v;
}

static const char *qsso_test_fixture(apr_pool_t *p, const char *name)
{
    const char *xml = qsso_test_read(
        p, apr_pstrcat(p, QSSO_UNIT_DIR "/fixtures/", name, NULL), NULL);

    /* the clock the fixtures were signed at is the `now` of the tests */
    qsso_assert_contains(xml, "IssueInstant=\"" QSSO_FIX_NOW "\"");
    return xml;
}

/* Verifies the base64 SAMLResponse b64 as the ACS would. */
static int qsso_test_verify_b64(apr_pool_t *p, const char *b64,
                                const qsso_test_verify_t *v,
                                qsso_assertion_t *a, qsso_err_t *err)
{
    qsso_idp_t *idp = NULL;
    qsso_response_input_t in;
    const char *msg = qsso_metadata_load_idp(
        p, apr_pstrcat(p, QSSO_UNIT_DIR "/fixtures/", v->metadata, NULL),
        &idp);

    if (msg == NULL)
        msg = qsso_keys_prepare_idp(p, idp);
    if (msg)
        fail_msg("%s", msg);
    memset(&in, 0, sizeof(in));
    in.saml_response = b64;
    in.idp = idp;
    in.sp_entity_id = v->sp_entity_id;
    in.acs_url = v->acs_url;
    in.now = v->now;
    in.clock_skew = v->skew;
    return qsso_response_verify(p, &in, a, err);
}

static int qsso_test_verify_with(apr_pool_t *p, const char *xml,
                                 const qsso_test_verify_t *v,
                                 qsso_assertion_t *a, qsso_err_t *err)
{
    return qsso_test_verify_b64(p, qsso_codec_base64_encode(p, xml,
                                                            strlen(xml)),
                                v, a, err);
}

static void qsso_test_accepts_with(apr_pool_t *p, const char *xml,
                                   const qsso_test_verify_t *v,
                                   qsso_assertion_t *a)
{
    qsso_err_t err;
    int rc = qsso_test_verify_with(p, xml, v, a, &err);

    if (rc != QSSO_OK)
        fail_msg("refused with %d: %s", rc, err.detail);
}

static void qsso_test_accepts(apr_pool_t *p, const char *xml,
                              qsso_assertion_t *a)
{
    qsso_test_verify_t v = qsso_test_defaults();

    qsso_test_accepts_with(p, xml, &v, a);
}

/* Refused with code (and its status), and a detail for the log line. */
static const char *qsso_test_refuses_with(apr_pool_t *p, const char *xml,
                                          const qsso_test_verify_t *v,
                                          int code)
{
    qsso_assertion_t a;
    qsso_err_t err;
    int rc = qsso_test_verify_with(p, xml, v, &a, &err);

    if (rc != code)
        fail_msg("expected %d, got %d: %s", code, rc,
                 err.detail ? err.detail : "(accepted)");
    assert_int_equal(err.code, code);
    assert_int_equal(err.status, qsso_err_status(code));
    assert_non_null(err.detail);
    return err.detail;
}

static const char *qsso_test_refuses(apr_pool_t *p, const char *xml,
                                     int code)
{
    qsso_test_verify_t v = qsso_test_defaults();

    return qsso_test_refuses_with(p, xml, &v, code);
}

/* The value of the first attr="..." after the first `after`. */
static const char *qsso_test_attr_after(apr_pool_t *p, const char *xml,
                                        const char *after, const char *attr)
{
    const char *s = strstr(xml, after), *e;
    const char *key = apr_pstrcat(p, " ", attr, "=\"", NULL);

    assert_non_null(s);
    s = strstr(s, key);
    assert_non_null(s);
    s += strlen(key);
    e = strchr(s, '"');
    return apr_pstrmemdup(p, s, (apr_size_t)(e - s));
}

/* ---- accepted */

static void test_response_accepts_signed_response(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    qsso_assertion_t a;

    qsso_test_accepts(*state, xml, &a);
    qsso_assert_str(a.response_id,
                    qsso_test_attr_after(*state, xml, "<ns0:Response", "ID"));
    qsso_assert_str(a.assertion_id,
                    qsso_test_attr_after(*state, xml, ASSERTION_OPEN, "ID"));
    qsso_assert_str(a.in_response_to, QSSO_FIX_REQUEST_ID);
    qsso_assert_str(a.issuer, QSSO_FIX_IDP);
    qsso_assert_str(a.name_id, QSSO_FIX_NAME_ID);
    qsso_assert_str(a.name_id_format, EMAIL_FMT);
    /* kept in the replay cache until the assertion's end plus the skew */
    assert_true(a.not_on_or_after
                == QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + QSSO_FIX_LIFETIME + SKEW));
    assert_true(a.session_not_on_or_after == 0);
}

static void test_response_reads_attributes_by_exact_name(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const apr_array_header_t *v;
    qsso_assertion_t a;

    qsso_test_accepts(*state, xml, &a);
    assert_int_equal(a.attrs->nelts, 2);
    v = qsso_response_attr_values(&a, QSSO_FIX_EMAIL_ATTR);
    assert_non_null(v);
    assert_int_equal(v->nelts, 1);
    qsso_assert_str(APR_ARRAY_IDX(v, 0, const char *), "ana@example.org");
    v = qsso_response_attr_values(&a, QSSO_FIX_GROUP_ATTR);
    assert_non_null(v);
    assert_int_equal(v->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(v, 0, const char *), "staff");
    qsso_assert_str(APR_ARRAY_IDX(v, 1, const char *), "survey-admins");
    assert_null(qsso_response_attr_values(&a, "http://schemas.xmlsoap.org/"
                                              "claims/group"));
    assert_null(qsso_response_attr_values(&a, "mail"));
    assert_null(qsso_response_attr_values(&a, NULL));
}

static void test_response_accepts_signed_assertion(void **state)
{
    qsso_assertion_t a;

    qsso_test_accepts(*state, qsso_test_fixture(
                          *state, "response-assertion-signed.xml"), &a);
    qsso_assert_str(a.name_id, QSSO_FIX_NAME_ID);
    qsso_assert_str(a.in_response_to, QSSO_FIX_REQUEST_ID);
}

static void test_response_accepts_response_and_assertion_both_signed(
    void **state)
{
    qsso_assertion_t a;

    qsso_test_accepts(*state, qsso_test_fixture(
                          *state, "response-both-signed.xml"), &a);
    qsso_assert_str(a.name_id, QSSO_FIX_NAME_ID);
}

static void test_response_accepts_idp_initiated_response(void **state)
{
    qsso_assertion_t a;

    qsso_test_accepts(*state, qsso_test_fixture(
                          *state, "response-idp-initiated.xml"), &a);
    assert_null(a.in_response_to);
}

static void test_response_accepts_base64_with_line_breaks(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const char *b64 = qsso_codec_base64_encode(*state, xml, strlen(xml));
    char *wrapped = apr_palloc(*state, strlen(b64) * 2 + 1), *o = wrapped;
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;
    qsso_err_t err;
    apr_size_t i;

    for (i = 0; b64[i]; i++) {
        *o++ = b64[i];
        if (i % 76 == 75)
            *o++ = '\n';
    }
    *o = '\0';
    assert_int_equal(qsso_test_verify_b64(*state, wrapped, &v, &a, &err),
                     QSSO_OK);
}

static void test_response_reads_session_not_on_or_after(void **state)
{
    qsso_assertion_t a;

    qsso_test_accepts(*state, qsso_test_fixture(
                          *state, "response-session-end.xml"), &a);
    /* 2030-01-15T18:00:00Z */
    assert_true(a.session_not_on_or_after
                == QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 8 * 3600));
}

/* ---- keys */

static void test_response_accepts_second_certificate_of_the_metadata(
    void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;

    v.metadata = "idp-metadata-two-certs.xml";
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state, "response-signed-idp2.xml"), &v, &a);
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state, "response-signed.xml"), &v, &a);
}

static void test_response_refuses_certificate_missing_from_metadata(
    void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-signed-idp2.xml"), 2111),
                         "does not verify with any of the 1 certificate(s)");
}

static void test_response_refuses_signature_by_attacker_key(void **state)
{
    /* its KeyInfo carries the attacker's certificate: never consulted */
    qsso_test_refuses(*state, qsso_test_fixture(
                          *state, "response-signed-attacker.xml"), 2111);
}

/* ---- signatures */

static void test_response_refuses_unsigned_response(void **state)
{
    qsso_test_refuses(*state, qsso_test_fixture(*state,
                                                "response-unsigned.xml"),
                      2110);
}

static void test_response_refuses_response_with_signature_removed(
    void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const char *sig = qsso_test_between(*state, xml, SIGNATURE_OPEN,
                                        SIGNATURE_CLOSE);

    qsso_test_refuses(*state, qsso_test_replace(*state, xml, sig, ""), 2110);
}

static void test_response_refuses_assertion_with_signature_removed(
    void **state)
{
    const char *xml = qsso_test_fixture(*state,
                                        "response-assertion-signed.xml");
    const char *sig = qsso_test_between(*state, xml, SIGNATURE_OPEN,
                                        SIGNATURE_CLOSE);

    qsso_test_refuses(*state, qsso_test_replace(*state, xml, sig, ""), 2110);
}

static void test_response_refuses_attribute_changed_after_signing(
    void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");

    qsso_test_refuses(*state, qsso_test_replace(*state, xml,
                          ">survey-admins<", ">survey-owners<"), 2111);
}

static void test_response_refuses_name_id_changed_after_signing(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");

    qsso_test_refuses(*state, qsso_test_replace(*state, xml,
                          ">" QSSO_FIX_NAME_ID "<", ">boss@example.org<"),
                      2111);
}

static void test_response_refuses_signed_assertion_changed_after_signing(
    void **state)
{
    const char *xml = qsso_test_fixture(*state,
                                        "response-assertion-signed.xml");

    qsso_test_refuses(*state, qsso_test_replace(*state, xml,
                          ">survey-admins<", ">survey-owners<"), 2111);
}

static void test_response_refuses_rsa_sha1_signature(void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-rsa-sha1.xml"), 2113),
                         "xmldsig#rsa-sha1");
}

static void test_response_refuses_sha1_digest(void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-sha1-digest.xml"), 2113),
                         "DigestMethod");
}

static void test_response_refuses_signature_referencing_another_element(
    void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const char *rid = qsso_test_attr_after(*state, xml, "<ns0:Response", "ID");
    const char *aid = qsso_test_attr_after(*state, xml, ASSERTION_OPEN, "ID");

    xml = qsso_test_replace(*state, xml,
                            apr_pstrcat(*state, "URI=\"#", rid, "\"", NULL),
                            apr_pstrcat(*state, "URI=\"#", aid, "\"", NULL));
    qsso_test_refuses(*state, xml, 2112);
}

/* ---- structure: wrapping, IDs, XML */

static void test_response_reads_name_id_across_a_comment(void **state)
{
    /* Exclusive c14n drops comments, so the signature still verifies;
     * the NameID must still read as the whole signed text. */
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    qsso_assertion_t a;

    xml = qsso_test_replace(*state, xml, ">ana@example.org.evil.example<",
                            ">ana@example.org<!---->.evil.example<");
    qsso_test_accepts(*state, xml, &a);
    qsso_assert_str(a.name_id, QSSO_FIX_NAME_ID);
}

static void test_response_reads_attribute_across_a_comment(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const apr_array_header_t *v;
    qsso_assertion_t a;

    xml = qsso_test_replace(*state, xml, ">survey-admins<",
                            ">survey<!-- -->-admins<");
    qsso_test_accepts(*state, xml, &a);
    v = qsso_response_attr_values(&a, QSSO_FIX_GROUP_ATTR);
    qsso_assert_str(APR_ARRAY_IDX(v, 1, const char *), "survey-admins");
}

static void test_response_refuses_two_assertions(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const char *as = qsso_test_between(*state, xml, ASSERTION_OPEN,
                                       ASSERTION_CLOSE);
    const char *aid = qsso_test_attr_after(*state, xml, ASSERTION_OPEN, "ID");
    const char *copy = qsso_test_replace(*state, as,
                                         apr_pstrcat(*state, "ID=\"", aid,
                                                     "\"", NULL),
                                         "ID=\"_second\"");

    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_replace(
                             *state, xml, as, apr_pstrcat(*state, as, copy,
                                                          NULL)), 2109),
                         "holds 2 Assertion elements");
}

static void test_response_refuses_signed_assertion_moved_into_extensions(
    void **state)
{
    /* Wrapping: the signed assertion hides in Extensions, a forged one
     * with another ID takes its place. */
    const char *xml = qsso_test_fixture(*state,
                                        "response-assertion-signed.xml");
    const char *as = qsso_test_between(*state, xml, ASSERTION_OPEN,
                                       ASSERTION_CLOSE);
    const char *aid = qsso_test_attr_after(*state, xml, ASSERTION_OPEN, "ID");
    const char *forged = qsso_test_replace(*state, as, ">" QSSO_FIX_NAME_ID
                                           "<", ">boss@example.org<");

    forged = qsso_test_replace(*state, forged,
                               apr_pstrcat(*state, "ID=\"", aid, "\"", NULL),
                               "ID=\"_forged\"");
    xml = qsso_test_replace(*state, xml, as, apr_pstrcat(*state,
                            "<ns0:Extensions>", as, "</ns0:Extensions>",
                            forged, NULL));
    qsso_test_refuses(*state, xml, 2109);
}

static void test_response_refuses_duplicate_ids(void **state)
{
    /* The same wrapping, keeping the ID: "#ID" would be ambiguous. */
    const char *xml = qsso_test_fixture(*state,
                                        "response-assertion-signed.xml");
    const char *as = qsso_test_between(*state, xml, ASSERTION_OPEN,
                                       ASSERTION_CLOSE);
    const char *forged = qsso_test_replace(*state, as, ">" QSSO_FIX_NAME_ID
                                           "<", ">boss@example.org<");

    xml = qsso_test_replace(*state, xml, as, apr_pstrcat(*state, forged,
                            "<ns0:Extensions>", as, "</ns0:Extensions>",
                            NULL));
    qsso_assert_contains(qsso_test_refuses(*state, xml, 2108),
                         "appears more than once");
}

static void test_response_refuses_id_shared_by_response_and_assertion(
    void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const char *rid = qsso_test_attr_after(*state, xml, "<ns0:Response", "ID");
    const char *aid = qsso_test_attr_after(*state, xml, ASSERTION_OPEN, "ID");

    qsso_test_refuses(*state, qsso_test_replace(*state, xml,
                          apr_pstrcat(*state, "ID=\"", aid, "\"", NULL),
                          apr_pstrcat(*state, "ID=\"", rid, "\"", NULL)),
                      2108);
}

static void test_response_refuses_encrypted_assertion(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");
    const char *as = qsso_test_between(*state, xml, ASSERTION_OPEN,
                                       ASSERTION_CLOSE);

    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_replace(
                             *state, xml, as, "<ns1:EncryptedAssertion/>"),
                             2109),
                         "EncryptedAssertion");
}

static void test_response_refuses_doctype_with_external_entity(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");

    xml = qsso_test_replace(*state, xml, "<?xml version=\"1.0\"?>",
                            "<?xml version=\"1.0\"?><!DOCTYPE ns0:Response "
                            "[<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>");
    xml = qsso_test_replace(*state, xml, ">" QSSO_FIX_NAME_ID "<",
                            ">&xxe;<");
    qsso_test_refuses(*state, xml, 2106);
}

static void test_response_refuses_malformed_xml(void **state)
{
    const char *xml = qsso_test_fixture(*state, "response-signed.xml");

    qsso_test_refuses(*state, apr_pstrndup(*state, xml, strlen(xml) / 2),
                      2105);
}

static void test_response_refuses_other_root_element(void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_read(*state,
                             QSSO_TEST_FIXTURE("sp-metadata.xml"), NULL),
                             2107),
                         "<EntityDescriptor>");
}

/* ---- encoding */

static void test_response_refuses_text_that_is_not_base64(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;
    qsso_err_t err;

    assert_int_equal(qsso_test_verify_b64(*state, "PHNhbWxwOlJlc3Bvbn!",
                                          &v, &a, &err), 2103);
    assert_int_equal(err.status, 400);
    assert_int_equal(qsso_test_verify_b64(*state, "<samlp:Response/>", &v,
                                          &a, &err), 2103);
    assert_int_equal(qsso_test_verify_b64(*state, "PHN=hbW", &v, &a, &err),
                     2103);
}

static void test_response_refuses_empty_response(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;
    qsso_err_t err;

    assert_int_equal(qsso_test_verify_b64(*state, "", &v, &a, &err), 2103);
    assert_int_equal(qsso_test_verify_b64(*state, NULL, &v, &a, &err), 2103);
    assert_int_equal(qsso_test_verify_b64(*state, " \r\n", &v, &a, &err),
                     2103);
}

/* ---- status, issuer, destination, audience, subject */

static void test_response_refuses_status_other_than_success(void **state)
{
    const char *detail = qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-status-responder.xml"), 2114);

    qsso_assert_contains(detail, "status:Responder");
    qsso_assert_contains(detail, "user is not assigned to this application");
}

static void test_response_refuses_other_issuer(void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-other-issuer.xml"), 2115),
                         QSSO_FIX_OTHER_IDP);
}

static void test_response_refuses_other_destination(void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-other-destination.xml"),
                             2116),
                         QSSO_FIX_OTHER_ACS);
}

static void test_response_refuses_signed_response_without_destination(
    void **state)
{
    qsso_test_refuses(*state, qsso_test_fixture(
                          *state, "response-no-destination.xml"), 2116);
}

static void test_response_refuses_when_this_acs_url_differs(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();

    /* the same response, at an SP whose base URL is configured otherwise */
    v.acs_url = "http://sp.example.org/qsso/acs";
    qsso_test_refuses_with(*state, qsso_test_fixture(*state,
                               "response-signed.xml"), &v, 2116);
}

static void test_response_refuses_response_for_other_audience(void **state)
{
    const char *detail = qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-other-audience.xml"), 2104);

    qsso_assert_contains(detail, QSSO_FIX_OTHER_SP);
    qsso_assert_contains(detail, QSSO_FIX_SP);
}

static void test_response_refuses_when_this_entity_id_differs(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();

    v.sp_entity_id = QSSO_FIX_SP "/";
    qsso_test_refuses_with(*state, qsso_test_fixture(*state,
                               "response-signed.xml"), &v, 2104);
}

static void test_response_refuses_confirmation_for_other_recipient(
    void **state)
{
    qsso_assert_contains(qsso_test_refuses(*state, qsso_test_fixture(
                             *state, "response-other-recipient.xml"), 2121),
                         QSSO_FIX_OTHER_ACS);
}

static void test_response_refuses_confirmation_for_other_request(
    void **state)
{
    qsso_test_refuses(*state, qsso_test_fixture(
                          *state, "response-other-in-response-to.xml"), 2123);
}

/* ---- time */

static void test_response_accepts_until_conditions_end_plus_skew(
    void **state)
{
    /* Conditions NotOnOrAfter is 10:01:00, the confirmation's 10:05:00 */
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 60 + SKEW - 1);
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state, "response-conditions-end-first.xml"),
                           &v, &a);
    assert_true(a.not_on_or_after
                == QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 60 + SKEW));
}

static void test_response_refuses_after_conditions_end_plus_skew(
    void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 60 + SKEW);
    qsso_assert_contains(qsso_test_refuses_with(*state, qsso_test_fixture(
                             *state, "response-conditions-end-first.xml"),
                             &v, 2120),
                         "NotOnOrAfter 2030-01-15T10:01:00Z has passed");
}

static void test_response_accepts_until_confirmation_ends_plus_skew(
    void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 60 + SKEW - 1);
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state,
                               "response-confirmation-ends-first.xml"),
                           &v, &a);
    assert_true(a.not_on_or_after
                == QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 60 + SKEW));
}

static void test_response_refuses_after_confirmation_ends_plus_skew(
    void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + 60 + SKEW);
    qsso_test_refuses_with(*state, qsso_test_fixture(
                               *state,
                               "response-confirmation-ends-first.xml"),
                           &v, 2122);
}

static void test_response_refuses_expired_response(void **state)
{
    /* pysaml2 ends Conditions and confirmation at the same instant;
     * whichever is checked first, the response is refused as expired. */
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;
    qsso_err_t err;
    int rc;

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC + QSSO_FIX_LIFETIME + SKEW);
    rc = qsso_test_verify_with(*state, qsso_test_fixture(
                                   *state, "response-signed.xml"),
                               &v, &a, &err);
    if (rc != 2120 && rc != 2122)
        fail_msg("expected 2120 or 2122, got %d", rc);
}

static void test_response_accepts_from_not_before_minus_skew(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();
    qsso_assertion_t a;

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC - SKEW);
    qsso_test_accepts_with(*state, qsso_test_fixture(
                               *state, "response-signed.xml"), &v, &a);
}

static void test_response_refuses_before_not_before_minus_skew(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();

    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC - SKEW - 1);
    qsso_assert_contains(qsso_test_refuses_with(*state, qsso_test_fixture(
                             *state, "response-signed.xml"), &v, 2119),
                         "NotBefore 2030-01-15T10:00:00Z is later than now");
}

static void test_response_refuses_not_yet_valid_without_skew(void **state)
{
    qsso_test_verify_t v = qsso_test_defaults();

    v.skew = 0;
    v.now = QSSO_TEST_TIME(QSSO_FIX_NOW_SEC - 1);
    qsso_test_refuses_with(*state, qsso_test_fixture(
                               *state, "response-signed.xml"), &v, 2119);
}

/* ---- xs:dateTime */

static void test_response_parse_time_reads_utc_and_offsets(void **state)
{
    static const struct {
        const char *s;
        long sec;
    } ok[] = {
        {"2030-01-15T10:00:00Z", 1894701600L},
        {"2030-01-15T10:00:00.123456Z", 1894701600L},
        {"2030-01-15T12:00:00+02:00", 1894701600L},
        {"2030-01-15T04:30:00-05:30", 1894701600L},
        {"2030-01-15T10:00:00", 1894701600L},
        {"1970-01-01T00:00:00Z", 0L},
    };
    apr_size_t i;
    apr_time_t t;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (qsso_response_parse_time(ok[i].s, &t) != 0)
            fail_msg("\"%s\" was refused", ok[i].s);
        if (t != QSSO_TEST_TIME(ok[i].sec))
            fail_msg("\"%s\" read as %lld", ok[i].s,
                     (long long)apr_time_sec(t));
    }
}

static void test_response_parse_time_refuses_what_is_not_a_datetime(
    void **state)
{
    static const char *const bad[] = {
        "", "now", "2030-01-15", "2030-01-15 10:00:00Z",
        "2030-13-15T10:00:00Z", "2030-00-15T10:00:00Z",
        "2030-01-32T10:00:00Z", "2030-01-15T24:00:00Z",
        "2030-01-15T10:60:00Z", "2030-01-15T10:00:00.Z",
        "2030-01-15T10:00:00ZZ", "2030-01-15T10:00:00+0200",
        "2030-01-15T10:00:00 Z", "1969-12-31T23:59:59Z",
        "2030-01-15T-1:00:00Z", "2030-01-15T10:-5:00Z",
        "2030-01-15T10:00:-1Z", "2030-01-15T10: 5:00Z",
        "2030-01-15T+1:00:00Z", "2030-1-15T10:00:00Z",
    };
    apr_size_t i;
    apr_time_t t;

    (void)state;
    assert_int_equal(qsso_response_parse_time(NULL, &t), -1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_response_parse_time(bad[i], &t) != -1)
            fail_msg("\"%s\" was accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_response_accepts_signed_response),
        QSSO_TEST(test_response_reads_attributes_by_exact_name),
        QSSO_TEST(test_response_accepts_signed_assertion),
        QSSO_TEST(test_response_accepts_response_and_assertion_both_signed),
        QSSO_TEST(test_response_accepts_idp_initiated_response),
        QSSO_TEST(test_response_accepts_base64_with_line_breaks),
        QSSO_TEST(test_response_reads_session_not_on_or_after),
        QSSO_TEST(test_response_accepts_second_certificate_of_the_metadata),
        QSSO_TEST(test_response_refuses_certificate_missing_from_metadata),
        QSSO_TEST(test_response_refuses_signature_by_attacker_key),
        QSSO_TEST(test_response_refuses_unsigned_response),
        QSSO_TEST(test_response_refuses_response_with_signature_removed),
        QSSO_TEST(test_response_refuses_assertion_with_signature_removed),
        QSSO_TEST(test_response_refuses_attribute_changed_after_signing),
        QSSO_TEST(test_response_refuses_name_id_changed_after_signing),
        QSSO_TEST(
            test_response_refuses_signed_assertion_changed_after_signing),
        QSSO_TEST(test_response_refuses_rsa_sha1_signature),
        QSSO_TEST(test_response_refuses_sha1_digest),
        QSSO_TEST(
            test_response_refuses_signature_referencing_another_element),
        QSSO_TEST(test_response_reads_name_id_across_a_comment),
        QSSO_TEST(test_response_reads_attribute_across_a_comment),
        QSSO_TEST(test_response_refuses_two_assertions),
        QSSO_TEST(
            test_response_refuses_signed_assertion_moved_into_extensions),
        QSSO_TEST(test_response_refuses_duplicate_ids),
        QSSO_TEST(test_response_refuses_id_shared_by_response_and_assertion),
        QSSO_TEST(test_response_refuses_encrypted_assertion),
        QSSO_TEST(test_response_refuses_doctype_with_external_entity),
        QSSO_TEST(test_response_refuses_malformed_xml),
        QSSO_TEST(test_response_refuses_other_root_element),
        QSSO_TEST(test_response_refuses_text_that_is_not_base64),
        QSSO_TEST(test_response_refuses_empty_response),
        QSSO_TEST(test_response_refuses_status_other_than_success),
        QSSO_TEST(test_response_refuses_other_issuer),
        QSSO_TEST(test_response_refuses_other_destination),
        QSSO_TEST(test_response_refuses_signed_response_without_destination),
        QSSO_TEST(test_response_refuses_when_this_acs_url_differs),
        QSSO_TEST(test_response_refuses_response_for_other_audience),
        QSSO_TEST(test_response_refuses_when_this_entity_id_differs),
        QSSO_TEST(test_response_refuses_confirmation_for_other_recipient),
        QSSO_TEST(test_response_refuses_confirmation_for_other_request),
        QSSO_TEST(test_response_accepts_until_conditions_end_plus_skew),
        QSSO_TEST(test_response_refuses_after_conditions_end_plus_skew),
        QSSO_TEST(test_response_accepts_until_confirmation_ends_plus_skew),
        QSSO_TEST(test_response_refuses_after_confirmation_ends_plus_skew),
        QSSO_TEST(test_response_refuses_expired_response),
        QSSO_TEST(test_response_accepts_from_not_before_minus_skew),
        QSSO_TEST(test_response_refuses_before_not_before_minus_skew),
        QSSO_TEST(test_response_refuses_not_yet_valid_without_skew),
        QSSO_TEST(test_response_parse_time_reads_utc_and_offsets),
        QSSO_TEST(test_response_parse_time_refuses_what_is_not_a_datetime),
    };

    return QSSO_TEST_RUN("response", tests);
}

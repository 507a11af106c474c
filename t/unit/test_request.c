/*
 * qsso_request.c: the AuthnRequest for both bindings, read back the way an
 * IdP reads it: inflate and parse the HTTP-Redirect SAMLRequest, verify
 * its query signature with OpenSSL over the exact bytes SAML Bindings
 * 3.4.4.1 names, and verify the HTTP-POST enveloped signature with xmlsec
 * against the SP certificate alone.
 */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/crypto.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_codec.h"
#include "qsso_keys.h"
#include "qsso_request.h"
#include "qsso_xml.h"

#define SSO_URL "https://idp.example.org/sso/redirect"
#define ACS_URL "https://sp.example.org/qsso/acs"
#define SP_ID "https://sp.example.org/qsso"
#define RELAY "b1f2e3d4c5b6a7980123456789abcdef"
#define REQ_ID "_0123456789abcdef0123456789abcdef"
/* 2030-01-15T10:00:00Z */
#define NOW_SEC 1894701600
#define SIGALG "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

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

static qsso_request_input_t qsso_test_input(int binding, qsso_key_t *key)
{
    qsso_request_input_t in;

    memset(&in, 0, sizeof(in));
    in.id = REQ_ID;
    in.now = QSSO_TEST_TIME(NOW_SEC);
    in.sso_url = SSO_URL;
    in.acs_url = ACS_URL;
    in.sp_entity_id = SP_ID;
    in.binding = binding;
    in.relay_state = RELAY;
    in.key = key;
    return in;
}

static qsso_request_t qsso_test_build(apr_pool_t *p,
                                      const qsso_request_input_t *in)
{
    qsso_request_t out;
    qsso_err_t err;

    memset(&err, 0, sizeof(err));
    if (qsso_request_build(p, in, &out, &err) != QSSO_OK)
        fail_msg("qsso_request_build: %d %s", err.code, err.detail);
    return out;
}

/* The raw (still percent-encoded) value of name in a query, or NULL. */
static const char *qsso_test_query_raw(apr_pool_t *p, const char *query,
                                       const char *name)
{
    apr_size_t n = strlen(name);
    const char *s = query;

    while (s && *s) {
        const char *end = strchr(s, '&');
        if (!strncmp(s, name, n) && s[n] == '=')
            return end ? apr_pstrmemdup(p, s + n + 1,
                                        (apr_size_t)(end - s - n - 1))
                       : apr_pstrdup(p, s + n + 1);
        s = end ? end + 1 : NULL;
    }
    return NULL;
}

/* The AuthnRequest an IdP reads from an HTTP-Redirect URL. */
static xmlNodePtr qsso_test_inflate_request(apr_pool_t *p, const char *url,
                                            const char **xml_out)
{
    const char *query = strchr(url, '?') + 1;
    const char *raw = qsso_test_query_raw(p, query, "SAMLRequest");
    char *b64, *z, *xml;
    apr_size_t zlen, len;
    xmlDocPtr doc;

    assert_non_null(raw);
    b64 = qsso_codec_url_decode(p, raw, 0);
    assert_non_null(b64);
    z = qsso_codec_base64_decode(p, b64, &zlen);
    assert_non_null(z);
    xml = qsso_codec_inflate(p, z, zlen, 64 * 1024, &len);
    assert_non_null(xml);
    if (xml_out)
        *xml_out = xml;
    assert_int_equal(qsso_xml_parse(p, xml, len, &doc), QSSO_XML_OK);
    return xmlDocGetRootElement(doc);
}

/* Verifies sig (base64) over data with the public key of a PEM cert. */
static int qsso_test_rsa_verify(apr_pool_t *p, const char *cert_file,
                                const char *data, const char *sig_b64)
{
    FILE *f = fopen(cert_file, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    EVP_PKEY *pub = x ? X509_get_pubkey(x) : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    apr_size_t siglen = 0;
    unsigned char *sig = (unsigned char *)qsso_codec_base64_decode(
        p, sig_b64, &siglen);
    int ok;

    if (f)
        fclose(f);
    assert_non_null(pub);
    assert_non_null(sig);
    ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1
         && EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data,
                             strlen(data)) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    X509_free(x);
    ERR_clear_error();
    return ok;
}

/* The value of the hidden input name in the POST form. */
static const char *qsso_test_form_value(apr_pool_t *p, const char *form,
                                        const char *name)
{
    const char *tag = apr_pstrcat(p, "name=\"", name, "\" value=\"", NULL);
    const char *v = strstr(form, tag), *end;

    assert_non_null(v);
    v += strlen(tag);
    end = strchr(v, '"');
    assert_non_null(end);
    return apr_pstrmemdup(p, v, (apr_size_t)(end - v));
}

/* The AuthnRequest XML carried by the POST form. */
static const char *qsso_test_post_xml(apr_pool_t *p, const char *form)
{
    apr_size_t len;
    char *xml = qsso_codec_base64_decode(
        p, qsso_test_form_value(p, form, "SAMLRequest"), &len);

    assert_non_null(xml);
    return xml;
}

/* xmlsec verification of the enveloped signature, trusting only the
 * certificate in cert_file: 1 verified, 0 not. */
static int qsso_test_xmlsec_verify(apr_pool_t *p, const char *xml,
                                   const char *cert_file)
{
    xmlDocPtr doc;
    xmlNodePtr root, sig;
    xmlSecDSigCtxPtr ctx;
    int ok;

    assert_int_equal(qsso_xml_parse(p, xml, strlen(xml), &doc), QSSO_XML_OK);
    root = xmlDocGetRootElement(doc);
    xmlAddID(NULL, doc, (const xmlChar *)REQ_ID,
             xmlHasProp(root, (const xmlChar *)"ID"));
    sig = xmlSecFindNode(root, xmlSecNodeSignature, xmlSecDSigNs);
    if (sig == NULL)
        return 0;
    ctx = xmlSecDSigCtxCreate(NULL);
    assert_non_null(ctx);
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    ctx->signKey = xmlSecCryptoAppKeyLoad(cert_file,
                                          xmlSecKeyDataFormatCertPem, NULL,
                                          NULL, NULL);
    assert_non_null(ctx->signKey);
    ok = xmlSecDSigCtxVerify(ctx, sig) == 0
         && ctx->status == xmlSecDSigStatusSucceeded;
    xmlSecDSigCtxDestroy(ctx);
    return ok;
}

/* ---- HTTP-Redirect */

static void test_request_redirect_carries_the_authn_request(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT, NULL);
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *xml;
    xmlNodePtr req;

    assert_null(out.post_form);
    assert_true(!strncmp(out.redirect_url, SSO_URL "?SAMLRequest=",
                         strlen(SSO_URL "?SAMLRequest=")));
    req = qsso_test_inflate_request(*state, out.redirect_url, &xml);
    qsso_assert_str(xml, out.xml);
    assert_true(qsso_xml_is(req, QSSO_NS_SAMLP, "AuthnRequest"));
    qsso_assert_str(qsso_xml_attr(*state, req, "ID"), REQ_ID);
    qsso_assert_str(qsso_xml_attr(*state, req, "Version"), "2.0");
    qsso_assert_str(qsso_xml_attr(*state, req, "IssueInstant"),
                    "2030-01-15T10:00:00Z");
    qsso_assert_str(qsso_xml_attr(*state, req, "Destination"), SSO_URL);
    qsso_assert_str(qsso_xml_attr(*state, req, "AssertionConsumerServiceURL"),
                    ACS_URL);
    qsso_assert_str(qsso_xml_attr(*state, req, "ProtocolBinding"),
                    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST");
    qsso_assert_str(qsso_xml_text(*state, qsso_xml_child(req, QSSO_NS_SAML,
                                                         "Issuer")), SP_ID);
    assert_null(qsso_xml_attr(*state, req, "ForceAuthn"));
    assert_null(qsso_xml_child(req, QSSO_NS_DS, "Signature"));
}

static void test_request_redirect_asks_for_force_authn(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT, NULL);
    qsso_request_t out;
    xmlNodePtr req;

    in.force_authn = 1;
    out = qsso_test_build(*state, &in);
    req = qsso_test_inflate_request(*state, out.redirect_url, NULL);
    qsso_assert_str(qsso_xml_attr(*state, req, "ForceAuthn"), "true");
}

static void test_request_redirect_returns_the_relay_state(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT, NULL);
    qsso_request_t out;
    const char *raw;

    in.relay_state = "a b&c=d/e";
    out = qsso_test_build(*state, &in);
    raw = qsso_test_query_raw(*state, strchr(out.redirect_url, '?') + 1,
                              "RelayState");
    qsso_assert_str(raw, "a%20b%26c%3Dd%2Fe");
    qsso_assert_str(qsso_codec_url_decode(*state, raw, 1), "a b&c=d/e");
    assert_null(qsso_test_query_raw(*state, strchr(out.redirect_url, '?') + 1,
                                    "Signature"));
}

static void test_request_redirect_keeps_a_query_in_the_sso_url(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT, NULL);
    qsso_request_t out;
    const char *want = "https://idp.example.org/sso?tenant=42&SAMLRequest=";

    in.sso_url = "https://idp.example.org/sso?tenant=42";
    out = qsso_test_build(*state, &in);
    assert_true(!strncmp(out.redirect_url, want, strlen(want)));
}

static void test_request_redirect_escapes_urls_in_the_xml(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT, NULL);
    qsso_request_t out;
    xmlNodePtr req;

    in.acs_url = "https://sp.example.org/acs?a=1&b=\"<2>\"";
    out = qsso_test_build(*state, &in);
    req = qsso_test_inflate_request(*state, out.redirect_url, NULL);
    qsso_assert_str(qsso_xml_attr(*state, req, "AssertionConsumerServiceURL"),
                    in.acs_url);
}

static void test_request_signed_redirect_verifies_with_the_sp_certificate(
    void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT,
                                              qsso_test_sp_key(*state));
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *q = strchr(out.redirect_url, '?') + 1;
    const char *req = qsso_test_query_raw(*state, q, "SAMLRequest");
    const char *relay = qsso_test_query_raw(*state, q, "RelayState");
    const char *alg = qsso_test_query_raw(*state, q, "SigAlg");
    const char *sig = qsso_test_query_raw(*state, q, "Signature");
    const char *signed_part;

    assert_non_null(req);
    assert_non_null(sig);
    qsso_assert_str(qsso_codec_url_decode(*state, alg, 0), SIGALG);
    /* Bindings 3.4.4.1: the signature covers the query as sent, in this
     * order, with the values still URL-encoded. */
    signed_part = apr_pstrcat(*state, "SAMLRequest=", req, "&RelayState=",
                              relay, "&SigAlg=", alg, NULL);
    assert_true(!strncmp(q, signed_part, strlen(signed_part)));
    assert_true(qsso_test_rsa_verify(*state, QSSO_TEST_KEY("sp.crt"),
                                     signed_part,
                                     qsso_codec_url_decode(*state, sig, 0)));
}

static void test_request_signed_redirect_fails_with_other_certificate(
    void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT,
                                              qsso_test_sp_key(*state));
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *q = strchr(out.redirect_url, '?') + 1;
    const char *sig = qsso_codec_url_decode(
        *state, qsso_test_query_raw(*state, q, "Signature"), 0);
    const char *signed_part = apr_pstrndup(*state, q,
                                           (apr_size_t)(strstr(q,
                                               "&Signature=") - q));

    assert_true(qsso_test_rsa_verify(*state, QSSO_TEST_KEY("sp.crt"),
                                     signed_part, sig));
    assert_false(qsso_test_rsa_verify(*state, QSSO_TEST_KEY("idp1.crt"),
                                      signed_part, sig));
}

static void test_request_signed_redirect_fails_when_relay_state_changes(
    void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_REDIRECT,
                                              qsso_test_sp_key(*state));
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *q = strchr(out.redirect_url, '?') + 1;
    const char *sig = qsso_codec_url_decode(
        *state, qsso_test_query_raw(*state, q, "Signature"), 0);
    const char *signed_part = apr_pstrndup(*state, q,
                                           (apr_size_t)(strstr(q,
                                               "&Signature=") - q));

    signed_part = qsso_test_replace(*state, signed_part, RELAY,
                                    "00000000000000000000000000000000");
    assert_false(qsso_test_rsa_verify(*state, QSSO_TEST_KEY("sp.crt"),
                                      signed_part, sig));
}

/* ---- HTTP-POST */

static void test_request_post_form_carries_the_authn_request(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_POST, NULL);
    qsso_request_t out;

    in.sso_url = "https://idp.example.org/sso/post?a=1&b=2";
    out = qsso_test_build(*state, &in);
    assert_null(out.redirect_url);
    qsso_assert_contains(out.post_form, "<form method=\"post\" action=\""
                         "https://idp.example.org/sso/post?a=1&amp;b=2\">");
    qsso_assert_str(qsso_test_post_xml(*state, out.post_form), out.xml);
    qsso_assert_str(qsso_test_form_value(*state, out.post_form, "RelayState"),
                    RELAY);
    qsso_assert_contains(out.xml, "Destination=\"https://idp.example.org/"
                         "sso/post?a=1&amp;b=2\"");
}

static void test_request_post_form_escapes_the_relay_state(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_POST, NULL);
    qsso_request_t out;

    in.relay_state = "\"><script>x</script>";
    out = qsso_test_build(*state, &in);
    qsso_assert_contains(out.post_form, "value=\"&quot;&gt;&lt;script&gt;");
    assert_null(strstr(out.post_form, "<script>"));
}

static void test_request_signed_post_verifies_with_the_sp_certificate(
    void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_POST,
                                              qsso_test_sp_key(*state));
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *xml = qsso_test_post_xml(*state, out.post_form);
    xmlDocPtr doc;
    xmlNodePtr root, issuer;

    assert_true(qsso_test_xmlsec_verify(*state, xml,
                                        QSSO_TEST_KEY("sp.crt")));
    /* the schema wants the Signature right after the Issuer */
    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_OK);
    root = xmlDocGetRootElement(doc);
    issuer = qsso_xml_child(root, QSSO_NS_SAML, "Issuer");
    assert_non_null(issuer);
    assert_true(qsso_xml_is(xmlNextElementSibling(issuer), QSSO_NS_DS,
                            "Signature"));
    qsso_assert_contains(xml, "<ds:Reference URI=\"#" REQ_ID "\">");
    qsso_assert_contains(xml, "Algorithm=\"" SIGALG "\"");
}

static void test_request_signed_post_fails_with_other_certificate(
    void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_POST,
                                              qsso_test_sp_key(*state));
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *xml = qsso_test_post_xml(*state, out.post_form);

    assert_false(qsso_test_xmlsec_verify(*state, xml,
                                         QSSO_TEST_KEY("idp1.crt")));
}

static void test_request_signed_post_fails_when_content_changes(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_POST,
                                              qsso_test_sp_key(*state));
    qsso_request_t out = qsso_test_build(*state, &in);
    const char *xml = qsso_test_post_xml(*state, out.post_form);

    xml = qsso_test_replace(*state, xml, "AssertionConsumerServiceURL=\""
                            ACS_URL "\"", "AssertionConsumerServiceURL=\""
                            "https://evil.example.org/acs\"");
    assert_false(qsso_test_xmlsec_verify(*state, xml,
                                         QSSO_TEST_KEY("sp.crt")));
}

static void test_request_unsigned_post_has_no_signature(void **state)
{
    qsso_request_input_t in = qsso_test_input(QSSO_BINDING_POST, NULL);
    qsso_request_t out = qsso_test_build(*state, &in);

    assert_null(strstr(qsso_test_post_xml(*state, out.post_form),
                       "Signature"));
}

static void test_request_refuses_post_signing_with_unprepared_key(
    void **state)
{
    qsso_key_t *key = NULL;
    qsso_request_input_t in;
    qsso_request_t out;
    qsso_err_t err;

    assert_null(qsso_keys_load_key(*state, QSSO_TEST_KEY("sp.key"), &key));
    in = qsso_test_input(QSSO_BINDING_POST, key);
    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_request_build(*state, &in, &out, &err), 2003);
    assert_int_equal(err.status, 500);
    qsso_assert_contains(err.detail, "was not prepared");
}

/* ---- schema and IDs */

static void test_request_is_valid_against_the_protocol_schema(void **state)
{
    qsso_key_t *key = qsso_test_sp_key(*state);
    qsso_request_input_t plain = qsso_test_input(QSSO_BINDING_REDIRECT, NULL);
    qsso_request_input_t post = qsso_test_input(QSSO_BINDING_POST, key);
    qsso_request_t out;
    const char *err;

    plain.force_authn = 1;
    out = qsso_test_build(*state, &plain);
    if ((err = qsso_test_validate(*state, out.xml,
                                  "saml-schema-protocol-2.0.xsd")) != NULL)
        fail_msg("unsigned: %s", err);
    out = qsso_test_build(*state, &post);
    if ((err = qsso_test_validate(*state,
                                  qsso_test_post_xml(*state, out.post_form),
                                  "saml-schema-protocol-2.0.xsd")) != NULL)
        fail_msg("signed: %s", err);
}

static void test_request_new_id_is_a_fresh_ncname(void **state)
{
    const char *a = qsso_request_new_id(*state);
    const char *b = qsso_request_new_id(*state);

    assert_non_null(a);
    assert_int_equal(strlen(a), 33);
    assert_int_equal(a[0], '_');
    assert_int_equal(strspn(a + 1, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_request_redirect_carries_the_authn_request),
        QSSO_TEST(test_request_redirect_asks_for_force_authn),
        QSSO_TEST(test_request_redirect_returns_the_relay_state),
        QSSO_TEST(test_request_redirect_keeps_a_query_in_the_sso_url),
        QSSO_TEST(test_request_redirect_escapes_urls_in_the_xml),
        QSSO_TEST(
            test_request_signed_redirect_verifies_with_the_sp_certificate),
        QSSO_TEST(test_request_signed_redirect_fails_with_other_certificate),
        QSSO_TEST(
            test_request_signed_redirect_fails_when_relay_state_changes),
        QSSO_TEST(test_request_post_form_carries_the_authn_request),
        QSSO_TEST(test_request_post_form_escapes_the_relay_state),
        QSSO_TEST(test_request_signed_post_verifies_with_the_sp_certificate),
        QSSO_TEST(test_request_signed_post_fails_with_other_certificate),
        QSSO_TEST(test_request_signed_post_fails_when_content_changes),
        QSSO_TEST(test_request_unsigned_post_has_no_signature),
        QSSO_TEST(test_request_refuses_post_signing_with_unprepared_key),
        QSSO_TEST(test_request_is_valid_against_the_protocol_schema),
        QSSO_TEST(test_request_new_id_is_a_fresh_ncname),
    };

    return QSSO_TEST_RUN("request", tests);
}

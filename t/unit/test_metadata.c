/*
 * qsso_metadata.c: IdP metadata as pysaml2 writes it (one and two signing
 * certificates, both SSO bindings), the files it must refuse, and the SP
 * metadata document, checked against the OASIS metadata schema.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_algs.h"
#include "qsso_codec.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_xml.h"
#include "fixtures/fixtures.h"

#define MD_OPEN \
    "<md:EntityDescriptor xmlns:md=\"" QSSO_NS_MD "\" xmlns:ds=\"" \
    QSSO_NS_DS "\" entityID=\"https://idp.example.org/idp\">" \
    "<md:IDPSSODescriptor protocolSupportEnumeration=\"" QSSO_NS_SAMLP "\">"
#define MD_CLOSE "</md:IDPSSODescriptor></md:EntityDescriptor>"
#define MD_SSO \
    "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:" \
    "bindings:HTTP-Redirect\" Location=\"https://idp.example.org/sso\"/>"
#define MD_KEY(use, b64) \
    "<md:KeyDescriptor" use "><ds:KeyInfo><ds:X509Data><ds:X509Certificate>" \
    b64 "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"

/* The signing certificate of t/keys/NAME.crt as base64 DER. */
static const char *qsso_test_cert_b64(apr_pool_t *p, const char *name)
{
    qsso_cert_t *cert = NULL;
    const char *err = qsso_keys_load_cert(
        p, apr_pstrcat(p, QSSO_UNIT_DIR "/../keys/", name, ".crt", NULL),
        &cert);

    if (err)
        fail_msg("%s", err);
    return cert->der_b64;
}

static const char *qsso_test_idp_cert_b64(apr_pool_t *p,
                                          const qsso_idp_t *idp, int i)
{
    const qsso_blob_t *b = &APR_ARRAY_IDX(idp->certs_der, i, qsso_blob_t);

    return qsso_codec_base64_encode(p, b->data, b->len);
}

/* Parses data as IdP metadata named "test.xml"; returns the message. */
static const char *qsso_test_parse(apr_pool_t *p, const char *data,
                                   qsso_idp_t **idp)
{
    *idp = NULL;
    return qsso_metadata_parse_idp(p, "test.xml", data, strlen(data), idp);
}

/* ---- IdP metadata from pysaml2 */

static void test_metadata_reads_idp_with_one_certificate(void **state)
{
    qsso_idp_t *idp = NULL;
    const char *err = qsso_metadata_load_idp(
        *state, QSSO_TEST_FIXTURE("idp-metadata.xml"), &idp);

    assert_null(err);
    assert_non_null(idp);
    qsso_assert_str(idp->entity_id, QSSO_FIX_IDP);
    qsso_assert_str(idp->sso_redirect_url, QSSO_FIX_SSO_REDIRECT);
    qsso_assert_str(idp->sso_post_url, QSSO_FIX_SSO_POST);
    qsso_assert_str(idp->file, QSSO_TEST_FIXTURE("idp-metadata.xml"));
    assert_int_equal(idp->certs_der->nelts, 1);
    qsso_assert_str(qsso_test_idp_cert_b64(*state, idp, 0),
                    qsso_test_cert_b64(*state, "idp1"));
    assert_null(idp->keys);
}

static void test_metadata_reads_idp_with_two_certificates(void **state)
{
    qsso_idp_t *idp = NULL;

    assert_null(qsso_metadata_load_idp(
        *state, QSSO_TEST_FIXTURE("idp-metadata-two-certs.xml"), &idp));
    assert_int_equal(idp->certs_der->nelts, 2);
    qsso_assert_str(qsso_test_idp_cert_b64(*state, idp, 0),
                    qsso_test_cert_b64(*state, "idp1"));
    qsso_assert_str(qsso_test_idp_cert_b64(*state, idp, 1),
                    qsso_test_cert_b64(*state, "idp2"));
}

static void test_metadata_builds_one_xmlsec_key_per_certificate(void **state)
{
    qsso_idp_t *idp = NULL;

    assert_null(qsso_metadata_load_idp(
        *state, QSSO_TEST_FIXTURE("idp-metadata-two-certs.xml"), &idp));
    assert_null(qsso_keys_prepare_idp(*state, idp));
    assert_non_null(idp->keys);
    assert_int_equal(idp->keys->nelts, 2);
    assert_null(qsso_keys_prepare_idp(*state, idp));  /* idempotent */
    assert_int_equal(idp->keys->nelts, 2);
}

static void test_metadata_reads_idp_inside_entities_descriptor(void **state)
{
    const char *md = qsso_test_read(*state,
                                    QSSO_TEST_FIXTURE("idp-metadata.xml"),
                                    NULL);
    const char *sp = qsso_test_read(*state,
                                    QSSO_TEST_FIXTURE("sp-metadata.xml"),
                                    NULL);
    char *both;
    qsso_idp_t *idp;

    md = strstr(md, "<md:EntityDescriptor");
    both = apr_pstrcat(*state, "<md:EntitiesDescriptor xmlns:md=\""
                       QSSO_NS_MD "\">", sp, md, "</md:EntitiesDescriptor>",
                       NULL);
    assert_null(qsso_test_parse(*state, both, &idp));
    qsso_assert_str(idp->entity_id, QSSO_FIX_IDP);
}

static void test_metadata_reads_unqualified_key_and_skips_encryption_key(
    void **state)
{
    const char *md = apr_pstrcat(*state, MD_OPEN,
        MD_KEY(" use=\"encryption\"", "%s"), MD_KEY("", "%s"), MD_SSO,
        MD_CLOSE, NULL);
    qsso_idp_t *idp;

    md = apr_psprintf(*state, md, qsso_test_cert_b64(*state, "idp2"),
                      qsso_test_cert_b64(*state, "idp1"));
    assert_null(qsso_test_parse(*state, md, &idp));
    assert_int_equal(idp->certs_der->nelts, 1);
    qsso_assert_str(qsso_test_idp_cert_b64(*state, idp, 0),
                    qsso_test_cert_b64(*state, "idp1"));
    assert_null(idp->sso_post_url);
    qsso_assert_str(idp->sso_redirect_url, "https://idp.example.org/sso");
}

/* ---- refusals */

/* The base64 body of t/keys/NAME.crt, read without qsso_keys (which
 * would refuse a weak one). */
static const char *qsso_test_pem_body(apr_pool_t *p, const char *name)
{
    const char *pem = qsso_test_read(
        p, apr_pstrcat(p, QSSO_UNIT_DIR "/../keys/", name, ".crt", NULL),
        NULL);
    char *body = apr_pstrdup(p, strchr(pem, '\n') + 1), *o = body;
    const char *s;

    *strstr(body, "-----END") = '\0';
    for (s = body; *s; s++)
        if (*s != '\n')
            *o++ = *s;
    *o = '\0';
    return body;
}

static void test_metadata_refuses_a_signing_certificate_under_2048_bits(
    void **state)
{
    const char *md = apr_pstrcat(*state, MD_OPEN, MD_KEY("", "%s"),
                                 MD_KEY(" use=\"signing\"", "%s"), MD_SSO,
                                 MD_CLOSE, NULL);
    qsso_idp_t *idp;
    const char *err;

    md = apr_psprintf(*state, md, qsso_test_cert_b64(*state, "idp1"),
                      qsso_test_pem_body(*state, "weak"));
    err = qsso_test_parse(*state, md, &idp);
    qsso_assert_contains(err, "'test.xml': signing certificate 2 has a "
                              "1024-bit RSA key; at least 2048 bits are "
                              "required");
}

static void test_metadata_refuses_sp_metadata(void **state)
{
    qsso_idp_t *idp;
    const char *err = qsso_metadata_load_idp(
        *state, QSSO_TEST_FIXTURE("sp-metadata.xml"), &idp);

    qsso_assert_contains(err, "describes no IdP");
    qsso_assert_contains(err, "sp-metadata.xml");
}

static void test_metadata_refuses_own_sp_metadata(void **state)
{
    qsso_sp_metadata_t sp = {QSSO_FIX_SP, QSSO_FIX_ACS, NULL, 0, NULL, 0};
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state,
                             qsso_metadata_build_sp(*state, &sp), &idp),
                         "describes no IdP");
}

static void test_metadata_refuses_idp_without_signing_certificate(
    void **state)
{
    const char *md = apr_pstrcat(*state, MD_OPEN,
        MD_KEY(" use=\"encryption\"", "%s"), MD_SSO, MD_CLOSE, NULL);
    qsso_idp_t *idp;

    md = apr_psprintf(*state, md, qsso_test_cert_b64(*state, "idp1"));
    qsso_assert_contains(qsso_test_parse(*state, md, &idp),
                         "has no signing certificate");
    qsso_assert_contains(qsso_test_parse(*state,
                             MD_OPEN MD_SSO MD_CLOSE, &idp),
                         "has no signing certificate");
}

static void test_metadata_refuses_certificate_that_is_not_base64(
    void **state)
{
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state, MD_OPEN
                             MD_KEY("", "MIIB!!") MD_SSO MD_CLOSE, &idp),
                         "signing certificate 1 is not base64");
}

static void test_metadata_refuses_certificate_that_is_not_x509(void **state)
{
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state, MD_OPEN
                             MD_KEY("", "bm90IGEgY2VydGlmaWNhdGU=") MD_SSO
                             MD_CLOSE, &idp),
                         "is not an X.509 certificate");
}

static void test_metadata_refuses_text_that_is_not_xml(void **state)
{
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state, "-----BEGIN CERTIFICATE-----"
                                         "\nMIIB\n", &idp),
                         "is not well-formed XML");
    qsso_assert_contains(qsso_test_parse(*state, "", &idp),
                         "is not well-formed XML");
    assert_null(idp);
}

static void test_metadata_refuses_doctype(void **state)
{
    const char *md = apr_pstrcat(*state,
        "<!DOCTYPE md:EntityDescriptor [<!ENTITY x SYSTEM "
        "\"file:///etc/passwd\">]>", MD_OPEN, MD_SSO, MD_CLOSE, NULL);
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state, md, &idp), "has a DOCTYPE");
}

static void test_metadata_refuses_other_root_element(void **state)
{
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state, "<html><body/></html>",
                                         &idp),
                         "the root element is <html>");
    qsso_assert_contains(qsso_test_parse(*state,
                             "<EntityDescriptor entityID=\"x\"/>", &idp),
                         "is not SAML metadata");
}

static void test_metadata_refuses_two_idps_in_one_file(void **state)
{
    const char *one = strstr(qsso_test_read(*state,
                                 QSSO_TEST_FIXTURE("idp-metadata.xml"),
                                 NULL), "<md:EntityDescriptor");
    const char *md = apr_pstrcat(*state, "<md:EntitiesDescriptor "
                                 "xmlns:md=\"" QSSO_NS_MD "\">", one, one,
                                 "</md:EntitiesDescriptor>", NULL);
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_test_parse(*state, md, &idp),
                         "holds 2 IdP EntityDescriptors");
}

static void test_metadata_refuses_idp_without_entity_id(void **state)
{
    const char *md = qsso_test_read(*state,
                                    QSSO_TEST_FIXTURE("idp-metadata.xml"),
                                    NULL);
    qsso_idp_t *idp;

    md = qsso_test_replace(*state, md, "entityID=\"" QSSO_FIX_IDP "\"",
                           "entityID=\"\"");
    qsso_assert_contains(qsso_test_parse(*state, md, &idp),
                         "has no entityID");
}

static void test_metadata_refuses_idp_without_usable_sso_binding(
    void **state)
{
    const char *md = apr_pstrcat(*state, MD_OPEN, MD_KEY("", "%s"),
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:"
        "bindings:SOAP\" Location=\"https://idp.example.org/soap\"/>"
        "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:"
        "bindings:HTTP-POST\" Location=\"\"/>", MD_CLOSE, NULL);
    qsso_idp_t *idp;

    md = apr_psprintf(*state, md, qsso_test_cert_b64(*state, "idp1"));
    qsso_assert_contains(qsso_test_parse(*state, md, &idp),
                         "has no SingleSignOnService");
}

static void test_metadata_refuses_missing_file_naming_it(void **state)
{
    qsso_idp_t *idp;

    qsso_assert_contains(qsso_metadata_load_idp(*state,
                             "/nonexistent/idp.xml", &idp),
                         "cannot open '/nonexistent/idp.xml'");
}

/* ---- SP metadata */

static xmlNodePtr qsso_test_sp_descriptor(apr_pool_t *p, const char *xml,
                                          xmlNodePtr *root)
{
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(p, xml, strlen(xml), &doc), QSSO_XML_OK);
    *root = xmlDocGetRootElement(doc);
    assert_true(qsso_xml_is(*root, QSSO_NS_MD, "EntityDescriptor"));
    return qsso_xml_child(*root, QSSO_NS_MD, "SPSSODescriptor");
}

static void test_metadata_builds_sp_metadata_with_its_fields(void **state)
{
    const char *cert = qsso_test_cert_b64(*state, "sp");
    qsso_sp_metadata_t sp = {QSSO_FIX_SP, QSSO_FIX_ACS, cert, 1, NULL, 0};
    xmlNodePtr root, sso, kd, acs, x509;

    sso = qsso_test_sp_descriptor(*state, qsso_metadata_build_sp(*state, &sp),
                                  &root);
    qsso_assert_str(qsso_xml_attr(*state, root, "entityID"), QSSO_FIX_SP);
    assert_non_null(sso);
    qsso_assert_str(qsso_xml_attr(*state, sso, "AuthnRequestsSigned"),
                    "true");
    qsso_assert_str(qsso_xml_attr(*state, sso, "WantAssertionsSigned"),
                    "true");
    qsso_assert_str(qsso_xml_attr(*state, sso, "protocolSupportEnumeration"),
                    QSSO_NS_SAMLP);
    kd = qsso_xml_child(sso, QSSO_NS_MD, "KeyDescriptor");
    qsso_assert_str(qsso_xml_attr(*state, kd, "use"), "signing");
    x509 = qsso_xml_child(qsso_xml_child(qsso_xml_child(kd, QSSO_NS_DS,
                                                        "KeyInfo"),
                                         QSSO_NS_DS, "X509Data"),
                          QSSO_NS_DS, "X509Certificate");
    qsso_assert_str(qsso_xml_text(*state, x509), cert);
    acs = qsso_xml_child(sso, QSSO_NS_MD, "AssertionConsumerService");
    qsso_assert_str(qsso_xml_attr(*state, acs, "Location"), QSSO_FIX_ACS);
    qsso_assert_str(qsso_xml_attr(*state, acs, "Binding"),
                    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST");
    qsso_assert_str(qsso_xml_attr(*state, acs, "index"), "0");
}

static void test_metadata_builds_sp_metadata_without_key(void **state)
{
    qsso_sp_metadata_t sp = {QSSO_FIX_SP, QSSO_FIX_ACS, NULL, 0, NULL, 0};
    xmlNodePtr root, sso;

    sso = qsso_test_sp_descriptor(*state, qsso_metadata_build_sp(*state, &sp),
                                  &root);
    assert_null(qsso_xml_child(sso, QSSO_NS_MD, "KeyDescriptor"));
    qsso_assert_str(qsso_xml_attr(*state, sso, "AuthnRequestsSigned"),
                    "false");
}

static void test_metadata_escapes_sp_urls(void **state)
{
    qsso_sp_metadata_t sp = {"https://sp.example.org/?a=1&b=\"2\"",
                             "https://sp.example.org/acs?x=<y>&z", NULL, 0,
                             NULL, 0};
    xmlNodePtr root, sso;

    sso = qsso_test_sp_descriptor(*state, qsso_metadata_build_sp(*state, &sp),
                                  &root);
    qsso_assert_str(qsso_xml_attr(*state, root, "entityID"), sp.entity_id);
    qsso_assert_str(qsso_xml_attr(*state, qsso_xml_child(sso, QSSO_NS_MD,
                                      "AssertionConsumerService"),
                                  "Location"), sp.acs_url);
}

static void test_metadata_sp_metadata_advertises_the_encryption_key(
    void **state)
{
    const char *cert = qsso_test_cert_b64(*state, "sp");
    qsso_sp_metadata_t sp = {QSSO_FIX_SP, QSSO_FIX_ACS, cert, 0, cert, 0};
    const char *xml = qsso_metadata_build_sp(*state, &sp);
    xmlNodePtr root, sso, kd, m;
    const char *uses = "", *methods = "";

    sso = qsso_test_sp_descriptor(*state, xml, &root);
    for (kd = sso->children; kd; kd = kd->next)
        if (qsso_xml_is(kd, QSSO_NS_MD, "KeyDescriptor"))
            uses = apr_pstrcat(*state, uses, qsso_xml_attr(*state, kd, "use"),
                               " ", NULL);
    qsso_assert_str(uses, "signing encryption ");
    kd = qsso_xml_child(sso, QSSO_NS_MD, "KeyDescriptor")->next;
    while (!qsso_xml_is(kd, QSSO_NS_MD, "KeyDescriptor"))
        kd = kd->next;
    for (m = kd->children; m; m = m->next)
        if (qsso_xml_is(m, QSSO_NS_MD, "EncryptionMethod"))
            methods = apr_pstrcat(*state, methods,
                                  strchr(qsso_xml_attr(*state, m,
                                                       "Algorithm"), '#'),
                                  " ", NULL);
    /* the default QSSOEncryptionAlgorithms: no RSA 1.5 */
    qsso_assert_str(methods, "#rsa-oaep-mgf1p #aes128-cbc #aes256-cbc "
                             "#aes128-gcm #aes256-gcm ");
    sp.enc_algs = QSSO_ALG_RSA_1_5 | QSSO_ALG_AES256_GCM;
    xml = qsso_metadata_build_sp(*state, &sp);
    qsso_assert_contains(xml, "xmlenc#rsa-1_5\"/>");
    assert_null(strstr(xml, "rsa-oaep-mgf1p"));
    assert_null(strstr(xml, "aes128"));
}

static void test_metadata_sp_metadata_is_valid_against_the_schema(
    void **state)
{
    qsso_sp_metadata_t signing = {QSSO_FIX_SP, QSSO_FIX_ACS,
                                  qsso_test_cert_b64(*state, "sp"), 1, NULL,
                                  0};
    qsso_sp_metadata_t plain = {QSSO_FIX_SP, QSSO_FIX_ACS, NULL, 0, NULL, 0};
    const char *err;

    err = qsso_test_validate(*state, qsso_metadata_build_sp(*state, &signing),
                             "saml-schema-metadata-2.0.xsd");
    if (err)
        fail_msg("%s", err);
    err = qsso_test_validate(*state, qsso_metadata_build_sp(*state, &plain),
                             "saml-schema-metadata-2.0.xsd");
    if (err)
        fail_msg("%s", err);
    signing.enc_cert_b64 = signing.cert_b64;    /* and it can decrypt */
    err = qsso_test_validate(*state, qsso_metadata_build_sp(*state, &signing),
                             "saml-schema-metadata-2.0.xsd");
    if (err)
        fail_msg("%s", err);
}

static void test_metadata_schema_check_catches_an_invalid_document(
    void **state)
{
    qsso_sp_metadata_t sp = {QSSO_FIX_SP, QSSO_FIX_ACS, NULL, 0, NULL, 0};
    const char *bad = qsso_test_replace(*state,
                                        qsso_metadata_build_sp(*state, &sp),
                                        " index=\"0\"", "");

    /* the validator itself must be able to say no */
    qsso_assert_contains(qsso_test_validate(*state, bad,
                                            "saml-schema-metadata-2.0.xsd"),
                         "index");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_metadata_reads_idp_with_one_certificate),
        QSSO_TEST(test_metadata_reads_idp_with_two_certificates),
        QSSO_TEST(test_metadata_builds_one_xmlsec_key_per_certificate),
        QSSO_TEST(test_metadata_reads_idp_inside_entities_descriptor),
        QSSO_TEST(
            test_metadata_reads_unqualified_key_and_skips_encryption_key),
        QSSO_TEST(test_metadata_refuses_sp_metadata),
        QSSO_TEST(test_metadata_refuses_own_sp_metadata),
        QSSO_TEST(test_metadata_refuses_idp_without_signing_certificate),
        QSSO_TEST(test_metadata_refuses_certificate_that_is_not_base64),
        QSSO_TEST(test_metadata_refuses_certificate_that_is_not_x509),
        QSSO_TEST(
            test_metadata_refuses_a_signing_certificate_under_2048_bits),
        QSSO_TEST(test_metadata_refuses_text_that_is_not_xml),
        QSSO_TEST(test_metadata_refuses_doctype),
        QSSO_TEST(test_metadata_refuses_other_root_element),
        QSSO_TEST(test_metadata_refuses_two_idps_in_one_file),
        QSSO_TEST(test_metadata_refuses_idp_without_entity_id),
        QSSO_TEST(test_metadata_refuses_idp_without_usable_sso_binding),
        QSSO_TEST(test_metadata_refuses_missing_file_naming_it),
        QSSO_TEST(test_metadata_builds_sp_metadata_with_its_fields),
        QSSO_TEST(test_metadata_builds_sp_metadata_without_key),
        QSSO_TEST(test_metadata_escapes_sp_urls),
        QSSO_TEST(test_metadata_sp_metadata_advertises_the_encryption_key),
        QSSO_TEST(test_metadata_sp_metadata_is_valid_against_the_schema),
        QSSO_TEST(test_metadata_schema_check_catches_an_invalid_document),
    };

    return QSSO_TEST_RUN("metadata", tests);
}

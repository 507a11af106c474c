/*
 * qsso_algs.c: the names QSSOSignatureAlgorithms and
 * QSSOEncryptionAlgorithms accept, the masks in force, and the check of a
 * ds:SignedInfo against the policy, on SignedInfo elements written here
 * the way IdPs write them (pysaml2's shape), each refusal next to the
 * accepted form it differs from.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_algs.h"
#include "qsso_xml.h"

#define MORE "http://www.w3.org/2001/04/xmldsig-more#"
#define DSIG "http://www.w3.org/2000/09/xmldsig#"
#define EXC "http://www.w3.org/2001/10/xml-exc-c14n#"
#define INCL "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
#define SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define ENVELOPED DSIG "enveloped-signature"
#define T(uri) "<ds:Transform Algorithm=\"" uri "\"/>"

/* A SignedInfo with these parts, as pysaml2 writes one. */
static const char *qsso_test_signed_info(apr_pool_t *p, const char *c14n,
                                         const char *sig,
                                         const char *transforms,
                                         const char *digest)
{
    return apr_pstrcat(p,
        "<ds:SignedInfo xmlns:ds=\"" DSIG "\" xmlns:ec=\"" EXC "\">"
        "<ds:CanonicalizationMethod Algorithm=\"", c14n, "\"/>"
        "<ds:SignatureMethod Algorithm=\"", sig, "\"/>"
        "<ds:Reference URI=\"#_a\"><ds:Transforms>", transforms,
        "</ds:Transforms><ds:DigestMethod Algorithm=\"", digest, "\"/>"
        "<ds:DigestValue>AA==</ds:DigestValue></ds:Reference>"
        "</ds:SignedInfo>", NULL);
}

/* qsso_algs_check_signed_info on that SignedInfo; *why set. */
static int qsso_test_check(apr_pool_t *p, int mask, const char *c14n,
                           const char *sig, const char *transforms,
                           const char *digest, const char **why)
{
    const char *xml = qsso_test_signed_info(p, c14n, sig, transforms,
                                            digest);
    xmlDocPtr doc;
    xmlNodePtr si;

    *why = NULL;
    assert_int_equal(qsso_xml_parse(p, xml, strlen(xml), &doc), QSSO_XML_OK);
    si = xmlDocGetRootElement(doc);
    return qsso_algs_check_signed_info(p, mask, si,
                                       qsso_xml_child(si, QSSO_NS_DS,
                                                      "Reference"),
                                       why);
}

/* The usual signature with one part changed. */
static int qsso_test_check_sig(apr_pool_t *p, int mask, const char *sig,
                               const char *digest, const char **why)
{
    return qsso_test_check(p, mask, EXC, sig, T(ENVELOPED) T(EXC), digest,
                           why);
}

static int qsso_test_check_transforms(apr_pool_t *p, const char *c14n,
                                      const char *transforms,
                                      const char **why)
{
    return qsso_test_check(p, 0, c14n, MORE "rsa-sha256", transforms,
                           SHA256, why);
}

/* ---- directive words */

static void test_algs_parse_signature_reads_names_and_uris(void **state)
{
    int bit = 0;

    assert_null(qsso_algs_parse_signature(*state, "rsa-sha256", &bit));
    assert_int_equal(bit, QSSO_ALG_RSA_SHA256);
    assert_null(qsso_algs_parse_signature(*state, "ECDSA-SHA512", &bit));
    assert_int_equal(bit, QSSO_ALG_ECDSA_SHA512);
    assert_null(qsso_algs_parse_signature(*state, DSIG "rsa-sha1", &bit));
    assert_int_equal(bit, QSSO_ALG_RSA_SHA1);
    assert_null(qsso_algs_parse_signature(*state, MORE "rsa-sha384", &bit));
    assert_int_equal(bit, QSSO_ALG_RSA_SHA384);
}

static void test_algs_parse_signature_refuses_hmac_by_name_and_uri(
    void **state)
{
    int bit = 0;

    qsso_assert_contains(qsso_algs_parse_signature(*state, "hmac-sha256",
                                                   &bit),
                         "is an HMAC");
    qsso_assert_contains(qsso_algs_parse_signature(*state, DSIG "hmac-sha1",
                                                   &bit),
                         "is an HMAC");
    qsso_assert_contains(qsso_algs_parse_signature(*state,
                                                   MORE "hmac-sha512", &bit),
                         "never accepted");
    assert_int_equal(bit, 0);
}

static void test_algs_parse_signature_refuses_unknown_naming_the_choice(
    void **state)
{
    int bit = 0;
    const char *err = qsso_algs_parse_signature(*state, "rsa-md5", &bit);

    qsso_assert_contains(err, "'rsa-md5' is not one of");
    qsso_assert_contains(err, "rsa-sha256 rsa-sha384 rsa-sha512 ecdsa-sha256");
    /* a URI must match exactly, a short name is not a URI */
    assert_non_null(qsso_algs_parse_signature(*state, MORE "RSA-SHA256",
                                              &bit));
    /* encryption names are another directive's */
    assert_non_null(qsso_algs_parse_signature(*state, "aes128-cbc", &bit));
}

static void test_algs_parse_encryption_reads_both_kinds(void **state)
{
    int bit = 0;

    assert_null(qsso_algs_parse_encryption(*state, "rsa-oaep-mgf1p", &bit));
    assert_int_equal(bit, QSSO_ALG_RSA_OAEP_MGF1P);
    assert_null(qsso_algs_parse_encryption(*state, "rsa-1_5", &bit));
    assert_int_equal(bit, QSSO_ALG_RSA_1_5);
    assert_null(qsso_algs_parse_encryption(
        *state, "http://www.w3.org/2009/xmlenc11#aes256-gcm", &bit));
    assert_int_equal(bit, QSSO_ALG_AES256_GCM);
    assert_null(qsso_algs_parse_encryption(*state, "AES128-CBC", &bit));
    assert_int_equal(bit, QSSO_ALG_AES128_CBC);
}

static void test_algs_parse_encryption_refuses_3des_and_key_wrap(
    void **state)
{
    int bit = 0;

    qsso_assert_contains(qsso_algs_parse_encryption(*state, "tripledes-cbc",
                                                    &bit),
                         "is not one of rsa-oaep-mgf1p rsa-oaep rsa-1_5 "
                         "aes128-cbc");
    assert_non_null(qsso_algs_parse_encryption(
        *state, "http://www.w3.org/2001/04/xmlenc#kw-aes128", &bit));
    assert_non_null(qsso_algs_parse_encryption(*state, "rsa-sha256", &bit));
    assert_int_equal(bit, 0);
}

static void test_algs_parse_encryption_says_when_xmlsec_lacks_oaep11(
    void **state)
{
    int bit = 0;
    const char *err = qsso_algs_parse_encryption(*state, "rsa-oaep", &bit);

    /* accepted with xmlsec 1.3, else refused with the reason */
    if (err)
        qsso_assert_contains(err, "needs xmlsec 1.3");
    else
        assert_int_equal(bit, QSSO_ALG_RSA_OAEP);
}

/* ---- masks in force */

static void test_algs_signature_default_is_the_sha2_six(void **state)
{
    (void)state;
    assert_int_equal(qsso_algs_signature_mask(QSSO_UNSET),
                     QSSO_ALGS_SIG_DEFAULT);
    assert_false(QSSO_ALGS_SIG_DEFAULT & QSSO_ALG_RSA_SHA1);
    assert_int_equal(qsso_algs_signature_mask(QSSO_ALG_RSA_SHA512),
                     QSSO_ALG_RSA_SHA512);
}

static void test_algs_encryption_lists_replace_their_own_kind(void **state)
{
    (void)state;
    assert_int_equal(qsso_algs_encryption_mask(QSSO_UNSET),
                     QSSO_ALGS_ENC_DEFAULT);
    assert_false(QSSO_ALGS_ENC_DEFAULT & QSSO_ALG_RSA_1_5);
    /* naming a key transport keeps the default content algorithms */
    assert_int_equal(qsso_algs_encryption_mask(QSSO_ALG_RSA_1_5),
                     QSSO_ALG_RSA_1_5
                         | (QSSO_ALGS_ENC_DEFAULT & QSSO_ALGS_CONTENT));
    /* naming content keeps the default key transport */
    assert_int_equal(qsso_algs_encryption_mask(QSSO_ALG_AES256_GCM),
                     QSSO_ALG_AES256_GCM | QSSO_ALG_RSA_OAEP_MGF1P);
}

static void test_algs_names_lists_a_mask(void **state)
{
    qsso_assert_str(qsso_algs_names(*state, QSSO_ALGS_ENC_DEFAULT,
                                    QSSO_ALG_CONTENT),
                    "aes128-cbc aes256-cbc aes128-gcm aes256-gcm");
    qsso_assert_str(qsso_algs_names(*state, QSSO_ALGS_ENC_DEFAULT,
                                    QSSO_ALG_KEY_TRANSPORT),
                    "rsa-oaep-mgf1p");
    qsso_assert_str(qsso_algs_names(*state, 0, QSSO_ALG_SIGNATURE),
                    "(none)");
}

static void test_algs_allowed_matches_uri_kind_and_mask(void **state)
{
    const char *cbc = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    const qsso_alg_t *a = qsso_algs_allowed(QSSO_ALGS_ENC_DEFAULT,
                                            QSSO_ALG_CONTENT, cbc);

    (void)state;
    assert_non_null(a);
    assert_int_equal(a->key_bytes, 16);
    assert_null(qsso_algs_allowed(QSSO_ALG_AES256_GCM, QSSO_ALG_CONTENT,
                                  cbc));
    assert_null(qsso_algs_allowed(QSSO_ALGS_ENC_DEFAULT,
                                  QSSO_ALG_KEY_TRANSPORT, cbc));
    assert_null(qsso_algs_allowed(QSSO_ALGS_ENC_DEFAULT, QSSO_ALG_CONTENT,
                                  NULL));
}

/* ---- SignedInfo: algorithms (2113) */

static void test_algs_accepts_rsa_sha256_with_exclusive_c14n(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_sig(*state, 0, MORE "rsa-sha256",
                                         SHA256, &why),
                     QSSO_OK);
    assert_int_equal(qsso_test_check_sig(*state, 0, MORE "ecdsa-sha384",
                                         MORE "sha384", &why),
                     QSSO_OK);
    assert_int_equal(qsso_test_check_sig(
                         *state, 0, MORE "rsa-sha512",
                         "http://www.w3.org/2001/04/xmlenc#sha512", &why),
                     QSSO_OK);
}

static void test_algs_refuses_sha1_unless_rsa_sha1_is_listed(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_sig(*state, 0, DSIG "rsa-sha1",
                                         SHA256, &why), 2113);
    qsso_assert_contains(why, "SignatureMethod \"" DSIG "rsa-sha1\"");
    assert_int_equal(qsso_test_check_sig(*state, 0, MORE "rsa-sha256",
                                         DSIG "sha1", &why), 2113);
    qsso_assert_contains(why, "DigestMethod \"" DSIG "sha1\"");
    assert_int_equal(qsso_test_check_sig(*state, QSSO_ALG_RSA_SHA256
                                         | QSSO_ALG_RSA_SHA1,
                                         DSIG "rsa-sha1", DSIG "sha1",
                                         &why),
                     QSSO_OK);
    assert_int_equal(qsso_test_check_sig(*state, QSSO_ALG_RSA_SHA256
                                         | QSSO_ALG_RSA_SHA1,
                                         MORE "rsa-sha256", DSIG "sha1",
                                         &why),
                     QSSO_OK);
}

static void test_algs_refuses_what_the_list_leaves_out(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_sig(*state, QSSO_ALG_RSA_SHA512,
                                         MORE "rsa-sha256", SHA256, &why),
                     2113);
    qsso_assert_contains(why, "QSSOSignatureAlgorithms: rsa-sha512");
    assert_int_equal(qsso_test_check_sig(*state, QSSO_ALG_RSA_SHA512,
                                         MORE "rsa-sha512", SHA256, &why),
                     QSSO_OK);
}

static void test_algs_refuses_hmac_even_with_everything_listed(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_sig(*state, 0x7fff,
                                         MORE "hmac-sha256", SHA256, &why),
                     2113);
    qsso_assert_contains(why, "is an HMAC");
    assert_int_equal(qsso_test_check_sig(*state, 0x7fff, DSIG "hmac-sha1",
                                         SHA256, &why),
                     2113);
}

static void test_algs_refuses_missing_or_unknown_digest(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_sig(*state, 0, MORE "rsa-sha256",
                                         MORE "sha224", &why), 2113);
    assert_int_equal(qsso_test_check_sig(*state, 0, MORE "rsa-sha256",
                                         "http://www.w3.org/2001/04/"
                                         "xmldsig-more#md5", &why),
                     2113);
}

/* ---- SignedInfo: canonicalization and transforms (2127) */

static void test_algs_accepts_exclusive_c14n_with_and_without_comments(
    void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_transforms(
                         *state, EXC "WithComments",
                         T(ENVELOPED) T(EXC "WithComments"), &why),
                     QSSO_OK);
    /* the InclusiveNamespaces parameter of exclusive C14N is fine */
    assert_int_equal(qsso_test_check_transforms(
                         *state, EXC,
                         T(ENVELOPED) "<ds:Transform Algorithm=\"" EXC "\">"
                         "<ec:InclusiveNamespaces PrefixList=\"xs\"/>"
                         "</ds:Transform>", &why),
                     QSSO_OK);
}

static void test_algs_refuses_inclusive_canonicalization_method(
    void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_transforms(*state, INCL,
                                                T(ENVELOPED) T(EXC), &why),
                     2127);
    qsso_assert_contains(why, "CanonicalizationMethod \"" INCL "\"");
    assert_int_equal(qsso_test_check_transforms(
                         *state, "http://www.w3.org/2006/12/xml-c14n11",
                         T(ENVELOPED) T(EXC), &why),
                     2127);
}

static void test_algs_refuses_other_transforms(void **state)
{
    static const char *const bad[] = {
        INCL, INCL "#WithComments", "http://www.w3.org/2006/12/xml-c14n11",
        "http://www.w3.org/TR/1999/REC-xpath-19991116",
        "http://www.w3.org/2002/06/xmldsig-filter2",
        "http://www.w3.org/TR/1999/REC-xslt-19991116", DSIG "base64",
        "http://www.w3.org/2002/07/decrypt#XML", "urn:x-unknown",
    };
    apr_size_t i;
    const char *why;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *ts = apr_pstrcat(*state, T(ENVELOPED)
                                     "<ds:Transform Algorithm=\"", bad[i],
                                     "\"/>" T(EXC), NULL);
        if (qsso_test_check_transforms(*state, EXC, ts, &why) != 2127)
            fail_msg("transform %s was not refused", bad[i]);
        qsso_assert_contains(why, bad[i]);
    }
}

static void test_algs_refuses_xpath_in_place_of_exclusive_c14n(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_transforms(
                         *state, EXC,
                         "<ds:Transform Algorithm=\"http://www.w3.org/TR/"
                         "1999/REC-xpath-19991116\"><ds:XPath>"
                         "not(ancestor-or-self::ds:Signature)</ds:XPath>"
                         "</ds:Transform>" T(EXC), &why),
                     2127);
}

static void test_algs_refuses_a_reference_not_ending_in_exclusive_c14n(
    void **state)
{
    const char *why;

    /* with enveloped-signature alone, inclusive C14N applies by default */
    assert_int_equal(qsso_test_check_transforms(*state, EXC, T(ENVELOPED),
                                                &why),
                     2127);
    qsso_assert_contains(why, "does not end with an exclusive C14N");
    assert_int_equal(qsso_test_check_transforms(*state, EXC, "", &why),
                     2127);
    assert_int_equal(qsso_test_check_transforms(*state, EXC,
                                                T(EXC) T(ENVELOPED), &why),
                     2127);
}

static void test_algs_refuses_more_than_two_transforms(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_transforms(
                         *state, EXC, T(ENVELOPED) T(EXC) T(EXC), &why),
                     2127);
    qsso_assert_contains(why, "more than 2 Transforms");
    assert_int_equal(qsso_test_check_transforms(*state, EXC, T(EXC), &why),
                     QSSO_OK);
}

static void test_algs_refuses_unknown_children_in_transforms(void **state)
{
    const char *why;

    assert_int_equal(qsso_test_check_transforms(
                         *state, EXC,
                         T(ENVELOPED) "<ds:Transform Algorithm=\"" EXC "\">"
                         "<x:y xmlns:x=\"urn:x\"/></ds:Transform>", &why),
                     2127);
    assert_int_equal(qsso_test_check_transforms(
                         *state, EXC,
                         T(ENVELOPED) "<ds:XPath>x</ds:XPath>" T(EXC), &why),
                     2127);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_algs_parse_signature_reads_names_and_uris),
        QSSO_TEST(test_algs_parse_signature_refuses_hmac_by_name_and_uri),
        QSSO_TEST(
            test_algs_parse_signature_refuses_unknown_naming_the_choice),
        QSSO_TEST(test_algs_parse_encryption_reads_both_kinds),
        QSSO_TEST(test_algs_parse_encryption_refuses_3des_and_key_wrap),
        QSSO_TEST(test_algs_parse_encryption_says_when_xmlsec_lacks_oaep11),
        QSSO_TEST(test_algs_signature_default_is_the_sha2_six),
        QSSO_TEST(test_algs_encryption_lists_replace_their_own_kind),
        QSSO_TEST(test_algs_names_lists_a_mask),
        QSSO_TEST(test_algs_allowed_matches_uri_kind_and_mask),
        QSSO_TEST(test_algs_accepts_rsa_sha256_with_exclusive_c14n),
        QSSO_TEST(test_algs_refuses_sha1_unless_rsa_sha1_is_listed),
        QSSO_TEST(test_algs_refuses_what_the_list_leaves_out),
        QSSO_TEST(test_algs_refuses_hmac_even_with_everything_listed),
        QSSO_TEST(test_algs_refuses_missing_or_unknown_digest),
        QSSO_TEST(
            test_algs_accepts_exclusive_c14n_with_and_without_comments),
        QSSO_TEST(test_algs_refuses_inclusive_canonicalization_method),
        QSSO_TEST(test_algs_refuses_other_transforms),
        QSSO_TEST(test_algs_refuses_xpath_in_place_of_exclusive_c14n),
        QSSO_TEST(
            test_algs_refuses_a_reference_not_ending_in_exclusive_c14n),
        QSSO_TEST(test_algs_refuses_more_than_two_transforms),
        QSSO_TEST(test_algs_refuses_unknown_children_in_transforms),
    };

    return QSSO_TEST_RUN("algs", tests);
}

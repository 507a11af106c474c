/*
 * qsso_response_verify, the ACS's verification entry: a SAMLResponse in,
 * a verdict out, with the IdP keys of t/unit/fixtures/idp-metadata.xml,
 * the SP key t/keys/sp.key (so EncryptedAssertions are decrypted), the
 * widest algorithm policy and the fixtures' clock, SP and ACS URL.
 * Three input forms:
 *
 *   base64 text      the SAMLResponse form value as POSTed (after URL
 *                    decoding), so the strict base64 decoder is in the path;
 *   '<' ...          raw XML, base64-encoded here, so mutations reach the
 *                    parser, ID and Assertion checks and xmlsec directly;
 *   '!' '<' ...      raw XML whose ds:Signature elements are signed again
 *                    here with t/keys/idp1.key (the metadata's key), so a
 *                    mutation inside signed content gets past the signature
 *                    and reaches Issuer, Destination, time conditions,
 *                    Audience, SubjectConfirmation and attribute reading.
 *
 * Invariants: a refusal carries a code of the 21xx range that the code
 * table knows and a detail; an acceptance has an assertion ID, a NameID
 * and the fixture IdP as Issuer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/keys.h>
#include <xmlsec/crypto.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_errors.h"
#include "qsso_algs.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_response.h"
#include "qsso_xml.h"
#include "fixtures/fixtures.h"
#include "fuzz_common.h"

#define QSSO_FUZZ_SKEW 90

static qsso_idp_t *qsso_fuzz_idp;
static qsso_key_t *qsso_fuzz_sp_key;
static xmlSecKeyPtr qsso_fuzz_signing_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *root;
    const char *err;

    (void)argc;
    (void)argv;
    qsso_fuzz_init_begin();
    root = qsso_fuzz_init();
    err = qsso_metadata_load_idp(root, QSSO_FUZZ_FIXTURE("idp-metadata.xml"),
                                 &qsso_fuzz_idp);
    if (err == NULL)
        err = qsso_keys_prepare_idp(root, qsso_fuzz_idp);
    if (err == NULL)
        err = qsso_keys_load_key(root, QSSO_FUZZ_KEY("sp.key"),
                                 &qsso_fuzz_sp_key);
    if (err == NULL)
        err = qsso_keys_prepare_sp(root, qsso_fuzz_sp_key);
    if (err)
        qsso_fuzz_fail("fixture metadata or SP key: %s", err);
    qsso_fuzz_signing_key = xmlSecCryptoAppKeyLoad(
        QSSO_FUZZ_KEY("idp1.key"), xmlSecKeyDataFormatPem, NULL, NULL, NULL);
    if (qsso_fuzz_signing_key == NULL)
        qsso_fuzz_fail("cannot load " QSSO_FUZZ_KEY("idp1.key"));
    qsso_fuzz_init_end();
    return 0;
}

/* Registers every unqualified ID attribute, as an IdP's signer would, so
 * the References' "#ID" URIs resolve; duplicates keep the first. */
static void qsso_fuzz_register_ids(xmlDocPtr doc, xmlNodePtr node)
{
    for (; node; node = node->next) {
        xmlAttrPtr a;
        if (node->type != XML_ELEMENT_NODE)
            continue;
        for (a = node->properties; a; a = a->next) {
            xmlChar *v;
            if (a->ns || strcmp((const char *)a->name, "ID"))
                continue;
            v = xmlNodeListGetString(doc, a->children, 1);
            if (v && xmlGetID(doc, v) == NULL)
                xmlAddID(NULL, doc, v, a);
            xmlFree(v);
        }
        qsso_fuzz_register_ids(doc, node->children);
    }
}

static void qsso_fuzz_collect_signatures(xmlNodePtr node,
                                         apr_array_header_t *sigs)
{
    for (; node; node = node->next) {
        if (qsso_xml_is(node, QSSO_NS_DS, "Signature"))
            APR_ARRAY_PUSH(sigs, xmlNodePtr) = node;
        if (node->type == XML_ELEMENT_NODE)
            qsso_fuzz_collect_signatures(node->children, sigs);
    }
}

/* xml with every Signature signed again, as base64; a signature that
 * cannot be made (broken template) is left as it was. Enveloped signatures
 * are made innermost first, so the Response's covers the Assertion's. */
static const char *qsso_fuzz_resign(apr_pool_t *p, const char *xml,
                                    size_t len)
{
    xmlDocPtr doc;
    apr_array_header_t *sigs = apr_array_make(p, 2, sizeof(xmlNodePtr));
    xmlChar *out = NULL;
    int outlen = 0, i;
    const char *b64 = NULL;

    doc = xmlReadMemory(xml, (int)len, "fuzz.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR
                            | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return qsso_codec_base64_encode(p, xml, len);
    qsso_fuzz_register_ids(doc, doc->children);
    qsso_fuzz_collect_signatures(doc->children, sigs);
    for (i = sigs->nelts - 1; i >= 0; i--) {
        xmlSecDSigCtxPtr d = xmlSecDSigCtxCreate(NULL);
        if (d == NULL)
            break;
        d->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
        d->signKey = xmlSecKeyDuplicate(qsso_fuzz_signing_key);
        if (d->signKey)
            (void)xmlSecDSigCtxSign(d, APR_ARRAY_IDX(sigs, i, xmlNodePtr));
        xmlSecDSigCtxDestroy(d);
    }
    xmlDocDumpMemory(doc, &out, &outlen);
    if (out)
        b64 = qsso_codec_base64_encode(p, out, (apr_size_t)outlen);
    xmlFree(out);
    xmlFreeDoc(doc);
    return b64 ? b64 : qsso_codec_base64_encode(p, xml, len);
}

static void qsso_fuzz_verify(apr_pool_t *p, const char *b64)
{
    qsso_response_input_t in;
    qsso_assertion_t a;
    qsso_err_t err;
    int rc, i, j;

    memset(&in, 0, sizeof(in));
    in.saml_response = b64;
    in.idp = qsso_fuzz_idp;
    in.sp_entity_id = QSSO_FIX_SP;
    in.acs_url = QSSO_FIX_ACS;
    in.now = apr_time_from_sec((apr_time_t)QSSO_FIX_NOW_SEC);
    in.clock_skew = QSSO_FUZZ_SKEW;
    in.sp_key = qsso_fuzz_sp_key;
    /* The widest policy a site may configure, so RSA 1.5 key transport
     * and SHA-1 signatures are parsed and decrypted too. */
    in.sig_algs = QSSO_ALGS_SIG_DEFAULT | QSSO_ALG_RSA_SHA1;
    in.enc_algs = QSSO_ALGS_ENC_DEFAULT | QSSO_ALG_RSA_1_5;
    rc = qsso_response_verify(p, &in, &a, &err);
    if (getenv("QSSO_FUZZ_VERBOSE"))        /* README: reading a crash */
        fprintf(stderr, "verdict: %s%d %s\n", rc ? "QSSO" : "accepted ", rc,
                rc ? err.detail : a.name_id);
    if (rc != QSSO_OK) {
        QSSO_FUZZ_CHECK(rc == err.code && rc >= 2100 && rc < 2200
                            && qsso_err_lookup(rc) != NULL
                            && err.detail != NULL,
                        "refusal %d (err.code %d) is not a known 21xx code "
                        "with a detail", rc, err.code);
        return;
    }
    QSSO_FUZZ_CHECK(a.assertion_id && *a.assertion_id && a.name_id
                        && a.issuer && !strcmp(a.issuer, QSSO_FIX_IDP),
                    "accepted without assertion ID, NameID or issuer %s",
                    a.issuer ? a.issuer : "(null)");
    for (i = 0; a.attrs && i < a.attrs->nelts; i++) {
        const qsso_attr_t *at = &APR_ARRAY_IDX(a.attrs, i, qsso_attr_t);
        for (j = 0; j < at->values->nelts; j++)
            QSSO_FUZZ_CHECK(APR_ARRAY_IDX(at->values, j, const char *),
                            "attribute %d has a NULL value", i);
        (void)qsso_response_attr_values(&a, at->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    const char *s = qsso_fuzz_string(p, data, size);

    if (s[0] == '<')
        qsso_fuzz_verify(p, qsso_codec_base64_encode(p, data, size));
    else if (s[0] == '!' && s[1] == '<')
        qsso_fuzz_verify(p, qsso_fuzz_resign(p, (const char *)data + 1,
                                             size - 1));
    else
        qsso_fuzz_verify(p, s);
    apr_pool_destroy(p);
    return 0;
}

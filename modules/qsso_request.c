/*
 * AuthnRequest (SAML Core 3.4.1) for the HTTP-Redirect binding (deflate,
 * base64, query signature over SAMLRequest, RelayState and SigAlg, Bindings
 * 3.4.4.1) and the HTTP-POST binding (an auto-submitting form, enveloped
 * signature after the Issuer). Knows nothing of HTTP requests.
 */
#include <string.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/templates.h>
#include <xmlsec/crypto.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_errors.h"
#include "qsso_keys.h"
#include "qsso_request.h"
#include "qsso_xml.h"

#define QSSO_SIGALG_RSA_SHA256 \
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

const char *qsso_request_new_id(apr_pool_t *p)
{
    const char *hex = qsso_codec_random_hex(p, 16);

    return hex ? apr_pstrcat(p, "_", hex, NULL) : NULL;
}

static const char *qsso_request_xml(apr_pool_t *p,
                                    const qsso_request_input_t *in)
{
    char ts[APR_RFC822_DATE_LEN + 8];
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, in->now);
    apr_snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02dZ",
                 x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                 x.tm_min, x.tm_sec);
    return apr_pstrcat(p,
        "<samlp:AuthnRequest xmlns:samlp=\"" QSSO_NS_SAMLP "\" "
        "xmlns:saml=\"" QSSO_NS_SAML "\" ID=\"", in->id,
        "\" Version=\"2.0\" IssueInstant=\"", ts, "\" Destination=\"",
        qsso_codec_html_escape(p, in->sso_url),
        "\" AssertionConsumerServiceURL=\"",
        qsso_codec_html_escape(p, in->acs_url),
        "\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:"
        "HTTP-POST\"", in->force_authn ? " ForceAuthn=\"true\"" : "",
        "><saml:Issuer>", qsso_codec_html_escape(p, in->sp_entity_id),
        "</saml:Issuer><samlp:NameIDPolicy AllowCreate=\"true\"/>"
        "</samlp:AuthnRequest>", NULL);
}

static int qsso_request_redirect(apr_pool_t *p, const qsso_request_input_t *in,
                                 qsso_request_t *out, qsso_err_t *err)
{
    apr_size_t zlen;
    char *z = qsso_codec_deflate(p, out->xml, strlen(out->xml), &zlen);
    const char *query, *sig;

    if (z == NULL)
        return qsso_err_set(p, err, 2003, "deflate of the AuthnRequest "
                            "failed");
    query = apr_pstrcat(p, "SAMLRequest=",
                        qsso_codec_url_encode(p, qsso_codec_base64_encode(
                                                     p, z, zlen)),
                        "&RelayState=",
                        qsso_codec_url_encode(p, in->relay_state), NULL);
    if (in->key) {
        query = apr_pstrcat(p, query, "&SigAlg=",
                            qsso_codec_url_encode(p, QSSO_SIGALG_RSA_SHA256),
                            NULL);
        sig = qsso_keys_sign_rsa_sha256(p, in->key, query, strlen(query));
        if (sig == NULL)
            return qsso_err_set(p, err, 2003, "signing the AuthnRequest with "
                                "'%s' failed", in->key->file);
        query = apr_pstrcat(p, query, "&Signature=",
                            qsso_codec_url_encode(p, sig), NULL);
    }
    out->redirect_url = apr_pstrcat(p, in->sso_url,
                                    strchr(in->sso_url, '?') ? "&" : "?",
                                    query, NULL);
    return QSSO_OK;
}

/* Enveloped signature right after the Issuer, as the schema orders it. */
static int qsso_request_sign_xml(apr_pool_t *p, const qsso_request_input_t *in,
                                 const char **xml, qsso_err_t *err)
{
    xmlDocPtr doc;
    xmlNodePtr root, issuer, sig, ref;
    xmlSecDSigCtxPtr ctx;
    xmlChar *buf = NULL;
    int len = 0, ok;

    if (qsso_xml_parse(p, *xml, strlen(*xml), &doc) != QSSO_XML_OK)
        return qsso_err_set(p, err, 2003, "the AuthnRequest is not XML");
    root = xmlDocGetRootElement(doc);
    issuer = qsso_xml_child(root, QSSO_NS_SAML, "Issuer");
    xmlAddID(NULL, doc, (const xmlChar *)in->id,
             xmlHasProp(root, (const xmlChar *)"ID"));
    sig = xmlSecTmplSignatureCreateNsPref(doc, xmlSecTransformExclC14NId,
                                          xmlSecTransformRsaSha256Id, NULL,
                                          (const xmlChar *)"ds");
    if (sig == NULL || issuer == NULL)
        return qsso_err_set(p, err, 2003, "cannot build the signature "
                            "template");
    xmlAddNextSibling(issuer, sig);
    ref = xmlSecTmplSignatureAddReference(
        sig, xmlSecTransformSha256Id, NULL,
        (const xmlChar *)apr_pstrcat(p, "#", in->id, NULL), NULL);
    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformEnvelopedId);
    xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId);
    if ((ctx = xmlSecDSigCtxCreate(NULL)) == NULL)
        return qsso_err_set(p, err, 2003, "out of memory");
    ctx->signKey = xmlSecKeyDuplicate(in->key->xmlsec_key);
    ok = ctx->signKey && xmlSecDSigCtxSign(ctx, sig) == 0;
    xmlSecDSigCtxDestroy(ctx);
    if (!ok)
        return qsso_err_set(p, err, 2003, "signing the AuthnRequest with "
                            "'%s' failed", in->key->file);
    xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
    *xml = apr_pstrmemdup(p, (const char *)buf, (apr_size_t)len);
    xmlFree(buf);
    return QSSO_OK;
}

static int qsso_request_post(apr_pool_t *p, const qsso_request_input_t *in,
                             qsso_request_t *out, qsso_err_t *err)
{
    const char *xml = out->xml;
    int rc;

    if (in->key && in->key->xmlsec_key == NULL)
        return qsso_err_set(p, err, 2003, "the SP key '%s' was not prepared "
                            "for XML signatures", in->key->file);
    if (in->key && (rc = qsso_request_sign_xml(p, in, &xml, err)) != QSSO_OK)
        return rc;
    out->post_form = apr_pstrcat(p,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>Signing in</title></head>\n"
        "<body onload=\"document.forms[0].submit()\">\n"
        "<form method=\"post\" action=\"",
        qsso_codec_html_escape(p, in->sso_url), "\">\n"
        "<input type=\"hidden\" name=\"SAMLRequest\" value=\"",
        qsso_codec_base64_encode(p, xml, strlen(xml)), "\">\n"
        "<input type=\"hidden\" name=\"RelayState\" value=\"",
        qsso_codec_html_escape(p, in->relay_state), "\">\n"
        "<noscript><button type=\"submit\">Continue to sign in</button>"
        "</noscript>\n</form>\n</body></html>\n", NULL);
    return QSSO_OK;
}

int qsso_request_build(apr_pool_t *p, const qsso_request_input_t *in,
                       qsso_request_t *out, qsso_err_t *err)
{
    memset(out, 0, sizeof(*out));
    out->xml = qsso_request_xml(p, in);
    if (in->binding == QSSO_BINDING_POST)
        return qsso_request_post(p, in, out, err);
    return qsso_request_redirect(p, in, out, err);
}

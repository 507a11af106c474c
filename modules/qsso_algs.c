/*
 * Algorithm policy of responses: which signature, digest, canonicalization
 * and transform algorithms a ds:Signature may use, and which key transport
 * and content encryption algorithms an EncryptedAssertion may use. The
 * names come from QSSOSignatureAlgorithms and QSSOEncryptionAlgorithms;
 * the checks here read the message before xmlsec does, so a refusal names
 * the algorithm, and the same lists are handed to xmlsec so that it loads
 * nothing else even if a check here had a gap.
 *
 * Why: SHA-1 is collision-broken (off unless rsa-sha1 is listed); HMAC
 * would let anyone who knows the "key" (for a public-key IdP, anyone)
 * sign, and its truncation parameter was CVE-2009-0217; XPath, XSLT and
 * base64 transforms change what the digest covers, the classic way to
 * sign one thing and make the SP read another; inclusive C14N pulls the
 * surrounding namespace context into the digest and is what the spec
 * falls back to when a Reference names no C14N, so exclusive C14N must be
 * the last transform.
 */
#include <string.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/version.h>
#include <xmlsec/transforms.h>
#include <xmlsec/xmldsig.h>
#include <apr_strings.h>

#include "qsso_algs.h"
#include "qsso_codec.h"
#include "qsso_xml.h"

#define QSSO_ALGS_DSIG "http://www.w3.org/2000/09/xmldsig#"
#define QSSO_ALGS_MORE "http://www.w3.org/2001/04/xmldsig-more#"
#define QSSO_ALGS_ENC "http://www.w3.org/2001/04/xmlenc#"
#define QSSO_ALGS_ENC11 "http://www.w3.org/2009/xmlenc11#"
#define QSSO_ALGS_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define QSSO_ALGS_EXC_C14N_WC QSSO_ALGS_EXC_C14N "WithComments"
#define QSSO_ALGS_ENVELOPED QSSO_ALGS_DSIG "enveloped-signature"
#define QSSO_ALGS_SHA1 QSSO_ALGS_DSIG "sha1"
#define QSSO_ALGS_MAX_TRANSFORMS 2

/* xmlenc11 rsa-oaep (MGF1 with any digest) came with xmlsec 1.3. */
#if XMLSEC_VERSION_MAJOR > 1 \
    || (XMLSEC_VERSION_MAJOR == 1 && XMLSEC_VERSION_MINOR >= 3)
#define QSSO_ALGS_HAVE_OAEP11 1
#else
#define QSSO_ALGS_HAVE_OAEP11 0
#endif

const qsso_alg_t qsso_algs_all[] = {
    {"rsa-sha256", QSSO_ALGS_MORE "rsa-sha256", QSSO_ALG_SIGNATURE,
     QSSO_ALG_RSA_SHA256, 0},
    {"rsa-sha384", QSSO_ALGS_MORE "rsa-sha384", QSSO_ALG_SIGNATURE,
     QSSO_ALG_RSA_SHA384, 0},
    {"rsa-sha512", QSSO_ALGS_MORE "rsa-sha512", QSSO_ALG_SIGNATURE,
     QSSO_ALG_RSA_SHA512, 0},
    {"ecdsa-sha256", QSSO_ALGS_MORE "ecdsa-sha256", QSSO_ALG_SIGNATURE,
     QSSO_ALG_ECDSA_SHA256, 0},
    {"ecdsa-sha384", QSSO_ALGS_MORE "ecdsa-sha384", QSSO_ALG_SIGNATURE,
     QSSO_ALG_ECDSA_SHA384, 0},
    {"ecdsa-sha512", QSSO_ALGS_MORE "ecdsa-sha512", QSSO_ALG_SIGNATURE,
     QSSO_ALG_ECDSA_SHA512, 0},
    {"rsa-sha1", QSSO_ALGS_DSIG "rsa-sha1", QSSO_ALG_SIGNATURE,
     QSSO_ALG_RSA_SHA1, 0},
    {"rsa-oaep-mgf1p", QSSO_ALGS_ENC "rsa-oaep-mgf1p", QSSO_ALG_KEY_TRANSPORT,
     QSSO_ALG_RSA_OAEP_MGF1P, 0},
    {"rsa-oaep", QSSO_ALGS_ENC11 "rsa-oaep", QSSO_ALG_KEY_TRANSPORT,
     QSSO_ALG_RSA_OAEP, 0},
    {"rsa-1_5", QSSO_ALGS_ENC "rsa-1_5", QSSO_ALG_KEY_TRANSPORT,
     QSSO_ALG_RSA_1_5, 0},
    {"aes128-cbc", QSSO_ALGS_ENC "aes128-cbc", QSSO_ALG_CONTENT,
     QSSO_ALG_AES128_CBC, 16},
    {"aes256-cbc", QSSO_ALGS_ENC "aes256-cbc", QSSO_ALG_CONTENT,
     QSSO_ALG_AES256_CBC, 32},
    {"aes128-gcm", QSSO_ALGS_ENC11 "aes128-gcm", QSSO_ALG_CONTENT,
     QSSO_ALG_AES128_GCM, 16},
    {"aes256-gcm", QSSO_ALGS_ENC11 "aes256-gcm", QSSO_ALG_CONTENT,
     QSSO_ALG_AES256_GCM, 32},
    {NULL, NULL, 0, 0, 0}
};

/* Always accepted; SHA-1 only with rsa-sha1. */
static const char *const qsso_algs_sha2[] = {
    "http://www.w3.org/2001/04/xmlenc#sha256", QSSO_ALGS_MORE "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512", NULL
};

/* A value from the message, safe for the one log line. */
static const char *qsso_algs_logv(apr_pool_t *p, const char *v)
{
    return v ? qsso_codec_log_escape(p, v, 120) : "(none)";
}

static const qsso_alg_t *qsso_algs_find(const char *word, int kind_lo,
                                        int kind_hi)
{
    const qsso_alg_t *a;

    for (a = qsso_algs_all; word && a->name; a++)
        if (a->kind >= kind_lo && a->kind <= kind_hi
            && (!strcasecmp(word, a->name) || !strcmp(word, a->uri)))
            return a;
    return NULL;
}

static int qsso_algs_is_hmac(const char *word)
{
    const char *frag = strrchr(word, '#');

    return !strncasecmp(frag ? frag + 1 : word, "hmac-", 5);
}

const char *qsso_algs_names(apr_pool_t *p, int mask, int kind)
{
    const qsso_alg_t *a;
    const char *s = NULL;

    for (a = qsso_algs_all; a->name; a++)
        if (a->kind == kind && (mask & a->bit))
            s = s ? apr_pstrcat(p, s, " ", a->name, NULL) : a->name;
    return s ? s : "(none)";
}

const char *qsso_algs_parse_signature(apr_pool_t *p, const char *word,
                                      int *bit)
{
    const qsso_alg_t *a = qsso_algs_find(word, QSSO_ALG_SIGNATURE,
                                         QSSO_ALG_SIGNATURE);

    if (qsso_algs_is_hmac(word))
        return apr_psprintf(p, "'%s' is an HMAC: a shared-secret MAC is "
                            "never accepted on a response (with a public "
                            "IdP certificate anyone could compute it)",
                            word);
    if (a == NULL)
        return apr_psprintf(p, "'%s' is not one of %s (or their URIs)",
                            word, qsso_algs_names(p, 0x7fff,
                                                  QSSO_ALG_SIGNATURE));
    *bit = a->bit;
    return NULL;
}

const char *qsso_algs_parse_encryption(apr_pool_t *p, const char *word,
                                       int *bit)
{
    const qsso_alg_t *a = qsso_algs_find(word, QSSO_ALG_KEY_TRANSPORT,
                                         QSSO_ALG_CONTENT);

    if (a == NULL)
        return apr_psprintf(p, "'%s' is not one of %s %s (or their URIs)",
                            word,
                            qsso_algs_names(p, 0x7fff,
                                            QSSO_ALG_KEY_TRANSPORT),
                            qsso_algs_names(p, 0x7fff, QSSO_ALG_CONTENT));
    if (a->bit == QSSO_ALG_RSA_OAEP && !QSSO_ALGS_HAVE_OAEP11)
        return apr_psprintf(p, "'%s' (xmlenc11 RSA-OAEP) needs xmlsec 1.3 "
                            "or later; this module is built with xmlsec "
                            "%s: use rsa-oaep-mgf1p", word, XMLSEC_VERSION);
    *bit = a->bit;
    return NULL;
}

int qsso_algs_signature_mask(int configured)
{
    return configured == QSSO_UNSET || configured <= 0 ? QSSO_ALGS_SIG_DEFAULT
                                                       : configured;
}

int qsso_algs_encryption_mask(int configured)
{
    int m = configured == QSSO_UNSET || configured < 0 ? 0 : configured;

    if ((m & QSSO_ALGS_TRANSPORT) == 0)
        m |= QSSO_ALGS_ENC_DEFAULT & QSSO_ALGS_TRANSPORT;
    if ((m & QSSO_ALGS_CONTENT) == 0)
        m |= QSSO_ALGS_ENC_DEFAULT & QSSO_ALGS_CONTENT;
    return m;
}

const qsso_alg_t *qsso_algs_allowed(int mask, int kind, const char *uri)
{
    const qsso_alg_t *a;

    for (a = qsso_algs_all; uri && a->name; a++)
        if (a->kind == kind && (mask & a->bit) && !strcmp(uri, a->uri))
            return a;
    return NULL;
}

static int qsso_algs_in(const char *uri, const char *const *list)
{
    for (; uri && *list; list++)
        if (!strcmp(uri, *list))
            return 1;
    return 0;
}

static int qsso_algs_is_exc_c14n(const char *uri)
{
    return uri && (!strcmp(uri, QSSO_ALGS_EXC_C14N)
                   || !strcmp(uri, QSSO_ALGS_EXC_C14N_WC));
}

/* Only ec:InclusiveNamespaces may sit inside an exclusive C14N method;
 * anything inside another transform (ds:XPath, xsl:stylesheet) is what
 * makes it dangerous, and it is refused with its transform anyway. */
static int qsso_algs_check_params(const xmlNode *method)
{
    const xmlNode *c;

    for (c = method ? method->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE
            && !qsso_xml_is(c, QSSO_ALGS_EXC_C14N, "InclusiveNamespaces"))
            return -1;
    return 0;
}

static int qsso_algs_check_transforms(apr_pool_t *p, const xmlNode *ref,
                                      const char **why)
{
    const xmlNode *ts = qsso_xml_child(ref, QSSO_NS_DS, "Transforms"), *t;
    const char *alg = NULL;
    int n = 0;

    for (t = ts ? ts->children : NULL; t; t = t->next) {
        if (t->type != XML_ELEMENT_NODE)
            continue;
        alg = qsso_xml_attr(p, t, "Algorithm");
        if (!qsso_xml_is(t, QSSO_NS_DS, "Transform")
            || !(qsso_algs_is_exc_c14n(alg)
                 || (alg && !strcmp(alg, QSSO_ALGS_ENVELOPED)))
            || qsso_algs_check_params(t) < 0) {
            *why = apr_psprintf(p, "Transform \"%s\" is not accepted "
                                "(enveloped-signature and exclusive C14N "
                                "only)", qsso_algs_logv(
                                    p, alg ? alg : (const char *)t->name));
            return 2127;
        }
        if (++n > QSSO_ALGS_MAX_TRANSFORMS) {
            *why = apr_psprintf(p, "the Reference has more than %d "
                                "Transforms", QSSO_ALGS_MAX_TRANSFORMS);
            return 2127;
        }
    }
    if (!qsso_algs_is_exc_c14n(alg)) {
        *why = "the Reference does not end with an exclusive C14N "
               "Transform, so inclusive C14N would apply by default";
        return 2127;
    }
    return QSSO_OK;
}

int qsso_algs_check_signed_info(apr_pool_t *p, int sig_mask,
                                const xmlNode *signed_info,
                                const xmlNode *ref, const char **why)
{
    const xmlNode *cm = qsso_xml_child(signed_info, QSSO_NS_DS,
                                       "CanonicalizationMethod");
    const char *sm = qsso_xml_attr(p, qsso_xml_child(signed_info, QSSO_NS_DS,
                                                     "SignatureMethod"),
                                   "Algorithm");
    const char *dm = qsso_xml_attr(p, qsso_xml_child(ref, QSSO_NS_DS,
                                                     "DigestMethod"),
                                   "Algorithm");
    const char *c14n = qsso_xml_attr(p, cm, "Algorithm");

    sig_mask = qsso_algs_signature_mask(sig_mask);
    if (sm && qsso_algs_is_hmac(sm)) {
        *why = apr_psprintf(p, "SignatureMethod \"%s\" is an HMAC, which is "
                            "never accepted", qsso_algs_logv(p, sm));
        return 2113;
    }
    if (!qsso_algs_allowed(sig_mask, QSSO_ALG_SIGNATURE, sm)) {
        *why = apr_psprintf(p, "SignatureMethod \"%s\" is not accepted "
                            "(QSSOSignatureAlgorithms: %s)",
                            qsso_algs_logv(p, sm),
                            qsso_algs_names(p, sig_mask,
                                            QSSO_ALG_SIGNATURE));
        return 2113;
    }
    if (!qsso_algs_in(dm, qsso_algs_sha2)
        && !(dm && !strcmp(dm, QSSO_ALGS_SHA1)
             && (sig_mask & QSSO_ALG_RSA_SHA1))) {
        *why = apr_psprintf(p, "DigestMethod \"%s\" is not accepted "
                            "(SHA-256/384/512%s)", qsso_algs_logv(p, dm),
                            sig_mask & QSSO_ALG_RSA_SHA1 ? ", SHA-1" : "");
        return 2113;
    }
    if (!qsso_algs_is_exc_c14n(c14n) || qsso_algs_check_params(cm) < 0) {
        *why = apr_psprintf(p, "CanonicalizationMethod \"%s\" is not "
                            "exclusive C14N (xml-exc-c14n#)",
                            qsso_algs_logv(p, c14n));
        return 2127;
    }
    return qsso_algs_check_transforms(p, ref, why);
}

static xmlSecTransformId qsso_algs_xmlsec_id(const char *uri)
{
    return xmlSecTransformIdListFindByHref(xmlSecTransformIdsGet(),
                                           (const xmlChar *)uri,
                                           xmlSecTransformUsageAny);
}

/* 0 enabled, or unknown to this xmlsec (then it stays off); -1 failed. */
static int qsso_algs_enable_dsig(xmlSecDSigCtxPtr d, const char *uri,
                                 int in_reference)
{
    xmlSecTransformId id = qsso_algs_xmlsec_id(uri);

    if (id == xmlSecTransformIdUnknown)
        return 0;
    return in_reference ? xmlSecDSigCtxEnableReferenceTransform(d, id)
                        : xmlSecDSigCtxEnableSignatureTransform(d, id);
}

int qsso_algs_restrict_dsig(void *dsig_ctx, int sig_mask)
{
    xmlSecDSigCtxPtr d = dsig_ctx;
    static const char *const ref_transforms[] = {
        QSSO_ALGS_ENVELOPED, QSSO_ALGS_EXC_C14N, QSSO_ALGS_EXC_C14N_WC, NULL
    };
    const qsso_alg_t *a;
    const char *const *u;
    int failed = 0;

    sig_mask = qsso_algs_signature_mask(sig_mask);
    /* SignedInfo: its C14N and SignatureMethod */
    failed |= qsso_algs_enable_dsig(d, QSSO_ALGS_EXC_C14N, 0) < 0;
    failed |= qsso_algs_enable_dsig(d, QSSO_ALGS_EXC_C14N_WC, 0) < 0;
    for (a = qsso_algs_all; a->name; a++)
        if (a->kind == QSSO_ALG_SIGNATURE && (sig_mask & a->bit))
            failed |= qsso_algs_enable_dsig(d, a->uri, 0) < 0;
    /* References: their Transforms and DigestMethod */
    for (u = ref_transforms; *u; u++)
        failed |= qsso_algs_enable_dsig(d, *u, 1) < 0;
    for (u = qsso_algs_sha2; *u; u++)
        failed |= qsso_algs_enable_dsig(d, *u, 1) < 0;
    if (sig_mask & QSSO_ALG_RSA_SHA1)
        failed |= qsso_algs_enable_dsig(d, QSSO_ALGS_SHA1, 1) < 0;
    return failed ? -1 : 0;
}

int qsso_algs_restrict_to(void *transform_ctx, const char *uri)
{
    xmlSecTransformCtxPtr t = transform_ctx;
    xmlSecTransformId id = qsso_algs_xmlsec_id(uri);

    /* unknown must fail: an empty list would mean "everything" */
    if (id == xmlSecTransformIdUnknown)
        return -1;
    return xmlSecPtrListAdd(&t->enabledTransforms, (void *)id) < 0 ? -1 : 0;
}

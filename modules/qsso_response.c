/*
 * Verifies a SAMLResponse (SAML Core 2.0, Profiles 4.1.4.3 Web SSO).
 * Knows nothing of HTTP or the store: a base64 string and the IdP's keys
 * in, an assertion or a refusal code out.
 *
 * Defences, in order: strict base64; libxml2 with no network, DTD or
 * entities, at most 64 levels deep (qsso_xml_parse); every ID attribute
 * unique (a wrapped copy cannot borrow the signed element's ID); exactly
 * one Assertion or EncryptedAssertion in the whole document, a direct
 * child of the Response (a signed assertion moved into Extensions or
 * ds:Object makes two); each Signature's single Reference points at its
 * own parent, with algorithms and transforms the policy accepts
 * (qsso_algs.c); the key comes from the metadata, never from KeyInfo; and
 * every value is read from the element a signature covers.
 *
 * Encrypted assertions: a Response signature is verified over the
 * encrypted form first, so a tampered ciphertext is refused before the SP
 * key touches it; then qsso_decrypt.c puts the Assertion in the
 * EncryptedAssertion's place, its IDs join the uniqueness check and the
 * count of assertions is taken again; then its own signature, if any, is
 * verified. One of the two signatures must exist.
 */
#include <string.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "qsso.h"
#include "qsso_algs.h"
#include "qsso_codec.h"
#include "qsso_decrypt.h"
#include "qsso_errors.h"
#include "qsso_response.h"
#include "qsso_xml.h"

#define QSSO_STATUS_SUCCESS "urn:oasis:names:tc:SAML:2.0:status:Success"
#define QSSO_CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"
#define QSSO_LOGV(v) qsso_codec_log_escape(c->p, (v), 200)
/* Limits on the consumed assertion: far above what IdPs send, low enough
 * that a signed but hostile message cannot blow up sessions and logs. */
#define QSSO_RESPONSE_MAX_ATTRS 256
#define QSSO_RESPONSE_MAX_VALUE (16 * 1024)     /* bytes of text */

typedef struct {
    apr_pool_t *p;
    const qsso_response_input_t *in;
    qsso_err_t *err;
    xmlDocPtr doc;
    xmlNodePtr resp;
    xmlNodePtr assertion;        /* the one consumed */
    xmlNodePtr encrypted;        /* its EncryptedAssertion, until decrypted */
    apr_hash_t *ids;             /* every ID value seen */
    qsso_assertion_t *out;
} qsso_response_ctx_t;

int qsso_response_parse_time(const char *s, apr_time_t *out)
{
    /* sscanf alone would take " 5" or "-1" for a two-digit field */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    apr_time_exp_t t;
    int y, mo, d, h, mi, sec, n = 0, off = 0, i;
    apr_time_t r;

    for (i = 0; s && shape[i]; i++)
        if (shape[i] == 'd' ? !apr_isdigit(s[i]) : s[i] != shape[i])
            return -1;
    if (s == NULL
        || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &n) != 6
        || n != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23
        || mi > 59 || sec > 60 || y < 1970)
        return -1;
    s += n;
    if (*s == '.') {                    /* fraction: ignored */
        s++;
        if (!apr_isdigit(*s))
            return -1;
        while (apr_isdigit(*s))
            s++;
    }
    if ((*s == '+' || *s == '-') && apr_isdigit(s[1]) && apr_isdigit(s[2])
        && s[3] == ':' && apr_isdigit(s[4]) && apr_isdigit(s[5])
        && s[6] == '\0') {
        off = ((s[1] - '0') * 10 + (s[2] - '0')) * 3600
              + ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
        off = *s == '-' ? -off : off;
    }
    else if (!(*s == 'Z' && s[1] == '\0') && *s != '\0') {
        return -1;
    }
    memset(&t, 0, sizeof(t));
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    t.tm_sec = sec;
    if (apr_time_exp_gmt_get(&r, &t) != APR_SUCCESS)
        return -1;
    *out = r - apr_time_from_sec(off);
    return 0;
}

/* The time attribute name of node: 0 absent, 1 read, -1 malformed. */
static int qsso_response_time_attr(qsso_response_ctx_t *c, xmlNodePtr node,
                                   const char *name, apr_time_t *t)
{
    const char *v = qsso_xml_attr(c->p, node, name);

    if (v == NULL)
        return 0;
    return qsso_response_parse_time(v, t) == 0 ? 1 : -1;
}

static const char *qsso_response_fmt_time(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t x;

    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                        x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                        x.tm_min, x.tm_sec);
}

static int qsso_response_decode(qsso_response_ctx_t *c)
{
    apr_size_t len = 0;
    char *xml;

    if (c->in->saml_response == NULL || *c->in->saml_response == '\0')
        return qsso_err_set(c->p, c->err, 2103, "no SAMLResponse in the POST");
    xml = qsso_codec_base64_decode(c->p, c->in->saml_response, &len);
    if (xml == NULL || len == 0)
        return qsso_err_set(c->p, c->err, 2103,
                            "SAMLResponse is not base64 (%" APR_SIZE_T_FMT
                            " characters)", strlen(c->in->saml_response));
    switch (qsso_xml_parse(c->p, xml, len, &c->doc)) {
    case QSSO_XML_OK:
        break;
    case QSSO_XML_DOCTYPE:
        return qsso_err_set(c->p, c->err, 2106, "the XML has a DOCTYPE "
                            "(DTD or entity declarations)");
    case QSSO_XML_TOO_DEEP:
        return qsso_err_set(c->p, c->err, 2130, "the decoded SAMLResponse "
                            "nests elements more than %d levels deep",
                            QSSO_XML_MAX_DEPTH);
    default:
        return qsso_err_set(c->p, c->err, 2105, "the decoded SAMLResponse "
                            "(%" APR_SIZE_T_FMT " bytes) is not well-formed "
                            "XML", len);
    }
    c->resp = xmlDocGetRootElement(c->doc);
    if (!qsso_xml_is(c->resp, QSSO_NS_SAMLP, "Response"))
        return qsso_err_set(c->p, c->err, 2107, "the root element is <%s>, "
                            "not samlp:Response", QSSO_LOGV(
                                (const char *)c->resp->name));
    return QSSO_OK;
}

static int qsso_response_check_status(qsso_response_ctx_t *c)
{
    xmlNodePtr st = qsso_xml_child(c->resp, QSSO_NS_SAMLP, "Status");
    xmlNodePtr code = qsso_xml_child(st, QSSO_NS_SAMLP, "StatusCode");
    xmlNodePtr sub = qsso_xml_child(code, QSSO_NS_SAMLP, "StatusCode");
    const char *v = code ? qsso_xml_attr(c->p, code, "Value") : NULL;
    const char *msg;

    if (v && !strcmp(v, QSSO_STATUS_SUCCESS))
        return QSSO_OK;
    msg = qsso_xml_text(c->p, qsso_xml_child(st, QSSO_NS_SAMLP,
                                             "StatusMessage"));
    return qsso_err_set(c->p, c->err, 2114, "the IdP answered status \"%s\""
                        " (sub-status \"%s\", message \"%s\")", QSSO_LOGV(v),
                        QSSO_LOGV(sub ? qsso_xml_attr(c->p, sub, "Value")
                                      : NULL),
                        QSSO_LOGV(msg));
}

/* Every ID (and xml:id) value of node is new; SAML IDs are registered so
 * that a signature's "#ID" reference resolves to exactly that element. */
static int qsso_response_add_ids(qsso_response_ctx_t *c, xmlNodePtr node)
{
    xmlAttrPtr a;

    for (a = node->properties; a; a = a->next) {
        int is_saml = a->ns == NULL && !strcmp((const char *)a->name, "ID");
        int is_xml = a->ns && a->ns->href && !strcmp(
            (const char *)a->ns->href,
            "http://www.w3.org/XML/1998/namespace")
            && !strcmp((const char *)a->name, "id");
        xmlChar *v;
        if (!is_saml && !is_xml)
            continue;
        v = xmlNodeListGetString(c->doc, a->children, 1);
        if (v == NULL || apr_hash_get(c->ids, v, APR_HASH_KEY_STRING)) {
            const char *dup = apr_pstrdup(c->p, v ? (char *)v : "");
            xmlFree(v);
            return qsso_err_set(c->p, c->err, 2108, "the ID \"%s\" "
                                "appears more than once", QSSO_LOGV(dup));
        }
        apr_hash_set(c->ids, apr_pstrdup(c->p, (char *)v),
                     APR_HASH_KEY_STRING, "");
        if (is_saml && xmlAddID(NULL, c->doc, v, a) == NULL) {
            xmlFree(v);
            return qsso_err_set(c->p, c->err, 2108, "an ID appears more "
                                "than once");
        }
        xmlFree(v);
    }
    return QSSO_OK;
}

/* Registers the IDs of node and everything under it (depth is bounded by
 * the parser). */
static int qsso_response_walk_ids(qsso_response_ctx_t *c, xmlNodePtr node)
{
    xmlNodePtr k;

    if (node->type != XML_ELEMENT_NODE)
        return QSSO_OK;
    if (qsso_response_add_ids(c, node) != QSSO_OK)
        return c->err->code;
    for (k = node->children; k; k = k->next)
        if (qsso_response_walk_ids(c, k) != QSSO_OK)
            return c->err->code;
    return QSSO_OK;
}

static void qsso_response_count(xmlNodePtr node, const char *ns,
                                const char *name, int *n)
{
    for (; node; node = node->next) {
        if (qsso_xml_is(node, ns, name))
            (*n)++;
        if (node->type == XML_ELEMENT_NODE)
            qsso_response_count(node->children, ns, name, n);
    }
}

/* Exactly one assertion, plain or encrypted, anywhere in the document,
 * and it is a direct child of the Response. */
static int qsso_response_count_assertions(qsso_response_ctx_t *c,
                                          const char *when)
{
    int plain = 0, encrypted = 0;

    qsso_response_count(c->resp, QSSO_NS_SAML, "Assertion", &plain);
    qsso_response_count(c->resp, QSSO_NS_SAML, "EncryptedAssertion",
                        &encrypted);
    c->assertion = qsso_xml_child(c->resp, QSSO_NS_SAML, "Assertion");
    c->encrypted = qsso_xml_child(c->resp, QSSO_NS_SAML,
                                  "EncryptedAssertion");
    if (plain + encrypted != 1 || (!c->assertion && !c->encrypted))
        return qsso_err_set(c->p, c->err, 2109, "%sthe response holds %d "
                            "Assertion elements and %d EncryptedAssertion "
                            "(%d and %d at the top level); exactly one of "
                            "them is accepted", when, plain, encrypted,
                            qsso_xml_count_children(c->resp, QSSO_NS_SAML,
                                                    "Assertion"),
                            qsso_xml_count_children(c->resp, QSSO_NS_SAML,
                                                    "EncryptedAssertion"));
    return QSSO_OK;
}

static int qsso_response_find_assertion(qsso_response_ctx_t *c)
{
    int rc = qsso_response_count_assertions(c, "");

    if (rc != QSSO_OK)
        return rc;
    if (c->encrypted && c->in->sp_key == NULL)
        return qsso_err_set(c->p, c->err, 2109, "the response holds an "
                            "EncryptedAssertion and this SP has no "
                            "QSSOSPPrivateKeyFile to decrypt it; set one "
                            "(its certificate is the SP metadata's "
                            "encryption key), or turn assertion encryption "
                            "off at the IdP");
    if (c->assertion && c->in->require_encrypted)
        return qsso_err_set(c->p, c->err, 2129, "the Assertion is not "
                            "encrypted and QSSORequireEncryptedAssertion is "
                            "On");
    return QSSO_OK;
}

/* The signature must have one Reference, to "#" + its parent's ID, and
 * only the algorithms and transforms of the policy. */
static int qsso_response_check_reference(qsso_response_ctx_t *c,
                                         xmlNodePtr sig, xmlNodePtr parent)
{
    xmlNodePtr si = qsso_xml_child(sig, QSSO_NS_DS, "SignedInfo");
    xmlNodePtr ref = qsso_xml_child(si, QSSO_NS_DS, "Reference");
    const char *id = qsso_xml_attr(c->p, parent, "ID");
    const char *uri = ref ? qsso_xml_attr(c->p, ref, "URI") : NULL;
    const char *why = NULL;
    int rc;

    if (si == NULL || ref == NULL
        || qsso_xml_count_children(si, QSSO_NS_DS, "Reference") != 1)
        return qsso_err_set(c->p, c->err, 2112, "the Signature in <%s> has "
                            "%d References; exactly one is accepted",
                            (const char *)parent->name,
                            qsso_xml_count_children(si, QSSO_NS_DS,
                                                    "Reference"));
    if (id == NULL || uri == NULL || uri[0] != '#' || strcmp(uri + 1, id))
        return qsso_err_set(c->p, c->err, 2112, "the Signature in <%s "
                            "ID=\"%s\"> references \"%s\", not its parent",
                            (const char *)parent->name, QSSO_LOGV(id),
                            QSSO_LOGV(uri));
    rc = qsso_algs_check_signed_info(c->p, c->in->sig_algs, si, ref, &why);
    if (rc != QSSO_OK)
        return qsso_err_set(c->p, c->err, rc, "the Signature in <%s>: %s",
                            (const char *)parent->name, why);
    return QSSO_OK;
}

/* Tries each metadata key; KeyInfo in the message is never consulted
 * because signKey is set before verification. */
static int qsso_response_verify_signature(qsso_response_ctx_t *c,
                                          xmlNodePtr sig, xmlNodePtr parent)
{
    const apr_array_header_t *keys = c->in->idp->keys;
    int i, rc;

    if ((rc = qsso_response_check_reference(c, sig, parent)) != QSSO_OK)
        return rc;
    for (i = 0; keys && i < keys->nelts; i++) {
        xmlSecDSigCtxPtr d = xmlSecDSigCtxCreate(NULL);
        int ok;

        if (d == NULL)
            break;
        d->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
        /* The metadata key is lent, not copied: xmlsec only reads it (the
         * transform takes its own reference on the EVP_PKEY), and copying
         * a certificate through OpenSSL's decoders was 38% of a login.
         * Taken back before the context is destroyed, which would free
         * it. */
        d->signKey = APR_ARRAY_IDX(keys, i, xmlSecKeyPtr);
        ok = d->signKey
             && qsso_algs_restrict_dsig(d, c->in->sig_algs) == 0
             && xmlSecDSigCtxVerify(d, sig) == 0
             && d->status == xmlSecDSigStatusSucceeded;
        d->signKey = NULL;
        xmlSecDSigCtxDestroy(d);
        if (ok)
            return QSSO_OK;
    }
    return qsso_err_set(c->p, c->err, 2111, "the signature on <%s> does not "
                        "verify with any of the %d certificate(s) in %s",
                        (const char *)parent->name, keys ? keys->nelts : 0,
                        c->in->idp->file);
}

/* Replaces the EncryptedAssertion with its Assertion; what it brings in
 * is held to the same rules as the rest of the document. */
static int qsso_response_decrypt(qsso_response_ctx_t *c)
{
    qsso_decrypt_input_t d;
    xmlNodePtr plain = NULL;
    const char *why = NULL;
    int rc;

    d.key = c->in->sp_key;
    d.algs = qsso_algs_encryption_mask(c->in->enc_algs);
    d.sp_entity_id = c->in->sp_entity_id;
    if (qsso_decrypt_assertion(c->p, &d, c->encrypted, &plain, &why)
        != QSSO_OK)
        return qsso_err_set(c->p, c->err, 2128, "%s", why);
    if (qsso_xml_depth(c->resp) > QSSO_XML_MAX_DEPTH)
        return qsso_err_set(c->p, c->err, 2130, "with the decrypted "
                            "Assertion, elements nest more than %d levels "
                            "deep", QSSO_XML_MAX_DEPTH);
    if ((rc = qsso_response_walk_ids(c, plain)) != QSSO_OK
        || (rc = qsso_response_count_assertions(
                c, "after decryption, ")) != QSSO_OK)
        return rc;
    return QSSO_OK;
}

static int qsso_response_check_signatures(qsso_response_ctx_t *c)
{
    xmlNodePtr rsig = qsso_xml_child(c->resp, QSSO_NS_DS, "Signature");
    xmlNodePtr asig;
    int rc;

    if (rsig && (rc = qsso_response_verify_signature(c, rsig, c->resp)))
        return rc;
    if (c->encrypted && (rc = qsso_response_decrypt(c)) != QSSO_OK)
        return rc;
    asig = qsso_xml_child(c->assertion, QSSO_NS_DS, "Signature");
    if (rsig == NULL && asig == NULL)
        return qsso_err_set(c->p, c->err, 2110, "neither the Response nor "
                            "the Assertion carries a Signature");
    if (asig && (rc = qsso_response_verify_signature(c, asig, c->assertion)))
        return rc;
    return QSSO_OK;
}

static int qsso_response_check_issuer(qsso_response_ctx_t *c)
{
    const char *want = c->in->idp->entity_id;
    xmlNodePtr ri = qsso_xml_child(c->resp, QSSO_NS_SAML, "Issuer");
    xmlNodePtr ai = qsso_xml_child(c->assertion, QSSO_NS_SAML, "Issuer");
    const char *v;

    if (ri && strcmp((v = qsso_xml_trim(c->p, qsso_xml_text(c->p, ri))),
                     want))
        return qsso_err_set(c->p, c->err, 2115, "Response Issuer \"%s\" is "
                            "not the IdP \"%s\" of %s", QSSO_LOGV(v),
                            QSSO_LOGV(want), c->in->idp->file);
    if (ai == NULL)
        return qsso_err_set(c->p, c->err, 2126, "the Assertion has no "
                            "Issuer");
    v = qsso_xml_trim(c->p, qsso_xml_text(c->p, ai));
    if (strcmp(v, want))
        return qsso_err_set(c->p, c->err, 2115, "Assertion Issuer \"%s\" is "
                            "not the IdP \"%s\" of %s", QSSO_LOGV(v),
                            QSSO_LOGV(want), c->in->idp->file);
    c->out->issuer = v;
    return QSSO_OK;
}

static int qsso_response_check_destination(qsso_response_ctx_t *c)
{
    const char *dest = qsso_xml_attr(c->p, c->resp, "Destination");
    int signed_resp = qsso_xml_child(c->resp, QSSO_NS_DS, "Signature")
                      != NULL;

    /* SAML Bindings 3.5.5.2: a signed message must carry Destination. */
    if ((dest == NULL && signed_resp)
        || (dest && strcmp(dest, c->in->acs_url)))
        return qsso_err_set(c->p, c->err, 2116, "Destination \"%s\" is not "
                            "this ACS URL \"%s\"", QSSO_LOGV(dest),
                            QSSO_LOGV(c->in->acs_url));
    return QSSO_OK;
}

static int qsso_response_check_audience(qsso_response_ctx_t *c,
                                        xmlNodePtr cond)
{
    xmlNodePtr ar, au;
    const char *seen = NULL;
    int restrictions = 0;

    for (ar = cond ? cond->children : NULL; ar; ar = ar->next) {
        int match = 0;
        if (!qsso_xml_is(ar, QSSO_NS_SAML, "AudienceRestriction"))
            continue;
        restrictions++;
        for (au = ar->children; au; au = au->next) {
            const char *v;
            if (!qsso_xml_is(au, QSSO_NS_SAML, "Audience"))
                continue;
            v = qsso_xml_trim(c->p, qsso_xml_text(c->p, au));
            match |= !strcmp(v, c->in->sp_entity_id);
            seen = seen ? apr_pstrcat(c->p, seen, " ", v, NULL) : v;
        }
        /* Core 2.5.1.4: every AudienceRestriction must be satisfied. */
        if (!match)
            break;
        seen = NULL;
    }
    if (restrictions == 0 || ar != NULL)
        return qsso_err_set(c->p, c->err, 2104, "Audience \"%s\" is not this "
                            "SP (\"%s\")", QSSO_LOGV(seen ? seen : "(none)"),
                            QSSO_LOGV(c->in->sp_entity_id));
    return QSSO_OK;
}

static int qsso_response_check_conditions(qsso_response_ctx_t *c)
{
    xmlNodePtr cond = qsso_xml_child(c->assertion, QSSO_NS_SAML,
                                     "Conditions");
    apr_time_t skew = apr_time_from_sec(c->in->clock_skew), nb = 0, noa = 0;
    int h;

    if ((h = qsso_response_time_attr(c, cond, "NotBefore", &nb)) < 0
        || (h == 1 && c->in->now + skew < nb))
        return qsso_err_set(c->p, c->err, 2119, "NotBefore %s is later than "
                            "now (%s) plus QSSOClockSkew %ds",
                            h < 0 ? "(malformed)"
                                  : qsso_response_fmt_time(c->p, nb),
                            qsso_response_fmt_time(c->p, c->in->now),
                            c->in->clock_skew);
    if ((h = qsso_response_time_attr(c, cond, "NotOnOrAfter", &noa)) < 0
        || (h == 1 && c->in->now - skew >= noa))
        return qsso_err_set(c->p, c->err, 2120, "NotOnOrAfter %s has passed "
                            "(now %s, QSSOClockSkew %ds)",
                            h < 0 ? "(malformed)"
                                  : qsso_response_fmt_time(c->p, noa),
                            qsso_response_fmt_time(c->p, c->in->now),
                            c->in->clock_skew);
    if (h == 1 && (c->out->not_on_or_after == 0
                   || noa + skew < c->out->not_on_or_after))
        c->out->not_on_or_after = noa + skew;
    return qsso_response_check_audience(c, cond);
}

/* One bearer SubjectConfirmationData (Profiles 4.1.4.2); returns QSSO_OK
 * or the code it fails with, leaving *why for the log line. */
static int qsso_response_check_scd(qsso_response_ctx_t *c, xmlNodePtr scd,
                                   const char **why)
{
    const char *rcpt = qsso_xml_attr(c->p, scd, "Recipient");
    const char *irt = qsso_xml_attr(c->p, scd, "InResponseTo");
    apr_time_t noa = 0, skew = apr_time_from_sec(c->in->clock_skew);

    if (rcpt == NULL || strcmp(rcpt, c->in->acs_url)) {
        *why = apr_psprintf(c->p, "Recipient \"%s\" is not this ACS URL "
                            "\"%s\"", QSSO_LOGV(rcpt),
                            QSSO_LOGV(c->in->acs_url));
        return 2121;
    }
    if (qsso_response_time_attr(c, scd, "NotOnOrAfter", &noa) != 1) {
        *why = "SubjectConfirmationData has no valid NotOnOrAfter";
        return 2121;
    }
    if (c->in->now - skew >= noa) {
        *why = apr_psprintf(c->p, "SubjectConfirmationData NotOnOrAfter %s "
                            "has passed (now %s, QSSOClockSkew %ds)",
                            qsso_response_fmt_time(c->p, noa),
                            qsso_response_fmt_time(c->p, c->in->now),
                            c->in->clock_skew);
        return 2122;
    }
    /* When only the Assertion is signed, the Response's InResponseTo is
     * not covered: it counts only if the signed confirmation repeats it
     * (else an unsolicited assertion could pose as an answer). */
    if ((irt == NULL) != (c->out->in_response_to == NULL)
        || (irt && strcmp(irt, c->out->in_response_to))) {
        *why = apr_psprintf(c->p, "SubjectConfirmationData InResponseTo "
                            "\"%s\" differs from the Response's \"%s\"",
                            QSSO_LOGV(irt), QSSO_LOGV(c->out->in_response_to));
        return 2123;
    }
    if (c->out->not_on_or_after == 0 || noa + skew < c->out->not_on_or_after)
        c->out->not_on_or_after = noa + skew;
    return QSSO_OK;
}

/* The NameID first, so every later refusal names the user. */
static int qsso_response_read_subject(qsso_response_ctx_t *c)
{
    xmlNodePtr subj = qsso_xml_child(c->assertion, QSSO_NS_SAML, "Subject");
    xmlNodePtr nid = qsso_xml_child(subj, QSSO_NS_SAML, "NameID");

    if (nid == NULL)
        return qsso_err_set(c->p, c->err, 2126, "the Assertion has no "
                            "Subject/NameID");
    c->out->name_id = qsso_xml_trim(c->p, qsso_xml_text(c->p, nid));
    c->out->name_id_format = qsso_xml_attr(c->p, nid, "Format");
    c->err->subject = c->out->name_id;
    return QSSO_OK;
}

static int qsso_response_check_subject(qsso_response_ctx_t *c)
{
    xmlNodePtr subj = qsso_xml_child(c->assertion, QSSO_NS_SAML, "Subject");
    xmlNodePtr sc;
    const char *why = "no bearer SubjectConfirmation";
    int code = 2121;

    for (sc = subj->children; sc; sc = sc->next) {
        const char *method = qsso_xml_attr(c->p, sc, "Method");
        xmlNodePtr scd = qsso_xml_child(sc, QSSO_NS_SAML,
                                        "SubjectConfirmationData");
        if (!qsso_xml_is(sc, QSSO_NS_SAML, "SubjectConfirmation") || !method
            || strcmp(method, QSSO_CM_BEARER) || scd == NULL)
            continue;
        if ((code = qsso_response_check_scd(c, scd, &why)) == QSSO_OK)
            return QSSO_OK;
    }
    return qsso_err_set(c->p, c->err, code, "%s", why);
}

/* Counted before anything is read, so a flood costs nothing. */
static int qsso_response_count_attrs(qsso_response_ctx_t *c)
{
    xmlNodePtr st, a;
    int n = 0;

    for (st = c->assertion->children; st; st = st->next)
        if (qsso_xml_is(st, QSSO_NS_SAML, "AttributeStatement"))
            for (a = st->children; a; a = a->next)
                n += qsso_xml_is(a, QSSO_NS_SAML, "Attribute");
    if (n > QSSO_RESPONSE_MAX_ATTRS)
        return qsso_err_set(c->p, c->err, 2131, "the Assertion carries %d "
                            "Attribute elements; at most %d are accepted",
                            n, QSSO_RESPONSE_MAX_ATTRS);
    return QSSO_OK;
}

static int qsso_response_read_attrs(qsso_response_ctx_t *c)
{
    xmlNodePtr st, a, v;

    if (qsso_response_count_attrs(c) != QSSO_OK)
        return c->err->code;
    c->out->attrs = apr_array_make(c->p, 8, sizeof(qsso_attr_t));
    for (st = c->assertion->children; st; st = st->next) {
        if (!qsso_xml_is(st, QSSO_NS_SAML, "AttributeStatement"))
            continue;
        for (a = st->children; a; a = a->next) {
            qsso_attr_t *attr;
            if (!qsso_xml_is(a, QSSO_NS_SAML, "Attribute"))
                continue;
            attr = apr_array_push(c->out->attrs);
            attr->name = qsso_xml_attr(c->p, a, "Name");
            attr->values = apr_array_make(c->p, 1, sizeof(const char *));
            for (v = a->children; v; v = v->next) {
                const char *text;
                apr_size_t len;
                if (!qsso_xml_is(v, QSSO_NS_SAML, "AttributeValue"))
                    continue;
                text = qsso_xml_text(c->p, v);
                if ((len = strlen(text)) > QSSO_RESPONSE_MAX_VALUE)
                    return qsso_err_set(c->p, c->err, 2132, "a value of "
                                        "attribute \"%s\" is %" APR_SIZE_T_FMT
                                        " bytes; at most %d are accepted",
                                        QSSO_LOGV(attr->name), len,
                                        QSSO_RESPONSE_MAX_VALUE);
                APR_ARRAY_PUSH(attr->values, const char *) =
                    qsso_xml_trim(c->p, text);
            }
        }
    }
    return QSSO_OK;
}

static void qsso_response_read_authn(qsso_response_ctx_t *c)
{
    xmlNodePtr st;
    apr_time_t t;

    for (st = c->assertion->children; st; st = st->next)
        if (qsso_xml_is(st, QSSO_NS_SAML, "AuthnStatement")
            && qsso_response_time_attr(c, st, "SessionNotOnOrAfter", &t) == 1
            && (c->out->session_not_on_or_after == 0
                || t < c->out->session_not_on_or_after))
            c->out->session_not_on_or_after = t;
}

int qsso_response_verify(apr_pool_t *p, const qsso_response_input_t *in,
                         qsso_assertion_t *out, qsso_err_t *err)
{
    qsso_response_ctx_t c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.p = p;
    c.in = in;
    c.err = err;
    c.out = out;
    c.ids = apr_hash_make(p);
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if ((rc = qsso_response_decode(&c)) != QSSO_OK
        || (rc = qsso_response_check_status(&c)) != QSSO_OK
        || (rc = qsso_response_walk_ids(&c, c.resp)) != QSSO_OK
        || (rc = qsso_response_find_assertion(&c)) != QSSO_OK
        || (rc = qsso_response_check_signatures(&c)) != QSSO_OK)
        return rc;
    /* From here on every value comes from signed content. */
    out->response_id = qsso_xml_attr(p, c.resp, "ID");
    out->in_response_to = qsso_xml_attr(p, c.resp, "InResponseTo");
    out->assertion_id = qsso_xml_attr(p, c.assertion, "ID");
    if (out->assertion_id == NULL || *out->assertion_id == '\0')
        return qsso_err_set(p, err, 2126, "the Assertion has no ID");
    if ((rc = qsso_response_check_issuer(&c)) != QSSO_OK
        || (rc = qsso_response_check_destination(&c)) != QSSO_OK
        || (rc = qsso_response_read_subject(&c)) != QSSO_OK
        || (rc = qsso_response_check_conditions(&c)) != QSSO_OK
        || (rc = qsso_response_check_subject(&c)) != QSSO_OK)
        return rc;
    qsso_response_read_authn(&c);
    return qsso_response_read_attrs(&c);
}

void qsso_response_claims(const qsso_assertion_t *a, qsso_claims_t *out)
{
    out->issuer = a->issuer;
    out->subject = a->name_id;
    out->attrs = a->attrs;
}

const apr_array_header_t *qsso_response_attr_values(const qsso_assertion_t *a,
                                                    const char *name)
{
    qsso_claims_t c;

    qsso_response_claims(a, &c);
    return qsso_claims_values(&c, name);
}

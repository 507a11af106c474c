/*
 * Decrypts a saml:EncryptedAssertion (SAML Core 6.1, XML Encryption 1.0
 * and 1.1) with the SP's private key. Knows nothing of signatures: the
 * caller verifies a Response signature before and the Assertion signature
 * after.
 *
 * Design: the message chooses nothing but the algorithms, and those must
 * be in QSSOEncryptionAlgorithms. xmlsec is handed the keys directly
 * (encKey set before decrypting), so it never reads a ds:KeyInfo, never
 * follows a RetrievalMethod or CipherReference and never takes a key from
 * the message; the KeyInfo may only carry what we ignore (KeyName,
 * X509Data, KeyValue) or point at the EncryptedKey. Each xmlsec context
 * may load the one transform that was checked. The work happens on a copy
 * in a scratch document, so xmlsec's ID bookkeeping never touches the
 * response, and the plaintext is parsed with the same safe parser as the
 * response (no DTD, depth limit): as a document of its own when it starts
 * with an XML declaration, else inside an element that declares the
 * namespaces in scope at the EncryptedAssertion, since some IdPs (pysaml2)
 * encrypt an Assertion whose prefixes the Response declares, as
 * XML Encryption allows for Type Element.
 *
 * Oracles (Bleichenbacher on RSA 1.5, Jager-Somorovsky on CBC): every
 * failure after the policy checks gives the same sentence, and a session
 * key that does not decrypt is replaced by random bytes, so the content
 * decryption runs and fails the same way whatever went wrong. RSA 1.5 is
 * off unless listed.
 */
#include <stdarg.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/keys.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/crypto.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_algs.h"
#include "qsso_codec.h"
#include "qsso_decrypt.h"
#include "qsso_xml.h"

#define QSSO_DECRYPT_MAX_KEYS 4
#define QSSO_DECRYPT_MAX_KEY_BYTES 32
#define QSSO_DECRYPT_ELEMENT QSSO_NS_XENC "Element"
#define QSSO_DECRYPT_EK_TYPE QSSO_NS_XENC "EncryptedKey"

typedef struct {
    apr_pool_t *p;
    const qsso_decrypt_input_t *in;
    const char **why;
    const xmlNode *enc;                         /* in the response */
    xmlNodePtr data;                            /* xenc:EncryptedData */
    const qsso_alg_t *content;
    xmlNodePtr keys[QSSO_DECRYPT_MAX_KEYS];     /* EncryptedKeys for us */
    const qsso_alg_t *transport[QSSO_DECRYPT_MAX_KEYS];
    int nkeys;
} qsso_decrypt_ctx_t;

static apr_status_t qsso_decrypt_free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

static apr_status_t qsso_decrypt_free_enc_ctx(void *ctx)
{
    xmlSecEncCtxDestroy(ctx);
    return APR_SUCCESS;
}

static int qsso_decrypt_refuse(qsso_decrypt_ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int qsso_decrypt_refuse(qsso_decrypt_ctx_t *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *c->why = apr_pvsprintf(c->p, fmt, ap);
    va_end(ap);
    return -1;
}

/* The one sentence for every failure of the decryption itself. */
static int qsso_decrypt_fail(qsso_decrypt_ctx_t *c)
{
    return qsso_decrypt_refuse(c, "the EncryptedAssertion does not decrypt "
                               "with QSSOSPPrivateKeyFile '%s' to one "
                               "saml:Assertion (encrypted to another key, "
                               "damaged or tampered with; the causes are "
                               "not told apart on purpose)",
                               c->in->key->file);
}

/* Values from the message, safe for the one log line. */
static const char *qsso_decrypt_logv(qsso_decrypt_ctx_t *c, const char *v)
{
    return v ? qsso_codec_log_escape(c->p, qsso_xml_trim(c->p, v), 120)
             : "(none)";
}

static const char *qsso_decrypt_name(qsso_decrypt_ctx_t *c, const xmlNode *n)
{
    return qsso_decrypt_logv(c, n ? (const char *)n->name : NULL);
}

/* A KeyInfo may carry only what is ignored, plus (for EncryptedData) the
 * EncryptedKey or a same-document pointer to a sibling one. */
static int qsso_decrypt_check_key_info(qsso_decrypt_ctx_t *c,
                                       const xmlNode *ki, int of_data)
{
    const xmlNode *k;

    for (k = ki ? ki->children : NULL; k; k = k->next) {
        const char *uri, *type;

        if (k->type != XML_ELEMENT_NODE || qsso_xml_is(k, QSSO_NS_DS,
                                                       "KeyName"))
            continue;
        if (!of_data && (qsso_xml_is(k, QSSO_NS_DS, "X509Data")
                         || qsso_xml_is(k, QSSO_NS_DS, "KeyValue")))
            continue;
        if (of_data && qsso_xml_is(k, QSSO_NS_XENC, "EncryptedKey"))
            continue;
        uri = qsso_xml_attr(c->p, k, "URI");
        type = qsso_xml_attr(c->p, k, "Type");
        if (of_data && qsso_xml_is(k, QSSO_NS_DS, "RetrievalMethod") && uri
            && uri[0] == '#' && (!type || !strcmp(type,
                                                   QSSO_DECRYPT_EK_TYPE))
            && k->children == NULL)
            continue;
        return qsso_decrypt_refuse(c, "the KeyInfo of %s carries <%s%s%s>, "
                                   "which is not accepted",
                                   of_data ? "EncryptedData" : "EncryptedKey",
                                   qsso_decrypt_name(c, k),
                                   uri ? " URI=" : "",
                                   uri ? qsso_decrypt_logv(c, uri) : "");
    }
    return 0;
}

/* CipherData must hold the ciphertext itself: a CipherReference would
 * make us fetch it. */
static int qsso_decrypt_check_cipher(qsso_decrypt_ctx_t *c,
                                     const xmlNode *e)
{
    const xmlNode *cd = qsso_xml_child(e, QSSO_NS_XENC, "CipherData");

    if (qsso_xml_child(cd, QSSO_NS_XENC, "CipherValue") == NULL)
        return qsso_decrypt_refuse(c, "the %s has no CipherData/CipherValue "
                                   "(a CipherReference is not followed)",
                                   qsso_decrypt_name(c, e));
    return 0;
}

static int qsso_decrypt_add_key(qsso_decrypt_ctx_t *c, xmlNodePtr ek)
{
    const char *rcpt = qsso_xml_attr(c->p, ek, "Recipient");
    const char *alg = qsso_xml_attr(c->p, qsso_xml_child(
                                        ek, QSSO_NS_XENC, "EncryptionMethod"),
                                    "Algorithm");
    const qsso_alg_t *a = qsso_algs_allowed(c->in->algs,
                                            QSSO_ALG_KEY_TRANSPORT, alg);

    if (rcpt && c->in->sp_entity_id && strcmp(rcpt, c->in->sp_entity_id))
        return 0;               /* for another SP of a multi-SP message */
    if (c->nkeys == QSSO_DECRYPT_MAX_KEYS)
        return qsso_decrypt_refuse(c, "more than %d EncryptedKeys",
                                   QSSO_DECRYPT_MAX_KEYS);
    if (a == NULL)
        return qsso_decrypt_refuse(c, "the EncryptedKey uses \"%s\", which "
                                   "is not accepted (QSSOEncryptionAlgorithms"
                                   " key transport: %s%s)",
                                   qsso_decrypt_logv(c, alg),
                                   qsso_algs_names(c->p, c->in->algs,
                                                   QSSO_ALG_KEY_TRANSPORT),
                                   alg && strstr(alg, "rsa-1_5")
                                       ? "; RSA 1.5 is off by default "
                                         "because of padding oracles"
                                       : "");
    if (qsso_decrypt_check_cipher(c, ek) < 0
        || qsso_decrypt_check_key_info(c, qsso_xml_child(ek, QSSO_NS_DS,
                                                         "KeyInfo"), 0) < 0)
        return -1;
    c->transport[c->nkeys] = a;
    c->keys[c->nkeys++] = ek;
    return 0;
}

/* Everything the message decides, checked before any key is used. */
static int qsso_decrypt_check_shape(qsso_decrypt_ctx_t *c, xmlNodePtr enc)
{
    xmlNodePtr n, ki;
    const char *type, *alg;

    for (n = enc->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (qsso_xml_is(n, QSSO_NS_XENC, "EncryptedData") && !c->data)
            c->data = n;
        else if (!qsso_xml_is(n, QSSO_NS_XENC, "EncryptedKey"))
            return qsso_decrypt_refuse(c, "the EncryptedAssertion holds <%s>"
                                       " besides one EncryptedData and its "
                                       "EncryptedKeys",
                                       qsso_decrypt_name(c, n));
        else if (qsso_decrypt_add_key(c, n) < 0)
            return -1;
    }
    if (c->data == NULL)
        return qsso_decrypt_refuse(c, "the EncryptedAssertion holds no "
                                   "EncryptedData");
    type = qsso_xml_attr(c->p, c->data, "Type");
    if (type && strcmp(type, QSSO_DECRYPT_ELEMENT))
        return qsso_decrypt_refuse(c, "the EncryptedData has Type \"%s\", "
                                   "not an encrypted element",
                                   qsso_decrypt_logv(c, type));
    alg = qsso_xml_attr(c->p, qsso_xml_child(c->data, QSSO_NS_XENC,
                                             "EncryptionMethod"),
                        "Algorithm");
    if ((c->content = qsso_algs_allowed(c->in->algs, QSSO_ALG_CONTENT,
                                        alg)) == NULL)
        return qsso_decrypt_refuse(c, "the EncryptedData uses \"%s\", which "
                                   "is not accepted (QSSOEncryptionAlgorithms"
                                   " content: %s)",
                                   qsso_decrypt_logv(c, alg),
                                   qsso_algs_names(c->p, c->in->algs,
                                                   QSSO_ALG_CONTENT));
    ki = qsso_xml_child(c->data, QSSO_NS_DS, "KeyInfo");
    if (qsso_decrypt_check_cipher(c, c->data) < 0
        || qsso_decrypt_check_key_info(c, ki, 1) < 0)
        return -1;
    for (n = ki ? ki->children : NULL; n; n = n->next)
        if (qsso_xml_is(n, QSSO_NS_XENC, "EncryptedKey")
            && qsso_decrypt_add_key(c, n) < 0)
            return -1;
    if (c->nkeys == 0)
        return qsso_decrypt_refuse(c, "no EncryptedKey is addressed to this "
                                   "SP");
    return 0;
}

/* A context that may load only `alg` and takes `key` (consumed). */
static xmlSecEncCtxPtr qsso_decrypt_context(apr_pool_t *p, xmlSecKeyPtr key,
                                            const char *alg, int mode)
{
    xmlSecEncCtxPtr e = xmlSecEncCtxCreate(NULL);

    if (e == NULL) {
        if (key)
            xmlSecKeyDestroy(key);
        return NULL;
    }
    apr_pool_cleanup_register(p, e, qsso_decrypt_free_enc_ctx,
                              apr_pool_cleanup_null);
    e->encKey = key;
    e->mode = (xmlEncCtxMode)mode;
    e->transformCtx.enabledUris = xmlSecTransformUriTypeNone;
    if (key == NULL || qsso_algs_restrict_to(&e->transformCtx, alg) < 0)
        return NULL;
    return e;
}

/* The session key from the first EncryptedKey that yields one of the
 * right length; else random bytes, so what follows fails the same way. */
static void qsso_decrypt_session_key(qsso_decrypt_ctx_t *c,
                                     unsigned char *out)
{
    apr_size_t n = (apr_size_t)c->content->key_bytes;
    int i;

    for (i = 0; i < c->nkeys; i++) {
        xmlSecEncCtxPtr e = qsso_decrypt_context(
            c->p, xmlSecKeyDuplicate(c->in->key->xmlsec_key),
            c->transport[i]->uri, xmlEncCtxModeEncryptedKey);
        xmlSecBufferPtr b = e ? xmlSecEncCtxDecryptToBuffer(e, c->keys[i])
                              : NULL;
        int ok = b && xmlSecBufferGetSize(b) == n;

        if (ok)
            memcpy(out, xmlSecBufferGetData(b), n);
        if (b)
            OPENSSL_cleanse(xmlSecBufferGetData(b), xmlSecBufferGetSize(b));
        if (e)
            apr_pool_cleanup_run(c->p, e, qsso_decrypt_free_enc_ctx);
        if (ok)
            return;
    }
    if (RAND_bytes(out, (int)n) != 1)
        memset(out, 0, n);
}

/* The namespace declarations in scope at the EncryptedAssertion, as
 * attributes for the element the plaintext is parsed in. */
static const char *qsso_decrypt_context_ns(qsso_decrypt_ctx_t *c)
{
    xmlNsPtr *list = xmlGetNsList(c->enc->doc, c->enc);
    const char *decls = "";
    int i;

    for (i = 0; list && list[i]; i++) {
        xmlChar *href = xmlEncodeSpecialChars(c->enc->doc, list[i]->href);
        decls = apr_pstrcat(c->p, decls, " xmlns",
                            list[i]->prefix ? ":" : "",
                            list[i]->prefix ? (const char *)list[i]->prefix
                                            : "",
                            "=\"", href ? (const char *)href : "", "\"",
                            NULL);
        xmlFree(href);
    }
    xmlFree(list);
    return decls;
}

/* The plaintext parsed: exactly one saml:Assertion, or NULL. */
static xmlNodePtr qsso_decrypt_parse(qsso_decrypt_ctx_t *c, const char *text,
                                     apr_size_t len)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root, k, found = NULL;

    if (len >= 5 && !memcmp(text, "<?xml", 5)) {
        if (qsso_xml_parse(c->p, text, len, &doc) != QSSO_XML_OK)
            return NULL;
        root = xmlDocGetRootElement(doc);
        return qsso_xml_is(root, QSSO_NS_SAML, "Assertion") ? root : NULL;
    }
    text = apr_pstrcat(c->p, "<qsso-plaintext", qsso_decrypt_context_ns(c),
                       ">", apr_pstrmemdup(c->p, text, len),
                       "</qsso-plaintext>", NULL);
    if (qsso_xml_parse(c->p, text, strlen(text), &doc) != QSSO_XML_OK)
        return NULL;
    for (k = xmlDocGetRootElement(doc)->children; k; k = k->next) {
        if (k->type == XML_TEXT_NODE && xmlIsBlankNode(k))
            continue;
        if (k->type == XML_COMMENT_NODE || k->type == XML_PI_NODE)
            continue;
        if (found || !qsso_xml_is(k, QSSO_NS_SAML, "Assertion"))
            return NULL;
        found = k;
    }
    return found;
}

/* The plaintext: exactly one saml:Assertion. */
static int qsso_decrypt_content(qsso_decrypt_ctx_t *c, xmlNodePtr *root)
{
    unsigned char key[QSSO_DECRYPT_MAX_KEY_BYTES];
    xmlSecKeyPtr k;
    xmlSecEncCtxPtr e;
    xmlSecBufferPtr b;
    xmlNodePtr plain = NULL;

    qsso_decrypt_session_key(c, key);
    k = xmlSecKeyReadMemory(xmlSecKeyDataAesId, key,
                            (xmlSecSize)c->content->key_bytes);
    OPENSSL_cleanse(key, sizeof(key));
    e = qsso_decrypt_context(c->p, k, c->content->uri,
                             xmlEncCtxModeEncryptedData);
    b = e ? xmlSecEncCtxDecryptToBuffer(e, c->data) : NULL;
    if (b && xmlSecBufferGetSize(b) > 0)
        plain = qsso_decrypt_parse(c, (const char *)xmlSecBufferGetData(b),
                                   (apr_size_t)xmlSecBufferGetSize(b));
    if (e)
        apr_pool_cleanup_run(c->p, e, qsso_decrypt_free_enc_ctx);
    if (plain == NULL)
        return qsso_decrypt_fail(c);
    *root = plain;
    return 0;
}

int qsso_decrypt_assertion(apr_pool_t *p, const qsso_decrypt_input_t *in,
                           xmlNodePtr enc, xmlNodePtr *assertion,
                           const char **why)
{
    qsso_decrypt_ctx_t c;
    xmlDocPtr scratch;
    xmlNodePtr copy, root = NULL, imported;

    memset(&c, 0, sizeof(c));
    c.p = p;
    c.in = in;
    c.why = why;
    c.enc = enc;
    if (in->key == NULL || in->key->xmlsec_key == NULL)
        return qsso_decrypt_refuse(&c, "no QSSOSPPrivateKeyFile to decrypt "
                                   "it with");
    if ((scratch = xmlNewDoc((const xmlChar *)"1.0")) == NULL)
        return qsso_decrypt_fail(&c);
    apr_pool_cleanup_register(p, scratch, qsso_decrypt_free_doc,
                              apr_pool_cleanup_null);
    if ((copy = xmlDocCopyNode(enc, scratch, 1)) == NULL)
        return qsso_decrypt_fail(&c);
    xmlDocSetRootElement(scratch, copy);
    if (qsso_decrypt_check_shape(&c, copy) < 0
        || qsso_decrypt_content(&c, &root) < 0)
        return -1;
    if ((imported = xmlDocCopyNode(root, enc->doc, 1)) == NULL)
        return qsso_decrypt_fail(&c);
    apr_pool_cleanup_run(p, scratch, qsso_decrypt_free_doc);
    xmlReplaceNode(enc, imported);
    xmlFreeNode(enc);
    *assertion = imported;
    return QSSO_OK;
}

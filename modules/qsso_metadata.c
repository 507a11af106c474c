/*
 * IdP metadata (SAML Metadata 2.0): entity ID, SingleSignOnService
 * endpoints for the two bindings we speak, and every signing certificate,
 * so an IdP can publish its next certificate before it rotates. Read once
 * while the configuration is parsed; nothing here runs per request except
 * building the SP's own metadata document.
 */
#include <string.h>
#include <openssl/x509.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "qsso.h"
#include "qsso_algs.h"
#include "qsso_codec.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_xml.h"

#define QSSO_MD_MAX_FILE (16 * 1024 * 1024)
#define QSSO_BINDING_URI_REDIRECT \
    "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
#define QSSO_BINDING_URI_POST "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

const char *qsso_metadata_load_idp(apr_pool_t *p, const char *file,
                                   qsso_idp_t **out)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    apr_size_t len;
    char *data, buf[256];

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot open '%s': %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv != APR_SUCCESS || fi.size > QSSO_MD_MAX_FILE) {
        apr_file_close(f);
        return apr_psprintf(p, "'%s' is unreadable or larger than 16 MiB",
                            file);
    }
    data = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, data, (apr_size_t)fi.size, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read '%s': %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    return qsso_metadata_parse_idp(p, file, data, len, out);
}

/* The one EntityDescriptor with an IDPSSODescriptor under root. */
static const char *qsso_metadata_find_idp(apr_pool_t *p, const char *file,
                                          xmlNodePtr root, xmlNodePtr *ed,
                                          xmlNodePtr *sso)
{
    xmlNodePtr c;
    int found = 0;

    if (qsso_xml_is(root, QSSO_NS_MD, "EntityDescriptor")) {
        *ed = root;
        *sso = qsso_xml_child(root, QSSO_NS_MD, "IDPSSODescriptor");
        if (*sso == NULL)
            return apr_psprintf(p, "'%s' describes no IdP: its "
                                "EntityDescriptor has no IDPSSODescriptor "
                                "(is this the SP's metadata?)", file);
        return NULL;
    }
    if (!qsso_xml_is(root, QSSO_NS_MD, "EntitiesDescriptor"))
        return apr_psprintf(p, "'%s' is not SAML metadata: the root element "
                            "is <%s>, not md:EntityDescriptor", file,
                            (const char *)root->name);
    for (c = root->children; c; c = c->next) {
        xmlNodePtr s = qsso_xml_child(c, QSSO_NS_MD, "IDPSSODescriptor");
        if (qsso_xml_is(c, QSSO_NS_MD, "EntityDescriptor") && s) {
            *ed = c;
            *sso = s;
            found++;
        }
    }
    if (found != 1)
        return apr_psprintf(p, "'%s' holds %d IdP EntityDescriptors; give "
                            "QSSOIdPMetadataFile a file with exactly one",
                            file, found);
    return NULL;
}

/* Every ds:X509Certificate of every signing (or unqualified) key. */
static const char *qsso_metadata_read_certs(apr_pool_t *p, const char *file,
                                            xmlNodePtr sso, qsso_idp_t *idp)
{
    xmlNodePtr kd, x509data, cert;

    idp->certs_der = apr_array_make(p, 2, sizeof(qsso_blob_t));
    for (kd = sso->children; kd; kd = kd->next) {
        const char *use = qsso_xml_attr(p, kd, "use");
        xmlNodePtr ki = qsso_xml_child(kd, QSSO_NS_DS, "KeyInfo");

        if (!qsso_xml_is(kd, QSSO_NS_MD, "KeyDescriptor")
            || (use && strcmp(use, "signing")) || ki == NULL)
            continue;
        for (x509data = ki->children; x509data; x509data = x509data->next) {
            if (!qsso_xml_is(x509data, QSSO_NS_DS, "X509Data"))
                continue;
            for (cert = x509data->children; cert; cert = cert->next) {
                qsso_blob_t *b;
                const unsigned char *der, *q;
                const char *weak;
                apr_size_t len;
                X509 *x;

                if (!qsso_xml_is(cert, QSSO_NS_DS, "X509Certificate"))
                    continue;
                der = (const unsigned char *)qsso_codec_base64_decode(
                    p, qsso_xml_text(p, cert), &len);
                if (der == NULL || len == 0)
                    return apr_psprintf(p, "'%s': signing certificate %d is "
                                        "not base64", file,
                                        idp->certs_der->nelts + 1);
                q = der;
                x = d2i_X509(NULL, &q, (long)len);
                if (x == NULL)
                    return apr_psprintf(p, "'%s': signing certificate %d is "
                                        "not an X.509 certificate", file,
                                        idp->certs_der->nelts + 1);
                weak = X509_get0_pubkey(x)
                           ? qsso_keys_check_strength(p, X509_get0_pubkey(x))
                           : "no usable public key";
                X509_free(x);
                if (weak)
                    return apr_psprintf(p, "'%s': signing certificate %d has "
                                        "%s", file,
                                        idp->certs_der->nelts + 1, weak);
                b = apr_array_push(idp->certs_der);
                b->data = der;
                b->len = len;
            }
        }
    }
    if (idp->certs_der->nelts == 0)
        return apr_psprintf(p, "'%s' has no signing certificate "
                            "(KeyDescriptor use=\"signing\" with "
                            "ds:X509Certificate); responses could not be "
                            "verified", file);
    return NULL;
}

static void qsso_metadata_read_sso(apr_pool_t *p, xmlNodePtr sso,
                                   qsso_idp_t *idp)
{
    xmlNodePtr c;

    for (c = sso->children; c; c = c->next) {
        const char *binding, *loc;

        if (!qsso_xml_is(c, QSSO_NS_MD, "SingleSignOnService"))
            continue;
        binding = qsso_xml_attr(p, c, "Binding");
        loc = qsso_xml_attr(p, c, "Location");
        if (binding == NULL || loc == NULL || *loc == '\0')
            continue;
        if (!strcmp(binding, QSSO_BINDING_URI_REDIRECT)
            && !idp->sso_redirect_url)
            idp->sso_redirect_url = loc;
        else if (!strcmp(binding, QSSO_BINDING_URI_POST) && !idp->sso_post_url)
            idp->sso_post_url = loc;
    }
}

const char *qsso_metadata_parse_idp(apr_pool_t *p, const char *file,
                                    const char *data, apr_size_t len,
                                    qsso_idp_t **out)
{
    xmlDocPtr doc;
    xmlNodePtr ed = NULL, sso = NULL;
    qsso_idp_t *idp;
    const char *err;

    switch (qsso_xml_parse(p, data, len, &doc)) {
    case QSSO_XML_OK:
        break;
    case QSSO_XML_DOCTYPE:
        return apr_psprintf(p, "'%s' has a DOCTYPE; metadata with DTDs or "
                            "entities is refused", file);
    case QSSO_XML_TOO_DEEP:
        return apr_psprintf(p, "'%s' nests elements more than %d deep",
                            file, QSSO_XML_MAX_DEPTH);
    default:
        return apr_psprintf(p, "'%s' is not well-formed XML", file);
    }
    if ((err = qsso_metadata_find_idp(p, file, xmlDocGetRootElement(doc),
                                      &ed, &sso)) != NULL)
        return err;
    idp = apr_pcalloc(p, sizeof(*idp));
    idp->file = apr_pstrdup(p, file);
    idp->entity_id = qsso_xml_attr(p, ed, "entityID");
    if (idp->entity_id == NULL || *idp->entity_id == '\0')
        return apr_psprintf(p, "'%s': the EntityDescriptor has no entityID",
                            file);
    if ((err = qsso_metadata_read_certs(p, file, sso, idp)) != NULL)
        return err;
    qsso_metadata_read_sso(p, sso, idp);
    if (!idp->sso_redirect_url && !idp->sso_post_url)
        return apr_psprintf(p, "'%s' has no SingleSignOnService with the "
                            "HTTP-Redirect or HTTP-POST binding", file);
    *out = idp;
    return NULL;
}

/* The md:KeyDescriptor of one use, with the EncryptionMethods an IdP may
 * pick from (SAML Metadata 2.4.1.1) for use="encryption". */
static const char *qsso_metadata_key_descriptor(apr_pool_t *p,
                                                const char *use,
                                                const char *cert_b64,
                                                int enc_algs)
{
    const qsso_alg_t *a;
    const char *methods = "";

    for (a = qsso_algs_all; enc_algs && a->name; a++)
        if (a->kind != QSSO_ALG_SIGNATURE && (enc_algs & a->bit))
            methods = apr_pstrcat(p, methods, "      <md:EncryptionMethod "
                                  "Algorithm=\"", a->uri, "\"/>\n", NULL);
    return apr_pstrcat(p,
        "    <md:KeyDescriptor use=\"", use, "\">\n"
        "      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>", cert_b64,
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n", methods,
        "    </md:KeyDescriptor>\n", NULL);
}

char *qsso_metadata_build_sp(apr_pool_t *p, const qsso_sp_metadata_t *sp)
{
    const char *keydesc = "";

    if (sp->cert_b64)
        keydesc = qsso_metadata_key_descriptor(p, "signing", sp->cert_b64, 0);
    if (sp->enc_cert_b64)
        keydesc = apr_pstrcat(p, keydesc, qsso_metadata_key_descriptor(
                                  p, "encryption", sp->enc_cert_b64,
                                  qsso_algs_encryption_mask(sp->enc_algs)),
                              NULL);
    return apr_pstrcat(p,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<md:EntityDescriptor xmlns:md=\"" QSSO_NS_MD "\" "
        "xmlns:ds=\"" QSSO_NS_DS "\" entityID=\"",
        qsso_codec_html_escape(p, sp->entity_id), "\">\n"
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"",
        sp->requests_signed ? "true" : "false",
        "\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\""
        QSSO_NS_SAMLP "\">\n", keydesc,
        "    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:"
        "unspecified</md:NameIDFormat>\n"
        "    <md:AssertionConsumerService Binding=\"" QSSO_BINDING_URI_POST
        "\" Location=\"", qsso_codec_html_escape(p, sp->acs_url),
        "\" index=\"0\" isDefault=\"true\"/>\n"
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n", NULL);
}

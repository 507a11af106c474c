/*
 * Safe parsing of XML from IdPs and browsers. libxml2 is told not to touch
 * the network, not to load or validate DTDs and not to substitute entities;
 * a document that carries a DOCTYPE at all is refused, since no SAML
 * message has one (XXE, billion laughs). Elements nest at most
 * QSSO_XML_MAX_DEPTH deep: the parser stops at the first one deeper, long
 * before libxml2's own limit, so recursive walks over a parsed message
 * stay shallow. Size limits are libxml2's defaults (no XML_PARSE_HUGE).
 */
#include <limits.h>
#include <string.h>
#include <sys/uio.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <apr_strings.h>

#include "qsso_xml.h"

static apr_status_t qsso_xml_free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

static void qsso_xml_silent(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

/* The parser stops at the first DOCTYPE, so an entity bomb or an external
 * subset is never expanded and is reported as a DOCTYPE (2106), not as
 * damaged XML. XML_ERR_USER_STOP is set only here. */
static void qsso_xml_doctype(void *ctx, const xmlChar *name,
                             const xmlChar *external_id,
                             const xmlChar *system_id)
{
    (void)name;
    (void)external_id;
    (void)system_id;
    xmlStopParser(ctx);
}

/* Element depth while parsing; ctxt->_private points at it. */
typedef struct {
    int depth;
    int too_deep;
} qsso_xml_depth_t;

static void qsso_xml_start(void *ctx, const xmlChar *localname,
                           const xmlChar *prefix, const xmlChar *uri,
                           int nb_namespaces, const xmlChar **namespaces,
                           int nb_attributes, int nb_defaulted,
                           const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    qsso_xml_depth_t *d = ctxt->_private;

    if (++d->depth > QSSO_XML_MAX_DEPTH) {
        d->too_deep = 1;
        xmlStopParser(ctxt);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces,
                          namespaces, nb_attributes, nb_defaulted,
                          attributes);
}

static void qsso_xml_end(void *ctx, const xmlChar *localname,
                         const xmlChar *prefix, const xmlChar *uri)
{
    xmlParserCtxtPtr ctxt = ctx;
    qsso_xml_depth_t *d = ctxt->_private;

    d->depth--;
    xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

qsso_xml_status_e qsso_xml_parse(apr_pool_t *p, const char *data,
                                 apr_size_t len, xmlDocPtr *doc)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr d;
    qsso_xml_depth_t depth = {0, 0};

    *doc = NULL;
    if (len > INT_MAX)
        return QSSO_XML_MALFORMED;
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL)
        return QSSO_XML_MALFORMED;
    /* Keep hostile input out of stderr (httpd's error log). */
    ctxt->sax->error = qsso_xml_silent;
    ctxt->sax->warning = qsso_xml_silent;
    ctxt->vctxt.error = qsso_xml_silent;
    ctxt->vctxt.warning = qsso_xml_silent;
    ctxt->sax->internalSubset = qsso_xml_doctype;
    ctxt->sax->startElementNs = qsso_xml_start;
    ctxt->sax->endElementNs = qsso_xml_end;
    ctxt->_private = &depth;
    d = xmlCtxtReadMemory(ctxt, data, (int)len, "saml.xml", NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR
                              | XML_PARSE_NOWARNING);
    if (depth.too_deep) {
        xmlFreeParserCtxt(ctxt);
        if (d)
            xmlFreeDoc(d);
        return QSSO_XML_TOO_DEEP;
    }
    if (ctxt->errNo == XML_ERR_USER_STOP) {
        xmlFreeParserCtxt(ctxt);
        if (d)
            xmlFreeDoc(d);
        return QSSO_XML_DOCTYPE;
    }
    /* An unbound prefix is a namespace error libxml2 only notes. */
    if (d == NULL || !ctxt->wellFormed || !ctxt->nsWellFormed) {
        xmlFreeParserCtxt(ctxt);
        if (d)
            xmlFreeDoc(d);
        return QSSO_XML_MALFORMED;
    }
    xmlFreeParserCtxt(ctxt);
    apr_pool_cleanup_register(p, d, qsso_xml_free_doc, apr_pool_cleanup_null);
    if (d->intSubset || d->extSubset)
        return QSSO_XML_DOCTYPE;
    if (xmlDocGetRootElement(d) == NULL)
        return QSSO_XML_MALFORMED;
    *doc = d;
    return QSSO_XML_OK;
}

int qsso_xml_depth(const xmlNode *node)
{
    const xmlNode *c;
    int max = 0;

    if (node == NULL || node->type != XML_ELEMENT_NODE)
        return 0;
    for (c = node->children; c; c = c->next) {
        int d = qsso_xml_depth(c);
        if (d > max)
            max = d;
    }
    return max + 1;
}

int qsso_xml_is(const xmlNode *node, const char *ns, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns
           && node->ns->href && !strcmp((const char *)node->ns->href, ns)
           && !strcmp((const char *)node->name, name);
}

xmlNodePtr qsso_xml_child(const xmlNode *node, const char *ns,
                          const char *name)
{
    xmlNodePtr c;

    for (c = node ? node->children : NULL; c; c = c->next)
        if (qsso_xml_is(c, ns, name))
            return c;
    return NULL;
}

int qsso_xml_count_children(const xmlNode *node, const char *ns,
                            const char *name)
{
    xmlNodePtr c;
    int n = 0;

    for (c = node ? node->children : NULL; c; c = c->next)
        if (qsso_xml_is(c, ns, name))
            n++;
    return n;
}

const char *qsso_xml_attr(apr_pool_t *p, const xmlNode *node,
                          const char *name)
{
    xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *copy;

    if (v == NULL)
        return NULL;
    copy = apr_pstrdup(p, (const char *)v);
    xmlFree(v);
    return copy;
}

static void qsso_xml_collect(const xmlNode *node, struct iovec **vec,
                             int *n, int *cap, apr_pool_t *p)
{
    const xmlNode *c;

    for (c = node->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
            && c->content) {
            if (*n == *cap) {
                struct iovec *nv = apr_palloc(p, sizeof(**vec) * *cap * 2);
                memcpy(nv, *vec, sizeof(**vec) * *cap);
                *vec = nv;
                *cap *= 2;
            }
            (*vec)[*n].iov_base = c->content;
            (*vec)[*n].iov_len = strlen((const char *)c->content);
            (*n)++;
        }
        else if (c->type == XML_ELEMENT_NODE) {
            qsso_xml_collect(c, vec, n, cap, p);
        }
    }
}

const char *qsso_xml_text(apr_pool_t *p, const xmlNode *node)
{
    int n = 0, cap = 8;
    struct iovec *vec = apr_palloc(p, sizeof(*vec) * cap);

    if (node == NULL)
        return NULL;
    qsso_xml_collect(node, &vec, &n, &cap, p);
    return apr_pstrcatv(p, vec, (apr_size_t)n, NULL);
}

const char *qsso_xml_trim(apr_pool_t *p, const char *s)
{
    const char *e;

    if (s == NULL)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'
                     || e[-1] == '\n'))
        e--;
    return apr_pstrndup(p, s, (apr_size_t)(e - s));
}

/* Safe XML parsing and small DOM helpers over libxml2. */
#ifndef QSSO_XML_H
#define QSSO_XML_H

#include <libxml/tree.h>
#include "qsso.h"

#define QSSO_NS_SAMLP "urn:oasis:names:tc:SAML:2.0:protocol"
#define QSSO_NS_SAML "urn:oasis:names:tc:SAML:2.0:assertion"
#define QSSO_NS_MD "urn:oasis:names:tc:SAML:2.0:metadata"
#define QSSO_NS_DS "http://www.w3.org/2000/09/xmldsig#"

/* Elements nest at most this deep (the root is at depth 1); a SAML
 * response needs about 10. */
#define QSSO_XML_MAX_DEPTH 64

typedef enum {
    QSSO_XML_OK = 0,
    QSSO_XML_MALFORMED,      /* not well-formed */
    QSSO_XML_DOCTYPE,        /* a DOCTYPE, DTD or entity declaration */
    QSSO_XML_TOO_DEEP        /* elements nested over QSSO_XML_MAX_DEPTH */
} qsso_xml_status_e;

/* Parses data with no network, no DTD loading and no entity expansion, and
 * refuses any DOCTYPE and any element deeper than QSSO_XML_MAX_DEPTH
 * (parsing stops there). The document is freed when p is cleared. */
qsso_xml_status_e qsso_xml_parse(apr_pool_t *p, const char *data,
                                 apr_size_t len, xmlDocPtr *doc);

/* How deep the elements under node nest, node itself counting 1; 0 for
 * NULL or a node that is not an element. Recursive: for trees that
 * qsso_xml_parse built or bounded. */
int qsso_xml_depth(const xmlNode *node);
/* Is node an element named name in namespace ns? */
int qsso_xml_is(const xmlNode *node, const char *ns, const char *name);
/* First element child named ns:name, or NULL. */
xmlNodePtr qsso_xml_child(const xmlNode *node, const char *ns,
                          const char *name);
/* Number of element children named ns:name. */
int qsso_xml_count_children(const xmlNode *node, const char *ns,
                            const char *name);
/* Attribute value copied into p, or NULL. */
const char *qsso_xml_attr(apr_pool_t *p, const xmlNode *node,
                          const char *name);
/* The full text content of node, every text and CDATA descendant
 * concatenated, comments skipped: `a<!---->b` reads as "ab", never "a". */
const char *qsso_xml_text(apr_pool_t *p, const xmlNode *node);
/* Leading and trailing XML whitespace removed. */
const char *qsso_xml_trim(apr_pool_t *p, const char *s);

#endif

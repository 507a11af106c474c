/*
 * Helpers of the unit tests; see qsso_test.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlschemas.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "qsso_keys.h"
#include "qsso_test.h"

int qsso_test_group_setup(void **state)
{
    apr_pool_t *root;
    const char *err;

    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&root, NULL) != APR_SUCCESS)
        return -1;
    /* xmlsec is shut down when root is destroyed, as in httpd. */
    if ((err = qsso_keys_init_crypto(root)) != NULL) {
        fprintf(stderr, "qsso_keys_init_crypto: %s\n", err);
        return -1;
    }
    *state = root;
    return 0;
}

int qsso_test_group_teardown(void **state)
{
    apr_pool_destroy(*state);
    apr_terminate();
    xmlCleanupParser();
    return 0;
}

/* cmocka hands each test the group's state; the test gets a child pool
 * of it instead, destroyed after the test whether it passed or not. */
int qsso_test_setup(void **state)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, *state) != APR_SUCCESS)
        return -1;
    *state = p;
    return 0;
}

int qsso_test_teardown(void **state)
{
    apr_pool_destroy(*state);
    return 0;
}

char *qsso_test_read(apr_pool_t *p, const char *path, apr_size_t *len)
{
    char *data = NULL;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t got = 0;

    if (apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY,
                      APR_OS_DEFAULT, p) != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS)
        fail_msg("cannot read %s", path);
    data = apr_palloc(p, (apr_size_t)fi.size + 1);
    if (fi.size > 0
        && apr_file_read_full(f, data, (apr_size_t)fi.size, &got)
               != APR_SUCCESS)
        fail_msg("cannot read %s", path);
    apr_file_close(f);
    data[got] = '\0';
    if (len)
        *len = got;
    return data;
}

char *qsso_test_replace(apr_pool_t *p, const char *s, const char *from,
                        const char *to)
{
    const char *at = strstr(s, from);

    if (at == NULL)
        fail_msg("\"%s\" is not in the input", from);
    if (strstr(at + 1, from) != NULL)
        fail_msg("\"%s\" occurs more than once in the input", from);
    return apr_pstrcat(p, apr_pstrmemdup(p, s, (apr_size_t)(at - s)), to,
                       at + strlen(from), NULL);
}

char *qsso_test_between(apr_pool_t *p, const char *s, const char *open,
                        const char *close)
{
    const char *a = strstr(s, open), *b;

    if (a == NULL)
        fail_msg("\"%s\" is not in the input", open);
    if ((b = strstr(a, close)) == NULL)
        fail_msg("\"%s\" does not follow \"%s\"", close, open);
    return apr_pstrmemdup(p, a, (apr_size_t)(b + strlen(close) - a));
}

static char qsso_test_schema_error[512];

static void qsso_test_schema_note(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    if (qsso_test_schema_error[0] == '\0' && e && e->message)
        snprintf(qsso_test_schema_error, sizeof(qsso_test_schema_error),
                 "line %d: %s", e->line, e->message);
}

/* Every schema document, wherever an import says it lives (often a w3.org
 * URL), is read from QSSO_SCHEMA_DIR by its file name; anything else is
 * refused, so validation never touches the network. */
static xmlParserInputPtr qsso_test_schema_loader(const char *url,
                                                 const char *id,
                                                 xmlParserCtxtPtr ctxt)
{
    const char *name = url ? strrchr(url, '/') : NULL;
    char path[1024];

    (void)id;
    snprintf(path, sizeof(path), "%s/%s", QSSO_SCHEMA_DIR,
             name ? name + 1 : (url ? url : ""));
    if (url == NULL || access(path, R_OK) != 0)
        return NULL;
    return xmlNewInputFromFile(ctxt, path);
}

const char *qsso_test_validate(apr_pool_t *p, const char *xml,
                               const char *xsd)
{
    xmlExternalEntityLoader prev = xmlGetExternalEntityLoader();
    xmlSchemaParserCtxtPtr pc;
    xmlSchemaPtr schema = NULL;
    xmlSchemaValidCtxtPtr vc = NULL;
    xmlDocPtr doc = NULL;
    const char *path = apr_pstrcat(p, QSSO_SCHEMA_DIR, "/", xsd, NULL);
    const char *result = NULL;

    if (access(path, R_OK) != 0)
        return apr_psprintf(p, "schema %s is missing (python3-pysaml2 "
                            "ships it)", path);
    qsso_test_schema_error[0] = '\0';
    xmlSetExternalEntityLoader(qsso_test_schema_loader);
    pc = xmlSchemaNewParserCtxt(path);
    if (pc) {
        xmlSchemaSetParserStructuredErrors(pc, qsso_test_schema_note, NULL);
        schema = xmlSchemaParse(pc);
        xmlSchemaFreeParserCtxt(pc);
    }
    if (schema == NULL) {
        result = apr_psprintf(p, "schema %s does not load: %s", path,
                              qsso_test_schema_error);
        goto done;
    }
    doc = xmlReadMemory(xml, (int)strlen(xml), "input.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR
                            | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        result = "not well-formed";
        goto done;
    }
    vc = xmlSchemaNewValidCtxt(schema);
    xmlSchemaSetValidStructuredErrors(vc, qsso_test_schema_note, NULL);
    if (xmlSchemaValidateDoc(vc, doc) != 0)
        result = apr_pstrdup(p, qsso_test_schema_error[0]
                                    ? qsso_test_schema_error
                                    : "invalid");
done:
    if (vc)
        xmlSchemaFreeValidCtxt(vc);
    if (schema)
        xmlSchemaFree(schema);
    if (doc)
        xmlFreeDoc(doc);
    xmlSetExternalEntityLoader(prev);
    return result;
}

/* SCIM filters and PATCH paths (RFC 7644 3.4.2.2, 3.5.2): a deliberately
 * small grammar, parsed without a request or the store. */
#ifndef QSSO_SCIM_FILTER_H
#define QSSO_SCIM_FILTER_H

#include "qsso.h"

#define QSSO_SCIM_FILTER_MAX 2048      /* bytes of a filter or path */
#define QSSO_SCIM_FILTER_CONDS 8       /* conditions joined by "and" */

typedef enum {
    QSSO_SCIM_VALUE_STRING = 0,
    QSSO_SCIM_VALUE_BOOL,
    QSSO_SCIM_VALUE_NULL
} qsso_scim_value_e;

/* attrPath eq value. emails[value eq "x"] and emails.value eq "x" give
 * the same condition. */
typedef struct {
    const char *attr;              /* lower-case: "username", "emails.value" */
    qsso_scim_value_e type;
    const char *str;               /* STRING: the decoded UTF-8 value */
    int boolean;                   /* BOOL */
} qsso_scim_cond_t;

/* A PATCH path: [urn:] attr [ "[" filter "]" ] [ "." sub ] */
typedef struct {
    const char *urn;               /* canonical schema URN, or NULL */
    const char *attr;              /* lower-case; "" when the path is a URN */
    const char *sub;               /* lower-case sub-attribute, or NULL */
    apr_array_header_t *filter;    /* of qsso_scim_cond_t, relative to
                                    * attr; NULL without brackets */
} qsso_scim_path_t;

/* Parses cond *("and" cond) where cond is attrPath "eq" value, value a
 * JSON string, true, false or null. Anything else (or, not, parentheses,
 * other operators, unquoted values) is refused: NULL and the conditions
 * (qsso_scim_cond_t, at least one) in p, or what is wrong. */
const char *qsso_scim_filter_parse(apr_pool_t *p, const char *text,
                                   apr_array_header_t **conds);

/* Parses a PATCH path. A URN prefix must be one of the schemas of
 * qsso_scim_schema.h. NULL and *out in p, or what is wrong. */
const char *qsso_scim_filter_parse_path(apr_pool_t *p, const char *text,
                                        qsso_scim_path_t *out);

/* Does the string v satisfy c (a STRING condition)? NULL v never does;
 * a NULL condition matches an empty or missing value. */
int qsso_scim_filter_match_str(const qsso_scim_cond_t *c, const char *v,
                               int case_exact);
/* Does the boolean v satisfy c? */
int qsso_scim_filter_match_bool(const qsso_scim_cond_t *c, int v);

#endif

/* SCIM schemas (RFC 7643): the attributes of User, the enterprise User
 * extension and Group as tables, which both the /Schemas answer and the
 * PATCH path checks read, and the static discovery documents. */
#ifndef QSSO_SCIM_SCHEMA_H
#define QSSO_SCIM_SCHEMA_H

#include <jansson.h>
#include "qsso.h"

#define QSSO_SCIM_URN_USER "urn:ietf:params:scim:schemas:core:2.0:User"
#define QSSO_SCIM_URN_ENTERPRISE \
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
#define QSSO_SCIM_URN_GROUP "urn:ietf:params:scim:schemas:core:2.0:Group"
#define QSSO_SCIM_URN_LIST "urn:ietf:params:scim:api:messages:2.0:ListResponse"
#define QSSO_SCIM_URN_PATCH "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#define QSSO_SCIM_URN_ERROR "urn:ietf:params:scim:api:messages:2.0:Error"

/* What an attribute is stored as here; QSSO_SCIM_F_NONE: a schema
 * attribute this directory does not keep (accepted and ignored). */
typedef enum {
    QSSO_SCIM_F_NONE = 0,
    QSSO_SCIM_F_READONLY,          /* id, meta, groups of a User: 400 */
    QSSO_SCIM_F_USERNAME,
    QSSO_SCIM_F_EXTERNAL_ID,
    QSSO_SCIM_F_ACTIVE,
    QSSO_SCIM_F_NAME,
    QSSO_SCIM_F_GIVEN_NAME,
    QSSO_SCIM_F_FAMILY_NAME,
    QSSO_SCIM_F_EMAILS,
    QSSO_SCIM_F_VALUE,             /* emails.value, members.value */
    QSSO_SCIM_F_USER_TYPE,
    QSSO_SCIM_F_EMPLOYEE_NUMBER,
    QSSO_SCIM_F_DIVISION,
    QSSO_SCIM_F_DISPLAY_NAME,      /* of a Group */
    QSSO_SCIM_F_MEMBERS
} qsso_scim_field_e;

typedef struct qsso_scim_attr_t qsso_scim_attr_t;
struct qsso_scim_attr_t {
    const char *name;              /* as RFC 7643 spells it */
    const char *type;              /* string, boolean, complex, reference */
    int multi;
    int required;
    int case_exact;
    const char *mutability;        /* readWrite, readOnly, immutable, ... */
    const char *returned;          /* default, always, never */
    const char *uniqueness;        /* none, server */
    qsso_scim_field_e field;
    const qsso_scim_attr_t *sub;   /* sub-attributes; NULL name ends */
};

/* The attribute table of a schema URN (case-insensitive), or NULL. */
const qsso_scim_attr_t *qsso_scim_schema_attrs(const char *urn);
/* The attribute name (case-insensitive) in a table, or NULL. id,
 * externalId and meta, common to every resource, are found in any. */
const qsso_scim_attr_t *qsso_scim_schema_find(const qsso_scim_attr_t *list,
                                              const char *name);
/* The canonical spelling of a known schema URN (case-insensitive), or
 * NULL when urn is not one of ours. */
const char *qsso_scim_schema_urn(const char *urn, apr_size_t len);

/* The discovery documents (new references); base is the SCIM root URL. */
json_t *qsso_scim_schema_service_provider(const char *base);
json_t *qsso_scim_schema_resource_types(const char *base, const char *id);
json_t *qsso_scim_schema_schemas(const char *base, const char *id);

#endif

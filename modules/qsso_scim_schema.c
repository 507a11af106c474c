/*
 * The SCIM schemas this server speaks, as tables. One table answers both
 * "which attributes exist" (a PATCH path to an attribute no schema has is
 * 400 invalidPath, while a schema attribute this directory does not keep,
 * such as title or phoneNumbers, is accepted and ignored, RFC 7644 3.3)
 * and "what does /Schemas say", so the two cannot disagree. The discovery
 * documents are built here too. Needs no request.
 */
#include <string.h>

#include "qsso.h"
#include "qsso_scim_schema.h"

#define RW "readWrite"
#define RO "readOnly"
#define DEF "default"

/* name, type, multi, required, caseExact, mutability, returned,
 * uniqueness, field, sub-attributes */
#define QSSO_SCIM_STR(n, f) {n, "string", 0, 0, 0, RW, DEF, "none", f, NULL}
#define QSSO_SCIM_END {NULL, NULL, 0, 0, 0, NULL, NULL, NULL, 0, NULL}

static const qsso_scim_attr_t qsso_scim_multi_sub[] = {
    QSSO_SCIM_STR("value", QSSO_SCIM_F_VALUE),
    QSSO_SCIM_STR("display", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("type", QSSO_SCIM_F_NONE),
    {"primary", "boolean", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_name_sub[] = {
    QSSO_SCIM_STR("formatted", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("familyName", QSSO_SCIM_F_FAMILY_NAME),
    QSSO_SCIM_STR("givenName", QSSO_SCIM_F_GIVEN_NAME),
    QSSO_SCIM_STR("middleName", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("honorificPrefix", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("honorificSuffix", QSSO_SCIM_F_NONE),
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_address_sub[] = {
    QSSO_SCIM_STR("formatted", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("streetAddress", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("locality", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("region", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("postalCode", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("country", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("type", QSSO_SCIM_F_NONE),
    {"primary", "boolean", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_ref_sub[] = {
    {"value", "string", 0, 0, 0, RO, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    {"$ref", "reference", 0, 0, 0, RO, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    {"display", "string", 0, 0, 0, RO, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    {"type", "string", 0, 0, 0, RO, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    QSSO_SCIM_END
};

#define QSSO_SCIM_MULTI(n, sub) \
    {n, "complex", 1, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NONE, sub}

static const qsso_scim_attr_t qsso_scim_user[] = {
    {"userName", "string", 0, 1, 0, RW, DEF, "server", QSSO_SCIM_F_USERNAME,
     NULL},
    {"name", "complex", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NAME,
     qsso_scim_name_sub},
    QSSO_SCIM_STR("displayName", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("nickName", QSSO_SCIM_F_NONE),
    {"profileUrl", "reference", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NONE,
     NULL},
    QSSO_SCIM_STR("title", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("userType", QSSO_SCIM_F_USER_TYPE),
    QSSO_SCIM_STR("preferredLanguage", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("locale", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("timezone", QSSO_SCIM_F_NONE),
    {"active", "boolean", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_ACTIVE, NULL},
    {"password", "string", 0, 0, 0, "writeOnly", "never", "none",
     QSSO_SCIM_F_NONE, NULL},
    {"emails", "complex", 1, 0, 0, RW, DEF, "none", QSSO_SCIM_F_EMAILS,
     qsso_scim_multi_sub},
    QSSO_SCIM_MULTI("phoneNumbers", qsso_scim_multi_sub),
    QSSO_SCIM_MULTI("ims", qsso_scim_multi_sub),
    QSSO_SCIM_MULTI("photos", qsso_scim_multi_sub),
    QSSO_SCIM_MULTI("addresses", qsso_scim_address_sub),
    {"groups", "complex", 1, 0, 0, RO, DEF, "none", QSSO_SCIM_F_READONLY,
     qsso_scim_ref_sub},
    QSSO_SCIM_MULTI("entitlements", qsso_scim_multi_sub),
    QSSO_SCIM_MULTI("roles", qsso_scim_multi_sub),
    QSSO_SCIM_MULTI("x509Certificates", qsso_scim_multi_sub),
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_manager_sub[] = {
    QSSO_SCIM_STR("value", QSSO_SCIM_F_NONE),
    {"$ref", "reference", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NONE, NULL},
    {"displayName", "string", 0, 0, 0, RO, DEF, "none", QSSO_SCIM_F_NONE,
     NULL},
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_enterprise[] = {
    QSSO_SCIM_STR("employeeNumber", QSSO_SCIM_F_EMPLOYEE_NUMBER),
    QSSO_SCIM_STR("costCenter", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("organization", QSSO_SCIM_F_NONE),
    QSSO_SCIM_STR("division", QSSO_SCIM_F_DIVISION),
    QSSO_SCIM_STR("department", QSSO_SCIM_F_NONE),
    {"manager", "complex", 0, 0, 0, RW, DEF, "none", QSSO_SCIM_F_NONE,
     qsso_scim_manager_sub},
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_member_sub[] = {
    {"value", "string", 0, 0, 0, "immutable", DEF, "none", QSSO_SCIM_F_VALUE,
     NULL},
    {"$ref", "reference", 0, 0, 0, "immutable", DEF, "none",
     QSSO_SCIM_F_NONE, NULL},
    {"type", "string", 0, 0, 0, "immutable", DEF, "none", QSSO_SCIM_F_NONE,
     NULL},
    {"display", "string", 0, 0, 0, "immutable", DEF, "none",
     QSSO_SCIM_F_NONE, NULL},
    QSSO_SCIM_END
};

static const qsso_scim_attr_t qsso_scim_group[] = {
    {"displayName", "string", 0, 1, 0, RW, DEF, "server",
     QSSO_SCIM_F_DISPLAY_NAME, NULL},
    {"members", "complex", 1, 0, 0, RW, DEF, "none", QSSO_SCIM_F_MEMBERS,
     qsso_scim_member_sub},
    QSSO_SCIM_END
};

/* RFC 7643 3.1: on every resource, outside the schemas' lists. */
static const qsso_scim_attr_t qsso_scim_common[] = {
    {"id", "string", 0, 0, 1, RO, "always", "server", QSSO_SCIM_F_READONLY,
     NULL},
    {"externalId", "string", 0, 0, 1, RW, DEF, "none",
     QSSO_SCIM_F_EXTERNAL_ID, NULL},
    {"meta", "complex", 0, 0, 0, RO, DEF, "none", QSSO_SCIM_F_READONLY, NULL},
    QSSO_SCIM_END
};

static const struct {
    const char *urn;
    const char *name;
    const char *description;
    const qsso_scim_attr_t *attrs;
} qsso_scim_schemas[] = {
    {QSSO_SCIM_URN_USER, "User", "User Account", qsso_scim_user},
    {QSSO_SCIM_URN_ENTERPRISE, "EnterpriseUser", "Enterprise User",
     qsso_scim_enterprise},
    {QSSO_SCIM_URN_GROUP, "Group", "Group", qsso_scim_group},
};

#define QSSO_SCIM_NSCHEMAS \
    (sizeof(qsso_scim_schemas) / sizeof(qsso_scim_schemas[0]))

const qsso_scim_attr_t *qsso_scim_schema_attrs(const char *urn)
{
    apr_size_t i;

    for (i = 0; urn && i < QSSO_SCIM_NSCHEMAS; i++)
        if (!strcasecmp(urn, qsso_scim_schemas[i].urn))
            return qsso_scim_schemas[i].attrs;
    return NULL;
}

const char *qsso_scim_schema_urn(const char *urn, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < QSSO_SCIM_NSCHEMAS; i++)
        if (strlen(qsso_scim_schemas[i].urn) == len
            && !strncasecmp(urn, qsso_scim_schemas[i].urn, len))
            return qsso_scim_schemas[i].urn;
    return NULL;
}

const qsso_scim_attr_t *qsso_scim_schema_find(const qsso_scim_attr_t *list,
                                              const char *name)
{
    const qsso_scim_attr_t *a;

    for (a = list; a && a->name; a++)
        if (!strcasecmp(a->name, name))
            return a;
    /* Sub-attribute lists do not get the common attributes. */
    if (list == qsso_scim_user || list == qsso_scim_group
        || list == qsso_scim_enterprise)
        for (a = qsso_scim_common; a->name; a++)
            if (!strcasecmp(a->name, name))
                return a;
    return NULL;
}

/* ---- discovery documents ----------------------------------------------- */

static json_t *qsso_scim_schema_attr_json(const qsso_scim_attr_t *a)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:s, s:s}",
                          "name", a->name, "type", a->type,
                          "multiValued", a->multi, "required", a->required,
                          "caseExact", a->case_exact,
                          "mutability", a->mutability,
                          "returned", a->returned,
                          "uniqueness", a->uniqueness);
    const qsso_scim_attr_t *s;

    if (a->sub) {
        json_t *subs = json_array();
        for (s = a->sub; s->name; s++)
            json_array_append_new(subs, qsso_scim_schema_attr_json(s));
        json_object_set_new(o, "subAttributes", subs);
    }
    if (!strcmp(a->type, "reference"))
        json_object_set_new(o, "referenceTypes", json_pack("[s]",
                                                           "external"));
    return o;
}

/* A ListResponse of all items, or the one whose "id" is id (or NULL). */
static json_t *qsso_scim_schema_pick(json_t *items, const char *id)
{
    json_t *one = NULL;
    size_t i;

    if (id == NULL)
        return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas",
                         QSSO_SCIM_URN_LIST, "totalResults",
                         (json_int_t)json_array_size(items), "itemsPerPage",
                         (json_int_t)json_array_size(items), "startIndex",
                         (json_int_t)1, "Resources", items);
    for (i = 0; i < json_array_size(items); i++) {
        const char *v = json_string_value(
            json_object_get(json_array_get(items, i), "id"));
        if (v && !strcmp(v, id))
            one = json_incref(json_array_get(items, i));
    }
    json_decref(items);
    return one;
}

json_t *qsso_scim_schema_schemas(const char *base, const char *id)
{
    json_t *items = json_array();
    apr_size_t i;

    for (i = 0; i < QSSO_SCIM_NSCHEMAS; i++) {
        json_t *attrs = json_array();
        const qsso_scim_attr_t *a;

        for (a = qsso_scim_schemas[i].attrs; a->name; a++)
            json_array_append_new(attrs, qsso_scim_schema_attr_json(a));
        json_array_append_new(items, json_pack(
            "{s:[s], s:s, s:s, s:s, s:o, s:{s:s, s:s++}}", "schemas",
            "urn:ietf:params:scim:schemas:core:2.0:Schema", "id",
            qsso_scim_schemas[i].urn, "name", qsso_scim_schemas[i].name,
            "description", qsso_scim_schemas[i].description, "attributes",
            attrs, "meta", "resourceType", "Schema", "location", base,
            "/Schemas/", qsso_scim_schemas[i].urn));
    }
    return qsso_scim_schema_pick(items, id);
}

json_t *qsso_scim_schema_resource_types(const char *base, const char *id)
{
    json_t *items = json_pack(
        "[{s:[s], s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:b}], s:{s:s, s:s+}},"
        " {s:[s], s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s+}}]",
        "schemas", "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "id", "User", "name", "User", "endpoint", "/Users", "description",
        "User Account", "schema", QSSO_SCIM_URN_USER, "schemaExtensions",
        "schema", QSSO_SCIM_URN_ENTERPRISE, "required", 0, "meta",
        "resourceType", "ResourceType", "location", base,
        "/ResourceTypes/User",
        "schemas", "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "id", "Group", "name", "Group", "endpoint", "/Groups", "description",
        "Group", "schema", QSSO_SCIM_URN_GROUP, "meta", "resourceType",
        "ResourceType", "location", base, "/ResourceTypes/Group");

    return items ? qsso_scim_schema_pick(items, id) : NULL;
}

json_t *qsso_scim_schema_service_provider(const char *base)
{
    return json_pack(
        "{s:[s], s:{s:b}, s:{s:b, s:i, s:i}, s:{s:b, s:i}, s:{s:b},"
        " s:{s:b}, s:{s:b}, s:[{s:s, s:s, s:s, s:b}],"
        " s:{s:s, s:s+}}",
        "schemas", "urn:ietf:params:scim:schemas:core:2.0:"
                   "ServiceProviderConfig",
        "patch", "supported", 1,
        "bulk", "supported", 0, "maxOperations", 0, "maxPayloadSize", 0,
        "filter", "supported", 1, "maxResults", 1000,
        "changePassword", "supported", 0,
        "sort", "supported", 0,
        "etag", "supported", 1,
        "authenticationSchemes", "type", "oauthbearertoken", "name",
        "OAuth Bearer Token", "description", "A bearer token whose SHA-256 "
        "is listed in QSSOSCIMTokenFile", "primary", 1,
        "meta", "resourceType", "ServiceProviderConfig", "location", base,
        "/ServiceProviderConfig");
}

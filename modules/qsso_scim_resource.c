/*
 * The parts of a SCIM answer every resource shares: RFC 7644 3.12 error
 * documents, meta with a weak ETag derived from the stored record (any
 * change to the record changes it, with no counter to keep), RFC 7644
 * 3.4.2.4 pagination, the lenient reading of values that Entra ID and
 * Okta send, and the one PUT/PATCH/DELETE path of /Users and /Groups
 * (qsso_scim_resource_write), whose If-Match check holds up to the write
 * because the type's write is a compare-and-set. Needs no request.
 */
#include <stdarg.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_scim_filter.h"
#include "qsso_scim_resource.h"
#include "qsso_scim_schema.h"

int qsso_scim_fail(qsso_scim_call_t *c, int status, const char *scim_type,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    c->detail = apr_pvsprintf(c->p, fmt, ap);
    va_end(ap);
    c->status = status;
    c->scim_type = scim_type;
    c->out = NULL;
    c->etag = NULL;
    c->location = NULL;
    return status;
}

int qsso_scim_fail_store(qsso_scim_call_t *c, const char *doing,
                         const char *err)
{
    return qsso_scim_fail(c, 503, NULL, "the user directory (QSSOStore) "
                          "failed while %s: %s", doing,
                          err ? err : "no store in this process");
}

static json_t *qsso_scim_json_text(apr_pool_t *p, const char *s)
{
    json_t *j = json_string(s);

    /* Details may quote bytes from the network that are not UTF-8. */
    return j ? j : json_string(qsso_codec_log_escape(p, s, 1000));
}

json_t *qsso_scim_error_json(const qsso_scim_call_t *c)
{
    json_t *o = json_pack("{s:[s], s:s}", "schemas", QSSO_SCIM_URN_ERROR,
                          "status", apr_itoa(c->p, c->status));

    if (c->scim_type)
        json_object_set_new(o, "scimType", json_string(c->scim_type));
    if (c->detail)
        json_object_set_new(o, "detail", qsso_scim_json_text(c->p,
                                                             c->detail));
    return qsso_scim_keep(c->p, o);
}

static apr_status_t qsso_scim_json_release(void *j)
{
    json_decref(j);
    return APR_SUCCESS;
}

json_t *qsso_scim_keep(apr_pool_t *p, json_t *j)
{
    if (j)
        apr_pool_cleanup_register(p, j, qsso_scim_json_release,
                                  apr_pool_cleanup_null);
    return j;
}

const char *qsso_scim_time(apr_pool_t *p, apr_int64_t sec)
{
    apr_time_exp_t t;
    char buf[32];
    apr_size_t n;

    apr_time_exp_gmt(&t, apr_time_from_sec(sec));
    apr_strftime(buf, &n, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
    return apr_pstrmemdup(p, buf, n);
}

const char *qsso_scim_version(apr_pool_t *p, const char *record)
{
    const char *h = qsso_codec_sha256_hex(p, record, strlen(record));

    return apr_psprintf(p, "W/\"%.16s\"", h ? h : "0");
}

json_t *qsso_scim_meta(qsso_scim_call_t *c, const char *type,
                       const char *path, apr_int64_t created,
                       apr_int64_t updated, const char *version)
{
    return json_pack("{s:s, s:s, s:s, s:s+, s:s}", "resourceType", type,
                     "created", qsso_scim_time(c->p, created),
                     "lastModified", qsso_scim_time(c->p, updated),
                     "location", c->base, path, "version", version);
}

int qsso_scim_check_if_match(qsso_scim_call_t *c, const char *version)
{
    const char *want = c->if_match, *tag = version + 2;   /* "..." */
    const char *at;

    if (want == NULL || !strcmp(want, "*"))
        return 0;
    /* Weak comparison (RFC 7232 2.3.2): W/"x" and "x" are the same. */
    for (at = strstr(want, tag); at; at = strstr(at + 1, tag))
        if (at[strlen(tag)] == '\0' || at[strlen(tag)] == ','
            || at[strlen(tag)] == ' ')
            return 0;
    return qsso_scim_fail(c, 412, NULL, "If-Match %s does not match the "
                          "current version %s", want, version);
}

/* A decimal integer, or -1 when s is not one. */
static int qsso_scim_number(const char *s, apr_int64_t *out)
{
    char *end;

    if (s == NULL || *s == '\0' || strlen(s) > 18
        || !(apr_isdigit(*s) || *s == '-'))
        return -1;
    *out = apr_strtoi64(s, &end, 10);
    return *end ? -1 : 0;
}

int qsso_scim_page(qsso_scim_call_t *c, int *start, int *count)
{
    apr_int64_t v;

    *start = 1;
    *count = QSSO_SCIM_PAGE_DEFAULT;
    if (c->start_index) {
        if (qsso_scim_number(c->start_index, &v))
            return qsso_scim_fail(c, 400, "invalidValue", "startIndex "
                                  "must be an integer");
        *start = v < 1 ? 1 : v > APR_INT32_MAX ? APR_INT32_MAX : (int)v;
    }
    if (c->count) {
        if (qsso_scim_number(c->count, &v))
            return qsso_scim_fail(c, 400, "invalidValue", "count must be "
                                  "an integer");
        *count = v < 0 ? 0 : v > QSSO_SCIM_PAGE_MAX ? QSSO_SCIM_PAGE_MAX
                                                    : (int)v;
    }
    return 0;
}

json_t *qsso_scim_list(int start, int total, json_t *page)
{
    return json_pack("{s:[s], s:i, s:I, s:i, s:o}", "schemas",
                     QSSO_SCIM_URN_LIST, "totalResults", total,
                     "itemsPerPage", (json_int_t)json_array_size(page),
                     "startIndex", start, "Resources", page);
}

int qsso_scim_excludes(const qsso_scim_call_t *c, const char *attr)
{
    const char *s = c->excluded;
    apr_size_t n = strlen(attr);

    while (s && *s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (!strncasecmp(s, attr, n) && (s[n] == '\0' || s[n] == ','
                                         || s[n] == ' '))
            return 1;
        s = strchr(s, ',');
    }
    return 0;
}

int qsso_scim_bool(json_t *v, int *out)
{
    const char *s = json_string_value(v);

    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (s && !strcasecmp(s, "true"))
        *out = 1;
    else if (s && !strcasecmp(s, "false"))
        *out = 0;
    else
        return -1;
    return 0;
}

int qsso_scim_string(qsso_scim_call_t *c, json_t *v, const char *name,
                     apr_size_t max, int nullable, const char **out)
{
    const char *s = json_string_value(v);
    apr_size_t i, n = json_string_length(v);

    if (json_is_null(v) && nullable) {
        *out = "";
        return 0;
    }
    if (s == NULL)
        return qsso_scim_fail(c, 400, "invalidValue", "%s must be a "
                              "string", name);
    if (n > max)
        return qsso_scim_fail(c, 400, "invalidValue", "%s is longer than "
                              "%d bytes", name, (int)max);
    for (i = 0; i < n; i++)
        if (apr_iscntrl(s[i]) || s[i] == '\0')
            return qsso_scim_fail(c, 400, "invalidValue", "%s holds a "
                                  "control character", name);
    *out = apr_pstrmemdup(c->p, s, n);
    return 0;
}

static int qsso_scim_patch_op(qsso_scim_call_t *c, json_t *o, int i,
                              qsso_scim_patch_t *op)
{
    static const char *const names[] = {"add", "replace", "remove"};
    const char *name = json_string_value(json_object_get(o, "op"));
    json_t *path = json_object_get(o, "path");
    int k;

    if (!json_is_object(o) || name == NULL)
        return qsso_scim_fail(c, 400, "invalidSyntax", "Operations[%d] has "
                              "no \"op\"", i);
    for (k = 0; k < 3 && strcasecmp(name, names[k]); k++)
        ;
    if (k == 3)
        return qsso_scim_fail(c, 400, "invalidSyntax", "Operations[%d]: op "
                              "must be add, remove or replace", i);
    op->op = (qsso_scim_op_e)k;
    op->value = json_object_get(o, "value");
    if (path && !json_is_string(path))
        return qsso_scim_fail(c, 400, "invalidPath", "Operations[%d]: path "
                              "must be a string", i);
    op->path = path ? json_string_value(path) : NULL;
    if (op->path == NULL && op->op == QSSO_SCIM_OP_REMOVE)
        return qsso_scim_fail(c, 400, "noTarget", "Operations[%d]: remove "
                              "needs a path", i);
    if (op->path == NULL && !json_is_object(op->value))
        return qsso_scim_fail(c, 400, "invalidValue", "Operations[%d]: "
                              "without a path, value must be an object", i);
    if (op->op != QSSO_SCIM_OP_REMOVE && op->value == NULL)
        return qsso_scim_fail(c, 400, "invalidValue", "Operations[%d]: %s "
                              "needs a value", i, names[k]);
    return 0;
}

int qsso_scim_patch_ops(qsso_scim_call_t *c, apr_array_header_t **ops)
{
    json_t *list = json_object_get(c->body, "Operations");
    size_t i;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return qsso_scim_fail(c, 400, "invalidSyntax", "a PatchOp needs a "
                              "non-empty \"Operations\" array");
    if (json_array_size(list) > 1000)
        return qsso_scim_fail(c, 400, "invalidSyntax", "more than 1000 "
                              "Operations");
    *ops = apr_array_make(c->p, (int)json_array_size(list),
                          sizeof(qsso_scim_patch_t));
    for (i = 0; i < json_array_size(list); i++)
        if (qsso_scim_patch_op(c, json_array_get(list, i), (int)i,
                               apr_array_push(*ops)))
            return c->status;
    return 0;
}

/* ---- PUT, PATCH and DELETE of one item --------------------------------- */

/* Is there an If-Match that names versions (not absent, not "*")? */
static int qsso_scim_resource_conditional(const qsso_scim_call_t *c)
{
    return c->if_match && strcmp(c->if_match, "*");
}

/* n from old, edited by the body (PUT) or the operations (PATCH): 0, or
 * 400 (set). A PATCH is applied whole or not at all (RFC 7644 3.5.2):
 * nothing is written before every operation has been applied to n. */
static int qsso_scim_resource_edit(qsso_scim_call_t *c,
                                   const qsso_scim_type_t *t,
                                   const apr_array_header_t *ops,
                                   const void *old, void *n)
{
    qsso_scim_path_t path;
    const char *why;
    int i;

    t->copy(c, n, old, ops == NULL);
    if (ops == NULL)
        return t->apply_body(c, n, QSSO_SCIM_OP_REPLACE, c->body)
                   ? c->status : t->check(c, n);
    for (i = 0; i < ops->nelts; i++) {
        const qsso_scim_patch_t *op = &APR_ARRAY_IDX(ops, i,
                                                     qsso_scim_patch_t);
        if (op->path == NULL) {
            if (t->apply_body(c, n, op->op, op->value))
                return c->status;
            continue;
        }
        if ((why = qsso_scim_filter_parse_path(c->p, op->path, &path)))
            return qsso_scim_fail(c, 400, "invalidPath", "Operations[%d]: "
                                  "path \"%s\": %s", i, op->path, why);
        if (t->apply(c, n, op->op, &path, op->value, 0))
            return c->status;
    }
    return t->check(c, n);
}

int qsso_scim_resource_write(qsso_scim_call_t *c, const qsso_scim_type_t *t)
{
    int patch = !strcmp(c->method, "PATCH"), remove = !strcmp(c->method,
                                                              "DELETE");
    apr_array_header_t *ops = NULL;
    const char *version = NULL;
    int attempt, rc;

    for (attempt = 0; attempt < QSSO_SCIM_ATTEMPTS; attempt++) {
        void *old = apr_pcalloc(c->p, t->size);
        void *n = apr_pcalloc(c->p, t->size);

        if (t->load(c, old)
            || qsso_scim_check_if_match(c, version = t->version(c, old))
            || (patch && ops == NULL && qsso_scim_patch_ops(c, &ops)))
            return c->status;
        if (remove)
            rc = t->remove(c, old);
        else if (qsso_scim_resource_edit(c, t, ops, old, n))
            return c->status;
        else
            rc = t->commit(c, old, n);
        if (rc != QSSO_SCIM_CHANGED)
            return c->status;
        /* The version If-Match named was current when it was checked and
         * is not any more: the other client's write stays (RFC 7644
         * 3.14), this one is refused as if it had come second. */
        if (qsso_scim_resource_conditional(c))
            return qsso_scim_fail(c, 412, NULL, "the %s changed while this "
                                  "%s was applied (another client wrote "
                                  "it first); If-Match %s names version %s, "
                                  "which is no longer current", t->name,
                                  c->method, c->if_match, version);
    }
    return qsso_scim_fail(c, 503, NULL, "the %s changed under each of %d "
                          "attempts of this %s; retry later", t->name,
                          QSSO_SCIM_ATTEMPTS, c->method);
}

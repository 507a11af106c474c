/*
 * The SCIM endpoint: HTTP in, SCIM JSON out. It checks the bearer token
 * before anything else (a session cookie counts for nothing here), routes
 * the path to a resource, reads and parses the body with jansson (1 MiB
 * at most), answers, writes one log line per refusal and one audit event
 * per authenticated call. What a resource does is in qsso_scim_users.c
 * and qsso_scim_groups.c, which know nothing of HTTP; the tokens are in
 * qsso_scim_token.c.
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_scim.h"
#include "qsso_scim_groups.h"
#include "qsso_scim_resource.h"
#include "qsso_scim_schema.h"
#include "qsso_scim_token.h"
#include "qsso_scim_users.h"
#include "qsso_store.h"
#include "qsso_users.h"

APLOG_USE_MODULE(qsso);

#define QSSO_SCIM_BODY_MAX (1024 * 1024)
#define QSSO_SCIM_LOGV(v) qsso_codec_log_escape(r->pool, (v), 200)

static int qsso_scim_handle_config(qsso_scim_call_t *c);
static int qsso_scim_handle_types(qsso_scim_call_t *c);
static int qsso_scim_handle_schemas(qsso_scim_call_t *c);

/* The resources under the SCIM root, and the methods each allows on the
 * collection and on one item (NULL: there are no items). */
static const struct {
    const char *name;
    int (*handle)(qsso_scim_call_t *c);
    int store;                  /* needs the user directory */
    const char *collection;
    const char *item;
} qsso_scim_routes[] = {
    {"Users", qsso_scim_users_handle, 1, "GET, POST",
     "GET, PUT, PATCH, DELETE"},
    {"Groups", qsso_scim_groups_handle, 1, "GET, POST",
     "GET, PUT, PATCH, DELETE"},
    {"ServiceProviderConfig", qsso_scim_handle_config, 0, "GET", NULL},
    {"ResourceTypes", qsso_scim_handle_types, 0, "GET", "GET"},
    {"Schemas", qsso_scim_handle_schemas, 0, "GET", "GET"},
};

#define QSSO_SCIM_NROUTES (sizeof(qsso_scim_routes) / sizeof(*qsso_scim_routes))

/* ---- discovery --------------------------------------------------------- */

static int qsso_scim_handle_config(qsso_scim_call_t *c)
{
    c->out = qsso_scim_keep(c->p, qsso_scim_schema_service_provider(c->base));
    return c->status = 200;
}

static int qsso_scim_handle_types(qsso_scim_call_t *c)
{
    c->out = qsso_scim_keep(c->p, qsso_scim_schema_resource_types(c->base,
                                                                  c->id));
    return c->out ? (c->status = 200)
                  : qsso_scim_fail(c, 404, NULL, "no resource type \"%s\"",
                                   c->id);
}

static int qsso_scim_handle_schemas(qsso_scim_call_t *c)
{
    c->out = qsso_scim_keep(c->p, qsso_scim_schema_schemas(c->base, c->id));
    return c->out ? (c->status = 200)
                  : qsso_scim_fail(c, 404, NULL, "no schema \"%s\"", c->id);
}

/* ---- request in -------------------------------------------------------- */

/* Finds <root>/<Resource>[/<id>] in the URI: the route, the root and the
 * id (NULL for the collection). -1 when the path names no resource. */
static int qsso_scim_route(request_rec *r, const char **root,
                           const char **id)
{
    const char *s;
    apr_size_t k, n;

    for (s = r->uri; s && (s = strchr(s, '/')) != NULL; s++)
        for (k = 0; k < QSSO_SCIM_NROUTES; k++) {
            const char *rest;
            n = strlen(qsso_scim_routes[k].name);
            if (strncmp(s + 1, qsso_scim_routes[k].name, n)
                || (s[n + 1] != '\0' && s[n + 1] != '/'))
                continue;
            rest = s[n + 1] ? s + n + 2 : "";
            if (strchr(rest, '/'))
                continue;
            *root = apr_pstrmemdup(r->pool, r->uri, (apr_size_t)(s - r->uri));
            *id = *rest ? rest : NULL;
            return (int)k;
        }
    return -1;
}

static int qsso_scim_allows(const char *allow, const char *method)
{
    apr_size_t n = strlen(method);
    const char *s;

    for (s = allow; s && (s = strstr(s, method)) != NULL; s += n)
        if ((s == allow || s[-1] == ' ') && (s[n] == ',' || s[n] == '\0'))
            return 1;
    return 0;
}

/* filter, startIndex, count, excludedAttributes; others are ignored. */
static int qsso_scim_read_query(request_rec *r, qsso_scim_call_t *c)
{
    static const char *const names[] = {"filter", "startIndex", "count",
                                        "excludedAttributes"};
    const char **slots[] = {&c->filter, &c->start_index, &c->count,
                            &c->excluded};
    char *args = apr_pstrdup(r->pool, r->args ? r->args : ""), *pair, *last;
    apr_size_t k;

    for (pair = apr_strtok(args, "&", &last); pair;
         pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');
        const char *key, *value;
        if (eq)
            *eq++ = '\0';
        key = qsso_codec_url_decode(r->pool, pair, 1);
        value = qsso_codec_url_decode(r->pool, eq ? eq : "", 1);
        if (key == NULL || value == NULL)
            return qsso_scim_fail(c, 400, "invalidValue", "the query string "
                                  "is not URL-encoded");
        for (k = 0; k < sizeof(names) / sizeof(*names); k++) {
            if (strcasecmp(key, names[k]))
                continue;
            /* Two filters could be read two ways; neither is guessed. */
            if (*slots[k])
                return qsso_scim_fail(c, 400, k ? "invalidValue"
                                                : "invalidFilter",
                                      "%s is given twice", names[k]);
            *slots[k] = value;
        }
    }
    return 0;
}

static int qsso_scim_check_type(qsso_scim_call_t *c, const char *ct)
{
    apr_size_t n;

    if (ct == NULL)
        return 0;
    for (n = 0; ct[n] && ct[n] != ';' && ct[n] != ' '; n++)
        ;
    if ((n == 21 && !strncasecmp(ct, "application/scim+json", n))
        || (n == 16 && !strncasecmp(ct, "application/json", n)))
        return 0;
    return qsso_scim_fail(c, 415, NULL, "Content-Type must be "
                          "application/scim+json or application/json");
}

/* The body as a JSON object (duplicate keys refused): 0, 400 or 413. */
static int qsso_scim_read_body(request_rec *r, qsso_scim_call_t *c)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    char *buf = NULL;
    apr_size_t len = 0;
    json_error_t jerr;
    long n = 0;

    if (qsso_scim_check_type(c, apr_table_get(r->headers_in,
                                              "Content-Type")))
        return c->status;
    if (cl && apr_atoi64(cl) > QSSO_SCIM_BODY_MAX)
        return qsso_scim_fail(c, 413, NULL, "the body is larger than %d "
                              "bytes", QSSO_SCIM_BODY_MAX);
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK)
        return qsso_scim_fail(c, 400, "invalidSyntax", "the body cannot be "
                              "read");
    if (ap_should_client_block(r)) {
        buf = apr_palloc(r->pool, QSSO_SCIM_BODY_MAX + 1);
        while ((n = ap_get_client_block(r, buf + len,
                                        QSSO_SCIM_BODY_MAX + 1 - len)) > 0)
            if ((len += (apr_size_t)n) > QSSO_SCIM_BODY_MAX)
                return qsso_scim_fail(c, 413, NULL, "the body is larger "
                                      "than %d bytes", QSSO_SCIM_BODY_MAX);
    }
    if (n < 0)
        return qsso_scim_fail(c, 400, "invalidSyntax", "the body cannot be "
                              "read");
    c->body = qsso_scim_keep(c->p, json_loadb(buf ? buf : "", len,
                                              JSON_REJECT_DUPLICATES,
                                              &jerr));
    if (c->body == NULL)
        return qsso_scim_fail(c, 400, "invalidSyntax", "the body is not "
                              "JSON: %s (line %d, column %d)", jerr.text,
                              jerr.line, jerr.column);
    if (!json_is_object(c->body))
        return qsso_scim_fail(c, 400, "invalidSyntax", "the body must be a "
                              "JSON object");
    return 0;
}

/* ---- answer out -------------------------------------------------------- */

static void qsso_scim_log(request_rec *r, const qsso_scim_call_t *c)
{
    const char *res = r->uri;

    if (c->status == 401)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, QSSO_LOGNO(6001)
                      "SCIM request refused: %s; client=%s uri=%s; fix: give "
                      "the SCIM client a token whose SHA-256 is in "
                      "QSSOSCIMTokenFile (printf %%s TOKEN | sha256sum), "
                      "then reload Apache", c->detail, r->useragent_ip,
                      QSSO_SCIM_LOGV(res));
    else if (c->status >= 500)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, QSSO_LOGNO(6002)
                      "SCIM %s %s failed with %d: %s", r->method,
                      QSSO_SCIM_LOGV(res), c->status,
                      QSSO_SCIM_LOGV(c->detail));
    else if (c->status == 412)
        /* Two SCIM clients editing one resource: a stale ETag, or a write
         * that lost the compare-and-set to the other client's. */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(6020)
                      "SCIM %s %s refused with 412: %s; subject=%s; fix: "
                      "none here: the client GETs the resource again and "
                      "resends its change with the new ETag (if it keeps "
                      "happening, two clients provision the same resource)",
                      r->method, QSSO_SCIM_LOGV(res),
                      QSSO_SCIM_LOGV(c->detail), QSSO_SCIM_LOGV(c->subject));
    else if (c->status >= 400)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(6003)
                      "SCIM %s %s refused with %d%s%s: %s; user=%s",
                      r->method, QSSO_SCIM_LOGV(res), c->status,
                      c->scim_type ? " " : "",
                      c->scim_type ? c->scim_type : "",
                      QSSO_SCIM_LOGV(c->detail), QSSO_SCIM_LOGV(c->subject));
    else if (c->note)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, QSSO_LOGNO(6004)
                      "SCIM %s %s: user %s %s", r->method,
                      QSSO_SCIM_LOGV(res), QSSO_SCIM_LOGV(c->subject),
                      c->note);
    else
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(6005)
                      "SCIM %s %s answered %d; user=%s", r->method,
                      QSSO_SCIM_LOGV(res), c->status,
                      QSSO_SCIM_LOGV(c->subject));
}

/* One audit event per authenticated call; the token is named by its line
 * in the token file, so a rotation shows when the old one stops. */
static void qsso_scim_audit(request_rec *r, const qsso_scim_call_t *c,
                            const char *resource, const char *token)
{
    const char *e = NULL;
    char *type = apr_pstrcat(r->pool, "scim.", c->method, NULL), *t;

    for (t = type; *t; t++)
        *t = (char)apr_tolower(*t);
    if (c->st == NULL || c->status == 503)
        return;
    if (qsso_users_event(c->st, r->pool, &e, type,
            "resource", resource, "status", apr_itoa(r->pool, c->status),
            "token", token, "client", r->useragent_ip,
            c->subject ? "user" : NULL, c->subject, NULL) != QSSO_STORE_OK)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, QSSO_LOGNO(6006)
                      "cannot record the audit event of SCIM %s %s: %s",
                      r->method, QSSO_SCIM_LOGV(resource), e);
}

static int qsso_scim_send(request_rec *r, qsso_scim_call_t *c)
{
    json_t *doc;
    char *text;

    if (c->status < 200)        /* a handler that answered nothing */
        qsso_scim_fail(c, 500, NULL, "no answer for %s", r->method);
    doc = c->out ? c->out : c->status >= 400 ? qsso_scim_error_json(c) : NULL;
    qsso_scim_log(r, c);
    r->status = c->status;
    if (c->etag)
        apr_table_setn(r->headers_out, "ETag", c->etag);
    if (c->location)
        apr_table_setn(r->headers_out, "Location", c->location);
    /* A refused request's body was not read: do not read it for the
     * next request on this connection either. */
    if (c->status == 401 || c->status == 413 || c->status == 415)
        r->connection->keepalive = AP_CONN_CLOSE;
    if (doc == NULL)
        return OK;
    if ((text = json_dumps(doc, JSON_COMPACT)) == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    ap_set_content_type(r, "application/scim+json; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)strlen(text));
    ap_rwrite(text, (int)strlen(text), r);
    free(text);
    return OK;
}

/* ---- the handler ------------------------------------------------------- */

static int qsso_scim_authenticate(request_rec *r, const qsso_dir_conf_t *dc,
                                  qsso_scim_call_t *c, const char **token)
{
    int line = 0;

    if (dc->scim_tokens == NULL)
        return qsso_scim_fail(c, 500, NULL, "no QSSOSCIMTokenFile applies to "
                              "this location; add one next to SetHandler "
                              "qsso-scim");
    switch (qsso_scim_token_check(dc->scim_tokens,
                                  apr_table_get(r->headers_in,
                                                "Authorization"), &line)) {
    case QSSO_SCIM_TOKEN_OK:
        *token = apr_psprintf(r->pool, "%s:%d", dc->scim_tokens->file, line);
        return 0;
    case QSSO_SCIM_TOKEN_MISSING:
        apr_table_setn(r->headers_out, "WWW-Authenticate",
                       "Bearer realm=\"qsso-scim\"");
        return qsso_scim_fail(c, 401, NULL, "no Authorization: Bearer "
                              "header (SCIM never accepts a session "
                              "cookie)");
    case QSSO_SCIM_TOKEN_MALFORMED:
        apr_table_setn(r->headers_out, "WWW-Authenticate",
                       "Bearer realm=\"qsso-scim\", error=\"invalid_request\"");
        return qsso_scim_fail(c, 401, NULL, "the bearer token is malformed");
    default:
        apr_table_setn(r->headers_out, "WWW-Authenticate",
                       "Bearer realm=\"qsso-scim\", error=\"invalid_token\"");
        return qsso_scim_fail(c, 401, NULL, "the bearer token's SHA-256 is "
                              "not in %s", dc->scim_tokens->file);
    }
}

/* Route, method, store, query and body: 0, or an error answer set. */
static int qsso_scim_prepare(request_rec *r, const qsso_dir_conf_t *dc,
                             qsso_scim_call_t *c, int *route)
{
    const char *root = NULL, *allow;

    if ((*route = qsso_scim_route(r, &root, &c->id)) < 0)
        return qsso_scim_fail(c, 404, NULL, "no SCIM resource at this path; "
                              "the resources are /Users, /Groups, "
                              "/ServiceProviderConfig, /ResourceTypes and "
                              "/Schemas");
    c->base = apr_pstrcat(r->pool, qsso_conf_base_url(dc, r), root, NULL);
    allow = c->id ? qsso_scim_routes[*route].item
                  : qsso_scim_routes[*route].collection;
    if (allow == NULL)
        return qsso_scim_fail(c, 404, NULL, "no such resource");
    if (!qsso_scim_allows(allow, c->method)) {
        apr_table_setn(r->headers_out, "Allow", allow);
        return qsso_scim_fail(c, 405, NULL, "%s is not allowed here; "
                              "allowed: %s", c->method, allow);
    }
    if (qsso_scim_routes[*route].store && c->st == NULL)
        return qsso_scim_fail_store(c, "starting", NULL);
    c->if_match = apr_table_get(r->headers_in, "If-Match");
    if (qsso_scim_read_query(r, c))
        return c->status;
    if (!strcmp(c->method, "POST") || !strcmp(c->method, "PUT")
        || !strcmp(c->method, "PATCH"))
        return qsso_scim_read_body(r, c);
    return 0;
}

int qsso_scim_handle(request_rec *r, const qsso_dir_conf_t *dc)
{
    qsso_scim_call_t c;
    const char *token = NULL, *resource;
    int route = -1;

    memset(&c, 0, sizeof(c));
    c.p = r->pool;
    c.method = r->header_only ? "GET" : r->method;
    c.st = qsso_store_process();
    if (qsso_scim_authenticate(r, dc, &c, &token))
        return qsso_scim_send(r, &c);
    if (qsso_scim_prepare(r, dc, &c, &route) == 0)
        qsso_scim_routes[route].handle(&c);
    resource = route < 0 ? r->uri : apr_pstrcat(
        r->pool, "/", qsso_scim_routes[route].name, c.id ? "/" : "",
        c.id ? c.id : "", NULL);
    qsso_scim_audit(r, &c, resource, token);
    return qsso_scim_send(r, &c);
}

/* ---- startup check ----------------------------------------------------- */

/* path -> "file:line" of each `SetHandler qsso-scim` in a <Location>. */
static void qsso_scim_find_handlers(apr_pool_t *p, ap_directive_t *node,
                                    apr_table_t *found)
{
    for (; node; node = node->next) {
        const char *args = node->args ? node->args : "";

        if (!strcasecmp(node->directive, "SetHandler") && node->parent
            && !strcasecmp(node->parent->directive, "<Location")
            && !strcasecmp(ap_getword_conf(p, &args), QSSO_SCIM_HANDLER)) {
            char *path = apr_pstrdup(p, node->parent->args);
            apr_size_t n = strlen(path);
            if (n && path[n - 1] == '>')
                path[--n] = '\0';
            if (n > 1 && path[0] == '"' && path[n - 1] == '"') {
                path[n - 1] = '\0';
                path++;
            }
            apr_table_setn(found, path, apr_psprintf(
                p, "%s:%d", node->filename, node->line_num));
        }
        if (node->first_child)
            qsso_scim_find_handlers(p, node->first_child, found);
    }
}

static int qsso_scim_check_location(apr_pool_t *p, server_rec *s,
                                    const char *path, const char *where)
{
    APR_OPTIONAL_FN_TYPE(authn_ap_auth_type) *auth_type =
        APR_RETRIEVE_OPTIONAL_FN(authn_ap_auth_type);
    ap_conf_vector_t *v = qsso_config_for_path(p, s, path);
    const qsso_dir_conf_t *c = ap_get_module_config(v, &qsso_module);
    const qsso_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                     &qsso_module);
    const char *type = NULL, *what[3];
    qsso_store_url_t url;
    request_rec fake;
    int i, n = 0;

    memset(&fake, 0, sizeof(fake));
    fake.pool = p;
    fake.server = s;
    fake.per_dir_config = v;
    if (auth_type)
        type = auth_type(&fake);
    if (type && !strcasecmp(type, "qsso"))
        what[n++] = "AuthType qsso applies here, so an SSO session could "
                    "reach SCIM; add AuthType None to this <Location> (SCIM "
                    "checks its own bearer tokens)";
    if (c->scim_tokens == NULL)
        what[n++] = "QSSOSCIMTokenFile is not set; every request would be "
                    "refused";
    if (sc->store_url == NULL
        || qsso_store_parse_url(p, sc->store_url, &url) != NULL
        || !strcmp(url.scheme, "shm"))
        what[n++] = "SCIM keeps users in Redis: set QSSOStore "
                    "redis://... (server-wide)";
    for (i = 0; i < n; i++)
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, QSSO_LOGNO(6010)
                     "SetHandler qsso-scim in <Location %s> at %s (server "
                     "%s:%u): %s", path, where, s->server_hostname,
                     (unsigned)s->port, what[i]);
    return n;
}

int qsso_scim_check_config(apr_pool_t *ptemp, server_rec *s)
{
    apr_table_t *found = apr_table_make(ptemp, 2);
    int errors = 0;

    qsso_scim_find_handlers(ptemp, ap_conftree, found);
    if (apr_is_empty_table(found))
        return OK;
    for (; s; s = s->next) {
        core_server_config *sconf =
            ap_get_core_module_config(s->module_config);
        ap_conf_vector_t **secs = (ap_conf_vector_t **)sconf->sec_url->elts;
        int i;

        for (i = 0; i < sconf->sec_url->nelts; i++) {
            core_dir_config *cd = ap_get_core_module_config(secs[i]);
            const char *where = cd->d && !cd->r && cd->expr_handler
                                    ? apr_table_get(found, cd->d) : NULL;
            if (where)
                errors += qsso_scim_check_location(ptemp, s, cd->d, where);
        }
    }
    return errors ? !OK : OK;
}

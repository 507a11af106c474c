/*
 * Configuration of mod_qsso. Setters validate spelling and ranges and read
 * every file (metadata, certificate, key) while the config is parsed, so
 * `apachectl configtest` names the file and line of a bad directive.
 * Checks that involve several directives or sections run once at startup
 * in qsso_config_check(). Defaults live in the getters only.
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mod_auth.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "qsso.h"
#include "qsso_algs.h"
#include "qsso_config.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_scim_token.h"
#include "qsso_store.h"
#include "qsso_pending.h"
#include "qsso_store_shm.h"

APLOG_USE_MODULE(qsso);

#define QSSO_CONF_MAX_SKEW 600
#define QSSO_CONF_MAX_LIFETIME (30 * 86400)

void *qsso_config_create_dir(apr_pool_t *p, char *dir)
{
    qsso_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->section = dir;
    c->sso_binding = QSSO_UNSET;
    c->sign_request = QSSO_UNSET;
    c->force_authn = QSSO_UNSET;
    c->replay_prevention = QSSO_UNSET;
    c->allow_idp_initiated = QSSO_UNSET;
    c->clock_skew = QSSO_UNSET;
    c->session_lifetime = QSSO_UNSET;
    c->cookie_secure = QSSO_UNSET;
    c->validate_user_type = QSSO_UNSET;
    c->jit_provisioning = QSSO_UNSET;
    c->modify_existing_username = QSSO_UNSET;
    c->merge_existing_user = QSSO_UNSET;
    c->notify_user_creation = QSSO_UNSET;
    c->update_attributes = QSSO_UNSET;
    c->pass_headers = QSSO_UNSET;
    c->sig_algs = QSSO_UNSET;
    c->enc_algs = QSSO_UNSET;
    c->require_encrypted = QSSO_UNSET;
    return c;
}

void *qsso_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const qsso_dir_conf_t *base = basev, *add = addv;
    qsso_dir_conf_t *n = apr_pcalloc(p, sizeof(*n));

    n->section = QSSO_MERGE_PTR(add->section, base->section);
    n->sp_base_url = QSSO_MERGE_PTR(add->sp_base_url, base->sp_base_url);
    n->endpoint_path = QSSO_MERGE_PTR(add->endpoint_path, base->endpoint_path);
    n->sp_entity_id = QSSO_MERGE_PTR(add->sp_entity_id, base->sp_entity_id);
    n->sp_cert = QSSO_MERGE_PTR(add->sp_cert, base->sp_cert);
    n->sp_key = QSSO_MERGE_PTR(add->sp_key, base->sp_key);
    n->idp = QSSO_MERGE_PTR(add->idp, base->idp);
    n->sso_binding = QSSO_MERGE(add->sso_binding, base->sso_binding);
    n->sign_request = QSSO_MERGE(add->sign_request, base->sign_request);
    n->force_authn = QSSO_MERGE(add->force_authn, base->force_authn);
    n->replay_prevention =
        QSSO_MERGE(add->replay_prevention, base->replay_prevention);
    n->allow_idp_initiated =
        QSSO_MERGE(add->allow_idp_initiated, base->allow_idp_initiated);
    n->default_relay_state =
        QSSO_MERGE_PTR(add->default_relay_state, base->default_relay_state);
    n->clock_skew = QSSO_MERGE(add->clock_skew, base->clock_skew);
    n->session_lifetime =
        QSSO_MERGE(add->session_lifetime, base->session_lifetime);
    n->cookie_name = QSSO_MERGE_PTR(add->cookie_name, base->cookie_name);
    n->cookie_secure = QSSO_MERGE(add->cookie_secure, base->cookie_secure);
    n->cookie_samesite =
        QSSO_MERGE_PTR(add->cookie_samesite, base->cookie_samesite);
    n->email_attr = QSSO_MERGE_PTR(add->email_attr, base->email_attr);
    n->username_attr = QSSO_MERGE_PTR(add->username_attr, base->username_attr);
    n->first_name_attr =
        QSSO_MERGE_PTR(add->first_name_attr, base->first_name_attr);
    n->last_name_attr =
        QSSO_MERGE_PTR(add->last_name_attr, base->last_name_attr);
    n->user_type_attr =
        QSSO_MERGE_PTR(add->user_type_attr, base->user_type_attr);
    n->division_attr = QSSO_MERGE_PTR(add->division_attr, base->division_attr);
    n->group_attr = QSSO_MERGE_PTR(add->group_attr, base->group_attr);
    n->unique_id_attr =
        QSSO_MERGE_PTR(add->unique_id_attr, base->unique_id_attr);
    /* Lists: an inner section that names any entry replaces the list. */
    n->dashboard_attrs =
        QSSO_MERGE_PTR(add->dashboard_attrs, base->dashboard_attrs);
    n->user_type_map = QSSO_MERGE_PTR(add->user_type_map, base->user_type_map);
    n->division_map = QSSO_MERGE_PTR(add->division_map, base->division_map);
    n->group_map = QSSO_MERGE_PTR(add->group_map, base->group_map);
    n->validate_user_type =
        QSSO_MERGE(add->validate_user_type, base->validate_user_type);
    n->default_user_type =
        QSSO_MERGE_PTR(add->default_user_type, base->default_user_type);
    n->email_domains = QSSO_MERGE_PTR(add->email_domains, base->email_domains);
    n->jit_provisioning =
        QSSO_MERGE(add->jit_provisioning, base->jit_provisioning);
    n->brand_id = QSSO_MERGE_PTR(add->brand_id, base->brand_id);
    n->modify_existing_username = QSSO_MERGE(add->modify_existing_username,
                                             base->modify_existing_username);
    n->merge_existing_user =
        QSSO_MERGE(add->merge_existing_user, base->merge_existing_user);
    n->notify_user_creation =
        QSSO_MERGE(add->notify_user_creation, base->notify_user_creation);
    n->update_attributes =
        QSSO_MERGE(add->update_attributes, base->update_attributes);
    n->pass_headers = QSSO_MERGE(add->pass_headers, base->pass_headers);
    n->scim_tokens = QSSO_MERGE_PTR(add->scim_tokens, base->scim_tokens);
    /* algorithm lists, like the other lists: a section's own replaces */
    n->sig_algs = QSSO_MERGE(add->sig_algs, base->sig_algs);
    n->enc_algs = QSSO_MERGE(add->enc_algs, base->enc_algs);
    n->require_encrypted =
        QSSO_MERGE(add->require_encrypted, base->require_encrypted);
    return n;
}

void *qsso_config_create_srv(apr_pool_t *p, server_rec *s)
{
    qsso_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    (void)s;
    sc->session_cache = QSSO_UNSET;
    sc->pending_per_address = QSSO_UNSET;
    sc->accept_previous = QSSO_UNSET;
    return sc;
}

void *qsso_config_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const qsso_srv_conf_t *base = basev, *add = addv;
    qsso_srv_conf_t *n = apr_pcalloc(p, sizeof(*n));

    n->store_url = QSSO_MERGE_PTR(add->store_url, base->store_url);
    n->store_where = QSSO_MERGE_PTR(add->store_where, base->store_where);
    n->session_cache = QSSO_MERGE(add->session_cache, base->session_cache);
    n->pending_per_address =
        QSSO_MERGE(add->pending_per_address, base->pending_per_address);
    n->accept_previous = QSSO_MERGE(add->accept_previous,
                                    base->accept_previous);
    /* sp_entity_ids is counted by the startup checks, after the merge */
    return n;
}

/* ---- request-time URLs ------------------------------------------------ */

const char *qsso_conf_base_url(const qsso_dir_conf_t *c, request_rec *r)
{
    const char *scheme;
    apr_port_t port;

    if (c->sp_base_url)
        return c->sp_base_url;
    /* ServerName, never the client's Host header. */
    scheme = ap_http_scheme(r);
    port = r->server->port ? r->server->port : apr_uri_port_of_scheme(scheme);
    if (port == apr_uri_port_of_scheme(scheme))
        return apr_pstrcat(r->pool, scheme, "://",
                           r->server->server_hostname, NULL);
    return apr_psprintf(r->pool, "%s://%s:%u", scheme,
                        r->server->server_hostname, (unsigned)port);
}

const char *qsso_conf_acs_url(const qsso_dir_conf_t *c, request_rec *r)
{
    return apr_pstrcat(r->pool, qsso_conf_base_url(c, r),
                       qsso_conf_endpoint_path(c), "/acs", NULL);
}

/* ---- setters ---------------------------------------------------------- */

static const char *qsso_config_where(cmd_parms *cmd)
{
    if (cmd->directive == NULL)
        return "(unknown)";
    return apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                        cmd->directive->line_num);
}

static const char *qsso_config_set_store(cmd_parms *cmd, void *dummy,
                                         const char *arg)
{
    qsso_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &qsso_module);
    qsso_store_url_t url;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err)
        return err;
    if ((err = qsso_store_parse_url(cmd->temp_pool, arg, &url)) != NULL)
        return apr_psprintf(cmd->pool, "QSSOStore: '%s' %s", arg, err);
    sc->store_url = arg;
    sc->store_where = qsso_config_where(cmd);
    return NULL;
}

/* A server-wide On|Off: cmd->info is the offset of its int in the server
 * config. */
static const char *qsso_config_set_srv_flag(cmd_parms *cmd, void *dummy,
                                            int on)
{
    qsso_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &qsso_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dummy;
    if (err)
        return err;
    *(int *)((char *)sc + (apr_size_t)cmd->info) = on;
    return NULL;
}

static const char *qsso_config_set_pending_per_address(cmd_parms *cmd,
                                                       void *dummy,
                                                       const char *arg)
{
    qsso_srv_conf_t *sc =
        ap_get_module_config(cmd->server->module_config, &qsso_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    long n;

    (void)dummy;
    if (err)
        return err;
    n = strtol(arg, &end, 10);
    if (!apr_isdigit(*arg) || *end != '\0' || n < 0 || n > 1000000)
        return apr_psprintf(cmd->pool, "QSSOPendingLoginsPerAddress: '%s' "
                            "is not a number of logins (0-1000000; 0 turns "
                            "the cap off)", arg);
    sc->pending_per_address = (int)n;
    return NULL;
}

static const char *qsso_config_set_base_url(cmd_parms *cmd, void *cv,
                                            const char *arg)
{
    qsso_dir_conf_t *c = cv;
    apr_uri_t u;
    apr_size_t n = strlen(arg);

    if (apr_uri_parse(cmd->temp_pool, arg, &u) != APR_SUCCESS
        || u.scheme == NULL || u.hostname == NULL
        || (strcasecmp(u.scheme, "https") && strcasecmp(u.scheme, "http"))
        || (u.path && strcmp(u.path, "/")) || u.query || u.fragment
        || u.user)
        return apr_psprintf(cmd->pool, "QSSOSPBaseURL: '%s' is not "
                            "scheme://host[:port] (http or https, no path), "
                            "e.g. https://portal.example.org", arg);
    while (n > 0 && arg[n - 1] == '/')
        n--;
    c->sp_base_url = apr_pstrndup(cmd->pool, arg, n);
    return NULL;
}

static const char *qsso_config_set_endpoint(cmd_parms *cmd, void *cv,
                                            const char *arg)
{
    qsso_dir_conf_t *c = cv;
    apr_size_t n = strlen(arg);

    if (arg[0] != '/' || strpbrk(arg, "?#%\\ \t") != NULL || n < 2)
        return apr_psprintf(cmd->pool, "QSSOEndpointPath: '%s' is not a "
                            "path such as /qsso (starts with /, no query, "
                            "not / alone)", arg);
    while (n > 1 && arg[n - 1] == '/')
        n--;
    c->endpoint_path = apr_pstrndup(cmd->pool, arg, n);
    return NULL;
}

/* Every QSSOSPEntityID of the configuration, wherever it appears (vhost,
 * section, <If>): kept with the config pool, so a restart counts afresh.
 * Read by qsso_config_check into each server's sp_entity_ids. */
#define QSSO_CONF_SP_IDS "qsso-sp-entity-ids"

static void qsso_config_note_entity_id(cmd_parms *cmd, const char *id)
{
    apr_hash_t *ids = NULL;

    apr_pool_userdata_get((void **)&ids, QSSO_CONF_SP_IDS, cmd->pool);
    if (ids == NULL) {
        ids = apr_hash_make(cmd->pool);
        apr_pool_userdata_setn(ids, QSSO_CONF_SP_IDS, NULL, cmd->pool);
    }
    apr_hash_set(ids, id, APR_HASH_KEY_STRING, id);
}

static const char *qsso_config_set_entity_id(cmd_parms *cmd, void *cv,
                                             const char *arg)
{
    qsso_dir_conf_t *c = cv;

    if (*arg == '\0' || strlen(arg) > 1024)
        return "QSSOSPEntityID: needs a URI of 1 to 1024 characters, e.g. "
               "https://portal.example.org/qsso";
    c->sp_entity_id = apr_pstrdup(cmd->pool, arg);
    qsso_config_note_entity_id(cmd, c->sp_entity_id);
    return NULL;
}

static const char *qsso_config_set_sp_cert(cmd_parms *cmd, void *cv,
                                           const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char *file = ap_server_root_relative(cmd->pool, arg);
    const char *err;

    if ((err = qsso_keys_load_cert(cmd->pool, file, &c->sp_cert)) != NULL)
        return apr_psprintf(cmd->pool, "QSSOSPCertFile: %s", err);
    return NULL;
}

static const char *qsso_config_set_sp_key(cmd_parms *cmd, void *cv,
                                          const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char *file = ap_server_root_relative(cmd->pool, arg);
    const char *err;

    if ((err = qsso_keys_load_key(cmd->pool, file, &c->sp_key)) != NULL
        || (err = qsso_keys_init_crypto(cmd->pool)) != NULL
        || (err = qsso_keys_prepare_sp(cmd->pool, c->sp_key)) != NULL)
        return apr_psprintf(cmd->pool, "QSSOSPPrivateKeyFile: %s", err);
    return NULL;
}

static const char *qsso_config_set_idp_metadata(cmd_parms *cmd, void *cv,
                                                const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char *file = ap_server_root_relative(cmd->pool, arg);
    const char *err;

    if ((err = qsso_metadata_load_idp(cmd->pool, file, &c->idp)) != NULL
        || (err = qsso_keys_init_crypto(cmd->pool)) != NULL
        || (err = qsso_keys_prepare_idp(cmd->pool, c->idp)) != NULL)
        return apr_psprintf(cmd->pool, "QSSOIdPMetadataFile: %s", err);
    return NULL;
}

static const char *qsso_config_set_binding(cmd_parms *cmd, void *cv,
                                           const char *arg)
{
    qsso_dir_conf_t *c = cv;

    if (!strcasecmp(arg, "redirect"))
        c->sso_binding = QSSO_BINDING_REDIRECT;
    else if (!strcasecmp(arg, "post"))
        c->sso_binding = QSSO_BINDING_POST;
    else
        return apr_psprintf(cmd->pool, "QSSOSSOBinding: '%s' is not "
                            "'redirect' or 'post'", arg);
    return NULL;
}

static const char *qsso_config_set_relay_state(cmd_parms *cmd, void *cv,
                                               const char *arg)
{
    qsso_dir_conf_t *c = cv;

    /* A local path only: this is where IdP-initiated logins land. */
    if (arg[0] != '/' || arg[1] == '/' || arg[1] == '\\'
        || strpbrk(arg, "\\ \t\r\n") != NULL)
        return apr_psprintf(cmd->pool, "QSSODefaultRelayState: '%s' is not "
                            "a local path such as /dashboard/", arg);
    c->default_relay_state = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *qsso_config_parse_seconds(cmd_parms *cmd, const char *name,
                                             const char *arg, int lo, int hi,
                                             int *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < lo || v > hi)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a number of seconds "
                            "(%d-%d)", name, arg, lo, hi);
    *out = (int)v;
    return NULL;
}

static const char *qsso_config_set_clock_skew(cmd_parms *cmd, void *cv,
                                              const char *arg)
{
    qsso_dir_conf_t *c = cv;

    return qsso_config_parse_seconds(cmd, "QSSOClockSkew", arg, 0,
                                     QSSO_CONF_MAX_SKEW, &c->clock_skew);
}

static const char *qsso_config_set_lifetime(cmd_parms *cmd, void *cv,
                                            const char *arg)
{
    qsso_dir_conf_t *c = cv;

    return qsso_config_parse_seconds(cmd, "QSSOSessionLifetime", arg, 1,
                                     QSSO_CONF_MAX_LIFETIME,
                                     &c->session_lifetime);
}

static const char *qsso_config_set_cookie_name(cmd_parms *cmd, void *cv,
                                               const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char *s;

    /* RFC 6265 token characters only */
    for (s = arg; *s; s++)
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            break;
    if (*arg == '\0' || *s != '\0' || strlen(arg) > 64)
        return apr_psprintf(cmd->pool, "QSSOCookieName: '%s' is not a "
                            "cookie name (letters, digits, -_.; at most 64)",
                            arg);
    c->cookie_name = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *qsso_config_set_samesite(cmd_parms *cmd, void *cv,
                                            const char *arg)
{
    qsso_dir_conf_t *c = cv;

    if (!strcasecmp(arg, "Lax"))
        c->cookie_samesite = "Lax";
    else if (!strcasecmp(arg, "Strict"))
        c->cookie_samesite = "Strict";
    else if (!strcasecmp(arg, "None"))
        c->cookie_samesite = "None";
    else
        return apr_psprintf(cmd->pool, "QSSOCookieSameSite: '%s' is not "
                            "Lax, Strict or None", arg);
    return NULL;
}

static const char *qsso_config_set_attr_name(cmd_parms *cmd, void *cv,
                                             const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char **slot = (const char **)((char *)c + (apr_size_t)cmd->info);

    if (*arg == '\0' || strlen(arg) > 1024)
        return apr_psprintf(cmd->pool, "%s: needs the attribute Name exactly "
                            "as the IdP sends it (1-1024 characters)",
                            cmd->cmd->name);
    *slot = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* QSSOUserTypeMap, QSSODivisionMap, QSSOGroupMap IDPVALUE LOCALVALUE */
static const char *qsso_config_add_map(cmd_parms *cmd, void *cv,
                                       const char *idp, const char *local)
{
    qsso_dir_conf_t *c = cv;
    apr_array_header_t **slot =
        (apr_array_header_t **)((char *)c + (apr_size_t)cmd->info);
    qsso_pair_t *pair;
    int i;

    if (*idp == '\0' || *local == '\0' || strlen(idp) > 1000
        || strlen(local) > 1000)
        return apr_psprintf(cmd->pool, "%s: needs IDPVALUE LOCALVALUE, each "
                            "1-1000 characters", cmd->cmd->name);
    if (*slot == NULL)
        *slot = apr_array_make(cmd->pool, 4, sizeof(qsso_pair_t));
    for (i = 0; i < (*slot)->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(*slot, i, qsso_pair_t).idp, idp))
            return apr_psprintf(cmd->pool, "%s: '%s' is already mapped to "
                                "'%s' in this section", cmd->cmd->name, idp,
                                APR_ARRAY_IDX(*slot, i, qsso_pair_t).local);
    pair = apr_array_push(*slot);
    pair->idp = apr_pstrdup(cmd->pool, idp);
    pair->local = apr_pstrdup(cmd->pool, local);
    return NULL;
}

/* A DNS name, or "*.name" for its subdomains, or "*" for any. */
static int qsso_config_is_domain(const char *d)
{
    const char *s = d;

    if (!strcmp(d, "*"))
        return 1;
    if (s[0] == '*' && s[1] == '.')
        s += 2;
    if (*s == '\0' || *s == '.' || *s == '-' || strlen(s) > 253)
        return 0;
    for (; *s; s++)
        if (!apr_isalnum(*s) && *s != '-' && *s != '.')
            return 0;
    return d[strlen(d) - 1] != '.' && strstr(d, "..") == NULL;
}

static const char *qsso_config_set_domains(cmd_parms *cmd, void *cv,
                                           const char *arg)
{
    qsso_dir_conf_t *c = cv;

    if (!qsso_config_is_domain(arg))
        return apr_psprintf(cmd->pool, "QSSOEmailDomains: '%s' is not a "
                            "domain (example.org), a wildcard for its "
                            "subdomains (*.example.org) or *", arg);
    if (c->email_domains == NULL)
        c->email_domains = apr_array_make(cmd->pool, 4, sizeof(char *));
    APR_ARRAY_PUSH(c->email_domains, const char *) =
        apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *qsso_config_add_dashboard(cmd_parms *cmd, void *cv,
                                             const char *arg)
{
    qsso_dir_conf_t *c = cv;

    if (*arg == '\0' || strlen(arg) > 1024)
        return "QSSODashboardAttribute: needs the attribute Name exactly as "
               "the IdP sends it (1-1024 characters)";
    if (c->dashboard_attrs == NULL)
        c->dashboard_attrs = apr_array_make(cmd->pool, 4, sizeof(char *));
    APR_ARRAY_PUSH(c->dashboard_attrs, const char *) =
        apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* Local values (user type, brand ID) end up in usernames, env variables
 * and headers: printable, no spaces or '#' where it would be ambiguous. */
static const char *qsso_config_set_value(cmd_parms *cmd, void *cv,
                                         const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char **slot = (const char **)((char *)c + (apr_size_t)cmd->info);
    const char *s;

    for (s = arg; *s; s++)
        if (apr_iscntrl(*s) || *s == '#' || *s == ' ')
            break;
    if (*arg == '\0' || *s != '\0' || strlen(arg) > 200)
        return apr_psprintf(cmd->pool, "%s: '%s' needs 1-200 printable "
                            "characters without spaces or '#'",
                            cmd->cmd->name, arg);
    *slot = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* Read here, so configtest names a bad line; tokens are never logged. */
static const char *qsso_config_set_scim_tokens(cmd_parms *cmd, void *cv,
                                               const char *arg)
{
    qsso_dir_conf_t *c = cv;
    const char *file = ap_server_root_relative(cmd->pool, arg);
    const char *err = qsso_scim_token_load(cmd->pool, file, &c->scim_tokens);

    return err ? apr_psprintf(cmd->pool, "QSSOSCIMTokenFile: %s", err) : NULL;
}

/* QSSOSignatureAlgorithms and QSSOEncryptionAlgorithms ALG...: names add
 * up within a section, as in the other lists. */
static const char *qsso_config_add_alg(cmd_parms *cmd, int *slot,
                                       const char *err, int bit)
{
    if (err)
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    *slot = (*slot == QSSO_UNSET ? 0 : *slot) | bit;
    return NULL;
}

static const char *qsso_config_add_sig_alg(cmd_parms *cmd, void *cv,
                                           const char *arg)
{
    qsso_dir_conf_t *c = cv;
    int bit = 0;
    const char *err = qsso_algs_parse_signature(cmd->temp_pool, arg, &bit);

    return qsso_config_add_alg(cmd, &c->sig_algs, err, bit);
}

static const char *qsso_config_add_enc_alg(cmd_parms *cmd, void *cv,
                                           const char *arg)
{
    qsso_dir_conf_t *c = cv;
    int bit = 0;
    const char *err = qsso_algs_parse_encryption(cmd->temp_pool, arg, &bit);

    return qsso_config_add_alg(cmd, &c->enc_algs, err, bit);
}

#define QSSO_DIR_FLAG(name, field, help)                                   \
    AP_INIT_FLAG(name, ap_set_flag_slot,                                   \
                 (void *)APR_OFFSETOF(qsso_dir_conf_t, field),             \
                 RSRC_CONF | ACCESS_CONF, help)
#define QSSO_DIR_ATTR(name, field, help)                                   \
    AP_INIT_TAKE1(name, qsso_config_set_attr_name,                         \
                  (void *)APR_OFFSETOF(qsso_dir_conf_t, field),            \
                  RSRC_CONF | ACCESS_CONF, help)
#define QSSO_DIR_MAP(name, field, help)                                    \
    AP_INIT_TAKE2(name, qsso_config_add_map,                               \
                  (void *)APR_OFFSETOF(qsso_dir_conf_t, field),            \
                  RSRC_CONF | ACCESS_CONF, help)
#define QSSO_DIR_TAKE1(name, fn, help)                                     \
    AP_INIT_TAKE1(name, fn, NULL, RSRC_CONF | ACCESS_CONF, help)

const command_rec qsso_config_cmds[] = {
    AP_INIT_TAKE1("QSSOStore", qsso_config_set_store, NULL, RSRC_CONF,
                  "Where sessions, pending requests, the replay cache and "
                  "the user directory live."),
    AP_INIT_FLAG("QSSOSessionCache", qsso_config_set_srv_flag,
                 (void *)APR_OFFSETOF(qsso_srv_conf_t, session_cache),
                 RSRC_CONF,
                 "Whether each Apache process keeps the sessions it has read "
                 "from the store, dropping them as soon as they change "
                 "anywhere."),
    AP_INIT_TAKE1("QSSOPendingLoginsPerAddress",
                  qsso_config_set_pending_per_address, NULL, RSRC_CONF,
                  "How many logins one client address may start within the "
                  "180 seconds a pending login lives."),
    AP_INIT_FLAG("QSSOAcceptPreviousSessions", qsso_config_set_srv_flag,
                 (void *)APR_OFFSETOF(qsso_srv_conf_t, accept_previous),
                 RSRC_CONF,
                 "Whether sessions written by a front end of the previous "
                 "version open pages while front ends are upgraded one at a "
                 "time."),
    QSSO_DIR_TAKE1("QSSOSPBaseURL", qsso_config_set_base_url,
                   "The public scheme://host[:port] of the site as browsers "
                   "see it."),
    QSSO_DIR_TAKE1("QSSOEndpointPath", qsso_config_set_endpoint,
                   "The path under which the acs, metadata, login and logout "
                   "endpoints live."),
    QSSO_DIR_TAKE1("QSSOSPEntityID", qsso_config_set_entity_id,
                   "This service provider's SAML entity ID."),
    QSSO_DIR_TAKE1("QSSOSPCertFile", qsso_config_set_sp_cert,
                   "The SP signing certificate (PEM), published in the SP "
                   "metadata."),
    QSSO_DIR_TAKE1("QSSOSPPrivateKeyFile", qsso_config_set_sp_key,
                   "The SP private key (PEM, unencrypted) that signs "
                   "AuthnRequests and decrypts encrypted assertions."),
    QSSO_DIR_TAKE1("QSSOIdPMetadataFile", qsso_config_set_idp_metadata,
                   "The IdP's SAML metadata (an EntityDescriptor with an "
                   "IDPSSODescriptor)."),
    QSSO_DIR_TAKE1("QSSOSSOBinding", qsso_config_set_binding,
                   "How AuthnRequests reach the IdP: redirect or post."),
    QSSO_DIR_FLAG("QSSOSignRequest", sign_request,
                  "Sign AuthnRequests with the SP key."),
    QSSO_DIR_FLAG("QSSOForceAuthn", force_authn,
                  "Ask the IdP to authenticate the user again."),
    QSSO_DIR_FLAG("QSSOReplayPrevention", replay_prevention,
                  "Accept each assertion ID once."),
    QSSO_DIR_FLAG("QSSOAllowIdPInitiated", allow_idp_initiated,
                  "Accept unsolicited (IdP-initiated) responses."),
    QSSO_DIR_TAKE1("QSSODefaultRelayState", qsso_config_set_relay_state,
                   "The local path where IdP-initiated logins land."),
    QSSO_DIR_TAKE1("QSSOClockSkew", qsso_config_set_clock_skew,
                   "Tolerance, in seconds, on the assertion's time "
                   "conditions."),
    QSSO_DIR_TAKE1("QSSOSessionLifetime", qsso_config_set_lifetime,
                   "The longest a session lasts, in seconds."),
    QSSO_DIR_TAKE1("QSSOCookieName", qsso_config_set_cookie_name,
                   "The name of the session cookie."),
    QSSO_DIR_FLAG("QSSOCookieSecure", cookie_secure,
                  "Send the session cookie over HTTPS only."),
    QSSO_DIR_TAKE1("QSSOCookieSameSite", qsso_config_set_samesite,
                   "The SameSite attribute of the session cookie."),
    AP_INIT_TAKE1("QSSOEmailAttribute", qsso_config_set_attr_name,
                  (void *)APR_OFFSETOF(qsso_dir_conf_t, email_attr),
                  RSRC_CONF | ACCESS_CONF,
                  "The SAML attribute that carries the user's email "
                  "address."),
    AP_INIT_TAKE1("QSSOUsernameAttribute", qsso_config_set_attr_name,
                  (void *)APR_OFFSETOF(qsso_dir_conf_t, username_attr),
                  RSRC_CONF | ACCESS_CONF,
                  "The SAML attribute that carries the username."),
    QSSO_DIR_ATTR("QSSOFirstNameAttribute", first_name_attr,
                  "The SAML attribute that carries the first name."),
    QSSO_DIR_ATTR("QSSOLastNameAttribute", last_name_attr,
                  "The SAML attribute that carries the last name."),
    QSSO_DIR_ATTR("QSSOUserTypeAttribute", user_type_attr,
                  "The SAML attribute that carries the user type."),
    QSSO_DIR_ATTR("QSSODivisionAttribute", division_attr,
                  "The SAML attribute that carries the division."),
    QSSO_DIR_ATTR("QSSOGroupAttribute", group_attr,
                  "The SAML attribute that carries the groups."),
    QSSO_DIR_ATTR("QSSOUniqueIDAttribute", unique_id_attr,
                  "The SAML attribute that carries a unique, immutable ID "
                  "of the user."),
    QSSO_DIR_MAP("QSSOUserTypeMap", user_type_map,
                 "Maps a user type sent by the IdP to a local user type."),
    QSSO_DIR_MAP("QSSODivisionMap", division_map,
                 "Maps a division sent by the IdP to a local division."),
    QSSO_DIR_MAP("QSSOGroupMap", group_map,
                 "Maps a group sent by the IdP to a local group."),
    QSSO_DIR_FLAG("QSSOValidateUserType", validate_user_type,
                  "Refuse users whose user type has no mapping."),
    AP_INIT_TAKE1("QSSODefaultUserType", qsso_config_set_value,
                  (void *)APR_OFFSETOF(qsso_dir_conf_t, default_user_type),
                  RSRC_CONF | ACCESS_CONF,
                  "The user type of users whose user type has no mapping."),
    AP_INIT_ITERATE("QSSOEmailDomains", qsso_config_set_domains, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "The email domains whose users may sign in."),
    QSSO_DIR_FLAG("QSSOJITProvisioning", jit_provisioning,
                  "Create unknown users at their first login."),
    AP_INIT_TAKE1("QSSOBrandID", qsso_config_set_value,
                  (void *)APR_OFFSETOF(qsso_dir_conf_t, brand_id),
                  RSRC_CONF | ACCESS_CONF,
                  "The suffix appended to usernames as #ID."),
    QSSO_DIR_FLAG("QSSOModifyExistingUsername", modify_existing_username,
                  "Rename a pre-existing user to username#ID at the first "
                  "SSO login."),
    QSSO_DIR_FLAG("QSSOMergeExistingUser", merge_existing_user,
                  "Link the first SSO login to an existing user with the "
                  "same email."),
    QSSO_DIR_FLAG("QSSONotifyUserCreation", notify_user_creation,
                  "Record an audit event and a log line when a login "
                  "creates a user."),
    QSSO_DIR_FLAG("QSSOUpdateAttributesOnLogin", update_attributes,
                  "Refresh the stored user from the assertion at every "
                  "login."),
    AP_INIT_ITERATE("QSSODashboardAttribute", qsso_config_add_dashboard, NULL,
                    RSRC_CONF | ACCESS_CONF,
                    "An extra SAML attribute captured for dashboards."),
    QSSO_DIR_FLAG("QSSOPassHeaders", pass_headers,
                  "Also send the user's fields as X-QSSO-* request headers."),
    QSSO_DIR_TAKE1("QSSOSCIMTokenFile", qsso_config_set_scim_tokens,
                   "The file of SHA-256 hashes of the bearer tokens a SCIM "
                   "client may use."),
    AP_INIT_ITERATE("QSSOSignatureAlgorithms", qsso_config_add_sig_alg,
                    NULL, RSRC_CONF | ACCESS_CONF,
                    "The signature algorithms a response or assertion may "
                    "be signed with."),
    AP_INIT_ITERATE("QSSOEncryptionAlgorithms", qsso_config_add_enc_alg,
                    NULL, RSRC_CONF | ACCESS_CONF,
                    "The key transport and content encryption algorithms "
                    "an encrypted assertion may use."),
    QSSO_DIR_FLAG("QSSORequireEncryptedAssertion", require_encrypted,
                  "Refuse assertions that are not encrypted."),
    {NULL}
};

/* ---- startup checks --------------------------------------------------- */

/* file:line of the `AuthType qsso` inside the section named by path. */
static const char *qsso_config_find_authtype(apr_pool_t *p,
                                             ap_directive_t *node,
                                             const char *path)
{
    const char *want = path ? apr_pstrcat(p, path, ">", NULL) : NULL;

    for (; node; node = node->next) {
        if (!strcasecmp(node->directive, "AuthType")
            && !strcasecmp(node->args, "qsso") && node->parent && want
            && !strcmp(node->parent->args, want))
            return apr_psprintf(p, "%s:%d", node->filename, node->line_num);
        if (node->first_child) {
            const char *w = qsso_config_find_authtype(p, node->first_child,
                                                      path);
            if (w)
                return w;
        }
    }
    return NULL;
}

/* Is `prefix` a path-segment prefix of `path` (as <Location> matches)? */
static int qsso_config_is_prefix(const char *prefix, const char *path)
{
    apr_size_t n = strlen(prefix);

    if (strncmp(prefix, path, n))
        return 0;
    return n == 0 || prefix[n - 1] == '/' || path[n] == '\0'
           || path[n] == '/';
}

/* Every module's config for `path`, merged the way a location walk would
 * (non-regex <Location> sections whose path is a prefix, in order). */
ap_conf_vector_t *qsso_config_for_path(apr_pool_t *p, server_rec *s,
                                       const char *path)
{
    core_server_config *sconf =
        ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **secs = (ap_conf_vector_t **)sconf->sec_url->elts;
    ap_conf_vector_t *v = s->lookup_defaults;
    int i;

    for (i = 0; i < sconf->sec_url->nelts; i++) {
        core_dir_config *cd = ap_get_core_module_config(secs[i]);
        if (cd->r == NULL && cd->d && qsso_config_is_prefix(cd->d, path))
            v = ap_merge_per_dir_configs(p, v, secs[i]);
    }
    return v;
}

const qsso_dir_conf_t *qsso_conf_for_landing(request_rec *r,
                                             const char *path)
{
    const char *q = strchr(path, '?');
    ap_conf_vector_t *v = qsso_config_for_path(
        r->pool, r->server,
        q ? apr_pstrmemdup(r->pool, path, (apr_size_t)(q - path)) : path);

    return ap_get_module_config(v, &qsso_module);
}

typedef struct {
    apr_pool_t *p;
    server_rec *s;
    const char *where;      /* "<Location /x> at file:line in vhost:port" */
    int errors;
} qsso_check_t;

static void qsso_config_complain(qsso_check_t *ck, const char *what)
{
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, ck->s,
                 QSSO_LOGNO(1001) "AuthType qsso in %s: %s", ck->where, what);
    ck->errors++;
}

/* QSSOStore shm has no user directory: what needs one must say so. */
static void qsso_config_check_store(qsso_check_t *ck,
                                    const qsso_dir_conf_t *c,
                                    const qsso_srv_conf_t *sc)
{
    static const char *const need[] = {
        "QSSOJITProvisioning Off", "QSSOModifyExistingUsername On",
        "QSSOMergeExistingUser On", "QSSONotifyUserCreation On"};
    const int on[] = {c->jit_provisioning == 0,
                      c->modify_existing_username == 1,
                      c->merge_existing_user == 1,
                      c->notify_user_creation == 1};
    qsso_store_url_t u;
    const char *err;
    apr_size_t i;

    if (qsso_store_parse_url(ck->p, sc->store_url, &u) != NULL
        || strcmp(u.scheme, "shm"))
        return;
    if ((err = qsso_store_shm_check()) != NULL)
        qsso_config_complain(ck, apr_psprintf(ck->p, "QSSOStore %s (%s) %s",
                                              sc->store_url, sc->store_where,
                                              err));
    for (i = 0; i < sizeof(need) / sizeof(*need); i++)
        if (on[i])
            qsso_config_complain(ck, apr_psprintf(
                ck->p, "%s needs the user directory, which lives in Redis; "
                "QSSOStore %s (%s) has none: use QSSOStore redis://...",
                need[i], sc->store_url, sc->store_where));
}

/* The settings one protected section needs, with their merged values. */
static void qsso_config_check_section(qsso_check_t *ck,
                                      const qsso_dir_conf_t *c,
                                      const qsso_srv_conf_t *sc)
{
    if (sc->store_url == NULL)
        qsso_config_complain(ck, "QSSOStore is not set (server-wide, e.g. "
                             "QSSOStore redis://127.0.0.1:6379/0)");
    else
        qsso_config_check_store(ck, c, sc);
    if (c->sp_entity_id == NULL)
        qsso_config_complain(ck, "QSSOSPEntityID is not set");
    if (c->idp == NULL)
        qsso_config_complain(ck, "QSSOIdPMetadataFile is not set");
    if (c->email_attr == NULL)
        qsso_config_complain(ck, "QSSOEmailAttribute is not set (the SAML "
                             "attribute Name that carries the email)");
    if (qsso_conf_sign_request(c) && (c->sp_key == NULL || c->sp_cert == NULL))
        qsso_config_complain(ck, "QSSOSignRequest On needs QSSOSPCertFile "
                             "and QSSOSPPrivateKeyFile");
    if (c->idp && qsso_conf_binding(c) == QSSO_BINDING_REDIRECT
        && c->idp->sso_redirect_url == NULL)
        qsso_config_complain(ck, apr_psprintf(ck->p, "the IdP metadata %s "
                             "has no HTTP-Redirect SingleSignOnService; set "
                             "QSSOSSOBinding post", c->idp->file));
    if (c->idp && qsso_conf_binding(c) == QSSO_BINDING_POST
        && c->idp->sso_post_url == NULL)
        qsso_config_complain(ck, apr_psprintf(ck->p, "the IdP metadata %s "
                             "has no HTTP-POST SingleSignOnService; set "
                             "QSSOSSOBinding redirect", c->idp->file));
    if (qsso_conf_require_encrypted(c) && c->sp_key == NULL)
        qsso_config_complain(ck, "QSSORequireEncryptedAssertion On needs "
                             "QSSOSPPrivateKeyFile (and QSSOSPCertFile, "
                             "published as the SP's encryption key)");
    /* Browsers drop a __Host- or __Secure- cookie set without Secure:
     * every login would end signed out. */
    if (c->cookie_name && !qsso_conf_cookie_secure(c)
        && (!strncmp(c->cookie_name, "__Host-", 7)
            || !strncmp(c->cookie_name, "__Secure-", 9)))
        qsso_config_complain(ck, apr_psprintf(ck->p, "QSSOCookieName %s "
                             "needs QSSOCookieSecure On (browsers refuse a "
                             "cookie of that prefix without Secure); use "
                             "another name for a plain-HTTP site",
                             c->cookie_name));
    if (c->sp_key && c->sp_cert) {
        const char *err = qsso_keys_check_pair(ck->p, c->sp_cert, c->sp_key);
        if (err)
            qsso_config_complain(ck, err);
    }
}

/* The endpoint path must see the same SP settings as the protected
 * section, or the IdP's POST to the ACS would find no configuration. */
static void qsso_config_check_endpoint(qsso_check_t *ck,
                                       const qsso_dir_conf_t *c)
{
    const char *acs = apr_pstrcat(ck->p, qsso_conf_endpoint_path(c), "/acs",
                                  NULL);
    ap_conf_vector_t *v = qsso_config_for_path(ck->p, ck->s, acs);
    const qsso_dir_conf_t *e = ap_get_module_config(v, &qsso_module);

    if (e->sp_entity_id == NULL || e->idp == NULL
        || strcmp(e->sp_entity_id, c->sp_entity_id ? c->sp_entity_id : "")
        || e->idp != c->idp)
        qsso_config_complain(ck, apr_psprintf(ck->p, "the endpoint %s does "
            "not see the same QSSOSPEntityID and QSSOIdPMetadataFile as this "
            "section; set them at server or VirtualHost level, not only "
            "inside the protected section", acs));
}

static void qsso_config_check_vector(qsso_check_t *ck, ap_conf_vector_t *v,
                                     const char *kind, const char *path)
{
    APR_OPTIONAL_FN_TYPE(authn_ap_auth_type) *auth_type =
        APR_RETRIEVE_OPTIONAL_FN(authn_ap_auth_type);
    request_rec fake;
    const char *type, *at;
    const qsso_dir_conf_t *c;
    const qsso_srv_conf_t *sc =
        ap_get_module_config(ck->s->module_config, &qsso_module);

    if (auth_type == NULL)
        return;
    memset(&fake, 0, sizeof(fake));
    fake.pool = ck->p;
    fake.server = ck->s;
    fake.per_dir_config = v;
    type = auth_type(&fake);
    if (type == NULL || strcasecmp(type, "qsso"))
        return;
    c = ap_get_module_config(v, &qsso_module);
    at = qsso_config_find_authtype(ck->p, ap_conftree, path);
    ck->where = apr_psprintf(ck->p, "<%s %s>%s%s (server %s:%u)", kind,
                             path ? path : "/", at ? " at " : "",
                             at ? at : "", ck->s->server_hostname,
                             (unsigned)ck->s->port);
    qsso_config_check_section(ck, c, sc);
    if (c->sp_entity_id && c->idp)
        qsso_config_check_endpoint(ck, c);
}

int qsso_config_pending_ceiling(apr_pool_t *ptemp, server_rec *s)
{
    const qsso_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                                     &qsso_module);
    qsso_store_shm_split_t split;
    qsso_store_url_t u;
    int ceiling, last = -1;

    if (sc->store_url == NULL
        || qsso_store_parse_url(ptemp, sc->store_url, &u) != NULL
        || strcmp(u.scheme, "shm"))
        return 0;
    qsso_store_shm_split(u.shm_bytes, &split);
    ceiling = qsso_pending_shm_ceiling(split.pending_bytes);
    /* Once per value, not once per virtual host that inherits it. */
    for (; s; s = s->next) {
        int want = qsso_conf_pending_per_address(
            ap_get_module_config(s->module_config, &qsso_module));

        if ((want != 0 && want <= ceiling) || want == last)
            continue;
        last = want;
        if (want == 0)
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, QSSO_LOGNO(2013)
                         "QSSOPendingLoginsPerAddress 0: no cap, so one "
                         "client address can push other users' logins in "
                         "progress out of the %" APR_SIZE_T_FMT "-byte "
                         "pending-login region of QSSOStore %s (%s); its "
                         "default cap would be %d", split.pending_bytes,
                         sc->store_url, sc->store_where, ceiling);
        else
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, QSSO_LOGNO(2012)
                         "QSSOPendingLoginsPerAddress %d is more than "
                         "QSSOStore %s (%s) can honour: one client address "
                         "may hold 1/%d of its %" APR_SIZE_T_FMT "-byte "
                         "pending-login region, %d logins of up to %d "
                         "bytes, so the cap is %d per 180 s (raise "
                         "shm:BYTES for more, or use Redis)", want,
                         sc->store_url, sc->store_where,
                         QSSO_PENDING_SHM_SHARE, split.pending_bytes,
                         ceiling, QSSO_PENDING_SHM_WORST, ceiling);
    }
    return ceiling;
}

int qsso_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    qsso_check_t ck;
    apr_hash_t *ids = NULL;
    server_rec *v;

    memset(&ck, 0, sizeof(ck));
    ck.p = ptemp;
    apr_pool_userdata_get((void **)&ids, QSSO_CONF_SP_IDS, pconf);
    for (v = s; v; v = v->next) {
        qsso_srv_conf_t *sc = ap_get_module_config(v->module_config,
                                                   &qsso_module);
        sc->sp_entity_ids = ids ? (int)apr_hash_count(ids) : 0;
    }
    /* At startup post_config says it, into the error log. */
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST)
        qsso_config_pending_ceiling(ptemp, s);
    for (; s; s = s->next) {
        core_server_config *sconf =
            ap_get_core_module_config(s->module_config);
        ap_conf_vector_t **secs = (ap_conf_vector_t **)sconf->sec_url->elts;
        int i;

        ck.s = s;
        qsso_config_check_vector(&ck, s->lookup_defaults, "VirtualHost",
                                 NULL);
        for (i = 0; i < sconf->sec_url->nelts; i++) {
            core_dir_config *cd = ap_get_core_module_config(secs[i]);
            ap_conf_vector_t *v = cd->r ? ap_merge_per_dir_configs(
                                              ptemp, s->lookup_defaults,
                                              secs[i])
                                        : qsso_config_for_path(ptemp, s,
                                                               cd->d);
            qsso_config_check_vector(&ck, v, "Location", cd->d);
        }
        secs = (ap_conf_vector_t **)sconf->sec_dir->elts;
        for (i = 0; i < sconf->sec_dir->nelts; i++) {
            core_dir_config *cd = ap_get_core_module_config(secs[i]);
            qsso_config_check_vector(
                &ck, ap_merge_per_dir_configs(ptemp, s->lookup_defaults,
                                              secs[i]),
                "Directory", cd->d);
        }
    }
    return ck.errors ? !OK : OK;
}

/*
 * mod_qsso: SAML 2.0 single sign-on for Apache httpd 2.4.
 *
 * Glue only: the module record, the hooks and the endpoint table. The
 * work is done in modules/: configuration (qsso_config.c), IdP and SP
 * metadata, AuthnRequests, response verification, the store, sessions,
 * attributes and refusals, one file per concern.
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_mpm.h>
#include <mod_auth.h>

#include "modules/qsso.h"
#include "modules/qsso_attrs.h"
#include "modules/qsso_authz.h"
#include "modules/qsso_codec.h"
#include "modules/qsso_config.h"
#include "modules/qsso_errors.h"
#include "modules/qsso_login.h"
#include "modules/qsso_pending.h"
#include "modules/qsso_scim.h"
#include "modules/qsso_session.h"
#include "modules/qsso_store.h"
#include "modules/qsso_store_shm.h"


static int qsso_hook_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                                  apr_pool_t *ptemp, server_rec *s);
static int qsso_hook_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp);
static int qsso_hook_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s);
static void qsso_hook_child_init(apr_pool_t *pchild, server_rec *s);
static int qsso_hook_post_read_request(request_rec *r);
static int qsso_hook_access_ex(request_rec *r);
static int qsso_hook_check_authn(request_rec *r);
static int qsso_hook_fixups(request_rec *r);
static int qsso_hook_handler(request_rec *r);
static void qsso_hook_insert_error_filter(request_rec *r);

/* The endpoints under QSSOEndpointPath. */
static const struct {
    const char *name;
    int (*handle)(request_rec *r, const qsso_dir_conf_t *c);
} qsso_endpoints[] = {
    {"acs", qsso_login_handle_acs},           /* IdP POSTs the Response */
    {"metadata", qsso_login_handle_metadata}, /* SP metadata for the IdP */
    {"login", qsso_login_handle_login},       /* start a login explicitly */
    {"logout", qsso_login_handle_logout},     /* end the local session */
};

/* Runs for `apachectl -t` too, so configtest reports what startup would. */
static int qsso_hook_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                                  apr_pool_t *ptemp, server_rec *s)
{
    int rc = qsso_config_check(pconf, ptemp, s);

    (void)plog;
    return qsso_scim_check_config(ptemp, s) == OK ? rc : !OK;
}

static int qsso_hook_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    qsso_store_shm_register(pconf);
    return OK;
}

/* QSSOStore shm: the shared memory is made in the parent, before the
 * children that share it exist. */
static int qsso_hook_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    qsso_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                               &qsso_module);
    qsso_store_url_t u;
    const char *err;

    (void)plog;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    /* Before the children are forked, which inherit it. */
    qsso_pending_set_ceiling(qsso_config_pending_ceiling(ptemp, s));
    if (sc->store_url == NULL
        || qsso_store_parse_url(ptemp, sc->store_url, &u) != NULL
        || strcmp(u.scheme, "shm"))
        return OK;
    if ((err = qsso_store_shm_parent_init(pconf, ptemp, s,
                                          u.shm_bytes)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, QSSO_LOGNO(3004)
                     "QSSOStore %s at %s: %s", sc->store_url,
                     sc->store_where, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static apr_status_t qsso_child_exit(void *data)
{
    (void)data;
    qsso_codec_release();
    return APR_SUCCESS;
}

static void qsso_hook_child_init(apr_pool_t *pchild, server_rec *s)
{
    qsso_srv_conf_t *sc = ap_get_module_config(s->module_config,
                                               &qsso_module);
    qsso_store_t *st = NULL;
    qsso_store_url_t u;
    const char *err;
    int threads = 1;

    qsso_store_set_process(NULL);
    /* Registered first, so it runs last: after the store is closed. */
    apr_pool_cleanup_register(pchild, NULL, qsso_child_exit,
                              apr_pool_cleanup_null);
    if (sc->store_url == NULL)
        return;
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    if (qsso_store_parse_url(pchild, sc->store_url, &u) == NULL
        && !strcmp(u.scheme, "shm"))
        err = qsso_store_shm_child_init(pchild, s, sc->session_cache != 0,
                                        &st);
    else
        err = qsso_store_open(pchild, sc->store_url,
                              threads > 0 ? threads : 1,
                              sc->session_cache != 0, &st);
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, QSSO_LOGNO(3003)
                     "%s (QSSOStore at %s)", err, sc->store_where);
        return;
    }
    qsso_store_set_process(st);
}

static int qsso_hook_post_read_request(request_rec *r)
{
    qsso_attrs_strip_headers(r);
    return DECLINED;
}

/* The endpoint path under which this request falls, or NULL. */
static const char *qsso_endpoint_name(request_rec *r,
                                      const qsso_dir_conf_t *c)
{
    const char *ep = qsso_conf_endpoint_path(c);
    apr_size_t n = strlen(ep);

    if (c->sp_entity_id == NULL || c->idp == NULL || r->uri == NULL
        || strncmp(r->uri, ep, n) || r->uri[n] != '/')
        return NULL;
    return r->uri + n + 1;
}

/* The endpoints must answer without a session (else the ACS of a site
 * protected at "/" could never be reached), but only the session is
 * waived: every other Require rule of the section still applies. This
 * runs after mod_authz_core has evaluated the section without a user: it
 * answers OK (granted) or 403 (denied whatever the user) itself, and
 * declines only when a user could change the result. That is the one case
 * granted here, so `Require ip`, `all denied`, `host`, `expr` and
 * `method` keep their meaning, and no placeholder user is ever set
 * (REMOTE_USER, %u and the exported fields stay empty). Under another
 * AuthType the user is not ours to waive. */
static int qsso_hook_access_ex(request_rec *r)
{
    const qsso_dir_conf_t *c = ap_get_module_config(r->per_dir_config,
                                                    &qsso_module);
    const char *name = qsso_endpoint_name(r, c);
    const char *type = ap_auth_type(r);
    apr_size_t i;

    if (name == NULL || (type && strcasecmp(type, "qsso")))
        return DECLINED;
    for (i = 0; i < sizeof(qsso_endpoints) / sizeof(*qsso_endpoints); i++)
        if (!strcmp(name, qsso_endpoints[i].name))
            return OK;
    return DECLINED;
}

static int qsso_hook_check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r);
    const qsso_dir_conf_t *c;
    qsso_session_t *s = NULL;
    qsso_err_t err;

    if (type == NULL || strcasecmp(type, "qsso"))
        return DECLINED;
    c = ap_get_module_config(r->per_dir_config, &qsso_module);
    memset(&err, 0, sizeof(err));
    if (c->idp == NULL) {       /* startup checks make this unreachable */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, QSSO_LOGNO(1002)
                      "AuthType qsso without QSSOIdPMetadataFile");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (qsso_session_load(r, c, &s, &err) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    if (s == NULL)
        return qsso_login_start(r, c, r->unparsed_uri, 1);
    r->user = (char *)s->username;
    r->ap_auth_type = "qsso";
    return OK;
}

static int qsso_hook_fixups(request_rec *r)
{
    const qsso_dir_conf_t *c = ap_get_module_config(r->per_dir_config,
                                                    &qsso_module);
    qsso_session_t *s;

    if (r->user == NULL || r->ap_auth_type == NULL
        || strcmp(r->ap_auth_type, "qsso"))
        return DECLINED;
    if ((s = qsso_session_current(r)) != NULL)
        qsso_attrs_export(r, c, s);
    return DECLINED;
}

static int qsso_hook_handler(request_rec *r)
{
    const qsso_dir_conf_t *c = ap_get_module_config(r->per_dir_config,
                                                    &qsso_module);
    const char *name = qsso_endpoint_name(r, c);
    apr_size_t i;

    if (r->handler && !strcmp(r->handler, QSSO_SCIM_HANDLER))
        return qsso_scim_handle(r, c);
    for (i = 0; name && i < sizeof(qsso_endpoints) / sizeof(*qsso_endpoints);
         i++)
        if (!strcmp(name, qsso_endpoints[i].name))
            return qsso_endpoints[i].handle(r, c);
    return DECLINED;
}

/* Runs before an error response is sent: a refused signed-in user gets
 * 403 and the one log line saying which rule (RequireAny may still have
 * granted the request after a rule failed, so it is not logged earlier). */
static void qsso_hook_insert_error_filter(request_rec *r)
{
    qsso_authz_fix_status(r);
    qsso_authz_log(r);
}

static void qsso_register_hooks(apr_pool_t *p)
{
    /* mod_authz_core's userless pass decides first (qsso_hook_access_ex). */
    static const char *const qsso_after_authz_core[] = {"mod_authz_core.c",
                                                        NULL};
    /* Both handlers are APR_HOOK_FIRST, and mod_proxy takes any request its
     * translate_name claimed (ProxyPass / without a "/qsso/ !" exclusion,
     * RewriteRule [P], SetHandler proxy:...): the endpoints must be
     * answered before it, whatever the LoadModule order. */
    static const char *const qsso_before_proxy[] = {"mod_proxy.c", NULL};

    qsso_authz_register(p);
    ap_hook_insert_error_filter(qsso_hook_insert_error_filter, NULL, NULL,
                                APR_HOOK_MIDDLE);
    ap_hook_pre_config(qsso_hook_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(qsso_hook_check_config, NULL, NULL, APR_HOOK_LAST);
    ap_hook_post_config(qsso_hook_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(qsso_hook_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(qsso_hook_post_read_request, NULL, NULL,
                              APR_HOOK_FIRST);
    ap_hook_check_access_ex(qsso_hook_access_ex, qsso_after_authz_core, NULL,
                            APR_HOOK_LAST, AP_AUTH_INTERNAL_PER_URI);
    ap_hook_check_authn(qsso_hook_check_authn, NULL, NULL, APR_HOOK_MIDDLE,
                        AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_fixups(qsso_hook_fixups, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(qsso_hook_handler, NULL, qsso_before_proxy,
                    APR_HOOK_FIRST);
}

AP_DECLARE_MODULE(qsso) = {
    STANDARD20_MODULE_STUFF,
    qsso_config_create_dir,
    qsso_config_merge_dir,
    qsso_config_create_srv,
    qsso_config_merge_srv,
    qsso_config_cmds,
    qsso_register_hooks,
    AP_MODULE_FLAG_NONE
};

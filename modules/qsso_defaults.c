/*
 * The getters of the configuration: the one place each default lives.
 * Pure functions over a merged qsso_dir_conf_t, so the policy code that
 * reads them links into unit tests and tools without httpd.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_algs.h"
#include "qsso_config.h"

const char *qsso_conf_endpoint_path(const qsso_dir_conf_t *c)
{
    return c->endpoint_path ? c->endpoint_path : "/qsso";
}

int qsso_conf_binding(const qsso_dir_conf_t *c)
{
    return c->sso_binding == QSSO_UNSET ? QSSO_BINDING_REDIRECT
                                        : c->sso_binding;
}

int qsso_conf_sign_request(const qsso_dir_conf_t *c)
{
    return c->sign_request == 1;
}

int qsso_conf_force_authn(const qsso_dir_conf_t *c)
{
    return c->force_authn == 1;
}

int qsso_conf_replay_prevention(const qsso_dir_conf_t *c)
{
    return c->replay_prevention != 0;
}

int qsso_conf_allow_idp_initiated(const qsso_dir_conf_t *c)
{
    return c->allow_idp_initiated != 0;
}

const char *qsso_conf_default_relay_state(const qsso_dir_conf_t *c)
{
    return c->default_relay_state ? c->default_relay_state : "/";
}

int qsso_conf_clock_skew(const qsso_dir_conf_t *c)
{
    return c->clock_skew == QSSO_UNSET ? 90 : c->clock_skew;
}

int qsso_conf_session_lifetime(const qsso_dir_conf_t *c)
{
    return c->session_lifetime == QSSO_UNSET ? 28800 : c->session_lifetime;
}

#define QSSO_CONF_COOKIE "qsso_session"
#define QSSO_CONF_COOKIE_HOST "__Host-" QSSO_CONF_COOKIE

/* An HTTPS site (by QSSOSPBaseURL, so configtest and requests agree) with
 * Secure cookies gets a __Host- name by default: the browser then takes
 * the cookie only from this host, with Path=/, so another application on
 * the host or a sibling domain cannot set one that shadows it. */
static int qsso_conf_cookie_host_default(const qsso_dir_conf_t *c)
{
    return c->cookie_name == NULL && qsso_conf_cookie_secure(c)
           && c->sp_base_url && !strncasecmp(c->sp_base_url, "https://", 8);
}

const char *qsso_conf_cookie_name(const qsso_dir_conf_t *c)
{
    if (c->cookie_name)
        return c->cookie_name;
    return qsso_conf_cookie_host_default(c) ? QSSO_CONF_COOKIE_HOST
                                            : QSSO_CONF_COOKIE;
}

const char *qsso_conf_cookie_legacy_name(const qsso_dir_conf_t *c)
{
    return qsso_conf_cookie_host_default(c) ? QSSO_CONF_COOKIE : NULL;
}

int qsso_conf_cookie_secure(const qsso_dir_conf_t *c)
{
    return c->cookie_secure != 0;
}

const char *qsso_conf_cookie_samesite(const qsso_dir_conf_t *c)
{
    return c->cookie_samesite ? c->cookie_samesite : "Lax";
}

const char *qsso_conf_email_attr(const qsso_dir_conf_t *c)
{
    return c->email_attr;
}

const char *qsso_conf_username_attr(const qsso_dir_conf_t *c)
{
    return c->username_attr ? c->username_attr : c->email_attr;
}

/* First and last name fall back to the email attribute (DESIGN). */
const char *qsso_conf_first_name_attr(const qsso_dir_conf_t *c)
{
    return c->first_name_attr ? c->first_name_attr : c->email_attr;
}

const char *qsso_conf_last_name_attr(const qsso_dir_conf_t *c)
{
    return c->last_name_attr ? c->last_name_attr : c->email_attr;
}

int qsso_conf_validate_user_type(const qsso_dir_conf_t *c)
{
    return c->validate_user_type == 1;
}

const char *qsso_conf_default_user_type(const qsso_dir_conf_t *c)
{
    return c->default_user_type ? c->default_user_type : "Standard";
}

int qsso_conf_jit_provisioning(const qsso_dir_conf_t *c)
{
    return c->jit_provisioning != 0;
}

int qsso_conf_modify_existing_username(const qsso_dir_conf_t *c)
{
    return c->modify_existing_username == 1;
}

int qsso_conf_merge_existing_user(const qsso_dir_conf_t *c)
{
    return c->merge_existing_user == 1;
}

int qsso_conf_notify_user_creation(const qsso_dir_conf_t *c)
{
    return c->notify_user_creation == 1;
}

int qsso_conf_update_attributes(const qsso_dir_conf_t *c)
{
    return c->update_attributes != 0;
}

int qsso_conf_pass_headers(const qsso_dir_conf_t *c)
{
    return c->pass_headers == 1;
}

int qsso_conf_signature_algorithms(const qsso_dir_conf_t *c)
{
    return qsso_algs_signature_mask(c->sig_algs);
}

int qsso_conf_encryption_algorithms(const qsso_dir_conf_t *c)
{
    return qsso_algs_encryption_mask(c->enc_algs);
}

int qsso_conf_require_encrypted(const qsso_dir_conf_t *c)
{
    return c->require_encrypted == 1;
}

int qsso_conf_accept_previous(const qsso_srv_conf_t *sc)
{
    return sc->accept_previous == 1;
}

int qsso_conf_pending_per_address(const qsso_srv_conf_t *sc)
{
    /* generous: a campus NAT or a proxy without mod_remoteip is one
     * address for thousands of users */
    return sc->pending_per_address == QSSO_UNSET ? 1000
                                                 : sc->pending_per_address;
}

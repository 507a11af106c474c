/* Configuration: create/merge, directive setters, getters with defaults,
 * and the cross-directive checks run at startup. */
#ifndef QSSO_CONFIG_H
#define QSSO_CONFIG_H

#include "qsso.h"

extern const command_rec qsso_config_cmds[];

void *qsso_config_create_dir(apr_pool_t *p, char *dir);
void *qsso_config_merge_dir(apr_pool_t *p, void *base, void *add);
void *qsso_config_create_srv(apr_pool_t *p, server_rec *s);
void *qsso_config_merge_srv(apr_pool_t *p, void *base, void *add);

/* Startup checks across directives and sections. Logs one message per
 * problem (naming section, directive and file) and returns !OK if any. */
int qsso_config_check(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* With QSSOStore shm: the most pending logins per address its region
 * honours (qsso_pending_shm_ceiling), with a notice (QSSO2012; 2013 for
 * no cap) for each server whose QSSOPendingLoginsPerAddress asks for
 * more. 0 otherwise. */
int qsso_config_pending_ceiling(apr_pool_t *ptemp, server_rec *s);

/* Getters: the one place each default lives. */
const char *qsso_conf_endpoint_path(const qsso_dir_conf_t *c);
int qsso_conf_binding(const qsso_dir_conf_t *c);
int qsso_conf_sign_request(const qsso_dir_conf_t *c);
int qsso_conf_force_authn(const qsso_dir_conf_t *c);
int qsso_conf_replay_prevention(const qsso_dir_conf_t *c);
int qsso_conf_allow_idp_initiated(const qsso_dir_conf_t *c);
const char *qsso_conf_default_relay_state(const qsso_dir_conf_t *c);
/* QSSOPendingLoginsPerAddress: default 1000, 0 = no cap. */
int qsso_conf_pending_per_address(const qsso_srv_conf_t *sc);
/* QSSOAcceptPreviousSessions: default Off. */
int qsso_conf_accept_previous(const qsso_srv_conf_t *sc);
int qsso_conf_clock_skew(const qsso_dir_conf_t *c);
int qsso_conf_session_lifetime(const qsso_dir_conf_t *c);
/* QSSOCookieName, else "__Host-qsso_session" on an https:// QSSOSPBaseURL
 * with QSSOCookieSecure On, else "qsso_session". */
const char *qsso_conf_cookie_name(const qsso_dir_conf_t *c);
/* With the default __Host- name: "qsso_session", the name before it, whose
 * cookies are still read for records of the previous format (front ends
 * upgraded one at a time); NULL otherwise. */
const char *qsso_conf_cookie_legacy_name(const qsso_dir_conf_t *c);
int qsso_conf_cookie_secure(const qsso_dir_conf_t *c);
const char *qsso_conf_cookie_samesite(const qsso_dir_conf_t *c);
const char *qsso_conf_email_attr(const qsso_dir_conf_t *c);
const char *qsso_conf_username_attr(const qsso_dir_conf_t *c);
const char *qsso_conf_first_name_attr(const qsso_dir_conf_t *c);
const char *qsso_conf_last_name_attr(const qsso_dir_conf_t *c);
int qsso_conf_validate_user_type(const qsso_dir_conf_t *c);
const char *qsso_conf_default_user_type(const qsso_dir_conf_t *c);
int qsso_conf_jit_provisioning(const qsso_dir_conf_t *c);
int qsso_conf_modify_existing_username(const qsso_dir_conf_t *c);
int qsso_conf_merge_existing_user(const qsso_dir_conf_t *c);
int qsso_conf_notify_user_creation(const qsso_dir_conf_t *c);
int qsso_conf_update_attributes(const qsso_dir_conf_t *c);
int qsso_conf_pass_headers(const qsso_dir_conf_t *c);
/* QSSOSignatureAlgorithms / QSSOEncryptionAlgorithms masks in force
 * (defaults in qsso_algs.h), QSSORequireEncryptedAssertion. */
int qsso_conf_signature_algorithms(const qsso_dir_conf_t *c);
int qsso_conf_encryption_algorithms(const qsso_dir_conf_t *c);
int qsso_conf_require_encrypted(const qsso_dir_conf_t *c);

/* scheme://host[:port] as browsers see it: QSSOSPBaseURL, else ServerName. */
const char *qsso_conf_base_url(const qsso_dir_conf_t *c, request_rec *r);
/* The configuration of the <Location> sections (not regex, not
 * <Directory>) that a local path falls in, merged over the server's: the
 * identity policy of the page a login lands on. In r->pool. */
const qsso_dir_conf_t *qsso_conf_for_landing(request_rec *r,
                                             const char *path);
/* Every module's config for a local path, merged the way a location
 * walk would (non-regex <Location> sections whose path is a prefix, in
 * order), in p. For startup checks. */
ap_conf_vector_t *qsso_config_for_path(apr_pool_t *p, server_rec *s,
                                       const char *path);
/* base URL + endpoint path + "/acs" */
const char *qsso_conf_acs_url(const qsso_dir_conf_t *c, request_rec *r);

#endif

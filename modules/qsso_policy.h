/* Identity policy: attribute fields, value maps, email domains, user-type
 * validation, dashboard attributes. No request, no store. */
#ifndef QSSO_POLICY_H
#define QSSO_POLICY_H

#include "qsso.h"
#include "qsso_claims.h"

/* Fills s (everything but expires) from the claims of a verified login
 * (a: SAML assertion or OIDC tokens, qsso_claims.h) under c.
 * Strings live in p. Returns QSSO_OK or 4001 (no email), 4002 (no
 * username), 4004 (unmapped user type with validation on), 4005 (email
 * domain), 4006 (dashboard value over 1000 characters), 4007 (no unique
 * ID), with err filled. */
int qsso_policy_build_identity(apr_pool_t *p, const qsso_dir_conf_t *c,
                               const qsso_claims_t *a, qsso_session_t *s,
                               qsso_err_t *err);

/* The local value mapped from v (exact match), or NULL. */
const char *qsso_policy_map(const apr_array_header_t *map, const char *v);

/* 1 when email's domain is allowed by domains (NULL = any): exact domain
 * match, case-insensitive, or "*.example.org" for its subdomains. */
int qsso_policy_check_domain(const apr_array_header_t *domains,
                             const char *email);

/* The local username for an IdP value: "value#brand" with QSSOBrandID. */
const char *qsso_policy_username(apr_pool_t *p, const qsso_dir_conf_t *c,
                                 const char *value);

/* prefix + name upper-cased, every non-alphanumeric turned into fill:
 * ("QSSO_ATTR_", "costCenter-2", '_') -> "QSSO_ATTR_COSTCENTER_2"; headers
 * use '-', since proxies drop header names with '_'. */
const char *qsso_policy_env_name(apr_pool_t *p, const char *prefix,
                                 const char *name, char fill);

#endif

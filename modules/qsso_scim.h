/* The SCIM 2.0 endpoint: `SetHandler qsso-scim` in a <Location>. */
#ifndef QSSO_SCIM_H
#define QSSO_SCIM_H

#include "qsso.h"

#define QSSO_SCIM_HANDLER "qsso-scim"

/* Answers a request for the qsso-scim handler: bearer token first (401
 * otherwise), then /Users, /Groups, /ServiceProviderConfig,
 * /ResourceTypes or /Schemas under the location. Always OK: the status
 * and the SCIM JSON body are set on r. */
int qsso_scim_handle(request_rec *r, const qsso_dir_conf_t *c);

/* Startup check of every <Location> with `SetHandler qsso-scim`: it needs
 * QSSOSCIMTokenFile and QSSOStore, and must not be under AuthType qsso
 * (an SSO session must never reach SCIM). Logs one QSSO6010 line per
 * problem and returns !OK if any. */
int qsso_scim_check_config(apr_pool_t *ptemp, server_rec *s);

#endif

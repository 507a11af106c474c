/* Require qsso-user-type | qsso-group | qsso-division | qsso-attr. */
#ifndef QSSO_AUTHZ_H
#define QSSO_AUTHZ_H

#include "qsso.h"

/* Registers the four authorization providers (register_hooks). */
void qsso_authz_register(apr_pool_t *p);

/* insert_error_filter: a 401 caused by a failed qsso rule becomes 403. */
void qsso_authz_fix_status(request_rec *r);

/* When an error response is sent: one log line (QSSO5001) if a qsso rule
 * was not met and the response is 403. */
void qsso_authz_log(request_rec *r);

#endif

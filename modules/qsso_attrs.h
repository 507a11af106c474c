/* The signed-in user's identity handed to the backend. */
#ifndef QSSO_ATTRS_H
#define QSSO_ATTRS_H

#include "qsso.h"

/* Sets REMOTE_USER and the QSSO_* variables in r->subprocess_env. */
void qsso_attrs_export(request_rec *r, const qsso_session_t *s);

/* Removes every client-sent header whose name starts with X-QSSO- or
 * X_QSSO_ (any case): only this module may set those. */
void qsso_attrs_strip_headers(request_rec *r);

/* From a verified assertion, the fields a session keeps: QSSO_OK, or 4001
 * / 4002 when the email or username attribute is missing. */
int qsso_attrs_build_session(apr_pool_t *p, const qsso_dir_conf_t *c,
                             const qsso_assertion_t *a, qsso_session_t *s,
                             qsso_err_t *err);

#endif

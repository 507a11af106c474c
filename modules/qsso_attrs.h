/* The signed-in user's identity handed to the backend. */
#ifndef QSSO_ATTRS_H
#define QSSO_ATTRS_H

#include "qsso.h"

/* Sets REMOTE_USER and the QSSO_* variables in r->subprocess_env and, with
 * QSSOPassHeaders On, the same values as X-QSSO-* request headers. */
void qsso_attrs_export(request_rec *r, const qsso_dir_conf_t *c,
                       const qsso_session_t *s);

/* Removes every client-sent header whose name starts with X-QSSO- or
 * X_QSSO_ (any case): only this module may set those. */
void qsso_attrs_strip_headers(request_rec *r);

#endif

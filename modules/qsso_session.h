/* Sessions in the store; pending login requests; the replay cache. */
#ifndef QSSO_SESSION_H
#define QSSO_SESSION_H

#include "qsso.h"
#include "qsso_pending.h"

/* Loads the session of this request once (cached on the initial request,
 * so subrequests and internal redirects reuse it). *out is NULL when
 * there is no valid session. Returns QSSO_OK or 3001. */
int qsso_session_load(request_rec *r, const qsso_dir_conf_t *c,
                      qsso_session_t **out, qsso_err_t *err);
/* QSSO_OK, or 3013 when the load found live sessions of two users in
 * cookies that can shadow each other (so it took neither): a login would
 * come back with the same cookies and loop. */
int qsso_session_check_conflict(request_rec *r, qsso_err_t *err);
/* The session loaded for this request, or NULL. */
qsso_session_t *qsso_session_current(request_rec *r);

/* The logout token of this request's session (32 hex digits), or NULL
 * without a session: GET logout ends a session only with it, so another
 * site cannot sign users out (logout CSRF). */
const char *qsso_session_logout_token(request_rec *r);

/* Stores s under a new random ID and sets the cookie. */
int qsso_session_create(request_rec *r, const qsso_dir_conf_t *c,
                        qsso_session_t *s, qsso_err_t *err);
/* Deletes this request's session, if any, and expires the cookie. */
int qsso_session_destroy(request_rec *r, const qsso_dir_conf_t *c,
                         qsso_err_t *err);

#endif

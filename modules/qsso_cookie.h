/* The session cookie value, the session record format, and the check that
 * a redirect target stays on this site. */
#ifndef QSSO_COOKIE_H
#define QSSO_COOKIE_H

#include "qsso.h"

/* A session ID: 32 random bytes, 43 base64url characters in the cookie. */
#define QSSO_SESSION_ID_BYTES 32
#define QSSO_SESSION_ID_LEN 43

/* The session ID in a Cookie header value, or NULL when there is none of
 * the right shape (43 base64url characters, 256 bits). */
const char *qsso_session_parse_cookie(apr_pool_t *p, const char *header,
                                      const char *name);

/* Serialises a session record, and back; decode returns -1 on damage. */
char *qsso_session_encode(apr_pool_t *p, const qsso_session_t *s);
int qsso_session_decode(apr_pool_t *p, const char *data,
                        qsso_session_t *out);

/* Is target a same-origin path we may redirect to? (starts with one '/',
 * no backslash, no control or space characters) */
int qsso_session_is_local_path(const char *target);

#endif

/* The session cookie value, the session record format, the check that a
 * record belongs to the section being opened, and the check that a
 * redirect target stays on this site. */
#ifndef QSSO_COOKIE_H
#define QSSO_COOKIE_H

#include "qsso.h"

/* A session ID: 32 random bytes, 43 base64url characters in the cookie. */
#define QSSO_SESSION_ID_BYTES 32
#define QSSO_SESSION_ID_LEN 43

/* How many session cookies of one request are tried: a shadowing cookie
 * (another application's, set for a sub-path) cannot hide the user's own,
 * and a header full of them costs at most this many store reads. */
#define QSSO_SESSION_COOKIE_TRIES 4

/* The session IDs (43 base64url characters, 256 bits) of the cookies
 * named name in a Cookie header, in header order, each once: at most max
 * of them are stored in ids (allocated in p). Returns how many distinct
 * well-formed IDs the header holds, which may exceed max. */
int qsso_session_parse_cookies(apr_pool_t *p, const char *header,
                               const char *name, const char **ids, int max);

/* Serialises a session record (the current format, "qsso3"), and back;
 * decode also reads the previous format ("qsso2", s->sp left NULL) and
 * returns -1 on damage. */
char *qsso_session_encode(apr_pool_t *p, const qsso_session_t *s);
int qsso_session_decode(apr_pool_t *p, const char *data,
                        qsso_session_t *out);

/* May session s open a section of SP sp and IdP idp? QSSO_OK; 3010 when
 * it was issued for another SP or IdP; 3011 when it is a record of the
 * previous format, which names no SP: accepted only for its own IdP when
 * previous_sps is 1, i.e. QSSOAcceptPreviousSessions is On (the sysadmin
 * says no other site shares the store) and the server has exactly one
 * QSSOSPEntityID (counted at startup); the caller passes 0 otherwise. */
int qsso_session_check_bound(const qsso_session_t *s, const char *sp,
                             const char *idp, int previous_sps);

/* Is target a same-origin path we may redirect to? (starts with one '/',
 * no backslash, no control or space characters) */
int qsso_session_is_local_path(const char *target);

#endif

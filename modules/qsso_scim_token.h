/* SCIM bearer tokens: the QSSOSCIMTokenFile of SHA-256 hashes, and the
 * constant-time check of an Authorization header against it. */
#ifndef QSSO_SCIM_TOKEN_H
#define QSSO_SCIM_TOKEN_H

#include "qsso.h"

typedef enum {
    QSSO_SCIM_TOKEN_OK = 0,
    QSSO_SCIM_TOKEN_MISSING,       /* no Authorization: Bearer header */
    QSSO_SCIM_TOKEN_MALFORMED,     /* Bearer, but not a token68 */
    QSSO_SCIM_TOKEN_UNKNOWN        /* a token whose hash is not listed */
} qsso_scim_token_rc_e;

/* Reads file: one SHA-256 hex hash per line (sha256sum's "  -" may
 * follow), blank lines and '#' comments allowed, at least one hash. NULL
 * and *out in p, or "file:line: what is wrong" (never the line itself,
 * which may be a token pasted by mistake). */
const char *qsso_scim_token_load(apr_pool_t *p, const char *file,
                                 qsso_scim_tokens_t **out);

/* Checks the value of an Authorization header (may be NULL). The token's
 * hash is compared with every listed hash, always all of them, in
 * constant time; *line gets the matching hash's line. */
qsso_scim_token_rc_e qsso_scim_token_check(const qsso_scim_tokens_t *t,
                                           const char *authorization,
                                           int *line);

#endif

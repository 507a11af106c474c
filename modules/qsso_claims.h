/* What an identity provider asserted about the user, whatever the
 * protocol: the identity policy reads this and nothing protocol-specific.
 * SAML fills it from a verified assertion (qsso_response_claims); an
 * OpenID Connect login will fill it from the ID token and userinfo. */
#ifndef QSSO_CLAIMS_H
#define QSSO_CLAIMS_H

#include "qsso.h"

typedef struct {
    const char *issuer;            /* SAML IdP entity ID, OIDC issuer */
    const char *subject;           /* SAML NameID, OIDC sub */
    apr_array_header_t *attrs;     /* of qsso_attr_t: SAML attributes by
                                    * Name, OIDC claims by name */
} qsso_claims_t;

/* The values of attribute or claim name (exact, case-sensitive), or NULL
 * when it was not sent (or name is NULL). */
const apr_array_header_t *qsso_claims_values(const qsso_claims_t *c,
                                             const char *name);

#endif

/* SAMLResponse verification: bytes and IdP keys in, assertion or code out. */
#ifndef QSSO_RESPONSE_H
#define QSSO_RESPONSE_H

#include "qsso.h"
#include "qsso_claims.h"

typedef struct {
    const char *saml_response;   /* base64, as POSTed */
    const qsso_idp_t *idp;       /* keys prepared by qsso_keys_prepare_idp */
    const char *sp_entity_id;    /* the Audience we require */
    const char *acs_url;         /* Destination and Recipient we require */
    apr_time_t now;
    int clock_skew;              /* seconds */
    const qsso_key_t *sp_key;    /* decrypts an EncryptedAssertion; NULL:
                                    one is refused (2109) */
    int sig_algs;                /* QSSOSignatureAlgorithms; 0 = default */
    int enc_algs;                /* QSSOEncryptionAlgorithms; 0 = default */
    int require_encrypted;       /* QSSORequireEncryptedAssertion */
} qsso_response_input_t;

/* Verifies everything that needs no store: encoding, safe parsing,
 * structure, Status, decryption, the XML signatures (metadata keys only,
 * algorithms of the policy), Issuer, Destination, time conditions,
 * Audience, bearer confirmation, attribute limits.
 * Fills *out from the signed assertion only, in p. Returns QSSO_OK or a
 * refusal code with err filled. InResponseTo against the pending request,
 * and replay, are the caller's (they need the store). */
int qsso_response_verify(apr_pool_t *p, const qsso_response_input_t *in,
                         qsso_assertion_t *out, qsso_err_t *err);

/* xs:dateTime (UTC "Z" or an offset, optional fraction) to apr_time_t.
 * Returns 0 on success, -1 when s is not a dateTime. */
int qsso_response_parse_time(const char *s, apr_time_t *out);

/* The values of attribute name (exact, case-sensitive), or NULL. */
const apr_array_header_t *qsso_response_attr_values(const qsso_assertion_t *a,
                                                    const char *name);

/* The protocol-neutral claims of a verified assertion (its Issuer, NameID
 * and attributes, shared with a, not copied), for the identity policy. */
void qsso_response_claims(const qsso_assertion_t *a, qsso_claims_t *out);

#endif

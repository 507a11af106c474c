/* AuthnRequest: build, encode for a binding, sign. */
#ifndef QSSO_REQUEST_H
#define QSSO_REQUEST_H

#include "qsso.h"

typedef struct {
    const char *id;             /* unique, starts with a letter or '_' */
    apr_time_t now;
    const char *sso_url;        /* the IdP endpoint for the binding */
    const char *acs_url;
    const char *sp_entity_id;
    int force_authn;
    int binding;                /* qsso_binding_e */
    const char *relay_state;
    const qsso_key_t *key;      /* NULL: unsigned */
} qsso_request_input_t;

typedef struct {
    const char *xml;            /* the AuthnRequest as built (unsigned) */
    const char *redirect_url;   /* HTTP-Redirect: where to send the browser */
    const char *post_form;      /* HTTP-POST: an auto-submitting HTML page */
} qsso_request_t;

/* Builds the AuthnRequest for in->binding, signed when in->key is set.
 * Strings live in p. Returns QSSO_OK, or 2003 with err filled. */
int qsso_request_build(apr_pool_t *p, const qsso_request_input_t *in,
                       qsso_request_t *out, qsso_err_t *err);

/* A fresh request ID: "_" followed by 32 hex digits. */
const char *qsso_request_new_id(apr_pool_t *p);

#endif

/*
 * The protocol-neutral claims a login hands to the identity policy
 * (qsso_policy.c). Needs no request and knows no protocol.
 */
#include <string.h>

#include "qsso_claims.h"

const apr_array_header_t *qsso_claims_values(const qsso_claims_t *c,
                                             const char *name)
{
    int i;

    for (i = 0; c->attrs && name && i < c->attrs->nelts; i++) {
        const qsso_attr_t *at = &APR_ARRAY_IDX(c->attrs, i, qsso_attr_t);
        if (at->name && !strcmp(at->name, name))
            return at->values;
    }
    return NULL;
}

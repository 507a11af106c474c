/* IdP metadata in, SP metadata out. */
#ifndef QSSO_METADATA_H
#define QSSO_METADATA_H

#include "qsso.h"

/* Reads and parses an IdP metadata file. NULL, or a message naming the
 * file and what is wrong with it. */
const char *qsso_metadata_load_idp(apr_pool_t *p, const char *file,
                                   qsso_idp_t **out);
/* Parses an EntityDescriptor (or an EntitiesDescriptor holding one IdP)
 * from memory; `file` names the source in messages. */
const char *qsso_metadata_parse_idp(apr_pool_t *p, const char *file,
                                    const char *data, apr_size_t len,
                                    qsso_idp_t **out);

typedef struct {
    const char *entity_id;
    const char *acs_url;
    const char *cert_b64;       /* NULL: no signing KeyDescriptor */
    int requests_signed;
    const char *enc_cert_b64;   /* NULL: no encryption KeyDescriptor (set
                                   it only when the SP key can decrypt) */
    int enc_algs;               /* QSSOEncryptionAlgorithms; 0 = default */
} qsso_sp_metadata_t;

/* The SP's EntityDescriptor, valid against saml-schema-metadata-2.0: a
 * signing KeyDescriptor, and an encryption one listing the accepted
 * EncryptionMethods. */
char *qsso_metadata_build_sp(apr_pool_t *p, const qsso_sp_metadata_t *sp);

#endif

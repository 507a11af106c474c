/* EncryptedAssertion decryption with the SP key. */
#ifndef QSSO_DECRYPT_H
#define QSSO_DECRYPT_H

#include <libxml/tree.h>
#include "qsso.h"

#define QSSO_NS_XENC "http://www.w3.org/2001/04/xmlenc#"

typedef struct {
    const qsso_key_t *key;       /* QSSOSPPrivateKeyFile, xmlsec key built */
    int algs;                    /* QSSOEncryptionAlgorithms mask in force */
    const char *sp_entity_id;    /* an EncryptedKey for another Recipient
                                    is skipped */
} qsso_decrypt_input_t;

/* Decrypts enc, a saml:EncryptedAssertion, with in->key only (never a key
 * from the message), and replaces it in its document with the
 * saml:Assertion it holds; *assertion is that element, enc is freed.
 * Returns QSSO_OK, or -1 with *why (in p) for the log line: what the
 * policy refused, or one and the same sentence for every failure of the
 * decryption itself. On failure the document is unchanged. */
int qsso_decrypt_assertion(apr_pool_t *p, const qsso_decrypt_input_t *in,
                           xmlNodePtr enc, xmlNodePtr *assertion,
                           const char **why);

#endif

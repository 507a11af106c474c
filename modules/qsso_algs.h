/* Algorithm policy: what a response may be signed and encrypted with. */
#ifndef QSSO_ALGS_H
#define QSSO_ALGS_H

#include <libxml/tree.h>
#include "qsso.h"

/* QSSOSignatureAlgorithms, as a bit mask. SHA-1 digests are accepted
 * only with QSSO_ALG_RSA_SHA1; SHA-2 digests always. */
#define QSSO_ALG_RSA_SHA256 0x0001
#define QSSO_ALG_RSA_SHA384 0x0002
#define QSSO_ALG_RSA_SHA512 0x0004
#define QSSO_ALG_ECDSA_SHA256 0x0008
#define QSSO_ALG_ECDSA_SHA384 0x0010
#define QSSO_ALG_ECDSA_SHA512 0x0020
#define QSSO_ALG_RSA_SHA1 0x0040
#define QSSO_ALGS_SIG_DEFAULT 0x003f

/* QSSOEncryptionAlgorithms, as a bit mask: key transport in the low byte,
 * content encryption in the next. */
#define QSSO_ALG_RSA_OAEP_MGF1P 0x0001
#define QSSO_ALG_RSA_OAEP 0x0002
#define QSSO_ALG_RSA_1_5 0x0004
#define QSSO_ALG_AES128_CBC 0x0100
#define QSSO_ALG_AES256_CBC 0x0200
#define QSSO_ALG_AES128_GCM 0x0400
#define QSSO_ALG_AES256_GCM 0x0800
#define QSSO_ALGS_TRANSPORT 0x00ff
#define QSSO_ALGS_CONTENT 0xff00
#define QSSO_ALGS_ENC_DEFAULT 0x0f01

typedef enum {
    QSSO_ALG_SIGNATURE = 0,
    QSSO_ALG_KEY_TRANSPORT,
    QSSO_ALG_CONTENT
} qsso_alg_kind_e;

typedef struct {
    const char *name;            /* short name, as in the directives */
    const char *uri;
    int kind;                    /* qsso_alg_kind_e */
    int bit;
    int key_bytes;               /* content encryption: AES key length */
} qsso_alg_t;

/* Every algorithm a directive may name, ending with a NULL name. */
extern const qsso_alg_t qsso_algs_all[];

/* One word of QSSOSignatureAlgorithms (a short name or the URI, any
 * case for names) to its bit. NULL, or a message saying why the word is
 * refused (HMAC, unknown) and what is accepted, in p. */
const char *qsso_algs_parse_signature(apr_pool_t *p, const char *word,
                                      int *bit);
/* The same for QSSOEncryptionAlgorithms; xmlenc11 rsa-oaep is refused
 * when the xmlsec library the module is built with cannot do it. */
const char *qsso_algs_parse_encryption(apr_pool_t *p, const char *word,
                                       int *bit);

/* The mask in force for a configured one: QSSO_UNSET or 0 is the default;
 * for encryption, a category (key transport, content) nobody listed
 * keeps its default. */
int qsso_algs_signature_mask(int configured);
int qsso_algs_encryption_mask(int configured);

/* The algorithm of kind with this URI when its bit is in mask, else
 * NULL. */
const qsso_alg_t *qsso_algs_allowed(int mask, int kind, const char *uri);

/* The short names of the algorithms of kind in mask, space-separated. */
const char *qsso_algs_names(apr_pool_t *p, int mask, int kind);

/* Checks a ds:SignedInfo and its one ds:Reference against the policy:
 * SignatureMethod in sig_mask (never HMAC), a SHA-2 DigestMethod (SHA-1
 * only with rsa-sha1), exclusive C14N as CanonicalizationMethod, and at
 * most two Transforms among enveloped-signature and exclusive C14N.
 * Returns QSSO_OK, 2113 (algorithm) or 2127 (transform), with *why in
 * p. */
int qsso_algs_check_signed_info(apr_pool_t *p, int sig_mask,
                                const xmlNode *signed_info,
                                const xmlNode *ref, const char **why);

/* Tells an xmlsec signature context (xmlSecDSigCtxPtr) to load only the
 * transforms the policy accepts, so xmlsec itself refuses the rest.
 * Returns 0, or -1 when xmlsec could not record the lists. */
int qsso_algs_restrict_dsig(void *dsig_ctx, int sig_mask);

/* Tells an xmlsec transform context (xmlSecTransformCtxPtr) that uri is
 * the one transform it may load from the message. 0 or -1. */
int qsso_algs_restrict_to(void *transform_ctx, const char *uri);

#endif

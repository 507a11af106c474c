/*
 * Shared types of mod_qsso: the module record, configuration structs, the
 * IdP description and the result of a verified login. Prototypes live in the
 * header of the file that implements them; this one holds types only.
 */
#ifndef QSSO_H
#define QSSO_H

#include <httpd.h>
#include <http_config.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

extern module AP_MODULE_DECLARE_DATA qsso_module;

/* "Not set in this context": lets an inner Off undo an outer On. */
#define QSSO_UNSET (-1)
#define QSSO_MERGE(add, base) ((add) != QSSO_UNSET ? (add) : (base))
#define QSSO_MERGE_PTR(add, base) ((add) != NULL ? (add) : (base))

/* Every refusal and startup message starts with its stable tag. */
#define QSSO_LOGNO(n) "QSSO" #n ": "

#define QSSO_OK 0

typedef enum {
    QSSO_BINDING_REDIRECT = 0,
    QSSO_BINDING_POST = 1
} qsso_binding_e;

/* One IdP, read from its EntityDescriptor when the config is parsed. */
typedef struct {
    const char *file;              /* metadata file, for messages */
    const char *entity_id;
    const char *sso_redirect_url;  /* NULL when the IdP offers none */
    const char *sso_post_url;
    apr_array_header_t *certs_der; /* of qsso_blob_t: signing certificates */
    apr_array_header_t *keys;      /* of xmlSecKeyPtr, built in post_config */
} qsso_idp_t;

typedef struct {
    const unsigned char *data;
    apr_size_t len;
} qsso_blob_t;

/* The SP certificate, read by QSSOSPCertFile. */
typedef struct {
    const char *file;
    const char *der_b64;           /* DER as base64, for SP metadata */
    void *x509;                    /* X509 *, for the key/cert match check */
} qsso_cert_t;

/* The SP private key, read by QSSOSPPrivateKeyFile. */
typedef struct {
    const char *file;
    const char *pem;               /* for the xmlsec key built at startup */
    apr_size_t pem_len;
    void *evp_key;                 /* EVP_PKEY *, HTTP-Redirect signatures */
    void *xmlsec_key;              /* xmlSecKeyPtr, enveloped signatures */
} qsso_key_t;

/* One hash line of QSSOSCIMTokenFile: the SHA-256 of a bearer token. */
typedef struct {
    unsigned char sha256[32];
    int line;                      /* in the file, for the audit event */
} qsso_scim_hash_t;

/* QSSOSCIMTokenFile, read when the config is parsed. */
typedef struct {
    const char *file;
    apr_array_header_t *hashes;    /* of qsso_scim_hash_t; never empty */
} qsso_scim_tokens_t;

/* Per-directory configuration; every field may be overridden inside. */
typedef struct {
    const char *section;           /* the <Location> or <Directory> it came from */
    const char *sp_base_url;       /* scheme://host[:port], no trailing slash */
    const char *endpoint_path;     /* no trailing slash */
    const char *sp_entity_id;
    qsso_cert_t *sp_cert;
    qsso_key_t *sp_key;
    qsso_idp_t *idp;
    int sso_binding;               /* qsso_binding_e */
    int sign_request;
    int force_authn;
    int replay_prevention;
    int allow_idp_initiated;
    const char *default_relay_state;
    int clock_skew;                /* seconds */
    int session_lifetime;          /* seconds */
    const char *cookie_name;
    int cookie_secure;
    const char *cookie_samesite;
    const char *email_attr;
    const char *username_attr;
    const char *first_name_attr;
    const char *last_name_attr;
    const char *user_type_attr;
    const char *division_attr;
    const char *group_attr;
    const char *unique_id_attr;
    apr_array_header_t *dashboard_attrs;  /* of const char *: Names */
    apr_array_header_t *user_type_map;    /* of qsso_pair_t */
    apr_array_header_t *division_map;     /* of qsso_pair_t */
    apr_array_header_t *group_map;        /* of qsso_pair_t */
    int validate_user_type;
    const char *default_user_type;
    apr_array_header_t *email_domains;    /* of const char *; NULL = "*" */
    int jit_provisioning;
    const char *brand_id;                 /* username suffix after '#' */
    int modify_existing_username;
    int merge_existing_user;
    int notify_user_creation;
    int update_attributes;
    int pass_headers;
    qsso_scim_tokens_t *scim_tokens;      /* NULL = no SCIM here */
    int sig_algs;                  /* QSSO_ALG_* bits of qsso_algs.h */
    int enc_algs;                  /* QSSO_ALG_* bits: transport, content */
    int require_encrypted;         /* refuse plain assertions */
} qsso_dir_conf_t;

/* One line of QSSOUserTypeMap, QSSODivisionMap or QSSOGroupMap. */
typedef struct {
    const char *idp;               /* the value as the IdP sends it */
    const char *local;             /* what it becomes here */
} qsso_pair_t;

/* Server-wide configuration: the store is shared by every vhost. */
typedef struct {
    const char *store_url;
    const char *store_where;       /* file:line of QSSOStore */
    int session_cache;             /* QSSOSessionCache; QSSO_UNSET: On */
    int pending_per_address;       /* QSSOPendingLoginsPerAddress; 0: no
                                    * cap; QSSO_UNSET: the default */
    int sp_entity_ids;             /* distinct QSSOSPEntityID values of the
                                    * whole server (every vhost and
                                    * section), counted by the startup
                                    * checks; decides whether a record of
                                    * the previous format may open a page */
    int accept_previous;           /* QSSOAcceptPreviousSessions; QSSO_UNSET:
                                    * Off */
} qsso_srv_conf_t;

/* A SAML attribute with all its values, in document order. */
typedef struct {
    const char *name;
    apr_array_header_t *values;    /* of const char * */
} qsso_attr_t;

/* What a verified Response asserts; every string lives in the caller's pool. */
typedef struct {
    const char *response_id;
    const char *in_response_to;    /* NULL for IdP-initiated */
    const char *issuer;
    const char *assertion_id;
    const char *name_id;
    const char *name_id_format;
    apr_time_t not_on_or_after;    /* replay record lifetime; 0 = none */
    apr_time_t session_not_on_or_after; /* 0 = none */
    apr_array_header_t *attrs;     /* of qsso_attr_t */
} qsso_assertion_t;

/* A refusal: code (e.g. 2104), HTTP status, and a one-line detail. */
typedef struct {
    int code;
    int status;
    const char *detail;            /* what failed and the values compared */
    const char *fix;               /* what the sysadmin should change */
    const char *subject;           /* user, when known */
} qsso_err_t;

/* A dashboard attribute: its Name and its values, kept apart; they are
 * joined with "::" only when exported to the backend. */
typedef struct {
    const char *name;
    apr_array_header_t *values;    /* of const char *, none empty */
} qsso_dash_attr_t;

/* The signed-in user, as stored in the session record. */
typedef struct {
    const char *username;          /* local: with "#brand" when configured */
    const char *email;
    const char *name_id;
    const char *idp;               /* entity ID of the IdP that signed in */
    const char *sp;                /* QSSOSPEntityID it was issued for;
                                    * NULL in a record of the previous
                                    * format ("qsso2"), which has none */
    apr_time_t expires;
    const char *first_name;
    const char *last_name;
    const char *user_type;         /* mapped */
    const char *division;          /* mapped; "" = none */
    apr_array_header_t *groups;    /* of const char *, mapped */
    const char *unique_id;         /* "" = none */
    apr_array_header_t *dash;      /* of qsso_dash_attr_t */
} qsso_session_t;

#endif

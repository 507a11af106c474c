/* What every SCIM resource handler shares: the call (one request, without
 * request_rec), SCIM errors, meta and ETags, list responses, the one
 * PUT/PATCH/DELETE path with its If-Match check, and the coercion of
 * values as real clients send them. */
#ifndef QSSO_SCIM_RESOURCE_H
#define QSSO_SCIM_RESOURCE_H

#include <jansson.h>
#include "qsso.h"
#include "qsso_scim_filter.h"
#include "qsso_store.h"

#define QSSO_SCIM_PAGE_DEFAULT 100
#define QSSO_SCIM_PAGE_MAX 1000

/* One SCIM request as the resource handlers see it, and their answer.
 * Everything lives in p; json_t values are released with p. */
typedef struct {
    qsso_store_t *st;
    apr_pool_t *p;
    const char *base;              /* absolute URL of the SCIM root */
    const char *method;            /* GET, POST, PUT, PATCH, DELETE */
    const char *id;                /* from the path; NULL: the collection */
    json_t *body;                  /* POST, PUT, PATCH: a JSON object */
    const char *filter;            /* query parameters; NULL when absent */
    const char *start_index;
    const char *count;
    const char *excluded;          /* excludedAttributes */
    const char *if_match;          /* If-Match header, or NULL */
    /* the answer */
    int status;
    const char *scim_type;         /* errors: invalidFilter, ...; or NULL */
    const char *detail;            /* errors: for the client and the log */
    json_t *out;                   /* the response document, or NULL */
    const char *etag;              /* W/"..." or NULL */
    const char *location;          /* 201: the new resource */
    const char *subject;           /* the user concerned, for log/audit */
    const char *note;              /* deprovisioning done, for the log */
} qsso_scim_call_t;

typedef enum {
    QSSO_SCIM_OP_ADD = 0,
    QSSO_SCIM_OP_REPLACE,
    QSSO_SCIM_OP_REMOVE
} qsso_scim_op_e;

/* One element of a PatchOp's Operations (RFC 7644 3.5.2): "op" in any
 * case (Entra ID sends "Replace"), optional "path", "value" (required
 * unless remove). 0, or 400 (set). */
typedef struct {
    qsso_scim_op_e op;
    const char *path;              /* NULL: value is an object of attrs */
    json_t *value;                 /* borrowed; NULL for a plain remove */
} qsso_scim_patch_t;

/* The Operations of a PatchOp body, checked one by one: 0 and *ops (of
 * qsso_scim_patch_t) in c->p, or 400 (set). */
int qsso_scim_patch_ops(qsso_scim_call_t *c, apr_array_header_t **ops);

/* Sets an error answer; returns status. */
int qsso_scim_fail(qsso_scim_call_t *c, int status, const char *scim_type,
                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A store failure: 503, detail naming what was being done. */
int qsso_scim_fail_store(qsso_scim_call_t *c, const char *doing,
                         const char *err);
/* The error document of c (status, scimType, detail). */
json_t *qsso_scim_error_json(const qsso_scim_call_t *c);

/* j, released when p is destroyed (j may be NULL). */
json_t *qsso_scim_keep(apr_pool_t *p, json_t *j);

/* The meta object of a resource; the version is W/"<hash of record>". */
json_t *qsso_scim_meta(qsso_scim_call_t *c, const char *type,
                       const char *path, apr_int64_t created,
                       apr_int64_t updated, const char *version);
/* W/"..." for a stored record's bytes. */
const char *qsso_scim_version(apr_pool_t *p, const char *record);
/* RFC 3339 UTC time of Unix seconds. */
const char *qsso_scim_time(apr_pool_t *p, apr_int64_t sec);
/* 0 when If-Match is absent, "*" or lists version; else 412 (set). */
int qsso_scim_check_if_match(qsso_scim_call_t *c, const char *version);

/* What a commit or remove of a resource type returns when the stored
 * record is no longer the one it loaded: nothing was written. */
#define QSSO_SCIM_CHANGED (-1)
/* Loads, edits and writes of one call before a write without If-Match
 * that keeps losing to other writers gives up (503). */
#define QSSO_SCIM_ATTEMPTS 8

/* A resource type as the shared PUT/PATCH/DELETE path sees it. A record
 * is the type's own struct of `size` bytes, passed as void *; every hook
 * answers 0 or an error status set on c, as the rest of this file does. */
typedef struct {
    const char *name;              /* "user", "group": for details */
    apr_size_t size;               /* sizeof the record struct */
    /* The record c->id names: 0, 404 or 503. */
    int (*load)(qsso_scim_call_t *c, void *rec);
    /* The W/"..." version of rec, as its answers carry it. */
    const char *(*version)(qsso_scim_call_t *c, const void *rec);
    /* n as the edit starts from old: a copy (PATCH), or a copy whose
     * replaceable attributes are empty (PUT, RFC 7644 3.5.1). */
    void (*copy)(qsso_scim_call_t *c, void *n, const void *old, int put);
    /* One PATCH operation on an explicit path (lenient 0), or one key of
     * a body (lenient 1: unknown and read-only attributes are ignored). */
    int (*apply)(qsso_scim_call_t *c, void *rec, qsso_scim_op_e op,
                 const qsso_scim_path_t *path, json_t *v, int lenient);
    /* Every key of a resource body, or of a path-less PATCH value. */
    int (*apply_body)(qsso_scim_call_t *c, void *rec, qsso_scim_op_e op,
                      json_t *body);
    /* After the edit: are the required attributes there? 0 or 400. */
    int (*check)(qsso_scim_call_t *c, const void *rec);
    /* Writes n over old and answers; QSSO_SCIM_CHANGED when old is no
     * longer what is stored (compare-and-set) and nothing was written. */
    int (*commit)(qsso_scim_call_t *c, const void *old, void *n);
    /* Deletes old and answers 204; QSSO_SCIM_CHANGED as commit. */
    int (*remove)(qsso_scim_call_t *c, const void *old);
} qsso_scim_type_t;

/* PUT, PATCH and DELETE of the item c->id, for every resource type: load,
 * If-Match against the loaded version, edit, then the type's write, which
 * compares the stored record with the loaded one in the same step. When
 * another client wrote in between, a call with If-Match gets 412 (its
 * precondition no longer holds); one without is applied again to what is
 * now stored, so neither client's change is lost. Returns c->status. */
int qsso_scim_resource_write(qsso_scim_call_t *c, const qsso_scim_type_t *t);

/* startIndex (1-based) and count from the query, clamped as RFC 7644
 * 3.4.2.4 says; 0 or 400 (set). */
int qsso_scim_page(qsso_scim_call_t *c, int *start, int *count);
/* A ListResponse of one page (which it takes) out of total results. */
json_t *qsso_scim_list(int start, int total, json_t *page);
/* Is "members" in excludedAttributes? */
int qsso_scim_excludes(const qsso_scim_call_t *c, const char *attr);

/* A boolean as JSON true/false or the strings "true"/"false" in any case
 * (Entra ID sends "False"): 0 and *out, or -1. */
int qsso_scim_bool(json_t *v, int *out);
/* A string of at most max bytes without control characters; JSON null
 * is "" when nullable. 0 and *out in p, or 400 invalidValue (set). */
int qsso_scim_string(qsso_scim_call_t *c, json_t *v, const char *name,
                     apr_size_t max, int nullable, const char **out);

#endif

/* The shared store: sessions, pending requests, the replay cache. */
#ifndef QSSO_STORE_H
#define QSSO_STORE_H

#include "qsso.h"

typedef struct {
    const char *host;
    int port;
} qsso_store_host_t;

typedef struct {
    const char *scheme;     /* "redis", "redis+sentinel" or "shm" */
    const char *host;       /* redis: the server */
    int port;
    apr_array_header_t *sentinels;  /* redis+sentinel: qsso_store_host_t */
    const char *master;     /* redis+sentinel: the monitored master's name */
    const char *user;       /* NULL: no ACL user (servers and sentinels) */
    const char *pass;       /* NULL: no AUTH */
    int db;
    apr_size_t shm_bytes;   /* shm: size of the shared memory */
} qsso_store_url_t;

typedef enum {
    QSSO_STORE_OK = 0,
    QSSO_STORE_NOTFOUND,    /* get/take: no such key */
    QSSO_STORE_EXISTS,      /* add: the key was already there */
    QSSO_STORE_FULL,        /* add: no room, and the store evicts nothing
                             * to make some (QSSOStore shm's replay
                             * cache); *err says which region */
    QSSO_STORE_ERROR,       /* unreachable or failing; *err says why */
    QSSO_STORE_CHANGED      /* compare-and-set: changed since it was read */
} qsso_store_rc_e;

typedef struct qsso_store_t qsso_store_t;

/* A command's reply, copied out of the backend into a pool. */
typedef enum {
    QSSO_REPLY_NIL = 0,
    QSSO_REPLY_STRING,      /* also status replies such as OK */
    QSSO_REPLY_INTEGER,
    QSSO_REPLY_ARRAY
} qsso_store_reply_e;

typedef struct qsso_store_reply_t qsso_store_reply_t;
struct qsso_store_reply_t {
    qsso_store_reply_e type;
    const char *str;        /* STRING: NUL-terminated, len bytes */
    apr_size_t len;
    apr_int64_t integer;    /* INTEGER */
    apr_array_header_t *elements;   /* ARRAY: of qsso_store_reply_t * */
};

/* Parses redis://[user:pass@]host:port[/db],
 * redis+sentinel://[user:pass@]h1:p1,h2:p2/MASTER[/db] or shm[:BYTES];
 * NULL or what is wrong. */
const char *qsso_store_parse_url(apr_pool_t *p, const char *url,
                                 qsso_store_url_t *out);

/* Records under this prefix (sessions) may be answered from a cache in
 * the process, kept only while Redis reports every change to them. */
#define QSSO_STORE_CACHED_PREFIX "qsso:sess:"
/* Is key one of those? */
int qsso_store_is_cached_key(const char *key);

/* Opens a Redis store whose connections live as long as p (a child
 * process pool); they are made lazily and shared safely between threads.
 * With cache set, qsso_store_get_cached may answer from the process.
 * (shm is set up by the server: qsso_store_shm.h.) */
const char *qsso_store_open(apr_pool_t *p, const char *url, int max_conns,
                            int cache, qsso_store_t **out);

/* Value copied into p (NUL-terminated, length in *len). */
qsso_store_rc_e qsso_store_get(qsso_store_t *st, apr_pool_t *p,
                               const char *key, char **val, apr_size_t *len,
                               const char **err);
/* Like get; a key under QSSO_STORE_CACHED_PREFIX may be answered from a
 * copy in this process, which Redis invalidates (client-side caching):
 * a record changed or deleted anywhere is not answered from the copy once
 * Redis's announcement has reached this process (Redis queues it before
 * it answers the command that changed it), nor ever more than 5 s after
 * it was read. Every announcement that reached the process before `since`
 * (the request's arrival) is applied first. */
qsso_store_rc_e qsso_store_get_cached(qsso_store_t *st, apr_pool_t *p,
                                      const char *key, apr_time_t since,
                                      char **val, apr_size_t *len,
                                      const char **err);
/* Something the server log should say about the store, once (the cache
 * turned off, and why); NULL for nothing. */
const char *qsso_store_note(qsso_store_t *st, apr_pool_t *p);
/* Get and delete in one atomic step: a value can be taken once. */
qsso_store_rc_e qsso_store_take(qsso_store_t *st, apr_pool_t *p,
                                const char *key, char **val, apr_size_t *len,
                                const char **err);
/* Stores val until the Unix time expires_at (seconds). */
qsso_store_rc_e qsso_store_set(qsso_store_t *st, apr_pool_t *p,
                               const char *key, const char *val,
                               apr_size_t len, apr_int64_t expires_at,
                               const char **err);
/* Like set, but only when key does not exist: QSSO_STORE_EXISTS then. */
qsso_store_rc_e qsso_store_add(qsso_store_t *st, apr_pool_t *p,
                               const char *key, const char *val,
                               apr_size_t len, apr_int64_t expires_at,
                               const char **err);
qsso_store_rc_e qsso_store_del(qsso_store_t *st, apr_pool_t *p,
                               const char *key, const char **err);
/* Adds one to the counter under key in one atomic step; the counter ends
 * `window` seconds after its first count. *n is the count with this one,
 * *left the seconds until the counter ends. */
qsso_store_rc_e qsso_store_count(qsso_store_t *st, apr_pool_t *p,
                                 const char *key, int window,
                                 apr_int64_t *n, int *left,
                                 const char **err);

/* Runs one command of the backend's own language (Redis) with binary-safe
 * arguments; the reply lives in p. An error reply is QSSO_STORE_ERROR with
 * *err saying what it was. Only the user directory, SCIM and qssoctl use
 * it: they need Redis. */
qsso_store_rc_e qsso_store_command(qsso_store_t *st, apr_pool_t *p, int argc,
                                   const char **argv,
                                   const apr_size_t *argvlen,
                                   qsso_store_reply_t **reply,
                                   const char **err);
/* Like qsso_store_command with NUL-terminated arguments, NULL-terminated. */
qsso_store_rc_e qsso_store_commandv(qsso_store_t *st, apr_pool_t *p,
                                    qsso_store_reply_t **reply,
                                    const char **err, ...);

/* A store object over a backend's instance, for backends set up outside
 * qsso_store_open (shm). */
struct qsso_store_backend_t;
qsso_store_t *qsso_store_wrap(apr_pool_t *p,
                              const struct qsso_store_backend_t *backend,
                              void *impl);
/* Does the store run arbitrary commands (the user directory needs it)? */
int qsso_store_has_directory(const qsso_store_t *st);

/* The store of this process, set in child_init; NULL when none. */
qsso_store_t *qsso_store_process(void);
void qsso_store_set_process(qsso_store_t *st);

#endif

/* The Redis store backend (hiredis). */
#ifndef QSSO_STORE_REDIS_H
#define QSSO_STORE_REDIS_H

#include "qsso_store.h"

typedef enum {
    QSSO_GET_PLAIN = 0,
    QSSO_GET_TAKE,          /* get and delete */
    QSSO_GET_CACHED         /* may answer from this process's cache */
} qsso_store_get_e;

typedef struct qsso_store_backend_t {
    const char *name;
    const char *(*open)(apr_pool_t *p, const qsso_store_url_t *u,
                        int max_conns, int cache, void **impl);
    /* since: for QSSO_GET_CACHED, the changes that reached this process
     * before it must be seen (the request's arrival). */
    qsso_store_rc_e (*get)(void *impl, apr_pool_t *p, const char *key,
                           qsso_store_get_e mode, apr_time_t since,
                           char **val, apr_size_t *len, const char **err);
    qsso_store_rc_e (*set)(void *impl, apr_pool_t *p, const char *key,
                           const char *val, apr_size_t len,
                           apr_int64_t expires_at, int only_new,
                           const char **err);
    qsso_store_rc_e (*del)(void *impl, apr_pool_t *p, const char *key,
                           const char **err);
    /* qsso_store_count. */
    qsso_store_rc_e (*count)(void *impl, apr_pool_t *p, const char *key,
                             int window, apr_int64_t *n, int *left,
                             const char **err);
    /* Any command, for the user directory; NULL when unsupported. */
    qsso_store_rc_e (*command)(void *impl, apr_pool_t *p, int argc,
                               const char **argv, const apr_size_t *argvlen,
                               qsso_store_reply_t **reply, const char **err);
    /* Something the server log should say, once; NULL for none. */
    const char *(*note)(void *impl, apr_pool_t *p);
} qsso_store_backend_t;

extern const qsso_store_backend_t qsso_store_redis_backend;

#endif

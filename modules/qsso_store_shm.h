/* QSSOStore shm: the embedded store in Apache's shared memory. Needs
 * httpd (socache, global mutex), so it is not in the unit tests or
 * qssoctl. */
#ifndef QSSO_STORE_SHM_H
#define QSSO_STORE_SHM_H

#include "qsso.h"
#include "qsso_store.h"

/* How QSSOStore shm:BYTES is shared out (docs/directives.md, QSSOStore):
 * 5/8 for sessions, 1/4 for pending logins, 1/8 for the replay cache. */
typedef struct {
    apr_size_t session_bytes;   /* shmcb: the oldest is evicted when full */
    apr_size_t pending_bytes;   /* shmcb: the oldest is evicted when full */
    apr_size_t seen_bytes;      /* fixed slots: refuses when full */
    apr_size_t seen_ids;        /* assertion IDs it holds at most */
} qsso_store_shm_split_t;

void qsso_store_shm_split(apr_size_t bytes, qsso_store_shm_split_t *out);

/* pre_config: registers the mutex type "qsso-shm" (Mutex directive). */
void qsso_store_shm_register(apr_pool_t *pconf);
/* NULL when mod_socache_shmcb is loaded, else what to load. */
const char *qsso_store_shm_check(void);
/* post_config: makes the shared memory and its mutex in pconf (a restart
 * starts with an empty store). NULL or what failed. */
const char *qsso_store_shm_parent_init(apr_pool_t *pconf,
                                       apr_pool_t *ptemp, server_rec *s,
                                       apr_size_t bytes);
/* child_init: attaches the mutex; *out is the store of this process,
 * with its own session cache when cache is set (QSSOSessionCache). */
const char *qsso_store_shm_child_init(apr_pool_t *pchild, server_rec *s,
                                      int cache, qsso_store_t **out);

#endif

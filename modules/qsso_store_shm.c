/*
 * The embedded store, `QSSOStore shm[:BYTES]`, for a single host without
 * Redis: sessions, pending requests and the replay cache in Apache's
 * shared-memory object cache (mod_socache_shmcb), shared by every process
 * of the server. shmcb is not safe across processes by itself, so every
 * operation holds a global mutex; "take" and "add" are a read and a write
 * under one lock, which makes them as atomic as Redis' GETDEL and SET NX.
 *
 * The cache and its mutex belong to a configuration generation, as
 * mod_ssl's session cache does: a restart, graceful or not, starts with an
 * empty store and users sign in again (keeping it across generations would
 * leave cleanups of an unloaded mod_socache_shmcb in the process pool).
 * There is no user directory here (no JIT records, no SCIM):
 * qsso_config_check refuses the directives that need one.
 *
 * With QSSOSessionCache each process also keeps the sessions it has read,
 * so a protected request does not queue on the global mutex. A counter in
 * shared memory (epoch) goes up after every write or delete of a session
 * record, by any process; a process drops its whole copy when the counter
 * has moved, and keeps a value it read only if the counter did not move
 * while it read. A logout on one process is thus seen by every other one
 * on its next request.
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <apr_atomic.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "qsso.h"
#include "qsso_cache.h"
#include "qsso_store.h"
#include "qsso_store_redis.h"
#include "qsso_store_shm.h"

APLOG_USE_MODULE(qsso);

#define QSSO_SHM_MUTEX "qsso-shm"
#define QSSO_SHM_MAX_VALUE (32 * 1024)     /* bytes: the largest record */
#define QSSO_SHM_FOREVER apr_time_from_sec(10 * 365 * 86400)

typedef struct {
    const ap_socache_provider_t *prov;
    ap_socache_instance_t *inst;
    apr_global_mutex_t *mutex;
    server_rec *s;
    apr_size_t bytes;
    volatile apr_uint32_t *epoch;   /* in shared memory: session writes */
} qsso_store_shm_t;

/* One per process: the shared store and this process's copy. */
typedef struct {
    qsso_store_shm_t *sh;
    apr_thread_mutex_t *lock;       /* NULL: no cache */
    qsso_cache_t *cache;
    apr_uint32_t seen;              /* the epoch the cache belongs to */
} qsso_store_shm_proc_t;

/* The store of this configuration generation, set in post_config (in
 * pconf) and inherited by the children it forks. */
static qsso_store_shm_t *qsso_store_shm_current = NULL;

void qsso_store_shm_register(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, QSSO_SHM_MUTEX, NULL, APR_LOCK_DEFAULT, 0);
}

const char *qsso_store_shm_check(void)
{
    if (ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                           AP_SOCACHE_PROVIDER_VERSION) == NULL)
        return "needs mod_socache_shmcb (LoadModule socache_shmcb_module "
               "modules/mod_socache_shmcb.so)";
    return NULL;
}

const char *qsso_store_shm_parent_init(apr_pool_t *pconf,
                                       apr_pool_t *ptemp, server_rec *s,
                                       apr_size_t bytes)
{
    struct ap_socache_hints hints = {64, 1024, 300};
    qsso_store_shm_t *sh;
    apr_shm_t *shm;
    const char *err, *file;
    apr_status_t rv;

    if ((err = qsso_store_shm_check()) != NULL)
        return err;
    sh = apr_pcalloc(pconf, sizeof(*sh));
    sh->prov = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                  AP_SOCACHE_PROVIDER_VERSION);
    sh->s = s;
    sh->bytes = bytes;
    file = apr_psprintf(ptemp, "%s(%" APR_SIZE_T_FMT ")",
                        ap_runtime_dir_relative(ptemp, "qsso-store.shm"),
                        bytes);
    if ((err = sh->prov->create(&sh->inst, file, ptemp, pconf)) != NULL)
        return apr_psprintf(ptemp, "cannot create the shared memory: %s",
                            err);
    if ((rv = sh->prov->init(sh->inst, "qsso", &hints, s, pconf))
        != APR_SUCCESS)
        return apr_psprintf(ptemp, "cannot set up %" APR_SIZE_T_FMT
                            " bytes of shared memory (error %d)", bytes, rv);
    if ((rv = ap_global_mutex_create(&sh->mutex, NULL, QSSO_SHM_MUTEX, NULL,
                                     s, pconf, 0)) != APR_SUCCESS)
        return "cannot create the shared memory's mutex";
    /* Anonymous: the children inherit it at fork. */
    if ((rv = apr_shm_create(&shm, sizeof(apr_uint32_t), NULL, pconf))
        != APR_SUCCESS)
        return "cannot create the shared session counter";
    sh->epoch = apr_shm_baseaddr_get(shm);
    *sh->epoch = 0;
    qsso_store_shm_current = sh;
    return NULL;
}

static qsso_store_rc_e qsso_store_shm_locked(qsso_store_shm_t *sh,
                                             const char **err)
{
    if (apr_global_mutex_lock(sh->mutex) != APR_SUCCESS) {
        *err = "cannot lock the shared memory";
        return QSSO_STORE_ERROR;
    }
    return QSSO_STORE_OK;
}

/* After a session record changed: every process's copy is void. */
static void qsso_store_shm_changed(qsso_store_shm_t *sh, const char *key)
{
    if (qsso_store_is_cached_key(key))
        apr_atomic_inc32(sh->epoch);
}

static qsso_store_rc_e qsso_store_shm_read(qsso_store_shm_t *sh,
                                           apr_pool_t *p, const char *key,
                                           qsso_store_get_e mode,
                                           char **val, apr_size_t *len,
                                           const char **err);

static qsso_store_rc_e qsso_store_shm_get(void *impl, apr_pool_t *p,
                                          const char *key,
                                          qsso_store_get_e mode,
                                          apr_time_t since,
                                          char **val, apr_size_t *len,
                                          const char **err)
{
    qsso_store_shm_proc_t *pr = impl;
    qsso_store_rc_e rc;
    apr_uint32_t e;

    (void)since;                /* the counter is read at every call */
    if (mode != QSSO_GET_CACHED || pr->lock == NULL
        || !qsso_store_is_cached_key(key))
        return qsso_store_shm_read(pr->sh, p, key, mode, val, len, err);
    /* Read under the lock, so that the threads of this process see the
     * counter move forward only. */
    apr_thread_mutex_lock(pr->lock);
    e = apr_atomic_read32(pr->sh->epoch);
    if (pr->seen != e) {
        qsso_cache_flush(pr->cache);
        pr->seen = e;
    }
    if (qsso_cache_lookup(pr->cache, p, key, apr_time_now(), val, len)) {
        apr_thread_mutex_unlock(pr->lock);
        return QSSO_STORE_OK;
    }
    apr_thread_mutex_unlock(pr->lock);
    rc = qsso_store_shm_read(pr->sh, p, key, mode, val, len, err);
    if (rc == QSSO_STORE_OK) {
        apr_thread_mutex_lock(pr->lock);
        if (pr->seen == e && apr_atomic_read32(pr->sh->epoch) == e)
            qsso_cache_insert(pr->cache, key, *val, *len, apr_time_now());
        apr_thread_mutex_unlock(pr->lock);
    }
    return rc;
}

static qsso_store_rc_e qsso_store_shm_read(qsso_store_shm_t *sh,
                                           apr_pool_t *p, const char *key,
                                           qsso_store_get_e mode,
                                           char **val, apr_size_t *len,
                                           const char **err)
{
    unsigned char *buf = apr_palloc(p, QSSO_SHM_MAX_VALUE + 1);
    unsigned int n = QSSO_SHM_MAX_VALUE;
    apr_status_t rv;

    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    rv = sh->prov->retrieve(sh->inst, sh->s, (const unsigned char *)key,
                            (unsigned int)strlen(key), buf, &n, p);
    if (rv == APR_SUCCESS && mode == QSSO_GET_TAKE)
        sh->prov->remove(sh->inst, sh->s, (const unsigned char *)key,
                         (unsigned int)strlen(key), p);
    apr_global_mutex_unlock(sh->mutex);
    if (mode == QSSO_GET_TAKE)
        qsso_store_shm_changed(sh, key);
    if (rv != APR_SUCCESS)
        return QSSO_STORE_NOTFOUND;
    buf[n] = '\0';
    *val = (char *)buf;
    *len = n;
    return QSSO_STORE_OK;
}

static qsso_store_rc_e qsso_store_shm_set(void *impl, apr_pool_t *p,
                                          const char *key, const char *val,
                                          apr_size_t len,
                                          apr_int64_t expires_at,
                                          int only_new, const char **err)
{
    qsso_store_shm_t *sh = ((qsso_store_shm_proc_t *)impl)->sh;
    apr_time_t expiry = expires_at > 0 ? apr_time_from_sec(expires_at)
                                       : apr_time_now() + QSSO_SHM_FOREVER;
    unsigned char *probe = only_new ? apr_palloc(p, QSSO_SHM_MAX_VALUE)
                                    : NULL;
    unsigned int n = QSSO_SHM_MAX_VALUE;
    apr_status_t rv;

    if (len > QSSO_SHM_MAX_VALUE) {
        *err = apr_psprintf(p, "a %" APR_SIZE_T_FMT " byte record is over "
                            "the %d byte limit of QSSOStore shm", len,
                            QSSO_SHM_MAX_VALUE);
        return QSSO_STORE_ERROR;
    }
    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    /* Read and write under one lock: SET NX. */
    if (only_new
        && sh->prov->retrieve(sh->inst, sh->s, (const unsigned char *)key,
                              (unsigned int)strlen(key), probe, &n, p)
               == APR_SUCCESS) {
        apr_global_mutex_unlock(sh->mutex);
        return QSSO_STORE_EXISTS;
    }
    rv = sh->prov->store(sh->inst, sh->s, (const unsigned char *)key,
                         (unsigned int)strlen(key), expiry,
                         (unsigned char *)val, (unsigned int)len, p);
    apr_global_mutex_unlock(sh->mutex);
    qsso_store_shm_changed(sh, key);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "the shared memory (%" APR_SIZE_T_FMT
                            " bytes) refused a record; raise the size in "
                            "QSSOStore shm:BYTES", sh->bytes);
        return QSSO_STORE_ERROR;
    }
    return QSSO_STORE_OK;
}

static qsso_store_rc_e qsso_store_shm_del(void *impl, apr_pool_t *p,
                                          const char *key, const char **err)
{
    qsso_store_shm_t *sh = ((qsso_store_shm_proc_t *)impl)->sh;

    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    sh->prov->remove(sh->inst, sh->s, (const unsigned char *)key,
                     (unsigned int)strlen(key), p);
    apr_global_mutex_unlock(sh->mutex);
    qsso_store_shm_changed(sh, key);
    return QSSO_STORE_OK;
}

static const qsso_store_backend_t qsso_store_shm_backend = {
    "shm", NULL, qsso_store_shm_get, qsso_store_shm_set, qsso_store_shm_del,
    NULL, NULL
};

const char *qsso_store_shm_child_init(apr_pool_t *pchild, server_rec *s,
                                      int cache, qsso_store_t **out)
{
    qsso_store_shm_t *sh = qsso_store_shm_current;
    qsso_store_shm_proc_t *pr = apr_pcalloc(pchild, sizeof(*pr));

    (void)s;
    if (sh == NULL)
        return "the shared memory was not set up at startup";
    if (apr_global_mutex_child_init(&sh->mutex,
                                    apr_global_mutex_lockfile(sh->mutex),
                                    pchild) != APR_SUCCESS)
        return "cannot attach the shared memory's mutex";
    pr->sh = sh;
    if (cache
        && (pr->cache = qsso_cache_create(pchild, QSSO_CACHE_SESSION_SLOTS,
                                          QSSO_CACHE_SESSION_BYTES,
                                          QSSO_CACHE_SESSION_AGE)) != NULL
        && apr_thread_mutex_create(&pr->lock, APR_THREAD_MUTEX_DEFAULT,
                                   pchild) != APR_SUCCESS)
        pr->lock = NULL;
    *out = qsso_store_wrap(pchild, &qsso_store_shm_backend, pr);
    return NULL;
}

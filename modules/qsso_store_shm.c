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
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <apr_global_mutex.h>
#include <apr_strings.h>

#include "qsso.h"
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
} qsso_store_shm_t;

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

static qsso_store_rc_e qsso_store_shm_get(void *impl, apr_pool_t *p,
                                          const char *key,
                                          qsso_store_get_e mode,
                                          char **val, apr_size_t *len,
                                          const char **err)
{
    qsso_store_shm_t *sh = impl;
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
    qsso_store_shm_t *sh = impl;
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
    qsso_store_shm_t *sh = impl;

    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    sh->prov->remove(sh->inst, sh->s, (const unsigned char *)key,
                     (unsigned int)strlen(key), p);
    apr_global_mutex_unlock(sh->mutex);
    return QSSO_STORE_OK;
}

static const qsso_store_backend_t qsso_store_shm_backend = {
    "shm", NULL, qsso_store_shm_get, qsso_store_shm_set, qsso_store_shm_del,
    NULL, NULL
};

const char *qsso_store_shm_child_init(apr_pool_t *pchild, server_rec *s,
                                      qsso_store_t **out)
{
    qsso_store_shm_t *sh = qsso_store_shm_current;

    (void)s;
    if (sh == NULL)
        return "the shared memory was not set up at startup";
    if (apr_global_mutex_child_init(&sh->mutex,
                                    apr_global_mutex_lockfile(sh->mutex),
                                    pchild) != APR_SUCCESS)
        return "cannot attach the shared memory's mutex";
    *out = qsso_store_wrap(pchild, &qsso_store_shm_backend, sh);
    return NULL;
}

/*
 * The embedded store, `QSSOStore shm[:BYTES]`, for a single host without
 * Redis, shared by every process of the server. Three regions, so that
 * what unauthenticated clients write cannot push out the rest: sessions
 * and pending logins in two caches of Apache's shared-memory object cache
 * (mod_socache_shmcb, which evicts its oldest record when full), and the
 * replay cache in a fixed-slot key set (qsso_keyset.c) that refuses a new
 * ID rather than forget one. shmcb is not safe across processes by
 * itself, so every operation holds a global mutex; "take", "add" and
 * "count" are a read and a write under one lock, which makes them as
 * atomic as Redis' GETDEL, SET NX and a script.
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
#include <stdio.h>
#include <stdlib.h>
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
#include "qsso_codec.h"
#include "qsso_keyset.h"
#include "qsso_pending.h"
#include "qsso_store.h"
#include "qsso_store_redis.h"
#include "qsso_store_shm.h"

APLOG_USE_MODULE(qsso);

#define QSSO_SHM_MUTEX "qsso-shm"
#define QSSO_SHM_MAX_VALUE (32 * 1024)     /* bytes: the largest record */
#define QSSO_SHM_FOREVER apr_time_from_sec(10 * 365 * 86400)
#define QSSO_SHM_SEEN_PREFIX "qsso:seen:"

/* Where a record lives. Sessions are written only by accepted logins,
 * the replay cache only by responses whose signature verified; pending
 * logins (and the per-address counters that cap them) are what any
 * unauthenticated GET writes, so they get a region of their own and can
 * evict nothing but each other. */
typedef enum {
    QSSO_SHM_SESSIONS = 0,
    QSSO_SHM_PENDING,
    QSSO_SHM_SEEN
} qsso_store_shm_region_e;

typedef struct {
    const ap_socache_provider_t *prov;
    ap_socache_instance_t *sessions;    /* shmcb: evicts the oldest */
    ap_socache_instance_t *pending;     /* shmcb: evicts the oldest */
    qsso_keyset_t *seen;                /* refuses when full */
    apr_global_mutex_t *mutex;
    server_rec *s;
    qsso_store_shm_split_t split;
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

void qsso_store_shm_split(apr_size_t bytes, qsso_store_shm_split_t *out)
{
    out->seen_bytes = bytes / 8;
    out->pending_bytes = bytes / 4;
    out->session_bytes = bytes - out->seen_bytes - out->pending_bytes;
    out->seen_ids = qsso_keyset_capacity(out->seen_bytes);
}

/* One shmcb cache of `bytes` in pconf, named for the runtime directory
 * (the name only matters where anonymous shared memory is missing). */
static const char *qsso_store_shm_cache(qsso_store_shm_t *sh,
                                        apr_pool_t *pconf, apr_pool_t *ptemp,
                                        const char *name, apr_size_t bytes,
                                        unsigned int avg_value,
                                        ap_socache_instance_t **out)
{
    /* ids are SHA-256 digests; values as the records usually are */
    struct ap_socache_hints hints = {32, 0, 300};
    const char *file, *err;
    apr_status_t rv;

    hints.avg_obj_size = avg_value;
    file = apr_psprintf(ptemp, "%s(%" APR_SIZE_T_FMT ")",
                        ap_runtime_dir_relative(ptemp, name), bytes);
    if ((err = sh->prov->create(out, file, ptemp, pconf)) != NULL)
        return apr_psprintf(ptemp, "cannot create the shared memory for %s: "
                            "%s", name, err);
    if ((rv = sh->prov->init(*out, name, &hints, sh->s, pconf))
        != APR_SUCCESS)
        return apr_psprintf(ptemp, "cannot set up %" APR_SIZE_T_FMT
                            " bytes of shared memory for %s (error %d)",
                            bytes, name, rv);
    return NULL;
}

const char *qsso_store_shm_parent_init(apr_pool_t *pconf,
                                       apr_pool_t *ptemp, server_rec *s,
                                       apr_size_t bytes)
{
    qsso_store_shm_t *sh;
    apr_shm_t *shm;
    const char *err;
    char *base;
    apr_status_t rv;

    if ((err = qsso_store_shm_check()) != NULL)
        return err;
    sh = apr_pcalloc(pconf, sizeof(*sh));
    sh->prov = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, "shmcb",
                                  AP_SOCACHE_PROVIDER_VERSION);
    sh->s = s;
    qsso_store_shm_split(bytes, &sh->split);
    if ((err = qsso_store_shm_cache(sh, pconf, ptemp, "qsso-sessions.shm",
                                    sh->split.session_bytes, 512,
                                    &sh->sessions)) != NULL
        || (err = qsso_store_shm_cache(sh, pconf, ptemp, "qsso-pending.shm",
                                       sh->split.pending_bytes, 128,
                                       &sh->pending)) != NULL)
        return err;
    if ((rv = ap_global_mutex_create(&sh->mutex, NULL, QSSO_SHM_MUTEX, NULL,
                                     s, pconf, 0)) != APR_SUCCESS)
        return "cannot create the shared memory's mutex";
    /* Anonymous: the children inherit it at fork. The counter first, in
     * a slot of 8 bytes, so the key set after it is aligned. */
    if ((rv = apr_shm_create(&shm, 8 + sh->split.seen_bytes, NULL, pconf))
        != APR_SUCCESS)
        return "cannot create the shared replay cache and session counter";
    base = apr_shm_baseaddr_get(shm);
    sh->epoch = (volatile apr_uint32_t *)base;
    *sh->epoch = 0;
    if ((sh->seen = qsso_keyset_init(base + 8, sh->split.seen_bytes))
        == NULL)
        return "has no room for the replay cache";
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

static qsso_store_shm_region_e qsso_store_shm_region(const char *key)
{
    if (qsso_store_is_cached_key(key))
        return QSSO_SHM_SESSIONS;
    if (!strncmp(key, QSSO_SHM_SEEN_PREFIX, sizeof(QSSO_SHM_SEEN_PREFIX) - 1))
        return QSSO_SHM_SEEN;
    return QSSO_SHM_PENDING;
}

/* The id a record has in shared memory: the SHA-256 of its key. shmcb
 * picks a record's subcache by the first byte of its id, and every key
 * begins "qsso:", so the keys themselves would all share one subcache
 * (a sixteenth or less of the memory). */
static const unsigned char *qsso_store_shm_id(apr_pool_t *p, const char *key)
{
    const char *hex = qsso_codec_sha256_hex(p, key, strlen(key));
    unsigned char *id = apr_palloc(p, QSSO_KEYSET_DIGEST);
    int i;

    for (i = 0; i < QSSO_KEYSET_DIGEST; i++) {
        char pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        id[i] = (unsigned char)strtoul(pair, NULL, 16);
    }
    return id;
}

static ap_socache_instance_t *qsso_store_shm_cache_of(qsso_store_shm_t *sh,
                                                      const char *key)
{
    return qsso_store_shm_region(key) == QSSO_SHM_SESSIONS ? sh->sessions
                                                           : sh->pending;
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
    const unsigned char *id = qsso_store_shm_id(p, key);
    ap_socache_instance_t *inst = qsso_store_shm_cache_of(sh, key);
    apr_status_t rv;

    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    if (qsso_store_shm_region(key) == QSSO_SHM_SEEN) {
        /* Only membership is kept: the replay cache's value is "1". */
        rv = qsso_keyset_has(sh->seen, id, apr_time_sec(apr_time_now()))
                 ? APR_SUCCESS : APR_NOTFOUND;
        if (rv == APR_SUCCESS && mode == QSSO_GET_TAKE)
            qsso_keyset_remove(sh->seen, id);
        apr_global_mutex_unlock(sh->mutex);
        if (rv != APR_SUCCESS)
            return QSSO_STORE_NOTFOUND;
        *val = apr_pstrdup(p, "1");
        *len = 1;
        return QSSO_STORE_OK;
    }
    rv = sh->prov->retrieve(inst, sh->s, id, QSSO_KEYSET_DIGEST, buf, &n, p);
    if (rv == APR_SUCCESS && mode == QSSO_GET_TAKE)
        sh->prov->remove(inst, sh->s, id, QSSO_KEYSET_DIGEST, p);
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

/* An add to the replay cache, under the lock: refused, never evicting,
 * when the region is full. */
static qsso_store_rc_e qsso_store_shm_add_seen(qsso_store_shm_t *sh,
                                               apr_pool_t *p,
                                               const unsigned char *id,
                                               apr_int64_t expires_at,
                                               const char **err)
{
    apr_int64_t now = apr_time_sec(apr_time_now());

    switch (qsso_keyset_add(sh->seen, p, id, expires_at > 0 ? expires_at
                                        : now + 10 * 365 * 86400, now)) {
    case QSSO_KEYSET_ADDED:
        return QSSO_STORE_OK;
    case QSSO_KEYSET_EXISTS:
        return QSSO_STORE_EXISTS;
    default:
        *err = apr_psprintf(p, "the replay cache of QSSOStore shm holds its "
                            "%" APR_SIZE_T_FMT " assertion IDs, none expired "
                            "yet (1/8 of %" APR_SIZE_T_FMT " bytes)",
                            sh->split.seen_ids, sh->split.session_bytes
                                + sh->split.pending_bytes
                                + sh->split.seen_bytes);
        return QSSO_STORE_FULL;
    }
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
    const unsigned char *id = qsso_store_shm_id(p, key);
    ap_socache_instance_t *inst = qsso_store_shm_cache_of(sh, key);
    qsso_store_rc_e rc;
    apr_status_t rv;

    if (len > QSSO_SHM_MAX_VALUE) {
        *err = apr_psprintf(p, "a %" APR_SIZE_T_FMT " byte record is over "
                            "the %d byte limit of QSSOStore shm", len,
                            QSSO_SHM_MAX_VALUE);
        return QSSO_STORE_ERROR;
    }
    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    /* The replay cache is only ever added to (SET NX). */
    if (qsso_store_shm_region(key) == QSSO_SHM_SEEN) {
        rc = qsso_store_shm_add_seen(sh, p, id, expires_at, err);
        apr_global_mutex_unlock(sh->mutex);
        return rc;
    }
    /* Read and write under one lock: SET NX. */
    if (only_new
        && sh->prov->retrieve(inst, sh->s, id, QSSO_KEYSET_DIGEST, probe, &n,
                              p) == APR_SUCCESS) {
        apr_global_mutex_unlock(sh->mutex);
        return QSSO_STORE_EXISTS;
    }
    rv = sh->prov->store(inst, sh->s, id, QSSO_KEYSET_DIGEST, expiry,
                         (unsigned char *)val, (unsigned int)len, p);
    apr_global_mutex_unlock(sh->mutex);
    qsso_store_shm_changed(sh, key);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "the shared memory (%" APR_SIZE_T_FMT
                            " bytes for %s) refused a %" APR_SIZE_T_FMT
                            " byte record; raise the size in "
                            "QSSOStore shm:BYTES",
                            inst == sh->sessions ? sh->split.session_bytes
                                                 : sh->split.pending_bytes,
                            inst == sh->sessions ? "sessions"
                                                 : "pending logins", len);
        return QSSO_STORE_ERROR;
    }
    return QSSO_STORE_OK;
}

static qsso_store_rc_e qsso_store_shm_del(void *impl, apr_pool_t *p,
                                          const char *key, const char **err)
{
    qsso_store_shm_t *sh = ((qsso_store_shm_proc_t *)impl)->sh;
    const unsigned char *id = qsso_store_shm_id(p, key);

    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    if (qsso_store_shm_region(key) == QSSO_SHM_SEEN)
        qsso_keyset_remove(sh->seen, id);
    else
        sh->prov->remove(qsso_store_shm_cache_of(sh, key), sh->s, id,
                         QSSO_KEYSET_DIGEST, p);
    apr_global_mutex_unlock(sh->mutex);
    qsso_store_shm_changed(sh, key);
    return QSSO_STORE_OK;
}

/* A counter is a record "COUNT END" (END: Unix seconds) in the pending
 * region, read and rewritten under the lock. Under a flood from many
 * addresses it may be evicted with the pending logins, which only lets
 * that address start counting again. shmcb appends every rewrite and
 * frees the old copy only when it reaches the front of its subcache, so
 * a counter past the ceiling (the address is refused anyway) is no longer
 * rewritten: else one address's refused GETs would push out the pending
 * logins that share its counter's subcache. */
static qsso_store_rc_e qsso_store_shm_count(void *impl, apr_pool_t *p,
                                            const char *key, int window,
                                            apr_int64_t *n, int *left,
                                            const char **err)
{
    qsso_store_shm_t *sh = ((qsso_store_shm_proc_t *)impl)->sh;
    const unsigned char *id = qsso_store_shm_id(p, key);
    apr_int64_t now = apr_time_sec(apr_time_now()), count = 0, end = 0;
    unsigned char buf[64];
    unsigned int len = sizeof(buf) - 1;
    const char *rec;
    apr_status_t rv;

    if (qsso_store_shm_locked(sh, err) != QSSO_STORE_OK)
        return QSSO_STORE_ERROR;
    if (sh->prov->retrieve(sh->pending, sh->s, id, QSSO_KEYSET_DIGEST, buf,
                           &len, p) == APR_SUCCESS) {
        buf[len] = '\0';
        if (sscanf((char *)buf, "%" APR_INT64_T_FMT " %" APR_INT64_T_FMT,
                   &count, &end) != 2 || end <= now)
            count = 0;
    }
    if (count > qsso_pending_ceiling() && qsso_pending_ceiling() > 0) {
        apr_global_mutex_unlock(sh->mutex);
        *n = count + 1;
        *left = (int)(end - now);
        return QSSO_STORE_OK;
    }
    if (count == 0)
        end = now + window;
    count++;
    rec = apr_psprintf(p, "%" APR_INT64_T_FMT " %" APR_INT64_T_FMT, count,
                       end);
    rv = sh->prov->store(sh->pending, sh->s, id, QSSO_KEYSET_DIGEST,
                         apr_time_from_sec(end), (unsigned char *)rec,
                         (unsigned int)strlen(rec), p);
    apr_global_mutex_unlock(sh->mutex);
    if (rv != APR_SUCCESS) {
        *err = "the shared memory refused a pending-login counter";
        return QSSO_STORE_ERROR;
    }
    *n = count;
    *left = (int)(end - now);
    return QSSO_STORE_OK;
}

static const qsso_store_backend_t qsso_store_shm_backend = {
    "shm", NULL, qsso_store_shm_get, qsso_store_shm_set, qsso_store_shm_del,
    qsso_store_shm_count, NULL, NULL
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

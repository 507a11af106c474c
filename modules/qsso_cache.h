/* A bounded per-process copy of store records (sessions), kept only while
 * the store tells us of every change (qsso_store_redis.c). Not thread-safe:
 * the caller holds its lock around every call. */
#ifndef QSSO_CACHE_H
#define QSSO_CACHE_H

#include "qsso.h"

typedef struct qsso_cache_t qsso_cache_t;

/* The session cache of each store backend (QSSOSessionCache): at most
 * 8192 sessions and 16 MiB per process, each copy dropped 5 s after it
 * was read whatever happens (docs/directives.md cites these). */
#define QSSO_CACHE_SESSION_SLOTS 8192
#define QSSO_CACHE_SESSION_BYTES (16 * 1024 * 1024)
#define QSSO_CACHE_SESSION_AGE apr_time_from_sec(5)

/* A cache of `slots` entries (rounded up to a power of two) holding at
 * most max_bytes of keys and values, each valid for max_age after it was
 * fetched; keys and values are copied with malloc and freed on eviction,
 * at flush and when p is destroyed. NULL when out of memory. */
qsso_cache_t *qsso_cache_create(apr_pool_t *p, apr_size_t slots,
                                apr_size_t max_bytes,
                                apr_interval_time_t max_age);

/* 1 with a copy of the value in p (NUL-terminated, length in *len), 0 when
 * not cached or older than max_age (then dropped). */
int qsso_cache_lookup(qsso_cache_t *c, apr_pool_t *p, const char *key,
                      apr_time_t now, char **val, apr_size_t *len);
/* Keeps key -> val, replacing what shared its slot; when the entry would
 * take the cache over max_bytes, everything else is dropped first, and an
 * entry larger than max_bytes / 16 is not kept. */
void qsso_cache_insert(qsso_cache_t *c, const char *key, const char *val,
                       apr_size_t len, apr_time_t now);
/* Drops key if cached; 1 when it was. */
int qsso_cache_forget(qsso_cache_t *c, const char *key, apr_size_t keylen);
/* Drops everything. */
void qsso_cache_flush(qsso_cache_t *c);
/* Entries and bytes (keys and values) held now. */
apr_size_t qsso_cache_count(const qsso_cache_t *c);
apr_size_t qsso_cache_bytes(const qsso_cache_t *c);

#endif

/* A fixed set of keys (their 32-byte digests), each with an expiry, laid
 * out in one block of memory the caller owns (QSSOStore shm puts it in
 * shared memory and locks around every call). It never evicts a live key:
 * when every slot it may fill holds one, an add is refused. That is what
 * a replay cache needs: forgetting an assertion ID early would let the
 * assertion be accepted twice. Not thread-safe. */
#ifndef QSSO_KEYSET_H
#define QSSO_KEYSET_H

#include "qsso.h"

#define QSSO_KEYSET_DIGEST 32

typedef struct qsso_keyset_t qsso_keyset_t;

typedef enum {
    QSSO_KEYSET_ADDED = 0,
    QSSO_KEYSET_EXISTS,     /* a live entry has this digest */
    QSSO_KEYSET_FULL        /* no room, and nothing expired to reclaim */
} qsso_keyset_rc_e;

/* How many keys a block of `bytes` holds at most (0: too small). */
apr_size_t qsso_keyset_capacity(apr_size_t bytes);
/* Lays an empty set out in mem (bytes long, 8-byte aligned); NULL when
 * the block is too small for one key. */
qsso_keyset_t *qsso_keyset_init(void *mem, apr_size_t bytes);
/* Adds digest until expires (any clock, the same as now's; an expiry at or
 * before now is a dead entry). p is scratch for a rare compaction (when
 * the set is at capacity and an entry has expired): at most the live
 * entries' size, freed with p. */
qsso_keyset_rc_e qsso_keyset_add(qsso_keyset_t *ks, apr_pool_t *p,
                                 const unsigned char *digest,
                                 apr_int64_t expires, apr_int64_t now);
/* 1 when a live entry has this digest. */
int qsso_keyset_has(const qsso_keyset_t *ks, const unsigned char *digest,
                    apr_int64_t now);
/* Ends the entry of digest, if any. */
void qsso_keyset_remove(qsso_keyset_t *ks, const unsigned char *digest);
/* Slots in use (live or expired but not yet reclaimed). */
apr_size_t qsso_keyset_used(const qsso_keyset_t *ks);

#endif

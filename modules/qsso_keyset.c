/*
 * Open addressing with linear probing over a fixed array of slots. A
 * slot is empty (expires 0: it ends every probe chain), live, or dead
 * (expired or removed: it keeps the chain going and is reused by the next
 * add that passes it). At most 3/4 of the slots are ever in use, so a
 * probe soon meets an empty one; at that limit an add first reclaims the
 * dead slots (a rebuild, only when one is known to have expired), and if
 * none is dead it is refused. Nothing live is ever dropped. The block
 * holds no pointers, so every process may map it at its own address.
 */
#include <string.h>

#include "qsso_keyset.h"

#define QSSO_KEYSET_NEVER APR_INT64_C(0x7fffffffffffffff)

typedef struct {
    unsigned char digest[QSSO_KEYSET_DIGEST];
    apr_int64_t expires;        /* 0: empty; <= now: dead */
} qsso_keyset_slot_t;

struct qsso_keyset_t {
    apr_uint64_t slots;
    apr_uint64_t limit;         /* slots in use at most: 3/4 of them */
    apr_uint64_t used;          /* live and dead slots */
    apr_int64_t earliest;       /* no entry expires before this */
    qsso_keyset_slot_t slot[];
};

static apr_size_t qsso_keyset_slots(apr_size_t bytes)
{
    if (bytes < sizeof(qsso_keyset_t))
        return 0;
    return (bytes - sizeof(qsso_keyset_t)) / sizeof(qsso_keyset_slot_t);
}

apr_size_t qsso_keyset_capacity(apr_size_t bytes)
{
    return qsso_keyset_slots(bytes) / 4 * 3;
}

qsso_keyset_t *qsso_keyset_init(void *mem, apr_size_t bytes)
{
    qsso_keyset_t *ks = mem;
    apr_size_t slots = qsso_keyset_slots(bytes);

    if (slots / 4 * 3 == 0)
        return NULL;
    memset(mem, 0, sizeof(*ks) + slots * sizeof(qsso_keyset_slot_t));
    ks->slots = slots;
    ks->limit = slots / 4 * 3;
    ks->earliest = QSSO_KEYSET_NEVER;
    return ks;
}

/* The digest is a hash already: its first bytes pick the home slot. */
static apr_uint64_t qsso_keyset_home(const qsso_keyset_t *ks,
                                     const unsigned char *digest)
{
    apr_uint64_t h;

    memcpy(&h, digest, sizeof(h));
    return h % ks->slots;
}

static void qsso_keyset_put(qsso_keyset_t *ks, qsso_keyset_slot_t *s,
                            const unsigned char *digest, apr_int64_t expires)
{
    memcpy(s->digest, digest, QSSO_KEYSET_DIGEST);
    s->expires = expires;
    if (expires < ks->earliest)
        ks->earliest = expires;
}

static qsso_keyset_rc_e qsso_keyset_add_once(qsso_keyset_t *ks,
                                             const unsigned char *digest,
                                             apr_int64_t expires,
                                             apr_int64_t now)
{
    apr_uint64_t i = qsso_keyset_home(ks, digest);
    qsso_keyset_slot_t *s, *reuse = NULL;

    /* Ends: fewer than all slots are ever in use. */
    for (;; i = (i + 1) % ks->slots) {
        s = &ks->slot[i];
        if (s->expires == 0)
            break;
        if (!memcmp(s->digest, digest, QSSO_KEYSET_DIGEST)) {
            if (s->expires > now)
                return QSSO_KEYSET_EXISTS;
            qsso_keyset_put(ks, s, digest, expires);
            return QSSO_KEYSET_ADDED;
        }
        if (reuse == NULL && s->expires <= now)
            reuse = s;
    }
    /* Past the whole chain: the digest is not further on. */
    if (reuse) {
        qsso_keyset_put(ks, reuse, digest, expires);
        return QSSO_KEYSET_ADDED;
    }
    if (ks->used >= ks->limit)
        return QSSO_KEYSET_FULL;
    qsso_keyset_put(ks, s, digest, expires);
    ks->used++;
    return QSSO_KEYSET_ADDED;
}

/* Drops every dead slot: the live entries are laid out again. */
static void qsso_keyset_compact(qsso_keyset_t *ks, apr_pool_t *p,
                                apr_int64_t now)
{
    qsso_keyset_slot_t *live = apr_palloc(p, ks->used * sizeof(*live) + 1);
    apr_uint64_t i, n = 0;

    for (i = 0; i < ks->slots; i++)
        if (ks->slot[i].expires > now)
            live[n++] = ks->slot[i];
    memset(ks->slot, 0, ks->slots * sizeof(ks->slot[0]));
    ks->used = 0;
    ks->earliest = QSSO_KEYSET_NEVER;
    for (i = 0; i < n; i++)
        qsso_keyset_add_once(ks, live[i].digest, live[i].expires, now);
}

qsso_keyset_rc_e qsso_keyset_add(qsso_keyset_t *ks, apr_pool_t *p,
                                 const unsigned char *digest,
                                 apr_int64_t expires, apr_int64_t now)
{
    qsso_keyset_rc_e rc = qsso_keyset_add_once(ks, digest, expires, now);

    /* Full: worth a rebuild only if some entry is known to be dead. */
    if (rc != QSSO_KEYSET_FULL || ks->earliest > now)
        return rc;
    qsso_keyset_compact(ks, p, now);
    return qsso_keyset_add_once(ks, digest, expires, now);
}

static qsso_keyset_slot_t *qsso_keyset_find(const qsso_keyset_t *ks,
                                            const unsigned char *digest)
{
    apr_uint64_t i = qsso_keyset_home(ks, digest);
    const qsso_keyset_slot_t *s;

    for (;; i = (i + 1) % ks->slots) {
        s = &ks->slot[i];
        if (s->expires == 0)
            return NULL;
        if (!memcmp(s->digest, digest, QSSO_KEYSET_DIGEST))
            return (qsso_keyset_slot_t *)s;
    }
}

int qsso_keyset_has(const qsso_keyset_t *ks, const unsigned char *digest,
                    apr_int64_t now)
{
    const qsso_keyset_slot_t *s = qsso_keyset_find(ks, digest);

    return s && s->expires > now;
}

void qsso_keyset_remove(qsso_keyset_t *ks, const unsigned char *digest)
{
    qsso_keyset_slot_t *s = qsso_keyset_find(ks, digest);

    /* Dead for any clock at or after 0, and still part of its chain. */
    if (s) {
        s->expires = -1;
        ks->earliest = -1;
    }
}

apr_size_t qsso_keyset_used(const qsso_keyset_t *ks)
{
    return (apr_size_t)ks->used;
}

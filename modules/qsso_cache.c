/*
 * Direct-mapped: a key has one slot (FNV-1a of the key), a new key evicts
 * whatever held it. Bounded memory (a byte budget over keys and values),
 * O(1) for every operation but the rare flush when the budget is full,
 * nothing to rebalance. Entries are malloc'd because they
 * outlive requests but not the process; the pool cleanup frees them.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "qsso_cache.h"

typedef struct {
    char *key;              /* NULL: free slot */
    apr_size_t keylen;
    char *val;
    apr_size_t len;
    apr_time_t fetched;
} qsso_cache_slot_t;

struct qsso_cache_t {
    qsso_cache_slot_t *slots;
    apr_size_t mask;
    apr_size_t count;
    apr_size_t bytes;
    apr_size_t max_bytes;
    apr_interval_time_t max_age;
};

static apr_size_t qsso_cache_hash(const char *key, apr_size_t len)
{
    apr_uint32_t h = 2166136261u;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

static void qsso_cache_clear(qsso_cache_t *c, qsso_cache_slot_t *s)
{
    if (s->key == NULL)
        return;
    free(s->key);
    free(s->val);
    c->bytes -= s->keylen + s->len;
    memset(s, 0, sizeof(*s));
    c->count--;
}

void qsso_cache_flush(qsso_cache_t *c)
{
    apr_size_t i;

    for (i = 0; i <= c->mask; i++)
        qsso_cache_clear(c, &c->slots[i]);
}

static apr_status_t qsso_cache_cleanup(void *data)
{
    qsso_cache_t *c = data;

    qsso_cache_flush(c);
    free(c->slots);
    return APR_SUCCESS;
}

qsso_cache_t *qsso_cache_create(apr_pool_t *p, apr_size_t slots,
                                apr_size_t max_bytes,
                                apr_interval_time_t max_age)
{
    qsso_cache_t *c = apr_pcalloc(p, sizeof(*c));
    apr_size_t n = 1;

    while (n < slots)
        n <<= 1;
    c->slots = calloc(n, sizeof(*c->slots));
    if (c->slots == NULL)
        return NULL;
    c->mask = n - 1;
    c->max_bytes = max_bytes;
    c->max_age = max_age;
    apr_pool_cleanup_register(p, c, qsso_cache_cleanup,
                              apr_pool_cleanup_null);
    return c;
}

static qsso_cache_slot_t *qsso_cache_find(qsso_cache_t *c, const char *key,
                                          apr_size_t keylen)
{
    qsso_cache_slot_t *s = &c->slots[qsso_cache_hash(key, keylen) & c->mask];

    return s->key && s->keylen == keylen && !memcmp(s->key, key, keylen)
               ? s : NULL;
}

int qsso_cache_lookup(qsso_cache_t *c, apr_pool_t *p, const char *key,
                      apr_time_t now, char **val, apr_size_t *len)
{
    qsso_cache_slot_t *s = qsso_cache_find(c, key, strlen(key));

    if (s == NULL)
        return 0;
    /* A clock stepped back counts as too old too. */
    if (now - s->fetched >= c->max_age || now < s->fetched) {
        qsso_cache_clear(c, s);
        return 0;
    }
    *val = apr_pstrmemdup(p, s->val, s->len);
    *len = s->len;
    return 1;
}

void qsso_cache_insert(qsso_cache_t *c, const char *key, const char *val,
                       apr_size_t len, apr_time_t now)
{
    apr_size_t keylen = strlen(key);
    qsso_cache_slot_t *s = &c->slots[qsso_cache_hash(key, keylen) & c->mask];
    char *k, *v;

    if (keylen + len > c->max_bytes / 16)
        return;
    k = malloc(keylen + 1);
    v = malloc(len + 1);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return;
    }
    memcpy(k, key, keylen + 1);
    memcpy(v, val, len);
    v[len] = '\0';
    qsso_cache_clear(c, s);
    if (c->bytes + keylen + len > c->max_bytes)
        qsso_cache_flush(c);
    s->key = k;
    s->keylen = keylen;
    s->val = v;
    s->len = len;
    s->fetched = now;
    c->count++;
    c->bytes += keylen + len;
}

int qsso_cache_forget(qsso_cache_t *c, const char *key, apr_size_t keylen)
{
    qsso_cache_slot_t *s = qsso_cache_find(c, key, keylen);

    if (s == NULL)
        return 0;
    qsso_cache_clear(c, s);
    return 1;
}

apr_size_t qsso_cache_count(const qsso_cache_t *c)
{
    return c->count;
}

apr_size_t qsso_cache_bytes(const qsso_cache_t *c)
{
    return c->bytes;
}

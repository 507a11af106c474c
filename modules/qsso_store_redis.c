/*
 * Redis backend. Each process keeps a pool (apr_reslist) of persistent
 * hiredis connections, at most one per thread, made on first use with a
 * connect timeout and a command timeout, so a dead Redis costs a request
 * one timeout and never hangs a worker. A connection that saw an I/O error
 * is destroyed and the command retried once on a fresh one, which is how
 * the module recovers by itself after Redis restarts. Replies are copied
 * into the caller's pool and freed before returning.
 *
 * With redis+sentinel:// a new connection asks the sentinels, in order,
 * for the master and checks with ROLE that it is one. A failover shows up
 * as an I/O error or a READONLY reply on an old connection: it is dropped
 * and the retry asks the sentinels again, so no restart is needed.
 *
 * Session cache (server-assisted client-side caching, Redis 6+): one more
 * connection per process asks Redis to broadcast every change to a key
 * under QSSO_STORE_CACHED_PREFIX to itself (CLIENT TRACKING ... REDIRECT
 * <own id> BCAST PREFIX) and subscribes to those messages. Redis queues
 * the message before it answers the command that made the change, so a
 * request that reads this connection (without waiting) before it looks
 * in the cache does not get a record that was changed or deleted before
 * the request came in, as long as the message got here no later than the
 * reply got to whoever made the change (one host; a LAN without packet
 * loss). Where that may not hold: a large backlog read at once, a failed
 * command connection or a broken subscriber empties the cache (while the
 * subscriber is down the cache is unused); a value read from Redis is
 * kept only if no message arrived while it was being read (gen); an entry
 * is dropped after QSSO_CACHE_SESSION_AGE whatever happens, which bounds any
 * staleness.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis.h>
#include <apr_atomic.h>
#include <apr_reslist.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "qsso_cache.h"
#include "qsso_store_redis.h"

#define QSSO_REDIS_CONNECT_MS 1000
#define QSSO_REDIS_COMMAND_MS 1000
#define QSSO_REDIS_TRACK_RETRY apr_time_from_sec(1)
/* Reads of the subscriber per request before giving up and flushing. */
#define QSSO_REDIS_DRAIN_MAX 64
/* Bytes of announcements read at once above which the subscriber was
 * backed up: Redis may still hold some it could not write, queued behind
 * the ones just read, so nothing cached before is trusted. */
#define QSSO_REDIS_BACKLOG (32 * 1024)

typedef struct {
    qsso_store_url_t url;
    const char *where;          /* for messages: server or sentinel master */
    apr_reslist_t *conns;
    /* The session cache; all below under lock. track 0: not used. */
    int track;
    apr_thread_mutex_t *lock;
    qsso_cache_t *cache;
    redisContext *sub;          /* the invalidation subscriber, or NULL */
    int dialing;                /* a thread is connecting sub */
    apr_time_t retry_at;        /* when to try connecting sub again */
    apr_time_t polled_at;       /* when the last look at sub began */
    apr_uint64_t gen;           /* bumped by every invalidation */
    char note[320];             /* for qsso_store_note; "" when none */
    volatile apr_uint32_t noted;    /* note set: read without the lock */
} qsso_store_redis_t;

/* The reslist constructor cannot return a message; it leaves it here. */
static __thread char qsso_store_redis_lasterr[256];

static int qsso_store_redis_login(redisContext *c, const qsso_store_url_t *u)
{
    redisReply *rep = NULL;
    int ok = 1;

    if (u->pass) {
        rep = u->user ? redisCommand(c, "AUTH %s %s", u->user, u->pass)
                      : redisCommand(c, "AUTH %s", u->pass);
        ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (!ok)
            apr_snprintf(qsso_store_redis_lasterr,
                         sizeof(qsso_store_redis_lasterr),
                         "AUTH refused by Redis: %s",
                         rep ? rep->str : c->errstr);
        if (rep)
            freeReplyObject(rep);
    }
    if (ok && u->db) {
        rep = redisCommand(c, "SELECT %d", u->db);
        ok = rep && rep->type != REDIS_REPLY_ERROR;
        if (!ok)
            apr_snprintf(qsso_store_redis_lasterr,
                         sizeof(qsso_store_redis_lasterr),
                         "SELECT %d failed: %s", u->db,
                         rep ? rep->str : c->errstr);
        if (rep)
            freeReplyObject(rep);
    }
    return ok;
}

static redisContext *qsso_store_redis_dial(const char *host, int port)
{
    struct timeval ct = {QSSO_REDIS_CONNECT_MS / 1000,
                         (QSSO_REDIS_CONNECT_MS % 1000) * 1000};
    struct timeval cmd = {QSSO_REDIS_COMMAND_MS / 1000,
                          (QSSO_REDIS_COMMAND_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, ct);

    if (c == NULL || c->err) {
        apr_snprintf(qsso_store_redis_lasterr,
                     sizeof(qsso_store_redis_lasterr),
                     "cannot connect to Redis at %s:%d: %s", host, port,
                     c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, cmd);
    return c;
}

/* Asks one sentinel where the master is: 0 with host and port set. */
static int qsso_store_redis_ask(const qsso_store_url_t *u,
                                const qsso_store_host_t *sen, char *host,
                                apr_size_t hostlen, int *port)
{
    redisContext *c = qsso_store_redis_dial(sen->host, sen->port);
    redisReply *rep;
    int ok = 0;

    if (c == NULL)
        return -1;
    /* Sentinels may run with the same ACL user/password, or none. */
    if (u->pass) {
        rep = u->user ? redisCommand(c, "AUTH %s %s", u->user, u->pass)
                      : redisCommand(c, "AUTH %s", u->pass);
        if (rep)
            freeReplyObject(rep);
    }
    rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", u->master);
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[1]->type == REDIS_REPLY_STRING) {
        apr_cpystrn(host, rep->element[0]->str, hostlen);
        *port = atoi(rep->element[1]->str);
        ok = 1;
    }
    else {
        apr_snprintf(qsso_store_redis_lasterr,
                     sizeof(qsso_store_redis_lasterr),
                     "sentinel %s:%d does not know master \"%s\"%s%s",
                     sen->host, sen->port, u->master,
                     rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                     rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    }
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return ok ? 0 : -1;
}

/* Is c a master? After a failover the old one comes back as a replica. */
static int qsso_store_redis_is_master(redisContext *c)
{
    redisReply *rep = redisCommand(c, "ROLE");
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
             && rep->element[0]->type == REDIS_REPLY_STRING
             && !strcmp(rep->element[0]->str, "master");

    if (rep)
        freeReplyObject(rep);
    return ok;
}

/* Through the sentinels, in order, to the current master. */
static redisContext *qsso_store_redis_dial_master(const qsso_store_url_t *u)
{
    char host[256];
    int i, port = 0;

    for (i = 0; i < u->sentinels->nelts; i++) {
        redisContext *c;
        if (qsso_store_redis_ask(u, &APR_ARRAY_IDX(u->sentinels, i,
                                                   qsso_store_host_t),
                                 host, sizeof(host), &port))
            continue;
        if ((c = qsso_store_redis_dial(host, port)) == NULL)
            continue;
        if (qsso_store_redis_login(c, u) && qsso_store_redis_is_master(c))
            return c;
        apr_snprintf(qsso_store_redis_lasterr,
                     sizeof(qsso_store_redis_lasterr), "Redis at %s:%d, "
                     "named master \"%s\" by a sentinel, is not a master "
                     "(failover in progress?)", host, port, u->master);
        redisFree(c);
    }
    return NULL;
}

static apr_status_t qsso_store_redis_connect(void **res, void *param,
                                             apr_pool_t *p)
{
    qsso_store_redis_t *rs = param;
    redisContext *c;

    (void)p;
    if (rs->url.sentinels) {
        if ((c = qsso_store_redis_dial_master(&rs->url)) == NULL)
            return APR_EGENERAL;
        *res = c;
        return APR_SUCCESS;
    }
    if ((c = qsso_store_redis_dial(rs->url.host, rs->url.port)) == NULL)
        return APR_EGENERAL;
    if (!qsso_store_redis_login(c, &rs->url)) {
        redisFree(c);
        return APR_EGENERAL;
    }
    *res = c;
    return APR_SUCCESS;
}

static apr_status_t qsso_store_redis_disconnect(void *res, void *param,
                                                apr_pool_t *p)
{
    (void)param;
    (void)p;
    redisFree(res);
    return APR_SUCCESS;
}

static apr_status_t qsso_store_redis_untrack_cleanup(void *data);

static const char *qsso_store_redis_open(apr_pool_t *p,
                                         const qsso_store_url_t *u,
                                         int max_conns, int cache,
                                         void **impl)
{
    qsso_store_redis_t *rs = apr_pcalloc(p, sizeof(*rs));
    apr_status_t rv;

    rs->url = *u;
    rs->url.host = u->host ? apr_pstrdup(p, u->host) : NULL;
    rs->url.master = u->master ? apr_pstrdup(p, u->master) : NULL;
    rs->url.user = u->user ? apr_pstrdup(p, u->user) : NULL;
    rs->url.pass = u->pass ? apr_pstrdup(p, u->pass) : NULL;
    if (u->sentinels) {
        int i;
        rs->url.sentinels = apr_array_copy(p, u->sentinels);
        for (i = 0; i < rs->url.sentinels->nelts; i++) {
            qsso_store_host_t *h = &APR_ARRAY_IDX(rs->url.sentinels, i,
                                                  qsso_store_host_t);
            h->host = apr_pstrdup(p, h->host);
        }
    }
    rs->where = u->sentinels
        ? apr_psprintf(p, "the master \"%s\" of %d sentinel(s)", u->master,
                       u->sentinels->nelts)
        : apr_psprintf(p, "Redis at %s:%d", u->host, u->port);
    if (max_conns < 1)
        max_conns = 1;
    rv = apr_reslist_create(&rs->conns, 0, max_conns, max_conns, 0,
                            qsso_store_redis_connect,
                            qsso_store_redis_disconnect, rs, p);
    if (rv != APR_SUCCESS)
        return "cannot create the Redis connection pool";
    /* A worker never waits more than 5 s for a free connection. */
    apr_reslist_timeout_set(rs->conns, apr_time_from_sec(5));
    if (cache
        && apr_thread_mutex_create(&rs->lock, APR_THREAD_MUTEX_DEFAULT, p)
               == APR_SUCCESS
        && (rs->cache = qsso_cache_create(p, QSSO_CACHE_SESSION_SLOTS,
                                          QSSO_CACHE_SESSION_BYTES,
                                          QSSO_CACHE_SESSION_AGE)) != NULL) {
        rs->track = 1;
        apr_pool_cleanup_register(p, rs, qsso_store_redis_untrack_cleanup,
                                  apr_pool_cleanup_null);
    }
    *impl = rs;
    return NULL;
}

static void qsso_store_redis_untrack(qsso_store_redis_t *rs);

/* Runs one command; retries once on a fresh connection after an I/O
 * error. Returns NULL with *err set when Redis cannot be reached. */
static redisReply *qsso_store_redis_run(qsso_store_redis_t *rs, apr_pool_t *p,
                                        int argc, const char **argv,
                                        const size_t *argvlen,
                                        const char **err)
{
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        redisContext *c = NULL;
        redisReply *rep;

        qsso_store_redis_lasterr[0] = '\0';
        if (apr_reslist_acquire(rs->conns, (void **)&c) != APR_SUCCESS) {
            *err = apr_pstrdup(p, qsso_store_redis_lasterr[0]
                                      ? qsso_store_redis_lasterr
                                      : "no Redis connection available");
            return NULL;
        }
        rep = redisCommandArgv(c, argc, argv, argvlen);
        /* READONLY: this server was demoted by a failover; drop the
         * connection so the next one asks the sentinels again. */
        if (rep != NULL && c->err == 0
            && !(rep->type == REDIS_REPLY_ERROR
                 && !strncmp(rep->str, "READONLY", 8))) {
            apr_reslist_release(rs->conns, c);
            return rep;
        }
        *err = apr_psprintf(p, "%s: %s", rs->where,
                            c->err == 0 && rep ? rep->str
                            : c->errstr[0] ? c->errstr : "I/O error");
        if (rep)
            freeReplyObject(rep);
        apr_reslist_invalidate(rs->conns, c);
        /* A command connection failed (Redis restarted, failed over, or
         * is cut off): the subscriber, which only reads, may not notice
         * for a long time. Start over with it too. */
        if (rs->track) {
            apr_thread_mutex_lock(rs->lock);
            if (rs->sub)
                qsso_store_redis_untrack(rs);
            apr_thread_mutex_unlock(rs->lock);
        }
    }
    return NULL;
}


/* ---- the session cache ---------------------------------------------- */

static int qsso_store_redis_cacheable(const qsso_store_redis_t *rs,
                                      const char *key)
{
    return rs->track && qsso_store_is_cached_key(key);
}

/* The subscriber is gone or cannot be trusted: forget everything it
 * vouched for. Lock held. */
static void qsso_store_redis_untrack(qsso_store_redis_t *rs)
{
    if (rs->sub)
        redisFree(rs->sub);
    rs->sub = NULL;
    rs->gen++;
    rs->retry_at = apr_time_now() + QSSO_REDIS_TRACK_RETRY;
    qsso_cache_flush(rs->cache);
}

static apr_status_t qsso_store_redis_untrack_cleanup(void *data)
{
    qsso_store_redis_t *rs = data;

    if (rs->sub)
        redisFree(rs->sub);
    rs->sub = NULL;
    return APR_SUCCESS;
}

/* One message from the subscriber: ["message", channel, keys] where keys
 * is an array of changed keys, or nil when the database was flushed.
 * 0, or -1 when it makes no sense (then trust nothing). Lock held. */
static int qsso_store_redis_invalidate(qsso_store_redis_t *rs,
                                       const redisReply *m)
{
    const redisReply *keys;
    size_t i;

    if (m->type != REDIS_REPLY_ARRAY || m->elements != 3
        || m->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    if (strcmp(m->element[0]->str, "message"))
        return strcmp(m->element[0]->str, "subscribe") ? -1 : 0;
    rs->gen++;
    keys = m->element[2];
    if (keys->type == REDIS_REPLY_NIL) {
        qsso_cache_flush(rs->cache);
        return 0;
    }
    if (keys->type != REDIS_REPLY_ARRAY)
        return -1;
    for (i = 0; i < keys->elements; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING)
            return -1;
        qsso_cache_forget(rs->cache, keys->element[i]->str,
                          keys->element[i]->len);
    }
    return 0;
}

/* Applies whatever the subscriber has received, without waiting. Lock
 * held. */
static void qsso_store_redis_drain(qsso_store_redis_t *rs)
{
    int reads = 0, n;
    apr_size_t bytes = 0, before;
    void *m;

    if (rs->sub == NULL)
        return;
    for (;;) {
        struct pollfd pfd = {rs->sub->fd, POLLIN, 0};

        /* What is parsed already (a message may have come in with the
         * SUBSCRIBE reply), then what has arrived since. */
        for (;;) {
            m = NULL;
            if (redisReaderGetReply(rs->sub->reader, &m) != REDIS_OK)
                goto broken;
            if (m == NULL)
                break;
            n = qsso_store_redis_invalidate(rs, m);
            freeReplyObject(m);
            if (n)
                goto broken;
        }
        if (reads++ == QSSO_REDIS_DRAIN_MAX)
            goto broken;
        rs->polled_at = apr_time_now();
        n = poll(&pfd, 1, 0);
        if (n == 0) {
            if (bytes >= QSSO_REDIS_BACKLOG) {
                qsso_cache_flush(rs->cache);
                rs->gen++;
            }
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        before = rs->sub->reader->len;
        if (n < 0 || redisBufferRead(rs->sub) != REDIS_OK)
            goto broken;
        if (rs->sub->reader->len > before)
            bytes += rs->sub->reader->len - before;
    }
broken:
    /* Broken, nonsense, or more than we read at once: start over. */
    qsso_store_redis_untrack(rs);
}

/* A subscriber connection, or NULL; *refused is set when Redis said no
 * (too old, or the ACL forbids it) rather than being unreachable. Called
 * without the lock: it talks to Redis. */
static redisContext *qsso_store_redis_subscribe(qsso_store_redis_t *rs,
                                                char *why, apr_size_t whylen,
                                                int *refused)
{
    redisContext *c = NULL;
    redisReply *rep;
    long long id;

    *refused = 0;
    if (qsso_store_redis_connect((void **)&c, rs, NULL) != APR_SUCCESS)
        return NULL;
    /* It only ever reads: TCP keepalive is what notices a dead peer. */
    redisEnableKeepAlive(c);
    rep = redisCommand(c, "CLIENT ID");
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
        goto fail;
    id = rep->integer;
    freeReplyObject(rep);
    rep = redisCommand(c, "CLIENT TRACKING on REDIRECT %lld BCAST PREFIX %s",
                       id, QSSO_STORE_CACHED_PREFIX);
    if (rep == NULL || rep->type != REDIS_REPLY_STATUS)
        goto fail;
    freeReplyObject(rep);
    rep = redisCommand(c, "SUBSCRIBE __redis__:invalidate");
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY)
        goto fail;
    freeReplyObject(rep);
    return c;
fail:
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        *refused = 1;
        apr_snprintf(why, whylen, "%s", rep->str);
    }
    if (rep)
        freeReplyObject(rep);
    redisFree(c);
    return NULL;
}

/* Connects the subscriber when it is down and its retry time has come;
 * returns with the lock held. */
static void qsso_store_redis_track(qsso_store_redis_t *rs)
{
    redisContext *c;
    char why[256];
    int refused;

    if (rs->sub || rs->dialing || apr_time_now() < rs->retry_at)
        return;
    rs->dialing = 1;
    apr_thread_mutex_unlock(rs->lock);
    c = qsso_store_redis_subscribe(rs, why, sizeof(why), &refused);
    apr_thread_mutex_lock(rs->lock);
    rs->dialing = 0;
    rs->gen++;
    if (c) {
        qsso_cache_flush(rs->cache);
        rs->sub = c;
    }
    else if (refused) {
        rs->track = 0;
        apr_snprintf(rs->note, sizeof(rs->note),
                     "session cache off: %s refused client-side caching "
                     "(%s); every protected request asks Redis",
                     rs->where, why);
        apr_atomic_set32(&rs->noted, 1);
    }
    else {
        rs->retry_at = apr_time_now() + QSSO_REDIS_TRACK_RETRY;
    }
}

static const char *qsso_store_redis_note(void *impl, apr_pool_t *p)
{
    qsso_store_redis_t *rs = impl;
    const char *n = NULL;

    /* Asked at every session load: no lock unless there is something. */
    if (rs->lock == NULL || !apr_atomic_read32(&rs->noted))
        return NULL;
    apr_thread_mutex_lock(rs->lock);
    if (rs->note[0]) {
        n = apr_pstrdup(p, rs->note);
        rs->note[0] = '\0';
        apr_atomic_set32(&rs->noted, 0);
    }
    apr_thread_mutex_unlock(rs->lock);
    return n;
}

/* Drops key from the cache: this process is changing or deleting it.
 * Called before the command and again after it: a read of the old value
 * that ended meanwhile is then not kept either (gen). */
static void qsso_store_redis_forget(qsso_store_redis_t *rs, const char *key)
{
    if (!qsso_store_redis_cacheable(rs, key))
        return;
    apr_thread_mutex_lock(rs->lock);
    qsso_cache_forget(rs->cache, key, strlen(key));
    rs->gen++;
    apr_thread_mutex_unlock(rs->lock);
}

static qsso_store_rc_e qsso_store_redis_fetch(void *impl, apr_pool_t *p,
                                              const char *key, int take,
                                              char **val, apr_size_t *len,
                                              const char **err);

static qsso_store_rc_e qsso_store_redis_get(void *impl, apr_pool_t *p,
                                            const char *key,
                                            qsso_store_get_e mode,
                                            apr_time_t since,
                                            char **val, apr_size_t *len,
                                            const char **err)
{
    qsso_store_redis_t *rs = impl;
    qsso_store_rc_e rc;
    apr_uint64_t gen;
    int tracked;

    if (mode != QSSO_GET_CACHED || !qsso_store_redis_cacheable(rs, key)) {
        if (mode != QSSO_GET_TAKE)
            return qsso_store_redis_fetch(impl, p, key, 0, val, len, err);
        qsso_store_redis_forget(rs, key);
        rc = qsso_store_redis_fetch(impl, p, key, 1, val, len, err);
        qsso_store_redis_forget(rs, key);
        return rc;
    }
    apr_thread_mutex_lock(rs->lock);
    /* A look at the subscriber that began after this request arrived has
     * seen every announcement that came before it: under load most
     * requests share one instead of making a system call each. */
    if (rs->polled_at < since || since == 0
        || rs->polled_at > apr_time_now())     /* the clock went back */
        qsso_store_redis_drain(rs);
    qsso_store_redis_track(rs);
    if (rs->sub
        && qsso_cache_lookup(rs->cache, p, key, apr_time_now(), val, len)) {
        apr_thread_mutex_unlock(rs->lock);
        return QSSO_STORE_OK;
    }
    gen = rs->gen;
    tracked = rs->sub != NULL;
    apr_thread_mutex_unlock(rs->lock);
    rc = qsso_store_redis_fetch(impl, p, key, 0, val, len, err);
    if (rc == QSSO_STORE_OK && tracked) {
        apr_thread_mutex_lock(rs->lock);
        qsso_store_redis_drain(rs);
        if (rs->sub && rs->gen == gen)
            qsso_cache_insert(rs->cache, key, *val, *len, apr_time_now());
        apr_thread_mutex_unlock(rs->lock);
    }
    return rc;
}

/* ---- commands ---------------------------------------------------------- */

static qsso_store_rc_e qsso_store_redis_fetch(void *impl, apr_pool_t *p,
                                              const char *key, int take,
                                              char **val, apr_size_t *len,
                                              const char **err)
{
    const char *argv[2] = {take ? "GETDEL" : "GET", key};
    size_t argvlen[2] = {take ? 6 : 3, strlen(key)};
    redisReply *rep = qsso_store_redis_run(impl, p, 2, argv, argvlen, err);
    qsso_store_rc_e rc = QSSO_STORE_OK;

    if (rep == NULL)
        return QSSO_STORE_ERROR;
    if (rep->type == REDIS_REPLY_NIL) {
        rc = QSSO_STORE_NOTFOUND;
    }
    else if (rep->type == REDIS_REPLY_STRING) {
        *val = apr_pstrmemdup(p, rep->str, rep->len);
        *len = rep->len;
    }
    else {
        *err = apr_psprintf(p, "%s answered %s", argv[0],
                            rep->type == REDIS_REPLY_ERROR ? rep->str
                                                          : "an odd reply");
        rc = QSSO_STORE_ERROR;
    }
    freeReplyObject(rep);
    return rc;
}

static qsso_store_rc_e qsso_store_redis_set(void *impl, apr_pool_t *p,
                                            const char *key, const char *val,
                                            apr_size_t len,
                                            apr_int64_t expires_at,
                                            int only_new, const char **err)
{
    const char *at = apr_psprintf(p, "%" APR_INT64_T_FMT, expires_at);
    const char *argv[6] = {"SET", key, val, "EXAT", at, "NX"};
    size_t argvlen[6] = {3, strlen(key), len, 4, strlen(at), 2};
    int argc = 3;
    redisReply *rep;

    qsso_store_redis_forget(impl, key);
    /* expires_at 0: a record that stays (a user), no EXAT. */
    if (expires_at > 0)
        argc = 5;
    if (only_new) {
        argv[argc] = "NX";
        argvlen[argc++] = 2;
    }
    rep = qsso_store_redis_run(impl, p, argc, argv, argvlen, err);
    qsso_store_rc_e rc = QSSO_STORE_OK;

    qsso_store_redis_forget(impl, key);
    if (rep == NULL)
        return QSSO_STORE_ERROR;
    if (rep->type == REDIS_REPLY_NIL && only_new) {
        rc = QSSO_STORE_EXISTS;
    }
    else if (rep->type == REDIS_REPLY_ERROR) {
        *err = apr_psprintf(p, "SET answered %s", rep->str);
        rc = QSSO_STORE_ERROR;
    }
    freeReplyObject(rep);
    return rc;
}

static qsso_store_rc_e qsso_store_redis_del(void *impl, apr_pool_t *p,
                                            const char *key, const char **err)
{
    const char *argv[2] = {"DEL", key};
    size_t argvlen[2] = {3, strlen(key)};
    redisReply *rep;
    qsso_store_rc_e rc = QSSO_STORE_OK;

    qsso_store_redis_forget(impl, key);
    rep = qsso_store_redis_run(impl, p, 2, argv, argvlen, err);
    qsso_store_redis_forget(impl, key);
    if (rep == NULL)
        return QSSO_STORE_ERROR;
    if (rep->type == REDIS_REPLY_ERROR) {
        *err = apr_psprintf(p, "DEL answered %s", rep->str);
        rc = QSSO_STORE_ERROR;
    }
    freeReplyObject(rep);
    return rc;
}

/* Copies a hiredis reply into p; error replies become *err. */
static qsso_store_reply_t *qsso_store_redis_copy(apr_pool_t *p,
                                                 const redisReply *rep,
                                                 const char **err)
{
    qsso_store_reply_t *out = apr_pcalloc(p, sizeof(*out));
    size_t i;

    switch (rep->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        out->type = QSSO_REPLY_STRING;
        out->str = apr_pstrmemdup(p, rep->str, rep->len);
        out->len = rep->len;
        break;
    case REDIS_REPLY_INTEGER:
        out->type = QSSO_REPLY_INTEGER;
        out->integer = rep->integer;
        break;
    case REDIS_REPLY_ARRAY:
        out->type = QSSO_REPLY_ARRAY;
        out->elements = apr_array_make(p, (int)rep->elements + 1,
                                       sizeof(qsso_store_reply_t *));
        for (i = 0; i < rep->elements; i++) {
            qsso_store_reply_t *e = qsso_store_redis_copy(
                p, rep->element[i], err);
            if (e == NULL)
                return NULL;
            APR_ARRAY_PUSH(out->elements, qsso_store_reply_t *) = e;
        }
        break;
    case REDIS_REPLY_ERROR:
        *err = apr_psprintf(p, "Redis answered %s", rep->str);
        return NULL;
    default:
        out->type = QSSO_REPLY_NIL;
    }
    return out;
}

static qsso_store_rc_e qsso_store_redis_command(void *impl, apr_pool_t *p,
                                                int argc, const char **argv,
                                                const apr_size_t *argvlen,
                                                qsso_store_reply_t **reply,
                                                const char **err)
{
    size_t *lens = apr_palloc(p, sizeof(size_t) * (apr_size_t)argc);
    redisReply *rep;
    int i;

    for (i = 0; i < argc; i++)
        lens[i] = argvlen[i];
    rep = qsso_store_redis_run(impl, p, argc, argv, lens, err);
    if (rep == NULL)
        return QSSO_STORE_ERROR;
    *reply = qsso_store_redis_copy(p, rep, err);
    freeReplyObject(rep);
    return *reply ? QSSO_STORE_OK : QSSO_STORE_ERROR;
}

/* INCR and the expiry of a new counter in one script: two commands could
 * let a counter that expires between them come back without an expiry,
 * which would refuse its address for good. A counter somehow left without
 * one (TTL -1) gets it too. */
static const char qsso_store_redis_count_script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "local t = redis.call('TTL', KEYS[1]) "
    "if t < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) "
    "t = tonumber(ARGV[1]) end "
    "return {n, t}";

static qsso_store_rc_e qsso_store_redis_count(void *impl, apr_pool_t *p,
                                              const char *key, int window,
                                              apr_int64_t *n, int *left,
                                              const char **err)
{
    const char *w = apr_itoa(p, window);
    const char *argv[5] = {"EVAL", qsso_store_redis_count_script, "1", key,
                           w};
    size_t argvlen[5] = {4, sizeof(qsso_store_redis_count_script) - 1, 1,
                         strlen(key), strlen(w)};
    redisReply *rep = qsso_store_redis_run(impl, p, 5, argv, argvlen, err);
    qsso_store_rc_e rc = QSSO_STORE_ERROR;

    if (rep == NULL)
        return QSSO_STORE_ERROR;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_INTEGER
        && rep->element[1]->type == REDIS_REPLY_INTEGER) {
        *n = rep->element[0]->integer;
        *left = (int)rep->element[1]->integer;
        rc = QSSO_STORE_OK;
    }
    else {
        *err = apr_psprintf(p, "the counter script answered %s",
                            rep->type == REDIS_REPLY_ERROR ? rep->str
                                                          : "an odd reply");
    }
    freeReplyObject(rep);
    return rc;
}

const qsso_store_backend_t qsso_store_redis_backend = {
    "redis", qsso_store_redis_open, qsso_store_redis_get,
    qsso_store_redis_set, qsso_store_redis_del, qsso_store_redis_count,
    qsso_store_redis_command, qsso_store_redis_note
};

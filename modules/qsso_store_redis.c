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
 */
#include <stdlib.h>
#include <string.h>
#include <hiredis.h>
#include <apr_reslist.h>
#include <apr_strings.h>

#include "qsso_store_redis.h"

#define QSSO_REDIS_CONNECT_MS 1000
#define QSSO_REDIS_COMMAND_MS 1000

typedef struct {
    qsso_store_url_t url;
    const char *where;          /* for messages: server or sentinel master */
    apr_reslist_t *conns;
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

static const char *qsso_store_redis_open(apr_pool_t *p,
                                         const qsso_store_url_t *u,
                                         int max_conns, void **impl)
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
    *impl = rs;
    return NULL;
}

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
    }
    return NULL;
}

static qsso_store_rc_e qsso_store_redis_get(void *impl, apr_pool_t *p,
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

    /* expires_at 0: a record that stays (a user), no EXAT. */
    if (expires_at > 0)
        argc = 5;
    if (only_new) {
        argv[argc] = "NX";
        argvlen[argc++] = 2;
    }
    rep = qsso_store_redis_run(impl, p, argc, argv, argvlen, err);
    qsso_store_rc_e rc = QSSO_STORE_OK;

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
    redisReply *rep = qsso_store_redis_run(impl, p, 2, argv, argvlen, err);
    qsso_store_rc_e rc = QSSO_STORE_OK;

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

const qsso_store_backend_t qsso_store_redis_backend = {
    "redis", qsso_store_redis_open, qsso_store_redis_get,
    qsso_store_redis_set, qsso_store_redis_del, qsso_store_redis_command
};

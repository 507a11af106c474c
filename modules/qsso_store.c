/*
 * Store interface. Callers speak in keys, values and absolute expiry
 * times; a backend (only Redis for now) implements them. Values are
 * binary-safe. The store of a process is opened in child_init.
 */
#include <stdarg.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso_store.h"
#include "qsso_store_redis.h"

struct qsso_store_t {
    const qsso_store_backend_t *backend;
    void *impl;
};

static qsso_store_t *qsso_store_proc = NULL;

qsso_store_t *qsso_store_process(void)
{
    return qsso_store_proc;
}

void qsso_store_set_process(qsso_store_t *st)
{
    qsso_store_proc = st;
}

/* host:port, the port 1-65535; end is where parsing stopped. */
static const char *qsso_store_parse_host(apr_pool_t *p, const char *s,
                                         const char *stop,
                                         qsso_store_host_t *out,
                                         const char **end)
{
    const char *colon = strchr(s, ':');
    char *e;
    long port;

    if (colon == NULL || colon >= stop)
        return "has no port (host:6379)";
    out->host = apr_pstrndup(p, s, (apr_size_t)(colon - s));
    if (*out->host == '\0')
        return "has no host";
    if (!apr_isdigit(colon[1]))
        return "has a port that is not 1-65535";
    port = strtol(colon + 1, &e, 10);
    if (port < 1 || port > 65535 || e != stop)
        return "has a port that is not 1-65535";
    out->port = (int)port;
    *end = e;
    return NULL;
}

static const char *qsso_store_parse_db(const char *d, int *db)
{
    char *end;
    long v;

    if (*d == '\0')
        return NULL;
    if (!apr_isdigit(*d))
        return "has a database number that is not 0-15";
    v = strtol(d, &end, 10);
    if (*end != '\0' || v < 0 || v > 15)
        return "has a database number that is not 0-15";
    *db = (int)v;
    return NULL;
}

/* user:pass@ before rest; returns what follows it. */
static const char *qsso_store_parse_cred(apr_pool_t *p, const char *rest,
                                         qsso_store_url_t *out,
                                         const char **err)
{
    const char *at = strrchr(rest, '@');
    const char *cred, *c;

    *err = NULL;
    if (at == NULL)
        return rest;
    cred = apr_pstrndup(p, rest, (apr_size_t)(at - rest));
    if ((c = strchr(cred, ':')) == NULL) {
        *err = "has credentials without ':' (use user:pass@ or :pass@)";
        return rest;
    }
    out->user = c == cred ? NULL : apr_pstrndup(p, cred,
                                                (apr_size_t)(c - cred));
    out->pass = apr_pstrdup(p, c + 1);
    return at + 1;
}

static const char *qsso_store_parse_sentinel(apr_pool_t *p, const char *rest,
                                             qsso_store_url_t *out)
{
    const char *slash = strchr(rest, '/'), *s = rest, *end, *err, *m;

    if (slash == NULL || slash[1] == '\0' || slash[1] == '/')
        return "has no master name (redis+sentinel://h1:26379,h2:26379/"
               "mymaster)";
    out->sentinels = apr_array_make(p, 3, sizeof(qsso_store_host_t));
    while (s < slash) {
        const char *comma = memchr(s, ',', (apr_size_t)(slash - s));
        const char *stop = comma ? comma : slash;
        if ((err = qsso_store_parse_host(p, s, stop,
                                         apr_array_push(out->sentinels),
                                         &end)) != NULL)
            return err;
        s = stop + (comma ? 1 : 0);
    }
    m = slash + 1;
    if ((slash = strchr(m, '/')) != NULL) {
        out->master = apr_pstrndup(p, m, (apr_size_t)(slash - m));
        if ((err = qsso_store_parse_db(slash + 1, &out->db)) != NULL)
            return err;
    }
    else {
        out->master = apr_pstrdup(p, m);
    }
    for (m = out->master; *m; m++)
        if (!apr_isalnum(*m) && !strchr("-_.", *m))
            return "has a master name with characters other than letters, "
                   "digits and -_.";
    return NULL;
}

const char *qsso_store_parse_url(apr_pool_t *p, const char *url,
                                 qsso_store_url_t *out)
{
    const char *rest, *err, *end, *slash;
    qsso_store_host_t h;

    memset(out, 0, sizeof(*out));
    if (!strcasecmp(url, "shm") || !strncasecmp(url, "shm:", 4)) {
        char *e;
        apr_int64_t n = url[3] ? apr_strtoi64(url + 4, &e, 10) : 1048576;
        out->scheme = "shm";
        if ((url[3] && (!apr_isdigit(url[4]) || *e != '\0')) || n < 65536
            || n > APR_INT64_C(1073741824))
            return "has a size that is not 65536-1073741824 bytes "
                   "(shm or shm:BYTES)";
        out->shm_bytes = (apr_size_t)n;
        return NULL;
    }
    if (!strncasecmp(url, "redis+sentinel://", 17)) {
        out->scheme = "redis+sentinel";
        rest = qsso_store_parse_cred(p, url + 17, out, &err);
        return err ? err : qsso_store_parse_sentinel(p, rest, out);
    }
    if (strncasecmp(url, "redis://", 8))
        return "is not a store URL: expected redis://[user:pass@]host:port"
               "[/db], redis+sentinel://[user:pass@]h1:p1,h2:p2/MASTER"
               "[/db] or shm[:BYTES]";
    out->scheme = "redis";
    rest = qsso_store_parse_cred(p, url + 8, out, &err);
    if (err)
        return err;
    slash = strchr(rest, '/');
    if ((err = qsso_store_parse_host(p, rest, slash ? slash
                                              : rest + strlen(rest),
                                     &h, &end)) != NULL)
        return err;
    out->host = h.host;
    out->port = h.port;
    return slash ? qsso_store_parse_db(slash + 1, &out->db) : NULL;
}

const char *qsso_store_open(apr_pool_t *p, const char *url, int max_conns,
                            int cache, qsso_store_t **out)
{
    qsso_store_url_t u;
    qsso_store_t *st;
    const char *err;

    if ((err = qsso_store_parse_url(p, url, &u)) != NULL)
        return apr_psprintf(p, "QSSOStore '%s' %s", url, err);
    if (u.sentinels == NULL && u.host == NULL)
        return apr_psprintf(p, "QSSOStore '%s' is not a Redis store", url);
    st = apr_pcalloc(p, sizeof(*st));
    st->backend = &qsso_store_redis_backend;
    if ((err = st->backend->open(p, &u, max_conns, cache, &st->impl))
        != NULL)
        return err;
    *out = st;
    return NULL;
}

qsso_store_t *qsso_store_wrap(apr_pool_t *p,
                              const struct qsso_store_backend_t *backend,
                              void *impl)
{
    qsso_store_t *st = apr_pcalloc(p, sizeof(*st));

    st->backend = backend;
    st->impl = impl;
    return st;
}

int qsso_store_has_directory(const qsso_store_t *st)
{
    return st->backend->command != NULL;
}

qsso_store_rc_e qsso_store_get(qsso_store_t *st, apr_pool_t *p,
                               const char *key, char **val, apr_size_t *len,
                               const char **err)
{
    return st->backend->get(st->impl, p, key, QSSO_GET_PLAIN, 0, val, len,
                            err);
}

int qsso_store_is_cached_key(const char *key)
{
    return !strncmp(key, QSSO_STORE_CACHED_PREFIX,
                    sizeof(QSSO_STORE_CACHED_PREFIX) - 1);
}

qsso_store_rc_e qsso_store_get_cached(qsso_store_t *st, apr_pool_t *p,
                                      const char *key, apr_time_t since,
                                      char **val, apr_size_t *len,
                                      const char **err)
{
    return st->backend->get(st->impl, p, key, QSSO_GET_CACHED, since, val,
                            len, err);
}

const char *qsso_store_note(qsso_store_t *st, apr_pool_t *p)
{
    return st->backend->note ? st->backend->note(st->impl, p) : NULL;
}

qsso_store_rc_e qsso_store_take(qsso_store_t *st, apr_pool_t *p,
                                const char *key, char **val, apr_size_t *len,
                                const char **err)
{
    return st->backend->get(st->impl, p, key, QSSO_GET_TAKE, 0, val, len,
                            err);
}

qsso_store_rc_e qsso_store_set(qsso_store_t *st, apr_pool_t *p,
                               const char *key, const char *val,
                               apr_size_t len, apr_int64_t expires_at,
                               const char **err)
{
    return st->backend->set(st->impl, p, key, val, len, expires_at, 0, err);
}

qsso_store_rc_e qsso_store_add(qsso_store_t *st, apr_pool_t *p,
                               const char *key, const char *val,
                               apr_size_t len, apr_int64_t expires_at,
                               const char **err)
{
    return st->backend->set(st->impl, p, key, val, len, expires_at, 1, err);
}

qsso_store_rc_e qsso_store_del(qsso_store_t *st, apr_pool_t *p,
                               const char *key, const char **err)
{
    return st->backend->del(st->impl, p, key, err);
}

qsso_store_rc_e qsso_store_count(qsso_store_t *st, apr_pool_t *p,
                                 const char *key, int window,
                                 apr_int64_t *n, int *left,
                                 const char **err)
{
    return st->backend->count(st->impl, p, key, window, n, left, err);
}

qsso_store_rc_e qsso_store_command(qsso_store_t *st, apr_pool_t *p, int argc,
                                   const char **argv,
                                   const apr_size_t *argvlen,
                                   qsso_store_reply_t **reply,
                                   const char **err)
{
    if (st->backend->command == NULL) {
        *err = apr_psprintf(p, "the %s store has no user directory; set "
                            "QSSOStore redis://...", st->backend->name);
        return QSSO_STORE_ERROR;
    }
    return st->backend->command(st->impl, p, argc, argv, argvlen, reply,
                                err);
}

qsso_store_rc_e qsso_store_commandv(qsso_store_t *st, apr_pool_t *p,
                                    qsso_store_reply_t **reply,
                                    const char **err, ...)
{
    apr_array_header_t *args = apr_array_make(p, 8, sizeof(const char *));
    apr_array_header_t *lens = apr_array_make(p, 8, sizeof(apr_size_t));
    const char *a;
    va_list ap;

    va_start(ap, err);
    while ((a = va_arg(ap, const char *)) != NULL) {
        APR_ARRAY_PUSH(args, const char *) = a;
        APR_ARRAY_PUSH(lens, apr_size_t) = strlen(a);
    }
    va_end(ap);
    return qsso_store_command(st, p, args->nelts, (const char **)args->elts,
                              (const apr_size_t *)lens->elts, reply, err);
}

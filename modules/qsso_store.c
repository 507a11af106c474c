/*
 * Store interface. Callers speak in keys, values and absolute expiry
 * times; a backend (only Redis for now) implements them. Values are
 * binary-safe. The store of a process is opened in child_init.
 */
#include <stdarg.h>
#include <string.h>
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

const char *qsso_store_parse_url(apr_pool_t *p, const char *url,
                                 qsso_store_url_t *out)
{
    const char *rest, *at, *slash, *colon;
    char *end;
    long port, db = 0;

    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "redis://", 8))
        return "is not a store URL: expected redis://[user:pass@]host:port"
               "[/db]";
    out->scheme = "redis";
    rest = url + 8;
    if ((at = strrchr(rest, '@')) != NULL) {
        const char *cred = apr_pstrndup(p, rest, (apr_size_t)(at - rest));
        const char *c = strchr(cred, ':');
        if (c == NULL)
            return "has credentials without ':' (use user:pass@ or :pass@)";
        out->user = c == cred ? NULL : apr_pstrndup(p, cred,
                                                    (apr_size_t)(c - cred));
        out->pass = apr_pstrdup(p, c + 1);
        rest = at + 1;
    }
    slash = strchr(rest, '/');
    colon = strchr(rest, ':');
    if (colon == NULL || (slash && colon > slash))
        return "has no port (redis://host:6379)";
    out->host = apr_pstrndup(p, rest, (apr_size_t)(colon - rest));
    if (*out->host == '\0')
        return "has no host";
    port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || port < 1 || port > 65535
        || (*end != '\0' && *end != '/'))
        return "has a port that is not 1-65535";
    if (*end == '/' && end[1] != '\0') {
        const char *d = end + 1;
        db = strtol(d, &end, 10);
        if (end == d || *end != '\0' || db < 0 || db > 15)
            return "has a database number that is not 0-15";
    }
    out->port = (int)port;
    out->db = (int)db;
    return NULL;
}

const char *qsso_store_open(apr_pool_t *p, const char *url, int max_conns,
                            qsso_store_t **out)
{
    qsso_store_url_t u;
    qsso_store_t *st;
    const char *err;

    if ((err = qsso_store_parse_url(p, url, &u)) != NULL)
        return apr_psprintf(p, "QSSOStore '%s' %s", url, err);
    st = apr_pcalloc(p, sizeof(*st));
    st->backend = &qsso_store_redis_backend;
    if ((err = st->backend->open(p, &u, max_conns, &st->impl)) != NULL)
        return err;
    *out = st;
    return NULL;
}

qsso_store_rc_e qsso_store_get(qsso_store_t *st, apr_pool_t *p,
                               const char *key, char **val, apr_size_t *len,
                               const char **err)
{
    return st->backend->get(st->impl, p, key, 0, val, len, err);
}

qsso_store_rc_e qsso_store_take(qsso_store_t *st, apr_pool_t *p,
                                const char *key, char **val, apr_size_t *len,
                                const char **err)
{
    return st->backend->get(st->impl, p, key, 1, val, len, err);
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

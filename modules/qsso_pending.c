/*
 * Pending logins are the one record an unauthenticated client makes the
 * store keep, so their number is capped per client address: this file
 * says which addresses count as one, how low QSSOStore shm needs the cap
 * to be, and keeps the pending records and the replay cache. The counting
 * itself is the store's (qsso_store_count); the HTTP side (the refusal,
 * Retry-After) is qsso_login.c's. Needs no request.
 */
#include <string.h>
#include <arpa/inet.h>

#include <apr_strings.h>

#include "qsso_codec.h"
#include "qsso_errors.h"
#include "qsso_pending.h"

const char *qsso_pending_address_key(apr_pool_t *p, const char *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0,
                                             0, 0, 0xff, 0xff};
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];

    if (ip == NULL)
        return NULL;
    if (inet_pton(AF_INET, ip, a) == 1)
        return apr_pstrcat(p, QSSO_PENDING_ADDR_PREFIX, ip, NULL);
    if (inet_pton(AF_INET6, ip, a) != 1)
        return NULL;
    if (!memcmp(a, mapped, sizeof(mapped))
        && inet_ntop(AF_INET, a + 12, text, sizeof(text)))
        return apr_pstrcat(p, QSSO_PENDING_ADDR_PREFIX, text, NULL);
    memset(a + 8, 0, 8);
    if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
        return NULL;
    return apr_pstrcat(p, QSSO_PENDING_ADDR_PREFIX, text, "/64", NULL);
}

/* Set once per configuration generation, before the children are forked,
 * and only read after: no lock needed. */
static int qsso_pending_store_ceiling = 0;

int qsso_pending_shm_ceiling(apr_size_t pending_bytes)
{
    apr_size_t n = pending_bytes / QSSO_PENDING_SHM_SHARE
                   / QSSO_PENDING_SHM_WORST;

    return n < 1 ? 1 : n > 1000000 ? 1000000 : (int)n;
}

int qsso_pending_effective_cap(int configured, int ceiling)
{
    /* 0 is an explicit "no cap": honoured, and startup says what it costs
     * (qsso_config_pending_ceiling). */
    if (ceiling <= 0 || configured == 0)
        return configured;
    return configured < ceiling ? configured : ceiling;
}

void qsso_pending_set_ceiling(int ceiling)
{
    qsso_pending_store_ceiling = ceiling;
}

int qsso_pending_ceiling(void)
{
    return qsso_pending_store_ceiling;
}

static int qsso_pending_store_error(apr_pool_t *p, const char *what,
                                    const char *why, qsso_err_t *err)
{
    return qsso_err_set(p, err, 3001, "%s: %s", what,
                        why ? why : "no store (QSSOStore) in this process");
}

int qsso_pending_admit(qsso_store_t *st, apr_pool_t *p, const char *ip,
                       int cap, int *log, int *retry_after, qsso_err_t *err)
{
    const char *key = qsso_pending_address_key(p, ip);
    const char *why = NULL;
    apr_int64_t n;
    int left;

    *log = 1;
    *retry_after = 0;
    /* With QSSOStore shm, a cap the pending region cannot honour would let
     * one address push out everyone else's pending logins. */
    cap = qsso_pending_effective_cap(cap, qsso_pending_ceiling());
    if (cap == 0 || key == NULL)
        return QSSO_OK;
    if (st == NULL
        || qsso_store_count(st, p, key, QSSO_PENDING_TTL, &n, &left, &why)
               != QSSO_STORE_OK)
        return qsso_pending_store_error(p, "counting the pending logins",
                                        why, err);
    if (n <= cap)
        return QSSO_OK;
    /* One log line per address and window: a flood must not flood the
     * log too. */
    *log = n == (apr_int64_t)cap + 1;
    *retry_after = left > 0 ? left : 1;
    return qsso_err_set(p, err, 2010, "client %s (counted as %s) started "
                        "more than %d logins within %d s "
                        "(QSSOPendingLoginsPerAddress%s); further ones are "
                        "refused for %d s without a log line", ip,
                        key + sizeof(QSSO_PENDING_ADDR_PREFIX) - 1, cap,
                        QSSO_PENDING_TTL, cap == qsso_pending_ceiling()
                            ? ", as far as QSSOStore shm can honour it" : "",
                        left);
}

int qsso_pending_save(qsso_store_t *st, apr_pool_t *p, apr_time_t now,
                      const char *id, const char *relay,
                      const char *return_to, qsso_err_t *err)
{
    const char *rec, *why = NULL;

    /* The caller (qsso_login_start) bounds the return path; this keeps
     * any other caller from storing more. */
    if (strlen(return_to) > QSSO_PENDING_MAX_RETURN)
        return_to = "/";
    rec = apr_pstrcat(p, relay, "\n", return_to, NULL);
    if (st == NULL
        || qsso_store_set(st, p, apr_pstrcat(p, "qsso:req:", id, NULL), rec,
                          strlen(rec), apr_time_sec(now) + QSSO_PENDING_TTL,
                          &why) != QSSO_STORE_OK)
        return qsso_pending_store_error(p, "saving the pending login", why,
                                        err);
    return QSSO_OK;
}

int qsso_pending_take(qsso_store_t *st, apr_pool_t *p, const char *id,
                      const char **relay, const char **return_to,
                      qsso_err_t *err)
{
    const char *why = NULL;
    char *val, *nl;
    apr_size_t len;

    if (st == NULL)
        return qsso_pending_store_error(p, "reading the pending login", NULL,
                                        err);
    /* IDs we issue are 33 characters; anything else cannot be ours. */
    if (strlen(id) > 64)
        return qsso_err_set(p, err, 2117, "InResponseTo is not an ID this "
                            "SP issued");
    switch (qsso_store_take(st, p, apr_pstrcat(p, "qsso:req:", id, NULL),
                            &val, &len, &why)) {
    case QSSO_STORE_OK:
        break;
    case QSSO_STORE_NOTFOUND:
        return qsso_err_set(p, err, 2117, "InResponseTo \"%s\" matches no "
                            "pending login (unknown, older than %d s, or "
                            "already used)",
                            qsso_codec_log_escape(p, id, 64),
                            QSSO_PENDING_TTL);
    default:
        return qsso_pending_store_error(p, "reading the pending login", why,
                                        err);
    }
    if ((nl = strchr(val, '\n')) == NULL)
        return qsso_err_set(p, err, 2117, "the pending login record is "
                            "damaged");
    *nl = '\0';
    *relay = val;
    *return_to = nl + 1;
    return QSSO_OK;
}

int qsso_pending_check_replay(qsso_store_t *st, apr_pool_t *p,
                              apr_time_t now, const char *idp,
                              const char *assertion_id, apr_time_t expires,
                              qsso_err_t *err)
{
    const char *both = apr_pstrcat(p, idp, "\n", assertion_id, NULL);
    const char *key = apr_pstrcat(p, "qsso:seen:",
                                  qsso_codec_sha256_hex(p, both,
                                                        strlen(both)), NULL);
    apr_int64_t until = apr_time_sec(expires);
    const char *why = NULL;

    if (st == NULL)
        return qsso_pending_store_error(p, "checking replay", NULL, err);
    /* Keep the record at least a minute, even for a short assertion. */
    if (until < apr_time_sec(now) + 60)
        until = apr_time_sec(now) + 60;
    switch (qsso_store_add(st, p, key, "1", 1, until, &why)) {
    case QSSO_STORE_OK:
        return QSSO_OK;
    case QSSO_STORE_EXISTS:
        return qsso_err_set(p, err, 2124, "assertion ID \"%s\" was already "
                            "accepted once",
                            qsso_codec_log_escape(p, assertion_id, 80));
    case QSSO_STORE_FULL:
        /* Refused, never accepted unchecked: the cache cannot evict. */
        return qsso_err_set(p, err, 3030, "%s", why);
    default:
        return qsso_pending_store_error(p, "checking replay", why, err);
    }
}

/*
 * Sessions live in the store under the SHA-256 of their cookie value (a
 * leaked store dump holds no usable cookies), with the store's own expiry
 * at the session's end. A protected request costs at most one store round
 * trip, once per request however many subrequests it makes, and none when
 * the process has the record cached (QSSOSessionCache, qsso_store.h). Pending login
 * requests and seen assertion IDs are store records too, so every front
 * end sees them. The cookie value and record formats are in qsso_cookie.c,
 * which needs no request.
 */
#include <string.h>
#include <httpd.h>
#include <http_log.h>
#include <http_config.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_cookie.h"
#include "qsso_errors.h"
#include "qsso_pending.h"
#include "qsso_session.h"
#include "qsso_store.h"
#include "qsso_users.h"

APLOG_USE_MODULE(qsso);

/* seconds a pending login waits for the IdP's answer: long enough for a
 * password and a second factor (a push, a code from an app or an SMS),
 * short enough that a flood of unauthenticated GETs holds little. A login
 * that takes longer gets 2117 and starts again (the IdP session it made
 * then answers at once). docs/directives.md (QSSOPendingLoginsPerAddress)
 * cites it. */
#define QSSO_PENDING_TTL 180

/* Kept in the top request (not a subrequest, not an internal redirect),
 * so every subrequest of a page shares one load; the record lives in that
 * request's pool, which outlives them all. */
typedef struct {
    int loaded;
    qsso_session_t *session;
    const char *id;
    apr_pool_t *pool;           /* the top request's */
} qsso_session_cache_t;

static qsso_session_cache_t *qsso_session_cache(request_rec *r)
{
    qsso_session_cache_t *sc;

    while (r->main)
        r = r->main;
    while (r->prev)
        r = r->prev;
    sc = ap_get_module_config(r->request_config, &qsso_module);
    if (sc == NULL) {
        sc = apr_pcalloc(r->pool, sizeof(*sc));
        sc->pool = r->pool;
        ap_set_module_config(r->request_config, &qsso_module, sc);
    }
    return sc;
}

static const char *qsso_session_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, QSSO_STORE_CACHED_PREFIX,
                       qsso_codec_sha256_hex(p, id, strlen(id)), NULL);
}

static int qsso_session_store_error(request_rec *r, const char *what,
                                    const char *why, qsso_err_t *err)
{
    return qsso_err_set(r->pool, err, 3001, "%s: %s", what,
                        why ? why : "no store (QSSOStore) in this process");
}

int qsso_session_load(request_rec *r, const qsso_dir_conf_t *c,
                      qsso_session_t **out, qsso_err_t *err)
{
    qsso_session_cache_t *sc = qsso_session_cache(r);
    qsso_store_t *st = qsso_store_process();
    const char *id, *why = NULL, *note;
    char *val;
    apr_size_t len;
    qsso_session_t *s;
    qsso_store_rc_e rc;

    *out = NULL;
    if (sc->loaded) {
        *out = sc->session;
        return QSSO_OK;
    }
    /* In the top request's pool: this may be a subrequest, and what is
     * loaded here serves the page's other subrequests after it is gone. */
    id = qsso_session_parse_cookie(sc->pool, apr_table_get(r->headers_in,
                                                           "Cookie"),
                                   qsso_conf_cookie_name(c));
    if (id == NULL) {
        sc->loaded = 1;
        return QSSO_OK;
    }
    if (st == NULL)
        return qsso_session_store_error(r, "loading the session", NULL, err);
    rc = qsso_store_get_cached(st, sc->pool, qsso_session_key(r->pool, id),
                               r->request_time, &val, &len, &why);
    if ((note = qsso_store_note(st, r->pool)) != NULL)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(3005) "%s",
                      note);
    switch (rc) {
    case QSSO_STORE_OK:
        break;
    case QSSO_STORE_NOTFOUND:
        sc->loaded = 1;
        return QSSO_OK;
    default:
        return qsso_session_store_error(r, "loading the session", why, err);
    }
    s = apr_pcalloc(sc->pool, sizeof(*s));
    if (qsso_session_decode(sc->pool, val, s) != 0
        || s->expires <= r->request_time) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(3002)
                      "session record damaged or expired; signing in again");
        s = NULL;
    }
    sc->loaded = 1;
    sc->session = s;
    sc->id = s ? id : NULL;
    *out = s;
    return QSSO_OK;
}

qsso_session_t *qsso_session_current(request_rec *r)
{
    return qsso_session_cache(r)->session;
}

const char *qsso_session_logout_token(request_rec *r)
{
    qsso_session_cache_t *sc = qsso_session_cache(r);
    const char *h;

    if (sc->id == NULL)
        return NULL;
    /* Derived from the secret session ID: only pages of this site, which
     * the session's user sees, can know it; it dies with the session. */
    h = qsso_codec_sha256_hex(r->pool, apr_pstrcat(r->pool, "qsso-logout:",
                                                   sc->id, NULL),
                              strlen(sc->id) + 12);
    return apr_pstrndup(r->pool, h, 32);
}

static const char *qsso_session_cookie(request_rec *r,
                                       const qsso_dir_conf_t *c,
                                       const char *value, int expire)
{
    return apr_pstrcat(r->pool, qsso_conf_cookie_name(c), "=", value,
                       "; Path=/; HttpOnly",
                       qsso_conf_cookie_secure(c) ? "; Secure" : "",
                       "; SameSite=", qsso_conf_cookie_samesite(c),
                       expire ? "; Max-Age=0" : "", NULL);
}

int qsso_session_create(request_rec *r, const qsso_dir_conf_t *c,
                        qsso_session_t *s, qsso_err_t *err)
{
    unsigned char raw[QSSO_SESSION_ID_BYTES];
    const char *id, *rec, *key, *why = NULL;
    qsso_store_t *st = qsso_store_process();

    if (st == NULL)
        return qsso_session_store_error(r, "saving the session", NULL, err);
    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS)
        return qsso_session_store_error(r, "saving the session",
                                        "no randomness for the session ID",
                                        err);
    id = qsso_codec_base64url_encode(r->pool, raw, sizeof(raw));
    rec = qsso_session_encode(r->pool, s);
    key = qsso_session_key(r->pool, id);
    /* Indexed under the user first, so a deprovisioning that starts now
     * finds it (qsso_users_revoke_sessions). */
    if ((qsso_store_has_directory(st)
         && qsso_users_add_session(st, r->pool, s->username, key,
                                   apr_time_sec(s->expires), &why)
                != QSSO_STORE_OK)
        || qsso_store_set(st, r->pool, key, rec, strlen(rec),
                          apr_time_sec(s->expires), &why) != QSSO_STORE_OK)
        return qsso_session_store_error(r, "saving the session", why, err);
    if (qsso_store_has_directory(st)
        && qsso_users_check_active(st, r->pool, s->username, err)
               != QSSO_OK) {
        qsso_store_del(st, r->pool, key, &why);
        return err->code;
    }
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   qsso_session_cookie(r, c, id, 0));
    return QSSO_OK;
}

int qsso_session_destroy(request_rec *r, const qsso_dir_conf_t *c,
                         qsso_err_t *err)
{
    qsso_session_cache_t *sc = qsso_session_cache(r);
    qsso_store_t *st = qsso_store_process();
    const char *id = qsso_session_parse_cookie(
        r->pool, apr_table_get(r->headers_in, "Cookie"),
        qsso_conf_cookie_name(c));
    const char *why = NULL;

    if (id && st
        && qsso_store_del(st, r->pool, qsso_session_key(r->pool, id), &why)
               != QSSO_STORE_OK)
        return qsso_session_store_error(r, "deleting the session", why, err);
    if (id && st == NULL)
        return qsso_session_store_error(r, "deleting the session", NULL, err);
    sc->loaded = 1;
    sc->session = NULL;
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   qsso_session_cookie(r, c, "", 1));
    return QSSO_OK;
}

int qsso_session_admit_pending(request_rec *r, int cap, int *log,
                               qsso_err_t *err)
{
    qsso_store_t *st = qsso_store_process();
    const char *key = qsso_pending_address_key(r->pool, r->useragent_ip);
    const char *why = NULL;
    apr_int64_t n;
    int left;

    *log = 1;
    if (cap == 0 || key == NULL)
        return QSSO_OK;
    if (st == NULL
        || qsso_store_count(st, r->pool, key, QSSO_PENDING_TTL, &n, &left,
                            &why) != QSSO_STORE_OK)
        return qsso_session_store_error(r, "counting the pending logins",
                                        why, err);
    if (n <= cap)
        return QSSO_OK;
    /* One log line per address and window: a flood must not flood the
     * log too. */
    *log = n == (apr_int64_t)cap + 1;
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_itoa(r->pool, left > 0 ? left : 1));
    return qsso_err_set(r->pool, err, 2010, "client %s (counted as %s) "
                        "started more than %d logins within %d s "
                        "(QSSOPendingLoginsPerAddress); further ones are "
                        "refused for %d s without a log line",
                        r->useragent_ip,
                        key + sizeof(QSSO_PENDING_ADDR_PREFIX) - 1, cap,
                        QSSO_PENDING_TTL, left);
}

int qsso_session_save_pending(request_rec *r, const char *id,
                              const char *relay, const char *return_to,
                              qsso_err_t *err)
{
    qsso_store_t *st = qsso_store_process();
    const char *rec, *why = NULL;

    /* The caller (qsso_login_start) bounds the return path; this keeps
     * any other caller from storing more. */
    if (strlen(return_to) > QSSO_PENDING_MAX_RETURN)
        return_to = "/";
    rec = apr_pstrcat(r->pool, relay, "\n", return_to, NULL);
    if (st == NULL
        || qsso_store_set(st, r->pool, apr_pstrcat(r->pool, "qsso:req:", id,
                                                   NULL),
                          rec, strlen(rec),
                          apr_time_sec(r->request_time) + QSSO_PENDING_TTL,
                          &why) != QSSO_STORE_OK)
        return qsso_session_store_error(r, "saving the pending login", why,
                                        err);
    return QSSO_OK;
}

int qsso_session_take_pending(request_rec *r, const char *id,
                              const char **relay, const char **return_to,
                              qsso_err_t *err)
{
    qsso_store_t *st = qsso_store_process();
    const char *why = NULL;
    char *val, *nl;
    apr_size_t len;

    if (st == NULL)
        return qsso_session_store_error(r, "reading the pending login", NULL,
                                        err);
    /* IDs we issue are 33 characters; anything else cannot be ours. */
    if (strlen(id) > 64)
        return qsso_err_set(r->pool, err, 2117, "InResponseTo is not an ID "
                            "this SP issued");
    switch (qsso_store_take(st, r->pool, apr_pstrcat(r->pool, "qsso:req:",
                                                     id, NULL),
                            &val, &len, &why)) {
    case QSSO_STORE_OK:
        break;
    case QSSO_STORE_NOTFOUND:
        return qsso_err_set(r->pool, err, 2117, "InResponseTo \"%s\" matches "
                            "no pending login (unknown, older than %d s, or "
                            "already used)",
                            qsso_codec_log_escape(r->pool, id, 64),
                            QSSO_PENDING_TTL);
    default:
        return qsso_session_store_error(r, "reading the pending login", why,
                                        err);
    }
    if ((nl = strchr(val, '\n')) == NULL)
        return qsso_err_set(r->pool, err, 2117, "the pending login record is "
                            "damaged");
    *nl = '\0';
    *relay = val;
    *return_to = nl + 1;
    return QSSO_OK;
}

int qsso_session_check_replay(request_rec *r, const char *idp,
                              const char *assertion_id, apr_time_t expires,
                              qsso_err_t *err)
{
    qsso_store_t *st = qsso_store_process();
    const char *both = apr_pstrcat(r->pool, idp, "\n", assertion_id, NULL);
    const char *key = apr_pstrcat(r->pool, "qsso:seen:",
                                  qsso_codec_sha256_hex(r->pool, both,
                                                        strlen(both)), NULL);
    apr_int64_t until = apr_time_sec(expires);
    const char *why = NULL;

    if (st == NULL)
        return qsso_session_store_error(r, "checking replay", NULL, err);
    /* Keep the record at least a minute, even for a short assertion. */
    if (until < apr_time_sec(r->request_time) + 60)
        until = apr_time_sec(r->request_time) + 60;
    switch (qsso_store_add(st, r->pool, key, "1", 1, until, &why)) {
    case QSSO_STORE_OK:
        return QSSO_OK;
    case QSSO_STORE_EXISTS:
        return qsso_err_set(r->pool, err, 2124, "assertion ID \"%s\" was "
                            "already accepted once",
                            qsso_codec_log_escape(r->pool, assertion_id, 80));
    case QSSO_STORE_FULL:
        /* Refused, never accepted unchecked: the cache cannot evict. */
        return qsso_err_set(r->pool, err, 3030, "%s", why);
    default:
        return qsso_session_store_error(r, "checking replay", why, err);
    }
}

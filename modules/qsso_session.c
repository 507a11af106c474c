/*
 * Sessions live in the store under the SHA-256 of their cookie value (a
 * leaked store dump holds no usable cookies), with the store's own expiry
 * at the session's end. A protected request costs one store round trip
 * per session cookie it carries (at most QSSO_SESSION_COOKIE_TRIES,
 * usually one), once per request however many subrequests it makes, and
 * none when the process has the record cached (QSSOSessionCache,
 * qsso_store.h). A session opens only sections of the SP and IdP it was
 * issued for (qsso_session_check_bound): the store is server-wide, the
 * sites on it are not. Pending login requests and seen assertion IDs are
 * store records too, so every front end sees them (qsso_pending.c). The
 * cookie value and record formats are in qsso_cookie.c; both files need
 * no request.
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

/* The cookies' records are read once, into the top request (not a
 * subrequest, not an internal redirect), so every subrequest of a page
 * shares one load; they live in that request's pool, which outlives them
 * all. Which of them a request uses is picked per request, because a
 * subrequest may fall in another section with another SP or IdP. The top
 * request's struct holds both parts. */
typedef struct {
    const char *id;
    qsso_session_t *session;    /* NULL: no record, damaged or expired */
    const char *name;           /* the cookie it came in */
    int legacy;                 /* under the pre-__Host- name */
} qsso_session_candidate_t;

typedef struct {
    /* top request: the cookies' records */
    int loaded;
    const char *cookie_name;    /* the name they were read for */
    int n;
    qsso_session_candidate_t *cand;     /* n of them; a fresh array at
                                         * each read, so no request's pick
                                         * ever changes under it */
    apr_pool_t *pool;           /* the top request's */
    /* every request that loaded: its pick */
    int picked;
    qsso_session_candidate_t *pick;     /* NULL: no session here */
    const char *conflict[2];    /* two users whose live sessions came in
                                 * cookies that can shadow each other */
} qsso_session_cache_t;

static qsso_session_cache_t *qsso_session_own(request_rec *r)
{
    qsso_session_cache_t *sc = ap_get_module_config(r->request_config,
                                                    &qsso_module);

    if (sc == NULL) {
        sc = apr_pcalloc(r->pool, sizeof(*sc));
        sc->pool = r->pool;
        ap_set_module_config(r->request_config, &qsso_module, sc);
    }
    return sc;
}

static qsso_session_cache_t *qsso_session_cache(request_rec *r)
{
    while (r->main)
        r = r->main;
    while (r->prev)
        r = r->prev;
    return qsso_session_own(r);
}

/* The pick of r, else of the request it came from (a subrequest of the
 * same section skips authentication and inherits its user), or NULL. */
static const qsso_session_cache_t *qsso_session_picked(request_rec *r)
{
    for (; r; r = r->main ? r->main : r->prev) {
        const qsso_session_cache_t *sc =
            ap_get_module_config(r->request_config, &qsso_module);
        if (sc && sc->picked)
            return sc;
    }
    return NULL;
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

/* The session IDs of the request's cookies: those under the configured
 * name first, then (with the default __Host- name) those under the name
 * used before it, at most QSSO_SESSION_COOKIE_TRIES in all. */
static void qsso_session_read_ids(request_rec *r, const qsso_dir_conf_t *c,
                                  qsso_session_cache_t *sc)
{
    const char *header = apr_table_get(r->headers_in, "Cookie");
    const char *names[2], *ids[QSSO_SESSION_COOKIE_TRIES];
    int i, k, n, seen = 0;

    names[0] = qsso_conf_cookie_name(c);
    names[1] = qsso_conf_cookie_legacy_name(c);
    sc->n = 0;
    sc->cand = apr_pcalloc(sc->pool, QSSO_SESSION_COOKIE_TRIES
                                         * sizeof(*sc->cand));
    for (k = 0; k < 2 && names[k]; k++) {
        n = qsso_session_parse_cookies(sc->pool, header, names[k], ids,
                                       QSSO_SESSION_COOKIE_TRIES);
        seen += n;
        for (i = 0; i < n && i < QSSO_SESSION_COOKIE_TRIES
                    && sc->n < QSSO_SESSION_COOKIE_TRIES; i++) {
            qsso_session_candidate_t *cd = &sc->cand[sc->n++];
            cd->id = ids[i];
            cd->name = names[k];
            cd->legacy = k == 1;
        }
    }
    if (seen > sc->n)
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(3012)
                      "%d session cookies sent; only the first %d are "
                      "tried", seen, sc->n);
}

/* Reads the record of each candidate cookie into the top request. */
static int qsso_session_read(request_rec *r, const qsso_dir_conf_t *c,
                             qsso_session_cache_t *sc, qsso_err_t *err)
{
    qsso_store_t *st = qsso_store_process();
    int i;

    qsso_session_read_ids(r, c, sc);
    sc->cookie_name = qsso_conf_cookie_name(c);
    if (sc->n && st == NULL)
        return qsso_session_store_error(r, "loading the session", NULL, err);
    for (i = 0; i < sc->n; i++) {
        qsso_session_candidate_t *cd = &sc->cand[i];
        const char *why = NULL, *note;
        char *val;
        apr_size_t len;
        qsso_session_t *s;
        qsso_store_rc_e rc;

        rc = qsso_store_get_cached(st, sc->pool,
                                   qsso_session_key(r->pool, cd->id),
                                   r->request_time, &val, &len, &why);
        if ((note = qsso_store_note(st, r->pool)) != NULL)
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(3005)
                          "%s", note);
        if (rc == QSSO_STORE_NOTFOUND)
            continue;
        if (rc != QSSO_STORE_OK)
            return qsso_session_store_error(r, "loading the session", why,
                                            err);
        s = apr_pcalloc(sc->pool, sizeof(*s));
        if (qsso_session_decode(sc->pool, val, s) != 0
            || s->expires <= r->request_time) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(3002)
                          "session record damaged or expired; signing in "
                          "again");
            continue;
        }
        cd->session = s;
    }
    sc->loaded = 1;
    return QSSO_OK;
}

/* Is candidate cd a session of section c? Says why not in one line when
 * told to (once per request: load tells it, destroy after load not). */
static int qsso_session_is_ours(request_rec *r, const qsso_dir_conf_t *c,
                                const qsso_session_candidate_t *cd, int say)
{
    const qsso_srv_conf_t *ssc =
        ap_get_module_config(r->server->module_config, &qsso_module);
    const qsso_session_t *s = cd->session;
    const char *idp = c->idp ? c->idp->entity_id : NULL;
    int rc;

    /* Under the old cookie name only an old front end's record counts:
     * every record of this version is bound to the __Host- cookie, so a
     * cookie another application plants under the old name can only ever
     * carry a record that expires with the upgrade window. */
    if (cd->legacy && s->sp != NULL)
        rc = 3010;
    else
        rc = qsso_session_check_bound(
            s, c->sp_entity_id, idp,
            qsso_conf_accept_previous(ssc) ? ssc->sp_entity_ids : 0);
    if (rc == QSSO_OK || !say)
        return rc == QSSO_OK;
    if (rc == 3010)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(3010)
                      "session of user=%s was issued for SP \"%s\" and "
                      "idp=%s%s, not this section's SP \"%s\" and idp=%s: "
                      "treated as no session; fix: give sites with their "
                      "own SP or IdP on one host their own QSSOCookieName",
                      qsso_codec_log_escape(r->pool, s->username, 200),
                      qsso_codec_log_escape(r->pool, s->sp ? s->sp : "",
                                            200),
                      qsso_codec_log_escape(r->pool, s->idp, 200),
                      cd->legacy ? " (under the cookie name before "
                                   "__Host-)" : "",
                      qsso_codec_log_escape(r->pool, c->sp_entity_id, 200),
                      qsso_codec_log_escape(r->pool, idp, 200));
    else if (rc == 3011)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(3011)
                      "session of user=%s idp=%s is in the previous record "
                      "format, which names no SP: accepted only with "
                      "QSSOAcceptPreviousSessions On (it is %s), for its "
                      "own IdP, on a server with one QSSOSPEntityID (this "
                      "section: idp=%s, the server has %d): treated as no "
                      "session",
                      qsso_codec_log_escape(r->pool, s->username, 200),
                      qsso_codec_log_escape(r->pool, s->idp, 200),
                      qsso_conf_accept_previous(ssc) ? "On" : "Off",
                      qsso_codec_log_escape(r->pool, idp, 200),
                      ssc->sp_entity_ids);
    return rc == QSSO_OK;
}

int qsso_session_load(request_rec *r, const qsso_dir_conf_t *c,
                      qsso_session_t **out, qsso_err_t *err)
{
    qsso_session_cache_t *sc = qsso_session_cache(r), *own;
    int i;

    *out = NULL;
    /* In the top request's pool: this may be a subrequest, and what is
     * loaded here serves the page's other subrequests after it is gone. A
     * section with another QSSOCookieName reads its own cookies. */
    if ((!sc->loaded || strcmp(sc->cookie_name, qsso_conf_cookie_name(c)))
        && qsso_session_read(r, c, sc, err) != QSSO_OK)
        return err->code;
    own = qsso_session_own(r);
    own->picked = 1;
    own->pick = NULL;
    own->conflict[0] = own->conflict[1] = NULL;
    /* The first live record of this section wins, so a cookie sent before
     * the user's own (another path's, a stale one) cannot sign them out.
     * A __Host- cookie is unique to the host and path /, so nothing can
     * shadow it. Under any other name, the cookie sent first may be one
     * another application on the host (or a sibling domain) planted:
     * when it carries a live session of another user, nobody can tell
     * which one is the browser's own, and taking either would let the
     * planter have the victim work in the planter's account. Then there
     * is no session, and qsso_session_check_conflict refuses a login
     * that would only loop back here. */
    for (i = 0; i < sc->n; i++) {
        qsso_session_candidate_t *cd = &sc->cand[i];
        if (cd->session == NULL || !qsso_session_is_ours(r, c, cd, 1))
            continue;
        if (own->pick == NULL) {
            own->pick = cd;
            if (!strncmp(cd->name, "__Host-", 7))
                break;
        }
        else if (strcasecmp(own->pick->session->username,
                            cd->session->username)) {
            own->conflict[0] = own->pick->session->username;
            own->conflict[1] = cd->session->username;
            own->pick = NULL;
            break;
        }
    }
    *out = own->pick ? own->pick->session : NULL;
    return QSSO_OK;
}

int qsso_session_check_conflict(request_rec *r, qsso_err_t *err)
{
    const qsso_session_cache_t *sc = qsso_session_picked(r);

    if (sc == NULL || sc->conflict[0] == NULL)
        return QSSO_OK;
    return qsso_err_set(r->pool, err, 3013, "the request carries live "
                        "sessions of two users (user=%s and user=%s) in "
                        "cookies of the same name %s; one was set by "
                        "something else on this host or a sibling domain, "
                        "so neither is used",
                        qsso_codec_log_escape(r->pool, sc->conflict[0], 200),
                        qsso_codec_log_escape(r->pool, sc->conflict[1], 200),
                        qsso_codec_log_escape(r->pool, sc->cookie_name, 80));
}

qsso_session_t *qsso_session_current(request_rec *r)
{
    const qsso_session_cache_t *sc = qsso_session_picked(r);

    return sc && sc->pick ? sc->pick->session : NULL;
}

const char *qsso_session_logout_token(request_rec *r)
{
    const qsso_session_cache_t *sc = qsso_session_picked(r);
    const char *h, *id;

    if (sc == NULL || sc->pick == NULL)
        return NULL;
    id = sc->pick->id;
    /* Derived from the secret session ID: only pages of this site, which
     * the session's user sees, can know it; it dies with the session. */
    h = qsso_codec_sha256_hex(r->pool, apr_pstrcat(r->pool, "qsso-logout:",
                                                   id, NULL),
                              strlen(id) + 12);
    return apr_pstrndup(r->pool, h, 32);
}

/* A __Host- cookie must be Secure, Path=/ and have no Domain (RFC 6265bis
 * 4.1.3.2); every session cookie here is so, Secure as configured (the
 * startup checks refuse a __Host- QSSOCookieName without it). */
static const char *qsso_session_cookie(request_rec *r,
                                       const qsso_dir_conf_t *c,
                                       const char *name, const char *value,
                                       int expire)
{
    return apr_pstrcat(r->pool, name, "=", value, "; Path=/; HttpOnly",
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
    /* Bound to the SP and IdP of the section whose ACS verified it: it
     * opens no other (qsso_session_check_bound). */
    s->sp = c->sp_entity_id;
    s->idp = c->idp->entity_id;
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
                   qsso_session_cookie(r, c, qsso_conf_cookie_name(c), id,
                                       0));
    return QSSO_OK;
}

/* Expires cookie name unless this response already does. */
static void qsso_session_expire(request_rec *r, const qsso_dir_conf_t *c,
                                const char *name)
{
    const char *v = qsso_session_cookie(r, c, name, "", 1);
    const apr_array_header_t *h = apr_table_elts(r->err_headers_out);
    int i;

    for (i = 0; i < h->nelts; i++) {
        const apr_table_entry_t *e = &APR_ARRAY_IDX(h, i, apr_table_entry_t);
        if (!strcasecmp(e->key, "Set-Cookie") && !strcmp(e->val, v))
            return;
    }
    apr_table_addn(r->err_headers_out, "Set-Cookie", v);
}

int qsso_session_destroy(request_rec *r, const qsso_dir_conf_t *c,
                         qsso_err_t *err)
{
    qsso_session_cache_t *sc = qsso_session_cache(r), *own;
    qsso_store_t *st = qsso_store_process();
    qsso_session_t *s;
    const char *why = NULL;
    int i, live = 0, ended = 0;

    if (qsso_session_load(r, c, &s, err) != QSSO_OK)
        return err->code;
    own = qsso_session_own(r);
    own->pick = NULL;
    /* Every session of this section the request carries ends, not only
     * the one in use: during an upgrade an old front end's session under
     * the old cookie name would otherwise outlive the logout. */
    for (i = 0; i < sc->n; i++) {
        qsso_session_candidate_t *cd = &sc->cand[i];
        if (cd->session == NULL)
            continue;
        if (!qsso_session_is_ours(r, c, cd, 0)) {
            live++;
            continue;
        }
        if (qsso_store_del(st, r->pool, qsso_session_key(r->pool, cd->id),
                           &why) != QSSO_STORE_OK)
            return qsso_session_store_error(r, "deleting the session", why,
                                            err);
        cd->session = NULL;
        qsso_session_expire(r, c, cd->name);
        ended++;
    }
    /* A session of another site on this host (same cookie name) is not
     * ours to end: its record and its cookie stay, so a logout link here
     * cannot sign the user out there. */
    if (ended == 0 && live == 0)
        qsso_session_expire(r, c, qsso_conf_cookie_name(c));
    return QSSO_OK;
}

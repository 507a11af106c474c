/*
 * The SP endpoints and the start of a login. The return URL never travels
 * to the IdP: RelayState is an opaque key, and the return path is kept in
 * the pending record, so a forged RelayState cannot become an open
 * redirect. Every redirect this file sends is a same-origin path.
 */
#include <string.h>
#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_attrs.h"
#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_cookie.h"
#include "qsso_errors.h"
#include "qsso_login.h"
#include "qsso_metadata.h"
#include "qsso_pending.h"
#include "qsso_policy.h"
#include "qsso_request.h"
#include "qsso_response.h"
#include "qsso_session.h"
#include "qsso_store.h"
#include "qsso_users.h"

APLOG_USE_MODULE(qsso);

#define QSSO_ACS_MAX_BODY (256 * 1024)

/* Script requests cannot follow a redirect to the IdP (DESIGN "Flows"). */
static int qsso_login_is_script(request_rec *r)
{
    const char *xrw = apr_table_get(r->headers_in, "X-Requested-With");
    const char *mode = apr_table_get(r->headers_in, "Sec-Fetch-Mode");

    if (r->method_number != M_GET)      /* HEAD is M_GET too */
        return 1;
    if (xrw && !strcasecmp(xrw, "XMLHttpRequest"))
        return 1;
    return mode && strcasecmp(mode, "navigate");
}

static void qsso_login_no_cache(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

/* A same-origin path as a Location value: non-ASCII bytes encoded. */
static const char *qsso_login_location(apr_pool_t *p, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(path) * 3 + 1), *o = out;

    for (; *path; path++) {
        unsigned char ch = (unsigned char)*path;
        if (ch >= 0x80) {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
        else {
            *o++ = (char)ch;
        }
    }
    *o = '\0';
    return out;
}

static int qsso_login_redirect(request_rec *r, const char *path, int status)
{
    qsso_login_no_cache(r);
    apr_table_setn(r->headers_out, "Location",
                   qsso_login_location(r->pool, path));
    return status;
}

int qsso_login_start(request_rec *r, const qsso_dir_conf_t *c,
                     const char *return_to, int protect)
{
    qsso_request_input_t in;
    qsso_request_t req;
    const qsso_srv_conf_t *sc =
        ap_get_module_config(r->server->module_config, &qsso_module);
    qsso_err_t err;
    int rc, log, retry_after;

    memset(&err, 0, sizeof(err));
    if (qsso_session_check_conflict(r, &err) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    if (protect && qsso_login_is_script(r)) {
        qsso_err_set(r->pool, &err, 2002, "%s request without a session "
                     "(script or non-GET); the page must start a login",
                     r->method);
        return qsso_refuse(r, &err, c->idp->entity_id);
    }
    /* Every unauthenticated GET gets here and makes the store keep a
     * record: it is capped per client address, and kept small. */
    if ((rc = qsso_pending_admit(qsso_store_process(), r->pool,
                                 r->useragent_ip,
                                 qsso_conf_pending_per_address(sc), &log,
                                 &retry_after, &err)) != QSSO_OK) {
        if (retry_after > 0)
            apr_table_setn(r->err_headers_out, "Retry-After",
                           apr_itoa(r->pool, retry_after));
        return log ? qsso_refuse(r, &err, c->idp->entity_id)
                   : qsso_refuse_quiet(r, &err);
    }
    if (strlen(return_to) > QSSO_PENDING_MAX_RETURN) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(2011)
                      "return path of %" APR_SIZE_T_FMT " bytes is over the "
                      "%d byte limit of a pending login; the login will "
                      "land on %s", strlen(return_to),
                      QSSO_PENDING_MAX_RETURN,
                      qsso_conf_default_relay_state(c));
        return_to = qsso_conf_default_relay_state(c);
    }
    memset(&in, 0, sizeof(in));
    in.id = qsso_request_new_id(r->pool);
    in.relay_state = qsso_codec_random_hex(r->pool, 16);
    if (in.id == NULL || in.relay_state == NULL) {
        qsso_err_set(r->pool, &err, 2003, "no randomness for the request ID");
        return qsso_refuse(r, &err, c->idp->entity_id);
    }
    in.now = r->request_time;
    in.binding = qsso_conf_binding(c);
    in.sso_url = in.binding == QSSO_BINDING_POST ? c->idp->sso_post_url
                                                 : c->idp->sso_redirect_url;
    in.acs_url = qsso_conf_acs_url(c, r);
    in.sp_entity_id = c->sp_entity_id;
    in.force_authn = qsso_conf_force_authn(c);
    in.key = qsso_conf_sign_request(c) ? c->sp_key : NULL;
    if ((rc = qsso_pending_save(qsso_store_process(), r->pool,
                                r->request_time, in.id, in.relay_state,
                                return_to, &err)) != QSSO_OK
        || (rc = qsso_request_build(r->pool, &in, &req, &err)) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(2004)
                  "login started: request %s to %s, return to %s", in.id,
                  in.sso_url, qsso_codec_log_escape(r->pool, return_to, 200));
    qsso_login_no_cache(r);
    if (in.binding == QSSO_BINDING_POST) {
        ap_set_content_type(r, "text/html; charset=utf-8");
        ap_rputs(req.post_form, r);
        return DONE;
    }
    apr_table_setn(r->headers_out, "Location", req.redirect_url);
    return HTTP_MOVED_TEMPORARILY;
}

/* Value of key in an application/x-www-form-urlencoded string; the first
 * occurrence wins. NULL when absent or badly encoded. */
static const char *qsso_login_form_value(apr_pool_t *p, const char *form,
                                         const char *key)
{
    apr_size_t klen = strlen(key);
    const char *s = form;

    while (s && *s) {
        const char *end = strchr(s, '&');
        apr_size_t len = end ? (apr_size_t)(end - s) : strlen(s);
        if (len > klen && !strncmp(s, key, klen) && s[klen] == '=')
            return qsso_codec_url_decode(p, apr_pstrmemdup(p, s + klen + 1,
                                                           len - klen - 1),
                                         1);
        if (len == klen && !strncmp(s, key, klen))
            return "";
        s = end ? end + 1 : NULL;
    }
    return NULL;
}

static int qsso_login_read_body(request_rec *r, char **body, qsso_err_t *err)
{
    char *buf = apr_palloc(r->pool, QSSO_ACS_MAX_BODY + 1);
    apr_size_t got = 0;
    long n;

    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK)
        return qsso_err_set(r->pool, err, 2103, "the request body could not "
                            "be read");
    if (r->remaining > QSSO_ACS_MAX_BODY)
        return qsso_err_set(r->pool, err, 2102, "Content-Length %"
                            APR_OFF_T_FMT " is over the %d byte cap",
                            r->remaining, QSSO_ACS_MAX_BODY);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + got,
                                        QSSO_ACS_MAX_BODY + 1 - got)) > 0) {
            got += (apr_size_t)n;
            if (got > QSSO_ACS_MAX_BODY)
                return qsso_err_set(r->pool, err, 2102, "the body is over "
                                    "the %d byte cap", QSSO_ACS_MAX_BODY);
        }
        if (n < 0)
            return qsso_err_set(r->pool, err, 2103, "the request body could "
                                "not be read");
    }
    buf[got] = '\0';
    *body = buf;
    return QSSO_OK;
}

/* SP-initiated: the pending request, bound to the RelayState we issued.
 * IdP-initiated: allowed by config, landing on a local RelayState or the
 * default. */
static int qsso_login_resolve_return(request_rec *r, const qsso_dir_conf_t *c,
                                     const qsso_assertion_t *a,
                                     const char *relay,
                                     const char **landing, qsso_err_t *err)
{
    const char *want_relay, *ret;
    int rc;

    if (a->in_response_to == NULL) {
        if (!qsso_conf_allow_idp_initiated(c))
            return qsso_err_set(r->pool, err, 2118, "unsolicited response "
                                "(no InResponseTo) while "
                                "QSSOAllowIdPInitiated is Off");
        *landing = relay && qsso_session_is_local_path(relay)
                       ? relay : qsso_conf_default_relay_state(c);
        return QSSO_OK;
    }
    if ((rc = qsso_pending_take(qsso_store_process(), r->pool,
                                a->in_response_to, &want_relay, &ret, err))
        != QSSO_OK)
        return rc;
    if (relay == NULL || strcmp(relay, want_relay))
        return qsso_err_set(r->pool, err, 2125, "RelayState \"%s\" is not "
                            "the one issued with request %s",
                            qsso_codec_log_escape(r->pool, relay, 80),
                            a->in_response_to);
    *landing = qsso_session_is_local_path(ret)
                   ? ret : qsso_conf_default_relay_state(c);
    return QSSO_OK;
}

/* The user directory's part of a login: find, migrate or create the
 * user, refuse inactive ones; one log line for what changed. */
static int qsso_login_provision(request_rec *r, const qsso_dir_conf_t *c,
                                qsso_session_t *s, qsso_err_t *err)
{
    qsso_store_t *st = qsso_store_process();
    qsso_users_result_t res;
    const char *e = NULL;
    int rc;

    if (st == NULL)
        return qsso_err_set(r->pool, err, 3001, "no store in this process "
                            "(see the QSSO3003 line at startup)");
    /* QSSOStore shm keeps no user directory; startup refused the
     * directives that need one. */
    if (!qsso_store_has_directory(st))
        return QSSO_OK;
    if ((rc = qsso_users_login(st, r->pool, c, s, r->request_time, &res,
                               err)) != QSSO_OK)
        return rc;
    switch (res.outcome) {
    case QSSO_USERS_CREATED:
        if (!qsso_conf_notify_user_creation(c))
            break;
        if (qsso_users_event(st, r->pool, &e, "user.created", "user",
                             s->username, "email", s->email, "idp", s->idp,
                             "source", "jit", NULL) != QSSO_STORE_OK)
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, QSSO_LOGNO(4014)
                          "cannot record the user.created event of %s: %s",
                          qsso_codec_log_escape(r->pool, s->username, 200),
                          e);
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, QSSO_LOGNO(4011)
                      "user created at first login (JIT): user=%s email=%s "
                      "type=%s idp=%s",
                      qsso_codec_log_escape(r->pool, s->username, 200),
                      qsso_codec_log_escape(r->pool, s->email, 200),
                      qsso_codec_log_escape(r->pool, s->user_type, 200),
                      qsso_codec_log_escape(r->pool, s->idp, 200));
        break;
    case QSSO_USERS_RENAMED:
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, QSSO_LOGNO(4012)
                      "existing user %s renamed to %s at first SSO login "
                      "(QSSOModifyExistingUsername)",
                      qsso_codec_log_escape(r->pool, res.previous, 200),
                      qsso_codec_log_escape(r->pool, s->username, 200));
        break;
    case QSSO_USERS_LINKED:
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, QSSO_LOGNO(4013)
                      "first SSO login linked to existing user %s (email "
                      "%s)", qsso_codec_log_escape(r->pool, s->username, 200),
                      qsso_codec_log_escape(r->pool, s->email, 200));
        break;
    default:
        break;
    }
    return QSSO_OK;
}

static int qsso_login_accept(request_rec *r, const qsso_dir_conf_t *c,
                             const char *form, qsso_err_t *err,
                             const char **landing)
{
    qsso_response_input_t in;
    qsso_assertion_t a;
    qsso_claims_t claims;
    qsso_session_t s;
    const qsso_dir_conf_t *pc;
    apr_time_t lifetime_end;
    int rc;

    memset(&in, 0, sizeof(in));
    in.saml_response = qsso_login_form_value(r->pool, form, "SAMLResponse");
    in.idp = c->idp;
    in.sp_entity_id = c->sp_entity_id;
    in.acs_url = qsso_conf_acs_url(c, r);
    in.now = apr_time_now();
    in.clock_skew = qsso_conf_clock_skew(c);
    in.sp_key = c->sp_key;
    in.sig_algs = qsso_conf_signature_algorithms(c);
    in.enc_algs = qsso_conf_encryption_algorithms(c);
    in.require_encrypted = qsso_conf_require_encrypted(c);
    if ((rc = qsso_response_verify(r->pool, &in, &a, err)) != QSSO_OK
        || (rc = qsso_login_resolve_return(
                r, c, &a, qsso_login_form_value(r->pool, form, "RelayState"),
                landing, err)) != QSSO_OK)
        return rc;
    if (qsso_conf_replay_prevention(c)
        && (rc = qsso_pending_check_replay(qsso_store_process(), r->pool,
                                           r->request_time, a.issuer,
                                           a.assertion_id, a.not_on_or_after,
                                           err)))
        return rc;
    /* The policy of the page the user is going to: a QSSOEmailDomains or
     * QSSOUserTypeMap inside its <Location> applies, not only what the
     * endpoint path sees. */
    pc = qsso_conf_for_landing(r, *landing);
    qsso_response_claims(&a, &claims);
    if ((rc = qsso_policy_build_identity(r->pool, pc, &claims, &s, err))
            != QSSO_OK
        || (rc = qsso_login_provision(r, pc, &s, err)) != QSSO_OK)
        return rc;
    err->subject = s.username;
    lifetime_end = r->request_time
                   + apr_time_from_sec(qsso_conf_session_lifetime(c));
    s.expires = a.session_not_on_or_after
                        && a.session_not_on_or_after < lifetime_end
                    ? a.session_not_on_or_after : lifetime_end;
    if ((rc = qsso_session_create(r, c, &s, err)) != QSSO_OK)
        return rc;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(2150)
                  "login accepted: user=%s idp=%s assertion=%s session "
                  "expires in %" APR_TIME_T_FMT " s",
                  qsso_codec_log_escape(r->pool, s.username, 200),
                  qsso_codec_log_escape(r->pool, s.idp, 200),
                  qsso_codec_log_escape(r->pool, a.assertion_id, 80),
                  apr_time_sec(s.expires - r->request_time));
    return QSSO_OK;
}

int qsso_login_handle_acs(request_rec *r, const qsso_dir_conf_t *c)
{
    const char *ctype = apr_table_get(r->headers_in, "Content-Type");
    const char *landing = NULL;
    char *body = NULL;
    qsso_err_t err;

    memset(&err, 0, sizeof(err));
    if (r->method_number != M_POST) {
        ap_allow_methods(r, 1, "POST", NULL);
        qsso_err_set(r->pool, &err, 2101, "%s to the ACS", r->method);
        return qsso_refuse(r, &err, c->idp->entity_id);
    }
    if (ctype == NULL
        || strncasecmp(ctype, "application/x-www-form-urlencoded", 33)) {
        qsso_err_set(r->pool, &err, 2103, "Content-Type \"%s\" is not a "
                     "form post", qsso_codec_log_escape(r->pool, ctype, 80));
        return qsso_refuse(r, &err, c->idp->entity_id);
    }
    if (qsso_login_read_body(r, &body, &err) != QSSO_OK
        || qsso_login_accept(r, c, body, &err, &landing) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    return qsso_login_redirect(r, landing, HTTP_SEE_OTHER);
}

int qsso_login_handle_metadata(request_rec *r, const qsso_dir_conf_t *c)
{
    qsso_sp_metadata_t sp;
    char *xml;

    ap_allow_methods(r, 1, "GET", NULL);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    sp.entity_id = c->sp_entity_id;
    sp.acs_url = qsso_conf_acs_url(c, r);
    sp.cert_b64 = c->sp_cert ? c->sp_cert->der_b64 : NULL;
    sp.requests_signed = qsso_conf_sign_request(c);
    /* the SP key decrypts assertions: its certificate is also published
     * as the encryption key */
    sp.enc_cert_b64 = c->sp_key && c->sp_cert ? c->sp_cert->der_b64 : NULL;
    sp.enc_algs = qsso_conf_encryption_algorithms(c);
    xml = qsso_metadata_build_sp(r->pool, &sp);
    ap_set_content_type(r, "application/samlmetadata+xml");
    ap_set_content_length(r, (apr_off_t)strlen(xml));
    if (!r->header_only)
        ap_rputs(xml, r);
    return OK;
}

/* The return target of login and logout: a local path, else NULL. */
static const char *qsso_login_return_arg(request_rec *r, int *bad)
{
    const char *ret = r->args ? qsso_login_form_value(r->pool, r->args,
                                                      "return")
                              : NULL;

    *bad = 0;
    if (ret == NULL && r->args && strstr(r->args, "return="))
        *bad = 1;       /* present but badly encoded */
    if (ret && !qsso_session_is_local_path(ret)) {
        *bad = 1;
        return NULL;
    }
    return ret;
}

int qsso_login_handle_login(request_rec *r, const qsso_dir_conf_t *c)
{
    qsso_session_t *s = NULL;
    qsso_err_t err;
    int bad;
    const char *ret = qsso_login_return_arg(r, &bad);

    memset(&err, 0, sizeof(err));
    ap_allow_methods(r, 1, "GET", NULL);
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    if (bad) {
        qsso_err_set(r->pool, &err, 2001, "return target \"%s\" is not a "
                     "same-origin path", qsso_codec_log_escape(
                         r->pool, r->args, 200));
        return qsso_refuse(r, &err, c->idp->entity_id);
    }
    if (ret == NULL)
        ret = qsso_conf_default_relay_state(c);
    if (qsso_session_load(r, c, &s, &err) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    if (s)
        return qsso_login_redirect(r, ret, HTTP_SEE_OTHER);
    return qsso_login_start(r, c, ret, 0);
}

/* Constant time: the token is a secret derived from the session. */
static int qsso_login_token_ok(const char *want, const char *got)
{
    apr_size_t i, n = strlen(want);
    unsigned char diff = 0;

    if (got == NULL || strlen(got) != n)
        return 0;
    for (i = 0; i < n; i++)
        diff |= (unsigned char)(want[i] ^ got[i]);
    return diff == 0;
}

/* The token sent with a logout: ?token= or a form field of a POST. */
static const char *qsso_login_logout_token(request_rec *r)
{
    const char *t = r->args ? qsso_login_form_value(r->pool, r->args,
                                                    "token") : NULL;
    char *body = NULL;
    qsso_err_t err;

    if (t == NULL && r->method_number == M_POST
        && qsso_login_read_body(r, &body, &err) == QSSO_OK)
        t = qsso_login_form_value(r->pool, body, "token");
    return t;
}

/* Without the token, a signed-in user is asked to confirm with a form
 * that carries it; the page may not be framed (clickjacking). */
static int qsso_login_confirm_logout(request_rec *r, const qsso_dir_conf_t *c,
                                     const char *token, const char *ret)
{
    const char *action = apr_pstrcat(
        r->pool, qsso_conf_endpoint_path(c), "/logout",
        ret ? "?return=" : "", ret ? qsso_codec_url_encode(r->pool, ret) : "",
        NULL);

    qsso_login_no_cache(r);
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "frame-ancestors 'none'");
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rprintf(r, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
               "<title>Sign out</title></head><body>\n<h1>Sign out?</h1>\n"
               "<form method=\"post\" action=\"%s\">"
               "<input type=\"hidden\" name=\"token\" value=\"%s\">"
               "<button type=\"submit\">Sign out</button></form>\n"
               "</body></html>\n", qsso_codec_html_escape(r->pool, action),
               token);
    return OK;
}

int qsso_login_handle_logout(request_rec *r, const qsso_dir_conf_t *c)
{
    qsso_session_t *s = NULL;
    qsso_err_t err;
    int bad;
    const char *ret = qsso_login_return_arg(r, &bad), *want;

    memset(&err, 0, sizeof(err));
    ap_allow_methods(r, 1, "GET", "POST", NULL);
    if (r->method_number != M_GET && r->method_number != M_POST)
        return HTTP_METHOD_NOT_ALLOWED;
    if (qsso_session_load(r, c, &s, &err) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    want = qsso_session_logout_token(r);
    if (s && !qsso_login_token_ok(want, qsso_login_logout_token(r)))
        return qsso_login_confirm_logout(r, c, want, ret);
    if (qsso_session_destroy(r, c, &err) != QSSO_OK)
        return qsso_refuse(r, &err, c->idp->entity_id);
    if (s)
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, QSSO_LOGNO(2151)
                      "local session ended by logout: user=%s",
                      qsso_codec_log_escape(r->pool, s->username, 200));
    return qsso_login_redirect(r, ret ? ret : "/", HTTP_SEE_OTHER);
}

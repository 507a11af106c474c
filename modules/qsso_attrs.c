/*
 * Attribute fields: which SAML attribute (exact Name, case-sensitive)
 * becomes which field of the session, and how the fields reach the
 * backend as request environment variables.
 */
#include <string.h>
#include <httpd.h>
#include <http_log.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_attrs.h"
#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_errors.h"
#include "qsso_policy.h"
#include "qsso_session.h"

APLOG_USE_MODULE(qsso);

/* An attribute value as a header value: a CR or LF from the IdP must not
 * start a header of its own at the backend (X-QSSO-User-Type: Admin), so
 * every control character becomes a space. */
static const char *qsso_attrs_header_value(apr_pool_t *p, const char *v)
{
    char *out = apr_pstrdup(p, v), *o;

    for (o = out; *o; o++)
        if ((unsigned char)*o < 0x20 || *o == 0x7f)
            *o = ' ';
    return out;
}

/* Sets one variable, and its X-QSSO- header when headers are passed. */
static void qsso_attrs_set(request_rec *r, int headers, const char *env,
                           const char *header, const char *value)
{
    if (value == NULL)
        value = "";
    /* Names are constants or in r->pool, values come from the session
     * record decoded into r->pool (or made there): no copies needed. */
    apr_table_setn(r->subprocess_env, env, value);
    if (headers && header)
        apr_table_setn(r->headers_in, header,
                       qsso_attrs_header_value(r->pool, value));
}

/* A list of values as the backend sees it: joined with "::". No value
 * holds "::" (the login refuses it, QSSO4030), so the join is exact. */
static const char *qsso_attrs_join(apr_pool_t *p,
                                   const apr_array_header_t *values)
{
    const char *out = "";
    int i;

    for (i = 0; values && i < values->nelts; i++)
        out = apr_pstrcat(p, out, i ? "::" : "",
                          APR_ARRAY_IDX(values, i, const char *), NULL);
    return out;
}

void qsso_attrs_export(request_rec *r, const qsso_dir_conf_t *c,
                       const qsso_session_t *s)
{
    int h = qsso_conf_pass_headers(c), i;
    const char *groups = qsso_attrs_join(r->pool, s->groups), *token;

    apr_table_setn(r->subprocess_env, "REMOTE_USER", s->username);
    qsso_attrs_set(r, h, "QSSO_USERNAME", "X-QSSO-Username", s->username);
    qsso_attrs_set(r, h, "QSSO_EMAIL", "X-QSSO-Email", s->email);
    qsso_attrs_set(r, h, "QSSO_NAMEID", "X-QSSO-NameID", s->name_id);
    qsso_attrs_set(r, h, "QSSO_IDP", "X-QSSO-IdP", s->idp);
    qsso_attrs_set(r, h, "QSSO_SESSION_EXPIRES", "X-QSSO-Session-Expires",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)apr_time_sec(s->expires)));
    qsso_attrs_set(r, h, "QSSO_FIRST_NAME", "X-QSSO-First-Name",
                   s->first_name);
    qsso_attrs_set(r, h, "QSSO_LAST_NAME", "X-QSSO-Last-Name", s->last_name);
    qsso_attrs_set(r, h, "QSSO_USER_TYPE", "X-QSSO-User-Type", s->user_type);
    qsso_attrs_set(r, h, "QSSO_DIVISION", "X-QSSO-Division", s->division);
    qsso_attrs_set(r, h, "QSSO_GROUPS", "X-QSSO-Groups", groups);
    qsso_attrs_set(r, h, "QSSO_UNIQUE_ID", "X-QSSO-Unique-ID", s->unique_id);
    token = qsso_session_logout_token(r);
    if (token)
        apr_table_setn(r->subprocess_env, "QSSO_LOGOUT_URL", apr_pstrcat(
            r->pool, qsso_conf_endpoint_path(c), "/logout?token=", token,
            NULL));
    for (i = 0; s->dash && i < s->dash->nelts; i++) {
        const qsso_dash_attr_t *d = &APR_ARRAY_IDX(s->dash, i,
                                                   qsso_dash_attr_t);
        const char *env = qsso_policy_env_name(r->pool, "QSSO_ATTR_",
                                               d->name, '_');
        const char *hdr = qsso_policy_env_name(r->pool, "X-QSSO-Attr-",
                                               d->name, '-');
        qsso_attrs_set(r, h, env, hdr,
                       qsso_attrs_join(r->pool, d->values));
    }
}

static int qsso_attrs_is_ours(void *rec, const char *key, const char *value)
{
    apr_array_header_t *doomed = rec;

    (void)value;
    if (strlen(key) >= 7 && !strncasecmp(key, "X", 1)
        && (key[1] == '-' || key[1] == '_') && !strncasecmp(key + 2, "QSSO", 4)
        && (key[6] == '-' || key[6] == '_'))
        APR_ARRAY_PUSH(doomed, const char *) = key;
    return 1;
}

void qsso_attrs_strip_headers(request_rec *r)
{
    apr_array_header_t *doomed = apr_array_make(r->pool, 2,
                                                sizeof(const char *));
    int i;

    apr_table_do(qsso_attrs_is_ours, doomed, r->headers_in, NULL);
    for (i = 0; i < doomed->nelts; i++) {
        const char *k = APR_ARRAY_IDX(doomed, i, const char *);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, QSSO_LOGNO(4003)
                      "removed client-sent header %s",
                      qsso_codec_log_escape(r->pool, k, 80));
        apr_table_unset(r->headers_in, k);
    }
}

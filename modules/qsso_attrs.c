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
#include "qsso_response.h"

APLOG_USE_MODULE(qsso);

/* The Names the IdP did send, for a log line that shows the mismatch. */
static const char *qsso_attrs_sent_names(apr_pool_t *p,
                                         const qsso_assertion_t *a)
{
    const char *names = NULL;
    int i;

    for (i = 0; a->attrs && i < a->attrs->nelts; i++) {
        const char *n = APR_ARRAY_IDX(a->attrs, i, qsso_attr_t).name;
        n = apr_pstrcat(p, "\"", qsso_codec_log_escape(p, n, 120), "\"",
                        NULL);
        names = names ? apr_pstrcat(p, names, ", ", n, NULL) : n;
    }
    return names ? names : "none";
}

static const char *qsso_attrs_first(const qsso_assertion_t *a,
                                    const char *name)
{
    const apr_array_header_t *v = qsso_response_attr_values(a, name);

    if (v == NULL || v->nelts == 0
        || *APR_ARRAY_IDX(v, 0, const char *) == '\0')
        return NULL;
    return APR_ARRAY_IDX(v, 0, const char *);
}

int qsso_attrs_build_session(apr_pool_t *p, const qsso_dir_conf_t *c,
                             const qsso_assertion_t *a, qsso_session_t *s,
                             qsso_err_t *err)
{
    const char *email_attr = qsso_conf_email_attr(c);
    const char *user_attr = qsso_conf_username_attr(c);

    memset(s, 0, sizeof(*s));
    s->name_id = a->name_id;
    s->idp = a->issuer;
    s->email = qsso_attrs_first(a, email_attr);
    if (s->email == NULL)
        return qsso_err_set(p, err, 4001, "the assertion has no attribute "
                            "\"%s\" (QSSOEmailAttribute); the IdP sent: %s",
                            qsso_codec_log_escape(p, email_attr, 200),
                            qsso_attrs_sent_names(p, a));
    s->username = qsso_attrs_first(a, user_attr);
    if (s->username == NULL)
        return qsso_err_set(p, err, 4002, "the assertion has no attribute "
                            "\"%s\" (QSSOUsernameAttribute); the IdP sent: "
                            "%s", qsso_codec_log_escape(p, user_attr, 200),
                            qsso_attrs_sent_names(p, a));
    return QSSO_OK;
}

void qsso_attrs_export(request_rec *r, const qsso_session_t *s)
{
    apr_table_t *e = r->subprocess_env;

    apr_table_set(e, "REMOTE_USER", s->username);
    apr_table_set(e, "QSSO_USERNAME", s->username);
    apr_table_set(e, "QSSO_EMAIL", s->email);
    apr_table_set(e, "QSSO_NAMEID", s->name_id);
    apr_table_set(e, "QSSO_IDP", s->idp);
    apr_table_setn(e, "QSSO_SESSION_EXPIRES",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)apr_time_sec(s->expires)));
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

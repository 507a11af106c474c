/*
 * Authorization providers: Require qsso-user-type V..., qsso-group V...,
 * qsso-division V..., qsso-attr NAME V.... They work inside RequireAll,
 * RequireAny and RequireNone like Apache's own providers, and the require
 * line is an ap_expr string, so `Require qsso-group %{env:TEAM}` works.
 *
 * Values compare exactly (case-sensitive), against the session's mapped
 * fields; a dashboard attribute matches when any one of its values (kept
 * apart, never split at "::") equals one listed. A user with no session is
 * sent to sign in first (AUTHZ_DENIED_NO_USER). A denial records which rule of which section
 * failed; the page says so, and one log line is written only when the
 * request really ends in 403 (a RequireAny may still grant it).
 */
#include <string.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_expr.h>
#include <ap_provider.h>
#include <mod_auth.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_authz.h"
#include "qsso_codec.h"
#include "qsso_errors.h"
#include "qsso_session.h"

APLOG_USE_MODULE(qsso);

typedef enum {
    QSSO_AUTHZ_USER_TYPE,
    QSSO_AUTHZ_GROUP,
    QSSO_AUTHZ_DIVISION,
    QSSO_AUTHZ_ATTR
} qsso_authz_kind_e;

static const char *const qsso_authz_names[] = {
    "qsso-user-type", "qsso-group", "qsso-division", "qsso-attr"
};

#define QSSO_AUTHZ_NOTE_RULE "qsso-authz-rule"
#define QSSO_AUTHZ_NOTE_REF "qsso-authz-ref"
#define QSSO_AUTHZ_NOTE_GRANTED "qsso-authz-granted"

static const char *qsso_authz_parse(cmd_parms *cmd, const char *line,
                                    const void **parsed)
{
    const char *err = NULL;
    ap_expr_info_t *expr = ap_expr_parse_cmd(cmd, line,
                                             AP_EXPR_FLAG_STRING_RESULT,
                                             &err, NULL);

    if (err)
        return apr_pstrcat(cmd->temp_pool, "Cannot parse expression in "
                           "require line: ", err, NULL);
    *parsed = expr;
    return NULL;
}

/* Does the session hold value v for this kind? */
static int qsso_authz_has(const qsso_session_t *s, qsso_authz_kind_e kind,
                          const char *name, const char *v)
{
    int i;

    switch (kind) {
    case QSSO_AUTHZ_USER_TYPE:
        return s->user_type && !strcmp(s->user_type, v);
    case QSSO_AUTHZ_DIVISION:
        return s->division && *s->division && !strcmp(s->division, v);
    case QSSO_AUTHZ_GROUP:
        for (i = 0; s->groups && i < s->groups->nelts; i++)
            if (!strcmp(APR_ARRAY_IDX(s->groups, i, const char *), v))
                return 1;
        return 0;
    case QSSO_AUTHZ_ATTR:
        for (i = 0; s->dash && i < s->dash->nelts; i++) {
            const qsso_dash_attr_t *d = &APR_ARRAY_IDX(s->dash, i,
                                                       qsso_dash_attr_t);
            int j;
            if (strcmp(d->name, name))
                continue;
            for (j = 0; d->values && j < d->values->nelts; j++)
                if (!strcmp(APR_ARRAY_IDX(d->values, j, const char *), v))
                    return 1;
        }
        return 0;
    }
    return 0;
}

/* The section a rule came from: core has a config for every section (we
 * only for those holding a QSSO directive), so its path names it. */
static const char *qsso_authz_section(request_rec *r)
{
    const core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);

    return cd->d ? cd->d : "/";
}

/* Appends text to a note (rules met or not met, "; "-separated). */
static const char *qsso_authz_note(request_rec *r, const char *note,
                                   const char *text)
{
    const char *prev = apr_table_get(r->notes, note);

    text = prev ? apr_pstrcat(r->pool, prev, "; ", text, NULL) : text;
    apr_table_setn(r->notes, note, text);
    return text;
}

/* Installs the 403 page naming what was not met, with its reference. */
static void qsso_authz_page(request_rec *r, const char *what)
{
    const char *ref = apr_table_get(r->notes, QSSO_AUTHZ_NOTE_REF);
    const char *page;

    if (ref == NULL) {
        ref = qsso_refuse_make_ref(r->pool);
        apr_table_setn(r->notes, QSSO_AUTHZ_NOTE_REF, ref);
    }
    page = apr_psprintf(r->pool, "Not met: %s.", qsso_codec_html_escape(
                            r->pool, qsso_codec_log_escape(r->pool, what,
                                                           600)));
    qsso_refuse_page(r, 5001, ref, page);
    /* mod_authz_core answers 401 unless AuthzSendForbiddenOnFailure is On;
     * qsso_authz_fix_status turns that into 403, with this page. */
    qsso_refuse_page_status(r, HTTP_UNAUTHORIZED, 5001, ref, page);
}

/* Records a failed rule and installs the page; the log line follows in
 * qsso_authz_log if the request ends in 403. */
static void qsso_authz_deny(request_rec *r, qsso_authz_kind_e kind,
                            const char *line)
{
    qsso_authz_page(r, qsso_authz_note(
        r, QSSO_AUTHZ_NOTE_RULE, apr_psprintf(
            r->pool, "Require %s %s in %s", qsso_authz_names[kind], line,
            qsso_authz_section(r))));
}

void qsso_authz_fix_status(request_rec *r)
{
    const char *granted;

    /* A signed-in user refused by the Require rules is forbidden, not
     * asked to authenticate again: a new login would change nothing. */
    if (r->status != HTTP_UNAUTHORIZED || r->user == NULL
        || r->ap_auth_type == NULL || strcasecmp(r->ap_auth_type, "qsso")
        || qsso_session_current(r) == NULL)
        return;
    if (apr_table_get(r->notes, QSSO_AUTHZ_NOTE_RULE) == NULL) {
        /* Refused by a rule met (inside RequireNone) or by another
         * module's provider: say which section, and what was met. */
        granted = apr_table_get(r->notes, QSSO_AUTHZ_NOTE_GRANTED);
        qsso_authz_page(r, qsso_authz_note(
            r, QSSO_AUTHZ_NOTE_RULE, granted
                ? apr_psprintf(r->pool, "<RequireNone> in %s (met: %s)",
                               qsso_authz_section(r), granted)
                : apr_psprintf(r->pool, "the Require rules of %s",
                               qsso_authz_section(r))));
    }
    r->status = HTTP_FORBIDDEN;
    r->status_line = ap_get_status_line(HTTP_FORBIDDEN);
    apr_table_unset(r->err_headers_out, "WWW-Authenticate");
}

static authz_status qsso_authz_check(request_rec *r, const char *line,
                                     const void *parsed,
                                     qsso_authz_kind_e kind)
{
    const char *err = NULL, *t, *w, *name = NULL;
    qsso_session_t *s;

    if (r->user == NULL)
        return AUTHZ_DENIED_NO_USER;
    s = qsso_session_current(r);
    if (s == NULL)                      /* signed in by another module */
        return AUTHZ_DENIED;
    t = ap_expr_str_exec(r, parsed, &err);
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, QSSO_LOGNO(5002)
                      "Require %s: cannot evaluate '%s': %s",
                      qsso_authz_names[kind], line, err);
        return AUTHZ_GENERAL_ERROR;
    }
    line = t;
    if (kind == QSSO_AUTHZ_ATTR)
        name = ap_getword_conf(r->pool, &t);
    while ((w = ap_getword_conf(r->pool, &t)) != NULL && *w)
        if (qsso_authz_has(s, kind, name, w)) {
            qsso_authz_note(r, QSSO_AUTHZ_NOTE_GRANTED, apr_psprintf(
                r->pool, "Require %s %s", qsso_authz_names[kind], line));
            return AUTHZ_GRANTED;
        }
    qsso_authz_deny(r, kind, line);
    return AUTHZ_DENIED;
}

static authz_status qsso_authz_user_type(request_rec *r, const char *line,
                                         const void *parsed)
{
    return qsso_authz_check(r, line, parsed, QSSO_AUTHZ_USER_TYPE);
}

static authz_status qsso_authz_group(request_rec *r, const char *line,
                                     const void *parsed)
{
    return qsso_authz_check(r, line, parsed, QSSO_AUTHZ_GROUP);
}

static authz_status qsso_authz_division(request_rec *r, const char *line,
                                        const void *parsed)
{
    return qsso_authz_check(r, line, parsed, QSSO_AUTHZ_DIVISION);
}

static authz_status qsso_authz_attr(request_rec *r, const char *line,
                                    const void *parsed)
{
    return qsso_authz_check(r, line, parsed, QSSO_AUTHZ_ATTR);
}

static const authz_provider qsso_authz_providers[] = {
    {qsso_authz_user_type, qsso_authz_parse},
    {qsso_authz_group, qsso_authz_parse},
    {qsso_authz_division, qsso_authz_parse},
    {qsso_authz_attr, qsso_authz_parse},
};

void qsso_authz_register(apr_pool_t *p)
{
    apr_size_t i;

    for (i = 0; i < sizeof(qsso_authz_providers)
                    / sizeof(*qsso_authz_providers); i++)
        ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP,
                                  qsso_authz_names[i],
                                  AUTHZ_PROVIDER_VERSION,
                                  &qsso_authz_providers[i],
                                  AP_AUTH_INTERNAL_PER_CONF);
}

void qsso_authz_log(request_rec *r)
{
    const char *rule = apr_table_get(r->notes, QSSO_AUTHZ_NOTE_RULE);
    const char *ref = apr_table_get(r->notes, QSSO_AUTHZ_NOTE_REF);
    const qsso_session_t *s;

    if (rule == NULL || r->status != HTTP_FORBIDDEN)
        return;
    s = qsso_session_current(r);
    /* A refusal code, written here and only here (like qsso_refuse). */
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "QSSO5001: access refused: not met: %s; user=%s type=%s division=%s "
                  "uri=%s ref=%s; fix: %s",
                  qsso_codec_log_escape(r->pool, rule, 600),
                  qsso_codec_log_escape(r->pool, r->user, 200),
                  qsso_codec_log_escape(r->pool, s ? s->user_type : NULL,
                                        200),
                  qsso_codec_log_escape(r->pool, s ? s->division : NULL, 200),
                  qsso_codec_log_escape(r->pool, r->uri, 200), ref,
                  qsso_err_lookup(5001)->fix);
}

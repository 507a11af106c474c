/*
 * Identity policy: which attribute or claim (exact name, case-sensitive)
 * becomes which field, how IdP values map onto local user types,
 * divisions and groups, which email domains may sign in, and the
 * dashboard attributes. Pure logic and protocol-neutral: the claims of a
 * verified login (qsso_claims.h) and the configuration in, the session's
 * fields or a refusal code out. The user
 * directory (qsso_users.c) and the export to the backend (qsso_attrs.c)
 * come after it.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_claims.h"
#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_errors.h"
#include "qsso_policy.h"

#define QSSO_POLICY_MAX_DASH 1000   /* characters, delimiters counted */
#define QSSO_POLICY_JOIN "::"

/* The Names the IdP did send, for a log line that shows the mismatch. */
static const char *qsso_policy_sent_names(apr_pool_t *p,
                                          const qsso_claims_t *a)
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

/* The first non-empty value of attribute name, or NULL. */
static const char *qsso_policy_first(const qsso_claims_t *a,
                                     const char *name)
{
    const apr_array_header_t *v = name ? qsso_claims_values(a, name)
                                       : NULL;
    int i;

    for (i = 0; v && i < v->nelts; i++)
        if (*APR_ARRAY_IDX(v, i, const char *) != '\0')
            return APR_ARRAY_IDX(v, i, const char *);
    return NULL;
}

const char *qsso_policy_map(const apr_array_header_t *map, const char *v)
{
    int i;

    for (i = 0; map && v && i < map->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(map, i, qsso_pair_t).idp, v))
            return APR_ARRAY_IDX(map, i, qsso_pair_t).local;
    return NULL;
}

int qsso_policy_check_domain(const apr_array_header_t *domains,
                             const char *email)
{
    const char *at = email ? strrchr(email, '@') : NULL;
    apr_size_t dlen;
    int i;

    if (domains == NULL)
        return 1;
    if (at == NULL || at == email || at[1] == '\0')
        return 0;
    at++;
    dlen = strlen(at);
    for (i = 0; i < domains->nelts; i++) {
        const char *d = APR_ARRAY_IDX(domains, i, const char *);
        apr_size_t n;
        if (!strcmp(d, "*") || !strcasecmp(d, at))
            return 1;
        /* "*.example.org" admits a.example.org and a.b.example.org, not
         * example.org itself and not badexample.org. */
        if (d[0] == '*' && d[1] == '.') {
            n = strlen(d + 1);
            if (dlen > n && !strcasecmp(at + dlen - n, d + 1))
                return 1;
        }
    }
    return 0;
}

static const char *qsso_policy_domain_list(apr_pool_t *p,
                                           const apr_array_header_t *d)
{
    return apr_array_pstrcat(p, d, ' ');
}

/* User type: mapped value, else the default; with validation on, a type
 * that maps to nothing is refused (checked at every login, so a change at
 * the IdP takes effect at once). */
static int qsso_policy_user_type(apr_pool_t *p, const qsso_dir_conf_t *c,
                                 const qsso_claims_t *a,
                                 qsso_session_t *s, qsso_err_t *err)
{
    const char *raw = qsso_policy_first(a, c->user_type_attr);
    const char *mapped = qsso_policy_map(c->user_type_map, raw);

    if (mapped == NULL && qsso_conf_validate_user_type(c))
        return qsso_err_set(p, err, 4004, "user type \"%s\" (attribute "
                            "\"%s\") has no QSSOUserTypeMap entry and "
                            "QSSOValidateUserType is On",
                            qsso_codec_log_escape(p, raw ? raw : "(none)",
                                                  200),
                            qsso_codec_log_escape(p, c->user_type_attr
                                                  ? c->user_type_attr
                                                  : "(QSSOUserTypeAttribute "
                                                    "not set)", 200));
    s->user_type = mapped ? mapped : qsso_conf_default_user_type(c);
    return QSSO_OK;
}

/* Division and groups: with a map configured only mapped values count;
 * without one the IdP's values pass unchanged. */
static const char *qsso_policy_map_value(const apr_array_header_t *map,
                                         const char *v)
{
    if (v == NULL)
        return NULL;
    return map ? qsso_policy_map(map, v) : v;
}

/* A value holding the export delimiter would read as two values at the
 * backend (X-QSSO-Groups, QSSO_ATTR_*) and in any rule that splits it, so
 * "APAC::EMEA" could pass for EMEA: refused, for groups and dashboard
 * attributes alike, rather than escaped or cut (docs/identity.md). */
static int qsso_policy_check_join(apr_pool_t *p, const char *what,
                                  const char *attr, const char *v,
                                  qsso_err_t *err)
{
    if (strstr(v, QSSO_POLICY_JOIN) == NULL)
        return QSSO_OK;
    return qsso_err_set(p, err, 4030, "%s \"%s\" (attribute \"%s\") "
                        "contains \"" QSSO_POLICY_JOIN "\", which separates "
                        "values where they are exported",
                        what, qsso_codec_log_escape(p, v, 200),
                        qsso_codec_log_escape(p, attr, 200));
}

static int qsso_policy_groups(apr_pool_t *p, const qsso_dir_conf_t *c,
                              const qsso_claims_t *a, qsso_session_t *s,
                              qsso_err_t *err)
{
    const apr_array_header_t *v = c->group_attr
        ? qsso_claims_values(a, c->group_attr) : NULL;
    int i, j, rc;

    s->groups = apr_array_make(p, v ? v->nelts : 1, sizeof(const char *));
    for (i = 0; v && i < v->nelts; i++) {
        const char *g = qsso_policy_map_value(
            c->group_map, APR_ARRAY_IDX(v, i, const char *));
        int dup = 0;
        if (g == NULL || *g == '\0')
            continue;
        if ((rc = qsso_policy_check_join(p, "group", c->group_attr, g, err))
                != QSSO_OK)
            return rc;
        for (j = 0; j < s->groups->nelts; j++)
            dup |= !strcmp(APR_ARRAY_IDX(s->groups, j, const char *), g);
        if (!dup)
            APR_ARRAY_PUSH(s->groups, const char *) = g;
    }
    return QSSO_OK;
}

/* Dashboard attributes: every non-empty value, kept as a list; at most
 * 1000 characters once joined with "::" for export, so a longer set is
 * refused, never cut. */
static int qsso_policy_dashboard(apr_pool_t *p, const qsso_dir_conf_t *c,
                                 const qsso_claims_t *a,
                                 qsso_session_t *s, qsso_err_t *err)
{
    int i, rc;

    s->dash = apr_array_make(p, c->dashboard_attrs
                                    ? c->dashboard_attrs->nelts : 1,
                             sizeof(qsso_dash_attr_t));
    for (i = 0; c->dashboard_attrs && i < c->dashboard_attrs->nelts; i++) {
        const char *name = APR_ARRAY_IDX(c->dashboard_attrs, i,
                                         const char *);
        const apr_array_header_t *v = qsso_claims_values(a, name);
        qsso_dash_attr_t *d;
        apr_size_t len = 0;
        int j;

        d = apr_array_push(s->dash);
        d->name = name;
        d->values = apr_array_make(p, v ? v->nelts : 1,
                                   sizeof(const char *));
        for (j = 0; v && j < v->nelts; j++) {
            const char *one = APR_ARRAY_IDX(v, j, const char *);
            if (*one == '\0')
                continue;
            if ((rc = qsso_policy_check_join(p, "dashboard value", name, one,
                                             err)) != QSSO_OK)
                return rc;
            len += strlen(one) + (d->values->nelts
                                      ? sizeof(QSSO_POLICY_JOIN) - 1 : 0);
            APR_ARRAY_PUSH(d->values, const char *) = one;
        }
        if (len > QSSO_POLICY_MAX_DASH)
            return qsso_err_set(p, err, 4006, "dashboard attribute \"%s\" "
                                "is %" APR_SIZE_T_FMT " characters (%d "
                                "values joined with \"::\"); at most %d are "
                                "accepted", qsso_codec_log_escape(p, name,
                                                                  200),
                                len, d->values->nelts, QSSO_POLICY_MAX_DASH);
    }
    return QSSO_OK;
}

static int qsso_policy_names(apr_pool_t *p, const qsso_dir_conf_t *c,
                             const qsso_claims_t *a, qsso_session_t *s,
                             qsso_err_t *err)
{
    const char *email_attr = qsso_conf_email_attr(c);
    const char *user_attr = qsso_conf_username_attr(c);
    const char *user;

    s->email = qsso_policy_first(a, email_attr);
    if (s->email == NULL)
        return qsso_err_set(p, err, 4001, "the assertion has no attribute "
                            "\"%s\" (QSSOEmailAttribute); the IdP sent: %s",
                            qsso_codec_log_escape(p, email_attr, 200),
                            qsso_policy_sent_names(p, a));
    err->subject = s->email;
    user = qsso_policy_first(a, user_attr);
    if (user == NULL)
        return qsso_err_set(p, err, 4002, "the assertion has no attribute "
                            "\"%s\" (QSSOUsernameAttribute); the IdP sent: "
                            "%s", qsso_codec_log_escape(p, user_attr, 200),
                            qsso_policy_sent_names(p, a));
    s->username = qsso_policy_username(p, c, user);
    err->subject = s->username;
    s->first_name = qsso_policy_first(a, qsso_conf_first_name_attr(c));
    s->last_name = qsso_policy_first(a, qsso_conf_last_name_attr(c));
    if (s->first_name == NULL)
        s->first_name = s->email;
    if (s->last_name == NULL)
        s->last_name = s->email;
    return QSSO_OK;
}

const char *qsso_policy_username(apr_pool_t *p, const qsso_dir_conf_t *c,
                                 const char *value)
{
    return c->brand_id ? apr_pstrcat(p, value, "#", c->brand_id, NULL)
                       : value;
}

int qsso_policy_build_identity(apr_pool_t *p, const qsso_dir_conf_t *c,
                               const qsso_claims_t *a, qsso_session_t *s,
                               qsso_err_t *err)
{
    const char *raw;
    int rc;

    memset(s, 0, sizeof(*s));
    s->name_id = a->subject;
    s->idp = a->issuer;
    if ((rc = qsso_policy_names(p, c, a, s, err)) != QSSO_OK)
        return rc;
    if (!qsso_policy_check_domain(c->email_domains, s->email))
        return qsso_err_set(p, err, 4005, "email \"%s\" is not in "
                            "QSSOEmailDomains (%s)",
                            qsso_codec_log_escape(p, s->email, 200),
                            qsso_policy_domain_list(p, c->email_domains));
    if ((rc = qsso_policy_user_type(p, c, a, s, err)) != QSSO_OK)
        return rc;
    raw = qsso_policy_first(a, c->division_attr);
    s->division = qsso_policy_map_value(c->division_map, raw);
    if (s->division == NULL)
        s->division = "";
    if ((rc = qsso_policy_groups(p, c, a, s, err)) != QSSO_OK)
        return rc;
    s->unique_id = "";
    if (c->unique_id_attr) {
        s->unique_id = qsso_policy_first(a, c->unique_id_attr);
        if (s->unique_id == NULL)
            return qsso_err_set(p, err, 4007, "the assertion has no "
                                "attribute \"%s\" (QSSOUniqueIDAttribute); "
                                "the IdP sent: %s",
                                qsso_codec_log_escape(p, c->unique_id_attr,
                                                      200),
                                qsso_policy_sent_names(p, a));
        if (strlen(s->unique_id) > QSSO_POLICY_MAX_DASH)
            return qsso_err_set(p, err, 4006, "unique ID attribute \"%s\" "
                                "is %" APR_SIZE_T_FMT " characters; at most "
                                "%d are accepted",
                                qsso_codec_log_escape(p, c->unique_id_attr,
                                                      200),
                                strlen(s->unique_id), QSSO_POLICY_MAX_DASH);
    }
    return qsso_policy_dashboard(p, c, a, s, err);
}

const char *qsso_policy_env_name(apr_pool_t *p, const char *prefix,
                                 const char *name, char fill)
{
    char *out = apr_pstrcat(p, prefix, name, NULL), *o;

    for (o = out + strlen(prefix); *o; o++)
        *o = apr_isalnum(*o) ? (char)apr_toupper(*o) : fill;
    return out;
}

/*
 * The byte formats of a session: the ID in the Cookie header and the
 * record kept in the store, plus the same-origin check on redirect
 * targets. Pure functions over pools, split from qsso_session.c (which
 * needs a request) so unit tests and tools link them alone.
 *
 * A record is newline-terminated fields, each URL-encoded, so no value can
 * forge a field. The current format, "qsso3", names the SP entity ID the
 * session was issued for next to its IdP, and keeps every multi-valued
 * field as a list: groups are URL-encoded items joined with ','; dashboard
 * attributes are name=value,value pairs joined with '&', every name and
 * value URL-encoded. No value is ever joined with "::" here; that happens
 * only when exporting to the backend (qsso_attrs.c).
 *
 * The previous format, "qsso2", still decodes, so front ends can be
 * upgraded one at a time: it has no SP field, and its dashboard values
 * are one "::"-joined string, split again here at "::" (what Require
 * qsso-attr did with it before). qsso_session_check_bound decides where
 * such a record may still open a page.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_cookie.h"

#define QSSO_SESSION_FORMAT "qsso3"
#define QSSO_SESSION_FORMAT_OLD "qsso2"
#define QSSO_SESSION_COOKIE_MAX 8192       /* bytes of Cookie header */
#define QSSO_SESSION_FIELDS 14             /* qsso3 */
#define QSSO_SESSION_FIELDS_OLD 13         /* qsso2: no SP */

/* Is v (vlen bytes) a session ID: 43 base64url characters? */
static int qsso_session_is_id(const char *v, apr_size_t vlen)
{
    apr_size_t i;

    if (vlen != QSSO_SESSION_ID_LEN)
        return 0;
    for (i = 0; i < vlen; i++)
        if (!apr_isalnum(v[i]) && v[i] != '-' && v[i] != '_')
            return 0;
    return 1;
}

int qsso_session_parse_cookies(apr_pool_t *p, const char *header,
                               const char *name, const char **ids, int max)
{
    apr_size_t nlen = strlen(name);
    const char *s = header;
    int found = 0, i;

    /* A Cookie header this long is not a browser's: ignored whole, so a
     * huge header costs no scan (httpd caps it at 8190 bytes already). */
    if (header && strnlen(header, QSSO_SESSION_COOKIE_MAX + 1)
                      > QSSO_SESSION_COOKIE_MAX)
        return 0;

    while (s && *s) {
        const char *end, *v;
        apr_size_t vlen;
        int dup = 0;

        while (*s == ' ' || *s == '\t' || *s == ';')
            s++;
        end = strchr(s, ';');
        if (strncmp(s, name, nlen) || s[nlen] != '=') {
            s = end;
            continue;
        }
        v = s + nlen + 1;
        vlen = end ? (apr_size_t)(end - v) : strlen(v);
        s = end;
        if (!qsso_session_is_id(v, vlen))
            continue;
        for (i = 0; i < found && i < max && !dup; i++)
            dup = !strncmp(ids[i], v, vlen);
        if (dup)
            continue;
        if (found < max)
            ids[found] = apr_pstrmemdup(p, v, vlen);
        found++;
    }
    return found;
}

static const char *qsso_session_enc(apr_pool_t *p, const char *v)
{
    return qsso_codec_url_encode(p, v ? v : "");
}

/* Items of a list of strings, each URL-encoded, joined with sep. */
static const char *qsso_session_enc_list(apr_pool_t *p,
                                         const apr_array_header_t *l,
                                         const char *sep)
{
    const char *out = "";
    int i;

    for (i = 0; l && i < l->nelts; i++)
        out = apr_pstrcat(p, out, i ? sep : "",
                          qsso_session_enc(p, APR_ARRAY_IDX(l, i,
                                                            const char *)),
                          NULL);
    return out;
}

static const char *qsso_session_enc_dash(apr_pool_t *p,
                                         const apr_array_header_t *d)
{
    const char *out = "";
    int i;

    for (i = 0; d && i < d->nelts; i++) {
        const qsso_dash_attr_t *a = &APR_ARRAY_IDX(d, i, qsso_dash_attr_t);
        out = apr_pstrcat(p, out, i ? "&" : "", qsso_session_enc(p, a->name),
                          "=", qsso_session_enc_list(p, a->values, ","),
                          NULL);
    }
    return out;
}

char *qsso_session_encode(apr_pool_t *p, const qsso_session_t *s)
{
    return apr_pstrcat(
        p, QSSO_SESSION_FORMAT "\n",
        apr_psprintf(p, "%" APR_INT64_T_FMT,
                     (apr_int64_t)apr_time_sec(s->expires)), "\n",
        qsso_session_enc(p, s->username), "\n",
        qsso_session_enc(p, s->email), "\n",
        qsso_session_enc(p, s->name_id), "\n",
        qsso_session_enc(p, s->idp), "\n",
        qsso_session_enc(p, s->sp), "\n",
        qsso_session_enc(p, s->first_name), "\n",
        qsso_session_enc(p, s->last_name), "\n",
        qsso_session_enc(p, s->user_type), "\n",
        qsso_session_enc(p, s->division), "\n",
        qsso_session_enc(p, s->unique_id), "\n",
        qsso_session_enc_list(p, s->groups, ","), "\n",
        qsso_session_enc_dash(p, s->dash), "\n", NULL);
}

/* A list of URL-encoded items separated by sep; empty items are dropped. */
static int qsso_session_dec_list(apr_pool_t *p, char *f, const char *sep,
                                 apr_array_header_t **out)
{
    char *last, *item;

    *out = apr_array_make(p, 4, sizeof(const char *));
    for (item = apr_strtok(f, sep, &last); item;
         item = apr_strtok(NULL, sep, &last)) {
        const char *v = qsso_codec_url_decode(p, item, 0);
        if (v == NULL)
            return -1;
        if (*v)
            APR_ARRAY_PUSH(*out, const char *) = v;
    }
    return 0;
}

/* qsso2 kept a dashboard attribute as one "::"-joined string. */
static apr_array_header_t *qsso_session_split_old(apr_pool_t *p,
                                                  const char *v)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));

    while (v) {
        const char *end = strstr(v, "::");
        const char *one = end ? apr_pstrmemdup(p, v, (apr_size_t)(end - v))
                              : v;
        if (*one)
            APR_ARRAY_PUSH(out, const char *) = one;
        v = end ? end + 2 : NULL;
    }
    return out;
}

static int qsso_session_dec_dash(apr_pool_t *p, char *f, int old,
                                 apr_array_header_t **out)
{
    char *last, *item;

    *out = apr_array_make(p, 4, sizeof(qsso_dash_attr_t));
    for (item = apr_strtok(f, "&", &last); item;
         item = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(item, '=');
        qsso_dash_attr_t *a;
        const char *joined;
        if (eq == NULL)
            return -1;
        *eq = '\0';
        a = apr_array_push(*out);
        a->name = qsso_codec_url_decode(p, item, 0);
        if (a->name == NULL)
            return -1;
        if (!old) {
            if (qsso_session_dec_list(p, eq + 1, ",", &a->values) != 0)
                return -1;
            continue;
        }
        if ((joined = qsso_codec_url_decode(p, eq + 1, 0)) == NULL)
            return -1;
        a->values = qsso_session_split_old(p, joined);
    }
    return 0;
}

/* Whole seconds since the epoch, above 0 and small enough for apr_time_t;
 * -1 otherwise, so a damaged record cannot overflow the multiplication. */
static int qsso_session_dec_expires(const char *f, apr_time_t *out)
{
    char *end;
    apr_int64_t sec;

    if (!apr_isdigit(*f))
        return -1;
    sec = apr_strtoi64(f, &end, 10);
    if (*end != '\0' || sec <= 0 || sec > APR_INT64_MAX / APR_USEC_PER_SEC)
        return -1;
    *out = apr_time_from_sec(sec);
    return 0;
}

/* Splits data into exactly n newline-terminated fields (empty ones kept);
 * -1 when there are fewer or more. */
static int qsso_session_dec_fields(char *copy, char **f, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        char *nl = strchr(copy, '\n');
        if (nl == NULL)
            return -1;
        *nl = '\0';
        f[i] = copy;
        copy = nl + 1;
    }
    return *copy == '\0' ? 0 : -1;
}

int qsso_session_decode(apr_pool_t *p, const char *data, qsso_session_t *out)
{
    char *copy = apr_pstrdup(p, data), *f[QSSO_SESSION_FIELDS];
    const char **str[] = {&out->username, &out->email, &out->name_id,
                          &out->idp, &out->sp, &out->first_name,
                          &out->last_name, &out->user_type, &out->division,
                          &out->unique_id};
    int old = !strncmp(data, QSSO_SESSION_FORMAT_OLD "\n",
                       sizeof(QSSO_SESSION_FORMAT_OLD));
    int nfields = old ? QSSO_SESSION_FIELDS_OLD : QSSO_SESSION_FIELDS;
    apr_size_t i, j;

    if (qsso_session_dec_fields(copy, f, nfields) != 0
        || strcmp(f[0], old ? QSSO_SESSION_FORMAT_OLD : QSSO_SESSION_FORMAT))
        return -1;
    memset(out, 0, sizeof(*out));
    if (qsso_session_dec_expires(f[1], &out->expires) != 0)
        return -1;
    /* f[2] on are the strings in the order of str; qsso2 lacks the SP */
    for (i = 0, j = 2; i < sizeof(str) / sizeof(*str); i++) {
        if (old && str[i] == &out->sp)
            continue;
        if ((*str[i] = qsso_codec_url_decode(p, f[j++], 0)) == NULL)
            return -1;
    }
    if (*out->username == '\0' || out->expires <= 0
        || (!old && *out->sp == '\0')
        || qsso_session_dec_list(p, f[j], ",", &out->groups)
        || qsso_session_dec_dash(p, f[j + 1], old, &out->dash))
        return -1;
    return 0;
}

int qsso_session_check_bound(const qsso_session_t *s, const char *sp,
                             const char *idp, int previous_sps)
{
    int same_idp = s->idp && idp && !strcmp(s->idp, idp);

    if (s->sp == NULL)
        return same_idp && previous_sps == 1 ? QSSO_OK : 3011;
    return same_idp && sp && !strcmp(s->sp, sp) ? QSSO_OK : 3010;
}

int qsso_session_is_local_path(const char *target)
{
    const unsigned char *s = (const unsigned char *)target;

    if (s == NULL || s[0] != '/' || s[1] == '/')
        return 0;
    for (; *s; s++)
        if (*s <= 0x20 || *s == 0x7f || *s == '\\')
            return 0;
    return 1;
}

/*
 * The byte formats of a session: the ID in the Cookie header and the
 * record kept in the store, plus the same-origin check on redirect
 * targets. Pure functions over pools, split from qsso_session.c (which
 * needs a request) so unit tests and tools link them alone.
 */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_cookie.h"

#define QSSO_SESSION_FORMAT "qsso2"
#define QSSO_SESSION_COOKIE_MAX 8192       /* bytes of Cookie header */

const char *qsso_session_parse_cookie(apr_pool_t *p, const char *header,
                                      const char *name)
{
    apr_size_t nlen = strlen(name);
    const char *s = header;

    /* A Cookie header this long is not a browser's: ignored whole, so a
     * huge header costs no scan (httpd caps it at 8190 bytes already). */
    if (header && strnlen(header, QSSO_SESSION_COOKIE_MAX + 1)
                      > QSSO_SESSION_COOKIE_MAX)
        return NULL;

    while (s && *s) {
        const char *end;
        while (*s == ' ' || *s == '\t' || *s == ';')
            s++;
        end = strchr(s, ';');
        if (!strncmp(s, name, nlen) && s[nlen] == '=') {
            const char *v = s + nlen + 1;
            apr_size_t vlen = end ? (apr_size_t)(end - v) : strlen(v);
            apr_size_t i;
            for (i = 0; i < vlen; i++)
                if (!apr_isalnum(v[i]) && v[i] != '-' && v[i] != '_')
                    break;
            if (vlen == QSSO_SESSION_ID_LEN && i == vlen)
                return apr_pstrmemdup(p, v, vlen);
        }
        s = end;
    }
    return NULL;
}

static const char *qsso_session_enc(apr_pool_t *p, const char *v)
{
    return qsso_codec_url_encode(p, v ? v : "");
}

/* Groups: each one URL-encoded, joined with ','; dashboard attributes:
 * name=value pairs, each side URL-encoded, joined with '&'. */
static const char *qsso_session_enc_groups(apr_pool_t *p,
                                           const apr_array_header_t *g)
{
    const char *out = "";
    int i;

    for (i = 0; g && i < g->nelts; i++)
        out = apr_pstrcat(p, out, i ? "," : "",
                          qsso_session_enc(p, APR_ARRAY_IDX(g, i,
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
                          "=", qsso_session_enc(p, a->value), NULL);
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
        qsso_session_enc(p, s->first_name), "\n",
        qsso_session_enc(p, s->last_name), "\n",
        qsso_session_enc(p, s->user_type), "\n",
        qsso_session_enc(p, s->division), "\n",
        qsso_session_enc(p, s->unique_id), "\n",
        qsso_session_enc_groups(p, s->groups), "\n",
        qsso_session_enc_dash(p, s->dash), "\n", NULL);
}

static int qsso_session_dec_groups(apr_pool_t *p, char *f,
                                   apr_array_header_t **out)
{
    char *last, *item;

    *out = apr_array_make(p, 4, sizeof(const char *));
    for (item = apr_strtok(f, ",", &last); item;
         item = apr_strtok(NULL, ",", &last)) {
        const char *v = qsso_codec_url_decode(p, item, 0);
        if (v == NULL)
            return -1;
        APR_ARRAY_PUSH(*out, const char *) = v;
    }
    return 0;
}

static int qsso_session_dec_dash(apr_pool_t *p, char *f,
                                 apr_array_header_t **out)
{
    char *last, *item;

    *out = apr_array_make(p, 4, sizeof(qsso_dash_attr_t));
    for (item = apr_strtok(f, "&", &last); item;
         item = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(item, '=');
        qsso_dash_attr_t *a;
        if (eq == NULL)
            return -1;
        *eq = '\0';
        a = apr_array_push(*out);
        a->name = qsso_codec_url_decode(p, item, 0);
        a->value = qsso_codec_url_decode(p, eq + 1, 0);
        if (a->name == NULL || a->value == NULL)
            return -1;
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

#define QSSO_SESSION_FIELDS 13

int qsso_session_decode(apr_pool_t *p, const char *data, qsso_session_t *out)
{
    char *copy = apr_pstrdup(p, data), *f[QSSO_SESSION_FIELDS];
    const char **str[] = {&out->username, &out->email, &out->name_id,
                          &out->idp, &out->first_name, &out->last_name,
                          &out->user_type, &out->division, &out->unique_id};
    apr_size_t i;

    /* newline-terminated fields; empty fields are kept */
    for (i = 0; i < QSSO_SESSION_FIELDS; i++) {
        char *nl = strchr(copy, '\n');
        if (nl == NULL)
            return -1;
        *nl = '\0';
        f[i] = copy;
        copy = nl + 1;
    }
    if (strcmp(f[0], QSSO_SESSION_FORMAT) || *copy != '\0')
        return -1;
    memset(out, 0, sizeof(*out));
    if (qsso_session_dec_expires(f[1], &out->expires) != 0)
        return -1;
    for (i = 0; i < sizeof(str) / sizeof(*str); i++)
        if ((*str[i] = qsso_codec_url_decode(p, f[2 + i], 0)) == NULL)
            return -1;
    if (*out->username == '\0' || out->expires <= 0
        || qsso_session_dec_groups(p, f[11], &out->groups)
        || qsso_session_dec_dash(p, f[12], &out->dash))
        return -1;
    return 0;
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

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

#define QSSO_SESSION_FORMAT "qsso1"

const char *qsso_session_parse_cookie(apr_pool_t *p, const char *header,
                                      const char *name)
{
    apr_size_t nlen = strlen(name);
    const char *s = header;

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

char *qsso_session_encode(apr_pool_t *p, const qsso_session_t *s)
{
    return apr_psprintf(p, QSSO_SESSION_FORMAT "\n%" APR_INT64_T_FMT
                        "\n%s\n%s\n%s\n%s\n",
                        (apr_int64_t)apr_time_sec(s->expires),
                        qsso_codec_url_encode(p, s->username),
                        qsso_codec_url_encode(p, s->email),
                        qsso_codec_url_encode(p, s->name_id ? s->name_id : ""),
                        qsso_codec_url_encode(p, s->idp ? s->idp : ""));
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

int qsso_session_decode(apr_pool_t *p, const char *data, qsso_session_t *out)
{
    char *copy = apr_pstrdup(p, data), *f[6];
    int i;

    /* six newline-terminated fields; empty fields are kept */
    for (i = 0; i < 6; i++) {
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
    out->username = qsso_codec_url_decode(p, f[2], 0);
    out->email = qsso_codec_url_decode(p, f[3], 0);
    out->name_id = qsso_codec_url_decode(p, f[4], 0);
    out->idp = qsso_codec_url_decode(p, f[5], 0);
    if (!out->username || !out->email || !out->name_id || !out->idp
        || out->expires <= 0)
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

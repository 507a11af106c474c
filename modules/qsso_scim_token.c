/*
 * SCIM bearer tokens. The token file holds SHA-256 hashes, not tokens, so
 * a copy of the configuration lets nobody provision users; several lines
 * let a token be rotated (add the new hash, switch the client, remove the
 * old one). A presented token is hashed and compared with CRYPTO_memcmp
 * against every hash, with no early exit, so timing says nothing about
 * which bytes or which line matched. Needs no request.
 */
#include <string.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "qsso.h"
#include "qsso_scim_token.h"

#define QSSO_SCIM_TOKEN_FILE_MAX (64 * 1024)
#define QSSO_SCIM_TOKEN_MAX 1024

static int qsso_scim_token_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)apr_tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 64 hex digits, then nothing but blanks and sha256sum's "-" marker. */
static int qsso_scim_token_parse_line(const char *s, unsigned char *out)
{
    int i;

    for (i = 0; i < 32; i++) {
        int hi = qsso_scim_token_hexval(s[2 * i]);
        int lo = hi < 0 ? -1 : qsso_scim_token_hexval(s[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    s += 64;
    if (*s && !apr_isspace(*s))
        return -1;
    while (apr_isspace(*s))
        s++;
    if (*s == '*')
        s++;
    if (*s == '-')
        s++;
    while (apr_isspace(*s))
        s++;
    return *s ? -1 : 0;
}

static const char *qsso_scim_token_read(apr_pool_t *p, const char *file,
                                        char **text)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n = 0;
    apr_status_t rv;
    char buf[120];

    if ((rv = apr_file_open(&f, file, APR_FOPEN_READ, 0, p)) != APR_SUCCESS
        || (rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) != APR_SUCCESS)
        return apr_psprintf(p, "cannot read %s: %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    if (fi.size > QSSO_SCIM_TOKEN_FILE_MAX)
        rv = APR_EOF;
    else {
        n = (apr_size_t)fi.size;
        *text = apr_palloc(p, n + 1);
        if (n)
            rv = apr_file_read_full(f, *text, n, &n);
    }
    apr_file_close(f);
    if (fi.size > QSSO_SCIM_TOKEN_FILE_MAX)
        return apr_psprintf(p, "%s is over %d bytes; it should hold a few "
                            "hashes", file, QSSO_SCIM_TOKEN_FILE_MAX);
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot read %s: %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    (*text)[n] = '\0';
    if (strlen(*text) != n)
        return apr_psprintf(p, "%s holds a NUL byte; it is not a text file",
                            file);
    return NULL;
}

/* The line of an earlier copy of h in t, or 0. */
static int qsso_scim_token_find(const qsso_scim_tokens_t *t,
                                const qsso_scim_hash_t *h)
{
    int i;

    for (i = 0; i < t->hashes->nelts - 1; i++)
        if (!memcmp(APR_ARRAY_IDX(t->hashes, i, qsso_scim_hash_t).sha256,
                    h->sha256, 32))
            return APR_ARRAY_IDX(t->hashes, i, qsso_scim_hash_t).line;
    return 0;
}

const char *qsso_scim_token_load(apr_pool_t *p, const char *file,
                                 qsso_scim_tokens_t **out)
{
    qsso_scim_tokens_t *t = apr_pcalloc(p, sizeof(*t));
    char *text, *line, *last;
    const char *err = qsso_scim_token_read(p, file, &text);
    int no = 0;

    if (err)
        return err;
    t->file = apr_pstrdup(p, file);
    t->hashes = apr_array_make(p, 2, sizeof(qsso_scim_hash_t));
    /* Split by hand: apr_strtok would skip empty lines and lose count. */
    for (line = text; line; line = last) {
        qsso_scim_hash_t *h;
        last = strchr(line, '\n');
        if (last)
            *last++ = '\0';
        no++;
        while (apr_isspace(*line))
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        h = apr_array_push(t->hashes);
        h->line = no;
        if (qsso_scim_token_parse_line(line, h->sha256) != 0)
            return apr_psprintf(p, "%s:%d: not a SHA-256 hash (64 hex "
                                "digits); store the hash of a token, not "
                                "the token: printf %%s TOKEN | sha256sum",
                                file, no);
        if (qsso_scim_token_find(t, h))
            return apr_psprintf(p, "%s:%d: the same hash as line %d", file,
                                no, qsso_scim_token_find(t, h));
    }
    if (t->hashes->nelts == 0)
        return apr_psprintf(p, "%s holds no token hash; add one line per "
                            "token: printf %%s TOKEN | sha256sum", file);
    *out = t;
    return NULL;
}

/* "Bearer" SP token68 (RFC 6750 2.1); the scheme is case-insensitive. */
static qsso_scim_token_rc_e qsso_scim_token_parse(const char *h,
                                                  const char **tok,
                                                  apr_size_t *len)
{
    const char *s;
    apr_size_t n;

    if (h == NULL || strncasecmp(h, "Bearer", 6) || (h[6] && h[6] != ' '))
        return QSSO_SCIM_TOKEN_MISSING;
    for (s = h + 6; *s == ' '; s++)
        ;
    for (n = 0; apr_isalnum(s[n]) || (s[n] && strchr("-._~+/", s[n])); n++)
        ;
    while (s[n] == '=')
        n++;
    *tok = s;
    *len = n;
    while (s[n] == ' ')
        n++;
    if (*len == 0 || *len > QSSO_SCIM_TOKEN_MAX || s[n] != '\0')
        return QSSO_SCIM_TOKEN_MALFORMED;
    return QSSO_SCIM_TOKEN_OK;
}

qsso_scim_token_rc_e qsso_scim_token_check(const qsso_scim_tokens_t *t,
                                           const char *authorization,
                                           int *line)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const char *tok = NULL;
    apr_size_t len = 0;
    qsso_scim_token_rc_e rc = qsso_scim_token_parse(authorization, &tok,
                                                    &len);
    int i, found = 0;

    *line = 0;
    if (rc != QSSO_SCIM_TOKEN_OK)
        return rc;
    if (t == NULL || !EVP_Digest(tok, len, md, &mdlen, EVP_sha256(), NULL)
        || mdlen != 32)
        return QSSO_SCIM_TOKEN_UNKNOWN;
    for (i = 0; i < t->hashes->nelts; i++) {
        const qsso_scim_hash_t *h = &APR_ARRAY_IDX(t->hashes, i,
                                                   qsso_scim_hash_t);
        int hit = CRYPTO_memcmp(md, h->sha256, 32) == 0;
        found |= hit;
        *line |= h->line & -hit;
    }
    OPENSSL_cleanse(md, sizeof(md));
    return found ? QSSO_SCIM_TOKEN_OK : QSSO_SCIM_TOKEN_UNKNOWN;
}

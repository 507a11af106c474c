/*
 * The session formats of qsso_cookie.c: the Cookie header parser, the
 * session record decoder (a record is written by us, but it comes back
 * from Redis, which other processes share), and the same-origin check on
 * a URL-decoded target.
 *
 * Invariants: every session ID taken from the header is 43 base64url
 * characters that follow "qsso_session=" at the start of a cookie pair,
 * no ID is returned twice, and no more than the bound are stored; a
 * decoded record (current or previous format) has a username and an
 * expiry, no empty group or dashboard value, and encodes and decodes
 * again to the same record (a previous-format record gains an SP when
 * encoded); every target is_local_path accepts starts with exactly one
 * '/', has no '\', control or space, and keeps the host.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_cookie.h"
#include "fuzz_common.h"
#include "fuzz_local_path.h"

#define QSSO_FUZZ_COOKIE "qsso_session"

/* Is id the value of a QSSO_FUZZ_COOKIE pair of header? */
static int qsso_fuzz_is_pair(const char *header, const char *id)
{
    const char *at;

    for (at = strstr(header, QSSO_FUZZ_COOKIE "="); at;
         at = strstr(at + 1, QSSO_FUZZ_COOKIE "=")) {
        const char *v = at + sizeof(QSSO_FUZZ_COOKIE);
        if ((at == header || at[-1] == ' ' || at[-1] == '\t'
             || at[-1] == ';')
            && !strncmp(v, id, QSSO_SESSION_ID_LEN)
            && (v[QSSO_SESSION_ID_LEN] == '\0'
                || v[QSSO_SESSION_ID_LEN] == ';'))
            return 1;
    }
    return 0;
}

static void qsso_fuzz_parse_cookie(apr_pool_t *p, const char *header)
{
    const char *ids[QSSO_SESSION_COOKIE_TRIES + 1];
    int n, i, j;

    ids[QSSO_SESSION_COOKIE_TRIES] = NULL;
    n = qsso_session_parse_cookies(p, header, QSSO_FUZZ_COOKIE, ids,
                                   QSSO_SESSION_COOKIE_TRIES);
    QSSO_FUZZ_CHECK(n >= 0 && ids[QSSO_SESSION_COOKIE_TRIES] == NULL,
                    "more IDs stored than the bound");
    for (i = 0; i < n && i < QSSO_SESSION_COOKIE_TRIES; i++) {
        const char *id = ids[i];
        QSSO_FUZZ_CHECK(strlen(id) == QSSO_SESSION_ID_LEN
                            && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"
                                          "hijklmnopqrstuvwxyz0123456789-_")
                                   == QSSO_SESSION_ID_LEN,
                        "session ID \"%s\" is not 43 base64url characters",
                        id);
        QSSO_FUZZ_CHECK(qsso_fuzz_is_pair(header, id), "session ID \"%s\" "
                        "is not the value of a " QSSO_FUZZ_COOKIE " pair in "
                        "\"%s\"", id, header);
        for (j = 0; j < i; j++)
            QSSO_FUZZ_CHECK(strcmp(ids[j], id), "session ID \"%s\" "
                            "returned twice", id);
    }
}

static int qsso_fuzz_same_strings(const apr_array_header_t *a,
                                  const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts)
        return 0;
    for (i = 0; i < a->nelts; i++)
        if (strcmp(APR_ARRAY_IDX(a, i, const char *),
                   APR_ARRAY_IDX(b, i, const char *)))
            return 0;
    return 1;
}

static int qsso_fuzz_no_empty(const apr_array_header_t *a)
{
    int i;

    for (i = 0; i < a->nelts; i++)
        if (*APR_ARRAY_IDX(a, i, const char *) == '\0')
            return 0;
    return 1;
}

static int qsso_fuzz_same_dash(const apr_array_header_t *a,
                               const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts)
        return 0;
    for (i = 0; i < a->nelts; i++) {
        const qsso_dash_attr_t *x = &APR_ARRAY_IDX(a, i, qsso_dash_attr_t);
        const qsso_dash_attr_t *y = &APR_ARRAY_IDX(b, i, qsso_dash_attr_t);
        if (strcmp(x->name, y->name)
            || !qsso_fuzz_same_strings(x->values, y->values)
            || !qsso_fuzz_no_empty(x->values))
            return 0;
    }
    return 1;
}

static void qsso_fuzz_decode(apr_pool_t *p, const char *data)
{
    qsso_session_t s, t;
    const char *enc;

    if (qsso_session_decode(p, data, &s) != 0)
        return;
    QSSO_FUZZ_CHECK(s.username && *s.username && s.expires > 0 && s.email
                        && s.name_id && s.idp && s.first_name && s.last_name
                        && s.user_type && s.division && s.unique_id
                        && s.groups && s.dash && (s.sp == NULL || *s.sp),
                    "decoded record lacks a field");
    QSSO_FUZZ_CHECK(qsso_fuzz_no_empty(s.groups), "an empty group decoded");
    if (s.sp == NULL)               /* the previous format: none recorded */
        s.sp = "https://sp.example.org/qsso";
    enc = qsso_session_encode(p, &s);
    QSSO_FUZZ_CHECK(qsso_session_decode(p, enc, &t) == 0,
                    "a decoded record does not decode once encoded again");
    QSSO_FUZZ_CHECK(
        s.expires == t.expires && !strcmp(s.username, t.username)
            && !strcmp(s.email, t.email) && !strcmp(s.name_id, t.name_id)
            && !strcmp(s.idp, t.idp) && !strcmp(s.sp, t.sp)
            && !strcmp(s.first_name, t.first_name)
            && !strcmp(s.last_name, t.last_name)
            && !strcmp(s.user_type, t.user_type)
            && !strcmp(s.division, t.division)
            && !strcmp(s.unique_id, t.unique_id)
            && qsso_fuzz_same_strings(s.groups, t.groups)
            && qsso_fuzz_same_dash(s.dash, t.dash),
        "decode(encode(record)) differs from record");
}

static void qsso_fuzz_local_path(apr_pool_t *p, const char *s)
{
    const char *dec = qsso_codec_url_decode(p, s, 0);

    if (qsso_session_is_local_path(s))
        qsso_fuzz_check_local_path(s, s);
    if (dec && qsso_session_is_local_path(dec))
        qsso_fuzz_check_local_path(dec, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    const char *s = qsso_fuzz_string(p, data, size);

    qsso_fuzz_parse_cookie(p, s);
    qsso_fuzz_decode(p, s);
    qsso_fuzz_local_path(p, s);
    apr_pool_destroy(p);
    return 0;
}

/*
 * qsso_cookie.c: the session IDs in a Cookie header, the session record
 * kept in the store (current and previous format), the check that binds a
 * session to its SP and IdP, and the same-origin check on redirect
 * targets.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_cookie.h"

/* 43 base64url characters, as qsso_session_create makes them */
#define ID_A "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"
#define ID_B "zZyYxXwWvVuUtTsSrRqQpPoOnNmMlLkKjJiIhHgGfF0"

/* The first session ID of the header, or NULL. */
static const char *qsso_test_cookie(apr_pool_t *p, const char *header)
{
    const char *ids[QSSO_SESSION_COOKIE_TRIES];

    return qsso_session_parse_cookies(p, header, "qsso_session", ids,
                                      QSSO_SESSION_COOKIE_TRIES) ? ids[0]
                                                                 : NULL;
}

/* ---- Cookie header */

static void test_session_cookie_reads_the_id(void **state)
{
    assert_int_equal(strlen(ID_A), QSSO_SESSION_ID_LEN);
    qsso_assert_str(qsso_test_cookie(*state, "qsso_session=" ID_A), ID_A);
}

static void test_session_cookie_reads_the_id_among_other_cookies(
    void **state)
{
    qsso_assert_str(qsso_test_cookie(*state, "a=1; qsso_session=" ID_A
                                     "; b=2"), ID_A);
    qsso_assert_str(qsso_test_cookie(*state, "a=1;qsso_session=" ID_A), ID_A);
    qsso_assert_str(qsso_test_cookie(*state, "a=1;\tqsso_session=" ID_A
                                     ";"), ID_A);
}

static void test_session_cookie_ignores_similar_names(void **state)
{
    assert_null(qsso_test_cookie(*state, "xqsso_session=" ID_A));
    assert_null(qsso_test_cookie(*state, "qsso_session_old=" ID_A));
    assert_null(qsso_test_cookie(*state, "QSSO_SESSION=" ID_A));
    assert_null(qsso_test_cookie(*state, "a=qsso_session=" ID_A));
    assert_null(qsso_test_cookie(*state, "qsso_session =" ID_A));
}

static void test_session_cookie_refuses_wrong_length(void **state)
{
    assert_null(qsso_test_cookie(*state, "qsso_session="
                                 "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd"));
    assert_null(qsso_test_cookie(*state, "qsso_session=" ID_A "x"));
    assert_null(qsso_test_cookie(*state, "qsso_session=" ID_A " ; a=1"));
    assert_null(qsso_test_cookie(*state, "qsso_session="));
}

static void test_session_cookie_refuses_wrong_characters(void **state)
{
    static const char *const bad[] = {
        "qsso_session=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/AbCdE",
        "qsso_session=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd=",
        "qsso_session=\"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbC\"",
        "qsso_session=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_Ab%41",
        "qsso_session=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_Ab\xc3\xa9",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_test_cookie(*state, bad[i]) != NULL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_session_cookie_finds_nothing_without_a_header(void **state)
{
    assert_null(qsso_test_cookie(*state, NULL));
    assert_null(qsso_test_cookie(*state, ""));
    assert_null(qsso_test_cookie(*state, "; ;"));
    assert_null(qsso_test_cookie(*state, "a=1; b=2"));
}

static void test_session_cookie_skips_a_damaged_duplicate(void **state)
{
    qsso_assert_str(qsso_test_cookie(*state, "qsso_session=junk; "
                                     "qsso_session=" ID_B), ID_B);
}

static void test_session_cookie_lists_every_id_in_order(void **state)
{
    const char *ids[QSSO_SESSION_COOKIE_TRIES];

    /* Browsers send the most specific Path first (RFC 6265 5.4): a cookie
     * another application set for its sub-path comes before the user's
     * own, so every one is returned for the caller to try. */
    assert_int_equal(qsso_session_parse_cookies(
        *state, "qsso_session=" ID_A "; x=1; qsso_session=" ID_B,
        "qsso_session", ids, QSSO_SESSION_COOKIE_TRIES), 2);
    qsso_assert_str(ids[0], ID_A);
    qsso_assert_str(ids[1], ID_B);
    /* the same ID twice is tried once */
    assert_int_equal(qsso_session_parse_cookies(
        *state, "qsso_session=" ID_B "; qsso_session=" ID_B "; qsso_session="
        ID_A, "qsso_session", ids, QSSO_SESSION_COOKIE_TRIES), 2);
    qsso_assert_str(ids[1], ID_A);
}

static void test_session_cookie_stores_at_most_the_bound(void **state)
{
    apr_pool_t *p = *state;
    const char *ids[QSSO_SESSION_COOKIE_TRIES + 1], *header = "";
    int i;

    for (i = 0; i < 10; i++)
        header = apr_psprintf(p, "%sqsso_session=%.40s%03d; ", header,
                              ID_A, i);
    ids[QSSO_SESSION_COOKIE_TRIES] = "untouched";
    assert_int_equal(qsso_session_parse_cookies(p, header, "qsso_session",
                                                ids,
                                                QSSO_SESSION_COOKIE_TRIES),
                     10);
    qsso_assert_str(ids[0], apr_psprintf(p, "%.40s000", ID_A));
    qsso_assert_str(ids[QSSO_SESSION_COOKIE_TRIES - 1],
                    apr_psprintf(p, "%.40s%03d", ID_A,
                                 QSSO_SESSION_COOKIE_TRIES - 1));
    qsso_assert_str(ids[QSSO_SESSION_COOKIE_TRIES], "untouched");
}

static void test_session_cookie_honours_the_configured_name(void **state)
{
    const char *ids[QSSO_SESSION_COOKIE_TRIES];

    assert_int_equal(qsso_session_parse_cookies(
        *state, "qsso_session=" ID_A "; __Host-qsso_session=" ID_B,
        "__Host-qsso_session", ids, QSSO_SESSION_COOKIE_TRIES), 1);
    qsso_assert_str(ids[0], ID_B);
}

/* ---- session record */

static qsso_session_t qsso_test_session(void)
{
    qsso_session_t s;

    memset(&s, 0, sizeof(s));
    s.username = "ana@example.org#brand1";
    s.email = "ana@example.org";
    s.name_id = "ana@example.org.evil.example";
    s.idp = "https://idp.example.org/idp";
    s.sp = "https://portal.example.org/qsso";
    s.expires = QSSO_TEST_TIME(1894730400);
    return s;
}

static void test_session_record_round_trips(void **state)
{
    qsso_session_t s = qsso_test_session(), back;
    char *rec = qsso_session_encode(*state, &s);

    assert_int_equal(qsso_session_decode(*state, rec, &back), 0);
    qsso_assert_str(back.username, s.username);
    qsso_assert_str(back.email, s.email);
    qsso_assert_str(back.name_id, s.name_id);
    qsso_assert_str(back.idp, s.idp);
    qsso_assert_str(back.sp, s.sp);
    assert_true(back.expires == s.expires);
}

/* Groups and dashboard values stay lists: a value with ',', '&', '=' or
 * "::" in it comes back whole, not as two. */
static void test_session_record_keeps_multi_values_apart(void **state)
{
    apr_pool_t *p = *state;
    qsso_session_t s = qsso_test_session(), back;
    qsso_dash_attr_t *d;
    const qsso_dash_attr_t *b;

    s.groups = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(s.groups, const char *) = "a,b";
    APR_ARRAY_PUSH(s.groups, const char *) = "APAC::EMEA";
    s.dash = apr_array_make(p, 2, sizeof(qsso_dash_attr_t));
    d = apr_array_push(s.dash);
    d->name = "region&x=y";
    d->values = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(d->values, const char *) = "APAC::EMEA";
    APR_ARRAY_PUSH(d->values, const char *) = "a,b=c&d";
    d = apr_array_push(s.dash);
    d->name = "none";
    d->values = apr_array_make(p, 1, sizeof(const char *));
    assert_int_equal(qsso_session_decode(p, qsso_session_encode(p, &s),
                                         &back), 0);
    assert_int_equal(back.groups->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(back.groups, 0, const char *), "a,b");
    qsso_assert_str(APR_ARRAY_IDX(back.groups, 1, const char *),
                    "APAC::EMEA");
    assert_int_equal(back.dash->nelts, 2);
    b = &APR_ARRAY_IDX(back.dash, 0, qsso_dash_attr_t);
    qsso_assert_str(b->name, "region&x=y");
    assert_int_equal(b->values->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(b->values, 0, const char *), "APAC::EMEA");
    qsso_assert_str(APR_ARRAY_IDX(b->values, 1, const char *), "a,b=c&d");
    assert_int_equal(APR_ARRAY_IDX(back.dash, 1, qsso_dash_attr_t)
                         .values->nelts, 0);
}

/* A record an older front end wrote ("qsso2": no SP line, dashboard
 * values one "::"-joined string) still decodes. */
static void test_session_record_reads_the_previous_format(void **state)
{
    apr_pool_t *p = *state;
    qsso_session_t back;
    const qsso_dash_attr_t *d;
    const char *rec = "qsso2\n1894730400\nana%40example.org\n"
                      "ana%40example.org\nnid\nhttps%3A%2F%2Fidp.example.org"
                      "\nAna\nLima\nstaff\nsurvey\nu-1\nstaff,admins\n"
                      "region=APAC%3A%3AEMEA&cost=42\n";

    assert_int_equal(qsso_session_decode(p, rec, &back), 0);
    assert_null(back.sp);
    qsso_assert_str(back.idp, "https://idp.example.org");
    qsso_assert_str(back.unique_id, "u-1");
    assert_int_equal(back.groups->nelts, 2);
    d = &APR_ARRAY_IDX(back.dash, 0, qsso_dash_attr_t);
    assert_int_equal(d->values->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(d->values, 1, const char *), "EMEA");
    /* the old layout under the new name, or the new one under the old
     * name, is damage */
    assert_int_equal(qsso_session_decode(p, apr_pstrcat(p, "qsso3",
                                                        rec + 5, NULL),
                                         &back), -1);
    assert_int_equal(qsso_session_decode(p, apr_pstrcat(
        p, "qsso2", qsso_session_encode(p, &back) + 5, NULL), &back), -1);
}

static void test_session_bound_to_its_sp_and_idp(void **state)
{
    qsso_session_t s = qsso_test_session();
    const char *sp = s.sp, *idp = s.idp;

    (void)state;
    assert_int_equal(qsso_session_check_bound(&s, sp, idp, 2), QSSO_OK);
    assert_int_equal(qsso_session_check_bound(&s, "https://b/qsso", idp, 2),
                     3010);
    assert_int_equal(qsso_session_check_bound(&s, sp, "https://idp2", 1),
                     3010);
    assert_int_equal(qsso_session_check_bound(&s, NULL, NULL, 1), 3010);
    /* the previous format: its own IdP on a one-SP server only */
    s.sp = NULL;
    assert_int_equal(qsso_session_check_bound(&s, sp, idp, 1), QSSO_OK);
    assert_int_equal(qsso_session_check_bound(&s, sp, idp, 2), 3011);
    assert_int_equal(qsso_session_check_bound(&s, sp, "https://idp2", 1),
                     3011);
    assert_int_equal(qsso_session_check_bound(&s, sp, idp, 0), 3011);
}

static void test_session_record_round_trips_separators_in_values(
    void **state)
{
    qsso_session_t s = qsso_test_session(), back;
    char *rec;

    s.username = "line\nbreak%25 \xc3\xa9";
    s.email = "a%0Ab@example.org";
    s.name_id = "";
    s.idp = NULL;
    s.sp = "https://portal.example.org/qsso\nqsso3";
    rec = qsso_session_encode(*state, &s);
    assert_int_equal(qsso_session_decode(*state, rec, &back), 0);
    qsso_assert_str(back.username, s.username);
    qsso_assert_str(back.email, s.email);
    qsso_assert_str(back.name_id, "");
    qsso_assert_str(back.idp, "");
    qsso_assert_str(back.sp, s.sp);
}

static void test_session_record_keeps_whole_seconds(void **state)
{
    qsso_session_t s = qsso_test_session(), back;

    s.expires += 999999;    /* microseconds are not stored */
    assert_int_equal(qsso_session_decode(*state,
                         qsso_session_encode(*state, &s), &back), 0);
    assert_true(back.expires == QSSO_TEST_TIME(1894730400));
}

/* rec with its line n (1-based, without the '\n') replaced by text. */
static const char *qsso_test_record_line(apr_pool_t *p, const char *rec,
                                         int n, const char *text)
{
    const char *s = rec, *e;

    while (--n > 0) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    e = strchr(s, '\n');
    assert_non_null(e);
    return apr_pstrcat(p, apr_pstrmemdup(p, rec, (apr_size_t)(s - rec)),
                       text, e, NULL);
}

/* The damaged variants are made from a good record, so they test the
 * damage and not the field layout. */
static void test_session_record_refuses_damage(void **state)
{
    qsso_session_t s = qsso_test_session(), back;
    const char *rec = qsso_session_encode(*state, &s);
    apr_size_t len = strlen(rec);
    const char *cut = apr_pstrndup(*state, rec, len - 1);
    const char *bad[14];
    apr_size_t i, n = 0;

    assert_int_equal(qsso_session_decode(*state, rec, &back), 0);
    bad[n++] = "";
    bad[n++] = cut;                                         /* last \n */
    bad[n++] = apr_pstrndup(*state, cut,                    /* a field */
                            (apr_size_t)(strrchr(cut, '\n') - cut + 1));
    bad[n++] = apr_pstrcat(*state, rec, "extra\n", NULL);
    bad[n++] = qsso_test_record_line(*state, rec, 1, "qsso0");  /* format */
    bad[n++] = qsso_test_record_line(*state, rec, 2, "0");      /* expiry */
    bad[n++] = qsso_test_record_line(*state, rec, 2, "-5");
    bad[n++] = qsso_test_record_line(*state, rec, 2, "soon");
    bad[n++] = qsso_test_record_line(*state, rec, 3, "ana%zz"); /* escapes */
    bad[n++] = qsso_test_record_line(*state, rec, 3, "ana%");
    bad[n++] = qsso_test_record_line(*state, rec, 4, "ana%00@example.org");
    bad[n++] = qsso_test_record_line(*state, rec, 4, "ana%4");
    bad[n++] = qsso_test_record_line(*state, rec, 7, "");       /* no SP */
    bad[n++] = qsso_test_record_line(*state, rec, 1, "qsso2");  /* layout */
    for (i = 0; i < n; i++)
        if (qsso_session_decode(*state, bad[i], &back) != -1)
            fail_msg("damaged record %d was accepted", (int)i);
}

static void test_session_record_refuses_expiry_out_of_range(void **state)
{
    static const char *const expiry[] = {
        "9223372036854775807", "99999999999999999999", "1894730400x",
        "18947304000000000",
    };
    qsso_session_t s = qsso_test_session(), back;
    const char *rec = qsso_session_encode(*state, &s);
    apr_size_t i;

    for (i = 0; i < sizeof(expiry) / sizeof(expiry[0]); i++)
        if (qsso_session_decode(*state, qsso_test_record_line(
                                    *state, rec, 2, expiry[i]), &back) != -1)
            fail_msg("expiry \"%s\" was accepted", expiry[i]);
}

/* ---- local paths */

static void test_session_local_path_accepts_paths_on_this_site(void **state)
{
    /* Escapes stay escapes: a browser resolving Location does not decode
     * %2F or %5C, so "/%2F%2Fevil.example" is a path on this site. */
    static const char *const good[] = {
        "/", "/dashboard/", "/a/b?c=d&e=/f#g", "/%2F%2Fevil.example",
        "/%5Cevil.example", "/.well-known/x", "/a//b", "/\xc3\xa9t\xc3\xa9",
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!qsso_session_is_local_path(good[i]))
            fail_msg("\"%s\" was refused", good[i]);
}

static void test_session_local_path_refuses_other_origins(void **state)
{
    static const char *const bad[] = {
        "//evil.example",               /* scheme-relative */
        "///evil.example",
        "/\\evil.example",              /* browsers read \ as / */
        "\\/evil.example",
        "\\\\evil.example",
        "/a\\b",                        /* a backslash anywhere */
        "https://evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        " /dashboard",
        "/\t/evil.example",             /* browsers drop tab and newline */
        "/\n/evil.example",
        "/\r/evil.example",
        "/dash board",
        "/a\x7f",
        "/a\x01",
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_session_is_local_path(bad[i]))
            fail_msg("\"%s\" was accepted", bad[i]);
    assert_false(qsso_session_is_local_path(NULL));
}

static void test_session_cookie_ignores_an_oversized_header(void **state)
{
    apr_pool_t *p = *state;
    char *pad = apr_palloc(p, 8200);

    memset(pad, 'a', 8199);
    pad[8199] = '\0';
    /* The same cookie is found after 8 KiB of padding less one byte... */
    qsso_assert_str(qsso_test_cookie(p, apr_pstrcat(
        p, "x=", apr_pstrndup(p, pad, 8192 - 2 - 1 - 57), ";qsso_session=",
        ID_A, NULL)), ID_A);
    /* ...and ignored past the cap. */
    assert_null(qsso_test_cookie(p, apr_pstrcat(p, "x=", pad,
                                                "; qsso_session=", ID_A,
                                                NULL)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_session_cookie_reads_the_id),
        QSSO_TEST(test_session_cookie_reads_the_id_among_other_cookies),
        QSSO_TEST(test_session_cookie_ignores_similar_names),
        QSSO_TEST(test_session_cookie_refuses_wrong_length),
        QSSO_TEST(test_session_cookie_refuses_wrong_characters),
        QSSO_TEST(test_session_cookie_finds_nothing_without_a_header),
        QSSO_TEST(test_session_cookie_skips_a_damaged_duplicate),
        QSSO_TEST(test_session_cookie_lists_every_id_in_order),
        QSSO_TEST(test_session_cookie_stores_at_most_the_bound),
        QSSO_TEST(test_session_cookie_honours_the_configured_name),
        QSSO_TEST(test_session_record_round_trips),
        QSSO_TEST(test_session_record_round_trips_separators_in_values),
        QSSO_TEST(test_session_record_keeps_whole_seconds),
        QSSO_TEST(test_session_record_keeps_multi_values_apart),
        QSSO_TEST(test_session_record_reads_the_previous_format),
        QSSO_TEST(test_session_bound_to_its_sp_and_idp),
        QSSO_TEST(test_session_record_refuses_damage),
        QSSO_TEST(test_session_record_refuses_expiry_out_of_range),
        QSSO_TEST(test_session_cookie_ignores_an_oversized_header),
        QSSO_TEST(test_session_local_path_accepts_paths_on_this_site),
        QSSO_TEST(test_session_local_path_refuses_other_origins),
    };

    return QSSO_TEST_RUN("session", tests);
}

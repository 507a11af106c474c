/*
 * qsso_cookie.c: the session ID in a Cookie header, the session record
 * kept in the store, and the same-origin check on redirect targets.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_cookie.h"

/* 43 base64url characters, as qsso_session_create makes them */
#define ID_A "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"
#define ID_B "zZyYxXwWvVuUtTsSrRqQpPoOnNmMlLkKjJiIhHgGfF0"

static const char *qsso_test_cookie(apr_pool_t *p, const char *header)
{
    return qsso_session_parse_cookie(p, header, "qsso_session");
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

static void test_session_cookie_takes_the_first_of_two_ids(void **state)
{
    /* Browsers send the most specific Path first (RFC 6265 5.4). */
    qsso_assert_str(qsso_test_cookie(*state, "qsso_session=" ID_A
                                     "; qsso_session=" ID_B), ID_A);
}

static void test_session_cookie_honours_the_configured_name(void **state)
{
    qsso_assert_str(qsso_session_parse_cookie(*state, "qsso_session=" ID_A
                                              "; portal=" ID_B, "portal"),
                    ID_B);
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
    assert_true(back.expires == s.expires);
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
    rec = qsso_session_encode(*state, &s);
    assert_int_equal(qsso_session_decode(*state, rec, &back), 0);
    qsso_assert_str(back.username, s.username);
    qsso_assert_str(back.email, s.email);
    qsso_assert_str(back.name_id, "");
    qsso_assert_str(back.idp, "");
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
    const char *bad[12];
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
        QSSO_TEST(test_session_cookie_takes_the_first_of_two_ids),
        QSSO_TEST(test_session_cookie_honours_the_configured_name),
        QSSO_TEST(test_session_record_round_trips),
        QSSO_TEST(test_session_record_round_trips_separators_in_values),
        QSSO_TEST(test_session_record_keeps_whole_seconds),
        QSSO_TEST(test_session_record_refuses_damage),
        QSSO_TEST(test_session_record_refuses_expiry_out_of_range),
        QSSO_TEST(test_session_cookie_ignores_an_oversized_header),
        QSSO_TEST(test_session_local_path_accepts_paths_on_this_site),
        QSSO_TEST(test_session_local_path_refuses_other_origins),
    };

    return QSSO_TEST_RUN("session", tests);
}

/*
 * qsso_store.c: the QSSOStore URL, redis://[user:pass@]host:port[/db].
 * The store itself needs a Redis server and is covered by t/integration.
 */
#include <string.h>

#include "qsso_test.h"
#include "qsso_store.h"

static qsso_store_url_t qsso_test_url(apr_pool_t *p, const char *url)
{
    qsso_store_url_t u;
    const char *err = qsso_store_parse_url(p, url, &u);

    if (err)
        fail_msg("\"%s\" was refused: %s", url, err);
    return u;
}

static void qsso_test_refused(apr_pool_t *p, const char *url,
                              const char *why)
{
    qsso_store_url_t u;
    const char *err = qsso_store_parse_url(p, url, &u);

    if (err == NULL)
        fail_msg("\"%s\" was accepted", url);
    qsso_assert_contains(err, why);
}

static void test_store_url_reads_host_and_port(void **state)
{
    qsso_store_url_t u = qsso_test_url(*state, "redis://127.0.0.1:6379");

    qsso_assert_str(u.scheme, "redis");
    qsso_assert_str(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_null(u.user);
    assert_null(u.pass);
}

static void test_store_url_reads_database_number(void **state)
{
    assert_int_equal(qsso_test_url(*state, "redis://r.example:1/15").db, 15);
    assert_int_equal(qsso_test_url(*state, "redis://r.example:1/0").db, 0);
    assert_int_equal(qsso_test_url(*state, "redis://r.example:1/").db, 0);
}

static void test_store_url_reads_password_only(void **state)
{
    qsso_store_url_t u = qsso_test_url(*state, "redis://:s3cret@r:6380/2");

    assert_null(u.user);
    qsso_assert_str(u.pass, "s3cret");
    qsso_assert_str(u.host, "r");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
}

static void test_store_url_reads_acl_user_and_password(void **state)
{
    qsso_store_url_t u = qsso_test_url(*state, "redis://qsso:pa:ss@r:6379");

    qsso_assert_str(u.user, "qsso");
    qsso_assert_str(u.pass, "pa:ss");
    qsso_assert_str(u.host, "r");
}

static void test_store_url_reads_at_sign_in_password(void **state)
{
    qsso_store_url_t u = qsso_test_url(*state, "redis://u:p@ss/w@r:6379/1");

    qsso_assert_str(u.pass, "p@ss/w");
    qsso_assert_str(u.host, "r");
    assert_int_equal(u.db, 1);
}

static void test_store_url_accepts_any_case_of_scheme(void **state)
{
    qsso_assert_str(qsso_test_url(*state, "REDIS://r:6379").host, "r");
}

static void test_store_url_refuses_other_schemes(void **state)
{
    qsso_test_refused(*state, "rediss://r:6379", "is not a store URL");
    qsso_test_refused(*state, "http://r:6379", "is not a store URL");
    qsso_test_refused(*state, "r:6379", "is not a store URL");
    qsso_test_refused(*state, "", "is not a store URL");
}

static void test_store_url_refuses_missing_port(void **state)
{
    qsso_test_refused(*state, "redis://r", "has no port");
    qsso_test_refused(*state, "redis://r/0", "has no port");
    qsso_test_refused(*state, "redis://:pw@r", "has no port");
    qsso_test_refused(*state, "redis://", "has no port");
}

static void test_store_url_refuses_missing_host(void **state)
{
    qsso_test_refused(*state, "redis://:6379", "has no host");
    qsso_test_refused(*state, "redis://:pw@:6379", "has no host");
}

static void test_store_url_refuses_bad_port(void **state)
{
    static const char *const bad[] = {
        "redis://r:0", "redis://r:65536", "redis://r:-1", "redis://r:x",
        "redis://r:", "redis://r:6379x", "redis://r:6379?db=1",
        "redis://r:99999999999999999999",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        qsso_test_refused(*state, bad[i], "port that is not 1-65535");
}

static void test_store_url_refuses_bad_database(void **state)
{
    static const char *const bad[] = {
        "redis://r:6379/16", "redis://r:6379/-1", "redis://r:6379/x",
        "redis://r:6379/1/2", "redis://r:6379/1x",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        qsso_test_refused(*state, bad[i], "database number that is not 0-15");
}

static void test_store_url_refuses_credentials_without_colon(void **state)
{
    qsso_test_refused(*state, "redis://secret@r:6379", "without ':'");
    qsso_test_refused(*state, "redis://@r:6379", "without ':'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_store_url_reads_host_and_port),
        QSSO_TEST(test_store_url_reads_database_number),
        QSSO_TEST(test_store_url_reads_password_only),
        QSSO_TEST(test_store_url_reads_acl_user_and_password),
        QSSO_TEST(test_store_url_reads_at_sign_in_password),
        QSSO_TEST(test_store_url_accepts_any_case_of_scheme),
        QSSO_TEST(test_store_url_refuses_other_schemes),
        QSSO_TEST(test_store_url_refuses_missing_port),
        QSSO_TEST(test_store_url_refuses_missing_host),
        QSSO_TEST(test_store_url_refuses_bad_port),
        QSSO_TEST(test_store_url_refuses_bad_database),
        QSSO_TEST(test_store_url_refuses_credentials_without_colon),
    };

    return QSSO_TEST_RUN("store", tests);
}

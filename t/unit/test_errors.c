/*
 * qsso_errors.c: the code table and qsso_err_set, which logic uses to
 * return a refusal. (qsso_refuse, which logs it, needs a request.)
 */
#include <string.h>

#include "qsso_test.h"
#include "qsso_errors.h"

static void test_errors_set_fills_code_status_and_detail(void **state)
{
    qsso_err_t err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_err_set(*state, &err, 2104, "Audience \"%s\" is "
                                  "not %d", "x", 42), 2104);
    assert_int_equal(err.code, 2104);
    assert_int_equal(err.status, 403);
    qsso_assert_str(err.detail, "Audience \"x\" is not 42");
}

static void test_errors_status_follows_the_table(void **state)
{
    (void)state;
    assert_int_equal(qsso_err_status(2001), 400);
    assert_int_equal(qsso_err_status(2002), 401);
    assert_int_equal(qsso_err_status(2101), 405);
    assert_int_equal(qsso_err_status(2102), 413);
    assert_int_equal(qsso_err_status(2103), 400);
    assert_int_equal(qsso_err_status(2111), 403);
    assert_int_equal(qsso_err_status(3001), 503);
}

static void test_errors_unknown_code_is_a_server_error(void **state)
{
    qsso_err_t err;

    assert_int_equal(qsso_err_status(9999), 500);
    assert_int_equal(qsso_err_status(0), 500);
    assert_null(qsso_err_lookup(9999));
    assert_int_equal(qsso_err_set(*state, &err, 9999, "x"), 9999);
    assert_int_equal(err.status, 500);
}

static void test_errors_every_code_has_a_title_a_fix_and_a_status(
    void **state)
{
    int code, n = 0;

    (void)state;
    for (code = 1000; code < 10000; code++) {
        const qsso_err_entry_t *e = qsso_err_lookup(code);
        if (e == NULL)
            continue;
        n++;
        assert_int_equal(e->code, code);
        assert_in_range(e->status, 400, 599);
        assert_int_equal(qsso_err_status(code), e->status);
        assert_non_null(e->title);
        assert_non_null(e->fix);
        if (!*e->title || !*e->fix)
            fail_msg("QSSO%d has an empty title or fix", code);
    }
    assert_true(n >= 30);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_errors_set_fills_code_status_and_detail),
        QSSO_TEST(test_errors_status_follows_the_table),
        QSSO_TEST(test_errors_unknown_code_is_a_server_error),
        QSSO_TEST(test_errors_every_code_has_a_title_a_fix_and_a_status),
    };

    return QSSO_TEST_RUN("errors", tests);
}

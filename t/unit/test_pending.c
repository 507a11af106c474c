/*
 * qsso_pending.c: which client addresses share one cap of pending logins.
 * An IPv6 client must not escape the cap by changing the low 64 bits of
 * its address, and a mapped IPv4 address counts as that IPv4 address.
 */
#include <string.h>

#include "qsso_test.h"
#include "qsso_pending.h"

static void test_pending_ipv4_counts_per_address(void **state)
{
    qsso_assert_str(qsso_pending_address_key(*state, "203.0.113.7"),
                    "qsso:pend-addr:203.0.113.7");
    qsso_assert_str(qsso_pending_address_key(*state, "203.0.113.8"),
                    "qsso:pend-addr:203.0.113.8");
    qsso_assert_str(qsso_pending_address_key(*state, "::ffff:203.0.113.7"),
                    "qsso:pend-addr:203.0.113.7");
}

static void test_pending_ipv6_counts_per_64(void **state)
{
    const char *a = qsso_pending_address_key(*state,
                                             "2001:db8:1:2:aaaa::1");
    const char *b = qsso_pending_address_key(*state,
                                             "2001:DB8:1:2:ffff:1:2:3");

    qsso_assert_str(a, "qsso:pend-addr:2001:db8:1:2::/64");
    qsso_assert_str(b, a);
    qsso_assert_str(qsso_pending_address_key(*state, "2001:db8:1:3::1"),
                    "qsso:pend-addr:2001:db8:1:3::/64");
    qsso_assert_str(qsso_pending_address_key(*state, "::1"),
                    "qsso:pend-addr:::/64");
}

static void test_pending_refuses_what_is_no_address(void **state)
{
    assert_null(qsso_pending_address_key(*state, NULL));
    assert_null(qsso_pending_address_key(*state, ""));
    assert_null(qsso_pending_address_key(*state, "localhost"));
    assert_null(qsso_pending_address_key(*state, "203.0.113.7/24"));
    assert_null(qsso_pending_address_key(*state, "2001:db8::1%eth0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_pending_ipv4_counts_per_address),
        QSSO_TEST(test_pending_ipv6_counts_per_64),
        QSSO_TEST(test_pending_refuses_what_is_no_address),
    };

    return QSSO_TEST_RUN("pending", tests);
}

/*
 * qsso_pending.c: which client addresses share one cap of pending logins.
 * An IPv6 client must not escape the cap by changing the low 64 bits of
 * its address, and a mapped IPv4 address counts as that IPv4 address.
 * With QSSOStore shm, one address must not get a cap its region cannot
 * honour.
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

/* 1/16 of the pending region (1/4 of shm:BYTES) in 2176-byte records. */
static void test_pending_shm_ceiling_is_a_sixteenth_of_the_region(
    void **state)
{
    (void)state;
    assert_int_equal(QSSO_PENDING_SHM_WORST, 2176);
    assert_int_equal(qsso_pending_shm_ceiling(1048576 / 4), 7);
    assert_int_equal(qsso_pending_shm_ceiling(4194304 / 4), 30);
    assert_int_equal(qsso_pending_shm_ceiling(16777216 / 4), 120);
    /* The smallest store (64 KiB) still lets an address sign in. */
    assert_int_equal(qsso_pending_shm_ceiling(65536 / 4), 1);
    assert_int_equal(qsso_pending_shm_ceiling(0), 1);
    /* What 7 records of the largest size take: under 1/16, so one
     * address, even over two windows, holds at most 1/8 of it. */
    assert_true(7 * QSSO_PENDING_SHM_WORST <= 1048576 / 4 / 16);
}

static void test_pending_effective_cap_is_the_lower(void **state)
{
    (void)state;
    assert_int_equal(qsso_pending_effective_cap(1000, 7), 7);
    assert_int_equal(qsso_pending_effective_cap(5, 7), 5);
    assert_int_equal(qsso_pending_effective_cap(7, 7), 7);
    /* Redis: no ceiling, the directive as it is. */
    assert_int_equal(qsso_pending_effective_cap(1000, 0), 1000);
    assert_int_equal(qsso_pending_effective_cap(0, 0), 0);
    /* An explicit "no cap" stays one (startup says what it costs). */
    assert_int_equal(qsso_pending_effective_cap(0, 7), 0);
}

static void test_pending_ceiling_is_kept_for_the_generation(void **state)
{
    (void)state;
    assert_int_equal(qsso_pending_ceiling(), 0);
    qsso_pending_set_ceiling(7);
    assert_int_equal(qsso_pending_ceiling(), 7);
    qsso_pending_set_ceiling(0);
    assert_int_equal(qsso_pending_ceiling(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_pending_ipv4_counts_per_address),
        QSSO_TEST(test_pending_ipv6_counts_per_64),
        QSSO_TEST(test_pending_refuses_what_is_no_address),
        QSSO_TEST(test_pending_shm_ceiling_is_a_sixteenth_of_the_region),
        QSSO_TEST(test_pending_effective_cap_is_the_lower),
        QSSO_TEST(test_pending_ceiling_is_kept_for_the_generation),
    };

    return QSSO_TEST_RUN("pending", tests);
}

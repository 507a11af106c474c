/*
 * qsso_keyset.c: the replay cache of QSSOStore shm. What it rests on: a
 * live key is never forgotten, whatever is added after it; a full set
 * refuses instead of evicting; dead entries (expired, removed) make room
 * again; and colliding home slots still find their own key.
 */
#include <string.h>

#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_keyset.h"

#define NOW 1000000

/* A digest whose home slot is set by `home` (its first 8 bytes) and whose
 * identity by `id`, so tests choose collisions. */
static const unsigned char *qsso_test_digest(apr_pool_t *p, apr_uint64_t home,
                                             apr_uint32_t id)
{
    unsigned char *d = apr_pcalloc(p, QSSO_KEYSET_DIGEST);

    memcpy(d, &home, sizeof(home));
    memcpy(d + 8, &id, sizeof(id));
    return d;
}

static qsso_keyset_t *qsso_test_keyset(apr_pool_t *p, apr_size_t cap,
                                       apr_size_t *bytes)
{
    apr_size_t b = 64;
    qsso_keyset_t *ks;

    while (qsso_keyset_capacity(b) < cap)
        b += 8;
    ks = qsso_keyset_init(apr_palloc(p, b), b);
    assert_non_null(ks);
    assert_int_equal(qsso_keyset_capacity(b), cap);
    if (bytes)
        *bytes = b;
    return ks;
}

static void test_keyset_refuses_a_key_it_holds(void **state)
{
    qsso_keyset_t *ks = qsso_test_keyset(*state, 30, NULL);
    const unsigned char *a = qsso_test_digest(*state, 7, 1);
    const unsigned char *b = qsso_test_digest(*state, 8, 2);

    assert_false(qsso_keyset_has(ks, a, NOW));
    assert_int_equal(qsso_keyset_add(ks, *state, a, NOW + 60, NOW),
                     QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state, a, NOW + 60, NOW + 1),
                     QSSO_KEYSET_EXISTS);
    assert_int_equal(qsso_keyset_add(ks, *state, b, NOW + 60, NOW + 1),
                     QSSO_KEYSET_ADDED);
    assert_true(qsso_keyset_has(ks, a, NOW + 59));
    /* At its expiry it is gone, and may be added again. */
    assert_false(qsso_keyset_has(ks, a, NOW + 60));
    assert_int_equal(qsso_keyset_add(ks, *state, a, NOW + 120, NOW + 60),
                     QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_used(ks), 2);
}

static void test_keyset_colliding_keys_find_their_own_slot(void **state)
{
    qsso_keyset_t *ks = qsso_test_keyset(*state, 30, NULL);
    apr_uint32_t i;

    for (i = 0; i < 20; i++)
        assert_int_equal(qsso_keyset_add(ks, *state,
                                         qsso_test_digest(*state, 3, i),
                                         NOW + 60, NOW),
                         QSSO_KEYSET_ADDED);
    for (i = 0; i < 20; i++)
        assert_true(qsso_keyset_has(ks, qsso_test_digest(*state, 3, i),
                                    NOW));
    assert_false(qsso_keyset_has(ks, qsso_test_digest(*state, 3, 99), NOW));
    /* A removed key in the middle of the chain keeps the rest findable. */
    qsso_keyset_remove(ks, qsso_test_digest(*state, 3, 5));
    assert_false(qsso_keyset_has(ks, qsso_test_digest(*state, 3, 5), NOW));
    assert_true(qsso_keyset_has(ks, qsso_test_digest(*state, 3, 19), NOW));
}

static void test_keyset_full_refuses_and_keeps_every_key(void **state)
{
    qsso_keyset_t *ks = qsso_test_keyset(*state, 30, NULL);
    apr_uint32_t i;

    for (i = 0; i < 30; i++)
        assert_int_equal(qsso_keyset_add(ks, *state,
                                         qsso_test_digest(*state, i * 7, i),
                                         NOW + 300, NOW),
                         QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state,
                                     qsso_test_digest(*state, 1, 1000),
                                     NOW + 300, NOW + 1),
                     QSSO_KEYSET_FULL);
    /* Refusing evicted nothing: every key is still a replay. */
    for (i = 0; i < 30; i++)
        assert_int_equal(qsso_keyset_add(ks, *state,
                                         qsso_test_digest(*state, i * 7, i),
                                         NOW + 300, NOW + 2),
                         QSSO_KEYSET_EXISTS);
}

static void test_keyset_full_makes_room_when_entries_expire(void **state)
{
    qsso_keyset_t *ks = qsso_test_keyset(*state, 30, NULL);
    apr_uint32_t i;

    /* Ten short-lived entries, twenty long-lived ones. */
    for (i = 0; i < 30; i++)
        assert_int_equal(qsso_keyset_add(ks, *state,
                                         qsso_test_digest(*state, i, i),
                                         NOW + (i < 10 ? 60 : 600), NOW),
                         QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state,
                                     qsso_test_digest(*state, 0, 500),
                                     NOW + 600, NOW + 59),
                     QSSO_KEYSET_FULL);
    for (i = 0; i < 10; i++)
        assert_int_equal(qsso_keyset_add(ks, *state,
                                         qsso_test_digest(*state, 5, 500 + i),
                                         NOW + 600, NOW + 60),
                         QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state,
                                     qsso_test_digest(*state, 5, 999),
                                     NOW + 600, NOW + 60),
                     QSSO_KEYSET_FULL);
    for (i = 10; i < 30; i++)
        assert_true(qsso_keyset_has(ks, qsso_test_digest(*state, i, i),
                                    NOW + 60));
    for (i = 0; i < 10; i++)
        assert_true(qsso_keyset_has(ks, qsso_test_digest(*state, 5, 500 + i),
                                    NOW + 60));
}

static void test_keyset_a_removed_key_frees_its_slot(void **state)
{
    qsso_keyset_t *ks = qsso_test_keyset(*state, 3, NULL);

    assert_int_equal(qsso_keyset_add(ks, *state, qsso_test_digest(*state, 0, 1),
                                     NOW + 60, NOW), QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state, qsso_test_digest(*state, 1, 2),
                                     NOW + 60, NOW), QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state, qsso_test_digest(*state, 2, 3),
                                     NOW + 60, NOW), QSSO_KEYSET_ADDED);
    assert_int_equal(qsso_keyset_add(ks, *state, qsso_test_digest(*state, 3, 4),
                                     NOW + 60, NOW), QSSO_KEYSET_FULL);
    qsso_keyset_remove(ks, qsso_test_digest(*state, 1, 2));
    assert_int_equal(qsso_keyset_add(ks, *state, qsso_test_digest(*state, 3, 4),
                                     NOW + 60, NOW), QSSO_KEYSET_ADDED);
}

static void test_keyset_too_small_a_block_is_refused(void **state)
{
    char buf[48];

    (void)state;
    assert_int_equal(qsso_keyset_capacity(sizeof(buf)), 0);
    assert_null(qsso_keyset_init(buf, sizeof(buf)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_keyset_refuses_a_key_it_holds),
        QSSO_TEST(test_keyset_colliding_keys_find_their_own_slot),
        QSSO_TEST(test_keyset_full_refuses_and_keeps_every_key),
        QSSO_TEST(test_keyset_full_makes_room_when_entries_expire),
        QSSO_TEST(test_keyset_a_removed_key_frees_its_slot),
        QSSO_TEST(test_keyset_too_small_a_block_is_refused),
    };

    return QSSO_TEST_RUN("keyset", tests);
}

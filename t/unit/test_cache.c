/*
 * qsso_cache.c: the per-process session copy. What the session cache's
 * safety rests on here: a forgotten or flushed key is never answered, an
 * entry past its age is never answered, a colliding key never answers for
 * another, and memory stays within its budget. (Invalidation by Redis is
 * covered by t/integration/test_session_cache.py.)
 */
#include <string.h>

#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_cache.h"

#define AGE apr_time_from_sec(5)
#define T0 apr_time_from_sec(1000000)

static int qsso_test_has(qsso_cache_t *c, apr_pool_t *p, const char *key,
                         apr_time_t now, const char *want)
{
    char *val = NULL;
    apr_size_t len = 0;

    if (!qsso_cache_lookup(c, p, key, now, &val, &len))
        return 0;
    assert_int_equal(len, strlen(val));
    qsso_assert_str(val, want);
    return 1;
}

static void test_cache_answers_what_was_inserted(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);

    assert_non_null(c);
    assert_false(qsso_test_has(c, *state, "qsso:sess:a", T0, NULL));
    qsso_cache_insert(c, "qsso:sess:a", "record-a", 8, T0);
    qsso_cache_insert(c, "qsso:sess:b", "record-b", 8, T0);
    assert_true(qsso_test_has(c, *state, "qsso:sess:a", T0 + 1, "record-a"));
    assert_true(qsso_test_has(c, *state, "qsso:sess:b", T0 + 1, "record-b"));
    assert_false(qsso_test_has(c, *state, "qsso:sess:c", T0 + 1, NULL));
}

static void test_cache_copies_binary_values(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);
    char *val;
    apr_size_t len;
    char buf[4] = {'a', '\0', 'b', 'c'};

    qsso_cache_insert(c, "k", buf, sizeof(buf), T0);
    buf[0] = 'X';               /* the cache keeps its own copy */
    assert_true(qsso_cache_lookup(c, *state, "k", T0, &val, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(val, "a\0bc", 4);
    assert_int_equal(val[4], '\0');
}

static void test_cache_drops_entries_at_their_age(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);

    qsso_cache_insert(c, "k", "v", 1, T0);
    assert_true(qsso_test_has(c, *state, "k", T0 + AGE - 1, "v"));
    assert_false(qsso_test_has(c, *state, "k", T0 + AGE, NULL));
    /* and it is gone, not merely hidden */
    assert_int_equal(qsso_cache_count(c), 0);
    assert_false(qsso_test_has(c, *state, "k", T0, NULL));
}

static void test_cache_distrusts_a_clock_stepped_back(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);

    qsso_cache_insert(c, "k", "v", 1, T0);
    assert_false(qsso_test_has(c, *state, "k", T0 - 1, NULL));
}

static void test_cache_forget_drops_only_that_key(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);

    qsso_cache_insert(c, "qsso:sess:a", "1", 1, T0);
    qsso_cache_insert(c, "qsso:sess:b", "2", 1, T0);
    assert_true(qsso_cache_forget(c, "qsso:sess:a", 11));
    assert_false(qsso_cache_forget(c, "qsso:sess:a", 11));
    /* the length given is the key's: a prefix is another key */
    assert_false(qsso_cache_forget(c, "qsso:sess:b", 10));
    assert_false(qsso_test_has(c, *state, "qsso:sess:a", T0, NULL));
    assert_true(qsso_test_has(c, *state, "qsso:sess:b", T0, "2"));
}

static void test_cache_flush_drops_everything(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);
    char key[32];
    int i;

    for (i = 0; i < 50; i++) {
        apr_snprintf(key, sizeof(key), "qsso:sess:%d", i);
        qsso_cache_insert(c, key, "v", 1, T0);
    }
    assert_true(qsso_cache_count(c) > 0);
    qsso_cache_flush(c);
    assert_int_equal(qsso_cache_count(c), 0);
    assert_int_equal(qsso_cache_bytes(c), 0);
    for (i = 0; i < 50; i++) {
        apr_snprintf(key, sizeof(key), "qsso:sess:%d", i);
        assert_false(qsso_test_has(c, *state, key, T0, NULL));
    }
}

/* One slot: every key collides, and the newest wins; the one evicted is
 * not answered with the other's value. */
static void test_cache_collision_never_answers_for_another_key(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 1, 65536, AGE);

    qsso_cache_insert(c, "qsso:sess:a", "alice", 5, T0);
    qsso_cache_insert(c, "qsso:sess:b", "bob", 3, T0);
    assert_false(qsso_test_has(c, *state, "qsso:sess:a", T0, NULL));
    assert_true(qsso_test_has(c, *state, "qsso:sess:b", T0, "bob"));
    assert_int_equal(qsso_cache_count(c), 1);
    assert_false(qsso_cache_forget(c, "qsso:sess:a", 11));
    assert_true(qsso_test_has(c, *state, "qsso:sess:b", T0, "bob"));
}

static void test_cache_replaces_a_key_in_place(void **state)
{
    qsso_cache_t *c = qsso_cache_create(*state, 64, 65536, AGE);

    qsso_cache_insert(c, "k", "old", 3, T0);
    qsso_cache_insert(c, "k", "newer", 5, T0);
    assert_true(qsso_test_has(c, *state, "k", T0, "newer"));
    assert_int_equal(qsso_cache_count(c), 1);
    assert_int_equal(qsso_cache_bytes(c), 1 + 5);
}

static void test_cache_stays_within_its_byte_budget(void **state)
{
    /* 1600 bytes: an entry may take 100 (budget / 16). */
    qsso_cache_t *c = qsso_cache_create(*state, 4096, 1600, AGE);
    char key[32], val[80];
    int i;

    memset(val, 'v', sizeof(val));
    for (i = 0; i < 1000; i++) {
        apr_snprintf(key, sizeof(key), "qsso:sess:%04d", i);
        qsso_cache_insert(c, key, val, sizeof(val), T0);
        assert_true(qsso_cache_bytes(c) <= 1600);
    }
    /* the last one inserted is always there */
    assert_true(qsso_cache_lookup(c, *state, key, T0, &(char *){NULL},
                                  &(apr_size_t){0}));
    /* too large for one entry: not kept at all */
    qsso_cache_insert(c, "big", val, sizeof(val) + 30, T0);
    assert_false(qsso_test_has(c, *state, "big", T0, NULL));
}

static void test_cache_memory_is_freed_with_its_pool(void **state)
{
    apr_pool_t *sub;
    qsso_cache_t *c;
    int i;
    char key[32];

    /* Under ASan a leak here fails the run. */
    apr_pool_create(&sub, *state);
    c = qsso_cache_create(sub, 16, 65536, AGE);
    for (i = 0; i < 100; i++) {
        apr_snprintf(key, sizeof(key), "k%d", i);
        qsso_cache_insert(c, key, "value", 5, T0);
    }
    apr_pool_destroy(sub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_cache_answers_what_was_inserted),
        QSSO_TEST(test_cache_copies_binary_values),
        QSSO_TEST(test_cache_drops_entries_at_their_age),
        QSSO_TEST(test_cache_distrusts_a_clock_stepped_back),
        QSSO_TEST(test_cache_forget_drops_only_that_key),
        QSSO_TEST(test_cache_flush_drops_everything),
        QSSO_TEST(test_cache_collision_never_answers_for_another_key),
        QSSO_TEST(test_cache_replaces_a_key_in_place),
        QSSO_TEST(test_cache_stays_within_its_byte_budget),
        QSSO_TEST(test_cache_memory_is_freed_with_its_pool),
    };

    return QSSO_TEST_RUN("cache", tests);
}

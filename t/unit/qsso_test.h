/*
 * Shared by the unit tests: cmocka glue (APR and xmlsec are set up once per
 * group, each test gets a fresh pool as its state), fixture files, string
 * surgery for tampered variants, and schema validation without network.
 */
#ifndef QSSO_TEST_H
#define QSSO_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>
#include <apr_pools.h>
#include <apr_time.h>

/* QSSO_UNIT_DIR (t/unit, absolute) and QSSO_SCHEMA_DIR come from the
 * Makefile, so a test binary runs from any directory. */
#define QSSO_TEST_FIXTURE(name) QSSO_UNIT_DIR "/fixtures/" name
#define QSSO_TEST_KEY(name) QSSO_UNIT_DIR "/../keys/" name

#define QSSO_TEST(f) \
    cmocka_unit_test_setup_teardown(f, qsso_test_setup, qsso_test_teardown)
#define QSSO_TEST_RUN(name, tests) \
    cmocka_run_group_tests_name(name, tests, qsso_test_group_setup, \
                                qsso_test_group_teardown)

int qsso_test_group_setup(void **state);
int qsso_test_group_teardown(void **state);
int qsso_test_setup(void **state);
int qsso_test_teardown(void **state);

/* The whole file, NUL-terminated, in p; fails the test when unreadable. */
char *qsso_test_read(apr_pool_t *p, const char *path, apr_size_t *len);

/* s with its one occurrence of from replaced by to; fails the test when
 * from occurs zero or several times, so a fixture change cannot turn a
 * tampering test into a test of the untampered input. */
char *qsso_test_replace(apr_pool_t *p, const char *s, const char *from,
                        const char *to);

/* The text between the first `open` and the following `close`, both
 * included; fails the test when either is missing. */
char *qsso_test_between(apr_pool_t *p, const char *s, const char *open,
                        const char *close);

/* NULL when xml is valid against QSSO_SCHEMA_DIR/xsd (the OASIS schemas
 * shipped with pysaml2), else the first error. Imports are read from that
 * directory only; nothing is fetched from the network. */
const char *qsso_test_validate(apr_pool_t *p, const char *xml,
                               const char *xsd);

/* assert_string_equal that fails, not crashes, on NULL. */
#define qsso_assert_str(a, b) \
    do { \
        const char *qsso_a_ = (a); \
        assert_non_null(qsso_a_); \
        assert_string_equal(qsso_a_, (b)); \
    } while (0)

/* Fails unless needle occurs in s (which must not be NULL). */
#define qsso_assert_contains(s, needle) \
    do { \
        const char *qsso_s_ = (s); \
        assert_non_null(qsso_s_); \
        if (strstr(qsso_s_, (needle)) == NULL) \
            fail_msg("\"%s\" is not in \"%s\"", (needle), qsso_s_); \
    } while (0)

/* Unix seconds to apr_time_t. */
#define QSSO_TEST_TIME(sec) apr_time_from_sec((apr_time_t)(sec))

#endif

/*
 * The request-free parts of SCIM: the filter and PATCH path grammar
 * (qsso_scim_filter.c), the token file and bearer check
 * (qsso_scim_token.c), value coercion, paging, ETags and the shared
 * PUT/PATCH/DELETE path with a store-free resource type
 * (qsso_scim_resource.c) and the schema tables (qsso_scim_schema.c).
 * /Users and /Groups need Redis and are covered by t/integration.
 */
#include <string.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "qsso_test.h"
#include "qsso_codec.h"
#include "qsso_scim_filter.h"
#include "qsso_scim_resource.h"
#include "qsso_scim_schema.h"
#include "qsso_scim_token.h"

/* ---- filters ----------------------------------------------------------- */

static apr_array_header_t *qsso_test_filter(apr_pool_t *p, const char *f)
{
    apr_array_header_t *conds = NULL;
    const char *err = qsso_scim_filter_parse(p, f, &conds);

    if (err)
        fail_msg("filter '%s' was refused: %s", f, err);
    return conds;
}

#define QSSO_TEST_COND(a, i) (&APR_ARRAY_IDX((a), (i), qsso_scim_cond_t))

static void test_scim_filter_reads_the_forms_clients_send(void **state)
{
    apr_array_header_t *c = qsso_test_filter(*state,
                                             "userName eq \"ana@x.org\"");

    assert_int_equal(c->nelts, 1);
    qsso_assert_str(QSSO_TEST_COND(c, 0)->attr, "username");
    assert_int_equal(QSSO_TEST_COND(c, 0)->type, QSSO_SCIM_VALUE_STRING);
    qsso_assert_str(QSSO_TEST_COND(c, 0)->str, "ana@x.org");
    c = qsso_test_filter(*state, "externalId eq \"00u1\"");
    qsso_assert_str(QSSO_TEST_COND(c, 0)->attr, "externalid");
    c = qsso_test_filter(*state, "emails[value eq \"a@x.org\"]");
    qsso_assert_str(QSSO_TEST_COND(c, 0)->attr, "emails.value");
    c = qsso_test_filter(*state, "emails.value eq \"a@x.org\"");
    qsso_assert_str(QSSO_TEST_COND(c, 0)->attr, "emails.value");
    c = qsso_test_filter(*state, "active eq true");
    assert_int_equal(QSSO_TEST_COND(c, 0)->type, QSSO_SCIM_VALUE_BOOL);
    assert_true(QSSO_TEST_COND(c, 0)->boolean);
    c = qsso_test_filter(*state, "active eq False");
    assert_false(QSSO_TEST_COND(c, 0)->boolean);
    c = qsso_test_filter(*state, "externalId eq null");
    assert_int_equal(QSSO_TEST_COND(c, 0)->type, QSSO_SCIM_VALUE_NULL);
}

static void test_scim_filter_joins_with_and_in_any_case(void **state)
{
    apr_array_header_t *c = qsso_test_filter(
        *state, "  userName EQ \"a\"  AND  active eq true and "
                "emails[value eq \"b\"]  ");

    assert_int_equal(c->nelts, 3);
    qsso_assert_str(QSSO_TEST_COND(c, 0)->attr, "username");
    qsso_assert_str(QSSO_TEST_COND(c, 1)->attr, "active");
    qsso_assert_str(QSSO_TEST_COND(c, 2)->attr, "emails.value");
}

static void test_scim_filter_decodes_values_as_json(void **state)
{
    apr_array_header_t *c = qsso_test_filter(
        *state, "userName eq \"a \\\"b\\\" \\u00e9 \\\\ c\"");

    qsso_assert_str(QSSO_TEST_COND(c, 0)->str, "a \"b\" \xc3\xa9 \\ c");
}

static void test_scim_filter_refuses_everything_else(void **state)
{
    static const struct {
        const char *filter;
        const char *why;
    } bad[] = {
        {"userName eq \"x\" or 1 eq 1", "only be joined with \"and\""},
        {"userName eq \"x\" or userName pr", "\"and\""},
        {"userName eq \"x", "not closed"},
        {"userName eq x", "quoted string"},
        {"userName eq \"x\"\"", "\"and\""},
        {"userName sw \"a\"", "\"sw\" is not supported"},
        {"userName ne \"a\"", "\"ne\" is not supported"},
        {"userName zz \"a\"", "operator eq"},
        {"userName pr", "\"pr\" is not supported"},
        {"not (userName eq \"x\")", "operator eq"},
        {"(userName eq \"x\")", "attribute name"},
        {"userName eq \"x\" and", "\"and\""},
        {"userName eq 1", "quoted string"},
        {"userName eq \"\\u0000\"", "valid JSON string"},
        {"userName eq \"\\x\"", "valid JSON string"},
        {"emails[value eq \"a\" or value eq \"b\"]", "bracket"},
        {"emails[value eq \"a\"", "bracket"},
        {"emails[value.x eq \"a\"]", "space after the attribute"},
        {"userName\teq \"x\"", "space after"},
        {"userName  eq\"x\"", "space after the operator"},
        {"", "empty"},
        {"   ", "empty"},
        {"1 eq 1", "attribute name"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_array_header_t *c = NULL;
        const char *err = qsso_scim_filter_parse(*state, bad[i].filter, &c);
        if (err == NULL)
            fail_msg("filter '%s' was accepted", bad[i].filter);
        qsso_assert_contains(err, bad[i].why);
    }
}

static void test_scim_filter_limits_length_and_conditions(void **state)
{
    apr_pool_t *p = *state;
    char *longer = apr_pcalloc(p, QSSO_SCIM_FILTER_MAX + 20);
    apr_array_header_t *c;
    const char *many = "a eq \"1\"";
    int i;

    memcpy(longer, "userName eq \"", 13);
    memset(longer + 13, 'a', QSSO_SCIM_FILTER_MAX);
    longer[QSSO_SCIM_FILTER_MAX + 13] = '"';
    qsso_assert_contains(qsso_scim_filter_parse(p, longer, &c), "at most");
    for (i = 1; i < QSSO_SCIM_FILTER_CONDS; i++)
        many = apr_pstrcat(p, many, " and a eq \"1\"", NULL);
    assert_int_equal(qsso_test_filter(p, many)->nelts,
                     QSSO_SCIM_FILTER_CONDS);
    many = apr_pstrcat(p, many, " and a eq \"1\"", NULL);
    qsso_assert_contains(qsso_scim_filter_parse(p, many, &c),
                         "too many conditions");
}

static void test_scim_filter_matches_by_case_rules(void **state)
{
    apr_array_header_t *c = qsso_test_filter(*state, "userName eq \"Ana\"");
    const qsso_scim_cond_t *f = QSSO_TEST_COND(c, 0);

    (void)state;
    assert_true(qsso_scim_filter_match_str(f, "ana", 0));
    assert_false(qsso_scim_filter_match_str(f, "ana", 1));
    assert_true(qsso_scim_filter_match_str(f, "Ana", 1));
    assert_false(qsso_scim_filter_match_str(f, NULL, 0));
    assert_false(qsso_scim_filter_match_bool(f, 1));
    f = QSSO_TEST_COND(qsso_test_filter(*state, "x eq null"), 0);
    assert_true(qsso_scim_filter_match_str(f, "", 0));
    assert_true(qsso_scim_filter_match_str(f, NULL, 0));
    assert_false(qsso_scim_filter_match_str(f, "a", 0));
    f = QSSO_TEST_COND(qsso_test_filter(*state, "active eq false"), 0);
    assert_true(qsso_scim_filter_match_bool(f, 0));
    assert_false(qsso_scim_filter_match_bool(f, 1));
    assert_false(qsso_scim_filter_match_str(f, "false", 0));
}

/* ---- PATCH paths ------------------------------------------------------- */

static qsso_scim_path_t qsso_test_path(apr_pool_t *p, const char *text)
{
    qsso_scim_path_t out;
    const char *err = qsso_scim_filter_parse_path(p, text, &out);

    if (err)
        fail_msg("path '%s' was refused: %s", text, err);
    return out;
}

static void test_scim_path_reads_attributes_and_sub_attributes(void **state)
{
    qsso_scim_path_t p = qsso_test_path(*state, "active");

    assert_null(p.urn);
    qsso_assert_str(p.attr, "active");
    assert_null(p.sub);
    assert_null(p.filter);
    p = qsso_test_path(*state, "name.givenName");
    qsso_assert_str(p.attr, "name");
    qsso_assert_str(p.sub, "givenname");
    p = qsso_test_path(*state, "members");
    qsso_assert_str(p.attr, "members");
}

static void test_scim_path_reads_value_filters(void **state)
{
    qsso_scim_path_t p = qsso_test_path(*state,
                                        "emails[type eq \"work\"].value");

    qsso_assert_str(p.attr, "emails");
    qsso_assert_str(p.sub, "value");
    assert_int_equal(p.filter->nelts, 1);
    qsso_assert_str(QSSO_TEST_COND(p.filter, 0)->attr, "type");
    qsso_assert_str(QSSO_TEST_COND(p.filter, 0)->str, "work");
    p = qsso_test_path(*state, "members[value eq \"2819c223\"]");
    qsso_assert_str(p.attr, "members");
    assert_null(p.sub);
    qsso_assert_str(QSSO_TEST_COND(p.filter, 0)->str, "2819c223");
    p = qsso_test_path(*state, "emails[type eq \"work\" and primary eq "
                               "true]");
    assert_int_equal(p.filter->nelts, 2);
}

static void test_scim_path_reads_schema_urns(void **state)
{
    qsso_scim_path_t p = qsso_test_path(
        *state, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
                ":division");

    qsso_assert_str(p.urn, QSSO_SCIM_URN_ENTERPRISE);
    qsso_assert_str(p.attr, "division");
    /* The core URN is a prefix of nothing else; the longest match wins. */
    p = qsso_test_path(*state, "urn:ietf:params:scim:schemas:core:2.0:User:"
                               "userName");
    qsso_assert_str(p.urn, QSSO_SCIM_URN_USER);
    qsso_assert_str(p.attr, "username");
    p = qsso_test_path(*state, "URN:IETF:params:scim:schemas:extension:"
                               "enterprise:2.0:User:manager.value");
    qsso_assert_str(p.urn, QSSO_SCIM_URN_ENTERPRISE);
    qsso_assert_str(p.attr, "manager");
    qsso_assert_str(p.sub, "value");
    p = qsso_test_path(*state, QSSO_SCIM_URN_ENTERPRISE);
    qsso_assert_str(p.urn, QSSO_SCIM_URN_ENTERPRISE);
    qsso_assert_str(p.attr, "");
}

static void test_scim_path_refuses_malformed_paths(void **state)
{
    static const struct {
        const char *path;
        const char *why;
    } bad[] = {
        {"", "1 to 2048"},
        {"urn:example:custom:1.0:User:shoeSize", "unknown schema"},
        {QSSO_SCIM_URN_ENTERPRISE ":", "attribute name"},
        {"emails[type eq \"work\"", "not closed"},
        {"emails[type eq work].value", "quoted string"},
        {"emails[type sw \"w\"]", "not supported"},
        {"name.givenName.x", "unexpected character"},
        {"name givenName", "unexpected character"},
        {"9lives", "attribute name"},
        {"emails[type eq \"work\"]x", "unexpected character"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qsso_scim_path_t out;
        const char *err = qsso_scim_filter_parse_path(*state, bad[i].path,
                                                      &out);
        if (err == NULL)
            fail_msg("path '%s' was accepted", bad[i].path);
        qsso_assert_contains(err, bad[i].why);
    }
}

/* ---- token file and bearer check --------------------------------------- */

static const char *qsso_test_sha256(apr_pool_t *p, const char *token)
{
    return qsso_codec_sha256_hex(p, token, strlen(token));
}

/* A temporary file with text, removed with p. */
static const char *qsso_test_file(apr_pool_t *p, const char *text)
{
    const char *dir = NULL;
    char *path;
    apr_file_t *f;
    apr_size_t n = strlen(text);

    assert_int_equal(apr_temp_dir_get(&dir, p), APR_SUCCESS);
    path = apr_pstrcat(p, dir, "/qsso-scim-test-XXXXXX", NULL);
    assert_int_equal(apr_file_mktemp(&f, path, APR_FOPEN_CREATE
                                     | APR_FOPEN_READ | APR_FOPEN_WRITE
                                     | APR_FOPEN_EXCL
                                     | APR_FOPEN_DELONCLOSE, p),
                     APR_SUCCESS);
    assert_int_equal(apr_file_write_full(f, text, n, &n), APR_SUCCESS);
    return path;
}

static qsso_scim_tokens_t *qsso_test_tokens(apr_pool_t *p, const char *text)
{
    qsso_scim_tokens_t *t = NULL;
    const char *err = qsso_scim_token_load(p, qsso_test_file(p, text), &t);

    if (err)
        fail_msg("token file refused: %s", err);
    return t;
}

static void test_scim_token_file_reads_hashes_and_comments(void **state)
{
    apr_pool_t *p = *state;
    const char *one = qsso_test_sha256(p, "first-token");
    char *two = apr_pstrdup(p, qsso_test_sha256(p, "second-token")), *c;
    qsso_scim_tokens_t *t;
    int line = -1;

    for (c = two; *c; c++)              /* hex digits in either case */
        *c = (char)apr_toupper(*c);
    t = qsso_test_tokens(p, apr_psprintf(p, "# SCIM tokens\n\n  %s\r\n"
                                         "# next one, from sha256sum:\n"
                                         "%s  -\n", one, two));
    assert_int_equal(t->hashes->nelts, 2);
    assert_int_equal(qsso_scim_token_check(t, "Bearer first-token", &line),
                     QSSO_SCIM_TOKEN_OK);
    assert_int_equal(line, 3);
    assert_int_equal(qsso_scim_token_check(t, "bearer   second-token ",
                                           &line), QSSO_SCIM_TOKEN_OK);
    assert_int_equal(line, 5);
}

static void test_scim_token_file_refuses_bad_lines_by_number(void **state)
{
    apr_pool_t *p = *state;
    const char *one = qsso_test_sha256(p, "first-token");
    qsso_scim_tokens_t *t = NULL;
    const char *file, *err;

    file = qsso_test_file(p, apr_psprintf(p, "%s\nmy-secret-token\n", one));
    err = qsso_scim_token_load(p, file, &t);
    qsso_assert_contains(err, apr_psprintf(p, "%s:2: not a SHA-256 hash",
                                           file));
    assert_null(strstr(err, "my-secret-token"));
    err = qsso_scim_token_load(p, qsso_test_file(p, apr_psprintf(
        p, "%s\n# c\n%s\n", one, one)), &t);
    qsso_assert_contains(err, ":3: the same hash as line 1");
    err = qsso_scim_token_load(p, qsso_test_file(p, apr_psprintf(
        p, "%s extra\n", one)), &t);
    qsso_assert_contains(err, ":1: not a SHA-256 hash");
    err = qsso_scim_token_load(p, qsso_test_file(p, apr_psprintf(
        p, "%.63s\n", one)), &t);
    qsso_assert_contains(err, ":1: not a SHA-256 hash");
    err = qsso_scim_token_load(p, qsso_test_file(p, "# only a comment\n"),
                               &t);
    qsso_assert_contains(err, "holds no token hash");
    err = qsso_scim_token_load(p, "/nonexistent/qsso-tokens", &t);
    qsso_assert_contains(err, "cannot read /nonexistent/qsso-tokens");
}

static void test_scim_token_check_refuses_all_but_listed_tokens(
    void **state)
{
    apr_pool_t *p = *state;
    qsso_scim_tokens_t *t = qsso_test_tokens(p, qsso_test_sha256(p, "tok"));
    char *huge = apr_pcalloc(p, 2000);
    int line = -1;

    memset(huge, 'a', 1999);
    assert_int_equal(qsso_scim_token_check(t, "Bearer tok", &line),
                     QSSO_SCIM_TOKEN_OK);
    assert_int_equal(qsso_scim_token_check(t, NULL, &line),
                     QSSO_SCIM_TOKEN_MISSING);
    assert_int_equal(line, 0);
    assert_int_equal(qsso_scim_token_check(t, "Basic tok", &line),
                     QSSO_SCIM_TOKEN_MISSING);
    assert_int_equal(qsso_scim_token_check(t, "Bearertok", &line),
                     QSSO_SCIM_TOKEN_MISSING);
    assert_int_equal(qsso_scim_token_check(t, "Bearer", &line),
                     QSSO_SCIM_TOKEN_MALFORMED);
    assert_int_equal(qsso_scim_token_check(t, "Bearer tok extra", &line),
                     QSSO_SCIM_TOKEN_MALFORMED);
    assert_int_equal(qsso_scim_token_check(t, "Bearer t\"k", &line),
                     QSSO_SCIM_TOKEN_MALFORMED);
    assert_int_equal(qsso_scim_token_check(t, apr_pstrcat(p, "Bearer ", huge,
                                                          NULL), &line),
                     QSSO_SCIM_TOKEN_MALFORMED);
    assert_int_equal(qsso_scim_token_check(t, "Bearer tok2", &line),
                     QSSO_SCIM_TOKEN_UNKNOWN);
    assert_int_equal(qsso_scim_token_check(t, "Bearer to", &line),
                     QSSO_SCIM_TOKEN_UNKNOWN);
    assert_int_equal(line, 0);
    /* The hash is what is stored, not what is accepted. */
    assert_int_equal(qsso_scim_token_check(t, apr_pstrcat(
        p, "Bearer ", qsso_test_sha256(p, "tok"), NULL), &line),
        QSSO_SCIM_TOKEN_UNKNOWN);
    assert_int_equal(qsso_scim_token_check(NULL, "Bearer tok", &line),
                     QSSO_SCIM_TOKEN_UNKNOWN);
}

/* ---- values, pages, versions ------------------------------------------- */

static qsso_scim_call_t qsso_test_call(apr_pool_t *p)
{
    qsso_scim_call_t c;

    memset(&c, 0, sizeof(c));
    c.p = p;
    c.base = "https://portal.example.org/scim/v2";
    return c;
}

static void test_scim_bool_takes_what_entra_sends(void **state)
{
    static const struct {
        const char *json;
        int ok, value;
    } cases[] = {
        {"true", 1, 1}, {"false", 1, 0}, {"\"True\"", 1, 1},
        {"\"False\"", 1, 0}, {"\"FALSE\"", 1, 0}, {"\"yes\"", 0, 0},
        {"1", 0, 0}, {"null", 0, 0}, {"\"\"", 0, 0},
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        int out = -1;
        int rc = qsso_scim_bool(v, &out);
        json_decref(v);
        if ((rc == 0) != cases[i].ok || (rc == 0 && out != cases[i].value))
            fail_msg("%s: rc %d out %d", cases[i].json, rc, out);
    }
}

static void test_scim_string_refuses_control_characters(void **state)
{
    qsso_scim_call_t c = qsso_test_call(*state);
    json_t *v = json_string("a\nb");
    const char *out = NULL;

    assert_int_equal(qsso_scim_string(&c, v, "userName", 100, 0, &out), 400);
    qsso_assert_str(c.scim_type, "invalidValue");
    json_decref(v);
    v = json_stringn("a\0b", 3);
    assert_int_equal(qsso_scim_string(&c, v, "userName", 100, 0, &out), 400);
    json_decref(v);
    v = json_string("Ana Lima \xc3\xa9");
    assert_int_equal(qsso_scim_string(&c, v, "x", 100, 0, &out), 0);
    qsso_assert_str(out, "Ana Lima \xc3\xa9");
    assert_int_equal(qsso_scim_string(&c, v, "x", 5, 0, &out), 400);
    json_decref(v);
    v = json_null();
    assert_int_equal(qsso_scim_string(&c, v, "x", 5, 1, &out), 0);
    qsso_assert_str(out, "");
    c.status = 0;
    assert_int_equal(qsso_scim_string(&c, v, "x", 5, 0, &out), 400);
    json_decref(v);
}

static void test_scim_page_clamps_as_rfc7644_says(void **state)
{
    qsso_scim_call_t c = qsso_test_call(*state);
    int start, count;

    assert_int_equal(qsso_scim_page(&c, &start, &count), 0);
    assert_int_equal(start, 1);
    assert_int_equal(count, QSSO_SCIM_PAGE_DEFAULT);
    c.start_index = "0";
    c.count = "-3";
    assert_int_equal(qsso_scim_page(&c, &start, &count), 0);
    assert_int_equal(start, 1);
    assert_int_equal(count, 0);
    c.start_index = "41";
    c.count = "99999";
    assert_int_equal(qsso_scim_page(&c, &start, &count), 0);
    assert_int_equal(start, 41);
    assert_int_equal(count, QSSO_SCIM_PAGE_MAX);
    c.count = "10x";
    assert_int_equal(qsso_scim_page(&c, &start, &count), 400);
    c.count = "";
    assert_int_equal(qsso_scim_page(&c, &start, &count), 400);
    c.count = NULL;
    c.start_index = "99999999999999999999";
    assert_int_equal(qsso_scim_page(&c, &start, &count), 400);
}

static void test_scim_if_match_compares_weakly(void **state)
{
    qsso_scim_call_t c = qsso_test_call(*state);
    const char *v = qsso_scim_version(*state, "{\"id\":\"1\"}");

    assert_int_equal(strlen(v), 20);
    assert_true(!strncmp(v, "W/\"", 3));
    assert_string_not_equal(v, qsso_scim_version(*state, "{\"id\":\"2\"}"));
    assert_int_equal(qsso_scim_check_if_match(&c, v), 0);
    c.if_match = "*";
    assert_int_equal(qsso_scim_check_if_match(&c, v), 0);
    c.if_match = v;
    assert_int_equal(qsso_scim_check_if_match(&c, v), 0);
    c.if_match = v + 2;                 /* strong form of the same tag */
    assert_int_equal(qsso_scim_check_if_match(&c, v), 0);
    c.if_match = apr_pstrcat(*state, "W/\"0\", ", v, NULL);
    assert_int_equal(qsso_scim_check_if_match(&c, v), 0);
    c.if_match = "W/\"0000000000000000\"";
    assert_int_equal(qsso_scim_check_if_match(&c, v), 412);
}

static void test_scim_time_is_rfc3339_utc(void **state)
{
    qsso_assert_str(qsso_scim_time(*state, 0), "1970-01-01T00:00:00Z");
    qsso_assert_str(qsso_scim_time(*state, 1700000000),
                    "2023-11-14T22:13:20Z");
}

static void test_scim_patch_ops_accept_both_client_shapes(void **state)
{
    qsso_scim_call_t c = qsso_test_call(*state);
    apr_array_header_t *ops;
    qsso_scim_patch_t *op;

    c.body = qsso_scim_keep(*state, json_loads(
        "{\"Operations\":[{\"op\":\"replace\",\"value\":{\"active\":false}},"
        "{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"},"
        "{\"op\":\"REMOVE\",\"path\":\"externalId\"}]}", 0, NULL));
    assert_int_equal(qsso_scim_patch_ops(&c, &ops), 0);
    assert_int_equal(ops->nelts, 3);
    op = &APR_ARRAY_IDX(ops, 0, qsso_scim_patch_t);
    assert_int_equal(op->op, QSSO_SCIM_OP_REPLACE);
    assert_null(op->path);
    op = &APR_ARRAY_IDX(ops, 1, qsso_scim_patch_t);
    assert_int_equal(op->op, QSSO_SCIM_OP_REPLACE);
    qsso_assert_str(op->path, "active");
    op = &APR_ARRAY_IDX(ops, 2, qsso_scim_patch_t);
    assert_int_equal(op->op, QSSO_SCIM_OP_REMOVE);
    assert_null(op->value);
}

static void test_scim_patch_ops_refuse_malformed_operations(void **state)
{
    static const struct {
        const char *body;
        const char *scim_type;
    } bad[] = {
        {"{}", "invalidSyntax"},
        {"{\"Operations\":[]}", "invalidSyntax"},
        {"{\"Operations\":{}}", "invalidSyntax"},
        {"{\"Operations\":[1]}", "invalidSyntax"},
        {"{\"Operations\":[{\"op\":\"move\",\"path\":\"a\"}]}",
         "invalidSyntax"},
        {"{\"Operations\":[{\"op\":\"remove\"}]}", "noTarget"},
        {"{\"Operations\":[{\"op\":\"add\",\"value\":1}]}", "invalidValue"},
        {"{\"Operations\":[{\"op\":\"add\",\"path\":\"a\"}]}",
         "invalidValue"},
        {"{\"Operations\":[{\"op\":\"add\",\"path\":1,\"value\":1}]}",
         "invalidPath"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        qsso_scim_call_t c = qsso_test_call(*state);
        apr_array_header_t *ops;
        c.body = qsso_scim_keep(*state, json_loads(bad[i].body, 0, NULL));
        if (qsso_scim_patch_ops(&c, &ops) != 400)
            fail_msg("%s was accepted", bad[i].body);
        qsso_assert_str(c.scim_type, bad[i].scim_type);
    }
}

/* ---- the shared PUT/PATCH/DELETE path ---------------------------------- */

/* A resource type without a store: one record whose write loses the
 * compare-and-set qsso_test_conflicts times before it succeeds. */
typedef struct {
    const char *name;
} qsso_test_rec_t;

static int qsso_test_conflicts, qsso_test_loads, qsso_test_writes;

static int qsso_test_rec_load(qsso_scim_call_t *c, void *rec)
{
    (void)c;
    ((qsso_test_rec_t *)rec)->name = "a";
    qsso_test_loads++;
    return 0;
}

static const char *qsso_test_rec_version(qsso_scim_call_t *c,
                                         const void *rec)
{
    return qsso_scim_version(c->p, ((const qsso_test_rec_t *)rec)->name);
}

static void qsso_test_rec_copy(qsso_scim_call_t *c, void *n,
                               const void *old, int put)
{
    (void)c;
    *(qsso_test_rec_t *)n = *(const qsso_test_rec_t *)old;
    if (put)
        ((qsso_test_rec_t *)n)->name = "";
}

static int qsso_test_rec_apply(qsso_scim_call_t *c, void *rec,
                               qsso_scim_op_e op,
                               const qsso_scim_path_t *path, json_t *v,
                               int lenient)
{
    (void)op;
    (void)lenient;
    if (strcmp(path->attr, "name"))
        return qsso_scim_fail(c, 400, "invalidPath", "no %s", path->attr);
    return qsso_scim_string(c, v, "name", 100, 0,
                            &((qsso_test_rec_t *)rec)->name);
}

static int qsso_test_rec_apply_body(qsso_scim_call_t *c, void *rec,
                                    qsso_scim_op_e op, json_t *body)
{
    qsso_scim_path_t path;

    memset(&path, 0, sizeof(path));
    path.attr = "name";
    return qsso_test_rec_apply(c, rec, op, &path,
                               json_object_get(body, "name"), 1);
}

static int qsso_test_rec_check(qsso_scim_call_t *c, const void *rec)
{
    return *((const qsso_test_rec_t *)rec)->name
               ? 0 : qsso_scim_fail(c, 400, "invalidValue", "no name");
}

static int qsso_test_rec_write(qsso_scim_call_t *c, int status)
{
    if (qsso_test_conflicts > 0) {
        qsso_test_conflicts--;
        return QSSO_SCIM_CHANGED;
    }
    qsso_test_writes++;
    return c->status = status;
}

static int qsso_test_rec_commit(qsso_scim_call_t *c, const void *old,
                                void *n)
{
    (void)old;
    (void)n;
    return qsso_test_rec_write(c, 200);
}

static int qsso_test_rec_remove(qsso_scim_call_t *c, const void *old)
{
    (void)old;
    return qsso_test_rec_write(c, 204);
}

static const qsso_scim_type_t qsso_test_rec_type = {
    "record", sizeof(qsso_test_rec_t), qsso_test_rec_load,
    qsso_test_rec_version, qsso_test_rec_copy, qsso_test_rec_apply,
    qsso_test_rec_apply_body, qsso_test_rec_check, qsso_test_rec_commit,
    qsso_test_rec_remove,
};

static qsso_scim_call_t qsso_test_write_call(apr_pool_t *p,
                                             const char *method,
                                             const char *if_match,
                                             int conflicts)
{
    qsso_scim_call_t c = qsso_test_call(p);

    c.method = method;
    c.id = "1";
    c.if_match = if_match;
    c.body = qsso_scim_keep(p, json_loads(
        "{\"name\":\"b\",\"Operations\":[{\"op\":\"replace\","
        "\"path\":\"name\",\"value\":\"b\"}]}", 0, NULL));
    qsso_test_conflicts = conflicts;
    qsso_test_loads = qsso_test_writes = 0;
    return c;
}

static void test_scim_write_refuses_a_stale_if_match_before_writing(
    void **state)
{
    qsso_scim_call_t c = qsso_test_write_call(*state, "PATCH",
                                              "W/\"0000000000000000\"", 0);

    assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type), 412);
    assert_int_equal(qsso_test_loads, 1);
    assert_int_equal(qsso_test_writes, 0);
}

static void test_scim_write_if_match_is_412_when_another_wrote_first(
    void **state)
{
    const char *v = qsso_scim_version(*state, "a");
    static const char *const methods[] = {"PUT", "PATCH", "DELETE"};
    int i;

    for (i = 0; i < 3; i++) {
        qsso_scim_call_t c = qsso_test_write_call(*state, methods[i], v, 1);
        assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type),
                         412);
        assert_non_null(strstr(c.detail, "changed while this"));
        assert_int_equal(qsso_test_writes, 0);
        /* The twin: the same request with no write in between. */
        c = qsso_test_write_call(*state, methods[i], v, 0);
        assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type),
                         i == 2 ? 204 : 200);
        assert_int_equal(qsso_test_writes, 1);
    }
}

static void test_scim_write_without_if_match_is_applied_again(void **state)
{
    qsso_scim_call_t c = qsso_test_write_call(*state, "PATCH", NULL, 2);

    assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type), 200);
    assert_int_equal(qsso_test_loads, 3);
    assert_int_equal(qsso_test_writes, 1);
    c = qsso_test_write_call(*state, "DELETE", "*", 1);
    assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type), 204);
    c = qsso_test_write_call(*state, "PUT", NULL, QSSO_SCIM_ATTEMPTS);
    assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type), 503);
    assert_int_equal(qsso_test_loads, QSSO_SCIM_ATTEMPTS);
    assert_int_equal(qsso_test_writes, 0);
}

static void test_scim_write_checks_the_body_before_writing(void **state)
{
    qsso_scim_call_t c = qsso_test_write_call(*state, "PUT", NULL, 0);

    c.body = qsso_scim_keep(*state, json_loads("{}", 0, NULL));
    assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type), 400);
    c = qsso_test_write_call(*state, "PATCH", NULL, 0);
    c.body = qsso_scim_keep(*state, json_loads(
        "{\"Operations\":[{\"op\":\"replace\",\"path\":\"other\","
        "\"value\":\"b\"}]}", 0, NULL));
    assert_int_equal(qsso_scim_resource_write(&c, &qsso_test_rec_type), 400);
    qsso_assert_str(c.scim_type, "invalidPath");
    assert_int_equal(qsso_test_writes, 0);
}

static void test_scim_error_document_follows_rfc7644(void **state)
{
    qsso_scim_call_t c = qsso_test_call(*state);
    char *text;

    qsso_scim_fail(&c, 409, "uniqueness", "userName \"%s\" is taken", "a");
    text = json_dumps(qsso_scim_error_json(&c), JSON_SORT_KEYS
                                                | JSON_COMPACT);
    qsso_assert_str(text, "{\"detail\":\"userName \\\"a\\\" is taken\","
                    "\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:"
                    "Error\"],\"scimType\":\"uniqueness\",\"status\":\"409\"}");
    free(text);
    /* A detail quoting bytes that are not UTF-8 is escaped, not lost. */
    qsso_scim_fail(&c, 400, "invalidFilter", "bad \xff byte");
    text = json_dumps(qsso_scim_error_json(&c), JSON_COMPACT);
    qsso_assert_contains(text, "bad \\\\xff byte");
    free(text);
}

/* ---- schemas ----------------------------------------------------------- */

static void test_scim_schema_finds_attributes_case_insensitively(
    void **state)
{
    const qsso_scim_attr_t *user = qsso_scim_schema_attrs(QSSO_SCIM_URN_USER);
    const qsso_scim_attr_t *a;

    (void)state;
    a = qsso_scim_schema_find(user, "USERNAME");
    assert_non_null(a);
    assert_int_equal(a->field, QSSO_SCIM_F_USERNAME);
    assert_int_equal(qsso_scim_schema_find(user, "title")->field,
                     QSSO_SCIM_F_NONE);
    assert_int_equal(qsso_scim_schema_find(user, "externalId")->field,
                     QSSO_SCIM_F_EXTERNAL_ID);
    assert_int_equal(qsso_scim_schema_find(user, "id")->field,
                     QSSO_SCIM_F_READONLY);
    assert_null(qsso_scim_schema_find(user, "shoeSize"));
    a = qsso_scim_schema_find(user, "name");
    assert_int_equal(qsso_scim_schema_find(a->sub, "givenname")->field,
                     QSSO_SCIM_F_GIVEN_NAME);
    /* id and meta belong to resources, not to sub-attributes. */
    assert_null(qsso_scim_schema_find(a->sub, "id"));
    assert_int_equal(qsso_scim_schema_find(qsso_scim_schema_attrs(
        QSSO_SCIM_URN_ENTERPRISE), "Division")->field, QSSO_SCIM_F_DIVISION);
    assert_null(qsso_scim_schema_attrs("urn:example:x"));
    qsso_assert_str(qsso_scim_schema_urn(
        "urn:ietf:params:scim:schemas:core:2.0:group", 43),
        QSSO_SCIM_URN_GROUP);
}

static void test_scim_discovery_documents_list_every_schema(void **state)
{
    json_t *all = qsso_scim_keep(*state, qsso_scim_schema_schemas(
        "https://h/scim", NULL));
    json_t *one = qsso_scim_keep(*state, qsso_scim_schema_schemas(
        "https://h/scim", QSSO_SCIM_URN_GROUP));
    json_t *types = qsso_scim_keep(*state, qsso_scim_schema_resource_types(
        "https://h/scim", NULL));
    json_t *spc = qsso_scim_keep(*state,
                                 qsso_scim_schema_service_provider("x"));

    assert_int_equal(json_integer_value(json_object_get(all,
                                                        "totalResults")), 3);
    qsso_assert_str(json_string_value(json_object_get(one, "name")),
                    "Group");
    qsso_assert_str(json_string_value(json_object_get(json_object_get(
        one, "meta"), "location")), "https://h/scim/Schemas/"
                                    QSSO_SCIM_URN_GROUP);
    assert_null(qsso_scim_schema_schemas("x", "urn:nope"));
    assert_int_equal(json_integer_value(json_object_get(types,
                                                        "totalResults")), 2);
    assert_null(qsso_scim_schema_resource_types("x", "Nope"));
    assert_true(json_is_true(json_object_get(json_object_get(spc, "patch"),
                                             "supported")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_scim_filter_reads_the_forms_clients_send),
        QSSO_TEST(test_scim_filter_joins_with_and_in_any_case),
        QSSO_TEST(test_scim_filter_decodes_values_as_json),
        QSSO_TEST(test_scim_filter_refuses_everything_else),
        QSSO_TEST(test_scim_filter_limits_length_and_conditions),
        QSSO_TEST(test_scim_filter_matches_by_case_rules),
        QSSO_TEST(test_scim_path_reads_attributes_and_sub_attributes),
        QSSO_TEST(test_scim_path_reads_value_filters),
        QSSO_TEST(test_scim_path_reads_schema_urns),
        QSSO_TEST(test_scim_path_refuses_malformed_paths),
        QSSO_TEST(test_scim_token_file_reads_hashes_and_comments),
        QSSO_TEST(test_scim_token_file_refuses_bad_lines_by_number),
        QSSO_TEST(test_scim_token_check_refuses_all_but_listed_tokens),
        QSSO_TEST(test_scim_bool_takes_what_entra_sends),
        QSSO_TEST(test_scim_string_refuses_control_characters),
        QSSO_TEST(test_scim_page_clamps_as_rfc7644_says),
        QSSO_TEST(test_scim_if_match_compares_weakly),
        QSSO_TEST(test_scim_time_is_rfc3339_utc),
        QSSO_TEST(test_scim_patch_ops_accept_both_client_shapes),
        QSSO_TEST(test_scim_patch_ops_refuse_malformed_operations),
        QSSO_TEST(test_scim_write_refuses_a_stale_if_match_before_writing),
        QSSO_TEST(test_scim_write_if_match_is_412_when_another_wrote_first),
        QSSO_TEST(test_scim_write_without_if_match_is_applied_again),
        QSSO_TEST(test_scim_write_checks_the_body_before_writing),
        QSSO_TEST(test_scim_error_document_follows_rfc7644),
        QSSO_TEST(test_scim_schema_finds_attributes_case_insensitively),
        QSSO_TEST(test_scim_discovery_documents_list_every_schema),
    };

    return QSSO_TEST_RUN("scim", tests);
}

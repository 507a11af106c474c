/*
 * qsso_policy.c: attribute fields, value maps, email domains, user-type
 * validation, dashboard attributes; and qsso_users.c's record format.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso.h"
#include "qsso_policy.h"
#include "qsso_users.h"

#define EMAIL "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
#define UTYPE "urn:t:userType"
#define GROUPS "urn:t:groups"
#define COST "urn:t:costCenter"

/* The claims of a login with attributes given as name, value, value,
 * NULL, name, ..., NULL, NULL. */
static qsso_claims_t *qsso_test_assertion(apr_pool_t *p, ...)
{
    qsso_claims_t *a = apr_pcalloc(p, sizeof(*a));
    const char *name, *v;
    va_list ap;

    a->subject = "nameid-1";
    a->issuer = "https://idp.example.com";
    a->attrs = apr_array_make(p, 4, sizeof(qsso_attr_t));
    va_start(ap, p);
    while ((name = va_arg(ap, const char *)) != NULL) {
        qsso_attr_t *at = apr_array_push(a->attrs);
        at->name = name;
        at->values = apr_array_make(p, 2, sizeof(const char *));
        while ((v = va_arg(ap, const char *)) != NULL)
            APR_ARRAY_PUSH(at->values, const char *) = v;
    }
    va_end(ap);
    return a;
}

static qsso_dir_conf_t *qsso_test_conf(apr_pool_t *p)
{
    qsso_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    c->email_attr = EMAIL;
    c->validate_user_type = QSSO_UNSET;
    c->jit_provisioning = QSSO_UNSET;
    c->update_attributes = QSSO_UNSET;
    return c;
}

static void qsso_test_map(apr_pool_t *p, apr_array_header_t **map,
                          const char *idp, const char *local)
{
    qsso_pair_t *pair;

    if (*map == NULL)
        *map = apr_array_make(p, 2, sizeof(qsso_pair_t));
    pair = apr_array_push(*map);
    pair->idp = idp;
    pair->local = local;
}

static apr_array_header_t *qsso_test_list(apr_pool_t *p, ...)
{
    apr_array_header_t *l = apr_array_make(p, 2, sizeof(const char *));
    const char *v;
    va_list ap;

    va_start(ap, p);
    while ((v = va_arg(ap, const char *)) != NULL)
        APR_ARRAY_PUSH(l, const char *) = v;
    va_end(ap);
    return l;
}

static void test_policy_builds_fields_with_email_defaults(void **state)
{
    apr_pool_t *p = *state;
    qsso_session_t s;
    qsso_err_t err;
    qsso_claims_t *a = qsso_test_assertion(p, EMAIL, "ana@example.org",
                                              NULL, NULL);

    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_policy_build_identity(p, qsso_test_conf(p), a, &s,
                                                &err), 0);
    qsso_assert_str(s.username, "ana@example.org");
    qsso_assert_str(s.first_name, "ana@example.org");
    qsso_assert_str(s.last_name, "ana@example.org");
    qsso_assert_str(s.user_type, "Standard");
    qsso_assert_str(s.division, "");
    qsso_assert_str(s.name_id, "nameid-1");
    assert_int_equal(s.groups->nelts, 0);
}

static void test_policy_refuses_missing_email_naming_what_came(void **state)
{
    apr_pool_t *p = *state;
    qsso_session_t s;
    qsso_err_t err;
    qsso_claims_t *a = qsso_test_assertion(p, "email", "a@b.c", NULL,
                                              NULL);

    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_policy_build_identity(p, qsso_test_conf(p), a, &s,
                                                &err), 4001);
    qsso_assert_contains(err.detail, "\"email\"");
    qsso_assert_contains(err.detail, EMAIL);
}

static void test_policy_maps_user_type_or_falls_back(void **state)
{
    apr_pool_t *p = *state;
    qsso_dir_conf_t *c = qsso_test_conf(p);
    qsso_session_t s;
    qsso_err_t err;

    c->user_type_attr = UTYPE;
    c->default_user_type = "Viewer";
    qsso_test_map(p, &c->user_type_map, "Employee", "Standard");
    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, UTYPE, "Employee", NULL, NULL), &s, &err),
        0);
    qsso_assert_str(s.user_type, "Standard");
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, UTYPE, "employee", NULL, NULL), &s, &err),
        0);
    qsso_assert_str(s.user_type, "Viewer");      /* maps match exactly */
}

static void test_policy_validation_refuses_unmapped_user_type(void **state)
{
    apr_pool_t *p = *state;
    qsso_dir_conf_t *c = qsso_test_conf(p);
    qsso_session_t s;
    qsso_err_t err;

    c->user_type_attr = UTYPE;
    c->validate_user_type = 1;
    qsso_test_map(p, &c->user_type_map, "Employee", "Standard");
    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, UTYPE, "Employee", NULL, NULL), &s, &err),
        0);
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, UTYPE, "Intern", NULL, NULL), &s, &err),
        4004);
    qsso_assert_contains(err.detail, "\"Intern\"");
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, NULL), &s, &err), 4004);
}

static void test_policy_groups_map_value_by_value(void **state)
{
    apr_pool_t *p = *state;
    qsso_dir_conf_t *c = qsso_test_conf(p);
    qsso_session_t s;
    qsso_err_t err;
    qsso_claims_t *a = qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, GROUPS, "g1", "g2", "g3", "g1", NULL,
        NULL);

    c->group_attr = GROUPS;
    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_policy_build_identity(p, c, a, &s, &err), 0);
    assert_int_equal(s.groups->nelts, 3);        /* no map: as sent, once */
    qsso_test_map(p, &c->group_map, "g1", "admins");
    qsso_test_map(p, &c->group_map, "g3", "analysts");
    assert_int_equal(qsso_policy_build_identity(p, c, a, &s, &err), 0);
    assert_int_equal(s.groups->nelts, 2);        /* map: unmapped dropped */
    qsso_assert_str(APR_ARRAY_IDX(s.groups, 0, const char *), "admins");
    qsso_assert_str(APR_ARRAY_IDX(s.groups, 1, const char *), "analysts");
}

/* "APAC::EMEA" would read as two values at the backend: refused, for a
 * group and a dashboard value alike; the same values sent apart pass. */
static void test_policy_refuses_a_value_holding_the_delimiter(void **state)
{
    apr_pool_t *p = *state;
    qsso_dir_conf_t *c = qsso_test_conf(p);
    qsso_session_t s;
    qsso_err_t err;
    const qsso_dash_attr_t *d;

    c->group_attr = GROUPS;
    c->dashboard_attrs = qsso_test_list(p, COST, NULL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, GROUPS, "APAC::EMEA", NULL, NULL), &s,
        &err), 4030);
    qsso_assert_contains(err.detail, "group \"APAC::EMEA\"");
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, COST, "APAC::EMEA", NULL, NULL), &s,
        &err), 4030);
    qsso_assert_contains(err.detail, "dashboard value \"APAC::EMEA\"");
    /* one colon is a value like any other */
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, GROUPS, "APAC:EMEA", NULL, COST, "APAC",
        "EMEA", "", NULL, NULL), &s, &err), 0);
    qsso_assert_str(APR_ARRAY_IDX(s.groups, 0, const char *), "APAC:EMEA");
    d = &APR_ARRAY_IDX(s.dash, 0, qsso_dash_attr_t);
    assert_int_equal(d->values->nelts, 2);       /* the empty one dropped */
    qsso_assert_str(APR_ARRAY_IDX(d->values, 1, const char *), "EMEA");
}

static void test_policy_domains(void **state)
{
    apr_pool_t *p = *state;
    apr_array_header_t *d = qsso_test_list(p, "example.org", "*.lab.org",
                                           NULL);

    assert_true(qsso_policy_check_domain(NULL, "a@anything.net"));
    assert_true(qsso_policy_check_domain(d, "a@example.org"));
    assert_true(qsso_policy_check_domain(d, "A@EXAMPLE.ORG"));
    assert_true(qsso_policy_check_domain(d, "a@x.lab.org"));
    assert_true(qsso_policy_check_domain(d, "a@y.x.lab.org"));
    assert_false(qsso_policy_check_domain(d, "a@lab.org"));
    assert_false(qsso_policy_check_domain(d, "a@badlab.org"));
    assert_false(qsso_policy_check_domain(d, "a@sub.example.org"));
    assert_false(qsso_policy_check_domain(d, "a@example.org.evil.net"));
    assert_false(qsso_policy_check_domain(d, "example.org"));
    assert_false(qsso_policy_check_domain(d, "@example.org"));
    assert_false(qsso_policy_check_domain(d, "a@"));
    /* The last '@' decides: "a@example.org"@evil.net is evil.net. */
    assert_false(qsso_policy_check_domain(d, "a@example.org@evil.net"));
    assert_true(qsso_policy_check_domain(qsso_test_list(p, "*", NULL),
                                         "a@b.c"));
}

static void test_policy_dashboard_attribute_length(void **state)
{
    apr_pool_t *p = *state;
    qsso_dir_conf_t *c = qsso_test_conf(p);
    qsso_session_t s;
    qsso_err_t err;
    char *a499 = apr_palloc(p, 500), *b499 = apr_palloc(p, 500);
    char *b500 = apr_palloc(p, 501);

    memset(a499, 'a', 499);
    a499[499] = '\0';
    memset(b499, 'b', 499);
    b499[499] = '\0';
    memset(b500, 'b', 500);
    b500[500] = '\0';
    c->dashboard_attrs = qsso_test_list(p, COST, NULL);
    memset(&err, 0, sizeof(err));
    /* 499 + 2 + 499 = 1000 once joined with "::": accepted, kept as two */
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, COST, a499, b499, NULL, NULL), &s, &err),
        0);
    assert_int_equal(APR_ARRAY_IDX(s.dash, 0, qsso_dash_attr_t).values->nelts,
                     2);
    qsso_assert_str(APR_ARRAY_IDX(APR_ARRAY_IDX(s.dash, 0, qsso_dash_attr_t)
                                      .values, 1, const char *), b499);
    /* 1001: refused, never cut */
    assert_int_equal(qsso_policy_build_identity(p, c, qsso_test_assertion(
        p, EMAIL, "a@x.org", NULL, COST, a499, b500, NULL, NULL), &s, &err),
        4006);
    qsso_assert_contains(err.detail, "1001 characters");
}

static void test_policy_brand_username(void **state)
{
    apr_pool_t *p = *state;
    qsso_dir_conf_t *c = qsso_test_conf(p);

    qsso_assert_str(qsso_policy_username(p, c, "ana"), "ana");
    c->brand_id = "acme";
    qsso_assert_str(qsso_policy_username(p, c, "ana"), "ana#acme");
}

static void test_policy_env_names(void **state)
{
    apr_pool_t *p = *state;

    qsso_assert_str(qsso_policy_env_name(p, "QSSO_ATTR_", "costCenter-2",
                                         '_'), "QSSO_ATTR_COSTCENTER_2");
    qsso_assert_str(qsso_policy_env_name(p, "X-QSSO-Attr-", "urn:a.b", '-'),
                    "X-QSSO-Attr-URN-A-B");
}

static void test_users_record_round_trips(void **state)
{
    apr_pool_t *p = *state;
    qsso_user_t u, back;
    char *json;

    memset(&u, 0, sizeof(u));
    u.id = "0123456789abcdef0123456789abcdef";
    u.username = "ana#acme";
    u.email = "ana@example.org";
    u.first_name = "Ana \"the\" analyst";
    u.last_name = "L\xc3\xadma";
    u.user_type = "Standard";
    u.division = "";
    u.groups = qsso_test_list(p, "admins", "a,b", NULL);
    u.unique_id = "E-1";
    u.external_id = "";
    u.source = "jit";
    u.idp = "https://idp";
    u.active = 1;
    u.created = 1700000000;
    u.last_login = 1800000000;
    json = qsso_users_encode(p, &u);
    assert_non_null(json);
    assert_int_equal(qsso_users_decode(p, json, &back), 0);
    qsso_assert_str(back.username, "ana#acme");
    qsso_assert_str(back.first_name, "Ana \"the\" analyst");
    qsso_assert_str(back.last_name, "L\xc3\xadma");
    assert_int_equal(back.groups->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(back.groups, 1, const char *), "a,b");
    assert_true(back.active);
    assert_false(back.sso_linked);
    assert_int_equal(back.created, 1700000000);
    assert_int_equal(back.last_login, 1800000000);
}

/* Former names travel with the record; a record never renamed has none
 * in its JSON, so its bytes (and its SCIM ETag) are what they were. */
static void test_users_record_keeps_former_names(void **state)
{
    apr_pool_t *p = *state;
    qsso_user_t u, back;
    const char *plain = "{\"id\":\"x\",\"userName\":\"a\"}";
    char *json;

    assert_int_equal(qsso_users_decode(p, plain, &u), 0);
    assert_int_equal(u.former_names->nelts, 0);
    json = qsso_users_encode(p, &u);
    assert_null(strstr(json, "formerNames"));
    u.former_names = qsso_test_list(p, "ana", "ana@old", NULL);
    json = qsso_users_encode(p, &u);
    assert_non_null(strstr(json, "\"formerNames\":[\"ana\",\"ana@old\"]"));
    assert_int_equal(qsso_users_decode(p, json, &back), 0);
    assert_int_equal(back.former_names->nelts, 2);
    qsso_assert_str(APR_ARRAY_IDX(back.former_names, 1, const char *),
                    "ana@old");
    assert_null(back.raw);              /* only a load sets it */
}

static void test_users_record_refuses_damage(void **state)
{
    apr_pool_t *p = *state;
    qsso_user_t u;

    assert_int_not_equal(qsso_users_decode(p, "", &u), 0);
    assert_int_not_equal(qsso_users_decode(p, "[]", &u), 0);
    assert_int_not_equal(qsso_users_decode(p, "{\"id\":\"x\"}", &u), 0);
    assert_int_not_equal(qsso_users_decode(
        p, "{\"id\":\"x\",\"userName\":\"a\",\"userName\":\"b\"}", &u), 0);
    assert_int_equal(qsso_users_decode(
        p, "{\"id\":\"x\",\"userName\":\"a\"}", &u), 0);
    qsso_assert_str(u.email, "");
    assert_false(u.active);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_policy_builds_fields_with_email_defaults),
        QSSO_TEST(test_policy_refuses_missing_email_naming_what_came),
        QSSO_TEST(test_policy_maps_user_type_or_falls_back),
        QSSO_TEST(test_policy_validation_refuses_unmapped_user_type),
        QSSO_TEST(test_policy_groups_map_value_by_value),
        QSSO_TEST(test_policy_refuses_a_value_holding_the_delimiter),
        QSSO_TEST(test_policy_domains),
        QSSO_TEST(test_policy_dashboard_attribute_length),
        QSSO_TEST(test_policy_brand_username),
        QSSO_TEST(test_policy_env_names),
        QSSO_TEST(test_users_record_round_trips),
        QSSO_TEST(test_users_record_keeps_former_names),
        QSSO_TEST(test_users_record_refuses_damage),
    };

    return QSSO_TEST_RUN("policy", tests);
}

/*
 * qsso_claims.c: the protocol-neutral claims the identity policy reads,
 * and qsso_response_claims, which fills them from a SAML assertion.
 */
#include <string.h>

#include "qsso_test.h"
#include "qsso_claims.h"
#include "qsso_response.h"

static qsso_attr_t *qsso_test_attr(apr_pool_t *p, apr_array_header_t *a,
                                   const char *name, const char *v)
{
    qsso_attr_t *at = apr_array_push(a);

    at->name = name;
    at->values = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(at->values, const char *) = v;
    return at;
}

static void test_claims_values_by_exact_name(void **state)
{
    apr_pool_t *p = *state;
    qsso_claims_t c;
    const apr_array_header_t *v;

    memset(&c, 0, sizeof(c));
    c.attrs = apr_array_make(p, 2, sizeof(qsso_attr_t));
    qsso_test_attr(p, c.attrs, "email", "ana@example.org");
    qsso_test_attr(p, c.attrs, "Email", "other@example.org");
    v = qsso_claims_values(&c, "email");
    assert_non_null(v);
    assert_int_equal(v->nelts, 1);
    qsso_assert_str(APR_ARRAY_IDX(v, 0, const char *), "ana@example.org");
    /* names are case-sensitive, as SAML Names and OIDC claims are */
    v = qsso_claims_values(&c, "Email");
    qsso_assert_str(APR_ARRAY_IDX(v, 0, const char *), "other@example.org");
    assert_null(qsso_claims_values(&c, "EMAIL"));
    assert_null(qsso_claims_values(&c, NULL));
}

static void test_claims_without_attributes_have_no_values(void **state)
{
    qsso_claims_t c;

    (void)state;
    memset(&c, 0, sizeof(c));
    assert_null(qsso_claims_values(&c, "email"));
}

static void test_claims_of_an_assertion_are_its_issuer_nameid_and_attrs(
    void **state)
{
    apr_pool_t *p = *state;
    qsso_assertion_t a;
    qsso_claims_t c;

    memset(&a, 0, sizeof(a));
    a.issuer = "https://idp.example.com/saml";
    a.name_id = "nameid-1";
    a.attrs = apr_array_make(p, 1, sizeof(qsso_attr_t));
    qsso_test_attr(p, a.attrs, "urn:t:mail", "ana@example.org");
    qsso_response_claims(&a, &c);
    qsso_assert_str(c.issuer, "https://idp.example.com/saml");
    qsso_assert_str(c.subject, "nameid-1");
    assert_ptr_equal(qsso_claims_values(&c, "urn:t:mail"),
                     qsso_response_attr_values(&a, "urn:t:mail"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_claims_values_by_exact_name),
        QSSO_TEST(test_claims_without_attributes_have_no_values),
        QSSO_TEST(test_claims_of_an_assertion_are_its_issuer_nameid_and_attrs),
    };

    return QSSO_TEST_RUN("claims", tests);
}

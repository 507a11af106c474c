/*
 * qsso_xml.c: parsing that refuses any DOCTYPE and malformed input, and
 * the DOM helpers that read values the way the signature sees them.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_xml.h"

#define NS_SAML "xmlns:saml=\"" QSSO_NS_SAML "\""

static xmlNodePtr qsso_test_parse_root(apr_pool_t *p, const char *xml)
{
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(p, xml, strlen(xml), &doc), QSSO_XML_OK);
    assert_non_null(doc);
    return xmlDocGetRootElement(doc);
}

static const char *qsso_test_text_of(apr_pool_t *p, const char *xml)
{
    return qsso_xml_text(p, qsso_test_parse_root(p, xml));
}

/* ---- parse */

static void test_xml_parse_accepts_a_plain_document(void **state)
{
    xmlNodePtr root = qsso_test_parse_root(*state,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<saml:Assertion " NS_SAML " ID=\"_a\"><saml:Issuer>x</saml:Issuer>"
        "</saml:Assertion>");

    assert_true(qsso_xml_is(root, QSSO_NS_SAML, "Assertion"));
}

static void test_xml_parse_refuses_a_doctype(void **state)
{
    const char *xml = "<!DOCTYPE a><a/>";
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_DOCTYPE);
    assert_null(doc);
}

static void test_xml_parse_refuses_an_external_entity(void **state)
{
    const char *xml = "<!DOCTYPE a [<!ENTITY xxe SYSTEM "
                      "\"file:///etc/passwd\">]><a>&xxe;</a>";
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_DOCTYPE);
    assert_null(doc);
}

static void test_xml_parse_refuses_an_external_dtd(void **state)
{
    const char *xml = "<!DOCTYPE a SYSTEM \"http://127.0.0.1:9/x.dtd\"><a/>";
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_DOCTYPE);
}

static void test_xml_parse_refuses_entity_expansion_bombs(void **state)
{
    const char *xml =
        "<!DOCTYPE a [<!ENTITY l0 \"lol\">"
        "<!ENTITY l1 \"&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;\">"
        "<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">"
        "<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">"
        "<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">]>"
        "<a>&l4;</a>";
    xmlDocPtr doc;

    /* refused at the DOCTYPE, before libxml2 sees the amplification */
    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_DOCTYPE);
    assert_null(doc);
}

static void test_xml_parse_refuses_malformed_input(void **state)
{
    static const char *const bad[] = {
        "", " ", "not xml", "<a>", "<a></b>", "<a/><b/>", "<a x='1' x='2'/>",
        "<a>&undefined;</a>", "<a>\x01</a>", "<a/>trailing",
        "<?xml version=\"1.0\"?>",
    };
    apr_size_t i;
    xmlDocPtr doc;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_xml_parse(*state, bad[i], strlen(bad[i]), &doc)
            != QSSO_XML_MALFORMED)
            fail_msg("\"%s\" was not refused as malformed", bad[i]);
}

static void test_xml_parse_refuses_a_truncated_document(void **state)
{
    const char *xml = "<a><b>text</b></a>";
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml) - 2, &doc),
                     QSSO_XML_MALFORMED);
}

/* depth elements <a>, each inside the one before. */
static const char *qsso_test_nested(apr_pool_t *p, apr_size_t depth)
{
    char *xml = apr_palloc(p, depth * 7 + 1), *o = xml;
    apr_size_t i;

    for (i = 0; i < depth; i++, o += 3)
        memcpy(o, "<a>", 3);
    for (i = 0; i < depth; i++, o += 4)
        memcpy(o, "</a>", 4);
    *o = '\0';
    return xml;
}

static void test_xml_parse_refuses_nesting_past_the_depth_limit(void **state)
{
    /* far past libxml2's own limit too: stopped at QSSO_XML_MAX_DEPTH,
     * with its own status (it has its own refusal code) */
    const char *xml = qsso_test_nested(*state, 5000);
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_TOO_DEEP);
    assert_null(doc);
}

static void test_xml_parse_refuses_one_level_past_the_depth_limit(
    void **state)
{
    const char *xml = qsso_test_nested(*state, QSSO_XML_MAX_DEPTH + 1);
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_TOO_DEEP);
    assert_null(doc);
}

static void test_xml_parse_accepts_nesting_at_the_depth_limit(void **state)
{
    const char *xml = qsso_test_nested(*state, QSSO_XML_MAX_DEPTH);
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_OK);
    assert_int_equal(qsso_xml_depth(xmlDocGetRootElement(doc)),
                     QSSO_XML_MAX_DEPTH);
}

static void test_xml_depth_counts_the_deepest_branch(void **state)
{
    const char *xml = "<a><b/><c><d><e/></d></c>text<f/></a>";
    xmlDocPtr doc;

    assert_int_equal(qsso_xml_parse(*state, xml, strlen(xml), &doc),
                     QSSO_XML_OK);
    assert_int_equal(qsso_xml_depth(xmlDocGetRootElement(doc)), 4);
    assert_int_equal(qsso_xml_depth(NULL), 0);
}

/* ---- text */

static void test_xml_text_reads_across_a_comment(void **state)
{
    /* The signature (exclusive c14n without comments) covers
     * "ana@example.org.evil.example"; reading up to the comment only
     * would give "ana@example.org". */
    qsso_assert_str(qsso_test_text_of(*state,
                        "<n>ana@example.org<!---->.evil.example</n>"),
                    "ana@example.org.evil.example");
    qsso_assert_str(qsso_test_text_of(*state, "<n><!-- x -->a<!--y-->b</n>"),
                    "ab");
}

static void test_xml_text_skips_processing_instructions(void **state)
{
    qsso_assert_str(qsso_test_text_of(*state, "<n>a<?pi data?>b</n>"), "ab");
}

static void test_xml_text_reads_cdata_and_references(void **state)
{
    qsso_assert_str(qsso_test_text_of(*state,
                        "<n>a<![CDATA[<b>&]]>&amp;&#x41;&lt;</n>"),
                    "a<b>&&A<");
}

static void test_xml_text_reads_nested_elements_in_order(void **state)
{
    qsso_assert_str(qsso_test_text_of(*state,
                        "<n>1<i>2<j>3</j></i>4<k/>5</n>"),
                    "12345");
}

static void test_xml_text_of_an_empty_element_is_empty(void **state)
{
    qsso_assert_str(qsso_test_text_of(*state, "<n/>"), "");
    assert_null(qsso_xml_text(*state, NULL));
}

static void test_xml_text_reads_many_pieces(void **state)
{
    apr_size_t i;
    char *xml = "<n>", *want = "";

    for (i = 0; i < 40; i++) {
        xml = apr_psprintf(*state, "%s%c<!---->", xml, (char)('a' + i % 26));
        want = apr_psprintf(*state, "%s%c", want, (char)('a' + i % 26));
    }
    xml = apr_pstrcat(*state, xml, "</n>", NULL);
    qsso_assert_str(qsso_test_text_of(*state, xml), want);
}

static void test_xml_trim_removes_xml_whitespace_only(void **state)
{
    qsso_assert_str(qsso_xml_trim(*state, " \t\r\n a b \n"), "a b");
    qsso_assert_str(qsso_xml_trim(*state, "   "), "");
    qsso_assert_str(qsso_xml_trim(*state, "\xc2\xa0x\xc2\xa0"),
                    "\xc2\xa0x\xc2\xa0");   /* NBSP is not XML whitespace */
    assert_null(qsso_xml_trim(*state, NULL));
}

/* ---- element helpers */

static void test_xml_is_matches_namespace_and_name(void **state)
{
    xmlNodePtr root = qsso_test_parse_root(*state,
        "<r " NS_SAML " xmlns:evil=\"urn:evil\"><saml:Issuer/>"
        "<evil:Issuer/><Issuer/>text</r>");
    xmlNodePtr c = root->children;

    assert_true(qsso_xml_is(c, QSSO_NS_SAML, "Issuer"));
    assert_false(qsso_xml_is(c, QSSO_NS_SAML, "issuer"));
    assert_false(qsso_xml_is(c->next, QSSO_NS_SAML, "Issuer"));
    assert_false(qsso_xml_is(c->next->next, QSSO_NS_SAML, "Issuer"));
    assert_false(qsso_xml_is(c->next->next->next, QSSO_NS_SAML, "Issuer"));
    assert_false(qsso_xml_is(NULL, QSSO_NS_SAML, "Issuer"));
}

static void test_xml_child_finds_direct_children_only(void **state)
{
    xmlNodePtr root = qsso_test_parse_root(*state,
        "<r " NS_SAML "><x><saml:Issuer>deep</saml:Issuer></x>"
        "<saml:Issuer>one</saml:Issuer><saml:Issuer>two</saml:Issuer></r>");

    qsso_assert_str(qsso_xml_text(*state,
                        qsso_xml_child(root, QSSO_NS_SAML, "Issuer")), "one");
    assert_int_equal(qsso_xml_count_children(root, QSSO_NS_SAML, "Issuer"),
                     2);
    assert_null(qsso_xml_child(root, QSSO_NS_SAML, "Subject"));
    assert_null(qsso_xml_child(NULL, QSSO_NS_SAML, "Issuer"));
    assert_int_equal(qsso_xml_count_children(NULL, QSSO_NS_SAML, "Issuer"),
                     0);
}

static void test_xml_attr_reads_unqualified_attributes_only(void **state)
{
    xmlNodePtr root = qsso_test_parse_root(*state,
        "<r xmlns:x=\"urn:x\" ID=\"a&amp;b\" x:Other=\"q\"/>");

    qsso_assert_str(qsso_xml_attr(*state, root, "ID"), "a&b");
    assert_null(qsso_xml_attr(*state, root, "Other"));
    assert_null(qsso_xml_attr(*state, root, "id"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_xml_parse_accepts_a_plain_document),
        QSSO_TEST(test_xml_parse_refuses_a_doctype),
        QSSO_TEST(test_xml_parse_refuses_an_external_entity),
        QSSO_TEST(test_xml_parse_refuses_an_external_dtd),
        QSSO_TEST(test_xml_parse_refuses_entity_expansion_bombs),
        QSSO_TEST(test_xml_parse_refuses_malformed_input),
        QSSO_TEST(test_xml_parse_refuses_a_truncated_document),
        QSSO_TEST(test_xml_parse_refuses_nesting_past_the_depth_limit),
        QSSO_TEST(test_xml_parse_refuses_one_level_past_the_depth_limit),
        QSSO_TEST(test_xml_parse_accepts_nesting_at_the_depth_limit),
        QSSO_TEST(test_xml_depth_counts_the_deepest_branch),
        QSSO_TEST(test_xml_text_reads_across_a_comment),
        QSSO_TEST(test_xml_text_skips_processing_instructions),
        QSSO_TEST(test_xml_text_reads_cdata_and_references),
        QSSO_TEST(test_xml_text_reads_nested_elements_in_order),
        QSSO_TEST(test_xml_text_of_an_empty_element_is_empty),
        QSSO_TEST(test_xml_text_reads_many_pieces),
        QSSO_TEST(test_xml_trim_removes_xml_whitespace_only),
        QSSO_TEST(test_xml_is_matches_namespace_and_name),
        QSSO_TEST(test_xml_child_finds_direct_children_only),
        QSSO_TEST(test_xml_attr_reads_unqualified_attributes_only),
    };

    return QSSO_TEST_RUN("xml", tests);
}

/*
 * qsso_codec.c: strict base64, raw deflate with a capped inflate, URL,
 * HTML and log escaping, random IDs, SHA-256.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_test.h"
#include "qsso_codec.h"

/* ---- base64 */

static void test_codec_base64_decodes_rfc4648_vectors(void **state)
{
    static const char *const vec[][2] = {
        {"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"},
        {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
    };
    apr_size_t i, len;

    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        char *out = qsso_codec_base64_decode(*state, vec[i][0], &len);
        qsso_assert_str(out, vec[i][1]);
        assert_int_equal(len, strlen(vec[i][1]));
    }
}

static void test_codec_base64_decode_skips_line_breaks(void **state)
{
    apr_size_t len;

    qsso_assert_str(qsso_codec_base64_decode(*state, " Zm9v\r\nYmFy\n\t",
                                             &len), "foobar");
    assert_int_equal(len, 6);
}

static void test_codec_base64_decode_keeps_nul_bytes(void **state)
{
    apr_size_t len;
    char *out = qsso_codec_base64_decode(*state, "AGEA", &len);

    assert_non_null(out);
    assert_int_equal(len, 3);
    assert_memory_equal(out, "\0a\0", 3);
}

static void test_codec_base64_decode_refuses_bad_padding(void **state)
{
    static const char *const bad[] = {
        "Zg=",          /* one '=' where two are needed */
        "Zg===",        /* three */
        "Zm9v=",        /* padding after a full quantum */
        "=",  "==",
        "Zg==Zg==",     /* data after padding */
        "Zm8=Zm8",
        "Zh==",         /* trailing bits not zero: not canonical */
        "Zm9=",
    };
    apr_size_t i, len;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_codec_base64_decode(*state, bad[i], &len) != NULL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_codec_base64_decode_refuses_broken_length(void **state)
{
    apr_size_t len;

    assert_null(qsso_codec_base64_decode(*state, "Z", &len));
    assert_null(qsso_codec_base64_decode(*state, "Zm9vY", &len));
}

static void test_codec_base64_decode_refuses_junk(void **state)
{
    static const char *const bad[] = {
        "Zm9v!", "Zm9v YmF\001y", "Zm-_", "Zm9v%3D", "<xml>", "Zm9v\xc3\xa9",
    };
    apr_size_t i, len;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_codec_base64_decode(*state, bad[i], &len) != NULL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_codec_base64_round_trips_every_length(void **state)
{
    unsigned char in[70];
    apr_size_t n, i, len;

    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (n = 0; n <= sizeof(in); n++) {
        char *enc = qsso_codec_base64_encode(*state, in, n);
        char *dec = qsso_codec_base64_decode(*state, enc, &len);
        assert_int_equal(strlen(enc), (n + 2) / 3 * 4);
        assert_non_null(dec);
        assert_int_equal(len, n);
        assert_memory_equal(dec, in, n);
    }
}

static void test_codec_base64url_encodes_without_padding(void **state)
{
    static const unsigned char in[] = {0xfb, 0xff};

    qsso_assert_str(qsso_codec_base64_encode(*state, in, 2), "+/8=");
    qsso_assert_str(qsso_codec_base64url_encode(*state, in, 2), "-_8");
    qsso_assert_str(qsso_codec_base64url_encode(*state, "f", 1), "Zg");
    assert_int_equal(strlen(qsso_codec_base64url_encode(*state,
                     "0123456789abcdef0123456789abcdef", 32)), 43);
}

/* ---- deflate / inflate */

static void test_codec_inflate_returns_what_deflate_took(void **state)
{
    const char *xml = "<samlp:AuthnRequest ID=\"_1\">"
                      "<saml:Issuer>https://sp.example.org</saml:Issuer>"
                      "</samlp:AuthnRequest>";
    apr_size_t zlen, outlen;
    char *z = qsso_codec_deflate(*state, xml, strlen(xml), &zlen);
    char *out;

    assert_non_null(z);
    out = qsso_codec_inflate(*state, z, zlen, 4096, &outlen);
    qsso_assert_str(out, xml);
    assert_int_equal(outlen, strlen(xml));
}

static void test_codec_inflate_accepts_output_of_exactly_max(void **state)
{
    const char *s = "exactly forty bytes of text, no more....";
    apr_size_t zlen, outlen;
    char *z = qsso_codec_deflate(*state, s, 40, &zlen);

    assert_int_equal(strlen(s), 40);
    qsso_assert_str(qsso_codec_inflate(*state, z, zlen, 40, &outlen), s);
}

static void test_codec_inflate_refuses_output_over_max(void **state)
{
    const char *s = "exactly forty bytes of text, no more....";
    apr_size_t zlen, outlen;
    char *z = qsso_codec_deflate(*state, s, 40, &zlen);

    assert_null(qsso_codec_inflate(*state, z, zlen, 39, &outlen));
}

static void test_codec_inflate_stops_a_deflate_bomb_at_max(void **state)
{
    apr_size_t n = 8 * 1024 * 1024, zlen, outlen;
    char *zeros = apr_pcalloc(*state, n);
    char *z = qsso_codec_deflate(*state, zeros, n, &zlen);

    assert_non_null(z);
    assert_true(zlen < 16 * 1024);      /* a small input ... */
    assert_null(qsso_codec_inflate(*state, z, zlen, 64 * 1024, &outlen));
}

static void test_codec_inflate_refuses_truncated_and_corrupt_input(void **state)
{
    const char *s = "<a>some text that deflates to more than a few bytes</a>";
    apr_size_t zlen, outlen;
    char *z = qsso_codec_deflate(*state, s, strlen(s), &zlen);
    char *bad = apr_pmemdup(*state, z, zlen);

    assert_null(qsso_codec_inflate(*state, z, zlen / 2, 4096, &outlen));
    assert_null(qsso_codec_inflate(*state, z, 0, 4096, &outlen));
    bad[0] = (char)0xff;            /* reserved block type */
    assert_null(qsso_codec_inflate(*state, bad, zlen, 4096, &outlen));
    assert_null(qsso_codec_inflate(*state, "not deflate at all", 18, 4096,
                                   &outlen));
}

/* ---- URL */

static void test_codec_url_encode_keeps_only_unreserved(void **state)
{
    qsso_assert_str(qsso_codec_url_encode(*state, "aZ09-_.~"), "aZ09-_.~");
    qsso_assert_str(qsso_codec_url_encode(*state, "a b/c?d=e&f+g%"),
                    "a%20b%2Fc%3Fd%3De%26f%2Bg%25");
    qsso_assert_str(qsso_codec_url_encode(*state, "\xc3\xa9\n"),
                    "%C3%A9%0A");
}

static void test_codec_url_decode_reads_escapes(void **state)
{
    qsso_assert_str(qsso_codec_url_decode(*state, "a%20b%2fc%2F", 0),
                    "a b/c/");
    qsso_assert_str(qsso_codec_url_decode(*state, "%C3%a9", 0),
                    "\xc3\xa9");
    qsso_assert_str(qsso_codec_url_decode(*state, "", 0), "");
}

static void test_codec_url_decode_reads_plus_as_space_in_forms(void **state)
{
    qsso_assert_str(qsso_codec_url_decode(*state, "a+b%2B", 1), "a b+");
    qsso_assert_str(qsso_codec_url_decode(*state, "a+b%2B", 0), "a+b+");
}

static void test_codec_url_decode_refuses_bad_escapes(void **state)
{
    static const char *const bad[] = {
        "%", "a%", "%4", "a%4", "%zz", "%4g", "%g4", "%%41", "% 41", "%-1",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (qsso_codec_url_decode(*state, bad[i], 1) != NULL)
            fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_codec_url_decode_refuses_an_encoded_nul(void **state)
{
    assert_null(qsso_codec_url_decode(*state, "/admin%00.html", 0));
    assert_null(qsso_codec_url_decode(*state, "%00", 1));
}

static void test_codec_url_decode_undoes_url_encode(void **state)
{
    const char *s = "https://sp.example.org/a b?c=d&e=\xe2\x82\xac~+";

    qsso_assert_str(qsso_codec_url_decode(*state,
                        qsso_codec_url_encode(*state, s), 1), s);
}

/* ---- HTML and log escaping */

static void test_codec_html_escape_escapes_markup_and_quotes(void **state)
{
    qsso_assert_str(qsso_codec_html_escape(*state, "<a href=\"x\">&'</a>"),
                    "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    qsso_assert_str(qsso_codec_html_escape(*state, "plain"), "plain");
    qsso_assert_str(qsso_codec_html_escape(*state, "&amp;"), "&amp;amp;");
}

static void test_codec_log_escape_keeps_a_value_on_one_line(void **state)
{
    qsso_assert_str(qsso_codec_log_escape(*state,
                        "ana\r\nQSSO2104: forged \"line\"\\", 100),
                    "ana\\x0d\\x0aQSSO2104: forged \\x22line\\x22\\x5c");
    qsso_assert_str(qsso_codec_log_escape(*state, "\x1b[31m\x7f\xc3\xa9",
                                          100),
                    "\\x1b[31m\\x7f\\xc3\\xa9");
}

static void test_codec_log_escape_caps_length(void **state)
{
    qsso_assert_str(qsso_codec_log_escape(*state, "abcdef", 6), "abcdef");
    qsso_assert_str(qsso_codec_log_escape(*state, "abcdefg", 6),
                    "abcdef...");
    qsso_assert_str(qsso_codec_log_escape(*state, "\n\n\n", 2),
                    "\\x0a\\x0a...");
}

static void test_codec_log_escape_shows_null_as_dash(void **state)
{
    qsso_assert_str(qsso_codec_log_escape(*state, NULL, 10), "-");
}

/* ---- random IDs and digests */

static void test_codec_random_hex_is_fresh_lowercase_hex(void **state)
{
    char *a = qsso_codec_random_hex(*state, 16);
    char *b = qsso_codec_random_hex(*state, 16);

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

static void test_codec_sha256_hex_matches_fips_vectors(void **state)
{
    qsso_assert_str(qsso_codec_sha256_hex(*state, "abc", 3),
                    "ba7816bf8f01cfea414140de5dae2223"
                    "b00361a396177a9cb410ff61f20015ad");
    qsso_assert_str(qsso_codec_sha256_hex(*state, "", 0),
                    "e3b0c44298fc1c149afbf4c8996fb924"
                    "27ae41e4649b934ca495991b7852b855");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        QSSO_TEST(test_codec_base64_decodes_rfc4648_vectors),
        QSSO_TEST(test_codec_base64_decode_skips_line_breaks),
        QSSO_TEST(test_codec_base64_decode_keeps_nul_bytes),
        QSSO_TEST(test_codec_base64_decode_refuses_bad_padding),
        QSSO_TEST(test_codec_base64_decode_refuses_broken_length),
        QSSO_TEST(test_codec_base64_decode_refuses_junk),
        QSSO_TEST(test_codec_base64_round_trips_every_length),
        QSSO_TEST(test_codec_base64url_encodes_without_padding),
        QSSO_TEST(test_codec_inflate_returns_what_deflate_took),
        QSSO_TEST(test_codec_inflate_accepts_output_of_exactly_max),
        QSSO_TEST(test_codec_inflate_refuses_output_over_max),
        QSSO_TEST(test_codec_inflate_stops_a_deflate_bomb_at_max),
        QSSO_TEST(test_codec_inflate_refuses_truncated_and_corrupt_input),
        QSSO_TEST(test_codec_url_encode_keeps_only_unreserved),
        QSSO_TEST(test_codec_url_decode_reads_escapes),
        QSSO_TEST(test_codec_url_decode_reads_plus_as_space_in_forms),
        QSSO_TEST(test_codec_url_decode_refuses_bad_escapes),
        QSSO_TEST(test_codec_url_decode_refuses_an_encoded_nul),
        QSSO_TEST(test_codec_url_decode_undoes_url_encode),
        QSSO_TEST(test_codec_html_escape_escapes_markup_and_quotes),
        QSSO_TEST(test_codec_log_escape_keeps_a_value_on_one_line),
        QSSO_TEST(test_codec_log_escape_caps_length),
        QSSO_TEST(test_codec_log_escape_shows_null_as_dash),
        QSSO_TEST(test_codec_random_hex_is_fresh_lowercase_hex),
        QSSO_TEST(test_codec_sha256_hex_matches_fips_vectors),
    };

    return QSSO_TEST_RUN("codec", tests);
}

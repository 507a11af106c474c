/*
 * The byte codecs of qsso_codec.c on one input each time: strict base64
 * decode (the SAMLResponse and the certificates in metadata), raw INFLATE
 * with an output cap (HTTP-Redirect messages), URL decode with and without
 * '+' (query strings, form posts, session records), and the escapes that
 * put network values into HTML pages and log lines.
 *
 * Invariants: what decodes re-encodes and decodes to the same bytes;
 * inflate never returns more than its cap; the URL decoder never yields an
 * encoded NUL; an HTML-escaped value has no markup characters left; a
 * log-escaped value is printable ASCII without quotes, within its cap.
 */
#include <string.h>
#include <apr_strings.h>

#include "qsso_codec.h"
#include "fuzz_common.h"

static void qsso_fuzz_base64(apr_pool_t *p, const char *s)
{
    apr_size_t len = 0, len2 = 0;
    char *dec = qsso_codec_base64_decode(p, s, &len), *enc, *dec2;

    if (dec == NULL)
        return;
    QSSO_FUZZ_CHECK(dec[len] == '\0', "base64: result not NUL-terminated");
    QSSO_FUZZ_CHECK(len <= strlen(s) / 4 * 3 + 2, "base64: %zu bytes out of "
                    "%zu characters", (size_t)len, strlen(s));
    enc = qsso_codec_base64_encode(p, dec, len);
    dec2 = qsso_codec_base64_decode(p, enc, &len2);
    QSSO_FUZZ_CHECK(dec2 && len2 == len && !memcmp(dec, dec2, len),
                    "base64: decode(encode(x)) != x for %zu bytes",
                    (size_t)len);
    enc = qsso_codec_base64url_encode(p, dec, len);
    QSSO_FUZZ_CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                                "rstuvwxyz0123456789-_") == strlen(enc),
                    "base64url: character outside the URL-safe alphabet");
}

static void qsso_fuzz_inflate(apr_pool_t *p, const uint8_t *data,
                              size_t size)
{
    /* The first byte picks the cap, so small caps are tried often. */
    apr_size_t cap = size ? (apr_size_t)data[0] * 64 + 1 : 1, len = 0, n2;
    char *out, *def, *back;

    if (size == 0)
        return;
    out = qsso_codec_inflate(p, (const char *)data + 1, size - 1, cap, &len);
    if (out == NULL)
        return;
    QSSO_FUZZ_CHECK(len <= cap && out[len] == '\0',
                    "inflate: %zu bytes out with a cap of %zu", (size_t)len,
                    (size_t)cap);
    def = qsso_codec_deflate(p, out, len, &n2);
    QSSO_FUZZ_CHECK(def != NULL, "deflate failed on %zu bytes", (size_t)len);
    back = qsso_codec_inflate(p, def, n2, len, &n2);
    QSSO_FUZZ_CHECK(back && n2 == len && !memcmp(back, out, len),
                    "inflate(deflate(x)) != x for %zu bytes", (size_t)len);
}

static void qsso_fuzz_url(apr_pool_t *p, const char *s, int form)
{
    char *dec = qsso_codec_url_decode(p, s, form), *enc, *back;

    if (dec == NULL)
        return;
    QSSO_FUZZ_CHECK(strlen(dec) <= strlen(s), "url_decode grew the input");
    QSSO_FUZZ_CHECK(form || strchr(s, '%') || !strcmp(dec, s),
                    "url_decode changed a string without escapes");
    enc = qsso_codec_url_encode(p, dec);
    back = qsso_codec_url_decode(p, enc, form);
    QSSO_FUZZ_CHECK(back && !strcmp(back, dec),
                    "url_decode(url_encode(x)) != x");
}

static void qsso_fuzz_escapes(apr_pool_t *p, const char *s, size_t max)
{
    const char *h = qsso_codec_html_escape(p, s), *l, *c;

    QSSO_FUZZ_CHECK(strpbrk(h, "<>\"'") == NULL,
                    "html_escape left a markup character");
    for (c = strchr(h, '&'); c; c = strchr(c + 1, '&'))
        QSSO_FUZZ_CHECK(!strncmp(c, "&amp;", 5) || !strncmp(c, "&lt;", 4)
                            || !strncmp(c, "&gt;", 4)
                            || !strncmp(c, "&quot;", 6)
                            || !strncmp(c, "&#39;", 5),
                        "html_escape left a bare '&'");
    l = qsso_codec_log_escape(p, s, max);
    QSSO_FUZZ_CHECK(strlen(l) <= max * 4 + 3,
                    "log_escape: %zu characters for a cap of %zu",
                    strlen(l), max);
    for (c = l; *c; c++)
        QSSO_FUZZ_CHECK(*c >= 0x20 && *c < 0x7f && *c != '"',
                        "log_escape left byte 0x%02x", (unsigned char)*c);
    for (c = strchr(l, '\\'); c; c = strchr(c + 2, '\\'))
        QSSO_FUZZ_CHECK(c[1] == 'x', "log_escape left a bare backslash");
    QSSO_FUZZ_CHECK(strlen(qsso_codec_sha256_hex(p, s, strlen(s))) == 64,
                    "sha256_hex is not 64 characters");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    const char *s = qsso_fuzz_string(p, data, size);

    qsso_fuzz_base64(p, s);
    qsso_fuzz_inflate(p, data, size);
    qsso_fuzz_url(p, s, 0);
    qsso_fuzz_url(p, s, 1);
    qsso_fuzz_escapes(p, s, size ? data[0] % 64 : 0);
    apr_pool_destroy(p);
    return 0;
}

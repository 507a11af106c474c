/* Byte codecs: strict base64, raw deflate, URL and HTML escaping, random IDs. */
#ifndef QSSO_CODEC_H
#define QSSO_CODEC_H

#include <apr_pools.h>

/* Strict base64 (whitespace skipped, padding checked). Returns the decoded
 * bytes NUL-terminated in p and their length in *len, or NULL when the input
 * is not base64. */
char *qsso_codec_base64_decode(apr_pool_t *p, const char *in, apr_size_t *len);
char *qsso_codec_base64_encode(apr_pool_t *p, const void *in, apr_size_t len);
/* URL-safe base64 without padding, for cookies. */
char *qsso_codec_base64url_encode(apr_pool_t *p, const void *in, apr_size_t len);

/* Raw DEFLATE (RFC 1951) as the HTTP-Redirect binding wants; NULL on failure. */
char *qsso_codec_deflate(apr_pool_t *p, const char *in, apr_size_t len,
                         apr_size_t *outlen);
/* Raw INFLATE, output capped at max bytes; NULL on failure or overflow. */
char *qsso_codec_inflate(apr_pool_t *p, const char *in, apr_size_t len,
                         apr_size_t max, apr_size_t *outlen);

/* Percent-encodes everything but RFC 3986 unreserved characters. */
char *qsso_codec_url_encode(apr_pool_t *p, const char *in);
/* Decodes %XX (and '+' as space when form is set). NULL on a bad escape
 * or an encoded NUL. */
char *qsso_codec_url_decode(apr_pool_t *p, const char *in, int form);
/* Escapes & < > " ' for HTML text and attribute values. */
char *qsso_codec_html_escape(apr_pool_t *p, const char *in);
/* Copies at most max bytes, escaping control and non-ASCII bytes as \xHH
 * and quotes, so network values are safe in one log line. */
char *qsso_codec_log_escape(apr_pool_t *p, const char *in, apr_size_t max);

/* nbytes of randomness as lowercase hex; NULL when the RNG fails. */
char *qsso_codec_random_hex(apr_pool_t *p, apr_size_t nbytes);
/* Lowercase hex SHA-256 of the input. */
char *qsso_codec_sha256_hex(apr_pool_t *p, const void *in, apr_size_t len);
/* Drops this process's reference to the SHA-256 implementation (at child
 * exit, before OpenSSL's own cleanup): OpenSSL shares one object between
 * every fetch, so a reference kept to the end leaves it, and what it
 * holds, unfreed. Later calls to qsso_codec_sha256_hex still work. */
void qsso_codec_release(void);

#endif

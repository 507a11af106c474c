/*
 * Byte codecs used by the SAML bindings and the session cookie. Pure
 * functions over pools: no request, no configuration, no logging.
 */
#include <pthread.h>
#include <string.h>
#include <zlib.h>
#include <openssl/evp.h>
#include <apr_strings.h>
#include <apr_general.h>

#include "qsso_codec.h"

static const char qsso_codec_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char qsso_codec_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int qsso_codec_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

char *qsso_codec_base64_decode(apr_pool_t *p, const char *in, apr_size_t *len)
{
    apr_size_t n = strlen(in), o = 0;
    unsigned char *out = apr_palloc(p, n / 4 * 3 + 4);
    unsigned int acc = 0;
    int bits = 0, pad = 0;

    for (; *in; in++) {
        int v;
        if (*in == ' ' || *in == '\t' || *in == '\r' || *in == '\n')
            continue;
        if (*in == '=') {
            pad++;
            continue;
        }
        if (pad)            /* data after padding */
            return NULL;
        if ((v = qsso_codec_b64_value(*in)) < 0)
            return NULL;
        acc = (acc << 6) | (unsigned int)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 2 or 4 leftover bits must be zero; 6 leftover bits is a broken length */
    if (bits == 6 || acc != 0 || pad > 2)
        return NULL;
    if (pad && (bits / 2) != pad)
        return NULL;
    out[o] = '\0';
    *len = o;
    return (char *)out;
}

static char *qsso_codec_b64_encode_with(apr_pool_t *p, const void *in,
                                        apr_size_t len, const char *alphabet,
                                        int padding)
{
    const unsigned char *s = in;
    char *out = apr_palloc(p, (len + 2) / 3 * 4 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *o++ = alphabet[s[i] >> 2];
        *o++ = alphabet[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
        *o++ = alphabet[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
        *o++ = alphabet[s[i + 2] & 63];
    }
    if (i < len) {
        *o++ = alphabet[s[i] >> 2];
        if (i + 1 < len) {
            *o++ = alphabet[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
            *o++ = alphabet[(s[i + 1] & 15) << 2];
        }
        else {
            *o++ = alphabet[(s[i] & 3) << 4];
            if (padding)
                *o++ = '=';
        }
        if (padding)
            *o++ = '=';
    }
    *o = '\0';
    return out;
}

char *qsso_codec_base64_encode(apr_pool_t *p, const void *in, apr_size_t len)
{
    return qsso_codec_b64_encode_with(p, in, len, qsso_codec_b64, 1);
}

char *qsso_codec_base64url_encode(apr_pool_t *p, const void *in, apr_size_t len)
{
    return qsso_codec_b64_encode_with(p, in, len, qsso_codec_b64url, 0);
}

char *qsso_codec_deflate(apr_pool_t *p, const char *in, apr_size_t len,
                         apr_size_t *outlen)
{
    z_stream zs;
    uLong cap = compressBound((uLong)len) + 64;
    char *out = apr_palloc(p, cap);

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        return NULL;
    }
    *outlen = zs.total_out;
    deflateEnd(&zs);
    return out;
}

char *qsso_codec_inflate(apr_pool_t *p, const char *in, apr_size_t len,
                         apr_size_t max, apr_size_t *outlen)
{
    z_stream zs;
    char *out = apr_palloc(p, max + 1);
    int rc;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return NULL;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)max;
    rc = inflate(&zs, Z_FINISH);
    *outlen = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END)   /* corrupt, truncated, or larger than max */
        return NULL;
    out[*outlen] = '\0';
    return out;
}

char *qsso_codec_url_encode(apr_pool_t *p, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = apr_palloc(p, strlen(in) * 3 + 1), *o = out;

    for (; *in; in++) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~') {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

static int qsso_codec_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *qsso_codec_url_decode(apr_pool_t *p, const char *in, int form)
{
    char *out = apr_palloc(p, strlen(in) + 1), *o = out;

    for (; *in; in++) {
        if (*in == '%') {
            int hi = qsso_codec_hexval(in[1]);
            int lo = hi < 0 ? -1 : qsso_codec_hexval(in[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            *o++ = (char)(hi * 16 + lo);
            in += 2;
        }
        else {
            *o++ = (form && *in == '+') ? ' ' : *in;
        }
    }
    *o = '\0';
    return out;
}

char *qsso_codec_html_escape(apr_pool_t *p, const char *in)
{
    char *out = apr_palloc(p, strlen(in) * 6 + 1), *o = out;

    for (; *in; in++) {
        const char *rep = NULL;
        switch (*in) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            apr_size_t n = strlen(rep);
            memcpy(o, rep, n);
            o += n;
        }
        else {
            *o++ = *in;
        }
    }
    *o = '\0';
    return out;
}

char *qsso_codec_log_escape(apr_pool_t *p, const char *in, apr_size_t max)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t n = 0;
    char *out, *o;

    if (in == NULL)
        return "-";
    out = o = apr_palloc(p, max * 4 + 4);
    for (; *in && n < max; in++, n++) {
        unsigned char c = (unsigned char)*in;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        else {
            *o++ = (char)c;
        }
    }
    if (*in) {
        memcpy(o, "...", 3);
        o += 3;
    }
    *o = '\0';
    return out;
}

static char *qsso_codec_hex(apr_pool_t *p, const unsigned char *b,
                            apr_size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *out = apr_palloc(p, n * 2 + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

char *qsso_codec_random_hex(apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char *b = apr_palloc(p, nbytes);

    if (apr_generate_random_bytes(b, nbytes) != APR_SUCCESS)
        return NULL;
    return qsso_codec_hex(p, b, nbytes);
}

/* SHA-256 fetched once per process: EVP_sha256() inside EVP_Digest looks
 * the algorithm up again at every call (23% of a protected request). Each
 * thread keeps its digest context (freed when the thread ends), which
 * spares a context's allocation and set-up at every call: a protected
 * request hashes twice (session key, logout token). */
static EVP_MD *qsso_codec_sha256_md = NULL;
static pthread_key_t qsso_codec_sha256_ctx;
static int qsso_codec_sha256_have_key = 0;
static pthread_once_t qsso_codec_sha256_once = PTHREAD_ONCE_INIT;

static void qsso_codec_sha256_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void qsso_codec_sha256_fetch(void)
{
    qsso_codec_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    qsso_codec_sha256_have_key =
        pthread_key_create(&qsso_codec_sha256_ctx,
                           qsso_codec_sha256_ctx_free) == 0;
}

void qsso_codec_release(void)
{
    EVP_MD *md = qsso_codec_sha256_md;

    qsso_codec_sha256_md = NULL;
    EVP_MD_free(md);
}

char *qsso_codec_sha256_hex(apr_pool_t *p, const void *in, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = NULL;

    pthread_once(&qsso_codec_sha256_once, qsso_codec_sha256_fetch);
    if (qsso_codec_sha256_md == NULL || !qsso_codec_sha256_have_key) {
        if (!EVP_Digest(in, len, md, &mdlen, EVP_sha256(), NULL))
            return NULL;
        return qsso_codec_hex(p, md, mdlen);
    }
    ctx = pthread_getspecific(qsso_codec_sha256_ctx);
    if (ctx == NULL) {
        if ((ctx = EVP_MD_CTX_new()) == NULL)
            return NULL;
        if (pthread_setspecific(qsso_codec_sha256_ctx, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            return NULL;
        }
    }
    if (!EVP_DigestInit_ex2(ctx, qsso_codec_sha256_md, NULL)
        || !EVP_DigestUpdate(ctx, in, len)
        || !EVP_DigestFinal_ex(ctx, md, &mdlen))
        return NULL;
    return qsso_codec_hex(p, md, mdlen);
}

/*
 * The invariant every redirect target accepted by
 * qsso_session_is_local_path must keep, shared by fuzz_cookie and
 * fuzz_redirect. Header-only: each target is one program.
 */
#ifndef QSSO_FUZZ_LOCAL_PATH_H
#define QSSO_FUZZ_LOCAL_PATH_H

#include <string.h>

#include "fuzz_common.h"

/* Would a browser, resolving target against https://sp.example.org/qsso/acs
 * (as it does with a Location header), stay on sp.example.org? Follows the
 * WHATWG URL parser, which is laxer than RFC 3986: leading and trailing C0
 * controls and spaces are dropped, tabs and newlines are removed anywhere,
 * '\' counts as '/' for http(s), and a scheme ("https:", "javascript:")
 * makes the reference absolute. After that, "//" or "\\" starts an
 * authority (another host); one '/' is a path on the same host. */
static int qsso_fuzz_keeps_host(const char *target)
{
    char buf[4096];
    size_t n = 0, i;
    const char *s = target, *e = target + strlen(target);

    while (s < e && (unsigned char)*s <= 0x20)
        s++;
    while (e > s && (unsigned char)e[-1] <= 0x20)
        e--;
    for (; s < e && n + 1 < sizeof(buf); s++)
        if (*s != '\t' && *s != '\n' && *s != '\r')
            buf[n++] = *s == '\\' ? '/' : *s;
    buf[n] = '\0';
    if ((buf[0] >= 'A' && buf[0] <= 'Z') || (buf[0] >= 'a' && buf[0] <= 'z')) {
        for (i = 1; i < n; i++) {
            char c = buf[i];
            if (c == ':')
                return 0;                  /* scheme: absolute URL */
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
                  || (c >= '0' && c <= '9') || c == '+' || c == '-'
                  || c == '.'))
                break;
        }
    }
    return !(buf[0] == '/' && buf[1] == '/');
}

/* Aborts unless an accepted target starts with exactly one '/', holds no
 * backslash, control character or space, and keeps the host. */
static void qsso_fuzz_check_local_path(const char *target, const char *from)
{
    const unsigned char *c;

    QSSO_FUZZ_CHECK(target[0] == '/' && target[1] != '/',
                    "is_local_path accepted \"%s\" (from \"%s\"), which does "
                    "not start with exactly one '/'", target, from);
    for (c = (const unsigned char *)target; *c; c++)
        QSSO_FUZZ_CHECK(*c > 0x20 && *c != 0x7f && *c != '\\',
                        "is_local_path accepted byte 0x%02x in \"%s\" (from "
                        "\"%s\")", *c, target, from);
    QSSO_FUZZ_CHECK(qsso_fuzz_keeps_host(target),
                    "is_local_path accepted \"%s\" (from \"%s\"), which a "
                    "browser resolves to another host", target, from);
}

#endif

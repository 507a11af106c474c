/*
 * The return-URL pipeline: a login or logout `return` argument, and the
 * RelayState of an IdP-initiated response, are form-decoded
 * (qsso_codec_url_decode with '+' as space, as qsso_login.c does) and then
 * accepted only if qsso_session_is_local_path says they are a same-origin
 * path. The request-bound glue around them (qsso_login_return_arg) is
 * static in qsso_login.c; these are the pure pieces it is made of.
 *
 * Invariant (fuzz_local_path.h): whatever is accepted starts with exactly
 * one '/', has no '\', control character or space, and a browser resolving
 * it against the SP's URL stays on the SP's host. The raw value and a
 * plain (non-form) decoding are checked too. Nothing decodes a target
 * twice on its way to the Location header, so "/%252F%252Fevil" is a path.
 */
#include <string.h>

#include "qsso_codec.h"
#include "qsso_cookie.h"
#include "fuzz_common.h"
#include "fuzz_local_path.h"

static void qsso_fuzz_target(const char *target, const char *from)
{
    if (target && qsso_session_is_local_path(target))
        qsso_fuzz_check_local_path(target, from);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    const char *s = qsso_fuzz_string(p, data, size);
    const char *form = qsso_codec_url_decode(p, s, 1);
    const char *plain = qsso_codec_url_decode(p, s, 0);

    qsso_fuzz_target(s, s);
    qsso_fuzz_target(form, s);
    qsso_fuzz_target(plain, s);
    apr_pool_destroy(p);
    return 0;
}

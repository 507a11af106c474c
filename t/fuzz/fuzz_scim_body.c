/*
 * A SCIM request body, read as qsso_scim.c reads it (json_loadb with
 * duplicate keys refused, an object required), then the request-free
 * steps the /Users and /Groups handlers take on it: the Operations of a
 * PatchOp (qsso_scim_patch_ops) with each operation's path parsed, every
 * member name parsed as an attribute path (as PUT and POST do), and the
 * value coercions qsso_scim_string and qsso_scim_bool on every member
 * value and operation value. The store-bound rest of the handlers is
 * covered by t/integration/test_scim*.py.
 *
 * Invariants: a refusal is a 400 with a scimType and a detail; accepted
 * operations have a known op and a value unless they remove; a coerced
 * string is within its cap and holds no control character.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <apr_lib.h>

#include "qsso.h"
#include "qsso_scim_filter.h"
#include "qsso_scim_resource.h"
#include "fuzz_common.h"

#define QSSO_FUZZ_STRING_MAX 256

static void qsso_fuzz_call(qsso_scim_call_t *c, apr_pool_t *p, json_t *body)
{
    memset(c, 0, sizeof(*c));
    c->p = p;
    c->base = "https://sp.example.org/scim/v2";
    c->method = "PATCH";
    c->body = body;
}

/* The refusal, and the error document the client would get: its detail
 * quotes bytes from the body, which need not be UTF-8. */
static void qsso_fuzz_check_refusal(const qsso_scim_call_t *c, int rc,
                                    const char *what)
{
    json_t *doc;
    char *text;

    QSSO_FUZZ_CHECK(rc == 400 && c->status == 400 && c->scim_type
                        && c->detail,
                    "%s refused with %d (status %d) without scimType or "
                    "detail", what, rc, c->status);
    doc = qsso_scim_error_json(c);
    text = doc ? json_dumps(doc, 0) : NULL;
    QSSO_FUZZ_CHECK(text && json_object_get(doc, "detail"),
                    "%s: no error document with a detail", what);
    free(text);
}

/* qsso_scim_string and qsso_scim_bool on v, as a member value. */
static void qsso_fuzz_coerce(apr_pool_t *p, json_t *body, json_t *v)
{
    qsso_scim_call_t c;
    const char *s = NULL, *ch;
    int b, rc;

    qsso_fuzz_call(&c, p, body);
    rc = qsso_scim_string(&c, v, "value", QSSO_FUZZ_STRING_MAX, 1, &s);
    if (rc) {
        qsso_fuzz_check_refusal(&c, rc, "qsso_scim_string");
    }
    else {
        QSSO_FUZZ_CHECK(s && strlen(s) <= QSSO_FUZZ_STRING_MAX,
                        "qsso_scim_string gave %zu bytes for a cap of %d",
                        s ? strlen(s) : 0, QSSO_FUZZ_STRING_MAX);
        for (ch = s; *ch; ch++)
            QSSO_FUZZ_CHECK(!apr_iscntrl(*ch), "qsso_scim_string let "
                            "control byte 0x%02x through",
                            (unsigned char)*ch);
    }
    if (qsso_scim_bool(v, &b) == 0)
        QSSO_FUZZ_CHECK(b == 0 || b == 1, "qsso_scim_bool gave %d", b);
}

static void qsso_fuzz_members(apr_pool_t *p, json_t *body)
{
    const char *key;
    json_t *v;

    json_object_foreach(body, key, v) {
        qsso_scim_path_t path;
        (void)qsso_scim_filter_parse_path(p, key, &path);
        qsso_fuzz_coerce(p, body, v);
    }
}

static void qsso_fuzz_patch(apr_pool_t *p, json_t *body)
{
    qsso_scim_call_t c;
    apr_array_header_t *ops = NULL;
    int rc, i;

    qsso_fuzz_call(&c, p, body);
    if ((rc = qsso_scim_patch_ops(&c, &ops)) != 0) {
        qsso_fuzz_check_refusal(&c, rc, "qsso_scim_patch_ops");
        return;
    }
    QSSO_FUZZ_CHECK(ops && ops->nelts > 0, "a PatchOp without operations "
                    "was accepted");
    for (i = 0; i < ops->nelts; i++) {
        const qsso_scim_patch_t *op = &APR_ARRAY_IDX(ops, i,
                                                     qsso_scim_patch_t);
        qsso_scim_path_t path;
        QSSO_FUZZ_CHECK(op->op == QSSO_SCIM_OP_ADD
                            || op->op == QSSO_SCIM_OP_REPLACE
                            || op->op == QSSO_SCIM_OP_REMOVE,
                        "operation %d has op %d", i, (int)op->op);
        QSSO_FUZZ_CHECK(op->value || op->op == QSSO_SCIM_OP_REMOVE,
                        "operation %d (op %d) has no value", i,
                        (int)op->op);
        QSSO_FUZZ_CHECK(op->path || op->op != QSSO_SCIM_OP_REMOVE,
                        "remove operation %d has no path", i);
        if (op->path)
            (void)qsso_scim_filter_parse_path(p, op->path, &path);
        if (op->value && json_is_object(op->value))
            qsso_fuzz_members(p, op->value);
        else if (op->value)
            qsso_fuzz_coerce(p, body, op->value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    json_error_t jerr;
    json_t *body = json_loadb((const char *)data, size,
                              JSON_REJECT_DUPLICATES, &jerr);

    if (body && json_is_object(body)) {
        qsso_fuzz_members(p, body);
        qsso_fuzz_patch(p, body);
    }
    json_decref(body);
    apr_pool_destroy(p);
    return 0;
}

/*
 * Refuses a request: one log line with the code as its tag, the code and a
 * reference in subprocess_env for ErrorDocument, and a short page for the
 * user. The only part of the error handling that needs httpd; the code
 * table is in qsso_errors.c.
 */
#include <string.h>
#include <httpd.h>
#include <http_log.h>
#include <http_core.h>
#include <http_protocol.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_errors.h"

APLOG_USE_MODULE(qsso);

/* Short, unambiguous reference (no 0/O, 1/I) the user can read aloud. */
const char *qsso_refuse_make_ref(apr_pool_t *p)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    unsigned char b[8];
    char *ref = apr_palloc(p, sizeof(b) + 1);
    apr_size_t i;

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS)
        memset(b, 0, sizeof(b));
    for (i = 0; i < sizeof(b); i++)
        ref[i] = alphabet[b[i] % 32];
    ref[sizeof(b)] = '\0';
    return ref;
}

static int qsso_refuse_has_error_document(request_rec *r, int status)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    int idx = ap_index_of_response(status);

    return cd->response_code_exprs
           && apr_hash_get(cd->response_code_exprs, &idx, sizeof(idx));
}

void qsso_refuse_page(request_rec *r, int code, const char *ref,
                      const char *html)
{
    const qsso_err_entry_t *e = qsso_err_lookup(code);

    qsso_refuse_page_status(r, e ? e->status : HTTP_INTERNAL_SERVER_ERROR,
                            code, ref, html);
}

void qsso_refuse_page_status(request_rec *r, int status, int code,
                             const char *ref, const char *html)
{
    const qsso_err_entry_t *e = qsso_err_lookup(code);
    const char *title = e ? e->title : "Sign-in failed";

    apr_table_setn(r->subprocess_env, "QSSO_ERROR_CODE",
                   apr_psprintf(r->pool, "QSSO%04d", code));
    apr_table_setn(r->subprocess_env, "QSSO_ERROR_REF", ref);
    /* An ErrorDocument configured by the sysadmin wins over our page. */
    if (qsso_refuse_has_error_document(r, status))
        return;
    ap_custom_response(r, status, apr_psprintf(r->pool,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>%s</title></head><body>\n<h1>%s</h1>\n%s%s%s"
        "<p>If this keeps happening, tell your administrator the code "
        "and reference below.</p>\n<p><code>QSSO%04d</code>, reference "
        "<code>%s</code></p>\n</body></html>\n",
        title, title, html ? "<p>" : "", html ? html : "",
        html ? "</p>\n" : "", code, ref));
}

int qsso_refuse(request_rec *r, const qsso_err_t *err, const char *idp)
{
    const qsso_err_entry_t *e = qsso_err_lookup(err->code);
    const char *ref = qsso_refuse_make_ref(r->pool);
    const char *code = apr_psprintf(r->pool, "QSSO%04d", err->code);
    int status = e ? e->status : HTTP_INTERNAL_SERVER_ERROR;
    int level = e ? e->level : APLOG_ERR;

    ap_log_rerror(APLOG_MARK, level, 0, r,
                  "%s: %s refused: %s; idp=%s user=%s uri=%s ref=%s; "
                  "fix: %s", code, err->code / 1000 == 3 ? "request" : "login",
                  err->detail ? err->detail : "-",
                  qsso_codec_log_escape(r->pool, idp, 200),
                  qsso_codec_log_escape(r->pool, err->subject, 200),
                  qsso_codec_log_escape(r->pool, r->uri, 200), ref,
                  err->fix ? err->fix : (e ? e->fix : "-"));
    apr_table_setn(r->notes, "qsso-error-code", code);
    qsso_refuse_page(r, err->code, ref, NULL);
    return status;
}

int qsso_refuse_quiet(request_rec *r, const qsso_err_t *err)
{
    const char *code = apr_psprintf(r->pool, "QSSO%04d", err->code);

    apr_table_setn(r->notes, "qsso-error-code", code);
    qsso_refuse_page(r, err->code, qsso_refuse_make_ref(r->pool), NULL);
    return qsso_err_status(err->code);
}

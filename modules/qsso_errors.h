/* Refusal codes, the one log line per refusal, and the user's error page. */
#ifndef QSSO_ERRORS_H
#define QSSO_ERRORS_H

#include "qsso.h"

/* One row of the code table. */
typedef struct {
    int code;
    int status;
    int level;           /* APLOG_* of the refusal's log line */
    const char *title;   /* shown to the user */
    const char *fix;     /* logged for the sysadmin */
} qsso_err_entry_t;

/* The table row of code, or NULL for an unknown code. */
const qsso_err_entry_t *qsso_err_lookup(int code);

/* Fills err with code (its status and fix come from the code table) and a
 * printf-style detail allocated from p. Returns the code, so logic can
 * write `return qsso_err_set(...)`. */
int qsso_err_set(apr_pool_t *p, qsso_err_t *err, int code, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* HTTP status of a code; 500 for an unknown code. */
int qsso_err_status(int code);

/* Logs err once (level from the code table), sets QSSO_ERROR_CODE and
 * QSSO_ERROR_REF in subprocess_env, installs the error page unless an
 * ErrorDocument is configured, and returns the status to return.
 * In qsso_refuse.c, the one part that needs httpd. */
int qsso_refuse(request_rec *r, const qsso_err_t *err, const char *idp);

/* Like qsso_refuse without the log line, for a refusal of a kind that is
 * logged once per window (2010) and was logged already. */
int qsso_refuse_quiet(request_rec *r, const qsso_err_t *err);

/* The user's page for code with reference ref (and an extra paragraph of
 * HTML, or NULL) unless an ErrorDocument is configured; sets
 * QSSO_ERROR_CODE and QSSO_ERROR_REF. Logs nothing. */
void qsso_refuse_page(request_rec *r, int code, const char *ref,
                      const char *html);
/* The same page, installed for another status than the code's. */
void qsso_refuse_page_status(request_rec *r, int status, int code,
                             const char *ref, const char *html);
/* A new 8-character reference in p, also written in the log line. */
const char *qsso_refuse_make_ref(apr_pool_t *p);

#endif

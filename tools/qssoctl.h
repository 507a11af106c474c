/*
 * qssoctl, the administrator's command-line tool of mod_qsso. It links the
 * module's request-free files (user directory, store, metadata, keys,
 * response verification) and adds only presentation: argument parsing,
 * aligned tables and CSV. Every decision (what deactivating means, what a
 * valid response is) stays in modules/, so the tool and the module cannot
 * disagree.
 *
 * One file per command group: qssoctl.c (main, global options, dispatch),
 * qssoctl_out.c (tables, CSV, times), qssoctl_users.c (users, sessions,
 * review), qssoctl_events.c, qssoctl_check.c (check-config,
 * check-metadata), qssoctl_decode.c.
 */
#ifndef QSSOCTL_H
#define QSSOCTL_H

#include <stdio.h>
#include <apr_pools.h>
#include <apr_tables.h>

#include "qsso_store.h"

/* Exit statuses, documented in docs/qssoctl.md and in --help. */
#define QSSO_CTL_EXIT_OK 0
#define QSSO_CTL_EXIT_FAIL 1        /* the operation failed or was refused */
#define QSSO_CTL_EXIT_USAGE 2       /* bad command line */
#define QSSO_CTL_EXIT_STORE 3       /* the store cannot be reached */
#define QSSO_CTL_EXIT_NOTFOUND 4    /* no such user */

/* The actor recorded in audit events written by this tool. */
#define QSSO_CTL_ACTOR "qssoctl"

typedef struct {
    apr_pool_t *p;                  /* lives until exit */
    const char *store_url;
    qsso_store_t *store;            /* opened by qsso_ctl_store_open */
} qsso_ctl_t;

/* A command: argv[0] is the command's own name ("users", "events"...). */
typedef int (*qsso_ctl_cmd_fn)(qsso_ctl_t *ctl, int argc, const char **argv);

/* qssoctl.c */
/* Prints "qssoctl: " + the message and the usage to stderr; returns
 * QSSO_CTL_EXIT_USAGE so callers can `return qsso_ctl_usage(...)`. */
int qsso_ctl_usage(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Prints "qssoctl: " + the message to stderr; returns code. */
int qsso_ctl_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Opens the store and PINGs it: QSSO_CTL_EXIT_OK, or the exit status
 * (2 for a malformed URL, 3 when Redis does not answer) after saying why. */
int qsso_ctl_store_open(qsso_ctl_t *ctl);
/* Is arg the option name (exactly, or "name=value")? Sets *value to the
 * inline value or the next argument (advancing *i); NULL when missing. */
int qsso_ctl_opt(const char *name, int argc, const char **argv, int *i,
                 const char **value);

/* qssoctl_out.c: tables (aligned columns) and CSV (RFC 4180). */
typedef struct qsso_ctl_table_t qsso_ctl_table_t;
/* A table with the given column headers (NULL-terminated). */
qsso_ctl_table_t *qsso_ctl_table_create(apr_pool_t *p, int csv, ...);
/* One row: exactly as many values as columns (NULL prints as ""). */
void qsso_ctl_table_add(qsso_ctl_table_t *t, ...);
/* Writes the table: columns padded to their widest cell, or CSV with
 * CRLF line ends. */
void qsso_ctl_table_print(qsso_ctl_table_t *t, FILE *out);
/* Control characters (and DEL) replaced by '?', so a value from an IdP
 * or a SCIM client cannot move the cursor or recolour a terminal. */
const char *qsso_ctl_out_clean(apr_pool_t *p, const char *s);
/* Unix seconds as 2026-01-31T12:00:00Z; "never" for 0. */
const char *qsso_ctl_out_time(apr_pool_t *p, apr_int64_t sec);
/* A decimal number from 0 to max, or -1 when s is anything else. */
long qsso_ctl_out_number(const char *s, long max);

/* Commands. */
int qsso_ctl_users(qsso_ctl_t *ctl, int argc, const char **argv);
int qsso_ctl_sessions(qsso_ctl_t *ctl, int argc, const char **argv);
int qsso_ctl_review(qsso_ctl_t *ctl, int argc, const char **argv);
int qsso_ctl_events(qsso_ctl_t *ctl, int argc, const char **argv);
int qsso_ctl_check_config(qsso_ctl_t *ctl, int argc, const char **argv);
int qsso_ctl_check_metadata(qsso_ctl_t *ctl, int argc, const char **argv);
int qsso_ctl_decode(qsso_ctl_t *ctl, int argc, const char **argv);

#endif

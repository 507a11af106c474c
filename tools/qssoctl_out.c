/*
 * Output of qssoctl: tables with aligned columns for people, CSV (RFC
 * 4180) for spreadsheets and scripts, and the one time format.
 *
 * Values come from IdPs and SCIM clients, so they are cleaned of control
 * characters in tables, and in CSV a cell that a spreadsheet would run as
 * a formula (= + - @ at the start) gets a leading apostrophe: an access
 * review opened in a spreadsheet must not execute what a user put in their
 * own name.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "qssoctl.h"

struct qsso_ctl_table_t {
    apr_pool_t *p;
    int csv;
    int ncols;
    apr_array_header_t *rows;       /* of const char ** (ncols cells) */
};

qsso_ctl_table_t *qsso_ctl_table_create(apr_pool_t *p, int csv, ...)
{
    qsso_ctl_table_t *t = apr_pcalloc(p, sizeof(*t));
    apr_array_header_t *head = apr_array_make(p, 8, sizeof(const char *));
    const char *h;
    va_list ap;

    va_start(ap, csv);
    while ((h = va_arg(ap, const char *)) != NULL)
        APR_ARRAY_PUSH(head, const char *) = h;
    va_end(ap);
    t->p = p;
    t->csv = csv;
    t->ncols = head->nelts;
    t->rows = apr_array_make(p, 32, sizeof(const char **));
    APR_ARRAY_PUSH(t->rows, const char **) = (const char **)head->elts;
    return t;
}

void qsso_ctl_table_add(qsso_ctl_table_t *t, ...)
{
    const char **row = apr_pcalloc(t->p, sizeof(char *)
                                             * (apr_size_t)t->ncols);
    va_list ap;
    int i;

    va_start(ap, t);
    for (i = 0; i < t->ncols; i++) {
        const char *v = va_arg(ap, const char *);
        row[i] = v ? v : "";
    }
    va_end(ap);
    APR_ARRAY_PUSH(t->rows, const char **) = row;
}

const char *qsso_ctl_out_clean(apr_pool_t *p, const char *s)
{
    char *out, *o;

    if (s == NULL)
        return "";
    out = apr_pstrdup(p, s);
    for (o = out; *o; o++)
        if ((unsigned char)*o < 0x20 || (unsigned char)*o == 0x7f)
            *o = '?';
    return out;
}

/* Characters on screen: UTF-8 continuation bytes take no column. */
static apr_size_t qsso_ctl_out_width(const char *s)
{
    apr_size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

/* One CSV field: quoted when it holds a comma, quote, CR or LF (RFC 4180
 * 2.6), inner quotes doubled (2.7). */
static void qsso_ctl_out_csv_field(FILE *out, const char *v)
{
    int quote = strpbrk(v, ",\"\r\n") != NULL;
    int formula = *v == '=' || *v == '+' || *v == '-' || *v == '@';

    if (quote)
        fputc('"', out);
    if (formula)
        fputc('\'', out);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', out);
        fputc(*v, out);
    }
    if (quote)
        fputc('"', out);
}

static void qsso_ctl_table_print_csv(qsso_ctl_table_t *t, FILE *out)
{
    int r, c;

    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (c = 0; c < t->ncols; c++) {
            if (c)
                fputc(',', out);
            qsso_ctl_out_csv_field(out, row[c]);
        }
        fputs("\r\n", out);
    }
}

void qsso_ctl_table_print(qsso_ctl_table_t *t, FILE *out)
{
    apr_size_t *width;
    int r, c;

    if (t->csv) {
        qsso_ctl_table_print_csv(t, out);
        return;
    }
    width = apr_pcalloc(t->p, sizeof(apr_size_t) * (apr_size_t)t->ncols);
    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (c = 0; c < t->ncols; c++) {
            apr_size_t w;
            row[c] = qsso_ctl_out_clean(t->p, row[c]);
            if ((w = qsso_ctl_out_width(row[c])) > width[c])
                width[c] = w;
        }
    }
    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (c = 0; c < t->ncols; c++) {
            fputs(row[c], out);
            if (c + 1 == t->ncols)
                break;
            /* two spaces between columns; none after the last */
            fprintf(out, "%*s", (int)(width[c] - qsso_ctl_out_width(row[c])
                                      + 2), "");
        }
        fputc('\n', out);
    }
}

const char *qsso_ctl_out_time(apr_pool_t *p, apr_int64_t sec)
{
    apr_time_exp_t x;

    if (sec <= 0)
        return "never";
    apr_time_exp_gmt(&x, apr_time_from_sec(sec));
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                        x.tm_year + 1900, x.tm_mon + 1, x.tm_mday, x.tm_hour,
                        x.tm_min, x.tm_sec);
}

long qsso_ctl_out_number(const char *s, long max)
{
    char *end;
    long v;

    if (s == NULL || !apr_isdigit(*s))
        return -1;
    v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > max)
        return -1;
    return v;
}

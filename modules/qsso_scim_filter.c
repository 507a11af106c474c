/*
 * SCIM filters and PATCH paths. Only what provisioning clients send is
 * accepted: conditions "attrPath eq value" joined by "and", with the
 * bracket form emails[value eq "x"]. Anything else is an error, never a
 * looser match: a filter the parser does not understand must not turn a
 * lookup of one user into a listing of all of them. String values are
 * decoded by jansson, so escapes follow JSON exactly. Needs no request.
 */
#include <string.h>
#include <jansson.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_scim_filter.h"
#include "qsso_scim_schema.h"

#define QSSO_SCIM_FILTER_NAME_MAX 64

typedef struct {
    apr_pool_t *p;
    const char *s;                 /* the next unread byte */
    const char *err;
} qsso_scim_filter_in_t;

static void *qsso_scim_filter_fail(qsso_scim_filter_in_t *in,
                                   const char *what)
{
    if (in->err == NULL)
        in->err = what;
    return NULL;
}

/* ATTRNAME = ALPHA *(nameChar); "$ref" is the one name with a '$'. */
static const char *qsso_scim_filter_name(qsso_scim_filter_in_t *in)
{
    const char *s = in->s;
    apr_size_t n = 0;

    if (!strncmp(s, "$ref", 4))
        n = 4;
    else if (apr_isalpha(*s))
        for (n = 1; apr_isalnum(s[n]) || s[n] == '_' || s[n] == '-'; n++)
            ;
    if (n == 0 || n > QSSO_SCIM_FILTER_NAME_MAX)
        return qsso_scim_filter_fail(in, "expected an attribute name");
    in->s += n;
    return apr_pstrmemdup(in->p, s, n);
}

static int qsso_scim_filter_spaces(qsso_scim_filter_in_t *in)
{
    const char *s = in->s;

    while (*in->s == ' ')
        in->s++;
    return in->s > s;
}

static char *qsso_scim_filter_lower(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *o;

    for (o = out; *o; o++)
        *o = (char)apr_tolower(*o);
    return out;
}

/* A JSON string literal, decoded by jansson (which refuses \u0000). */
static int qsso_scim_filter_string(qsso_scim_filter_in_t *in,
                                   qsso_scim_cond_t *c)
{
    const char *s = in->s + 1;
    json_t *j;

    while (*s && *s != '"')
        s += (*s == '\\' && s[1]) ? 2 : 1;
    if (*s != '"') {
        qsso_scim_filter_fail(in, "a quoted value is not closed");
        return -1;
    }
    j = json_loadb(in->s, (size_t)(s + 1 - in->s), JSON_DECODE_ANY, NULL);
    if (!json_is_string(j)) {
        json_decref(j);
        qsso_scim_filter_fail(in, "a quoted value is not a valid JSON "
                              "string");
        return -1;
    }
    c->type = QSSO_SCIM_VALUE_STRING;
    c->str = apr_pstrdup(in->p, json_string_value(j));
    json_decref(j);
    in->s = s + 1;
    return 0;
}

static int qsso_scim_filter_value(qsso_scim_filter_in_t *in,
                                  qsso_scim_cond_t *c)
{
    static const struct {
        const char *word;
        qsso_scim_value_e type;
        int boolean;
    } words[] = {{"true", QSSO_SCIM_VALUE_BOOL, 1},
                 {"false", QSSO_SCIM_VALUE_BOOL, 0},
                 {"null", QSSO_SCIM_VALUE_NULL, 0}};
    apr_size_t i, n;

    if (*in->s == '"')
        return qsso_scim_filter_string(in, c);
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        n = strlen(words[i].word);
        if (!strncasecmp(in->s, words[i].word, n)
            && !apr_isalnum(in->s[n]) && in->s[n] != '_') {
            c->type = words[i].type;
            c->boolean = words[i].boolean;
            in->s += n;
            return 0;
        }
    }
    qsso_scim_filter_fail(in, "a value must be a quoted string, true, "
                          "false or null");
    return -1;
}

static int qsso_scim_filter_operator(qsso_scim_filter_in_t *in)
{
    static const char *const known[] = {"ne", "co", "sw", "ew", "pr", "gt",
                                        "ge", "lt", "le"};
    const char *s = in->s;
    apr_size_t n, i;

    for (n = 0; apr_isalpha(s[n]); n++)
        ;
    if (n == 2 && !strncasecmp(s, "eq", 2)) {
        in->s += 2;
        return 0;
    }
    for (i = 0; n == 2 && i < sizeof(known) / sizeof(known[0]); i++)
        if (!strncasecmp(s, known[i], 2)) {
            qsso_scim_filter_fail(in, apr_psprintf(in->p, "operator \"%s\" "
                                  "is not supported (only eq)", known[i]));
            return -1;
        }
    qsso_scim_filter_fail(in, "expected the operator eq");
    return -1;
}

/* attr[.sub] eq value, or (outside brackets) attr[sub eq value] */
static int qsso_scim_filter_cond(qsso_scim_filter_in_t *in, int in_brackets,
                                 qsso_scim_cond_t *c)
{
    const char *name = qsso_scim_filter_name(in), *sub = NULL;
    int bracket = 0;

    if (name == NULL)
        return -1;
    if (*in->s == '.' || (*in->s == '[' && !in_brackets)) {
        bracket = *in->s++ == '[';
        if ((sub = qsso_scim_filter_name(in)) == NULL)
            return -1;
    }
    c->attr = qsso_scim_filter_lower(in->p, sub ? apr_pstrcat(
        in->p, name, ".", sub, NULL) : name);
    if (!qsso_scim_filter_spaces(in)) {
        qsso_scim_filter_fail(in, "expected a space after the attribute");
        return -1;
    }
    if (qsso_scim_filter_operator(in))
        return -1;
    if (!qsso_scim_filter_spaces(in)) {
        qsso_scim_filter_fail(in, "expected a space after the operator");
        return -1;
    }
    if (qsso_scim_filter_value(in, c))
        return -1;
    if (bracket && *in->s++ != ']') {
        qsso_scim_filter_fail(in, "a bracket holds one condition and must "
                              "be closed");
        return -1;
    }
    return 0;
}

/* cond *(SP "and" SP cond), to the end of the text or (in brackets) to
 * the closing bracket. */
static apr_array_header_t *qsso_scim_filter_conds(qsso_scim_filter_in_t *in,
                                                  int in_brackets)
{
    apr_array_header_t *conds = apr_array_make(in->p, 2,
                                               sizeof(qsso_scim_cond_t));

    for (;;) {
        qsso_scim_cond_t *c = apr_array_push(conds);

        memset(c, 0, sizeof(*c));
        if (conds->nelts > QSSO_SCIM_FILTER_CONDS)
            return qsso_scim_filter_fail(in, "too many conditions");
        if (qsso_scim_filter_cond(in, in_brackets, c))
            return NULL;
        if (*in->s == '\0' || (in_brackets && *in->s == ']'))
            return conds;
        if (!qsso_scim_filter_spaces(in) || strncasecmp(in->s, "and", 3)
            || in->s[3] != ' ')
            return qsso_scim_filter_fail(in, "conditions may only be joined "
                                         "with \"and\"");
        in->s += 3;
        qsso_scim_filter_spaces(in);
    }
}

const char *qsso_scim_filter_parse(apr_pool_t *p, const char *text,
                                   apr_array_header_t **conds)
{
    qsso_scim_filter_in_t in;
    char *t;
    apr_size_t n;

    if (text == NULL || strlen(text) > QSSO_SCIM_FILTER_MAX)
        return apr_psprintf(p, "a filter is at most %d bytes",
                            QSSO_SCIM_FILTER_MAX);
    t = apr_pstrdup(p, text);
    for (n = strlen(t); n > 0 && t[n - 1] == ' '; n--)
        t[n - 1] = '\0';
    memset(&in, 0, sizeof(in));
    in.p = p;
    in.s = t;
    qsso_scim_filter_spaces(&in);
    if (*in.s == '\0')
        return "the filter is empty";
    *conds = qsso_scim_filter_conds(&in, 0);
    if (*conds == NULL)
        return apr_psprintf(p, "%s at offset %d", in.err,
                            (int)(in.s - t));
    return NULL;
}

/* A known schema URN at the start of the path: 1 when it is the whole
 * path, 0 otherwise (an attribute follows in in->s, or there was no URN),
 * -1 for an unknown URN. The longest match wins, since the enterprise
 * URN ends in ":User" like the core one. */
static int qsso_scim_filter_urn(qsso_scim_filter_in_t *in, const char **urn)
{
    const char *s = in->s, *u;
    apr_size_t n, best = 0;

    *urn = NULL;
    if (strncasecmp(s, "urn:", 4))
        return 0;
    for (n = 1; s[n - 1] && s[n - 1] != '['; n++)
        if ((s[n] == ':' || s[n] == '\0')
            && (u = qsso_scim_schema_urn(s, n)) != NULL) {
            *urn = u;
            best = n;
        }
    if (*urn == NULL) {
        qsso_scim_filter_fail(in, "the path names an unknown schema");
        return -1;
    }
    in->s = s + best + (s[best] == ':');
    return s[best] == '\0';
}

const char *qsso_scim_filter_parse_path(apr_pool_t *p, const char *text,
                                        qsso_scim_path_t *out)
{
    qsso_scim_filter_in_t in;
    const char *name;

    memset(out, 0, sizeof(*out));
    memset(&in, 0, sizeof(in));
    in.p = p;
    in.s = text;
    if (text == NULL || *text == '\0' || strlen(text) > QSSO_SCIM_FILTER_MAX)
        return "a path must be 1 to 2048 bytes";
    switch (qsso_scim_filter_urn(&in, &out->urn)) {
    case -1:
        return in.err;
    case 1:
        out->attr = "";
        return NULL;
    default:
        break;
    }
    if ((name = qsso_scim_filter_name(&in)) == NULL)
        return apr_psprintf(p, "%s at offset %d", in.err,
                            (int)(in.s - text));
    out->attr = qsso_scim_filter_lower(p, name);
    if (*in.s == '[') {
        in.s++;
        if ((out->filter = qsso_scim_filter_conds(&in, 1)) == NULL)
            return apr_psprintf(p, "%s at offset %d", in.err,
                                (int)(in.s - text));
        if (*in.s != ']')
            return "a bracket is not closed";
        in.s++;
    }
    if (*in.s == '.') {
        in.s++;
        if ((name = qsso_scim_filter_name(&in)) == NULL)
            return apr_psprintf(p, "%s at offset %d", in.err,
                                (int)(in.s - text));
        out->sub = qsso_scim_filter_lower(p, name);
    }
    if (*in.s != '\0')
        return apr_psprintf(p, "unexpected character at offset %d",
                            (int)(in.s - text));
    return NULL;
}

int qsso_scim_filter_match_str(const qsso_scim_cond_t *c, const char *v,
                               int case_exact)
{
    if (c->type == QSSO_SCIM_VALUE_NULL)
        return v == NULL || *v == '\0';
    if (c->type != QSSO_SCIM_VALUE_STRING || v == NULL)
        return 0;
    return case_exact ? !strcmp(c->str, v) : !strcasecmp(c->str, v);
}

int qsso_scim_filter_match_bool(const qsso_scim_cond_t *c, int v)
{
    return c->type == QSSO_SCIM_VALUE_BOOL && !c->boolean == !v;
}

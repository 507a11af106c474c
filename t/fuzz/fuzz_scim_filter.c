/*
 * The SCIM filter and PATCH path grammar of qsso_scim_filter.c: the
 * `filter` query parameter of GET /Users and /Groups (after URL decoding)
 * and the "path" of a PATCH operation. A bearer-token client sends them,
 * but a filter the parser misreads turns a lookup of one user into a
 * listing of all, so it gets the same treatment as the SAML parsers.
 *
 * Invariants: an accepted filter has 1 to QSSO_SCIM_FILTER_CONDS
 * conditions on lower-case attribute names, and each string condition
 * matches its own value and never a missing one; nothing longer than
 * QSSO_SCIM_FILTER_MAX is accepted; an accepted path has a lower-case
 * attribute and, with brackets, a non-empty filter.
 */
#include <string.h>
#include <apr_lib.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_scim_filter.h"
#include "fuzz_common.h"

static int qsso_fuzz_is_lower(const char *s)
{
    for (; s && *s; s++)
        if (apr_isupper(*s))
            return 0;
    return s != NULL;
}

static void qsso_fuzz_check_conds(const apr_array_header_t *conds,
                                  const char *text)
{
    int i;

    QSSO_FUZZ_CHECK(conds && conds->nelts >= 1
                        && conds->nelts <= QSSO_SCIM_FILTER_CONDS,
                    "filter \"%s\" gave %d conditions", text,
                    conds ? conds->nelts : -1);
    for (i = 0; i < conds->nelts; i++) {
        const qsso_scim_cond_t *c = &APR_ARRAY_IDX(conds, i,
                                                   qsso_scim_cond_t);
        QSSO_FUZZ_CHECK(qsso_fuzz_is_lower(c->attr) && *c->attr,
                        "filter \"%s\": attribute is empty or not "
                        "lower-case", text);
        switch (c->type) {
        case QSSO_SCIM_VALUE_STRING:
            QSSO_FUZZ_CHECK(c->str != NULL
                                && qsso_scim_filter_match_str(c, c->str, 1)
                                && qsso_scim_filter_match_str(c, c->str, 0)
                                && !qsso_scim_filter_match_str(c, NULL, 0)
                                && !qsso_scim_filter_match_bool(c, 1),
                            "filter \"%s\": condition %d does not match its "
                            "own value, or matches a missing one", text, i);
            break;
        case QSSO_SCIM_VALUE_BOOL:
            QSSO_FUZZ_CHECK(qsso_scim_filter_match_bool(c, c->boolean)
                                && !qsso_scim_filter_match_bool(
                                    c, !c->boolean)
                                && !qsso_scim_filter_match_str(c, "x", 0),
                            "filter \"%s\": boolean condition %d", text, i);
            break;
        case QSSO_SCIM_VALUE_NULL:
            QSSO_FUZZ_CHECK(qsso_scim_filter_match_str(c, NULL, 0)
                                && !qsso_scim_filter_match_str(c, "x", 0),
                            "filter \"%s\": null condition %d", text, i);
            break;
        default:
            qsso_fuzz_fail("filter \"%s\": condition type %d", text,
                           (int)c->type);
        }
    }
}

static void qsso_fuzz_filter(apr_pool_t *p, const char *text)
{
    apr_array_header_t *conds = NULL;

    if (qsso_scim_filter_parse(p, text, &conds) != NULL)
        return;
    QSSO_FUZZ_CHECK(strlen(text) <= QSSO_SCIM_FILTER_MAX,
                    "a filter of %zu bytes was accepted", strlen(text));
    qsso_fuzz_check_conds(conds, text);
}

static void qsso_fuzz_path(apr_pool_t *p, const char *text)
{
    qsso_scim_path_t path;

    memset(&path, 0, sizeof(path));
    if (qsso_scim_filter_parse_path(p, text, &path) != NULL)
        return;
    QSSO_FUZZ_CHECK(strlen(text) <= QSSO_SCIM_FILTER_MAX,
                    "a path of %zu bytes was accepted", strlen(text));
    QSSO_FUZZ_CHECK(qsso_fuzz_is_lower(path.attr)
                        && (path.sub == NULL || qsso_fuzz_is_lower(path.sub))
                        && (*path.attr || path.urn),
                    "path \"%s\": attribute missing or not lower-case",
                    text);
    if (path.filter)
        qsso_fuzz_check_conds(path.filter, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    const char *s = qsso_fuzz_string(p, data, size);
    const char *dec = qsso_codec_url_decode(p, s, 1);

    qsso_fuzz_filter(p, s);
    if (dec)
        qsso_fuzz_filter(p, dec);
    qsso_fuzz_path(p, s);
    apr_pool_destroy(p);
    return 0;
}

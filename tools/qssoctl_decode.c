/*
 * qssoctl decode: a captured SAMLResponse, for troubleshooting a login.
 *
 * Without metadata it decodes the message and shows the fields a sysadmin
 * compares with the SP's settings (Issuer, Destination, InResponseTo,
 * times, Audience, NameID, attribute names), plus the XML. Nothing shown
 * that way is verified, and it says so.
 *
 * With --metadata it runs qsso_response_verify, the ACS's own function,
 * with the given SP entity ID, ACS URL and clock, and shows each check in
 * the order the module makes them: passed, failed with the module's code
 * and message, or not reached. The checks that need the site's store
 * (pending request, replay) are named as not run.
 *
 * Signature values and certificates are never printed in full.
 */
#include <string.h>
#include <libxml/tree.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_errors.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qsso_response.h"
#include "qsso_xml.h"
#include "qssoctl.h"

#define QSSO_CTL_DECODE_MAX (4 * 1024 * 1024)
#define QSSO_CTL_DECODE_MAX_SKEW 600
#define QSSO_CTL_DECODE_SHOWN 16        /* characters of a signature shown */

typedef struct {
    const char *file;
    const char *metadata;
    const char *sp_entity_id;
    const char *acs_url;
    const char *sp_key;                 /* decrypts an EncryptedAssertion */
    const char *now;                    /* ISO 8601, or NULL */
    int at_issue_instant;
    int skew;                           /* seconds; -1 = module default */
    int xml;                            /* print the XML as well */
} qsso_ctl_decode_args_t;

/* The message as the ACS would receive it, and as XML when it decodes. */
typedef struct {
    const char *b64;                    /* base64 text, as POSTed */
    const char *how;                    /* how the file was read */
    const char *xml;                    /* NULL when not base64 */
    apr_size_t xml_len;
    xmlDocPtr doc;                      /* NULL when not parsed */
    const char *problem;                /* why doc is NULL */
} qsso_ctl_decode_msg_t;

/* The checks of qsso_response_verify, in its order, with the codes each
 * one refuses with. */
typedef struct {
    const char *what;
    int codes[4];
} qsso_ctl_decode_step_t;

static const qsso_ctl_decode_step_t qsso_ctl_decode_steps[] = {
    {"SAMLResponse is base64", {2103}},
    {"well-formed XML, no DOCTYPE, root samlp:Response", {2105, 2106, 2107}},
    {"Status is Success", {2114}},
    {"every ID attribute is unique", {2108}},
    {"exactly one Assertion, not encrypted", {2109}},
    {"signature: present, covers its parent, SHA-2, verifies with a "
     "metadata certificate", {2110, 2111, 2112, 2113}},
    {"Assertion has an ID and an Issuer; Issuer is the IdP's entity ID",
     {2126, 2115}},
    {"Destination is the ACS URL", {2116}},
    {"Subject has a NameID", {2126}},
    {"Conditions NotBefore / NotOnOrAfter, within the clock skew",
     {2119, 2120}},
    {"Audience is the SP entity ID", {2104}},
    {"bearer SubjectConfirmation: Recipient, NotOnOrAfter, InResponseTo",
     {2121, 2122, 2123}},
};
#define QSSO_CTL_DECODE_NSTEPS \
    (int)(sizeof(qsso_ctl_decode_steps) / sizeof(qsso_ctl_decode_steps[0]))
#define QSSO_CTL_DECODE_STEP_SUBJECT 8

static const char *qsso_ctl_decode_read(apr_pool_t *p, const char *file,
                                        char **data)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t len = 0;
    apr_status_t rv;
    char buf[256];

    rv = apr_file_open(&f, file, APR_FOPEN_READ | APR_FOPEN_BINARY,
                       APR_OS_DEFAULT, p);
    if (rv == APR_SUCCESS
        && (rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f)) == APR_SUCCESS
        && fi.size > QSSO_CTL_DECODE_MAX) {
        apr_file_close(f);
        return apr_psprintf(p, "'%s' is larger than 4 MiB", file);
    }
    if (rv != APR_SUCCESS)
        return apr_psprintf(p, "cannot read '%s': %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    *data = apr_palloc(p, (apr_size_t)fi.size + 1);
    rv = apr_file_read_full(f, *data, (apr_size_t)fi.size, &len);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF)
        return apr_psprintf(p, "cannot read '%s': %s", file,
                            apr_strerror(rv, buf, sizeof(buf)));
    (*data)[len] = '\0';
    return NULL;
}

/* Raw XML, a form body (SAMLResponse=...&RelayState=...), a URL-encoded
 * value, or base64 as POSTed: the three ways a response gets captured
 * (browser tools, proxy logs, a saved file). */
static void qsso_ctl_decode_input(apr_pool_t *p, char *data,
                                  qsso_ctl_decode_msg_t *m)
{
    char *s = data, *param, *end;

    if (!strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    while (apr_isspace(*s))
        s++;
    if (*s == '<') {
        m->how = "raw XML";
        m->xml = s;
        m->xml_len = strlen(s);
        m->b64 = qsso_codec_base64_encode(p, s, m->xml_len);
        return;
    }
    m->how = "base64";
    if ((param = strstr(s, "SAMLResponse=")) != NULL) {
        s = param + strlen("SAMLResponse=");
        if ((end = strpbrk(s, "&\r\n")) != NULL)
            *end = '\0';
        m->how = "form body, base64";
    }
    else if (strchr(s, '%')) {
        m->how = "URL-encoded base64";
    }
    /* A form-encoded base64 value has its '+' as %2B, never literal. */
    if (param || strchr(s, '%')) {
        const char *d = qsso_codec_url_decode(p, s, 1);
        s = d ? apr_pstrdup(p, d) : s;
    }
    m->b64 = qsso_xml_trim(p, s);
    m->xml = qsso_codec_base64_decode(p, m->b64, &m->xml_len);
}

static void qsso_ctl_decode_parse(apr_pool_t *p, qsso_ctl_decode_msg_t *m)
{
    if (m->xml == NULL || m->xml_len == 0) {
        m->problem = "the input is not XML, base64 or a form body holding "
                     "SAMLResponse";
        return;
    }
    switch (qsso_xml_parse(p, m->xml, m->xml_len, &m->doc)) {
    case QSSO_XML_OK:
        break;
    case QSSO_XML_DOCTYPE:
        m->doc = NULL;
        m->problem = "the XML has a DOCTYPE (refused: no IdP sends one)";
        return;
    default:
        m->doc = NULL;
        m->problem = "the decoded message is not well-formed XML";
        return;
    }
}

static const char *qsso_ctl_decode_text(apr_pool_t *p, xmlNodePtr n)
{
    return n ? qsso_ctl_out_clean(p, qsso_xml_trim(p, qsso_xml_text(p, n)))
             : NULL;
}

static void qsso_ctl_decode_field(apr_pool_t *p, const char *name,
                                  const char *v)
{
    printf("  %-21s %s\n", name, v ? qsso_ctl_out_clean(p, v) : "(none)");
}

/* The part of an algorithm URI after '#', e.g. "rsa-sha256". */
static const char *qsso_ctl_decode_alg(apr_pool_t *p, xmlNodePtr n)
{
    const char *a = n ? qsso_xml_attr(p, n, "Algorithm") : NULL;
    const char *h = a ? strrchr(a, '#') : NULL;

    return h ? h + 1 : a ? a : "?";
}

/* Long base64 text cut to its first characters and its length. */
static const char *qsso_ctl_decode_short(apr_pool_t *p, const char *v)
{
    char *flat = apr_palloc(p, strlen(v) + 1), *o = flat;

    for (; *v; v++)
        if (!apr_isspace(*v))
            *o++ = *v;
    *o = '\0';
    if (strlen(flat) <= QSSO_CTL_DECODE_SHOWN)
        return flat;
    return apr_psprintf(p, "%.*s... (%" APR_SIZE_T_FMT " characters)",
                        QSSO_CTL_DECODE_SHOWN, flat, strlen(flat));
}

static void qsso_ctl_decode_signature(apr_pool_t *p, xmlNodePtr parent)
{
    xmlNodePtr sig = qsso_xml_child(parent, QSSO_NS_DS, "Signature");
    xmlNodePtr si = qsso_xml_child(sig, QSSO_NS_DS, "SignedInfo");
    xmlNodePtr ref = qsso_xml_child(si, QSSO_NS_DS, "Reference");
    xmlNodePtr val = qsso_xml_child(sig, QSSO_NS_DS, "SignatureValue");

    if (sig == NULL) {
        qsso_ctl_decode_field(p, "Signature:", NULL);
        return;
    }
    qsso_ctl_decode_field(p, "Signature:", apr_psprintf(
        p, "%s, digest %s, Reference %s",
        qsso_ctl_decode_alg(p, qsso_xml_child(si, QSSO_NS_DS,
                                              "SignatureMethod")),
        qsso_ctl_decode_alg(p, qsso_xml_child(ref, QSSO_NS_DS,
                                              "DigestMethod")),
        ref && qsso_xml_attr(p, ref, "URI") ? qsso_xml_attr(p, ref, "URI")
                                            : "(none)"));
    qsso_ctl_decode_field(p, "SignatureValue:",
                          val ? qsso_ctl_decode_short(p, qsso_xml_text(p, val))
                              : NULL);
}

static void qsso_ctl_decode_subject(apr_pool_t *p, xmlNodePtr a)
{
    xmlNodePtr subj = qsso_xml_child(a, QSSO_NS_SAML, "Subject"), sc;
    xmlNodePtr nid = qsso_xml_child(subj, QSSO_NS_SAML, "NameID");
    const char *fmt = nid ? qsso_xml_attr(p, nid, "Format") : NULL;

    qsso_ctl_decode_field(p, "NameID:", nid ? apr_psprintf(
        p, "%s%s%s%s", qsso_ctl_decode_text(p, nid), fmt ? " (" : "",
        fmt ? fmt : "", fmt ? ")" : "") : NULL);
    for (sc = subj ? subj->children : NULL; sc; sc = sc->next) {
        xmlNodePtr d = qsso_xml_child(sc, QSSO_NS_SAML,
                                      "SubjectConfirmationData");
        const char *m;
        if (!qsso_xml_is(sc, QSSO_NS_SAML, "SubjectConfirmation"))
            continue;
        m = qsso_xml_attr(p, sc, "Method");
        qsso_ctl_decode_field(p, "SubjectConfirmation:", m);
        qsso_ctl_decode_field(p, "  Recipient:",
                              d ? qsso_xml_attr(p, d, "Recipient") : NULL);
        qsso_ctl_decode_field(p, "  NotOnOrAfter:",
                              d ? qsso_xml_attr(p, d, "NotOnOrAfter") : NULL);
        qsso_ctl_decode_field(p, "  InResponseTo:",
                              d ? qsso_xml_attr(p, d, "InResponseTo") : NULL);
    }
}

static void qsso_ctl_decode_conditions(apr_pool_t *p, xmlNodePtr a)
{
    xmlNodePtr c = qsso_xml_child(a, QSSO_NS_SAML, "Conditions"), ar, au;
    xmlNodePtr st;
    int n = 0;

    qsso_ctl_decode_field(p, "NotBefore:",
                          c ? qsso_xml_attr(p, c, "NotBefore") : NULL);
    qsso_ctl_decode_field(p, "NotOnOrAfter:",
                          c ? qsso_xml_attr(p, c, "NotOnOrAfter") : NULL);
    for (ar = c ? c->children : NULL; ar; ar = ar->next)
        for (au = qsso_xml_is(ar, QSSO_NS_SAML, "AudienceRestriction")
                      ? ar->children : NULL; au; au = au->next)
            if (qsso_xml_is(au, QSSO_NS_SAML, "Audience") && ++n)
                qsso_ctl_decode_field(p, "Audience:",
                                      qsso_ctl_decode_text(p, au));
    if (n == 0)
        qsso_ctl_decode_field(p, "Audience:", NULL);
    for (st = a->children; st; st = st->next)
        if (qsso_xml_is(st, QSSO_NS_SAML, "AuthnStatement")) {
            qsso_ctl_decode_field(p, "AuthnInstant:",
                                  qsso_xml_attr(p, st, "AuthnInstant"));
            qsso_ctl_decode_field(p, "SessionNotOnOrAfter:",
                                  qsso_xml_attr(p, st,
                                                "SessionNotOnOrAfter"));
        }
}

/* Attribute names and how many values each has: the names are what a
 * mismatch with the QSSO*Attribute directives is about (the values are
 * in the XML). */
static void qsso_ctl_decode_attrs(apr_pool_t *p, xmlNodePtr a)
{
    xmlNodePtr st, at, v;
    int n = 0;

    for (st = a->children; st; st = st->next) {
        if (!qsso_xml_is(st, QSSO_NS_SAML, "AttributeStatement"))
            continue;
        for (at = st->children; at; at = at->next) {
            int values = 0;
            if (!qsso_xml_is(at, QSSO_NS_SAML, "Attribute"))
                continue;
            for (v = at->children; v; v = v->next)
                values += qsso_xml_is(v, QSSO_NS_SAML, "AttributeValue");
            qsso_ctl_decode_field(p, n++ ? "" : "Attributes:", apr_psprintf(
                p, "%s (%d value%s)", qsso_xml_attr(p, at, "Name"), values,
                values == 1 ? "" : "s"));
        }
    }
    if (n == 0)
        qsso_ctl_decode_field(p, "Attributes:", NULL);
}

static void qsso_ctl_decode_fields(apr_pool_t *p, xmlDocPtr doc)
{
    xmlNodePtr r = xmlDocGetRootElement(doc);
    xmlNodePtr st = qsso_xml_child(r, QSSO_NS_SAMLP, "Status");
    xmlNodePtr code = qsso_xml_child(st, QSSO_NS_SAMLP, "StatusCode");
    xmlNodePtr a = qsso_xml_child(r, QSSO_NS_SAML, "Assertion");

    printf("%s\n", qsso_ctl_out_clean(p, (const char *)r->name));
    qsso_ctl_decode_field(p, "ID:", qsso_xml_attr(p, r, "ID"));
    qsso_ctl_decode_field(p, "IssueInstant:",
                          qsso_xml_attr(p, r, "IssueInstant"));
    qsso_ctl_decode_field(p, "Destination:",
                          qsso_xml_attr(p, r, "Destination"));
    qsso_ctl_decode_field(p, "InResponseTo:",
                          qsso_xml_attr(p, r, "InResponseTo"));
    qsso_ctl_decode_field(p, "Issuer:", qsso_ctl_decode_text(
        p, qsso_xml_child(r, QSSO_NS_SAML, "Issuer")));
    qsso_ctl_decode_field(p, "Status:",
                          code ? qsso_xml_attr(p, code, "Value") : NULL);
    qsso_ctl_decode_signature(p, r);
    if (qsso_xml_child(r, QSSO_NS_SAML, "EncryptedAssertion"))
        puts("EncryptedAssertion (not decrypted: mod_qsso accepts "
             "unencrypted assertions only)");
    if (a == NULL)
        return;
    puts("Assertion");
    qsso_ctl_decode_field(p, "ID:", qsso_xml_attr(p, a, "ID"));
    qsso_ctl_decode_field(p, "IssueInstant:",
                          qsso_xml_attr(p, a, "IssueInstant"));
    qsso_ctl_decode_field(p, "Issuer:", qsso_ctl_decode_text(
        p, qsso_xml_child(a, QSSO_NS_SAML, "Issuer")));
    qsso_ctl_decode_signature(p, a);
    qsso_ctl_decode_subject(p, a);
    qsso_ctl_decode_conditions(p, a);
    qsso_ctl_decode_attrs(p, a);
}

/* Shortens signature values and certificates and drops blank text
 * between elements, so the dump indents. */
static void qsso_ctl_decode_tidy(apr_pool_t *p, xmlNodePtr n)
{
    while (n) {
        xmlNodePtr next = n->next;
        if (n->type == XML_TEXT_NODE && xmlIsBlankNode(n)
            && n->parent && n->parent->children != n->parent->last) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        else if (qsso_xml_is(n, QSSO_NS_DS, "SignatureValue")
                 || qsso_xml_is(n, QSSO_NS_DS, "X509Certificate")) {
            xmlNodeSetContent(n, (const xmlChar *)qsso_ctl_decode_short(
                                     p, qsso_xml_text(p, n)));
        }
        else if (n->type == XML_ELEMENT_NODE) {
            qsso_ctl_decode_tidy(p, n->children);
        }
        n = next;
    }
}

static void qsso_ctl_decode_print_xml(apr_pool_t *p, xmlDocPtr doc)
{
    xmlDocPtr copy = xmlCopyDoc(doc, 1);
    xmlChar *buf = NULL;
    int len = 0;

    if (copy == NULL)
        return;
    qsso_ctl_decode_tidy(p, xmlDocGetRootElement(copy));
    xmlDocDumpFormatMemoryEnc(copy, &buf, &len, "UTF-8", 1);
    xmlFreeDoc(copy);
    if (buf) {
        printf("\nXML (signature values and certificates shortened)\n%.*s",
               len, (const char *)buf);
        xmlFree(buf);
    }
}

/* Which step a refusal belongs to: 2126 is raised by two of them. */
static int qsso_ctl_decode_failed_step(const qsso_err_t *err)
{
    int i, j;

    if (err->code == 2126 && err->detail && strstr(err->detail, "NameID"))
        return QSSO_CTL_DECODE_STEP_SUBJECT;
    for (i = 0; i < QSSO_CTL_DECODE_NSTEPS; i++)
        for (j = 0; j < 4 && qsso_ctl_decode_steps[i].codes[j]; j++)
            if (qsso_ctl_decode_steps[i].codes[j] == err->code)
                return i;
    return -1;
}

static void qsso_ctl_decode_checks(apr_pool_t *p, int rc,
                                   const qsso_err_t *err)
{
    int failed = rc == QSSO_OK ? QSSO_CTL_DECODE_NSTEPS
                               : qsso_ctl_decode_failed_step(err);
    const qsso_err_entry_t *e = qsso_err_lookup(err->code);
    int i;

    for (i = 0; i < QSSO_CTL_DECODE_NSTEPS; i++) {
        const char *mark = i < failed ? "pass" : i == failed ? "FAIL" : "-";
        printf("  %-4s  %s%s\n", mark, qsso_ctl_decode_steps[i].what,
               i > failed ? " (not reached)" : "");
        if (i == failed) {
            printf("        QSSO%d: %s\n", err->code,
                   qsso_ctl_out_clean(p, err->detail));
            if (e)
                printf("        fix: %s\n", e->fix);
        }
    }
    if (failed < 0)
        printf("  FAIL  QSSO%d: %s\n", err->code,
               qsso_ctl_out_clean(p, err->detail));
    puts("  n/a   InResponseTo matches a pending login (2117, 2118), "
         "replay (2124),\n        RelayState (2125), attribute policy "
         "(40xx): need the site's store");
}

/* The clock to verify at: --now, the Response's IssueInstant, or now. */
static const char *qsso_ctl_decode_clock(apr_pool_t *p,
                                         const qsso_ctl_decode_args_t *a,
                                         const qsso_ctl_decode_msg_t *m,
                                         apr_time_t *now)
{
    const char *t = a->now;

    *now = apr_time_now();
    if (a->at_issue_instant) {
        t = m->doc ? qsso_xml_attr(p, xmlDocGetRootElement(m->doc),
                                   "IssueInstant") : NULL;
        if (t == NULL)
            return "--at-issue-instant: the Response has no IssueInstant";
    }
    if (t && qsso_response_parse_time(t, now) != 0)
        return apr_psprintf(p, "'%s' is not an xs:dateTime "
                            "(2026-01-31T12:00:00Z)",
                            qsso_ctl_out_clean(p, t));
    return NULL;
}

static int qsso_ctl_decode_verify(apr_pool_t *p,
                                  const qsso_ctl_decode_args_t *a,
                                  const qsso_ctl_decode_msg_t *m)
{
    qsso_response_input_t in;
    qsso_assertion_t out;
    qsso_dir_conf_t defaults;
    qsso_err_t err;
    qsso_idp_t *idp = NULL;
    const char *why;
    int rc;

    memset(&in, 0, sizeof(in));
    memset(&defaults, 0, sizeof(defaults));
    defaults.clock_skew = QSSO_UNSET;   /* the module's default skew */
    if ((why = qsso_ctl_decode_clock(p, a, m, &in.now)) != NULL)
        return qsso_ctl_fail(QSSO_CTL_EXIT_USAGE, "%s", why);
    if ((why = qsso_metadata_load_idp(p, a->metadata, &idp)) != NULL
        || (why = qsso_keys_init_crypto(p)) != NULL
        || (why = qsso_keys_prepare_idp(p, idp)) != NULL)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "metadata refused: %s",
                             why);
    if (a->sp_key
        && ((why = qsso_keys_load_key(p, a->sp_key,
                                      (qsso_key_t **)&in.sp_key)) != NULL
            || (why = qsso_keys_prepare_sp(p, (qsso_key_t *)in.sp_key))
                   != NULL))
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "--sp-key refused: %s",
                             why);
    in.saml_response = m->b64;
    in.idp = idp;
    in.sp_entity_id = a->sp_entity_id;
    in.acs_url = a->acs_url;
    in.clock_skew = a->skew >= 0 ? a->skew : qsso_conf_clock_skew(&defaults);
    rc = qsso_response_verify(p, &in, &out, &err);
    printf("\nChecks (qsso_response_verify at %s, skew %ds, IdP %s)\n",
           qsso_ctl_out_time(p, apr_time_sec(in.now)), in.clock_skew,
           qsso_ctl_out_clean(p, idp->entity_id));
    qsso_ctl_decode_checks(p, rc, &err);
    if (rc != QSSO_OK) {
        const qsso_err_entry_t *e = qsso_err_lookup(err.code);
        printf("\nresult: REFUSED with QSSO%d (%s)\n", err.code,
               e ? e->title : "unknown code");
        return QSSO_CTL_EXIT_FAIL;
    }
    printf("\nresult: ACCEPTED for NameID %s (assertion %s)\n",
           qsso_ctl_out_clean(p, out.name_id),
           qsso_ctl_out_clean(p, out.assertion_id));
    return QSSO_CTL_EXIT_OK;
}

static int qsso_ctl_decode_args(int argc, const char **argv,
                                qsso_ctl_decode_args_t *a)
{
    static const char *const valued[] = {"--metadata", "--sp-entity-id",
                                         "--acs-url", "--now", "--skew",
                                         "--sp-key", NULL};
    const char *v = NULL, *skew = NULL;
    const char **slots[6];
    int i, o;

    memset(a, 0, sizeof(*a));
    slots[0] = &a->metadata;
    slots[1] = &a->sp_entity_id;
    slots[2] = &a->acs_url;
    slots[3] = &a->now;
    slots[4] = &skew;
    slots[5] = &a->sp_key;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--at-issue-instant")) {
            a->at_issue_instant = 1;
            continue;
        }
        if (!strcmp(argv[i], "--xml")) {
            a->xml = 1;
            continue;
        }
        for (o = 0; valued[o]; o++)
            if (qsso_ctl_opt(valued[o], argc, argv, &i, &v))
                break;
        if (valued[o] == NULL) {
            if (argv[i][0] == '-' || a->file)
                return qsso_ctl_usage("decode: unexpected '%s'", argv[i]);
            a->file = argv[i];
            continue;
        }
        if (v == NULL || *v == '\0')
            return qsso_ctl_usage("decode: %s needs a value", valued[o]);
        *slots[o] = v;
    }
    a->skew = skew ? (int)qsso_ctl_out_number(skew, QSSO_CTL_DECODE_MAX_SKEW)
                   : -1;
    if (skew && a->skew < 0)
        return qsso_ctl_usage("decode: --skew needs seconds (0-%d)",
                              QSSO_CTL_DECODE_MAX_SKEW);
    if (a->file == NULL)
        return qsso_ctl_usage("decode needs a RESPONSE file");
    if (a->metadata && (!a->sp_entity_id || !a->acs_url))
        return qsso_ctl_usage("decode --metadata also needs --sp-entity-id "
                              "and --acs-url");
    if (!a->metadata && (a->sp_entity_id || a->acs_url || a->now
                         || a->at_issue_instant || a->skew >= 0
                         || a->sp_key))
        return qsso_ctl_usage("decode: --sp-entity-id, --acs-url, --now, "
                              "--at-issue-instant, --skew and --sp-key need "
                              "--metadata");
    if (a->now && a->at_issue_instant)
        return qsso_ctl_usage("decode: give --now or --at-issue-instant, "
                              "not both");
    return QSSO_CTL_EXIT_OK;
}

int qsso_ctl_decode(qsso_ctl_t *ctl, int argc, const char **argv)
{
    qsso_ctl_decode_args_t a;
    qsso_ctl_decode_msg_t m;
    const char *why;
    char *data = NULL;
    int rc;

    if ((rc = qsso_ctl_decode_args(argc, argv, &a)) != QSSO_CTL_EXIT_OK)
        return rc;
    if ((why = qsso_ctl_decode_read(ctl->p, a.file, &data)) != NULL)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "%s", why);
    memset(&m, 0, sizeof(m));
    qsso_ctl_decode_input(ctl->p, data, &m);
    qsso_ctl_decode_parse(ctl->p, &m);
    printf("SAMLResponse read as %s", m.how);
    if (m.xml)
        printf(", %" APR_SIZE_T_FMT " bytes of XML", m.xml_len);
    puts(a.metadata ? "" : "; NOT verified (give --metadata to verify)");
    if (m.doc)
        qsso_ctl_decode_fields(ctl->p, m.doc);
    else
        printf("cannot decode: %s\n", m.problem);
    if (a.metadata)
        rc = qsso_ctl_decode_verify(ctl->p, &a, &m);
    else
        rc = m.doc ? QSSO_CTL_EXIT_OK : QSSO_CTL_EXIT_FAIL;
    if (m.doc && (a.xml || !a.metadata))
        qsso_ctl_decode_print_xml(ctl->p, m.doc);
    return rc;
}

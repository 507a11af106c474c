/*
 * qssoctl check-config and check-metadata: the two places a sysadmin goes
 * wrong before any login happens.
 *
 * check-config runs httpd's own configtest (`apache2 -t -f FILE`, no
 * shell), because only httpd itself can load the module and run its
 * setters and post_config checks; this file only pulls the verdict and the
 * module's messages out of the output. check-metadata reads the file with
 * the module's metadata parser and builds the xmlsec keys exactly as
 * startup does, then shows what was found, certificate dates included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso_errors.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "qssoctl.h"

#define QSSO_CTL_APACHE2 "/usr/sbin/apache2"
#define QSSO_CTL_OUTPUT_MAX (1024 * 1024)
#define QSSO_CTL_CERT_WARN_DAYS 30

/* Runs argv[0] with stdout and stderr into one pipe; *out gets what it
 * wrote (capped), *status its exit status. NULL or why it could not run. */
static const char *qsso_ctl_check_spawn(apr_pool_t *p, const char *const *argv,
                                        char **out, int *status)
{
    char *buf = apr_palloc(p, QSSO_CTL_OUTPUT_MAX + 1);
    apr_size_t len = 0;
    int fds[2], ws = 0;
    pid_t pid;
    ssize_t n;

    if (pipe(fds) != 0)
        return apr_psprintf(p, "pipe: %s", strerror(errno));
    fflush(stdout);
    if ((pid = fork()) < 0) {
        close(fds[0]);
        close(fds[1]);
        return apr_psprintf(p, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "qssoctl: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf + len, QSSO_CTL_OUTPUT_MAX - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (apr_size_t)n;
        if (len == QSSO_CTL_OUTPUT_MAX)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    buf[len] = '\0';
    *out = buf;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    if (*status == 127)
        return apr_psprintf(p, "cannot run %s (set APACHE2 to httpd's path)",
                            argv[0]);
    return NULL;
}

/* A line without httpd's "[level] [pid N] " style prefixes. */
static const char *qsso_ctl_check_strip(const char *line)
{
    while (*line == '[') {
        const char *end = strchr(line, ']');
        if (end == NULL)
            break;
        line = end + 1;
        while (*line == ' ')
            line++;
    }
    return line;
}

/* The problems in configtest output: "Syntax error on line N of F:"
 * joined with the message on the next line, and every QSSOnnnn line with
 * its fix when the code table has one. Returns how many it printed. */
static int qsso_ctl_check_explain(apr_pool_t *p, char *output)
{
    char *state, *line, *pending = NULL;
    int shown = 0;

    for (line = apr_strtok(output, "\n", &state); line;
         line = apr_strtok(NULL, "\n", &state)) {
        const char *s = qsso_ctl_check_strip(line), *tag;
        int code = 0;

        if (pending) {
            printf("  %s %s\n", pending, qsso_ctl_out_clean(p, s));
            pending = NULL;
            shown++;
            continue;
        }
        if ((tag = strstr(s, "Syntax error on line ")) != NULL) {
            pending = apr_pstrdup(p, qsso_ctl_out_clean(p, tag));
            continue;
        }
        if ((tag = strstr(s, "QSSO")) != NULL && apr_isdigit(tag[4])
            && sscanf(tag + 4, "%4d:", &code) == 1) {
            const qsso_err_entry_t *e = qsso_err_lookup(code);
            printf("  %s\n", qsso_ctl_out_clean(p, tag));
            if (e)
                printf("    fix: %s\n", e->fix);
            shown++;
        }
        else if (strstr(s, "${APACHE_") != NULL) {
            printf("  %s\n    fix: the file uses Debian's ${APACHE_*} "
                   "variables; run '. /etc/apache2/envvars' first\n",
                   qsso_ctl_out_clean(p, s));
            shown++;
        }
    }
    if (pending) {
        printf("  %s\n", pending);
        shown++;
    }
    return shown;
}

static void qsso_ctl_check_indent(apr_pool_t *p, const char *text)
{
    char *copy = apr_pstrdup(p, text), *state, *line;

    for (line = apr_strtok(copy, "\n", &state); line;
         line = apr_strtok(NULL, "\n", &state))
        printf("  %s\n", qsso_ctl_out_clean(p, line));
}

int qsso_ctl_check_config(qsso_ctl_t *ctl, int argc, const char **argv)
{
    const char *httpd = getenv("APACHE2"), *why;
    const char *args[5];
    char *out = NULL;
    int status = 0;

    if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0')
        return qsso_ctl_usage("check-config needs exactly one FILE");
    if (access(argv[1], R_OK) != 0)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot read '%s': %s",
                             argv[1], strerror(errno));
    args[0] = httpd && *httpd ? httpd : QSSO_CTL_APACHE2;
    args[1] = "-t";
    args[2] = "-f";
    args[3] = argv[1];
    args[4] = NULL;
    if ((why = qsso_ctl_check_spawn(ctl->p, args, &out, &status)) != NULL)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "%s", why);
    if (status == 0) {
        printf("configuration OK: %s -t accepts %s\n", args[0], argv[1]);
        if (strstr(out, "QSSO") != NULL) {
            puts("\nmod_qsso noted:");
            qsso_ctl_check_explain(ctl->p, apr_pstrdup(ctl->p, out));
        }
        return QSSO_CTL_EXIT_OK;
    }
    printf("configuration REFUSED: %s -t -f %s exited with status %d\n",
           args[0], argv[1], status);
    puts("\nwhat is wrong:");
    if (qsso_ctl_check_explain(ctl->p, apr_pstrdup(ctl->p, out)) == 0)
        puts("  (see httpd's own words below)");
    puts("\nhttpd said:");
    qsso_ctl_check_indent(ctl->p, out);
    return QSSO_CTL_EXIT_FAIL;
}

/* An X509_NAME as one RFC 2253 line in p. */
static const char *qsso_ctl_check_name(apr_pool_t *p, X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    const char *out = "?";
    char *data;
    long n;

    if (b == NULL)
        return out;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0
        && (n = BIO_get_mem_data(b, &data)) >= 0)
        out = apr_pstrmemdup(p, data, (apr_size_t)n);
    BIO_free(b);
    return qsso_ctl_out_clean(p, out);
}

static const char *qsso_ctl_check_asn1_time(apr_pool_t *p,
                                            const ASN1_TIME *t)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(t, &tm) != 1)
        return "?";
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *qsso_ctl_check_key_type(EVP_PKEY *key)
{
    switch (EVP_PKEY_base_id(key)) {
    case EVP_PKEY_RSA:
        return "RSA";
    case EVP_PKEY_EC:
        return "EC";
    default:
        return OBJ_nid2sn(EVP_PKEY_base_id(key));
    }
}

/* Prints one signing certificate; returns 1 when it deserves a warning
 * (expired, not yet valid, or expiring within 30 days). */
static int qsso_ctl_check_cert(apr_pool_t *p, int n, const qsso_blob_t *b)
{
    const unsigned char *q = b->data;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    X509 *x = d2i_X509(NULL, &q, (long)b->len);
    const char *fp = "";
    int days = 0, secs = 0, early = 0, d2 = 0, s2 = 0, warn = 0;
    EVP_PKEY *key;

    if (x == NULL) {
        printf("  [%d] not an X.509 certificate\n", n);
        return 1;
    }
    key = X509_get0_pubkey(x);
    if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
        for (i = 0; i < mdlen; i++)
            fp = apr_psprintf(p, "%s%s%02X", fp, i ? ":" : "", md[i]);
    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
    early = ASN1_TIME_diff(&d2, &s2, NULL, X509_get0_notBefore(x)) == 1
            && (d2 > 0 || s2 > 0);
    printf("  [%d] subject:    %s\n", n,
           qsso_ctl_check_name(p, X509_get_subject_name(x)));
    printf("      issuer:     %s\n",
           qsso_ctl_check_name(p, X509_get_issuer_name(x)));
    printf("      key:        %s %d bits\n",
           key ? qsso_ctl_check_key_type(key) : "?",
           key ? EVP_PKEY_bits(key) : 0);
    printf("      not before: %s\n",
           qsso_ctl_check_asn1_time(p, X509_get0_notBefore(x)));
    printf("      not after:  %s", qsso_ctl_check_asn1_time(
                                       p, X509_get0_notAfter(x)));
    if (days < 0 || (days == 0 && secs <= 0)) {
        printf(" (EXPIRED %d days ago)\n", -days);
        warn = 1;
    }
    else {
        printf(" (%d days left)\n", days);
        warn = days < QSSO_CTL_CERT_WARN_DAYS;
    }
    printf("      SHA-256:    %s\n", fp);
    if (early) {
        printf("      warning: not valid before %s\n",
               qsso_ctl_check_asn1_time(p, X509_get0_notBefore(x)));
        warn = 1;
    }
    X509_free(x);
    return warn;
}

int qsso_ctl_check_metadata(qsso_ctl_t *ctl, int argc, const char **argv)
{
    qsso_idp_t *idp = NULL;
    const char *err;
    int i, warn = 0;

    if (argc != 2 || argv[1][0] == '-' || argv[1][0] == '\0')
        return qsso_ctl_usage("check-metadata needs exactly one FILE");
    if ((err = qsso_metadata_load_idp(ctl->p, argv[1], &idp)) != NULL) {
        printf("metadata REFUSED: %s\n", qsso_ctl_out_clean(ctl->p, err));
        return QSSO_CTL_EXIT_FAIL;
    }
    /* The same xmlsec keys httpd builds at startup: a certificate whose
     * key xmlsec cannot use fails here, not at the first login. */
    if ((err = qsso_keys_init_crypto(ctl->p)) != NULL
        || (err = qsso_keys_prepare_idp(ctl->p, idp)) != NULL) {
        printf("metadata REFUSED: %s\n", qsso_ctl_out_clean(ctl->p, err));
        return QSSO_CTL_EXIT_FAIL;
    }
    printf("metadata OK: %s\n", argv[1]);
    printf("%-25s %s\n", "entity ID:",
           qsso_ctl_out_clean(ctl->p, idp->entity_id));
    printf("%-25s %s\n", "SSO URL (HTTP-Redirect):", idp->sso_redirect_url
           ? qsso_ctl_out_clean(ctl->p, idp->sso_redirect_url)
           : "(none: use QSSOSSOBinding post)");
    printf("%-25s %s\n", "SSO URL (HTTP-POST):", idp->sso_post_url
           ? qsso_ctl_out_clean(ctl->p, idp->sso_post_url)
           : "(none: use QSSOSSOBinding redirect)");
    printf("%-25s %d\n", "signing certificates:", idp->certs_der->nelts);
    for (i = 0; i < idp->certs_der->nelts; i++)
        warn |= qsso_ctl_check_cert(ctl->p, i + 1,
                                    &APR_ARRAY_IDX(idp->certs_der, i,
                                                   qsso_blob_t));
    if (warn)
        printf("\nwarning: a signing certificate is expired, not yet valid "
               "or expires within %d days; ask the IdP for its next "
               "certificate and list both in the metadata until the "
               "rotation is done\n", QSSO_CTL_CERT_WARN_DAYS);
    return QSSO_CTL_EXIT_OK;
}

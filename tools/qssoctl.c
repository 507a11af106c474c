/*
 * qssoctl: global options, the command table and the store connection.
 * Commands live in the qssoctl_*.c files; see qssoctl.h for the layout
 * and docs/qssoctl.md for what each one prints.
 *
 * The process has one pool, destroyed before exit; everything, the Redis
 * connection and the xmlsec keys included, is released through it.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "qssoctl.h"

#define QSSO_CTL_DEFAULT_STORE "redis://127.0.0.1:6379/0"

static const char qsso_ctl_usage_text[] =
    "usage: qssoctl [--store URL] COMMAND [ARGS]\n"
    "\n"
    "Administers mod_qsso's user directory, sessions and audit stream in\n"
    "Redis, and explains its configuration, IdP metadata and captured SAML\n"
    "responses.\n"
    "\n"
    "  --store URL   as QSSOStore: redis://[user:pass@]host:port[/db] or\n"
    "                redis+sentinel://...; default $QSSO_STORE, else\n"
    "                " QSSO_CTL_DEFAULT_STORE "\n"
    "  -h, --help    this text\n"
    "\n"
    "Commands:\n"
    "  users list [--csv]             every user: status, type, last login\n"
    "  users show USER                one user's record and live sessions\n"
    "  users deactivate USER          mark inactive and end its sessions now\n"
    "  users activate USER            let the user sign in again\n"
    "  users delete USER              deactivate and keep a tombstone\n"
    "  sessions list USER             the user's live sessions\n"
    "  sessions revoke USER           end all of the user's sessions now\n"
    "  events [--follow] [--count N]  the audit stream (qsso:events)\n"
    "  review --inactive-days N [--csv]\n"
    "                                 users idle N days or never signed in\n"
    "  check-config FILE              apache2 -t on FILE, explained\n"
    "  check-metadata FILE            IdP metadata: endpoints, certificates\n"
    "  decode RESPONSE [--xml]        decode a captured SAMLResponse\n"
    "  decode RESPONSE --metadata FILE --sp-entity-id ID --acs-url URL\n"
    "         [--now ISO8601 | --at-issue-instant] [--skew SECONDS]\n"
    "         [--sp-key FILE] [--xml]\n"
    "                                 ... and verify it as the ACS would\n"
    "\n"
    "Exit status: 0 ok, 1 failed or refused, 2 usage, 3 store unreachable,\n"
    "4 no such user.\n";

typedef struct {
    const char *name;
    qsso_ctl_cmd_fn run;
} qsso_ctl_cmd_t;

static const qsso_ctl_cmd_t qsso_ctl_cmds[] = {
    {"users", qsso_ctl_users},
    {"sessions", qsso_ctl_sessions},
    {"events", qsso_ctl_events},
    {"review", qsso_ctl_review},
    {"check-config", qsso_ctl_check_config},
    {"check-metadata", qsso_ctl_check_metadata},
    {"decode", qsso_ctl_decode},
    {NULL, NULL}
};

int qsso_ctl_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("qssoctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    fputs(qsso_ctl_usage_text, stderr);
    return QSSO_CTL_EXIT_USAGE;
}

int qsso_ctl_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("qssoctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int qsso_ctl_opt(const char *name, int argc, const char **argv, int *i,
                 const char **value)
{
    apr_size_t n = strlen(name);

    if (strncmp(argv[*i], name, n))
        return 0;
    if (argv[*i][n] == '=') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* The URL with its password hidden, for messages. */
static const char *qsso_ctl_redact(apr_pool_t *p, const char *url)
{
    const char *at = strrchr(url, '@'), *scheme = strstr(url, "://");
    const char *colon;

    if (at == NULL || scheme == NULL || scheme > at)
        return url;
    colon = memchr(scheme + 3, ':', (apr_size_t)(at - scheme - 3));
    if (colon == NULL)
        return url;
    return apr_pstrcat(p, apr_pstrndup(p, url, (apr_size_t)(colon - url + 1)),
                       "***", at, NULL);
}

int qsso_ctl_store_open(qsso_ctl_t *ctl)
{
    qsso_store_url_t u;
    qsso_store_reply_t *rep;
    const char *err = NULL;
    const char *shown = qsso_ctl_redact(ctl->p, ctl->store_url);

    if (ctl->store)
        return QSSO_CTL_EXIT_OK;
    if ((err = qsso_store_parse_url(ctl->p, ctl->store_url, &u)) != NULL)
        return qsso_ctl_usage("--store '%s' %s", shown, err);
    /* A shm store lives in one httpd's shared memory and has no user
     * directory: there is nothing another process could administer. */
    if (u.scheme && !strcasecmp(u.scheme, "shm"))
        return qsso_ctl_usage("--store '%s': qssoctl needs the Redis store "
                              "the module uses (redis://...); a shm store "
                              "is private to one httpd and holds no user "
                              "directory", shown);
    if ((err = qsso_store_open(ctl->p, ctl->store_url, 1, 0, &ctl->store))
        != NULL)
        return qsso_ctl_fail(QSSO_CTL_EXIT_STORE, "store %s: %s", shown,
                             err);
    /* Connections are made lazily; ask once now, so "unreachable" is
     * told apart from a command that fails later. */
    if (qsso_store_commandv(ctl->store, ctl->p, &rep, &err, "PING", NULL)
        != QSSO_STORE_OK) {
        ctl->store = NULL;
        return qsso_ctl_fail(QSSO_CTL_EXIT_STORE, "cannot reach the store "
                             "%s: %s", shown, err);
    }
    return QSSO_CTL_EXIT_OK;
}

static int qsso_ctl_is_help(const char *arg)
{
    return !strcmp(arg, "-h") || !strcmp(arg, "--help")
           || !strcmp(arg, "help");
}

static int qsso_ctl_run(qsso_ctl_t *ctl, int argc, const char **argv)
{
    const qsso_ctl_cmd_t *cmd;
    const char *v;
    int i = 1;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (qsso_ctl_is_help(argv[i])) {
            fputs(qsso_ctl_usage_text, stdout);
            return QSSO_CTL_EXIT_OK;
        }
        if (!qsso_ctl_opt("--store", argc, argv, &i, &v))
            return qsso_ctl_usage("unknown option '%s'", argv[i]);
        if (v == NULL || *v == '\0')
            return qsso_ctl_usage("--store needs a URL");
        ctl->store_url = v;
    }
    if (i >= argc)
        return qsso_ctl_usage("no command given");
    if (qsso_ctl_is_help(argv[i])) {
        fputs(qsso_ctl_usage_text, stdout);
        return QSSO_CTL_EXIT_OK;
    }
    for (cmd = qsso_ctl_cmds; cmd->name; cmd++)
        if (!strcmp(cmd->name, argv[i]))
            return cmd->run(ctl, argc - i, argv + i);
    return qsso_ctl_usage("unknown command '%s'", argv[i]);
}

int main(int argc, const char *const *argv)
{
    qsso_ctl_t ctl;
    const char *env = getenv("QSSO_STORE");
    int rc;

    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS) {
        fputs("qssoctl: cannot initialise APR\n", stderr);
        return QSSO_CTL_EXIT_FAIL;
    }
    memset(&ctl, 0, sizeof(ctl));
    if (apr_pool_create(&ctl.p, NULL) != APR_SUCCESS) {
        fputs("qssoctl: out of memory\n", stderr);
        return QSSO_CTL_EXIT_FAIL;
    }
    ctl.store_url = env && *env ? env : QSSO_CTL_DEFAULT_STORE;
    rc = qsso_ctl_run(&ctl, argc, (const char **)argv);
    fflush(stdout);
    apr_pool_destroy(ctl.p);
    apr_terminate();
    xmlCleanupParser();
    return rc;
}

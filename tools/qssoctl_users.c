/*
 * qssoctl users | sessions | review: the user directory as the module
 * keeps it (modules/qsso_users.c). Deactivation, activation and session
 * revocation call the same functions SCIM deprovisioning calls, with
 * actor "qssoctl" in the audit event, so an old cookie stops working at
 * once whichever way the user was switched off.
 *
 * Session IDs are never printed. The index holds store keys, which are
 * SHA-256 hashes of the cookie value; even so only a short prefix is
 * shown, enough to tell two sessions apart.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "qsso_cookie.h"
#include "qsso_users.h"
#include "qssoctl.h"

#define QSSO_CTL_SESSION_PREFIX "qsso:sess:"
#define QSSO_CTL_SESSION_SHOWN 12       /* hex digits of the key shown */
#define QSSO_CTL_MAX_DAYS 36500

static const char *qsso_ctl_users_status(const qsso_user_t *u)
{
    return u->deleted ? "deleted" : u->active ? "active" : "inactive";
}

/* Loads USER or says why not: an exit status. */
static int qsso_ctl_users_load(qsso_ctl_t *ctl, const char *name,
                               qsso_user_t *u)
{
    const char *err = NULL;

    switch (qsso_users_load(ctl->store, ctl->p, name, u, &err)) {
    case QSSO_STORE_OK:
        return QSSO_CTL_EXIT_OK;
    case QSSO_STORE_NOTFOUND:
        return qsso_ctl_fail(QSSO_CTL_EXIT_NOTFOUND, "no user \"%s\" in the "
                             "directory", qsso_ctl_out_clean(ctl->p, name));
    default:
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot load user \"%s\": "
                             "%s", qsso_ctl_out_clean(ctl->p, name), err);
    }
}

/* One live session: what its record and the store's TTL say. */
typedef struct {
    const char *shown;              /* key prefix */
    apr_int64_t expires;            /* Unix seconds; 0 = unknown */
    apr_int64_t ttl;                /* seconds left; -1 = no expiry */
    const char *idp;
    const char *sp;                 /* the SP it opens; "-" in a record of
                                     * the previous format, which names
                                     * none */
    const char *name_id;
} qsso_ctl_session_t;

/* The sessions in USER's index whose record still exists (the index keeps
 * expired and logged-out keys until it expires itself). */
static qsso_store_rc_e qsso_ctl_users_live(qsso_ctl_t *ctl, const char *user,
                                           apr_array_header_t **out,
                                           const char **err)
{
    apr_array_header_t *keys;
    qsso_store_rc_e rc = qsso_users_list_sessions(ctl->store, ctl->p, user,
                                                  &keys, err);
    int i;

    *out = apr_array_make(ctl->p, 4, sizeof(qsso_ctl_session_t));
    for (i = 0; rc == QSSO_STORE_OK && i < keys->nelts; i++) {
        const char *key = APR_ARRAY_IDX(keys, i, const char *);
        const char *hash = key;
        qsso_store_reply_t *ttl;
        qsso_ctl_session_t *s;
        qsso_session_t rec;
        char *val = NULL;
        apr_size_t len = 0;

        rc = qsso_store_get(ctl->store, ctl->p, key, &val, &len, err);
        if (rc == QSSO_STORE_NOTFOUND) {
            rc = QSSO_STORE_OK;
            continue;
        }
        if (rc != QSSO_STORE_OK
            || (rc = qsso_store_commandv(ctl->store, ctl->p, &ttl, err,
                                         "TTL", key, NULL)) != QSSO_STORE_OK)
            break;
        if (!strncmp(hash, QSSO_CTL_SESSION_PREFIX,
                     strlen(QSSO_CTL_SESSION_PREFIX)))
            hash += strlen(QSSO_CTL_SESSION_PREFIX);
        s = apr_array_push(*out);
        memset(s, 0, sizeof(*s));
        s->shown = apr_pstrndup(ctl->p, hash, QSSO_CTL_SESSION_SHOWN);
        s->ttl = ttl->type == QSSO_REPLY_INTEGER ? ttl->integer : -1;
        if (qsso_session_decode(ctl->p, val, &rec) == 0) {
            s->expires = apr_time_sec(rec.expires);
            s->idp = rec.idp;
            s->sp = rec.sp ? rec.sp : "-";
            s->name_id = rec.name_id;
        }
        else if (s->ttl >= 0) {
            s->expires = apr_time_sec(apr_time_now()) + s->ttl;
        }
    }
    return rc;
}

static const char *qsso_ctl_users_duration(apr_pool_t *p, apr_int64_t s)
{
    if (s < 0)
        return "no expiry";
    if (s >= 3600)
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h%02" APR_INT64_T_FMT
                            "m", s / 3600, (s % 3600) / 60);
    return apr_psprintf(p, "%" APR_INT64_T_FMT "m%02" APR_INT64_T_FMT "s",
                        s / 60, s % 60);
}

static int qsso_ctl_users_list(qsso_ctl_t *ctl, int csv)
{
    apr_array_header_t *users, *damaged;
    const char *err = NULL;
    qsso_ctl_table_t *t;
    int i;

    if (qsso_users_list(ctl->store, ctl->p, &users, &damaged, &err)
        != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot list users: %s",
                             err);
    t = csv ? qsso_ctl_table_create(ctl->p, 1, "username", "email",
                                    "user_type", "source", "status",
                                    "created", "last_login", NULL)
            : qsso_ctl_table_create(ctl->p, 0, "USERNAME", "EMAIL",
                                    "USER TYPE", "SOURCE", "STATUS",
                                    "CREATED", "LAST LOGIN", NULL);
    for (i = 0; i < users->nelts; i++) {
        const qsso_user_t *u = &APR_ARRAY_IDX(users, i, qsso_user_t);
        qsso_ctl_table_add(t, u->username, u->email, u->user_type, u->source,
                           qsso_ctl_users_status(u),
                           qsso_ctl_out_time(ctl->p, u->created),
                           qsso_ctl_out_time(ctl->p, u->last_login));
    }
    qsso_ctl_table_print(t, stdout);
    if (!csv && users->nelts == 0)
        puts("(no users in the directory)");
    for (i = 0; i < damaged->nelts; i++)
        qsso_ctl_fail(0, "warning: the record under %s is damaged (not a "
                      "user's JSON); not listed", qsso_ctl_out_clean(
                          ctl->p, APR_ARRAY_IDX(damaged, i, const char *)));
    return QSSO_CTL_EXIT_OK;
}

static void qsso_ctl_users_field(const char *name, const char *value)
{
    printf("%-13s %s\n", name, value && *value ? value : "-");
}

static int qsso_ctl_users_show(qsso_ctl_t *ctl, const char *name)
{
    apr_pool_t *p = ctl->p;
    apr_array_header_t *live;
    const char *err = NULL;
    qsso_user_t u;
    int rc = qsso_ctl_users_load(ctl, name, &u);

    if (rc != QSSO_CTL_EXIT_OK)
        return rc;
    if (qsso_ctl_users_live(ctl, u.username, &live, &err) != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot read the sessions "
                             "of \"%s\": %s", qsso_ctl_out_clean(p, name),
                             err);
#define QSSO_CTL_F(label, v) qsso_ctl_users_field(label, \
                                                  qsso_ctl_out_clean(p, v))
    QSSO_CTL_F("username:", u.username);
    QSSO_CTL_F("id:", u.id);
    QSSO_CTL_F("email:", u.email);
    QSSO_CTL_F("first name:", u.first_name);
    QSSO_CTL_F("last name:", u.last_name);
    QSSO_CTL_F("user type:", u.user_type);
    QSSO_CTL_F("division:", u.division);
    QSSO_CTL_F("groups:", apr_array_pstrcat(p, u.groups, ','));
    QSSO_CTL_F("unique ID:", u.unique_id);
    QSSO_CTL_F("external ID:", u.external_id);
    if (u.former_names->nelts)      /* renames; deactivation reaches them */
        QSSO_CTL_F("former names:", apr_array_pstrcat(p, u.former_names,
                                                      ','));
    QSSO_CTL_F("source:", u.source);
    QSSO_CTL_F("IdP:", u.idp);
    QSSO_CTL_F("status:", qsso_ctl_users_status(&u));
    QSSO_CTL_F("SSO linked:", u.sso_linked ? "yes" : "no");
    QSSO_CTL_F("created:", qsso_ctl_out_time(p, u.created));
    QSSO_CTL_F("updated:", qsso_ctl_out_time(p, u.updated));
    QSSO_CTL_F("last login:", qsso_ctl_out_time(p, u.last_login));
    QSSO_CTL_F("sessions:", apr_psprintf(p, "%d live", live->nelts));
#undef QSSO_CTL_F
    return QSSO_CTL_EXIT_OK;
}

/* deactivate / delete / activate: the shared deprovisioning functions. */
static int qsso_ctl_users_switch(qsso_ctl_t *ctl, const char *verb,
                                 const char *name)
{
    const char *err = NULL, *shown;
    qsso_user_t u;
    int rc = qsso_ctl_users_load(ctl, name, &u), n = 0;
    qsso_store_rc_e src;

    if (rc != QSSO_CTL_EXIT_OK)
        return rc;
    shown = qsso_ctl_out_clean(ctl->p, u.username);
    if (!strcmp(verb, "activate"))
        src = qsso_users_activate(ctl->store, ctl->p, u.username,
                                  QSSO_CTL_ACTOR, &err);
    else
        src = qsso_users_deactivate(ctl->store, ctl->p, u.username,
                                    !strcmp(verb, "delete"), QSSO_CTL_ACTOR,
                                    &n, &err);
    if (src == QSSO_STORE_NOTFOUND)
        return qsso_ctl_fail(QSSO_CTL_EXIT_NOTFOUND, "user \"%s\" was "
                             "removed meanwhile", shown);
    if (src != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot %s \"%s\": %s",
                             verb, shown, err);
    if (!strcmp(verb, "activate"))
        printf("user %s activated%s; they can sign in again\n", shown,
               u.active ? " (was already active)" : "");
    else
        printf("user %s %s%s; %d session%s ended\n", shown,
               !strcmp(verb, "delete") ? "deleted (kept inactive as a "
                                         "tombstone)"
                                       : "deactivated",
               !u.active && !strcmp(verb, "deactivate")
                   ? " (was already inactive)" : "",
               n, n == 1 ? "" : "s");
    return QSSO_CTL_EXIT_OK;
}

int qsso_ctl_users(qsso_ctl_t *ctl, int argc, const char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    int rc;

    if (sub == NULL)
        return qsso_ctl_usage("users: which one: list, show, deactivate, "
                              "activate or delete?");
    if (!strcmp(sub, "list")) {
        int csv = argc == 3 && !strcmp(argv[2], "--csv");
        if (argc > 3 || (argc == 3 && !csv))
            return qsso_ctl_usage("users list: unexpected '%s'", argv[2]);
        if ((rc = qsso_ctl_store_open(ctl)) != QSSO_CTL_EXIT_OK)
            return rc;
        return qsso_ctl_users_list(ctl, csv);
    }
    if (strcmp(sub, "show") && strcmp(sub, "deactivate")
        && strcmp(sub, "activate") && strcmp(sub, "delete"))
        return qsso_ctl_usage("users: unknown subcommand '%s'", sub);
    if (argc != 3 || argv[2][0] == '\0' || argv[2][0] == '-')
        return qsso_ctl_usage("users %s needs exactly one USER", sub);
    if ((rc = qsso_ctl_store_open(ctl)) != QSSO_CTL_EXIT_OK)
        return rc;
    if (!strcmp(sub, "show"))
        return qsso_ctl_users_show(ctl, argv[2]);
    return qsso_ctl_users_switch(ctl, sub, argv[2]);
}

static int qsso_ctl_sessions_list(qsso_ctl_t *ctl, const char *name)
{
    apr_array_header_t *live;
    const char *err = NULL;
    qsso_ctl_table_t *t;
    qsso_user_t u;
    int rc = qsso_ctl_users_load(ctl, name, &u), i;

    if (rc != QSSO_CTL_EXIT_OK)
        return rc;
    if (qsso_ctl_users_live(ctl, u.username, &live, &err) != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot read the sessions "
                             "of \"%s\": %s",
                             qsso_ctl_out_clean(ctl->p, name), err);
    if (live->nelts == 0) {
        printf("no live sessions for %s\n",
               qsso_ctl_out_clean(ctl->p, u.username));
        return QSSO_CTL_EXIT_OK;
    }
    t = qsso_ctl_table_create(ctl->p, 0, "SESSION", "EXPIRES", "LEFT",
                              "IDP", "SP", "NAMEID", NULL);
    for (i = 0; i < live->nelts; i++) {
        const qsso_ctl_session_t *s = &APR_ARRAY_IDX(live, i,
                                                     qsso_ctl_session_t);
        qsso_ctl_table_add(t, apr_pstrcat(ctl->p, s->shown, "...", NULL),
                           s->expires ? qsso_ctl_out_time(ctl->p, s->expires)
                                      : "?",
                           qsso_ctl_users_duration(ctl->p, s->ttl), s->idp,
                           s->sp, s->name_id);
    }
    qsso_ctl_table_print(t, stdout);
    return QSSO_CTL_EXIT_OK;
}

static int qsso_ctl_sessions_revoke(qsso_ctl_t *ctl, const char *name)
{
    const char *err = NULL, *shown = qsso_ctl_out_clean(ctl->p, name);
    qsso_user_t u;
    int n = 0, known;

    switch (qsso_users_load(ctl->store, ctl->p, name, &u, &err)) {
    case QSSO_STORE_OK:
        known = 1;
        name = u.username;
        break;
    case QSSO_STORE_NOTFOUND:
        known = 0;          /* a stale index is still worth clearing */
        break;
    default:
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot load user \"%s\": "
                             "%s", shown, err);
    }
    if (qsso_users_revoke_sessions(ctl->store, ctl->p, name, &n, &err)
        != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot revoke the "
                             "sessions of \"%s\": %s", shown, err);
    if (!known && n == 0)
        return qsso_ctl_fail(QSSO_CTL_EXIT_NOTFOUND, "no user \"%s\" in the "
                             "directory", shown);
    if (qsso_users_event(ctl->store, ctl->p, &err, "sessions.revoked",
                         "user", name, "actor", QSSO_CTL_ACTOR, "sessions",
                         apr_itoa(ctl->p, n), NULL) != QSSO_STORE_OK)
        qsso_ctl_fail(0, "warning: sessions ended, but the audit event was "
                      "not recorded: %s", err);
    printf("%d session%s of %s ended\n", n, n == 1 ? "" : "s",
           qsso_ctl_out_clean(ctl->p, name));
    return QSSO_CTL_EXIT_OK;
}

int qsso_ctl_sessions(qsso_ctl_t *ctl, int argc, const char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    int rc;

    if (sub == NULL || (strcmp(sub, "list") && strcmp(sub, "revoke")))
        return qsso_ctl_usage("sessions: expected 'list USER' or "
                              "'revoke USER'");
    if (argc != 3 || argv[2][0] == '\0' || argv[2][0] == '-')
        return qsso_ctl_usage("sessions %s needs exactly one USER", sub);
    if ((rc = qsso_ctl_store_open(ctl)) != QSSO_CTL_EXIT_OK)
        return rc;
    return !strcmp(sub, "list") ? qsso_ctl_sessions_list(ctl, argv[2])
                                : qsso_ctl_sessions_revoke(ctl, argv[2]);
}

/* Never signed in first, then the longest idle; ties by name. */
static int qsso_ctl_review_cmp(const void *a, const void *b)
{
    const qsso_user_t *x = *(const qsso_user_t *const *)a;
    const qsso_user_t *y = *(const qsso_user_t *const *)b;

    if (x->last_login != y->last_login)
        return x->last_login < y->last_login ? -1 : 1;
    return strcasecmp(x->username, y->username);
}

static int qsso_ctl_review_run(qsso_ctl_t *ctl, long days, int csv)
{
    apr_array_header_t *users, *damaged, *idle;
    apr_int64_t cutoff = apr_time_sec(apr_time_now()) - days * 86400;
    const char *err = NULL;
    qsso_ctl_table_t *t;
    int i, never = 0, reviewed = 0;

    if (qsso_users_list(ctl->store, ctl->p, &users, &damaged, &err)
        != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot list users: %s",
                             err);
    idle = apr_array_make(ctl->p, users->nelts + 1, sizeof(qsso_user_t *));
    for (i = 0; i < users->nelts; i++) {
        qsso_user_t *u = &APR_ARRAY_IDX(users, i, qsso_user_t);
        /* A deleted user is a tombstone: it holds no access to review. */
        if (u->deleted)
            continue;
        reviewed++;
        if (u->last_login == 0 || u->last_login < cutoff) {
            APR_ARRAY_PUSH(idle, qsso_user_t *) = u;
            never += u->last_login == 0;
        }
    }
    qsort(idle->elts, (size_t)idle->nelts, sizeof(qsso_user_t *),
          qsso_ctl_review_cmp);
    t = csv ? qsso_ctl_table_create(ctl->p, 1, "username", "email",
                                    "user_type", "source", "active",
                                    "created", "last_login", NULL)
            : qsso_ctl_table_create(ctl->p, 0, "USERNAME", "EMAIL",
                                    "USER TYPE", "SOURCE", "ACTIVE",
                                    "CREATED", "LAST LOGIN", NULL);
    for (i = 0; i < idle->nelts; i++) {
        const qsso_user_t *u = APR_ARRAY_IDX(idle, i, qsso_user_t *);
        qsso_ctl_table_add(t, u->username, u->email, u->user_type, u->source,
                           u->active ? "yes" : "no",
                           qsso_ctl_out_time(ctl->p, u->created),
                           qsso_ctl_out_time(ctl->p, u->last_login));
    }
    if (!csv && idle->nelts == 0)
        printf("every one of the %d users signed in within %ld days\n",
               reviewed, days);
    else
        qsso_ctl_table_print(t, stdout);
    if (!csv && idle->nelts > 0)
        printf("\n%d of %d users have not signed in for %ld days (%d never "
               "signed in)\n", idle->nelts, reviewed, days, never);
    for (i = 0; i < damaged->nelts; i++)
        qsso_ctl_fail(0, "warning: the record under %s is damaged; not "
                      "reviewed", qsso_ctl_out_clean(
                          ctl->p, APR_ARRAY_IDX(damaged, i, const char *)));
    return QSSO_CTL_EXIT_OK;
}

int qsso_ctl_review(qsso_ctl_t *ctl, int argc, const char **argv)
{
    const char *v = NULL;
    long days = -1;
    int csv = 0, i, rc;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv")) {
            csv = 1;
        }
        else if (qsso_ctl_opt("--inactive-days", argc, argv, &i, &v)) {
            if ((days = qsso_ctl_out_number(v, QSSO_CTL_MAX_DAYS)) < 0)
                return qsso_ctl_usage("review: --inactive-days needs a "
                                      "number of days (0-%d)",
                                      QSSO_CTL_MAX_DAYS);
        }
        else {
            return qsso_ctl_usage("review: unexpected '%s'", argv[i]);
        }
    }
    if (days < 0)
        return qsso_ctl_usage("review needs --inactive-days N");
    if ((rc = qsso_ctl_store_open(ctl)) != QSSO_CTL_EXIT_OK)
        return rc;
    return qsso_ctl_review_run(ctl, days, csv);
}

/*
 * qssoctl events: the audit stream qsso:events (a capped Redis stream the
 * module, SCIM and qssoctl append to with qsso_users_event). Prints the
 * latest entries oldest first, one line each, and with --follow keeps
 * reading new ones with XREAD BLOCK until SIGINT or SIGTERM.
 *
 * The block time stays under the store's command timeout (1 s), so a
 * quiet stream is not mistaken for a dead Redis, and a signal is noticed
 * within one block.
 */
#include <signal.h>
#include <string.h>
#include <apr_strings.h>

#include "qsso_users.h"
#include "qssoctl.h"

#define QSSO_CTL_EVENTS_DEFAULT 100
#define QSSO_CTL_EVENTS_MAX 100000
#define QSSO_CTL_EVENTS_BLOCK_MS "500"
#define QSSO_CTL_EVENTS_BATCH "100"

static volatile sig_atomic_t qsso_ctl_events_stop = 0;

static void qsso_ctl_events_on_signal(int sig)
{
    (void)sig;
    qsso_ctl_events_stop = 1;
}

/* A value as key=value text: quoted when empty or holding spaces or
 * quotes, control characters replaced. */
static const char *qsso_ctl_events_value(apr_pool_t *p, const char *v)
{
    const char *c = qsso_ctl_out_clean(p, v);
    char *out, *o;

    if (*c && strpbrk(c, " \"\\") == NULL)
        return c;
    out = o = apr_palloc(p, strlen(c) * 2 + 3);
    *o++ = '"';
    for (; *c; c++) {
        if (*c == '"' || *c == '\\')
            *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* One entry [id, [field, value, ...]]: "time  type  k=v k=v". Returns its
 * ID, or NULL when the reply is not a stream entry. */
static const char *qsso_ctl_events_print(apr_pool_t *p,
                                         const qsso_store_reply_t *e)
{
    const qsso_store_reply_t *id, *fields;
    const char *type = "?", *rest = "";
    apr_int64_t ms;
    int i;

    if (e->type != QSSO_REPLY_ARRAY || e->elements->nelts != 2)
        return NULL;
    id = APR_ARRAY_IDX(e->elements, 0, qsso_store_reply_t *);
    fields = APR_ARRAY_IDX(e->elements, 1, qsso_store_reply_t *);
    if (id->type != QSSO_REPLY_STRING || fields->type != QSSO_REPLY_ARRAY)
        return NULL;
    for (i = 0; i + 1 < fields->elements->nelts; i += 2) {
        const qsso_store_reply_t *k = APR_ARRAY_IDX(fields->elements, i,
                                                    qsso_store_reply_t *);
        const qsso_store_reply_t *v = APR_ARRAY_IDX(fields->elements, i + 1,
                                                    qsso_store_reply_t *);
        if (k->type != QSSO_REPLY_STRING || v->type != QSSO_REPLY_STRING)
            continue;
        if (!strcmp(k->str, "type") && !strcmp(type, "?"))
            type = qsso_ctl_out_clean(p, v->str);
        else
            rest = apr_pstrcat(p, rest, *rest ? " " : "",
                               qsso_ctl_out_clean(p, k->str), "=",
                               qsso_ctl_events_value(p, v->str), NULL);
    }
    /* Stream IDs are <Unix milliseconds>-<sequence>. */
    ms = apr_atoi64(id->str);
    printf("%s  %-18s  %s\n", qsso_ctl_out_time(p, ms / 1000), type, rest);
    return id->str;
}

/* Prints the last `count` entries, oldest first; *last gets the ID of the
 * newest entry in the stream ("0-0" when empty). */
static int qsso_ctl_events_tail(qsso_ctl_t *ctl, long count, char *last,
                                apr_size_t lastlen)
{
    qsso_store_reply_t *rep;
    const char *err = NULL, *id;
    int i;

    /* Even with --count 0 the newest ID is needed to follow from it. */
    if (qsso_store_commandv(ctl->store, ctl->p, &rep, &err, "XREVRANGE",
                            QSSO_USERS_EVENTS, "+", "-", "COUNT",
                            apr_ltoa(ctl->p, count ? count : 1), NULL)
        != QSSO_STORE_OK)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "cannot read %s: %s",
                             QSSO_USERS_EVENTS, err);
    apr_cpystrn(last, "0-0", lastlen);
    if (rep->type != QSSO_REPLY_ARRAY)
        return QSSO_CTL_EXIT_OK;
    for (i = rep->elements->nelts - 1; i >= 0; i--) {
        const qsso_store_reply_t *e = APR_ARRAY_IDX(rep->elements, i,
                                                    qsso_store_reply_t *);
        if (count == 0) {
            const qsso_store_reply_t *eid;
            if (e->type == QSSO_REPLY_ARRAY && e->elements->nelts == 2
                && (eid = APR_ARRAY_IDX(e->elements, 0,
                                        qsso_store_reply_t *))->type
                       == QSSO_REPLY_STRING)
                apr_cpystrn(last, eid->str, lastlen);
            continue;
        }
        if ((id = qsso_ctl_events_print(ctl->p, e)) != NULL)
            apr_cpystrn(last, id, lastlen);
    }
    return QSSO_CTL_EXIT_OK;
}

/* XREAD BLOCK from last until a signal; a scratch pool per round keeps a
 * week-long follow at constant memory. */
static int qsso_ctl_events_follow(qsso_ctl_t *ctl, char *last,
                                  apr_size_t lastlen)
{
    struct sigaction sa;
    apr_pool_t *round;
    int rc = QSSO_CTL_EXIT_OK;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = qsso_ctl_events_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (apr_pool_create(&round, ctl->p) != APR_SUCCESS)
        return qsso_ctl_fail(QSSO_CTL_EXIT_FAIL, "out of memory");
    fflush(stdout);
    while (!qsso_ctl_events_stop) {
        qsso_store_reply_t *rep, *stream, *entries;
        const char *err = NULL, *id;
        int i;

        apr_pool_clear(round);
        if (qsso_store_commandv(ctl->store, round, &rep, &err, "XREAD",
                                "COUNT", QSSO_CTL_EVENTS_BATCH, "BLOCK",
                                QSSO_CTL_EVENTS_BLOCK_MS, "STREAMS",
                                QSSO_USERS_EVENTS, last, NULL)
            != QSSO_STORE_OK) {
            if (qsso_ctl_events_stop)
                break;
            rc = qsso_ctl_fail(QSSO_CTL_EXIT_STORE, "lost the store while "
                               "following %s: %s", QSSO_USERS_EVENTS, err);
            break;
        }
        /* [[stream, [entry, ...]]], or nil when the block timed out */
        if (rep->type != QSSO_REPLY_ARRAY || rep->elements->nelts < 1)
            continue;
        stream = APR_ARRAY_IDX(rep->elements, 0, qsso_store_reply_t *);
        if (stream->type != QSSO_REPLY_ARRAY || stream->elements->nelts != 2)
            continue;
        entries = APR_ARRAY_IDX(stream->elements, 1, qsso_store_reply_t *);
        for (i = 0; entries->type == QSSO_REPLY_ARRAY
                    && i < entries->elements->nelts; i++)
            if ((id = qsso_ctl_events_print(
                     round, APR_ARRAY_IDX(entries->elements, i,
                                          qsso_store_reply_t *))) != NULL)
                apr_cpystrn(last, id, lastlen);
        fflush(stdout);
    }
    apr_pool_destroy(round);
    return rc;
}

int qsso_ctl_events(qsso_ctl_t *ctl, int argc, const char **argv)
{
    char last[64];
    const char *v = NULL;
    long count = QSSO_CTL_EVENTS_DEFAULT;
    int follow = 0, i, rc;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = 1;
        }
        else if (qsso_ctl_opt("--count", argc, argv, &i, &v)) {
            if ((count = qsso_ctl_out_number(v, QSSO_CTL_EVENTS_MAX)) < 0)
                return qsso_ctl_usage("events: --count needs a number "
                                      "(0-%d)", QSSO_CTL_EVENTS_MAX);
        }
        else {
            return qsso_ctl_usage("events: unexpected '%s'", argv[i]);
        }
    }
    if (count == 0 && !follow)
        return qsso_ctl_usage("events: --count 0 only makes sense with "
                              "--follow");
    if ((rc = qsso_ctl_store_open(ctl)) != QSSO_CTL_EXIT_OK)
        return rc;
    if ((rc = qsso_ctl_events_tail(ctl, count, last, sizeof(last)))
        != QSSO_CTL_EXIT_OK || !follow)
        return rc;
    return qsso_ctl_events_follow(ctl, last, sizeof(last));
}

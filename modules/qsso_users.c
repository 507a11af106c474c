/*
 * The user directory. Each user is one JSON record under
 * qsso:user:<lower-case username> (usernames compare case-insensitively,
 * as SCIM's userName does); qsso:user-email:<lower-case email> is a set of
 * the usernames with that email, so a login can tell "one existing user"
 * from "several people" before it links anything; qsso:user-id:<id> names
 * the record of each id, written with the record, for SCIM. Audit events
 * go to a Redis stream capped at QSSO_USERS_EVENTS_MAX entries.
 *
 * Several writers share a record (logins on every front end, SCIM, Groups,
 * qssoctl), so no write is a plain SET of what was read a moment ago:
 * every write is one server-side script that compares the record with the
 * bytes the writer read and writes only when they are the same
 * (qsso_users_cas). A writer that lost reloads and applies again only
 * what it owns: a login re-reads the record and is refused if it was
 * deactivated meanwhile, qsso_users_save re-applies the fields its caller
 * changed, SCIM decides again (If-Match then fails). A deactivation can
 * therefore never be undone by a racing login, nor a SCIM push reverted.
 *
 * Migration never merges two different people: a rename needs the bare
 * record's email to be the IdP's, a link needs exactly one unlinked record
 * with that email; anything else is refused with 4010 and left for a
 * human. A link (qsso:user-alias:<IdP username>) names the record's id,
 * not its name, and is followed only to that id with the same email, so
 * a username given to someone else later is never reached through it.
 */
#include <stdarg.h>
#include <string.h>
#include <jansson.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_config.h"
#include "qsso_errors.h"
#include "qsso_users.h"

#define QSSO_LOGV(v) qsso_codec_log_escape(p, (v), 200)

static char *qsso_users_lower(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *o;

    for (o = out; *o; o++)
        *o = (char)apr_tolower(*o);
    return out;
}

static const char *qsso_users_key(apr_pool_t *p, const char *username)
{
    return apr_pstrcat(p, "qsso:user:", qsso_users_lower(p, username), NULL);
}

/* A linked record keeps its own name; the IdP's username points to its
 * id ("id:<id>"; older links hold the record's name). */
static const char *qsso_users_alias_key(apr_pool_t *p, const char *username)
{
    return apr_pstrcat(p, "qsso:user-alias:", qsso_users_lower(p, username),
                       NULL);
}

/* The alias keys pointing at a record id, so they go with the id. */
static const char *qsso_users_aliases_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "qsso:user-aliases:", id, NULL);
}

static const char *qsso_users_sessions_key(apr_pool_t *p,
                                           const char *username)
{
    return apr_pstrcat(p, "qsso:user-sessions:",
                       qsso_users_lower(p, username), NULL);
}

static const char *qsso_users_email_key(apr_pool_t *p, const char *email)
{
    return apr_pstrcat(p, "qsso:user-email:", qsso_users_lower(p, email),
                       NULL);
}

/* The record an ID names, so SCIM finds any user (JIT ones too) by the ID
 * it was given; written with every record. */
static const char *qsso_users_id_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "qsso:user-id:", id, NULL);
}

char *qsso_users_encode(apr_pool_t *p, const qsso_user_t *u)
{
    json_t *o = json_object(), *g = json_array();
    char *dump, *out;
    int i;

    for (i = 0; u->groups && i < u->groups->nelts; i++)
        json_array_append_new(g, json_string(
            APR_ARRAY_IDX(u->groups, i, const char *)));
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "userName", json_string(u->username));
    json_object_set_new(o, "email", json_string(u->email));
    json_object_set_new(o, "firstName", json_string(u->first_name));
    json_object_set_new(o, "lastName", json_string(u->last_name));
    json_object_set_new(o, "userType", json_string(u->user_type));
    json_object_set_new(o, "division", json_string(u->division));
    json_object_set_new(o, "groups", g);
    json_object_set_new(o, "uniqueId", json_string(u->unique_id));
    json_object_set_new(o, "externalId", json_string(u->external_id));
    json_object_set_new(o, "source", json_string(u->source));
    json_object_set_new(o, "idp", json_string(u->idp));
    json_object_set_new(o, "active", json_boolean(u->active));
    json_object_set_new(o, "deleted", json_boolean(u->deleted));
    json_object_set_new(o, "ssoLinked", json_boolean(u->sso_linked));
    json_object_set_new(o, "created", json_integer(u->created));
    json_object_set_new(o, "updated", json_integer(u->updated));
    json_object_set_new(o, "lastLogin", json_integer(u->last_login));
    /* Only when there are some: records never renamed keep their bytes,
     * and so their SCIM ETag. */
    if (u->former_names && u->former_names->nelts) {
        json_t *f = json_array();
        for (i = 0; i < u->former_names->nelts; i++)
            json_array_append_new(f, json_string(APR_ARRAY_IDX(
                u->former_names, i, const char *)));
        json_object_set_new(o, "formerNames", f);
    }
    dump = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (dump == NULL)
        return NULL;
    out = apr_pstrdup(p, dump);
    free(dump);
    return out;
}

static const char *qsso_users_str(apr_pool_t *p, json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return apr_pstrdup(p, v ? v : "");
}

static apr_array_header_t *qsso_users_strings(apr_pool_t *p, json_t *g)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    size_t i;

    for (i = 0; json_is_array(g) && i < json_array_size(g); i++) {
        const char *v = json_string_value(json_array_get(g, i));
        if (v)
            APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(p, v);
    }
    return out;
}

int qsso_users_decode(apr_pool_t *p, const char *data, qsso_user_t *out)
{
    json_t *o = json_loads(data, JSON_REJECT_DUPLICATES, NULL);

    if (o == NULL || !json_is_object(o)
        || !json_is_string(json_object_get(o, "userName"))
        || !json_is_string(json_object_get(o, "id"))) {
        json_decref(o);
        return -1;
    }
    memset(out, 0, sizeof(*out));
    out->id = qsso_users_str(p, o, "id");
    out->username = qsso_users_str(p, o, "userName");
    out->email = qsso_users_str(p, o, "email");
    out->first_name = qsso_users_str(p, o, "firstName");
    out->last_name = qsso_users_str(p, o, "lastName");
    out->user_type = qsso_users_str(p, o, "userType");
    out->division = qsso_users_str(p, o, "division");
    out->unique_id = qsso_users_str(p, o, "uniqueId");
    out->external_id = qsso_users_str(p, o, "externalId");
    out->source = qsso_users_str(p, o, "source");
    out->idp = qsso_users_str(p, o, "idp");
    out->active = json_is_true(json_object_get(o, "active"));
    out->deleted = json_is_true(json_object_get(o, "deleted"));
    out->sso_linked = json_is_true(json_object_get(o, "ssoLinked"));
    out->created = json_integer_value(json_object_get(o, "created"));
    out->updated = json_integer_value(json_object_get(o, "updated"));
    out->last_login = json_integer_value(json_object_get(o, "lastLogin"));
    out->groups = qsso_users_strings(p, json_object_get(o, "groups"));
    out->former_names = qsso_users_strings(p, json_object_get(o,
                                                              "formerNames"));
    json_decref(o);
    return 0;
}

qsso_store_rc_e qsso_users_load(qsso_store_t *st, apr_pool_t *p,
                                const char *username, qsso_user_t *out,
                                const char **err)
{
    char *val = NULL;
    apr_size_t len = 0;
    qsso_store_rc_e rc = qsso_store_get(st, p, qsso_users_key(p, username),
                                        &val, &len, err);

    if (rc != QSSO_STORE_OK)
        return rc;
    if (qsso_users_decode(p, val, out) != 0) {
        *err = apr_psprintf(p, "the record of user \"%s\" is damaged",
                            QSSO_LOGV(username));
        return QSSO_STORE_ERROR;
    }
    out->raw = val;
    return QSSO_STORE_OK;
}

/* How often a writer that lost a compare-and-set reloads and tries
 * again before it gives up (a store error): only a burst of writes to one
 * record, faster than a round trip, gets that far. */
#define QSSO_USERS_TRIES 16

/* Deletes every session in the index KEYS[1] (the count is of sessions
 * that still existed, not of index entries), then, for each further pair
 * KEYS[i] (a former name's record key) and KEYS[i+1] (that name's
 * session index), the former name's sessions too unless another record
 * holds that name now; in one step, so a session added while it runs is
 * either deleted or added after it (and then caught by the login's
 * re-check of the active flag). */
#define QSSO_USERS_REVOKE_LUA \
    "local n = 0 " \
    "local function rev(s) local m = redis.call('SMEMBERS', s) " \
    "for _, k in ipairs(m) do n = n + redis.call('DEL', k) end " \
    "redis.call('DEL', s) end " \
    "rev(KEYS[1]) " \
    "for i = 2, #KEYS - 1, 2 do " \
    "if redis.call('EXISTS', KEYS[i]) == 0 then rev(KEYS[i + 1]) end end " \
    "return n"

/* The one way a record is written. KEYS[1] is where the writer read it
 * and ARGV[1] the bytes it read ("" = it read nothing: create); unless the
 * record there is still exactly those bytes, nothing is written and 0 is
 * the answer. KEYS[2] is where it goes: another key is a rename, which
 * needs the new name free (else -1), removes the old key and ends the
 * sessions indexed under the old name (KEYS[3]) in the same step, so no
 * deprovisioning can miss them. KEYS[4] (the id index) names the record.
 * With KEYS[5] and KEYS[6], the IdP username's link (ARGV[5]) is written
 * and listed under the id in the same step as the record it links. */
#define QSSO_USERS_CAS_LUA \
    "local cur = redis.call('GET', KEYS[1]) " \
    "if ARGV[1] == '' then if cur then return 0 end " \
    "elseif cur ~= ARGV[1] then return 0 end " \
    "if KEYS[2] ~= KEYS[1] then " \
    "if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end " \
    "redis.call('DEL', KEYS[1]) " \
    "local m = redis.call('SMEMBERS', KEYS[3]) " \
    "for _, k in ipairs(m) do redis.call('DEL', k) end " \
    "redis.call('DEL', KEYS[3]) end " \
    "redis.call('SET', KEYS[2], ARGV[2]) " \
    "if ARGV[4] == '1' then redis.call('SET', KEYS[4], ARGV[3]) end " \
    "if #KEYS == 6 then redis.call('SET', KEYS[5], ARGV[5]) " \
    "redis.call('SADD', KEYS[6], KEYS[5]) end " \
    "return 1"

/* One compare-and-set write (QSSO_USERS_CAS_LUA). */
typedef struct {
    const char *from;              /* the name the record was read under */
    const char *raw;               /* the bytes read; NULL: create */
    const qsso_user_t *u;          /* what to write */
    const char *alias;             /* IdP username to link to u; NULL */
    const char *written;           /* out: the JSON now stored */
} qsso_users_write_t;

/* Writes w->u where the record read as w->raw under the name w->from
 * was, if it is still that: QSSO_STORE_OK; QSSO_STORE_CHANGED when it is
 * not (or, creating, QSSO_STORE_EXISTS: the name is taken);
 * QSSO_STORE_EXISTS when a rename's new name is taken. */
static qsso_store_rc_e qsso_users_cas_write(qsso_store_t *st, apr_pool_t *p,
                                            qsso_users_write_t *w,
                                            const char **err)
{
    const qsso_user_t *u = w->u;
    const char *json = qsso_users_encode(p, u);
    const char *name = qsso_users_lower(p, u->username);
    const char *alias = w->alias ? qsso_users_alias_key(p, w->alias) : NULL;
    const char *argv[14];
    apr_size_t lens[14];
    int has_id = u->id && *u->id, n = 0, i;
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc;

    if (json == NULL) {
        *err = "cannot encode a user record";
        return QSSO_STORE_ERROR;
    }
    argv[n++] = "EVAL";
    argv[n++] = QSSO_USERS_CAS_LUA;
    argv[n++] = alias ? "6" : "4";
    argv[n++] = qsso_users_key(p, w->from);
    argv[n++] = qsso_users_key(p, u->username);
    argv[n++] = qsso_users_sessions_key(p, w->from);
    argv[n++] = qsso_users_id_key(p, has_id ? u->id : "-");
    if (alias) {
        argv[n++] = alias;
        argv[n++] = qsso_users_aliases_key(p, u->id);
    }
    argv[n++] = w->raw ? w->raw : "";
    argv[n++] = json;
    argv[n++] = name;
    argv[n++] = has_id ? "1" : "0";
    if (alias)
        argv[n++] = apr_pstrcat(p, "id:", u->id, NULL);
    for (i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    rc = qsso_store_command(st, p, n, argv, lens, &rep, err);
    if (rc != QSSO_STORE_OK)
        return rc;
    if (rep->type != QSSO_REPLY_INTEGER) {
        *err = "the record write answered an odd reply";
        return QSSO_STORE_ERROR;
    }
    if (rep->integer == 1) {
        w->written = json;
        return QSSO_STORE_OK;
    }
    if (rep->integer < 0 || w->raw == NULL)
        return QSSO_STORE_EXISTS;
    return QSSO_STORE_CHANGED;
}

static qsso_store_rc_e qsso_users_cas(qsso_store_t *st, apr_pool_t *p,
                                      const char *from, const char *raw,
                                      const qsso_user_t *u, const char **err)
{
    qsso_users_write_t w = {from, raw, u, NULL, NULL};

    return qsso_users_cas_write(st, p, &w, err);
}

static int qsso_users_same_list(apr_pool_t *p, const apr_array_header_t *a,
                                const apr_array_header_t *b)
{
    if ((a ? a->nelts : 0) != (b ? b->nelts : 0))
        return 0;
    return a == NULL || !a->nelts
           || !strcmp(apr_array_pstrcat(p, a, '\n'),
                      apr_array_pstrcat(p, b, '\n'));
}

int qsso_users_list_has(const apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; a && i < a->nelts; i++)
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s))
            return 1;
    return 0;
}

/* The groups as they are now (cur) with this writer's own edit applied:
 * the names it added (in u, not in orig) and without those it removed.
 * Two SCIM group writes to one user at once each add or take their own
 * name, so neither undoes the other, as a whole-list copy would. */
static apr_array_header_t *qsso_users_merge_groups(
    apr_pool_t *p, const apr_array_header_t *cur,
    const apr_array_header_t *orig, const apr_array_header_t *u)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; cur && i < cur->nelts; i++) {
        const char *g = APR_ARRAY_IDX(cur, i, const char *);
        if (!qsso_users_list_has(orig, g) || qsso_users_list_has(u, g))
            APR_ARRAY_PUSH(out, const char *) = g;
    }
    for (i = 0; u && i < u->nelts; i++) {
        const char *g = APR_ARRAY_IDX(u, i, const char *);
        if (!qsso_users_list_has(orig, g) && !qsso_users_list_has(out, g))
            APR_ARRAY_PUSH(out, const char *) = g;
    }
    return out;
}

/* Onto cur (the record as it is now) goes every field that u changed
 * relative to orig (the record as u's writer read it): the writer's own
 * edits, and nothing it merely read. */
static void qsso_users_merge(apr_pool_t *p, qsso_user_t *cur,
                             const qsso_user_t *orig, const qsso_user_t *u)
{
#define QSSO_USERS_MERGE_S(f) \
    if (strcmp(orig->f ? orig->f : "", u->f ? u->f : "")) cur->f = u->f
#define QSSO_USERS_MERGE_N(f) \
    if (orig->f != u->f) cur->f = u->f
    QSSO_USERS_MERGE_S(email);
    QSSO_USERS_MERGE_S(first_name);
    QSSO_USERS_MERGE_S(last_name);
    QSSO_USERS_MERGE_S(user_type);
    QSSO_USERS_MERGE_S(division);
    QSSO_USERS_MERGE_S(unique_id);
    QSSO_USERS_MERGE_S(external_id);
    QSSO_USERS_MERGE_S(source);
    QSSO_USERS_MERGE_S(idp);
    QSSO_USERS_MERGE_N(active);
    QSSO_USERS_MERGE_N(deleted);
    QSSO_USERS_MERGE_N(sso_linked);
    QSSO_USERS_MERGE_N(created);
    QSSO_USERS_MERGE_N(updated);
    QSSO_USERS_MERGE_N(last_login);
    if (!qsso_users_same_list(p, orig->groups, u->groups))
        cur->groups = qsso_users_merge_groups(p, cur->groups, orig->groups,
                                              u->groups);
#undef QSSO_USERS_MERGE_S
#undef QSSO_USERS_MERGE_N
}

/* qsso_users_save, leaving in *now the record as written (its name may
 * be another than u's: a rename that landed meanwhile is followed by the
 * id, since the fields u changed are still this person's to change). */
static qsso_store_rc_e qsso_users_save_record(qsso_store_t *st,
                                              apr_pool_t *p,
                                              const qsso_user_t *u,
                                              qsso_user_t *now,
                                              const char **err)
{
    qsso_user_t orig, cur;
    const char *raw = u->raw, *from = u->username;
    qsso_store_rc_e rc;
    int i;

    *now = *u;
    if (raw == NULL)
        return qsso_users_cas(st, p, u->username, NULL, u, err);
    if (qsso_users_decode(p, raw, &orig) != 0) {
        *err = "the record as loaded does not decode";
        return QSSO_STORE_ERROR;
    }
    for (i = 0; i < QSSO_USERS_TRIES; i++) {
        rc = qsso_users_cas(st, p, from, raw, now, err);
        if (rc != QSSO_STORE_CHANGED)
            return rc;
        rc = qsso_users_load(st, p, from, &cur, err);
        if ((rc == QSSO_STORE_OK && strcmp(cur.id, orig.id))
            || rc == QSSO_STORE_NOTFOUND)   /* renamed, or its name reused */
            rc = qsso_users_load_by_id(st, p, orig.id, &cur, err);
        if (rc != QSSO_STORE_OK)
            return rc;
        *now = cur;
        qsso_users_merge(p, now, &orig, u);
        raw = cur.raw;
        from = cur.username;
    }
    *err = apr_psprintf(p, "the record of \"%s\" changed %d times while "
                        "being written", QSSO_LOGV(orig.username),
                        QSSO_USERS_TRIES);
    return QSSO_STORE_ERROR;
}

qsso_store_rc_e qsso_users_save(qsso_store_t *st, apr_pool_t *p,
                                const qsso_user_t *u, const char **err)
{
    qsso_user_t now;

    return qsso_users_save_record(st, p, u, &now, err);
}

/* Adds or removes username in the email index. */
static qsso_store_rc_e qsso_users_index(qsso_store_t *st, apr_pool_t *p,
                                        const char *op, const char *email,
                                        const char *username,
                                        const char **err)
{
    qsso_store_reply_t *rep;

    if (email == NULL || *email == '\0')
        return QSSO_STORE_OK;
    return qsso_store_commandv(st, p, &rep, err, op,
                               qsso_users_email_key(p, email),
                               qsso_users_lower(p, username), NULL);
}

/* The usernames recorded under email. */
static qsso_store_rc_e qsso_users_by_email(qsso_store_t *st, apr_pool_t *p,
                                           const char *email,
                                           apr_array_header_t **names,
                                           const char **err)
{
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc = qsso_store_commandv(
        st, p, &rep, err, "SMEMBERS", qsso_users_email_key(p, email), NULL);
    int i;

    *names = apr_array_make(p, 2, sizeof(const char *));
    if (rc != QSSO_STORE_OK)
        return rc;
    for (i = 0; rep->type == QSSO_REPLY_ARRAY && i < rep->elements->nelts;
         i++) {
        qsso_store_reply_t *e = APR_ARRAY_IDX(rep->elements, i,
                                              qsso_store_reply_t *);
        if (e->type == QSSO_REPLY_STRING)
            APR_ARRAY_PUSH(*names, const char *) = e->str;
    }
    return QSSO_STORE_OK;
}

qsso_store_rc_e qsso_users_event(qsso_store_t *st, apr_pool_t *p,
                                 const char **err, const char *type, ...)
{
    apr_array_header_t *args = apr_array_make(p, 12, sizeof(const char *));
    apr_array_header_t *lens = apr_array_make(p, 12, sizeof(apr_size_t));
    qsso_store_reply_t *rep;
    const char *a;
    va_list ap;
    int i;

    APR_ARRAY_PUSH(args, const char *) = "XADD";
    APR_ARRAY_PUSH(args, const char *) = QSSO_USERS_EVENTS;
    APR_ARRAY_PUSH(args, const char *) = "MAXLEN";
    APR_ARRAY_PUSH(args, const char *) = "~";
    APR_ARRAY_PUSH(args, const char *) = QSSO_USERS_EVENTS_MAX;
    APR_ARRAY_PUSH(args, const char *) = "*";
    APR_ARRAY_PUSH(args, const char *) = "type";
    APR_ARRAY_PUSH(args, const char *) = type;
    va_start(ap, type);
    while ((a = va_arg(ap, const char *)) != NULL)
        APR_ARRAY_PUSH(args, const char *) = a;
    va_end(ap);
    for (i = 0; i < args->nelts; i++)
        APR_ARRAY_PUSH(lens, apr_size_t) =
            strlen(APR_ARRAY_IDX(args, i, const char *));
    return qsso_store_command(st, p, args->nelts, (const char **)args->elts,
                              (const apr_size_t *)lens->elts, &rep, err);
}

static int qsso_users_store_err(apr_pool_t *p, qsso_err_t *err,
                                const char *what)
{
    return qsso_err_set(p, err, 3001, "user directory: %s", what);
}

static qsso_store_rc_e qsso_users_set_alias(qsso_store_t *st, apr_pool_t *p,
                                            const char *username,
                                            const char *id, const char **err)
{
    const char *key = qsso_users_alias_key(p, username);
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc = qsso_store_commandv(
        st, p, &rep, err, "SET", key, apr_pstrcat(p, "id:", id, NULL), NULL);

    return rc == QSSO_STORE_OK
               ? qsso_store_commandv(st, p, &rep, err, "SADD",
                                     qsso_users_aliases_key(p, id), key,
                                     NULL)
               : rc;
}

/* Deletes the aliases that name id (the id is gone), in one step; an
 * alias re-pointed meanwhile is kept. */
#define QSSO_USERS_UNALIAS_LUA \
    "for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do " \
    "if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end end " \
    "redis.call('DEL', KEYS[1]) return 1"

static qsso_store_rc_e qsso_users_drop_aliases(qsso_store_t *st,
                                               apr_pool_t *p, const char *id,
                                               const char **err)
{
    qsso_store_reply_t *rep;

    return qsso_store_commandv(st, p, &rep, err, "EVAL",
                               QSSO_USERS_UNALIAS_LUA, "1",
                               qsso_users_aliases_key(p, id),
                               apr_pstrcat(p, "id:", id, NULL), NULL);
}

/* A writer that lost a compare-and-set to a concurrent change: reload the
 * record and decide again (internal to the login). */
#define QSSO_USERS_AGAIN (-1)

/* How many former names a record remembers (oldest dropped first). */
#define QSSO_USERS_FORMER_MAX 16

/* Records that u was called `old` before it is renamed to its new name. */
static void qsso_users_add_former(apr_pool_t *p, qsso_user_t *u,
                                  const char *old)
{
    apr_array_header_t *f = apr_array_make(p, 4, sizeof(const char *));
    int i;

    for (i = 0; u->former_names && i < u->former_names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(u->former_names, i, const char *);
        if (strcasecmp(n, u->username) && strcasecmp(n, old))
            APR_ARRAY_PUSH(f, const char *) = n;
    }
    APR_ARRAY_PUSH(f, const char *) = qsso_users_lower(p, old);
    if (f->nelts > QSSO_USERS_FORMER_MAX) {
        memmove(f->elts, f->elts + sizeof(const char *),
                sizeof(const char *) * (apr_size_t)(f->nelts - 1));
        f->nelts--;
    }
    u->former_names = f;
}

/* QSSOModifyExistingUsername: "ana" becomes "ana#brand", keeping its data,
 * but only when its email is the one the IdP asserts. The move, and the
 * end of the sessions made under "ana" (which carry the old name), are
 * one step: a deactivation of "ana#brand" finds every session. */
static int qsso_users_rename(qsso_store_t *st, apr_pool_t *p,
                             const qsso_session_t *s, const char *bare,
                             qsso_user_t *u, qsso_users_result_t *res,
                             qsso_err_t *err)
{
    const char *e = NULL, *old = u->username;
    qsso_users_write_t w = {old, u->raw, u, NULL, NULL};

    if (strcasecmp(u->email, s->email))
        return qsso_err_set(p, err, 4010, "existing user \"%s\" has email "
                            "\"%s\" but the IdP asserts \"%s\" for \"%s\"; "
                            "not renaming it (QSSOModifyExistingUsername)",
                            QSSO_LOGV(bare), QSSO_LOGV(u->email),
                            QSSO_LOGV(s->email), QSSO_LOGV(s->username));
    u->username = s->username;
    qsso_users_add_former(p, u, old);
    switch (qsso_users_cas_write(st, p, &w, &e)) {
    case QSSO_STORE_OK:
        u->raw = w.written;
        break;
    case QSSO_STORE_CHANGED:
        return QSSO_USERS_AGAIN;
    case QSSO_STORE_EXISTS:
        return qsso_err_set(p, err, 4010, "both \"%s\" and \"%s\" exist; "
                            "not renaming", QSSO_LOGV(bare),
                            QSSO_LOGV(s->username));
    default:
        return qsso_users_store_err(p, err, e);
    }
    if (qsso_users_index(st, p, "SREM", u->email, old, &e) != QSSO_STORE_OK
        || qsso_users_index(st, p, "SADD", u->email, u->username, &e)
               != QSSO_STORE_OK)
        return qsso_users_store_err(p, err, e);
    res->outcome = QSSO_USERS_RENAMED;
    res->previous = old;
    return QSSO_OK;
}

/* One record with this email that has never signed in through SSO:
 * link it (QSSOMergeExistingUser, or a user made ahead by SCIM). */
static int qsso_users_link(qsso_store_t *st, apr_pool_t *p,
                           const qsso_session_t *s, qsso_user_t *u,
                           int *found, qsso_users_result_t *res,
                           qsso_err_t *err)
{
    apr_array_header_t *names;
    qsso_users_write_t w = {NULL, NULL, NULL, NULL, NULL};
    const char *e = NULL;
    const char *name;

    *found = 0;
    if (qsso_users_by_email(st, p, s->email, &names, &e) != QSSO_STORE_OK)
        return qsso_users_store_err(p, err, e);
    if (names->nelts == 0)
        return QSSO_OK;
    if (names->nelts > 1)
        return qsso_err_set(p, err, 4010, "%d users have email \"%s\" (%s); "
                            "not linking \"%s\" to any of them",
                            names->nelts, QSSO_LOGV(s->email),
                            QSSO_LOGV(apr_array_pstrcat(p, names, ' ')),
                            QSSO_LOGV(s->username));
    name = APR_ARRAY_IDX(names, 0, const char *);
    switch (qsso_users_load(st, p, name, u, &e)) {
    case QSSO_STORE_OK:
        break;
    case QSSO_STORE_NOTFOUND:           /* stale index entry */
        return QSSO_OK;
    default:
        return qsso_users_store_err(p, err, e);
    }
    /* The index moves after the record (qsso_users_replace, _refresh):
     * an entry whose record has another email by now is stale too, and
     * linking it would hand that record to whoever holds the old address.
     * The compare-and-set below is against these bytes, so the email
     * cannot change between this check and the link. */
    if (strcasecmp(u->email, s->email))
        return QSSO_OK;
    if (u->sso_linked)
        return qsso_err_set(p, err, 4010, "email \"%s\" belongs to user "
                            "\"%s\", who signs in through SSO as another "
                            "username; not linking \"%s\"",
                            QSSO_LOGV(s->email), QSSO_LOGV(u->username),
                            QSSO_LOGV(s->username));
    /* Later logins find the record through the alias, not by email; it
     * names the id, which goes with the record (never to the next owner
     * of its username), and the id lists it, so it goes with the id. The
     * record becomes linked in the same step, against the record as read:
     * of two first logins linking it at once, the second finds it linked
     * (4010) when it reads again. */
    u->sso_linked = 1;
    w.from = u->username;
    w.raw = u->raw;
    w.u = u;
    w.alias = s->username;
    switch (qsso_users_cas_write(st, p, &w, &e)) {
    case QSSO_STORE_OK:
        u->raw = w.written;
        break;
    case QSSO_STORE_CHANGED:
    case QSSO_STORE_EXISTS:
        return QSSO_USERS_AGAIN;
    default:
        return qsso_users_store_err(p, err, e);
    }
    *found = 1;
    res->outcome = QSSO_USERS_LINKED;
    res->previous = u->username;
    return QSSO_OK;
}

/* Deletes the link KEYS[1] if it still names ARGV[1] (a login may have
 * made it afresh meanwhile). */
#define QSSO_USERS_UNLINK_LUA \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then " \
    "redis.call('DEL', KEYS[1]) end return 1"

/* The record an earlier link pointed the IdP's username at, if the link
 * still holds: the record with that id still exists (a deleted one's
 * tombstone too, so its user stays out with 4009) and has the email
 * that made the link. A link whose record is gone is deleted and the
 * login goes on as a first one (QSSO_STORE_NOTFOUND); one whose record
 * now has another email is refused with 4020 (a person to ask). Links
 * from before ids (holding a name) are re-made with the id on first use. */
static int qsso_users_load_alias(qsso_store_t *st, apr_pool_t *p,
                                 const qsso_session_t *s, qsso_user_t *u,
                                 qsso_store_rc_e *found, qsso_err_t *err)
{
    const char *key = qsso_users_alias_key(p, s->username), *e = NULL;
    char *target = NULL, *name = NULL;
    apr_size_t len = 0;
    qsso_store_reply_t *rep;
    int by_id;
    qsso_store_rc_e rc = qsso_store_get(st, p, key, &target, &len, &e);

    *found = rc;
    if (rc == QSSO_STORE_NOTFOUND)
        return QSSO_OK;
    if (rc != QSSO_STORE_OK)
        return qsso_users_store_err(p, err, e);
    by_id = !strncmp(target, "id:", 3);
    if (by_id)
        rc = qsso_store_get(st, p, qsso_users_id_key(p, target + 3), &name,
                            &len, &e);
    else
        name = target;
    if (rc == QSSO_STORE_OK)
        rc = qsso_users_load(st, p, name, u, &e);
    if (rc == QSSO_STORE_OK && by_id && strcmp(u->id, target + 3))
        rc = QSSO_STORE_NOTFOUND;
    if (rc == QSSO_STORE_ERROR)
        return qsso_users_store_err(p, err, e);
    if (rc == QSSO_STORE_OK && strcasecmp(u->email, s->email))
        return qsso_err_set(p, err, 4020, "IdP user \"%s\" is linked to "
                            "user \"%s\" (id %s), whose email is now \"%s\" "
                            "but the IdP asserts \"%s\"; not following the "
                            "link", QSSO_LOGV(s->username),
                            QSSO_LOGV(u->username), u->id,
                            QSSO_LOGV(u->email), QSSO_LOGV(s->email));
    if (rc == QSSO_STORE_NOTFOUND)      /* its record is gone */
        rc = qsso_store_commandv(st, p, &rep, &e, "EVAL",
                                 QSSO_USERS_UNLINK_LUA, "1", key, target,
                                 NULL) == QSSO_STORE_OK
                 ? QSSO_STORE_NOTFOUND : QSSO_STORE_ERROR;
    else if (!by_id)
        rc = qsso_users_set_alias(st, p, s->username, u->id, &e);
    if (rc == QSSO_STORE_ERROR)
        return qsso_users_store_err(p, err, e);
    *found = rc;
    return QSSO_OK;
}

static void qsso_users_from_session(qsso_user_t *u, const qsso_session_t *s)
{
    u->username = s->username;
    u->email = s->email;
    u->first_name = s->first_name;
    u->last_name = s->last_name;
    u->user_type = s->user_type;
    u->division = s->division;
    u->groups = s->groups;
    u->unique_id = s->unique_id;
}

/* JIT: a new record; a parallel first login may have made it already
 * (then the login starts again and finds it). */
static int qsso_users_create(qsso_store_t *st, apr_pool_t *p,
                             const qsso_session_t *s, apr_time_t now,
                             qsso_user_t *u, qsso_users_result_t *res,
                             qsso_err_t *err)
{
    const char *e = NULL;

    memset(u, 0, sizeof(*u));
    qsso_users_from_session(u, s);
    u->id = qsso_codec_random_hex(p, 16);
    u->external_id = "";
    u->source = "jit";
    u->idp = s->idp;
    u->active = 1;
    u->created = apr_time_sec(now);
    u->updated = u->created;
    u->last_login = u->created;
    u->sso_linked = 1;
    if (u->id == NULL)
        return qsso_users_store_err(p, err, "no randomness for a user ID");
    switch (qsso_users_cas(st, p, u->username, NULL, u, &e)) {
    case QSSO_STORE_OK:
        res->outcome = QSSO_USERS_CREATED;
        if (qsso_users_index(st, p, "SADD", u->email, u->username, &e)
            != QSSO_STORE_OK)
            return qsso_users_store_err(p, err, e);
        return QSSO_OK;
    case QSSO_STORE_EXISTS:
        return QSSO_USERS_AGAIN;
    default:
        return qsso_users_store_err(p, err, e);
    }
}

/* Finds the record by username, then by the migration rules. */
static int qsso_users_find(qsso_store_t *st, apr_pool_t *p,
                           const qsso_dir_conf_t *c, const qsso_session_t *s,
                           qsso_user_t *u, int *found,
                           qsso_users_result_t *res, qsso_err_t *err)
{
    const char *e = NULL;
    qsso_store_rc_e rc = qsso_users_load(st, p, s->username, u, &e);
    int code;

    if (rc == QSSO_STORE_NOTFOUND
        && (code = qsso_users_load_alias(st, p, s, u, &rc, err)) != QSSO_OK)
        return code;
    *found = rc == QSSO_STORE_OK;
    if (rc == QSSO_STORE_ERROR)
        return qsso_users_store_err(p, err, e);
    if (!*found && c->brand_id && qsso_conf_modify_existing_username(c)) {
        const char *bare = apr_pstrndup(
            p, s->username, strlen(s->username) - strlen(c->brand_id) - 1);
        rc = qsso_users_load(st, p, bare, u, &e);
        if (rc == QSSO_STORE_ERROR)
            return qsso_users_store_err(p, err, e);
        if (rc == QSSO_STORE_OK) {
            *found = 1;
            return qsso_users_rename(st, p, s, bare, u, res, err);
        }
    }
    if (!*found && (qsso_conf_merge_existing_user(c)
                    || !qsso_conf_jit_provisioning(c)))
        return qsso_users_link(st, p, s, u, found, res, err);
    return QSSO_OK;
}

/* One field on login: from the assertion when its attribute is
 * configured, else the stored value (SCIM's, say) reaches the session. */
static void qsso_users_field(const char *attr, const char **stored,
                             const char **asserted)
{
    if (attr)
        *stored = *asserted;
    else if (*stored && **stored)
        *asserted = *stored;
}

/* QSSOUpdateAttributesOnLogin On refreshes what the IdP sends; a field
 * without a configured attribute (groups when QSSOGroupAttribute is not
 * set) is not wiped by a login that cannot know it. */
static void qsso_users_update_fields(const qsso_dir_conf_t *c,
                                     qsso_user_t *u, qsso_session_t *s)
{
    u->email = s->email;
    qsso_users_field(c->first_name_attr, &u->first_name, &s->first_name);
    qsso_users_field(c->last_name_attr, &u->last_name, &s->last_name);
    qsso_users_field(c->user_type_attr, &u->user_type, &s->user_type);
    qsso_users_field(c->division_attr, &u->division, &s->division);
    qsso_users_field(c->unique_id_attr, &u->unique_id, &s->unique_id);
    if (c->group_attr)
        u->groups = s->groups;
    else if (u->groups && u->groups->nelts)
        s->groups = u->groups;
}

/* Update on login, or keep the first values and hand them to the session.
 * The write is a compare-and-set against the record as read, changing
 * only what a login owns (the IdP's fields, idp, lastLogin, ssoLinked):
 * QSSO_USERS_AGAIN when anything changed it meanwhile (a deactivation, a
 * SCIM push), and the login reads it again. */
static int qsso_users_refresh(qsso_store_t *st, apr_pool_t *p,
                              const qsso_dir_conf_t *c, qsso_session_t *s,
                              qsso_user_t *u, apr_time_t now,
                              qsso_err_t *err)
{
    const char *e = NULL, *old_email = u->email;

    s->username = u->username;          /* a linked record keeps its name */
    if (qsso_conf_update_attributes(c)) {
        qsso_users_update_fields(c, u, s);
        u->updated = apr_time_sec(now);
    }
    else {
        s->first_name = u->first_name;
        s->last_name = u->last_name;
        s->division = u->division;
        s->groups = u->groups;
        if (*u->unique_id)
            s->unique_id = u->unique_id;
        /* The user type is re-validated from the assertion at every login
         * (QSSOValidateUserType); the stored one is what the site uses. */
        if (*u->user_type)
            s->user_type = u->user_type;
    }
    u->sso_linked = 1;
    u->idp = s->idp;
    u->last_login = apr_time_sec(now);
    switch (qsso_users_cas(st, p, u->username, u->raw, u, &e)) {
    case QSSO_STORE_OK:
        break;
    case QSSO_STORE_CHANGED:
    case QSSO_STORE_EXISTS:
        return QSSO_USERS_AGAIN;
    default:
        return qsso_users_store_err(p, err, e);
    }
    if (strcasecmp(old_email, u->email)
        && (qsso_users_index(st, p, "SREM", old_email, u->username, &e)
                != QSSO_STORE_OK
            || qsso_users_index(st, p, "SADD", u->email, u->username, &e)
                   != QSSO_STORE_OK))
        return qsso_users_store_err(p, err, e);
    return QSSO_OK;
}

int qsso_users_login(qsso_store_t *st, apr_pool_t *p,
                     const qsso_dir_conf_t *c, qsso_session_t *s,
                     apr_time_t now, qsso_users_result_t *res,
                     qsso_err_t *err)
{
    const qsso_session_t asserted = *s;
    qsso_user_t u;
    int found = 0, rc, i;

    memset(res, 0, sizeof(*res));
    /* Each pass reads the record as it is now; a pass whose write lost to
     * a concurrent change starts again from what the IdP asserted, so a
     * deactivation that landed meanwhile is seen (and refused) here. */
    for (i = 0; i < QSSO_USERS_TRIES; i++) {
        *s = asserted;
        rc = qsso_users_find(st, p, c, s, &u, &found, res, err);
        if (rc == QSSO_USERS_AGAIN)
            continue;
        if (rc != QSSO_OK)
            return rc;
        if (!found && !qsso_conf_jit_provisioning(c))
            return qsso_err_set(p, err, 4008, "user \"%s\" (email \"%s\") "
                                "is not in the user directory and "
                                "QSSOJITProvisioning is Off",
                                QSSO_LOGV(s->username), QSSO_LOGV(s->email));
        if (!found)
            rc = qsso_users_create(st, p, s, now, &u, res, err);
        else if (!u.active)
            return qsso_err_set(p, err, 4009, "user \"%s\" is marked "
                                "inactive in the user directory",
                                QSSO_LOGV(u.username));
        else
            rc = qsso_users_refresh(st, p, c, s, &u, now, err);
        if (rc != QSSO_USERS_AGAIN)
            return rc;
    }
    return qsso_users_store_err(p, err, apr_psprintf(
        p, "the record of \"%s\" changed %d times while signing in",
        QSSO_LOGV(asserted.username), QSSO_USERS_TRIES));
}

qsso_store_rc_e qsso_users_add_session(qsso_store_t *st, apr_pool_t *p,
                                       const char *username,
                                       const char *session_key,
                                       apr_int64_t expires_at,
                                       const char **err)
{
    const char *set = qsso_users_sessions_key(p, username);
    const char *at = apr_psprintf(p, "%" APR_INT64_T_FMT, expires_at);
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc;

    /* The index lives as long as the user's longest session (GT: never
     * shortened by a shorter one); expired members are harmless. */
    rc = qsso_store_commandv(st, p, &rep, err, "SADD", set, session_key,
                             NULL);
    if (rc == QSSO_STORE_OK)
        rc = qsso_store_commandv(st, p, &rep, err, "EXPIREAT", set, at, "GT",
                                 NULL);
    if (rc == QSSO_STORE_OK && rep->type == QSSO_REPLY_INTEGER
        && rep->integer == 0)   /* no TTL yet: GT does not set one */
        rc = qsso_store_commandv(st, p, &rep, err, "EXPIREAT", set, at, "NX",
                                 NULL);
    return rc;
}

/* Ends the sessions indexed under username and, when u is given, under
 * each name u had before (unless another record has that name now). */
static qsso_store_rc_e qsso_users_revoke(qsso_store_t *st, apr_pool_t *p,
                                         const char *username,
                                         const qsso_user_t *u, int *count,
                                         const char **err)
{
    apr_array_header_t *args = apr_array_make(p, 8, sizeof(const char *));
    apr_array_header_t *lens = apr_array_make(p, 8, sizeof(apr_size_t));
    int i, former = u && u->former_names ? u->former_names->nelts : 0;
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc;

    APR_ARRAY_PUSH(args, const char *) = "EVAL";
    APR_ARRAY_PUSH(args, const char *) = QSSO_USERS_REVOKE_LUA;
    APR_ARRAY_PUSH(args, const char *) = apr_itoa(p, 1 + 2 * former);
    APR_ARRAY_PUSH(args, const char *) = qsso_users_sessions_key(p,
                                                                 username);
    for (i = 0; i < former; i++) {
        const char *n = APR_ARRAY_IDX(u->former_names, i, const char *);
        APR_ARRAY_PUSH(args, const char *) = qsso_users_key(p, n);
        APR_ARRAY_PUSH(args, const char *) = qsso_users_sessions_key(p, n);
    }
    for (i = 0; i < args->nelts; i++)
        APR_ARRAY_PUSH(lens, apr_size_t) =
            strlen(APR_ARRAY_IDX(args, i, const char *));
    rc = qsso_store_command(st, p, args->nelts, (const char **)args->elts,
                            (const apr_size_t *)lens->elts, &rep, err);
    if (rc == QSSO_STORE_OK && count)
        *count = rep->type == QSSO_REPLY_INTEGER ? (int)rep->integer : 0;
    return rc;
}

qsso_store_rc_e qsso_users_revoke_sessions(qsso_store_t *st, apr_pool_t *p,
                                           const char *username, int *count,
                                           const char **err)
{
    return qsso_users_revoke(st, p, username, NULL, count, err);
}

qsso_store_rc_e qsso_users_list_sessions(qsso_store_t *st, apr_pool_t *p,
                                         const char *username,
                                         apr_array_header_t **keys,
                                         const char **err)
{
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc = qsso_store_commandv(
        st, p, &rep, err, "SMEMBERS", qsso_users_sessions_key(p, username),
        NULL);
    int i;

    *keys = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; rc == QSSO_STORE_OK && rep->type == QSSO_REPLY_ARRAY
                && i < rep->elements->nelts; i++) {
        qsso_store_reply_t *e = APR_ARRAY_IDX(rep->elements, i,
                                              qsso_store_reply_t *);
        if (e->type == QSSO_REPLY_STRING)
            APR_ARRAY_PUSH(*keys, const char *) = e->str;
    }
    return rc;
}

int qsso_users_check_active(qsso_store_t *st, apr_pool_t *p,
                            const char *username, qsso_err_t *err)
{
    qsso_user_t u;
    const char *e = NULL;

    switch (qsso_users_load(st, p, username, &u, &e)) {
    case QSSO_STORE_OK:
        if (u.active)
            return QSSO_OK;
        return qsso_err_set(p, err, 4009, "user \"%s\" was deactivated "
                            "while signing in", QSSO_LOGV(username));
    case QSSO_STORE_NOTFOUND:
        return qsso_err_set(p, err, 4009, "user \"%s\" was deleted while "
                            "signing in", QSSO_LOGV(username));
    default:
        return qsso_users_store_err(p, err, e);
    }
}

qsso_store_rc_e qsso_users_deactivate(qsso_store_t *st, apr_pool_t *p,
                                      const char *username, int delete,
                                      const char *actor, int *sessions,
                                      const char **err)
{
    qsso_user_t u, now;
    qsso_store_rc_e rc = qsso_users_load(st, p, username, &u, err);
    int n = 0;

    if (rc != QSSO_STORE_OK)
        return rc;
    u.active = 0;
    u.deleted = u.deleted || delete;
    u.updated = apr_time_sec(apr_time_now());
    /* Inactive first (only the flag, onto the record as it is then: a
     * racing login's write then fails its compare and reads the flag),
     * sessions second: a login in between re-reads the flag after indexing
     * its session (qsso_users_check_active). Every name the record has
     * had is reached. */
    if ((rc = qsso_users_save_record(st, p, &u, &now, err))
            != QSSO_STORE_OK
        || (rc = qsso_users_revoke(st, p, now.username, &now, &n, err))
               != QSSO_STORE_OK)
        return rc;
    if (sessions)
        *sessions = n;
    return qsso_users_event(st, p, err, delete ? "user.deleted"
                                               : "user.deactivated",
                            "user", now.username, "actor", actor,
                            "sessions", apr_itoa(p, n), NULL);
}

qsso_store_rc_e qsso_users_activate(qsso_store_t *st, apr_pool_t *p,
                                    const char *username, const char *actor,
                                    const char **err)
{
    qsso_user_t u;
    qsso_store_rc_e rc = qsso_users_load(st, p, username, &u, err);

    if (rc != QSSO_STORE_OK)
        return rc;
    u.active = 1;
    u.deleted = 0;
    u.updated = apr_time_sec(apr_time_now());
    if ((rc = qsso_users_save(st, p, &u, err)) != QSSO_STORE_OK)
        return rc;
    return qsso_users_event(st, p, err, "user.activated", "user",
                            u.username, "actor", actor, NULL);
}

/* Loads the records under keys (one MGET) into users; keys whose value
 * does not decode go to damaged, keys deleted meanwhile are skipped. */
static qsso_store_rc_e qsso_users_load_keys(qsso_store_t *st, apr_pool_t *p,
                                            const qsso_store_reply_t *keys,
                                            apr_array_header_t *users,
                                            apr_array_header_t *damaged,
                                            const char **err)
{
    int n = keys->elements->nelts, i;
    const char **argv = apr_palloc(p, sizeof(char *) * (apr_size_t)(n + 1));
    apr_size_t *lens = apr_palloc(p, sizeof(apr_size_t)
                                         * (apr_size_t)(n + 1));
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc;

    argv[0] = "MGET";
    lens[0] = 4;
    for (i = 0; i < n; i++) {
        const qsso_store_reply_t *k = APR_ARRAY_IDX(keys->elements, i,
                                                    qsso_store_reply_t *);
        argv[i + 1] = k->str;
        lens[i + 1] = k->len;
    }
    rc = qsso_store_command(st, p, n + 1, argv, lens, &rep, err);
    for (i = 0; rc == QSSO_STORE_OK && rep->type == QSSO_REPLY_ARRAY
                && i < rep->elements->nelts && i < n; i++) {
        const qsso_store_reply_t *v = APR_ARRAY_IDX(rep->elements, i,
                                                    qsso_store_reply_t *);
        qsso_user_t *u;

        if (v->type != QSSO_REPLY_STRING)
            continue;
        u = apr_array_push(users);
        if (qsso_users_decode(p, v->str, u) != 0) {
            apr_array_pop(users);
            if (damaged)
                APR_ARRAY_PUSH(damaged, const char *) = argv[i + 1];
        }
        else
            u->raw = v->str;
    }
    return rc;
}

static int qsso_users_cmp_name(const void *a, const void *b)
{
    return strcasecmp(((const qsso_user_t *)a)->username,
                      ((const qsso_user_t *)b)->username);
}

qsso_store_rc_e qsso_users_list(qsso_store_t *st, apr_pool_t *p,
                                apr_array_header_t **users,
                                apr_array_header_t **damaged,
                                const char **err)
{
    const char *cursor = "0";
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc;
    int i, kept;

    *users = apr_array_make(p, 64, sizeof(qsso_user_t));
    if (damaged)
        *damaged = apr_array_make(p, 1, sizeof(const char *));
    /* SCAN, not KEYS: a large directory never blocks Redis for the other
     * front ends. The pattern's colon keeps out qsso:user-email: and the
     * other indexes. SCAN may return a key twice (during a rehash), so
     * duplicates are dropped once the list is sorted. */
    do {
        const qsso_store_reply_t *next, *keys;

        rc = qsso_store_commandv(st, p, &rep, err, "SCAN", cursor, "MATCH",
                                 "qsso:user:*", "COUNT", "500", NULL);
        if (rc != QSSO_STORE_OK)
            return rc;
        if (rep->type != QSSO_REPLY_ARRAY || rep->elements->nelts != 2) {
            *err = "SCAN answered an odd reply";
            return QSSO_STORE_ERROR;
        }
        next = APR_ARRAY_IDX(rep->elements, 0, qsso_store_reply_t *);
        keys = APR_ARRAY_IDX(rep->elements, 1, qsso_store_reply_t *);
        if (keys->type == QSSO_REPLY_ARRAY && keys->elements->nelts > 0
            && (rc = qsso_users_load_keys(st, p, keys, *users,
                                          damaged ? *damaged : NULL, err))
                   != QSSO_STORE_OK)
            return rc;
        cursor = next->str ? next->str : "0";
    } while (strcmp(cursor, "0"));
    qsort((*users)->elts, (size_t)(*users)->nelts, sizeof(qsso_user_t),
          qsso_users_cmp_name);
    for (i = 1, kept = (*users)->nelts ? 1 : 0; i < (*users)->nelts; i++) {
        qsso_user_t *all = (qsso_user_t *)(*users)->elts;
        if (qsso_users_cmp_name(&all[kept - 1], &all[i]))
            all[kept++] = all[i];
    }
    (*users)->nelts = kept;
    return QSSO_STORE_OK;
}

/* ---- whole records, for SCIM -------------------------------------------- */

qsso_store_rc_e qsso_users_load_by_id(qsso_store_t *st, apr_pool_t *p,
                                      const char *id, qsso_user_t *out,
                                      const char **err)
{
    apr_array_header_t *all;
    char *name = NULL;
    apr_size_t len = 0;
    qsso_store_rc_e rc = qsso_store_get(st, p, qsso_users_id_key(p, id),
                                        &name, &len, err);
    int i;

    if (rc == QSSO_STORE_OK) {
        rc = qsso_users_load(st, p, name, out, err);
        /* A stale entry (the name now holds another record) is a miss. */
        return rc == QSSO_STORE_OK && strcmp(out->id, id)
                   ? QSSO_STORE_NOTFOUND : rc;
    }
    if (rc != QSSO_STORE_NOTFOUND)
        return rc;
    /* Records written before the index existed: look once, then index. */
    if ((rc = qsso_users_list(st, p, &all, NULL, err)) != QSSO_STORE_OK)
        return rc;
    for (i = 0; i < all->nelts; i++) {
        const qsso_user_t *u = &APR_ARRAY_IDX(all, i, qsso_user_t);
        if (strcmp(u->id, id))
            continue;
        *out = *u;
        name = qsso_users_lower(p, u->username);
        return qsso_store_set(st, p, qsso_users_id_key(p, id), name,
                              strlen(name), 0, err);
    }
    return QSSO_STORE_NOTFOUND;
}

qsso_store_rc_e qsso_users_create_record(qsso_store_t *st, apr_pool_t *p,
                                         const qsso_user_t *u,
                                         const char **err)
{
    qsso_store_rc_e rc = qsso_users_cas(st, p, u->username, NULL, u, err);

    return rc == QSSO_STORE_OK
               ? qsso_users_index(st, p, "SADD", u->email, u->username, err)
               : rc;
}

qsso_store_rc_e qsso_users_replace(qsso_store_t *st, apr_pool_t *p,
                                   const qsso_user_t *old,
                                   const qsso_user_t *u, const char **err)
{
    int renamed = strcasecmp(old->username, u->username) != 0;
    qsso_user_t n = *u;
    qsso_store_reply_t *rep;
    qsso_store_rc_e rc;

    /* The old name's sessions carry the old name: the write ends them (a
     * deactivation of the new name also looks under the former ones). */
    if (renamed)
        qsso_users_add_former(p, &n, old->username);
    if (old->raw == NULL) {
        *err = "the record to replace was not loaded";
        return QSSO_STORE_ERROR;
    }
    rc = qsso_users_cas(st, p, old->username, old->raw, &n, err);
    if (rc != QSSO_STORE_OK)
        return rc;
    if ((renamed || strcasecmp(old->email, u->email))
        && ((rc = qsso_users_index(st, p, "SREM", old->email, old->username,
                                   err)) != QSSO_STORE_OK
            || (rc = qsso_users_index(st, p, "SADD", u->email, u->username,
                                      err)) != QSSO_STORE_OK))
        return rc;
    /* A new id (a tombstone given to someone new): the old id, and every
     * link made to it, is gone. */
    if (strcmp(old->id, u->id)
        && ((rc = qsso_store_commandv(st, p, &rep, err, "DEL",
                                      qsso_users_id_key(p, old->id), NULL))
                != QSSO_STORE_OK
            || (rc = qsso_users_drop_aliases(st, p, old->id, err))
                   != QSSO_STORE_OK))
        return rc;
    return QSSO_STORE_OK;
}

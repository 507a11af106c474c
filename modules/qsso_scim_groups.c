/*
 * SCIM /Groups (RFC 7643 4.2). A group is a record under
 * qsso:group:<id> (displayName, externalId, member user ids) with
 * qsso:group-name:<lower-case displayName> -> id for uniqueness and
 * lookups. Membership is mirrored into the groups field of each member's
 * user record (qsso_scim_members.c), which holds display names: that is
 * what a login puts in the session, QSSO_GROUPS exports and Require
 * qsso-group tests. Every change to members or to the display name edits
 * both sides.
 *
 * The group record is the truth, and it is written by compare-and-set (a
 * Lua script that writes only while the record still holds the bytes the
 * call loaded), so the If-Match check of qsso_scim_resource_write holds
 * up to the write and two clients with one ETag cannot both win. Around
 * that write, access is taken away first and given last: a removed
 * member or a former name leaves the users' records before the group
 * record changes, an added member or a new name reaches them after, and
 * afterwards each writer takes away again what it took away and takes
 * back what it gave if its record was replaced meanwhile (settle). So a
 * write that fails half-way, loses the compare-and-set or overlaps
 * another one never leaves a user holding a membership the record does
 * not list (at worst one it does list is missing until the next write of
 * the group, or a retry of this one, puts it back; a write that changes
 * nothing repairs that too). Each user record's groups are changed by
 * qsso_users_save, a compare-and-set that re-applies only this writer's
 * change onto the record as it is stored, so a login or another group's
 * write to the same user in between is kept (see qsso_scim_members.c).
 * Needs no request.
 */
#include <string.h>
#include <jansson.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_codec.h"
#include "qsso_scim_filter.h"
#include "qsso_scim_groups.h"
#include "qsso_scim_members.h"
#include "qsso_scim_schema.h"
#include "qsso_users.h"

#define QSSO_SCIM_GROUPS_NAME_MAX 256
#define QSSO_SCIM_GROUPS_MEMBERS_MAX 100000

typedef struct {
    const char *id;
    const char *display_name;
    const char *external_id;       /* "" = none */
    apr_array_header_t *members;   /* of const char *: user ids */
    apr_int64_t created;           /* Unix seconds */
    apr_int64_t updated;
    const char *stored;            /* the record's bytes as loaded, for the
                                    * compare-and-set; NULL: not stored */
} qsso_scim_group_t;

static char *qsso_scim_groups_lower(apr_pool_t *p, const char *s)
{
    char *out = apr_pstrdup(p, s), *o;

    for (o = out; *o; o++)
        *o = (char)apr_tolower(*o);
    return out;
}

static const char *qsso_scim_groups_key(apr_pool_t *p, const char *id)
{
    return apr_pstrcat(p, "qsso:group:", id, NULL);
}

static const char *qsso_scim_groups_name_key(apr_pool_t *p,
                                             const char *name)
{
    return apr_pstrcat(p, "qsso:group-name:",
                       qsso_scim_groups_lower(p, name), NULL);
}

/* ---- records ----------------------------------------------------------- */

static char *qsso_scim_groups_encode(apr_pool_t *p, const qsso_scim_group_t *g)
{
    json_t *m = json_array(), *o;
    char *dump, *out;
    int i;

    for (i = 0; i < g->members->nelts; i++)
        json_array_append_new(m, json_string(
            APR_ARRAY_IDX(g->members, i, const char *)));
    o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:I}", "id", g->id,
                  "displayName", g->display_name, "externalId",
                  g->external_id, "members", m, "created",
                  (json_int_t)g->created, "updated", (json_int_t)g->updated);
    dump = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    out = dump ? apr_pstrdup(p, dump) : NULL;
    free(dump);
    return out;
}

static int qsso_scim_groups_decode(apr_pool_t *p, const char *data,
                                   qsso_scim_group_t *g)
{
    json_t *o = json_loads(data, JSON_REJECT_DUPLICATES, NULL), *m, *x;
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "displayName"));
    const char *ext = json_string_value(json_object_get(o, "externalId"));
    size_t i;

    if (id == NULL || name == NULL) {
        json_decref(o);
        return -1;
    }
    g->id = apr_pstrdup(p, id);
    g->display_name = apr_pstrdup(p, name);
    g->external_id = apr_pstrdup(p, ext ? ext : "");
    g->created = json_integer_value(json_object_get(o, "created"));
    g->updated = json_integer_value(json_object_get(o, "updated"));
    m = json_object_get(o, "members");
    g->members = apr_array_make(p, (int)json_array_size(m) + 1,
                                sizeof(const char *));
    json_array_foreach(m, i, x)
        if (json_is_string(x))
            APR_ARRAY_PUSH(g->members, const char *) =
                apr_pstrdup(p, json_string_value(x));
    json_decref(o);
    return 0;
}

/* 0, 404 or 503 (set). */
static int qsso_scim_groups_load(qsso_scim_call_t *c, const char *id,
                                 qsso_scim_group_t *g)
{
    char *val = NULL;
    apr_size_t len = 0;
    const char *e = NULL, *s;

    for (s = id; apr_isalnum(*s); s++)
        ;
    if (*s || s - id > 64)
        return qsso_scim_fail(c, 404, NULL, "no group has id \"%s\"", id);
    switch (qsso_store_get(c->st, c->p, qsso_scim_groups_key(c->p, id), &val,
                           &len, &e)) {
    case QSSO_STORE_OK:
        if (qsso_scim_groups_decode(c->p, val, g) == 0) {
            g->stored = val;
            return 0;
        }
        return qsso_scim_fail_store(c, "loading a group", "damaged record");
    case QSSO_STORE_NOTFOUND:
        return qsso_scim_fail(c, 404, NULL, "no group has id \"%s\"", id);
    default:
        return qsso_scim_fail_store(c, "loading a group", e);
    }
}

static int qsso_scim_groups_save(qsso_scim_call_t *c,
                                 const qsso_scim_group_t *g)
{
    const char *json = qsso_scim_groups_encode(c->p, g), *e = NULL;

    if (json == NULL)
        return qsso_scim_fail(c, 400, "invalidValue", "the group cannot be "
                              "encoded");
    if (qsso_store_set(c->st, c->p, qsso_scim_groups_key(c->p, g->id), json,
                       strlen(json), 0, &e) != QSSO_STORE_OK)
        return qsso_scim_fail_store(c, "saving a group", e);
    return 0;
}

/* Writes n over old (n NULL: deletes the record) only while the record
 * still holds old's bytes, and in the same step drops the name index
 * entry of drop_name (NULL: none) if it still names this group. */
#define QSSO_SCIM_GROUPS_SWAP_LUA \
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end " \
    "if ARGV[2] == '' then redis.call('DEL', KEYS[1]) " \
    "else redis.call('SET', KEYS[1], ARGV[2]) end " \
    "if KEYS[2] and redis.call('GET', KEYS[2]) == ARGV[3] then " \
    "redis.call('DEL', KEYS[2]) end return 1"

/* 0 (written), QSSO_SCIM_CHANGED (nothing written), or 400/503 (set). */
static int qsso_scim_groups_swap(qsso_scim_call_t *c,
                                 const qsso_scim_group_t *old,
                                 const qsso_scim_group_t *n,
                                 const char *drop_name)
{
    const char *json = n ? qsso_scim_groups_encode(c->p, n) : "";
    const char *argv[8], *e = NULL;
    apr_size_t lens[8];
    qsso_store_reply_t *rep;
    int argc = 0, i;

    if (json == NULL)
        return qsso_scim_fail(c, 400, "invalidValue", "the group cannot be "
                              "encoded");
    argv[argc++] = "EVAL";
    argv[argc++] = QSSO_SCIM_GROUPS_SWAP_LUA;
    argv[argc++] = drop_name ? "2" : "1";
    argv[argc++] = qsso_scim_groups_key(c->p, old->id);
    if (drop_name)
        argv[argc++] = qsso_scim_groups_name_key(c->p, drop_name);
    argv[argc++] = old->stored;
    argv[argc++] = json;
    argv[argc++] = old->id;
    for (i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (qsso_store_command(c->st, c->p, argc, argv, lens, &rep, &e)
        != QSSO_STORE_OK)
        return qsso_scim_fail_store(c, n ? "saving a group"
                                         : "deleting a group", e);
    return rep->type == QSSO_REPLY_INTEGER && rep->integer == 1
               ? 0 : QSSO_SCIM_CHANGED;
}

/* Gives back the name index entry of name if it still names id: a rename
 * that did not happen must not keep the new name taken. */
#define QSSO_SCIM_GROUPS_RELEASE_LUA \
    "if redis.call('GET', KEYS[1]) == ARGV[1] then " \
    "return redis.call('DEL', KEYS[1]) end return 0"

static void qsso_scim_groups_release(qsso_scim_call_t *c, const char *name,
                                     const char *id)
{
    qsso_store_reply_t *rep;
    const char *e = NULL;

    /* Best effort: a name left taken is a 409 for a later client, which
     * a rename back or a DELETE of the group clears. */
    qsso_store_commandv(c->st, c->p, &rep, &e, "EVAL",
                        QSSO_SCIM_GROUPS_RELEASE_LUA, "1",
                        qsso_scim_groups_name_key(c->p, name), id, NULL);
}

/* Every group (SCAN, one MGET per batch), sorted by display name. */
static int qsso_scim_groups_cmp(const void *a, const void *b)
{
    return strcasecmp(((const qsso_scim_group_t *)a)->display_name,
                      ((const qsso_scim_group_t *)b)->display_name);
}

static int qsso_scim_groups_list(qsso_scim_call_t *c,
                                 apr_array_header_t **out)
{
    const char *cursor = "0", *e = NULL;
    qsso_store_reply_t *rep, *vals;
    int i;

    *out = apr_array_make(c->p, 16, sizeof(qsso_scim_group_t));
    do {
        const qsso_store_reply_t *keys;
        const char **argv;
        apr_size_t *lens;
        if (qsso_store_commandv(c->st, c->p, &rep, &e, "SCAN", cursor,
                                "MATCH", "qsso:group:*", "COUNT", "500",
                                NULL) != QSSO_STORE_OK
            || rep->type != QSSO_REPLY_ARRAY || rep->elements->nelts != 2)
            return qsso_scim_fail_store(c, "listing groups", e);
        cursor = APR_ARRAY_IDX(rep->elements, 0, qsso_store_reply_t *)->str;
        keys = APR_ARRAY_IDX(rep->elements, 1, qsso_store_reply_t *);
        if (keys->type != QSSO_REPLY_ARRAY || keys->elements->nelts == 0)
            continue;
        argv = apr_palloc(c->p, sizeof(char *) * (keys->elements->nelts + 1));
        lens = apr_palloc(c->p, sizeof(*lens) * (keys->elements->nelts + 1));
        argv[0] = "MGET";
        lens[0] = 4;
        for (i = 0; i < keys->elements->nelts; i++) {
            const qsso_store_reply_t *k = APR_ARRAY_IDX(
                keys->elements, i, qsso_store_reply_t *);
            argv[i + 1] = k->str;
            lens[i + 1] = k->len;
        }
        if (qsso_store_command(c->st, c->p, keys->elements->nelts + 1, argv,
                               lens, &vals, &e) != QSSO_STORE_OK)
            return qsso_scim_fail_store(c, "listing groups", e);
        for (i = 0; vals->type == QSSO_REPLY_ARRAY
                    && i < vals->elements->nelts; i++) {
            const qsso_store_reply_t *v = APR_ARRAY_IDX(
                vals->elements, i, qsso_store_reply_t *);
            if (v->type == QSSO_REPLY_STRING
                && qsso_scim_groups_decode(c->p, v->str,
                                           apr_array_push(*out)))
                apr_array_pop(*out);
        }
    } while (cursor && strcmp(cursor, "0"));
    qsort((*out)->elts, (size_t)(*out)->nelts, sizeof(qsso_scim_group_t),
          qsso_scim_groups_cmp);
    return 0;
}

/* ---- the members' user records ----------------------------------------- */

static int qsso_scim_groups_has(const apr_array_header_t *a, const char *s,
                                int nocase)
{
    int i;

    for (i = 0; a && i < a->nelts; i++)
        if (nocase ? !strcasecmp(APR_ARRAY_IDX(a, i, const char *), s)
                   : !strcmp(APR_ARRAY_IDX(a, i, const char *), s))
            return 1;
    return 0;
}

/* After this call's write and its marks. A later writer takes access
 * away before its own write, so a mark of this call that landed after
 * that could have undone it: each writer takes away again what it took
 * away (old's name from the members n no longer lists, or from all of
 * old's members on a rename or DELETE; n NULL), and one whose record was
 * replaced meanwhile takes back the marks the record no longer covers.
 * Only ever takes access away; best effort (a retry or the next write of
 * the group puts back any it should not have). */
static void qsso_scim_groups_settle(qsso_scim_call_t *c,
                                    const qsso_scim_group_t *old,
                                    const qsso_scim_group_t *n)
{
    qsso_scim_call_t probe = *c;
    qsso_scim_group_t now;
    int same, rc;

    if (old)
        qsso_scim_members_mark(&probe, old->display_name, old->members,
                               n && !strcmp(old->display_name,
                                            n->display_name)
                                   ? n->members : NULL, 0);
    if (n == NULL)
        return;
    probe = *c;
    rc = qsso_scim_groups_load(&probe, n->id, &now);
    if (rc && rc != 404)
        return;
    if (rc == 0 && !strcmp(now.stored, qsso_scim_groups_encode(c->p, n)))
        return;
    same = rc == 0 && !strcmp(now.display_name, n->display_name);
    qsso_scim_members_mark(&probe, n->display_name, n->members,
                           same ? now.members : NULL, 0);
}

/* After a lost compare-and-set: the members of the group as stored now
 * get its name back, which this call may have taken away first. */
static void qsso_scim_groups_repair(qsso_scim_call_t *c, const char *id)
{
    qsso_scim_call_t probe = *c;
    qsso_scim_group_t now;

    /* Best effort: the next write of the group does it again. */
    if (qsso_scim_groups_load(&probe, id, &now) == 0
        && qsso_scim_members_mark(&probe, now.display_name, now.members,
                                  NULL, 1) == 0)
        qsso_scim_groups_settle(c, NULL, &now);
}

/* ---- resource <-> record ----------------------------------------------- */

static json_t *qsso_scim_groups_json(qsso_scim_call_t *c,
                                     const qsso_scim_group_t *g,
                                     const char **version)
{
    const char *v = qsso_scim_version(c->p, qsso_scim_groups_encode(c->p, g));
    json_t *o = json_pack("{s:[s], s:s, s:s}", "schemas", QSSO_SCIM_URN_GROUP,
                          "id", g->id, "displayName", g->display_name);
    json_t *m = json_array();
    int i;

    if (*g->external_id)
        json_object_set_new(o, "externalId", json_string(g->external_id));
    for (i = 0; i < g->members->nelts; i++) {
        const char *id = APR_ARRAY_IDX(g->members, i, const char *);
        json_array_append_new(m, json_pack("{s:s, s:s++, s:s}", "value", id,
                                           "$ref", c->base, "/Users/", id,
                                           "type", "User"));
    }
    if (!qsso_scim_excludes(c, "members"))
        json_object_set_new(o, "members", m);
    else
        json_decref(m);
    json_object_set_new(o, "meta", qsso_scim_meta(
        c, "Group", apr_pstrcat(c->p, "/Groups/", g->id, NULL), g->created,
        g->updated, v));
    if (version)
        *version = v;
    return o;
}

static int qsso_scim_groups_answer(qsso_scim_call_t *c,
                                   const qsso_scim_group_t *g, int status)
{
    c->out = qsso_scim_keep(c->p, qsso_scim_groups_json(c, g, &c->etag));
    c->subject = g->display_name;
    if (status == 201)
        c->location = apr_pstrcat(c->p, c->base, "/Groups/", g->id, NULL);
    return c->status = status;
}

/* The user ids of a members value: [{"value": id}, ...], added to (or,
 * with remove, taken from) list. */
static int qsso_scim_groups_members(qsso_scim_call_t *c, json_t *v,
                                    apr_array_header_t *list, int remove)
{
    json_t *x;
    size_t i;
    int k;

    if (!json_is_array(v))
        return qsso_scim_fail(c, 400, "invalidValue", "members must be an "
                              "array of {\"value\": user id}");
    json_array_foreach(v, i, x) {
        const char *id = json_string_value(json_object_get(x, "value"));
        if (id == NULL || *id == '\0')
            return qsso_scim_fail(c, 400, "invalidValue", "members[%d] has "
                                  "no value", (int)i);
        for (k = 0; remove && k < list->nelts; k++)
            if (!strcmp(APR_ARRAY_IDX(list, k, const char *), id))
                APR_ARRAY_IDX(list, k, const char *) = "";
        if (!remove && !qsso_scim_groups_has(list, id, 0))
            APR_ARRAY_PUSH(list, const char *) = apr_pstrdup(c->p, id);
    }
    if (list->nelts > QSSO_SCIM_GROUPS_MEMBERS_MAX)
        return qsso_scim_fail(c, 400, "invalidValue", "a group has at most "
                              "%d members", QSSO_SCIM_GROUPS_MEMBERS_MAX);
    return 0;
}

/* The list without the ids blanked by a removal. */
static void qsso_scim_groups_compact(apr_array_header_t *list)
{
    int i, kept = 0;

    for (i = 0; i < list->nelts; i++)
        if (*APR_ARRAY_IDX(list, i, const char *))
            APR_ARRAY_IDX(list, kept++, const char *) =
                APR_ARRAY_IDX(list, i, const char *);
    list->nelts = kept;
}

/* One attribute of a group: displayName, externalId or members. lenient:
 * other names are ignored (bodies) rather than invalidPath (a path). */
static int qsso_scim_groups_apply(qsso_scim_call_t *c, qsso_scim_group_t *g,
                                  qsso_scim_op_e op,
                                  const qsso_scim_path_t *path, json_t *v,
                                  int lenient)
{
    const qsso_scim_attr_t *a = NULL;
    int i;

    if (path->urn == NULL || !strcmp(path->urn, QSSO_SCIM_URN_GROUP))
        a = qsso_scim_schema_find(qsso_scim_schema_attrs(
            QSSO_SCIM_URN_GROUP), path->attr);
    if (a == NULL || a->field == QSSO_SCIM_F_READONLY)
        return lenient ? 0 : qsso_scim_fail(c, 400, a ? "mutability"
                                                      : "invalidPath",
                                            "Group has no writable "
                                            "attribute \"%s\"", path->attr);
    if ((path->sub || path->filter) && (a->field != QSSO_SCIM_F_MEMBERS
                                        || op != QSSO_SCIM_OP_REMOVE))
        return qsso_scim_fail(c, 400, "invalidPath", "only remove takes "
                              "members[value eq \"id\"]");
    switch (a->field) {
    case QSSO_SCIM_F_DISPLAY_NAME:
        if (op == QSSO_SCIM_OP_REMOVE)
            return qsso_scim_fail(c, 400, "invalidValue", "displayName is "
                                  "required");
        if (qsso_scim_string(c, v, "displayName", QSSO_SCIM_GROUPS_NAME_MAX,
                             0, &g->display_name))
            return c->status;
        return *g->display_name ? 0 : qsso_scim_fail(
            c, 400, "invalidValue", "displayName is empty");
    case QSSO_SCIM_F_EXTERNAL_ID:
        if (op == QSSO_SCIM_OP_REMOVE) {
            g->external_id = "";
            return 0;
        }
        return qsso_scim_string(c, v, "externalId", 1000, 1,
                                &g->external_id);
    default:
        break;
    }
    /* members: Okta removes with members[value eq "id"], Entra ID with
     * path "members" and a value listing the ids. */
    for (i = 0; path->filter && i < path->filter->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(path->filter, i,
                                                   qsso_scim_cond_t);
        int k;
        if (strcmp(f->attr, "value") || f->type != QSSO_SCIM_VALUE_STRING)
            return qsso_scim_fail(c, 400, "invalidFilter", "members are "
                                  "selected with [value eq \"id\"]");
        for (k = 0; k < g->members->nelts; k++)
            if (!strcmp(APR_ARRAY_IDX(g->members, k, const char *), f->str))
                APR_ARRAY_IDX(g->members, k, const char *) = "";
    }
    if (op == QSSO_SCIM_OP_REPLACE || (op == QSSO_SCIM_OP_REMOVE
                                       && !path->filter && v == NULL))
        g->members->nelts = 0;
    if (!path->filter && v && !json_is_null(v)
        && qsso_scim_groups_members(c, v, g->members,
                                    op == QSSO_SCIM_OP_REMOVE))
        return c->status;
    qsso_scim_groups_compact(g->members);
    return 0;
}

static int qsso_scim_groups_apply_body(qsso_scim_call_t *c,
                                       qsso_scim_group_t *g,
                                       qsso_scim_op_e op, json_t *body)
{
    qsso_scim_path_t path;
    const char *key;
    json_t *v;

    json_object_foreach(body, key, v) {
        if (qsso_scim_filter_parse_path(c->p, key, &path) != NULL
            || path.filter || path.sub)
            continue;
        if (qsso_scim_groups_apply(c, g, op, &path, v, 1))
            return c->status;
    }
    return 0;
}

/* ---- the calls --------------------------------------------------------- */

/* Takes displayName for the group id: 0, 409 or 503 (set). */
static int qsso_scim_groups_claim(qsso_scim_call_t *c, const char *name,
                                  const char *id)
{
    const char *e = NULL;

    switch (qsso_store_add(c->st, c->p, qsso_scim_groups_name_key(c->p, name),
                           id, strlen(id), 0, &e)) {
    case QSSO_STORE_OK:
        return 0;
    case QSSO_STORE_EXISTS:
        return qsso_scim_fail(c, 409, "uniqueness", "a group named \"%s\" "
                              "exists", name);
    default:
        return qsso_scim_fail_store(c, "saving a group", e);
    }
}

static int qsso_scim_groups_create(qsso_scim_call_t *c)
{
    qsso_scim_group_t g;

    memset(&g, 0, sizeof(g));
    g.id = qsso_codec_random_hex(c->p, 16);
    g.display_name = g.external_id = "";
    g.members = apr_array_make(c->p, 4, sizeof(const char *));
    g.created = g.updated = apr_time_sec(apr_time_now());
    if (g.id == NULL)
        return qsso_scim_fail(c, 503, NULL, "no randomness for a group id");
    if (qsso_scim_groups_apply_body(c, &g, QSSO_SCIM_OP_REPLACE, c->body))
        return c->status;
    if (*g.display_name == '\0')
        return qsso_scim_fail(c, 400, "invalidValue", "displayName is "
                              "required");
    if (qsso_scim_members_check_added(c, NULL, g.members)
        || qsso_scim_groups_claim(c, g.display_name, g.id)
        || qsso_scim_groups_save(c, &g)
        || qsso_scim_members_mark(c, g.display_name, g.members, NULL, 1))
        return c->status;
    qsso_scim_groups_settle(c, NULL, &g);
    return qsso_scim_groups_answer(c, &g, 201);
}

/* Saves n over old: the new name's index entry, the users who lose the
 * group, the record (compare-and-set, which drops the old name's entry),
 * then the users who gain it. QSSO_SCIM_CHANGED when old is no longer
 * stored; nothing of n is left behind then. */
static int qsso_scim_groups_commit(qsso_scim_call_t *c,
                                   const qsso_scim_group_t *old,
                                   qsso_scim_group_t *n)
{
    int renamed = strcmp(old->display_name, n->display_name) != 0;
    int moved = renamed && strcasecmp(old->display_name, n->display_name);
    int rc;

    /* Nothing to write: the members' records are brought in line, which
     * finishes a write that failed after its record was saved. */
    if (!strcmp(qsso_scim_groups_encode(c->p, old),
                qsso_scim_groups_encode(c->p, n))) {
        if (qsso_scim_members_mark(c, n->display_name, n->members, NULL, 1))
            return c->status;
        qsso_scim_groups_settle(c, NULL, n);
        return qsso_scim_groups_answer(c, n, 200);
    }
    n->updated = apr_time_sec(apr_time_now());
    if (qsso_scim_members_check_added(c, old->members, n->members)
        || (moved && qsso_scim_groups_claim(c, n->display_name, n->id)))
        return c->status;
    rc = qsso_scim_members_mark(c, old->display_name, old->members,
                               renamed ? NULL : n->members, 0);
    if (rc == 0)
        rc = qsso_scim_groups_swap(c, old, n,
                                   moved ? old->display_name : NULL);
    if (rc && moved)
        qsso_scim_groups_release(c, n->display_name, n->id);
    if (rc == QSSO_SCIM_CHANGED)
        qsso_scim_groups_repair(c, old->id);
    if (rc)
        return rc == QSSO_SCIM_CHANGED ? rc : c->status;
    if (qsso_scim_members_mark(c, n->display_name, n->members, NULL, 1))
        return c->status;
    qsso_scim_groups_settle(c, old, n);
    return qsso_scim_groups_answer(c, n, 200);
}

/* DELETE: the members lose the group, then the record and its name entry
 * go in one compare-and-set. */
static int qsso_scim_groups_remove(qsso_scim_call_t *c, const void *rec)
{
    const qsso_scim_group_t *g = rec;
    int rc = qsso_scim_members_mark(c, g->display_name, g->members, NULL, 0);

    if (rc == 0)
        rc = qsso_scim_groups_swap(c, g, NULL, g->display_name);
    if (rc == QSSO_SCIM_CHANGED)
        qsso_scim_groups_repair(c, g->id);
    if (rc)
        return rc == QSSO_SCIM_CHANGED ? rc : c->status;
    qsso_scim_groups_settle(c, g, NULL);
    return c->status = 204;
}

/* ---- the shared PUT/PATCH/DELETE path (qsso_scim_resource_write) ------- */

static int qsso_scim_groups_load_hook(qsso_scim_call_t *c, void *rec)
{
    qsso_scim_group_t *g = rec;

    if (qsso_scim_groups_load(c, c->id, g))
        return c->status;
    c->subject = g->display_name;
    return 0;
}

static const char *qsso_scim_groups_version_hook(qsso_scim_call_t *c,
                                                 const void *rec)
{
    return qsso_scim_version(c->p, qsso_scim_groups_encode(c->p, rec));
}

static void qsso_scim_groups_copy_hook(qsso_scim_call_t *c, void *rec,
                                       const void *from, int put)
{
    qsso_scim_group_t *n = rec;
    const qsso_scim_group_t *old = from;

    *n = *old;
    n->members = put ? apr_array_make(c->p, 4, sizeof(const char *))
                     : apr_array_copy(c->p, old->members);
    if (put)
        n->display_name = n->external_id = "";
}

static int qsso_scim_groups_apply_hook(qsso_scim_call_t *c, void *rec,
                                       qsso_scim_op_e op,
                                       const qsso_scim_path_t *path,
                                       json_t *v, int lenient)
{
    return qsso_scim_groups_apply(c, rec, op, path, v, lenient);
}

static int qsso_scim_groups_apply_body_hook(qsso_scim_call_t *c, void *rec,
                                            qsso_scim_op_e op, json_t *body)
{
    return qsso_scim_groups_apply_body(c, rec, op, body);
}

static int qsso_scim_groups_check_hook(qsso_scim_call_t *c, const void *rec)
{
    return *((const qsso_scim_group_t *)rec)->display_name
               ? 0 : qsso_scim_fail(c, 400, "invalidValue", "displayName "
                                    "is required");
}

static int qsso_scim_groups_commit_hook(qsso_scim_call_t *c, const void *old,
                                        void *n)
{
    return qsso_scim_groups_commit(c, old, n);
}

static const qsso_scim_type_t qsso_scim_groups_type = {
    "group", sizeof(qsso_scim_group_t), qsso_scim_groups_load_hook,
    qsso_scim_groups_version_hook, qsso_scim_groups_copy_hook,
    qsso_scim_groups_apply_hook, qsso_scim_groups_apply_body_hook,
    qsso_scim_groups_check_hook, qsso_scim_groups_commit_hook,
    qsso_scim_groups_remove,
};

static int qsso_scim_groups_match(const qsso_scim_group_t *g,
                                  const apr_array_header_t *conds)
{
    int i, ok = 1;

    for (i = 0; ok && i < conds->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(conds, i,
                                                   qsso_scim_cond_t);
        if (!strcmp(f->attr, "displayname"))
            ok = qsso_scim_filter_match_str(f, g->display_name, 0);
        else if (!strcmp(f->attr, "externalid"))
            ok = qsso_scim_filter_match_str(f, g->external_id, 1);
        else if (!strcmp(f->attr, "id"))
            ok = qsso_scim_filter_match_str(f, g->id, 1);
        else
            ok = f->type == QSSO_SCIM_VALUE_STRING
                 && qsso_scim_groups_has(g->members, f->str, 0);
    }
    return ok;
}

static int qsso_scim_groups_query(qsso_scim_call_t *c)
{
    static const char *const filterable[] = {"displayname", "externalid",
                                             "id", "members.value"};
    apr_array_header_t *conds = NULL, *groups;
    json_t *page = qsso_scim_keep(c->p, json_array());
    const char *why;
    int start, count, total = 0, i, k;

    if (c->filter && (why = qsso_scim_filter_parse(c->p, c->filter, &conds)))
        return qsso_scim_fail(c, 400, "invalidFilter", "filter: %s", why);
    for (i = 0; conds && i < conds->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(conds, i,
                                                   qsso_scim_cond_t);
        for (k = 0; k < 4 && strcmp(f->attr, filterable[k]); k++)
            ;
        if (k == 4 || f->type == QSSO_SCIM_VALUE_BOOL)
            return qsso_scim_fail(c, 400, "invalidFilter", "filtering Groups "
                                  "on \"%s\" with this value is not "
                                  "supported", f->attr);
    }
    if (qsso_scim_page(c, &start, &count) || qsso_scim_groups_list(c, &groups))
        return c->status;
    for (i = 0; i < groups->nelts; i++) {
        const qsso_scim_group_t *g = &APR_ARRAY_IDX(groups, i,
                                                    qsso_scim_group_t);
        if (conds && !qsso_scim_groups_match(g, conds))
            continue;
        if (++total >= start && (int)json_array_size(page) < count)
            json_array_append_new(page, qsso_scim_groups_json(c, g, NULL));
    }
    c->out = qsso_scim_keep(c->p, qsso_scim_list(start, total,
                                                 json_incref(page)));
    return c->status = 200;
}

int qsso_scim_groups_handle(qsso_scim_call_t *c)
{
    qsso_scim_group_t g;

    if (!strcmp(c->method, "GET") && c->id == NULL)
        return qsso_scim_groups_query(c);
    if (!strcmp(c->method, "GET"))
        return qsso_scim_groups_load(c, c->id, &g)
                   ? c->status : qsso_scim_groups_answer(c, &g, 200);
    if (!strcmp(c->method, "POST") && c->id == NULL)
        return qsso_scim_groups_create(c);
    if (c->id && (!strcmp(c->method, "PUT") || !strcmp(c->method, "PATCH")
                  || !strcmp(c->method, "DELETE")))
        return qsso_scim_resource_write(c, &qsso_scim_groups_type);
    return qsso_scim_fail(c, 405, NULL, "%s is not allowed here",
                          c->method);
}

/* ---- for /Users -------------------------------------------------------- */

/* The ids of the groups named in names (one MGET); NULL entries for
 * names that are not SCIM groups. 0 or 503 (set). */
static int qsso_scim_groups_ids(qsso_scim_call_t *c,
                                const apr_array_header_t *names,
                                const char ***ids)
{
    const char **argv = apr_palloc(c->p, sizeof(char *) * (names->nelts + 1));
    apr_size_t *lens = apr_palloc(c->p, sizeof(*lens) * (names->nelts + 1));
    qsso_store_reply_t *rep;
    const char *e = NULL;
    int i;

    argv[0] = "MGET";
    lens[0] = 4;
    for (i = 0; i < names->nelts; i++) {
        argv[i + 1] = qsso_scim_groups_name_key(
            c->p, APR_ARRAY_IDX(names, i, const char *));
        lens[i + 1] = strlen(argv[i + 1]);
    }
    if (qsso_store_command(c->st, c->p, names->nelts + 1, argv, lens, &rep,
                           &e) != QSSO_STORE_OK
        || rep->type != QSSO_REPLY_ARRAY
        || rep->elements->nelts != names->nelts)
        return qsso_scim_fail_store(c, "finding groups", e);
    *ids = apr_pcalloc(c->p, sizeof(char *) * (names->nelts + 1));
    for (i = 0; i < names->nelts; i++) {
        const qsso_store_reply_t *v = APR_ARRAY_IDX(rep->elements, i,
                                                    qsso_store_reply_t *);
        (*ids)[i] = v->type == QSSO_REPLY_STRING ? v->str : NULL;
    }
    return 0;
}

json_t *qsso_scim_groups_of_user(qsso_scim_call_t *c, const qsso_user_t *u)
{
    qsso_scim_call_t probe = *c;
    json_t *out;
    const char **ids;
    int i;

    /* Best effort: a user is still shown when this lookup fails. */
    if (qsso_scim_groups_ids(&probe, u->groups, &ids))
        return NULL;
    out = json_array();
    for (i = 0; i < u->groups->nelts; i++)
        if (ids[i])
            json_array_append_new(out, json_pack(
                "{s:s, s:s, s:s++, s:s}", "value", ids[i], "display",
                APR_ARRAY_IDX(u->groups, i, const char *), "$ref", c->base,
                "/Groups/", ids[i], "type", "direct"));
    if (json_array_size(out) == 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* Takes the user uid out of the members of group id, by compare-and-set
 * (a PATCH of the group may be running too). 0, or 503 (set on probe). */
static int qsso_scim_groups_leave(qsso_scim_call_t *probe, const char *id,
                                  const char *uid)
{
    int attempt, k, rc;

    for (attempt = 0; attempt < QSSO_SCIM_ATTEMPTS; attempt++) {
        qsso_scim_group_t g, n;
        /* A name whose group went away meanwhile is nothing to leave. */
        if ((rc = qsso_scim_groups_load(probe, id, &g)) == 404)
            return 0;
        if (rc || !qsso_scim_groups_has(g.members, uid, 0))
            return rc;
        n = g;
        n.members = apr_array_copy(probe->p, g.members);
        for (k = 0; k < n.members->nelts; k++)
            if (!strcmp(APR_ARRAY_IDX(n.members, k, const char *), uid))
                APR_ARRAY_IDX(n.members, k, const char *) = "";
        qsso_scim_groups_compact(n.members);
        n.updated = apr_time_sec(apr_time_now());
        if ((rc = qsso_scim_groups_swap(probe, &g, &n, NULL))
            != QSSO_SCIM_CHANGED)
            return rc;
    }
    return qsso_scim_fail(probe, 503, NULL, "group %s kept changing", id);
}

int qsso_scim_groups_drop_user(qsso_scim_call_t *c, const qsso_user_t *u)
{
    qsso_scim_call_t probe = *c;
    const char **ids;
    int i;

    if (u->groups->nelts == 0)
        return 0;
    if (qsso_scim_groups_ids(&probe, u->groups, &ids))
        return qsso_scim_fail_store(c, "leaving groups", probe.detail);
    for (i = 0; i < u->groups->nelts; i++)
        if (ids[i] && qsso_scim_groups_leave(&probe, ids[i], u->id))
            return qsso_scim_fail_store(c, "leaving groups", probe.detail);
    return 0;
}

/*
 * SCIM /Users (RFC 7643 4.1 and 4.3) on the user directory. The mapping:
 * userName <-> username, externalId, name.givenName/familyName <-> first
 * and last name, the primary (else first) email <-> email, active,
 * userType <-> user type, and from the enterprise extension
 * employeeNumber <-> unique ID and division <-> division. Other schema
 * attributes are accepted and ignored; an explicit PATCH path to an
 * attribute that no schema has is 400 invalidPath.
 *
 * POST, PUT and PATCH all edit a copy of the record through one function
 * (qsso_scim_users_apply), then save it if it changed; a change of the
 * active flag goes through qsso_users_deactivate/activate, which end the
 * user's sessions before the answer is sent. PUT, PATCH and DELETE take
 * the path shared with /Groups (qsso_scim_resource_write: If-Match, the
 * PATCH loop, whole or nothing); this file gives it the hooks of a user.
 * The save is a compare-and-set against the record the edit started from:
 * when a login or another client changed it meanwhile, the shared path
 * starts again from the record as it is now (and an If-Match naming the
 * old version then fails with 412), so nobody's change is reverted.
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
#include "qsso_scim_schema.h"
#include "qsso_scim_users.h"
#include "qsso_users.h"

#define QSSO_SCIM_USERS_NAME_MAX 256
#define QSSO_SCIM_USERS_VALUE_MAX 1000
#define QSSO_SCIM_USERS_EMAIL_MAX 320

/* ---- record -> resource ------------------------------------------------ */

static json_t *qsso_scim_users_json(qsso_scim_call_t *c, const qsso_user_t *u,
                                    const char **version)
{
    const char *v = qsso_scim_version(c->p, qsso_users_encode(c->p, u));
    json_t *o = json_pack("{s:[s,s], s:s, s:s, s:b}", "schemas",
                          QSSO_SCIM_URN_USER, QSSO_SCIM_URN_ENTERPRISE, "id",
                          u->id, "userName", u->username, "active",
                          u->active);
    json_t *ext = json_object(), *name = json_object();

    if (*u->external_id)
        json_object_set_new(o, "externalId", json_string(u->external_id));
    if (*u->first_name)
        json_object_set_new(name, "givenName", json_string(u->first_name));
    if (*u->last_name)
        json_object_set_new(name, "familyName", json_string(u->last_name));
    if (json_object_size(name))
        json_object_set_new(name, "formatted", json_string(apr_pstrcat(
            c->p, u->first_name, *u->first_name && *u->last_name ? " " : "",
            u->last_name, NULL)));
    if (json_object_size(name))
        json_object_set_new(o, "name", name);
    else
        json_decref(name);
    if (*u->email)
        json_object_set_new(o, "emails", json_pack(
            "[{s:s, s:s, s:b}]", "value", u->email, "type", "work",
            "primary", 1));
    if (*u->user_type)
        json_object_set_new(o, "userType", json_string(u->user_type));
    if (*u->unique_id)
        json_object_set_new(ext, "employeeNumber",
                            json_string(u->unique_id));
    if (*u->division)
        json_object_set_new(ext, "division", json_string(u->division));
    if (json_object_size(ext))
        json_object_set_new(o, QSSO_SCIM_URN_ENTERPRISE, ext);
    else
        json_decref(ext);
    if (u->groups && u->groups->nelts)
        json_object_set_new(o, "groups", qsso_scim_groups_of_user(c, u));
    json_object_set_new(o, "meta", qsso_scim_meta(
        c, "User", apr_pstrcat(c->p, "/Users/", u->id, NULL), u->created,
        u->updated, v));
    if (version)
        *version = v;
    return o;
}

/* The answer for user u, as stored now. */
static int qsso_scim_users_answer(qsso_scim_call_t *c, const qsso_user_t *u,
                                  int status)
{
    c->out = qsso_scim_keep(c->p, qsso_scim_users_json(c, u, &c->etag));
    c->subject = u->username;
    if (status == 201)
        c->location = apr_pstrcat(c->p, c->base, "/Users/", u->id, NULL);
    return c->status = status;
}

/* ---- resource -> record: one attribute at a time ----------------------- */

static int qsso_scim_users_apply(qsso_scim_call_t *c, qsso_user_t *u,
                                 qsso_scim_op_e op,
                                 const qsso_scim_path_t *path, json_t *v,
                                 int lenient);

static const char **qsso_scim_users_slot(qsso_user_t *u,
                                         qsso_scim_field_e f)
{
    switch (f) {
    case QSSO_SCIM_F_EXTERNAL_ID:
        return &u->external_id;
    case QSSO_SCIM_F_USER_TYPE:
        return &u->user_type;
    case QSSO_SCIM_F_EMPLOYEE_NUMBER:
        return &u->unique_id;
    case QSSO_SCIM_F_DIVISION:
        return &u->division;
    case QSSO_SCIM_F_GIVEN_NAME:
        return &u->first_name;
    case QSSO_SCIM_F_FAMILY_NAME:
        return &u->last_name;
    default:
        return NULL;
    }
}

/* A plain string attribute; remove (or null) empties it. */
static int qsso_scim_users_set_text(qsso_scim_call_t *c, qsso_user_t *u,
                                    const qsso_scim_attr_t *a,
                                    qsso_scim_op_e op, json_t *v)
{
    const char **slot = qsso_scim_users_slot(u, a->field);

    if (slot == NULL)
        return 0;
    if (op == QSSO_SCIM_OP_REMOVE) {
        *slot = "";
        return 0;
    }
    return qsso_scim_string(c, v, a->name, QSSO_SCIM_USERS_VALUE_MAX, 1,
                            slot);
}

/* Keys of a value object are attributes of the schema urn (or of the
 * complex attribute a); unknown ones are ignored (RFC 7644 3.3). */
static int qsso_scim_users_apply_object(qsso_scim_call_t *c, qsso_user_t *u,
                                        qsso_scim_op_e op, const char *urn,
                                        const char *attr, json_t *v)
{
    qsso_scim_path_t sub;
    const char *key;
    json_t *x;

    if (!json_is_object(v))
        return qsso_scim_fail(c, 400, "invalidValue", "%s must be an "
                              "object", *attr ? attr : urn);
    json_object_foreach(v, key, x) {
        memset(&sub, 0, sizeof(sub));
        sub.urn = urn;
        sub.attr = *attr ? attr : key;
        sub.sub = *attr ? key : NULL;
        if (qsso_scim_users_apply(c, u, op, &sub, x, 1))
            return c->status;
    }
    return 0;
}

static int qsso_scim_users_set_name(qsso_scim_call_t *c, qsso_user_t *u,
                                    qsso_scim_op_e op,
                                    const qsso_scim_attr_t *sub, json_t *v)
{
    if (sub)
        return qsso_scim_users_set_text(c, u, sub, op, v);
    if (op == QSSO_SCIM_OP_REMOVE || json_is_null(v)) {
        u->first_name = "";
        u->last_name = "";
        return 0;
    }
    /* add and replace both merge (RFC 7644 3.5.2.3): sub-attributes not
     * in the value stay as they are. */
    return qsso_scim_users_apply_object(c, u, op, NULL, "name", v);
}

static int qsso_scim_users_check_email(qsso_scim_call_t *c, json_t *v,
                                       const char **out)
{
    const char *s;
    apr_size_t n;

    if (qsso_scim_string(c, v, "emails.value", QSSO_SCIM_USERS_EMAIL_MAX, 1,
                         out))
        return c->status;
    s = *out;
    n = strlen(s);
    if (n && (strchr(s, '@') == NULL || *s == '@' || s[n - 1] == '@'
              || strchr(s, ' ')))
        return qsso_scim_fail(c, 400, "invalidValue", "\"%s\" is not an "
                              "email address", s);
    return 0;
}

/* The address a value for "emails" carries: the primary item of an
 * array, else its first (but add keeps the address unless the new item
 * is primary); the value of one object. */
static int qsso_scim_users_pick_email(qsso_scim_call_t *c, qsso_user_t *u,
                                      qsso_scim_op_e op, json_t *v)
{
    json_t *item = NULL, *x;
    size_t i;
    int primary;

    if (json_is_null(v)) {
        u->email = "";
        return 0;
    }
    if (json_is_object(v))
        item = v;
    else if (!json_is_array(v))
        return qsso_scim_fail(c, 400, "invalidValue", "emails must be an "
                              "array of objects");
    json_array_foreach(json_is_array(v) ? v : NULL, i, x) {
        if (!json_is_object(x))
            return qsso_scim_fail(c, 400, "invalidValue", "emails must be "
                                  "an array of objects");
        if (item == NULL
            && qsso_scim_bool(json_object_get(x, "primary"), &primary) == 0
            && primary)
            item = x;
    }
    if (item == NULL && op == QSSO_SCIM_OP_ADD && *u->email)
        return 0;
    if (item == NULL)
        item = json_array_get(v, 0);
    if (item == NULL) {
        u->email = "";
        return 0;
    }
    return qsso_scim_users_check_email(c, json_object_get(item, "value"),
                                       &u->email);
}

/* Does the one email kept here, {value, type "work", primary true},
 * match a bracket filter such as [type eq "work"]? */
static int qsso_scim_users_email_hit(const qsso_user_t *u,
                                     const apr_array_header_t *filter)
{
    int i, ok = *u->email != '\0';

    for (i = 0; ok && i < filter->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(filter, i,
                                                   qsso_scim_cond_t);
        if (!strcmp(f->attr, "value"))
            ok = qsso_scim_filter_match_str(f, u->email, 0);
        else if (!strcmp(f->attr, "type"))
            ok = qsso_scim_filter_match_str(f, "work", 0);
        else if (!strcmp(f->attr, "primary"))
            ok = qsso_scim_filter_match_bool(f, 1);
        else
            ok = qsso_scim_filter_match_str(f, NULL, 0);
    }
    return ok;
}

static int qsso_scim_users_set_email(qsso_scim_call_t *c, qsso_user_t *u,
                                     qsso_scim_op_e op,
                                     const qsso_scim_path_t *path,
                                     const qsso_scim_attr_t *sub, json_t *v)
{
    /* Entra ID sends replace emails[type eq "work"].value for a user who
     * has no email yet: with nothing to match, that is an add (RFC 7644
     * 3.5.2.3). Only the one email is kept, so a filter that selects
     * another one has no target. */
    if (path->filter && !qsso_scim_users_email_hit(u, path->filter)
        && (op == QSSO_SCIM_OP_REMOVE || *u->email))
        return qsso_scim_fail(c, 400, "noTarget", "no email matches the "
                              "filter; this directory keeps one email, "
                              "of type work");
    if (sub && sub->field != QSSO_SCIM_F_VALUE)
        return 0;                       /* type, primary: not kept */
    if (op == QSSO_SCIM_OP_REMOVE) {
        u->email = "";
        return 0;
    }
    return sub ? qsso_scim_users_check_email(c, v, &u->email)
               : qsso_scim_users_pick_email(c, u, op, v);
}

static int qsso_scim_users_set(qsso_scim_call_t *c, qsso_user_t *u,
                               qsso_scim_op_e op,
                               const qsso_scim_path_t *path,
                               const qsso_scim_attr_t *a,
                               const qsso_scim_attr_t *sub, json_t *v,
                               int lenient)
{
    switch (a->field) {
    case QSSO_SCIM_F_READONLY:
        return lenient ? 0 : qsso_scim_fail(c, 400, "mutability", "%s is "
                                            "read-only", a->name);
    case QSSO_SCIM_F_USERNAME:
        if (op == QSSO_SCIM_OP_REMOVE)
            return qsso_scim_fail(c, 400, "invalidValue", "userName is "
                                  "required; it cannot be removed");
        if (qsso_scim_string(c, v, "userName", QSSO_SCIM_USERS_NAME_MAX, 0,
                             &u->username))
            return c->status;
        return *u->username ? 0 : qsso_scim_fail(c, 400, "invalidValue",
                                                 "userName is empty");
    case QSSO_SCIM_F_ACTIVE:
        if (op == QSSO_SCIM_OP_REMOVE)
            return qsso_scim_fail(c, 400, "invalidValue", "active cannot be "
                                  "removed; replace it with false");
        return qsso_scim_bool(v, &u->active) == 0 ? 0 : qsso_scim_fail(
            c, 400, "invalidValue", "active must be true or false");
    case QSSO_SCIM_F_NAME:
        return qsso_scim_users_set_name(c, u, op, sub, v);
    case QSSO_SCIM_F_EMAILS:
        return qsso_scim_users_set_email(c, u, op, path, sub, v);
    default:
        return qsso_scim_users_set_text(c, u, a, op, v);
    }
}

/* Checks the path against the schemas, then edits u. lenient: unknown
 * attributes and read-only ones are ignored (resource bodies); else they
 * are errors (an explicit PATCH path). */
static int qsso_scim_users_apply(qsso_scim_call_t *c, qsso_user_t *u,
                                 qsso_scim_op_e op,
                                 const qsso_scim_path_t *path, json_t *v,
                                 int lenient)
{
    const char *urn = path->urn ? path->urn : QSSO_SCIM_URN_USER;
    const qsso_scim_attr_t *a = NULL, *sub = NULL;
    int i;

    if (*path->attr == '\0' && strcmp(urn, QSSO_SCIM_URN_GROUP)) {
        if (op != QSSO_SCIM_OP_REMOVE)
            return qsso_scim_users_apply_object(c, u, op, urn, "", v);
        if (!strcmp(urn, QSSO_SCIM_URN_ENTERPRISE))
            u->unique_id = u->division = "";
        return 0;
    }
    if (strcmp(urn, QSSO_SCIM_URN_GROUP))
        a = qsso_scim_schema_find(qsso_scim_schema_attrs(urn), path->attr);
    if (a == NULL)
        return lenient ? 0 : qsso_scim_fail(c, 400, "invalidPath", "%s has "
                                            "no attribute \"%s\"", urn,
                                            path->attr);
    if (path->sub && (sub = qsso_scim_schema_find(a->sub, path->sub))
                         == NULL)
        return lenient ? 0 : qsso_scim_fail(c, 400, "invalidPath", "%s has "
                                            "no sub-attribute \"%s\"",
                                            a->name, path->sub);
    if (path->filter && !a->multi)
        return qsso_scim_fail(c, 400, "invalidPath", "%s is not "
                              "multi-valued; it takes no filter", a->name);
    for (i = 0; path->filter && i < path->filter->nelts; i++) {
        const char *f = APR_ARRAY_IDX(path->filter, i,
                                      qsso_scim_cond_t).attr;
        if (qsso_scim_schema_find(a->sub, f) == NULL)
            return qsso_scim_fail(c, 400, "invalidFilter", "%s has no "
                                  "sub-attribute \"%s\"", a->name, f);
    }
    return qsso_scim_users_set(c, u, op, path, a, sub, v, lenient);
}

/* Every key of a resource body (or of a path-less PATCH value) as a path
 * of its own; keys that are not attributes here are ignored. */
static int qsso_scim_users_apply_body(qsso_scim_call_t *c, qsso_user_t *u,
                                      qsso_scim_op_e op, json_t *body)
{
    qsso_scim_path_t path;
    const char *key;
    json_t *v;

    json_object_foreach(body, key, v) {
        if (qsso_scim_filter_parse_path(c->p, key, &path) != NULL
            || path.filter)
            continue;
        if (qsso_scim_users_apply(c, u, op, &path, v, 1))
            return c->status;
    }
    return 0;
}

/* ---- the directory ----------------------------------------------------- */

/* The user c->id names; deleted users are not found. 0, 404 or 503. */
static int qsso_scim_users_find(qsso_scim_call_t *c, qsso_user_t *u)
{
    const char *e = NULL, *s;

    for (s = c->id; apr_isalnum(*s) || *s == '-' || *s == '_'; s++)
        ;
    if (*s == '\0' && s - c->id <= 128) {
        switch (qsso_users_load_by_id(c->st, c->p, c->id, u, &e)) {
        case QSSO_STORE_OK:
            if (u->deleted)
                break;
            c->subject = u->username;
            return 0;
        case QSSO_STORE_NOTFOUND:
            break;
        default:
            return qsso_scim_fail_store(c, "loading a user", e);
        }
    }
    return qsso_scim_fail(c, 404, NULL, "no user has id \"%s\"", c->id);
}

static void qsso_scim_users_event(qsso_scim_call_t *c, const char *type,
                                  const qsso_user_t *u, const char *previous)
{
    const char *e = NULL;

    /* The scim.<method> event of the call records the outcome anyway. */
    qsso_users_event(c->st, c->p, &e, type, "user", u->username, "actor",
                     "scim", "id", u->id, previous ? "previous" : NULL,
                     previous, NULL);
}

/* Saves n over old when anything changed, then moves the active flag
 * through the shared deactivate/activate, and answers with the result;
 * QSSO_SCIM_CHANGED (nothing written) when old is no longer what is
 * stored. */
static int qsso_scim_users_commit(qsso_scim_call_t *c, const qsso_user_t *old,
                                  qsso_user_t *n)
{
    int active = n->active, sessions = 0;
    const char *e = NULL;
    qsso_store_rc_e rc = QSSO_STORE_OK;
    qsso_user_t now;

    n->active = old->active;
    n->updated = old->updated;
    if (strcmp(qsso_users_encode(c->p, old), qsso_users_encode(c->p, n))) {
        n->updated = apr_time_sec(apr_time_now());
        rc = qsso_users_replace(c->st, c->p, old, n, &e);
        if (rc == QSSO_STORE_CHANGED)
            return QSSO_SCIM_CHANGED;
        if (rc == QSSO_STORE_EXISTS)
            return qsso_scim_fail(c, 409, "uniqueness", "userName \"%s\" is "
                                  "already taken", n->username);
        if (rc != QSSO_STORE_OK)
            return qsso_scim_fail_store(c, "saving a user", e);
        qsso_scim_users_event(c, "user.updated", n,
                              strcasecmp(old->username, n->username)
                                  ? old->username : NULL);
    }
    if (old->active && !active) {
        rc = qsso_users_deactivate(c->st, c->p, n->username, 0, "scim",
                                   &sessions, &e);
        c->note = apr_psprintf(c->p, "deactivated; %d session(s) ended",
                               sessions);
    }
    else if (!old->active && active) {
        rc = qsso_users_activate(c->st, c->p, n->username, "scim", &e);
        c->note = "reactivated";
    }
    if (rc == QSSO_STORE_OK)
        rc = qsso_users_load(c->st, c->p, n->username, &now, &e);
    if (rc == QSSO_STORE_NOTFOUND)
        return qsso_scim_fail(c, 404, NULL, "user \"%s\" was deleted "
                              "meanwhile", n->username);
    if (rc != QSSO_STORE_OK)
        return qsso_scim_fail_store(c, "saving a user", e);
    return qsso_scim_users_answer(c, &now, 200);
}

/* POST: a new record, or a new life for a deleted one's tombstone. */
static int qsso_scim_users_create(qsso_scim_call_t *c)
{
    qsso_user_t u, old;
    const char *e = NULL;
    qsso_store_rc_e rc;

    memset(&u, 0, sizeof(u));
    u.id = qsso_codec_random_hex(c->p, 16);
    u.username = u.email = u.first_name = u.last_name = "";
    u.user_type = u.division = u.unique_id = u.external_id = u.idp = "";
    u.source = "scim";
    u.active = 1;
    u.created = u.updated = apr_time_sec(apr_time_now());
    u.groups = apr_array_make(c->p, 1, sizeof(const char *));
    if (u.id == NULL)
        return qsso_scim_fail(c, 503, NULL, "no randomness for a user id");
    if (qsso_scim_users_apply_body(c, &u, QSSO_SCIM_OP_REPLACE, c->body))
        return c->status;
    if (*u.username == '\0')
        return qsso_scim_fail(c, 400, "invalidValue", "userName is "
                              "required");
    rc = qsso_users_create_record(c->st, c->p, &u, &e);
    if (rc == QSSO_STORE_EXISTS) {
        rc = qsso_users_load(c->st, c->p, u.username, &old, &e);
        if (rc == QSSO_STORE_OK && !old.deleted)
            return qsso_scim_fail(c, 409, "uniqueness", "userName \"%s\" is "
                                  "already taken (by \"%s\")", u.username,
                                  old.username);
        if (rc == QSSO_STORE_OK) {
            rc = qsso_users_replace(c->st, c->p, &old, &u, &e);
            c->note = "reused the tombstone of a deleted user";
        }
        if (rc == QSSO_STORE_CHANGED || rc == QSSO_STORE_NOTFOUND)
            return qsso_scim_fail(c, 409, "uniqueness", "userName \"%s\" "
                                  "changed hands meanwhile; try again",
                                  u.username);
    }
    if (rc != QSSO_STORE_OK)
        return qsso_scim_fail_store(c, "creating a user", e);
    qsso_scim_users_event(c, "user.created", &u, NULL);
    return qsso_scim_users_answer(c, &u, 201);
}

/* ---- the shared PUT/PATCH/DELETE path (qsso_scim_resource_write) ------- */

static int qsso_scim_users_load_hook(qsso_scim_call_t *c, void *rec)
{
    return qsso_scim_users_find(c, rec);
}

static const char *qsso_scim_users_version_hook(qsso_scim_call_t *c,
                                                const void *rec)
{
    return qsso_scim_version(c->p, qsso_users_encode(c->p, rec));
}

static void qsso_scim_users_copy_hook(qsso_scim_call_t *c, void *rec,
                                      const void *from, int put)
{
    qsso_user_t *n = rec;

    (void)c;
    *n = *(const qsso_user_t *)from;
    /* PUT replaces every mapped attribute (RFC 7644 3.5.1); active keeps
     * its value when the body leaves it out. */
    if (put) {
        n->username = n->email = n->first_name = n->last_name = "";
        n->user_type = n->division = n->unique_id = n->external_id = "";
    }
}

static int qsso_scim_users_apply_hook(qsso_scim_call_t *c, void *rec,
                                      qsso_scim_op_e op,
                                      const qsso_scim_path_t *path,
                                      json_t *v, int lenient)
{
    return qsso_scim_users_apply(c, rec, op, path, v, lenient);
}

static int qsso_scim_users_apply_body_hook(qsso_scim_call_t *c, void *rec,
                                           qsso_scim_op_e op, json_t *body)
{
    return qsso_scim_users_apply_body(c, rec, op, body);
}

static int qsso_scim_users_check_hook(qsso_scim_call_t *c, const void *rec)
{
    return *((const qsso_user_t *)rec)->username
               ? 0 : qsso_scim_fail(c, 400, "invalidValue", "userName is "
                                    "required");
}

static int qsso_scim_users_commit_hook(qsso_scim_call_t *c, const void *old,
                                       void *n)
{
    return qsso_scim_users_commit(c, old, n);
}

static int qsso_scim_users_remove(qsso_scim_call_t *c, const void *rec)
{
    const qsso_user_t *u = rec;
    const char *e = NULL;
    int sessions = 0;

    /* The record stays as an inactive tombstone, so a later SSO login
     * cannot create the user again by JIT. */
    if (qsso_users_deactivate(c->st, c->p, u->username, 1, "scim", &sessions,
                              &e) != QSSO_STORE_OK)
        return qsso_scim_fail_store(c, "deleting a user", e);
    c->note = apr_psprintf(c->p, "deleted; %d session(s) ended", sessions);
    if (qsso_scim_groups_drop_user(c, u))
        return c->status;
    return c->status = 204;
}

static const qsso_scim_type_t qsso_scim_users_type = {
    "user", sizeof(qsso_user_t), qsso_scim_users_load_hook,
    qsso_scim_users_version_hook, qsso_scim_users_copy_hook,
    qsso_scim_users_apply_hook, qsso_scim_users_apply_body_hook,
    qsso_scim_users_check_hook, qsso_scim_users_commit_hook,
    qsso_scim_users_remove,
};

/* ---- queries ----------------------------------------------------------- */

static const struct {
    const char *attr;              /* as the filter parser spells it */
    int boolean;
} qsso_scim_users_filterable[] = {
    {"username", 0}, {"externalid", 0}, {"emails.value", 0}, {"active", 1},
    {"id", 0}, {"usertype", 0}, {"name.givenname", 0},
    {"name.familyname", 0},
};

static int qsso_scim_users_check_filter(qsso_scim_call_t *c,
                                        const apr_array_header_t *conds)
{
    apr_size_t k, n = sizeof(qsso_scim_users_filterable)
                      / sizeof(qsso_scim_users_filterable[0]);
    int i;

    for (i = 0; i < conds->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(conds, i,
                                                   qsso_scim_cond_t);
        for (k = 0; k < n && strcmp(f->attr,
                                    qsso_scim_users_filterable[k].attr); k++)
            ;
        if (k == n)
            return qsso_scim_fail(c, 400, "invalidFilter", "filtering Users "
                                  "on \"%s\" is not supported", f->attr);
        if (qsso_scim_users_filterable[k].boolean
                != (f->type == QSSO_SCIM_VALUE_BOOL))
            return qsso_scim_fail(c, 400, "invalidFilter", "\"%s\" compares "
                                  "with %s", f->attr,
                                  qsso_scim_users_filterable[k].boolean
                                      ? "true or false" : "a string");
    }
    return 0;
}

static int qsso_scim_users_match(const qsso_user_t *u,
                                 const apr_array_header_t *conds)
{
    int i, ok = !u->deleted;

    for (i = 0; ok && conds && i < conds->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(conds, i,
                                                   qsso_scim_cond_t);
        if (!strcmp(f->attr, "active"))
            ok = qsso_scim_filter_match_bool(f, u->active);
        else if (!strcmp(f->attr, "username"))
            ok = qsso_scim_filter_match_str(f, u->username, 0);
        else if (!strcmp(f->attr, "externalid"))
            ok = qsso_scim_filter_match_str(f, u->external_id, 1);
        else if (!strcmp(f->attr, "emails.value"))
            ok = qsso_scim_filter_match_str(f, u->email, 0);
        else if (!strcmp(f->attr, "id"))
            ok = qsso_scim_filter_match_str(f, u->id, 1);
        else if (!strcmp(f->attr, "usertype"))
            ok = qsso_scim_filter_match_str(f, u->user_type, 0);
        else if (!strcmp(f->attr, "name.givenname"))
            ok = qsso_scim_filter_match_str(f, u->first_name, 0);
        else
            ok = qsso_scim_filter_match_str(f, u->last_name, 0);
    }
    return ok;
}

/* The users a filter may match: one record for userName eq "x" (the
 * common case, one store read), else the whole directory. */
static int qsso_scim_users_candidates(qsso_scim_call_t *c,
                                      const apr_array_header_t *conds,
                                      apr_array_header_t **users)
{
    const char *e = NULL;
    qsso_store_rc_e rc;
    int i;

    for (i = 0; conds && i < conds->nelts; i++) {
        const qsso_scim_cond_t *f = &APR_ARRAY_IDX(conds, i,
                                                   qsso_scim_cond_t);
        qsso_user_t *u;
        if (strcmp(f->attr, "username") || f->type != QSSO_SCIM_VALUE_STRING)
            continue;
        *users = apr_array_make(c->p, 1, sizeof(qsso_user_t));
        u = apr_array_push(*users);
        rc = qsso_users_load(c->st, c->p, f->str, u, &e);
        if (rc == QSSO_STORE_NOTFOUND)
            apr_array_pop(*users);
        return rc == QSSO_STORE_ERROR
                   ? qsso_scim_fail_store(c, "finding a user", e) : 0;
    }
    if (qsso_users_list(c->st, c->p, users, NULL, &e) != QSSO_STORE_OK)
        return qsso_scim_fail_store(c, "listing users", e);
    return 0;
}

static int qsso_scim_users_query(qsso_scim_call_t *c)
{
    apr_array_header_t *conds = NULL, *users;
    json_t *page = json_array();
    const char *why;
    int start, count, total = 0, i;

    qsso_scim_keep(c->p, page);
    if (c->filter && (why = qsso_scim_filter_parse(c->p, c->filter, &conds)))
        return qsso_scim_fail(c, 400, "invalidFilter", "filter: %s", why);
    if ((conds && qsso_scim_users_check_filter(c, conds))
        || qsso_scim_page(c, &start, &count)
        || qsso_scim_users_candidates(c, conds, &users))
        return c->status;
    for (i = 0; i < users->nelts; i++) {
        const qsso_user_t *u = &APR_ARRAY_IDX(users, i, qsso_user_t);
        if (!qsso_scim_users_match(u, conds))
            continue;
        if (++total >= start && (int)json_array_size(page) < count)
            json_array_append_new(page, qsso_scim_users_json(c, u, NULL));
    }
    c->out = qsso_scim_keep(c->p, qsso_scim_list(start, total,
                                                 json_incref(page)));
    return c->status = 200;
}

int qsso_scim_users_handle(qsso_scim_call_t *c)
{
    qsso_user_t u;

    if (!strcmp(c->method, "GET") && c->id == NULL)
        return qsso_scim_users_query(c);
    if (!strcmp(c->method, "GET"))
        return qsso_scim_users_find(c, &u) ? c->status
                                           : qsso_scim_users_answer(c, &u,
                                                                    200);
    if (!strcmp(c->method, "POST") && c->id == NULL)
        return qsso_scim_users_create(c);
    if (c->id && (!strcmp(c->method, "PUT") || !strcmp(c->method, "PATCH")
                  || !strcmp(c->method, "DELETE")))
        return qsso_scim_resource_write(c, &qsso_scim_users_type);
    return qsso_scim_fail(c, 405, NULL, "%s is not allowed here",
                          c->method);
}

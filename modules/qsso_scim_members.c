/*
 * The groups field of user records, as SCIM group writes keep it: it
 * holds group display names, and is what a login puts in the session,
 * QSSO_GROUPS exports and Require qsso-group tests. qsso_scim_groups.c
 * decides what to mark and when (access taken away before the group
 * record changes, given after); this file only reads and writes the
 * users' records, through qsso_users.c. Each mark is a read and a
 * compare-and-set write of the record (qsso_users_save): when another
 * writer changed the record in between, only this mark's own name is
 * added to or taken from the record as it now is, so a login or another
 * group's write to the same user is kept. Needs no request.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "qsso.h"
#include "qsso_scim_members.h"
#include "qsso_users.h"

int qsso_scim_members_check_added(qsso_scim_call_t *c,
                                  const apr_array_header_t *old_members,
                                  const apr_array_header_t *new_members)
{
    const char *e = NULL;
    qsso_user_t u;
    int i;

    for (i = 0; i < new_members->nelts; i++) {
        const char *id = APR_ARRAY_IDX(new_members, i, const char *);
        qsso_store_rc_e rc;
        if (qsso_users_list_has(old_members, id))
            continue;
        rc = qsso_users_load_by_id(c->st, c->p, id, &u, &e);
        if (rc == QSSO_STORE_ERROR)
            return qsso_scim_fail_store(c, "loading a member", e);
        if (rc != QSSO_STORE_OK || u.deleted)
            return qsso_scim_fail(c, 400, "invalidValue", "member \"%s\" is "
                                  "not a user here", id);
    }
    return 0;
}

int qsso_scim_members_mark(qsso_scim_call_t *c, const char *name,
                           const apr_array_header_t *ids,
                           const apr_array_header_t *keep, int add)
{
    const char *e = NULL;
    int i, k;

    for (i = 0; ids && i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        apr_array_header_t *g;
        qsso_user_t u;
        qsso_store_rc_e rc;
        if (qsso_users_list_has(keep, id))
            continue;
        rc = qsso_users_load_by_id(c->st, c->p, id, &u, &e);
        if (rc == QSSO_STORE_ERROR)
            return qsso_scim_fail_store(c, "loading a member", e);
        if (rc != QSSO_STORE_OK || u.deleted
            || qsso_users_list_has(u.groups, name) == add)
            continue;
        g = apr_array_make(c->p, u.groups->nelts + 1, sizeof(const char *));
        for (k = 0; k < u.groups->nelts; k++)
            if (strcmp(APR_ARRAY_IDX(u.groups, k, const char *), name))
                APR_ARRAY_PUSH(g, const char *) =
                    APR_ARRAY_IDX(u.groups, k, const char *);
        if (add)
            APR_ARRAY_PUSH(g, const char *) = name;
        u.groups = g;
        u.updated = apr_time_sec(apr_time_now());
        if (qsso_users_save(c->st, c->p, &u, &e) != QSSO_STORE_OK)
            return qsso_scim_fail_store(c, "saving a member", e);
    }
    return 0;
}

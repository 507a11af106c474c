/* SCIM /Groups, kept as group records and mirrored into the groups field
 * of their members' user records (which Require qsso-group reads). */
#ifndef QSSO_SCIM_GROUPS_H
#define QSSO_SCIM_GROUPS_H

#include "qsso_scim_resource.h"
#include "qsso_users.h"

/* Answers one /Groups call: fills c's answer and returns its status. */
int qsso_scim_groups_handle(qsso_scim_call_t *c);

/* The User's "groups" attribute: the SCIM groups among u->groups, as
 * [{value, display, $ref}], or NULL when none. */
json_t *qsso_scim_groups_of_user(qsso_scim_call_t *c, const qsso_user_t *u);

/* Removes a deleted user from the member lists of its SCIM groups.
 * 0, or 503 (set). */
int qsso_scim_groups_drop_user(qsso_scim_call_t *c, const qsso_user_t *u);

#endif

/* The groups field of user records, written for SCIM /Groups. */
#ifndef QSSO_SCIM_MEMBERS_H
#define QSSO_SCIM_MEMBERS_H

#include "qsso_scim_resource.h"

/* Are the ids in new_members and not in old_members (may be NULL) users
 * here, and not deleted ones? 0, 400 invalidValue or 503 (set). Called
 * before anything is written. */
int qsso_scim_members_check_added(qsso_scim_call_t *c,
                                  const apr_array_header_t *old_members,
                                  const apr_array_header_t *new_members);

/* Puts the group name into (add) or takes it out of the groups of the
 * user records of ids (of const char *), except the users in keep (may
 * be NULL). Records that already agree are not written; ids of users
 * gone or deleted are skipped. 0, or 503 (set). */
int qsso_scim_members_mark(qsso_scim_call_t *c, const char *name,
                           const apr_array_header_t *ids,
                           const apr_array_header_t *keep, int add);

#endif

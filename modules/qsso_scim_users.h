/* SCIM /Users on the user directory (qsso_users.c). */
#ifndef QSSO_SCIM_USERS_H
#define QSSO_SCIM_USERS_H

#include "qsso_scim_resource.h"

/* Answers one /Users call (c->method, c->id): fills c's answer and
 * returns its status. Deactivation and DELETE end the user's sessions
 * before this returns. */
int qsso_scim_users_handle(qsso_scim_call_t *c);

#endif

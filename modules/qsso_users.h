/* The user directory in Redis: records, the email index, JIT creation,
 * migration of pre-existing users, and the audit event stream. */
#ifndef QSSO_USERS_H
#define QSSO_USERS_H

#include "qsso.h"
#include "qsso_store.h"

#define QSSO_USERS_EVENTS "qsso:events"
#define QSSO_USERS_EVENTS_MAX "10000"

/* One user as stored (JSON under qsso:user:<lower-case username>). */
typedef struct {
    const char *id;                /* 32 hex digits, never changes */
    const char *username;
    const char *email;
    const char *first_name;
    const char *last_name;
    const char *user_type;
    const char *division;
    apr_array_header_t *groups;    /* of const char * */
    const char *unique_id;
    const char *external_id;       /* SCIM externalId; "" = none */
    const char *source;            /* jit | scim | admin */
    const char *idp;               /* IdP of the last SSO login; "" = none */
    int active;
    int deleted;                   /* SCIM DELETE: kept inactive, hidden */
    int sso_linked;                /* has signed in through SSO */
    apr_int64_t created;           /* Unix seconds */
    apr_int64_t updated;
    apr_int64_t last_login;        /* 0 = never */
    apr_array_header_t *former_names;  /* of const char *: names the record
                                        * had before renames, oldest first */
    const char *raw;               /* the JSON as loaded, which a write
                                    * compares with; NULL = not loaded */
} qsso_user_t;

/* What a login did to the directory, for the log line the caller writes. */
typedef enum {
    QSSO_USERS_FOUND = 0,
    QSSO_USERS_CREATED,            /* JIT */
    QSSO_USERS_RENAMED,            /* QSSOModifyExistingUsername */
    QSSO_USERS_LINKED              /* QSSOMergeExistingUser, or pre-made */
} qsso_users_outcome_e;

typedef struct {
    qsso_users_outcome_e outcome;
    const char *previous;          /* RENAMED/LINKED: the record's old name */
} qsso_users_result_t;

/* Is s (compared exactly) one of the strings of a (NULL: none)? For
 * group names and member ids. */
int qsso_users_list_has(const apr_array_header_t *a, const char *s);

/* Serialises a record as JSON, and back; decode returns -1 on damage. */
char *qsso_users_encode(apr_pool_t *p, const qsso_user_t *u);
int qsso_users_decode(apr_pool_t *p, const char *json, qsso_user_t *out);

/* Loads the record of username: QSSO_STORE_OK, NOTFOUND or ERROR. */
qsso_store_rc_e qsso_users_load(qsso_store_t *st, apr_pool_t *p,
                                const char *username, qsso_user_t *out,
                                const char **err);
/* Writes the fields u changed since it was loaded (u->raw) onto the
 * record as it is now, in one atomic step (compare-and-set, retried on a
 * concurrent change), so a concurrent writer's fields are never reverted.
 * u must keep its username; without u->raw the record is created. A
 * rename that landed meanwhile is followed by the id; QSSO_STORE_NOTFOUND
 * when the record (its id) went away. */
qsso_store_rc_e qsso_users_save(qsso_store_t *st, apr_pool_t *p,
                                const qsso_user_t *u, const char **err);

/* Finds or creates the record of the signed-in identity s under c's
 * provisioning policy (migration, JIT, active flag, update on login) and
 * leaves in s the values the session carries. Returns QSSO_OK, 3001 (store),
 * 4008 (unknown user, JIT off), 4009 (deactivated), 4010 (ambiguous
 * match), with err filled. */
int qsso_users_login(qsso_store_t *st, apr_pool_t *p,
                     const qsso_dir_conf_t *c, qsso_session_t *s,
                     apr_time_t now, qsso_users_result_t *res,
                     qsso_err_t *err);

/* Adds a session (its store key) to the user's index, which lives until
 * the latest expires_at (Unix seconds). */
qsso_store_rc_e qsso_users_add_session(qsso_store_t *st, apr_pool_t *p,
                                       const char *username,
                                       const char *session_key,
                                       apr_int64_t expires_at,
                                       const char **err);
/* Deletes every session of username at once; *count (may be NULL) says
 * how many live sessions were ended. */
qsso_store_rc_e qsso_users_revoke_sessions(qsso_store_t *st, apr_pool_t *p,
                                           const char *username, int *count,
                                           const char **err);
/* The session keys in username's index (some may have expired). */
qsso_store_rc_e qsso_users_list_sessions(qsso_store_t *st, apr_pool_t *p,
                                         const char *username,
                                         apr_array_header_t **keys,
                                         const char **err);
/* QSSO_OK when username exists and is active, else 4009 or 3001: the
 * last step of a login, after its session is indexed, so a deactivation
 * that raced with the login still wins. */
int qsso_users_check_active(qsso_store_t *st, apr_pool_t *p,
                            const char *username, qsso_err_t *err);

/* Deprovisioning, shared by SCIM and qssoctl: marks username inactive
 * (and deleted, when `delete` is set), changing nothing else of the record
 * as it is then, and then ends all its sessions, under its name and every
 * former one, so the next request with an old cookie is sent to a login
 * that is refused with 4009. Records a user.deactivated / user.deleted event naming actor.
 * *sessions (may be NULL) gets the number of sessions ended. */
qsso_store_rc_e qsso_users_deactivate(qsso_store_t *st, apr_pool_t *p,
                                      const char *username, int delete,
                                      const char *actor, int *sessions,
                                      const char **err);
/* Marks username active again (and not deleted); records user.activated. */
qsso_store_rc_e qsso_users_activate(qsso_store_t *st, apr_pool_t *p,
                                    const char *username, const char *actor,
                                    const char **err);

/* Appends an event (type, then field/value pairs, NULL-terminated) to the
 * bounded audit stream. */
qsso_store_rc_e qsso_users_event(qsso_store_t *st, apr_pool_t *p,
                                 const char **err, const char *type, ...);

/* Every user record (SCAN of qsso:user:*, so Redis is never blocked),
 * deleted ones included, sorted by username, as qsso_user_t in p. Keys
 * whose record does not decode are skipped and listed in *damaged (which
 * may be NULL). For qssoctl's listings and access reviews. */
qsso_store_rc_e qsso_users_list(qsso_store_t *st, apr_pool_t *p,
                                apr_array_header_t **users,
                                apr_array_header_t **damaged,
                                const char **err);

/* The record whose id is id (through qsso:user-id:<id>; records older
 * than that index are found by a listing once and then indexed):
 * QSSO_STORE_OK, NOTFOUND or ERROR. Deleted records are returned too. */
qsso_store_rc_e qsso_users_load_by_id(qsso_store_t *st, apr_pool_t *p,
                                      const char *id, qsso_user_t *out,
                                      const char **err);
/* Writes a new record and indexes its email; QSSO_STORE_EXISTS when the
 * username (compared case-insensitively) is taken. */
qsso_store_rc_e qsso_users_create_record(qsso_store_t *st, apr_pool_t *p,
                                         const qsso_user_t *u,
                                         const char **err);
/* Replaces the record old (as loaded) with u in one atomic step, keeping
 * the email and id indexes right: QSSO_STORE_CHANGED and nothing written
 * when the record is no longer what old->raw says (the caller reloads
 * and decides again). A new username must be free (else
 * QSSO_STORE_EXISTS and nothing changed); renaming records the old name
 * in u's former names and ends the old name's sessions in the same step.
 * A new id drops the aliases of the old one. */
qsso_store_rc_e qsso_users_replace(qsso_store_t *st, apr_pool_t *p,
                                   const qsso_user_t *old,
                                   const qsso_user_t *u, const char **err);

#endif

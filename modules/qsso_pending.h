/* Pending logins and seen assertion IDs in the store: the records an
 * unauthenticated client or an IdP response makes the store keep, the
 * per-address cap on the former, and the replay cache. Request-free: a
 * store, a pool and the time in, a code out. */
#ifndef QSSO_PENDING_H
#define QSSO_PENDING_H

#include "qsso.h"
#include "qsso_store.h"

/* seconds a pending login lives (time enough for a password and a second
 * factor at the IdP) */
#define QSSO_PENDING_TTL 180

/* bytes: the longest return path a pending login keeps; a longer one
 * lands on QSSODefaultRelayState instead (qsso_login_start). */
#define QSSO_PENDING_MAX_RETURN 2048

/* QSSOStore shm keeps pending logins in a region that evicts its oldest
 * record when full, so the cap per address must be low enough that one
 * address cannot fill it: an address may hold at most 1/SHARE of the
 * region in records of the largest size (WORST bytes: the return path,
 * the relay state, the 32-byte id and shmcb's index entry, rounded up).
 * docs/directives.md (QSSOPendingLoginsPerAddress) states the rule. */
#define QSSO_PENDING_SHM_WORST (QSSO_PENDING_MAX_RETURN + 128)
#define QSSO_PENDING_SHM_SHARE 16

/* Store key prefix of the per-address counters. */
#define QSSO_PENDING_ADDR_PREFIX "qsso:pend-addr:"

/* The counter key of a client address, in p: an IPv4 address as it is,
 * an IPv6 address by its /64 (a single host or home router commonly holds
 * a whole /64, so counting addresses within it would count nothing), an
 * IPv4-mapped IPv6 address as its IPv4 address. NULL when ip is not an
 * address. */
const char *qsso_pending_address_key(apr_pool_t *p, const char *ip);

/* The most pending logins per address and window a QSSOStore shm region
 * of pending_bytes can honour (at least 1). */
int qsso_pending_shm_ceiling(apr_size_t pending_bytes);
/* The cap that applies: QSSOPendingLoginsPerAddress (configured) bounded
 * by the store's ceiling (0: none, as with Redis). A configured 0 (no
 * cap) stays 0, whatever the ceiling. */
int qsso_pending_effective_cap(int configured, int ceiling);
/* The ceiling of this configuration generation's store, set at startup
 * (post_config, inherited by the children): 0 unless QSSOStore shm. */
void qsso_pending_set_ceiling(int ceiling);
int qsso_pending_ceiling(void);

/* Counts one more login started from client address ip (its /64 for IPv6)
 * within QSSO_PENDING_TTL: QSSO_OK up to cap (0: no cap) or the store's
 * ceiling if lower (qsso_pending_ceiling: QSSOStore shm), 2010 beyond it
 * with *retry_after the seconds left in the window and *log 0 unless this
 * is the first refusal of the address's window; 3001 when the store fails
 * (st may be NULL). */
int qsso_pending_admit(qsso_store_t *st, apr_pool_t *p, const char *ip,
                       int cap, int *log, int *retry_after, qsso_err_t *err);
/* Stores the pending SP-initiated login id (RelayState relay, return path
 * return_to, cut to "/" past QSSO_PENDING_MAX_RETURN) until now +
 * QSSO_PENDING_TTL: QSSO_OK or 3001. */
int qsso_pending_save(qsso_store_t *st, apr_pool_t *p, apr_time_t now,
                      const char *id, const char *relay,
                      const char *return_to, qsso_err_t *err);
/* Takes (reads and deletes atomically) the pending login id: QSSO_OK with
 * *relay and *return_to in p, 2117 when unknown, expired or already used,
 * 3001 when the store fails. */
int qsso_pending_take(qsso_store_t *st, apr_pool_t *p, const char *id,
                      const char **relay, const char **return_to,
                      qsso_err_t *err);
/* Records the assertion ID of idp until expires (at least a minute from
 * now): QSSO_OK the first time, 2124 on a replay, 3030 when QSSOStore
 * shm's replay cache is full, 3001 when the store fails. */
int qsso_pending_check_replay(qsso_store_t *st, apr_pool_t *p,
                              apr_time_t now, const char *idp,
                              const char *assertion_id, apr_time_t expires,
                              qsso_err_t *err);

#endif

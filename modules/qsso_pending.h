/* The request-free part of pending logins: whom the per-address cap
 * counts (qsso_session_admit_pending). */
#ifndef QSSO_PENDING_H
#define QSSO_PENDING_H

#include "qsso.h"

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

#endif

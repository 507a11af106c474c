/* The request-free part of pending logins: whom the per-address cap
 * counts (qsso_session_admit_pending). */
#ifndef QSSO_PENDING_H
#define QSSO_PENDING_H

#include "qsso.h"

/* Store key prefix of the per-address counters. */
#define QSSO_PENDING_ADDR_PREFIX "qsso:pend-addr:"

/* The counter key of a client address, in p: an IPv4 address as it is,
 * an IPv6 address by its /64 (a single host or home router commonly holds
 * a whole /64, so counting addresses within it would count nothing), an
 * IPv4-mapped IPv6 address as its IPv4 address. NULL when ip is not an
 * address. */
const char *qsso_pending_address_key(apr_pool_t *p, const char *ip);

#endif

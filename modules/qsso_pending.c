/*
 * Pending logins are the one record an unauthenticated client makes the
 * store keep, so their number is capped per client address. This file
 * says which addresses count as one and how low QSSOStore shm needs the
 * cap to be; the counting is the store's (qsso_store_count) and the
 * policy is qsso_session.c's.
 */
#include <string.h>
#include <arpa/inet.h>

#include <apr_strings.h>

#include "qsso_pending.h"

const char *qsso_pending_address_key(apr_pool_t *p, const char *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0,
                                             0, 0, 0xff, 0xff};
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];

    if (ip == NULL)
        return NULL;
    if (inet_pton(AF_INET, ip, a) == 1)
        return apr_pstrcat(p, QSSO_PENDING_ADDR_PREFIX, ip, NULL);
    if (inet_pton(AF_INET6, ip, a) != 1)
        return NULL;
    if (!memcmp(a, mapped, sizeof(mapped))
        && inet_ntop(AF_INET, a + 12, text, sizeof(text)))
        return apr_pstrcat(p, QSSO_PENDING_ADDR_PREFIX, text, NULL);
    memset(a + 8, 0, 8);
    if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
        return NULL;
    return apr_pstrcat(p, QSSO_PENDING_ADDR_PREFIX, text, "/64", NULL);
}

/* Set once per configuration generation, before the children are forked,
 * and only read after: no lock needed. */
static int qsso_pending_store_ceiling = 0;

int qsso_pending_shm_ceiling(apr_size_t pending_bytes)
{
    apr_size_t n = pending_bytes / QSSO_PENDING_SHM_SHARE
                   / QSSO_PENDING_SHM_WORST;

    return n < 1 ? 1 : n > 1000000 ? 1000000 : (int)n;
}

int qsso_pending_effective_cap(int configured, int ceiling)
{
    /* 0 is an explicit "no cap": honoured, and startup says what it costs
     * (qsso_config_pending_ceiling). */
    if (ceiling <= 0 || configured == 0)
        return configured;
    return configured < ceiling ? configured : ceiling;
}

void qsso_pending_set_ceiling(int ceiling)
{
    qsso_pending_store_ceiling = ceiling;
}

int qsso_pending_ceiling(void)
{
    return qsso_pending_store_ceiling;
}

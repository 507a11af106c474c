/*
 * Helpers of the fuzz targets; see fuzz_common.h.
 *
 * Every apr_palloc is routed to its own malloc here, freed by a cleanup of
 * its pool. APR carves allocations out of 8 KiB blocks, so ASan would see
 * an overflow of a pool string only when it left the block; with one
 * malloc per allocation, one byte past any apr_palloc, apr_pstrdup,
 * apr_pstrcat or apr_array_push buffer is a report. libapr calls
 * apr_palloc through its PLT, so this definition (exported because libapr
 * refers to it) serves libapr's own helpers too. apr_psprintf writes into
 * the pool block directly and keeps APR's granularity.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <sanitizer/lsan_interface.h>

#include "qsso_keys.h"
#include "fuzz_common.h"

typedef void *(*qsso_fuzz_palloc_fn)(apr_pool_t *, apr_size_t);

static qsso_fuzz_palloc_fn qsso_fuzz_real_palloc;
static __thread int qsso_fuzz_in_palloc;
static apr_pool_t *qsso_fuzz_root;

static apr_status_t qsso_fuzz_free(void *m)
{
    free(m);
    return APR_SUCCESS;
}

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    void *m;

    if (qsso_fuzz_real_palloc == NULL) {
        qsso_fuzz_real_palloc =
            (qsso_fuzz_palloc_fn)dlsym(RTLD_NEXT, "apr_palloc");
        if (qsso_fuzz_real_palloc == NULL)
            qsso_fuzz_fail("dlsym(apr_palloc): %s", dlerror());
    }
    /* The cleanup record itself comes from APR's own allocator. */
    if (qsso_fuzz_in_palloc)
        return qsso_fuzz_real_palloc(p, size);
    if ((m = malloc(size)) == NULL && (m = malloc(1)) == NULL)
        return NULL;
    qsso_fuzz_in_palloc = 1;
    apr_pool_cleanup_register(p, m, qsso_fuzz_free, apr_pool_cleanup_null);
    qsso_fuzz_in_palloc = 0;
    return m;
}

void qsso_fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("qsso fuzz invariant broken: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void qsso_fuzz_init_begin(void)
{
    __lsan_disable();
}

void qsso_fuzz_init_end(void)
{
    __lsan_enable();
}

/* The set-up most targets need; a target that loads more at start
 * (fuzz_response.c) defines its own, which the linker prefers. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    qsso_fuzz_init_begin();
    qsso_fuzz_init();
    qsso_fuzz_init_end();
    return 0;
}

apr_pool_t *qsso_fuzz_init(void)
{
    const char *err;

    if (qsso_fuzz_root)
        return qsso_fuzz_root;
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&qsso_fuzz_root, NULL) != APR_SUCCESS)
        qsso_fuzz_fail("APR does not initialise");
    if ((err = qsso_keys_init_crypto(qsso_fuzz_root)) != NULL)
        qsso_fuzz_fail("qsso_keys_init_crypto: %s", err);
    return qsso_fuzz_root;
}

apr_pool_t *qsso_fuzz_pool(void)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, qsso_fuzz_init()) != APR_SUCCESS)
        qsso_fuzz_fail("apr_pool_create");
    return p;
}

char *qsso_fuzz_string(apr_pool_t *p, const uint8_t *data, size_t size)
{
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    size_t n = nul ? (size_t)(nul - data) : size;
    char *s = apr_palloc(p, n + 1);

    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

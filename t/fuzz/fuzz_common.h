/*
 * Shared by the libFuzzer targets (t/fuzz/README.md): APR, libxml2 and
 * xmlsec set up once per process, a fresh pool per input, fixture paths,
 * and the abort that turns a broken invariant into a crash libFuzzer keeps.
 */
#ifndef QSSO_FUZZ_COMMON_H
#define QSSO_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

/* QSSO_FUZZ_ROOT (the repository, absolute) comes from the Makefile, so a
 * target runs from any directory. */
#define QSSO_FUZZ_FIXTURE(name) QSSO_FUZZ_ROOT "/t/unit/fixtures/" name
#define QSSO_FUZZ_KEY(name) QSSO_FUZZ_ROOT "/t/keys/" name

/* fuzz_common.c defines LLVMFuzzerInitialize (weak) as
 * qsso_fuzz_init between the two brackets below; a target that needs more
 * at start defines its own. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Initialises APR, libxml2 and xmlsec once; the pool it returns lives as
 * long as the process (keys and metadata loaded at start go there). */
apr_pool_t *qsso_fuzz_init(void);

/* Bracket LLVMFuzzerInitialize. What is allocated in between lives for the
 * process, often reachable only through APR's pool blocks, which are
 * mmap()ed and so invisible to LeakSanitizer: it is marked as not leaked,
 * and as a root for what it points to. */
void qsso_fuzz_init_begin(void);
void qsso_fuzz_init_end(void);

/* A pool for one input; destroy it before returning to libFuzzer so the
 * leak check sees everything the input allocated freed. */
apr_pool_t *qsso_fuzz_pool(void);

/* The input as a C string in p: bytes up to the first NUL, in a buffer of
 * exactly that size plus one, so a read past the end is an ASan report. */
char *qsso_fuzz_string(apr_pool_t *p, const uint8_t *data, size_t size);

/* A broken invariant: prints why and aborts, which libFuzzer records as a
 * crash with the input that caused it. */
void qsso_fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#define QSSO_FUZZ_CHECK(cond, ...) \
    do { \
        if (!(cond)) \
            qsso_fuzz_fail(__VA_ARGS__); \
    } while (0)

#endif

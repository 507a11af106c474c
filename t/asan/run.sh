#!/bin/bash
# make test-asan: the whole integration suite against .libs-asan/mod_qsso.so
# (ASan + UBSan) loaded by the real httpd, then a check that no sanitizer
# report was written. Reports go to files (log_path), one per process, in a
# directory the workers (www-data) can write to, because httpd sends its
# children's stderr to error_log, where a report could pass unnoticed.
# httpd runs with a libapr-1 built with pool debugging
# (tools/build-pool-debug-apr.sh, which `make test-asan` runs first): a pool's
# memory is then really freed with the pool, and ASan reports a use of it
# afterwards, which the normal allocator hides by keeping the block.
# QSSO_POOL_DEBUG=0 runs with the installed libapr-1 instead.
# Arguments replace pytest's default arguments (t/integration), e.g.
#   bash t/asan/run.sh -x t/integration/test_login_flow.py
set -uo pipefail
cd "$(dirname "$0")/../.."

ROOT=$PWD
MODULE=$ROOT/.libs-asan/mod_qsso.so
REPORTS=$ROOT/.libs-asan/reports
# The ASan runtime the module links (clang's: it holds UBSan too).
RUNTIME=${QSSO_ASAN_RUNTIME:-$(clang-14 -print-file-name=libclang_rt.asan-x86_64.so)}

[ -f "$MODULE" ] || { echo "test-asan: build it first: make asan" >&2; exit 1; }
[ -f "$RUNTIME" ] || { echo "test-asan: no ASan runtime ($RUNTIME)" >&2; exit 1; }
if [ "${QSSO_POOL_DEBUG:-1}" != 0 ]; then
    APR_LIB=${QSSO_APR_DEBUG_DIR:-$ROOT/.libs-asan/apr-pool-debug}/lib
    [ -e "$APR_LIB/libapr-1.so.0" ] || {
        echo "test-asan: no pool-debug libapr-1 in $APR_LIB:" \
            "run tools/build-pool-debug-apr.sh (make test-asan does)" >&2
        exit 1
    }
    export QSSO_APR_DEBUG_LIB=$APR_LIB
    echo "test-asan: httpd uses the pool-debug libapr-1 of $APR_LIB"
else
    unset QSSO_APR_DEBUG_LIB
fi
rm -rf "$REPORTS"
mkdir -p "$REPORTS"
chmod 1777 "$REPORTS"

# detect_leaks=0: httpd leaves its pools to exit() by design, so LeakSanitizer
# would report httpd, not us; leaks are valgrind's job (t/memcheck.sh).
# UBSan recovers and goes on (the report file fails the run at the end).
# ASan and UBSan share one runtime and one set of common flags, so both
# name the same log_path.
export QSSO_MODULE=$MODULE
export QSSO_HTTPD=$ROOT/t/asan/httpd
export APACHE2=$ROOT/t/asan/httpd       # qssoctl check-config's httpd
export QSSO_ASAN_RUNTIME=$RUNTIME
export ASAN_OPTIONS="log_path=$REPORTS/report:detect_leaks=0:halt_on_error=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="log_path=$REPORTS/report:print_stacktrace=1:halt_on_error=0"

if [ $# -eq 0 ]; then
    set -- t/integration
fi
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$@"
rc=$?

reports=$(find "$REPORTS" -type f | sort)
if [ -n "$reports" ]; then
    for f in $(echo "$reports" | head -3); do
        echo "== sanitizer report $f"
        head -60 "$f"
    done
    echo "test-asan FAILED: $(echo "$reports" | wc -l) sanitizer report(s) in $REPORTS"
    exit 1
fi
if [ $rc -ne 0 ]; then
    echo "test-asan FAILED: the integration suite failed under ASan (exit $rc)"
    exit $rc
fi
echo "test-asan: integration suite passed, no sanitizer report"

#!/bin/bash
# The test command of the README: installs what is missing, builds the
# module, and runs every test (static checks, C unit tests, the same under
# AddressSanitizer, the integration suite against real httpd + Redis under
# the event, worker and prefork MPMs, the fuzz corpora and a brief fuzz
# run, and the integration suite again with an ASan + UBSan build of the
# module in an httpd whose APR pools are built with pool debugging:
# t/fuzz/README.md). Arguments go to each integration pass's pytest. Prints
# how long each stage took, and fails when any process it started is still
# running at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every process of this run inherits QSSO_TEST_RUN, and every temporary
# directory of this run (the integration passes' included) is made in this
# run's own TMPDIR: at the end t/lib/leftovers.py finds any such process
# still alive (redis-server, which writes over its environment, by its
# working directory), stops it and fails the run.
QSSO_TEST_RUN=run-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
export QSSO_TEST_RUN
TMPDIR=$(mktemp -d /tmp/qsso-run-XXXXXX)
chmod 755 "$TMPDIR"         # httpd's workers (www-data) read below it
export TMPDIR
RUN_TMP=$TMPDIR

# The MPMs the integration suite runs under (QSSO_MPM, harness.py): event,
# Debian's default; worker; prefork, which many sites keep for mod_php and
# where each child is a process of its own (session cache, graceful
# restarts). QSSO_MPMS="event" runs just the first.
read -r -a MPMS <<< "${QSSO_MPMS:-event worker prefork}"

TIMES=()
RUN_START=$SECONDS
stage() {      # stage NAME COMMAND...: runs it, and notes how long it took
    local name=$1 t0=$SECONDS
    shift
    echo "== $name"
    "$@" || {
        local rc=$?
        TIMES+=("$(printf '%5d s  %s (FAILED)' $((SECONDS - t0)) "$name")")
        exit "$rc"
    }
    TIMES+=("$(printf '%5d s  %s' $((SECONDS - t0)) "$name")")
}

finish() {
    local rc=$? left=0
    trap - EXIT
    /usr/bin/python3 t/lib/leftovers.py --stop --dir "$RUN_TMP" \
        "$QSSO_TEST_RUN" || left=1
    rm -rf "$RUN_TMP"
    if [ ${#TIMES[@]} -gt 0 ]; then
        echo "== time per stage"
        printf '%s\n' "${TIMES[@]}"
        printf '%5d s  all\n' $((SECONDS - RUN_START))
    fi
    if [ "$left" -ne 0 ]; then
        echo "run-all FAILED: processes of this run were still running"
        [ "$rc" -ne 0 ] || rc=1
    fi
    exit "$rc"
}
trap finish EXIT

stage "install what is missing" tools/install-deps.sh
build() { make -f Makefile.apxs >/dev/null; }
stage "build" build
stage "static checks" /usr/bin/python3 t/check/check_sources.py
stage "unit tests" make -s -C t/unit test
stage "unit tests under AddressSanitizer" make -s -C t/unit asan
stage "fuzz corpora replayed" make -s -C t/fuzz replay
stage "the demo (README's first command) signs in end to end" \
    bash demo/run.sh --check
for mpm in "${MPMS[@]}"; do
    stage "integration tests, $mpm MPM" \
        env QSSO_MPM="$mpm" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
        t/integration "$@"
done
stage "fuzzing, ${FUZZ_SECONDS:-5} s per target" \
    make -s -C t/fuzz fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
stage "integration tests under ASan + UBSan, pool-debug APR (make test-asan)" \
    make -s test-asan

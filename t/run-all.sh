#!/bin/bash
# The test command of the README: installs what is missing, builds the
# module, and runs every test (static checks, C unit tests, the same under
# AddressSanitizer, the integration suite against real httpd + Redis, the
# fuzz corpora and a brief fuzz run, and the integration suite again with
# an ASan + UBSan build of the module in httpd: t/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
make -f Makefile.apxs >/dev/null
echo "== static checks"
/usr/bin/python3 t/check/check_sources.py
echo "== unit tests"
make -s -C t/unit test
echo "== unit tests under AddressSanitizer"
make -s -C t/unit asan
echo "== fuzz corpora replayed"
make -s -C t/fuzz replay
echo "== the demo (README's first command) signs in end to end"
bash demo/run.sh --check
echo "== integration tests"
/usr/bin/python3 -m pytest -q -p no:cacheprovider t/integration "$@"
echo "== fuzzing, ${FUZZ_SECONDS:-5} s per target"
make -s -C t/fuzz fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-5}"
echo "== integration tests under ASan + UBSan (make test-asan)"
make -s test-asan

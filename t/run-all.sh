#!/bin/bash
# The test command of the README: installs what is missing, builds the
# module, and runs every test (static checks, C unit tests, the same under
# AddressSanitizer, and the integration suite against real httpd + Redis).
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
echo "== the demo (README's first command) signs in end to end"
bash demo/run.sh --check
echo "== integration tests"
/usr/bin/python3 -m pytest -q -p no:cacheprovider t/integration "$@"

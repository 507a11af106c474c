#!/bin/bash
# valgrind memcheck over the module in the real httpd: a full login and
# 1,000 protected requests (QSSO_MEMCHECK_REQUESTS to change), httpd -X
# under valgrind, then the leaks and errors with a frame in mod_qsso.so.
# Fails on any definite or indirect leak, or memory error, of the module.
# Slow (minutes) and not part of CI; run it before a release: make memcheck
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || {
    echo "memcheck: valgrind is missing: apt-get install valgrind" >&2
    exit 1
}
make -s -f Makefile.apxs >/dev/null
exec /usr/bin/python3 t/memcheck.py "$@"

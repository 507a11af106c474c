#!/bin/bash
# The benchmark (make -f Makefile.apxs bench): bash bench/run.sh [--quick]
# Installs what only the bench needs (wrk, and mod_auth_mellon for the
# comparison row) when missing, builds the module, and runs bench/bench.py.
# Not part of the test suite: it measures, it does not pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
[ -e /usr/lib/apache2/modules/mod_auth_mellon.so ] \
    || need+=(libapache2-mod-auth-mellon)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "bench: installing ${need[*]}"
        # Installing must not start the system's apache2.
        policy=/usr/sbin/policy-rc.d
        created=0
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy"
            chmod +x "$policy"
            created=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq \
               && apt-get install -y -qq --no-install-recommends \
                      "${need[@]}" >/dev/null; }; then
            echo "bench: could not install ${need[*]}; rows that need" \
                 "them say so" >&2
        fi
        if [ "$created" -eq 1 ]; then
            rm -f "$policy"
        fi
    else
        echo "bench: not root, cannot install ${need[*]}" >&2
    fi
fi
command -v wrk >/dev/null || { echo "bench: wrk is required" >&2; exit 1; }

tools/install-deps.sh
# --module PATH benchmarks a module built elsewhere; otherwise this tree's.
case " $* " in
    *" --module"*) ;;
    *) make -f Makefile.apxs >/dev/null ;;
esac
exec /usr/bin/python3 bench/bench.py "$@"

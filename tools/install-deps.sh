#!/bin/bash
# Installs the Debian packages mod_qsso needs to build, test and run its
# demo, when they are missing. Safe to run again; needs root for apt-get.
set -euo pipefail

PACKAGES=(
    make gcc pkg-config
    # apt-get source (tools/build-pool-debug-apr.sh, for make test-asan)
    dpkg-dev bzip2 xz-utils
    apache2 apache2-dev
    redis-server libhiredis-dev
    libxml2-dev libxmlsec1-dev libxmlsec1-openssl xmlsec1
    libssl-dev zlib1g-dev libjansson-dev
    libcmocka-dev
    clang-14 libclang-rt-14-dev libfuzzer-14-dev
    python3 python3-pysaml2 python3-pytest python3-lxml python3-requests
    openssl curl wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (or install: ${missing[*]})" >&2
    exit 1
fi
# Installing apache2 and redis-server must not start the system services:
# tests and the demo run their own instances on loopback ports.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created_policy=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ "$created_policy" -eq 1 ]; then
    rm -f "$policy"
fi

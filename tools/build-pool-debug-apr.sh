#!/bin/bash
# Builds libapr-1 from Debian's source package of the installed libapr1,
# configured with --enable-pool-debug, into $OUT (default
# .libs-asan/apr-pool-debug). `make test-asan` runs httpd with it through
# LD_LIBRARY_PATH (t/asan/httpd): with pool debugging every apr_palloc is a
# malloc of its own and is freed when its pool is cleared or destroyed, so
# ASan sees a use of pool memory after its pool ended, where the normal
# allocator would keep the block and hand it out again. A pool-debug libapr
# keeps the ABI of the normal one (the same entry points exist in both).
#
# Cached: nothing is done when $OUT holds a library built from the same
# version as the installed libapr1 by the same recipe (about 30 s else). The source comes from the Debian mirror
# that apt is configured with, through a private apt state (deb-src lines
# made from the system's deb lines) in $OUT/apt: the system's apt
# configuration is not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${QSSO_APR_DEBUG_DIR:-$PWD/.libs-asan/apr-pool-debug}
# The installed version, and this recipe's (bump it when the build below
# changes, so a cached library from the old recipe is rebuilt).
version=$(dpkg-query -W -f='${Version}' libapr1)
recipe="$version recipe 2"
stamp=$OUT/built-from
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$recipe" ] &&
        [ -e "$OUT/lib/libapr-1.so.0" ]; then
    exit 0
fi
echo "pool-debug APR: building libapr-1 $version with --enable-pool-debug"
rm -rf "$OUT"
mkdir -p "$OUT/apt/lists/partial" "$OUT/apt/cache/archives/partial" \
    "$OUT/apt/sources.list.d" "$OUT/src"

# deb-src twins of every deb source apt has (deb822 .sources files and
# one-line sources.list entries alike).
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed -e 's/^Types:.*\bdeb\b.*/Types: deb-src/' "$f" \
        > "$OUT/apt/sources.list.d/$(basename "$f")"
done
{
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -n -e 's/^[[:space:]]*deb[[:space:]]/deb-src /p'
} > "$OUT/apt/sources.list" || true

APT=(-o "Dir::Etc::SourceList=$OUT/apt/sources.list"
     -o "Dir::Etc::SourceParts=$OUT/apt/sources.list.d"
     -o "Dir::State::Lists=$OUT/apt/lists"
     -o "Dir::Cache=$OUT/apt/cache"
     -o "Debug::NoLocking=1"
     -o "APT::Get::List-Cleanup=0"
     -o "APT::Sandbox::User=root")
# A source without deb-src indexes (a third-party repository) fails its
# part of the update; what matters is that the Debian mirror's answered.
apt-get "${APT[@]}" update -qq > "$OUT/apt-update.log" 2>&1 || true
if ! (cd "$OUT/src" &&
      apt-get "${APT[@]}" source -qq "apr=$version" > "$OUT/source.log" 2>&1)
then
    cat "$OUT/apt-update.log" "$OUT/source.log" >&2
    echo "pool-debug APR: apt-get source apr=$version failed" >&2
    exit 1
fi
srcdir=$(find "$OUT/src" -mindepth 1 -maxdepth 1 -type d -name 'apr-*' |
         head -1)
[ -n "$srcdir" ] || { echo "pool-debug APR: no source unpacked" >&2; exit 1; }

# Pool debugging also makes the table functions check that what a table
# holds lives at least as long as the table, and abort() otherwise. That
# check needs the caller's help: a request's subrequest pool is declared
# to outlive it with apr_pool_join(), which is an empty macro in a program
# built without APR_POOL_DEBUG, as Debian's httpd is, so httpd's own
# ap_internal_fast_redirect (mod_dir's DirectoryIndex) would abort on the
# first request. Those checks go; what pool debugging is here for (a pool's
# memory freed with it, for ASan to watch) stays.
sed -i -e 's|^#if APR_POOL_DEBUG$|#if 0 /* qsso: no table lifetime checks */|' \
    "$srcdir/tables/apr_tables.c"
grep -q 'qsso: no table lifetime checks' "$srcdir/tables/apr_tables.c" ||
    { echo "pool-debug APR: apr_tables.c not as expected" >&2; exit 1; }

# Debian's source with its patches (apt-get source applies them), APR's
# own configure defaults, and --enable-pool-debug (APR_POOL_DEBUG=1).
# apr.h, which holds the ABI, must come out the same as the installed one:
# checked below.
cd "$srcdir"
./configure --prefix="$OUT" --includedir="$OUT/include" \
    --libdir="$OUT/lib" --with-devrandom=/dev/urandom --disable-static \
    --enable-pool-debug CFLAGS="-g -O2" > "$OUT/configure.log" 2>&1 ||
    { tail -20 "$OUT/configure.log" >&2; exit 1; }
{ make -j"$(nproc)" && make install; } > "$OUT/make.log" 2>&1 ||
    { tail -20 "$OUT/make.log" >&2; exit 1; }
grep -q 'APR_POOL_DEBUG=1' build/apr_rules.mk ||
    { echo "pool-debug APR: built without pool debugging" >&2; exit 1; }
cd - >/dev/null
if ! cmp -s "$OUT/include/apr.h" /usr/include/apr-1.0/apr.h; then
    echo "pool-debug APR: its apr.h differs from the installed one" \
        "(another ABI): not used" >&2
    exit 1
fi
rm -rf "$OUT/src" "$OUT/apt"
echo "$recipe" > "$stamp"
echo "pool-debug APR: $OUT/lib/libapr-1.so.0"

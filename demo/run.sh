#!/bin/bash
# The mod_qsso demo: Redis, Apache httpd + mod_qsso, a demo SAML IdP and a
# dashboard, all on 127.0.0.1.
#
#   bash demo/run.sh            start everything, print the URL, wait for Ctrl-C
#   bash demo/run.sh --check    start everything, drive one full login, print
#                               PASS or FAIL, stop everything, exit 0 / 1
#                               (DEMO_CHECK=1 does the same)
#
# Ports: DEMO_HTTP_PORT (8080), DEMO_IDP_PORT (8081), DEMO_REDIS_PORT (6390).
# A port given explicitly must be free; a default port that is busy is
# replaced by a free one (the URLs printed say which).
#
# Everything generated (keys, IdP metadata, httpd.conf, logs, Redis data) is
# under demo/.state/. Only the processes this script starts are stopped, by
# their process IDs.
set -euo pipefail

DEMO=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$DEMO")
STATE=$DEMO/.state
PY=/usr/bin/python3          # Debian's python3, which has python3-pysaml2
HTTPD=/usr/sbin/apache2
MODDIR=/usr/lib/apache2/modules

CHECK=0
[ "${DEMO_CHECK:-0}" = 1 ] && CHECK=1
for arg in "$@"; do
    case $arg in
        --check) CHECK=1 ;;
        -h|--help) sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "demo: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }

# ---- stopping what we started -------------------------------------------------

PIDS=()        # process IDs we started, in start order
NAMES=()       # what each one is
TMPDIRS=()
cleaned=0
CHECK_RAN=0    # set once check.py has run (it prints PASS or FAIL itself)

stop_pid() {   # stop_pid PID NAME: TERM, wait up to 10 s, then KILL
    local pid=$1 name=$2 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    [ "$cleaned" = 1 ] && return 0
    cleaned=1
    # --check always ends with one PASS or FAIL line on stdout.
    if [ "$CHECK" = 1 ] && [ "$rc" -ne 0 ] && [ "$CHECK_RAN" = 0 ]; then
        echo "FAIL: the demo did not start (exit status $rc; see above)"
    fi
    trap '' INT TERM
    local i
    if [ ${#PIDS[@]} -gt 0 ]; then
        say "stopping what it started (Apache, the IdP, Redis)"
        for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
            stop_pid "${PIDS[$i]}" "${NAMES[$i]}"
        done
    fi
    for d in "${TMPDIRS[@]+"${TMPDIRS[@]}"}"; do rm -rf -- "$d"; done
    rm -f "$STATE/run/demo.pids"
}
trap cleanup EXIT
trap 'echo; exit 130' INT
trap 'exit 143' TERM

started() {    # started PID NAME: remember it (also on disk, see below)
    PIDS+=("$1")
    NAMES+=("$2")
    echo "$1 $2" >> "$STATE/run/demo.pids"
}

# A previous run that was killed without its cleanup (kill -9, a closed
# terminal) may have left its processes running. They are recognised by
# the pid file and by QSSO_DEMO_STATE=<this state dir> in their environment
# (or, for redis-server, which overwrites its environment with its process
# title, by its working directory), and stopped by PID.
ours() {       # ours PID: was it started by a run of this demo?
    local pid=$1
    [ -n "$pid" ] && [ -e "/proc/$pid" ] || return 1
    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$STATE/redis" ] && return 0
    tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null \
        | grep -qxF "QSSO_DEMO_STATE=$STATE"
}

stop_leftovers() {
    local f=$STATE/run/demo.pids pid name
    [ -f "$f" ] || return 0
    while read -r pid name; do
        if ours "$pid"; then
            say "stopping $name left over from an earlier run (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            if kill -0 "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        fi
    done < "$f"
    rm -f "$f"
}

# ---- ports ----------------------------------------------------------------------

port_free() {  # can a server bind 127.0.0.1:PORT (with SO_REUSEADDR, as they do)?
    "$PY" - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

any_free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

TAKEN=" "
pick_port() {  # pick_port ENVVAR DEFAULT -> echoes the port
    local var=$1 def=$2 want=${!1:-} p
    if [ -n "$want" ]; then
        if ! [[ "$want" =~ ^[0-9]+$ ]] || [ "$want" -lt 1 ] \
                || [ "$want" -gt 65535 ]; then
            die "$var=$want is not a port number"
        fi
        port_free "$want" || die "$var=$want: 127.0.0.1:$want is in use"
        echo "$want"
        return
    fi
    if port_free "$def"; then
        echo "$def"
        return
    fi
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        p=$(any_free_port)
        case $TAKEN in *" $p "*) continue ;; esac
        echo "demo: 127.0.0.1:$def is in use; $var defaults to $p instead" >&2
        echo "$p"
        return
    done
    die "no free port for $var"
}

wait_for() {   # wait_for WHAT SECONDS PID COMMAND...: until COMMAND succeeds
    local what=$1 secs=$2 pid=$3 i
    shift 3
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    say "$what did not come up within $secs s"
    return 1
}

http_up() {    # http_up URL: any HTTP answer
    "$PY" - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
EOF
}

show_log() {   # show_log FILE [LINES]
    [ -s "$1" ] || return 0
    echo "----- last lines of ${1#"$ROOT"/} -----"
    tail -n "${2:-30}" "$1"
    echo "-----"
}

mkdir -p "$STATE/keys" "$STATE/run" "$STATE/logs" "$STATE/redis"
export QSSO_DEMO_STATE=$STATE
stop_leftovers

# ---- 1. packages and the module ----------------------------------------------

say "checking Debian packages (tools/install-deps.sh)"
bash "$ROOT/tools/install-deps.sh" || die "tools/install-deps.sh failed (run as root?)"

say "building the module (make -f Makefile.apxs)"
if ! make -C "$ROOT" -f Makefile.apxs > "$STATE/logs/build.log" 2>&1; then
    tail -n 40 "$STATE/logs/build.log" >&2
    die "the module does not build (demo/.state/logs/build.log)"
fi
MODULE=$ROOT/.libs/mod_qsso.so
[ -f "$MODULE" ] || die "the build left no $MODULE"

# ---- 2. state: keys, metadata, config ------------------------------------------

HTTP_PORT=$(pick_port DEMO_HTTP_PORT 8080);   TAKEN+="$HTTP_PORT "
IDP_PORT=$(pick_port DEMO_IDP_PORT 8081);     TAKEN+="$IDP_PORT "
REDIS_PORT=$(pick_port DEMO_REDIS_PORT 6390); TAKEN+="$REDIS_PORT "
if [ "$HTTP_PORT" = "$IDP_PORT" ] || [ "$HTTP_PORT" = "$REDIS_PORT" ] \
        || [ "$IDP_PORT" = "$REDIS_PORT" ]; then
    die "DEMO_HTTP_PORT, DEMO_IDP_PORT and DEMO_REDIS_PORT must differ"
fi

SP_BASE=http://127.0.0.1:$HTTP_PORT
SP_ENTITY_ID=$SP_BASE/qsso
IDP_URL=http://127.0.0.1:$IDP_PORT

# Key pairs for the demo IdP and SP, made once (self-signed, 10 years).
umask 077
for who in idp sp; do
    if [ ! -s "$STATE/keys/$who.key" ] || [ ! -s "$STATE/keys/$who.crt" ]; then
        say "generating the demo $who key pair (demo/.state/keys/$who.*)"
        openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
            -subj "/CN=mod_qsso demo $who" \
            -keyout "$STATE/keys/$who.key" -out "$STATE/keys/$who.crt" \
            >/dev/null 2>&1 || die "openssl could not make the $who key pair"
    fi
done
umask 022
chmod 644 "$STATE/keys/idp.crt" "$STATE/keys/sp.crt"

# The IdP's metadata carries its URLs, so it is written on every run.
"$PY" "$DEMO/idp.py" metadata --port "$IDP_PORT" --key "$STATE/keys/idp" \
    --out "$STATE/idp-metadata.xml" || die "could not write the IdP metadata"
ATTR_LINES=$("$PY" "$DEMO/idp.py" httpd-attrs) || die "idp.py httpd-attrs failed"

# Started as root, Apache's children run as www-data (or nobody), and they
# must be able to read the pages. If they cannot reach demo/htdocs (a clone
# under /root, say), the pages are served from a world-readable copy.
DOCROOT=$DEMO/htdocs
USER_LINES="# not started as root: the server runs as $(id -un)"
if [ "$(id -u)" -eq 0 ]; then
    RUN_USER=www-data RUN_GROUP=www-data
    if ! id -u www-data >/dev/null 2>&1; then
        RUN_USER=nobody RUN_GROUP=$(id -gn nobody)
    fi
    USER_LINES="User $RUN_USER
Group $RUN_GROUP"
    if ! runuser -u "$RUN_USER" -- test -r "$DOCROOT/dashboard/index.shtml" \
            2>/dev/null; then
        DOCROOT=$(mktemp -d "${TMPDIR:-/tmp}/qsso-demo-htdocs.XXXXXX")
        TMPDIRS+=("$DOCROOT")
        cp -R "$DEMO/htdocs/." "$DOCROOT/"
        chmod -R a+rX "$DOCROOT"
        say "$RUN_USER cannot read demo/htdocs; serving a copy from $DOCROOT"
    fi
fi

for f in error.log access.log redis.log idp.log; do
    [ -f "$STATE/logs/$f" ] && mv -f "$STATE/logs/$f" "$STATE/logs/$f.old"
done
: > "$STATE/logs/error.log"

CONF=$STATE/httpd.conf
cat > "$CONF" <<EOF
# Generated by demo/run.sh on every run: edit demo/run.sh, not this file.
ServerRoot "$STATE"
ServerName 127.0.0.1
Listen 127.0.0.1:$HTTP_PORT
PidFile "$STATE/run/httpd.pid"
DefaultRuntimeDir "$STATE/run"
ErrorLog "$STATE/logs/error.log"
LogLevel warn
$USER_LINES

LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule mime_module $MODDIR/mod_mime.so
LoadModule include_module $MODDIR/mod_include.so
LoadModule env_module $MODDIR/mod_env.so
LoadModule headers_module $MODDIR/mod_headers.so
LoadModule dir_module $MODDIR/mod_dir.so
LoadModule alias_module $MODDIR/mod_alias.so
<IfModule !log_config_module>
    LoadModule log_config_module $MODDIR/mod_log_config.so
</IfModule>
LoadModule setenvif_module $MODDIR/mod_setenvif.so
LoadModule qsso_module "$MODULE"

# Small: one process is plenty for a demo.
StartServers 1
ServerLimit 4
ThreadsPerChild 16
MaxRequestWorkers 64
MinSpareThreads 8
MaxSpareThreads 32

LogFormat "%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\"" demo
CustomLog "$STATE/logs/access.log" demo

TypesConfig /etc/mime.types
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
AddDefaultCharset utf-8
DirectoryIndex index.shtml index.html
DocumentRoot "$DOCROOT"
<Directory />
    Options None
    AllowOverride None
    Require all denied
</Directory>
<Directory "$DOCROOT">
    Options +Includes
    Require all granted
</Directory>
# The pages link to the IdP's home page.
SetEnv DEMO_IDP_URL $IDP_URL
Header always set X-Content-Type-Options nosniff

# ---- mod_qsso -----------------------------------------------------------------
QSSOStore redis://127.0.0.1:$REDIS_PORT/0
QSSOSPBaseURL $SP_BASE
QSSOSPEntityID $SP_ENTITY_ID
QSSOSPCertFile "$STATE/keys/sp.crt"
QSSOSPPrivateKeyFile "$STATE/keys/sp.key"
QSSOIdPMetadataFile "$STATE/idp-metadata.xml"
# Plain http on loopback for the demo; keep Secure On behind https.
QSSOCookieSecure Off
# The attribute Names the demo IdP (demo/idp.py) sends.
$ATTR_LINES

<Location /dashboard/>
    AuthType qsso
    Require valid-user
</Location>
# Only managers see the team report (Require qsso-user-type).
<Location /dashboard/team/>
    AuthType qsso
    Require qsso-user-type Manager
</Location>
EOF

say "checking the httpd configuration ($HTTPD -t)"
if ! out=$("$HTTPD" -f "$CONF" -t 2>&1); then
    echo "$out" >&2
    show_log "$STATE/logs/error.log" >&2
    die "apache2 -t refused demo/.state/httpd.conf (see above)"
fi

# ---- 3. start Redis, the IdP, Apache ---------------------------------------------

say "starting redis-server on 127.0.0.1:$REDIS_PORT"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir "$STATE/redis" --logfile "$STATE/logs/redis.log" \
    --daemonize no --protected-mode yes < /dev/null &
started $! redis-server
wait_for redis-server 15 "$!" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping \
    || { show_log "$STATE/logs/redis.log"; die "redis-server did not start"; }

say "starting the demo IdP on $IDP_URL"
"$PY" "$DEMO/idp.py" serve --port "$IDP_PORT" --key "$STATE/keys/idp" \
    --sp-base "$SP_BASE" --sp-entity-id "$SP_ENTITY_ID" \
    < /dev/null >> "$STATE/logs/idp.log" 2>&1 &
started $! idp
wait_for "the demo IdP" 20 "$!" http_up "$IDP_URL/metadata" \
    || { show_log "$STATE/logs/idp.log"; die "the demo IdP did not start"; }

say "starting Apache httpd with mod_qsso on $SP_BASE"
"$HTTPD" -f "$CONF" -DFOREGROUND < /dev/null >> "$STATE/logs/error.log" 2>&1 &
started $! apache2
wait_for "Apache httpd" 20 "$!" http_up "$SP_BASE/" \
    || { show_log "$STATE/logs/error.log"; die "Apache httpd did not start"; }

# ---- 4. check, or wait -----------------------------------------------------------

if [ "$CHECK" = 1 ]; then
    say "driving one full login (demo/check.py)"
    CHECK_RAN=1
    if "$PY" "$DEMO/check.py" --sp "$SP_BASE" --idp "$IDP_URL" --user ana; then
        status=0
    else
        status=1
        show_log "$STATE/logs/error.log" 40
        show_log "$STATE/logs/idp.log" 20
    fi
    exit $status
fi

cat <<EOF

  mod_qsso demo is running.

    Open      $SP_BASE/dashboard/
    Public    $SP_BASE/
    Demo IdP  $IDP_URL/   (IdP-initiated login, metadata)
    SP meta   $SP_BASE/qsso/metadata

  Demo users (pick one on the IdP's login page; no passwords):
$("$PY" "$DEMO/idp.py" users | sed 's/^/    /')

  Logs and generated files: demo/.state/ (httpd.conf, logs/error.log, ...)
  Ctrl-C stops Apache, the IdP and Redis.

EOF

# Wait until Ctrl-C, or until one of them dies on its own.
set +e
wait -n "${PIDS[@]}"
for i in "${!PIDS[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
        say "${NAMES[$i]} (pid ${PIDS[$i]}) exited on its own"
        case ${NAMES[$i]} in
            apache2) show_log "$STATE/logs/error.log" ;;
            idp) show_log "$STATE/logs/idp.log" ;;
            redis-server) show_log "$STATE/logs/redis.log" ;;
        esac
    fi
done
exit 1

#!/bin/bash
# End-to-end tests: a private Redis (free TCP port) and nginx with our modules
# on 127.0.0.1:443 / [::1]:443 (REST, and WebSocket on /$iothub/websocket and
# /$servicebus/websocket: scripts/hub-conf.sh) and, when the build has the MQTT module,
# 127.0.0.1:8883 / [::1]:8883 (MQTT over TLS), with the AMQP module
# 127.0.0.1:5671 / [::1]:5671 (AMQP over TLS), then `node --test` on
# t/e2e/*.test.js with the real Azure IoT SDKs. Everything lives in a temp dir
# removed at the end (KEEP=1 keeps it for debugging). Exits with the test status.
#
# The tests get IOTHUB_* variables: the connection strings of every policy,
# IOTHUB_CA, IOTHUB_HUB_NAME, IOTHUB_STORAGE_KEY and IOTHUB_STORAGE_ENDPOINT
# (the blob store's account key and BlobEndpoint), IOTHUB_REDIS_PORT (the
# private Redis, for tests that read what the hub stored), IOTHUB_NGINX_LOG (+ _LEVEL) and IOTHUB_MQTT=1
# when 8883 is served.
# Arguments: test files (relative to the repository root) instead of all of
# t/e2e/*.test.js, and `node --test` options, e.g.
#   t/e2e/run.sh t/e2e/device-mqtt.test.js --test-name-pattern=twin
#
# Needs `make build` first, plus node/npm, redis-server, openssl
# and ports 443 and 8883.
set -eu
# the ports are fixed: a second run on this machine waits for the first
exec 9>"${TMPDIR:-/tmp}/iothub-e2e-ports.lock"
flock 9
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
E2E=$ROOT/t/e2e
. "$ROOT/scripts/lib.sh"

NGINX=/usr/sbin/nginx
MODULES=${MODULES:-$ROOT/build/modules}
HUB=localhost

fail() { echo "e2e: $*" >&2; exit 1; }

for so in ngx_iothub_module.so ngx_http_iothub_module.so; do
    [ -f "$MODULES/$so" ] || fail "$MODULES/$so missing: run 'make build' first"
done
MQTT=0
[ -f "$MODULES/ngx_stream_iothub_mqtt_module.so" ] && MQTT=1
AMQP=0
[ -f "$MODULES/ngx_stream_iothub_amqp_module.so" ] && AMQP=1
for tool in node npm redis-server openssl "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found"
done
can_bind_low_ports || fail "binding port 443 needs root (or CAP_NET_BIND_SERVICE)"
if port_in_use 443; then
    fail "port 443 is already in use; the SDKs can only talk to 443. Listener:
$(who_listens 443)"
fi
if [ "$AMQP" = 1 ] && port_in_use 5671; then
    fail "port 5671 is already in use; the device SDKs' AMQP transport needs it. Listener:
$(who_listens 5671)"
fi
if [ "$MQTT" = 1 ] && port_in_use 8883; then
    fail "port 8883 is already in use; the device SDKs' MQTT transport needs it. Listener:
$(who_listens 8883)"
fi

if [ ! -d "$E2E/node_modules" ]; then
    (cd "$E2E" && npm ci --no-audit --no-fund --loglevel=error)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/iothub-e2e.XXXXXX")
NGINX_PID="" REDIS_PID=""
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    trap - EXIT INT TERM
    [ -z "$NGINX_PID" ] || stop_pid "$NGINX_PID" QUIT 10
    [ -z "$REDIS_PID" ] || stop_pid "$REDIS_PID" TERM 10
    if [ "${KEEP:-0}" = 1 ]; then echo "e2e: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- redis on a free port, nothing persisted ---------------------------------
REDIS_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
mkdir -p "$TMP/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP/redis" --logfile "$TMP/redis/redis.log" --daemonize no &
REDIS_PID=$!
wait_tcp 127.0.0.1 "$REDIS_PORT" 10 "$REDIS_PID" || fail "redis did not start: $(tail -5 "$TMP/redis/redis.log")"

# ---- keys, certs, nginx ------------------------------------------------------
set -a
eval "$(new_policy_keys)"
set +a
"$ROOT/scripts/gen-certs.sh" "$TMP/certs" 2>/dev/null

PREFIX=$TMP/nginx
# info: the tests may look for connection lines in error.log
LOG_LEVEL=${LOG_LEVEL:-info}
mkdir -p "$PREFIX/logs" "$PREFIX/tmp"
# the blob store's account key: the import/export tests sign container SASs
STORAGE_KEY=${STORAGE_KEY:-$(openssl rand -base64 32)}
export IOTHUB_STORAGE_KEY=$STORAGE_KEY IOTHUB_STORAGE_ENDPOINT=https://$HUB/blobs
PREFIX=$PREFIX CERT_DIR=$TMP/certs MODULES=$MODULES REDIS_PORT=$REDIS_PORT HUB=$HUB \
    MQTT=$MQTT AMQP=$AMQP LOG_LEVEL=$LOG_LEVEL STORAGE_KEY=$STORAGE_KEY \
    STORAGE_ENDPOINT=$IOTHUB_STORAGE_ENDPOINT "$ROOT/scripts/hub-conf.sh" > "$PREFIX/nginx.conf"
"$NGINX" -q -t -p "$PREFIX" -c "$PREFIX/nginx.conf" || fail "nginx -t failed"
"$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
wait_tcp 127.0.0.1 443 10 "$NGINX_PID" || fail "nginx did not start: $(tail -20 "$PREFIX/logs/error.log")"
if [ "$MQTT" = 1 ]; then
    wait_tcp 127.0.0.1 8883 10 "$NGINX_PID" || fail "nginx does not listen on 8883: $(tail -20 "$PREFIX/logs/error.log")"
fi
if [ "$AMQP" = 1 ]; then
    wait_tcp 127.0.0.1 5671 10 "$NGINX_PID" || fail "nginx does not listen on 5671: $(tail -20 "$PREFIX/logs/error.log")"
fi

# ---- tests --------------------------------------------------------------------
export NODE_EXTRA_CA_CERTS=$TMP/certs/ca.crt
export IOTHUB_HOST=$HUB IOTHUB_CA=$TMP/certs/ca.crt IOTHUB_CERT_DIR=$TMP/certs
export IOTHUB_HUB_NAME=${HUB%%.*} IOTHUB_REDIS_PORT=$REDIS_PORT IOTHUB_MQTT=$MQTT IOTHUB_AMQP=$AMQP
export IOTHUB_NGINX_LOG=$PREFIX/logs/error.log IOTHUB_NGINX_LOG_LEVEL=$LOG_LEVEL
export IOTHUB_OWNER_CONNSTR; IOTHUB_OWNER_CONNSTR=$(connstr "$HUB" iothubowner)
for p in service device registryRead registryReadWrite; do
    export "IOTHUB_${p^^}_CONNSTR=$(connstr "$HUB" "$p")"
done

# one file at a time: registry.test.js counts devices (statistics) and must
# not see another file's devices appear meanwhile; force-exit so an SDK
# client left reconnecting cannot keep a test process alive
opts=(--test-concurrency=1 --test-force-exit) files=()
for a in "$@"; do
    case $a in
        -*) opts+=("$a") ;;
        *) files+=("$a") ;;
    esac
done
[ ${#files[@]} -gt 0 ] || files=("$E2E"/*.test.js)
status=0
(cd "$ROOT" && node --test "${opts[@]}" "${files[@]}") || status=$?
if [ "$status" -ne 0 ]; then
    echo "---- nginx error.log (last 40 lines) ----" >&2
    tail -40 "$PREFIX/logs/error.log" >&2 || true
fi
exit "$status"

#!/bin/bash
# End-to-end tests: a private Redis (free TCP port) and nginx with our modules
# on 127.0.0.1:443 / [::1]:443, then `node --test` on t/e2e/*.test.js with the
# real Azure IoT SDKs. Everything lives in a temp dir removed at the end
# (KEEP=1 keeps it for debugging). Exits with the test status.
#
# Needs `make build` first, plus node/npm, redis-server, openssl and port 443.
set -eu
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
for tool in node npm redis-server openssl "$NGINX"; do
    command -v "$tool" >/dev/null 2>&1 || fail "'$tool' not found"
done
can_bind_low_ports || fail "binding port 443 needs root (or CAP_NET_BIND_SERVICE)"
if port_in_use 443; then
    fail "port 443 is already in use; the SDKs can only talk to 443. Listener:
$(who_listens 443)"
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
mkdir -p "$PREFIX/logs" "$PREFIX/tmp"
PREFIX=$PREFIX CERT_DIR=$TMP/certs MODULES=$MODULES REDIS_PORT=$REDIS_PORT HUB=$HUB \
    LOG_LEVEL=${LOG_LEVEL:-info} "$ROOT/scripts/hub-conf.sh" > "$PREFIX/nginx.conf"
"$NGINX" -q -t -p "$PREFIX" -c "$PREFIX/nginx.conf" || fail "nginx -t failed"
"$NGINX" -p "$PREFIX" -c "$PREFIX/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
wait_tcp 127.0.0.1 443 10 "$NGINX_PID" || fail "nginx did not start: $(tail -20 "$PREFIX/logs/error.log")"

# ---- tests --------------------------------------------------------------------
export NODE_EXTRA_CA_CERTS=$TMP/certs/ca.crt
export IOTHUB_HOST=$HUB IOTHUB_CA=$TMP/certs/ca.crt IOTHUB_CERT_DIR=$TMP/certs
export IOTHUB_OWNER_CONNSTR; IOTHUB_OWNER_CONNSTR=$(connstr "$HUB" iothubowner)
for p in service device registryRead registryReadWrite; do
    export "IOTHUB_${p^^}_CONNSTR=$(connstr "$HUB" "$p")"
done

status=0
(cd "$ROOT" && node --test "$E2E"/*.test.js) || status=$?
if [ "$status" -ne 0 ]; then
    echo "---- nginx error.log (last 40 lines) ----" >&2
    tail -40 "$PREFIX/logs/error.log" >&2 || true
fi
exit "$status"

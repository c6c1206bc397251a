#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# Deterministic cost per D2C message (QoS 1 PUBLISH -> Redis -> PUBACK)
# or per connection, for comparing builds on a busy machine where
# wall-clock rates mean nothing. One nginx process (master_process off, so
# the one process is the worker) and one Redis, and a load of
# bench/loadgen:
#
#   LOAD=d2c       PUBLISHERS publishers, QoS 1, WINDOW in flight each
#   LOAD=connect   CONNECTS connections (TLS, SAS CONNECT, CONNACK,
#                  DISCONNECT), CONCURRENCY at a time, over DEVICES devices
#                  (100: most connects find the identity in the cache)
#   LOAD=tls       CONNECTS bare TLS handshakes (loadgen --tls-only)
#   LOAD=http      HTTP_CONNS devices posting telemetry over HTTPS
#                  keep-alive (loadgen http), one request in flight each
#   LOAD=http-plain  the same requests to plain nginx answering
#                  "return 204;" (bench/lib.sh plain_conf: Debian's
#                  nginx.conf), the baseline of LOAD=http; callgrind-nginx
#                  or strace only
#
# then one of:
#
#   TOOL=callgrind-nginx  nginx under valgrind --tool=callgrind: machine
#                         instructions (Ir) of nginx per message
#   TOOL=callgrind-redis  redis-server under callgrind: Ir of Redis per
#                         message, and its commands per message
#   TOOL=strace           nginx under strace -c -f: system calls per
#                         message
#
# For d2c and http each counts only a window in the middle of the load (callgrind:
# its instrumentation switched on and off with callgrind_control; strace:
# attached for the window), and divides by the messages Redis stored in
# that window (the growth of the partition streams; for http-plain: the
# lines nginx logged in its access log). For connect and tls
# it counts the whole load and divides by CONNECTS. Prints one line
#   PROFILE tool=... msgs=... per_msg=... [details]
# ("msgs" are connections for connect and tls) and keeps the raw output
# in OUT (default: a temp dir, printed).
#
#   TOOL=callgrind-nginx PUBLISHERS=10 WINDOW=16 SECONDS_IN=8 bench/profile.sh
#   TOOL=callgrind-nginx LOAD=connect CONNECTS=1000 bench/profile.sh
#   TOOL=callgrind-redis LOAD=http HTTP_CONNS=10 bench/profile.sh
set -eu
. "$(dirname "$0")/lib.sh"

TOOL=${TOOL:-callgrind-nginx}
LOAD=${LOAD:-d2c}
CONNECTS=${CONNECTS:-1000}
CONCURRENCY=${CONCURRENCY:-16}
DEVICES=${DEVICES:-100}
PUBLISHERS=${PUBLISHERS:-10}
HTTP_CONNS=${HTTP_CONNS:-10}
WINDOW=${WINDOW:-16}
SIZE=${SIZE:-256}
SECONDS_IN=${SECONDS_IN:-8}
SETTLE=${SETTLE:-4}

case $TOOL in
callgrind-nginx|callgrind-redis|strace) ;;
*) bench_die "TOOL must be callgrind-nginx, callgrind-redis or strace" ;;
esac
case $LOAD in
d2c|connect|tls|http|http-plain) ;;
*) bench_die "LOAD must be d2c, connect, tls, http or http-plain" ;;
esac
[ "$LOAD:$TOOL" != http-plain:callgrind-redis ] ||
    bench_die "LOAD=http-plain has no Redis to count"


bench_init
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"

# Redis, under callgrind for TOOL=callgrind-redis
start_redis
if [ "$TOOL" = callgrind-redis ]; then
    redis_under_callgrind "$OUT/callgrind.redis" "$OUT/valgrind.redis.log" \
        --instr-atstart=no
fi

M=$(bench_port 20); H=$(bench_port 21)
dir=$WORK/n1
mkdir -p "$dir/logs" "$dir/tmp"
if [ "$LOAD" = http-plain ]; then
    plain_conf "$dir" "$H" 1
    sed -i -e 's/^worker_processes 1;$/worker_processes 1;\nmaster_process off;/' \
        "$dir/nginx.conf"
else
    PREFIX=$dir CERT_DIR=$WORK/certs MODULES=$MODULES REDIS=unix:$REDIS_SOCK \
        HUB=$HUB HTTPS_LISTEN=127.0.0.1:$H MQTT_LISTEN=127.0.0.1:$M AMQP=0 \
        WORKERS=1 LOG_LEVEL=warn "$ROOT/scripts/hub-conf.sh" |
        sed -e 's/^worker_processes \(.*\)$/worker_processes 1;\nmaster_process off;/' \
        > "$dir/nginx.conf"
fi
"$NGINX" -q -t -p "$dir" -c "$dir/nginx.conf" || bench_die "nginx rejected the config"
case $TOOL in
callgrind-nginx)
    setsid valgrind --tool=callgrind --instr-atstart=no \
        --callgrind-out-file="$OUT/callgrind.nginx.%p" \
        "$NGINX" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' \
        2>"$OUT/valgrind.nginx.log" & ;;
*)
    setsid "$NGINX" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' & ;;
esac
NGINX_PID=$!
PIDS+=("$NGINX_PID")
if [ "$LOAD" = http-plain ]; then
    wait_tcp 127.0.0.1 "$H" 120 "$NGINX_PID" || bench_die "nginx did not start"
else
    wait_tcp 127.0.0.1 "$M" 120 "$NGINX_PID" || bench_die "nginx did not start"
    wait_hub_rest "$H" 60 || bench_die "nginx does not answer REST"
fi
if [ "$LOAD" = http-plain ]; then
    :   # no devices: plain nginx does not look at the token
elif [ "$LOAD" = d2c ]; then
    create_devices "$H" "$PUBLISHERS"
elif [ "$LOAD" = http ]; then
    create_devices "$H" "$HTTP_CONNS"
else
    create_devices "$H" "$DEVICES"
fi

calls() {
    rcli info commandstats | tr -d '\r' |
        awk -F'[:=,]' '/^cmdstat_/ {sub("cmdstat_", "", $1); printf "%s=%s ", $1, $3}'
}

# Redis's own time per script call and per message in the window
# (usec of INFO commandstats: wall time inside the command, so only a
# rough figure on a shared machine)
script_usec() {
    rcli info commandstats | tr -d '\r' |
        awk -F'[:=,]' '/^cmdstat_evalsha:/ {c = $3; u = $5; pc = $7}
                       /^cmdstat_xadd:/ {x = $3}
                       END {if (x) printf "evalsha_usec_per_call=%s usec_per_message=%.2f (%d scripts, %d XADD)", pc, u / x, c, x}'
}

# the counting window: on / off
count_on() {
    case $TOOL in
    callgrind-nginx) callgrind_control -i on "$NGINX_PID" >/dev/null ;;
    callgrind-redis) callgrind_control -i on "$REDIS_PID" >/dev/null ;;
    strace)
        strace -c -f -p "$NGINX_PID" -o "$OUT/strace.txt" &
        ST=$!
        sleep 1 ;;
    esac
}

count_off() {
    case $TOOL in
    callgrind-nginx) callgrind_control -i off "$NGINX_PID" >/dev/null ;;
    callgrind-redis) callgrind_control -i off "$REDIS_PID" >/dev/null ;;
    strace) kill -INT "$ST" ;;
    esac
}

count_end() {
    case $TOOL in
    callgrind-nginx) callgrind_control -d "$NGINX_PID" >/dev/null ;;
    callgrind-redis) callgrind_control -d "$REDIS_PID" >/dev/null ;;
    strace) wait "$ST" || true ;;
    esac
}

# the messages so far: stored ones, or for plain nginx the requests logged
counted() {
    if [ "$LOAD" = http-plain ]; then
        wc -l < "$dir/logs/access.log"
    else
        d2c_stored
    fi
}

if [ "$LOAD" = d2c ] || [ "$LOAD" = http ] || [ "$LOAD" = http-plain ]; then
    if [ "$LOAD" = d2c ]; then
        "$LOADGEN" pub -t "127.0.0.1:$M" --key "$DEVICE_KEY" -n "$PUBLISHERS" --qos 1 \
            --window "$WINDOW" --size "$SIZE" -d $((SETTLE + SECONDS_IN + 4)) --warmup 1 \
            -q >"$OUT/loadgen.txt" 2>&1 &
    else
        "$LOADGEN" http -t "127.0.0.1:$H" --key "$DEVICE_KEY" -n "$HTTP_CONNS" \
            --size "$SIZE" -d $((SETTLE + SECONDS_IN + 4)) --warmup 1 \
            -q >"$OUT/loadgen.txt" 2>&1 &
    fi
    LG=$!
    sleep "$SETTLE"
    rcli config resetstat >/dev/null
    a=$(counted)
    count_on
    sleep "$SECONDS_IN"
    count_off
    b=$(counted)
    count_end
    c=$(calls)
    wait "$LG" || bench_die "loadgen failed: $(cat "$OUT/loadgen.txt")"
    msgs=$((b - a))
else
    args=(connect -t "127.0.0.1:$M" -n "$CONNECTS" -c "$CONCURRENCY" -d 600 --warmup 0)
    if [ "$LOAD" = tls ]; then
        args+=(--tls-only)
    else
        args+=(--key "$DEVICE_KEY" --devices "$DEVICES")
    fi
    rcli config resetstat >/dev/null
    count_on
    "$LOADGEN" "${args[@]}" -q >"$OUT/loadgen.txt" 2>&1 ||
        bench_die "loadgen failed: $(cat "$OUT/loadgen.txt")"
    sleep 1
    count_off
    count_end
    c=$(calls)
    res=$(grep '^RESULT' "$OUT/loadgen.txt" | tr ' ' '\n')
    msgs=$(awk -F= '$1 == "total" {print $2}' <<<"$res")
    [ "$msgs" = "$CONNECTS" ] && [ "$(awk -F= '$1 == "failed" {print $2}' <<<"$res")" = 0 ] &&
        [ "$(awk -F= '$1 == "errors" {print $2}' <<<"$res")" = 0 ] ||
        bench_die "not $CONNECTS clean connections: $(cat "$OUT/loadgen.txt")"
fi
[ "$msgs" -gt 0 ] || bench_die "nothing stored in the window"

case $TOOL in
callgrind-*)
    sleep 1
    f=$(ls -t "$OUT"/callgrind.*.* | head -n1)
    ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    echo "PROFILE load=$LOAD tool=$TOOL msgs=$msgs ir=$ir per_msg=$((ir / msgs)) commands: $c"
    echo "  (file $f; callgrind_annotate --inclusive=yes $f | head -60)"
    ;;
strace)
    # strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall
    awk -v n="$msgs" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
            printf "%s=%.3f ", $NF, $4 / n }
        END {print ""}' "$OUT/strace.txt" > "$OUT/per_msg.txt"
    tot=$(awk '$NF == "total" {print $4}' "$OUT/strace.txt")
    echo "PROFILE load=$LOAD tool=strace msgs=$msgs syscalls_per_msg=$(awk -v t="$tot" -v n="$msgs" 'BEGIN {printf "%.3f", t / n}') $(cat "$OUT/per_msg.txt")commands: $c"
    echo "  redis: $(script_usec)"
    ;;
esac
echo "  raw output in $OUT (KEEP=1 keeps it)"

#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# Memory after churn: rounds of devices that connect, stay a second and
# leave, per protocol, on a hub of one worker. After each round: the
# worker's RSS and its heap in use (glibc's malloc_info(), read through
# gdb; "n/a" without gdb); once every round is over, the RSS again after
# TRIM_WAIT seconds (default 95: the identity cache's entries expire after
# 60 s, and the hub's memory_trim, every 30 s by default, then frees them
# and gives the free heap back).
#
#   bench/run-churn.sh    ROUNDS=6 DEVICES=2000 PROTOCOLS="mqtt ws amqp http"
#                         TRIM_WAIT=95
#
# A leak shows as heap in use that grows round after round (the figure
# per device and round); memory kept after the devices left shows as RSS
# that stays up after the trim. mqtt and ws hold DEVICES MQTT devices
# (3 subscriptions, as the SDKs), over TLS and over WebSocket; amqp
# DEVICES AMQP devices (CBS put-token, telemetry sender and C2D receiver);
# http 200 devices posting telemetry over HTTPS keep-alive for 2 s.
# BAD_KEY=1: every device presents a token signed with a wrong key, so
# every connection (request) is refused: the failure paths' memory.
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-6}
DEVICES=${DEVICES:-2000}
PROTOCOLS=${PROTOCOLS:-"mqtt ws amqp http"}
TRIM_WAIT=${TRIM_WAIT:-95}

bench_init
amqp_init
start_redis
M=$(bench_port 80); H=$(bench_port 81); A=$(bench_port 82)

GDB=$(command -v gdb || true)
KEY=$DEVICE_KEY
[ "${BAD_KEY:-0}" = 1 ] && KEY=$(openssl rand -base64 32)

# churn_round PROTO: one round of devices that come and go
churn_round() {
    local common=(-n "$DEVICES" -d 1 -c 200 --timeout 30 -q --key "$KEY")
    case $1 in
    mqtt) "$LOADGEN" idle -t "127.0.0.1:$M" --warmup 0 --subscribe "${common[@]}" ;;
    ws)   "$LOADGEN" idle --ws -t "127.0.0.1:$H" --warmup 0 --subscribe "${common[@]}" ;;
    amqp) "$AMQP_LOADGEN" idle -t "127.0.0.1:$A" --c2d "${common[@]}" ;;
    http) "$LOADGEN" http -t "127.0.0.1:$H" -n 200 -d 2 --warmup 0 -q --key "$KEY" ;;
    esac > "$WORK/churn.out" 2>&1 && return
    # with a wrong key the load generators fail, as they should
    [ "${BAD_KEY:-0}" = 1 ] || { cat "$WORK/churn.out" >&2; bench_die "$1: a round failed"; }
}

# worker_pid: the one worker of node w1
worker_pid() {
    pgrep -P "$NGINX_PID_w1" | head -1
}

# heap_in_use_kb PID: bytes the heap holds in use (system minus free), KB
heap_in_use_kb() {
    local info=$WORK/malloc-info.xml
    [ -n "$GDB" ] || { echo n/a; return; }
    rm -f "$info"
    "$GDB" -p "$1" -batch \
        -ex "set \$f = (void *) fopen(\"$info\", \"w\")" \
        -ex 'call (int) malloc_info(0, $f)' -ex 'call (int) fclose($f)' \
        >/dev/null 2>&1 || true
    # the last <total type="rest"> and <system type="current"> are the
    # whole heap's (after the per-arena ones)
    awk -F'"' '/<total type="rest"/ {free = $6} /<system type="current"/ {sys = $4}
               END { if (sys == "") print "n/a"; else printf "%d", (sys - free) / 1024 }' \
        "$info" 2>/dev/null || echo n/a
}

echo "Memory after churn: $ROUNDS rounds of $DEVICES devices (http: 200) per protocol, 1 worker"
echo "each device connects, stays 1 s and leaves; RSS read again $TRIM_WAIT s after the last round"
[ "${BAD_KEY:-0}" = 1 ] && echo "BAD_KEY=1: every device's token is signed with a wrong key"
[ -n "$GDB" ] || echo "(gdb is not installed: no heap figures)"
machine

created=0
for proto in $PROTOCOLS; do
    start_nginx w1 1 "$M" "$H" "$A"
    [ "$created" = 1 ] || create_devices "$H" "$DEVICES"
    created=1
    forget_sessions
    pid=$(worker_pid)
    header "$proto: worker memory, KB"
    printf "  %-22s %10s %14s\n" "" "RSS" "heap in use"
    printf "  %-22s %10s %14s\n" "before" "$(rss_kb "$pid")" "$(heap_in_use_kb "$pid")"
    first=""
    for r in $(seq "$ROUNDS"); do
        churn_round "$proto"
        sleep 1
        heap=$(heap_in_use_kb "$pid")
        [ -n "$first" ] || first=$heap
        printf "  %-22s %10s %14s\n" "after round $r" "$(rss_kb "$pid")" "$heap"
    done
    sleep "$TRIM_WAIT"
    printf "  %-22s %10s %14s\n" "$TRIM_WAIT s later" "$(rss_kb "$pid")" "$(heap_in_use_kb "$pid")"
    if [ "$first" != n/a ] && [ "$ROUNDS" -gt 1 ]; then
        awk -v a="$first" -v b="$heap" -v r=$((ROUNDS - 1)) -v n="$DEVICES" -v p="$proto" \
            'BEGIN { if (p == "http") n = 200
                     printf "  heap growth after round 1: %+.1f bytes per device and round\n",
                            (b - a) * 1024 / r / n }'
    fi
    grep -E '\[(alert|crit|emerg)\]' "$WORK/w1/logs/error.log" | head -3 || true
    stop_nginx w1
done

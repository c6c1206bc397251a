#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# Idle density of AMQP devices, next to MQTT devices on the same nginx:
# memory per idle connected TLS device, all in: nginx RSS growth (master +
# workers) plus Redis used_memory growth, per device.
#
#   AMQP  one connection per device (bench/amqp_loadgen idle --c2d): no
#         SASL, a CBS put-token with the device's SAS token, the telemetry
#         sender and the C2D receiver attached (credit 10), then silence
#   MQTT  the figure of run-idle.sh (bench/loadgen idle --subscribe): SAS
#         CONNECT, C2D, methods and twin responses subscribed, keep-alive
#         120 s, clean session 0
#
#   bench/run-amqp-idle.sh    RUNS=3 COUNTS="5000 10000" CONCURRENCY=200
#                             PER_CONN=""
#
# PER_CONN=M adds targets: the same AMQP devices, M per connection (a
# field gateway: one TLS connection, one session, one $cbs link pair, a
# put-token and the two links per device).
#
# Each measurement starts a fresh nginx (a process's heap does not shrink
# back) and forgets earlier sessions in Redis, so the Redis growth counts
# each device's presence (and, for MQTT, its persistent session); every
# device has connected once before over each protocol (priming), so
# one-time registry growth is not counted. Figures are read 3 s after the
# last device is up. One load generator process holds at most 19,000
# connections (the open-files limit here is 20,000).
set -eu
RUNS=${RUNS:-3}
. "$(dirname "$0")/lib.sh"

COUNTS=${COUNTS:-"5000 10000"}
CONCURRENCY=${CONCURRENCY:-200}
PER_CONN=${PER_CONN:-}
TARGETS="w1m w1a w2m w2a"
[ -n "$PER_CONN" ] && TARGETS="$TARGETS w1x w2x"

bench_init
amqp_init
start_redis
M1=$(bench_port 60); H1=$(bench_port 61); A1=$(bench_port 62)
M2=$(bench_port 63); H2=$(bench_port 64); A2=$(bench_port 65)

max=0
for n in $COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
[ "$max" -le 19000 ] || bench_die "COUNTS: at most 19000 devices (one load generator process)"
start_nginx w2 2 "$M2" "$H2" "$A2"
create_devices "$H2" "$max"
# a device's first connection ever grows its registry hash once: connect
# every device once over each protocol before measuring
"$LOADGEN" idle -t "127.0.0.1:$M2" -n "$max" -d 1 --warmup 0 --subscribe -c "$CONCURRENCY" \
    --src-ips 8 --timeout 30 -q --key "$DEVICE_KEY" >/dev/null ||
    bench_die "priming the devices (MQTT) failed"
"$AMQP_LOADGEN" idle -t "127.0.0.1:$A2" -n "$max" -d 1 --c2d -c "$CONCURRENCY" \
    --timeout 30 -q --key "$DEVICE_KEY" >/dev/null ||
    bench_die "priming the devices (AMQP) failed"
stop_nginx w2

echo "Idle density, AMQP against MQTT on the same nginx, TLS 1.3 (P-256)"
echo "AMQP: no SASL, CBS put-token, telemetry sender + C2D receiver; MQTT: SAS CONNECT, 3 subscriptions, clean session 0, keep-alive 120 s"
echo "$RUNS runs per point, a fresh nginx each; open files limit $(ulimit -Hn) per process"
machine

# idle_once KEY N TARGET: one measurement (TARGET w1m w1a w2m w2a w1x w2x); records
# KEY.kb (per device, KB) and its parts
idle_once() {
    local key=$1 n=$2 t=$3 node pids r0 r1 m0 m1 out lg i connected
    case $t in
    w1*) start_nginx w1 1 "$M1" "$H1" "$A1"; node=w1 ;;
    w2*) start_nginx w2 2 "$M2" "$H2" "$A2"; node=w2 ;;
    esac
    forget_sessions
    sleep 1
    pids=$(tree_pids "$(eval echo "\$NGINX_PID_$node")")
    # shellcheck disable=SC2086
    r0=$(rss_kb $pids)
    m0=$(redis_used)
    out=$WORK/idle-$key-$run.out
    rm -f "$out"
    case $t in
    *m) "$LOADGEN" idle -t "127.0.0.1:$([ $node = w1 ] && echo "$M1" || echo "$M2")" \
            -n "$n" -d 300 --warmup 0 --subscribe --keepalive 120 -c "$CONCURRENCY" \
            --src-ips 8 --timeout 30 -q --key "$DEVICE_KEY" > "$out" 2>&1 & ;;
    *a) "$AMQP_LOADGEN" idle -t "127.0.0.1:$([ $node = w1 ] && echo "$A1" || echo "$A2")" \
            -n "$n" -d 300 --c2d -c "$CONCURRENCY" --timeout 30 -q \
            --key "$DEVICE_KEY" > "$out" 2>&1 & ;;
    *x) "$AMQP_LOADGEN" idle -t "127.0.0.1:$([ $node = w1 ] && echo "$A1" || echo "$A2")" \
            -n "$n" -d 300 --c2d --per-conn "$PER_CONN" -c "$CONCURRENCY" --timeout 30 -q \
            --key "$DEVICE_KEY" > "$out" 2>&1 & ;;
    esac
    lg=$!
    for ((i = 0; i < 600; i++)); do
        grep -qs '^READY' "$out" && break
        kill -0 "$lg" 2>/dev/null || break
        sleep 0.5
    done
    grep -q '^READY' "$out" || { cat "$out" >&2; bench_die "$key: the devices did not connect"; }
    sleep 3
    # shellcheck disable=SC2086
    r1=$(rss_kb $pids)
    m1=$(redis_used)
    kill -TERM "$lg"
    wait "$lg" || true
    connected=$(grep '^READY' "$out" | kv conns)
    [ "$connected" -gt 0 ] || bench_die "$key: nothing connected"
    [ "$connected" = "$n" ] || echo "  (note: $key: $connected of $n connected)"
    add "$key.kb" "$(awk -v r=$((r1 - r0)) -v m=$((m1 - m0)) -v n="$connected" 'BEGIN {printf "%.2f", (r * 1024 + m) / n / 1024}')"
    add "$key.rss_kb" "$(awk -v r=$((r1 - r0)) -v n="$connected" 'BEGIN {printf "%.2f", r / n}')"
    add "$key.redis_kb" "$(awk -v m=$((m1 - m0)) -v n="$connected" 'BEGIN {printf "%.2f", m / n / 1024}')"
    add "$key.connect_rate" "$(awk -v n="$connected" -v s="$(grep '^READY' "$out" | kv connect_s)" 'BEGIN {printf "%.0f", n / s}')"
    stop_nginx "$node"
}

for n in $COUNTS; do
    for run in $(seq "$RUNS"); do
        for t in $TARGETS; do
            idle_once "$t.$n" "$n" "$t"
        done
    done

    header "Idle density at $n devices: KB per idle connected device (nginx RSS + Redis used_memory)"
    # shellcheck disable=SC2046
    {
    for t in w1a w2a w1x w2x w1m w2m; do
        [ -n "$(vals "$t.$n.kb")" ] || continue
        case $t in
        w1a) label="AMQP, 1 worker" ;; w2a) label="AMQP, 2 workers" ;;
        w1x) label="AMQP $PER_CONN/conn, 1 worker" ;; w2x) label="AMQP $PER_CONN/conn, 2 workers" ;;
        w1m) label="MQTT, 1 worker" ;; w2m) label="MQTT, 2 workers" ;;
        esac
        row "$label, total" "%.1f" $(vals "$t.$n.kb")
        row "  nginx RSS" "%.1f" $(vals "$t.$n.rss_kb")
        row "  redis used_memory" "%.2f" $(vals "$t.$n.redis_kb")
    done
    row "ratio AMQP / MQTT, 1 worker" "%.2f" $(ratio_vals "w1a.$n.kb" "w1m.$n.kb")
    row "ratio AMQP / MQTT, 2 workers" "%.2f" $(ratio_vals "w2a.$n.kb" "w2m.$n.kb")
    echo "  devices up per second while filling (median): AMQP 1w $(med "w1a.$n.connect_rate"), 2w $(med "w2a.$n.connect_rate");" \
        "MQTT 1w $(med "w1m.$n.connect_rate"), 2w $(med "w2m.$n.connect_rate")"
    k1=$(med "w1a.$n.kb")
    k2=$(med "w2a.$n.kb")
    echo "  target <= 25 KB per idle AMQP device: 1 worker $(verdict "$k1" '<=' 25) ($k1 KB), 2 workers $(verdict "$k2" '<=' 25) ($k2 KB)"
    if [ -n "$PER_CONN" ]; then
        k1=$(med "w1x.$n.kb")
        k2=$(med "w2x.$n.kb")
        echo "  the same, $PER_CONN devices per connection: 1 worker $(verdict "$k1" '<=' 25) ($k1 KB), 2 workers $(verdict "$k2" '<=' 25) ($k2 KB)"
    fi
    }
done

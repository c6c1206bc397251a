#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# HTTPS device telemetry: devices posting to /devices/{id}/messages/events
# as the SDKs' Http transport does (HTTP/1.1 keep-alive, a SAS token in
# the Authorization header, an iothub-app-* property, one request in flight
# per connection), every message stored in the hub's Redis stream before
# its 204; against the baseline of the same nginx without the hub: Debian's
# nginx.conf with a TLS server answering "return 204;" to the same
# requests, what the hub costs on top of plain nginx.
#
#   bench/run-http-d2c.sh     RUNS=5 DURATION=5 CONNS="1 10 100" SIZE=256
#
# Prints per connection count: messages/s answered 204 (median, min..max,
# spread), the ratios to the baseline, latency p50/p99, and the CPU each
# process used, per message too (nginx + Redis).
set -eu
. "$(dirname "$0")/lib.sh"

CONNS=${CONNS:-"1 10 100"}
SIZE=${SIZE:-256}

bench_init
start_redis
M1=$(bench_port 30); H1=$(bench_port 31)
M2=$(bench_port 32); H2=$(bench_port 33)
P1=$(bench_port 34); P2=$(bench_port 35)
start_nginx w1 1 "$M1" "$H1"
start_nginx w2 2 "$M2" "$H2"
start_nginx_plain p1 "$P1" 1
start_nginx_plain p2 "$P2" 2

max=0
for n in $CONNS; do [ "$n" -gt "$max" ] && max=$n; done
create_devices "$H1" "$max"

echo "HTTPS telemetry: one request in flight per connection, keep-alive, $SIZE-byte bodies, TLS 1.3 (P-256 certificate)"
echo "$RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up) per target, targets interleaved"
machine

for n in $CONNS; do
    for _ in $(seq "$RUNS"); do
        for t in w1 w2 p1 p2; do
            trim_d2c
            args=(http -n "$n" --size "$SIZE" --key "$DEVICE_KEY"
                  -d "$DURATION" --warmup "$WARMUP" --procs "$LOADGEN_PROCS")
            case $t in
            w1) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_w1")" "$REDIS_PID" \
                    "${args[@]}" -t "127.0.0.1:$H1" ;;
            w2) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_w2")" "$REDIS_PID" \
                    "${args[@]}" -t "127.0.0.1:$H2" ;;
            p1) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_p1")" "" \
                    "${args[@]}" -t "127.0.0.1:$P1" ;;
            p2) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_p2")" "" \
                    "${args[@]}" -t "127.0.0.1:$P2" ;;
            esac
        done
    done

    header "HTTPS telemetry, $n connection(s), ${SIZE} B: msg/s answered 204"
    # shellcheck disable=SC2046
    {
    row "nginx-iothub, 1 worker" "%.0f" $(vals "w1.$n.rate")
    row "nginx-iothub, 2 workers" "%.0f" $(vals "w2.$n.rate")
    row "nginx return 204, 1 worker" "%.0f" $(vals "p1.$n.rate")
    row "nginx return 204, 2 workers" "%.0f" $(vals "p2.$n.rate")
    row "ratio hub / plain, 1 worker" "%.2f" $(ratio_vals "w1.$n.rate" "p1.$n.rate")
    row "ratio hub / plain, 2 workers" "%.2f" $(ratio_vals "w2.$n.rate" "p2.$n.rate")
    latency_rows "latency to the 204, ms (median of runs)" 32 "" ".$n." w1 w2 p1 p2
    echo "  CPU, cores of 2 (median): nginx 1w $(med "w1.$n.srv_cores") + redis $(med "w1.$n.redis_cores")," \
        "loadgen $(awk -v v="$(med "w1.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| nginx 2w $(med "w2.$n.srv_cores") + redis $(med "w2.$n.redis_cores")," \
        "loadgen $(awk -v v="$(med "w2.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| plain 1w $(med "p1.$n.srv_cores"), loadgen $(awk -v v="$(med "p1.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| plain 2w $(med "p2.$n.srv_cores"), loadgen $(awk -v v="$(med "p2.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')"
    echo "  server CPU per message, us (median): nginx 1w $(med "w1.$n.srv_us") + redis $(med "w1.$n.redis_us")," \
        "nginx 2w $(med "w2.$n.srv_us") + redis $(med "w2.$n.redis_us")," \
        "plain 1w $(med "p1.$n.srv_us"), plain 2w $(med "p2.$n.srv_us")"
    }
done

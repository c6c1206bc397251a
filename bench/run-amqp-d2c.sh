#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# AMQP telemetry throughput against our own MQTT rate on the same nginx:
# devices send on /devices/{id}/messages/events with W unsettled messages
# each (bench/amqp_loadgen), settled "accepted" once the message is in the
# hub's Redis stream; the MQTT figure is QoS 1 with W PUBLISH in flight
# (bench/loadgen), each message stored before its PUBACK. Same nginx
# processes, same Redis, same payload bytes, same windows.
#
#   bench/run-amqp-d2c.sh     RUNS=5 DURATION=5 PUBLISHERS="1 10 100"
#                             WINDOW=16 SIZE=256 PER_CONN=""
#
# PER_CONN=M adds a target: the same AMQP devices, M per connection (each
# with its own put-token), for publisher counts of at least M.
#
# Prints per publisher count: msg/s acknowledged (median, min..max,
# spread) for MQTT and AMQP with 1 and 2 workers, the AMQP/MQTT ratio per
# run, latency p50/p99, and the CPU each process used.
set -eu
. "$(dirname "$0")/lib.sh"

PUBLISHERS=${PUBLISHERS:-"1 10 100"}
WINDOW=${WINDOW:-16}
SIZE=${SIZE:-256}
PER_CONN=${PER_CONN:-}

bench_init
amqp_init
start_redis
M1=$(bench_port 50); H1=$(bench_port 51); A1=$(bench_port 52)
M2=$(bench_port 53); H2=$(bench_port 54); A2=$(bench_port 55)
start_nginx w1 1 "$M1" "$H1" "$A1"
start_nginx w2 2 "$M2" "$H2" "$A2"

max=0
for n in $PUBLISHERS; do [ "$n" -gt "$max" ] && max=$n; done
create_devices "$H1" "$max"

TARGETS="w1m w1a w2m w2a"
[ -n "$PER_CONN" ] && TARGETS="$TARGETS w1x w2x"

echo "D2C telemetry, AMQP against MQTT on the same nginx: window $WINDOW per device, $SIZE-byte payloads, TLS 1.3 (P-256 certificate)"
echo "MQTT: QoS 1 PUBLISH, PUBACK after the store; AMQP: unsettled transfers, accepted after the store; no SASL, CBS put-token per device"
echo "$RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up) per target, targets interleaved: $TARGETS"
machine

for n in $PUBLISHERS; do
    for _ in $(seq "$RUNS"); do
        for t in $TARGETS; do
            case $t in
            w1*) pids=$(tree_pids "$NGINX_PID_w1"); mp=$M1; ap=$A1 ;;
            w2*) pids=$(tree_pids "$NGINX_PID_w2"); mp=$M2; ap=$A2 ;;
            esac
            case $t in
            *x) [ "$n" -ge "$PER_CONN" ] || continue ;;
            esac
            trim_d2c
            args=(-n "$n" --window "$WINDOW" --size "$SIZE" -d "$DURATION"
                  --warmup "$WARMUP" --key "$DEVICE_KEY" -q)
            case $t in
            *m) run_loadgen "$t.$n" "$pids" "$REDIS_PID" pub "${args[@]}" \
                    -t "127.0.0.1:$mp" --qos 1 ;;
            *a) run_amqp_loadgen "$t.$n" "$pids" "$REDIS_PID" pub "${args[@]}" \
                    -t "127.0.0.1:$ap" ;;
            *x) run_amqp_loadgen "$t.$n" "$pids" "$REDIS_PID" pub "${args[@]}" \
                    -t "127.0.0.1:$ap" --per-conn "$PER_CONN" ;;
            esac
        done
    done

    header "D2C, $n device(s), window $WINDOW, ${SIZE} B: msg/s acknowledged (MQTT PUBACK / AMQP accepted)"
    # shellcheck disable=SC2046
    {
    row "MQTT, 1 worker" "%.0f" $(vals "w1m.$n.rate")
    row "AMQP, 1 worker" "%.0f" $(vals "w1a.$n.rate")
    row "MQTT, 2 workers" "%.0f" $(vals "w2m.$n.rate")
    row "AMQP, 2 workers" "%.0f" $(vals "w2a.$n.rate")
    if [ -n "$PER_CONN" ] && [ "$n" -ge "$PER_CONN" ]; then
        row "AMQP $PER_CONN/connection, 1 worker" "%.0f" $(vals "w1x.$n.rate")
        row "AMQP $PER_CONN/connection, 2 workers" "%.0f" $(vals "w2x.$n.rate")
    fi
    row "ratio AMQP / MQTT, 1 worker" "%.2f" $(ratio_vals "w1a.$n.rate" "w1m.$n.rate")
    row "ratio AMQP / MQTT, 2 workers" "%.2f" $(ratio_vals "w2a.$n.rate" "w2m.$n.rate")
    # shellcheck disable=SC2086  # TARGETS: a list
    latency_rows "latency, ms (median of runs)         " 32 "" ".$n." $TARGETS
    echo "  CPU, cores of 2 (median): nginx + redis, loadgen; server CPU per message, us: nginx + redis"
    for t in $TARGETS; do
        [ -n "$(vals "$t.$n.srv_cores")" ] || continue
        printf '    %-32s %5s + %-5s  %5s    %6s + %-6s\n' "$t" \
            "$(med "$t.$n.srv_cores")" "$(med "$t.$n.redis_cores")" \
            "$(awk -v v="$(med "$t.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
            "$(med "$t.$n.srv_us")" "$(med "$t.$n.redis_us")"
    done
    r1=$(stat_median $(ratio_vals "w1a.$n.rate" "w1m.$n.rate"))
    r2=$(stat_median $(ratio_vals "w2a.$n.rate" "w2m.$n.rate"))
    echo "  target AMQP >= 0.8x MQTT: 1 worker $(verdict "$r1" '>=' 0.8) (${r1}x), 2 workers $(verdict "$r2" '>=' 0.8) (${r2}x)"
    }
done

#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# MQTT over WebSocket against plain MQTT on the same nginx (1 worker): D2C
# QoS 1 throughput (every message in Redis before its PUBACK) and memory
# per idle device. The WebSocket devices open GET /$iothub/websocket
# (subprotocol mqtt) on the HTTPS port, as the SDKs' MqttWs transport does,
# and send each flush of MQTT packets as one masked binary frame.
#
#   bench/run-mqttws.sh       RUNS=5 DURATION=5 PUBLISHERS="10 100"
#                             IDLE_COUNTS="5000" WINDOW=16 SIZE=256
#
# Prints medians with min..max and spread per figure, and the ratio
# WebSocket / plain per run (rounds interleaved).
set -eu
. "$(dirname "$0")/lib.sh"

PUBLISHERS=${PUBLISHERS:-"10 100"}
IDLE_COUNTS=${IDLE_COUNTS:-"5000"}
WINDOW=${WINDOW:-16}
SIZE=${SIZE:-256}
CONCURRENCY=${CONCURRENCY:-200}

bench_init
start_redis
M1=$(bench_port 40); H1=$(bench_port 41)
start_nginx w1 1 "$M1" "$H1"

max=0
for n in $PUBLISHERS $IDLE_COUNTS; do [ "$n" -gt "$max" ] && max=$n; done
create_devices "$H1" "$max"

echo "MQTT over WebSocket vs plain MQTT, nginx-iothub with 1 worker, TLS 1.3 (P-256)"
echo "D2C: QoS 1, window $WINDOW per publisher, $SIZE-byte payloads; $RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up), interleaved"
machine

for n in $PUBLISHERS; do
    for _ in $(seq "$RUNS"); do
        for t in mqtt ws; do
            trim_d2c
            args=(pub -n "$n" --qos 1 --window "$WINDOW" --size "$SIZE"
                  -d "$DURATION" --warmup "$WARMUP" --procs "$LOADGEN_PROCS"
                  --key "$DEVICE_KEY")
            case $t in
            mqtt) args+=(-t "127.0.0.1:$M1") ;;
            ws) args+=(-t "127.0.0.1:$H1" --ws) ;;
            esac
            run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_w1")" "$REDIS_PID" "${args[@]}"
        done
    done

    header "D2C QoS 1, $n publisher(s): msg/s acknowledged"
    # shellcheck disable=SC2046
    {
    row "MQTT over TLS" "%.0f" $(vals "mqtt.$n.rate")
    row "MQTT over WebSocket over TLS" "%.0f" $(vals "ws.$n.rate")
    row "ratio WebSocket / plain" "%.2f" $(ratio_vals "ws.$n.rate" "mqtt.$n.rate")
    echo "  PUBACK latency p50 / p99, ms (median of runs):" \
        "plain $(awk -v a="$(med "mqtt.$n.p50_us")" -v b="$(med "mqtt.$n.p99_us")" 'BEGIN {printf "%.2f / %.2f", a / 1000, b / 1000}')," \
        "WebSocket $(awk -v a="$(med "ws.$n.p50_us")" -v b="$(med "ws.$n.p99_us")" 'BEGIN {printf "%.2f / %.2f", a / 1000, b / 1000}')"
    echo "  server CPU per message, us (median): plain nginx $(med "mqtt.$n.srv_us") + redis $(med "mqtt.$n.redis_us")," \
        "WebSocket nginx $(med "ws.$n.srv_us") + redis $(med "ws.$n.redis_us")"
    }
done

stop_nginx w1

for n in $IDLE_COUNTS; do
    for _ in $(seq "$RUNS"); do
        idle_once "idle.mqtt.$n" "$n" w1
        idle_once "idle.ws.$n" "$n" ws1
    done

    header "Idle density at $n devices: KB per idle connected device (nginx RSS + Redis)"
    # shellcheck disable=SC2046
    {
    row "MQTT over TLS" "%.1f" $(vals "idle.mqtt.$n.kb")
    row "MQTT over WebSocket over TLS" "%.1f" $(vals "idle.ws.$n.kb")
    row "  of which nginx RSS" "%.1f" $(vals "idle.ws.$n.rss_kb")
    row "ratio WebSocket / plain" "%.2f" $(ratio_vals "idle.ws.$n.kb" "idle.mqtt.$n.kb")
    }
done

#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>, MOSQ_PID_<name>: set by lib.sh
# D2C telemetry throughput: QoS 1 publishers with a bounded window, every
# message stored in the hub's Redis stream before its PUBACK; against two
# peers with the same certificate, topics and payloads: Mosquitto over TLS
# at its defaults, and nginx's own TLS stream proxy (Debian's nginx.conf)
# in front of Mosquitto's plain listener, what an nginx user would
# otherwise run.
#
#   bench/run-d2c.sh          RUNS=5 DURATION=5 PUBLISHERS="1 10 100"
#                             WINDOW=16 QOS=1 SIZE=256
#
# Prints per publisher count: msg/s acknowledged (median, min..max,
# spread), the ratios to each peer per run, PUBACK latency p50/p99, and the
# CPU each process used (the load generator's share of the 2 cores too).
set -eu
. "$(dirname "$0")/lib.sh"

PUBLISHERS=${PUBLISHERS:-"1 10 100"}
WINDOW=${WINDOW:-16}
QOS=${QOS:-1}
SIZE=${SIZE:-256}

bench_init
start_redis
M1=$(bench_port 10); H1=$(bench_port 11)
M2=$(bench_port 12); H2=$(bench_port 13)
MQ=$(bench_port 14); MQPLAIN=$(bench_port 15); PX=$(bench_port 16)
start_nginx w1 1 "$M1" "$H1"
start_nginx w2 2 "$M2" "$H2"
start_mosquitto mq "$MQ" "" "$MQPLAIN"
start_nginx_proxy px "$PX" "$MQPLAIN"

max=0
for n in $PUBLISHERS; do [ "$n" -gt "$max" ] && max=$n; done
create_devices "$H1" "$max"

echo "D2C telemetry: QoS $QOS, window $WINDOW per publisher, $SIZE-byte payloads, TLS 1.3 (P-256 certificate)"
echo "$RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up) per target, targets interleaved"
machine

for n in $PUBLISHERS; do
    for _ in $(seq "$RUNS"); do
        for t in w1 w2 mq px; do
            trim_d2c
            args=(pub -n "$n" --qos "$QOS" --window "$WINDOW" --size "$SIZE"
                  -d "$DURATION" --warmup "$WARMUP" --procs "$LOADGEN_PROCS")
            case $t in
            w1) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_w1")" "$REDIS_PID" \
                    "${args[@]}" -t "127.0.0.1:$M1" --key "$DEVICE_KEY" ;;
            w2) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_w2")" "$REDIS_PID" \
                    "${args[@]}" -t "127.0.0.1:$M2" --key "$DEVICE_KEY" ;;
            mq) run_loadgen "$t.$n" "$MOSQ_PID_mq" "" \
                    "${args[@]}" -t "127.0.0.1:$MQ" --anon ;;
            # the proxy's CPU as "server", Mosquitto's in the Redis column
            px) run_loadgen "$t.$n" "$(tree_pids "$NGINX_PID_px")" "$MOSQ_PID_mq" \
                    "${args[@]}" -t "127.0.0.1:$PX" --anon ;;
            esac
        done
    done

    header "D2C QoS $QOS, $n publisher(s), window $WINDOW, ${SIZE} B: msg/s acknowledged"
    # shellcheck disable=SC2046
    {
    row "nginx-iothub, 1 worker" "%.0f" $(vals "w1.$n.rate")
    row "nginx-iothub, 2 workers" "%.0f" $(vals "w2.$n.rate")
    row "mosquitto" "%.0f" $(vals "mq.$n.rate")
    row "nginx TLS proxy + mosquitto" "%.0f" $(vals "px.$n.rate")
    row "ratio 1 worker / mosquitto" "%.2f" $(ratio_vals "w1.$n.rate" "mq.$n.rate")
    row "ratio 2 workers / mosquitto" "%.2f" $(ratio_vals "w2.$n.rate" "mq.$n.rate")
    row "ratio 1 worker / proxy" "%.2f" $(ratio_vals "w1.$n.rate" "px.$n.rate")
    row "ratio 2 workers / proxy" "%.2f" $(ratio_vals "w2.$n.rate" "px.$n.rate")
    latency_rows "PUBACK latency, ms (median of runs)" 32 "" ".$n." w1 w2 mq px
    echo "  CPU, cores of 2 (median): nginx 1w $(med "w1.$n.srv_cores") + redis $(med "w1.$n.redis_cores")," \
        "loadgen $(awk -v v="$(med "w1.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| nginx 2w $(med "w2.$n.srv_cores") + redis $(med "w2.$n.redis_cores")," \
        "loadgen $(awk -v v="$(med "w2.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| mosquitto $(med "mq.$n.srv_cores"), loadgen $(awk -v v="$(med "mq.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')" \
        "| proxy $(med "px.$n.srv_cores") + mosquitto $(med "px.$n.redis_cores"), loadgen $(awk -v v="$(med "px.$n.cpu_pct")" 'BEGIN {printf "%.2f", v / 100}')"
    echo "  server CPU per message, us (median): nginx 1w $(med "w1.$n.srv_us") + redis $(med "w1.$n.redis_us")," \
        "nginx 2w $(med "w2.$n.srv_us") + redis $(med "w2.$n.redis_us"), mosquitto $(med "mq.$n.srv_us")," \
        "proxy $(med "px.$n.srv_us") + mosquitto $(med "px.$n.redis_us")"
    if [ "$n" -ge 10 ]; then
        r1=$(stat_median $(ratio_vals "w1.$n.rate" "mq.$n.rate"))
        r2=$(stat_median $(ratio_vals "w2.$n.rate" "mq.$n.rate"))
        p1=$(stat_median $(ratio_vals "w1.$n.rate" "px.$n.rate"))
        p2=$(stat_median $(ratio_vals "w2.$n.rate" "px.$n.rate"))
        echo "  target >= 1.5x mosquitto: 1 worker $(verdict "$r1" '>=' 1.5) (${r1}x), 2 workers $(verdict "$r2" '>=' 1.5) (${r2}x)"
        echo "  target >= 1.0x proxy:     1 worker $(verdict "$p1" '>=' 1.0) (${p1}x), 2 workers $(verdict "$p2" '>=' 1.0) (${p2}x)"
    fi
    }
done

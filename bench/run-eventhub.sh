#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>: set by lib.sh
# The Event Hubs-compatible endpoint under D2C load: one consumer
# (bench/eh_consumer: one AMQP connection over TLS, a receiver on every
# partition of $Default from @latest) reads while MQTT devices ingest
# (bench/loadgen pub --stamp, QoS 1, each message stored before its
# PUBACK and stamped with its send time). Same nginx, same Redis.
#
#   bench/run-eventhub.sh     RUNS=5 DURATION=5 PUBLISHERS="10"
#                             WINDOW=16 SIZE=256
#
# Prints per publisher count and worker count: the ingest rate (PUBACKs
# per second), the consumer's rate over a window inside the ingest's
# measured one, their ratio (target >= 1.0), and the device -> consumer
# latency p50/p99 (wall clock of the one machine).
set -eu
. "$(dirname "$0")/lib.sh"

PUBLISHERS=${PUBLISHERS:-10}
WINDOW=${WINDOW:-16}
SIZE=${SIZE:-256}
CONSUMER=$BENCH/eh_consumer

[ "$DURATION" -ge 2 ] || bench_die "DURATION must be 2 s or more"

bench_init
amqp_init
make -s -C "$BENCH" eh_consumer || bench_die "cannot build the consumer"
start_redis
M1=$(bench_port 60); H1=$(bench_port 61); A1=$(bench_port 62)
M2=$(bench_port 63); H2=$(bench_port 64); A2=$(bench_port 65)
start_nginx w1 1 "$M1" "$H1" "$A1"
start_nginx w2 2 "$M2" "$H2" "$A2"

max=0
for n in $PUBLISHERS; do [ "$n" -gt "$max" ] && max=$n; done
create_devices "$H1" "$max"

echo "Event Hubs consumer under D2C load: MQTT QoS 1, window $WINDOW per publisher, $SIZE-byte payloads stamped with their send time, TLS 1.3 (P-256 certificate)"
echo "one consumer: one AMQP connection, 4 partition receivers, credit 300 each, events settled on arrival"
echo "$RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up) per target; the consumer counts $((DURATION - 1))s inside them"
machine

# measure KEY AMQP_PORT MQTT_PORT NGINX_PID N: the consumer attaches
# (READY), then the devices publish; its window starts 1 s after theirs
# and ends 1 s before
measure() {
    local key=$1 amqp=$2 mqtt=$3 pid=$4 n=$5 out=$WORK/consumer.$1.out cpid line f v
    "$CONSUMER" -t "127.0.0.1:$amqp" --hub "$HUB_NAME" --host "$HUB" \
        --policy service --key "$POLICY_SERVICE_PRIMARY" \
        -w "$((WARMUP + 1))" -d "$((DURATION - 1))" > "$out" 2>&1 &
    cpid=$!
    for _ in $(seq 100); do
        grep -q '^READY' "$out" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^READY' "$out" || { cat "$out" >&2; bench_die "the consumer did not attach"; }
    run_loadgen "$key" "$(tree_pids "$pid")" "$REDIS_PID" \
        pub -n "$n" --qos 1 --window "$WINDOW" --size "$SIZE" --stamp \
        -d "$DURATION" --warmup "$WARMUP" -t "127.0.0.1:$mqtt" --key "$DEVICE_KEY"
    wait "$cpid" || { cat "$out" >&2; bench_die "the consumer failed"; }
    line=$(grep '^RESULT' "$out")
    for f in rate p50_us p99_us; do
        v=$(kv "$f" <<<"$line")
        [ -n "$v" ] && add "$key.eh_$f" "$v"
    done
}

for n in $PUBLISHERS; do
    for _ in $(seq "$RUNS"); do
        for t in w1 w2; do
            trim_d2c
            case $t in
            w1) measure "$t.$n" "$A1" "$M1" "$NGINX_PID_w1" "$n" ;;
            w2) measure "$t.$n" "$A2" "$M2" "$NGINX_PID_w2" "$n" ;;
            esac
        done
    done

    header "Event Hubs consumer, $n MQTT publisher(s), window $WINDOW, ${SIZE} B"
    # shellcheck disable=SC2046
    {
    row "ingest, 1 worker (msg/s)" "%.0f" $(vals "w1.$n.rate")
    row "consumer, 1 worker (events/s)" "%.0f" $(vals "w1.$n.eh_rate")
    row "consumer / ingest, 1 worker" "%.2f" $(ratio_vals "w1.$n.eh_rate" "w1.$n.rate")
    row "ingest, 2 workers (msg/s)" "%.0f" $(vals "w2.$n.rate")
    row "consumer, 2 workers (events/s)" "%.0f" $(vals "w2.$n.eh_rate")
    row "consumer / ingest, 2 workers" "%.2f" $(ratio_vals "w2.$n.eh_rate" "w2.$n.rate")
    latency_rows "device -> consumer latency, ms (median of runs)" 43 "" ".$n.eh_" w1 w2
    # shellcheck disable=SC2046
    r1=$(stat_median $(ratio_vals "w1.$n.eh_rate" "w1.$n.rate"))
    # shellcheck disable=SC2046
    r2=$(stat_median $(ratio_vals "w2.$n.eh_rate" "w2.$n.rate"))
    echo "  target consumer >= 1.0x ingest: 1 worker $(verdict "$r1" '>=' 1.0) (${r1}x), 2 workers $(verdict "$r2" '>=' 1.0) (${r2}x)"
    }
done

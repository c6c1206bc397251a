#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>, MOSQ_PID_<name>: set by lib.sh
# Cloud-to-device delivery and direct-method round trip across two nodes:
# the device is connected over MQTT/TLS to node A, the caller sends
# REST requests over HTTPS (one kept-alive connection) to node B; both
# nodes share one Redis. One round at a time, C2D and method alternating:
#
#   C2D delivery       POST /devices/{id}/messages/devicebound on B until
#                      the device has the PUBLISH on A
#   method round trip  POST /twins/{id}/methods on B until B's HTTP 200 with
#                      the device's answer (the device answers at once)
#
# The peer: two Mosquitto brokers bridged over TLS, the device on the first,
# the caller an MQTT client on the second: C2D = a QoS 1 PUBLISH to the
# device's topic, method = a request PUBLISH and the device's response
# PUBLISH back to the caller.
#
#   bench/run-rtt.sh          RUNS=5 ROUNDS=2000 (counted, half each kind)
set -eu
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-2000}

bench_init
start_redis
A1=$(bench_port 40); HA1=$(bench_port 41); B1=$(bench_port 42); HB1=$(bench_port 43)
A2=$(bench_port 44); HA2=$(bench_port 45); B2=$(bench_port 46); HB2=$(bench_port 47)
QA=$(bench_port 48); QB=$(bench_port 49)
start_nginx a1 1 "$A1" "$HA1"
start_nginx b1 1 "$B1" "$HB1"
start_nginx a2 2 "$A2" "$HA2"
start_nginx b2 2 "$B2" "$HB2"
start_mosquitto qa "$QA"
start_mosquitto qb "$QB" "$QA"
create_devices "$HA1" 1
sleep 1     # the bridge connects

echo "C2D and method round trips: device on node A (MQTT/TLS), caller on node B"
echo "(HTTPS, kept alive), $ROUNDS counted rounds per run after 20 uncounted, 1 ms apart"
echo "$RUNS runs per target, targets interleaved"
machine

for _ in $(seq "$RUNS"); do
    args=(rtt --rounds "$ROUNDS" --warm-rounds 20 --gap-ms 1 -d 120)
    run_loadgen w1 "" "" "${args[@]}" -t "127.0.0.1:$A1" --caller "127.0.0.1:$HB1" \
        --key "$DEVICE_KEY" --service-key "$POLICY_SERVICE_PRIMARY"
    run_loadgen w2 "" "" "${args[@]}" -t "127.0.0.1:$A2" --caller "127.0.0.1:$HB2" \
        --key "$DEVICE_KEY" --service-key "$POLICY_SERVICE_PRIMARY"
    run_loadgen mq "" "" "${args[@]}" -t "127.0.0.1:$QA" --caller "127.0.0.1:$QB" \
        --caller-mqtt --anon
done

ms() {
    awk -v v="$1" 'BEGIN {printf "%.2f", v / 1000}'
}

# shellcheck disable=SC2046
{
header "C2D delivery and method round trip across two nodes, ms (median of runs; min..max)"
for f in c2d_p50_us c2d_p99_us method_p50_us method_p99_us c2d_ack_p50_us c2d_ack_p99_us mdeliv_p50_us mdeliv_p99_us; do
    case $f in
    c2d_p50_us) what="C2D delivery p50" ;;
    c2d_p99_us) what="C2D delivery p99" ;;
    method_p50_us) what="method round trip p50" ;;
    method_p99_us) what="method round trip p99" ;;
    c2d_ack_p50_us) what="C2D send answered p50" ;;
    c2d_ack_p99_us) what="C2D send answered p99" ;;
    mdeliv_p50_us) what="method delivery p50" ;;
    mdeliv_p99_us) what="method delivery p99" ;;
    esac
    echo "  $what"
    for t in w1 w2 mq; do
        case $t in
        w1) label="nginx-iothub, 1 worker per node" ;;
        w2) label="nginx-iothub, 2 workers per node" ;;
        mq) label="mosquitto, 2 bridged brokers" ;;
        esac
        row "  $label" "%.3f" $(for v in $(vals "$t.$f"); do ms "$v"; echo; done)
    done
done
row "ratio C2D p99 1w / mosquitto" "%.2f" $(ratio_vals w1.c2d_p99_us mq.c2d_p99_us)
row "ratio method p99 1w / mosquitto" "%.2f" $(ratio_vals w1.method_p99_us mq.method_p99_us)
row "ratio C2D p99 2w / mosquitto" "%.2f" $(ratio_vals w2.c2d_p99_us mq.c2d_p99_us)
row "ratio method p99 2w / mosquitto" "%.2f" $(ratio_vals w2.method_p99_us mq.method_p99_us)
for t in w1 w2; do
    c=$(ms "$(med "$t.c2d_p99_us")")
    m=$(ms "$(med "$t.method_p99_us")")
    echo "  target p99 <= 5 ms ($t): C2D $(verdict "$c" '<=' 5) ($c ms), method $(verdict "$m" '<=' 5) ($m ms)"
done
}

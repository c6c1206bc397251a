#!/bin/bash
# shellcheck disable=SC2154  # NGINX_PID_<name>, MOSQ_PID_<name>: set by lib.sh
# Connect storm: SAS-authenticated MQTT CONNECTs per second (TLS handshake,
# CONNECT with a per-device SAS token, CONNACK, DISCONNECT), against bare
# TLS handshakes per second on the same nginx; Mosquitto (anonymous CONNECT)
# as the peer.
#
#   bench/run-connect.sh      RUNS=5 DURATION=5 CONCURRENCY=64 DEVICES=1000
#                             LOADGEN_PROCS=1
#
# Every connection is a full handshake (no session resumption), like a
# fleet reconnecting; a bare handshake also takes the server's TLS 1.3
# session tickets before it closes, as a connection that stays would. On a 2-core machine the TLS client side (the load
# generator) costs about as much CPU as the server side, so the figure is
# printed twice: the raw rate, and the server's CPU per connection (nginx
# workers + Redis), which does not depend on how fast the client is.
set -eu
. "$(dirname "$0")/lib.sh"

CONCURRENCY=${CONCURRENCY:-64}
DEVICES=${DEVICES:-1000}

bench_init
start_redis
M1=$(bench_port 20); H1=$(bench_port 21)
M2=$(bench_port 22); H2=$(bench_port 23)
MQ=$(bench_port 24)
start_nginx w1 1 "$M1" "$H1"
start_nginx w2 2 "$M2" "$H2"
start_mosquitto mq "$MQ"
create_devices "$H1" "$DEVICES"

echo "Connect storm: $CONCURRENCY connections in set-up at a time, as fast as they complete,"
echo "$DEVICES devices in turn, clean session 0, TLS 1.3 full handshakes (P-256 certificate, X25519)"
echo "$RUNS runs of ${DURATION}s (after ${WARMUP}s warm-up) per target, targets interleaved"
machine

for _ in $(seq "$RUNS"); do
    for t in w1 w2 mq; do
        for kind in auth tls; do
            args=(connect -n 100000 -d "$DURATION" --warmup "$WARMUP" -c "$CONCURRENCY"
                  --devices "$DEVICES" --src-ips 8 --procs "$LOADGEN_PROCS")
            [ $kind = tls ] && args+=(--tls-only)
            case $t in
            w1) run_loadgen "$t.$kind" "$(tree_pids "$NGINX_PID_w1")" "$REDIS_PID" \
                    "${args[@]}" -t "127.0.0.1:$M1" --key "$DEVICE_KEY" ;;
            w2) run_loadgen "$t.$kind" "$(tree_pids "$NGINX_PID_w2")" "$REDIS_PID" \
                    "${args[@]}" -t "127.0.0.1:$M2" --key "$DEVICE_KEY" ;;
            mq) run_loadgen "$t.$kind" "$MOSQ_PID_mq" "" \
                    "${args[@]}" -t "127.0.0.1:$MQ" --anon ;;
            esac
        done
    done
done

# connections per server-CPU-second: total / (server + redis CPU seconds);
# "nginx CPU only" leaves Redis out (it runs on the other core)
per_cpu_vals() {
    local a b i
    read -r -a a <<<"$(vals "$1.srv_us")"
    read -r -a b <<<"$(vals "$1.redis_us")"
    for ((i = 0; i < ${#a[@]}; i++)); do
        awk -v x="${a[i]}" -v y="${b[i]:-0}" 'BEGIN { if (x + y > 0) printf "%.0f\n", 1e6 / (x + y) }'
    done
}

# ratio_lists "A VALUES" "B VALUES": per-run A/B (the lists split on purpose)
ratio_lists() {
    # shellcheck disable=SC2086
    ratios $1 -- $2
}

# shellcheck disable=SC2046
{
header "Connect storm: completed connections/s (raw, load-generator bound here)"
row "nginx 1w, TLS + SAS CONNECT" "%.0f" $(vals w1.auth.rate)
row "nginx 1w, bare TLS handshake" "%.0f" $(vals w1.tls.rate)
row "nginx 2w, TLS + SAS CONNECT" "%.0f" $(vals w2.auth.rate)
row "nginx 2w, bare TLS handshake" "%.0f" $(vals w2.tls.rate)
row "mosquitto, TLS + CONNECT" "%.0f" $(vals mq.auth.rate)
row "mosquitto, bare TLS handshake" "%.0f" $(vals mq.tls.rate)
row "ratio 1w auth / 1w bare TLS" "%.2f" $(ratio_vals w1.auth.rate w1.tls.rate)
row "ratio 2w auth / 2w bare TLS" "%.2f" $(ratio_vals w2.auth.rate w2.tls.rate)
row "ratio 1w auth / mosquitto" "%.2f" $(ratio_vals w1.auth.rate mq.auth.rate)
row "ratio 2w auth / mosquitto" "%.2f" $(ratio_vals w2.auth.rate mq.auth.rate)
echo "  connect latency p50 / p99, ms (median of runs):"
for k in w1.auth w1.tls w2.auth w2.tls mq.auth mq.tls; do
    printf '    %-32s %8.1f %8.1f\n' "$k" \
        "$(awk -v v="$(med "$k.p50_us")" 'BEGIN {print v / 1000}')" \
        "$(awk -v v="$(med "$k.p99_us")" 'BEGIN {print v / 1000}')"
done
echo "  CPU, cores of 2 (median): loadgen / server / redis"
for k in w1.auth w1.tls w2.auth w2.tls mq.auth mq.tls; do
    printf '    %-32s %6.2f %6.2f %6.2f\n' "$k" \
        "$(awk -v v="$(med "$k.cpu_pct")" 'BEGIN {print v / 100}')" \
        "$(med "$k.srv_cores")" "$(med "$k.redis_cores")"
done

header "Connect storm: server CPU per connection (us; nginx or mosquitto + redis)"
for k in w1.auth w1.tls w2.auth w2.tls mq.auth mq.tls; do
    printf '  %-34s %8s + %-8s = %.0f connections per server-CPU-second\n' "$k" \
        "$(med "$k.srv_us")" "$(med "$k.redis_us")" \
        "$(stat_median $(per_cpu_vals "$k"))"
done
row "ratio 1w auth / bare TLS (per CPU)" "%.2f" $(ratio_lists "$(per_cpu_vals w1.auth)" "$(per_cpu_vals w1.tls)")
row "  the same, nginx CPU only" "%.2f" $(ratio_vals w1.tls.srv_us w1.auth.srv_us)
row "ratio 2w auth / bare TLS (per CPU)" "%.2f" $(ratio_lists "$(per_cpu_vals w2.auth)" "$(per_cpu_vals w2.tls)")
row "ratio 1w auth / mosquitto (per CPU)" "%.2f" $(ratio_lists "$(per_cpu_vals w1.auth)" "$(per_cpu_vals mq.auth)")

r1=$(stat_median $(ratio_vals w1.auth.rate w1.tls.rate))
r2=$(stat_median $(ratio_vals w2.auth.rate w2.tls.rate))
c1=$(stat_median $(ratio_lists "$(per_cpu_vals w1.auth)" "$(per_cpu_vals w1.tls)"))
echo "  target auth >= 0.90x bare TLS: raw 1w $(verdict "$r1" '>=' 0.9) (${r1}x), raw 2w $(verdict "$r2" '>=' 0.9) (${r2}x), per server CPU 1w $(verdict "$c1" '>=' 0.9) (${c1}x)"
}
